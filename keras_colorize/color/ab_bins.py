"""Zhang et al. (2016) quantised ab space: bins, soft-encoding, rebalancing, decoding.

The classification networks predict, per pixel, a distribution over Q ab bins
(cells of a 10 x 10 grid that sRGB colours can reach). This module owns that
output space end to end so that the data pipeline, the loss, the trainer and
the exported model agree on it:

- ``in_gamut_bins``: the bin centres, derived in code from the sRGB gamut.
- ``soft_encode``: ab targets -> soft distributions over the bins (in-graph).
- ``prior_from_grid_histogram`` and ``rebalance_weights``: class-rebalancing
  weights from the training-set histogram (offline, numpy).
- ``pixel_weights``, ``colourful_mask``, ``class_rebalanced_cross_entropy``:
  the pieces of the rebalanced loss (in-graph).
- ``annealed_mean`` and the ``AnnealedMeanDecode`` layer: logits -> ab
  (in-graph, TFLite builtins only).

Units: ab are always in Lab units (not divided by AB_SCALE); bins are float32
(Q, 2) arrays of (a, b) centres, sorted by a then b.
"""

import functools

import keras
import numpy as np
import tensorflow as tf

from keras_colorize import constants as C
from keras_colorize.color import tf_lab

# Samples per edge of each face of the sRGB cube when deriving the bins. 257
# (a step of 1/256) is the coarsest density from which the bin set no longer
# changes; tests check that a denser sampling finds the same set.
_GAMUT_SAMPLES_PER_EDGE = 257


def _rgb_cube_surface(samples_per_edge):
    """The six faces of the sRGB cube on a regular grid: float32 (6 * n * n, 3) in [0, 1]."""
    t = np.linspace(0.0, 1.0, samples_per_edge)
    u, v = (g.ravel() for g in np.meshgrid(t, t, indexing="ij"))
    faces = []
    for axis in range(3):
        free = [i for i in range(3) if i != axis]
        for value in (0.0, 1.0):
            face = np.empty((u.size, 3))
            face[:, axis] = value
            face[:, free[0]] = u
            face[:, free[1]] = v
            faces.append(face)
    return np.concatenate(faces).astype(np.float32)


def _grid_index(ab):
    """ab (..., 2) in Lab units -> int (..., 2) index of the nearest grid centre, clipped.

    Rounds half to even like ``tf.round``, the rule data_prep uses for the prior
    histogram, so that both sides put a pixel in the same cell.
    """
    index = np.round((np.asarray(ab, dtype=np.float64) + C.AB_GRID_LIMIT) / C.AB_GRID_STEP)
    return np.clip(index, 0, C.AB_GRID_SIZE - 1).astype(np.int64)


def _derive_in_gamut_bins(samples_per_edge):
    """Grid centres whose cell holds the ab of some sampled sRGB colour: float32 (Q, 2).

    Only the cube's surface is sampled: for any (a, b) reached by some sRGB
    colour, the largest L reaching it lies on the boundary of the Lab gamut,
    which is the image of the cube's boundary; so the surface projects onto
    the same ab region as the whole cube, at a fraction of the samples.
    """
    rgb = _rgb_cube_surface(samples_per_edge)
    # init_scope: the derivation must run eagerly even when first called while
    # a tf.function or a Keras model is being traced.
    with tf.init_scope():
        ab = tf_lab.rgb_to_lab(rgb).numpy()[:, 1:]
    index = _grid_index(ab)
    hit = np.zeros((C.AB_GRID_SIZE, C.AB_GRID_SIZE), dtype=bool)
    hit[index[:, 0], index[:, 1]] = True
    i_a, i_b = np.nonzero(hit)  # row-major order: sorted by a, then b
    return np.stack([C.AB_GRID_CENTRES[i_a], C.AB_GRID_CENTRES[i_b]], axis=-1).astype(np.float32)


