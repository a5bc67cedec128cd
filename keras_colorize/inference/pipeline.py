"""Colorizing photos of any size with a backend, in numpy and OpenCV (no TensorFlow).

Colour is predicted at the model's working size S and recombined with the
ORIGINAL full-resolution lightness, so fine detail and the exact luminance of
the input survive:

    rgb (H, W) -> L (H, W) --resize--> L (S, S) -> L_norm -> backend -> ab_norm (S, S)
    ab (S, S) --bilinear--> ab (H, W);  L (H, W) + ab (H, W) -> Lab -> rgb (H, W)

The SavedModel's serving signatures (keras_colorize.serving.saved_model) run
the same steps in TF ops with the same resize rule and lookup tables, and the
tests bound the difference between the two.
"""

import cv2
import numpy as np

from keras_colorize import constants as C
from keras_colorize.color.fullres import lightness, recombine
from keras_colorize.contract import no_reference
from keras_colorize.guidance.hints import empty_hint_map

HINT_MODES = ("local", "network")  # how hints are applied; the default first (colorize_images)


def working_lightness(lightness_full, size):
    """L (H, W, 1) -> L (size, size, 1) float32: what the network sees of the photo.

    Area averaging (a box filter) when the short side is at least ``size``,
    bilinear with half-pixel centres otherwise; serving.saved_model.resize_lightness
    is the same rule in TF ops (tf.image.resize "area" / "bilinear").
    """
    height, width = lightness_full.shape[:2]
    interpolation = cv2.INTER_AREA if min(height, width) >= size else cv2.INTER_LINEAR
    small = cv2.resize(lightness_full[..., 0], (size, size), interpolation=interpolation)
    return small.astype(np.float32)[..., None]


def colorize_images(images, backend, hints=None, references=None, hint_mode=HINT_MODES[0]):
    """Colorizes a batch of uint8 RGB (H, W, 3) images of any sizes; returns uint8 RGB at each size.

    The input's own colour (if any) is ignored: only its lightness is used.
    A guided backend also takes, per image, a hint map at the working size
    (``hints``: a list of float32 (S, S, 3), see guidance.hints.hint_map) and
    a colour distribution (``references``: a list of (REFERENCE_BINS,)); None
    (for the list or an item) means no guidance of that kind.

    ``hint_mode`` "local" (the default) keeps the hints' effect where they
    reach (guidance.local: a point colours its own region, not the photo;
    the network runs with and without them); "network" takes the network's
    colours with the hints as they are.
    """
    if hint_mode not in HINT_MODES:
        raise ValueError(f"hint_mode must be one of {HINT_MODES}, got {hint_mode!r}")
    size = backend.working_size
    full = [lightness(rgb) for rgb in images]  # each (H, W, 1), L in [0, 100]
    l_norm = np.stack([working_lightness(one, size) / C.L_HALF - 1.0 for one in full])
    guidance = {}
    if hints is not None and any(h is not None for h in hints):
        guidance["hints"] = np.stack([empty_hint_map(size) if h is None else h for h in hints])
    if references is not None and any(r is not None for r in references):
        none = no_reference(1)[0]
        guidance["reference"] = np.stack([none if r is None else r for r in references])
    ab_small = backend.predict_ab(l_norm, **guidance) * C.AB_SCALE  # (B, S, S, 2) Lab units
    if "hints" in guidance and hint_mode == "local":
        from keras_colorize.guidance.local import local_hints  # scipy: only with hints

        del guidance["hints"]
        auto = backend.predict_ab(l_norm, **guidance) * C.AB_SCALE  # the same without hints
        for index, one in enumerate(hints):
            if one is not None:
                l_small = (l_norm[index, ..., 0] + 1.0) * C.L_HALF  # (S, S)
                ab_small[index] = local_hints(
                    l_small,
                    auto[index],
                    one[..., :2] * C.AB_SCALE,
                    one[..., 2] > 0,
                    ab_small[index],
                )
    return [recombine(one, ab) for one, ab in zip(full, ab_small, strict=True)]
