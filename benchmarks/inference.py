"""Inference latency of a trained colorizer, batch 1, through each way it ships.

- ``.keras``: the colorize runtime (keras_colorize.inference.pipeline.colorize_images
  with a KerasBackend): resize to the working size, the network, the colour
  recombined with the photo's own full-resolution lightness in numpy.
- SavedModel ``serving_default``: uint8 RGB in, uint8 RGB out, everything
  (Lab, resize, network, Lab -> RGB at full resolution) in the TF graph.
- each TFLite variant: its fixed S x S invoke alone (the .tflite file takes
  nothing else), and the colorize runtime with a TFLiteBackend at the photo
  sizes.

The SavedModel and TFLite files are the model folder's own when it holds an
export (``<dir>/<N>/saved_model.pb``, ``<dir>/tflite/<N>/*.tflite``, as
``python -m keras_colorize.export`` writes them), else they are exported into
a scratch folder with keras_colorize.serving.saved_model / keras_colorize.serving.tflite.
So is the float32 L -> ab ``colorizer.tflite`` that fit writes beside
``colorizer.keras`` (serving.tflite.save_colorizer_tflite), for the colorize
command's runs (benchmarks.colorize).
"""

import glob
import os
import statistics
import time

import numpy as np

from keras_colorize import artifacts as A
from keras_colorize.cli import error_line

# The repository holding benchmarks/ (and, in a checkout, models/colorizer).
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (width, height) of the photos timed: a thumbnail, a web photo, a 12-megapixel camera photo.
PHOTO_SIZES = ((256, 256), (1024, 768), (4000, 3000))


def size_label(size):
    width, height = size
    return f"{width}x{height}"


