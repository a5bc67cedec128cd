"""`python -m keras_colorize.colorize`: colorize photos, folders of photos and glob patterns.

    python -m keras_colorize.colorize scans/ grandma.jpg "box2/*.tif" --out colorized

    python -m keras_colorize.colorize dress.jpg --hints hints.json --reference sunset.jpg

The command: its flags, messages and exit codes. The work is the inference
layer's: inference.jobs decides every output (inputs are never overwritten,
existing outputs only with --overwrite), inference.user_guidance reads the
guidance files, inference.batch reads, colorizes and saves a batch at a time
through inference.pipeline (colour at the model's working size, recombined
with each photo's own full-resolution lightness).

Guidance, for a guided model (``fit --guided``; the shipped one is): colour
points from a JSON file or the opaque pixels of a same-size RGBA stroke image,
for one photo, and a reference photo whose colour distribution steers every
photo. Without guidance a guided model colorizes on its own.

Videos (``film.mp4``) are handed over to keras_colorize.colorize_video.
"""

import argparse
import os
import sys
import time

from keras_colorize import colorize_video
from keras_colorize.cli import INTERRUPTED, SOME_FAILED, UsageError, command
from keras_colorize.inference.backends import MIN_WORKING_SIZE, open_backend
from keras_colorize.inference.batch import BatchColorizer, Tally
from keras_colorize.inference.jobs import OUTPUT_EXTENSIONS, expand_inputs, plan_jobs
from keras_colorize.inference.pipeline import HINT_MODES
from keras_colorize.inference.shipped import SHIPPED_MODEL, find_model
from keras_colorize.inference.user_guidance import load_guidance
from keras_colorize.io.images import IMAGE_EXTENSIONS

PROG = "colorize"
DEFAULT_OUT = "colorized"


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Colorize grayscale photos at their full resolution. INPUT may be image files, "
            "folders (searched recursively for "
            + ", ".join(IMAGE_EXTENSIONS)
            + "; hidden files skipped) or glob patterns such as 'scans/*.tif'."
        ),
        epilog=(
            "Exit codes: 0 all photos colorized, 1 some input was unreadable or skipped, "
            "2 usage error."
        ),
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders or patterns")
    parser.add_argument(
        "--out",
        default=DEFAULT_OUT,
        metavar="DIR",
        help="output folder (default: ./colorized); a folder's photos keep their sub-folders",
    )
    parser.add_argument(
        "--model",
        metavar="PATH",
        help=f"a SavedModel folder, .keras or .tflite file (default: the shipped {SHIPPED_MODEL})",
    )
    parser.add_argument(
        "--format",
        choices=["png", "jpeg", "jpg"],
        default="png",
        help="output format (default png; jpeg at quality 95 drops transparency)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace existing outputs (never an input)"
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also write NAME_compare.EXT: the gray input and the colorized photo side by side",
    )
    parser.add_argument(
        "--batch-size", type=int, default=4, help="photos per model call (default 4)"
    )
    parser.add_argument(
        "--working-size",
        type=int,
        metavar="S",
        help="side of the square the model sees (default: the model's own)",
    )
    guidance = parser.add_argument_group(
        "guidance", "colour hints for a guided model (fit --guided), such as the shipped one"
    )
    guidance.add_argument(
        "--hints",
        metavar="JSON",
        help='colour points for ONE photo: [{"x": 120, "y": 80, "color": "#3060c0", '
        '"radius": 5}, ...] in the photo\'s pixels; color "#rrggbb" or [L, a, b]',
    )
    guidance.add_argument(
        "--hint-image",
        metavar="PNG",
        help="an RGBA image of the photo's size whose opaque pixels are colour hints (ONE photo)",
    )
    guidance.add_argument(
        "--hint-mode",
        choices=HINT_MODES,
        default=HINT_MODES[0],
        help="local (default): each point colours the region it lies in, the network the rest; "
        "network: the network's own colours for the hints, which may recolour the whole photo",
    )
    guidance.add_argument(
        "--reference",
        metavar="PHOTO",
        help="a colour photo whose colours the result should take on (every photo)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    if args.working_size is not None and args.working_size < MIN_WORKING_SIZE:
        parser.error(f"--working-size must be at least {MIN_WORKING_SIZE}")
    args.format = "jpeg" if args.format == "jpg" else args.format
    return args


def _plural(count, one, many):
    return f"{count} {one if count == 1 else many}"


def _notes(tally):
    notes = []
    if tally.in_colour:
        were, their = ("input was", "its") if tally.in_colour == 1 else ("inputs were", "their")
        notes.append(
            f"note: {tally.in_colour} {were} already in colour; only {their} lightness was used"
        )
    if tally.alpha_dropped:
        notes.append(
            f"note: JPEG has no transparency; the alpha channel of "
            f"{_plural(tally.alpha_dropped, 'input', 'inputs')} was dropped "
            "(--format png keeps it)"
        )
    if tally.existing:
        notes.append(
            f"note: {_plural(tally.existing, 'output', 'outputs')} already existed and "
            "were left alone; pass --overwrite to replace them"
        )
    return notes


def _summary(tally, out_dir):
    return (
        f"colorized {_plural(tally.done, 'photo', 'photos')} into {out_dir} "
        f"in {tally.seconds:.2f} s ({tally.skipped} skipped)"
    )


def _prepare(args):
    """Everything that can fail as a usage error before a model is loaded."""
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out} is a file, not a folder")
    found, unmatched = expand_inputs(args.inputs, args.out)
    if not found:
        listed = ", ".join(unmatched)
        raise UsageError(f"no image files found in {listed}")
    for flag, path in (("--hints", args.hints), ("--reference", args.reference)):
        if path and not os.path.exists(path):
            raise UsageError(f"{flag} {path} does not exist")
    model = find_model(args.model)
    extension = OUTPUT_EXTENSIONS[args.format]
    jobs, refused = plan_jobs(found, args.out, extension, args.compare, args.overwrite)
    return jobs, refused, unmatched, model


