"""Building blocks shared by the colorization networks.

Each block is a function ``block(x, filters, ..., name=...) -> tensor`` that
adds standard Keras layers to a functional graph, so the builders in
``regression.py``, ``classification.py`` and ``pix2pix.py`` read as the
architecture listings of their papers. Blocks use Keras' built-in layers and
the project's registered custom layers (keras_colorize.models.layers), so
``.keras`` files reload them.

Every layer gets a name derived from the block's ``name`` so that
``model.summary()`` mirrors the papers' layer names and tests can pick out
intermediate tensors (e.g. the regression encoder's output).
"""

import keras
from keras import layers

from keras_colorize.models.layers import SpatialBroadcast, SquareRoot

# The three papers trained in Torch/Caffe/PyTorch, whose batch norm keeps 90%
# of the running statistics per step and adds 1e-5 to the variance. Keras's
# defaults (0.99, 1e-3) make the moving statistics lag by ~100 steps, which
# matters for the short schedules of the paper (5 epochs of 8k images).
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5

# pix2pix (Isola et al. 2017, section 6.2) draws all weights from N(0, 0.02).
PIX2PIX_INIT_STDDEV = 0.02
# pix2pix: "All ReLUs in the encoder are leaky, with slope 0.2."
LEAKY_RELU_SLOPE = 0.2


def lightness_input():
    """The networks' common input: normalised lightness L/50 - 1, float (B, H, W, 1)."""
    return keras.Input(shape=(None, None, 1), name="L")


def guidance_inputs():
    """A guided network's two further inputs (keras_colorize.guidance.hints has the layout).

    Returns (hints (B, H, W, 3), reference (B, REFERENCE_BINS)) Keras inputs.
    """
    from keras_colorize.contract import HINT_CHANNELS, REFERENCE_BINS

    hints = keras.Input(shape=(None, None, HINT_CHANNELS), name="hints")
    reference = keras.Input(shape=(REFERENCE_BINS,), name="reference")
    return hints, reference


def reference_embedding(reference, channels, name):
    """A reference distribution (B, R) -> a learned embedding (B, channels) of its square root."""
    root = SquareRoot(name=f"{name}_sqrt")(reference)
    return layers.Dense(channels, activation="relu", name=f"{name}_embed")(root)


def reference_features(reference, like, channels, name):
    """A reference distribution (B, R) -> a learned embedding at every pixel of ``like``."""
    embedded = reference_embedding(reference, channels, name)
    return SpatialBroadcast(name=f"{name}_broadcast")([embedded, like])


def network_inputs(guided, reference_channels=16):
    """The inputs of a network trained from scratch, and the tensor its first layer reads.

    Unguided: the L input itself. Guided (Zhang, Zhu et al. 2017): L, the hint
    map and an embedding of the reference distribution at every pixel,
    concatenated (B, H, W, 1 + 3 + reference_channels): the network sees the
    hints from its first layer on.

    Returns (inputs: one Input or a list [L, hints, reference], tensor).
    """
    lightness = lightness_input()
    if not guided:
        return lightness, lightness
    hints, reference = guidance_inputs()
    spread = reference_features(reference, lightness, reference_channels, "reference")
    x = layers.Concatenate(name="guided_input")([lightness, hints, spread])
    return [lightness, hints, reference], x


def batch_norm(name):
    """A BatchNormalization layer with the papers' momentum and epsilon."""
    return layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)


def pix2pix_initializer():
    """A fresh N(0, 0.02) initializer.

    A new instance per layer: an unseeded Keras initializer fixes its seed at
    construction, so one shared instance would give same-shaped layers
    identical weights.
    """
    return keras.initializers.RandomNormal(mean=0.0, stddev=PIX2PIX_INIT_STDDEV)


def conv_bn_relu(x, filters, kernel_size=3, strides=1, name="conv"):
    """Conv (no bias: the batch norm's beta replaces it) -> BatchNorm -> ReLU."""
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name=f"{name}_conv",
    )(x)
    x = batch_norm(f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def basic_block(x, filters, strides=1, name="block"):
    """ResNet BasicBlock (He et al. 2016): two 3x3 conv-BN with an identity shortcut.

    When the block changes resolution or width, the shortcut is a strided 1x1
    conv + BN (torchvision's ``downsample``). Output: (B, H/strides, W/strides, filters).
    """
    shortcut = x
    y = conv_bn_relu(x, filters, 3, strides, name=f"{name}_1")
    y = layers.Conv2D(
        filters,
        3,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name=f"{name}_2_conv",
    )(y)
    y = batch_norm(f"{name}_2_bn")(y)
    if strides != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(
            filters,
            1,
            strides=strides,
            use_bias=False,
            kernel_initializer="he_normal",
            name=f"{name}_proj_conv",
        )(x)
        shortcut = batch_norm(f"{name}_proj_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.ReLU(name=f"{name}_out")(y)


def vgg_block(x, filters, num_convs, last_strides=1, dilation_rate=1, name="conv"):
    """Zhang et al. (2016) block: ``num_convs`` x (3x3 conv + ReLU), then BatchNorm.

    The last conv carries the block's stride (Zhang downsamples with strided
    convs, not pooling). Output: (B, H/last_strides, W/last_strides, filters).
    """
    for i in range(num_convs):
        strides = last_strides if i == num_convs - 1 else 1
        x = layers.Conv2D(
            filters,
            3,
            strides=strides,
            dilation_rate=dilation_rate,
            padding="same",
            activation="relu",
            kernel_initializer="he_normal",
            name=f"{name}_{i + 1}",
        )(x)
    return batch_norm(f"{name}_norm")(x)


def pix2pix_down(x, filters, apply_batchnorm=True, name="down"):
    """pix2pix encoder block Ck: 4x4 stride-2 conv -> [BatchNorm] -> LeakyReLU(0.2).

    Output: (B, H/2, W/2, filters).
    """
    x = layers.Conv2D(
        filters,
        4,
        strides=2,
        padding="same",
        use_bias=not apply_batchnorm,
        kernel_initializer=pix2pix_initializer(),
        name=f"{name}_conv",
    )(x)
    if apply_batchnorm:
        x = batch_norm(f"{name}_bn")(x)
    return layers.LeakyReLU(negative_slope=LEAKY_RELU_SLOPE, name=f"{name}_lrelu")(x)


def pix2pix_up(x, filters, dropout=0.0, name="up"):
    """pix2pix decoder block Ck / CDk: 4x4 stride-2 transposed conv -> BatchNorm
    -> [Dropout] -> ReLU.

    Output: (B, 2H, 2W, filters).
    """
    x = layers.Conv2DTranspose(
        filters,
        4,
        strides=2,
        padding="same",
        use_bias=False,
        kernel_initializer=pix2pix_initializer(),
        name=f"{name}_deconv",
    )(x)
    x = batch_norm(f"{name}_bn")(x)
    if dropout:
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return layers.ReLU(name=f"{name}_relu")(x)
