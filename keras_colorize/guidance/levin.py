"""Colorization using Optimization (Levin, Lischinski & Weiss, SIGGRAPH 2004): the learning-free
baseline for colour hints.

Neighbouring pixels of similar lightness should have similar colours. Each
chroma channel U (Lab a, then b) minimises

    J(U) = sum_r (U(r) - sum_{s in N(r)} w_rs U(s))^2,    U = hint at hinted pixels,

over the (2 window + 1)^2 neighbourhood N(r), with affinities

    w_rs ∝ exp(-(Y(r) - Y(s))^2 / (2 sigma_r^2)),    sum_s w_rs = 1.

The hard constraints and the free rows U(r) = sum_s w_rs U(s) form a square
sparse system whose solution makes every residual zero, hence minimises J.
Its matrix depends only on the lightness, so it is factorised once and reused
for a and b. The weights follow the authors' reference code
(getColorExact.m) rather than the paper's text where the two differ:
- Y is the lightness scaled to [0, 1] (here CIE L / 100; theirs is YIQ's Y);
- their denominator, which stands for 2 sigma_r^2, is 0.6 times the variance
  of Y over the window (the pixel included), floored at 2e-6 because a flat
  window has none, and raised where needed so that the most similar
  neighbour keeps exp(-d^2 / denominator) >= 0.01 before normalising: without
  that, a pixel unlike all its neighbours (noise, a thin line) would get
  weights that are all tiny, and its colour would hinge on rounding.

numpy and scipy only: no TensorFlow.
"""

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

VARIANCE_SCALE = 0.6  # 2 sigma^2 = 0.6 var(Y), as in the reference code
VARIANCE_FLOOR = 2e-6  # on Y in [0, 1]
NEAREST_WEIGHT = 0.01  # the most similar neighbour's weight before normalising, at least
ND_LEAF_PIXELS = 16  # blocks this small are not cut further (measured: 2..30 px all within 10%)


def _check_inputs(lightness, hint_ab, hint_mask, window):
    """Returns (Y float64 (H, W) in [0, 1], hint_ab float64 (H, W, 2), hint_mask bool (H, W))."""
    lightness = np.asarray(lightness)
    hint_ab = np.asarray(hint_ab)
    hint_mask = np.asarray(hint_mask)
    if lightness.ndim != 2 or 0 in lightness.shape:
        raise ValueError(f"lightness must be a non-empty (H, W) array, got shape {lightness.shape}")
    if hint_ab.shape != lightness.shape + (2,):
        raise ValueError(
            f"hint_ab must have shape {lightness.shape + (2,)} (H, W, 2), got {hint_ab.shape}"
        )
    if hint_mask.shape != lightness.shape:
        raise ValueError(
            f"hint_mask must have shape {lightness.shape} (H, W), got {hint_mask.shape}"
        )
    if hint_mask.dtype != np.bool_:
        # A float or 0/255 mask is likely a slip (a soft mask, an image): say so, do not guess.
        raise ValueError(f"hint_mask must be a bool array, got dtype {hint_mask.dtype}")
    for name, values in (("lightness", lightness), ("hint_ab", hint_ab)):
        if values.dtype.kind not in "fiu":
            raise ValueError(f"{name} must be a real numeric array, got dtype {values.dtype}")
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
        raise ValueError(f"window must be a positive integer, got {window!r}")
    lightness = lightness.astype(np.float64)
    hint_ab = hint_ab.astype(np.float64)
    if not np.all(np.isfinite(lightness)):
        raise ValueError("lightness has NaN or infinite values")
    if not np.all(np.isfinite(hint_ab[hint_mask])):
        raise ValueError("hint_ab has NaN or infinite values at hinted pixels")
    return lightness / 100.0, hint_ab, hint_mask


def _neighbour_weights(y, window):
    """Affinities of every pixel to its neighbours.

    Returns (neighbour, weights), both (K, H, W) for the K = (2 window + 1)^2 - 1
    offsets: the flat index of the neighbour at that offset and its normalised
    weight w_rs, which is 0 where the offset falls outside the image.
    """
    height, width = y.shape
    offsets = [
        (dy, dx)
        for dy in range(-window, window + 1)
        for dx in range(-window, window + 1)
        if (dy, dx) != (0, 0)
    ]

    def shifted(values, pad_value):
        padded = np.pad(values, window, constant_values=pad_value)
        return np.stack(
            [
                padded[window + dy : window + dy + height, window + dx : window + dx + width]
                for dy, dx in offsets
            ]
        )

    index = np.arange(height * width).reshape(height, width)
    neighbour = shifted(index, -1)
    inside = neighbour >= 0
    values = np.where(inside, shifted(y, 0.0), 0.0)

    # Local statistics over the window with the pixel itself, clipped at the border.
    count = inside.sum(axis=0) + 1
    mean = (values.sum(axis=0) + y) / count
    spread = np.sum(np.where(inside, (values - mean) ** 2, 0.0), axis=0) + (y - mean) ** 2
    variance = spread / count

    squared_difference = np.where(inside, (values - y) ** 2, np.inf)
    nearest = squared_difference.min(axis=0)
    nearest = np.where(np.isfinite(nearest), nearest, 0.0)  # a 1x1 image has no neighbour
    denominator = np.maximum(VARIANCE_SCALE * variance, -nearest / np.log(NEAREST_WEIGHT))
    denominator = np.maximum(denominator, VARIANCE_FLOOR)

    weights = np.exp(-squared_difference / denominator)  # exp(-inf) = 0 outside the image
    total = weights.sum(axis=0)
    weights /= np.where(total > 0.0, total, 1.0)
    return neighbour, weights


