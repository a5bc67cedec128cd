// The studio page's in-browser colorizer (the static site of `python -m keras_colorize.web`):
// the .tflite model runs in LiteRT.js (WebAssembly) and the colour maths of `colorize`
// (keras_colorize.inference.pipeline, color.fullres, color.np_lab, guidance.hints) run here, so
// photos never leave the device. Same steps, same tables, same resize rule:
//   rgb (H, W) -> L (H, W) --area if the short side >= S, else bilinear--> L (S, S) -> model
//   ab (S, S) --bilinear, pixel centres aligned--> ab (H, W);  L + ab -> Lab -> linear RGB
//   -> the 2^16-entry linear -> sRGB uint8 table.
// The numbers below are keras_colorize/constants.py's; tests/test_web.py holds the page's PNG
// to `python -m keras_colorize.colorize`'s. An ES module, imported by page.js only in the site.

import { loadAndCompile, loadLiteRt, Tensor } from "@litertjs/core";

const RGB_TO_XYZ = [
  [0.412453, 0.35758, 0.180423],
  [0.212671, 0.71516, 0.072169],
  [0.019334, 0.119193, 0.950227],
];
const XYZ_TO_RGB = [ // the inverse of RGB_TO_XYZ
  [3.240481343200526, -1.5371515162713185, -0.4985363261688878],
  [-0.9692549499965682, 1.8759900014898907, 0.04155592655829284],
  [0.05564663913517716, -0.20404133836651123, 1.0573110696453443],
];
const D65_WHITE = [0.95047, 1.0, 1.08883];
const SRGB_LINEAR_THRESHOLD = 0.04045;
const SRGB_LINEAR_SLOPE = 12.92;
const SRGB_GAMMA = 2.4;
const SRGB_OFFSET = 0.055;
const LAB_EPSILON = 0.008856;
const LAB_LINEAR_SLOPE = 7.787;
const LAB_LINEAR_OFFSET = 16 / 116;
const F_BREAK = Math.cbrt(LAB_EPSILON);
const L_HALF = 50;
const AB_SCALE = 110;
const AB_GRID_STEP = 10;
const AB_GRID_LIMIT = 110;
const AB_GRID_SIZE = 23;
const REFERENCE_BINS = AB_GRID_SIZE * AB_GRID_SIZE;
const REFERENCE_SIDE = 256; // guidance.hints.REFERENCE_SIDE
const LINEAR_TABLE_STEPS = 65535;
const PREVIEW_SIDE = 1024; // the edited preview's long side (no network here: larger than the server's)
const THUMB_SIDE = 96;
// Beyond this a photo needs over 1 GB of the tab's memory (RGBA, L and the result).
export const MAX_PIXELS = 50e6;

// ------------------------------------------------------------------ tables and Lab

function rint(value) {
  // Rounds half to even, like np.rint and OpenCV's saturating conversions.
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

function srgbToLinear(v) {
  return v > SRGB_LINEAR_THRESHOLD
    ? ((v + SRGB_OFFSET) / (1 + SRGB_OFFSET)) ** SRGB_GAMMA
    : v / SRGB_LINEAR_SLOPE;
}

function linearToSrgb(v) {
  const x = Math.min(1, Math.max(0, v));
  const threshold = SRGB_LINEAR_THRESHOLD / SRGB_LINEAR_SLOPE;
  return x > threshold ? (1 + SRGB_OFFSET) * x ** (1 / SRGB_GAMMA) - SRGB_OFFSET : x * SRGB_LINEAR_SLOPE;
}

const TO_LINEAR = Float32Array.from({ length: 256 }, (_, k) => srgbToLinear(k / 255));
const TO_SRGB = Uint8Array.from({ length: LINEAR_TABLE_STEPS + 1 }, (_, k) =>
  rint(linearToSrgb(k / LINEAR_TABLE_STEPS) * 255));
const LUMINANCE = RGB_TO_XYZ[1].map((v) => v / D65_WHITE[1]);
// XYZ -> linear RGB with the white point folded in (color.fullres._XYZ_NORM_TO_LINEAR).
const XYZ_NORM_TO_LINEAR = XYZ_TO_RGB.map((row) => row.map((v, j) => Math.fround(v * D65_WHITE[j])));

function labF(t) {
  return t > LAB_EPSILON ? Math.cbrt(t) : LAB_LINEAR_SLOPE * t + LAB_LINEAR_OFFSET;
}

function lightnessOfLinear(r, g, b) {
  return 116 * labF(LUMINANCE[0] * r + LUMINANCE[1] * g + LUMINANCE[2] * b) - 16;
}

const GRAY_LIGHTNESS = Float32Array.from({ length: 256 }, (_, k) =>
  lightnessOfLinear(TO_LINEAR[k], TO_LINEAR[k], TO_LINEAR[k]));

function rgbToLab(r, g, b) {
  // uint8 sRGB -> [L, a, b] (np_lab.rgb_uint8_to_lab).
  const lin = [TO_LINEAR[r], TO_LINEAR[g], TO_LINEAR[b]];
  const f = RGB_TO_XYZ.map((row, i) => labF((row[0] * lin[0] + row[1] * lin[1] + row[2] * lin[2]) / D65_WHITE[i]));
  return [116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])];
}

