"""Custom layers of the networks, each registered so `.keras` files load them."""

import keras
import tensorflow as tf

from keras_colorize import constants as C
from keras_colorize.color import tf_lab


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


@keras.saving.register_keras_serializable(package="keras_colorize")
class LightnessToImageNetRGB(keras.layers.Layer):
    """Normalised lightness -> the gray photo an ImageNet encoder expects, preprocessed.

    L/50 - 1 (B, H, W, 1) -> the sRGB gray level of that lightness (a = b = 0:
    linear R = G = B = Y/Yn), scaled to [0, 255], mapped by (x - mean) / scale
    and repeated to three channels: (B, H, W, 3). A pretrained encoder thus sees
    a real gray photo, as in ImageNet; every op is a TFLite builtin.
    """

    def __init__(self, mean=127.0, scale=128.0, **kwargs):
        super().__init__(**kwargs)
        self.mean = float(mean)
        self.scale = float(scale)

    def call(self, inputs):
        l_norm = tf.cast(inputs, tf.float32)
        fy = ((l_norm + 1.0) * C.L_HALF + 16.0) / 116.0  # f(Y/Yn) of CIE Lab
        breakpoint = C.LAB_EPSILON ** (1.0 / 3.0)
        y = tf.where(fy > breakpoint, fy * fy * fy, (fy - C.LAB_LINEAR_OFFSET) / C.LAB_LINEAR_SLOPE)
        srgb = tf_lab.linear_to_srgb(y)  # the gray level's sRGB value (it clips to [0, 1])
        gray = (srgb * 255.0 - self.mean) / self.scale  # (B, H, W, 1)
        return tf.cast(tf.concat([gray, gray, gray], axis=-1), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "scale": self.scale}


@keras.saving.register_keras_serializable(package="keras_colorize")
class HintPool(keras.layers.Layer):
    """A hint map -> the same hints at 1/stride resolution, for a decoder stage of that stride.

    Input (B, H, W, 3): ab/110 where channel 2 (the mask) is 1. Output
    (B, H/s, W/s, 3): each cell's mean hinted ab (0 where none) and whether
    it holds any hint (max-pooled mask), so a one-pixel hint still reaches
    the coarsest stage. float32 whatever the policy: the mean divides by
    small coverages. stride 1 passes the map through.
    """

    def __init__(self, stride, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.stride = int(stride)

    def call(self, inputs):
        hints = tf.cast(inputs, tf.float32)
        if self.stride == 1:
            return hints
        ab, mask = hints[..., :2], hints[..., 2:]
        size, strides = [1, self.stride, self.stride, 1], [1, self.stride, self.stride, 1]
        ab_sum = tf.nn.avg_pool2d(ab * mask, size, strides, "VALID")
        coverage = tf.nn.avg_pool2d(mask, size, strides, "VALID")
        mean_ab = ab_sum / tf.maximum(coverage, 1e-6)  # 0 / eps = 0 where no hint
        any_hint = tf.nn.max_pool2d(mask, size, strides, "VALID")
        return tf.concat([mean_ab, any_hint], axis=-1)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        scale = lambda n: None if n is None else n // self.stride  # noqa: E731
        return (batch, scale(height), scale(width), channels)

    def get_config(self):
        return {**super().get_config(), "stride": self.stride}


@keras.saving.register_keras_serializable(package="keras_colorize")
class SpatialBroadcast(keras.layers.Layer):
    """[vector (B, C), feature map (B, H, W, any)] -> the vector at every pixel (B, H, W, C).

    How a global input (a reference photo's colour distribution) joins a
    fully convolutional network of any input size.
    """

    def call(self, inputs):
        vector, like = inputs
        zeros = tf.zeros_like(like[..., :1], dtype=self.compute_dtype)  # (B, H, W, 1)
        return zeros + tf.cast(vector, self.compute_dtype)[:, None, None, :]

    def compute_output_shape(self, input_shape):
        vector_shape, like_shape = input_shape
        return (*like_shape[:3], vector_shape[-1])


@keras.saving.register_keras_serializable(package="keras_colorize")
class HintFill(keras.layers.Layer):
    """A hint map -> each hint's colour spread over the image at several scales, full resolution.

    For each stride s: the hinted ab and the mask are average-pooled by s and
    upsampled back bilinearly, and their ratio is the hints' mean colour
    around each pixel at that scale (normalised convolution); a confidence
    n / (1 + n), n the number of hinted pixels that reached it, says how much
    of it there is. Input (B, H, W, 3), H and W multiples of the largest
    stride; output (B, H, W, 3 * (len(strides) + 1)): [fill a, fill b,
    confidence] per stride, then for the whole image. The decoder then only
    has to choose, per pixel, which scale's colour to trust (an object's edge
    in L says so) instead of learning to carry a click across the image, which
    a few hundred photos cannot teach.
    """

    def __init__(self, strides=(2, 4, 8, 16, 32), **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.strides = tuple(int(s) for s in strides)

    def call(self, inputs):
        hints = tf.cast(inputs, tf.float32)
        mask = hints[..., 2:]
        weighted = tf.concat([hints[..., :2] * mask, mask], axis=-1)  # (B, H, W, 3)
        size = tf.shape(hints)[1:3]
        outputs = []
        for stride in self.strides:
            pooled = tf.nn.avg_pool2d(weighted, stride, stride, "VALID")
            spread = tf.image.resize(pooled, size, method="bilinear")  # (B, H, W, 3)
            coverage = spread[..., 2:]
            fill = spread[..., :2] / tf.maximum(coverage, 1e-6)
            count = coverage * float(stride * stride)
            outputs += [fill * tf.cast(coverage > 1e-6, tf.float32), count / (1.0 + count)]
        # The coarsest scale: the whole image (every hint reaches every pixel).
        total = tf.reduce_sum(weighted, axis=[1, 2], keepdims=True)  # (B, 1, 1, 3)
        count = total[..., 2:]
        fill = total[..., :2] / tf.maximum(count, 1e-6)
        whole = tf.concat([fill, count / (1.0 + count)], axis=-1)
        outputs.append(tf.zeros_like(mask) + whole)  # (B, H, W, 3)
        return tf.concat(outputs, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3 * (len(self.strides) + 1))

    def get_config(self):
        return {**super().get_config(), "strides": list(self.strides)}


@keras.saving.register_keras_serializable(package="keras_colorize")
class SquareRoot(keras.layers.Layer):
    """x -> sqrt(max(x, 0)): a colour distribution's Hellinger embedding.

    A reference histogram spreads its mass over hundreds of bins, so most of
    its entries are tiny; their square roots lie in a range a Dense layer
    reads from its first step, and the Euclidean distance between two roots
    is the Hellinger distance of the distributions.
    """

    def call(self, inputs):
        return tf.sqrt(tf.maximum(tf.cast(inputs, self.compute_dtype), 0.0))
