"""The metrics on cases with known answers."""

import numpy as np
import pytest
from PIL import Image

from keras_colorize.color.tf_lab import lab_to_rgb_uint8, rgb_uint8_to_lab
from keras_colorize.evaluation import metrics
from tests.conftest import photo_paths


def _photo():
    return np.asarray(Image.open(photo_paths()[0]).convert("RGB"))


def _gray_of(rgb):
    lab = rgb_uint8_to_lab(rgb).numpy()
    lab[..., 1:] = 0
    return lab_to_rgb_uint8(lab).numpy()


def test_identical_images_score_perfectly():
    photo = _photo()
    m = metrics.image_metrics(photo, photo)
    assert m["psnr"] == float("inf") and m["ssim"] == pytest.approx(1.0)
    assert m["auc_0_150"] == pytest.approx(1.0) and m["auc_1_100"] == pytest.approx(1.0)
    assert m["delta_l"] == 0 and m["colorfulness"] == m["colorfulness_true"] > 20


def test_gray_prediction_keeps_lightness_and_has_no_colour():
    photo = _photo()
    m = metrics.image_metrics(_gray_of(photo), photo)
    assert m["chroma"] < 1 and m["colorfulness"] < 1
    assert m["delta_l"] < 0.5  # rounding to uint8 only
    assert 0 < m["auc_0_150"] < 1 and m["psnr"] < 40


def test_auc_of_a_constant_ab_shift():
    ab = np.zeros((8, 8, 2))
    shifted = ab + [6.0, 8.0]  # an error of exactly 10 at every pixel
    # Curve: 0 up to threshold 9, 1 from 10 on; trapezoids give 140.5 of 150.
    assert metrics.auc(shifted, ab, (0, 150)) == pytest.approx(140.5 / 150)
    assert metrics.auc(shifted, ab, (1, 100)) == pytest.approx(90.5 / 99)
    ts, fractions = metrics.auc_curve(shifted, ab, (0, 150))
    assert fractions[ts == 9][0] == 0 and fractions[ts == 10][0] == 1


def test_psnr_of_a_known_error():
    a = np.zeros((4, 4, 3), np.uint8)
    b = a + 10  # MSE 100
    assert metrics.psnr(a, b) == pytest.approx(10 * np.log10(255**2 / 100))


def test_summary_ratio_and_delta_cf():
    rows = [
        {"psnr": float("inf"), "colorfulness": 10.0, "colorfulness_true": 20.0},
        {"psnr": 30.0, "colorfulness": 20.0, "colorfulness_true": 40.0},
    ]
    summary = metrics.summarize(rows)
    assert summary["colorfulness_ratio"] == pytest.approx(0.5)
    assert summary["delta_cf"] == pytest.approx(15.0)
    assert summary["psnr"] == pytest.approx(65.0) and summary["images"] == 2


def test_mismatched_sizes_raise():
    with pytest.raises(ValueError, match="differ"):
        metrics.image_metrics(np.zeros((16, 16, 3)), np.zeros((16, 17, 3)))
