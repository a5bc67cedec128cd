"""`python -m keras_colorize.fit`: artefacts, user errors, resume, seeds, precision policies."""

import csv
import os
import pathlib
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY_RUN_ARGS
from PIL import Image

from keras_colorize.data import schema
from keras_colorize.fit import main
from keras_colorize.inference.backends import TFLiteBackend
from keras_colorize.training import callbacks as kc_callbacks

# The .tflite twin costs a conversion per run: only the artefact test writes it.
TINY = ["--preset", "tiny", "--quiet", "--set", "train.steps_per_epoch=3"]
TINY += ["--set", "train.write_tflite=false"]


@pytest.fixture(autouse=True)
def restore_policy():
    yield
    keras.mixed_precision.set_global_policy("float32")


def _fit(data, run_dir, family="regression", *extra):
    return main(["--model", family, "--data", data, "--run-dir", str(run_dir), *TINY, *extra])


def _losses(run_dir):
    with open(os.path.join(run_dir, "losses.csv"), encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fit: error:"), err
    return err[0]


@pytest.mark.parametrize("family", ["regression", "classification", "gan"])
def test_fit_writes_every_artefact(tiny_run, family):
    # 2 epochs of 3 steps, mixed_bfloat16, with the .tflite twin (conftest.TINY_RUN_ARGS); the
    # runs are the session's, which test_export exports, trained by the first test asking.
    run = pathlib.Path(tiny_run(family))
    names = set(os.listdir(run))
    expected = {"config.json", "checkpoints", "logs", "losses.csv", "colorizer.keras"}
    assert expected | {"colorizer.tflite"} <= names
    twin = TFLiteBackend(str(run / "colorizer.tflite"))
    assert twin.working_size == 32 and twin.predict_ab(np.zeros((1, 32, 32, 1))).shape[-1] == 2
    assert sorted(os.listdir(run / "checkpoints")) == [
        "epoch-0001.weights.h5",
        "epoch-0002.weights.h5",
    ]
    rows = _losses(run)
    assert len(rows) == 2
    for row in rows:
        assert all(np.isfinite(float(v)) for v in row.values())
        assert float(row["val_true_chroma"]) > 5  # the validation photos are colourful
    keras.mixed_precision.set_global_policy("float32")
    colorizer = keras.saving.load_model(run / "colorizer.keras")
    assert {layer.dtype_policy.name for layer in colorizer._flatten_layers()} == {"float32"}
    ab = colorizer(np.zeros((1, 64, 96, 1), np.float32))
    assert ab.shape == (1, 64, 96, 2) and ab.dtype == tf.float32
    # TensorBoard got the per-epoch sample grid.
    events = [os.path.join(d, f) for d, _, fs in os.walk(run / "logs" / "samples") for f in fs]
    tags = {
        v.tag
        for e in events
        for ev in tf.compat.v1.train.summary_iterator(e)
        for v in ev.summary.value
    }
    assert any("predicted" in tag for tag in tags)


def test_same_seed_same_loss_curve(small_dataset, tmp_path):
    runs = [tmp_path / "a", tmp_path / "b", tmp_path / "c"]
    for run, seed in zip(runs, ("3", "3", "4"), strict=True):
        assert (
            _fit(
                small_dataset, run, "gan", "--epochs", "2", "--seed", seed, "--precision", "float32"
            )
            == 0
        )
    a, b, c = (_losses(run) for run in runs)
    assert a == b
    assert a != c


def test_killed_run_resumes_from_its_backup(small_dataset, tmp_path, monkeypatch):
    run = tmp_path / "run"

    def die_in_second_epoch(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt("simulated kill")

    monkeypatch.setattr(
        kc_callbacks.PeriodicCheckpoint, "on_epoch_begin", die_in_second_epoch, raising=False
    )
    with pytest.raises(KeyboardInterrupt):
        _fit(small_dataset, run, "regression", "--epochs", "3")
    assert len(_losses(run)) == 1 and os.path.isdir(run / "backup")
    monkeypatch.undo()
    assert main(["--run-dir", str(run), "--resume", "--quiet"]) == 0
    assert [row["epoch"] for row in _losses(run)] == ["0", "1", "2"]
    assert sorted(os.listdir(run / "checkpoints"))[-1] == "epoch-0003.weights.h5"
    # Re-running the finished run does nothing.
    assert _fit(small_dataset, run, "regression", "--epochs", "3") == 0
    assert len(_losses(run)) == 3


def test_different_config_in_run_dir_is_refused(small_dataset, tiny_run, tmp_path, capsys):
    # A copy of the session's finished regression run, and the very command that made it
    # but for the learning rate.
    run = shutil.copytree(tiny_run("regression"), tmp_path / "run")
    before = sorted(os.listdir(run))
    args = ["--model", "regression", "--data", small_dataset, "--run-dir", str(run)]
    assert main([*args, *TINY_RUN_ARGS, "--learning-rate", "0.5"]) == 2
    assert "train.learning_rate" in _error_line(capsys)
    assert sorted(os.listdir(run)) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "train.nope=1"], "unknown setting"),
        (["--set", "train.epochs=many"], "expects int"),
        (["--set", "epochs"], "key=value"),
        (["--image-size", "36"], "multiple of 8"),
        (["--image-size", "128"], "stored side"),
        (["--preset", "huge"], "unknown preset"),
        # Keras would train one endless epoch with a negative step count.
        (["--set", "train.steps_per_epoch=-1"], "train.steps_per_epoch must not be negative"),
        (["--set", "train.validation_batches=-1"], "must not be negative"),
        (["--set", "train.sample_images=0"], "train.sample_images must be positive"),
        (["--set", "model.chroma_gain=0"], "model.chroma_gain must be positive"),
        (["--width", "6"], "multiple of 4"),
        (["--model", "gan", "--set", "model.num_downs=0"], "num_downs must be at least 2"),
    ],
)
def test_bad_settings_are_one_line_errors(small_dataset, tmp_path, capsys, args, message):
    run_dir = str(tmp_path / "r")
    code = main(
        [
            "--model",
            "regression",
            "--data",
            small_dataset,
            "--run-dir",
            run_dir,
            "--preset",
            "tiny",
            *args,
        ]
    )
    assert code == 2
    assert message in _error_line(capsys)
    assert not os.path.exists(tmp_path / "r")


