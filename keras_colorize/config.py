"""Typed experiment configuration: frozen dataclasses, named presets, `key=value` overrides.

The resolved Config is written as `config.json` in the run dir; export and
evaluation read it back to rebuild exactly the same network.
"""

import dataclasses
import json
from dataclasses import dataclass, field

from keras_colorize import constants as C
from keras_colorize.io.json_file import read_json

FAMILIES = ("regression", "classification", "gan")
# The encoder: each family's own, trained from scratch (the paper's), or an
# ImageNet-pretrained EfficientNet-Lite under a U-Net decoder.
BACKBONES = ("scratch", "efficientnet_lite0", "efficientnet_lite2")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("auto", "none", "mirrored", "multiworker")


class ConfigError(ValueError):
    """A bad preset, key, type or value; the message is one line for the user."""


@dataclass(frozen=True)
class ModelConfig:
    """What the networks are (read by the builders and by export)."""

    family: str = "regression"
    width: int = 64  # base channel count of the colorization network
    num_downs: int = 7  # gan: U-Net depth; 7 suits 128 px (unet_128)
    dropout: float = 0.5  # gan: on the first 3 decoder blocks
    disc_width: int = 64  # gan: PatchGAN base channels
    disc_layers: int = 3  # gan: PatchGAN depth (70x70 receptive field)
    temperature: float = C.ANNEALED_MEAN_T  # classification: annealed-mean T
    chroma_gain: float = 1.0  # classification: factor on the decoded ab (decoding only)
    backbone: str = "scratch"  # one of BACKBONES
    pretrained: bool = True  # a named backbone starts from its ImageNet weights
    guided: bool = False  # also takes colour hints and a reference distribution


@dataclass(frozen=True)
class TrainConfig:
    """How the networks are trained."""

    epochs: int = 10
    batch_size: int = 16  # global batch, split over replicas
    learning_rate: float = 1e-3
    beta_1: float = 0.9
    weight_decay: float = 0.0
    image_size: int = C.DEFAULT_WORKING_SIZE  # the working size: the network sees S x S
    steps_per_epoch: int = 0  # 0: one pass over the training split
    validation_batches: int = 0  # 0: the whole validation split
    l1_weight: float = 100.0  # gan: lambda of lambda*L1 + adversarial (pix2pix)
    d_learning_rate: float = 0.0  # gan: discriminator lr; 0 means learning_rate
    rebalance_lambda: float = C.REBALANCE_LAMBDA  # classification: prior/uniform mix
    chroma_weight: float = 0.0  # regression: penalty on predicting less chroma than the truth
    seed: int = 0
    precision: str = "auto"
    strategy: str = "auto"
    checkpoint_every: int = 1  # epochs between kept checkpoints
    sample_images: int = 8  # validation colorizations logged per epoch
    backbone_lr_multiplier: float = 0.1  # the pretrained encoder learns this much slower
    freeze_backbone_epochs: int = 0  # the encoder does not learn in the first N epochs
    rotate_degrees: float = 0.0  # augmentation: random rotation up to this angle
    paste_objects: str = ""  # augmentation: a folder of RGBA cut-outs to paste onto crops
    paste_max: int = 2  # cut-outs per crop at most ...
    paste_probability: float = 0.5  # ... each pasted with this probability
    early_stopping_patience: int = 0  # stop after N epochs without a better val loss; 0: never
    keep_best: bool = False  # save the best validation epoch's colorizer, not the last
    write_tflite: bool = True  # also save colorizer.tflite, which colorize runs without TF
    time_budget_minutes: float = 0.0  # stop after the epoch that ends past this; 0: no limit
    hint_stop_probability: float = 0.125  # guided: p of the geometric number of simulated hints
    reference_probability: float = 0.5  # guided: how often the target's own colours are given
    # A colorizer.keras of the same network whose weights start this run: fine-tuning
    # the shipped model on your photos, or a GAN phase after a regression run ("NoGAN").
    init_from: str = ""
    # > 0: validate, keep and save an exponential moving average of the weights
    # (callbacks.WeightAverage), e.g. 0.999 = roughly the last 1000 steps.
    ema_momentum: float = 0.0


@dataclass(frozen=True)
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: str = ""  # a data_prep output folder

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n"


