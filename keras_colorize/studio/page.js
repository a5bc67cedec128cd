// The studio's page (keras_colorize.studio.server). Points live in the ORIGINAL photo's pixels,
// which is what the server's API takes: the page converts from the displayed preview. One
// colorize request is in flight at a time; edits made meanwhile go out together when it returns,
// so dragging a point never queues up stale previews. No framework, nothing from the network.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const MIN_MARKER_PX = 7; // a marker is at least this radius on screen, so that it can be grabbed
// Common colours for the palette (a regression model has no suggestions of its own).
const PALETTE = [
  ["#5b8fd6", "sky"], ["#2f6690", "water"], ["#4f7a2a", "foliage"], ["#86ad3f", "grass"],
  ["#e2b08e", "skin"], ["#8a5a35", "wood"], ["#a8432c", "brick"], ["#d9c08c", "sand"],
  ["#e8590c", "orange"], ["#c92a2a", "red"], ["#f2c744", "yellow"], ["#7048a8", "purple"],
  ["#808080", "no colour (gray)"],
];

const state = {
  info: null, // GET /info: the photo's and the preview's sizes, version, guided, ...
  points: [], // {x, y, color, radius, guess}: original pixels; guess = the model's colour there
  selected: -1,
  reference: false,
  drawn: false, // the result canvas holds a colorization
  edits: 0, // edits made; the body's data-edits
  requested: 0, // the edit the newest colorize request carries
  inflight: false,
  drag: null, // {kind: "point", index} or {kind: "divider"}
  messageFrom: "",
};

// ------------------------------------------------------------------ messages and timing

function showMessage(text, from = "") {
  const message = $("message");
  message.textContent = text;
  message.classList.remove("error");
  state.messageFrom = from;
}

function showError(text, from) {
  showMessage(text, from);
  $("message").classList.add("error");
}