def _nested_dissection(height, width):
    """Flat pixel indices of an (H, W) grid in nested-dissection order.

    Each block is cut in two by its middle row or column (the longer side), the
    halves ordered first and the cut last, recursively. A one-pixel line
    separates the halves for any window <= 1 and still reduces fill for wider
    ones. On a grid this ordering gives the sparse LU less fill than the generic
    orderings of SuperLU: about 1.5x faster than MMD on A + A^T at 512x512.
    """
    index = np.arange(height * width).reshape(height, width)
    order = []

    def dissect(top, bottom, left, right):
        if (bottom - top) * (right - left) <= ND_LEAF_PIXELS:
            order.append(index[top:bottom, left:right].ravel())
        elif bottom - top >= right - left:
            middle = (top + bottom) // 2
            dissect(top, middle, left, right)
            dissect(middle + 1, bottom, left, right)
            order.append(index[middle, left:right])
        else:
            middle = (left + right) // 2
            dissect(top, bottom, left, middle)
            dissect(top, bottom, middle + 1, right)
            order.append(index[top:bottom, middle])

    dissect(0, height, 0, width)
    return np.concatenate(order)


def propagate(lightness, hint_ab, hint_mask, window=1, decay=0.0):
    """Spreads colour hints over a gray image along its lightness (Levin et al. 2004).

    Args:
        lightness: float (H, W), CIE L in [0, 100].
        hint_ab: float (H, W, 2), Lab a, b at the hinted pixels (other values ignored).
        hint_mask: bool (H, W), True where a hint is given.
        window: neighbourhood radius; 1 is the paper's 3x3 window.
        decay: lambda >= 0; a free pixel's value is the weighted mean of its
            neighbours' divided by 1 + lambda, so that a hint fades with the
            distance it travels (guidance.local uses this for corrections);
            0 is Levin's propagation, which fills the whole image.

    Returns:
        float32 (H, W, 2): a, b at every pixel, equal to hint_ab at the hinted
        pixels (hard constraints). Without any hint, zeros (gray): nothing
        anchors the solution, and any constant colour would minimise the cost.

    The direct solve suits working-size images: at 512x512, about 1.5 s of one
    core and a few hundred MB for the LU factors, both growing faster than the
    pixel count.

    Raises:
        ValueError: shapes that do not match, a non-bool mask, non-finite
            values or a window that is not a positive integer.
    """
    y, hint_ab, hint_mask = _check_inputs(lightness, hint_ab, hint_mask, window)
    return spread(y, hint_ab, hint_mask, window, decay)


def spread(y, values, mask, window=1, decay=0.0, sharpness=1.0):
    """The solve behind ``propagate``, for any number of channels and checked inputs.

    Args:
        y: float64 (H, W), lightness in [0, 1].
        values: float (H, W, C), the values at the masked pixels (others ignored).
        mask: bool (H, W), where the values are given.
        window: neighbourhood radius.
        decay: lambda >= 0 (see ``propagate``).
        sharpness: the affinities are raised to this power and normalised again:
            above 1, colour crosses edges of lightness less (1: Levin's).

    Returns:
        float32 (H, W, C): equal to ``values`` where masked; zeros without any mask.
    """
    if not (np.isfinite(decay) and decay >= 0):
        raise ValueError(f"decay must be a finite number >= 0, got {decay!r}")
    height, width = y.shape
    channels = values.shape[-1]
    out = np.zeros((height, width, channels), np.float32)
    if not mask.any():
        return out
    out[mask] = values[mask]
    if mask.all():
        return out

    neighbour, weights = _neighbour_weights(y, window)
    if sharpness != 1.0:
        weights = weights**sharpness
        total = weights.sum(axis=0)
        weights /= np.where(total > 0.0, total, 1.0)
    hinted = mask.ravel()
    # Only the free pixels are unknowns (the hinted ones move to the right-hand side), numbered
    # in the fill-reducing order so that the LU can take the matrix as it comes.
    order = _nested_dissection(height, width)
    order = order[~hinted[order]]
    size = len(order)
    unknown = np.full(height * width, -1)
    unknown[order] = np.arange(size)

    keep = (weights > 0.0) & ~mask[None]  # the rows of free pixels
    pixel = np.broadcast_to(np.arange(height * width).reshape(height, width), keep.shape)
    rows = unknown[pixel[keep]]
    cols = neighbour[keep]
    weight = weights[keep]
    to_hint = hinted[cols]

    flat = np.asarray(values, np.float64).reshape(-1, channels)
    rhs = np.stack(
        [
            np.bincount(
                rows[to_hint], weights=weight[to_hint] * flat[cols[to_hint], c], minlength=size
            )
            for c in range(channels)
        ],
        axis=1,
    )
    free = ~to_hint
    matrix = (1.0 + decay) * scipy.sparse.identity(size, format="csc") - scipy.sparse.csc_matrix(
        (weight[free], (rows[free], unknown[cols[free]])), shape=(size, size)
    )
    # Each row is diagonally dominant (1 + decay against weights summing to at most 1), so the
    # LU needs no pivoting: keeping the diagonal keeps the order's low fill.
    factor = scipy.sparse.linalg.splu(
        matrix, permc_spec="NATURAL", diag_pivot_thresh=0.0, options={"SymmetricMode": True}
    )
    out.reshape(-1, channels)[order] = factor.solve(rhs)
    return out
