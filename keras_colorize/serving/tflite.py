"""TFLite models for mobile: fixed-size .tflite variants of a colorizer, with a parity report.

``export_tflite`` writes ``colorizer_<variant>.tflite`` for each variant:

- ``float32``: the float model as trained.
- ``float16``: weights stored as float16 (half the size), computed in float32.
- ``dynamic``: dynamic-range quantization: int8 weights, float activations.
- ``int8``: int8 weights and activations, calibrated on training photos.

Each file has one of two contracts (models/README.md), recorded in the report:

- ``rgb_uint8``: ``rgb`` uint8 (1, S, S, 3) sRGB -> ``colorized`` uint8
  (1, S, S, 3) sRGB. The whole pipeline runs in the model: RGB -> Lab
  (keras_colorize.color.tf_lab), L/50 - 1, the network, ab*110, the input's own L
  joined back, Lab -> RGB, rounded to uint8. The input's colour is ignored.
- ``l_ab_float32``: ``L`` float32 (1, S, S, 1) = L/50 - 1 -> ``ab_norm`` float32
  (1, S, S, 2) = ab/110: the bare network; the app does the colour maths.

Every variant tries ``rgb_uint8`` first and falls back to ``l_ab_float32`` if
the conversion fails or the RGB model exceeds its parity tolerance.

int8 and the colour maths (measured, 2026): letting the converter quantize the
whole RGB graph puts the sRGB transfer curve, the cube roots and the Lab values
on 256-level grids; the result differed from the Keras path by 35 levels on
average (random tiny network, 32 px) and 82 levels (regression network of
width 64 trained briefly, 128 px): unusable. With the colour maths kept in
float32 (the converter's quantization denylist) and the network alone in int8,
the same trained network differed by 3.4 levels, exactly as much as its int8
L -> ab model. So the ``int8`` RGB file has uint8 input and output, an int8
network, and float32 colour conversion at both ends (at 256 px: 4.2 levels for
that regression network, 1.7 for a classification and 0.5 for a GAN one).

Parity is the mean absolute difference, in uint8 levels over all pixels and
channels, between each .tflite file and the Keras colorizer running the same
maths in TensorFlow on the same fixed-size photos (for ``l_ab_float32`` files
the colour maths around the .tflite network run in TensorFlow). Latency is the
median time of the .tflite invoke alone, on this machine's CPU.
"""

import dataclasses
import functools
import importlib.metadata
import json
import os
import re
import tempfile
import time
import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_colorize import artifacts as A
from keras_colorize.color import tf_lab
from keras_colorize.families import network_stride
from keras_colorize.guidance.graph import call_colorizer, is_guided
from keras_colorize.guidance.hints import HINT_CHANNELS, REFERENCE_BINS

VARIANTS = A.TFLITE_VARIANTS
RGB_CONTRACT = "rgb_uint8"
L_AB_CONTRACT = "l_ab_float32"
CONTRACTS = (RGB_CONTRACT, L_AB_CONTRACT)  # in order of preference

# Largest accepted mean |TFLite - Keras| per variant, in uint8 RGB levels over
# pixels and channels. Only chroma differs: every file carries the input's L
# through in float. One level moves a colour by roughly 0.3-1 CIE76 delta E,
# and delta E 2.3 is a just-noticeable difference. float32 0.5: rounding noise
# only, since the file runs the same float maths; more means lost weights or a
# wrong graph. float16 1.5: below a just-noticeable difference side by side.
# dynamic 4: a slight shift, seen only when flipping between the two images.
# int8 10: visible side by side but the same hues; beyond it the file no
# longer shows what the model predicts.
TOLERANCES = {"float32": 0.5, "float16": 1.5, "dynamic": 4.0, "int8": 10.0}

DEFAULT_SIZE = A.TFLITE_DEFAULT_SIZE
DEFAULT_REPRESENTATIVE_BATCHES = 100  # single-photo batches for int8 calibration
DEFAULT_PARITY_COUNT = 16  # validation photos compared per variant
LATENCY_WARMUP = 2
LATENCY_RUNS = 10
FILE_PATTERN = A.TFLITE_VARIANT_FILE
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
REPORT_FORMAT_VERSION = 1

