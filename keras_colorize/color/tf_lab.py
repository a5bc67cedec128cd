"""sRGB <-> CIE Lab (D65) in TensorFlow ops, and the networks' normalisation.

One implementation serves the tf.data pipeline, the exported SavedModel and
TFLite, so every op here is a TFLite builtin: ``tf.clip_by_value`` is avoided
(it is not one) in favour of ``tf.minimum(tf.maximum(...))``.

Image contract for every function: channels last, any leading batch
dimensions and any H x W. RGB is float in [0, 1] unless a function says uint8.
L is in [0, 100]; a and b are in Lab units (about [-86, 98] and [-108, 94] for
sRGB colours).

Full-resolution photos have their own variants (``lightness_of_uint8``,
``lab_to_rgb_uint8_by_table``): the transfer functions become the lookup
tables of keras_colorize.color.np_lab, which saves most of the per-pixel pow()
calls and makes these ops agree with the numpy path by construction.
"""

import tensorflow as tf

from keras_colorize import constants as C
from keras_colorize.color import np_lab


def _clip(x, lo, hi):
    return tf.minimum(tf.maximum(x, lo), hi)


def _matmul_last(x, matrix):
    """x (..., 3) times matrix^T, i.e. applies a (k, 3) colour matrix per pixel."""
    m = tf.constant(matrix.T, dtype=x.dtype)
    return tf.tensordot(x, m, axes=[[-1], [0]])


def srgb_to_linear(rgb):
    """Removes the sRGB transfer function. rgb: float (..., 3) in [0, 1]."""
    low = rgb / C.SRGB_LINEAR_SLOPE
    # The maximum keeps pow() away from negative bases in the unused branch.
    high = tf.pow(
        (tf.maximum(rgb, C.SRGB_LINEAR_THRESHOLD) + C.SRGB_OFFSET) / (1 + C.SRGB_OFFSET),
        C.SRGB_GAMMA,
    )
    return tf.where(rgb > C.SRGB_LINEAR_THRESHOLD, high, low)


def linear_to_srgb(linear):
    """Applies the sRGB transfer function. linear: float (..., 3), clipped to [0, 1]."""
    linear = _clip(linear, 0.0, 1.0)
    threshold = C.SRGB_LINEAR_THRESHOLD / C.SRGB_LINEAR_SLOPE
    low = linear * C.SRGB_LINEAR_SLOPE
    high = (1 + C.SRGB_OFFSET) * tf.pow(
        tf.maximum(linear, threshold), 1.0 / C.SRGB_GAMMA
    ) - C.SRGB_OFFSET
    return tf.where(linear > threshold, high, low)


def rgb_to_lab(rgb):
    """sRGB float (..., 3) in [0, 1] -> Lab float32 (..., 3): L in [0, 100]."""
    rgb = tf.convert_to_tensor(rgb, dtype=tf.float32)
    xyz = _matmul_last(srgb_to_linear(rgb), C.RGB_TO_XYZ)
    t = xyz / tf.constant(C.D65_WHITE, dtype=tf.float32)
    cube_root = tf.pow(tf.maximum(t, C.LAB_EPSILON), 1.0 / 3.0)
    f = tf.where(t > C.LAB_EPSILON, cube_root, C.LAB_LINEAR_SLOPE * t + C.LAB_LINEAR_OFFSET)
    fx, fy, fz = tf.unstack(f, axis=-1)
    lightness = 116.0 * fy - 16.0
    a = 500.0 * (fx - fy)
    b = 200.0 * (fy - fz)
    return tf.stack([lightness, a, b], axis=-1)


