"""make_dataset: shapes, dtypes, ranges, determinism, sharding and errors."""

import numpy as np
import pytest
import tensorflow as tf

from keras_colorize.color.tf_lab import l_ab_normalized_to_rgb
from keras_colorize.data import schema
from keras_colorize.data.pipeline import DatasetError, make_dataset


def _arrays(dataset):
    return [(lum.numpy(), ab.numpy()) for lum, ab in dataset]


def test_batches_have_the_documented_contract(small_dataset):
    batches = _arrays(make_dataset(small_dataset, "train", batch_size=2, seed=1))
    assert batches
    for l_norm, ab_norm in batches:
        assert l_norm.shape == (2, 64, 64, 1) and ab_norm.shape == (2, 64, 64, 2)
        assert l_norm.dtype == np.float32 and ab_norm.dtype == np.float32
        assert -1 <= l_norm.min() and l_norm.max() <= 1
        assert np.abs(ab_norm).max() <= 1
        assert np.isfinite(ab_norm).all()
    # Real photos: colour present, lightness varies.
    assert max(np.abs(ab).max() for _, ab in batches) > 0.2
    assert max(lum.std() for lum, _ in batches) > 0.1


def test_validation_is_deterministic_and_matches_the_stored_pixels(small_dataset):
    first = _arrays(make_dataset(small_dataset, "val", batch_size=1))
    second = _arrays(make_dataset(small_dataset, "val", batch_size=1))
    assert len(first) == len(second) > 0
    for (l1, ab1), (l2, ab2) in zip(first, second, strict=True):
        np.testing.assert_array_equal(l1, l2)
        np.testing.assert_array_equal(ab1, ab2)
    # Back to RGB, the first batch is the stored 80 px image resized to 64 px.
    record = next(iter(tf.data.TFRecordDataset(schema.shard_paths(small_dataset, "val"))))
    stored = tf.image.convert_image_dtype(
        schema.decode_rgb(schema.parse_example(record)), tf.float32
    )
    expected = tf.image.resize(stored, [64, 64], antialias=True).numpy()
    rgb = l_ab_normalized_to_rgb(first[0][0][0], first[0][1][0]).numpy()
    assert np.abs(rgb - expected).max() < 2 / 255


def test_training_augmentation_is_seeded(small_dataset):
    run = lambda seed: _arrays(make_dataset(small_dataset, "train", batch_size=2, seed=seed))  # noqa: E731
    a, b, c = run(7), run(7), run(8)
    for (la, _), (lb, _) in zip(a, b, strict=True):
        np.testing.assert_array_equal(la, lb)
    assert any(not np.array_equal(la, lc) for (la, _), (lc, _) in zip(a, c, strict=True))


def test_image_size_override_and_partial_batches(small_dataset):
    dataset = make_dataset(small_dataset, "val", batch_size=2, image_size=32, drop_remainder=False)
    sizes = [lum.shape for lum, _ in dataset]
    assert all(s[1:] == (32, 32, 1) for s in sizes)
    assert sum(s[0] for s in sizes) == len(
        list(tf.data.TFRecordDataset(schema.shard_paths(small_dataset, "val")))
    )


def test_input_pipelines_read_disjoint_data(small_dataset):
    def keys(pipeline_id):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline_id)
        batches = make_dataset(
            small_dataset, "train", batch_size=1, training=False, input_context=context
        )
        return {lum.numpy().tobytes() for lum, _ in batches}

    first, second = keys(0), keys(1)
    assert first and second and not first & second


def test_errors_are_one_line(tmp_path, small_dataset):
    with pytest.raises(DatasetError, match="does not exist"):
        make_dataset(str(tmp_path / "missing"), "train", batch_size=2)
    with pytest.raises(DatasetError, match="data_prep"):
        make_dataset(str(tmp_path), "train", batch_size=2)
    with pytest.raises(DatasetError, match="no test shards"):
        make_dataset(small_dataset, "test", batch_size=2)
    with pytest.raises(DatasetError, match="unknown split"):
        make_dataset(small_dataset, "holdout", batch_size=2)
