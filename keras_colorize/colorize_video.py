"""The video half of `python -m keras_colorize.colorize film.mp4`: its flags and messages.

    python -m keras_colorize.colorize film.mp4 --out colorized
    python -m keras_colorize.colorize film.mp4 --hints fixes.json --keyframe 120

colorize.py hands its command line over here when an input is a video (by
extension); keras_colorize.video does the work. Each video becomes OUT/NAME
with the same size, frame count and frame rate, every frame keeping its own
full-resolution lightness; colour is kept consistent over time along the
optical flow (video.temporal) unless --no-temporal. Frames stream through:
memory does not grow with the length.
"""

import argparse
import os
import sys

from keras_colorize.cli import INTERRUPTED, SOME_FAILED, UsageError, command, report
from keras_colorize.contract import NOT_GUIDED, NotGuidedError
from keras_colorize.inference.backends import open_backend
from keras_colorize.inference.shipped import find_model
from keras_colorize.inference.user_guidance import read_reference
from keras_colorize.video.colorizer import (
    AUDIO_NOTES,
    NETWORK_EVERY,
    colorize_video,
    read_keyframe_hints,
)
from keras_colorize.video.frames import (
    DEFAULT_CODEC,
    VideoError,
    VideoReader,
    check_codec,
    is_video_name,
)

PROG = "colorize"
DEFAULT_OUT = "colorized"
KEPT_CONTAINERS = (".mp4", ".avi", ".mkv", ".mov")  # others become .mp4


def wants_video(argv):
    """True if any argument that is not an option names a video file (by its extension)."""
    return any(is_video_name(item) for item in argv if not item.startswith("-"))


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Colorize gray (or colour) videos, frame for frame, with consistent colour.",
        epilog="Exit codes: 0 all videos colorized, 1 some were skipped, 2 usage error.",
    )
    parser.add_argument("inputs", nargs="+", metavar="VIDEO", help="video files OpenCV reads")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help="output folder")
    parser.add_argument("--model", metavar="PATH", help="a colorizer (default: the shipped one)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument(
        "--no-temporal",
        dest="temporal",
        action="store_false",
        help="colour every frame on its own (flickers; for comparison)",
    )
    parser.add_argument(
        "--network-every",
        type=int,
        default=NETWORK_EVERY,
        metavar="N",
        help=f"run the network on every N-th frame of a shot, the flow carrying colour between "
        f"(default {NETWORK_EVERY}; 1 = every frame)",
    )
    parser.add_argument(
        "--codec",
        default=DEFAULT_CODEC,
        metavar="FOURCC",
        help=f"the output's video codec (default {DEFAULT_CODEC})",
    )
    parser.add_argument(
        "--hints",
        metavar="JSON",
        help='colour points for ONE video, as for a photo, each with an optional "frame"; '
        "they hold to the end of their shot, moving with the picture",
    )
    parser.add_argument(
        "--keyframe",
        type=int,
        default=0,
        metavar="N",
        help="the frame (0-based) of the --hints points that name none (default 0)",
    )
    parser.add_argument("--reference", metavar="PHOTO", help="a colour photo to take colours from")
    parser.add_argument("--working-size", type=int, metavar="S", help=argparse.SUPPRESS)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.network_every < 1:
        parser.error("--network-every must be at least 1")
    if args.keyframe < 0:
        parser.error("--keyframe must be at least 0")
    return args


def output_path(source, out_dir):
    stem, extension = os.path.splitext(os.path.basename(source))
    return os.path.join(
        out_dir, stem + (extension if extension.lower() in KEPT_CONTAINERS else ".mp4")
    )


def _prepare(args):
    """Checks everything a user can get wrong before the model loads; returns the jobs."""
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out} is a file, not a folder")
    photos = [item for item in args.inputs if not is_video_name(item)]
    if photos:
        raise UsageError(f"{photos[0]} is not a video: colorize photos and videos in separate runs")
    if args.hints and len(args.inputs) != 1:
        raise UsageError(f"--hints describes one video, but {len(args.inputs)} are to be colorized")
    for flag, path in (("--hints", args.hints), ("--reference", args.reference)):
        if path and not os.path.exists(path):
            raise UsageError(f"{flag} {path} does not exist")
    try:
        check_codec(args.codec)
    except VideoError as error:
        raise UsageError(f"--codec: {error}") from None
    jobs, skipped = [], []
    for source in args.inputs:
        try:
            with VideoReader(source) as reader:
                if next(iter(reader), None) is None:
                    raise VideoError(f"{source} has no frames that decode")
        except VideoError as error:
            raise UsageError(str(error)) from None
        output = output_path(source, args.out)
        if os.path.realpath(output) == os.path.realpath(source):
            raise UsageError(f"output {output} would replace its input; choose another --out")
        if os.path.lexists(output) and not args.overwrite:
            skipped.append(f"skipped {source}: {output} exists (--overwrite replaces it)")
            continue
        jobs.append((source, output))
    return jobs, skipped


def _guidance(args, backend, source):
    """(keyframe hints, reference) for the backend; UsageError if they are bad or not taken."""
    if not (args.hints or args.reference):
        return None, None
    if not backend.guided:
        raise NotGuidedError(f"{args.model or 'this model'} {NOT_GUIDED}")
    keyframe_hints = reference = None
    if args.hints:
        with VideoReader(source) as reader:
            shape = (reader.info.height, reader.info.width)
        keyframe_hints = read_keyframe_hints(args.hints, shape, args.keyframe)
    if args.reference:
        reference = read_reference(args.reference)
    return keyframe_hints, reference


@command(PROG)
def main(argv=None):
    """Colorizes the videos; returns 0 if all were written, 1 if any was skipped, 2 on misuse."""
    args = parse_args(argv)
    jobs, skipped = _prepare(args)
    backend = open_backend(find_model(args.model), args.working_size) if jobs else None
    for line in skipped:
        print(line, file=sys.stderr)
    from tqdm import tqdm

    for source, output in jobs:
        with tqdm(unit="frame", file=sys.stderr, disable=args.quiet) as progress:
            try:
                keyframe_hints, reference = _guidance(args, backend, source)
                frames, cuts, audio, seconds = colorize_video(
                    source,
                    output,
                    backend,
                    progress,
                    temporal=args.temporal,
                    network_every=args.network_every,
                    codec=args.codec,
                    keyframe_hints=keyframe_hints,
                    reference=reference,
                )
            except UsageError as error:
                progress.close()
                return report(PROG, error)
            except KeyboardInterrupt:
                progress.close()
                print(f"interrupted; {output} was not written", file=sys.stderr)
                return INTERRUPTED
            progress.write(
                f"colorized {source} into {output}: {frames} frames in {seconds:.1f} s "
                f"({frames / max(seconds, 1e-9):.1f} frames/s), {cuts} shot cuts",
                file=sys.stdout,
            )
            if audio in AUDIO_NOTES:
                progress.write(AUDIO_NOTES[audio], file=sys.stderr)
    return SOME_FAILED if skipped else 0
