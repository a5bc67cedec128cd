"""A run dir: its config.json, its checkpoints and its colorizer.keras, written and read back.

``fit`` creates it (``prepare_run_dir``) and saves the colorizer at the end
(``save_colorizer``); ``export`` and the benchmark read it back
(``load_colorizer_from_run``). File names are in keras_colorize.artifacts.
"""

import os

import keras

from keras_colorize import artifacts as A
from keras_colorize.cli import UsageError, error_line
from keras_colorize.config import load_config
from keras_colorize.contract import colorizer_problem
from keras_colorize.training.families import build_float32_trainer
from keras_colorize.training.precision import float32_policy


class RunDirError(UsageError):
    """A run dir that is missing, foreign or holds nothing loadable; one-line message."""


def read_run_config(run_dir):
    """The run's Config from RUN/config.json; RunDirError/ConfigError if there is none."""
    if not os.path.isdir(run_dir):
        raise RunDirError(f"run dir {run_dir} does not exist")
    path = os.path.join(run_dir, A.CONFIG_FILE)
    if not os.path.exists(path):
        raise RunDirError(f"{run_dir} holds no {A.CONFIG_FILE}: not a keras-colorize run dir")
    return load_config(path)


def _flatten(values, prefix=""):
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def prepare_run_dir(run_dir, config):
    """Writes config.json, or checks that the one there is the same config.

    Returns:
        True if the run already finished (colorizer.keras exists).
    """
    config_path = os.path.join(run_dir, A.CONFIG_FILE)
    if os.path.exists(config_path):
        previous = load_config(config_path)
        if previous != config:
            old, new = _flatten(previous.to_dict()), _flatten(config.to_dict())
            changed = [
                f"{k} {old.get(k)!r} -> {new.get(k)!r}"
                for k in sorted(new)
                if old.get(k) != new.get(k)
            ]
            raise RunDirError(
                f"{run_dir} holds a run with a different config ({'; '.join(changed)}); "
                "use another --run-dir, or --resume to continue that run"
            )
        return os.path.exists(os.path.join(run_dir, A.COLORIZER_FILE))
    if os.path.isdir(run_dir) and os.listdir(run_dir):
        raise RunDirError(
            f"{run_dir} is not empty and holds no {A.CONFIG_FILE}; use another --run-dir"
        )
    os.makedirs(run_dir, exist_ok=True)
    with open(config_path, "w", encoding="utf-8") as handle:
        handle.write(config.to_json())
    return False


def save_colorizer(trainer, config, path):
    """Saves the inference network as a float32 .keras file, whatever the training policy.

    Its .tflite twin (artifacts.TFLITE_FILE) is written by the fit command
    through keras_colorize.serving.tflite.write_run_tflite.
    """
    fresh = build_float32_trainer(config.model, config.train).inference_model()
    fresh.set_weights(trainer.inference_model().get_weights())
    fresh.save(path)
    return path


def _check_colorizer(model, source):
    """RunDirError unless ``model`` is a colorizer (keras_colorize.contract)."""
    if not isinstance(model, keras.Model):
        raise RunDirError(f"{source} is not a colorizer: it is not a Keras model")
    problem = colorizer_problem([tensor.shape for tensor in model.inputs], model.outputs[0].shape)
    if problem:
        raise RunDirError(f"{source} is not a colorizer: {problem}")


def _colorizer_from_checkpoint(config, path):
    """Rebuilds the run's trainer exactly as fit does, loads its weights, returns the colorizer."""
    trainer = build_float32_trainer(config.model, config.train).compile_for(config.train)
    trainer.build_variables(config.train.image_size)
    try:
        trainer.load_weights(path)
    except Exception as error:  # h5py and Keras raise many types for a bad file
        raise RunDirError(
            f"checkpoint {path} does not load into the run's {config.model.family} "
            f"model ({error_line(error)})"
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
        RunDirError or config.ConfigError, with a one-line message, for a run
        dir without config.json, or a model file or checkpoint that does not load.
    """
    config = read_run_config(run_dir)
    keras_path = os.path.join(run_dir, A.COLORIZER_FILE)
    if os.path.exists(keras_path):
        try:
            with float32_policy():
                colorizer = keras.saving.load_model(keras_path, compile=False)
        except Exception as error:  # Keras raises many types for a bad file
            raise RunDirError(
                f"{keras_path} does not load as a Keras model ({error_line(error)})"
            ) from None
        _check_colorizer(colorizer, keras_path)
        return colorizer, config
    checkpoint = A.newest_checkpoint(run_dir)
    if checkpoint is None:
        raise RunDirError(
            f"{run_dir} holds neither {A.COLORIZER_FILE} nor "
            f"{A.CHECKPOINT_DIR}/epoch-NNNN.weights.h5"
        )
    return _colorizer_from_checkpoint(config, checkpoint), config
