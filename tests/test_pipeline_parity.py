"""One colour pipeline: the same photo through .keras, the SavedModel and every .tflite agrees.

`colorize` (numpy: keras_colorize.inference.pipeline, with a .keras or .tflite
backend) and the SavedModel's serving_default (TF ops in the graph) resize the
photo's lightness by one rule and recombine with the same lookup tables. The
shipped colorizer is used, since a trained network's colours are what a user
sees; the photo is not square and larger than the working size, so both
resizes are exercised.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_colorize import artifacts as A
from keras_colorize.config import load_config
from keras_colorize.inference.backends import KerasBackend, TFLiteBackend
from keras_colorize.inference.pipeline import colorize_images, working_lightness
from keras_colorize.serving import saved_model, tflite
from tests.conftest import photo_paths

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = os.path.join(ROOT, "models", "colorizer")
# p99 of |difference| in levels may reach this many times the variant's mean
# tolerance: quantisation error concentrates in a few saturated pixels.
P99_FACTOR = 4


def _differences(got, expected):
    difference = np.abs(got.astype(int) - expected.astype(int))
    return float(difference.mean()), float(np.percentile(difference, 99))


@pytest.fixture(scope="module")
def photo():
    rgb = np.asarray(Image.open(photo_paths()[7]).convert("RGB"))
    assert min(rgb.shape[:2]) > 128 and rgb.shape[0] != rgb.shape[1]
    return rgb


@pytest.fixture(scope="module")
def shipped():
    colorizer = keras.saving.load_model(os.path.join(SHIPPED, A.COLORIZER_FILE), compile=False)
    return colorizer, load_config(os.path.join(SHIPPED, A.CONFIG_FILE))


@pytest.fixture(scope="module")
def reference(shipped, photo):
    """The photo colorized by colorize's numpy pipeline with the .keras backend."""
    size = shipped[1].train.image_size
    backend = KerasBackend(os.path.join(SHIPPED, A.COLORIZER_FILE), size)
    return colorize_images([photo], backend)[0]


@pytest.mark.parametrize("shape", [(300, 451), (128, 200), (90, 300), (40, 64)])
def test_numpy_and_tf_resize_the_lightness_by_one_rule(shape):
    # Shrinking (area), exactly the size, one side short (bilinear), growing (bilinear).
    lightness = np.random.default_rng(0).uniform(0, 100, (*shape, 1)).astype(np.float32)
    expected = saved_model.resize_lightness(tf.constant(lightness[None]), 128).numpy()[0]
    got = working_lightness(lightness, 128)
    assert got.shape == (128, 128, 1) and np.abs(got - expected).max() < 1e-3


def test_saved_model_serving_default_equals_the_numpy_pipeline(shipped, photo, reference, tmp_path):
    colorizer, config = shipped
    version = str(tmp_path / "1")
    saved_model.export_saved_model(colorizer, config, version, config.train.image_size)
    serve = tf.saved_model.load(version).signatures[A.SERVING_SIGNATURE]
    got = serve(**{A.IMAGES_KEY: tf.constant(photo[None])})[A.COLORIZED_KEY].numpy()[0]
    mean, p99 = _differences(got, reference)
    print(f"SavedModel vs numpy pipeline: mean {mean:.3f}, p99 {p99:.0f} levels")
    assert mean <= 0.1 and p99 <= 1  # float rounding only: the same steps and tables


def test_shipped_tflite_equals_the_keras_model(photo, reference):
    backend = TFLiteBackend(os.path.join(SHIPPED, A.TFLITE_FILE))
    got = colorize_images([photo], backend)[0]
    mean, p99 = _differences(got, reference)
    print(f"shipped {A.TFLITE_FILE} vs .keras: mean {mean:.3f}, p99 {p99:.0f} levels")
    assert mean <= tflite.TOLERANCES["float32"] and p99 <= 1


@pytest.mark.slow
def test_every_tflite_variant_through_colorize_stays_within_its_tolerance(
    shipped, photo, reference, small_dataset, tmp_path
):
    colorizer, config = shipped
    size = config.train.image_size
    report = tflite.export_tflite(
        colorizer,
        config,
        str(tmp_path),
        size=size,
        data_dir=small_dataset,
        parity_images=[photo],
        representative_batches=8,
    )
    assert [entry["variant"] for entry in report["variants"]] == list(A.TFLITE_VARIANTS)
    for entry in report["variants"]:
        backend = TFLiteBackend(str(tmp_path / entry["file"]))
        assert backend.working_size == size
        got = colorize_images([photo], backend)[0]
        mean, p99 = _differences(got, reference)
        tolerance = tflite.TOLERANCES[entry["variant"]]
        print(f"{entry['variant']} ({entry['contract']}): mean {mean:.3f}, p99 {p99:.0f} levels")
        assert mean <= tolerance and p99 <= P99_FACTOR * tolerance, entry["variant"]