@command(PROG)
def main(argv=None):
    """Colorizes the inputs; returns 0 if all were written, 1 if any was skipped, 2 on misuse."""
    arguments = sys.argv[1:] if argv is None else argv
    if colorize_video.wants_video(arguments):  # a video is colorized by its own half
        return colorize_video.main(arguments)
    args = parse_args(argv)
    tally = Tally()
    jobs, refused, unmatched, model = _prepare(args)
    backend = None
    if jobs:
        # TensorFlow's C++ start-up INFO lines (a .keras model or SavedModel) mean
        # nothing to someone colorizing photos.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
        backend = open_backend(model, args.working_size)
        guidance = load_guidance(
            backend,
            args.model or SHIPPED_MODEL,
            [job.source for job in jobs],
            hints=args.hints,
            hint_image=args.hint_image,
            reference=args.reference,
            hint_mode=args.hint_mode,
        )
    for item in unmatched:
        tally.skipped += 1
        print(f"skipped {item}: no such file, folder or matching image", file=sys.stderr)
    for source, reason, existing in refused:
        tally.skipped += 1
        tally.existing += existing
        print(f"skipped {source}: {reason}", file=sys.stderr)
    if backend is not None:
        from tqdm import tqdm

        with tqdm(
            total=len(jobs), unit="photo", desc=PROG, file=sys.stderr, disable=args.quiet
        ) as progress:
            started = time.perf_counter()
            try:
                colorize_jobs = BatchColorizer(
                    backend, args.format, args.batch_size, tally, progress, guidance
                )
                colorize_jobs(jobs)
                tally.seconds = time.perf_counter() - started
            except KeyboardInterrupt:
                tally.seconds = time.perf_counter() - started
                progress.close()
                print(f"interrupted; {_summary(tally, args.out)}", file=sys.stderr)
                return INTERRUPTED
    for note in _notes(tally):
        print(note, file=sys.stderr)
    print(_summary(tally, args.out))
    return SOME_FAILED if tally.skipped else 0


if __name__ == "__main__":
    sys.exit(main())