function hexToAb(hex) {
  const n = parseInt(hex.slice(1), 16);
  const lab = rgbToLab((n >> 16) & 255, (n >> 8) & 255, n & 255);
  return [Math.fround(lab[1]), Math.fround(lab[2])];
}

/** RGBA bytes (W*H*4) -> {lightness: Float32Array (W*H) in [0, 100], gray, opaque}. */
export function lightness(rgba) {
  const count = rgba.length / 4;
  const out = new Float32Array(count);
  let gray = true;
  let opaque = true;
  for (let i = 0, p = 0; i < count; i++, p += 4) {
    const r = rgba[p], g = rgba[p + 1], b = rgba[p + 2];
    if (r === g && g === b) {
      out[i] = GRAY_LIGHTNESS[r];
    } else {
      gray = false;
      out[i] = lightnessOfLinear(TO_LINEAR[r], TO_LINEAR[g], TO_LINEAR[b]);
    }
    if (rgba[p + 3] !== 255) opaque = false;
  }
  return { lightness: out, gray, opaque };
}

// ------------------------------------------------------------------ resizing

function areaWeights(from, to) {
  // OpenCV's INTER_AREA when shrinking: each output pixel averages the input it covers.
  const scale = from / to;
  const rows = [];
  for (let d = 0; d < to; d++) {
    const lo = d * scale, hi = Math.min(from, (d + 1) * scale);
    const taps = [];
    for (let i = Math.floor(lo); i < Math.ceil(hi); i++) {
      const w = Math.min(hi, i + 1) - Math.max(lo, i);
      if (w > 1e-9) taps.push([i, w / (hi - lo)]);
    }
    rows.push(taps);
  }
  return rows;
}

function linearWeights(from, to) {
  // OpenCV's INTER_LINEAR (and tf.image.resize bilinear): half-pixel centres, edges clamped.
  const rows = [];
  for (let d = 0; d < to; d++) {
    const f = ((d + 0.5) * from) / to - 0.5;
    const i = Math.floor(f), t = f - i;
    const clamp = (k) => Math.min(from - 1, Math.max(0, k));
    rows.push([[clamp(i), 1 - t], [clamp(i + 1), t]]);
  }
  return rows;
}

function resizeSeparable(src, width, height, outWidth, outHeight, weights) {
  // One channel of float; rows first, then columns.
  const wx = weights(width, outWidth), wy = weights(height, outHeight);
  const rows = new Float64Array(height * outWidth);
  for (let y = 0; y < height; y++) {
    const base = y * width;
    for (let x = 0; x < outWidth; x++) {
      let sum = 0;
      for (const [i, w] of wx[x]) sum += w * src[base + i];
      rows[y * outWidth + x] = sum;
    }
  }
  const out = new Float32Array(outWidth * outHeight);
  for (let y = 0; y < outHeight; y++) {
    for (const [i, w] of wy[y]) {
      for (let x = 0; x < outWidth; x++) out[y * outWidth + x] += w * rows[i * outWidth + x];
    }
  }
  return out;
}

