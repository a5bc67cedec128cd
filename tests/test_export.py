"""`python -m keras_colorize.export`: the SavedModel proven the ways TF Serving loads it.

No tensorflow_model_server binary or Docker engine exists on the development
machine, so the exported models are run by the real `saved_model_cli` binary
and by the TF1 session loader (`tf.compat.v1.saved_model.loader.load`), the
same C++ loading path TF Serving uses, and a real `PredictRequest` is built.
Models are tiny (32 px working size) and trained for two epochs of three steps:
the session's shared runs (conftest.tiny_run), whose artefacts test_fit checks.
The two saved_model_cli processes run in the background while the other tests
run; their tests come last.
"""

import base64
import io
import json
import os
import shutil
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import BackgroundCommands, command_result, photo_paths, start_with_first_test
from PIL import Image

from keras_colorize import artifacts as A
from keras_colorize import export
from keras_colorize.color import tf_lab
from keras_colorize.config import make_config
from keras_colorize.inference.backends import load_backend
from keras_colorize.serving import saved_model
from keras_colorize.training.families import build_trainer
from keras_colorize.training.run_dir import load_colorizer_from_run

FAMILIES = ("regression", "classification")
SIGNATURES = {
    # name: ({input key: (dtype, shape)}, {output key: (dtype, shape)}) as saved_model_cli prints
    A.SERVING_SIGNATURE: (
        {"images": ("DT_UINT8", "(-1, -1, -1, -1)")},
        {"colorized": ("DT_UINT8", "(-1, -1, -1, 3)")},
    ),
    A.BYTES_SIGNATURE: (
        {"image_bytes": ("DT_STRING", "(-1)")},
        {"png_bytes": ("DT_STRING", "(-1)")},
    ),
    A.L_TO_AB_SIGNATURE: (
        {"L": ("DT_FLOAT", "(-1, -1, -1, 1)")},
        {"ab_norm": ("DT_FLOAT", "(-1, -1, -1, 2)")},
    ),
}
CLASSIFICATION_T = 0.5  # exported instead of the trained 0.38, to prove --temperature


def _saved_model_cli():
    """The saved_model_cli installed with TensorFlow, beside this Python first."""
    beside = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    found = beside if os.path.exists(beside) else shutil.which("saved_model_cli")
    assert found, "saved_model_cli comes with tensorflow; it was not found"
    return found


def _photo(width, height, index=0):
    """A real test photo resized to width x height: uint8 (height, width, 3)."""
    with Image.open(photo_paths()[index]) as image:
        return np.asarray(image.convert("RGB").resize((width, height), Image.BILINEAR))


def _encode(array, fmt):
    buffer = io.BytesIO()
    Image.fromarray(array.squeeze()).save(buffer, fmt)
    return buffer.getvalue()


def _error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("export: error:"), err
    return err[0]


@pytest.fixture(scope="module")
def runs(tiny_run):
    """{family: run dir} of tiny runs, trained once for the session (conftest.tiny_run)."""
    return {family: tiny_run(family) for family in FAMILIES}


@pytest.fixture(scope="module")
def exported(runs, tmp_path_factory):
    """{family: version dir} of each run exported with the command line."""
    root = tmp_path_factory.mktemp("models")
    result = {}
    for family, run_dir in runs.items():
        extra = ["--temperature", str(CLASSIFICATION_T)] if family == "classification" else []
        # TFLite has its own tests; here one small variant proves the command wires it in.
        tflite = ["--tflite-size", "32", "--tflite-variants", "float32"]
        extra += tflite if family == "regression" else ["--tflite-variants"]
        out = str(root / family)
        assert export.main(["--run-dir", run_dir, "--out", out, *extra]) == 0
        result[family] = os.path.join(out, "1")
    return result


