"""The installed wheel works anywhere: built from this checkout, installed into a folder,
run from another folder, it finds the shipped model inside the package."""

import os
import subprocess
import sys
import zipfile

import numpy as np
from PIL import Image

from keras_colorize import artifacts as A

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _build_and_install(tmp_path):
    """Builds the wheel (no network: the installed setuptools) and installs it into a folder."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ROOT, "--no-deps", "--no-build-isolation",
         "-w", str(wheels), "-q"],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    (wheel,) = wheels.glob("keras_colorize-*.whl")
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel),
         "-q"],
        check=True, capture_output=True,
    )  # fmt: skip
    return wheel, target


def test_the_wheel_carries_the_shipped_model_and_colorizes_from_any_folder(tmp_path):
    wheel, target = _build_and_install(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert f"keras_colorize/{A.SHIPPED_PACKAGE_DIR}/{A.TFLITE_FILE}" in names
    assert not [n for n in names if n.startswith(("data_prep/", "tests/", "benchmarks/"))]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    gray = np.random.default_rng(0).integers(0, 256, (48, 64), dtype=np.uint8)
    Image.fromarray(gray).save(elsewhere / "photo.png")
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run(
        [sys.executable, "-c", "import keras_colorize; print(keras_colorize.__file__)"],
        cwd=elsewhere, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert where.stdout.strip().startswith(str(target)), "the installed copy, not the checkout"
    result = subprocess.run(
        [sys.executable, "-m", "keras_colorize.colorize", "photo.png", "--quiet"],
        cwd=elsewhere, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    colour = np.asarray(Image.open(elsewhere / "colorized" / "photo.png"))
    assert colour.shape == (48, 64, 3)
