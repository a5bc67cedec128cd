"""Every command on a small or odd dataset: a result or one line of error, never a traceback.

One tiny dataset of three test photos whose val split is empty (data_prep
with --val-fraction 0), one tiny regression run trained on it for one epoch.
"""

import json
import os
import shutil

import keras
import pytest

from keras_colorize import artifacts as A
from keras_colorize.data_prep.__main__ import main as data_prep_main
from keras_colorize.evaluate import main as evaluate_main
from keras_colorize.export import main as export_main
from keras_colorize.fit import main as fit_main
from tests.conftest import photo_paths

SIZE = 32


def _error_line(capsys, prog):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{prog}: error: "), err
    return err[0]


@pytest.fixture(scope="module")
def no_val_dataset(tmp_path_factory):
    """Three photos, all in train: the val split is empty."""
    src = tmp_path_factory.mktemp("three")
    for path in photo_paths()[:3]:
        shutil.copy(path, src)
    out = str(tmp_path_factory.mktemp("data") / "no_val")
    args = ["--src", str(src), "--out", out, "--image-size", str(SIZE), "--val-fraction", "0"]
    assert data_prep_main([*args, "--workers", "1", "--no-figure", "--quiet"]) == 0
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as handle:
        assert json.load(handle)["counts"] == {"train": 3, "val": 0, "test": 0}
    return out


@pytest.fixture(scope="module")
def no_val_run(no_val_dataset, tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("runs") / "regression")
    args = ["--model", "regression", "--data", no_val_dataset, "--run-dir", run_dir]
    assert fit_main([*args, "--preset", "tiny", "--batch-size", "3", "--quiet"]) == 0
    keras.mixed_precision.set_global_policy("float32")
    return run_dir


def test_export_with_an_empty_val_split_uses_training_photos(
    no_val_dataset, no_val_run, tmp_path, capsys
):
    out = tmp_path / "model"
    args = ["--run-dir", no_val_run, "--out", str(out), "--tflite-size", str(SIZE)]
    assert export_main([*args, "--tflite-variants", "float32"]) == 0
    source = f"train split of {no_val_dataset} (its val split is empty)"
    assert f"export: note: parity compared on {source}" in capsys.readouterr().out.splitlines()
    with open(out / "tflite" / "1" / "report.json", encoding="utf-8") as handle:
        report = json.load(handle)
    assert report["parity"]["source"] == source
    assert report["variants"][0]["within_tolerance"]


def test_export_without_the_runs_photos_fails_before_writing(no_val_run, tmp_path, capsys):
    """TFLite's parity photos are checked first: no SavedModel is left half-done."""
    run = shutil.copytree(no_val_run, tmp_path / "run")
    config = json.loads((run / A.CONFIG_FILE).read_text())
    config["data"] = str(tmp_path / "moved")
    (run / A.CONFIG_FILE).write_text(json.dumps(config))
    out = tmp_path / "model"
    assert export_main(["--run-dir", str(run), "--out", str(out), "--tflite-size", "32"]) == 2
    line = _error_line(capsys, "export")
    assert "moved does not exist" in line and "--tflite-variants" in line
    assert not out.exists()


def test_evaluate_an_empty_split_names_the_splits_there_are(no_val_dataset, tmp_path, capsys):
    assert evaluate_main(["--data", no_val_dataset, "--out", str(tmp_path), "--quiet"]) == 2
    line = _error_line(capsys, "evaluate")
    assert "the val split" in line and "is empty" in line and "3 train" in line


@pytest.mark.parametrize("manifest", ['{"counts": {"train": 3}}', "[1, 2]"])
def test_fit_on_a_foreign_manifest_is_one_line(no_val_dataset, tmp_path, capsys, manifest):
    data = shutil.copytree(no_val_dataset, tmp_path / "data")
    (data / "manifest.json").write_text(manifest)
    args = ["--model", "regression", "--data", str(data), "--run-dir", str(tmp_path / "run")]
    assert fit_main([*args, "--preset", "tiny", "--batch-size", "1", "--quiet"]) == 2
    assert "not a data_prep manifest" in _error_line(capsys, "fit")
    assert not (tmp_path / "run").exists()


def test_a_truncated_shard_is_one_line(no_val_dataset, tmp_path, capsys):
    data = shutil.copytree(no_val_dataset, tmp_path / "data")
    (shard,) = data.glob("train-*.tfrecord")
    shard.write_bytes(shard.read_bytes()[:100])  # cut short, as by a full disk
    args = ["--model", "regression", "--data", str(data), "--run-dir", str(tmp_path / "run")]
    assert fit_main([*args, "--preset", "tiny", "--batch-size", "3", "--quiet"]) == 2
    assert "truncated or damaged" in _error_line(capsys, "fit")
    keras.mixed_precision.set_global_policy("float32")
    args = ["--data", str(data), "--split", "train", "--out", str(tmp_path / "eval"), "--quiet"]
    assert evaluate_main(args) == 2
    assert "do not read as data_prep records" in _error_line(capsys, "evaluate")
