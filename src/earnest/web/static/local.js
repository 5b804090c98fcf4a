// Moments in the reader's own time zone and language: every <time data-local> the server
// wrote in UTC becomes local time, with how long ago (or ahead) it is.
const lang = document.documentElement.lang || "en";
const absolute = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
const relative = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
const STEPS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];

export function ago(moment, now = Date.now()) {
  const seconds = (moment - now) / 1000;
  for (const [unit, size] of STEPS) {
    if (Math.abs(seconds) >= size || unit === "second") return relative.format(Math.round(seconds / size), unit);
  }
  return "";
}

export function localize(root = document) {
  for (const node of root.querySelectorAll("time[data-local]")) {
    const moment = new Date(node.getAttribute("datetime"));
    if (Number.isNaN(moment.valueOf())) continue;
    node.title = node.textContent;
    node.textContent = `${absolute.format(moment)} (${ago(moment)})`;
    node.removeAttribute("data-local");
  }
}

localize();
