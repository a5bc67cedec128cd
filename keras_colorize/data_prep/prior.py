"""The empirical ab distribution of the training split, for class rebalancing.

Computed with TensorFlow from the written shards, i.e. from exactly the
pixels the training pipeline will decode, with the project's exact Lab.
"""

import numpy as np
import tensorflow as tf

from keras_colorize import constants as C
from keras_colorize.color.tf_lab import rgb_uint8_to_lab
from keras_colorize.data.schema import decode_rgb, parse_example


def _grid_indices(serialized):
    """One record -> flat ab grid index (i_a * AB_GRID_SIZE + i_b) of every pixel."""
    lab = rgb_uint8_to_lab(decode_rgb(parse_example(serialized)))
    ab = tf.reshape(lab[..., 1:], [-1, 2])
    index = tf.round((ab + C.AB_GRID_LIMIT) / C.AB_GRID_STEP)
    index = tf.cast(tf.minimum(tf.maximum(index, 0.0), C.AB_GRID_SIZE - 1.0), tf.int32)
    return index[:, 0] * C.AB_GRID_SIZE + index[:, 1]


def ab_grid_histogram(shard_paths):
    """Pixel counts over the ab grid for all records of the given shards.

    Returns:
        float64 (AB_GRID_SIZE, AB_GRID_SIZE), indexed [i_a, i_b] with centres
        constants.AB_GRID_CENTRES.
    """
    cells = C.AB_GRID_SIZE * C.AB_GRID_SIZE
    counts = np.zeros(cells, dtype=np.float64)
    if shard_paths:
        dataset = tf.data.TFRecordDataset(shard_paths).map(
            lambda s: tf.math.bincount(
                _grid_indices(s), minlength=cells, maxlength=cells, dtype=tf.int64
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        for image_counts in dataset.batch(64).map(lambda c: tf.reduce_sum(c, axis=0)):
            counts += image_counts.numpy()
    return counts.reshape(C.AB_GRID_SIZE, C.AB_GRID_SIZE)