/** L (W*H) -> L (S*S): area averaging if the short side is at least S, else bilinear. */
export function workingLightness(light, width, height, size) {
  const weights = Math.min(width, height) >= size ? areaWeights : linearWeights;
  return resizeSeparable(light, width, height, size, size, weights);
}

function shrinkLightness(light, width, height, side) {
  const scale = side / Math.max(width, height);
  if (scale >= 1) return { light, width, height };
  const w = Math.max(1, Math.round(width * scale)), h = Math.max(1, Math.round(height * scale));
  return { light: resizeSeparable(light, width, height, w, h, areaWeights), width: w, height: h };
}

/**
 * Full-resolution L (W*H) + ab (S*S*2, Lab units) -> RGBA bytes (W*H*4) (color.fullres.recombine).
 * alpha: the photo's RGBA bytes to take the alpha channel from, or null for opaque.
 */
export function recombine(light, width, height, ab, size, alpha = null) {
  const out = new Uint8ClampedArray(width * height * 4);
  const x0 = new Int32Array(width), x1 = new Int32Array(width), tx = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const f = Math.fround(((x + 0.5) * size) / width - 0.5);
    const i = Math.floor(f);
    x0[x] = Math.min(size - 1, Math.max(0, i)) * 2;
    x1[x] = Math.min(size - 1, Math.max(0, i + 1)) * 2;
    tx[x] = f - i;
  }
  // The matrix in locals and the per-channel steps written out: this runs on every pixel.
  const [[m00, m01, m02], [m10, m11, m12], [m20, m21, m22]] = XYZ_NORM_TO_LINEAR;
  const f3 = (f) => Math.max(0, f <= F_BREAK ? (f - LAB_LINEAR_OFFSET) / LAB_LINEAR_SLOPE : f * f * f);
  const level = (linear) => {
    // Clip to [0, 1], scale to the table, round half to even (OpenCV's saturating conversion).
    if (!(linear > 0)) return TO_SRGB[0];
    if (linear >= 1) return TO_SRGB[LINEAR_TABLE_STEPS];
    const v = linear * LINEAR_TABLE_STEPS;
    let k = Math.floor(v + 0.5);
    if (k - v === 0.5 && k % 2 === 1) k -= 1;
    return TO_SRGB[k];
  };
  for (let y = 0; y < height; y++) {
    const f = Math.fround(((y + 0.5) * size) / height - 0.5);
    const j = Math.floor(f), ty = f - j;
    const r0 = Math.min(size - 1, Math.max(0, j)) * size * 2;
    const r1 = Math.min(size - 1, Math.max(0, j + 1)) * size * 2;
    for (let x = 0, p = y * width, q = p * 4; x < width; x++, p++, q += 4) {
      const a0 = r0 + x0[x], a1 = r0 + x1[x], b0 = r1 + x0[x], b1 = r1 + x1[x];
      const t = tx[x];
      const top0 = ab[a0] + t * (ab[a1] - ab[a0]), bot0 = ab[b0] + t * (ab[b1] - ab[b0]);
      const top1 = ab[a0 + 1] + t * (ab[a1 + 1] - ab[a0 + 1]);
      const bot1 = ab[b0 + 1] + t * (ab[b1 + 1] - ab[b0 + 1]);
      const fy = (light[p] + 16) / 116;
      const X = f3(fy + (top0 + ty * (bot0 - top0)) / 500);
      const Y = f3(fy);
      const Z = f3(fy - (top1 + ty * (bot1 - top1)) / 200);
      out[q] = level(m00 * X + m01 * Y + m02 * Z);
      out[q + 1] = level(m10 * X + m11 * Y + m12 * Z);
      out[q + 2] = level(m20 * X + m21 * Y + m22 * Z);
      out[q + 3] = alpha ? alpha[q + 3] : 255;
    }
  }
  return out;
}

// ------------------------------------------------------------------ guidance

