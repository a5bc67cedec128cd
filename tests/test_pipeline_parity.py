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
from keras_colorize import constants as C
from keras_colorize.color import np_lab
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


class KerasBehindRGBContract(KerasBackend):
    """The .keras model seen through the ``rgb_uint8`` contract's 8-bit ends.

    As TFLiteBackend does for an RGB file: the uint8 gray of the working L goes
    through ``tflite.colorize_fixed`` (the RGB files' own graph, here with the
    Keras model, without guidance as those files have none) and ab is read back
    from its uint8 output, so what remains between the two is the conversion alone.
    """

    def _predict(self, l_norm, hints=None, reference=None):
        results = []
        for one in l_norm:  # (S, S, 1)
            gray = np_lab.gray_rgb_uint8((one + 1.0) * C.L_HALF)  # (S, S, 3) uint8
            rgb = tflite.colorize_fixed(self.model, tf.constant(gray[None])).numpy()[0]
            results.append(np_lab.rgb_uint8_to_lab(rgb)[..., 1:] / C.AB_SCALE)
        return np.stack(results).astype(np.float32)


@pytest.fixture(scope="module")
def reference(shipped, photo):
    """The photo colorized by colorize's numpy pipeline with the .keras backend."""
    size = shipped[1].train.image_size
    backend = KerasBackend(os.path.join(SHIPPED, A.COLORIZER_FILE), size)
    return colorize_images([photo], backend)[0]


@pytest.fixture(scope="module")
def rgb_contract_reference(shipped, photo):
    """The same, with the .keras model behind the rgb_uint8 contract's uint8 input and output."""
    size = shipped[1].train.image_size
    backend = KerasBehindRGBContract(os.path.join(SHIPPED, A.COLORIZER_FILE), size)
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
    shipped, photo, reference, rgb_contract_reference, small_dataset, tmp_path
):
    # A tolerance bounds the conversion (tflite's parity: the Keras model on the
    # same fixed-size input), so an rgb_uint8 file is held to the Keras model
    # behind the same 8-bit ends. Those ends cost a classification model about
    # half a level on their own (the contract's test below).
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
        rgb_file = entry["contract"] == tflite.RGB_CONTRACT
        mean, p99 = _differences(got, rgb_contract_reference if rgb_file else reference)
        tolerance = tflite.TOLERANCES[entry["variant"]]
        print(f"{entry['variant']} ({entry['contract']}): mean {mean:.3f}, p99 {p99:.0f} levels")
        assert mean <= tolerance and p99 <= P99_FACTOR * tolerance, entry["variant"]


def test_the_rgb_contracts_8_bit_ends_cost_at_most_a_level(
    photo, reference, rgb_contract_reference
):
    # The uint8 gray input quantises L (steps of 0.27-0.51 of 100) and the uint8
    # output rounds the colour; measured 0.3-0.6 levels on the shipped models.
    mean, p99 = _differences(rgb_contract_reference, reference)
    print(f".keras behind the rgb_uint8 contract vs .keras: mean {mean:.3f}, p99 {p99:.0f} levels")
    assert 0 < mean <= 1.0 and p99 <= 6
