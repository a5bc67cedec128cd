"""User guidance in numpy (no TensorFlow): colour points, stroke images and reference photos.

A guided network takes, besides L, a hint map and a reference colour
distribution (keras_colorize.contract has their layout). This module turns
what a user gives (a JSON file of points in the photo's pixels, an RGBA
stroke image of the photo's size, a reference photo) into those arrays. The
TF twin used in training is keras_colorize.guidance.simulate.
"""

import re

import cv2
import numpy as np

from keras_colorize import constants as C
from keras_colorize.cli import UsageError
from keras_colorize.color import np_lab
from keras_colorize.contract import REFERENCE_BINS, no_hints
from keras_colorize.io.images import shrink_to_side
from keras_colorize.io.json_file import read_json

DEFAULT_RADIUS = 3.0  # pixels of the original photo a point covers unless it says otherwise
OPAQUE_ALPHA = 128  # stroke-image pixels at least this opaque are hints
MAX_SIMULATED_HINTS = 64  # simulate's cap on the number of points
REFERENCE_SIDE = 256  # a reference photo is shrunk to this long side first (speed only)
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


class HintError(UsageError):
    """A hint file, colour, stroke image or reference photo the user must fix; one line."""


def reference_histogram(ab):
    """ab (..., 2) in Lab units -> float32 (REFERENCE_BINS,): the fraction of pixels per grid cell.

    Each pixel goes to its nearest grid centre (rounding half to even, as
    ``tf.round`` in simulate.reference_histogram does), clipped to the grid.
    """
    ab = np.asarray(ab, dtype=np.float32).reshape(-1, 2)
    if ab.shape[0] == 0:
        raise ValueError("reference_histogram needs at least one pixel")
    scaled = (ab + np.float32(C.AB_GRID_LIMIT)) / np.float32(C.AB_GRID_STEP)
    index = np.clip(np.round(scaled), 0, C.AB_GRID_SIZE - 1).astype(np.int64)
    flat = index[:, 0] * C.AB_GRID_SIZE + index[:, 1]
    counts = np.bincount(flat, minlength=REFERENCE_BINS).astype(np.float32)
    return counts / counts.sum()


def reference_from_photo(rgb):
    """uint8 RGB (H, W, 3) -> its colour distribution (REFERENCE_BINS,) float32.

    Raises:
        HintError: the photo is gray, so it has no colours to pass on.
    """
    ab = np_lab.rgb_uint8_to_lab(shrink_to_side(rgb, REFERENCE_SIDE))[..., 1:]
    if np.abs(ab).max() < 1.0:
        raise HintError("the reference photo is gray: it has no colours to pass on")
    return reference_histogram(ab)


