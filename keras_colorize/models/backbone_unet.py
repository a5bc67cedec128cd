"""Colorization networks on an ImageNet-pretrained encoder: a U-Net over EfficientNet-Lite.

As in DeOldify (a U-Net whose encoder is a pretrained ResNet), the encoder
knows what things are from ImageNet; a light decoder learns the colours. The
gray photo enters as the sRGB gray of its lightness (LightnessToImageNetRGB),
the encoder's taps at strides 2/4/8/16 are the skips, its 1280-channel head
at stride 32 the bottleneck:

    L (B, H, W, 1) -> gray RGB (B, H, W, 3) -> encoder taps
    head (H/32) -> up + stride16 skip (H/16, 4w) -> up + stride8 (H/8, 2w)
    -> up + stride4 (H/4, w) -> [bins: logits at H/4]
    -> up + stride2 (H/2, w/2) -> up (H, w/2) -> ab (tanh)

The same builder serves every family: "ab" output for regression and the
GAN's generator, "bins" logits at 1/4 resolution for classification. The
encoder is the sub-model named ``BACKBONE_NAME``, so trainers can give it its
own learning rate and freeze it.
"""

import keras
from keras import layers

from keras_colorize.models import blocks
from keras_colorize.models.backbones import efficientnet_lite
from keras_colorize.models.layers import (
    BilinearUpsample,
    HintFill,
    HintPool,
    LightnessToImageNetRGB,
    SpatialBroadcast,
)

BACKBONES = {"efficientnet_lite0": "lite0", "efficientnet_lite2": "lite2"}
SCRATCH = "scratch"  # the family's own encoder, trained from scratch (the paper's)
BACKBONE_NAME = "backbone"
# Every tap is exactly H / stride when H and W are multiples of the deepest stride.
BACKBONE_STRIDE = 32
# Decoder stages: (encoder tap joined, channels as a multiple of the width).
_DECODER = (("stride16", 4), ("stride8", 2), ("stride4", 1), ("stride2", 0.5))
_TAP_STRIDES = {"stride16": 16, "stride8": 8, "stride4": 4, "stride2": 2}
REFERENCE_CHANNELS = 32  # the reference distribution's embedding joined at every stage


def _decoder_stage(x, skip, filters, name, guidance=()):
    """2x bilinear upsample, concatenate the encoder's skip (and guidance), two conv-BN-ReLU.

    The skip (a linear projection in the encoder, of much wider range than
    the decoder's) first goes through its own 1x1 conv-BN-ReLU: int8 TFLite
    gives all inputs of a concatenation one scale, which would otherwise crush
    the decoder's half. ``guidance``: tensors at this stage's resolution (the
    pooled hints, the reference's embedding) joined with them.
    """
    x = BilinearUpsample(2, name=f"{name}_up")(x)
    skip = blocks.conv_bn_relu(skip, filters, 1, name=f"{name}_skip")
    x = layers.Concatenate(name=f"{name}_concat")([x, skip, *guidance])
    x = blocks.conv_bn_relu(x, filters, 3, name=f"{name}_a")
    return blocks.conv_bn_relu(x, filters, 3, name=f"{name}_b")


