"""Guided colorization: hint maps, simulated hints, guided networks, export, `colorize --hints`."""

import csv
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_colorize import artifacts as A
from keras_colorize import constants as C
from keras_colorize.colorize import main as colorize_main
from keras_colorize.config import make_config
from keras_colorize.fit import main as fit_main
from keras_colorize.guidance import hints as H
from keras_colorize.guidance import simulate
from keras_colorize.inference.backends import load_backend
from keras_colorize.training.families import build_trainer

SIZE = 32


def _ab_of(hex_colour):
    return np.array(H.colour_to_ab(hex_colour)) / C.AB_SCALE


# --- hints from a user ----------------------------------------------------------------------


def test_hint_points_land_where_the_photo_was_clicked():
    points = H.parse_hints(
        {
            "hints": [
                {"x": 300, "y": 50, "color": "#2050e0"},
                {"x": 0, "y": 199, "color": [50, 40, 30]},
            ]
        },
        (200, 400),
    )
    hints = H.hint_map(points, (200, 400), 64)
    assert hints.shape == (64, 64, 3) and hints.dtype == np.float32
    # (300, 50) of a 400 x 200 photo -> working pixel (48, 16); radius 3 px covers only it.
    assert np.argwhere(hints[..., 2] > 0).tolist() == [[16, 48], [63, 0]]
    np.testing.assert_allclose(hints[16, 48, :2], _ab_of("#2050e0"), atol=1e-6)
    np.testing.assert_allclose(hints[63, 0, :2], [40 / 110, 30 / 110], atol=1e-6)
    big = H.hint_map([(200, 100, 50.0, 0.0, 50.0)], (200, 400), 64)  # radius 8 x 16 working px
    assert 300 < big[..., 2].sum() < 500  # about pi * 8 * 16 = 402


@pytest.mark.parametrize(
    "point, message",
    [
        ({"x": 400, "y": 10, "color": "#ffffff"}, "outside the 400x200 photo"),
        ({"x": 1, "y": 1, "color": "red"}, "bad colour 'red'"),
        ({"x": 1, "y": 1, "color": [50, 200, 0]}, "bad Lab colour"),
        ({"x": 1, "y": 1}, "has no color"),
        ({"x": "a", "y": 1, "color": "#000000"}, "must be numbers"),
        ({"x": 1, "y": 1, "color": "#000000", "radius": 0}, "radius must be positive"),
    ],
)
def test_bad_hints_are_one_line_errors(point, message):
    with pytest.raises(H.HintError, match=message):
        H.parse_hints([point], (200, 400))


def test_stroke_image_gives_the_mean_colour_of_its_strokes():
    rgba = np.zeros((100, 200, 4), np.uint8)
    rgba[10:30, 20:60] = (255, 140, 0, 255)  # an orange stroke
    rgba[80:82, 150:152] = (0, 0, 255, 60)  # too transparent to count
    hints = H.stroke_hint_map(rgba, (100, 200), 50)
    hinted = hints[..., 2] > 0
    assert hinted[5, 5] and hinted[14, 14] and not hinted[40, 37] and not hinted[20, 20]
    np.testing.assert_allclose(hints[hinted][:, :2].mean(0), _ab_of("#ff8c00"), atol=1e-3)
    with pytest.raises(H.HintError, match="same size"):
        H.stroke_hint_map(rgba, (100, 201), 50)
    with pytest.raises(H.HintError, match="no opaque pixels"):
        H.stroke_hint_map(np.zeros((100, 200, 4), np.uint8), (100, 200), 50)


def test_reference_histogram_is_the_same_in_numpy_and_tf():
    rng = np.random.default_rng(0)
    ab_norm = rng.uniform(-1.0, 1.0, (40, 30, 2)).astype(np.float32)
    ab_norm[0, :2] = 0.5 * C.AB_GRID_STEP / C.AB_SCALE  # exactly between two centres
    mine = H.reference_histogram(ab_norm * C.AB_SCALE)
    theirs = simulate.reference_histogram(tf.constant(ab_norm)).numpy()
    np.testing.assert_allclose(mine, theirs, atol=1e-7)
    assert mine.shape == (H.REFERENCE_BINS,) and abs(mine.sum() - 1) < 1e-6
    warm = np.zeros((8, 8, 3), np.uint8) + np.array([230, 120, 40], np.uint8)
    hist = H.reference_from_photo(warm)
    a, b = np.unravel_index(np.argmax(hist), (C.AB_GRID_SIZE, C.AB_GRID_SIZE))
    assert C.AB_GRID_CENTRES[a] > 20 and C.AB_GRID_CENTRES[b] > 40  # orange: a > 0, b >> 0
    with pytest.raises(H.HintError, match="gray"):
        H.reference_from_photo(np.full((8, 8, 3), 128, np.uint8))


# --- simulated hints --------------------------------------------------------------------------


def test_simulated_hint_counts_follow_the_geometric_law():
    draw = tf.function(simulate.geometric_count)
    counts = [int(draw(tf.constant([i, 7]))) for i in range(800)]
    assert abs(np.mean(np.equal(counts, 0)) - 1 / 8) < 0.04  # binomial sd 0.012
    assert 6.0 < np.mean(counts) < 8.0  # mean 7, sd of the mean 0.26


