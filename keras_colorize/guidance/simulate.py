"""Simulated guidance for training and evaluation, in TF ops (Zhang, Zhu et al. 2017).

A guided network learns from hints drawn from the ground truth itself:

- points: their number is geometric (keep adding one while a uniform draw is
  below 1 - p; p = 1/8, so 1/8 of the images get none and the mean is 7),
  each a square patch of side 1..9 px at a uniform position, its value the
  MEAN ab of the patch. Uniform positions (Zhang also tried a Gaussian around
  the centre) because people click anywhere in a photo.
- reference: the target's own colour distribution (hints.reference_histogram),
  given with probability ``reference_probability`` and all zeros otherwise,
  so that the network works with and without one.

Every draw comes from a stateless seed: the same seed gives the same hints.
"""

import tensorflow as tf

from keras_colorize import constants as C
from keras_colorize.contract import REFERENCE_BINS
from keras_colorize.guidance.hints import MAX_SIMULATED_HINTS

STOP_PROBABILITY = 1.0 / 8.0  # p of the geometric number of points
MAX_POINTS = MAX_SIMULATED_HINTS  # cap on the geometric draw (P(n > 64) = (7/8)^65 < 2e-4)
MAX_PATCH = 9  # patch sides are uniform in 1..MAX_PATCH pixels
REFERENCE_PROBABILITY = 0.5


def geometric_count(seed, stop_probability=STOP_PROBABILITY, max_points=MAX_POINTS):
    """int32 scalar n with P(n >= k) = (1 - p)^k, capped at max_points."""
    u = tf.random.stateless_uniform([], seed, minval=1e-7, maxval=1.0)
    count = tf.floor(tf.math.log(u) / tf.math.log(1.0 - stop_probability))
    return tf.minimum(tf.cast(count, tf.int32), max_points)


def simulate_hints(ab_norm, seed, count=None, stop_probability=STOP_PROBABILITY):
    """Random ground-truth hints for one image.

    Args:
        ab_norm: float32 (H, W, 2), the target ab / 110.
        seed: int32 (2,) stateless seed.
        count: the number of points (int, at most MAX_POINTS); None draws it
            from the geometric distribution.
        stop_probability: p of that distribution.

    Returns:
        float32 (H, W, 3): the patch-mean ab / 110 at hinted pixels, and the
        mask (1 there) — the layout of hints.hint_map. Overlapping patches
        share the mean of their values.
    """
    seeds = tf.random.experimental.stateless_split(seed, num=4)
    if count is None:
        count = geometric_count(seeds[0], stop_probability)
    shape = tf.shape(ab_norm)
    height, width = shape[0], shape[1]
    sides = tf.random.stateless_uniform([MAX_POINTS], seeds[1], 1, MAX_PATCH + 1, dtype=tf.int32)
    # A patch never exceeds a (tiny) image; its top-left corner is uniform over the fitting places.
    sides_y, sides_x = tf.minimum(sides, height), tf.minimum(sides, width)
    top = tf.cast(
        tf.random.stateless_uniform([MAX_POINTS], seeds[2])
        * tf.cast(height - sides_y + 1, tf.float32),
        tf.int32,
    )
    left = tf.cast(
        tf.random.stateless_uniform([MAX_POINTS], seeds[3])
        * tf.cast(width - sides_x + 1, tf.float32),
        tf.int32,
    )
    rows, cols = tf.range(height), tf.range(width)
    in_rows = (rows[None, :] >= top[:, None]) & (rows[None, :] < (top + sides_y)[:, None])  # (K, H)
    in_cols = (cols[None, :] >= left[:, None]) & (
        cols[None, :] < (left + sides_x)[:, None]
    )  # (K, W)
    active = tf.range(MAX_POINTS) < count  # (K,)
    patches = tf.cast(
        in_rows[:, :, None] & in_cols[:, None, :] & active[:, None, None], tf.float32
    )  # (K, H, W)
    areas = tf.cast(sides_y * sides_x, tf.float32)  # (K,)
    means = tf.einsum("khw,hwc->kc", patches, ab_norm) / areas[:, None]  # (K, 2)
    coverage = tf.reduce_sum(patches, axis=0)  # (H, W)
    ab = tf.einsum("khw,kc->hwc", patches, means) / tf.maximum(coverage, 1.0)[..., None]
    mask = tf.cast(coverage > 0, tf.float32)[..., None]
    return tf.concat([ab, mask], axis=-1)  # (H, W, 3)


def reference_histogram(ab_norm):
    """float32 (H, W, 2) ab / 110 -> (REFERENCE_BINS,): the TF twin of hints.reference_histogram."""
    ab = tf.reshape(ab_norm, [-1, 2]) * C.AB_SCALE
    index = tf.round((ab + C.AB_GRID_LIMIT) / C.AB_GRID_STEP)
    index = tf.cast(tf.clip_by_value(index, 0, C.AB_GRID_SIZE - 1), tf.int32)
    flat = index[:, 0] * C.AB_GRID_SIZE + index[:, 1]
    counts = tf.math.bincount(
        flat, minlength=REFERENCE_BINS, maxlength=REFERENCE_BINS, dtype=tf.float32
    )
    return counts / tf.reduce_sum(counts)


class HintSimulation:
    """Maps (L_norm, ab_norm) of one image to ((L_norm, hints, reference), ab_norm).

    Args:
        stop_probability: p of the geometric number of points.
        reference_probability: how often the target's own histogram is given.
        count: a fixed number of points (evaluation), or None (training's draw).
        reference: whether a reference may be given at all.
    """

    def __init__(
        self,
        stop_probability=STOP_PROBABILITY,
        reference_probability=REFERENCE_PROBABILITY,
        count=None,
        reference=True,
    ):
        self.stop_probability = float(stop_probability)
        self.reference_probability = float(reference_probability) if reference else 0.0
        self.count = count

    def __call__(self, l_norm, ab_norm, seed):
        hint_seed, reference_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        hints = simulate_hints(ab_norm, hint_seed, self.count, self.stop_probability)
        given = tf.random.stateless_uniform([], reference_seed) < self.reference_probability
        reference = reference_histogram(ab_norm) * tf.cast(given, tf.float32)
        return (l_norm, hints, reference), ab_norm
