"""sRGB <-> Lab in TF ops against scikit-image's float64 implementation."""

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from PIL import Image
from skimage import color as skcolor

from keras_colorize.color import np_lab, tf_lab
from tests.conftest import photo_paths


def _random_rgb(shape, seed=0):
    rgb = np.random.default_rng(seed).random(shape)
    rgb.reshape(-1, 3)[:8] = np.array(  # the cube's corners: extremes of the gamut
        [[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1]]
    )
    return rgb


def test_rgb_to_lab_matches_skimage_on_random_colours():
    rgb = _random_rgb((3, 41, 37, 3))
    np.testing.assert_array_less(
        np.abs(tf_lab.rgb_to_lab(rgb).numpy() - skcolor.rgb2lab(rgb)), 0.01
    )


def test_rgb_to_lab_matches_skimage_on_real_photos():
    for path in photo_paths()[:4]:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        reference = skcolor.rgb2lab(rgb)
        got = tf_lab.rgb_uint8_to_lab(rgb).numpy()
        assert got.shape == rgb.shape
        assert np.abs(got - reference).max() < 0.01, path


def test_lab_to_rgb_matches_skimage():
    lab = skcolor.rgb2lab(_random_rgb((1000, 3), seed=1))
    np.testing.assert_allclose(tf_lab.lab_to_rgb(lab).numpy(), skcolor.lab2rgb(lab), atol=1e-4)


def test_uint8_round_trip_over_the_rgb_cube_is_exact_to_a_level():
    levels = np.arange(0, 256, 3, dtype=np.uint8)
    cube = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 3)
    back = tf_lab.lab_to_rgb_uint8(tf_lab.rgb_uint8_to_lab(cube)).numpy()
    assert np.abs(back.astype(int) - cube.astype(int)).max() <= 1


def test_float_round_trip_within_one_level():
    rgb = _random_rgb((2, 16, 24, 3), seed=2)
    back = tf_lab.lab_to_rgb(tf_lab.rgb_to_lab(rgb)).numpy()
    assert np.abs(back - rgb).max() < 1 / 255


def test_out_of_gamut_lab_is_clipped_into_rgb_range():
    lab = np.array([[100.0, 120.0, -120.0], [0.0, -128.0, 127.0], [50.0, 0.0, 0.0]])
    rgb = tf_lab.lab_to_rgb(lab).numpy()
    assert np.isfinite(rgb).all() and rgb.min() >= 0 and rgb.max() <= 1


@pytest.mark.parametrize("shape", [(3,), (5, 7, 3), (2, 9, 4, 3)])
def test_any_leading_shape(shape):
    rgb = np.random.default_rng(3).random(shape)
    assert tf_lab.rgb_to_lab(rgb).shape == shape
    assert tf_lab.lab_to_rgb(tf_lab.rgb_to_lab(rgb)).shape == shape


def test_normalisation_is_inverted_and_in_range():
    rgb = _random_rgb((4, 8, 8, 3), seed=4)
    l_norm, ab_norm = tf_lab.rgb_to_l_ab_normalized(rgb)
    assert l_norm.shape == (4, 8, 8, 1) and ab_norm.shape == (4, 8, 8, 2)
    assert -1 <= l_norm.numpy().min() and l_norm.numpy().max() <= 1
    assert np.abs(ab_norm.numpy()).max() <= 1
    np.testing.assert_allclose(
        tf_lab.l_ab_normalized_to_rgb(l_norm, ab_norm).numpy(), rgb, atol=1e-4
    )


