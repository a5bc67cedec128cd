"""`python -m keras_colorize.colorize`: colorize photos, folders of photos and glob patterns.

    python -m keras_colorize.colorize scans/ grandma.jpg "box2/*.tif" --out colorized

    python -m keras_colorize.colorize dress.jpg --hints hints.json --reference sunset.jpg

Each photo keeps its full resolution, aspect ratio, EXIF orientation and exact
lightness: the model predicts colour at its working size and
inference.pipeline recombines it with the photo's own L. Inputs are never
overwritten, existing outputs only with --overwrite, and a file that does not
read as an image is reported and skipped. Photos are read, colorized and written
a batch at a time, so a box of 40-megapixel scans needs about one scan's memory.

Guidance, for a guided model (``fit --guided``; the shipped one is): colour
points from a JSON file or the opaque pixels of a same-size RGBA stroke image,
for one photo, and a reference photo whose colour distribution steers every
photo. Without guidance a guided model colorizes on its own.

Videos (``film.mp4``) are handed over to keras_colorize.video.command.
"""

import argparse
import glob
import os
import sys
import time
from dataclasses import dataclass

import numpy as np

from keras_colorize.cli import INTERRUPTED, SOME_FAILED, UsageError, report
from keras_colorize.inference.backends import MIN_WORKING_SIZE
from keras_colorize.inference.shipped import SHIPPED_MODEL, find_model
from keras_colorize.io.folders import image_files, is_image_name
from keras_colorize.io.images import IMAGE_EXTENSIONS, ImageReadError, read_image
from keras_colorize.io.png import write_png

PROG = "colorize"
DEFAULT_OUT = "colorized"
EXTENSIONS = {"png": ".png", "jpeg": ".jpg"}
JPEG_QUALITY = 95
COMPARE_SUFFIX = "_compare"
# A batch closes at --batch-size photos or once it holds this many pixels, so
# big scans are colorized one or two at a time (about 10 bytes per pixel live).
BATCH_PIXEL_BUDGET = 32_000_000
GLOB_CHARACTERS = "*?["


@dataclass(frozen=True)
class Job:
    """One photo to colorize: its file and the files it becomes."""

    source: str
    output: str
    compare: str | None  # the side-by-side image, with --compare


@dataclass
class Tally:
    """What happened, for the notes and the summary at the end."""

    done: int = 0
    skipped: int = 0
    existing: int = 0  # of skipped: the output was already there
    in_colour: int = 0
    alpha_dropped: int = 0
    seconds: float = 0.0  # reading, colorizing and writing, the model already loaded


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


def expand_inputs(inputs, out_dir):
    """INPUT arguments -> ([(file, output name relative to OUT)], [arguments matching nothing]).

    A file named explicitly is always tried; folders and patterns contribute the
    files with image extensions. The same file reached twice is kept once.
    """
    exclude = os.path.realpath(out_dir)
    found, unmatched, seen = [], [], set()
    for item in inputs:
        path = os.path.expanduser(item)
        if os.path.isdir(path):
            matches = list(image_files(path, exclude))
        elif os.path.exists(path):
            matches = [(path, os.path.basename(path))]
        elif any(c in item for c in GLOB_CHARACTERS):
            matches = []
            for match in sorted(glob.glob(path, recursive=True)):
                if os.path.isdir(match):
                    matches.extend(image_files(match, exclude))
                elif is_image_name(match):
                    matches.append((match, os.path.basename(match)))
        else:
            matches = []
        if not matches:
            unmatched.append(item)
        for source, relative in matches:
            key = os.path.realpath(source)
            if key not in seen:
                seen.add(key)
                found.append((source, relative))
    return found, unmatched


