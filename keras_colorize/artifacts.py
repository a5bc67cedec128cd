"""Names of the files and signatures that the commands write and read, each defined once.

A run dir (``fit``) holds CONFIG_FILE, checkpoints/, backup/, logs/,
LOSSES_FILE and, at the end, COLORIZER_FILE and TFLITE_FILE; an exported
model folder (``export``) holds integer-named SavedModel versions with
assets.extra/METADATA_FILE and tflite/<version>/. No TensorFlow here:
``colorize`` reads these names without it.
"""

import os
import re

CONFIG_FILE = "config.json"
COLORIZER_FILE = "colorizer.keras"
# The colorizer at its working size as a float32 .tflite (L_norm -> ab_norm),
# which `colorize` runs without TensorFlow.
TFLITE_FILE = "colorizer.tflite"
LOSSES_FILE = "losses.csv"
CHECKPOINT_DIR = "checkpoints"
BACKUP_DIR = "backup"
LOGS_DIR = "logs"
CHECKPOINT_PATTERN = re.compile(r"^epoch-(\d+)\.weights\.h5$")
CHECKPOINT_NAME = "epoch-{epoch:04d}.weights.h5"  # what CHECKPOINT_PATTERN matches

# Beside a .keras/.tflite file, and in a SavedModel's assets.extra/: the working
# size, family, temperature and stride of the exported colorizer.
METADATA_FILE = "keras_colorize.json"

# SavedModel signatures and their input and output keys. TF Serving's REST API
# base64-encodes outputs whose key ends in "_bytes" (and takes {"b64": ...} in).
SERVING_SIGNATURE = "serving_default"
BYTES_SIGNATURE = "colorize_bytes"
L_TO_AB_SIGNATURE = "l_to_ab"
IMAGES_KEY = "images"
COLORIZED_KEY = "colorized"
IMAGE_BYTES_KEY = "image_bytes"
PNG_BYTES_KEY = "png_bytes"
L_KEY = "L"
# Guided colorizers (model.guided) add two signatures that take the guidance.
GUIDED_SIGNATURE = "colorize_guided"
GUIDED_L_TO_AB_SIGNATURE = "guided_l_to_ab"
HINTS_KEY = "hints"
REFERENCE_KEY = "reference"
AB_KEY = "ab_norm"


# Where `export` writes by default: the serving image's MODEL_NAME (Dockerfile)
# under models/, which the image copies whole.
DEFAULT_MODEL_NAME = "colorizer"
DEFAULT_MODEL_DIR = os.path.join("models", DEFAULT_MODEL_NAME)
# The installed package's copy of the shipped colorizer (keras_colorize/shipped/).
SHIPPED_PACKAGE_DIR = "shipped"


def checkpoints(run_dir):
    """[(epoch, path)] of RUN/checkpoints/epoch-NNNN.weights.h5, oldest first."""
    folder = os.path.join(run_dir, CHECKPOINT_DIR)
    if not os.path.isdir(folder):
        return []
    found = []
    for name in os.listdir(folder):
        match = CHECKPOINT_PATTERN.match(name)
        if match:
            found.append((int(match.group(1)), os.path.join(folder, name)))
    return sorted(found)


def newest_checkpoint(run_dir):
    """The path of the run's newest checkpoint, or None."""
    found = checkpoints(run_dir)
    return found[-1][1] if found else None


# The .tflite variants export writes, as OUT/tflite/<N>/colorizer_<variant>.tflite,
# at a fixed square input of the working size unless told otherwise.
TFLITE_VARIANTS = ("float32", "float16", "dynamic", "int8")
TFLITE_VARIANT_FILE = "colorizer_{variant}.tflite"
