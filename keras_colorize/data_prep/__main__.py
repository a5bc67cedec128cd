"""`python -m keras_colorize.data_prep --src DIR [DIR ...] --out OUT`: build a dataset.

The command (``keras-colorize-prep``; ``python -m data_prep`` from a checkout):
argparse and a call into keras_colorize.data_prep.build. Kept light: the
build's spawned workers re-import this file.
"""

import argparse
import importlib.util
import os
import sys

from keras_colorize.cli import command, missing_tensorflow, report

PROG = "data_prep"
BEAM_INSTALL = "pip install 'keras-colorize[beam]'"


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m keras_colorize.data_prep",
        description=(
            "Build colourfulness-filtered TFRecord shards (train/val[/test]), the training "
            "ab prior and a manifest from folders of photos."
        ),
    )
    parser.add_argument(
        "--src", nargs="+", required=True, metavar="DIR", help="image folders, searched recursively"
    )
    parser.add_argument("--out", required=True, metavar="OUT", help="output dataset folder")
    parser.add_argument(
        "--image-size", type=int, default=128, help="training crop size (default 128, as the paper)"
    )
    parser.add_argument(
        "--short-side",
        type=int,
        default=0,
        help="store squares of this side (>= image size) for random-crop augmentation "
        "(default: the image size)",
    )
    parser.add_argument(
        "--crop",
        choices=["center", "random"],
        default="center",
        help="how the stored square is cut",
    )
    parser.add_argument(
        "--min-colorfulness",
        type=float,
        default=15.0,
        help="drop images scoring below this (default 15)",
    )
    parser.add_argument(
        "--keep-top", type=int, default=0, help="keep only the N most colourful images (0: all)"
    )
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--test-fraction", type=float, default=0.0)
    parser.add_argument("--encoding", choices=["jpeg", "png"], default="jpeg")
    parser.add_argument("--jpeg-quality", type=int, default=95)
    parser.add_argument("--images-per-shard", type=int, default=1024)
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes of the local build (default: all cores)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a dataset built with other settings in OUT",
    )
    parser.add_argument("--no-figure", action="store_true", help="skip the colourfulness figure")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--runner",
        metavar="NAME",
        help="run as one Apache Beam pipeline: 'direct' (in process; --direct_num_workers N "
        "--direct_running_mode multi_processing for N processes) or a Beam runner such as "
        "FlinkRunner, SparkRunner, DataflowRunner; further --flags go to Beam's pipeline "
        f"options (needs {BEAM_INSTALL})",
    )
    args, beam_args = parser.parse_known_args(argv)
    if beam_args and not args.runner:
        parser.error(f"unrecognized arguments: {' '.join(beam_args)}")
    args.beam_args = beam_args
    return args


def _summary(manifest, out):
    counts = manifest["counts"]
    dropped = manifest["dropped"]
    kept = ", ".join(f"{counts[s]} {s}" for s in counts if counts[s])
    return (
        f"wrote {kept or 'no images'} to {out} "
        f"(of {manifest['files_seen']} files: {dropped['gray']} gray, "
        f"{dropped['below_min_colorfulness']} below colourfulness "
        f"{manifest['settings']['min_colorfulness']:g}, "
        f"{dropped['not_in_top_n']} outside the top N, "
        f"{len(manifest['skipped'])} skipped)"
    )


@command(PROG)
def main(argv=None):
    """Runs the builder; returns the process exit code (2 for a user mistake)."""
    args = parse_args(argv)
    if missing := missing_tensorflow(PROG):
        return report(PROG, missing)
    if args.runner and importlib.util.find_spec("apache_beam") is None:
        return report(PROG, f"--runner needs Apache Beam: {BEAM_INSTALL}")
    # Imported here so that `--help` and argument errors answer without loading TensorFlow.
    from keras_colorize.data_prep.build import BuildOptions, DataPrepError, build_dataset

    options = BuildOptions(
        image_size=args.image_size,
        short_side=args.short_side,
        crop=args.crop,
        min_colorfulness=args.min_colorfulness,
        keep_top=args.keep_top,
        val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        encoding=args.encoding,
        jpeg_quality=args.jpeg_quality,
        images_per_shard=args.images_per_shard,
    )
    try:
        if args.runner:
            # Imported only here: the local build never loads Beam (nor its cloud clients).
            from keras_colorize.data_prep.beam import build_dataset_beam

            manifest = build_dataset_beam(
                args.src,
                args.out,
                options,
                args.runner,
                args.beam_args,
                overwrite=args.overwrite,
                figure=not args.no_figure,
            )
        else:
            manifest = build_dataset(
                args.src,
                args.out,
                options,
                workers=max(1, args.workers),
                overwrite=args.overwrite,
                progress=not args.quiet,
                figure=not args.no_figure,
            )
    except DataPrepError as error:
        return report(PROG, error)
    for item in manifest["skipped"]:
        print(f"skipped {item['path']}: {item['reason']}", file=sys.stderr)
    print(_summary(manifest, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
