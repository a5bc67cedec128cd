"""The regression trainer's chroma term: it penalises too little chroma, never too much."""

import keras
import numpy as np
import tensorflow as tf

from keras_colorize.training.trainers import RegressionTrainer


def _constant_network(ab):
    """A 'network' whose prediction is ``ab`` at every pixel, whatever L it sees."""
    inputs = keras.Input((4, 4, 1), name="L")
    outputs = keras.layers.Lambda(lambda x: tf.zeros_like(x[..., :1]) + tf.constant(ab))(inputs)
    return keras.Model(inputs, outputs)


def _loss(prediction, truth, chroma_weight):
    trainer = RegressionTrainer(_constant_network(prediction), chroma_weight=chroma_weight)
    l_norm = tf.zeros((1, 4, 4, 1))
    ab_norm = tf.zeros((1, 4, 4, 2)) + tf.constant(truth)
    return float(trainer._loss(l_norm, ab_norm, training=False))


def test_chroma_term_charges_only_a_shortfall():
    truth = [0.3, 0.4]  # chroma 0.5
    paler, bolder = [0.15, 0.2], [0.45, 0.6]  # chroma 0.25 and 0.75, same hue, same MSE
    mse = (0.15**2 + 0.2**2) / 2  # the mean over a and b
    np.testing.assert_allclose(_loss(paler, truth, 0.0), mse, rtol=1e-5)
    np.testing.assert_allclose(_loss(paler, truth, 2.0), mse + 2.0 * 0.25**2, rtol=1e-4)
    np.testing.assert_allclose(_loss(bolder, truth, 2.0), mse, rtol=1e-4)
