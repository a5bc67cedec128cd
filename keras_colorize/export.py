"""`python -m keras_colorize.export`: a trained run dir -> a SavedModel for TF Serving.

    python -m keras_colorize.export --run-dir runs/gan --out models/colorizer

writes ``models/colorizer/<N>/`` (N: the next free integer version, from 1;
an existing version is never overwritten), the layout TF Serving watches:
``saved_model.pb``, ``variables/`` and ``assets.extra/keras_colorize.json``
({"working_size", "family", "temperature", "stride", "format_version"}).

Everything runs in the graph, so a client sends pixels or image files and gets
a colour image back. Signatures:

- ``serving_default``: ``images`` uint8 (B, H, W, C), any H and W, C = 3 (RGB),
  1 (gray), 4 (RGBA) or 2 (gray + alpha); alpha is ignored -> ``colorized``
  uint8 RGB (B, H, W, 3) at the input size.
- ``colorize_bytes``: ``image_bytes`` string (B,) of JPEG/PNG/GIF/BMP files,
  which may differ in size -> ``png_bytes`` string (B,) of PNG files, each at
  its input's size. REST clients send ``{"b64": ...}``; the ``_bytes`` suffix
  makes TF Serving's REST API answer the same way.
- ``l_to_ab``: ``L`` float32 (B, H, W, 1), L/50 - 1, H and W multiples of the
  network stride -> ``ab_norm`` float32 (B, H, W, 2), ab/110: the bare network,
  used by ``keras_colorize.inference.backends``.

The colour pipeline of the first two (the same as ``keras_colorize.inference.backends``):

    rgb (H, W) --resize--> rgb (S, S) -> L_norm -> network -> ab (S, S)
    ab (S, S) --bilinear--> ab (H, W);  L (H, W) of the input + ab -> Lab -> rgb (H, W)

so the output keeps the input's full-resolution lightness. S, the working
size, is the run's training image size unless ``--working-size`` says otherwise.
"""

import argparse
import glob
import json
import os
import re
import shutil
import sys
import tempfile

import keras
import numpy as np
import tensorflow as tf

from keras_colorize.color import tf_lab
from keras_colorize.color.ab_bins import AnnealedMeanDecode
from keras_colorize.config import ConfigError, load_config
from keras_colorize.inference.backends import L_TO_AB_SIGNATURE, METADATA_FILE
from keras_colorize.models import network_stride
from keras_colorize.serving import tflite
from keras_colorize.training.trainers import GANTrainer, build_float32_trainer, compile_trainer

USAGE_ERROR = 2
DEFAULT_MODEL_NAME = "colorizer"  # the serving image's MODEL_NAME (Dockerfile)
DEFAULT_OUT = os.path.join("models", DEFAULT_MODEL_NAME)
FORMAT_VERSION = 1  # of assets.extra/keras_colorize.json
CONFIG_FILE = "config.json"
COLORIZER_FILE = "colorizer.keras"
CHECKPOINT_PATTERN = re.compile(r"^epoch-(\d+)\.weights\.h5$")

SERVING_SIGNATURE = "serving_default"
BYTES_SIGNATURE = "colorize_bytes"
# Input and output keys of the signatures. TF Serving's REST API base64-encodes
# outputs whose key ends in "_bytes" (and takes {"b64": ...} for string inputs).
IMAGES_KEY = "images"
COLORIZED_KEY = "colorized"
IMAGE_BYTES_KEY = "image_bytes"
PNG_BYTES_KEY = "png_bytes"
L_KEY = "L"
AB_KEY = "ab_norm"
# Largest |delta ab_norm| accepted between the SavedModel and the Keras colorizer:
PARITY_TOLERANCE = 1e-3  # 0.11 Lab units: float reordering, far below a visible change


