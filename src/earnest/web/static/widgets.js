// The interactive parts of answer widgets. Each fills ordinary form fields, so the form
// also works (typed by hand) without scripts, and the server reads one set of fields.

import { t } from "./util.js";

// Bounding box: drag on the picture; the corners are written in the image's own pixels.
function boxer(task) {
  const area = task.querySelector("[data-boxer]");
  if (!area) return;
  const img = area.querySelector("img");
  if (!img) return; // another site's image is a link, not loaded: the corners are typed
  const box = area.querySelector("[data-box]");
  const field = (name) => task.querySelector(`[name="${name}"]`);
  let start = null;
  const point = (event) => {
    const rect = img.getBoundingClientRect();
    const x = Math.min(Math.max(event.clientX - rect.left, 0), rect.width);
    const y = Math.min(Math.max(event.clientY - rect.top, 0), rect.height);
    return { x, y, scale: (img.naturalWidth || rect.width) / rect.width };
  };
  const draw = (a, b) => {
    const [left, top] = [Math.min(a.x, b.x), Math.min(a.y, b.y)];
    const [width, height] = [Math.abs(a.x - b.x), Math.abs(a.y - b.y)];
    Object.assign(box.style, { left: `${left}px`, top: `${top}px`, width: `${width}px`, height: `${height}px` });
    box.hidden = false;
    const s = a.scale;
    field("x_min").value = (left * s).toFixed(1);
    field("y_min").value = (top * s).toFixed(1);
    field("x_max").value = ((left + width) * s).toFixed(1);
    field("y_max").value = ((top + height) * s).toFixed(1);
  };
  area.addEventListener("pointerdown", (event) => {
    start = point(event);
    area.setPointerCapture(event.pointerId);
    event.preventDefault();
  });
  area.addEventListener("pointermove", (event) => { if (start) draw(start, point(event)); });
  area.addEventListener("pointerup", (event) => { if (start) draw(start, point(event)); start = null; });
}

// Text span: select words in the text; the character offsets fill the start and end fields.
function spans(task) {
  const source = task.querySelector("[data-span-source]");
  if (!source) return;
  const picked = task.querySelector("[data-span-picked]");
  // The positions are typed only without a selection: folded away, opened if still empty.
  const typed = task.querySelector("[data-span-typed]");
  if (typed) {
    typed.open = false;
    task.querySelector("#answer")?.addEventListener("invalid", () => { typed.open = true; }, true);
  }
  document.addEventListener("selectionchange", () => {
    const selection = document.getSelection();
    if (!selection.rangeCount || selection.isCollapsed || !source.contains(selection.anchorNode)) return;
    const range = selection.getRangeAt(0);
    const before = document.createRange();
    before.setStart(source, 0);
    before.setEnd(range.startContainer, range.startOffset);
    const start = before.toString().length;
    const text = range.toString();
    task.querySelector('[name="start"]').value = start;
    task.querySelector('[name="end"]').value = start + text.length;
    picked.textContent = t("Selected: “%(text)s”", { text });
  });
}

// A place without map tiles: once the worker's location is typed or found, draw where they
// are against the target and its circle, and say how far it is and in which direction.
const EARTH_M = 6371008.8;
const DIRECTIONS = () => [t("north"), t("north-east"), t("east"), t("south-east"), t("south"), t("south-west"), t("west"), t("north-west")];

export function distanceAndBearing(from, to) {
  const rad = Math.PI / 180;
  const [f1, f2] = [from.lat * rad, to.lat * rad];
  const [df, dl] = [(to.lat - from.lat) * rad, (to.lon - from.lon) * rad];
  const a = Math.sin(df / 2) ** 2 + Math.cos(f1) * Math.cos(f2) * Math.sin(dl / 2) ** 2;
  const metres = 2 * EARTH_M * Math.asin(Math.min(1, Math.sqrt(a)));
  const y = Math.sin(dl) * Math.cos(f2);
  const x = Math.cos(f1) * Math.sin(f2) - Math.sin(f1) * Math.cos(f2) * Math.cos(dl);
  return { metres, degrees: ((Math.atan2(y, x) / rad) + 360) % 360 };
}

function distanceText(metres) {
  const lang = document.documentElement.lang || "en";
  const km = metres >= 1000;
  return new Intl.NumberFormat(lang, { style: "unit", unit: km ? "kilometer" : "meter", maximumFractionDigits: km ? 1 : 0 })
    .format(km ? metres / 1000 : metres);
}

