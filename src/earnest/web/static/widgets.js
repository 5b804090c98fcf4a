// The interactive parts of answer widgets. Each fills ordinary form fields, so the form
// also works (typed by hand) without scripts, and the server reads one set of fields.

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
    picked.textContent = `Selected: “${text}”`;
  });
}

// Local report: the device's location on request, and a preview of the photo.
function report(task) {
  const locate = task.querySelector("[data-locate]");
  locate?.addEventListener("click", () => {
    navigator.geolocation?.getCurrentPosition((position) => {
      task.querySelector('[name="lat"]').value = position.coords.latitude.toFixed(6);
      task.querySelector('[name="lon"]').value = position.coords.longitude.toFixed(6);
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

export function setUpWidgets(task) {
  boxer(task);
  spans(task);
  report(task);
}