def test_simulated_hints_are_patch_means_and_reproducible():
    ab = np.zeros((48, 48, 2), np.float32)
    ab[:, 24:] = (0.4, -0.2)  # right half coloured
    seed = tf.constant([3, 4])
    hints = simulate.simulate_hints(tf.constant(ab), seed, count=12).numpy()
    again = simulate.simulate_hints(tf.constant(ab), seed, count=12).numpy()
    np.testing.assert_array_equal(hints, again)
    mask = hints[..., 2] > 0
    assert 12 <= mask.sum() <= 12 * 81
    # A hint is its patch mean: 0 on the left, the colour on the right, between at the seam.
    assert np.all(hints[mask][:, 0] >= -1e-6) and np.all(hints[mask][:, 0] <= 0.4 + 1e-6)
    left, right = hints[:, :16][mask[:, :16]][:, :2], hints[:, 33:][mask[:, 33:]][:, :2]
    np.testing.assert_allclose(left, np.zeros_like(left), atol=1e-6)
    np.testing.assert_allclose(right, np.broadcast_to([0.4, -0.2], right.shape), atol=1e-6)
    none = simulate.simulate_hints(tf.constant(ab), seed, count=0).numpy()
    assert not none.any()


def test_training_examples_carry_hints_and_sometimes_a_reference(small_dataset):
    from keras_colorize.data.pipeline import make_dataset

    guidance = simulate.HintSimulation(reference_probability=0.5)
    batches = make_dataset(small_dataset, "train", 4, image_size=SIZE, guidance=guidance)
    (l_norm, hints, reference), ab = next(iter(batches))
    assert l_norm.shape == (4, SIZE, SIZE, 1) and hints.shape == (4, SIZE, SIZE, 3)
    assert reference.shape == (4, H.REFERENCE_BINS) and ab.shape == (4, SIZE, SIZE, 2)
    sums = reference.numpy().sum(axis=1)
    assert np.all((np.abs(sums) < 1e-6) | (np.abs(sums - 1) < 1e-5))
    # Validation draws the same hints every time (a fixed order, fixed seeds).
    first = [
        h.numpy() for (_, h, _), _ in make_dataset(small_dataset, "val", 2, SIZE, guidance=guidance)
    ]
    second = [
        h.numpy() for (_, h, _), _ in make_dataset(small_dataset, "val", 2, SIZE, guidance=guidance)
    ]
    np.testing.assert_array_equal(np.concatenate(first), np.concatenate(second))


# --- guided networks --------------------------------------------------------------------------


def _guided_config(family, backbone="scratch", **train):
    overrides = {"model.guided": True, "model.width": 8, "train.image_size": SIZE}
    if backbone != "scratch":
        overrides.update({"model.backbone": backbone, "model.pretrained": False})
    if family == "gan":
        overrides["model.num_downs"] = 5
    overrides.update({f"train.{k}": v for k, v in train.items()})
    return make_config(family, "tiny", overrides)


@pytest.mark.parametrize("backbone", ["scratch", "efficientnet_lite0"])
@pytest.mark.parametrize("family", ["regression", "classification", "gan"])
def test_every_family_takes_hints_where_they_are_given(family, backbone):
    config = _guided_config(family, backbone)
    trainer = build_trainer(config.model, config.train, np.ones((C.AB_GRID_SIZE,) * 2))
    colorizer = trainer.inference_model()
    assert [t.name for t in colorizer.inputs] == ["L", "hints", "reference"]
    l_norm = tf.random.uniform((1, SIZE, SIZE, 1), -1, 1, seed=1)
    no_hints = tf.zeros((1, SIZE, SIZE, 3))
    reference = tf.zeros((1, H.REFERENCE_BINS))
    hint = np.zeros((1, SIZE, SIZE, 3), np.float32)
    hint[0, 4:8, 4:8] = (0.5, 0.5, 1.0)
    before = colorizer([l_norm, no_hints, reference]).numpy()
    after = colorizer([l_norm, tf.constant(hint), reference]).numpy()
    assert before.shape == (1, SIZE, SIZE, 2)
    assert np.abs(after - before)[0, 4:8, 4:8].max() > 0  # the hint reaches its own pixels


