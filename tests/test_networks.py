"""Contract tests for the networks: shapes, dtypes, ranges, gradients, save/load.

Every network is built with a few channels and run on 32-64 px images, so
the whole file stays fast on a 2-core CPU.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_colorize.color.ab_bins import in_gamut_bins
from keras_colorize.models import (
    CLASSIFICATION_OUTPUT_STRIDE,
    NETWORK_BUILDERS,
    build_classification_net,
    build_patchgan_discriminator,
    build_regression_net,
    build_unet_generator,
    network_stride,
)

WIDTH = 4
NUM_BINS = 7
NUM_DOWNS = 5  # 2**5 = 32: the smallest inputs below
# name -> (builder with tiny arguments, output shape for a (B, H, W) input).
TINY_NETWORKS = {
    "regression": (
        lambda: build_regression_net(width=WIDTH),
        lambda b, h, w: (b, h, w, 2),
    ),
    "classification": (
        lambda: build_classification_net(width=WIDTH, num_bins=NUM_BINS),
        lambda b, h, w: (
            b,
            h // CLASSIFICATION_OUTPUT_STRIDE,
            w // CLASSIFICATION_OUTPUT_STRIDE,
            NUM_BINS,
        ),
    ),
    "generator": (
        lambda: build_unet_generator(width=WIDTH, num_downs=NUM_DOWNS),
        lambda b, h, w: (b, h, w, 2),
    ),
    "discriminator": (
        lambda: build_patchgan_discriminator(width=WIDTH),
        lambda b, h, w: (b, h // 8 - 2, w // 8 - 2, 1),
    ),
}
TANH_NETWORKS = ["regression", "generator"]


def _inputs(model, batch, height, width, seed=0):
    """Random inputs in the networks' ranges: L/50 - 1 and ab/110 in [-1, 1]."""
    rng = np.random.default_rng(seed)
    arrays = [
        rng.uniform(-1.0, 1.0, (batch, height, width, x.shape[-1])).astype("float32")
        for x in model.inputs
    ]
    return arrays if len(arrays) > 1 else arrays[0]


@pytest.fixture
def mixed_bfloat16():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


@pytest.mark.parametrize("name", TINY_NETWORKS)
@pytest.mark.parametrize("height, width", [(32, 32), (32, 64), (64, 32)])
def test_output_shape_and_dtype(name, height, width):
    build, expected_shape = TINY_NETWORKS[name]
    model = build()
    assert model.inputs[0].name == "L"
    y = model(_inputs(model, 2, height, width), training=False)
    assert tuple(y.shape) == expected_shape(2, height, width)
    assert y.dtype == "float32"
    assert np.all(np.isfinite(y))


@pytest.mark.parametrize("name", TANH_NETWORKS)
def test_tanh_output_range(name):
    model = TINY_NETWORKS[name][0]()
    # Large inputs push the pre-activations far out: tanh must still bound them.
    y = model(50.0 * _inputs(model, 2, 32, 32), training=False).numpy()
    assert np.all(np.abs(y) <= 1.0)


@pytest.mark.parametrize("name", TINY_NETWORKS)
def test_output_is_float32_under_mixed_bfloat16(name, mixed_bfloat16):
    model = TINY_NETWORKS[name][0]()
    assert model.layers[-1].compute_dtype == "float32"
    assert any(layer.compute_dtype == "bfloat16" for layer in model.layers)
    y = model(_inputs(model, 2, 32, 32), training=False)
    assert y.dtype == "float32"
    assert np.all(np.isfinite(y))


@pytest.mark.parametrize("name", TINY_NETWORKS)
def test_keras_save_load_round_trip(name, tmp_path):
    model = TINY_NETWORKS[name][0]()
    x = _inputs(model, 2, 32, 64)
    # A training step moves the BatchNorm statistics away from their initial
    # values, so the round trip also covers the non-trainable variables.
    model(x, training=True)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(model(x, training=False), loaded(x, training=False))


@pytest.mark.parametrize("name", TINY_NETWORKS)
def test_every_trainable_variable_gets_a_gradient(name):
    model = TINY_NETWORKS[name][0]()
    x = _inputs(model, 2, 32, 32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x, training=True)))
    grads = tape.gradient(loss, model.trainable_variables)
    missing = [v.path for v, g in zip(model.trainable_variables, grads, strict=True) if g is None]
    assert not missing
    assert all(np.all(np.isfinite(g)) for g in grads)


def test_regression_encoder_at_paper_width_has_128_channels_at_one_eighth():
    model = build_regression_net()
    encoder = keras.Model(model.input, model.get_layer("encoder").output)
    features = encoder(_inputs(model, 1, 32, 64), training=False)
    assert tuple(features.shape) == (1, 4, 8, 128)


def test_classification_default_bins_are_the_derived_in_gamut_bins():
    model = build_classification_net(width=WIDTH)
    assert model.output.shape[-1] == len(in_gamut_bins())


def test_discriminator_takes_named_l_and_ab_inputs():
    model = build_patchgan_discriminator(width=WIDTH)
    assert [x.name for x in model.inputs] == ["L", "ab"]
    assert tuple(model.inputs[1].shape) == (None, None, None, 2)


def test_generator_dropout_only_on_first_three_decoder_blocks():
    model = build_unet_generator(width=WIDTH, num_downs=NUM_DOWNS)
    dropout_layers = [layer.name for layer in model.layers if "dropout" in layer.name]
    assert dropout_layers == ["up1_dropout", "up2_dropout", "up3_dropout"]


def test_network_registry_and_strides():
    assert set(NETWORK_BUILDERS) == {"regression", "classification", "gan"}
    assert network_stride("regression", width=8) == 8
    assert network_stride("classification", num_bins=10) == 8
    assert network_stride("gan") == 2**7
    assert network_stride("gan", num_downs=NUM_DOWNS, width=8) == 2**NUM_DOWNS
    with pytest.raises(ValueError, match="unknown model family"):
        network_stride("vae")
    with pytest.raises(TypeError):
        network_stride("regression", num_downs=3)


@pytest.mark.parametrize("family", ["regression", "classification"])
def test_smallest_stride_multiple_is_accepted(family):
    stride = network_stride(family)
    model = NETWORK_BUILDERS[family](width=WIDTH)
    y = model(_inputs(model, 1, stride, 3 * stride), training=False)
    assert y.shape[0] == 1
