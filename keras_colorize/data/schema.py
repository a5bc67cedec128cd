"""The on-disk dataset format, shared by data_prep (writer) and the pipeline (reader).

A dataset folder holds:
- ``{split}-{index:05d}-of-{count:05d}.tfrecord`` shards of tf.train.Example
  records with the FEATURES below, for split in SPLITS;
- ``manifest.json``: how it was built, counts per split, the colourfulness
  histogram, the sources and every skipped file with the reason;
- ``ab_prior.npy``: float64 (AB_GRID_SIZE, AB_GRID_SIZE) pixel counts of the
  TRAINING split over the ab grid of constants.AB_GRID_CENTRES, indexed
  [i_a, i_b], each pixel counted at its nearest grid centre (clipped to the
  grid). The classification model turns it into rebalancing weights.
"""

import os
import re

import tensorflow as tf

SPLITS = ("train", "val", "test")
MANIFEST_FILE = "manifest.json"
PRIOR_FILE = "ab_prior.npy"
FORMAT_VERSION = 1

SHARD_RE = re.compile(r"^(train|val|test)-(\d{5})-of-(\d{5})\.tfrecord$")

FEATURES = {
    # The encoded image (JPEG or PNG), already resized and cropped by data_prep.
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/format": tf.io.FixedLenFeature([], tf.string),
    "image/height": tf.io.FixedLenFeature([], tf.int64),
    "image/width": tf.io.FixedLenFeature([], tf.int64),
    # Hasler-Suesstrunk colourfulness of the stored image (signed convention).
    "image/colorfulness": tf.io.FixedLenFeature([], tf.float32),
    # SHA-256 of the source file's bytes: identity, split assignment, dedup.
    "image/key": tf.io.FixedLenFeature([], tf.string),
    # The source path relative to its --src folder, for tracing back.
    "image/source": tf.io.FixedLenFeature([], tf.string),
}


def shard_name(split, index, count):
    """File name of shard `index` (0-based) of `count` for `split`."""
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def shard_paths(data_dir, split):
    """Sorted paths of the shards of `split` in `data_dir` (empty list if none)."""
    if not os.path.isdir(data_dir):
        return []
    names = [n for n in os.listdir(data_dir) if (m := SHARD_RE.match(n)) and m.group(1) == split]
    return [os.path.join(data_dir, n) for n in sorted(names)]


def _bytes(value):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int(value):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def _float(value):
    return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))


def make_example(encoded, image_format, height, width, colorfulness, key, source):
    """Builds the serialized tf.train.Example of one image.

    Args:
        encoded: bytes of the JPEG/PNG image (8-bit RGB).
        image_format: "jpeg" or "png".
        height, width: pixel size of the encoded image.
        colorfulness: its colourfulness score.
        key: hex SHA-256 of the source file.
        source: source path relative to its --src folder.

    Returns:
        bytes, the serialized record.
    """
    feature = {
        "image/encoded": _bytes(encoded),
        "image/format": _bytes(image_format.encode()),
        "image/height": _int(int(height)),
        "image/width": _int(int(width)),
        "image/colorfulness": _float(float(colorfulness)),
        "image/key": _bytes(key.encode()),
        "image/source": _bytes(source.encode("utf-8")),
    }
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    # deterministic: map entries sorted, so the bytes do not depend on the process.
    return example.SerializeToString(deterministic=True)


def parse_example(serialized):
    """Parses one serialized record into a dict of tensors named as FEATURES."""
    return tf.io.parse_single_example(serialized, FEATURES)


def decode_rgb(parsed):
    """The record's image as uint8 (H, W, 3) RGB."""
    image = tf.io.decode_image(parsed["image/encoded"], channels=3, expand_animations=False)
    return tf.ensure_shape(image, [None, None, 3])