class ExportError(Exception):
    """A user mistake (bad run dir, flag or output folder); one-line message."""


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m keras_colorize.export",
        description="Export a trained run as a SavedModel for TF Serving "
        "(uint8 images in, colour images out, everything in the graph).",
    )
    parser.add_argument("--run-dir", required=True, help="a `python -m keras_colorize.fit` run")
    parser.add_argument(
        "--out",
        default=DEFAULT_OUT,
        help=f"the model's folder; versions go in OUT/<N>/ (default {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--version", type=int, help="version number (default: the next free one, from 1)"
    )
    parser.add_argument(
        "--working-size",
        type=int,
        help="side of the square the network sees (default: the run's training image size)",
    )
    parser.add_argument(
        "--temperature",
        type=float,
        help="annealed-mean temperature (classification only; default: the run's)",
    )
    parser.add_argument(
        "--tflite-size",
        type=int,
        default=tflite.DEFAULT_SIZE,
        help=f"fixed input side of the TFLite files (default {tflite.DEFAULT_SIZE})",
    )
    parser.add_argument(
        "--tflite-variants",
        nargs="*",
        default=list(tflite.VARIANTS),
        choices=tflite.VARIANTS,
        help="TFLite variants to write in OUT/tflite/<N>/ (none: skip TFLite)",
    )
    return parser.parse_args(argv)


def _error_text(error):
    """The first line of an exception's message, for one-line errors."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:200]}" if lines else type(error).__name__


def read_run_config(run_dir):
    """The run's Config from RUN/config.json; ExportError/ConfigError if there is none."""
    if not os.path.isdir(run_dir):
        raise ExportError(f"run dir {run_dir} does not exist")
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.exists(path):
        raise ExportError(f"{run_dir} holds no {CONFIG_FILE}: not a keras-colorize run dir")
    return load_config(path)


def config_stride(config):
    """The factor that the network's input H and W must be multiples of."""
    model = config.model
    kwargs = {"num_downs": model.num_downs} if model.family == "gan" else {}
    return network_stride(model.family, width=model.width, **kwargs)


def resolve_working_size(config, working_size=None):
    """--working-size, or the run's training size; checked against the network stride."""
    size = config.train.image_size if working_size is None else working_size
    stride = config_stride(config)
    if size <= 0 or size % stride:
        raise ExportError(
            f"working size {size} must be a positive multiple of the {config.model.family} "
            f"network's stride {stride}"
        )
    return size


def check_temperature(config, temperature):
    """Rejects a temperature for a family without annealed-mean decoding, or T <= 0."""
    if temperature is None:
        return
    if config.model.family != "classification":
        raise ExportError(
            f"--temperature applies to the classification family only, not {config.model.family}"
        )
    if not temperature > 0:
        raise ExportError(f"--temperature must be positive, got {temperature}")


def _model_versions(model_dir):
    """{version number: folder name} of the integer-named folders in model_dir."""
    if not os.path.isdir(model_dir):
        return {}
    return {
        int(name): name
        for name in os.listdir(model_dir)
        if name.isdigit() and os.path.isdir(os.path.join(model_dir, name))
    }


def resolve_version_dir(model_dir, version=None):
    """model_dir/<version>: the next free integer by default; an existing one is refused."""
    if os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise ExportError(f"--out {model_dir} is a file, not a folder")
    if os.path.exists(os.path.join(model_dir, "saved_model.pb")):
        raise ExportError(
            f"--out {model_dir} is itself a model version; pass the model's folder (its parent)"
        )
    versions = _model_versions(model_dir)
    if version is None:
        version = max(versions, default=0) + 1
    elif version < 1:
        raise ExportError(f"--version must be a positive integer, got {version}")
    elif version in versions:
        raise ExportError(
            f"version {version} already exists in {model_dir} "
            f"({os.path.join(model_dir, versions[version])}); versions are never overwritten"
        )
    return os.path.join(model_dir, str(version))


def _newest_checkpoint(run_dir):
    folder = os.path.join(run_dir, "checkpoints")
    found = []
    for path in glob.glob(os.path.join(folder, "epoch-*.weights.h5")):
        match = CHECKPOINT_PATTERN.match(os.path.basename(path))
        if match:
            found.append((int(match.group(1)), path))
    return max(found)[1] if found else None