async function errorOf(response) {
  // The server answers every error with {"error": "one line"}.
  try {
    return (await response.json()).error || `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

function showTiming(roundTrip, serverMs) {
  const info = state.info;
  document.body.dataset.roundTrip = roundTrip.toFixed(1);
  document.body.dataset.serverMs = serverMs === null ? "" : serverMs.toFixed(1);
  const server = serverMs === null ? "" : ` (server ${Math.round(serverMs)} ms)`;
  $("timing").textContent =
    `Preview ${info.preview_width}×${info.preview_height} updated in ` +
    `${Math.round(roundTrip)} ms${server} · model ${info.model}, working size ` +
    `${info.working_size}`;
}

// ------------------------------------------------------------------ geometry and drawing

function previewToOriginal() {
  return state.info.width / state.info.preview_width;
}

function eventToOriginal(event) {
  // The centre of the original pixel under the pointer, always inside the photo.
  const box = $("points").getBoundingClientRect();
  const { width, height } = state.info;
  const fx = (event.clientX - box.left) / box.width;
  const fy = (event.clientY - box.top) / box.height;
  return {
    x: Math.min(width - 1, Math.max(0, Math.floor(fx * width))) + 0.5,
    y: Math.min(height - 1, Math.max(0, Math.floor(fy * height))) + 0.5,
  };
}

function sizeToRadius() {
  return Number($("size").value) * previewToOriginal();
}

function render() {
  const svg = $("points");
  svg.replaceChildren();
  if (!state.info) return;
  const screenScale = svg.getBoundingClientRect().width / state.info.width || 1;
  state.points.forEach((point, index) => {
    const group = document.createElementNS(SVG, "g");
    group.dataset.index = index;
    if (index === state.selected) group.classList.add("selected");
    const radius = Math.max(point.radius, MIN_MARKER_PX / screenScale);
    for (const [name, grow, stroke] of [["dot", 0, 2], ["ring", 2, 1.5]]) {
      const circle = document.createElementNS(SVG, "circle");
      circle.setAttribute("class", name);
      circle.setAttribute("cx", point.x);
      circle.setAttribute("cy", point.y);
      circle.setAttribute("r", radius + grow / screenScale);
      circle.setAttribute("vector-effect", "non-scaling-stroke");
      circle.setAttribute("stroke-width", stroke);
      if (name === "dot") {
        circle.setAttribute("fill", point.color);
        circle.setAttribute("stroke", "#fff");
      }
      group.append(circle);
    }
    svg.append(group);
  });
  $("delete").disabled = state.selected < 0;
  $("clear").disabled = state.points.length === 0;
  showGuess();
}

function setSplit(percent) {
  const value = Math.min(100, Math.max(0, percent));
  document.documentElement.style.setProperty("--split", `${value}%`);
  $("handle").setAttribute("aria-valuenow", Math.round(value));
}

function colourAt(point) {
  // The colorized preview's colour at a point, as #rrggbb; null before the first result.
  if (!state.drawn) return null;
  const canvas = $("result");
  const x = Math.min(canvas.width - 1, Math.floor(point.x / previewToOriginal()));
  const y = Math.min(canvas.height - 1, Math.floor(point.y / previewToOriginal()));
  const [r, g, b] = canvas.getContext("2d").getImageData(x, y, 1, 1).data;
  return "#" + [r, g, b].map((v) => v.toString(16).padStart(2, "0")).join("");
}

function swatch(colour, title) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "swatch";
  button.title = `${title} (${colour})`;
  button.style.setProperty("background", colour);
  button.addEventListener("click", () => applyColour(colour));
  return button;
}

function showGuess() {
  const point = state.points[state.selected];
  const box = $("guess-box");
  box.hidden = !(point && point.guess);
  if (!box.hidden) $("guess").replaceChildren(swatch(point.guess, "the model's colour here"));
}

// ------------------------------------------------------------------ edits

function changed() {
  state.edits += 1;
  document.body.dataset.edits = state.edits;
  pump();
}

function select(index) {
  state.selected = index;
  const point = state.points[index];
  if (point) {
    $("colour").value = point.color;
    $("size").value = Math.round(point.radius / previewToOriginal());
  }
  render();
}

function applyColour(colour) {
  $("colour").value = colour;
  const point = state.points[state.selected];
  if (!point) return; // the colour of the next point
  point.color = colour;
  render();
  changed();
}

function deletePoint(index) {
  if (index < 0 || index >= state.points.length) return;
  state.points.splice(index, 1);
  state.selected = -1;
  render();
  changed();
}

function onPointerDown(event) {
  if (!state.info || !state.info.guided || event.button !== 0) return;
  event.preventDefault();
  const group = event.target.closest("g[data-index]");
  let index;
  if (group) {
    index = Number(group.dataset.index);
  } else {
    const where = eventToOriginal(event);
    state.points.push({
      ...where,
      color: $("colour").value,
      radius: sizeToRadius(),
      guess: colourAt(where),
    });
    index = state.points.length - 1;
    changed();
  }
  select(index);
  state.drag = { kind: "point", index };
  $("points").setPointerCapture(event.pointerId);
}

function onPointerMove(event) {
  if (!state.drag || state.drag.kind !== "point") return;
  const point = state.points[state.drag.index];
  const where = eventToOriginal(event);
  if (where.x === point.x && where.y === point.y) return;
  Object.assign(point, where);
  render();
  changed();
}

function onContextMenu(event) {
  event.preventDefault(); // right-click deletes a point; the browser's menu would cover it
  const group = event.target.closest("g[data-index]");
  if (group && state.info.guided) deletePoint(Number(group.dataset.index));
}

function onDividerDown(event) {
  event.preventDefault();
  state.drag = { kind: "divider" };
  $("handle").setPointerCapture(event.pointerId);
}

function onDividerMove(event) {
  if (!state.drag || state.drag.kind !== "divider") return;
  const box = $("stage").getBoundingClientRect();
  setSplit(((event.clientX - box.left) / box.width) * 100);
}

function endDrag() {
  state.drag = null;
}

function onKey(event) {
  const typing = event.target.matches("input, textarea, select");
  if ((event.key === "Delete" || event.key === "Backspace") && !typing && state.selected >= 0) {
    event.preventDefault();
    deletePoint(state.selected);
  } else if (event.key === "Escape") {
    select(-1);
  }
}

function onHandleKey(event) {
  const step = { ArrowLeft: -2, ArrowRight: 2 }[event.key];
  if (step === undefined) return;
  event.preventDefault();
  setSplit(Number($("handle").getAttribute("aria-valuenow")) + step);
}

// ------------------------------------------------------------------ the server

function hints() {
  // Rounded: the server needs no more than a hundredth of a pixel.
  const round = (v) => Math.round(v * 100) / 100;
  return state.points.map((p) => ({ x: p.x, y: p.y, color: p.color, radius: round(p.radius) }));
}

async function pump() {
  if (state.inflight || !state.info || state.requested === state.edits) return;
  const edit = state.edits;
  state.inflight = true;
  state.requested = edit;
  document.body.dataset.state = "busy";
  const started = performance.now();
  try {
    const response = await fetch("colorize", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        photo: state.info.version,
        hints: hints(),
        reference: state.reference,
      }),
    });
    if (!response.ok) throw new Error(await errorOf(response));
    const timing = /dur=([\d.]+)/.exec(response.headers.get("Server-Timing") || "");
    const bitmap = await createImageBitmap(await response.blob());
    const canvas = $("result");
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    state.drawn = true;
    showTiming(performance.now() - started, timing ? Number(timing[1]) : null);
    if (state.messageFrom === "colorize") showMessage("");
  } catch (error) {
    showError(error.message, "colorize");
  } finally {
    state.inflight = false;
    document.body.dataset.done = edit;
    if (state.requested !== state.edits) pump();
    else document.body.dataset.state = "ready";
  }
}

async function showPhoto(info) {
  state.info = info;
  const gray = $("gray");
  gray.src = `photo?v=${info.version}`;
  await gray.decode();
  const canvas = $("result");
  canvas.width = info.preview_width; // also clears it
  canvas.height = info.preview_height;
  state.drawn = false;
  $("points").setAttribute("viewBox", `0 0 ${info.width} ${info.height}`);
  const colour = info.was_gray ? "" : " · in colour: only its lightness is used";
  $("photo-name").textContent = `${info.name} · ${info.width}×${info.height}${colour}`;
  $("hint-tools").disabled = !info.guided;
  $("guided-note").hidden = info.guided;
  $("colours").hidden = !info.guided;
  render();
}

async function upload(input, path) {
  // The chosen file's bytes as the body; null if none was chosen.
  const file = input.files[0];
  input.value = ""; // so that choosing the same file again is a change
  if (!file) return null;
  showMessage(`Reading ${file.name}…`);
  const response = await fetch(path, {
    method: "POST",
    headers: { "X-Filename": encodeURIComponent(file.name) },
    body: file,
  });
  if (!response.ok) throw new Error(await errorOf(response));
  showMessage("");
  return { file, answer: await response.json() };
}

async function openPhoto(event) {
  try {
    const uploaded = await upload(event.target, "photo");
    if (!uploaded) return;
    state.points = [];
    state.selected = -1;
    await showPhoto(uploaded.answer);
    changed();
  } catch (error) {
    showError(error.message, "photo");
  }
}

async function openReference(event) {
  try {
    const uploaded = await upload(event.target, "reference");
    if (!uploaded) return;
    const thumb = $("reference-thumb");
    if (thumb.src) URL.revokeObjectURL(thumb.src);
    thumb.src = URL.createObjectURL(uploaded.file);
    $("reference-box").hidden = false;
    state.reference = true;
    changed();
  } catch (error) {
    showError(error.message, "reference");
  }
}

async function removeReference() {
  try {
    const response = await fetch("reference", { method: "DELETE" });
    if (!response.ok) throw new Error(await errorOf(response));
    $("reference-box").hidden = true;
    state.reference = false;
    changed();
  } catch (error) {
    showError(error.message, "reference");
  }
}

async function download() {
  const info = state.info;
  const query = new URLSearchParams({
    photo: String(info.version),
    hints: JSON.stringify(hints()),
    reference: state.reference ? "1" : "0",
  });
  const button = $("download");
  button.disabled = true;
  showMessage(`Colorizing the full ${info.width}×${info.height} photo…`);
  try {
    const response = await fetch(`download?${query}`);
    if (!response.ok) throw new Error(await errorOf(response));
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = `${info.name.replace(/\.[^.]*$/, "")}_colorized.png`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    showMessage(`Saved ${link.download} (${info.width}×${info.height}).`);
  } catch (error) {
    showError(error.message, "download");
  } finally {
    button.disabled = false;
  }
}

// ------------------------------------------------------------------ start

async function start() {
  const points = $("points");
  points.addEventListener("pointerdown", onPointerDown);
  points.addEventListener("pointermove", onPointerMove);
  points.addEventListener("pointerup", endDrag);
  points.addEventListener("pointercancel", endDrag);
  points.addEventListener("contextmenu", onContextMenu);
  const handle = $("handle");
  handle.addEventListener("pointerdown", onDividerDown);
  handle.addEventListener("pointermove", onDividerMove);
  handle.addEventListener("pointerup", endDrag);
  handle.addEventListener("pointercancel", endDrag);
  handle.addEventListener("keydown", onHandleKey);
  document.addEventListener("keydown", onKey);
  window.addEventListener("resize", render);
  $("colour").addEventListener("input", (event) => applyColour(event.target.value));
  $("size").addEventListener("input", () => {
    const point = state.points[state.selected];
    if (!point) return;
    point.radius = sizeToRadius();
    render();
    changed();
  });
  $("delete").addEventListener("click", () => deletePoint(state.selected));
  $("clear").addEventListener("click", () => {
    state.points = [];
    state.selected = -1;
    render();
    changed();
  });
  $("open-photo").addEventListener("change", openPhoto);
  $("open-reference").addEventListener("change", openReference);
  $("remove-reference").addEventListener("click", removeReference);
  $("download").addEventListener("click", download);
  $("palette").replaceChildren(...PALETTE.map(([colour, name]) => swatch(colour, name)));
  setSplit(50);
  try {
    const response = await fetch("info");
    if (!response.ok) throw new Error(await errorOf(response));
    await showPhoto(await response.json());
    changed();
  } catch (error) {
    showError(error.message, "start");
    document.body.dataset.state = "ready";
  }
}

start();
