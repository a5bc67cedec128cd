"""Quality against the number of colour hints: guided models versus Levin et al.'s propagation.

For each photo and each count N, N hints are drawn from the photo's own
colours at the model's working size (guidance.simulate.simulate_hints: patch
means of 1..9 px squares at uniform places, a fixed seed per photo and N, so
every method gets the SAME hints). A guided model colorizes with them;
Levin, Lischinski & Weiss 2004 (guidance.levin, learning-free) spreads the
same hints over the same working-size lightness; both results are
recombined with the full-resolution lightness and scored like `evaluate`.
N = 0 is the guided model working on its own. Each model runs in each hint
mode (inference.pipeline.HINT_MODES): "network" feeds the hints to the
network (rows named after the model), "local" colorizes without them and
applies them where they reach (guidance.local; rows "NAME local").
"""

import csv
import os
import sys
import zlib

import cv2
import numpy as np

from keras_colorize import constants as C
from keras_colorize.color import np_lab
from keras_colorize.color.fullres import lightness, recombine
from keras_colorize.evaluation.metrics import image_metrics
from keras_colorize.inference.pipeline import HINT_MODES, colorize_images, working_lightness

HINT_COUNTS = (0, 1, 2, 5, 10, 20, 50)
LEVIN = "levin"
METRICS = ("psnr", "auc_0_150", "ssim")


def ground_truth_hints(rgb, size, count, seed):
    """``count`` hints (S, S, 3) from the photo's own ab at the working size S."""
    import tensorflow as tf

    from keras_colorize.guidance.simulate import simulate_hints

    small = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
    ab_norm = np_lab.rgb_uint8_to_lab(small)[..., 1:] / C.AB_SCALE
    seeds = tf.constant([seed, count], tf.int32)
    return simulate_hints(tf.constant(ab_norm, tf.float32), seeds, count=count).numpy()


def levin_colorize(rgb, hints):
    """Levin et al.'s propagation of ``hints`` (S, S, 3) at S, recombined at full resolution."""
    from keras_colorize.guidance.levin import propagate

    size = hints.shape[0]
    full = lightness(rgb)  # (H, W, 1)
    small = working_lightness(full, size)[..., 0]  # (S, S)
    ab = propagate(small, hints[..., :2] * C.AB_SCALE, hints[..., 2] > 0)  # (S, S, 2)
    return recombine(full, ab)


def method_name(model_name, hint_mode):
    """The sweep's name for a model in a hint mode: the model's own for "network"."""
    return model_name if hint_mode == "network" else f"{model_name} {hint_mode}"


def _photo_seed(name):
    return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


def sweep(photos, models, counts=HINT_COUNTS, levin=True, quiet=False, modes=HINT_MODES):
    """Scores every guided model (and Levin) at every hint count.

    Args:
        photos: [(name, uint8 RGB (H, W, 3))].
        models: [(name, backend)] of guided backends; Levin uses the first
            one's working size.
        counts: the numbers of hints.
        modes: the hint modes to run each model in.

    Returns:
        rows: [{"photo", "method", "hints", *metrics}].
    """
    from tqdm import tqdm

    size = models[0][1].working_size
    rows = []
    for name, rgb in tqdm(photos, unit="photo", desc="hint sweep", file=sys.stderr, disable=quiet):
        for count in counts:
            hints = ground_truth_hints(rgb, size, count, _photo_seed(name))
            results = {}
            for model_name, backend in models:
                model_hints = hints
                if backend.working_size != size:
                    model_hints = ground_truth_hints(
                        rgb, backend.working_size, count, _photo_seed(name)
                    )
                for mode in modes:
                    results[method_name(model_name, mode)] = colorize_images(
                        [rgb], backend, hints=[model_hints], hint_mode=mode
                    )[0]
            if levin and count:
                results[LEVIN] = levin_colorize(rgb, hints)
            for method, prediction in results.items():
                scores = image_metrics(prediction, rgb)
                rows.append(
                    {"photo": name, "method": method, "hints": count}
                    | {k: scores[k] for k in METRICS}
                )
    return rows


def summarize(rows):
    """Mean of each metric per (method, hints), sorted: [{"method", "hints", "images", ...}]."""
    groups = {}
    for row in rows:
        groups.setdefault((row["method"], row["hints"]), []).append(row)
    table = []
    for (method, count), group in sorted(groups.items()):
        means = {k: float(np.mean([min(r[k], 100.0) for r in group])) for k in METRICS}
        table.append({"method": method, "hints": count, "images": len(group)} | means)
    return table