# Name scopes of the colour maths around the network, and the network's own
# colour-maths layer (the gray sRGB a pretrained encoder sees, see
# models.layers.LightnessToImageNetRGB); the int8 conversion keeps every op
# under them out of quantization.
_COLOUR_SCOPES = ("colour_in", "colour_out")
_FLOAT_SCOPES = (*_COLOUR_SCOPES, "gray_rgb")
# A scope in a tensor name; Keras 3 suffixes a layer's scope when traced ("gray_rgb_1/").
_FLOAT_OP = re.compile(r"(^|/)(" + "|".join(_FLOAT_SCOPES) + r")(_\d+)?/")
# tf.unstack's UNPACK, an op with several outputs, stays quantized even with
# its output names denylisted (measured); only the colour maths use it.
_FLOAT_ONLY_OPS = ["UNPACK"]

_IO = {
    RGB_CONTRACT: (
        {"key": "rgb", "dtype": "uint8", "channels": 3, "range": "sRGB 0..255"},
        {"key": "colorized", "dtype": "uint8", "channels": 3, "range": "sRGB 0..255"},
    ),
    L_AB_CONTRACT: (
        {"key": "L", "dtype": "float32", "channels": 1, "range": "L/50 - 1 in [-1, 1]"},
        {"key": "ab_norm", "dtype": "float32", "channels": 2, "range": "ab/110, about [-1, 1]"},
    ),
}
_QUANTIZATION = {
    "float32": "none",
    "float16": "float16 weights, float32 compute",
    "dynamic": "int8 weights, float32 activations (dynamic range)",
    "int8": "int8 weights and activations (calibrated on training photos)",
}


class TFLiteExportError(Exception):
    """A variant that no contract could convert; one-line message."""


class TFLiteParityError(TFLiteExportError):
    """A variant differs from the Keras colorizer by more than its tolerance; one-line message."""


def check_size(model_config, size):
    """Returns ``size`` if it is a positive multiple of the network stride, else ValueError."""
    stride = network_stride(model_config)
    if not isinstance(size, int | np.integer) or size <= 0 or size % stride:
        raise ValueError(
            f"TFLite size {size} must be a positive multiple of the {model_config.family} "
            f"network's stride {stride}"
        )
    return size


def check_photos(data_dir, variants):
    """ValueError, before anything is written, if the variants' photos cannot be read.

    The parity check reads the run's val split (or train when val is empty);
    int8 calibration reads train.
    """
    from keras_colorize.data import schema

    skip = "(or pass --tflite-variants with no variant to skip TFLite)"
    if not data_dir or not os.path.isdir(data_dir):
        raise ValueError(
            f"the TFLite parity check reads the run's photos, but its data folder "
            f"{data_dir or '(none)'} does not exist; restore it {skip}"
        )
    if "int8" in variants and not schema.shard_paths(data_dir, "train"):
        raise ValueError(f"int8 calibration needs the train split, but {data_dir} has none {skip}")
    if not (schema.shard_paths(data_dir, "val") or schema.shard_paths(data_dir, "train")):
        raise ValueError(f"the TFLite parity check needs photos, but {data_dir} has none {skip}")


def colorize_fixed(colorizer, rgb):
    """The ``rgb_uint8`` graph: uint8 sRGB (B, S, S, 3) -> uint8 sRGB (B, S, S, 3).

    Colour is predicted at the input's size and joined with the input's own L.
    This is both the body of the RGB .tflite files and the Keras reference.
    """
    with tf.name_scope(_COLOUR_SCOPES[0]):
        lightness = tf_lab.rgb_uint8_to_lab(rgb)[..., :1]  # (B, S, S, 1), L in [0, 100]
        l_norm = tf_lab.normalize_l(lightness)  # (B, S, S, 1) in [-1, 1]
    ab_norm = call_colorizer(colorizer, l_norm)  # (B, S, S, 2)
    with tf.name_scope(_COLOUR_SCOPES[1]):
        lab = tf.concat([lightness, tf_lab.denormalize_ab(ab_norm)], axis=-1)  # (B, S, S, 3)
        return tf_lab.lab_to_rgb_uint8(lab)