@pytest.fixture(scope="module")
def saved_model_cli(exported, tmp_path_factory):
    """`saved_model_cli show` and `run` on the regression export, in background processes
    started with the module's first test: futures of (exit code, stdout, stderr)."""
    gray = _photo(24, 16)[..., :1]  # (16, 24, 1): a gray image as a literal expression
    out_dir = tmp_path_factory.mktemp("saved_model_cli") / "out"
    commands = BackgroundCommands(lanes=2, threads=1)
    show = commands.start([_saved_model_cli(), "show", "--dir", exported["regression"], "--all"])
    run = commands.start(
        [
            _saved_model_cli(),
            "run",
            "--dir",
            exported["regression"],
            "--tag_set",
            "serve",
            "--signature_def",
            "serving_default",
            "--input_exprs",
            f"images={[gray.tolist()]}",
            "--outdir",
            str(out_dir),
        ]
    )
    yield {"show": show, "run": run, "out_dir": out_dir}
    commands.close()


@pytest.fixture(scope="module", autouse=True)
def start_saved_model_cli(request):
    start_with_first_test(request, "saved_model_cli")


def _colorizer(run_dir, temperature=None):
    """A fresh copy of the run's Keras colorizer (export mutates the temperature of its own)."""
    model = keras.saving.load_model(os.path.join(run_dir, "colorizer.keras"), compile=False)
    saved_model.set_temperature(model, temperature)
    return model


def _reference(run_dir, images, temperature=None):
    """The Keras colorizer + the same in-graph maths, run eagerly."""
    return saved_model.colorize_in_graph(_colorizer(run_dir, temperature), images, 32).numpy()


def _temperature(family):
    return CLASSIFICATION_T if family == "classification" else None


@pytest.mark.parametrize("family", FAMILIES)
def test_tf1_session_loader_matches_the_keras_colorizer(runs, exported, family):
    """TF Serving's loading path, in graph mode; outputs equal Keras + the same maths."""
    images = np.stack([_photo(45, 37, 0), _photo(45, 37, 1)])  # not multiples of anything
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], exported[family])
        signature = meta.signature_def["serving_default"]
        colorized = session.run(
            signature.outputs["colorized"].name,
            {signature.inputs["images"].name: images},
        )
    assert colorized.shape == images.shape and colorized.dtype == np.uint8
    expected = _reference(runs[family], images, _temperature(family))
    difference = np.abs(colorized.astype(int) - expected)
    # The same ops run in graph and eager mode: at most a rounding step apart.
    assert difference.mean() < 0.05 and difference.max() <= 1


@pytest.fixture(scope="module")
def served(exported):
    """{family: signatures} of each export loaded with tf.saved_model.load."""
    return {family: tf.saved_model.load(path).signatures for family, path in exported.items()}


def test_full_resolution_lightness_is_kept(served):
    images = _photo(96, 72)[None]  # larger than the 32 px working size
    colorized = served["classification"]["serving_default"](images=images)["colorized"]
    assert colorized.shape == (1, 72, 96, 3)
    l_in = tf_lab.rgb_uint8_to_lab(images)[..., 0].numpy()
    l_out = tf_lab.rgb_uint8_to_lab(colorized)[..., 0].numpy()
    assert np.abs(l_out - l_in).mean() < 1.0  # only out-of-gamut clipping and rounding move L
    # ... and the prediction at 32 px did not blur the detail: L edges are those of the input.
    assert np.corrcoef(np.diff(l_in, axis=-1).ravel(), np.diff(l_out, axis=-1).ravel())[0, 1] > 0.99


def test_gray_and_rgba_inputs_are_accepted(served):
    serve = served["regression"]["serving_default"]
    rgb = _photo(40, 24)[None]
    gray = rgb[..., :1]
    as_rgb = serve(images=np.repeat(gray, 3, axis=-1))["colorized"].numpy()
    np.testing.assert_array_equal(serve(images=gray)["colorized"].numpy(), as_rgb)
    gray_alpha = np.concatenate([gray, np.full_like(gray, 7)], axis=-1)
    np.testing.assert_array_equal(serve(images=gray_alpha)["colorized"].numpy(), as_rgb)
    rgba = np.concatenate([rgb, np.full_like(gray, 7)], axis=-1)
    np.testing.assert_array_equal(
        serve(images=rgba)["colorized"].numpy(), serve(images=rgb)["colorized"].numpy()
    )