def markdown(table):
    """The summary as a Markdown table: one row per (method, hints)."""
    lines = [
        "| method | hints | PSNR | AuC 0-150 | SSIM | images |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in table:
        lines.append(
            f"| {row['method']} | {row['hints']} | {row['psnr']:.2f} | {row['auc_0_150']:.4f} "
            f"| {row['ssim']:.4f} | {row['images']} |"
        )
    return "\n".join(lines) + "\n"


def figure(path, table, automatic=None):
    """PSNR and AuC against the number of hints, one line per method (+ automatic models)."""
    from keras_colorize.evaluation.figures import _pyplot

    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    methods = sorted({row["method"] for row in table})
    panels = (("psnr", "PSNR (dB)"), ("auc_0_150", "AuC 0-150"))
    for axis, (metric, label) in zip(axes, panels, strict=True):
        for method in methods:
            points = [(r["hints"], r[metric]) for r in table if r["method"] == method]
            xs, ys = zip(*points, strict=True)
            axis.plot([max(x, 0.5) for x in xs], ys, marker="o", label=method)
        for index, (name, value) in enumerate((automatic or {}).items()):
            colour = f"C{len(methods) + index}"  # not a method's colour
            axis.axhline(value[metric], color=colour, linestyle="--", label=f"{name} (no hints)")
        axis.set_xscale("log")
        axis.set_xlabel("random ground-truth hints (0 drawn at 0.5)")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Colour hints: guided model (network, local) vs Levin et al. 2004 (same hints)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(out, rows, automatic=None):
    """hint_sweep.csv (every photo), hint_sweep.md and hint_sweep.png in ``out``; the table."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "hint_sweep.csv"), "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    table = summarize(rows)
    text = markdown(table)
    with open(os.path.join(out, "hint_sweep.md"), "w", encoding="utf-8") as handle:
        handle.write(text)
    figure(os.path.join(out, "hint_sweep.png"), table, automatic)
    return text


def reference_shift(photos, models, references):
    """How a reference photo moves each guided model's colours: mean a, b and chroma per photo set.

    Args:
        photos: [(name, uint8 RGB)]; the models see only their lightness.
        models: [(name, guided backend)].
        references: [(name, uint8 RGB)] reference photos.

    Returns:
        [{"model", "reference", "a", "b", "chroma", "reference_a", "reference_b"}]:
        the mean over all photos' pixels of the colorized a, b and chroma, with
        no reference first ("none"), and the reference photo's own mean a, b.
    """
    from keras_colorize.guidance.hints import reference_from_photo

    rows = []
    for model_name, backend in models:
        for ref_name, ref_rgb in [("none", None), *references]:
            distribution = None if ref_rgb is None else reference_from_photo(ref_rgb)
            lab = [
                np_lab.rgb_uint8_to_lab(
                    colorize_images([rgb], backend, references=[distribution])[0]
                )
                for _, rgb in photos
            ]
            ab = np.concatenate([x[..., 1:].reshape(-1, 2) for x in lab])
            own = np_lab.rgb_uint8_to_lab(ref_rgb)[..., 1:] if ref_rgb is not None else None
            rows.append(
                {
                    "model": model_name,
                    "reference": ref_name,
                    "a": float(ab[:, 0].mean()),
                    "b": float(ab[:, 1].mean()),
                    "chroma": float(np.linalg.norm(ab, axis=-1).mean()),
                    "reference_a": float(own[..., 0].mean()) if own is not None else None,
                    "reference_b": float(own[..., 1].mean()) if own is not None else None,
                }
            )
    return rows


def reference_markdown(rows):
    """The reference shifts as a Markdown table (Δ against the same model without reference)."""
    lines = [
        "| model | reference | its mean a, b | result mean a | mean b | chroma | Δa | Δb |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    base = {r["model"]: r for r in rows if r["reference"] == "none"}
    for row in rows:
        zero = base[row["model"]]
        own = (
            "–"
            if row["reference_a"] is None
            else f"{row['reference_a']:.1f}, {row['reference_b']:.1f}"
        )
        lines.append(
            f"| {row['model']} | {row['reference']} | {own} | {row['a']:.2f} | {row['b']:.2f} "
            f"| {row['chroma']:.2f} | {row['a'] - zero['a']:+.2f} | {row['b'] - zero['b']:+.2f} |"
        )
    return "\n".join(lines) + "\n"
