"""Without TensorFlow: colorize runs a .tflite model, the other commands say what to install.

Each command runs in a fresh interpreter whose imports of tensorflow and keras
fail, as on a machine without them, and reports which of them it loaded.
"""

import ast
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from keras_colorize import artifacts as A
from keras_colorize.cli import TENSORFLOW_INSTALL

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRAMEWORKS = ("tensorflow", "keras")
WITHOUT_TENSORFLOW = """
import json, sys

class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras"):
            raise ModuleNotFoundError(f"No module named {name!r}")

sys.meta_path.insert(0, Missing())
module = __import__(sys.argv[1], fromlist=["main"])
code = module.main(sys.argv[2:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
print(json.dumps({"code": code, "loaded": loaded}))
"""


def run_without_tensorflow(module, *args):
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_TENSORFLOW, module, *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def test_colorize_with_the_shipped_tflite_imports_neither_tensorflow_nor_keras(tmp_path):
    gray = np.random.default_rng(0).integers(0, 256, (90, 130), dtype=np.uint8)
    Image.fromarray(gray).save(tmp_path / "gray.png")
    outcome, _ = run_without_tensorflow(
        "keras_colorize.colorize", tmp_path / "gray.png", "--out", tmp_path / "out", "--quiet"
    )
    assert outcome == {"code": 0, "loaded": []}
    colour = np.asarray(Image.open(tmp_path / "out" / "gray.png"))
    assert colour.shape == (90, 130, 3)


def test_colorize_a_keras_model_without_tensorflow_is_one_line(tmp_path):
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "a.png")
    model = os.path.join(ROOT, "models", "colorizer", A.COLORIZER_FILE)
    outcome, err = run_without_tensorflow(
        "keras_colorize.colorize", tmp_path / "a.png", "--model", model, "--out", tmp_path / "out"
    )
    assert outcome["code"] == 2
    assert err.strip().splitlines() == [
        f"colorize: error: {model} needs TensorFlow and Keras ({TENSORFLOW_INSTALL}); "
        "a .tflite model does not"
    ]


@pytest.mark.parametrize(
    "module, prog, args",
    [
        ("keras_colorize.fit", "fit", ["--model", "gan", "--data", "d", "--run-dir", "r"]),
        ("keras_colorize.export", "export", ["--run-dir", "r"]),
        ("keras_colorize.evaluate", "evaluate", ["--images", "i", "--out", "o"]),
        ("keras_colorize.data_prep.__main__", "data_prep", ["--src", "s", "--out", "o"]),
    ],
)
def test_training_commands_name_the_missing_extra_in_one_line(module, prog, args):
    outcome, err = run_without_tensorflow(module, *args)
    assert outcome["code"] == 2
    assert err.strip().splitlines() == [
        f"{prog}: error: {prog} needs TensorFlow and Keras: {TENSORFLOW_INSTALL}"
    ]


def test_the_base_install_needs_neither_tensorflow_nor_keras():
    tree = ast.parse(open(os.path.join(ROOT, "setup.py"), encoding="utf-8").read())
    call = next(
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "setup"
    )
    requires = next(k.value for k in call.keywords if k.arg == "install_requires")
    names = [ast.literal_eval(item).split(">")[0].split("=")[0] for item in requires.elts]
    assert "ai-edge-litert" in names
    assert not [n for n in names if n.startswith(FRAMEWORKS) or n.startswith("tensorboard")]