@tf.function
def _l_norm(rgb):
    """uint8 sRGB (B, S, S, 3) -> L/50 - 1 float32 (B, S, S, 1)."""
    return tf_lab.normalize_l(tf_lab.rgb_uint8_to_lab(rgb)[..., :1])


@tf.function
def _recombine(rgb, ab_norm):
    """The input's L with predicted ab_norm (B, S, S, 2) -> uint8 sRGB (B, S, S, 3)."""
    lightness = tf_lab.rgb_uint8_to_lab(rgb)[..., :1]
    return tf_lab.lab_to_rgb_uint8(tf.concat([lightness, tf_lab.denormalize_ab(ab_norm)], -1))


def photos_from_dataset(data_dir, split, size, count):
    """Up to ``count`` uint8 sRGB (size, size, 3) photos of a data_prep split.

    They go through the training pipeline's deterministic preprocessing
    (``make_dataset(..., training=False)``: central square, resized) and back
    from its (L, ab) to uint8 RGB, which is exact to a level.
    """
    from keras_colorize.data.pipeline import make_dataset

    dataset = make_dataset(data_dir, split, 1, image_size=size, training=False)
    photos = []
    for l_norm, ab_norm in dataset.take(count):
        lab = tf.concat([tf_lab.denormalize_l(l_norm), tf_lab.denormalize_ab(ab_norm)], axis=-1)
        photos.append(tf_lab.lab_to_rgb_uint8(lab).numpy()[0])
    return photos


def fit_photo(rgb, size):
    """uint8 sRGB (H, W, 3) -> its central square resized to uint8 (size, size, 3)."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"parity images must be uint8 (H, W, 3) RGB, got {rgb.dtype} {rgb.shape}")
    if rgb.shape[:2] == (size, size):
        return rgb
    side = min(rgb.shape[:2])
    square = tf.image.resize_with_crop_or_pad(rgb, side, side)
    small = tf.image.resize(tf.cast(square, tf.float32), [size, size], antialias=True)
    return tf.cast(tf.round(tf.minimum(tf.maximum(small, 0.0), 255.0)), tf.uint8).numpy()


def _write_saved_model(colorizer, size, contract, path):
    """The fixed-size model of ``contract`` as a SavedModel (the converter's input)."""

    if contract == RGB_CONTRACT:

        def serve(rgb):
            return {"colorized": colorize_fixed(colorizer, rgb)}

        specs = [tf.TensorSpec((1, size, size, 3), tf.uint8, name="rgb")]
    else:

        def serve(L):  # noqa: N803 - the argument name is the signature's input key
            return {"ab_norm": colorizer(L, training=False)}

        specs = [tf.TensorSpec((1, size, size, 1), tf.float32, name="L")]
        if is_guided(colorizer):

            def serve(L, hints, reference):  # noqa: N803
                return {"ab_norm": colorizer([L, hints, reference], training=False)}

            specs += [
                tf.TensorSpec((1, size, size, HINT_CHANNELS), tf.float32, name=A.HINTS_KEY),
                tf.TensorSpec((1, REFERENCE_BINS), tf.float32, name=A.REFERENCE_KEY),
            ]
    archive = keras.export.ExportArchive()
    archive.track(colorizer)
    archive.add_endpoint("serving_default", serve, input_signature=specs)
    archive.write_out(path, verbose=False)
    return path


def colorizer_tflite(colorizer, size):
    """The float32 ``l_ab_float32`` .tflite bytes of ``colorizer`` at a fixed size S.

    This is the file `colorize` runs without TensorFlow (artifacts.TFLITE_FILE):
    L_norm (1, S, S, 1) -> ab_norm (1, S, S, 2), the colour maths done in numpy
    by keras_colorize.inference.pipeline.
    """
    with tempfile.TemporaryDirectory(prefix="tflite-colorizer-") as tmp:
        saved_model = _write_saved_model(colorizer, size, L_AB_CONTRACT, tmp)
        return convert(saved_model, "float32", L_AB_CONTRACT)


def _interpreter(model, num_threads=None):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model, num_threads=num_threads)
    interpreter.allocate_tensors()
    return interpreter


