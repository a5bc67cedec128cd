"""The runtimes a trained colorizer runs in: .tflite (no TensorFlow), .keras and SavedModel.

Every backend answers one question, ``predict_ab``: normalised L float32
(B, S, S, 1) = L/50 - 1 -> normalised ab float32 (B, S, S, 2) = ab/110, at its
working size S. A .tflite file needs only ai-edge-litert and numpy, so this
module imports neither TensorFlow nor Keras until a .keras file or a
SavedModel is opened.
"""

import json
import os

import numpy as np

from keras_colorize import artifacts as A
from keras_colorize import constants as C
from keras_colorize.cli import TENSORFLOW_INSTALL, error_line, missing_tensorflow
from keras_colorize.color import np_lab

DEFAULT_WORKING_SIZE = 256
MIN_WORKING_SIZE = 8


class ModelLoadError(Exception):
    """A model path that does not load or is not a colorizer; one-line message."""


class Backend:
    """predict_ab(l_norm float32 (B, S, S, 1)) -> ab_norm float32 (B, S, S, 2); S = working_size."""

    working_size = DEFAULT_WORKING_SIZE
    fixed_size = False  # True when the model only runs at its own working size

    def predict_ab(self, l_norm):
        raise NotImplementedError


class KerasBackend(Backend):
    """A colorizer.keras (from fit). The working size comes from a config.json beside it, if any."""

    def __init__(self, path, working_size=None):
        _require_tensorflow(path)
        import keras

        # Importing registers the project's custom layers before deserialisation.
        import keras_colorize.color.ab_bins  # noqa: F401
        import keras_colorize.models.layers  # noqa: F401

        try:
            self.model = keras.saving.load_model(path, compile=False)
        except Exception as error:  # Keras raises many types for a bad file
            raise ModelLoadError(
                f"{path} does not load as a Keras model ({type(error).__name__})"
            ) from None
        self.working_size = working_size or _sidecar_size(path) or DEFAULT_WORKING_SIZE

    def predict_ab(self, l_norm):
        return np.asarray(self.model(l_norm, training=False), dtype=np.float32)


class SavedModelBackend(Backend):
    """A SavedModel from `python -m keras_colorize.export`, through its l_to_ab signature."""

    def __init__(self, path, working_size=None):
        _require_tensorflow(path)
        import tensorflow as tf

        try:
            loaded = tf.saved_model.load(path)
            self.function = loaded.signatures[A.L_TO_AB_SIGNATURE]
        except (OSError, KeyError, ValueError, tf.errors.OpError) as error:
            raise ModelLoadError(
                f"{path} is not a keras-colorize SavedModel ({type(error).__name__})"
            ) from None
        self._loaded = loaded  # keeps the variables alive
        metadata = _read_json(os.path.join(path, "assets.extra", A.METADATA_FILE))
        self.working_size = working_size or metadata.get("working_size") or DEFAULT_WORKING_SIZE

    def predict_ab(self, l_norm):
        import tensorflow as tf  # imported by __init__ already: a dictionary look-up

        outputs = self.function(**{A.L_KEY: tf.constant(l_norm, dtype=tf.float32)})
        return outputs[A.AB_KEY].numpy()


class TFLiteBackend(Backend):
    """A .tflite file, run with the LiteRT interpreter (ai-edge-litert), at its fixed size.

    Two contracts (keras_colorize.serving.tflite): float L_norm (1, S, S, 1) ->
    ab_norm (1, S, S, 2), or uint8 RGB (1, S, S, 3) -> uint8 RGB (1, S, S, 3),
    which gets the gray photo of that L and whose ab is read back from the output.
    """

    fixed_size = True

    def __init__(self, path, working_size=None):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise ModelLoadError(
                "running .tflite models needs ai-edge-litert: pip install ai-edge-litert"
            ) from None
        try:
            self.interpreter = Interpreter(model_path=path)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise ModelLoadError(
                f"{path} does not load as a TFLite model ({error_line(error)})"
            ) from None
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        shape = tuple(self.input["shape"])
        if len(shape) != 4 or shape[1] != shape[2] or shape[-1] not in (1, 3):
            raise ModelLoadError(
                f"{path} is not a colorizer: its input is {shape}, expected (1, S, S, 1) L "
                "or (1, S, S, 3) RGB"
            )
        self.working_size = int(shape[1])
        self.rgb_contract = shape[-1] == 3

    def _invoke(self, value):
        self.interpreter.set_tensor(self.input["index"], value)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"])

    def predict_ab(self, l_norm):
        results = []
        for one in np.asarray(l_norm, dtype=np.float32):  # (S, S, 1)
            if self.rgb_contract:
                gray = np_lab.gray_rgb_uint8((one + 1.0) * C.L_HALF)  # (S, S, 3) uint8
                rgb = self._invoke(gray[None])[0]
                results.append(np_lab.rgb_uint8_to_lab(rgb)[..., 1:] / C.AB_SCALE)
            else:
                results.append(self._invoke(one[None])[0])
        return np.stack(results).astype(np.float32)


def _require_tensorflow(path):
    if missing_tensorflow(path):
        raise ModelLoadError(
            f"{path} needs TensorFlow and Keras ({TENSORFLOW_INSTALL}); a .tflite model does not"
        )


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def _sidecar_size(path):
    """The working size recorded beside a model file (metadata, else the run's config.json)."""
    folder = os.path.dirname(os.path.abspath(path))
    metadata = _read_json(os.path.join(folder, A.METADATA_FILE))
    config = _read_json(os.path.join(folder, A.CONFIG_FILE))
    train = config.get("train") if isinstance(config, dict) else None
    return metadata.get("working_size") or (train or {}).get("image_size")


def load_backend(path, working_size=None):
    """Picks the backend by what ``path`` is: a SavedModel folder, a .keras or a .tflite file."""
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


def open_colorizer(path, working_size=None):
    """Loads a backend and checks that it maps L (1, S, S, 1) to ab (1, S, S, 2).

    Returns:
        (backend, note): note is a line for the user when ``working_size`` was
        asked of a model that has a fixed one, else None.

    Raises:
        ModelLoadError with a one-line message: the model does not load, does
        not run at the working size, or is not a colorizer.
    """
    if working_size is not None and working_size < MIN_WORKING_SIZE:
        raise ModelLoadError(f"working size must be at least {MIN_WORKING_SIZE}")
    backend = load_backend(path, working_size)
    size = backend.working_size
    note = None
    if working_size and working_size != size:
        note = f"note: {path} has a fixed working size {size}; --working-size ignored"
    try:
        shape = tuple(np.shape(backend.predict_ab(np.zeros((1, size, size, 1), np.float32))))
    except Exception as error:  # any framework error means the same: not a colorizer
        raise ModelLoadError(
            f"{path} does not run at working size {size} ({type(error).__name__})"
        ) from None
    expected = (1, size, size, 2)
    if shape != expected and len(shape) == 4 and shape[-1] == 2:
        raise ModelLoadError(
            f"{path} gives ab {shape} for L (1, {size}, {size}, 1); use a --working-size "
            "the network keeps (a multiple of its stride)"
        )
    if shape != expected:
        raise ModelLoadError(
            f"{path} is not a colorizer: L (1, {size}, {size}, 1) gave {shape}, "
            f"expected ab {expected}"
        )
    return backend, note
