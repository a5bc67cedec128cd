"""Colorizing a list of jobs a batch at a time: read, colorize, save, report.

A batch closes at ``batch_size`` photos or once it holds BATCH_PIXEL_BUDGET
pixels, so a box of 40-megapixel scans needs about one scan's memory; each
result is released as soon as it is written.
"""

import sys
from dataclasses import dataclass

import numpy as np

from keras_colorize.color.fullres import gray_rgb
from keras_colorize.inference.pipeline import colorize_images
from keras_colorize.inference.user_guidance import Guidance
from keras_colorize.io.images import ImageReadError, read_image
from keras_colorize.io.save import save_image

# About 10 bytes per pixel are live while a batch is colorized.
BATCH_PIXEL_BUDGET = 32_000_000


@dataclass
class Tally:
    """What happened, for the notes and the summary at the end."""

    done: int = 0
    skipped: int = 0
    existing: int = 0  # of skipped: the output was already there
    in_colour: int = 0
    alpha_dropped: int = 0
    seconds: float = 0.0  # reading, colorizing and writing, the model already loaded


class BatchColorizer:
    """Reads, colorizes and writes jobs a batch at a time, reporting as it goes."""

    def __init__(self, backend, fmt, batch_size, tally, progress, guidance=None):
        self.backend = backend
        self.guidance = guidance or Guidance()
        self.fmt = fmt
        self.batch_size = batch_size
        self.tally = tally
        self.progress = progress

    def skip(self, source, reason):
        self.tally.skipped += 1
        self.progress.write(f"skipped {source}: {reason}", file=sys.stderr)
        self.progress.update()

    def __call__(self, jobs):
        batch, pixels = [], 0
        for job in jobs:
            try:
                image = read_image(job.source)
            except ImageReadError as error:
                self.skip(job.source, error)
                continue
            batch.append((job, image))
            pixels += image.rgb.shape[0] * image.rgb.shape[1]
            if len(batch) >= self.batch_size or pixels >= BATCH_PIXEL_BUDGET:
                self.finish(batch)
                batch, pixels = [], 0
        if batch:
            self.finish(batch)

    def finish(self, batch):
        count = len(batch)
        outputs = colorize_images(
            [image.rgb for _, image in batch],
            self.backend,
            hints=[self.guidance.hints] * count,
            references=[self.guidance.reference] * count,
            hint_mode=self.guidance.hint_mode,
        )
        for job, image in batch:
            rgb = outputs.pop(0)  # released as soon as it is written
            try:
                self.write(job, image, rgb)
            except OSError as error:
                self.skip(job.source, f"cannot write ({error.strerror or error})")
                continue
            self.tally.done += 1
            self.tally.in_colour += not image.was_gray
            self.tally.alpha_dropped += image.alpha is not None and self.fmt == "jpeg"
            self.progress.update()

    def write(self, job, image, rgb):
        save_image(rgb, image.alpha, job.output, self.fmt)
        if job.compare:
            side = np.concatenate([gray_rgb(image.rgb, image.was_gray), rgb], axis=1)  # (H, 2W, 3)
            alpha = None if image.alpha is None else np.concatenate([image.alpha] * 2, axis=1)
            save_image(side, alpha, job.compare, self.fmt)