def _colour_op_names(float_model):
    """Output tensor names of the colour-maths ops of a float .tflite model."""
    interpreter = _interpreter(float_model)
    names = {t["index"]: t["name"] for t in interpreter.get_tensor_details()}
    found = []
    for op in interpreter._get_ops_details():
        for index in op["outputs"]:
            if _FLOAT_OP.search(names[index]):
                found.append(names[index])
    return found


def _converter(saved_model, variant, representative):
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    # Builtins only: a mobile app's LiteRT runtime has no TensorFlow (Flex) ops.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if variant == "float32":
        return converter
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "int8":
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
            tf.lite.OpsSet.TFLITE_BUILTINS,
        ]
    return converter


def convert(saved_model, variant, contract, representative=None):
    """Converts a fixed-size SavedModel of ``contract`` to ``variant``; returns the .tflite bytes.

    representative: for int8, a callable returning an iterator of [input]
    lists, the model's input dtype and shape.
    """
    converter = _converter(saved_model, variant, representative)
    if variant != "int8":
        return converter.convert()
    # int8: quantize the network only, not its colour maths (see the module docstring).
    denylist = _colour_op_names(_converter(saved_model, "float32", None).convert())
    if not denylist:
        return converter.convert()
    options = tf.lite.experimental.QuantizationDebugOptions(
        denylisted_nodes=denylist, denylisted_ops=_FLOAT_ONLY_OPS
    )
    with warnings.catch_warnings():
        # The debugger's own instrumented model runs in the deprecated tf.lite.Interpreter.
        warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=representative, debug_options=options
        )
    return debugger.get_nondebug_quantized_model()


def input_detail(interpreter, key):
    """The input of a .tflite model whose signature key is ``key`` ("L", "hints", ...)."""
    runner = interpreter.get_signature_runner()
    name = runner.get_input_details()[key]["name"]
    return next(d for d in interpreter.get_input_details() if d["name"] == name)


def _zero_other_inputs(interpreter, first):
    """A guided model's hints and reference: zeros (it then colorizes on its own)."""
    for detail in interpreter.get_input_details():
        if detail["index"] != first["index"]:
            interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))


def _run(interpreter, contract, photo):
    """One uint8 sRGB (S, S, 3) photo through a .tflite model -> uint8 sRGB (S, S, 3)."""
    out = interpreter.get_output_details()[0]
    if contract == RGB_CONTRACT:
        inp = interpreter.get_input_details()[0]
        interpreter.set_tensor(inp["index"], photo[None])
        interpreter.invoke()
        return interpreter.get_tensor(out["index"])[0]
    inp = input_detail(interpreter, A.L_KEY)
    _zero_other_inputs(interpreter, inp)
    interpreter.set_tensor(inp["index"], _l_norm(photo[None]).numpy())
    interpreter.invoke()
    return _recombine(photo[None], interpreter.get_tensor(out["index"])).numpy()[0]


def _parity(model, contract, photos, references):
    """|TFLite - Keras| in uint8 levels over all photos, pixels and channels: mean, p99, max."""
    interpreter = _interpreter(model)
    diffs = np.stack(
        [
            np.abs(_run(interpreter, contract, photo).astype(np.int16) - reference.astype(np.int16))
            for photo, reference in zip(photos, references, strict=True)
        ]
    )
    return {
        "mean_abs_diff": round(float(np.mean(diffs)), 4),
        "p99_abs_diff": float(np.percentile(diffs, 99)),
        "max_abs_diff": int(np.max(diffs)),
    }


