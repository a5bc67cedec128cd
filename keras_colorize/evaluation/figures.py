"""The evaluate command's figures: results.png (chosen photos side by side) and losses.png.

results.png shows the best, typical and worst photos (by a metric of one model, or the photos
given with --rows): the original, the gray input and every model's colorization, drawn from the
small JPEG thumbnails the command keeps of each photo. losses.png plots the losses.csv files that
training writes (Keras CSVLogger), one panel per loss. Drawing is kept apart from the command's
metrics and report; matplotlib is imported only when a figure is drawn.
"""

import csv
import io
import math
import os
import sys

import numpy as np

GRAY = "gray"  # the model name of the always-evaluated a = b = 0 baseline
THUMBNAIL = 160  # longest side of a results.png cell, px
# The metrics photos can be ranked by (--rank-by), with their labels in results.png.
LOWER_IS_BETTER = {"delta_l"}
METRIC_LABELS = {
    "auc_0_150": "AuC 0-150",
    "auc_1_100": "AuC 1-100",
    "psnr": "PSNR",
    "ssim": "SSIM",
    "colorfulness": "CF",
    "chroma": "chroma",
    "delta_l": "|ΔL|",
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    return plt


def _decode(jpeg):
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))


def _short(name, limit=24):
    name = os.path.basename(name)
    return name if len(name) <= limit else name[: limit // 2 - 1] + "…" + name[-(limit // 2) :]


def choose_rows(photos, ranker, metric):
    """[(label, Photo)]: the best, typical (median) and worst photos by metric of ranker."""
    sign = 1 if metric in LOWER_IS_BETTER else -1
    ranked = sorted(photos, key=lambda p: sign * p.metrics[ranker][metric])  # best first
    count = len(ranked)
    per_case = 2 if count >= 6 else 1
    middle = (count - 1) // 2 - (per_case - 1) // 2  # the median photo comes first
    cases = [("best", range(per_case)), ("typical", range(middle, middle + per_case))]
    cases.append(("worst", range(count - per_case, count)))
    rows, used = [], set()
    for label, indices in cases:
        for index in indices:
            if index not in used:
                used.add(index)
                rows.append((label, ranked[index]))
    return rows


def results_figure(path, rows, models, metric):
    """results.png: original | gray input | each model, one row per chosen photo."""
    plt = _pyplot()
    shown = [m for m in models if m.name != GRAY]
    columns = ["original", GRAY] + [m.name for m in shown]
    label = METRIC_LABELS[metric]
    cell = THUMBNAIL / 100  # inches at 100 dpi: thumbnails drawn about 1:1
    # Each row as tall as its photo's thumbnail, so landscape rows leave no gaps.
    heights = [cell * min(1.5, photo.size[0] / photo.size[1]) for _, photo in rows]
    figure, axes = plt.subplots(
        len(rows),
        len(columns),
        figsize=(cell * len(columns) + 0.4, sum(heights) + 0.5 * len(rows) + 0.5),
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
        dpi=100,
    )
    for r, (case, photo) in enumerate(rows):
        for c, column in enumerate(columns):
            axis = axes[r][c]
            axis.imshow(_decode(photo.thumbnails[column]))
            axis.set_xticks([])
            axis.set_yticks([])
            if column == "original":
                axis.set_ylabel(case, fontsize=9)
                title = _short(photo.name) + (f"\n{photo.category}" if photo.category else "")
            else:
                name = "gray input" if column == GRAY else column
                title = f"{name}\n{label} {photo.metrics[column][metric]:.3f}"
            axis.set_title(title, fontsize=7)
    figure.suptitle(f"Colorizations, photos chosen by {label}", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def read_losses(path):
    """losses.csv (Keras CSVLogger) -> {column: (epochs, values)} of its numeric loss columns.

    epoch and chroma columns are left out; a resumed run's repeated epoch keeps its last row.
    """
    with open(path, newline="", encoding="utf-8") as handle:
        rows = {}
        for row in csv.DictReader(handle):
            try:
                rows[int(row["epoch"])] = row
            except (KeyError, TypeError, ValueError):
                continue
    curves = {}
    for epoch in sorted(rows):
        for column, text in rows[epoch].items():
            if column is None or column == "epoch" or "chroma" in column:
                continue
            try:
                value = float(text)
            except (TypeError, ValueError):
                continue
            epochs, values = curves.setdefault(column, ([], []))
            epochs.append(epoch + 1)  # CSVLogger counts from 0
            values.append(value)
    return curves


def losses_figure(path, runs):
    """losses.png: one panel per loss, one colour per run, validation dashed. False if empty."""
    plt = _pyplot()
    curves = {}
    for label, csv_path in runs:
        losses = read_losses(csv_path)
        if not losses:
            print(f"note: {csv_path} has no epochs yet; left out of losses.png", file=sys.stderr)
        curves[label] = losses
    panels = []
    for losses in curves.values():
        for column in losses:
            base = column.removeprefix("val_")
            if base not in panels:
                panels.append(base)
    if not panels:
        return False
    width = min(len(panels), 3)
    height = math.ceil(len(panels) / width)
    figure, axes = plt.subplots(height, width, figsize=(4 * width, 3 * height), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, base in enumerate(panels):
        axis = axes[index // width][index % width]
        drawn = []
        for number, (label, losses) in enumerate(curves.items()):
            colour = colours[number % len(colours)]
            for column, style, suffix in ((base, "-", ""), ("val_" + base, "--", " (val)")):
                if column in losses:
                    epochs, values = losses[column]
                    axis.plot(epochs, values, style, color=colour, label=label + suffix)
                    drawn.extend(values)
        axis.set_title(base)
        axis.set_xlabel("epoch")
        low, high = np.nanmin(drawn), np.nanmax(drawn)
        if low > 0 and high / low > 100:  # runs on very different scales share a panel
            axis.set_yscale("log")
            axis.set_title(f"{base} (log scale)")
        axis.legend(fontsize=7)
    for index in range(len(panels), width * height):
        axes[index // width][index % width].axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True
