"""Custom layers of the networks, each registered so `.keras` files load them."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_colorize")
class BilinearUpsample(keras.layers.Layer):
    """2-D bilinear upsampling by an integer factor that traces with unknown H and W.

    Same result as ``UpSampling2D(factor, interpolation="bilinear")`` (both
    call ``tf.image.resize`` with half-pixel centres), but Keras 3.15's layer
    checks the size in Python, which fails inside a tf.function whose input
    H and W are unknown, as in every exported signature.

    Input (B, h, w, C) -> output (B, factor*h, factor*w, C), same dtype.
    """

    def __init__(self, factor=2, **kwargs):
        super().__init__(**kwargs)
        self.factor = int(factor)

    def call(self, inputs):
        size = tf.shape(inputs)[1:3] * self.factor
        return tf.cast(tf.image.resize(inputs, size, method="bilinear"), inputs.dtype)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        scale = lambda n: None if n is None else n * self.factor  # noqa: E731
        return (batch, scale(height), scale(width), channels)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