@functools.lru_cache(maxsize=1)
def in_gamut_bins():
    """The ab bin centres reachable by sRGB colours: float32 (Q, 2), Lab units, read-only.

    A centre (a multiple of AB_GRID_STEP in [-AB_GRID_LIMIT, AB_GRID_LIMIT] on
    both axes) is kept when some sRGB colour, at some L, has its ab in that
    centre's cell, i.e. has that centre as its nearest grid centre. The cube's
    surface is sampled densely, converted with ``tf_lab.rgb_to_lab`` and each
    colour assigned to its nearest centre. Bins are sorted by a, then b.

    This gives Q = 262, not Zhang et al.'s 313 (constants.ZHANG_NUM_BINS). The
    count is robust: every kept cell is entered by at least 0.12 ab units and
    every rejected cell is missed by at least 0.11 (measured with 2049 samples
    per edge), far above float32 error, and it is the same from 257 to 2049
    samples per cube edge. Zhang's released ``pts_in_hull.npy`` was not derived
    by a published rule; it covers a larger region than the exact sRGB gamut
    (its name suggests a hull, perhaps over ImageNet ab values), and no simple
    rule reproduces 313: centres inside the convex hull of the gamut's ab
    projection give 233, the exact cells dilated by one cell give 322. Extra
    cells outside the gamut would never be the target of an sRGB pixel, so the
    exact set is used.
    """
    bins = _derive_in_gamut_bins(_GAMUT_SAMPLES_PER_EDGE)
    bins.flags.writeable = False  # the cached array is shared by every caller
    return bins


def _bins_or_default(bins):
    return in_gamut_bins() if bins is None else np.asarray(bins, dtype=np.float32)


def soft_encode(ab, bins=None, k=C.SOFT_ENCODE_NEIGHBOURS, sigma=C.SOFT_ENCODE_SIGMA):
    """Soft-encodes ab into distributions over the bins (Zhang et al. 2016, section 3.1).

    Each pixel gets non-zero mass on exactly its k nearest bin centres
    (Euclidean distance in ab), weighted by exp(-d^2 / (2 sigma^2)) and
    normalised to sum 1. Works inside tf.function with unknown leading dims.

    Args:
        ab: float (..., 2) in Lab units, e.g. (B, H, W, 2).
        bins: float (Q, 2) bin centres in Lab units; default ``in_gamut_bins()``.
        k: neighbours per pixel.
        sigma: Gaussian width in Lab units.

    Returns:
        float32 (..., Q), each row summing to 1 with exactly k non-zeros.
    """
    bins = _bins_or_default(bins)
    num_bins = bins.shape[0]
    ab = tf.cast(ab, tf.float32)
    flat = tf.reshape(ab, [-1, 2])  # (N, 2)
    # Per-axis differences rather than |x|^2 - 2x.c + |c|^2: the expanded form
    # loses ~1e-3 to cancellation, enough to reorder near-equidistant bins.
    d_a = flat[:, :1] - tf.constant(bins[None, :, 0])  # (N, Q)
    d_b = flat[:, 1:] - tf.constant(bins[None, :, 1])  # (N, Q)
    neg_top, nearest = tf.math.top_k(-(d_a * d_a + d_b * d_b), k=k)  # (N, k) each
    # Shifting by the nearest distance cancels in the normalisation and keeps
    # exp() from underflowing to 0/0 for ab far outside the grid.
    weights = tf.exp((neg_top - neg_top[:, :1]) / (2.0 * sigma * sigma))  # (N, k)
    weights = weights / tf.reduce_sum(weights, axis=-1, keepdims=True)
    # Scatter the k weights into a dense (N, Q): memory N * Q, not N * k * Q.
    rows = tf.broadcast_to(tf.range(tf.shape(flat)[0])[:, None], tf.shape(nearest))  # (N, k)
    indices = tf.stack([rows, nearest], axis=-1)  # (N, k, 2)
    dense = tf.scatter_nd(indices, weights, tf.stack([tf.shape(flat)[0], num_bins]))  # (N, Q)
    return tf.reshape(dense, tf.concat([tf.shape(ab)[:-1], [num_bins]], axis=0))


