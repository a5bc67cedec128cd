"""The runtimes a trained colorizer runs in: .tflite (no TensorFlow), .keras and SavedModel.

Every backend answers one question, ``predict_ab``: normalised L float32
(B, S, S, 1) = L/50 - 1 -> normalised ab float32 (B, S, S, 2) = ab/110, at its
working size S (guided models also take hints and a reference colour
distribution). A .tflite file needs only ai-edge-litert and numpy, so this
module imports neither TensorFlow nor Keras until a .keras file or a
SavedModel is opened.
"""

import os
import sys

import numpy as np

from keras_colorize import artifacts as A
from keras_colorize import constants as C
from keras_colorize.cli import TENSORFLOW_INSTALL, UsageError, error_line, missing_tensorflow
from keras_colorize.color import np_lab
from keras_colorize.contract import (
    GUIDED_INPUT_KEYS,
    colorizer_problem,
    fill_guidance,
    is_guided,
)
from keras_colorize.io.json_file import read_json

MIN_WORKING_SIZE = 8


class ModelLoadError(Exception):
    """A model path that does not load or is not a colorizer; one-line message."""


class Backend:
    """predict_ab(l_norm float32 (B, S, S, 1)) -> ab_norm float32 (B, S, S, 2); S = working_size.

    A guided backend (``guided``) also takes hints (B, S, S, 3) and a
    reference (B, REFERENCE_BINS) (keras_colorize.guidance.hints); without
    them it colorizes on its own. An unguided one refuses them.
    """

    working_size = C.DEFAULT_WORKING_SIZE
    guided = False

    def predict_ab(self, l_norm, hints=None, reference=None):
        """Raises contract.NotGuidedError for guidance given to an unguided model."""
        l_norm = np.asarray(l_norm, dtype=np.float32)
        hints, reference = fill_guidance(l_norm, hints, reference, self.guided)
        if not self.guided:
            return self._predict(l_norm)
        return self._predict(l_norm, hints, reference)

    def _predict(self, l_norm, hints=None, reference=None):
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
        self.working_size = working_size or _sidecar_size(path) or C.DEFAULT_WORKING_SIZE
        self.guided = is_guided(self.model)

    def _predict(self, l_norm, hints=None, reference=None):
        inputs = l_norm if hints is None else [l_norm, hints, reference]
        return np.asarray(self.model(inputs, training=False), dtype=np.float32)


class SavedModelBackend(Backend):
    """A SavedModel from `python -m keras_colorize.export`, through its l_to_ab signature."""

    def __init__(self, path, working_size=None):
        _require_tensorflow(path)
        import tensorflow as tf

        try:
            loaded = tf.saved_model.load(path)
            self.guided = A.GUIDED_L_TO_AB_SIGNATURE in loaded.signatures
            name = A.GUIDED_L_TO_AB_SIGNATURE if self.guided else A.L_TO_AB_SIGNATURE
            self.function = loaded.signatures[name]
        except (OSError, KeyError, ValueError, tf.errors.OpError) as error:
            raise ModelLoadError(
                f"{path} is not a keras-colorize SavedModel ({type(error).__name__})"
            ) from None
        self._loaded = loaded  # keeps the variables alive
        metadata = _read_json(os.path.join(path, "assets.extra", A.METADATA_FILE))
        self.working_size = working_size or metadata.get("working_size") or C.DEFAULT_WORKING_SIZE

    def _predict(self, l_norm, hints=None, reference=None):
        import tensorflow as tf  # imported by __init__ already: a dictionary look-up

        inputs = {A.L_KEY: l_norm}
        if hints is not None:
            inputs.update({A.HINTS_KEY: hints, A.REFERENCE_KEY: reference})
        outputs = self.function(**{key: tf.constant(value) for key, value in inputs.items()})
        return outputs[A.AB_KEY].numpy()


