"""The colorization networks, one builder per model family.

Builders return plain functional ``keras.Model``s mapping normalised lightness
"L" to the family's prediction; training code wraps them and owns the losses.
``NETWORK_BUILDERS`` is the explicit family -> builder registry used by the
trainers and the command line; the GAN family's discriminator is built by its
trainer with ``build_patchgan_discriminator``.
"""

import inspect

from keras_colorize.models.classification import (
    CLASSIFICATION_OUTPUT_STRIDE,
    CLASSIFICATION_STRIDE,
    build_classification_net,
)
from keras_colorize.models.layers import BilinearUpsample
from keras_colorize.models.pix2pix import (
    DEFAULT_NUM_DOWNS,
    build_patchgan_discriminator,
    build_unet_generator,
    unet_stride,
)
from keras_colorize.models.regression import REGRESSION_STRIDE, build_regression_net

NETWORK_BUILDERS = {
    "regression": build_regression_net,
    "classification": build_classification_net,
    "gan": build_unet_generator,
}


def network_stride(family, **builder_kwargs):
    """The factor that input H and W must be multiples of for ``family``'s network.

    Takes the same keyword arguments as the family's builder, so that a
    config's network section can be passed to both; an argument the builder
    does not accept raises ``TypeError`` here rather than later.
    """
    if family not in NETWORK_BUILDERS:
        raise ValueError(
            f"unknown model family {family!r}; expected one of {sorted(NETWORK_BUILDERS)}"
        )
    inspect.signature(NETWORK_BUILDERS[family]).bind(**builder_kwargs)
    if family == "regression":
        return REGRESSION_STRIDE
    if family == "classification":
        return CLASSIFICATION_STRIDE
    return unet_stride(builder_kwargs.get("num_downs", DEFAULT_NUM_DOWNS))


__all__ = [
    "BilinearUpsample",
    "CLASSIFICATION_OUTPUT_STRIDE",
    "NETWORK_BUILDERS",
    "build_classification_net",
    "build_patchgan_discriminator",
    "build_regression_net",
    "build_unet_generator",
    "network_stride",
]
