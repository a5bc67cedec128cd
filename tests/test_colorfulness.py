"""Hasler-Suesstrunk colourfulness, signed convention."""

import csv
import math
import os

import numpy as np
import pytest
from PIL import Image

from keras_colorize.color.colorfulness import colorfulness
from tests.conftest import PHOTOS_DIR


def test_gray_image_scores_zero():
    gray = np.random.default_rng(0).integers(0, 256, (32, 32, 1)).repeat(3, axis=-1)
    assert colorfulness(gray) == pytest.approx(0.0, abs=1e-9)


def test_uniform_red_has_the_signed_mean_term_only():
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 255
    # rg = 255, yb = 127.5 everywhere: no spread, mean term 0.3 * |(255, 127.5)|.
    assert colorfulness(red) == pytest.approx(0.3 * math.hypot(255, 127.5))


def test_signed_convention_differs_from_absolute():
    """Half red, half green: signed rg = +-255 has mean 0 and spread 255."""
    image = np.zeros((8, 8, 3), np.uint8)
    image[:4, :, 0] = 255
    image[4:, :, 1] = 255
    # rg: +255 / -255 (std 255); yb: 127.5 everywhere (mean 127.5).
    assert colorfulness(image) == pytest.approx(255 + 0.3 * 127.5)


def test_saturated_checkerboard_scores_far_above_photos():
    board = np.zeros((16, 16, 3), np.uint8)
    board[::2, ::2] = (255, 0, 0)
    board[1::2, 1::2] = (0, 0, 255)
    assert colorfulness(board) > 109  # "extremely colourful" on the paper's scale


def test_ordering_of_real_photos_matches_the_published_scores():
    """MANIFEST.csv holds scores computed at the photos' original size; the order must agree."""
    with open(os.path.join(PHOTOS_DIR, "MANIFEST.csv"), encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    ours = [
        colorfulness(np.asarray(Image.open(os.path.join(PHOTOS_DIR, r["file"])).convert("RGB")))
        for r in rows
    ]
    published = [float(r["colourfulness"]) for r in rows]
    assert np.array_equal(np.argsort(ours), np.argsort(published))
    assert np.abs(np.array(ours) - published).max() < 5


def test_rejects_non_rgb_input():
    with pytest.raises(ValueError):
        colorfulness(np.zeros((4, 4)))
