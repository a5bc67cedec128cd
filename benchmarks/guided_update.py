"""How long one studio update takes: a 512 px preview colorized with colour points, per runtime.

    python -m benchmarks.guided_update --model-dir models/colorizer --photo examples/windmill.jpg

The studio recolours its preview (long side 512 px) after every edit through
inference.pipeline.colorize_images with a hint map and, here, a reference.
This times that call (median of --repeats after one warm-up) for the run
dir's .tflite, its .keras and a SavedModel exported from it into a scratch
folder, with 10 points spread over the photo. Hosts differ in speed, so the
same run also times a reference: a 1024 x 1024 float32 numpy matmul.
"""

import argparse
import os
import sys
import tempfile

import cv2
import numpy as np

from benchmarks.inference import _median_ms
from keras_colorize import artifacts as A

PREVIEW_SIDE = 512
POINTS = 10


def _preview(path):
    from keras_colorize.io.images import read_image

    rgb = read_image(path).rgb
    scale = PREVIEW_SIDE / max(rgb.shape[:2])
    size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _points(shape, seed=0):
    rng = np.random.default_rng(seed)
    height, width = shape[:2]
    return [
        (float(rng.uniform(0, width)), float(rng.uniform(0, height)), 40.0, -20.0, 4.0)
        for _ in range(POINTS)
    ]


def _backends(model_dir, scratch):
    from keras_colorize.config import load_config
    from keras_colorize.inference.backends import load_backend

    yield "tflite", load_backend(os.path.join(model_dir, A.TFLITE_FILE))
    keras_path = os.path.join(model_dir, A.COLORIZER_FILE)
    yield "keras", load_backend(keras_path)
    import keras

    from keras_colorize.serving.saved_model import export_saved_model

    config = load_config(os.path.join(model_dir, A.CONFIG_FILE))
    colorizer = keras.saving.load_model(keras_path, compile=False)
    version = os.path.join(scratch, "1")
    export_saved_model(colorizer, config, version, config.train.image_size)
    yield "savedmodel", load_backend(version)


def measure(model_dir, photo, repeats):
    from keras_colorize.guidance.hints import hint_map, reference_from_photo
    from keras_colorize.inference.pipeline import colorize_images

    preview = _preview(photo)
    warm = np.zeros((64, 64, 3), np.uint8) + np.array([230, 120, 40], np.uint8)  # any colours
    reference = reference_from_photo(warm)
    a = np.random.default_rng(1).standard_normal((1024, 1024)).astype(np.float32)
    rows = [("numpy 1024² matmul (reference)", _median_ms(lambda: a @ a, 1, repeats), None)]
    with tempfile.TemporaryDirectory(prefix="guided-bench-") as scratch:
        for name, backend in _backends(model_dir, scratch):
            if not backend.guided:
                raise SystemExit(f"{model_dir}: the {name} model takes no hints")
            hints = hint_map(_points(preview.shape), preview.shape, backend.working_size)
            guided = _median_ms(
                lambda b=backend, h=hints: colorize_images(
                    [preview], b, hints=[h], references=[reference]
                ),
                1,
                repeats,
            )
            plain = _median_ms(lambda b=backend: colorize_images([preview], b), 1, repeats)
            rows.append((f"{name} (working size {backend.working_size})", guided, plain))
    return preview.shape, rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.guided_update")
    parser.add_argument("--model-dir", default=A.DEFAULT_MODEL_DIR, help="a guided run dir")
    parser.add_argument("--photo", required=True, help="the photo whose preview is colorized")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    shape, rows = measure(args.model_dir, args.photo, args.repeats)
    print(f"studio update: a {shape[1]}x{shape[0]} preview, {POINTS} points + a reference")
    print(f"median of {args.repeats} after a warm-up, on {os.cpu_count()} CPU(s)\n")
    print("| runtime | with hints (ms) | no guidance (ms) |")
    print("|---|---:|---:|")
    for name, guided, plain in rows:
        print(f"| {name} | {guided:.1f} | {'' if plain is None else f'{plain:.1f}'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