def prior_from_grid_histogram(counts_grid, *, bins=None):
    """The empirical bin distribution from data_prep's ab grid histogram.

    Args:
        counts_grid: (AB_GRID_SIZE, AB_GRID_SIZE) pixel counts indexed [i_a, i_b],
            cell centres constants.AB_GRID_CENTRES (``data_prep.prior``).
        bins: float (Q, 2) bin centres in Lab units; default ``in_gamut_bins()``.

    Returns:
        float64 (Q,) probabilities summing to 1. Counts in grid cells outside
        the bin set (none for exact sRGB pixels, possible with another Lab
        conversion) are moved to the nearest bin centre (ties: first in bin
        order) rather than dropped, so that every counted pixel is represented.

    Raises:
        ValueError: wrong shape, negative counts, or no counts at all.
    """
    bins = _bins_or_default(bins)
    counts = np.asarray(counts_grid, dtype=np.float64)
    if counts.shape != (C.AB_GRID_SIZE, C.AB_GRID_SIZE):
        raise ValueError(
            f"counts_grid must have shape ({C.AB_GRID_SIZE}, {C.AB_GRID_SIZE}), got {counts.shape}"
        )
    if (counts < 0).any() or counts.sum() <= 0:
        raise ValueError("counts_grid must be non-negative with a positive total")
    centres = np.stack(np.meshgrid(C.AB_GRID_CENTRES, C.AB_GRID_CENTRES, indexing="ij"), -1)
    centres = centres.reshape(-1, 2)  # (AB_GRID_SIZE^2, 2), flat index i_a * size + i_b
    distances = np.linalg.norm(centres[:, None, :] - bins[None, :, :], axis=-1)
    nearest_bin = np.argmin(distances, axis=1)  # a cell in the bin set maps to itself
    prior = np.bincount(nearest_bin, weights=counts.ravel(), minlength=bins.shape[0])
    return prior / prior.sum()


def smooth_prior(prior, sigma=C.PRIOR_SMOOTH_SIGMA, *, bins=None):
    """Gaussian smoothing of a bin distribution in ab space: float64 (Q,), sums to 1.

    Each bin becomes the Gaussian-weighted average (width sigma, Lab units) of
    the prior over the bins, the weights normalised over the bins rather than
    over the whole plane: mass does not leak out of the gamut and a uniform
    prior stays uniform. The result is renormalised to sum 1.
    """
    bins = _bins_or_default(bins).astype(np.float64)
    prior = np.asarray(prior, dtype=np.float64)
    if prior.shape != (bins.shape[0],):
        raise ValueError(f"prior must have shape ({bins.shape[0]},), got {prior.shape}")
    sq_dist = np.sum((bins[:, None, :] - bins[None, :, :]) ** 2, axis=-1)  # (Q, Q)
    kernel = np.exp(-sq_dist / (2.0 * sigma * sigma))
    smoothed = (kernel @ prior) / kernel.sum(axis=1)
    return smoothed / smoothed.sum()


def rebalance_weights(prior, sigma=C.PRIOR_SMOOTH_SIGMA, lam=C.REBALANCE_LAMBDA, *, bins=None):
    """Class-rebalancing weights per bin (Zhang et al. 2016, eq. 3-4): float32 (Q,).

    p_smooth = ``smooth_prior(prior, sigma)``; p_mix = (1 - lam) p_smooth + lam / Q;
    w = c / p_mix with c chosen so that sum_q p_smooth_q w_q = 1 (the smoothed
    prior, as in Zhang's released code), i.e. the expected weight of a pixel
    drawn from the training distribution is 1 and the loss keeps its scale.

    Args:
        prior: (Q,) bin probabilities, e.g. from ``prior_from_grid_histogram``.
        bins: float (Q, 2) bin centres in Lab units; default ``in_gamut_bins()``.
        sigma: smoothing width in Lab units.
        lam: weight of the uniform distribution in the mix, in [0, 1]; 1 gives
            all-ones weights (no rebalancing).

    Raises:
        ValueError: lam outside [0, 1], a prior of the wrong shape, or lam = 0
            with an empty bin (its weight would be infinite).
    """
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be in [0, 1], got {lam}")
    p_smooth = smooth_prior(prior, bins=bins, sigma=sigma)
    p_mix = (1.0 - lam) * p_smooth + lam / p_smooth.size
    if (p_mix <= 0).any():
        raise ValueError("lam = 0 needs a prior with no empty bin after smoothing")
    weights = 1.0 / p_mix
    weights /= np.sum(p_smooth * weights)
    return weights.astype(np.float32)


def pixel_weights(soft_targets, weights):
    """Per-pixel rebalancing weight: w at the argmax bin of each soft target.

    Args:
        soft_targets: float (..., Q), e.g. from ``soft_encode``.
        weights: float (Q,), from ``rebalance_weights``.

    Returns:
        float32 (...,), e.g. (B, H, W).
    """
    weights = tf.convert_to_tensor(weights, dtype=tf.float32)
    return tf.gather(weights, tf.argmax(soft_targets, axis=-1))


def colourful_mask(ab):
    """Which images are colourful enough to enter the classification loss.

    Args:
        ab: float (B, H, W, 2) in Lab units (any rank >= 2, first axis = images).

    Returns:
        bool (B,): True where some pixel has |a| or |b| > GRAY_AB_THRESHOLD.
    """
    ab = tf.convert_to_tensor(ab)
    colourful = tf.abs(ab) > C.GRAY_AB_THRESHOLD
    return tf.reduce_any(tf.reshape(colourful, [tf.shape(ab)[0], -1]), axis=-1)


