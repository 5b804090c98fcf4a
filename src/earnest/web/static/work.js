// The task page: keyboard shortcuts, answers sent with fetch, and the next task swapped in
// without reloading the page. Without scripts the same form posts and the server redirects.
import { formatUnits, t } from "./util.js";
import { scaledPhoto, setUpWidgets } from "./widgets.js";

const slot = document.getElementById("task-slot");
const toast = document.querySelector(".toast");
let busy = false;
let timer = null;

// A verdict or a notice; a rejection stays (with the way to see why and appeal) until the
// next answer, since a link that vanishes after a few seconds cannot be reached in time.
function say(text, tone, rejected = null) {
  toast.textContent = text;
  toast.className = `toast ${tone}`;
  toast.hidden = false;
  clearTimeout(say.hide);
  if (rejected) {
    const link = Object.assign(document.createElement("a"), {
      href: `/work/earnings#${rejected}`, textContent: t("See why, and appeal"),
    });
    toast.append(" ", link);
    return;
  }
  say.hide = setTimeout(() => { toast.hidden = true; }, 4000);
}

function verdictText(result, task) {
  const amount = `${formatUnits(result.reward, Number(task.dataset.decimals))} ${task.dataset.symbol || ""}`.trim();
  if (result.decision === "accept") return t("Accepted: +%(amount)s on their way", { amount });
  if (result.decision === "reject") return t("Rejected: %(reason)s", { reason: result.reason });
  return result.reason ? t("Received: %(reason)s", { reason: result.reason }) : t("Received: decided when more answers are in");
}

function countdown(task) {
  clearInterval(timer);
  const chip = task.querySelector("[data-timer]");
  if (!chip || !task.dataset.expires) return;
  const tick = () => {
    const left = Math.max(0, Math.round((new Date(task.dataset.expires) - Date.now()) / 1000));
    chip.textContent = left >= 60 ? t("%(minutes)s min left", { minutes: Math.floor(left / 60) }) : t("%(seconds)s s left", { seconds: left });
  };
  tick();
  timer = setInterval(tick, 1000);
}

async function answerWith(form) {
  const data = new FormData(form);
  const photo = data.get("photo");
  if (photo instanceof File && photo.size) data.set("photo", await scaledPhoto(photo));
  const response = await fetch(form.action, { method: "POST", body: data, headers: { Accept: "application/json" } });
  const answer = await response.json().catch(() => ({ detail: t("the server answered %(status)s", { status: response.status }) }));
  if (!response.ok) throw new Error(answer.detail);
  return answer;
}

async function nextTask(campaign) {
  await swapIn(`/work/${campaign}/claim`);
}

// POST for a task's part of the page (the next task, or "nothing left") and show it here.
async function swapIn(url, body) {
  const response = await fetch(url, { method: "POST", body, headers: { "X-Earnest-Fragment": "1" } });
  if (!response.ok) throw new Error((await response.json().catch(() => ({}))).detail || t("the server answered %(status)s", { status: response.status }));
  slot.innerHTML = await response.text();
  const task = slot.querySelector("#task");
  if (task.dataset.assignment) history.replaceState(null, "", `/work/tasks/${task.dataset.assignment}`);
  start(task);
  task.focus();
}

async function submit(event) {
  event.preventDefault();
  const form = event.target;
  const task = form.closest("#task");
  const status = form.querySelector(".task-status");
  if (busy || !form.reportValidity()) return;
  busy = true;
  form.querySelector('button[type="submit"]').disabled = true;
  status.className = "task-status";
  status.textContent = t("Sending…");
  try {
    const result = await answerWith(form);
    say(verdictText(result, task), result.decision === "reject" ? "bad" : "ok", result.decision === "reject" ? result.assignment_id : null);
    await nextTask(task.dataset.campaign);
  } catch (error) {
    status.className = "task-status bad";
    status.textContent = error.message;
    form.querySelector('button[type="submit"]').disabled = false;
  } finally {
    busy = false;
  }
}

// Skip (give the lease back and take the next task) or give it back and leave.
async function leave(event) {
  event.preventDefault();
  const form = event.target;
  const data = new FormData(form, event.submitter);
  if (data.get("then") !== "next") {
    form.submit();
    return;
  }
  try {
    await swapIn(form.action, data);
    say(t("Skipped: that task went back to the pool"), "ok");
  } catch (error) {
    say(error.message, "bad");
  }
}

function start(task) {
  const form = task.querySelector("#answer");
  if (!form) return;
  form.addEventListener("submit", submit);
  task.querySelector("[data-release]")?.addEventListener("submit", leave);
  setUpWidgets(task);
  countdown(task);
}

// Keys 1-9 pick the matching option; Enter submits (Ctrl+Enter inside a text box).
document.addEventListener("keydown", (event) => {
  const form = document.querySelector("#task #answer");
  if (!form || event.altKey || event.metaKey) return;
  const target = event.target;
  const typing = target.matches?.("textarea, input:not([type=radio]):not([type=checkbox]), select");
  if (event.key === "Enter") {
    if (target.matches?.("button, a, summary") || (target.matches?.("textarea") && !event.ctrlKey)) return;
    event.preventDefault();
    form.requestSubmit();
    return;
  }
  if (typing || event.ctrlKey || !/^[1-9]$/.test(event.key)) return;
  const input = form.querySelector(`input[data-key="${event.key}"]`);
  if (!input) return;
  event.preventDefault();
  input.checked = input.type === "checkbox" ? !input.checked : true;
  input.focus();
});

start(document.getElementById("task"));
