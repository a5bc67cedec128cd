"""The human-rating kit: a self-contained rating page, and the aggregation of its ratings.

write_human_kit writes one HTML file (images inlined, nothing fetched) showing every photo by
every model, shuffled and under opaque ids, to be rated for natural colour on a 1-5 scale; each
rater saves a JSON file from the page. aggregate_ratings reads those files back into mean +- a
t-based 95% CI per model and ratings_markdown tables them. Kept apart from the evaluate command
and importing only the standard library, so ratings can be aggregated (`evaluate
--human-results`) without TensorFlow.
"""

import base64
import hashlib
import json
import math
import os
import random
import sys

from keras_colorize.io.json_file import read_json

RATINGS_FORMAT = "keras-colorize-ratings/1"
RATING_SCALE = (1, 5)

# Two-sided 95% t quantiles t(0.975, df) for df = 1..30; beyond, a Cornish-Fisher expansion.
T_975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip
Z_975 = 1.959964


class RatingsError(Exception):
    """A ratings file that cannot be read or was not saved from the kit; one-line message."""


def md_name(name):
    """A name as a markdown table cell: a literal | escaped."""
    return name.replace("|", "\\|")


# ---------------------------------------------------------------- kit page

KIT_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rate colorized photos</title>
<style>
body { font-family: system-ui, sans-serif; margin: 0; background: #f3f3f1; color: #222; }
header { position: sticky; top: 0; z-index: 1; background: #fff; border-bottom: 1px solid #ccc;
  padding: .6rem 1rem; display: flex; flex-wrap: wrap; gap: .5rem 1.2rem; align-items: center; }
header h1 { font-size: 1.1rem; margin: 0; }
#save { font-size: 1rem; padding: .35rem 1rem; cursor: pointer; }
#status { color: #555; }
main { padding: 1rem; }
.intro { max-width: 62rem; margin: 0 0 1rem; line-height: 1.4; }
#items { display: grid; grid-template-columns: repeat(auto-fill, minmax(290px, 1fr)); gap: 1rem; }
.item { background: #fff; border: 2px solid #ddd; border-radius: 6px; margin: 0; padding: .5rem;
  display: flex; flex-direction: column; gap: .4rem; }
.item.rated { border-color: #5a9; }
.item img { width: 100%; aspect-ratio: 5 / 4; object-fit: contain; background: #e6e6e6; }
.item figcaption { font-size: .85rem; color: #555; }
.scale { display: flex; gap: .3rem; border: 0; padding: 0; margin: 0; }
.scale label { flex: 1; text-align: center; border: 1px solid #bbb; border-radius: 4px;
  padding: .25rem 0; cursor: pointer; user-select: none; }
.scale label:has(input:checked) { background: #2d6b57; color: #fff; border-color: #2d6b57; }
</style>
</head>
<body>
<header>
  <h1>Rate colorized photos</h1>
  <label>Your name <input id="rater" autocomplete="name" placeholder="required to save"></label>
  <button id="save" type="button">Save ratings</button>
  <span id="status"></span>
</header>
<main>
<p class="intro">Each picture is a black-and-white photo that was given colours automatically,
or left without colour. How natural do the colours look? <b>1</b> = clearly wrong or unnatural,
<b>3</b> = plausible but odd, <b>5</b> = could be a real colour photo. Rate every picture on its
own, then press <b>Save ratings</b> and send the downloaded file back.</p>
<div id="items"></div>
</main>
<script id="kit-data" type="application/json">__KIT_DATA__</script>
<script>
"use strict";
const kit = JSON.parse(document.getElementById("kit-data").textContent);
const ratings = {};
const storeKey = "keras-colorize-kit-" + kit.kit;
const statusLine = document.getElementById("status");
const raterInput = document.getElementById("rater");

function showProgress(message) {
  const done = Object.keys(ratings).length;
  statusLine.textContent = (message ? message + " " : "") + done + " of " + kit.items.length +
    " rated";
}
function remember() {
  try {
    localStorage.setItem(storeKey, JSON.stringify({rater: raterInput.value, ratings}));
  } catch (e) { /* a browser without storage still works, it just forgets on reload */ }
}
function setRating(id, value) {
  ratings[id] = value;
  document.querySelector('[data-id="' + id + '"]').classList.add("rated");
  showProgress("");
  remember();
}

const grid = document.getElementById("items");
kit.items.forEach((item, index) => {
  const card = document.createElement("figure");
  card.className = "item";
  card.dataset.id = item.id;
  const img = document.createElement("img");
  img.src = item.src;
  img.alt = "Picture " + (index + 1);
  const caption = document.createElement("figcaption");
  caption.textContent = "Picture " + (index + 1) + " of " + kit.items.length;
  const scale = document.createElement("fieldset");
  scale.className = "scale";
  for (let value = kit.scale[0]; value <= kit.scale[1]; value++) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "radio";
    input.name = "rating-" + item.id;
    input.value = String(value);
    input.addEventListener("change", () => setRating(item.id, value));
    label.append(input, " " + value);
    scale.append(label);
  }
  card.append(img, caption, scale);
  grid.append(card);
});

try {
  const saved = JSON.parse(localStorage.getItem(storeKey) || "null");
  if (saved) {
    raterInput.value = saved.rater || "";
    for (const [id, value] of Object.entries(saved.ratings || {})) {
      const input = document.querySelector('input[name="rating-' + id + '"][value="' + value +
        '"]');
      if (input) { input.checked = true; setRating(id, value); }
    }
  }
} catch (e) { /* ignore unreadable stored ratings */ }
raterInput.addEventListener("input", remember);
showProgress("");

document.getElementById("save").addEventListener("click", () => {
  const rater = raterInput.value.trim();
  if (!rater) { showProgress("Type your name first."); raterInput.focus(); return; }
  const rated = Object.keys(ratings).length;
  if (!rated) { showProgress("Rate at least one picture first."); return; }
  const items = kit.items.map(item => ({id: item.id, model: item.model, image: item.image,
    rating: item.id in ratings ? ratings[item.id] : null}));
  const doc = {format: kit.format, kit: kit.kit, rater: rater, saved: new Date().toISOString(),
    scale: kit.scale, ratings: items};
  const blob = new Blob([JSON.stringify(doc, null, 1)], {type: "application/json"});
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = "ratings-" + rater.replace(/[^A-Za-z0-9_-]+/g, "_") + "-" + kit.kit + ".json";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  showProgress(rated < kit.items.length ? "Saved (some pictures unrated)." : "Saved.");
});
</script>
</body>
</html>
"""


def write_human_kit(folder, photos, models, seed):
    """OUT/human_kit/index.html: every photo by every model, shuffled and blinded; returns path."""
    rng = random.Random(seed)
    pairs = [(photo, model.name) for photo in photos for model in models]
    rng.shuffle(pairs)
    digest = hashlib.sha256(repr((seed, [(p.name, m) for p, m in pairs])).encode())
    ids = []
    while len(ids) < len(pairs):
        candidate = f"{rng.getrandbits(40):010x}"  # opaque: says nothing about model or photo
        if candidate not in ids:
            ids.append(candidate)
    items = [
        {
            "id": item_id,
            "model": model,
            "image": photo.name,
            "src": "data:image/jpeg;base64," + base64.b64encode(photo.kit[model]).decode(),
        }
        for item_id, (photo, model) in zip(ids, pairs, strict=True)
    ]
    data = {
        "format": RATINGS_FORMAT,
        "kit": digest.hexdigest()[:12],
        "scale": list(RATING_SCALE),
        "items": items,
    }
    # "</" inside the JSON would end the <script> element early.
    page = KIT_PAGE.replace("__KIT_DATA__", json.dumps(data).replace("</", "<\\/"))
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "index.html")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(page)
    return path


# ---------------------------------------------------------------- ratings


def t_quantile_975(df):
    """The 0.975 quantile of Student's t with df degrees of freedom (two-sided 95%)."""
    if df < 1:
        return float("nan")
    if df <= len(T_975):
        return T_975[df - 1]
    z = Z_975
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


def mean_ci(values):
    """{n, mean, sd, ci95}: sample sd and the t-based 95% CI half-width (None for n < 2)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return {"n": n, "mean": mean, "sd": None, "ci95": None}
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return {"n": n, "mean": mean, "sd": sd, "ci95": t_quantile_975(n - 1) * sd / math.sqrt(n)}


def read_ratings(path):
    """A saved ratings file -> (rater, kit, [(model, rating)]); RatingsError if malformed."""
    doc = read_json(path, RatingsError, "ratings file")
    if not isinstance(doc, dict) or doc.get("format") != RATINGS_FORMAT:
        raise RatingsError(f"{path}: not a ratings file saved from the human kit")
    low, high = RATING_SCALE
    pairs = []
    for item in doc.get("ratings", []):
        rating = item.get("rating") if isinstance(item, dict) else None
        if rating is None:
            continue  # left unrated
        if not isinstance(rating, int) or not low <= rating <= high or "model" not in item:
            raise RatingsError(f"{path}: bad rating entry {json.dumps(item)[:80]}")
        pairs.append((str(item["model"]), rating))
    return str(doc.get("rater", "")), doc.get("kit"), pairs


def aggregate_ratings(paths):
    """{"raters", "files", "models": {model: mean_ci}} over every rating of every file."""
    by_model, raters, kits = {}, [], set()
    for path in paths:
        rater, kit, pairs = read_ratings(path)
        if rater in raters:
            print(f"note: rater {rater!r} appears in more than one file", file=sys.stderr)
        raters.append(rater)
        kits.add(kit)
        for model, rating in pairs:
            by_model.setdefault(model, []).append(rating)
    if len(kits) > 1:
        print("note: the files come from different kits (photo sets)", file=sys.stderr)
    if not by_model:
        raise RatingsError("the rating files hold no ratings")
    models = {model: mean_ci(values) for model, values in by_model.items()}
    ordered = dict(sorted(models.items(), key=lambda item: -item[1]["mean"]))
    return {"raters": raters, "files": list(paths), "models": ordered}


def ratings_markdown(result):
    low, high = RATING_SCALE
    total = sum(m["n"] for m in result["models"].values())
    lines = [
        "# Human ratings",
        "",
        f"{len(result['raters'])} rater file(s), {total} ratings on a {low}-{high} scale; "
        "95% CI = mean ± t(0.975, n-1) · sd / √n.",
        "",
        "| model | n | mean | sd | 95% CI ± | 95% CI |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for model, s in result["models"].items():
        mean, sd, ci = s["mean"], s["sd"], s["ci95"]
        interval = "–" if ci is None else f"[{mean - ci:.2f}, {mean + ci:.2f}]"
        sd_cell = "–" if sd is None else f"{sd:.2f}"
        ci_cell = "–" if ci is None else f"{ci:.2f}"
        lines.append(
            f"| {md_name(model)} | {s['n']} | {mean:.2f} | {sd_cell} | {ci_cell} | {interval} |"
        )
    return "\n".join(lines) + "\n"
