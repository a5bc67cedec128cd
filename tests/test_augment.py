"""Augmentations: pasted cut-outs land where and as they should, rotations, reproducibility."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_colorize.data import augment
from keras_colorize.data.pipeline import make_dataset


@pytest.fixture(scope="module")
def objects(tmp_path_factory):
    """Two opaque red squares with a transparent margin, and an RGB file to be ignored."""
    folder = tmp_path_factory.mktemp("objects")
    for name, size in (("a.png", (40, 30)), ("b.png", (20, 50))):
        rgba = np.zeros((*size, 4), np.uint8)
        rgba[2:-2, 2:-2] = (230, 20, 20, 255)
        Image.fromarray(rgba).save(folder / name)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "rgb.png")
    return augment.load_objects(str(folder))


def test_cut_outs_are_padded_and_their_edge_eroded(objects):
    pixels, sizes = objects
    assert pixels.shape == (2, augment.OBJECT_MAX_SIDE, augment.OBJECT_MAX_SIDE, 4)
    assert sizes.tolist() == [[40, 30], [20, 50]]
    alpha = pixels[0, :40, :30, 3]
    assert alpha[2, 10] == 0 and alpha[3, 10] == 255  # one pixel of the opaque edge eroded
    assert pixels[0, 40:].max() == 0  # the slot's padding is empty


def test_a_folder_without_cut_outs_is_one_line(tmp_path):
    with pytest.raises(augment.ObjectsError, match="no RGBA images"):
        augment.load_objects(str(tmp_path))
    with pytest.raises(augment.ObjectsError, match="does not exist"):
        augment.load_objects(str(tmp_path / "missing"))


def test_pasting_puts_the_object_colour_on_the_crop(objects):
    pixels, sizes = (tf.constant(a) for a in objects)
    gray = tf.fill((64, 64, 3), 0.5)
    seed = tf.constant([3, 4])
    pasted = augment.paste_objects(gray, pixels, sizes, 2, 1.0, seed).numpy()
    red = (pasted[..., 0] > 0.85) & (pasted[..., 1] < 0.15)
    # Two objects of long side 25-60% of 64 px, possibly cut by the border or overlapping.
    assert 20 < red.sum() < 2 * 39**2
    untouched = np.all(np.abs(pasted - 0.5) < 1e-6, axis=-1)
    assert untouched.sum() + red.sum() <= 64 * 64 and untouched.mean() > 0.3
    again = augment.paste_objects(gray, pixels, sizes, 2, 1.0, seed).numpy()
    np.testing.assert_array_equal(pasted, again)  # stateless: the seed decides
    nothing = augment.paste_objects(gray, pixels, sizes, 2, 0.0, seed).numpy()
    np.testing.assert_array_equal(nothing, gray.numpy())


def test_rotation_turns_the_picture_and_fills_the_corners():
    ramp = np.tile(np.linspace(0.0, 1.0, 64, dtype=np.float32)[None, :, None], (64, 1, 3))
    turned = augment.rotate(tf.constant(ramp), 15.0, tf.constant([1, 2])).numpy()
    assert turned.shape == (64, 64, 3)
    assert abs(turned[32, 32, 0] - ramp[32, 32, 0]) < 0.02  # the centre stays put
    assert np.abs(turned - ramp).max() > 0.05  # the rest turned
    flat = augment.rotate(tf.fill((64, 64, 3), 0.7), 15.0, tf.constant([1, 2])).numpy()
    np.testing.assert_allclose(flat, 0.7, atol=1e-5)  # reflected corners: no black wedges
    still = augment.rotate(tf.constant(ramp), 0.0, tf.constant([1, 2])).numpy()
    np.testing.assert_allclose(still, ramp, atol=1e-5)


def test_the_pipeline_applies_it_reproducibly(small_dataset, objects):
    augmentation = augment.Augmentation(10.0, objects, paste_max=2, paste_probability=1.0)

    def first(augmentation):
        dataset = make_dataset(small_dataset, "train", 2, seed=5, augmentation=augmentation)
        return next(iter(dataset))

    l_a, ab_a = first(augmentation)
    l_b, ab_b = first(augmentation)
    np.testing.assert_array_equal(ab_a.numpy(), ab_b.numpy())
    l_plain, ab_plain = first(None)
    assert l_a.shape == l_plain.shape and ab_a.shape == ab_plain.shape
    assert np.abs(ab_a.numpy() - ab_plain.numpy()).max() > 0.1  # red cut-outs changed ab