def colour_to_ab(value):
    """A hint's colour -> (a, b) in Lab units.

    Accepts "#rrggbb" (the ab of that sRGB colour) or a list [L, a, b] in Lab
    units (L is ignored: the photo keeps its own lightness).
    """
    if isinstance(value, str):
        match = _HEX.match(value.strip())
        if not match:
            raise HintError(f"bad colour {value!r}: expected '#rrggbb' or [L, a, b]")
        rgb = np.frombuffer(bytes.fromhex(match.group(1)), dtype=np.uint8).reshape(1, 1, 3)
        return tuple(float(v) for v in np_lab.rgb_uint8_to_lab(rgb)[0, 0, 1:])
    if (
        isinstance(value, list | tuple)
        and len(value) == 3
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        lightness, a, b = (float(v) for v in value)
        if not (0 <= lightness <= 100 and abs(a) <= C.AB_SCALE and abs(b) <= C.AB_SCALE):
            raise HintError(f"bad Lab colour {list(value)}: L in 0..100, a and b in -110..110")
        return a, b
    raise HintError(f"bad colour {value!r}: expected '#rrggbb' or [L, a, b]")


def parse_hints(data, image_shape, source="hints"):
    """JSON data -> list of (x, y, a, b, radius) in the photo's pixels, checked.

    ``data`` is a list of points or {"hints": [...]}; each point is
    {"x": ..., "y": ..., "color": "#rrggbb" | [L, a, b], "radius": optional}.
    ``image_shape`` is the photo's (H, W).
    """
    height, width = image_shape[:2]
    points = data.get("hints") if isinstance(data, dict) else data
    if not isinstance(points, list):
        raise HintError(f'{source}: expected a list of points or {{"hints": [...]}}')
    parsed = []
    for number, point in enumerate(points, 1):
        where = f"{source}: point {number}"
        if not isinstance(point, dict) or not {"x", "y"} <= point.keys():
            raise HintError(f"{where} needs x, y and color")
        colour = point.get("color", point.get("colour"))
        if colour is None:
            raise HintError(f"{where} has no color")
        try:
            x, y = float(point["x"]), float(point["y"])
            radius = float(point.get("radius", DEFAULT_RADIUS))
        except (TypeError, ValueError):
            raise HintError(f"{where}: x, y and radius must be numbers") from None
        if not (0 <= x < width and 0 <= y < height):
            raise HintError(f"{where} ({x:g}, {y:g}) lies outside the {width}x{height} photo")
        if not radius > 0:
            raise HintError(f"{where}: radius must be positive, got {radius:g}")
        try:
            a, b = colour_to_ab(colour)
        except HintError as error:
            raise HintError(f"{where}: {error}") from None
        parsed.append((x, y, a, b, radius))
    return parsed


def read_hints(path, image_shape):
    """A hints JSON file -> list of (x, y, a, b, radius); HintError if unreadable or bad."""
    data = read_json(path, HintError, "hints file")
    return parse_hints(data, image_shape, source=str(path))


def empty_hint_map(size):
    """No hints for one photo: float32 (size, size, HINT_CHANNELS) zeros."""
    return no_hints(1, size)[0]


def hint_map(points, image_shape, size):
    """Points in the photo's pixels -> the hint map at the working size, float32 (S, S, 3).

    The photo is squeezed to S x S for the network, so a point at (x, y) with
    radius r covers the working pixels whose centres lie within the ellipse
    of radii r * S / W and r * S / H around its scaled position, and at least
    the working pixel that contains it. A later point overrides an earlier one.
    """
    height, width = image_shape[:2]
    hints = empty_hint_map(size)
    centres = np.arange(size, dtype=np.float64) + 0.5  # working pixel centres
    for x, y, a, b, radius in points:
        sx, sy = x * size / width, y * size / height
        rx, ry = radius * size / width, radius * size / height
        inside = ((centres[None, :] - sx) / rx) ** 2 + ((centres[:, None] - sy) / ry) ** 2 <= 1
        inside[min(int(sy), size - 1), min(int(sx), size - 1)] = True
        hints[inside] = (a / C.AB_SCALE, b / C.AB_SCALE, 1.0)
    return hints


def stroke_hint_map(rgba, image_shape, size):
    """An RGBA stroke image of the photo's size -> the hint map at the working size.

    Pixels at least OPAQUE_ALPHA opaque are hints of their own colour. Each
    working pixel whose area holds any stroke pixel gets their mean ab.
    """
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise HintError(
            "the hint image has no alpha channel: strokes must be opaque on transparent"
        )
    if rgba.shape[:2] != tuple(image_shape[:2]):
        raise HintError(
            f"the hint image is {rgba.shape[1]}x{rgba.shape[0]}, "
            f"the photo {image_shape[1]}x{image_shape[0]}: they must be the same size"
        )
    mask = (rgba[..., 3] >= OPAQUE_ALPHA).astype(np.float32)
    if not mask.any():
        raise HintError("the hint image has no opaque pixels")
    ab = np_lab.rgb_uint8_to_lab(rgba[..., :3])[..., 1:] * mask[..., None]
    interpolation = cv2.INTER_AREA if min(mask.shape) >= size else cv2.INTER_LINEAR
    ab_sum = cv2.resize(ab, (size, size), interpolation=interpolation)
    coverage = cv2.resize(mask, (size, size), interpolation=interpolation)
    hints = empty_hint_map(size)
    hinted = coverage > 0
    hints[hinted, :2] = ab_sum[hinted] / coverage[hinted, None] / C.AB_SCALE
    hints[hinted, 2] = 1.0
    return hints


def merge_hint_maps(first, second):
    """Two hint maps -> one; where both have a hint, the second's wins."""
    merged = first.copy()
    hinted = second[..., 2] > 0
    merged[hinted] = second[hinted]
    return merged
