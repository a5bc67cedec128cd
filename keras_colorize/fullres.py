"""Full-resolution colour maths in numpy with lookup tables, for photos of any size.

The TF ops of keras_colorize.color are the reference (and what the networks,
the SavedModel and TFLite use); at 12 megapixels their per-pixel pow() calls
cost over a second on a CPU. Here the two transfer functions become tables
built FROM those TF functions, so both paths agree to a level:
- sRGB -> linear: 256 entries, one per uint8 level (exact);
- linear -> sRGB uint8: 2^16 entries over [0, 1] (the sRGB curve's steepest
  slope turns a 1/65535 step into 0.05 of a level).
What remains per pixel is a 3x3 matrix, a cube / cube root and a table look-up.
"""

import functools

import cv2
import numpy as np
import tensorflow as tf

from keras_colorize import constants as C
from keras_colorize.color import linear_to_srgb, srgb_to_linear

STRIP_ROWS = 512  # rows converted at a time: bounded temporaries on a 40 MP scan
_LINEAR_STEPS = 65535
# f(t) of CIE Lab switches from the linear segment to the cube root here; in f-space:
_F_BREAK = C.LAB_EPSILON ** (1.0 / 3.0)


@functools.cache
def _to_linear_table():
    """float32 (256,): linear-light value of each uint8 sRGB level."""
    return srgb_to_linear(tf.range(256, dtype=tf.float32) / 255.0).numpy()


@functools.cache
def _to_srgb_table():
    """uint8 (65536,): sRGB level of linear-light k / 65535."""
    linear = tf.range(_LINEAR_STEPS + 1, dtype=tf.float32) / _LINEAR_STEPS
    return tf.cast(tf.round(linear_to_srgb(linear) * 255.0), tf.uint8).numpy()


def _lightness_strip(rgb):
    linear = _to_linear_table()[rgb]  # (h, W, 3)
    luminance = linear @ (C.RGB_TO_XYZ[1] / C.D65_WHITE[1]).astype(np.float32)  # Y / Yn
    f = np.where(
        luminance > C.LAB_EPSILON,
        np.cbrt(luminance),
        C.LAB_LINEAR_SLOPE * luminance + C.LAB_LINEAR_OFFSET,
    )
    return (116.0 * f - 16.0).astype(np.float32)[..., None]


def lightness(rgb):
    """L (H, W, 1) float32 in [0, 100] of a uint8 RGB (H, W, 3) image (CIE Lab, D65)."""
    rgb = np.asarray(rgb, dtype=np.uint8)
    return np.concatenate(
        [_lightness_strip(rgb[i : i + STRIP_ROWS]) for i in range(0, len(rgb), STRIP_ROWS)]
    )


def _lab_to_rgb_strip(lightness_strip, ab_strip):
    fy = (lightness_strip[..., 0] + 16.0) / 116.0
    f = np.stack([fy + ab_strip[..., 0] / 500.0, fy, fy - ab_strip[..., 1] / 200.0], axis=-1)
    t = np.where(f > _F_BREAK, f * f * f, (f - C.LAB_LINEAR_OFFSET) / C.LAB_LINEAR_SLOPE)
    xyz = np.maximum(t, 0.0) * C.D65_WHITE.astype(np.float32)
    linear = cv2.transform(xyz.astype(np.float32), C.XYZ_TO_RGB.astype(np.float32))
    index = np.rint(np.clip(linear, 0.0, 1.0) * _LINEAR_STEPS).astype(np.int32)
    return _to_srgb_table()[index]


def recombine(lightness_full, ab_small):
    """Full-resolution L (H, W, 1) + ab (s, s', 2) in Lab units -> uint8 RGB (H, W, 3).

    ab is upsampled bilinearly (pixel centres aligned, like tf.image.resize),
    one strip of rows at a time.
    """
    height, width = lightness_full.shape[:2]
    ab_small = np.asarray(ab_small, dtype=np.float32)
    out = np.empty((height, width, 3), np.uint8)
    xs = ((np.arange(width) + 0.5) * ab_small.shape[1] / width - 0.5).astype(np.float32)
    for top in range(0, height, STRIP_ROWS):
        rows = min(STRIP_ROWS, height - top)
        ys = ((np.arange(top, top + rows) + 0.5) * ab_small.shape[0] / height - 0.5).astype(
            np.float32
        )
        map_x, map_y = np.meshgrid(xs, ys)
        ab = cv2.remap(ab_small, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out[top : top + rows] = _lab_to_rgb_strip(lightness_full[top : top + rows], ab)
    return out
