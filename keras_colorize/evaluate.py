"""`python -m keras_colorize.evaluate`: compare colorizers on photos; metrics, figures, human kit.

    python -m keras_colorize.evaluate --images test_photos --out eval \\
        --model gan=runs/gan/colorizer.keras --model l2=models/colorizer/1 --runs runs/gan

Every photo is the ground truth; each model sees only its lightness and
predicts colour at full resolution (inference.colorize_images). The trivial
"gray" baseline (a = b = 0: the photo's own lightness, no colour) is always
evaluated beside the models, because it already scores high on AuC.

OUT receives metrics.json (per model: summary, per category, per photo),
metrics.md (printed at the end), results.png (best, typical and worst photos),
losses.png with --runs, and with --human-kit a self-contained rating page
human_kit/index.html. `--human-results FILE ...` aggregates the raters' saved
files into mean +- 95% CI per model.
"""

import argparse
import base64
import csv
import hashlib
import io
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from keras_colorize.image_io import IMAGE_EXTENSIONS, ImageReadError, read_image

PROG = "evaluate"
USAGE_ERROR = 2
GRAY = "gray"
MANIFEST = "MANIFEST.csv"
NO_CATEGORY = "(none)"
MIN_SIDE = 11  # SSIM's 11 x 11 window
THUMBNAIL = 160  # longest side of a results.png cell, px
KIT_SIDE = 512  # longest side of a photo in the human kit, px
JPEG_QUALITY = 90
KIT_DIR = "human_kit"
RATINGS_FORMAT = "keras-colorize-ratings/1"
RATING_SCALE = (1, 5)

# (key, table header, format) of metrics.md's main table, in column order.
COLUMNS = (
    ("psnr", "PSNR", "{:.2f}"),
    ("ssim", "SSIM", "{:.3f}"),
    ("auc_0_150", "AuC 0-150", "{:.3f}"),
    ("auc_1_100", "AuC 1-100", "{:.3f}"),
    ("colorfulness", "CF", "{:.1f}"),
    ("colorfulness_ratio", "CF ratio", "{:.2f}"),
    ("delta_cf", "ΔCF", "{:.1f}"),
    ("chroma", "chroma", "{:.1f}"),
    ("delta_l", "\\|ΔL\\|", "{:.2f}"),
    ("images_per_second", "images/s", "{:.3g}"),
)
RANK_METRICS = ("auc_0_150", "auc_1_100", "psnr", "ssim", "colorfulness", "chroma", "delta_l")
LOWER_IS_BETTER = {"delta_l"}
METRIC_LABELS = {
    "auc_0_150": "AuC 0-150",
    "auc_1_100": "AuC 1-100",
    "psnr": "PSNR",
    "ssim": "SSIM",
    "colorfulness": "CF",
    "chroma": "chroma",
    "delta_l": "|ΔL|",
}

# Two-sided 95% t quantiles t(0.975, df) for df = 1..30; beyond, a Cornish-Fisher expansion.
T_975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip
Z_975 = 1.959964


class UsageError(Exception):
    """A mistake in the command or its inputs; one-line message, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with the project's one-line `evaluate: error: ...` for bad arguments."""

    def error(self, message):
        raise UsageError(f"{message} (see --help)")