def _check_colorizer(model, source):
    """A colorizer maps (B, H, W, 1) to (B, H, W, 2); anything else is not one."""
    shapes_ok = isinstance(model, keras.Model) and len(model.inputs) == 1
    if shapes_ok:
        in_shape, out_shape = tuple(model.inputs[0].shape), tuple(model.outputs[0].shape)
        shapes_ok = len(in_shape) == 4 and in_shape[-1] == 1 and out_shape[-1:] == (2,)
    if not shapes_ok:
        raise ExportError(f"{source} is not a colorizer (L (B, H, W, 1) -> ab (B, H, W, 2))")


def _colorizer_from_checkpoint(config, path):
    """Rebuilds the run's trainer exactly as fit does, loads its weights, returns the colorizer."""
    trainer = compile_trainer(build_float32_trainer(config.model, config.train), config.train)
    size = config.train.image_size
    # Create every variable the checkpoint holds (networks and optimizer state).
    trainer(tf.zeros((1, size, size, 1)))
    if isinstance(trainer, GANTrainer):
        trainer.discriminator([tf.zeros((1, size, size, 1)), tf.zeros((1, size, size, 2))])
        trainer.build_optimizers()
    else:
        trainer.optimizer.build(trainer.trainable_variables)
    try:
        trainer.load_weights(path)
    except Exception as error:  # h5py and Keras raise many types for a bad file
        raise ExportError(
            f"checkpoint {path} does not load into the run's {config.model.family} "
            f"model ({_error_text(error)})"
        ) from None
    return trainer.inference_model()


def load_colorizer_from_run(run_dir):
    """The run's inference network and its Config.

    Loads RUN/colorizer.keras if present; otherwise rebuilds the network from
    RUN/config.json and loads the newest RUN/checkpoints/epoch-NNNN.weights.h5.

    Returns:
        (colorizer, config): a float32 keras.Model mapping L_norm (B, H, W, 1)
        in [-1, 1] to ab_norm (B, H, W, 2) = ab/110, and the run's Config.

    Raises:
        ExportError or config.ConfigError, with a one-line message, for a run
        dir without config.json, or a model file or checkpoint that does not load.
    """
    config = read_run_config(run_dir)
    keras_path = os.path.join(run_dir, COLORIZER_FILE)
    if os.path.exists(keras_path):
        try:
            colorizer = keras.saving.load_model(keras_path, compile=False)
        except Exception as error:  # Keras raises many types for a bad file
            raise ExportError(
                f"{keras_path} does not load as a Keras model ({_error_text(error)})"
            ) from None
        _check_colorizer(colorizer, keras_path)
        return colorizer, config
    checkpoint = _newest_checkpoint(run_dir)
    if checkpoint is None:
        raise ExportError(
            f"{run_dir} holds neither {COLORIZER_FILE} nor checkpoints/epoch-NNNN.weights.h5"
        )
    return _colorizer_from_checkpoint(config, checkpoint), config


def set_temperature(colorizer, temperature):
    """Sets the annealed-mean temperature of a classification colorizer; returns the one in use.

    Returns None for a colorizer without annealed-mean decoding. Takes effect at
    the next trace, so call it before exporting.
    """
    decoders = [layer for layer in colorizer.layers if isinstance(layer, AnnealedMeanDecode)]
    if not decoders:
        if temperature is not None:
            raise ExportError("this colorizer has no annealed-mean decoding to set a temperature")
        return None
    for decoder in decoders:
        if temperature is not None:
            decoder.temperature = float(temperature)
    return decoders[0].temperature


def _to_rgb(images):
    """uint8 (B, H, W, C), C in {1, 2, 3, 4} -> uint8 RGB (B, H, W, 3); alpha dropped."""
    shape = tf.shape(images)
    # Gray (+ alpha) keeps channel 0 and broadcasts it to three; RGB(A) keeps three.
    keep = tf.where(shape[-1] >= 3, 3, 1)
    colour = tf.slice(images, [0, 0, 0, 0], tf.stack([-1, -1, -1, keep]))
    rgb = tf.broadcast_to(colour, tf.concat([shape[:-1], [3]], axis=0))
    return tf.ensure_shape(rgb, [None, None, None, 3])


