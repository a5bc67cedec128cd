"""Hasler & Suesstrunk (2003) colourfulness, shared by data_prep and evaluation.

Convention: SIGNED opponent differences, as in the original paper and the
seed paper (rg = R - G, yb = (R + G)/2 - B). Much public code takes absolute
values instead, which shrinks the mean term; scores here are comparable with
the paper's scale (about 0 for gray, 15 "slightly", 33 "moderately", 59
"quite", 82 "highly", 109 "extremely" colourful).

CF = sqrt(std_rg^2 + std_yb^2) + 0.3 * sqrt(mean_rg^2 + mean_yb^2), on RGB in
0..255. Pure numpy, so data_prep workers need not load TensorFlow.
"""

import numpy as np

from keras_colorize.constants import COLORFULNESS_MEAN_WEIGHT


def colorfulness(rgb):
    """Colourfulness of one image.

    Args:
        rgb: array (H, W, 3), uint8 or float on the 0..255 scale, RGB order.

    Returns:
        float, >= 0.
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {rgb.shape}")
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg = red - green
    yb = 0.5 * (red + green) - blue
    spread = np.sqrt(rg.var() + yb.var())
    mean = np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return float(spread + COLORFULNESS_MEAN_WEIGHT * mean)
