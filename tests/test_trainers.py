"""The trainers' losses and contracts, on tiny networks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_colorize import constants as C
from keras_colorize.color.ab_bins import in_gamut_bins
from keras_colorize.config import make_config
from keras_colorize.training.families import build_trainer
from keras_colorize.training.trainers import (
    ClassificationTrainer,
    GANTrainer,
    class_weights_from_prior,
)

UNIFORM_PRIOR = np.ones((C.AB_GRID_SIZE, C.AB_GRID_SIZE))


@pytest.fixture(autouse=True)
def restore_policy():
    yield
    keras.mixed_precision.set_global_policy("float32")


def _trainer(family, **overrides):
    config = make_config(family, "tiny", overrides)
    return build_trainer(config.model, config.train, UNIFORM_PRIOR).compile_for(config.train)


def _colour_batch(batch=2, size=32, ab=(40.0, -30.0)):
    l_norm = tf.random.stateless_uniform((batch, size, size, 1), (1, 2), -0.5, 0.5)
    ab_norm = tf.ones((batch, size, size, 2)) * tf.constant(ab) / C.AB_SCALE
    return l_norm, ab_norm


def test_classification_loss_ignores_gray_images():
    trainer = _trainer("classification")
    l_norm, ab_norm = _colour_batch()
    per_example, mask = trainer._per_example_loss(
        l_norm, ab_norm * [[[[1.0]]], [[[0.0]]]], training=False
    )
    assert mask.numpy().tolist() == [True, False]
    assert per_example[0] > 0 and per_example[1] == 0


def test_rebalancing_weights_favour_rare_colours():
    prior = np.zeros((C.AB_GRID_SIZE, C.AB_GRID_SIZE))
    centre = C.AB_GRID_SIZE // 2
    prior[centre, centre] = 1000.0  # a gray-dominated training set
    prior[centre + 4, centre - 3] = 1.0  # one saturated colour, rarely seen
    weights = class_weights_from_prior(prior)
    bins = in_gamut_bins()
    gray = np.flatnonzero((bins == 0).all(axis=1))[0]
    colour = np.flatnonzero((bins == [40, -30]).all(axis=1))[0]
    assert weights[colour] > 5 * weights[gray]


def test_classification_colorizer_is_full_resolution_and_saves(tmp_path):
    trainer = _trainer("classification")
    colorizer = trainer.inference_model()
    l_norm = np.random.default_rng(0).uniform(-1, 1, (1, 32, 48, 1)).astype(np.float32)
    ab = colorizer(l_norm).numpy()
    assert ab.shape == (1, 32, 48, 2)
    assert np.abs(ab).max() <= np.abs(in_gamut_bins()).max() / C.AB_SCALE + 1e-6
    colorizer.save(tmp_path / "c.keras")
    loaded = keras.saving.load_model(tmp_path / "c.keras")
    np.testing.assert_allclose(loaded(l_norm).numpy(), ab, atol=1e-6)
    assert loaded.get_layer("annealed_mean").temperature == pytest.approx(C.ANNEALED_MEAN_T)


def test_classification_chroma_gain_from_the_config_scales_the_colorizer_only():
    """model.chroma_gain multiplies the decoded colour; the network (and its loss) is unchanged."""
    plain = _trainer("classification")
    gained = _trainer("classification", **{"model.chroma_gain": 1.25})
    gained.network.set_weights(plain.network.get_weights())
    l_norm = np.random.default_rng(1).uniform(-1, 1, (1, 32, 32, 1)).astype(np.float32)
    np.testing.assert_allclose(
        gained.colorizer(l_norm).numpy(), 1.25 * plain.colorizer(l_norm).numpy(), atol=1e-5
    )
    assert gained.colorizer.get_layer("annealed_mean").chroma_gain == 1.25


def test_classification_learns_a_constant_colour():
    """A few steps on one colour move the decoded prediction towards it: the loss is wired right."""
    trainer = _trainer("classification", **{"train.learning_rate": 3e-3})
    batch = _colour_batch(batch=4)
    before = float(
        tf.reduce_mean(tf.norm(trainer.colorize(batch[0]) * C.AB_SCALE - [40.0, -30.0], axis=-1))
    )
    trainer.fit(tf.data.Dataset.from_tensors(batch).repeat(30), epochs=1, verbose=0)
    after = float(
        tf.reduce_mean(tf.norm(trainer.colorize(batch[0]) * C.AB_SCALE - [40.0, -30.0], axis=-1))
    )
    assert after < 0.5 * before


def test_gan_under_float16_scales_both_optimizers_and_trains_finite():
    keras.mixed_precision.set_global_policy("mixed_float16")
    keras.utils.set_random_seed(0)  # the weights decide whether the first scaled steps overflow
    trainer = _trainer("gan")
    assert isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(trainer.d_optimizer, keras.optimizers.LossScaleOptimizer)
    batch = _colour_batch()
    trainer.discriminator([batch[0], batch[1]])
    d_before = [w.numpy().copy() for w in trainer.discriminator.trainable_weights]
    history = trainer.fit(tf.data.Dataset.from_tensors(batch).repeat(3), epochs=1, verbose=0)
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    d_after = trainer.discriminator.trainable_weights
    assert all(np.isfinite(w.numpy()).all() for w in d_after)
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(d_before, d_after, strict=True))
    assert trainer.discriminator.trainable_weights[0].dtype == "float32"


def test_gan_compile_config_round_trip():
    trainer = _trainer("gan", **{"train.d_learning_rate": 1e-3})
    config = trainer.get_compile_config()
    fresh = _trainer("gan")
    fresh.compile_from_config(config)
    assert float(fresh.d_optimizer.learning_rate) == pytest.approx(1e-3)
    assert float(fresh.optimizer.learning_rate) == pytest.approx(2e-4)


def test_gan_discriminator_and_generator_both_learn():
    trainer = _trainer("gan")
    batch = _colour_batch()
    trainer(batch[0])
    trainer.discriminator([batch[0], batch[1]])
    g_before = [w.numpy().copy() for w in trainer.network.trainable_weights]
    d_before = [w.numpy().copy() for w in trainer.discriminator.trainable_weights]
    trainer.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0)
    assert all(
        not np.array_equal(a, w.numpy())
        for a, w in zip(g_before, trainer.network.trainable_weights, strict=True)
    )
    assert all(
        not np.array_equal(a, w.numpy())
        for a, w in zip(d_before, trainer.discriminator.trainable_weights, strict=True)
    )


def test_trainer_types():
    assert isinstance(_trainer("classification"), ClassificationTrainer)
    assert isinstance(_trainer("gan"), GANTrainer)
    with pytest.raises(ValueError, match="prior"):
        config = make_config("classification", "tiny")
        build_trainer(config.model, config.train, None)
