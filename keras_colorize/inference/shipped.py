"""Where the shipped colorizer is: inside the installed package, or in a checkout's models/.

A wheel carries the shipped ``.tflite`` (and its config.json) as package data
in ``keras_colorize/shipped/`` (setup.py copies it from models/colorizer/), so
``colorize photo.jpg`` works from any folder after ``pip install``. An
editable install or a checkout reads ``models/colorizer/`` itself.
"""

import os

from keras_colorize import artifacts as A
from keras_colorize.cli import UsageError

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(PACKAGE_DIR)
# What the user is told the default is: the repository path of the artefact.
SHIPPED_MODEL = os.path.join(A.DEFAULT_MODEL_DIR, A.TFLITE_FILE)
# Where it is looked for, in order: the wheel's copy, then the checkout's.
SHIPPED_CANDIDATES = (
    os.path.join(PACKAGE_DIR, A.SHIPPED_PACKAGE_DIR, A.TFLITE_FILE),
    os.path.join(REPO_ROOT, SHIPPED_MODEL),
)


def shipped_model():
    """The path of the shipped .tflite colorizer, or None if this install has none."""
    return next((path for path in SHIPPED_CANDIDATES if os.path.exists(path)), None)


def find_model(path=None):
    """The ``--model`` path, or the shipped default; raises UsageError if there is none."""
    if path is not None:
        if not os.path.exists(path):
            raise UsageError(f"model {path} does not exist")
        return path
    found = shipped_model()
    if found is None:
        raise UsageError(
            f"this install has no shipped model ({SHIPPED_MODEL}); reinstall keras-colorize, "
            "or train one with python -m keras_colorize.fit and pass --model"
        )
    return found