def parse_args(argv):
    parser = _Parser(
        prog=PROG,
        description=(
            "Compare colorizers on colour photos: each model sees a photo's lightness only and "
            "is scored against the photo at full resolution. The 'gray' baseline (no colour) "
            "is always included."
        ),
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--images", metavar="DIR", help="a folder of colour photos (recursive)")
    source.add_argument(
        "--data",
        metavar="DATASET",
        help="a data_prep dataset: its stored images, at the stored resolution",
    )
    parser.add_argument("--split", default="val", help="the dataset split with --data (val)")
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="a model to evaluate: a SavedModel folder, .keras or .tflite file (repeatable)",
    )
    parser.add_argument("--out", metavar="DIR", help="output folder")
    parser.add_argument(
        "--runs", nargs="+", default=[], metavar="RUN", help="run dirs whose losses.csv to plot"
    )
    parser.add_argument(
        "--rows",
        nargs="+",
        metavar="FILE",
        help="photos (names or paths relative to the source) to show in results.png",
    )
    parser.add_argument(
        "--rank-by",
        choices=RANK_METRICS,
        default="auc_0_150",
        help="the metric choosing results.png's best, typical and worst photos (auc_0_150)",
    )
    parser.add_argument("--human-kit", action="store_true", help="write OUT/human_kit/index.html")
    parser.add_argument("--seed", type=int, default=0, help="the human kit's shuffle seed (0)")
    parser.add_argument("--max-images", type=int, metavar="N", help="evaluate the first N photos")
    parser.add_argument(
        "--human-results",
        nargs="+",
        metavar="FILE",
        help="aggregate raters' saved ratings files instead of evaluating",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.human_results:
        if args.images or args.data or args.model or args.runs or args.human_kit:
            raise UsageError("--human-results takes only rating files and --out")
        return args
    if not (args.images or args.data):
        raise UsageError("give --images DIR or --data DATASET (or --human-results FILE ...)")
    if not args.out:
        raise UsageError("--out DIR is required")
    if args.max_images is not None and args.max_images < 1:
        raise UsageError("--max-images must be at least 1")
    return args


# ---------------------------------------------------------------- models


class GrayBaseline:
    """The a = b = 0 'colorizer', as an inference backend: the photo's lightness, no colour."""

    working_size = 8  # the network input is ignored; a small square keeps it cheap

    def predict_ab(self, l_norm):
        return np.zeros(l_norm.shape[:-1] + (2,), np.float32)  # (B, S, S, 2)


@dataclass
class Model:
    name: str
    path: str | None
    backend: object = None
    seconds: float = 0.0
    count: int = 0

    @property
    def images_per_second(self):
        return self.count / self.seconds if self.seconds > 0 else float("nan")


def parse_models(specs):
    """--model NAME=PATH values -> [Model], the gray baseline first; UsageError if malformed."""
    models = [Model(GRAY, None, GrayBaseline())]
    for spec in specs:
        name, sep, path = spec.partition("=")
        name, path = name.strip(), path.strip()
        if not sep or not name or not path:
            raise UsageError(f"--model {spec!r}: expected NAME=PATH, e.g. gan=runs/gan/model.keras")
        if name == GRAY:
            raise UsageError(f"--model {spec}: the name '{GRAY}' is kept for the baseline")
        if any(m.name == name for m in models):
            raise UsageError(f"--model {spec}: the name '{name}' is used twice")
        if not os.path.exists(path):  # found before TensorFlow is loaded
            raise UsageError(f"--model {name}: {path} does not exist")
        models.append(Model(name, path))
    return models


def load_models(models):
    """Loads every --model and checks it is a colorizer (L (1, S, S, 1) -> ab (1, S, S, 2)).

    The check also warms the model up, so the timing measures colorizing only.
    """
    from keras_colorize.inference import ModelLoadError, colorize_images, load_backend

    for model in models:
        if model.backend is None:
            try:
                model.backend = load_backend(model.path)
            except ModelLoadError as error:
                raise UsageError(f"--model {model.name}: {error}") from None
        size = model.backend.working_size
        try:
            shape = tuple(np.shape(model.backend.predict_ab(np.zeros((1, size, size, 1), "f4"))))
        except Exception as error:  # any framework error means the same: not a colorizer
            raise UsageError(
                f"--model {model.name}: {model.path} does not run at its working size {size} "
                f"({type(error).__name__})"
            ) from None
        if shape != (1, size, size, 2):
            raise UsageError(
                f"--model {model.name}: size mismatch, {model.path} maps L (1, {size}, {size}, 1) "
                f"to {shape}, expected ab (1, {size}, {size}, 2)"
            )
        colorize_images([np.zeros((MIN_SIDE, MIN_SIDE + 1, 3), np.uint8)], model.backend)


# ---------------------------------------------------------------- photos


@dataclass(frozen=True)
class Entry:
    """One photo of the source: its name (relative to the source) and how to read it."""

    name: str
    path: str | None = None  # --images
    encoded: bytes | None = None  # --data


def _walk(folder, exclude):
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and os.path.realpath(os.path.join(root, d)) != exclude
        )
        for name in sorted(files):
            if not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS):
                path = os.path.join(root, name)
                yield Entry(os.path.relpath(path, folder).replace(os.sep, "/"), path=path)


def list_folder(folder, out):
    """The image files under folder (recursively, hidden ones and OUT excluded), sorted."""
    if not os.path.isdir(folder):
        raise UsageError(f"--images {folder} is not a folder")
    entries = list(_walk(folder, os.path.realpath(out)))
    if not entries:
        raise UsageError(f"no image files in {folder}")
    return entries


