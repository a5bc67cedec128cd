"""The models evaluate compares, and running them over the photos.

Each model sees only a photo's lightness and predicts colour at full
resolution (inference.pipeline.colorize_images). The trivial "gray" baseline
(a = b = 0: the photo's own lightness, no colour) is always evaluated first,
because it already scores high on AuC. TensorFlow is imported only when the
photos are scored.
"""

import io
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from keras_colorize.evaluation.figures import GRAY, THUMBNAIL
from keras_colorize.evaluation.sources import EvaluationError, load_photo
from keras_colorize.io.images import ImageReadError, shrink_to_side

MIN_SIDE = 11  # SSIM's 11 x 11 window
KIT_SIDE = 512  # longest side of a photo in the human kit, px
JPEG_QUALITY = 90


class GrayBaseline:
    """The a = b = 0 'colorizer', as an inference backend: the photo's lightness, no colour."""

    working_size = 8  # the network input is ignored; a small square keeps it cheap

    def predict_ab(self, l_norm):
        return np.zeros(l_norm.shape[:-1] + (2,), np.float32)  # (B, S, S, 2)


@dataclass
class Model:
    """One compared model: its --model name and path, its backend and its colorizing time."""

    name: str
    path: str | None
    backend: object = None
    seconds: float = 0.0
    count: int = 0

    @property
    def images_per_second(self):
        return self.count / self.seconds if self.seconds > 0 else float("nan")


def parse_models(specs):
    """--model NAME=PATH values -> [Model], the gray baseline first; EvaluationError if bad."""
    models = [Model(GRAY, None, GrayBaseline())]
    for spec in specs:
        name, sep, path = spec.partition("=")
        name, path = name.strip(), path.strip()
        if not sep or not name or not path:
            raise EvaluationError(
                f"--model {spec!r}: expected NAME=PATH, e.g. gan=runs/gan/model.keras"
            )
        if name == GRAY:
            raise EvaluationError(f"--model {spec}: the name '{GRAY}' is kept for the baseline")
        if any(m.name == name for m in models):
            raise EvaluationError(f"--model {spec}: the name '{name}' is used twice")
        if not os.path.exists(path):  # found before TensorFlow is loaded
            raise EvaluationError(f"--model {name}: {path} does not exist")
        models.append(Model(name, path))
    return models


def load_models(models):
    """Loads every --model and checks it is a colorizer (L (1, S, S, 1) -> ab (1, S, S, 2)).

    The check also warms the model up, so the timing measures colorizing only.
    """
    from keras_colorize.inference.backends import ModelLoadError, load_backend
    from keras_colorize.inference.pipeline import colorize_images

    for model in models:
        if model.backend is None:
            try:
                model.backend = load_backend(model.path)
            except ModelLoadError as error:
                raise EvaluationError(f"--model {model.name}: {error}") from None
        size = model.backend.working_size
        try:
            shape = tuple(np.shape(model.backend.predict_ab(np.zeros((1, size, size, 1), "f4"))))
        except Exception as error:  # any framework error means the same: not a colorizer
            raise EvaluationError(
                f"--model {model.name}: {model.path} does not run at its working size {size} "
                f"({type(error).__name__})"
            ) from None
        if shape != (1, size, size, 2):
            raise EvaluationError(
                f"--model {model.name}: size mismatch, {model.path} maps L (1, {size}, {size}, 1) "
                f"to {shape}, expected ab (1, {size}, {size}, 2)"
            )
        colorize_images([np.zeros((MIN_SIDE, MIN_SIDE + 1, 3), np.uint8)], model.backend)


@dataclass
class Photo:
    """One evaluated photo: metrics per model and small JPEGs for the figure and the kit."""

    name: str
    category: str | None
    size: tuple
    metrics: dict = field(default_factory=dict)  # model -> metrics.image_metrics dict
    thumbnails: dict = field(default_factory=dict)  # "original" / model -> JPEG bytes
    kit: dict = field(default_factory=dict)  # model -> JPEG bytes, with --human-kit


def encode_jpeg(rgb, max_side):
    """uint8 RGB (H, W, 3) -> JPEG bytes, shrunk (area-averaged) so its longest side <= max_side."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(shrink_to_side(rgb, max_side)).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def evaluate_photo(entry, rgb, category, models, kit):
    """Colorizes uint8 RGB (H, W, 3) with every model and scores each against it -> Photo."""
    from keras_colorize.evaluation.metrics import image_metrics
    from keras_colorize.inference.pipeline import colorize_images

    photo = Photo(entry.name, category, tuple(rgb.shape[:2]))
    photo.thumbnails["original"] = encode_jpeg(rgb, THUMBNAIL)
    for model in models:
        start = time.perf_counter()
        prediction = colorize_images([rgb], model.backend)[0]
        model.seconds += time.perf_counter() - start
        model.count += 1
        if prediction.shape != rgb.shape:
            raise EvaluationError(
                f"--model {model.name} returned {prediction.shape} for {entry.name} {rgb.shape}"
            )
        photo.metrics[model.name] = image_metrics(prediction, rgb)
        photo.thumbnails[model.name] = encode_jpeg(prediction, THUMBNAIL)
        if kit:
            photo.kit[model.name] = encode_jpeg(prediction, KIT_SIDE)
    return photo


def evaluate_all(entries, categories, models, kit, quiet, desc="evaluate"):
    """Evaluates every readable photo; returns ([Photo], [(name, reason)] of skipped ones)."""
    from tqdm import tqdm

    photos, skipped = [], []
    with tqdm(entries, unit="photo", desc=desc, file=sys.stderr, disable=quiet) as progress:
        for entry in progress:
            try:
                rgb = load_photo(entry)
                if min(rgb.shape[:2]) < MIN_SIDE:
                    raise ImageReadError(f"smaller than {MIN_SIDE} px, SSIM's window")
            except ImageReadError as error:
                skipped.append((entry.name, str(error)))
                progress.write(f"skipped {entry.name}: {error}", file=sys.stderr)
                continue
            photos.append(evaluate_photo(entry, rgb, categories.get(entry.name), models, kit))
    return photos, skipped
