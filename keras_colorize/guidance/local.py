"""Local colour hints: a user's points colour their own region, the network the rest.

Fed to the guided network, one point recolours the whole photo (one red point
on a motorcycle's tank turned the garage red). Levin et al.'s propagation
(guidance.levin) keeps a colour within edges of lightness, but with few points
it still fills the whole image with them. Here each hint travels along
Levin's affinities but fades as it goes, and the network fills in what the
hints do not reach:

    (1 + lambda) V(r) = sum_s w_rs V(s)   at free pixels,   V = (hint a, hint b, 1) at hints,
    prior = ab_auto + g (ab_guided - ab_auto),
    ab = U + (1 - g) prior,               (U, g) = V's (a, b) and its third channel,

where ab_auto is the network's colours without hints and ab_guided with them.

V is a random walk's expected value: from a pixel, step to a neighbour with
weights w_rs (Levin's affinities squared and normalised again: with his,
colour leaks across a strong edge of lightness when walks are long); stop
at a hinted pixel (take its colour) or die with probability
lambda / (1 + lambda) per step (take no colour). g in [0, 1] is the
chance of reaching a hint, the hint's reach: 1 at a hint, high in the same
region of similar lightness, near 0 across strong edges and far away. U / g
is the mean colour of the hints reached, which gets weight g, the network the
rest; and the network's own response to the hints (what it learned of how a
point's colour extends, better than Levin's fill with few hints) counts as
far as the hints reach, too. Where no hint reaches (g = 0) the result is
ab_auto: nothing changes that the user did not touch. With lambda -> 0 this
is Levin's propagation with sharper weights (g = 1 everywhere), with large
lambda the automatic network. ``DECAY`` and ``SHARPNESS`` were chosen on the
40 validation photos against the network alone and Levin (models/README.md,
"Local hints").

numpy and scipy only: no TensorFlow.
"""

import numpy as np

from keras_colorize.guidance.levin import _check_inputs, spread

DECAY = 1.5e-5  # lambda; a walk lives 1 / lambda steps on average
SHARPNESS = 2.0  # Levin's affinities squared (and normalised): hints cross lightness edges less


def hint_reach(lightness, hint_ab, hint_mask, decay=DECAY, window=1, sharpness=SHARPNESS):
    """The fading spread of hints over a gray image.

    Args:
        lightness: float (H, W), CIE L in [0, 100].
        hint_ab: float (H, W, 2), Lab a, b at the hinted pixels (other values ignored).
        hint_mask: bool (H, W), True where a hint is given.
        decay: lambda > 0; larger keeps each hint closer to where it was given.
        window: neighbourhood radius of the affinities (1: 3x3).
        sharpness: the power of Levin's affinities (guidance.levin.spread).

    Returns:
        (U float32 (H, W, 2), g float32 (H, W)): the hints' colour weighted by
        their reach, and the reach g in [0, 1]; both zero without hints, and
        (hint_ab, 1) at hinted pixels.
    """
    y, hint_ab, hint_mask = _check_inputs(lightness, hint_ab, hint_mask, window)
    if not (np.isfinite(decay) and decay > 0):
        raise ValueError(f"decay must be a finite number > 0, got {decay!r}")
    values = np.concatenate([hint_ab, np.ones_like(hint_ab[..., :1])], axis=-1)  # (H, W, 3)
    spread_values = spread(y, values, hint_mask, window, decay, sharpness)
    return spread_values[..., :2], np.clip(spread_values[..., 2], 0.0, 1.0)


def local_hints(lightness, auto_ab, hint_ab, hint_mask, guided_ab=None, decay=DECAY, window=1):
    """The network's colours with hints applied where they reach.

    Args:
        lightness: float (H, W), CIE L in [0, 100].
        auto_ab: float (H, W, 2), the network's a, b without hints (Lab units).
        hint_ab, hint_mask: as in ``hint_reach``.
        guided_ab: float (H, W, 2), the network's a, b with the hints, or None
            (then auto_ab: the hints' colours alone where they reach).
        decay, window: as in ``hint_reach``.

    Returns:
        float32 (H, W, 2): U + (1 - g) (auto_ab + g (guided_ab - auto_ab)): the
        hint's a, b at hinted pixels, auto_ab where no hint reaches, auto_ab
        itself without hints.
    """
    auto_ab = np.asarray(auto_ab, np.float32)
    shape = np.shape(lightness) + (2,)
    for name, ab in (("auto_ab", auto_ab), ("guided_ab", guided_ab)):
        if ab is not None and np.shape(ab) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {np.shape(ab)}")
    if not np.any(hint_mask):
        return auto_ab.copy()
    weighted, reach = hint_reach(lightness, hint_ab, hint_mask, decay, window)
    reach = reach[..., None]
    prior = auto_ab if guided_ab is None else auto_ab + reach * (guided_ab - auto_ab)
    return weighted + (1.0 - reach) * prior