def lab_to_linear(lab):
    """Lab float (..., 3) -> linear-light RGB float32 (..., 3), not yet clipped."""
    lab = tf.convert_to_tensor(lab, dtype=tf.float32)
    lightness, a, b = tf.unstack(lab, axis=-1)
    fy = (lightness + 16.0) / 116.0
    fx = fy + a / 500.0
    fz = fy - b / 200.0
    f = tf.stack([fx, fy, fz], axis=-1)
    # Inverse of f: cube above the breakpoint f(LAB_EPSILON), linear below.
    breakpoint = C.LAB_EPSILON ** (1.0 / 3.0)
    t = tf.where(f > breakpoint, f * f * f, (f - C.LAB_LINEAR_OFFSET) / C.LAB_LINEAR_SLOPE)
    # Negative Z (a very large b) would make the matrix product meaningless.
    xyz = tf.maximum(t, 0.0) * tf.constant(C.D65_WHITE, dtype=tf.float32)
    return _matmul_last(xyz, C.XYZ_TO_RGB)


def lab_to_rgb(lab):
    """Lab float (..., 3) -> sRGB float32 (..., 3) in [0, 1] (out-of-gamut colours clipped)."""
    return linear_to_srgb(lab_to_linear(lab))


def rgb_uint8_to_lab(rgb):
    """sRGB uint8 (..., 3) -> Lab float32 (..., 3)."""
    return rgb_to_lab(tf.cast(rgb, tf.float32) / 255.0)


def lab_to_rgb_uint8(lab):
    """Lab float (..., 3) -> sRGB uint8 (..., 3), rounded to the nearest level."""
    return tf.cast(tf.round(lab_to_rgb(lab) * 255.0), tf.uint8)


def lightness_of_uint8(rgb):
    """sRGB uint8 (..., 3) -> L float32 (..., 1), as rgb_uint8_to_lab's L but computing
    neither a nor b, with the linearisation looked up."""
    linear = tf.gather(np_lab.srgb_uint8_to_linear_table(), tf.cast(rgb, tf.int32))
    y_row = (C.RGB_TO_XYZ[1] / C.D65_WHITE[1])[None, :]  # Y / Yn from linear RGB
    t = _matmul_last(linear, y_row)  # (..., 1)
    cube_root = tf.pow(tf.maximum(t, C.LAB_EPSILON), 1.0 / 3.0)
    f = tf.where(t > C.LAB_EPSILON, cube_root, C.LAB_LINEAR_SLOPE * t + C.LAB_LINEAR_OFFSET)
    return 116.0 * f - 16.0


def lab_to_rgb_uint8_by_table(lab):
    """Lab float (..., 3) -> sRGB uint8 (..., 3) within one level of lab_to_rgb_uint8."""
    linear = _clip(lab_to_linear(lab), 0.0, 1.0)
    index = tf.cast(tf.round(linear * np_lab.LINEAR_TABLE_STEPS), tf.int32)
    return tf.gather(np_lab.linear_to_srgb_uint8_table(), index)


def normalize_l(lightness):
    """L in [0, 100] -> network input in [-1, 1]."""
    return lightness / C.L_HALF - 1.0


def denormalize_l(l_norm):
    """Network input in [-1, 1] -> L in [0, 100]."""
    return (l_norm + 1.0) * C.L_HALF


def normalize_ab(ab):
    """ab in Lab units -> network target, about [-1, 1]."""
    return ab / C.AB_SCALE


def denormalize_ab(ab_norm):
    """Network output -> ab in Lab units."""
    return ab_norm * C.AB_SCALE


def split_lab(lab):
    """Lab (..., 3) -> (L (..., 1), ab (..., 2))."""
    return lab[..., :1], lab[..., 1:]


def rgb_to_l_ab_normalized(rgb):
    """sRGB float (..., 3) in [0, 1] -> (L_norm (..., 1), ab_norm (..., 2)), the networks' view."""
    lightness, ab = split_lab(rgb_to_lab(rgb))
    return normalize_l(lightness), normalize_ab(ab)


def l_ab_normalized_to_rgb(l_norm, ab_norm):
    """(L_norm (..., 1), ab_norm (..., 2)) -> sRGB float32 (..., 3) in [0, 1]."""
    lab = tf.concat([denormalize_l(l_norm), denormalize_ab(ab_norm)], axis=-1)
    return lab_to_rgb(lab)
