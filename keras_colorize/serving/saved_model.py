"""SavedModel export for TF Serving: a colorizer -> uint8 images in, colour images out.

``export_saved_model`` writes ``MODEL/<N>/`` (N: an integer version; an
existing version is never overwritten), the layout TF Serving watches:
``saved_model.pb``, ``variables/`` and ``assets.extra/keras_colorize.json``
({"working_size", "family", "temperature", "chroma_gain", "stride", "guided",
"format_version"}).

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
  used by ``keras_colorize.inference``.

The colour pipeline of the first two is ``keras_colorize.inference.pipeline``'s,
op for op (the same resize rule, the same lookup tables):

    L (H, W) of the input --resize--> L (S, S) -> L_norm -> network -> ab (S, S)
    ab (S, S) --bilinear--> ab (H, W);  L (H, W) + ab (H, W) -> Lab -> rgb (H, W)

so the output keeps the input's full-resolution lightness. S, the working
size, is the run's training image size unless told otherwise.
"""

import json
import os
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from keras_colorize import artifacts as A
from keras_colorize.cli import UsageError
from keras_colorize.color import tf_lab
from keras_colorize.color.ab_bins import AnnealedMeanDecode
from keras_colorize.contract import HINT_CHANNELS, REFERENCE_BINS
from keras_colorize.guidance.graph import call_colorizer, is_guided
from keras_colorize.training.families import family_of, network_stride

FORMAT_VERSION = 1  # of assets.extra/keras_colorize.json
# Largest |delta ab_norm| accepted between the SavedModel and the Keras colorizer:
PARITY_TOLERANCE = 1e-3  # 0.11 Lab units: float reordering, far below a visible change


class ExportError(UsageError):
    """A user mistake (bad working size, version or output folder); one-line message."""


def resolve_working_size(config, working_size=None):
    """--working-size, or the run's training size; checked against the network stride."""
    size = config.train.image_size if working_size is None else working_size
    stride = network_stride(config.model)
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
    if not family_of(config.model).temperature:
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


def set_temperature(colorizer, temperature):
    """Sets the annealed-mean temperature of a classification colorizer; returns the one in use.

    Returns None for a colorizer without annealed-mean decoding. Takes effect at
    the next trace, so call it before exporting.
    """
    decoders = _annealed_mean_decoders(colorizer)
    if not decoders:
        if temperature is not None:
            raise ExportError("this colorizer has no annealed-mean decoding to set a temperature")
        return None
    for decoder in decoders:
        if temperature is not None:
            decoder.temperature = float(temperature)
    return decoders[0].temperature


def chroma_gain(colorizer):
    """The factor on a classification colorizer's annealed-mean ab; None without that decoding."""
    decoders = _annealed_mean_decoders(colorizer)
    return decoders[0].chroma_gain if decoders else None


def _annealed_mean_decoders(colorizer):
    return [layer for layer in colorizer.layers if isinstance(layer, AnnealedMeanDecode)]


def _to_rgb(images):
    """uint8 (B, H, W, C), C in {1, 2, 3, 4} -> uint8 RGB (B, H, W, 3); alpha dropped."""
    shape = tf.shape(images)
    # Gray (+ alpha) keeps channel 0 and broadcasts it to three; RGB(A) keeps three.
    keep = tf.where(shape[-1] >= 3, 3, 1)
    colour = tf.slice(images, [0, 0, 0, 0], tf.stack([-1, -1, -1, keep]))
    rgb = tf.broadcast_to(colour, tf.concat([shape[:-1], [3]], axis=0))
    return tf.ensure_shape(rgb, [None, None, None, 3])


def resize_lightness(lightness, size):
    """L (B, H, W, 1) -> L (B, size, size, 1), by the rule of inference.pipeline.working_lightness.

    Area averaging when the photo is at least ``size`` on its short side (a box
    filter, like cv2.INTER_AREA, to which it is equal within float rounding),
    bilinear with half-pixel centres otherwise (like cv2.INTER_LINEAR).
    """
    shape = tf.shape(lightness)
    shrinking = tf.minimum(shape[1], shape[2]) >= size
    return tf.cond(
        shrinking,
        lambda: tf.image.resize(lightness, [size, size], method="area"),
        lambda: tf.image.resize(lightness, [size, size], method="bilinear"),
    )


