"""The three model families, one record each: what fit, export, the benchmark and the CLIs read.

A family is its inference network (builder and stride), the trainer that
owns its loss, and the ModelConfig fields they use. Code that depends on the
family looks it up here (``family_of(config.model)``) instead of testing its
name. With a pretrained backbone (``model.backbone``), every family's network
is the U-Net of keras_colorize.models.backbone_unet, with the family's output
(``backbone_output``) and the backbone's stride.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from keras_colorize import constants as C
from keras_colorize.models.backbone_unet import BACKBONE_STRIDE, SCRATCH, build_backbone_unet
from keras_colorize.models.classification import CLASSIFICATION_STRIDE, build_classification_net
from keras_colorize.models.pix2pix import (
    build_patchgan_discriminator,
    build_unet_generator,
    unet_stride,
)
from keras_colorize.models.regression import REGRESSION_STRIDE, build_regression_net
from keras_colorize.training.precision import float32_policy
from keras_colorize.training.trainers import (
    ClassificationTrainer,
    GANTrainer,
    RegressionTrainer,
    class_weights_from_prior,
)


@dataclass(frozen=True)
class Family:
    """One model family.

    build_network(model_config) -> keras.Model: the colorization network with
        the family's own encoder, trained from scratch.
    stride(model_config) -> int: input H and W must be multiples of it (scratch).
    backbone_output: what the U-Net over a pretrained backbone outputs: "ab"
        (tanh ab/110 at full resolution) or "bins" (logits at 1/4 resolution).
    build_trainer(network, model_config, train_config, prior_grid) -> trainer.
    config_fields: the ModelConfig fields the family reads (besides family).
    needs_prior: training needs the dataset's ab histogram (ab_prior.npy).
    temperature: the colorizer ends in annealed-mean decoding whose T can be set.
    monitor: the validation metric that says which epoch is best (lower is better).
    """

    name: str
    build_network: Callable
    stride: Callable
    build_trainer: Callable
    config_fields: tuple
    backbone_output: str = "ab"
    needs_prior: bool = False
    temperature: bool = False
    monitor: str = "val_loss"


def _regression_trainer(network, model_config, train_config, prior_grid):
    return RegressionTrainer(
        network, chroma_weight=train_config.chroma_weight, name="regression_trainer"
    )


def _classification_trainer(network, model_config, train_config, prior_grid):
    if prior_grid is None:
        raise ValueError("the classification family needs the training ab prior")
    weights = class_weights_from_prior(prior_grid, train_config.rebalance_lambda)
    return ClassificationTrainer(
        network,
        weights,
        model_config.temperature,
        chroma_gain=model_config.chroma_gain,
        name="classification_trainer",
    )


def _gan_trainer(network, model_config, train_config, prior_grid):
    discriminator = build_patchgan_discriminator(model_config.disc_width, model_config.disc_layers)
    return GANTrainer(network, discriminator, train_config.l1_weight, name="gan_trainer")


FAMILIES = {
    "regression": Family(
        name="regression",
        build_network=lambda m: build_regression_net(m.width, guided=m.guided),
        stride=lambda m: REGRESSION_STRIDE,
        build_trainer=_regression_trainer,
        config_fields=("width",),
    ),
    "classification": Family(
        name="classification",
        build_network=lambda m: build_classification_net(m.width, guided=m.guided),
        stride=lambda m: CLASSIFICATION_STRIDE,
        build_trainer=_classification_trainer,
        config_fields=("width", "temperature", "chroma_gain"),
        backbone_output="bins",
        needs_prior=True,
        temperature=True,
    ),
    "gan": Family(
        name="gan",
        build_network=lambda m: build_unet_generator(
            m.width, m.num_downs, m.dropout, guided=m.guided
        ),
        stride=lambda m: unet_stride(m.num_downs),
        build_trainer=_gan_trainer,
        config_fields=("width", "num_downs", "dropout", "disc_width", "disc_layers"),
        monitor="val_l1",  # the adversarial terms do not fall as the colours improve
    ),
}


def family_of(model_config):
    """The Family record of a ModelConfig."""
    return FAMILIES[model_config.family]


def network_stride(model_config):
    """The factor that the network's input H and W must be multiples of."""
    if model_config.backbone != SCRATCH:
        return BACKBONE_STRIDE
    return family_of(model_config).stride(model_config)


def build_network(model_config, pretrained=None):
    """The family's colorization network: its own, or the U-Net over ``model.backbone``.

    ``pretrained`` overrides ``model_config.pretrained`` (False when a
    checkpoint or saved model will set every weight anyway).
    """
    family = family_of(model_config)
    if model_config.backbone == SCRATCH:
        return family.build_network(model_config)
    return build_backbone_unet(
        model_config.backbone,
        model_config.width,
        output=family.backbone_output,
        pretrained=model_config.pretrained if pretrained is None else pretrained,
        guided=model_config.guided,
        name=f"{family.name}_{model_config.backbone}",
    )


def build_trainer(model_config, train_config, prior_grid=None, pretrained=None):
    """Builds the family's networks and wraps them in its trainer (not yet compiled).

    Args:
        model_config: config.ModelConfig.
        train_config: config.TrainConfig (the GAN's l1 weight, the rebalancing lambda).
        prior_grid: the training ab histogram; required when the family needs_prior.
        pretrained: overrides model_config.pretrained (see build_network).
    """
    network = build_network(model_config, pretrained)
    family = family_of(model_config)
    return family.build_trainer(network, model_config, train_config, prior_grid)


def build_float32_trainer(model_config, train_config):
    """The family's trainer built under the float32 policy, for saving or exporting.

    A uniform prior stands in for the training one: it only sets the loss
    weights, which are neither part of the colorizer nor of a checkpoint.
    The global policy is restored afterwards.
    """
    with float32_policy():
        uniform_prior = np.ones((C.AB_GRID_SIZE, C.AB_GRID_SIZE))
        # Every weight is set afterwards (from the trained network or a checkpoint).
        return build_trainer(model_config, train_config, uniform_prior, pretrained=False)