# Presets per family: "default" trains well on a CPU; "paper" is the seed
# paper's recipe (Li et al., "Image Colorization using Regression, Classification
# and GAN": lr, weight decay, batch, epochs, lambda); "tiny" is for tests and smoke runs.
PRESETS = {
    "regression": {
        "default": {"train.learning_rate": 1e-3, "train.batch_size": 32},
        "paper": {
            "train.learning_rate": 1e-2,
            "train.weight_decay": 1e-3,
            "train.batch_size": 256,
            "train.epochs": 50,
        },
        "tiny": {
            "model.width": 8,
            "train.image_size": 32,
            "train.batch_size": 4,
            "train.epochs": 1,
        },
    },
    "classification": {
        "default": {"train.learning_rate": 3e-4, "train.batch_size": 32, "model.width": 32},
        "paper": {
            "train.learning_rate": 1e-3,
            "train.weight_decay": 1e-3,
            "train.batch_size": 32,
            "train.epochs": 5,
            "model.width": 64,
        },
        "tiny": {
            "model.width": 4,
            "train.image_size": 32,
            "train.batch_size": 4,
            "train.epochs": 1,
        },
    },
    "gan": {
        "default": {
            "train.learning_rate": 2e-4,
            "train.beta_1": 0.5,
            "train.l1_weight": 100.0,
            "train.batch_size": 16,
            "model.width": 32,
            "model.disc_width": 32,
        },
        "paper": {
            "train.learning_rate": 2e-4,
            "train.beta_1": 0.5,
            "train.l1_weight": 500.0,
            "train.batch_size": 32,
            "model.width": 64,
            "model.disc_width": 64,
        },
        "tiny": {
            "train.learning_rate": 2e-4,
            "train.beta_1": 0.5,
            "model.width": 4,
            "model.disc_width": 4,
            "model.num_downs": 5,
            "train.image_size": 32,
            "train.batch_size": 4,
            "train.epochs": 1,
        },
    },
}


def _fields(section):
    return {f.name: f for f in dataclasses.fields(section)}


def _resolve_key(key):
    """'train.lr'-style dotted key, or a bare field name that is unique -> (section, name)."""
    sections = {"model": ModelConfig, "train": TrainConfig}
    if "." in key:
        section, name = key.split(".", 1)
        if section not in sections or name not in _fields(sections[section]):
            raise ConfigError(f"unknown setting {key!r}")
        return section, name
    if key == "data":
        return None, "data"
    owners = [s for s, cls in sections.items() if key in _fields(cls)]
    if len(owners) != 1:
        raise ConfigError(f"unknown setting {key!r}; use section.name, e.g. train.learning_rate")
    return owners[0], key


def _convert(key, value, target_type):
    """Converts a command-line string (or a preset value) to a field's type."""
    if isinstance(value, str):
        try:
            if target_type is bool:
                if value.lower() not in ("true", "false", "1", "0"):
                    raise ValueError
                return value.lower() in ("true", "1")
            return target_type(value)
        except ValueError:
            raise ConfigError(f"{key} expects {target_type.__name__}, got {value!r}") from None
    if target_type is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, target_type) or isinstance(value, bool) != (target_type is bool):
        raise ConfigError(f"{key} expects {target_type.__name__}, got {value!r}")
    return value


def apply_overrides(config, overrides):
    """Returns `config` with {key: value} applied (dotted or unique bare keys)."""
    model, train, data = config.model, config.train, config.data
    for key, value in overrides.items():
        section, name = _resolve_key(key)
        if section is None:
            data = str(value)
            continue
        target = model if section == "model" else train
        converted = _convert(key, value, _fields(type(target))[name].type)
        target = dataclasses.replace(target, **{name: converted})
        model, train = (target, train) if section == "model" else (model, target)
    return validate(Config(model=model, train=train, data=data))


def parse_set_flags(pairs):
    """['a.b=1', ...] -> {'a.b': '1'}; raises ConfigError for a pair without '='."""
    overrides = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        overrides[key.strip()] = value.strip()
    return overrides


def make_config(family, preset="default", overrides=None):
    """The family's preset with overrides applied, validated."""
    if family not in FAMILIES:
        raise ConfigError(f"unknown model family {family!r}; expected one of {', '.join(FAMILIES)}")
    if preset not in PRESETS[family]:
        raise ConfigError(
            f"unknown preset {preset!r}; expected one of {', '.join(PRESETS[family])}"
        )
    base = Config(model=ModelConfig(family=family))
    merged = {**PRESETS[family][preset], **(overrides or {})}
    return apply_overrides(base, merged)