def list_dataset(data_dir, split):
    """The stored images of one split of a data_prep dataset, named by their source path."""
    import tensorflow as tf

    from keras_colorize.data import schema

    paths = schema.shard_paths(data_dir, split)
    if not paths:
        raise UsageError(f"no {split} shards (e.g. {schema.shard_name(split, 0, 1)}) in {data_dir}")
    entries, names = [], set()
    for parsed in tf.data.TFRecordDataset(paths).map(schema.parse_example):
        name = parsed["image/source"].numpy().decode("utf-8")
        if name in names:  # two --src folders can hold the same relative path
            name = f"{name}#{parsed['image/key'].numpy().decode()[:8]}"
        names.add(name)
        entries.append(Entry(name, encoded=parsed["image/encoded"].numpy()))
    if not entries:
        raise UsageError(f"the {split} split of {data_dir} holds no images")
    return entries


def load_photo(entry):
    """uint8 RGB (H, W, 3) of an entry; raises ImageReadError."""
    if entry.path is not None:
        return read_image(entry.path).rgb
    import tensorflow as tf

    from keras_colorize.data import schema

    try:
        return schema.decode_rgb({"image/encoded": tf.constant(entry.encoded)}).numpy()
    except (tf.errors.InvalidArgumentError, ValueError) as error:
        raise ImageReadError(f"stored image does not decode ({type(error).__name__})") from None


def read_categories(folder, entries):
    """{name: category} from folder/MANIFEST.csv (columns file, category), matched by name or
    base name; {} without a usable manifest."""
    path = os.path.join(folder, MANIFEST)
    if not os.path.isfile(path):
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not {"file", "category"} <= set(reader.fieldnames or ()):
            print(f"note: {path} has no file and category columns; ignored", file=sys.stderr)
            return {}
        by_file = {row["file"]: row["category"] for row in reader if row["category"]}
    categories = {}
    for entry in entries:
        category = by_file.get(entry.name, by_file.get(os.path.basename(entry.name)))
        if category:
            categories[entry.name] = category
    return categories


def resolve_rows(rows, entries):
    """--rows values -> entry names; UsageError for a photo not in the source."""
    names = [entry.name for entry in entries]
    resolved = []
    for row in rows:
        wanted = row.replace(os.sep, "/")
        matches = [n for n in names if n == wanted] or [
            n for n in names if n.endswith("/" + wanted) or os.path.basename(n) == wanted
        ]
        if not matches:
            raise UsageError(f"--rows {row}: no such photo among the evaluated images")
        if len(matches) > 1:
            raise UsageError(f"--rows {row} matches {len(matches)} photos; give its relative path")
        resolved.append(matches[0])
    return resolved


def check_runs(runs):
    """Run dirs (or losses.csv files) -> [(label, losses.csv path)]; UsageError if absent."""
    found = []
    for run in runs:
        path = run if os.path.isfile(run) else os.path.join(run, "losses.csv")
        if not os.path.isfile(path):
            raise UsageError(f"--runs {run}: no losses.csv")
        folder = os.path.dirname(os.path.abspath(path))
        found.append((os.path.basename(folder), path))
    return found


# ---------------------------------------------------------------- evaluation


@dataclass
class Photo:
    """One evaluated photo: metrics per model and small JPEGs for the figure and the kit."""

    name: str
    category: str | None
    size: tuple
    metrics: dict = field(default_factory=dict)  # model -> metrics.image_metrics dict
    thumbnails: dict = field(default_factory=dict)  # "original" / model -> JPEG bytes
    kit: dict = field(default_factory=dict)  # model -> JPEG bytes, with --human-kit


def encode_jpeg(rgb, max_side):
    """uint8 RGB (H, W, 3) -> JPEG bytes, shrunk (area-averaged) so its longest side <= max_side."""
    import cv2
    from PIL import Image

    height, width = rgb.shape[:2]
    scale = max_side / max(height, width)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def evaluate_photo(entry, rgb, category, models, kit):
    from keras_colorize.inference import colorize_images
    from keras_colorize.metrics import image_metrics

    photo = Photo(entry.name, category, tuple(rgb.shape[:2]))
    photo.thumbnails["original"] = encode_jpeg(rgb, THUMBNAIL)
    for model in models:
        start = time.perf_counter()
        prediction = colorize_images([rgb], model.backend)[0]
        model.seconds += time.perf_counter() - start
        model.count += 1
        if prediction.shape != rgb.shape:
            raise UsageError(
                f"--model {model.name} returned {prediction.shape} for {entry.name} {rgb.shape}"
            )
        photo.metrics[model.name] = image_metrics(prediction, rgb)
        photo.thumbnails[model.name] = encode_jpeg(prediction, THUMBNAIL)
        if kit:
            photo.kit[model.name] = encode_jpeg(prediction, KIT_SIDE)
    return photo