def test_bad_data_folders_are_one_line_errors(small_dataset, tmp_path, capsys):
    assert _fit(str(tmp_path / "missing"), tmp_path / "r1") == 2
    assert "does not exist" in _error_line(capsys)
    (tmp_path / "empty").mkdir()
    assert _fit(str(tmp_path / "empty"), tmp_path / "r2") == 2
    assert "data_prep" in _error_line(capsys)
    no_prior = shutil.copytree(small_dataset, tmp_path / "no_prior")
    os.remove(no_prior / schema.PRIOR_FILE)
    assert _fit(str(no_prior), tmp_path / "r3", "classification") == 2
    assert schema.PRIOR_FILE in _error_line(capsys)
    assert main(["--run-dir", str(tmp_path / "r4"), "--resume"]) == 2
    assert "resume" in _error_line(capsys)


@pytest.mark.parametrize("precision", ["float32", "mixed_float16"])
def test_precision_policies_train_finite(small_dataset, tmp_path, precision):
    assert _fit(small_dataset, tmp_path / "run", "regression", "--precision", precision) == 0
    assert all(np.isfinite(float(v)) for v in _losses(tmp_path / "run")[0].values())


def test_diverging_run_stops_with_advice(small_dataset, tmp_path, capsys):
    code = _fit(small_dataset, tmp_path / "run", "regression", "--learning-rate", "1e30")
    assert code == 1
    assert "Lower the learning rate" in capsys.readouterr().out


def test_keep_best_saves_the_best_validation_epoch(small_dataset, tmp_path, capsys):
    from keras_colorize.training.families import build_float32_trainer
    from keras_colorize.training.run_dir import read_run_config

    run = tmp_path / "run"
    # A learning rate so high that later epochs are unlikely to be the best one.
    settings = ["--epochs", "4", "--learning-rate", "0.05", "--set", "train.keep_best=true"]
    assert _fit(small_dataset, run, "regression", *settings) == 0
    val = [float(row["val_loss"]) for row in _losses(run)]
    best = int(np.argmin(val)) + 1
    assert f"fit: keeping epoch {best} (val_loss {min(val):.4g})" in capsys.readouterr().out
    config = read_run_config(str(run))
    trainer = build_float32_trainer(config.model, config.train).compile_for(config.train)
    trainer.build_variables(config.train.image_size)
    trainer.load_weights(run / "checkpoints" / f"epoch-{best:04d}.weights.h5")
    saved = keras.saving.load_model(run / "colorizer.keras")
    l_norm = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32, 1)).astype(np.float32)
    np.testing.assert_allclose(saved(l_norm), trainer.network(l_norm), atol=1e-6)


