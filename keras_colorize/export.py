"""`python -m keras_colorize.export`: a trained run dir -> a SavedModel for TF Serving + TFLite.

    python -m keras_colorize.export --run-dir runs/gan --out models/colorizer

writes ``OUT/<N>/`` (N: the next free integer version, from 1; an existing
version is never overwritten), the layout TF Serving watches, and the TFLite
variants in ``OUT/tflite/<N>/``. The signatures and the colour pipeline are
described in keras_colorize.serving.saved_model, the TFLite contracts in
keras_colorize.serving.tflite.
"""

import argparse
import os
import sys

from keras_colorize import artifacts as A
from keras_colorize.cli import UsageError, command, missing_tensorflow, report

PROG = "export"


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m keras_colorize.export",
        description="Export a trained run as a SavedModel for TF Serving "
        "(uint8 images in, colour images out, everything in the graph) and as TFLite files.",
    )
    parser.add_argument("--run-dir", required=True, help="a `python -m keras_colorize.fit` run")
    parser.add_argument(
        "--out",
        default=A.DEFAULT_MODEL_DIR,
        help=f"the model's folder; versions go in OUT/<N>/ (default {A.DEFAULT_MODEL_DIR})",
    )
    parser.add_argument(
        "--version", type=int, help="version number (default: the next free one, from 1)"
    )
    parser.add_argument(
        "--working-size",
        type=int,
        help="side of the square the network sees (default: the run's training image size)",
    )
    parser.add_argument(
        "--temperature",
        type=float,
        help="annealed-mean temperature (classification only; default: the run's)",
    )
    parser.add_argument(
        "--tflite-size",
        type=int,
        help="fixed input side of the TFLite files (default: the working size)",
    )
    parser.add_argument(
        "--tflite-variants",
        nargs="*",
        default=list(A.TFLITE_VARIANTS),
        choices=A.TFLITE_VARIANTS,
        help="TFLite variants to write in OUT/tflite/<N>/ (none: skip TFLite)",
    )
    return parser.parse_args(argv)


@command(PROG)
def main(argv=None):
    """Exports; returns the exit code (2 for a user mistake, 1 if a parity check fails)."""
    args = parse_args(argv)
    if missing := missing_tensorflow(PROG):
        return report(PROG, missing)
    from keras_colorize.config import ConfigError
    from keras_colorize.data.pipeline import DatasetError
    from keras_colorize.serving import saved_model, tflite
    from keras_colorize.serving.tflite import save_colorizer_tflite
    from keras_colorize.training.run_dir import load_colorizer_from_run, read_run_config

    try:
        config = read_run_config(args.run_dir)
        saved_model.check_temperature(config, args.temperature)
        working_size = saved_model.resolve_working_size(config, args.working_size)
        version_dir = saved_model.resolve_version_dir(args.out, args.version)
        if args.tflite_variants:
            tflite.check_size(config.model, args.tflite_size or working_size)
            tflite.check_photos(config.data, args.tflite_variants)
        colorizer, config = load_colorizer_from_run(args.run_dir)
        metadata = saved_model.export_saved_model(
            colorizer, config, version_dir, working_size, args.temperature
        )
    except (UsageError, ConfigError, ValueError) as error:
        return report(PROG, error)
    run_tflite = os.path.join(args.run_dir, A.TFLITE_FILE)
    if not os.path.exists(run_tflite):  # a run from before fit wrote it, or stopped early
        save_colorizer_tflite(colorizer, config.train.image_size, run_tflite)
        print(f"export: wrote {run_tflite} (colorize runs it without TensorFlow)")
    deviation = saved_model.parity_error(colorizer, version_dir, working_size)
    temperature, gain = metadata["temperature"], metadata["chroma_gain"]
    print(
        f"export: wrote {version_dir} ({config.model.family}, working size {working_size}"
        + (f", temperature {temperature:g}" if temperature is not None else "")
        + (f", ab gain {gain:g}" if gain not in (None, 1.0) else "")
        + f"); l_to_ab parity max |delta ab_norm| {deviation:.2g}"
    )
    if not deviation <= saved_model.PARITY_TOLERANCE:
        print(
            f"export: error: the SavedModel's l_to_ab differs from the Keras colorizer by "
            f"{deviation:.3g} (tolerance {saved_model.PARITY_TOLERANCE:g})",
            file=sys.stderr,
        )
        return 1
    if args.tflite_variants:
        # TF Serving only reads integer folders, so tflite/ beside them is ignored there.
        tflite_dir = os.path.join(args.out, "tflite", os.path.basename(version_dir))
        try:
            result = tflite.export_tflite(
                colorizer,
                config,
                tflite_dir,
                size=args.tflite_size or working_size,
                variants=args.tflite_variants,
            )
        except (DatasetError, ValueError) as error:
            return report(PROG, f"TFLite: {error}")
        except tflite.TFLiteExportError as error:
            print(f"export: error: {error} (report in {tflite_dir})", file=sys.stderr)
            return 1
        print(f"export: wrote {len(result['variants'])} TFLite variants to {tflite_dir}")
        if "(its val split is empty)" in result["parity"]["source"]:
            print(f"export: note: parity compared on {result['parity']['source']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