def evaluate_all(entries, categories, models, kit, quiet):
    """Evaluates every readable photo; returns ([Photo], [(name, reason)] of skipped ones)."""
    from tqdm import tqdm

    photos, skipped = [], []
    with tqdm(entries, unit="photo", desc=PROG, file=sys.stderr, disable=quiet) as progress:
        for entry in progress:
            try:
                rgb = load_photo(entry)
                if min(rgb.shape[:2]) < MIN_SIDE:
                    raise ImageReadError(f"smaller than {MIN_SIDE} px, SSIM's window")
            except ImageReadError as error:
                skipped.append((entry.name, str(error)))
                progress.write(f"skipped {entry.name}: {error}", file=sys.stderr)
                continue
            photos.append(evaluate_photo(entry, rgb, categories.get(entry.name), models, kit))
    return photos, skipped


def _finite(value):
    """JSON has no inf/nan: an exact prediction's infinite PSNR is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def build_report(photos, skipped, models, source):
    """The metrics.json document."""
    from keras_colorize.metrics import summarize

    categories = sorted({p.category for p in photos if p.category})
    report = {"source": source, "skipped": [{"image": n, "reason": r} for n, r in skipped]}
    report["models"] = {}
    for model in models:
        rows = [p.metrics[model.name] for p in photos]
        entry = {
            "path": model.path,
            "images_per_second": model.images_per_second,
            "colorize_seconds": model.seconds,
            "summary": summarize(rows),
        }
        if categories:
            entry["categories"] = {
                c: summarize([p.metrics[model.name] for p in photos if p.category == c])
                for c in categories
            }
            if any(p.category is None for p in photos):
                entry["categories"][NO_CATEGORY] = summarize(
                    [p.metrics[model.name] for p in photos if p.category is None]
                )
        entry["images"] = [
            {"image": p.name, "category": p.category, "height": p.size[0], "width": p.size[1]}
            | p.metrics[model.name]
            for p in photos
        ]
        report["models"][model.name] = entry
    return _finite(report)


def _cell(value, fmt):
    return "–" if value is None or not math.isfinite(value) else fmt.format(value)


def _md_name(name):
    return name.replace("|", "\\|")


def metrics_markdown(report):
    """metrics.md: one row per model, then AuC / PSNR per category if there are categories."""
    models = report["models"]
    first = next(iter(models.values()))["summary"]
    source = report["source"]
    lines = [
        "# Colorization metrics",
        "",
        f"{first['images']} photos from {source['kind']} {source['path']}"
        + (f" ({source['split']} split, stored resolution)" if source.get("split") else "")
        + f"; {len(report['skipped'])} skipped. Ground truth: CF "
        f"{first['colorfulness_true']:.1f}, chroma {first['chroma_true']:.1f}.",
        "",
        "| model | " + " | ".join(header for _, header, _ in COLUMNS) + " |",
        "|---|" + "---:|" * len(COLUMNS),
    ]
    for name, entry in models.items():
        values = entry["summary"] | {"images_per_second": entry["images_per_second"]}
        cells = [_cell(values[key], fmt) for key, _, fmt in COLUMNS]
        lines.append(f"| {_md_name(name)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "PSNR (dB, exact photos counted as 100) and SSIM on RGB; AuC: area under the fraction "
        "of pixels within an ab error threshold, swept 0-150 (Zhang et al.) or 1-100 (the "
        "paper); CF: mean colourfulness (Hasler-Süsstrunk) of the predictions, CF ratio and "
        "ΔCF against the ground truth's; chroma: mean sqrt(a² + b²); |ΔL|: mean lightness "
        "change (should be about 0); images/s: colorizing only, one photo at a time.",
    ]
    categories = next(iter(models.values())).get("categories")
    if categories:
        lines += [
            "",
            "## Per category (AuC 0-150 / PSNR dB)",
            "",
            "| category | photos | " + " | ".join(map(_md_name, models)) + " |",
            "|---|---:|" + "---|" * len(models),
        ]
        for category, summary in categories.items():
            cells = [
                f"{_cell(e['categories'][category]['auc_0_150'], '{:.3f}')} / "
                f"{_cell(e['categories'][category]['psnr'], '{:.2f}')}"
                for e in models.values()
            ]
            lines.append(
                f"| {_md_name(category)} | {summary['images']} | " + " | ".join(cells) + " |"
            )
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- figures


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    return plt


def _decode(jpeg):
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))


def _short(name, limit=24):
    name = os.path.basename(name)
    return name if len(name) <= limit else name[: limit // 2 - 1] + "…" + name[-(limit // 2) :]


def choose_rows(photos, ranker, metric):
    """[(label, Photo)]: the best, typical (median) and worst photos by metric of ranker."""
    sign = 1 if metric in LOWER_IS_BETTER else -1
    ranked = sorted(photos, key=lambda p: sign * p.metrics[ranker][metric])  # best first
    count = len(ranked)
    per_case = 2 if count >= 6 else 1
    middle = (count - 1) // 2 - (per_case - 1) // 2  # the median photo comes first
    cases = [("best", range(per_case)), ("typical", range(middle, middle + per_case))]
    cases.append(("worst", range(count - per_case, count)))
    rows, used = [], set()
    for label, indices in cases:
        for index in indices:
            if index not in used:
                used.add(index)
                rows.append((label, ranked[index]))
    return rows


def results_figure(path, rows, models, metric):
    """results.png: original | gray input | each model, one row per chosen photo."""
    plt = _pyplot()
    shown = [m for m in models if m.name != GRAY]
    columns = ["original", GRAY] + [m.name for m in shown]
    label = METRIC_LABELS[metric]
    cell = THUMBNAIL / 100  # inches at 100 dpi: thumbnails drawn about 1:1
    # Each row as tall as its photo's thumbnail, so landscape rows leave no gaps.
    heights = [cell * min(1.5, photo.size[0] / photo.size[1]) for _, photo in rows]
    figure, axes = plt.subplots(
        len(rows),
        len(columns),
        figsize=(cell * len(columns) + 0.4, sum(heights) + 0.5 * len(rows) + 0.5),
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
        dpi=100,
    )
    for r, (case, photo) in enumerate(rows):
        for c, column in enumerate(columns):
            axis = axes[r][c]
            axis.imshow(_decode(photo.thumbnails[column]))
            axis.set_xticks([])
            axis.set_yticks([])
            if column == "original":
                axis.set_ylabel(case, fontsize=9)
                title = _short(photo.name) + (f"\n{photo.category}" if photo.category else "")
            else:
                name = "gray input" if column == GRAY else column
                title = f"{name}\n{label} {photo.metrics[column][metric]:.3f}"
            axis.set_title(title, fontsize=7)
    figure.suptitle(f"Colorizations, photos chosen by {label}", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def read_losses(path):
    """losses.csv (Keras CSVLogger) -> {column: (epochs, values)} of its numeric loss columns.

    epoch and chroma columns are left out; a resumed run's repeated epoch keeps its last row.
    """
    with open(path, newline="", encoding="utf-8") as handle:
        rows = {}
        for row in csv.DictReader(handle):
            try:
                rows[int(row["epoch"])] = row
            except (KeyError, TypeError, ValueError):
                continue
    curves = {}
    for epoch in sorted(rows):
        for column, text in rows[epoch].items():
            if column is None or column == "epoch" or "chroma" in column:
                continue
            try:
                value = float(text)
            except (TypeError, ValueError):
                continue
            epochs, values = curves.setdefault(column, ([], []))
            epochs.append(epoch + 1)  # CSVLogger counts from 0
            values.append(value)
    return curves


def losses_figure(path, runs):
    """losses.png: one panel per loss, one colour per run, validation dashed. False if empty."""
    plt = _pyplot()
    curves = {}
    for label, csv_path in runs:
        losses = read_losses(csv_path)
        if not losses:
            print(f"note: {csv_path} has no epochs yet; left out of losses.png", file=sys.stderr)
        curves[label] = losses
    panels = []
    for losses in curves.values():
        for column in losses:
            base = column.removeprefix("val_")
            if base not in panels:
                panels.append(base)
    if not panels:
        return False
    width = min(len(panels), 3)
    height = math.ceil(len(panels) / width)
    figure, axes = plt.subplots(height, width, figsize=(4 * width, 3 * height), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, base in enumerate(panels):
        axis = axes[index // width][index % width]
        drawn = []
        for number, (label, losses) in enumerate(curves.items()):
            colour = colours[number % len(colours)]
            for column, style, suffix in ((base, "-", ""), ("val_" + base, "--", " (val)")):
                if column in losses:
                    epochs, values = losses[column]
                    axis.plot(epochs, values, style, color=colour, label=label + suffix)
                    drawn.extend(values)
        axis.set_title(base)
        axis.set_xlabel("epoch")
        low, high = np.nanmin(drawn), np.nanmax(drawn)
        if low > 0 and high / low > 100:  # runs on very different scales share a panel
            axis.set_yscale("log")
            axis.set_title(f"{base} (log scale)")
        axis.legend(fontsize=7)
    for index in range(len(panels), width * height):
        axes[index // width][index % width].axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True


# ---------------------------------------------------------------- human kit

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


# ---------------------------------------------------------------- human results


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
    """A saved ratings file -> (rater, kit, [(model, rating)]); UsageError if malformed."""
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except OSError as error:
        raise UsageError(f"{path}: cannot read ({error.strerror})") from None
    except ValueError:
        raise UsageError(f"{path}: not JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != RATINGS_FORMAT:
        raise UsageError(f"{path}: not a ratings file saved from the human kit")
    low, high = RATING_SCALE
    pairs = []
    for item in doc.get("ratings", []):
        rating = item.get("rating") if isinstance(item, dict) else None
        if rating is None:
            continue  # left unrated
        if not isinstance(rating, int) or not low <= rating <= high or "model" not in item:
            raise UsageError(f"{path}: bad rating entry {json.dumps(item)[:80]}")
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
        raise UsageError("the rating files hold no ratings")
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
            f"| {_md_name(model)} | {s['n']} | {mean:.2f} | {sd_cell} | {ci_cell} | {interval} |"
        )
    return "\n".join(lines) + "\n"


def human_results(args):
    result = aggregate_ratings(args.human_results)
    table = ratings_markdown(result)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "human_results.md"), "w", encoding="utf-8") as handle:
            handle.write(table)
        with open(os.path.join(args.out, "human_results.json"), "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=1)
    print(table, end="")
    return 0


# ---------------------------------------------------------------- main


def _prepare(args):
    """Everything that can fail as a usage error, before the long work."""
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out} is a file, not a folder")
    models = parse_models(args.model)
    if args.images:
        entries = list_folder(args.images, args.out)
        source = {"kind": "folder", "path": args.images}
        categories = read_categories(args.images, entries)
    else:
        entries = list_dataset(args.data, args.split)
        source = {"kind": "dataset", "path": args.data, "split": args.split}
        categories = read_categories(args.data, entries)
    entries = entries[: args.max_images]
    rows = resolve_rows(args.rows, entries) if args.rows else None
    runs = check_runs(args.runs)
    return models, entries, source, categories, rows, runs


def evaluate(args):
    # TensorFlow's C++ start-up INFO lines mean nothing to someone comparing colorizers.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    models, entries, source, categories, rows, runs = _prepare(args)
    load_models(models)
    photos, skipped = evaluate_all(entries, categories, models, args.human_kit, args.quiet)
    if not photos:
        raise UsageError("none of the photos could be read")
    os.makedirs(args.out, exist_ok=True)
    written = []

    def out(name):
        written.append(name)
        return os.path.join(args.out, name)

    report = build_report(photos, skipped, models, source)
    report["rank_by"] = args.rank_by
    with open(out("metrics.json"), "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1, allow_nan=False)
    table = metrics_markdown(report)
    with open(out("metrics.md"), "w", encoding="utf-8") as handle:
        handle.write(table)
    if rows:
        by_name = {p.name: p for p in photos}
        missing = [name for name in rows if name not in by_name]
        if missing:
            raise UsageError(f"--rows {missing[0]} could not be read (see above)")
        chosen = [("", by_name[name]) for name in rows]
    else:
        ranker = next((m.name for m in models if m.name != GRAY), GRAY)
        chosen = choose_rows(photos, ranker, args.rank_by)
    results_figure(out("results.png"), chosen, models, args.rank_by)
    if runs and losses_figure(os.path.join(args.out, "losses.png"), runs):
        written.append("losses.png")
    if args.human_kit:
        write_human_kit(os.path.join(args.out, KIT_DIR), photos, models, args.seed)
        written.append(f"{KIT_DIR}/index.html")
    print(table, end="")
    print(f"wrote {', '.join(written)} to {args.out}", file=sys.stderr)
    return 0


def main(argv=None):
    """Evaluates (or aggregates human ratings); returns 0, or 2 for a usage error."""
    try:
        args = parse_args(argv)
        return human_results(args) if args.human_results else evaluate(args)
    except SystemExit as stop:  # --help
        return stop.code
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
