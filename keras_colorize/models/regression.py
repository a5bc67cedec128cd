"""The regression family's network: a truncated ResNet-18 encoder and a conv decoder.

Li et al. take torchvision's ResNet-18 with a 1-channel first conv and keep
its first six children (conv1, bn1, relu, maxpool, layer1, layer2), giving
128 channels at 1/8 resolution; an upsampling conv decoder then regresses the
two ab channels, trained with an L2 loss. The encoder here rebuilds those six
children layer for layer (no pretrained weights: the input is one channel).
"""

import keras
from keras import layers

from keras_colorize.models import blocks
from keras_colorize.models.layers import BilinearUpsample

# conv1 (7x7/2) + maxpool (/2) + layer2 (/2): the encoder sees H/8 x W/8.
REGRESSION_STRIDE = 8
# Decoder stages, each a 2x upsample: they undo the encoder's three halvings.
_DECODER_STAGES = 3


def build_regression_net(width=64, guided=False, name="regression"):
    """Builds the regression network as a functional ``keras.Model``.

    Args:
        width: base channel count; the paper's ResNet-18 uses 64, so the
            encoder ends with ``2 * width`` = 128 channels. Must be a multiple
            of 4 (the decoder halves it twice).
        guided: also take colour hints and a reference distribution
            (blocks.network_inputs), read by the first conv.
        name: the model's name.

    Returns:
        A model with one input "L": float (B, H, W, 1), L/50 - 1 in [-1, 1],
        with H and W multiples of ``REGRESSION_STRIDE`` (8). Output: float32
        (B, H, W, 2), ab/110 in (-1, 1) (tanh). The layer "encoder" outputs
        the encoder features (B, H/8, W/8, 2 * width).
    """
    if width % 4:
        raise ValueError(f"width must be a multiple of 4, got {width}")
    inputs, x = blocks.network_inputs(guided)  # x: (B, H, W, 1), or 1 + 3 + 16 channels guided

    # --- ResNet-18 children 1-6 --------------------------------------------
    x = blocks.conv_bn_relu(x, width, 7, strides=2, name="conv1")  # (B, H/2, W/2, w)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="maxpool")(x)  # (B, H/4, W/4, w)
    x = blocks.basic_block(x, width, name="layer1_0")  # (B, H/4, W/4, w)
    x = blocks.basic_block(x, width, name="layer1_1")  # (B, H/4, W/4, w)
    x = blocks.basic_block(x, 2 * width, strides=2, name="layer2_0")  # (B, H/8, W/8, 2w)
    x = blocks.basic_block(x, 2 * width, name="layer2_1")  # (B, H/8, W/8, 2w)
    x = layers.Identity(name="encoder")(x)  # (B, H/8, W/8, 2w)

    # --- Decoder: 3 x (2x bilinear upsample, conv3x3-BN-ReLU halving channels) ---
    # Bilinear rather than nearest upsampling avoids 2x2 blocks in the chroma.
    filters = 2 * width
    for stage in range(1, _DECODER_STAGES + 1):
        filters //= 2
        x = BilinearUpsample(2, name=f"up{stage}")(x)
        x = blocks.conv_bn_relu(x, filters, 3, name=f"decoder{stage}")
    # x: (B, H, W, w/4)

    # float32 so that mixed-precision training still computes the loss on a
    # float32 prediction; tanh because ab/110 lies in about [-1, 1].
    head = layers.Conv2D(2, 3, padding="same", activation="tanh", dtype="float32", name="ab")
    outputs = head(x)  # (B, H, W, 2)
    return keras.Model(inputs, outputs, name=name)
