"""How far a single colour point reaches: the colour it changes near itself against far away.

A point a user clicks should colour its object, not the photo. For each photo
one point is placed at a seeded uniform position (the same for every method),
as the studio makes it (guidance.hints.hint_map, the default radius), with
two colours: the photo's own there ("truth", the mean ab within the radius)
and pure red ("red", usually wrong). Each method colorizes with the point
and without it; the change is |Δab| per pixel of the full-size results. Near
is within NEAR_FRACTION of the short side around the point, far beyond
FAR_FRACTION. The ratio far / near of the mean changes over all photos
(pooled) should stay well below 1: 1 means the point recoloured the photo.
Levin et al.'s propagation, whose result without hints is gray, is the
method that spreads a point everywhere.
"""

import csv
import os
import zlib

import numpy as np

from keras_colorize.color import np_lab
from keras_colorize.guidance.hints import DEFAULT_RADIUS, colour_to_ab, hint_map
from keras_colorize.inference.pipeline import colorize_images

NEAR_FRACTION = 1 / 16
FAR_FRACTION = 1 / 4
WRONG_COLOUR = "#ff0000"
COLOURS = ("truth", "red")


def one_point(name, rgb):
    """A photo's seeded point (x, y) in pixels and its colours {"truth": (a, b), "red": ...}."""
    height, width = rgb.shape[:2]
    rng = np.random.default_rng(zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF)
    x, y = rng.uniform(0, width), rng.uniform(0, height)
    rows, cols = np.mgrid[:height, :width] + 0.5
    disk = (cols - x) ** 2 + (rows - y) ** 2 <= DEFAULT_RADIUS**2
    disk[min(int(y), height - 1), min(int(x), width - 1)] = True
    truth = np_lab.rgb_uint8_to_lab(rgb)[disk][:, 1:].mean(axis=0)
    return (x, y), {"truth": tuple(float(v) for v in truth), "red": colour_to_ab(WRONG_COLOUR)}


def near_far(before, after, point):
    """Mean |Δab| near the point and far from it between two uint8 RGB results."""
    height, width = before.shape[:2]
    delta = np.linalg.norm(
        np_lab.rgb_uint8_to_lab(after)[..., 1:] - np_lab.rgb_uint8_to_lab(before)[..., 1:], axis=-1
    )
    rows, cols = np.mgrid[:height, :width] + 0.5
    distance = np.hypot(cols - point[0], rows - point[1])
    side = min(height, width)
    return float(delta[distance <= NEAR_FRACTION * side].mean()), float(
        delta[distance > FAR_FRACTION * side].mean()
    )


def locality(photos, methods):
    """The near and far change of one point per photo, colour and method.

    Args:
        photos: [(name, uint8 RGB (H, W, 3))].
        methods: [(name, colorize)]: colorize(rgb, points or None) -> uint8 RGB
            of rgb's size, points as from guidance.hints.parse_hints (``model_methods``).

    Returns:
        rows: [{"photo", "method", "colour", "near", "far"}].
    """
    rows = []
    for name, rgb in photos:
        point, colours = one_point(name, rgb)
        for method, colorize in methods:
            before = colorize(rgb, None)
            for colour in COLOURS:
                a, b = colours[colour]
                after = colorize(rgb, [(point[0], point[1], a, b, DEFAULT_RADIUS)])
                near, far = near_far(before, after, point)
                rows.append(
                    {"photo": name, "method": method, "colour": colour, "near": near, "far": far}
                )
    return rows


def model_methods(models, modes=("network", "local"), levin=True):
    """[(method name, colorize(rgb, points or None))] for guided backends in each hint mode.

    A method named after its model is the network mode, "NAME local" the local one, as in
    the hint sweep; "levin" propagates the points over the first model's working size.
    """
    from keras_colorize.evaluation.hint_sweep import LEVIN, levin_colorize, method_name

    def network(backend, mode):
        def colorize(rgb, points):
            hints = None if points is None else hint_map(points, rgb.shape, backend.working_size)
            return colorize_images([rgb], backend, hints=[hints], hint_mode=mode)[0]

        return colorize

    methods = [
        (method_name(name, mode), network(backend, mode))
        for name, backend in models
        for mode in modes
    ]
    if levin:
        size = models[0][1].working_size

        def propagate(rgb, points):
            hints = hint_map(points or [], rgb.shape, size)
            return levin_colorize(rgb, hints)

        methods.append((LEVIN, propagate))
    return methods


def summarize(rows):
    """Per (method, colour): mean near, mean far, pooled far/near, and the share of photos
    whose own ratio is below 1/3."""
    groups = {}
    for row in rows:
        groups.setdefault((row["method"], row["colour"]), []).append(row)
    table = []
    for (method, colour), group in sorted(groups.items()):
        near = np.array([r["near"] for r in group])
        far = np.array([r["far"] for r in group])
        table.append(
            {
                "method": method,
                "colour": colour,
                "images": len(group),
                "near": float(near.mean()),
                "far": float(far.mean()),
                "ratio": float(far.mean() / max(near.mean(), 1e-9)),
                "below_third": float(np.mean(far < near / 3)),
            }
        )
    return table


def markdown(table):
    """The summary as a Markdown table."""
    lines = [
        "| method | point | near \\|Δab\\| | far \\|Δab\\| | far / near | photos < 1/3 | images |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in table:
        lines.append(
            f"| {row['method']} | {row['colour']} | {row['near']:.2f} | {row['far']:.2f} "
            f"| {row['ratio']:.3f} | {row['below_third']:.0%} | {row['images']} |"
        )
    return "\n".join(lines) + "\n"


def write(out, rows):
    """locality.csv (every photo) and locality.md in ``out``; returns the Markdown table."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "locality.csv"), "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    text = markdown(summarize(rows))
    with open(os.path.join(out, "locality.md"), "w", encoding="utf-8") as handle:
        handle.write(text)
    return text
