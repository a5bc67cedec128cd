"""The three model families, one record each: what fit, export, the benchmark and the CLIs read.

A family is its inference network (builder and stride), the trainer that
owns its loss, and the ModelConfig fields they use. Code that depends on the
family looks it up here (``family_of(config.model)``) instead of testing its
name.
"""

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np

from keras_colorize import constants as C
from keras_colorize.models.classification import CLASSIFICATION_STRIDE, build_classification_net
from keras_colorize.models.pix2pix import (
    build_patchgan_discriminator,
    build_unet_generator,
    unet_stride,
)
from keras_colorize.models.regression import REGRESSION_STRIDE, build_regression_net
from keras_colorize.training.trainers import (
    ClassificationTrainer,
    GANTrainer,
    RegressionTrainer,
    class_weights_from_prior,
)


@dataclass(frozen=True)
class Family:
    """One model family.

    build_network(model_config) -> keras.Model: the colorization network.
    stride(model_config) -> int: input H and W must be multiples of it.
    build_trainer(network, model_config, train_config, prior_grid) -> trainer.
    config_fields: the ModelConfig fields the family reads (besides family).
    needs_prior: training needs the dataset's ab histogram (ab_prior.npy).
    temperature: the colorizer ends in annealed-mean decoding whose T can be set.
    """

    name: str
    build_network: Callable
    stride: Callable
    build_trainer: Callable
    config_fields: tuple
    needs_prior: bool = False
    temperature: bool = False


def _regression_trainer(network, model_config, train_config, prior_grid):
    return RegressionTrainer(network, name="regression_trainer")


def _classification_trainer(network, model_config, train_config, prior_grid):
    if prior_grid is None:
        raise ValueError("the classification family needs the training ab prior")
    weights = class_weights_from_prior(prior_grid, train_config.rebalance_lambda)
    return ClassificationTrainer(
        network, weights, model_config.temperature, name="classification_trainer"
    )


def _gan_trainer(network, model_config, train_config, prior_grid):
    discriminator = build_patchgan_discriminator(model_config.disc_width, model_config.disc_layers)
    return GANTrainer(network, discriminator, train_config.l1_weight, name="gan_trainer")


FAMILIES = {
    "regression": Family(
        name="regression",
        build_network=lambda m: build_regression_net(m.width),
        stride=lambda m: REGRESSION_STRIDE,
        build_trainer=_regression_trainer,
        config_fields=("width",),
    ),
    "classification": Family(
        name="classification",
        build_network=lambda m: build_classification_net(m.width),
        stride=lambda m: CLASSIFICATION_STRIDE,
        build_trainer=_classification_trainer,
        config_fields=("width", "temperature"),
        needs_prior=True,
        temperature=True,
    ),
    "gan": Family(
        name="gan",
        build_network=lambda m: build_unet_generator(m.width, m.num_downs, m.dropout),
        stride=lambda m: unet_stride(m.num_downs),
        build_trainer=_gan_trainer,
        config_fields=("width", "num_downs", "dropout", "disc_width", "disc_layers"),
    ),
}


def family_of(model_config):
    """The Family record of a ModelConfig."""
    return FAMILIES[model_config.family]


def network_stride(model_config):
    """The factor that the network's input H and W must be multiples of."""
    return family_of(model_config).stride(model_config)


def build_trainer(model_config, train_config, prior_grid=None):
    """Builds the family's networks and wraps them in its trainer (not yet compiled).

    Args:
        model_config: config.ModelConfig.
        train_config: config.TrainConfig (the GAN's l1 weight, the rebalancing lambda).
        prior_grid: the training ab histogram; required when the family needs_prior.
    """
    family = family_of(model_config)
    network = family.build_network(model_config)
    return family.build_trainer(network, model_config, train_config, prior_grid)


def build_float32_trainer(model_config, train_config):
    """The family's trainer built under the float32 policy, for saving or exporting.

    A uniform prior stands in for the training one: it only sets the loss
    weights, which are neither part of the colorizer nor of a checkpoint.
    The global policy is restored afterwards.
    """
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        uniform_prior = np.ones((C.AB_GRID_SIZE, C.AB_GRID_SIZE))
        return build_trainer(model_config, train_config, uniform_prior)
    finally:
        keras.mixed_precision.set_global_policy(policy)