class TFLiteBackend(Backend):
    """A .tflite file, run with the LiteRT interpreter (ai-edge-litert), at its fixed size.

    Two contracts (keras_colorize.serving.tflite): float L_norm (1, S, S, 1) ->
    ab_norm (1, S, S, 2), or uint8 RGB (1, S, S, 3) -> uint8 RGB (1, S, S, 3),
    which gets the gray photo of that L and whose ab is read back from the output.
    """

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
        inputs = self.interpreter.get_input_details()
        self.inputs = signature_inputs(self.interpreter)
        if len(inputs) == 1:
            self.inputs = {"image": inputs[0]}
        self.guided = set(GUIDED_INPUT_KEYS) <= self.inputs.keys()
        if len(inputs) != 1 and not self.guided:
            raise ModelLoadError(f"{path} is not a colorizer: inputs {sorted(self.inputs)}")
        self.input = self.inputs[A.L_KEY] if self.guided else self.inputs["image"]
        self.output = self.interpreter.get_output_details()[0]
        shape = tuple(self.input["shape"])
        if len(shape) != 4 or shape[1] != shape[2] or shape[-1] not in (1, 3):
            raise ModelLoadError(
                f"{path} is not a colorizer: its input is {shape}, expected (1, S, S, 1) L "
                "or (1, S, S, 3) RGB"
            )
        self.working_size = int(shape[1])
        self.rgb_contract = shape[-1] == 3

    def _invoke(self, value, guidance=None):
        self.interpreter.set_tensor(self.input["index"], value)
        for key, tensor in (guidance or {}).items():
            self.interpreter.set_tensor(self.inputs[key]["index"], tensor)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"])

    def _predict(self, l_norm, hints=None, reference=None):
        results = []
        for index, one in enumerate(l_norm):  # (S, S, 1)
            if self.rgb_contract:
                gray = np_lab.gray_rgb_uint8((one + 1.0) * C.L_HALF)  # (S, S, 3) uint8
                rgb = self._invoke(gray[None])[0]
                results.append(np_lab.rgb_uint8_to_lab(rgb)[..., 1:] / C.AB_SCALE)
            elif hints is None:
                results.append(self._invoke(one[None])[0])
            else:
                guidance = {
                    A.HINTS_KEY: hints[index : index + 1],
                    A.REFERENCE_KEY: reference[index : index + 1],
                }
                results.append(self._invoke(one[None], guidance)[0])
        return np.stack(results).astype(np.float32)


def signature_inputs(interpreter):
    """{signature key ("L", "hints", ...): input detail} of a LiteRT interpreter; {} without
    signatures. By key, because the converter does not keep the inputs' order."""
    details = {detail["name"]: detail for detail in interpreter.get_input_details()}
    try:
        keys = interpreter.get_signature_runner().get_input_details()
        return {key: details[detail["name"]] for key, detail in keys.items()}
    except (ValueError, KeyError):  # a file without signatures
        return {}


def _require_tensorflow(path):
    if missing_tensorflow(path):
        raise ModelLoadError(
            f"{path} needs TensorFlow and Keras ({TENSORFLOW_INSTALL}); a .tflite model does not"
        )


def _read_json(path):
    """The JSON file's document, or {} if it is missing or unreadable (metadata is optional)."""
    try:
        return read_json(path)
    except ValueError:
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
    problem = colorizer_problem([(1, size, size, 1)], shape)
    if problem:
        raise ModelLoadError(f"{path} is not a colorizer: {problem}")
    if shape != (1, size, size, 2):  # a colorizer, but its output size differs from its input's
        raise ModelLoadError(
            f"{path} gives ab {shape} for L (1, {size}, {size}, 1); use a --working-size "
            "the network keeps (a multiple of its stride)"
        )
    return backend, note


def open_backend(path, working_size=None):
    """open_colorizer for a command: UsageError for a model that will not do, notes on stderr.

    Also builds the full-resolution colour tables (color.fullres), once per
    process, so that the first photo does not wait for them.
    """
    from keras_colorize.color import fullres

    try:
        backend, note = open_colorizer(path, working_size)
    except ModelLoadError as error:
        raise UsageError(str(error)) from None
    if note:
        print(note, file=sys.stderr)
    fullres.prepare()
    return backend