def test_colorize_bytes_handles_images_of_different_sizes(served):
    photo = _photo(50, 30, 2)
    gray = _photo(20, 44, 3)[..., :1]
    files = [_encode(photo, "JPEG"), _encode(gray, "PNG")]
    outputs = served["regression"]["colorize_bytes"](image_bytes=tf.constant(files))
    pngs = outputs["png_bytes"].numpy()
    decoded = [np.asarray(Image.open(io.BytesIO(png))) for png in pngs]
    assert [d.shape for d in decoded] == [(30, 50, 3), (44, 20, 3)]
    assert all(Image.open(io.BytesIO(png)).format == "PNG" for png in pngs)
    # The PNG input is lossless: its result equals serving_default's on the same pixels.
    direct = served["regression"]["serving_default"](images=gray[None])["colorized"].numpy()[0]
    np.testing.assert_array_equal(decoded[1], direct)


@pytest.mark.parametrize("family", FAMILIES)
def test_l_to_ab_and_metadata_serve_the_inference_runtime(runs, exported, family):
    with open(os.path.join(exported[family], "assets.extra", A.METADATA_FILE)) as handle:
        metadata = json.load(handle)
    assert metadata == {
        "working_size": 32,
        "family": family,
        "temperature": _temperature(family),
        "chroma_gain": 1.0 if family == "classification" else None,
        "stride": 8,
        "format_version": 1,
        "guided": False,
    }
    backend = load_backend(exported[family])  # the colorize runtime's loader
    assert backend.working_size == 32
    colorizer = _colorizer(runs[family], _temperature(family))
    l_norm = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 1)).astype(np.float32)
    np.testing.assert_allclose(backend.predict_ab(l_norm), colorizer(l_norm), atol=1e-5)
    # Any multiple of the stride, not only the working size.
    wide = np.random.default_rng(2).uniform(-1, 1, (1, 16, 48, 1)).astype(np.float32)
    np.testing.assert_allclose(backend.predict_ab(wide), colorizer(wide), atol=1e-5)


def test_temperature_is_baked_in_at_export(runs, served):
    l_norm = np.random.default_rng(3).uniform(-1, 1, (1, 32, 32, 1)).astype(np.float32)
    exported_ab = served["classification"][A.L_TO_AB_SIGNATURE](L=l_norm)["ab_norm"].numpy()
    at_export_t = _colorizer(runs["classification"], CLASSIFICATION_T)(l_norm).numpy()
    at_trained_t = _colorizer(runs["classification"])(l_norm).numpy()
    np.testing.assert_allclose(exported_ab, at_export_t, atol=1e-6)
    # A barely trained net is nearly uniform, so T moves ab little, but far more than 1e-6.
    assert np.abs(exported_ab - at_trained_t).max() > 1e-4


def test_predict_request_matches_the_signature(exported):
    predict_pb2 = pytest.importorskip(
        "tensorflow_serving.apis.predict_pb2",
        reason="tensorflow-serving-api is not installed (pip install --no-deps "
        "tensorflow-serving-api; it pins full tensorflow)",
    )
    from tensorflow.core.protobuf import saved_model_pb2

    images = _photo(40, 24)[None]
    request = predict_pb2.PredictRequest()
    request.model_spec.name = A.DEFAULT_MODEL_NAME
    request.model_spec.signature_name = "serving_default"
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(images))
    parsed = predict_pb2.PredictRequest.FromString(request.SerializeToString())
    assert parsed == request

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(exported["regression"], "saved_model.pb"), "rb") as handle:
        proto.ParseFromString(handle.read())
    signature = proto.meta_graphs[0].signature_def[parsed.model_spec.signature_name]
    assert set(parsed.inputs) == set(signature.inputs)
    for key, tensor in parsed.inputs.items():
        assert tensor.dtype == signature.inputs[key].dtype
    # What the server would compute for this request.
    served = tf.saved_model.load(exported["regression"]).signatures["serving_default"]
    colorized = served(images=tf.make_ndarray(parsed.inputs["images"]))["colorized"]
    response = predict_pb2.PredictResponse()
    response.outputs["colorized"].CopyFrom(tf.make_tensor_proto(colorized))
    assert tf.make_ndarray(response.outputs["colorized"]).shape == (1, 24, 40, 3)


