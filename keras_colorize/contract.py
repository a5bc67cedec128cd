"""What a colorizer is, owned here: its inputs and outputs, and the guided variant's guidance.

A colorizer maps normalised lightness L_norm float32 (B, S, S, 1) = L/50 - 1
to normalised colour ab_norm float32 (B, S, S, 2) = ab/110. A guided one
(``fit --guided``) takes two more inputs, in this order:

- ``hints`` float32 (B, S, S, HINT_CHANNELS): a/110 and b/110 of a hinted
  colour where the mask (channel 2) is 1, zeros elsewhere;
- ``reference`` float32 (B, REFERENCE_BINS): a colour distribution over the
  ab grid of Zhang's quantisation (constants.AB_GRID_*).

All-zero guidance means "none": that is how a guided model was trained to
colorize on its own, so missing guidance is filled with zeros (``fill_guidance``
here; keras_colorize.guidance.graph is the TF twin). An unguided model refuses
guidance with NOT_GUIDED. numpy only: the TensorFlow-free colorize uses this.
"""

import numpy as np

from keras_colorize import artifacts as A
from keras_colorize import constants as C
from keras_colorize.cli import UsageError

HINT_CHANNELS = 3  # a/110, b/110, mask
REFERENCE_BINS = C.AB_GRID_SIZE**2  # the 23 x 23 ab grid, flattened a-major
# The inputs of a guided colorizer, by the names its SavedModel and .tflite use.
GUIDED_INPUT_KEYS = (A.L_KEY, A.HINTS_KEY, A.REFERENCE_KEY)
# Said of a model without guidance inputs when it is given guidance.
NOT_GUIDED = (
    "takes no colour hints or reference: it colorizes on its own; a guided model "
    "(the shipped one, or one trained with fit --guided) takes them"
)


class NotGuidedError(UsageError):
    """Guidance was given to a colorizer that takes none; one line."""


def is_guided(model):
    """True for a Keras colorizer with the [L, hints, reference] inputs."""
    return len(model.inputs) == len(GUIDED_INPUT_KEYS)


def colorizer_problem(input_shapes, output_shape):
    """Why a network with these shapes is not a colorizer, or None if it is one.

    ``input_shapes``: the shapes of its inputs (None for unknown dimensions),
    L first; ``output_shape``: the shape of its (first) output.
    """
    expected = "L (B, H, W, 1) -> ab (B, H, W, 2), optionally with hints and reference"
    if len(input_shapes) not in (1, len(GUIDED_INPUT_KEYS)):
        return f"it has {len(input_shapes)} inputs; a colorizer takes {expected}"
    first, out = tuple(input_shapes[0]), tuple(output_shape)
    if len(first) != 4 or first[-1] != 1 or len(out) != 4 or out[-1] != 2:
        return f"it maps {first} to {out}; a colorizer takes {expected}"
    return None


def no_hints(batch, size):
    """No hints: float32 (batch, size, size, HINT_CHANNELS) zeros."""
    return np.zeros((batch, size, size, HINT_CHANNELS), np.float32)


def no_reference(batch):
    """No reference: float32 (batch, REFERENCE_BINS) zeros."""
    return np.zeros((batch, REFERENCE_BINS), np.float32)


def fill_guidance(l_norm, hints, reference, guided, model="this model"):
    """The guidance a colorizer is called with, for L_norm (B, S, S, 1).

    Returns:
        (hints, reference): float32 arrays, zeros for what was not given, for a
        guided colorizer; (None, None) for an unguided one.

    Raises:
        NotGuidedError: guidance given to an unguided colorizer.
    """
    if not guided:
        if hints is not None or reference is not None:
            raise NotGuidedError(f"{model} {NOT_GUIDED}")
        return None, None
    batch, size = l_norm.shape[0], l_norm.shape[1]
    hints = no_hints(batch, size) if hints is None else np.asarray(hints, np.float32)
    reference = no_reference(batch) if reference is None else np.asarray(reference, np.float32)
    return hints, reference