def class_rebalanced_cross_entropy(soft_targets, logits, pixel_w, mask=None):
    """Zhang et al.'s rebalanced multinomial cross-entropy, per example.

    Per pixel: -sum_q z_q log softmax(logits)_q, times the pixel's weight; the
    per-example loss is the mean over that example's pixels, multiplied by the
    mask (0 for gray images). No reduction over the batch is done here: the
    caller owns it, e.g. ``tf.nn.compute_average_loss(per_example,
    global_batch_size=...)`` under tf.distribute, or a sum divided by the
    number of colourful images.

    Args:
        soft_targets: float (B, H, W, Q), from ``soft_encode``.
        logits: float (B, H, W, Q), any float dtype (computed in float32).
        pixel_w: float (B, H, W), from ``pixel_weights``.
        mask: optional bool (B,), from ``colourful_mask``.

    Returns:
        float32 (B,) per-example losses.
    """
    logits = tf.cast(logits, tf.float32)
    soft_targets = tf.cast(soft_targets, tf.float32)
    per_pixel = tf.nn.softmax_cross_entropy_with_logits(labels=soft_targets, logits=logits)
    per_pixel = per_pixel * tf.cast(pixel_w, tf.float32)  # (B, H, W)
    per_example = tf.reduce_mean(tf.reshape(per_pixel, [tf.shape(per_pixel)[0], -1]), axis=-1)
    if mask is not None:
        per_example = per_example * tf.cast(mask, tf.float32)
    return per_example


def annealed_mean(logits, bins=None, temperature=C.ANNEALED_MEAN_T):
    """Annealed-mean decoding: softmax(logits / T) @ bins (Zhang et al. 2016, section 3.3).

    T -> 0 approaches the mode, T = 1 is the mean of the predicted distribution.
    Uses only softmax and a tensordot (reshape + matmul), TFLite builtins.

    Args:
        logits: float (..., Q), any float dtype (computed in float32).
        bins: float (Q, 2) bin centres in Lab units; default ``in_gamut_bins()``.
        temperature: positive float.

    Returns:
        float32 (..., 2) ab in Lab units, inside the bins' bounding box.
    """
    bins = _bins_or_default(bins)
    logits = tf.cast(logits, tf.float32)
    probs = tf.nn.softmax(logits / temperature, axis=-1)  # (..., Q)
    return tf.tensordot(probs, tf.constant(bins), axes=[[-1], [0]])  # (..., 2)


@keras.saving.register_keras_serializable(package="keras_colorize")
class AnnealedMeanDecode(keras.layers.Layer):
    """Logits over the in-gamut bins -> ab by annealed mean; always float32.

    Input (B, h, w, Q) logits, Q = len(in_gamut_bins()); output (B, h, w, 2) ab
    in Lab units. The bins are not saved with the model: they are re-derived
    (deterministically) from the code, and ``build`` checks Q.

    Args:
        temperature: annealing temperature T > 0 (default ANNEALED_MEAN_T).
        chroma_gain: factor > 0 on the decoded ab (default 1, none). An annealed
            mean is a weighted average of bins, so it is less saturated than
            the photos; a gain chosen on validation buys colour for accuracy.
        **kwargs: standard Layer arguments; dtype defaults to "float32" so the
            decode stays in float32 under a mixed-precision policy.
    """

    def __init__(self, temperature=C.ANNEALED_MEAN_T, chroma_gain=1.0, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if chroma_gain <= 0:
            raise ValueError(f"chroma_gain must be positive, got {chroma_gain}")
        self.temperature = float(temperature)
        self.chroma_gain = float(chroma_gain)

    def build(self, input_shape):
        num_bins = in_gamut_bins().shape[0]
        if input_shape[-1] is not None and input_shape[-1] != num_bins:
            raise ValueError(
                f"AnnealedMeanDecode expects {num_bins} logits per pixel, got {input_shape[-1]}"
            )
        super().build(input_shape)

    def call(self, inputs):
        ab = annealed_mean(inputs, temperature=self.temperature)
        return ab if self.chroma_gain == 1.0 else ab * self.chroma_gain

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2)

    def get_config(self):
        config = super().get_config()
        config["temperature"] = self.temperature
        config["chroma_gain"] = self.chroma_gain
        return config