def test_rest_body_for_colorize_bytes_round_trips(served):
    """The README's REST request: base64 in {"b64": ...}, PNG back base64-encoded."""
    jpeg = _encode(_photo(36, 20), "JPEG")
    body = json.dumps(
        {
            "signature_name": A.BYTES_SIGNATURE,
            "instances": [{A.IMAGE_BYTES_KEY: {"b64": base64.b64encode(jpeg).decode()}}],
        }
    )
    data = base64.b64decode(json.loads(body)["instances"][0]["image_bytes"]["b64"])
    png = served["regression"]["colorize_bytes"](image_bytes=[data])["png_bytes"].numpy()[0]
    # TF Serving base64-encodes outputs whose name ends in "_bytes".
    assert A.PNG_BYTES_KEY.endswith("_bytes")
    answer = json.dumps({"predictions": [{"b64": base64.b64encode(png).decode()}]})
    returned = base64.b64decode(json.loads(answer)["predictions"][0]["b64"])
    assert Image.open(io.BytesIO(returned)).size == (36, 20)


def test_gan_generator_exports_through_the_python_api(tmp_path):
    """export_saved_model on an untrained tiny U-Net (stride 32): no fit needed for the GAN."""
    config = make_config("gan", "tiny")
    generator = build_trainer(config.model, config.train).inference_model()
    version_dir = str(tmp_path / "colorizer" / "1")
    metadata = saved_model.export_saved_model(generator, config, version_dir, 32)
    assert metadata["stride"] == 32 and metadata["temperature"] is metadata["chroma_gain"] is None
    with pytest.raises(saved_model.ExportError, match="never overwritten"):
        saved_model.export_saved_model(generator, config, version_dir, 32)
    signatures = tf.saved_model.load(version_dir).signatures
    l_norm = np.random.default_rng(5).uniform(-1, 1, (1, 32, 64, 1)).astype(np.float32)
    ab = signatures[A.L_TO_AB_SIGNATURE](L=l_norm)["ab_norm"].numpy()
    np.testing.assert_allclose(ab, generator(l_norm, training=False), atol=1e-5)
    images = _photo(45, 37)[None]
    colorized = signatures["serving_default"](images=images)["colorized"].numpy()
    expected = saved_model.colorize_in_graph(generator, images, 32).numpy()
    assert np.abs(colorized.astype(int) - expected).max() <= 1


def test_versions_are_next_free_and_never_overwritten(runs, exported, tmp_path, capsys):
    out = tmp_path / "models" / "colorizer"
    shutil.copytree(exported["regression"], out / "1")  # a first export, made by the fixture
    args = ["--run-dir", runs["regression"], "--out", str(out), "--tflite-variants"]
    assert export.main(args) == 0
    assert sorted(os.listdir(out)) == ["1", "2"]  # no staging folder left behind
    before = os.path.getmtime(out / "1" / "saved_model.pb")
    assert export.main([*args, "--version", "1"]) == 2
    assert "already exists" in _error_line(capsys)
    assert os.path.getmtime(out / "1" / "saved_model.pb") == before
    assert sorted(os.listdir(out)) == ["1", "2"]


