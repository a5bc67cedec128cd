"""A figure like the seed paper's Figure 1: sample images ordered by colourfulness."""

import matplotlib

matplotlib.use("Agg")  # no display needed; set before pyplot is imported
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from keras_colorize.data_prep.process import crop_square, resize_short_side  # noqa: E402
from keras_colorize.io.images import ImageReadError, read_image  # noqa: E402

FIGURE_FILE = "colorfulness.png"
SAMPLES = 12
THUMBNAIL = 96


def _thumbnail(path):
    rgb = resize_short_side(read_image(path).rgb, THUMBNAIL)
    return crop_square(rgb, THUMBNAIL, "center", "")


def plot_colorfulness(scored, kept_paths, options, out_path):
    """Writes a score histogram and SAMPLES images spread over the score range.

    Args:
        scored: list of (path, colourfulness) of every decoded image.
        kept_paths: paths that made it into the dataset; others are titled in red.
        options: the BuildOptions (for the threshold line).
        out_path: the PNG to write.
    """
    ranked = sorted(scored, key=lambda item: item[1])
    picks = np.unique(
        np.linspace(0, len(ranked) - 1, min(SAMPLES, len(ranked))).round().astype(int)
    )
    figure = plt.figure(figsize=(2 * len(picks) / 2 + 2, 6.5), layout="constrained")
    grid = figure.add_gridspec(3, max(1, (len(picks) + 1) // 2))
    histogram = figure.add_subplot(grid[0, :])
    histogram.hist([score for _, score in scored], bins=40, color="0.4")
    histogram.axvline(
        options.min_colorfulness, color="red", linestyle="--", label="--min-colorfulness"
    )
    histogram.set_xlabel("colourfulness (Hasler-Suesstrunk)")
    histogram.set_ylabel("images")
    histogram.legend()
    columns = grid.ncols
    for slot, index in enumerate(picks):
        path, score = ranked[index]
        axis = figure.add_subplot(grid[1 + slot // columns, slot % columns])
        try:
            axis.imshow(_thumbnail(path))
        except ImageReadError:
            pass
        axis.set_title(f"{score:.1f}", color="black" if path in kept_paths else "red", fontsize=9)
        axis.axis("off")
    figure.suptitle("Images ordered by colourfulness (red: not kept)")
    figure.savefig(out_path, dpi=80)
    plt.close(figure)
