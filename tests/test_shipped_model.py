"""The README's first command: colorize the example photos with the shipped model."""

import os

import numpy as np
from PIL import Image

from keras_colorize import artifacts as A
from keras_colorize.color.fullres import lightness
from keras_colorize.colorize import main
from keras_colorize.evaluation.metrics import image_metrics
from keras_colorize.inference.shipped import REPO_ROOT, SHIPPED_MODEL

EXAMPLES = os.path.join(REPO_ROOT, "examples")
SHIPPED = os.path.join(REPO_ROOT, SHIPPED_MODEL)


def test_shipped_model_is_present_and_small():
    assert SHIPPED.endswith(A.TFLITE_FILE), "the default runs without TensorFlow"
    folder = os.path.dirname(SHIPPED)
    for name in (A.TFLITE_FILE, A.COLORIZER_FILE, A.CONFIG_FILE):
        assert os.path.exists(os.path.join(folder, name)), name
    assert os.path.getsize(SHIPPED) < 25 * 2**20


def test_colorize_examples_with_the_default_model(tmp_path):
    out = tmp_path / "colorized"
    assert main([EXAMPLES, "--out", str(out), "--quiet"]) == 0
    names = sorted(n for n in os.listdir(EXAMPLES) if n.endswith(".jpg"))
    assert sorted(os.listdir(out)) == sorted(n.replace(".jpg", ".png") for n in names)
    for name in names:
        gray = np.asarray(Image.open(os.path.join(EXAMPLES, name)).convert("RGB"))
        colour = np.asarray(Image.open(out / name.replace(".jpg", ".png")).convert("RGB"))
        assert colour.shape == gray.shape
        assert np.abs(lightness(colour) - lightness(gray)).mean() < 1
        # It colours: a visible chroma, not a gray copy of the input.
        assert image_metrics(colour, gray)["chroma"] > 3, name


def test_examples_are_gray():
    for name in os.listdir(EXAMPLES):
        if name.endswith(".jpg"):
            assert Image.open(os.path.join(EXAMPLES, name)).mode == "L", name