def test_export_writes_tflite_beside_the_versions(exported):
    model_dir = os.path.dirname(exported["regression"])
    tflite_dir = os.path.join(model_dir, "tflite", "1")
    assert sorted(os.listdir(tflite_dir)) == [
        "colorizer_float32.tflite",
        "report.json",
        "report.md",
    ]
    with open(os.path.join(tflite_dir, "report.json"), encoding="utf-8") as handle:
        (variant,) = json.load(handle)["variants"]
    assert variant["variant"] == "float32" and variant["within_tolerance"]
    assert not os.path.exists(os.path.join(os.path.dirname(exported["classification"]), "tflite"))


def test_export_from_the_newest_checkpoint(runs, tmp_path):
    """A run without colorizer.keras (e.g. stopped early) exports from its checkpoint."""
    run = tmp_path / "run"
    shutil.copytree(runs["regression"], run, ignore=shutil.ignore_patterns("colorizer.keras"))
    colorizer, config = load_colorizer_from_run(str(run))
    assert config.model.family == "regression"
    l_norm = np.random.default_rng(4).uniform(-1, 1, (1, 32, 32, 1)).astype(np.float32)
    expected = _colorizer(runs["regression"])(l_norm)
    np.testing.assert_allclose(colorizer(l_norm), expected, atol=1e-6)


def test_user_mistakes_are_one_line_errors(runs, tmp_path, capsys):
    out = str(tmp_path / "models" / "m")

    def run(run_dir, *extra):
        return export.main(["--run-dir", str(run_dir), "--out", out, *extra])

    (tmp_path / "empty").mkdir()
    assert run(tmp_path / "empty") == 2
    assert "config.json" in _error_line(capsys)
    assert run(tmp_path / "missing") == 2
    assert "does not exist" in _error_line(capsys)
    assert run(runs["regression"], "--temperature", "0.5") == 2
    assert "classification" in _error_line(capsys)
    assert run(runs["regression"], "--working-size", "36") == 2
    assert "multiple" in _error_line(capsys)

    corrupt = shutil.copytree(
        runs["regression"], tmp_path / "corrupt", ignore=shutil.ignore_patterns("logs")
    )
    (corrupt / "colorizer.keras").write_bytes(b"not a zip file" * 100)
    assert run(corrupt) == 2
    assert "colorizer.keras does not load" in _error_line(capsys)

    os.remove(corrupt / "colorizer.keras")
    for checkpoint in (corrupt / "checkpoints").iterdir():  # epoch-0001 and epoch-0002
        checkpoint.write_bytes(b"garbage")
    assert run(corrupt) == 2
    assert "does not load" in _error_line(capsys)

    shutil.rmtree(corrupt / "checkpoints")
    assert run(corrupt) == 2
    assert "neither" in _error_line(capsys)
    assert not os.path.exists(out)


# The real saved_model_cli binary ran in the background (saved_model_cli): its results.


def test_saved_model_cli_shows_the_three_signatures(saved_model_cli):
    code, text, report = command_result(saved_model_cli["show"])
    assert code == 0, report
    for name, (inputs, outputs) in SIGNATURES.items():
        start = text.index(f"signature_def['{name}']")
        block = text[start : text.index("Method name is", start)]
        for kind, tensors in (("inputs", inputs), ("outputs", outputs)):
            for key, (dtype, shape) in tensors.items():
                entry = block[block.index(f"{kind}['{key}']") :]
                assert f"dtype: {dtype}" in entry.splitlines()[1], (name, key)
                assert f"shape: {shape}" in entry.splitlines()[2], (name, key)


def test_saved_model_cli_runs_serving_default(saved_model_cli):
    code, _, report = command_result(saved_model_cli["run"])
    assert code == 0, report
    colorized = np.load(saved_model_cli["out_dir"] / "colorized.npy")
    assert colorized.shape == (1, 16, 24, 3) and colorized.dtype == np.uint8
