"""TFLite export: every variant converts with builtins only, loads in LiteRT and keeps parity."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from keras_colorize import constants as C
from keras_colorize.color import tf_lab
from keras_colorize.config import make_config
from keras_colorize.inference.backends import load_backend
from keras_colorize.serving import tflite as T
from keras_colorize.training.families import build_trainer

SIZE = 32  # a multiple of the regression and classification strides (8)
CONTRACT_IO = {
    T.RGB_CONTRACT: ((np.uint8, (1, SIZE, SIZE, 3)), (np.uint8, (1, SIZE, SIZE, 3))),
    T.L_AB_CONTRACT: ((np.float32, (1, SIZE, SIZE, 1)), (np.float32, (1, SIZE, SIZE, 2))),
}


def _colorizer(family, data_dir):
    """A tiny untrained colorizer with seeded weights (random weights still colour strongly)."""
    config = make_config(family, "tiny", {"data": data_dir})
    keras.utils.set_random_seed(0)
    prior = np.ones((C.AB_GRID_SIZE, C.AB_GRID_SIZE))
    return build_trainer(config.model, config.train, prior).inference_model(), config


@pytest.fixture(scope="module")
def regression(small_dataset, tmp_path_factory):
    colorizer, config = _colorizer("regression", small_dataset)
    out = str(tmp_path_factory.mktemp("tflite_regression"))
    report = T.export_tflite(colorizer, config, out, size=SIZE, representative_batches=8)
    return colorizer, out, report


@pytest.fixture(scope="module")
def val_photos(small_dataset):
    return T.photos_from_dataset(small_dataset, "val", SIZE, 3)


def _entries(report):
    return {entry["variant"]: entry for entry in report["variants"]}


def _run(path, photo):
    """uint8 RGB (S, S, 3) through a .tflite file of either contract -> uint8 RGB (S, S, 3)."""
    interpreter = Interpreter(model_path=path)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    if inp["dtype"] == np.uint8:
        interpreter.set_tensor(inp["index"], photo[None])
        interpreter.invoke()
        return interpreter.get_tensor(out["index"])[0]
    lightness = tf_lab.rgb_uint8_to_lab(photo[None])[..., :1]
    interpreter.set_tensor(inp["index"], tf_lab.normalize_l(lightness).numpy())
    interpreter.invoke()
    ab = tf_lab.denormalize_ab(interpreter.get_tensor(out["index"]))
    return tf_lab.lab_to_rgb_uint8(tf.concat([lightness, ab], axis=-1)).numpy()[0]


def _mean_diff(a, b):
    return float(np.mean(np.abs(a.astype(int) - b.astype(int))))


def test_every_variant_loads_with_its_recorded_contract(regression):
    _, out, report = regression
    assert [e["variant"] for e in report["variants"]] == list(T.VARIANTS)
    for variant, entry in _entries(report).items():
        path = os.path.join(out, f"colorizer_{variant}.tflite")
        assert entry["file"] == os.path.basename(path) and os.path.getsize(path) > 0
        interpreter = Interpreter(model_path=path)
        interpreter.allocate_tensors()
        (in_dtype, in_shape), (out_dtype, out_shape) = CONTRACT_IO[entry["contract"]]
        inp, outp = interpreter.get_input_details(), interpreter.get_output_details()
        assert len(inp) == 1 and len(outp) == 1
        assert inp[0]["dtype"] == in_dtype and tuple(inp[0]["shape"]) == in_shape
        assert outp[0]["dtype"] == out_dtype and tuple(outp[0]["shape"]) == out_shape
        assert entry["input"]["dtype"] == np.dtype(in_dtype).name
        assert tuple(entry["input"]["shape"]) == in_shape
        assert entry["output"]["dtype"] == np.dtype(out_dtype).name
        assert tuple(entry["output"]["shape"]) == out_shape


def test_float32_matches_keras_so_weights_were_frozen(regression, val_photos):
    colorizer, out, report = regression
    entry = _entries(report)["float32"]
    assert entry["contract"] == T.RGB_CONTRACT
    assert entry["mean_abs_diff"] <= T.TOLERANCES["float32"]
    gray = np.zeros((1, SIZE, SIZE, 2), np.float32)
    for photo in val_photos:
        expected = T.colorize_fixed(colorizer, tf.constant(photo[None])).numpy()[0]
        # The check has teeth: the untrained network's colour is far from gray.
        assert _mean_diff(expected, T._recombine(photo[None], gray).numpy()[0]) > 3
        got = _run(os.path.join(out, entry["file"]), photo)
        assert _mean_diff(got, expected) <= T.TOLERANCES["float32"]


def test_int8_quantizes_the_network_and_keeps_the_colour_maths_float(regression):
    entry = _entries(regression[2])["int8"]
    assert entry["contract"] == T.RGB_CONTRACT and entry["within_tolerance"]
    assert entry["ops_by_output_dtype"].get("int8", 0) >= 10  # the convolutions
    assert entry["ops_by_output_dtype"].get("float32", 0) >= 10  # the colour maths


def test_report_has_every_field(regression):
    _, out, report = regression
    with open(os.path.join(out, T.REPORT_JSON), encoding="utf-8") as handle:
        assert json.load(handle) == report
    assert report["passed"] and report["family"] == "regression" and report["size"] == SIZE
    # The small dataset has 5 training photos, fewer than the 8 asked for.
    assert report["parity"]["photos"] == 3 and report["representative"]["photos"] == 5
    fields = {"variant", "file", "contract", "input", "output", "size_bytes", "size_mb"}
    fields |= {"latency_ms", "mean_abs_diff", "p99_abs_diff", "max_abs_diff", "tolerance"}
    fields |= {"within_tolerance"}
    fields |= {"attempts", "quantization", "ops_by_output_dtype"}
    for entry in report["variants"]:
        assert fields <= set(entry), fields - set(entry)
        assert entry["size_bytes"] == os.path.getsize(os.path.join(out, entry["file"]))
        assert entry["latency_ms"]["1_thread"] > 0
        assert entry["tolerance"] == T.TOLERANCES[entry["variant"]]
    with open(os.path.join(out, T.REPORT_MD), encoding="utf-8") as handle:
        table = handle.read()
    for variant in T.VARIANTS:
        assert f"| {variant} | colorizer_{variant}.tflite |" in table


def test_every_file_runs_in_the_colorize_runtime(regression, val_photos):
    colorizer, out, report = regression
    l_norm = T._l_norm(np.stack(val_photos[:1])).numpy()  # (1, S, S, 1)
    # The runtime feeds an RGB file the gray image of L and reads ab back from its output.
    lab = tf.concat([tf_lab.denormalize_l(l_norm), tf.zeros((1, SIZE, SIZE, 2))], axis=-1)
    colorized = T.colorize_fixed(colorizer, tf_lab.lab_to_rgb_uint8(lab))
    expected = tf_lab.normalize_ab(tf_lab.rgb_uint8_to_lab(colorized)[..., 1:]).numpy()
    for entry in report["variants"]:
        backend = load_backend(os.path.join(out, entry["file"]))
        assert backend.working_size == SIZE
        ab = backend.predict_ab(l_norm)
        assert ab.shape == (1, SIZE, SIZE, 2) and np.isfinite(ab).all()
        if entry["variant"] == "float32":
            assert np.abs(ab - expected).mean() * C.AB_SCALE < 0.5


def test_classification_exports_float32_and_int8(small_dataset, tmp_path, val_photos):
    colorizer, config = _colorizer("classification", small_dataset)
    report = T.export_tflite(
        colorizer,
        config,
        str(tmp_path),
        size=SIZE,
        variants=("float32", "int8"),
        representative_batches=8,
    )
    entries = _entries(report)
    assert entries["float32"]["contract"] == T.RGB_CONTRACT
    assert entries["float32"]["mean_abs_diff"] <= T.TOLERANCES["float32"]
    expected = T.colorize_fixed(colorizer, tf.constant(val_photos[0][None])).numpy()[0]
    got = _run(str(tmp_path / "colorizer_float32.tflite"), val_photos[0])
    assert _mean_diff(got, expected) <= T.TOLERANCES["float32"]
    assert entries["int8"]["within_tolerance"]
    assert sorted(os.listdir(tmp_path)) == [
        "colorizer_float32.tflite",
        "colorizer_int8.tflite",
        T.REPORT_JSON,
        T.REPORT_MD,
    ]


def test_impossible_tolerance_raises_after_the_report_is_written(
    regression, val_photos, small_dataset, tmp_path
):
    colorizer = regression[0]
    config = make_config("regression", "tiny")
    with pytest.raises(T.TFLiteParityError, match=r"int8 .*\(tolerance 0\)"):
        T.export_tflite(
            colorizer,
            config,
            str(tmp_path),
            size=SIZE,
            data_dir=small_dataset,
            variants=("int8",),
            parity_images=val_photos,
            representative_batches=4,
            tolerances={"int8": 0.0},
        )
    with open(tmp_path / T.REPORT_JSON, encoding="utf-8") as handle:
        report = json.load(handle)
    (entry,) = report["variants"]
    assert not report["passed"] and not entry["within_tolerance"]
    # Neither contract met the tolerance, so both were tried and the closer one kept.
    assert [a["contract"] for a in entry["attempts"]] == list(T.CONTRACTS)
    assert os.path.exists(tmp_path / "colorizer_int8.tflite")


def test_a_variant_falls_back_to_l_ab_when_rgb_fails(regression, val_photos, tmp_path, monkeypatch):
    convert = T.convert

    def rgb_fails(saved_model, variant, contract, representative=None):
        if contract == T.RGB_CONTRACT:
            raise RuntimeError("first line\nop FOO is neither a custom op nor a flex op")
        return convert(saved_model, variant, contract, representative)

    monkeypatch.setattr(T, "convert", rgb_fails)
    config = make_config("regression", "tiny")
    report = T.export_tflite(
        regression[0],
        config,
        str(tmp_path),
        size=SIZE,
        variants=("float32",),
        parity_images=val_photos,
    )
    (entry,) = report["variants"]
    assert entry["contract"] == T.L_AB_CONTRACT and entry["within_tolerance"]
    assert entry["attempts"][0] == {
        "contract": T.RGB_CONTRACT,
        "converted": False,
        "error": "RuntimeError: op FOO is neither a custom op nor a flex op",
    }
    assert entry["input"]["key"] == "L" and entry["output"]["key"] == "ab_norm"
    got = _run(str(tmp_path / entry["file"]), val_photos[0])
    expected = T.colorize_fixed(regression[0], tf.constant(val_photos[0][None])).numpy()[0]
    assert _mean_diff(got, expected) <= T.TOLERANCES["float32"]


def test_size_must_be_a_multiple_of_the_stride(tmp_path):
    config = make_config("regression", "tiny")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="multiple of .* stride 8"):
        T.export_tflite("unused.keras", config, str(out), size=36)
    assert not out.exists()


def test_given_parity_photos_are_cropped_and_resized():
    photo = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    fitted = T.fit_photo(photo, SIZE)
    assert fitted.shape == (SIZE, SIZE, 3) and fitted.dtype == np.uint8
    with pytest.raises(ValueError, match="uint8"):
        T.fit_photo(photo.astype(np.float32), SIZE)
