"""The tf.data input pipeline: dataset shards -> batches of (L, ab) for the networks.

Every family trains on the same pairs: the normalised lightness as input and
the normalised ab as target. The classification trainer soft-encodes ab into
its quantised-bin targets in-graph, inside its train_step, so the pipeline stays
family-agnostic and the soft-encoding runs on the accelerator.
"""

import os

import tensorflow as tf

from keras_colorize.color.tf_lab import rgb_to_l_ab_normalized
from keras_colorize.data import schema
from keras_colorize.io.json_file import read_json

DEFAULT_SHUFFLE_BUFFER = 2048


class DatasetError(Exception):
    """The data folder is missing, empty, or not a data_prep output; one-line message."""


def read_manifest(data_dir):
    """Loads `data_dir`/manifest.json; raises DatasetError if it is missing or corrupt."""
    path = os.path.join(data_dir, schema.MANIFEST_FILE)
    if not os.path.isdir(data_dir):
        raise DatasetError(f"data folder {data_dir} does not exist")
    if not os.path.exists(path):
        raise DatasetError(
            f"{data_dir} holds no {schema.MANIFEST_FILE}: build it with `python -m data_prep`"
        )
    manifest = read_json(path, DatasetError, "manifest")
    # What the readers use: per-split counts and the stored image shape.
    if not (
        isinstance(manifest, dict)
        and isinstance(manifest.get("counts"), dict)
        and isinstance(manifest.get("image_shape"), list)
        and manifest["image_shape"]
    ):
        raise DatasetError(
            f"{path} is not a data_prep manifest (no counts or image_shape); "
            "rebuild the dataset with `python -m data_prep`"
        )
    return manifest


def _random_resized_crop(image, image_size, seed):
    """Random square crop of side in [image_size, min(H, W)], resized to image_size, random flip.

    image: uint8 (H, W, 3). seed: int32 (2,), for stateless (reproducible) randomness.
    Returns float32 (image_size, image_size, 3) in [0, 1].
    """
    seeds = tf.random.experimental.stateless_split(seed, num=3)
    shape = tf.shape(image)
    side_max = tf.minimum(shape[0], shape[1])
    side = tf.random.stateless_uniform([], seeds[0], image_size, side_max + 1, dtype=tf.int32)
    crop = tf.image.stateless_random_crop(image, tf.stack([side, side, 3]), seed=seeds[1])
    crop = tf.image.convert_image_dtype(crop, tf.float32)
    # Area-like antialiasing when shrinking keeps crops of every scale equally sharp.
    crop = tf.image.resize(crop, [image_size, image_size], antialias=True)
    crop = tf.image.stateless_random_flip_left_right(crop, seeds[2])
    return tf.minimum(tf.maximum(crop, 0.0), 1.0)


def _center_resize(image, image_size):
    """Deterministic view: the central square, resized to image_size. float32 [0, 1]."""
    shape = tf.shape(image)
    side = tf.minimum(shape[0], shape[1])
    crop = tf.image.resize_with_crop_or_pad(image, side, side)
    crop = tf.image.resize(
        tf.image.convert_image_dtype(crop, tf.float32), [image_size, image_size], antialias=True
    )
    return tf.minimum(tf.maximum(crop, 0.0), 1.0)


def make_dataset(
    data_dir,
    split,
    batch_size,
    image_size=None,
    training=None,
    seed=0,
    shuffle_buffer=DEFAULT_SHUFFLE_BUFFER,
    repeat=False,
    drop_remainder=True,
    input_context=None,
    augmentation=None,
    guidance=None,
):
    """Batches of (L_norm, ab_norm) from a data_prep folder.

    Args:
        data_dir: a folder written by `python -m data_prep`.
        split: "train", "val" or "test".
        batch_size: images per batch (per input pipeline under tf.distribute).
        image_size: side of the square crops; default: the dataset's image_size.
        training: random resized crops, flips and shuffling; default: split == "train".
            Otherwise the order and the pixels are deterministic.
        seed: makes shuffling and augmentation reproducible.
        shuffle_buffer: examples in the shuffle buffer.
        repeat: repeat forever (for step-based loops).
        drop_remainder: drop a last partial batch (static batch shape).
        input_context: a tf.distribute.InputContext; each input pipeline then
            reads a disjoint part of the data.
        augmentation: a data.augment.Augmentation applied after the crop and
            flip when training (rotation, pasted object cut-outs), or None.
        guidance: a guidance.simulate.HintSimulation for guided networks, or
            None. Each example then becomes ((L_norm, hints, reference), ab_norm),
            with hints drawn from a per-example seed (the same every epoch
            when not training, since the order is then fixed).

    Returns:
        tf.data.Dataset of (L_norm float32 (B, S, S, 1) in [-1, 1],
        ab_norm float32 (B, S, S, 2) in about [-1, 1]), S = image_size; with
        guidance the first element is (L_norm, hints (B, S, S, 3), reference
        (B, REFERENCE_BINS)).

    Raises:
        DatasetError: no manifest, or no shards for `split`.
    """
    manifest = read_manifest(data_dir)
    if split not in schema.SPLITS:
        raise DatasetError(f"unknown split {split!r}; expected one of {', '.join(schema.SPLITS)}")
    paths = schema.shard_paths(data_dir, split)
    if not paths:
        raise DatasetError(f"{data_dir} has no {split} shards (counts: {manifest.get('counts')})")
    image_size = int(image_size or manifest["settings"]["image_size"])
    training = split == "train" if training is None else training

    pipelines = input_context.num_input_pipelines if input_context is not None else 1
    # Under tf.distribute each input pipeline reads a disjoint part: whole files
    # when there are enough of them, else every n-th record.
    shard_by_file = pipelines > 1 and len(paths) >= pipelines
    shard_by_record = pipelines > 1 and not shard_by_file

    files = tf.data.Dataset.from_tensor_slices(paths)
    if shard_by_file:
        files = files.shard(pipelines, input_context.input_pipeline_id)
    if training:
        files = files.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    records = files.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(paths), 8),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if shard_by_record:
        records = records.shard(pipelines, input_context.input_pipeline_id)
    if training:
        records = records.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        records = records.repeat()

    # One stateless seed per example keeps augmentation and simulated hints
    # reproducible under parallel map.
    seeds = tf.data.Dataset.random(seed=seed).batch(2)
    pairs = tf.data.Dataset.zip(records, seeds)

    def to_pair(serialized, example_seed):
        image = schema.decode_rgb(schema.parse_example(serialized))
        seed = tf.cast(example_seed % (2**31 - 1), tf.int32)
        if training:
            rgb = _random_resized_crop(image, image_size, seed)
            if augmentation is not None:
                rgb = augmentation(rgb, tf.reverse(seed, [0]))  # a seed the crop did not use
        else:
            rgb = _center_resize(image, image_size)
        l_norm, ab_norm = rgb_to_l_ab_normalized(rgb)
        if guidance is None:
            return l_norm, ab_norm
        return guidance(l_norm, ab_norm, seed + 1)  # a seed neither of the above used

    dataset = pairs.map(to_pair, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    return dataset.prefetch(tf.data.AUTOTUNE)
