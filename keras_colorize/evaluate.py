"""`python -m keras_colorize.evaluate`: compare colorizers on photos; metrics, figures, human kit.

    python -m keras_colorize.evaluate --images test_photos --out eval \\
        --model gan=runs/gan/colorizer.keras --model l2=models/colorizer/1 --runs runs/gan

Every photo is the ground truth; each model sees only its lightness and
predicts colour at full resolution (inference.pipeline.colorize_images). The trivial
"gray" baseline (a = b = 0: the photo's own lightness, no colour) is always
evaluated beside the models, because it already scores high on AuC.

OUT receives metrics.json (per model: summary, per category, per photo),
metrics.md (printed at the end), results.png (best, typical and worst photos),
losses.png with --runs, and with --human-kit a self-contained rating page
human_kit/index.html. `--human-results FILE ...` aggregates the raters' saved
files into mean +- 95% CI per model.

This module is the command; the work is in keras_colorize.evaluation: sources
(photos, categories, --rows, --runs), compare (the models and scoring them),
report (metrics.json/.md, figures, human kit), human_kit (the rating page and
the ratings' aggregation). TensorFlow is imported only once photos are
evaluated, so --human-results runs without it.
"""

import argparse
import os
import sys

from keras_colorize.cli import UsageError, command, require_tensorflow
from keras_colorize.evaluation.compare import evaluate_all, load_models, parse_models
from keras_colorize.evaluation.human_kit import RatingsError, aggregate_ratings
from keras_colorize.evaluation.report import RANK_METRICS, write_human_results, write_report
from keras_colorize.evaluation.sources import (
    check_runs,
    list_dataset,
    list_folder,
    read_categories,
    resolve_rows,
)
from keras_colorize.guidance.hints import MAX_SIMULATED_HINTS

PROG = "evaluate"


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
    source.add_argument(
        "--video",
        nargs="+",
        metavar="CLIP",
        help="colour video clips: score frame-by-frame and temporally consistent colour "
        "(warping error, colour change, colourfulness, PSNR, AuC, fps) with one --model",
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
    parser.add_argument("--max-frames", type=int, metavar="N", help="--video: the first N frames")
    parser.add_argument(
        "--human-results",
        nargs="+",
        metavar="FILE",
        help="aggregate raters' saved ratings files instead of evaluating",
    )
    parser.add_argument(
        "--hint-counts",
        nargs="+",
        type=int,
        metavar="N",
        help="also score the guided models with N random ground-truth colour hints for each N "
        "(e.g. 0 1 2 5 10 20 50), in both hint modes, against Levin et al.'s propagation of the "
        "same hints, and how far one point's colour reaches (locality.md)",
    )
    parser.add_argument(
        "--reference-photos",
        nargs="+",
        metavar="PHOTO",
        help="also colorize with each of these colour photos as the guided models' reference "
        "and report how the mean colour moves",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.human_results:
        if args.images or args.data or args.model or args.runs or args.human_kit:
            raise UsageError("--human-results takes only rating files and --out")
        return args
    if args.video:
        return args
    if not (args.images or args.data):
        raise UsageError("give --images DIR or --data DATASET (or --human-results FILE ...)")
    if not args.out:
        raise UsageError("--out DIR is required")
    if args.max_images is not None and args.max_images < 1:
        raise UsageError("--max-images must be at least 1")
    if args.hint_counts and min(args.hint_counts) < 0:
        raise UsageError("--hint-counts must not be negative")
    if args.hint_counts and max(args.hint_counts) > MAX_SIMULATED_HINTS:
        raise UsageError(f"--hint-counts: at most {MAX_SIMULATED_HINTS} hints")
    return args


def human_results(args):
    """Aggregates the raters' files; prints (and with --out writes) the table."""
    try:
        result = aggregate_ratings(args.human_results)
    except RatingsError as error:
        raise UsageError(str(error)) from None
    print(write_human_results(result, args.out), end="")
    return 0


def evaluate(args):
    """Checks every input, then evaluates the photos and writes the report."""
    # TensorFlow's C++ start-up INFO lines mean nothing to someone comparing colorizers.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
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
    load_models(models)
    photos, skipped = evaluate_all(entries, categories, models, args.human_kit, args.quiet, PROG)
    if not photos:
        raise UsageError("none of the photos could be read")
    seed = args.seed if args.human_kit else None
    table, written = write_report(
        args.out, photos, skipped, models, source, args.rank_by, rows, runs, seed
    )
    print(table, end="")
    print(f"wrote {', '.join(written)} to {args.out}", file=sys.stderr)
    if args.hint_counts or args.reference_photos:
        from keras_colorize.evaluation.guidance_report import guidance_report

        text = guidance_report(
            args.out,
            entries,
            models,
            photos,
            hint_counts=args.hint_counts,
            reference_photos=args.reference_photos,
            quiet=args.quiet,
        )
        print(text, end="")
    return 0


@command(PROG)
def main(argv=None):
    """Evaluates (or aggregates human ratings); returns 0, or 2 for a usage error."""
    args = parse_args(argv)
    if args.human_results:
        return human_results(args)
    require_tensorflow(PROG)
    if args.video:
        from keras_colorize.evaluation.video import evaluate_videos

        return evaluate_videos(args)
    return evaluate(args)


if __name__ == "__main__":
    sys.exit(main())
