"""The lookup-table colour maths agrees with the TF reference ops."""

import numpy as np
import tensorflow as tf

from keras_colorize.color import fullres
from keras_colorize.color.tf_lab import lab_to_rgb_uint8, rgb_uint8_to_lab


def test_lightness_matches_the_tf_ops():
    rgb = np.random.default_rng(0).integers(0, 256, (600, 37, 3), dtype=np.uint8)
    expected = rgb_uint8_to_lab(rgb).numpy()[..., :1]
    got = fullres.lightness(rgb)
    assert got.shape == (600, 37, 1) and got.dtype == np.float32
    assert np.abs(got - expected).max() < 1e-3


def test_recombine_matches_the_tf_ops_within_a_level():
    rng = np.random.default_rng(1)
    lightness = rng.uniform(0, 100, (530, 41, 1)).astype(np.float32)
    ab = rng.uniform(-80, 80, (530, 41, 2)).astype(np.float32)  # same size: no resampling
    expected = lab_to_rgb_uint8(tf.concat([lightness, ab], axis=-1)).numpy()
    got = fullres.recombine(lightness, ab)
    difference = np.abs(got.astype(int) - expected.astype(int))
    assert difference.max() <= 1 and difference.mean() < 0.01


def test_recombine_upsamples_ab_like_tf_image_resize():
    rng = np.random.default_rng(2)
    lightness = np.full((64, 96, 1), 60.0, np.float32)
    ab_small = rng.uniform(-30, 30, (16, 24, 2)).astype(np.float32)
    ab_full = tf.image.resize(ab_small, (64, 96), method="bilinear").numpy()
    expected = lab_to_rgb_uint8(tf.concat([lightness, ab_full], axis=-1)).numpy()
    got = fullres.recombine(lightness, ab_small)
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_gray_round_trip_keeps_every_level():
    levels = np.arange(256, dtype=np.uint8)
    gray = np.repeat(levels[:, None, None], 3, axis=-1)  # (256, 1, 3)
    back = fullres.recombine(fullres.lightness(gray), np.zeros((256, 1, 2), np.float32))
    assert np.abs(back.astype(int) - gray.astype(int)).max() <= 1


def test_gray_lightness_table_gives_the_formula_values():
    gray = np.random.default_rng(4).integers(0, 256, (1100, 23), dtype=np.uint8)
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    formula = fullres._lightness_strip(rgb)
    assert np.abs(fullres.lightness(rgb) - formula).max() < 1e-4  # float rounding only
    almost_gray = rgb.copy()
    almost_gray[1099, 22, 2] ^= 1  # one pixel off gray: the general path, still right
    expected = fullres._lightness_strip(almost_gray)
    assert np.abs(fullres.lightness(almost_gray) - expected).max() < 1e-4