def colorize_in_graph(colorizer, images, working_size):
    """The serving pipeline in TF ops: uint8 (B, H, W, C) -> uint8 RGB (B, H, W, 3).

    C = 1, 2, 3 or 4 (gray, gray + alpha, RGB, RGBA). The network sees the
    image resized to working_size x working_size; its ab is resized back
    bilinearly and joined with the input's own full-resolution L.
    """
    rgb = _to_rgb(images)  # (B, H, W, 3) uint8
    # Full resolution: the lookup-table variants (a 12 MP photo: ~0.75 s less per pass).
    lightness = tf_lab.lightness_of_uint8(rgb)  # (B, H, W, 1), L in [0, 100]
    small = tf.image.resize(
        tf.cast(rgb, tf.float32) / 255.0,
        [working_size, working_size],
        method="bilinear",
        antialias=True,  # an area-like filter when shrinking, plain bilinear when growing
    )  # (B, S, S, 3) in [0, 1]
    l_norm = tf_lab.normalize_l(tf_lab.rgb_to_lab(small)[..., :1])  # (B, S, S, 1)
    ab_small = tf_lab.denormalize_ab(colorizer(l_norm, training=False))  # (B, S, S, 2)
    ab = tf.image.resize(ab_small, tf.shape(rgb)[1:3], method="bilinear")  # (B, H, W, 2)
    return tf_lab.lab_to_rgb_uint8_by_table(tf.concat([lightness, ab], axis=-1))  # (B, H, W, 3)


def _endpoints(colorizer, working_size):
    """{signature name: (function, input signature)} of the exported model."""

    def serving_default(images):
        return {COLORIZED_KEY: colorize_in_graph(colorizer, images, working_size)}

    def colorize_one(data):
        rgb = tf.io.decode_image(data, channels=3, expand_animations=False)  # (h, w, 3) uint8
        rgb = tf.ensure_shape(rgb, [None, None, 3])
        return tf.io.encode_png(colorize_in_graph(colorizer, rgb[None], working_size)[0])

    def colorize_bytes(image_bytes):
        # One image at a time: the images of a batch may differ in size.
        png = tf.map_fn(colorize_one, image_bytes, fn_output_signature=tf.TensorSpec([], tf.string))
        return {PNG_BYTES_KEY: png}

    def l_to_ab(L):  # noqa: N803 - the argument name is the signature's input key
        return {AB_KEY: colorizer(L, training=False)}

    return {
        SERVING_SIGNATURE: (
            serving_default,
            [tf.TensorSpec([None, None, None, None], tf.uint8, name=IMAGES_KEY)],
        ),
        BYTES_SIGNATURE: (
            colorize_bytes,
            [tf.TensorSpec([None], tf.string, name=IMAGE_BYTES_KEY)],
        ),
        L_TO_AB_SIGNATURE: (
            l_to_ab,
            [tf.TensorSpec([None, None, None, 1], tf.float32, name=L_KEY)],
        ),
    }