def test_graph_with_unknown_shape_and_tflite_builtins_only():
    """The conversion must trace with unknown B, H, W and use TFLite builtin ops only."""

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])
    def round_trip(rgb):
        return tf_lab.lab_to_rgb_uint8(tf_lab.rgb_uint8_to_lab(rgb))

    graph_ops = {op.type for op in round_trip.get_concrete_function().graph.get_operations()}
    assert "ClipByValue" not in graph_ops
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [round_trip.get_concrete_function()], round_trip
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    model = converter.convert()  # raises if an op is not a TFLite builtin

    interpreter = Interpreter(model_content=model)
    image = np.random.default_rng(5).integers(0, 256, (1, 6, 10, 3), dtype=np.uint8)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, image.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, image)
    interpreter.invoke()
    out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    assert np.abs(out.astype(int) - image.astype(int)).max() <= 1


def test_lightness_by_table_matches_the_full_conversion():
    rgb = np.random.default_rng(5).integers(0, 256, (2, 300, 41, 3), dtype=np.uint8)
    expected = tf_lab.rgb_uint8_to_lab(rgb)[..., :1].numpy()
    got = tf_lab.lightness_of_uint8(rgb).numpy()
    assert got.shape == expected.shape and np.abs(got - expected).max() < 1e-4


def test_lab_to_rgb_by_table_is_within_a_level_also_out_of_gamut():
    rng = np.random.default_rng(6)
    lab = np.stack(
        [
            rng.uniform(0, 100, 200_000),
            rng.uniform(-128, 128, 200_000),
            rng.uniform(-128, 128, 200_000),
        ],
        axis=-1,
    ).astype(np.float32)
    expected = tf_lab.lab_to_rgb_uint8(lab).numpy().astype(int)
    got = tf_lab.lab_to_rgb_uint8_by_table(lab).numpy()
    assert got.dtype == np.uint8
    difference = np.abs(got.astype(int) - expected)
    assert difference.max() <= 1 and difference.mean() < 0.01


def test_lookup_tables_can_be_first_built_inside_a_traced_function():
    np_lab.srgb_uint8_to_linear_table.cache_clear()
    np_lab.linear_to_srgb_uint8_table.cache_clear()

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)])
    def round_trip(rgb):
        lab = tf.concat(
            [tf_lab.lightness_of_uint8(rgb), tf.zeros_like(rgb[..., :2], tf.float32)], -1
        )
        return tf_lab.lab_to_rgb_uint8_by_table(lab)

    gray = np.repeat(np.arange(256, dtype=np.uint8)[:, None, None], 3, axis=-1)
    assert np.abs(round_trip(gray).numpy().astype(int) - gray).max() <= 1


def test_numpy_tables_equal_the_tf_transfer_functions():
    # The numpy tables are what both colour paths use; the TF functions are
    # the formulas the networks were trained with.
    levels = tf.range(256, dtype=tf.float32) / 255.0
    expected = tf_lab.srgb_to_linear(levels).numpy()
    assert np.abs(np_lab.srgb_uint8_to_linear_table() - expected).max() < 1e-6
    linear = tf.range(np_lab.LINEAR_TABLE_STEPS + 1, dtype=tf.float32) / np_lab.LINEAR_TABLE_STEPS
    exact = tf_lab.linear_to_srgb(linear).numpy() * 255.0
    table = np_lab.linear_to_srgb_uint8_table().astype(np.float64)
    # Rounded: within half a level of the TF curve, up to float32 noise at a .5 boundary.
    assert np.abs(table - exact).max() <= 0.5 + 1e-3


def test_numpy_lab_of_uint8_matches_skimage():
    rgb = np.rint(_random_rgb((2000, 3), seed=9) * 255.0).astype(np.uint8)
    expected = skcolor.rgb2lab(rgb / 255.0)
    assert np.abs(np_lab.rgb_uint8_to_lab(rgb) - expected).max() < 0.01


def test_gray_rgb_of_a_lightness_has_that_lightness():
    levels = np.arange(256, dtype=np.uint8)
    gray = np.repeat(levels[:, None], 3, axis=-1)  # (256, 3)
    lightness = skcolor.rgb2lab(gray / 255.0)[:, :1]  # (256, 1)
    assert np.array_equal(np_lab.gray_rgb_uint8(lightness), gray)