def plan_jobs(found, out_dir, extension, compare, overwrite):
    """Decides each photo's output files; returns (jobs, [(source, reason, output_existed)]).

    Refused whatever the flags: an output that is an input file, or that another
    input already writes. Refused without --overwrite: an output that exists.
    """
    inputs = {os.path.realpath(source) for source, _ in found}
    claimed = {}  # real output path -> the input writing it
    jobs, refused = [], []
    for source, relative in found:
        stem = os.path.join(out_dir, os.path.splitext(relative)[0])
        output = stem + extension
        side = stem + COMPARE_SUFFIX + extension if compare else None
        targets = [t for t in (output, side) if t]
        reals = [os.path.realpath(t) for t in targets]
        clash = next((t for t, r in zip(targets, reals, strict=True) if r in inputs), None)
        if clash:
            reason = f"output {clash} would replace an input; choose another --out"
            refused.append((source, reason, False))
            continue
        taken = next((t for t, r in zip(targets, reals, strict=True) if r in claimed), None)
        if taken:
            other = claimed[os.path.realpath(taken)]
            refused.append((source, f"output {taken} is already written for {other}", False))
            continue
        present = next((t for t in targets if os.path.lexists(t)), None)
        if present and not overwrite:
            refused.append((source, f"{present} exists", True))
            continue
        claimed.update(dict.fromkeys(reals, source))
        jobs.append(Job(source, output, side))
    return jobs, refused


def wants_guidance(args):
    return bool(args.hints or args.hint_image or args.reference)


@dataclass(frozen=True)
class Guidance:
    """What steers the colours: a hint map at the working size (one photo) and a reference."""

    hints: np.ndarray | None = None  # float32 (S, S, 3)
    reference: np.ndarray | None = None  # float32 (REFERENCE_BINS,)


def load_guidance(args, jobs, backend):
    """Reads --hints, --hint-image and --reference for the backend; UsageError if any is bad."""
    if not wants_guidance(args):
        return Guidance()
    from keras_colorize.guidance import hints as H

    if not backend.guided:
        raise UsageError(
            f"{args.model or SHIPPED_MODEL} takes no hints: use a guided model "
            "(the shipped one, or train one with fit --guided)"
        )
    hint_map = reference = None
    if args.hints or args.hint_image:
        if len(jobs) != 1:
            raise UsageError(
                f"--hints and --hint-image describe one photo, but {len(jobs)} are to be colorized"
            )
        try:
            shape = read_image(jobs[0].source).rgb.shape
        except ImageReadError as error:
            raise UsageError(f"{jobs[0].source}: {error}") from None
        size = backend.working_size
        hint_map = H.empty_hint_map(size)
        if args.hint_image:
            strokes = _read_rgba(args.hint_image)
            hint_map = H.stroke_hint_map(strokes, shape, size)
        if args.hints:
            points = H.read_hints(args.hints, shape)
            hint_map = H.merge_hint_maps(hint_map, H.hint_map(points, shape, size))
    if args.reference:
        try:
            reference = H.reference_from_photo(read_image(args.reference).rgb)
        except (ImageReadError, H.HintError) as error:
            raise UsageError(f"--reference {args.reference}: {error}") from None
    return Guidance(hint_map, reference)


def _read_rgba(path):
    """A stroke image as uint8 RGBA (H, W, 4); UsageError if it is missing, unreadable or opaque."""
    if not os.path.exists(path):
        raise UsageError(f"--hint-image {path} does not exist")
    try:
        image = read_image(path)
    except ImageReadError as error:
        raise UsageError(f"--hint-image {path}: {error}") from None
    if image.alpha is None:
        raise UsageError(
            f"--hint-image {path} has no transparency: paint strokes on a transparent PNG"
        )
    return np.dstack([image.rgb, image.alpha])


def open_backend(path, working_size):
    """Loads the model, checks it is a colorizer and builds the colour tables; UsageError if not."""
    from keras_colorize.color import fullres
    from keras_colorize.inference.backends import ModelLoadError, open_colorizer

    try:
        backend, note = open_colorizer(path, working_size)
    except ModelLoadError as error:
        raise UsageError(str(error)) from None
    if note:
        print(note, file=sys.stderr)
    fullres.prepare()  # start-up work: the colour tables, once per process
    return backend


def _gray_panel(image):
    """The photo as the model saw it: uint8 RGB (H, W, 3) with its lightness and no colour."""
    if image.was_gray:
        return image.rgb
    from keras_colorize.color.fullres import lightness, recombine

    return recombine(lightness(image.rgb), np.zeros((1, 1, 2), np.float32))


