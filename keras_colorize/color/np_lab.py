"""sRGB <-> CIE Lab (D65) in numpy: the lookup tables all colour paths share, small-image maths.

The two sRGB transfer-function tables are built here once, in float64, and
used by the full-resolution numpy maths (keras_colorize.color.fullres) AND
embedded as constants in the TensorFlow graphs (keras_colorize.color.tf_lab's
``lightness_of_uint8`` and ``lab_to_rgb_uint8_by_table``), so `colorize`
without TensorFlow and the exported SavedModel agree by construction:
- sRGB uint8 -> linear: 256 entries, one per level (exact);
- linear -> sRGB uint8: 2^16 entries over [0, 1]; the curve's steepest slope
  (12.92) turns a 1/65535 step into 0.05 of a level, so a look-up is within
  one level of the exact conversion.
The formulas are those of tf_lab (tests hold both to skimage). No TensorFlow
here: `colorize` runs this without it.
"""

import functools

import numpy as np

from keras_colorize import constants as C

LINEAR_TABLE_STEPS = 65535  # linear light in [0, 1] sampled for the sRGB uint8 table


def srgb_to_linear(rgb):
    """Removes the sRGB transfer function. rgb: float (..., 3) in [0, 1] -> float64."""
    rgb = np.asarray(rgb, dtype=np.float64)
    high = ((np.maximum(rgb, C.SRGB_LINEAR_THRESHOLD) + C.SRGB_OFFSET) / (1 + C.SRGB_OFFSET)) ** (
        C.SRGB_GAMMA
    )
    return np.where(rgb > C.SRGB_LINEAR_THRESHOLD, high, rgb / C.SRGB_LINEAR_SLOPE)


def linear_to_srgb(linear):
    """Applies the sRGB transfer function. linear: float (..., 3), clipped to [0, 1]."""
    linear = np.clip(np.asarray(linear, dtype=np.float64), 0.0, 1.0)
    threshold = C.SRGB_LINEAR_THRESHOLD / C.SRGB_LINEAR_SLOPE
    high = (1 + C.SRGB_OFFSET) * np.maximum(linear, threshold) ** (1.0 / C.SRGB_GAMMA)
    return np.where(linear > threshold, high - C.SRGB_OFFSET, linear * C.SRGB_LINEAR_SLOPE)


@functools.cache
def srgb_uint8_to_linear_table():
    """float32 (256,): linear light of each uint8 sRGB level."""
    table = srgb_to_linear(np.arange(256) / 255.0).astype(np.float32)
    table.flags.writeable = False  # shared by every caller
    return table


@functools.cache
def linear_to_srgb_uint8_table():
    """uint8 (65536,): sRGB level of linear light k / 65535, rounded half to even."""
    linear = np.arange(LINEAR_TABLE_STEPS + 1) / LINEAR_TABLE_STEPS
    table = np.rint(linear_to_srgb(linear) * 255.0).astype(np.uint8)
    table.flags.writeable = False
    return table


def _f(t):
    """CIE Lab's f(t): cube root above LAB_EPSILON, the linear segment below."""
    return np.where(t > C.LAB_EPSILON, np.cbrt(t), C.LAB_LINEAR_SLOPE * t + C.LAB_LINEAR_OFFSET)


def rgb_uint8_to_lab(rgb):
    """sRGB uint8 (..., 3) -> Lab float32 (..., 3), for small images (working-size ones)."""
    linear = srgb_uint8_to_linear_table()[np.asarray(rgb, dtype=np.uint8)].astype(np.float64)
    f = _f(linear @ C.RGB_TO_XYZ.T / C.D65_WHITE)  # f(X/Xn), f(Y/Yn), f(Z/Zn)
    lab = np.stack(
        [
            116.0 * f[..., 1] - 16.0,
            500.0 * (f[..., 0] - f[..., 1]),
            200.0 * (f[..., 1] - f[..., 2]),
        ],
        axis=-1,
    )
    return lab.astype(np.float32)


def gray_rgb_uint8(lightness):
    """L (..., 1) in [0, 100] -> the uint8 gray sRGB (..., 3) with that lightness (a = b = 0).

    For a gray colour X/Xn = Y/Yn = Z/Zn, so linear R = G = B = Y/Yn.
    """
    fy = (np.asarray(lightness, dtype=np.float64) + 16.0) / 116.0
    breakpoint = C.LAB_EPSILON ** (1.0 / 3.0)
    y = np.where(fy > breakpoint, fy**3, (fy - C.LAB_LINEAR_OFFSET) / C.LAB_LINEAR_SLOPE)
    level = np.rint(linear_to_srgb(y) * 255.0).astype(np.uint8)  # (..., 1)
    return np.repeat(level, 3, axis=-1)