def colorize_in_graph(colorizer, images, working_size, hints=None, reference=None):
    """The serving pipeline in TF ops: uint8 (B, H, W, C) -> uint8 RGB (B, H, W, 3).

    C = 1, 2, 3 or 4 (gray, gray + alpha, RGB, RGBA). The network sees the
    photo's lightness resized to working_size x working_size; its ab is
    resized back bilinearly and joined with the full-resolution L. A guided
    colorizer also gets ``hints`` (B, S, S, 3) at the working size and
    ``reference`` (B, REFERENCE_BINS), see keras_colorize.guidance.hints.
    """
    rgb = _to_rgb(images)  # (B, H, W, 3) uint8
    lightness = tf_lab.lightness_of_uint8(rgb)  # (B, H, W, 1), L in [0, 100]
    small = resize_lightness(lightness, working_size)  # (B, S, S, 1)
    l_norm = tf_lab.normalize_l(small)
    ab_small = tf_lab.denormalize_ab(call_colorizer(colorizer, l_norm, hints, reference))
    ab = tf.image.resize(ab_small, tf.shape(rgb)[1:3], method="bilinear")  # (B, H, W, 2)
    return tf_lab.lab_to_rgb_uint8_by_table(tf.concat([lightness, ab], axis=-1))  # (B, H, W, 3)


def _endpoints(colorizer, working_size):
    """{signature name: (function, input signature)} of the exported model."""

    def serving_default(images):
        return {A.COLORIZED_KEY: colorize_in_graph(colorizer, images, working_size)}

    def colorize_one(data):
        rgb = tf.io.decode_image(data, channels=3, expand_animations=False)  # (h, w, 3) uint8
        rgb = tf.ensure_shape(rgb, [None, None, 3])
        return tf.io.encode_png(colorize_in_graph(colorizer, rgb[None], working_size)[0])

    def colorize_bytes(image_bytes):
        # One image at a time: the images of a batch may differ in size.
        png = tf.map_fn(colorize_one, image_bytes, fn_output_signature=tf.TensorSpec([], tf.string))
        return {A.PNG_BYTES_KEY: png}

    def l_to_ab(L):  # noqa: N803 - the argument name is the signature's input key
        return {A.AB_KEY: call_colorizer(colorizer, L)}

    endpoints = {
        A.SERVING_SIGNATURE: (
            serving_default,
            [tf.TensorSpec([None, None, None, None], tf.uint8, name=A.IMAGES_KEY)],
        ),
        A.BYTES_SIGNATURE: (
            colorize_bytes,
            [tf.TensorSpec([None], tf.string, name=A.IMAGE_BYTES_KEY)],
        ),
        A.L_TO_AB_SIGNATURE: (
            l_to_ab,
            [tf.TensorSpec([None, None, None, 1], tf.float32, name=A.L_KEY)],
        ),
    }
    if is_guided(colorizer):
        endpoints.update(_guided_endpoints(colorizer, working_size))
    return endpoints


def _guided_endpoints(colorizer, working_size):
    """A guided colorizer's two further signatures: photos or L, with hints and a reference."""
    size = working_size
    hints_spec = tf.TensorSpec([None, size, size, HINT_CHANNELS], tf.float32, name=A.HINTS_KEY)
    reference_spec = tf.TensorSpec([None, REFERENCE_BINS], tf.float32, name=A.REFERENCE_KEY)

    def colorize_guided(images, hints, reference):
        return {A.COLORIZED_KEY: colorize_in_graph(colorizer, images, size, hints, reference)}

    def guided_l_to_ab(L, hints, reference):  # noqa: N803 - the signature's input key
        return {A.AB_KEY: call_colorizer(colorizer, L, hints, reference)}

    images_spec = tf.TensorSpec([None, None, None, None], tf.uint8, name=A.IMAGES_KEY)
    l_spec = tf.TensorSpec([None, size, size, 1], tf.float32, name=A.L_KEY)
    return {
        A.GUIDED_SIGNATURE: (colorize_guided, [images_spec, hints_spec, reference_spec]),
        A.GUIDED_L_TO_AB_SIGNATURE: (guided_l_to_ab, [l_spec, hints_spec, reference_spec]),
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
        "chroma_gain": chroma_gain(colorizer),
        "stride": network_stride(config.model),
        "guided": is_guided(colorizer),
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
        with open(os.path.join(staging, "assets.extra", A.METADATA_FILE), "w") as handle:
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
    exported = loaded.signatures[A.L_TO_AB_SIGNATURE](**{A.L_KEY: tf.constant(l_norm)})[A.AB_KEY]
    expected = call_colorizer(colorizer, tf.constant(l_norm))
    return float(np.max(np.abs(exported.numpy() - np.asarray(expected))))