/** Points {x, y, color, radius} in the photo's pixels -> the hint map (S*S*3) (hints.hint_map). */
export function hintMap(points, width, height, size) {
  const hints = new Float32Array(size * size * 3);
  for (const point of points) {
    const [a, b] = hexToAb(point.color);
    const sx = (point.x * size) / width, sy = (point.y * size) / height;
    const rx = (point.radius * size) / width, ry = (point.radius * size) / height;
    const mark = (i, j) => hints.set([a / AB_SCALE, b / AB_SCALE, 1], (i * size + j) * 3);
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) {
        const dx = (j + 0.5 - sx) / rx, dy = (i + 0.5 - sy) / ry;
        if (dx * dx + dy * dy <= 1) mark(i, j);
      }
    }
    mark(Math.min(Math.floor(sy), size - 1), Math.min(Math.floor(sx), size - 1));
  }
  return hints;
}

function shrinkRgba(rgba, width, height, side) {
  // The photo's RGB shrunk by area averaging to uint8 (as cv2.resize INTER_AREA on uint8).
  const scale = side / Math.max(width, height);
  if (scale >= 1) return { rgb: rgba, width, height };
  const w = Math.max(1, Math.round(width * scale)), h = Math.max(1, Math.round(height * scale));
  const out = new Uint8ClampedArray(w * h * 4);
  const channel = new Float32Array(width * height);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < width * height; i++) channel[i] = rgba[i * 4 + c];
    const small = resizeSeparable(channel, width, height, w, h, areaWeights);
    for (let i = 0; i < w * h; i++) out[i * 4 + c] = rint(small[i]);
  }
  return { rgb: out, width: w, height: h };
}

/** A reference photo's RGBA -> its ab distribution (REFERENCE_BINS), or null if it is gray. */
export function referenceHistogram(rgba, width, height) {
  const { rgb, width: w, height: h } = shrinkRgba(rgba, width, height, REFERENCE_SIDE);
  const counts = new Float32Array(REFERENCE_BINS);
  let most = 0;
  for (let i = 0; i < w * h; i++) {
    const [, a, b] = rgbToLab(rgb[i * 4], rgb[i * 4 + 1], rgb[i * 4 + 2]);
    most = Math.max(most, Math.abs(a), Math.abs(b));
    const cell = (v) => Math.min(AB_GRID_SIZE - 1, Math.max(0, rint((Math.fround(v) + AB_GRID_LIMIT) / AB_GRID_STEP)));
    counts[cell(a) * AB_GRID_SIZE + cell(b)] += 1;
  }
  if (most < 1) return null;
  return counts.map((v) => v / (w * h));
}

// ------------------------------------------------------------------ reading photos