def build_backbone_unet(
    backbone="efficientnet_lite0",
    width=64,
    output="ab",
    num_bins=None,
    pretrained=True,
    guided=False,
    name="backbone_unet",
):
    """Builds the U-Net as a functional ``keras.Model``.

    Args:
        backbone: a key of BACKBONES.
        width: decoder channels at stride 4 (4w, 2w, w, w/2 from stride 16 to 2);
            a multiple of 2.
        output: "ab" (tanh ab/110 at full resolution) or "bins" (logits over
            ``num_bins`` ab bins at 1/4 resolution).
        num_bins: for "bins", the number of bins (default: the in-gamut bins).
        pretrained: load the ImageNet weights (needs the [pretrained] extra);
            False when a checkpoint will overwrite them anyway.
        guided: also take colour hints and a reference distribution. The
            encoder still sees only the gray photo (it is pretrained on
            photos); the hint map, pooled to each stride (layers.HintPool),
            and the reference's embedding join the bottleneck and every
            decoder stage, so a hint reaches both the
            coarse stages that spread it and the fine ones that place it;
            the last stage also gets the hints spread at every scale
            (layers.HintFill) to choose from.
        name: the model's name.

    Returns:
        A model with one input "L": float (B, H, W, 1), L/50 - 1 in [-1, 1]
        (guided: inputs [L, hints (B, H, W, 3), reference (B, REFERENCE_BINS)]),
        H and W multiples of BACKBONE_STRIDE (32). Output: float32 (B, H, W, 2)
        ab/110, or float32 (B, H/4, W/4, num_bins) logits.
    """
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}; expected one of {sorted(BACKBONES)}")
    if output not in ("ab", "bins"):
        raise ValueError(f"output must be 'ab' or 'bins', got {output!r}")
    if width % 2:
        raise ValueError(f"width must be a multiple of 2, got {width}")
    variant = BACKBONES[backbone]
    encoder = efficientnet_lite.build_efficientnet_lite(variant, name=BACKBONE_NAME)
    if pretrained:
        efficientnet_lite.load_pretrained(encoder, variant)

    lightness = blocks.lightness_input()  # (B, H, W, 1)
    rgb = LightnessToImageNetRGB(
        efficientnet_lite.INPUT_MEAN, efficientnet_lite.INPUT_SCALE, name="gray_rgb"
    )(lightness)  # (B, H, W, 3)
    taps = encoder(rgb)
    x = taps["head"]  # (B, H/32, W/32, 1280)
    inputs = lightness
    if guided:
        hints, reference = blocks.guidance_inputs()
        inputs = [lightness, hints, reference]
        embedded = blocks.reference_embedding(reference, REFERENCE_CHANNELS, "reference")

        def guidance_at(stride, like):
            """The hints pooled to ``stride`` and the reference's embedding at every pixel."""
            pooled = HintPool(stride, name=f"hints_{stride}")(hints)
            spread = SpatialBroadcast(name=f"reference_{stride}")([embedded, like])
            return [pooled, spread]

        x = layers.Concatenate(name="bottleneck_concat")([x, *guidance_at(32, x)])
    x = blocks.conv_bn_relu(x, 4 * width, 1, name="bottleneck")  # (B, H/32, W/32, 4w)
    for tap, multiple in _DECODER:
        stage = guidance_at(_TAP_STRIDES[tap], taps[tap]) if guided else ()
        x = _decoder_stage(x, taps[tap], int(multiple * width), f"dec_{tap}", stage)
        if output == "bins" and tap == "stride4":
            break
    if output == "bins":
        if num_bins is None:
            from keras_colorize.color.ab_bins import in_gamut_bins

            num_bins = len(in_gamut_bins())
        # float32 logits: the softmax cross-entropy must not run in bfloat16.
        outputs = layers.Conv2D(num_bins, 1, dtype="float32", name="logits")(x)  # (B, H/4, W/4, Q)
        return keras.Model(inputs, outputs, name=name)
    x = BilinearUpsample(2, name="final_up")(x)  # (B, H, W, w/2)
    if guided:
        # The hints at full resolution, and spread at every scale (layers.HintFill).
        fill = HintFill(name="hint_fill")(hints)
        x = layers.Concatenate(name="final_concat")([x, hints, fill])
        x = blocks.conv_bn_relu(x, max(width // 2, 8), 3, name="final_guided")
    x = blocks.conv_bn_relu(x, max(width // 2, 8), 3, name="final")
    # float32 so mixed-precision training computes the loss on a float32 prediction.
    outputs = layers.Conv2D(2, 3, padding="same", activation="tanh", dtype="float32", name="ab")(x)
    return keras.Model(inputs, outputs, name=name)  # (B, H, W, 2)