def _latency_ms(model, threads):
    """Median ms of one invoke after warm-up, with ``threads`` CPU threads."""
    interpreter = _interpreter(model, num_threads=threads)
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    times = []
    for run in range(LATENCY_WARMUP + LATENCY_RUNS):
        start = time.perf_counter()
        interpreter.invoke()
        if run >= LATENCY_WARMUP:
            times.append((time.perf_counter() - start) * 1000.0)
    return round(float(np.median(times)), 2)


def _tensor_info(detail, contract, which):
    info = dict(_IO[contract][which])
    info.update(
        name=detail["name"],
        shape=[int(d) for d in detail["shape"]],
        dtype=np.dtype(detail["dtype"]).name,
    )
    return info


def _describe(model, contract):
    """Input/output tensors and the op count per output dtype of a .tflite model."""
    interpreter = _interpreter(model)
    dtypes = {t["index"]: np.dtype(t["dtype"]).name for t in interpreter.get_tensor_details()}
    ops = {}
    for op in interpreter._get_ops_details():
        if op["op_name"] != "DELEGATE" and op["outputs"].size:
            dtype = dtypes[op["outputs"][0]]
            ops[dtype] = ops.get(dtype, 0) + 1
    return {
        "input": _tensor_info(input_detail(interpreter, _IO[contract][0]["key"]), contract, 0),
        "output": _tensor_info(interpreter.get_output_details()[0], contract, 1),
        "ops_by_output_dtype": dict(sorted(ops.items())),
    }