def test_gan_early_stopping_watches_its_l1(small_dataset, tmp_path):
    settings = ["--epochs", "3", "--set", "train.early_stopping_patience=1"]
    settings += ["--set", "train.keep_best=true"]
    assert _fit(small_dataset, tmp_path / "run", "gan", *settings) == 0
    assert "val_l1" in _losses(tmp_path / "run")[0]


def test_early_stopping_and_augmentation_flags(small_dataset, tmp_path):
    objects = tmp_path / "objects"
    objects.mkdir()
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[4:16, 4:16] = (240, 200, 0, 255)
    Image.fromarray(rgba).save(objects / "sun.png")
    settings = ["--epochs", "30", "--learning-rate", "0.05"]
    settings += ["--set", "train.early_stopping_patience=1", "--set", "train.rotate_degrees=8"]
    settings += ["--set", f"train.paste_objects={objects}", "--set", "train.paste_probability=1"]
    assert _fit(small_dataset, tmp_path / "run", "regression", *settings) == 0
    assert len(_losses(tmp_path / "run")) < 30  # stopped once val_loss stopped improving


def test_a_missing_cut_out_folder_is_one_line(small_dataset, tmp_path, capsys):
    missing = tmp_path / "nothing-here"
    settings = ["--set", f"train.paste_objects={missing}"]
    assert _fit(small_dataset, tmp_path / "run", "regression", *settings) == 2
    assert "is not a folder of RGBA cut-outs" in _error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_a_time_budget_ends_training_after_the_epoch_that_used_it_up(small_dataset, tmp_path):
    settings = ["--epochs", "5", "--set", "train.time_budget_minutes=0.0001"]
    assert _fit(small_dataset, tmp_path / "run", "regression", *settings) == 0
    assert len(_losses(tmp_path / "run")) == 1
    assert os.path.exists(tmp_path / "run" / "colorizer.keras")


def test_init_from_starts_a_run_from_another_colorizers_weights(tmp_path):
    """train.init_from: same network -> its weights; another network -> one clear TrainError."""
    from keras_colorize.config import make_config
    from keras_colorize.training.families import build_network
    from keras_colorize.training.train import TrainError, initialise_from

    model_config = make_config("regression", "tiny").model
    source = build_network(model_config)
    path = str(tmp_path / "source.keras")
    source.save(path)
    keras.utils.set_random_seed(7)  # another initialisation than the source's
    target = build_network(model_config)
    pairs = zip(source.get_weights(), target.get_weights(), strict=True)
    assert not all(np.array_equal(a, b) for a, b in pairs)
    initialise_from(target, path)
    for expected, got in zip(source.get_weights(), target.get_weights(), strict=True):
        np.testing.assert_array_equal(got, expected)
    other = build_network(make_config("gan", "tiny").model)
    with pytest.raises(TrainError, match="is another network"):
        initialise_from(other, path)


def test_init_from_gives_a_new_head_the_body_of_another_colorizer(tmp_path):
    """A classification U-Net from a regression one: the shared layers copied, logits untouched."""
    from keras_colorize.models.backbone_unet import build_backbone_unet
    from keras_colorize.training.train import TrainError, initialise_from

    def unet(output, width=8):
        return build_backbone_unet(width=width, output=output, pretrained=False)

    source = unet("ab")
    path = str(tmp_path / "regression.keras")
    source.save(path)
    keras.utils.set_random_seed(7)
    target = unet("bins")
    logits_before = [w.copy() for w in target.get_layer("logits").get_weights()]
    initialise_from(target, path)
    for name in ("backbone", "bottleneck_conv", "dec_stride4_b_conv"):
        for expected, got in zip(
            source.get_layer(name).get_weights(), target.get_layer(name).get_weights(), strict=True
        ):
            np.testing.assert_array_equal(got, expected)
    for before, after in zip(logits_before, target.get_layer("logits").get_weights(), strict=True):
        np.testing.assert_array_equal(after, before)
    with pytest.raises(TrainError, match="is another network"):
        initialise_from(unet("bins", width=16), path)  # the same names, other shapes
