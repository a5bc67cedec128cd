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

This module is the command: arguments, photo sources, models, metrics and the
report. The figures are drawn by keras_colorize.evaluation.figures, the rating page and
the ratings' aggregation live in keras_colorize.evaluation.human_kit. TensorFlow is
imported only once photos are evaluated, so --human-results runs without it.
"""

import argparse
import csv
import io
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from keras_colorize.evaluation.figures import (
    GRAY,
    THUMBNAIL,
    choose_rows,
    losses_figure,
    results_figure,
)
from keras_colorize.evaluation.human_kit import (
    RatingsError,
    aggregate_ratings,
    md_name,
    ratings_markdown,
    write_human_kit,
)
from keras_colorize.io.images import IMAGE_EXTENSIONS, ImageReadError, read_image

PROG = "evaluate"
USAGE_ERROR = 2
MANIFEST = "MANIFEST.csv"
NO_CATEGORY = "(none)"
MIN_SIDE = 11  # SSIM's 11 x 11 window
KIT_SIDE = 512  # longest side of a photo in the human kit, px
JPEG_QUALITY = 90
KIT_DIR = "human_kit"

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
    from keras_colorize.inference.backends import ModelLoadError, colorize_images, load_backend

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
    from keras_colorize.evaluation.metrics import image_metrics
    from keras_colorize.inference.backends import colorize_images

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
    from keras_colorize.evaluation.metrics import summarize

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
        lines.append(f"| {md_name(name)} | " + " | ".join(cells) + " |")
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
            "| category | photos | " + " | ".join(map(md_name, models)) + " |",
            "|---|---:|" + "---|" * len(models),
        ]
        for category, summary in categories.items():
            cells = [
                f"{_cell(e['categories'][category]['auc_0_150'], '{:.3f}')} / "
                f"{_cell(e['categories'][category]['psnr'], '{:.2f}')}"
                for e in models.values()
            ]
            lines.append(
                f"| {md_name(category)} | {summary['images']} | " + " | ".join(cells) + " |"
            )
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- human results


def human_results(args):
    try:
        result = aggregate_ratings(args.human_results)
    except RatingsError as error:
        raise UsageError(str(error)) from None
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
