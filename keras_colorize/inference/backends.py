"""Colorizing photos of any size with a trained colorizer: .keras, SavedModel or .tflite.

Colour is predicted at the model's working size and recombined with the
ORIGINAL full-resolution lightness, so fine detail and the exact luminance of
the input survive:

    rgb (H, W) --resize--> rgb (S, S) -> L_norm -> backend -> ab_norm (S, S)
    ab (S, S) --bilinear--> ab (H, W);  L (H, W) + ab (H, W) -> Lab -> rgb (H, W)

Every backend answers one question, ``predict_ab``: normalised L (B, S, S, 1)
-> normalised ab (B, S, S, 2). The full-resolution colour maths
(keras_colorize.color.fullres) runs in strips of rows so that a 40-megapixel scan
needs a bounded amount of memory.
"""

import json
import os

import cv2
import numpy as np
import tensorflow as tf

from keras_colorize.color.fullres import lightness, recombine
from keras_colorize.color.tf_lab import (
    denormalize_ab,
    denormalize_l,
    lab_to_rgb_uint8,
    normalize_ab,
    normalize_l,
    rgb_uint8_to_lab,
)

DEFAULT_WORKING_SIZE = 256
METADATA_FILE = "keras_colorize.json"  # beside a .keras file / in a SavedModel's assets.extra/
L_TO_AB_SIGNATURE = "l_to_ab"


class ModelLoadError(Exception):
    """A model path that does not load; one-line message."""


class Backend:
    """predict_ab(l_norm float32 (B, S, S, 1)) -> ab_norm float32 (B, S, S, 2); S = working_size."""

    working_size = DEFAULT_WORKING_SIZE

    def predict_ab(self, l_norm):
        raise NotImplementedError


class KerasBackend(Backend):
    """A colorizer.keras (from fit). The working size comes from a config.json beside it, if any."""

    def __init__(self, path, working_size=None):
        import keras

        import keras_colorize.color.ab_bins  # noqa: F401

        # Importing registers the project's custom layers before deserialisation.
        import keras_colorize.models.layers  # noqa: F401

        try:
            self.model = keras.saving.load_model(path, compile=False)
        except Exception as error:  # Keras raises many types for a bad file
            raise ModelLoadError(
                f"{path} does not load as a Keras model ({type(error).__name__})"
            ) from error
        self.working_size = working_size or _sidecar_size(path) or DEFAULT_WORKING_SIZE

    def predict_ab(self, l_norm):
        return np.asarray(self.model(l_norm, training=False), dtype=np.float32)


class SavedModelBackend(Backend):
    """A SavedModel from `python -m keras_colorize.export`, through its l_to_ab signature."""

    def __init__(self, path, working_size=None):
        try:
            loaded = tf.saved_model.load(path)
            self.function = loaded.signatures[L_TO_AB_SIGNATURE]
        except (OSError, KeyError, ValueError, tf.errors.OpError) as error:
            raise ModelLoadError(
                f"{path} is not a keras-colorize SavedModel ({type(error).__name__})"
            ) from error
        self._loaded = loaded  # keeps the variables alive
        metadata = _read_json(os.path.join(path, "assets.extra", METADATA_FILE))
        self.working_size = working_size or metadata.get("working_size") or DEFAULT_WORKING_SIZE

    def predict_ab(self, l_norm):
        outputs = self.function(L=tf.constant(l_norm, tf.float32))
        return next(iter(outputs.values())).numpy()


class TFLiteBackend(Backend):
    """A .tflite file, run with the LiteRT interpreter (ai-edge-litert).

    Two contracts (models/README.md): float L_norm (1, S, S, 1) -> ab_norm
    (1, S, S, 2), or uint8 RGB (1, S, S, 3) -> uint8 RGB (1, S, S, 3), whose
    ab is read back from the output.
    """

    def __init__(self, path, working_size=None):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as error:
            raise ModelLoadError(
                "running .tflite models needs ai-edge-litert: pip install ai-edge-litert"
            ) from error
        try:
            self.interpreter = Interpreter(model_path=path)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise ModelLoadError(f"{path} does not load as a TFLite model ({error})") from error
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.working_size = int(self.input["shape"][1])
        self.rgb_contract = self.input["shape"][-1] == 3

    def _invoke(self, value):
        self.interpreter.set_tensor(self.input["index"], value)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"])

    def predict_ab(self, l_norm):
        results = []
        for one in l_norm:
            if self.rgb_contract:
                gray = _gray_rgb(one)
                rgb = self._invoke(gray[None])[0]
                results.append(normalize_ab(rgb_uint8_to_lab(rgb)[..., 1:]).numpy())
            else:
                results.append(self._invoke(one[None].astype(np.float32))[0])
        return np.stack(results).astype(np.float32)


def _gray_rgb(l_norm):
    """Normalised L (S, S, 1) -> the uint8 gray RGB image with that lightness."""
    lab = tf.concat(
        [denormalize_l(tf.constant(l_norm)), tf.zeros(l_norm.shape[:-1] + (2,))], axis=-1
    )
    return lab_to_rgb_uint8(lab).numpy()


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def _sidecar_size(path):
    """train.image_size from a run dir's config.json beside a .keras file, else None."""
    config = _read_json(os.path.join(os.path.dirname(os.path.abspath(path)), "config.json"))
    metadata = _read_json(os.path.join(os.path.dirname(os.path.abspath(path)), METADATA_FILE))
    return metadata.get("working_size") or config.get("train", {}).get("image_size")


def load_backend(path, working_size=None):
    """Picks the backend by what `path` is: a SavedModel folder, a .keras or a .tflite file."""
    if os.path.isdir(path):
        if not os.path.exists(os.path.join(path, "saved_model.pb")):
            raise ModelLoadError(f"{path} is a folder without saved_model.pb")
        return SavedModelBackend(path, working_size)
    if not os.path.exists(path):
        raise ModelLoadError(f"model {path} does not exist")
    if path.endswith(".keras"):
        return KerasBackend(path, working_size)
    if path.endswith(".tflite"):
        return TFLiteBackend(path, working_size)
    raise ModelLoadError(f"{path}: expected a SavedModel folder, a .keras or a .tflite file")


def working_input(rgb, size):
    """uint8 RGB (H, W, 3) -> normalised L (size, size, 1) of the image resized to a square."""
    interpolation = cv2.INTER_AREA if min(rgb.shape[:2]) > size else cv2.INTER_LINEAR
    small = cv2.resize(rgb, (size, size), interpolation=interpolation)
    return normalize_l(lightness(small))


def colorize_images(images, backend):
    """Colorizes a batch of uint8 RGB images of any sizes; returns uint8 RGB at each input size.

    The input's own colour (if any) is ignored: only its lightness is used.
    """
    size = backend.working_size
    l_norm = np.stack([working_input(rgb, size) for rgb in images])  # (B, S, S, 1)
    ab_small = denormalize_ab(backend.predict_ab(l_norm))  # (B, S, S, 2) Lab units
    return [recombine(lightness(rgb), ab) for rgb, ab in zip(images, ab_small, strict=True)]