def validate(config):
    """Checks values that no type can express; returns the config."""
    model, train = config.model, config.train
    if model.family not in FAMILIES:
        raise ConfigError(f"unknown model family {model.family!r}")
    if model.backbone not in BACKBONES:
        raise ConfigError(f"backbone must be one of {', '.join(BACKBONES)}, got {model.backbone!r}")
    if not 0 <= train.paste_probability <= 1 or train.paste_max < 0:
        raise ConfigError("train.paste_probability must lie in [0, 1] and paste_max be >= 0")
    if min(train.rotate_degrees, train.early_stopping_patience, train.time_budget_minutes) < 0:
        raise ConfigError(
            "train.rotate_degrees, early_stopping_patience and time_budget_minutes "
            "must not be negative"
        )
    if not (0 < train.hint_stop_probability <= 1 and 0 <= train.reference_probability <= 1):
        raise ConfigError(
            "train.hint_stop_probability must lie in (0, 1] and reference_probability in [0, 1]"
        )
    if train.backbone_lr_multiplier < 0 or train.freeze_backbone_epochs < 0:
        raise ConfigError(
            "train.backbone_lr_multiplier and train.freeze_backbone_epochs must not be negative"
        )
    if train.precision not in PRECISIONS:
        raise ConfigError(
            f"precision must be one of {', '.join(PRECISIONS)}, got {train.precision!r}"
        )
    if train.strategy not in STRATEGIES:
        raise ConfigError(
            f"strategy must be one of {', '.join(STRATEGIES)}, got {train.strategy!r}"
        )
    positive = {
        "model.width": model.width,
        "train.epochs": train.epochs,
        "train.batch_size": train.batch_size,
        "train.image_size": train.image_size,
        "train.checkpoint_every": train.checkpoint_every,
        "train.sample_images": train.sample_images,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{key} must be positive, got {value}")
    if train.learning_rate <= 0 or model.temperature <= 0 or model.chroma_gain <= 0:
        raise ConfigError(
            "train.learning_rate, model.temperature and model.chroma_gain must be positive"
        )
    # A negative steps_per_epoch would make Keras train one endless epoch.
    not_negative = {
        "train.steps_per_epoch": train.steps_per_epoch,
        "train.validation_batches": train.validation_batches,
        "train.weight_decay": train.weight_decay,
        "train.l1_weight": train.l1_weight,
        "train.chroma_weight": train.chroma_weight,
        "train.d_learning_rate": train.d_learning_rate,
    }
    for key, value in not_negative.items():
        if value < 0:
            raise ConfigError(f"{key} must not be negative, got {value}")
    # The builders' own rules (models.regression, models.pix2pix, models.backbone_unet),
    # checked here so that a bad --width or --set fails before anything is built.
    if model.backbone == "scratch" and model.family == "regression" and model.width % 4:
        raise ConfigError(f"model.width must be a multiple of 4 for regression, got {model.width}")
    if model.backbone != "scratch" and model.width % 2:
        raise ConfigError(f"model.width must be even with a backbone, got {model.width}")
    if model.family == "gan" and (
        model.num_downs < 2 or model.disc_layers < 1 or model.disc_width < 1
    ):
        raise ConfigError(
            "model.num_downs must be at least 2, model.disc_layers and model.disc_width at least 1"
        )
    if not 0 <= model.dropout < 1 or not 0 <= train.rebalance_lambda <= 1:
        raise ConfigError("model.dropout must lie in [0, 1) and train.rebalance_lambda in [0, 1]")
    if not 0 <= train.ema_momentum < 1:
        raise ConfigError(f"train.ema_momentum must lie in [0, 1), got {train.ema_momentum}")
    return config


def config_from_dict(values):
    """Inverse of Config.to_dict (for config.json); unknown keys are an error."""
    try:
        model = ModelConfig(**values["model"])
        train = TrainConfig(**values["train"])
        return validate(Config(model=model, train=train, data=values.get("data", "")))
    except (KeyError, TypeError) as error:
        raise ConfigError(
            f"config does not match this version of keras-colorize ({error})"
        ) from None


def load_config(path):
    """Reads a config.json; raises ConfigError if it is missing, corrupt or foreign."""
    values = read_json(path, ConfigError, "config")
    if not isinstance(values, dict):
        raise ConfigError(f"{path} does not hold a keras-colorize config")
    return config_from_dict(values)