def test_guided_fit_exports_and_colorizes_with_hints(small_dataset, tmp_path, capsys):
    from keras_colorize.serving import saved_model

    run_dir = tmp_path / "run"
    args = ["--model", "regression", "--data", small_dataset, "--run-dir", str(run_dir)]
    args += ["--preset", "tiny", "--quiet", "--image-size", str(SIZE), "--guided", "--epochs", "1"]
    args += ["--set", "train.steps_per_epoch=2", "--set", "train.validation_batches=1"]
    assert fit_main(args) == 0
    colorizer = keras.saving.load_model(run_dir / A.COLORIZER_FILE, compile=False)
    assert len(colorizer.inputs) == 3

    rng = np.random.default_rng(1)
    l_norm = rng.uniform(-1, 1, (1, SIZE, SIZE, 1)).astype(np.float32)
    hints = H.hint_map([(5, 5, 60.0, -30.0, 4.0)], (SIZE, SIZE), SIZE)[None]
    reference = H.reference_histogram(rng.normal(20, 20, (100, 2)))[None]
    expected = colorizer([l_norm, hints, reference], training=False).numpy()

    # The .tflite twin, run without TensorFlow's interpreter, takes the same guidance.
    tflite = load_backend(str(run_dir / A.TFLITE_FILE))
    assert tflite.guided and tflite.working_size == SIZE
    np.testing.assert_allclose(tflite.predict_ab(l_norm, hints, reference), expected, atol=1e-4)

    # The SavedModel gets two guided signatures; the automatic ones still work.
    version = str(tmp_path / "serving" / "1")
    metadata = saved_model.export_saved_model(colorizer, make_config("regression"), version, SIZE)
    assert metadata["guided"] is True
    loaded = tf.saved_model.load(version)
    assert {A.GUIDED_SIGNATURE, A.GUIDED_L_TO_AB_SIGNATURE, A.SERVING_SIGNATURE} <= set(
        loaded.signatures
    )
    served = loaded.signatures[A.GUIDED_L_TO_AB_SIGNATURE](
        L=tf.constant(l_norm), hints=tf.constant(hints), reference=tf.constant(reference)
    )[A.AB_KEY]
    np.testing.assert_allclose(served.numpy(), expected, atol=1e-4)
    photo = rng.integers(0, 256, (1, 50, 70, 3), dtype=np.uint8)
    guided_rgb = loaded.signatures[A.GUIDED_SIGNATURE](
        images=tf.constant(photo), hints=tf.constant(hints), reference=tf.constant(reference)
    )[A.COLORIZED_KEY]
    plain_rgb = loaded.signatures[A.SERVING_SIGNATURE](images=tf.constant(photo))[A.COLORIZED_KEY]
    assert guided_rgb.shape == (1, 50, 70, 3)
    assert np.abs(guided_rgb.numpy().astype(int) - plain_rgb.numpy()).max() > 0

    # colorize --hints with the run's .tflite; its errors are one line, exit 2.
    photo_path = tmp_path / "photo.png"
    Image.fromarray(photo[0]).save(photo_path)
    (tmp_path / "hints.json").write_text(json.dumps([{"x": 10, "y": 10, "color": "#20a040"}]))
    base = [str(photo_path), "--model", str(run_dir / A.TFLITE_FILE), "--quiet"]
    out = str(tmp_path / "out")
    assert colorize_main([*base, "--out", out, "--hints", str(tmp_path / "hints.json")]) == 0
    assert Image.open(tmp_path / "out" / "photo.png").size == (70, 50)
    capsys.readouterr()
    (tmp_path / "far.json").write_text(json.dumps([{"x": 70, "y": 10, "color": "#20a040"}]))
    assert (
        colorize_main([*base, "--out", out, "--overwrite", "--hints", str(tmp_path / "far.json")])
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "outside the 70x50 photo" in err[0], err


def test_hint_sweep_scores_guided_models_and_levin_on_the_same_hints(small_dataset, tmp_path):
    from keras_colorize.evaluate import main as evaluate_main
    from keras_colorize.evaluation import hint_sweep

    config = _guided_config("regression")
    colorizer = build_trainer(config.model, config.train).inference_model()
    path = tmp_path / "guided.keras"
    colorizer.save(path)
    out = tmp_path / "eval"
    args = ["--data", small_dataset, "--split", "val", "--out", str(out), "--quiet"]
    args += ["--model", f"g={path}", "--max-images", "2", "--hint-counts", "0", "3"]
    assert evaluate_main(args) == 0
    rows = list(csv.DictReader(open(out / "hint_sweep.csv", encoding="utf-8")))
    assert {(r["method"], r["hints"]) for r in rows} == {
        ("g", "0"),
        ("g", "3"),
        ("g local", "0"),
        ("g local", "3"),
        ("levin", "3"),
    }
    assert (out / "hint_sweep.png").stat().st_size > 0
    # One point per photo, its true colour and red, in both modes and with Levin.
    reach = list(csv.DictReader(open(out / "locality.csv", encoding="utf-8")))
    assert {(r["method"], r["colour"]) for r in reach} == {
        (method, colour) for method in ("g", "g local", "levin") for colour in ("truth", "red")
    }
    assert len(reach) == 2 * 3 * 2
    # Both methods got the same hints: the draw depends on the photo and the count only.
    rgb = np.full((40, 40, 3), 128, np.uint8)
    rgb[:, 20:] = (200, 60, 40)
    first = hint_sweep.ground_truth_hints(rgb, SIZE, 3, seed=7)
    np.testing.assert_array_equal(first, hint_sweep.ground_truth_hints(rgb, SIZE, 3, seed=7))
    assert 3 <= (first[..., 2] > 0).sum() <= 3 * 81
    # Levin's propagation comes back at the photo's full size.
    levin = hint_sweep.levin_colorize(rgb, first)
    assert levin.shape == rgb.shape
