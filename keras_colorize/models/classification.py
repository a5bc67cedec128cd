"""The classification family's network: Zhang, Isola & Efros (ECCV 2016).

A VGG-style stack of eight conv blocks (2-3 conv+ReLU each, BatchNorm at the
end of blocks 1-7) that downsamples three times with strided convs, keeps the
receptive field growing at 1/8 resolution with dilated convs in blocks 5-6,
and comes back to 1/4 resolution with one transposed conv. A 1x1 conv then
scores every quantised ab bin per pixel. The network outputs LOGITS: the
rebalanced soft-encoded cross-entropy and the annealed-mean decoding each
apply their own softmax.
"""

import keras
from keras import layers

from keras_colorize.color.ab_bins import in_gamut_bins
from keras_colorize.models import blocks

# Three stride-2 convs (conv1, conv2, conv3): the body runs at H/8 x W/8.
CLASSIFICATION_STRIDE = 8
# conv8's transposed conv brings the output back to H/4 x W/4: the ab targets
# (soft-encoded bins) must be downsampled by this factor.
CLASSIFICATION_OUTPUT_STRIDE = 4


def build_classification_net(width=64, num_bins=None, guided=False, name="classification"):
    """Builds Zhang et al.'s colorization network as a functional ``keras.Model``.

    Args:
        width: base channel count (64 in the paper: blocks of 64, 128, 256,
            512, 512, 512, 512, 256 channels).
        num_bins: number of quantised ab bins scored per pixel; default: the
            in-gamut count derived by ``quantize.in_gamut_bins`` (262 here,
            313 in the paper: see that function for why they differ).
        name: the model's name.

    Returns:
        A model with one input "L": float (B, H, W, 1), L/50 - 1 in [-1, 1],
        with H and W multiples of ``CLASSIFICATION_STRIDE`` (8). Output:
        float32 (B, H/4, W/4, num_bins) unnormalised logits.
    """
    if num_bins is None:
        num_bins = len(in_gamut_bins())
    inputs, x = blocks.network_inputs(guided)  # x: (B, H, W, 1), or 1 + 3 + 16 channels guided
    x = blocks.vgg_block(x, width, 2, last_strides=2, name="conv1")  # (B, H/2, W/2, w)
    x = blocks.vgg_block(x, 2 * width, 2, last_strides=2, name="conv2")  # (B, H/4, W/4, 2w)
    x = blocks.vgg_block(x, 4 * width, 3, last_strides=2, name="conv3")  # (B, H/8, W/8, 4w)
    x = blocks.vgg_block(x, 8 * width, 3, name="conv4")  # (B, H/8, W/8, 8w)
    # conv5, conv6: dilation 2 ("a trous", Zhang et al. Table 4) widens the
    # receptive field without downsampling further.
    x = blocks.vgg_block(x, 8 * width, 3, dilation_rate=2, name="conv5")  # (B, H/8, W/8, 8w)
    x = blocks.vgg_block(x, 8 * width, 3, dilation_rate=2, name="conv6")  # (B, H/8, W/8, 8w)
    x = blocks.vgg_block(x, 8 * width, 3, name="conv7")  # (B, H/8, W/8, 8w)

    # conv8: 4x4 stride-2 deconv then two 3x3 convs, all ReLU, no BatchNorm
    # (as in Zhang et al.'s deploy prototxt).
    x = layers.Conv2DTranspose(
        4 * width,
        4,
        strides=2,
        padding="same",
        activation="relu",
        kernel_initializer="he_normal",
        name="conv8_1",
    )(x)  # (B, H/4, W/4, 4w)
    for i in (2, 3):
        x = layers.Conv2D(
            4 * width,
            3,
            padding="same",
            activation="relu",
            kernel_initializer="he_normal",
            name=f"conv8_{i}",
        )(x)  # (B, H/4, W/4, 4w)

    # float32 logits: the softmax cross-entropy must not run in bfloat16.
    outputs = layers.Conv2D(num_bins, 1, dtype="float32", name="logits")(x)
    # outputs: (B, H/4, W/4, num_bins)
    return keras.Model(inputs, outputs, name=name)
