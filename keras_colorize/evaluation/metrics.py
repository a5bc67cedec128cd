"""Colorization quality metrics, per image, on uint8 RGB at the photo's own resolution.

- PSNR and SSIM on RGB (tf.image, max value 255; SSIM with the usual 11x11
  Gaussian window, sigma 1.5, averaged over channels).
- AuC (Zhang et al. 2016): the fraction of pixels whose ab error (L2, Lab
  units) is within a threshold, swept over integer thresholds, area under
  that curve by the trapezoid rule, normalised to [0, 1]. Zhang sweep 0..150;
  the seed paper 1..100.
- Colourfulness (Hasler-Suesstrunk, keras_colorize.color.colorfulness).
- Mean chroma sqrt(a^2 + b^2) of the prediction, and mean |delta L| between
  prediction and truth: a colorizer must keep the input's lightness, so a
  large value means a bug.
"""

import numpy as np
import tensorflow as tf

from keras_colorize.color.colorfulness import colorfulness
from keras_colorize.color.tf_lab import rgb_uint8_to_lab

ZHANG_THRESHOLDS = (0, 150)
PAPER_THRESHOLDS = (1, 100)


def _lab(rgb):
    return rgb_uint8_to_lab(np.asarray(rgb, dtype=np.uint8)).numpy().astype(np.float64)


def psnr(pred, true):
    """PSNR in dB of uint8 RGB (H, W, 3) images; inf for identical images."""
    mse = np.mean((np.asarray(pred, np.float64) - np.asarray(true, np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def ssim(pred, true):
    """SSIM of uint8 RGB (H, W, 3) images (both sides at least 11 px), 1 for identical images."""
    value = tf.image.ssim(
        tf.constant(pred, tf.float32), tf.constant(true, tf.float32), max_val=255.0
    )
    return float(value)


def auc_curve(ab_pred, ab_true, thresholds=ZHANG_THRESHOLDS):
    """(thresholds, fraction of pixels with ab error <= threshold), integer thresholds inclusive."""
    error = np.linalg.norm(
        np.asarray(ab_pred, np.float64) - np.asarray(ab_true, np.float64), axis=-1
    )
    ts = np.arange(thresholds[0], thresholds[1] + 1)
    # A sorted error vector answers every threshold with one binary search.
    fractions = np.searchsorted(np.sort(error.ravel()), ts, side="right") / error.size
    return ts, fractions


def auc(ab_pred, ab_true, thresholds=ZHANG_THRESHOLDS):
    """Area under the ab-accuracy curve, normalised to [0, 1] (1 = every pixel exact)."""
    ts, fractions = auc_curve(ab_pred, ab_true, thresholds)
    area = np.sum((fractions[1:] + fractions[:-1]) / 2.0)  # trapezoids of width 1
    return float(area / (ts[-1] - ts[0]))


def image_metrics(pred, true):
    """Every metric of one prediction against its ground truth (uint8 RGB, same shape).

    Returns:
        dict: psnr, ssim, auc_0_150, auc_1_100, colorfulness, colorfulness_true,
        chroma, chroma_true, delta_l.
    """
    pred, true = np.asarray(pred, np.uint8), np.asarray(true, np.uint8)
    if pred.shape != true.shape:
        raise ValueError(f"prediction {pred.shape} and truth {true.shape} differ in size")
    lab_pred, lab_true = _lab(pred), _lab(true)
    return {
        "psnr": psnr(pred, true),
        "ssim": ssim(pred, true),
        "auc_0_150": auc(lab_pred[..., 1:], lab_true[..., 1:], ZHANG_THRESHOLDS),
        "auc_1_100": auc(lab_pred[..., 1:], lab_true[..., 1:], PAPER_THRESHOLDS),
        "colorfulness": colorfulness(pred),
        "colorfulness_true": colorfulness(true),
        "chroma": float(np.mean(np.linalg.norm(lab_pred[..., 1:], axis=-1))),
        "chroma_true": float(np.mean(np.linalg.norm(lab_true[..., 1:], axis=-1))),
        "delta_l": float(np.mean(np.abs(lab_pred[..., 0] - lab_true[..., 0]))),
    }


def summarize(rows):
    """Averages per-image metric dicts; adds the colourfulness ratio and delta CF over the set.

    The ratio and delta CF compare MEAN colourfulness of predictions and truths
    (the seed paper's definition of delta CF), not per-image ratios.
    """
    keys = rows[0].keys()
    # PSNR of an exact image is inf; averaging it would hide every other image.
    means = {
        k: float(np.mean([min(r[k], 100.0) if k == "psnr" else r[k] for r in rows])) for k in keys
    }
    means["colorfulness_ratio"] = means["colorfulness"] / max(means["colorfulness_true"], 1e-9)
    means["delta_cf"] = abs(means["colorfulness"] - means["colorfulness_true"])
    means["images"] = len(rows)
    return means
