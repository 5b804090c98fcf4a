// The requester's pages: a live preview while a campaign is being written, and progress
// numbers that follow the campaign without reloading the page (polling a small JSON).

const POLL_MS = 2000;

function livePreview(form) {
  const target = document.getElementById("preview");
  const templateField = form.querySelector("#template");
  let pending = null;
  const refresh = async () => {
    const query = new URLSearchParams(new FormData(form));
    const response = await fetch(`${form.dataset.preview}?${query}`, { headers: { "X-Earnest-Fragment": "1" } });
    if (response.ok) target.innerHTML = await response.text();
  };
  form.addEventListener("input", () => {
    clearTimeout(pending);
    pending = setTimeout(refresh, 250);
  });
  templateField.addEventListener("change", () => {
    const chosen = templateField.selectedOptions[0];
    form.querySelector("#instructions").value = chosen.dataset.instructions;
    form.querySelector("#options").value = chosen.dataset.options;
    form.querySelector("#options-field").hidden = !chosen.dataset.options;
    form.querySelector('label[for="options"]').textContent =
      templateField.value === "rating" ? "Top of the scale" : "Options, separated by commas";
    refresh();
  });
}

function liveProgress(panel) {
  const bar = panel.querySelector("[data-progress-bar]");
  const update = async () => {
    if (document.hidden) return;
    const response = await fetch(panel.dataset.progressUrl, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const numbers = await response.json();
    for (const cell of panel.querySelectorAll("[data-progress]")) cell.textContent = numbers[cell.dataset.progress];
    for (const cell of panel.querySelectorAll("[data-progress-shown]")) cell.textContent = numbers.shown[cell.dataset.progressShown];
    bar.setAttribute("aria-valuenow", numbers.resolved);
    bar.setAttribute("aria-valuemax", numbers.tasks);
    bar.firstElementChild.style.width = `${numbers.tasks ? (100 * numbers.resolved) / numbers.tasks : 0}%`;
    const badge = document.querySelector("[data-status]");
    if (badge && badge.textContent !== numbers.status) {
      badge.textContent = numbers.status;
      badge.className = `badge badge-${numbers.status}`;
    }
  };
  setInterval(() => update().catch(() => {}), Number(panel.dataset.interval || POLL_MS));
}

const form = document.getElementById("new-campaign");
if (form) livePreview(form);
const panel = document.getElementById("progress");
if (panel) liveProgress(panel);