def export_saved_model(colorizer, config, version_dir, working_size, temperature=None):
    """Writes the SavedModel (three signatures, see the module docstring) to version_dir.

    Args:
        colorizer: the run's inference network (``load_colorizer_from_run``).
        config: the run's Config.
        version_dir: a folder that must not exist yet, e.g. models/colorizer/3.
            The model is written beside it and renamed into place when complete,
            so TF Serving, which watches the parent folder, never sees half a model.
        working_size: side of the square the network sees; a multiple of its stride.
        temperature: annealed-mean temperature (classification only); None keeps
            the colorizer's own.

    Returns:
        The metadata written to version_dir/assets.extra/keras_colorize.json.
    """
    if os.path.exists(version_dir):
        raise ExportError(f"{version_dir} already exists; versions are never overwritten")
    check_temperature(config, temperature)
    working_size = resolve_working_size(config, working_size)
    used_temperature = set_temperature(colorizer, temperature)
    metadata = {
        "working_size": working_size,
        "family": config.model.family,
        "temperature": used_temperature,
        "stride": config_stride(config),
        "format_version": FORMAT_VERSION,
    }
    parent = os.path.dirname(os.path.abspath(version_dir))
    os.makedirs(parent, exist_ok=True)
    # A dot-folder: TF Serving only loads integer-named versions.
    staging = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        os.chmod(staging, 0o755)  # mkdtemp's 0700 would hide the model from a serving user
        archive = keras.export.ExportArchive()
        archive.track(colorizer)
        for name, (function, signature) in _endpoints(colorizer, working_size).items():
            archive.add_endpoint(name, function, input_signature=signature)
        archive.write_out(staging, verbose=False)
        os.makedirs(os.path.join(staging, "assets.extra"), exist_ok=True)
        with open(os.path.join(staging, "assets.extra", METADATA_FILE), "w") as handle:
            json.dump(metadata, handle, indent=1, sort_keys=True)
            handle.write("\n")
        if os.path.exists(version_dir):  # created by someone else meanwhile
            raise ExportError(f"{version_dir} appeared during the export; it was left alone")
        os.rename(staging, version_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return metadata


def parity_error(colorizer, version_dir, working_size):
    """Largest |delta ab_norm| between the reloaded SavedModel's l_to_ab and the colorizer."""
    rng = np.random.default_rng(0)
    l_norm = rng.uniform(-1.0, 1.0, (1, working_size, working_size, 1)).astype(np.float32)
    loaded = tf.saved_model.load(version_dir)
    exported = loaded.signatures[L_TO_AB_SIGNATURE](**{L_KEY: tf.constant(l_norm)})[AB_KEY]
    expected = colorizer(l_norm, training=False)
    return float(np.max(np.abs(exported.numpy() - np.asarray(expected))))


def main(argv=None):
    """Exports; returns the exit code (2 for a user mistake, 1 if the parity check fails)."""
    args = parse_args(argv)
    try:
        config = read_run_config(args.run_dir)
        check_temperature(config, args.temperature)
        working_size = resolve_working_size(config, args.working_size)
        version_dir = resolve_version_dir(args.out, args.version)
        if args.tflite_variants:
            tflite.check_size(config.model, args.tflite_size)
        colorizer, config = load_colorizer_from_run(args.run_dir)
        metadata = export_saved_model(
            colorizer, config, version_dir, working_size, args.temperature
        )
    except (ExportError, ConfigError, ValueError) as error:
        print(f"export: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    deviation = parity_error(colorizer, version_dir, working_size)
    temperature = metadata["temperature"]
    print(
        f"export: wrote {version_dir} ({config.model.family}, working size {working_size}"
        + (f", temperature {temperature:g}" if temperature is not None else "")
        + f"); l_to_ab parity max |delta ab_norm| {deviation:.2g}"
    )
    if not deviation <= PARITY_TOLERANCE:
        print(
            f"export: error: the SavedModel's l_to_ab differs from the Keras colorizer by "
            f"{deviation:.3g} (tolerance {PARITY_TOLERANCE:g})",
            file=sys.stderr,
        )
        return 1
    if args.tflite_variants:
        # TF Serving only reads integer folders, so tflite/ beside them is ignored there.
        tflite_dir = os.path.join(args.out, "tflite", os.path.basename(version_dir))
        try:
            report = tflite.export_tflite(
                colorizer, config, tflite_dir, size=args.tflite_size, variants=args.tflite_variants
            )
        except tflite.TFLiteExportError as error:
            print(f"export: error: {error} (report in {tflite_dir})", file=sys.stderr)
            return 1
        print(f"export: wrote {len(report['variants'])} TFLite variants to {tflite_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