def synthetic_photo(width, height, seed=0):
    """A gray photo-like uint8 RGB (height, width, 3): smooth shapes plus fine grain.

    Latency does not depend on the content; the grain keeps JPEG/PNG files of
    realistic size for the colorize command.
    """
    import cv2

    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (max(2, height // 64), max(2, width // 64))).astype(np.float32)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0.0, 6.0, (height, width)).astype(np.float32)
    gray = np.clip(smooth + grain, 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)


def default_model_dir():
    """The shipped model's folder (models/colorizer, holding colorizer.keras): under this
    checkout, then the current folder; None if there is none."""
    for root in (REPO_ROOT, os.getcwd()):
        folder = os.path.join(root, A.DEFAULT_MODEL_DIR)
        if os.path.exists(os.path.join(folder, A.COLORIZER_FILE)):
            return os.path.relpath(folder)
    return None


def check_model_dir(model_dir):
    """A one-line reason why ``model_dir`` cannot be benchmarked, or None if it can."""
    if not os.path.isdir(model_dir):
        return f"--model-dir {model_dir} does not exist"
    for name in (A.COLORIZER_FILE, A.CONFIG_FILE):
        if not os.path.exists(os.path.join(model_dir, name)):
            return f"--model-dir {model_dir} holds no {name}"
    return None


def _newest_numbered(folder, required):
    """The highest-numbered sub-folder of ``folder`` holding a ``required`` glob match, or None."""
    if not os.path.isdir(folder):
        return None
    numbered = sorted(
        (int(name), os.path.join(folder, name)) for name in os.listdir(folder) if name.isdigit()
    )
    for _, path in reversed(numbered):
        if glob.glob(os.path.join(path, required)):
            return path
    return None


def prepare_artefacts(model_dir, data_dir, work_dir, variants, tflite_size=None, quick=False):
    """The colorizer's .keras and .tflite files, a SavedModel and TFLite variants: the model
    dir's own or new.

    Args:
        model_dir: holds colorizer.keras and config.json (a run dir or models/colorizer).
        data_dir: a data_prep folder: int8 calibration and TFLite parity photos.
        work_dir: scratch folder for exports.
        variants: TFLite variants to export when the model dir has none.
        tflite_size: fixed TFLite side; default the model's working size.

    Returns:
        dict: keras, colorizer_tflite (the model dir's colorizer.tflite, else one
        converted into work_dir, None if that failed) and its source,
        saved_model, saved_model_source, tflite {variant: path}, tflite_source,
        family, working_size, notes (list of one-line strings).
    """
    from keras_colorize.serving import saved_model as serving
    from keras_colorize.serving import tflite
    from keras_colorize.serving.tflite import save_colorizer_tflite
    from keras_colorize.training.run_dir import load_colorizer_from_run

    colorizer, config = load_colorizer_from_run(model_dir)
    working_size = serving.resolve_working_size(config)
    notes = []
    saved_model = _newest_numbered(model_dir, "saved_model.pb")
    saved_model_source = "the model dir's export"
    if saved_model is None:
        saved_model = os.path.join(work_dir, "saved_model", "1")
        serving.export_saved_model(colorizer, config, saved_model, working_size)
        saved_model_source = "exported by the benchmark into a scratch folder"

    tflite_dir = _newest_numbered(os.path.join(model_dir, "tflite"), "*.tflite")
    tflite_source = "the model dir's export"
    if tflite_dir is None and variants:
        tflite_dir = os.path.join(work_dir, "tflite")
        size = tflite_size or working_size
        tflite_source = f"exported by the benchmark into a scratch folder, {size}x{size}"
        try:
            tflite.export_tflite(
                colorizer,
                config,
                tflite_dir,
                size=size,
                data_dir=data_dir,
                variants=variants,
                representative_batches=8 if quick else tflite.DEFAULT_REPRESENTATIVE_BATCHES,
            )
        except tflite.TFLiteExportError as error:
            # Files beyond their parity tolerance are still written: they are timed all the same.
            notes.append(f"TFLite export: {error}")
        except ValueError as error:
            notes.append(f"TFLite export skipped: {error}")
    colorizer_tflite = os.path.join(model_dir, A.TFLITE_FILE)
    colorizer_tflite_source = "the model dir's own"
    if not os.path.exists(colorizer_tflite):
        colorizer_tflite = os.path.join(work_dir, A.TFLITE_FILE)
        colorizer_tflite_source = (
            f"converted by the benchmark into a scratch folder, {working_size}x{working_size}"
        )
        try:
            save_colorizer_tflite(colorizer, working_size, colorizer_tflite)
        except Exception as error:  # the converter raises many types
            notes.append(
                f"{A.TFLITE_FILE} not converted ({error_line(error)}): the colorize "
                "command's .tflite runs are left out"
            )
            colorizer_tflite, colorizer_tflite_source = None, "none"
    variant_files = {}
    if tflite_dir is not None:
        for variant in A.TFLITE_VARIANTS:
            path = os.path.join(tflite_dir, A.TFLITE_VARIANT_FILE.format(variant=variant))
            if os.path.exists(path):
                variant_files[variant] = path
    return {
        "keras": os.path.join(model_dir, A.COLORIZER_FILE),
        "colorizer_tflite": colorizer_tflite,
        "colorizer_tflite_source": colorizer_tflite_source,
        "saved_model": saved_model,
        "saved_model_source": saved_model_source,
        "tflite": variant_files,
        "tflite_source": tflite_source if variant_files else "none",
        "family": config.model.family,
        "working_size": working_size,
        "notes": notes,
    }


def _median_ms(function, warmup, repeats):
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def _photo_latencies(run_one, photos, warmup, repeats):
    return {
        label: _median_ms(lambda p=photo: run_one(p), warmup, repeats) for label, photo in photos
    }


def _tflite_invoke_ms(path, warmup, repeats):
    """Median ms of one invoke of a .tflite file at its own fixed input, all CPU threads."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path, num_threads=os.cpu_count())
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    shape = [int(d) for d in detail["shape"]]
    return _median_ms(interpreter.invoke, warmup, repeats), shape, np.dtype(detail["dtype"]).name


def latencies(artefacts, sizes=PHOTO_SIZES, warmup=1, repeats=3):
    """Median ms per photo size (batch 1) through every backend of ``artefacts``.

    Returns:
        list of rows: backend, path, what (the path timed), latency_ms {"WxH": ms};
        TFLite rows also fixed_input (shape, dtype) and invoke_ms.
    """
    import tensorflow as tf

    from keras_colorize.inference.backends import KerasBackend, TFLiteBackend
    from keras_colorize.inference.pipeline import colorize_images

    photos = [(size_label(s), synthetic_photo(*s, seed=i)) for i, s in enumerate(sizes)]
    rows = []
    keras_backend = KerasBackend(artefacts["keras"])
    rows.append(
        {
            "backend": ".keras",
            "path": artefacts["keras"],
            "what": f"colorize_images: network at {keras_backend.working_size} px, "
            "colour at full size (numpy)",
            "latency_ms": _photo_latencies(
                lambda p: colorize_images([p], keras_backend), photos, warmup, repeats
            ),
        }
    )

    loaded = tf.saved_model.load(artefacts["saved_model"])
    serving = loaded.signatures[A.SERVING_SIGNATURE]
    rows.append(
        {
            "backend": f"SavedModel {A.SERVING_SIGNATURE}",
            "path": artefacts["saved_model"],
            "what": "uint8 RGB in, uint8 RGB out, all in the TF graph",
            "latency_ms": _photo_latencies(
                lambda p: next(iter(serving(images=tf.constant(p[None])).values())).numpy(),
                photos,
                warmup,
                repeats,
            ),
        }
    )

    for variant, path in artefacts["tflite"].items():
        invoke_ms, shape, dtype = _tflite_invoke_ms(path, warmup, repeats)
        backend = TFLiteBackend(path)
        rows.append(
            {
                "backend": f"TFLite {variant}",
                "path": path,
                "what": f"fixed input {'x'.join(map(str, shape))} {dtype}: invoke alone; "
                "photos: colorize_images with a TFLiteBackend",
                "fixed_input": {"shape": shape, "dtype": dtype},
                "invoke_ms": invoke_ms,
                "latency_ms": _photo_latencies(
                    lambda p, b=backend: colorize_images([p], b), photos, warmup, repeats
                ),
            }
        )
    return rows
