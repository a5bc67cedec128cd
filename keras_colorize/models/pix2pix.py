"""The GAN family's networks: pix2pix's U-Net generator and PatchGAN discriminator.

Isola et al., "Image-to-Image Translation with Conditional Adversarial
Networks" (CVPR 2017), appendix 6.1, as in the tensorflow/examples pix2pix
tutorial. The generator maps L to ab; the discriminator scores overlapping
70x70 patches (for ``num_layers=3``) of the pair (L, ab) as real or fake with
linear outputs, for the least-squares GAN loss.

One deliberate departure from the tutorial, following the authors' Torch and
PyTorch code: the innermost encoder block has no BatchNorm. With
``num_downs=7`` on 128x128 inputs the bottleneck is 1x1, so a BatchNorm there
normalises over the batch alone; at batch size 1 its output would be the
constant beta and no information would cross the bottleneck.
"""

import keras
from keras import layers

from keras_colorize.models import blocks

# Channels double per level up to 8 x width (C64-C128-C256-C512-C512-...).
MAX_WIDTH_MULTIPLIER = 8
# pix2pix: dropout on the first three decoder blocks (CD512-CD512-CD512).
NUM_DROPOUT_BLOCKS = 3
# unet_128: seven halvings take 128x128 to a 1x1 bottleneck.
DEFAULT_NUM_DOWNS = 7


def unet_stride(num_downs=DEFAULT_NUM_DOWNS):
    """The U-Net's total downsampling: input H and W must be multiples of it."""
    return 2**num_downs


def _channels(width, level):
    """Channels at encoder level ``level`` (0-based): min(width * 2**level, 8 * width)."""
    return width * min(2**level, MAX_WIDTH_MULTIPLIER)


def build_unet_generator(
    width=64, num_downs=DEFAULT_NUM_DOWNS, dropout=0.5, guided=False, name="generator"
):
    """Builds the pix2pix U-Net generator as a functional ``keras.Model``.

    Encoder C64-C128-C256-C512-C512-C512-C512 (for width 64, num_downs 7) of
    4x4 stride-2 convs with LeakyReLU 0.2, BatchNorm on all but the first and
    the innermost block; decoder mirrors it with 4x4 stride-2 transposed convs,
    BatchNorm, ReLU and dropout on the first three blocks, each followed by a
    concatenation with the encoder feature of the same resolution.

    Args:
        width: channels of the first encoder block (ngf, 64 in the paper).
        num_downs: number of stride-2 encoder blocks; 7 suits 128x128 inputs.
        dropout: rate of the first three decoder blocks' dropout (0 disables).
        guided: also take colour hints and a reference distribution
            (blocks.network_inputs), read by the first conv.
        name: the model's name.

    Returns:
        A model with one input "L": float (B, H, W, 1), L/50 - 1 in [-1, 1],
        with H and W multiples of ``unet_stride(num_downs)`` = 2**num_downs.
        Output: float32 (B, H, W, 2), ab/110 in (-1, 1) (tanh).
    """
    if num_downs < 2:
        raise ValueError(f"num_downs must be at least 2, got {num_downs}")
    inputs, x = blocks.network_inputs(guided)  # x: (B, H, W, 1), or 1 + 3 + 16 channels guided
    skips = []
    for level in range(num_downs):
        # No BatchNorm on the first block (pix2pix) nor on the bottleneck (see module doc).
        x = blocks.pix2pix_down(
            x,
            _channels(width, level),
            apply_batchnorm=0 < level < num_downs - 1,
            name=f"down{level + 1}",
        )  # (B, H/2**(level+1), W/2**(level+1), min(2**level, 8) w)
        skips.append(x)

    # The bottleneck has no skip; each decoder block restores the channels of
    # the encoder feature it is concatenated with.
    for i, skip in enumerate(reversed(skips[:-1])):
        x = blocks.pix2pix_up(
            x,
            skip.shape[-1],
            dropout=dropout if i < NUM_DROPOUT_BLOCKS else 0.0,
            name=f"up{i + 1}",
        )  # (B, h, w, c) = skip's shape
        x = layers.Concatenate(name=f"skip{i + 1}")([x, skip])  # (B, h, w, 2c)
    # x: (B, H/2, W/2, 2w)

    # float32 so that mixed-precision training still computes the losses on a
    # float32 prediction; tanh because ab/110 lies in about [-1, 1].
    outputs = layers.Conv2DTranspose(
        2,
        4,
        strides=2,
        padding="same",
        activation="tanh",
        kernel_initializer=blocks.pix2pix_initializer(),
        dtype="float32",
        name="ab",
    )(x)  # (B, H, W, 2)
    return keras.Model(inputs, outputs, name=name)


def build_patchgan_discriminator(width=64, num_layers=3, name="discriminator"):
    """Builds the pix2pix PatchGAN discriminator as a functional ``keras.Model``.

    C64-C128-C256-C512 (for width 64, num_layers 3): ``num_layers`` 4x4
    stride-2 convs, then one 4x4 stride-1 conv, all with LeakyReLU 0.2 and
    BatchNorm on all but the first; a final 4x4 stride-1 conv gives one
    linear score per patch. The stride-1 convs pad by 1 on each side as in
    the reference code, which fixes the 70x70 receptive field and makes each
    of them shrink the map by 1 pixel.

    Args:
        width: channels of the first conv (ndf, 64 in the paper).
        num_layers: number of stride-2 convs (3 gives the 70x70 PatchGAN).
        name: the model's name.

    Returns:
        A model with inputs "L": float (B, H, W, 1), L/50 - 1 in [-1, 1], and
        "ab": float (B, H, W, 2), ab/110 (real or generated), with H and W
        multiples of 2**num_layers and at least 3 * 2**num_layers. Output:
        float32 (B, H/2**num_layers - 2, W/2**num_layers - 2, 1) unbounded
        patch scores (LSGAN: real -> 1, fake -> 0).
    """
    lightness = blocks.lightness_input()  # (B, H, W, 1)
    ab = keras.Input(shape=(None, None, 2), name="ab")  # (B, H, W, 2)
    # Conditional GAN: the discriminator judges the colours given the lightness.
    x = layers.Concatenate(name="L_ab")([lightness, ab])  # (B, H, W, 3)

    for level in range(num_layers):
        x = blocks.pix2pix_down(
            x, _channels(width, level), apply_batchnorm=level > 0, name=f"down{level + 1}"
        )  # (B, H/2**(level+1), W/2**(level+1), min(2**level, 8) w)
    # n = num_layers below.

    x = layers.ZeroPadding2D(1, name="pad1")(x)  # (B, H/2**n + 2, W/2**n + 2, c)
    x = layers.Conv2D(
        _channels(width, num_layers),
        4,
        use_bias=False,
        kernel_initializer=blocks.pix2pix_initializer(),
        name="conv_s1",
    )(x)  # (B, H/2**n - 1, W/2**n - 1, min(2**n, 8) w)
    x = blocks.batch_norm("conv_s1_bn")(x)
    x = layers.LeakyReLU(negative_slope=blocks.LEAKY_RELU_SLOPE, name="conv_s1_lrelu")(x)

    x = layers.ZeroPadding2D(1, name="pad2")(x)  # (B, H/2**n + 1, W/2**n + 1, c)
    # float32 linear scores: the LSGAN loss squares them.
    outputs = layers.Conv2D(
        1,
        4,
        kernel_initializer=blocks.pix2pix_initializer(),
        dtype="float32",
        name="patch_scores",
    )(x)  # (B, H/2**n - 2, W/2**n - 2, 1)
    return keras.Model([lightness, ab], outputs, name=name)