function imageSize(bytes) {
  // {width, height} from a PNG, JPEG, GIF, BMP or WebP header, before decoding; null if unknown.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = (at, n) => String.fromCharCode(...bytes.subarray(at, at + n));
  if (bytes.length >= 24 && view.getUint32(0) === 0x89504e47) {
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (bytes.length >= 10 && text(0, 3) === "GIF") {
    return { width: view.getUint16(6, true), height: view.getUint16(8, true) };
  }
  if (bytes.length >= 26 && text(0, 2) === "BM") {
    return { width: Math.abs(view.getInt32(18, true)), height: Math.abs(view.getInt32(22, true)) };
  }
  if (bytes.length >= 30 && text(0, 4) === "RIFF" && text(8, 4) === "WEBP") {
    const kind = text(12, 4);
    if (kind === "VP8X") {
      const u24 = (at) => bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16);
      return { width: u24(24) + 1, height: u24(27) + 1 };
    }
    if (kind === "VP8L") {
      const bits = view.getUint32(21, true);
      return { width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
    }
    if (kind === "VP8 ") {
      return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
    }
  }
  if (bytes.length >= 4 && view.getUint16(0) === 0xffd8) {
    let at = 2;
    while (at + 9 < bytes.length) {
      if (bytes[at] !== 0xff) return null;
      const marker = bytes[at + 1];
      if (marker === 0xff) { at += 1; continue; }
      const length = view.getUint16(at + 2);
      const frame = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
      if (frame) return { width: view.getUint16(at + 7), height: view.getUint16(at + 5) };
      at += 2 + length;
    }
  }
  return null;
}

function megapixels(width, height) {
  return `${width}×${height} (${((width * height) / 1e6).toFixed(0)} MP)`;
}

/** A File -> {rgba, width, height}; Error with a one-line message for what it cannot read. */
export async function readPhoto(file) {
  const head = new Uint8Array(await file.slice(0, 256 * 1024).arrayBuffer());
  const size = imageSize(head);
  const tooLarge = (w, h) =>
    new Error(`${file.name} is ${megapixels(w, h)}: this page colorizes photos up to ` +
      `${MAX_PIXELS / 1e6} MP; shrink it, or use python -m keras_colorize.colorize`);
  if (size && size.width * size.height > MAX_PIXELS) throw tooLarge(size.width, size.height);
  let bitmap;
  try {
    // No colour management and no premultiplying: the file's own sRGB levels, as Pillow reads them.
    bitmap = await createImageBitmap(file, {
      colorSpaceConversion: "none",
      premultiplyAlpha: "none",
      imageOrientation: "from-image",
    });
  } catch {
    throw new Error(size
      ? `${file.name} could not be decoded (a damaged or unsupported image)`
      : `${file.name} is not an image this browser can read (JPEG, PNG, WebP, GIF, BMP)`);
  }
  const { width, height } = bitmap;
  if (width * height > MAX_PIXELS) {
    bitmap.close();
    throw tooLarge(width, height);
  }
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  return { rgba: context.getImageData(0, 0, width, height).data, width, height };
}

async function pngBlob(rgba, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  canvas.getContext("2d").putImageData(new ImageData(rgba, width, height), 0, 0);
  return canvas.convertToBlob({ type: "image/png" });
}

function imageBitmapOf(rgba, width, height) {
  return createImageBitmap(new ImageData(rgba, width, height));
}

// ------------------------------------------------------------------ the studio in the browser

/** The in-browser counterpart of the studio server: photos, reference and the model. */
export class LocalStudio {
  static async open(modelName) {
    const base = document.baseURI;
    // Absolute URLs: LiteRT.js resolves them from its own module, not from this page.
    await loadLiteRt(new URL("litert/wasm/", base).href);
    const model = await loadAndCompile(new URL(modelName, base).href, { accelerator: "wasm" });
    const studio = new LocalStudio(model, modelName);
    await studio._predict(new Float32Array(studio.size * studio.size), [], null, 1, 1);
    return studio; // warmed up: the first run packs the weights, a few hundred ms
  }

  constructor(model, modelName) {
    this.model = model;
    this.modelName = modelName;
    const names = model.getInputDetails().map((detail) => detail.name);
    const light = model.getInputDetails().find((detail) => detail.name === "L");
    this.size = light ? light.shape[1] : model.getInputDetails()[0].shape[1];
    this.guided = names.includes("hints") && names.includes("reference");
    this.photos = new Map();
    this.reference = null; // Float32Array (REFERENCE_BINS) or null
    this.nextId = 1;
    this.queue = Promise.resolve(); // one model run at a time
    this.cache = new Map(); // photo id -> {key, ab}: the last prediction, reused by the download
  }

  /** A File -> the photo's info (the same fields as the server's GET /info). */
  async addPhoto(file) {
    const started = performance.now();
    const { rgba, width, height } = await readPhoto(file);
    const { lightness: light, gray, opaque } = lightness(rgba);
    const preview = shrinkLightness(light, width, height, PREVIEW_SIDE);
    const photo = {
      id: this.nextId++,
      name: file.name,
      width,
      height,
      light,
      alpha: opaque ? null : rgba, // kept only when it carries transparency
      gray,
      working: workingLightness(light, width, height, this.size),
      preview,
      readMs: performance.now() - started,
    };
    this.photos.set(photo.id, photo);
    return this.info(photo.id);
  }

  info(id) {
    const photo = this.photos.get(id);
    return {
      name: photo.name,
      width: photo.width,
      height: photo.height,
      preview_width: photo.preview.width,
      preview_height: photo.preview.height,
      was_gray: photo.gray,
      version: photo.id,
      guided: this.guided,
      model: `${this.modelName} in this browser (WebAssembly)`,
      working_size: this.size,
      reference: this.reference !== null,
      read_ms: photo.readMs,
    };
  }

  remove(id) {
    this.photos.delete(id);
    this.cache.delete(id);
  }

  /** The preview's lightness without colour, as a PNG Blob (the page's "before"). */
  grayPng(id) {
    const { preview } = this.photos.get(id);
    const zero = new Float32Array(2);
    return pngBlob(recombine(preview.light, preview.width, preview.height, zero, 1), preview.width, preview.height);
  }

  async setReference(file) {
    const { rgba, width, height } = await readPhoto(file);
    const histogram = referenceHistogram(rgba, width, height);
    if (!histogram) throw new Error("the reference photo is gray: it has no colours to pass on");
    this.reference = histogram;
    this.cache.clear();
  }

  clearReference() {
    this.reference = null;
    this.cache.clear();
  }

  async _ab(id, points, useReference) {
    // ab (S*S*2) in Lab units for this photo and guidance; the last one is cached.
    const photo = this.photos.get(id);
    if (!photo) throw new Error("that photo was closed");
    if ((points.length || useReference) && !this.guided) {
      throw new Error("this model takes no hints: it colorizes on its own");
    }
    if (useReference && !this.reference) throw new Error("no reference photo is loaded");
    const key = JSON.stringify([points, useReference]);
    const cached = this.cache.get(id);
    if (cached && cached.key === key) return { ab: cached.ab, modelMs: 0 };
    const reference = useReference ? this.reference : null;
    const { ab, modelMs } = await this._predict(photo.working, points, reference, photo.width, photo.height);
    this.cache.set(id, { key, ab });
    return { ab, modelMs };
  }

  _predict(working, points, reference, width, height) {
    // The model on L (S*S) and the guidance; ab (S*S*2) in Lab units. One run at a time.
    const run = async () => {
      const size = this.size;
      const inputs = [];
      const tensor = (data, shape) => {
        const made = new Tensor(data, shape);
        inputs.push(made);
        return made;
      };
      const feed = { L: tensor(working.map((v) => v / L_HALF - 1), [1, size, size, 1]) };
      if (this.guided) {
        feed.hints = tensor(hintMap(points, width, height, size), [1, size, size, 3]);
        const none = new Float32Array(REFERENCE_BINS);
        feed.reference = tensor(reference || none, [1, REFERENCE_BINS]);
      }
      const started = performance.now();
      let outputs;
      try {
        outputs = await this.model.run(feed);
      } finally {
        inputs.forEach((one) => one.delete());
      }
      const modelMs = performance.now() - started;
      const results = Object.values(outputs);
      const ab = results[0].toTypedArray().map((v) => v * AB_SCALE);
      results.forEach((one) => one.delete());
      return { ab, modelMs };
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => {});
    return result;
  }

  /** The colorized preview as an ImageBitmap, and the milliseconds it took. */
  async preview(id, points, useReference) {
    const started = performance.now();
    const { ab, modelMs } = await this._ab(id, points, useReference);
    const { preview } = this.photos.get(id);
    const rgba = recombine(preview.light, preview.width, preview.height, ab, this.size);
    const bitmap = await imageBitmapOf(rgba, preview.width, preview.height);
    return { bitmap, ms: performance.now() - started, modelMs };
  }

  /** The full-resolution colorization as a PNG Blob, and the milliseconds it took. */
  async fullPng(id, points, useReference) {
    const started = performance.now();
    const { ab } = await this._ab(id, points, useReference);
    const photo = this.photos.get(id);
    const rgba = recombine(photo.light, photo.width, photo.height, ab, this.size, photo.alpha);
    const recombined = performance.now();
    const blob = await pngBlob(rgba, photo.width, photo.height);
    const done = performance.now();
    return { blob, colorMs: recombined - started, pngMs: done - recombined };
  }

  /** A small colorized thumbnail of the photo's last prediction, as an ImageBitmap. */
  async thumbnail(id, points, useReference) {
    const { ab } = await this._ab(id, points, useReference);
    const { preview } = this.photos.get(id);
    const thumb = shrinkLightness(preview.light, preview.width, preview.height, THUMB_SIDE);
    return imageBitmapOf(recombine(thumb.light, thumb.width, thumb.height, ab, this.size), thumb.width, thumb.height);
  }
}
