"""The user's guidance for one run, read from files: colour points, a stroke image, a reference.

Colour points (a JSON file) and strokes (an RGBA image of the photo's size)
describe one photo and become a hint map at the model's working size; a
reference photo becomes a colour distribution that steers every photo.
keras_colorize.guidance.hints holds the conversions; this module reads the
files and checks them against the model (keras_colorize.contract).
"""

import os
from dataclasses import dataclass

import numpy as np

from keras_colorize.cli import UsageError
from keras_colorize.contract import NOT_GUIDED, NotGuidedError
from keras_colorize.inference.pipeline import HINT_MODES
from keras_colorize.io.images import ImageReadError, read_image


@dataclass(frozen=True)
class Guidance:
    """What steers the colours: a hint map at the working size (one photo) and a reference."""

    hints: np.ndarray | None = None  # float32 (S, S, 3)
    reference: np.ndarray | None = None  # float32 (REFERENCE_BINS,)
    hint_mode: str = HINT_MODES[0]  # how hints act: inference.pipeline.colorize_images


def load_guidance(
    backend, model, photos, hints=None, hint_image=None, reference=None, hint_mode=HINT_MODES[0]
):
    """Reads the user's guidance files for ``backend``; UsageError if any is bad.

    Args:
        backend: the opened colorizer (inference.backends); its working size
            sets the hint map's.
        model: the model's name as the user knows it, for messages.
        photos: the photo paths of the run; hints and strokes need exactly one.
        hints: a JSON file of colour points (guidance.hints.read_hints), or None.
        hint_image: an RGBA image of the photo's size whose opaque pixels are
            hints, or None.
        reference: a colour photo whose colour distribution steers every photo,
            or None.
        hint_mode: one of inference.pipeline.HINT_MODES.
    """
    if not (hints or hint_image or reference):
        return Guidance(hint_mode=hint_mode)
    from keras_colorize.guidance import hints as H

    if not backend.guided:
        raise NotGuidedError(f"{model} {NOT_GUIDED}")
    hint_map = distribution = None
    if hints or hint_image:
        if len(photos) != 1:
            raise UsageError(
                f"--hints and --hint-image describe one photo, but {len(photos)} are to be "
                "colorized"
            )
        try:
            shape = read_image(photos[0]).rgb.shape
        except ImageReadError as error:
            raise UsageError(f"{photos[0]}: {error}") from None
        size = backend.working_size
        hint_map = H.empty_hint_map(size)
        if hint_image:
            hint_map = H.stroke_hint_map(read_rgba(hint_image), shape, size)
        if hints:
            points = H.read_hints(hints, shape)
            hint_map = H.merge_hint_maps(hint_map, H.hint_map(points, shape, size))
    if reference:
        distribution = read_reference(reference)
    return Guidance(hint_map, distribution, hint_mode)


def read_reference(path):
    """--reference PHOTO -> its colour distribution (REFERENCE_BINS,); UsageError if it is
    unreadable or gray."""
    from keras_colorize.guidance import hints as H

    try:
        return H.reference_from_photo(read_image(path).rgb)
    except (ImageReadError, H.HintError) as error:
        raise UsageError(f"--reference {path}: {error}") from None


def read_rgba(path):
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
