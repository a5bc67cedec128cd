// The studio's page (keras_colorize.studio.server). Points live in the ORIGINAL photo's pixels,
// which is what the server's API takes: the page converts from the displayed preview. One
// colorize request is in flight at a time; edits made meanwhile go out together when it returns,
// so dragging a point never queues up stale previews. No framework, nothing from the network.
//
// Two modes, one page. Served by the studio, the page talks to the server's HTTP API. In the
// static site of `python -m keras_colorize.web`, index.html carries
// <meta name="keras-colorize-model" content="colorizer.tflite">: then the page imports
// page.local.js, runs the model in the browser (LiteRT.js, WebAssembly) and does the colour
// maths itself, with several photos open at once; nothing is uploaded anywhere.
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

// The static site's model file; null when the studio server serves the page.
const LOCAL_MODEL = document.querySelector('meta[name="keras-colorize-model"]')?.content || null;

const state = {
  local: null, // page.local.js's LocalStudio, in the static site
  photos: [], // in the static site: {id, name, points, thumb} of every open photo
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
  const part = state.local ? "model" : "server";
  const server = serverMs === null ? "" : ` (${part} ${Math.round(serverMs)} ms)`;
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

function hints(points = state.points) {
  // Rounded: the server needs no more than a hundredth of a pixel.
  const round = (v) => Math.round(v * 100) / 100;
  return points.map((p) => ({ x: p.x, y: p.y, color: p.color, radius: round(p.radius) }));
}

async function pump() {
  if (state.inflight || !state.info || state.requested === state.edits) return;
  const edit = state.edits;
  state.inflight = true;
  state.requested = edit;
  document.body.dataset.state = "busy";
  const started = performance.now();
  const version = state.info.version;
  try {
    const { bitmap, partMs } = await (state.local ? localPreview() : serverPreview());
    if (version !== state.info.version) {
      bitmap.close(); // another photo is shown now
      return;
    }
    const canvas = $("result");
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    state.drawn = true;
    showThumbnail(version, canvas);
    showTiming(performance.now() - started, partMs);
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

async function serverPreview() {
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
  return { bitmap, partMs: timing ? Number(timing[1]) : null };
}

async function localPreview() {
  const result = await state.local.preview(state.info.version, hints(), state.reference);
  return { bitmap: result.bitmap, partMs: result.modelMs || null };
}

async function showPhoto(info) {
  state.info = info;
  const gray = $("gray");
  if (state.local) {
    if (gray.src.startsWith("blob:")) URL.revokeObjectURL(gray.src);
    gray.src = URL.createObjectURL(await state.local.grayPng(info.version));
  } else {
    gray.src = `photo?v=${info.version}`;
  }
  await gray.decode();
  $("stage").hidden = false;
  $("empty").hidden = true;
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
  return file ? uploadFile(file, path) : null;
}

async function uploadFile(file, path) {
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
  if (state.local) {
    const files = [...event.target.files];
    event.target.value = ""; // so that choosing the same files again is a change
    await addLocalPhotos(files);
    return;
  }
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
    const uploaded = state.local
      ? await readLocalReference(event.target)
      : await upload(event.target, "reference");
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
    if (state.local) {
      state.local.clearReference();
    } else {
      const response = await fetch("reference", { method: "DELETE" });
      if (!response.ok) throw new Error(await errorOf(response));
    }
    $("reference-box").hidden = true;
    state.reference = false;
    changed();
  } catch (error) {
    showError(error.message, "reference");
  }
}

function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

function downloadName(info) {
  return `${info.name.replace(/\.[^.]*$/, "")}_colorized.png`;
}

async function download() {
  const info = state.info;
  if (!info) return;
  if (state.local) {
    await downloadLocal([currentEntry()]);
    return;
  }
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
    save(await response.blob(), downloadName(info));
    showMessage(`Saved ${downloadName(info)} (${info.width}×${info.height}).`);
  } catch (error) {
    showError(error.message, "download");
  } finally {
    button.disabled = false;
  }
}

// ------------------------------------------------------------------ in the browser (static site)

function currentEntry() {
  return state.photos.find((entry) => entry.id === state.info?.version) || null;
}

function showEmpty() {
  state.info = null;
  state.points = [];
  state.selected = -1;
  $("stage").hidden = true;
  $("empty").hidden = false;
  $("photo-name").textContent = "";
  $("timing").textContent = "";
  render();
}

function updateButtons() {
  const none = state.local && state.photos.length === 0;
  $("download").disabled = Boolean(none);
  $("download-all").disabled = Boolean(none);
}

async function startLocal() {
  document.body.dataset.mode = "local";
  $("open-photo").multiple = true;
  $("download-all").hidden = false;
  $("photos").hidden = false;
  $("open-photo").parentElement.firstChild.textContent = "Open photos…";
  document.querySelector("h1").textContent = "Colorize studio · in this browser";
  showEmpty();
  updateButtons();
  if (typeof WebAssembly !== "object") {
    throw new Error(
      "This browser has no WebAssembly, which the page needs to run the colorizer: open it " +
        "in a current Chrome, Edge, Firefox or Safari (or use python -m keras_colorize.studio).",
    );
  }
  showMessage("Loading the colorizer (about 30 MB, once)…");
  const started = performance.now();
  let module;
  try {
    module = await import("./page.local.js");
  } catch (error) {
    throw new Error(`The page's colorizer did not load (${error.message}).`);
  }
  try {
    state.local = await module.LocalStudio.open(LOCAL_MODEL);
  } catch (error) {
    throw new Error(`The model ${LOCAL_MODEL} did not load (${error.message || error}).`);
  }
  document.body.dataset.loadMs = (performance.now() - started).toFixed(0);
  $("hint-tools").disabled = !state.local.guided;
  $("guided-note").hidden = state.local.guided;
  $("colours").hidden = !state.local.guided;
  showMessage(
    `Colorizer ready (${Math.round(performance.now() - started)} ms): open or drop photos. ` +
      "They stay in this browser.",
  );
}

async function addLocalPhotos(files) {
  try {
    await state.ready;
  } catch {
    return; // the page already says why it cannot colorize
  }
  const errors = [];
  let shown = false;
  for (const file of files) {
    showMessage(`Reading ${file.name}…`);
    try {
      const info = await state.local.addPhoto(file);
      const entry = { id: info.version, name: info.name, points: [], thumb: thumbnailOf(info) };
      state.photos.push(entry);
      $("photos").append(entry.thumb);
      updateButtons();
      if (!shown) {
        shown = true;
        await switchTo(entry.id);
      } else {
        // Shown as a thumbnail now; the model's runs are queued one at a time.
        state.local
          .thumbnail(entry.id, [], state.reference)
          .then((bitmap) => drawThumbnail(entry, bitmap))
          .catch((error) => showError(error.message, "photo"));
      }
    } catch (error) {
      errors.push(error.message);
    }
  }
  if (errors.length) showError(errors.join(" · "), "photo");
  else if (state.messageFrom !== "colorize") showMessage("");
}

function thumbnailOf(info) {
  const item = document.createElement("div");
  item.className = "photo";
  item.dataset.id = info.version;
  const open = document.createElement("button");
  open.type = "button";
  open.title = `${info.name} · ${info.width}×${info.height}`;
  const name = document.createElement("span");
  name.textContent = info.name;
  open.append(document.createElement("canvas"), name);
  open.addEventListener("click", () => switchTo(info.version));
  const close = document.createElement("button");
  close.type = "button";
  close.className = "close";
  close.title = `Close ${info.name}`;
  close.textContent = "×";
  close.addEventListener("click", () => closePhoto(info.version));
  item.append(open, close);
  return item;
}

function drawThumbnail(entry, source) {
  const canvas = entry.thumb.querySelector("canvas");
  const scale = 96 / Math.max(source.width, source.height);
  canvas.width = Math.max(1, Math.round(source.width * scale));
  canvas.height = Math.max(1, Math.round(source.height * scale));
  canvas.getContext("2d").drawImage(source, 0, 0, canvas.width, canvas.height);
  if (source instanceof ImageBitmap) source.close();
}

function showThumbnail(version, canvas) {
  const entry = state.photos.find((one) => one.id === version);
  if (entry) drawThumbnail(entry, canvas);
}

async function switchTo(id) {
  const current = currentEntry();
  if (current) current.points = state.points;
  const entry = state.photos.find((one) => one.id === id);
  if (!entry || entry === current) return;
  state.points = entry.points;
  state.selected = -1;
  for (const item of $("photos").children) {
    item.classList.toggle("current", Number(item.dataset.id) === id);
  }
  await showPhoto(state.local.info(id));
  changed();
}

function closePhoto(id) {
  const index = state.photos.findIndex((one) => one.id === id);
  if (index < 0) return;
  const [entry] = state.photos.splice(index, 1);
  entry.thumb.remove();
  state.local.remove(id);
  updateButtons();
  if (state.info?.version !== id) return;
  state.info = null; // so that switchTo does not keep the closed photo's points
  const next = state.photos[Math.min(index, state.photos.length - 1)];
  if (next) switchTo(next.id);
  else showEmpty();
}

async function readLocalReference(input) {
  const file = input.files[0];
  input.value = "";
  if (!file) return null;
  await state.ready;
  showMessage(`Reading ${file.name}…`);
  await state.local.setReference(file);
  showMessage("");
  return { file };
}

async function downloadLocal(entries) {
  // One photo: its PNG. Several: one ZIP of their PNGs, since browsers stop a page's
  // downloads after the first few unless the user allows more.
  const buttons = [$("download"), $("download-all")];
  buttons.forEach((button) => (button.disabled = true));
  try {
    const files = [];
    for (const entry of entries) {
      const info = state.local.info(entry.id);
      const points = entry.id === state.info?.version ? state.points : entry.points;
      showMessage(`Colorizing the full ${info.width}×${info.height} ${info.name}…`);
      const result = await state.local.fullPng(entry.id, hints(points), state.reference);
      files.push({ name: downloadName(info), blob: result.blob });
      document.body.dataset.colorMs = result.colorMs.toFixed(0);
      document.body.dataset.pngMs = result.pngMs.toFixed(0);
      showMessage(
        `Colorized ${info.name} (${info.width}×${info.height}; colour ` +
          `${Math.round(result.colorMs)} ms, PNG ${Math.round(result.pngMs)} ms).`,
      );
    }
    if (files.length === 1) {
      save(files[0].blob, files[0].name);
      showMessage(`Saved ${files[0].name}.`);
    } else if (files.length > 1) {
      save(await zipOf(files), "colorized.zip");
      showMessage(`Saved colorized.zip (${files.length} PNGs).`);
    }
  } catch (error) {
    showError(error.message, "download");
  } finally {
    buttons.forEach((button) => (button.disabled = false));
    updateButtons();
  }
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

async function zipOf(files) {
  // [{name, blob}] -> a ZIP Blob, entries stored uncompressed (PNGs are compressed already).
  const parts = [];
  const central = [];
  let offset = 0;
  for (const { name, blob } of files) {
    const data = new Uint8Array(await blob.arrayBuffer());
    const encoded = new TextEncoder().encode(name);
    const crc = crc32(data);
    const header = (signature, extra) => {
      const view = new DataView(new ArrayBuffer(extra ? 46 : 30));
      view.setUint32(0, signature, true);
      let at = 4;
      if (extra) {
        view.setUint16(at, 20, true); // made by: version 2.0
        at += 2;
      }
      for (const [value, size] of [[20, 2], [0x0800, 2], [0, 2], [0, 2], [0x21, 2],
        [crc, 4], [data.length, 4], [data.length, 4], [encoded.length, 2], [0, 2]]) {
        if (size === 2) view.setUint16(at, value, true); // version, UTF-8 names, stored, time, date
        else view.setUint32(at, value, true);
        at += size;
      }
      if (extra) view.setUint32(42, offset, true); // comment, disk, attributes: zero
      return new Uint8Array(view.buffer);
    };
    const local = header(0x04034b50, false);
    parts.push(local, encoded, data);
    central.push(header(0x02014b50, true), encoded);
    offset += local.length + encoded.length + data.length;
  }
  const size = central.reduce((sum, part) => sum + part.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, files.length, true);
  end.setUint16(10, files.length, true);
  end.setUint32(12, size, true);
  end.setUint32(16, offset, true);
  return new Blob([...parts, ...central, new Uint8Array(end.buffer)], { type: "application/zip" });
}

function onDrop(event) {
  event.preventDefault();
  const files = [...(event.dataTransfer?.files || [])];
  if (!files.length) return;
  if (state.local) {
    addLocalPhotos(files);
    return;
  }
  uploadFile(files[0], "photo")
    .then(async (uploaded) => {
      state.points = [];
      state.selected = -1;
      await showPhoto(uploaded.answer);
      changed();
    })
    .catch((error) => showError(error.message, "photo"));
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
  $("download-all").addEventListener("click", () => downloadLocal([...state.photos]));
  document.addEventListener("dragover", (event) => event.preventDefault());
  document.addEventListener("drop", onDrop);
  $("palette").replaceChildren(...PALETTE.map(([colour, name]) => swatch(colour, name)));
  setSplit(50);
  if (LOCAL_MODEL) {
    state.ready = startLocal();
    try {
      await state.ready;
    } catch (error) {
      showError(error.message, "start");
    }
    document.body.dataset.state = "ready";
    return;
  }
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