def save_image(rgb, alpha, path, fmt):
    """Writes uint8 RGB (H, W, 3) [+ alpha (H, W)] to path, atomically.

    The image goes to a hidden file beside path first and is renamed onto it, so
    an interrupted run never leaves a half-written photo that a re-run would skip.
    """
    pixels = np.dstack([rgb, alpha]) if alpha is not None and fmt == "png" else rgb
    folder, name = os.path.split(path)
    os.makedirs(folder or ".", exist_ok=True)
    temporary = os.path.join(folder, f".{name}.{os.getpid()}.part")
    try:
        with open(temporary, "xb") as handle:
            if fmt == "png":
                # Deflated on all cores: Pillow's one-core PNG took ~0.55 s of a 12 MP photo.
                write_png(handle, pixels)
            else:
                from PIL import Image

                Image.fromarray(pixels).save(handle, format="JPEG", quality=JPEG_QUALITY)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


class Run:
    """Reads, colorizes and writes the jobs a batch at a time, reporting as it goes."""

    def __init__(self, backend, fmt, batch_size, tally, progress, guidance=Guidance()):
        self.backend = backend
        self.guidance = guidance
        self.fmt = fmt
        self.batch_size = batch_size
        self.tally = tally
        self.progress = progress

    def skip(self, source, reason):
        self.tally.skipped += 1
        self.progress.write(f"skipped {source}: {reason}", file=sys.stderr)
        self.progress.update()

    def __call__(self, jobs):
        batch, pixels = [], 0
        for job in jobs:
            try:
                image = read_image(job.source)
            except ImageReadError as error:
                self.skip(job.source, error)
                continue
            batch.append((job, image))
            pixels += image.rgb.shape[0] * image.rgb.shape[1]
            if len(batch) >= self.batch_size or pixels >= BATCH_PIXEL_BUDGET:
                self.finish(batch)
                batch, pixels = [], 0
        if batch:
            self.finish(batch)

    def finish(self, batch):
        from keras_colorize.inference.pipeline import colorize_images

        count = len(batch)
        outputs = colorize_images(
            [image.rgb for _, image in batch],
            self.backend,
            hints=[self.guidance.hints] * count,
            references=[self.guidance.reference] * count,
        )
        for job, image in batch:
            rgb = outputs.pop(0)  # released as soon as it is written
            try:
                self.write(job, image, rgb)
            except OSError as error:
                self.skip(job.source, f"cannot write ({error.strerror or error})")
                continue
            self.tally.done += 1
            self.tally.in_colour += not image.was_gray
            self.tally.alpha_dropped += image.alpha is not None and self.fmt == "jpeg"
            self.progress.update()

    def write(self, job, image, rgb):
        save_image(rgb, image.alpha, job.output, self.fmt)
        if job.compare:
            side = np.concatenate([_gray_panel(image), rgb], axis=1)  # (H, 2W, 3)
            alpha = None if image.alpha is None else np.concatenate([image.alpha] * 2, axis=1)
            save_image(side, alpha, job.compare, self.fmt)


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
    extension = EXTENSIONS[args.format]
    jobs, refused = plan_jobs(found, args.out, extension, args.compare, args.overwrite)
    return jobs, refused, unmatched, model


def main(argv=None):
    """Colorizes the inputs; returns 0 if all were written, 1 if any was skipped, 2 on misuse."""
    from keras_colorize.video import command as video

    if video.wants_video(sys.argv[1:] if argv is None else argv):
        return video.main(sys.argv[1:] if argv is None else argv)
    try:
        args = parse_args(argv)
    except SystemExit as stop:  # argparse has printed its message (or --help)
        return stop.code
    tally = Tally()
    try:
        jobs, refused, unmatched, model = _prepare(args)
        backend = None
        if jobs:
            # TensorFlow's C++ start-up INFO lines (a .keras model or SavedModel) mean
            # nothing to someone colorizing photos.
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
            backend = open_backend(model, args.working_size)
            guidance = load_guidance(args, jobs, backend)
    except UsageError as error:
        return report(PROG, error)
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
                Run(backend, args.format, args.batch_size, tally, progress, guidance)(jobs)
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
