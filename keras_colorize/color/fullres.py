"""Full-resolution colour maths in numpy with lookup tables, for photos of any size.

This is what `colorize` runs (without TensorFlow); the SavedModel runs the
same steps in TF ops (keras_colorize.color.tf_lab's ``lightness_of_uint8`` and
``lab_to_rgb_uint8_by_table``), with the same two transfer-function tables of
keras_colorize.color.np_lab:
- sRGB -> linear: 256 entries, one per uint8 level (exact);
- linear -> sRGB uint8: 2^16 entries over [0, 1] (within one level).
What remains per pixel is a 3x3 matrix, a cube / cube root and a table look-up;
at 12 megapixels, per-pixel pow() calls would cost over a second on a CPU.
Strips of rows run on all cores at once (numpy and OpenCV release the GIL);
a gray photo's lightness is a 256-entry table of its level.
"""

import functools
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from keras_colorize import constants as C
from keras_colorize.color.np_lab import (
    LINEAR_TABLE_STEPS,
    linear_to_srgb_uint8_table,
    srgb_uint8_to_linear_table,
)
from keras_colorize.cores import usable_cores
from keras_colorize.io.images import is_gray

STRIP_ROWS = 64  # rows per strip: cache-sized temporaries, few first-touch page faults
# f(t) of CIE Lab switches from the linear segment to the cube root here; in f-space:
_F_BREAK = C.LAB_EPSILON ** (1.0 / 3.0)
# XYZ -> linear RGB with the white point folded in: one matrix instead of two passes.
_XYZ_NORM_TO_LINEAR = (C.XYZ_TO_RGB * C.D65_WHITE[None, :]).astype(np.float32)


def prepare():
    """Builds the lookup tables now, so that the first photo does not wait for them."""
    srgb_uint8_to_linear_table()
    linear_to_srgb_uint8_table()
    _gray_lightness_table()


def _by_strips(function, height):
    """Calls function(top, rows) for every strip of STRIP_ROWS rows, on all cores."""
    tops = range(0, height, STRIP_ROWS)
    workers = usable_cores(limit=8)
    if len(tops) == 1 or workers == 1:
        for top in tops:
            function(top, min(STRIP_ROWS, height - top))
        return
    with ThreadPoolExecutor(workers) as pool:
        # list() re-raises a strip's exception here.
        list(pool.map(lambda top: function(top, min(STRIP_ROWS, height - top)), tops))


def _lightness_strip(rgb):
    linear = srgb_uint8_to_linear_table()[rgb]  # (h, W, 3)
    luminance = linear @ (C.RGB_TO_XYZ[1] / C.D65_WHITE[1]).astype(np.float32)  # Y / Yn
    f = np.where(
        luminance > C.LAB_EPSILON,
        np.cbrt(luminance),
        C.LAB_LINEAR_SLOPE * luminance + C.LAB_LINEAR_OFFSET,
    )
    return (116.0 * f - 16.0).astype(np.float32)[..., None]


@functools.cache
def _gray_lightness_table():
    """float32 (256,): L of the gray level k (R = G = B = k), by the general formula."""
    ramp = np.repeat(np.arange(256, dtype=np.uint8)[:, None, None], 3, axis=-1)
    return _lightness_strip(ramp)[:, 0, 0]


def lightness(rgb):
    """L (H, W, 1) float32 in [0, 100] of a uint8 RGB (H, W, 3) image (CIE Lab, D65)."""
    rgb = np.asarray(rgb, dtype=np.uint8)
    if is_gray(rgb):  # most inputs: a table look-up of the formula's values
        return _gray_lightness_table()[rgb[..., :1]]
    out = np.empty(rgb.shape[:2] + (1,), np.float32)

    def strip(top, rows):
        out[top : top + rows] = _lightness_strip(rgb[top : top + rows])

    _by_strips(strip, len(rgb))
    return out


def _lab_to_rgb_strip(lightness_strip, ab_strip):
    # In-place float32 steps: this runs on every pixel of the photo.
    fy = (lightness_strip[..., 0] + 16.0) / 116.0
    f = np.empty(fy.shape + (3,), np.float32)  # f(X/Xn), f(Y/Yn), f(Z/Zn)
    np.add(fy, ab_strip[..., 0] / 500.0, out=f[..., 0])
    f[..., 1] = fy
    np.subtract(fy, ab_strip[..., 1] / 200.0, out=f[..., 2])
    t = f * f
    t *= f
    linear_segment = f <= _F_BREAK
    f -= C.LAB_LINEAR_OFFSET
    f /= C.LAB_LINEAR_SLOPE
    np.copyto(t, f, where=linear_segment)
    np.maximum(t, 0.0, out=t)  # X/Xn, Y/Yn, Z/Zn
    linear = cv2.transform(t, _XYZ_NORM_TO_LINEAR).reshape(len(t), -1)
    # Saturating conversion: clip to [0, 1], scale, round half to even (like np.rint).
    index = cv2.multiply(linear, LINEAR_TABLE_STEPS, dtype=cv2.CV_16U)
    return linear_to_srgb_uint8_table()[index].reshape(t.shape)


def recombine(lightness_full, ab_small):
    """Full-resolution L (H, W, 1) + ab (s, s', 2) in Lab units -> uint8 RGB (H, W, 3).

    ab is upsampled bilinearly (pixel centres aligned, like tf.image.resize),
    one strip of rows at a time.
    """
    height, width = lightness_full.shape[:2]
    ab_small = np.asarray(ab_small, dtype=np.float32)
    out = np.empty((height, width, 3), np.uint8)
    xs = ((np.arange(width) + 0.5) * ab_small.shape[1] / width - 0.5).astype(np.float32)

    def strip(top, rows):
        ys = ((np.arange(top, top + rows) + 0.5) * ab_small.shape[0] / height - 0.5).astype(
            np.float32
        )
        map_x, map_y = np.meshgrid(xs, ys)
        ab = cv2.remap(ab_small, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out[top : top + rows] = _lab_to_rgb_strip(lightness_full[top : top + rows], ab)

    _by_strips(strip, height)
    return out


def gray_rgb(rgb, was_gray=False):
    """uint8 RGB (H, W, 3) -> the photo as a colorizer sees it: its lightness, no colour.

    ``was_gray``: the photo is already gray (R = G = B), so it is its own answer.
    """
    if was_gray:
        return rgb
    return recombine(lightness(rgb), np.zeros((1, 1, 2), np.float32))
