"""`python -m keras_colorize.models.backbones VARIANT OUT.weights.h5`: convert backbone weights.

The command around keras_colorize.models.backbones.convert (which says why
and how): argparse, the conversion, one line of result or of error.
"""

import argparse
import sys

from keras_colorize.cli import UsageError, command, report
from keras_colorize.models.backbones.convert import PROG, WEIGHTS_SUFFIX, convert
from keras_colorize.models.backbones.efficientnet_lite import (
    VARIANTS,
    PretrainedWeightsMissing,
    WeightMappingError,
)
from keras_colorize.models.backbones.torch_legacy import LegacyCheckpointError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Convert EfficientNet-Lite ImageNet weights (.pth) to a Keras .weights.h5.",
    )
    parser.add_argument("variant", choices=sorted(VARIANTS), help="which EfficientNet-Lite")
    parser.add_argument("output", help=f"file to write, ending in {WEIGHTS_SUFFIX}")
    parser.add_argument(
        "--include-top",
        action="store_true",
        help="also convert the 1000-class ImageNet classifier (fixed input size)",
    )
    parser.add_argument(
        "--pth", help="read this legacy .pth instead of the one in the installed weight package"
    )
    return parser.parse_args(argv)


@command(PROG)
def main(argv=None):
    """Converts; returns the exit code (2 for a user mistake)."""
    args = parse_args(argv)
    try:
        model = convert(args.variant, args.output, include_top=args.include_top, pth=args.pth)
    except (
        UsageError,
        PretrainedWeightsMissing,
        LegacyCheckpointError,
        WeightMappingError,
    ) as error:
        return report(PROG, error)
    kind = "classifier" if args.include_top else "backbone"
    print(
        f"{PROG}: wrote {args.output} (EfficientNet-{args.variant.capitalize()} {kind}, "
        f"{model.count_params():,} weights)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