def _error_line(error):
    """The type and last line of an error: converters put the cause at the end."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[-1][:300]}" if lines else type(error).__name__


@dataclasses.dataclass
class _Inputs:
    """The photos an export works on, all uint8 sRGB (S, S, 3)."""

    parity: list
    parity_source: str
    representative: list
    representative_source: str

    def representative_dataset(self, contract):
        def generate():
            for photo in self.representative:
                if contract == RGB_CONTRACT:
                    yield [photo[None]]
                else:
                    yield [_l_norm(photo[None]).numpy()]

        return generate


def _dataset_photos(data_dir, size, count):
    """(photos, source): from the val split, or from train when a small dataset has no val."""
    from keras_colorize.data import schema

    for split in ("val", "train"):
        if schema.shard_paths(data_dir, split):
            photos = photos_from_dataset(data_dir, split, size, count)
            if photos:
                note = "" if split == "val" else " (its val split is empty)"
                return photos, f"{split} split of {data_dir}{note}"
    return [], f"{data_dir}, which holds no photos"


def _gather_inputs(config, size, data_dir, variants, parity_images, representative_batches):
    data_dir = data_dir or config.data
    if parity_images is not None:
        parity = [fit_photo(p, size) for p in parity_images]
        parity_source = f"{len(parity)} given images"
    elif data_dir:
        parity, parity_source = _dataset_photos(data_dir, size, DEFAULT_PARITY_COUNT)
    else:
        raise ValueError("parity needs photos: pass parity_images or a data_dir (or config.data)")
    if not parity:
        raise ValueError(f"no parity photos ({parity_source})")
    representative, representative_source = [], ""
    if "int8" in variants:
        if not data_dir:
            raise ValueError("int8 calibration needs the training photos: pass data_dir")
        representative = photos_from_dataset(data_dir, "train", size, representative_batches)
        representative_source = f"train split of {data_dir}"
    return _Inputs(parity, parity_source, representative, representative_source)


def _export_variant(variant, saved_model, inputs, references, tolerance):
    """Tries each contract in order; returns (model bytes or None, report entry).

    saved_model: contract -> path of the fixed-size SavedModel of that contract.
    """
    attempts, candidates = [], []
    for contract in CONTRACTS:
        try:
            model = convert(
                saved_model(contract), variant, contract, inputs.representative_dataset(contract)
            )
        except Exception as error:  # the converter raises many types
            attempts.append({"contract": contract, "converted": False, "error": _error_line(error)})
            continue
        parity = _parity(model, contract, inputs.parity, references)
        attempts.append(
            {"contract": contract, "converted": True, "mean_abs_diff": parity["mean_abs_diff"]}
        )
        candidates.append((parity, contract, model))
        if parity["mean_abs_diff"] <= tolerance:
            break
    if not candidates:
        entry = {"contract": None, "tolerance": tolerance, "within_tolerance": False}
        return None, {"variant": variant, **entry, "attempts": attempts}
    # The first contract within tolerance, else the closest one.
    parity, contract, model = min(
        candidates, key=lambda c: max(c[0]["mean_abs_diff"] - tolerance, 0.0)
    )
    quantization = _QUANTIZATION[variant]
    if variant == "int8":
        quantization += (
            "; colour maths kept in float32" if contract == RGB_CONTRACT else "; float32 I/O"
        )
    entry = {
        "variant": variant,
        "file": FILE_PATTERN.format(variant=variant),
        "contract": contract,
        "quantization": quantization,
        **_describe(model, contract),
        "size_bytes": len(model),
        "size_mb": round(len(model) / 1e6, 3),  # SI megabytes
        "latency_ms": None,  # measured once the file is written
        **parity,
        "tolerance": tolerance,
        "within_tolerance": parity["mean_abs_diff"] <= tolerance,
        "attempts": attempts,
    }
    return model, entry


def export_tflite(
    colorizer,
    config,
    out_dir,
    size=DEFAULT_SIZE,
    data_dir=None,
    variants=VARIANTS,
    parity_images=None,
    representative_batches=DEFAULT_REPRESENTATIVE_BATCHES,
    tolerances=TOLERANCES,
):
    """Writes fixed-size .tflite variants of ``colorizer`` with a parity and latency report.

    Args:
        colorizer: the inference network (keras.Model, or a path to colorizer.keras):
            L_norm float32 (B, H, W, 1) in [-1, 1] -> ab_norm float32 (B, H, W, 2).
        config: the run's config.Config (its model section fixes the stride;
            its data folder is the default data_dir).
        out_dir: receives colorizer_<variant>.tflite, report.json, report.md.
        size: side S of the fixed square input; a multiple of the network stride.
        data_dir: a data_prep folder; its train split calibrates int8, its val
            split is the default parity set. Default: config.data.
        variants: any of VARIANTS.
        parity_images: uint8 (H, W, 3) RGB arrays to compare on instead of the
            val split (central square, resized to S unless already S x S).
        representative_batches: training photos (one per batch) calibrating int8.
        tolerances: {variant: largest mean |TFLite - Keras| in uint8 levels}.

    Returns:
        The report (also written as report.json): per variant its file,
        contract, input/output tensors, size, latency, differences, attempts.

    Raises:
        ValueError: a bad size, variant or tolerance, or no photos to work on
            (before anything is written).
        TFLiteExportError: a variant that no contract could convert, after the report.
        TFLiteParityError: a variant beyond its tolerance, after the report.
    """
    size = check_size(config.model, size)
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        raise ValueError(f"unknown TFLite variants {unknown}; expected some of {VARIANTS}")
    missing = [v for v in variants if v not in tolerances]
    if missing:
        raise ValueError(f"no tolerance for variants {missing}")
    if isinstance(colorizer, str | os.PathLike):
        import keras_colorize.color.ab_bins  # noqa: F401 - registers the custom layers

        colorizer = keras.saving.load_model(colorizer, compile=False)
    inputs = _gather_inputs(config, size, data_dir, variants, parity_images, representative_batches)
    references = [colorize_fixed(colorizer, tf.constant(p[None])).numpy()[0] for p in inputs.parity]

    os.makedirs(out_dir, exist_ok=True)
    threads = sorted({1, os.cpu_count() or 1})
    entries = []
    with tempfile.TemporaryDirectory(prefix="tflite-export-") as tmp:

        @functools.cache
        def saved_model(contract):  # written on first use: L -> ab only for a fallback
            return _write_saved_model(colorizer, size, contract, os.path.join(tmp, contract))

        for variant in variants:
            model, entry = _export_variant(
                variant, saved_model, inputs, references, tolerances[variant]
            )
            path = os.path.join(out_dir, FILE_PATTERN.format(variant=variant))
            if model is None:
                if os.path.exists(path):
                    os.remove(path)  # a previous export's file would contradict the report
            else:
                with open(path, "wb") as handle:
                    handle.write(model)
                entry["latency_ms"] = {
                    f"{n}_thread{'s' * (n > 1)}": _latency_ms(model, n) for n in threads
                }
            entries.append(entry)

    report = {
        "format_version": REPORT_FORMAT_VERSION,
        "family": config.model.family,
        "size": size,
        "tensorflow": tf.__version__,
        "ai_edge_litert": importlib.metadata.version("ai-edge-litert"),
        "parity": {
            "photos": len(inputs.parity),
            "source": inputs.parity_source,
            "metric": "mean |TFLite - Keras| over uint8 RGB pixels and channels (levels)",
        },
        "representative": {
            "photos": len(inputs.representative),
            "source": inputs.representative_source,
        },
        "latency": f"median of {LATENCY_RUNS} invokes after {LATENCY_WARMUP} warm-up, CPU",
        "passed": all(e["within_tolerance"] for e in entries),
        "variants": entries,
    }
    write_report(report, out_dir)
    for entry in entries:
        if entry["contract"] is None:
            raise TFLiteExportError(
                f"TFLite {entry['variant']}: no contract converted "
                f"({entry['attempts'][-1]['error']})"
            )
    for entry in entries:
        if not entry["within_tolerance"]:
            raise TFLiteParityError(
                f"TFLite {entry['variant']} differs from the Keras colorizer by "
                f"{entry['mean_abs_diff']:.3g} levels on average (tolerance "
                f"{entry['tolerance']:g}); see {os.path.join(out_dir, REPORT_MD)}"
            )
    return report


def _shape(info):
    return f"{info['key']} {info['dtype']} {'x'.join(str(d) for d in info['shape'])}"


def write_report(report, out_dir):
    """Writes ``report`` as out_dir/report.json and a Markdown table as out_dir/report.md."""
    with open(os.path.join(out_dir, REPORT_JSON), "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)
        handle.write("\n")
    converted = [e for e in report["variants"] if e["contract"]]
    thread_keys = list(converted[0]["latency_ms"]) if converted else []
    header = (
        ["variant", "file", "contract", "input", "output", "size (MB)"]
        + [f"latency {k.replace('_', ' ')} (ms)" for k in thread_keys]
        + ["mean diff (levels)", "p99 diff", "max diff", "tolerance", "ok"]
    )
    lines = [
        f"# TFLite export: {report['family']}, {report['size']}x{report['size']}",
        "",
        f"Parity: {report['parity']['metric']}, on {report['parity']['photos']} photos "
        f"({report['parity']['source']}). Latency: {report['latency']}.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for e in report["variants"]:
        if not e["contract"]:
            cells = [e["variant"], "-", "not converted"] + ["-"] * (len(header) - 4) + ["no"]
        else:
            cells = [
                e["variant"],
                e["file"],
                e["contract"],
                _shape(e["input"]),
                _shape(e["output"]),
                f"{e['size_mb']:.2f}",
                *(f"{e['latency_ms'][k]:.1f}" for k in thread_keys),
                f"{e['mean_abs_diff']:.3f}",
                f"{e['p99_abs_diff']:g}",
                str(e["max_abs_diff"]),
                f"{e['tolerance']:g}",
                "yes" if e["within_tolerance"] else "NO",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for e in report["variants"]:
        tried = "; ".join(
            f"{a['contract']}: "
            + (f"mean diff {a['mean_abs_diff']:.3f}" if a["converted"] else a["error"])
            for a in e["attempts"]
        )
        lines.append(f"- {e['variant']}: {e.get('quantization', 'not converted')}. Tried {tried}.")
    with open(os.path.join(out_dir, REPORT_MD), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