function places(task) {
  const lat = task.querySelector('[name="lat"]');
  const lon = task.querySelector('[name="lon"]');
  const figures = task.querySelectorAll("[data-place]");
  if (!lat || !lon || !figures.length) return;
  const update = () => {
    const here = { lat: Number.parseFloat(lat.value), lon: Number.parseFloat(lon.value) };
    if (!Number.isFinite(here.lat) || !Number.isFinite(here.lon)) return;
    for (const figure of figures) {
      const target = { lat: Number(figure.dataset.lat), lon: Number(figure.dataset.lon) };
      const radius = Number(figure.dataset.radius) || 0;
      // From the place to the worker, to draw them; from the worker to the place, to say it.
      const seen = distanceAndBearing(target, here);
      const way = distanceAndBearing(here, target);
      const extent = Math.max(radius * 2, seen.metres * 1.25, 1);
      const r = (90 * seen.metres) / extent;
      const x = Math.sin((seen.degrees * Math.PI) / 180) * r;
      const y = -Math.cos((seen.degrees * Math.PI) / 180) * r;
      const you = figure.querySelector("[data-you]");
      you.setAttribute("cx", x.toFixed(1));
      you.setAttribute("cy", y.toFixed(1));
      you.setAttribute("visibility", "visible");
      const line = figure.querySelector("[data-you-way]");
      line.setAttribute("x2", x.toFixed(1));
      line.setAttribute("y2", y.toFixed(1));
      line.setAttribute("visibility", "visible");
      if (radius) figure.querySelector("[data-radius-ring]").setAttribute("r", ((90 * radius) / extent).toFixed(1));
      const direction = DIRECTIONS()[Math.round(way.degrees / 45) % 8];
      const inside = radius && seen.metres <= radius;
      figure.querySelector("[data-place-say]").textContent = seen.metres < 1
        ? t("You are at the place.")
        : (inside
          ? t("The place is %(distance)s to your %(direction)s: you are inside its circle.", { distance: distanceText(seen.metres), direction })
          : t("The place is %(distance)s to your %(direction)s.", { distance: distanceText(seen.metres), direction }));
      figure.dataset.distance = String(Math.round(seen.metres));
      figure.dataset.direction = direction;
    }
  };
  lat.addEventListener("input", update);
  lon.addEventListener("input", update);
  update();
}

// Local report: the device's location on request, and a preview of the photo.
function report(task) {
  const locate = task.querySelector("[data-locate]");
  locate?.addEventListener("click", () => {
    navigator.geolocation?.getCurrentPosition((position) => {
      task.querySelector('[name="lat"]').value = position.coords.latitude.toFixed(6);
      task.querySelector('[name="lon"]').value = position.coords.longitude.toFixed(6);
      task.querySelector('[name="lat"]').dispatchEvent(new Event("input"));
    });
  });
  const photo = task.querySelector("[data-photo]");
  const preview = task.querySelector("[data-photo-preview]");
  photo?.addEventListener("change", () => {
    if (!photo.files[0]) return;
    preview.src = URL.createObjectURL(photo.files[0]);
    preview.hidden = false;
  });
}

// A phone photo is several MB; scaled to 1280 px as JPEG it fits the market's body limit.
export async function scaledPhoto(file, side = 1280) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
  const canvas = Object.assign(document.createElement("canvas"), {
    width: Math.round(bitmap.width * scale), height: Math.round(bitmap.height * scale),
  });
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.82));
  return new File([blob], "photo.jpg", { type: "image/jpeg" });
}

// A form made from the schema: the time zone its moments are typed in, and more rows.
function schemaForm(task) {
  const form = task.querySelector("[data-schema-form]");
  if (!form) return;
  form.querySelector("[data-tz]").value = String(new Date().getTimezoneOffset());
  for (const note of form.querySelectorAll("[data-tz-note]")) note.textContent = t("(your local time)");
  for (const rows of form.querySelectorAll("[data-rows]")) {
    const list = rows.querySelector(".row-list");
    rows.querySelector("[data-add-row]").addEventListener("click", () => {
      const count = list.children.length;
      if (count >= Number(rows.dataset.max)) return;
      const row = list.lastElementChild.cloneNode(true);
      for (const field of row.querySelectorAll("input, select, label")) {
        for (const attribute of ["name", "id", "for"]) {
          const value = field.getAttribute(attribute);
          if (value) field.setAttribute(attribute, value.replace(/([.-])\d+([.-])/, `$1${count}$2`));
        }
        if (field.matches("input:not([type=checkbox]):not([type=hidden]), select")) field.value = "";
        if (field.matches("input[type=checkbox]")) field.checked = false;
        field.removeAttribute("required"); // a row beyond the least asked may stay blank
      }
      list.append(row);
      row.querySelector("input, select")?.focus();
    });
  }
}

export function setUpWidgets(task) {
  schemaForm(task);
  boxer(task);
  spans(task);
  report(task);
  places(task);
}
