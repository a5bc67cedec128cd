"""Contract tests for the networks: shapes, dtypes, ranges, gradients, save/load.

Every network is built with a few channels and run on 32-64 px images, so
the whole file stays fast on a 2-core CPU.
"""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_colorize import config as config_module
from keras_colorize.color.ab_bins import in_gamut_bins
from keras_colorize.config import make_config
from keras_colorize.models.classification import build_classification_net
from keras_colorize.models.pix2pix import build_patchgan_discriminator, build_unet_generator
from keras_colorize.models.regression import build_regression_net
from keras_colorize.training import families

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
        # Bin scores at a quarter of the input resolution, as in Zhang et al. (56x56 for 224).
        lambda b, h, w: (b, h // 4, w // 4, NUM_BINS),
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


def test_config_and_family_records_name_the_same_families():
    assert (
        set(config_module.FAMILIES)
        == set(families.FAMILIES)
        == {
            "regression",
            "classification",
            "gan",
        }
    )
    for name, family in families.FAMILIES.items():
        assert family.name == name
        model_fields = {f.name for f in dataclasses.fields(config_module.ModelConfig)}
        assert set(family.config_fields) <= model_fields, name


def _colorizer_output_shape(colorizer, height, width):
    """The (H, W) of the colorizer's ab for an L of (height, width), or None if it refuses it."""
    try:
        ab = colorizer(np.zeros((1, height, width, 1), np.float32), training=False)
    except Exception:  # Keras and TF raise several types for mismatched shapes
        return None
    return tuple(ab.shape[1:3])


@pytest.mark.parametrize("name", sorted(families.FAMILIES))
def test_family_stride_is_the_smallest_multiple_the_colorizer_keeps(name):
    """network_stride(model_config) is the factor H and W must be multiples of: at multiples
    of it the colorizer returns ab at the input's own size, and at half-way sizes (multiples
    of every smaller power of two, not of the stride) it fails or changes the size."""
    model_config = make_config(name, "tiny").model
    stride = families.network_stride(model_config)
    assert stride == families.family_of(model_config).stride(model_config)
    colorizer = families.build_float32_trainer(
        model_config, make_config(name, "tiny").train
    ).inference_model()
    for height, width in [(stride, stride), (stride, 3 * stride), (2 * stride, stride)]:
        assert _colorizer_output_shape(colorizer, height, width) == (height, width)
    half_way = 3 * stride // 2  # a multiple of stride / 2, not of the stride
    for height, width in [(half_way, stride), (stride, half_way)]:
        assert _colorizer_output_shape(colorizer, height, width) != (height, width)


def test_gan_stride_follows_the_unet_depth():
    """Each U-Net down-sampling halves the size: a shallower U-Net takes smaller multiples."""
    shallow = make_config("gan", "tiny", {"model.num_downs": 3}).model
    deep = make_config("gan", "tiny", {"model.num_downs": 5}).model
    assert families.network_stride(shallow) == 8  # 2 x 2 x 2
    assert families.network_stride(deep) == 32  # 2 x 2 x 2 x 2 x 2
