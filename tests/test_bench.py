"""The benchmark command keeps working (figures come from real runs, not from this test),
and its FLOP counts match ones worked out by hand."""

import ast
import importlib.util
import json
import math
import os
import pathlib
import sys
import types

import pytest

from benchmarks.bench import main

FAMILIES = ("regression", "classification", "gan")
PACKAGE_DIR = pathlib.Path(__file__).resolve().parent.parent / "keras_colorize"


def _positive(value):
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def tiny_model_dir(small_dataset, tmp_path_factory):
    """A run dir with colorizer.keras and config.json but no colorizer.tflite (the benchmark
    converts one): an untrained tiny regression."""
    from keras_colorize import artifacts as A
    from keras_colorize.config import make_config
    from keras_colorize.training.families import build_trainer

    config = make_config("regression", "tiny", {"data": small_dataset})
    folder = tmp_path_factory.mktemp("model")
    build_trainer(config.model, config.train).inference_model().save(folder / A.COLORIZER_FILE)
    (folder / A.CONFIG_FILE).write_text(config.to_json(), encoding="utf-8")
    return str(folder)


@pytest.fixture(scope="module")
def quick_report(small_dataset, tiny_model_dir, tmp_path_factory):
    """One `--quick` run of every section; (exit code, bench.json, bench.md)."""
    out = str(tmp_path_factory.mktemp("bench"))
    args = ["--data", small_dataset, "--out", out, "--quick", "--model-dir", tiny_model_dir]
    code = main(args)
    with open(os.path.join(out, "bench.json"), encoding="utf-8") as handle:
        report = json.load(handle)
    with open(os.path.join(out, "bench.md"), encoding="utf-8") as handle:
        text = handle.read()
    return code, report, text


@pytest.mark.slow
def test_quick_bench_runs_every_section(quick_report):
    code, report, text = quick_report
    assert code == 0, report.get("errors")
    assert report["quick"] is True and report["errors"] == []
    machine = report["machine"]
    assert machine["cpu"] and machine["cores"] >= 1 and machine["tensorflow"]
    for heading in ("Quick run", "Machine:", "Targets", "1. Training", "2. Input pipeline"):
        assert heading in text
    for heading in ("3. Inference", "4. Scaling"):
        assert heading in text


@pytest.mark.slow
def test_quick_bench_training_section(quick_report):
    _, report, _ = quick_report
    peaks = {p["dtype"]: p for p in report["matmul_peak"] if not p.get("cross_check")}
    assert set(peaks) == {"float32", "bfloat16"}
    (numpy_peak,) = [p for p in report["matmul_peak"] if p.get("cross_check")]
    assert numpy_peak["dtype"] == "float32" and "numpy" in numpy_peak["device"]
    assert all(_positive(peak["gflops"]) for peak in peaks.values())
    rows = report["training"]
    assert {(r["family"], r["precision"]) for r in rows} == {
        (family, precision) for family in FAMILIES for precision in ("float32", "mixed_bfloat16")
    }
    for row in rows:
        for key in (
            "images_per_second",
            "flops_per_image",
            "analytic_flops_per_image",
            "achieved_gflops",
            "peak_gflops",
            "fraction_of_peak",
            "fraction_of_peak_counted",
        ):
            assert _positive(row[key]), (row["family"], row["precision"], key, row.get(key))
        assert row["peak_gflops"] == peaks[row["compute_dtype"]]["gflops"]
        # A training step cannot outrun a plain matmul of the same dtype.
        assert row["fraction_of_peak"] < 1.0, row
        # Two independent counts of the same step: the profiler's adds element-wise,
        # BatchNorm and optimizer work and overcounts some backprop convolutions.
        assert 0.8 < row["flops_per_image"] / row["analytic_flops_per_image"] < 4, row
    # Model FLOPs depend on the architecture, not on the precision it runs in.
    by_family = {}
    for row in rows:
        by_family.setdefault(row["family"], set()).add(row["analytic_flops_per_image"])
    assert all(len(counts) == 1 for counts in by_family.values()), by_family
    assert "analytic" in report["methods"]["flops"]
    assert "counted" in report["methods"]["flops_cross_check"]


@pytest.mark.slow
def test_quick_bench_pipeline_section(quick_report):
    _, report, _ = quick_report
    pipeline = report["pipeline"]
    assert _positive(pipeline["images_per_second"])
    assert _positive(pipeline["ratio_to_fastest_training"])
    fastest = max(row["images_per_second"] for row in report["training"])
    assert pipeline["fastest_training"]["images_per_second"] == fastest
    assert isinstance(pipeline["passed"], bool)


@pytest.mark.slow
def test_quick_bench_inference_section(quick_report):
    _, report, text = quick_report
    inference = report["inference"]
    backends = {row["backend"]: row for row in inference["latency"]}
    assert set(backends) == {
        ".keras",
        "SavedModel serving_default",
        "TFLite float32",
        "TFLite int8",
    }
    for row in backends.values():
        assert set(row["latency_ms"]) == {"256x256", "1024x768"}
        assert all(_positive(ms) for ms in row["latency_ms"].values()), row
    for variant in ("float32", "int8"):
        row = backends[f"TFLite {variant}"]
        assert _positive(row["invoke_ms"]) and row["fixed_input"]["shape"][1] == 32
    # The model dir has no colorizer.tflite: the benchmark converts one at the working size.
    artefacts = inference["artefacts"]
    assert artefacts["colorizer_tflite"].endswith("colorizer.tflite")
    assert "scratch" in artefacts["colorizer_tflite_source"]


@pytest.mark.slow
def test_quick_bench_colorize_runs_tflite_and_keras_on_12_and_1_megapixel(quick_report):
    _, report, text = quick_report
    colorize = report["inference"]["colorize"]
    assert colorize["concurrent"]  # --quick starts every run at once
    rows = {(row["model"], row["photo"]): row for row in colorize["photos"]}
    assert set(rows) == {
        (model, photo) for model in (".tflite", ".keras") for photo in ("4000x3000", "1152x864")
    }
    for (model, _), row in rows.items():
        assert row["path"].endswith(f"colorizer{model}")
        assert _positive(row["seconds"]) and _positive(row["peak_rss_mb"])
        # The command's own clock starts after start-up, inside the wall clock.
        assert 0 < row["photo_seconds"] < row["seconds"]
    assert rows[(".tflite", "4000x3000")]["megapixels"] == 12.0
    assert 0.99 < rows[(".tflite", "1152x864")]["megapixels"] < 1.01
    # The project's goals, on the .tflite runs only.
    goals = {
        (model, photo, t["label"]): t["goal"]
        for (model, photo), row in rows.items()
        for t in row["targets"]
    }
    assert goals == {
        (".tflite", "4000x3000", "wall s"): 1.5,
        (".tflite", "4000x3000", "peak RSS MB"): 600,
        (".tflite", "4000x3000", "photo's own s"): 1.0,
        (".tflite", "1152x864", "wall s"): 0.6,
    }
    assert all(isinstance(t["passed"], bool) for row in rows.values() for t in row["targets"])
    assert colorize["folder"]["photos"] == 4 and colorize["folder"]["model"] == ".tflite"
    assert 0 < colorize["folder"]["photo_seconds"] < colorize["folder"]["seconds"]
    assert "4000x3000 photo (12.0 MP), .tflite" in text and "1152x864" in text


@pytest.mark.slow
def test_quick_bench_scaling_section_and_targets(quick_report):
    _, report, _ = quick_report
    assert report["scaling"]["concurrent"]  # --quick starts the set-ups beside the other sections
    rows = report["scaling"]["rows"]
    assert [(r["strategy"], r["replicas"], r["workers"]) for r in rows] == [
        ("mirrored", 1, 1),
        ("mirrored", 2, 1),
        ("multiworker", 2, 2),
    ]
    for row in rows:
        assert "error" not in row, row
        assert row["replicas_in_sync"] == row["replicas"]
        assert _positive(row["images_per_second"]) and _positive(row["speedup"])
    names = " ".join(target["name"] for target in report["targets"])
    for part in ("GAN float32", "input pipeline", "12 MP", "1 MP", ".tflite model"):
        assert part in names
    assert all(isinstance(target["passed"], bool) for target in report["targets"])


def test_child_peak_memory_is_the_childs_own():
    """A child allocating 150 MB reports about that, not its parent's larger peak (Linux carries
    the RSS high-water mark across fork and exec)."""
    import resource

    import numpy as np

    from benchmarks.process import child_env, run_child

    ballast = np.ones(62_500_000)  # 500 MB held by this (parent) process
    allocate = "import numpy; a = numpy.ones(18_750_000); print(a.sum())"  # 150 MB
    result = run_child([sys.executable, "-c", allocate], child_env(), timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "18750000.0"
    assert 150 < result.peak_rss_mb < 350
    parent_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    assert parent_mb > 500 and ballast[-1] == 1.0


def _hand_counted_generator():
    """A tiny functional 'generator' on 8x8x1 inputs, whose FLOPs the test works out by hand."""
    import keras

    l_in = keras.Input((None, None, 1), name="L")
    x = keras.layers.Conv2D(4, 3, padding="same")(l_in)  # (B, 8, 8, 4)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same")(x)  # (B, 4, 4, 8)
    ab = keras.layers.Conv2DTranspose(2, 4, strides=2, padding="same")(x)  # (B, 8, 8, 2)
    return keras.Model(l_in, ab)


def _hand_counted_discriminator():
    import keras

    l_in, ab_in = keras.Input((None, None, 1), name="L"), keras.Input((None, None, 2), name="ab")
    pair = keras.layers.Concatenate()([l_in, ab_in])  # (B, 8, 8, 3)
    score = keras.layers.Conv2D(1, 4, strides=2, padding="same")(pair)  # (B, 4, 4, 1)
    return keras.Model([l_in, ab_in], score)


# One multiply-add = 2 FLOPs; biases, activations and the concatenation are not counted.
GENERATOR_FLOPS = (
    # conv 3x3, 1 -> 4 channels, 8x8 outputs: 9 taps x 1 input channel per output value
    2 * (8 * 8 * 4) * (9 * 1)  # = 4608
    # conv 3x3 stride 2, 4 -> 8 channels, 4x4 outputs: 9 taps x 4 input channels each
    + 2 * (4 * 4 * 8) * (9 * 4)  # = 9216
    # transposed conv 4x4 stride 2, 8 -> 2 channels: each of the 4x4 input pixels scatters
    # its 8 channels through a full 4x4x2 kernel (the 'same' crop discards some, but they
    # are computed)
    + 2 * (4 * 4) * 8 * (4 * 4 * 2)  # = 8192
)  # = 22016
DISCRIMINATOR_FLOPS = 2 * (4 * 4 * 1) * (4 * 4 * 3)  # conv 4x4 stride 2, 3 -> 1 ch: = 1536


def test_forward_conv_flops_match_a_count_by_hand():
    from benchmarks import flops

    assert GENERATOR_FLOPS == 22016 and DISCRIMINATOR_FLOPS == 1536  # the arithmetic above
    assert flops.forward_conv_flops(_hand_counted_generator(), [(8, 8, 1)]) == 22016
    discriminator = _hand_counted_discriminator()
    assert flops.forward_conv_flops(discriminator, [(8, 8, 1), (8, 8, 2)]) == 1536
    # Four times the pixels, four times the FLOPs (every layer here is a convolution).
    assert flops.forward_conv_flops(_hand_counted_generator(), [(16, 16, 1)]) == 4 * 22016


def test_analytic_train_flops_match_a_count_by_hand():
    from benchmarks import flops

    generator = _hand_counted_generator()
    # A plain network's step: its forward pass, then input and weight gradients, each
    # costing about one forward pass.
    plain = types.SimpleNamespace(network=generator)
    assert flops.analytic_train_flops(plain, 8) == 3 * 22016
    # The GAN step: G as above; D forward on the real and on the generated pair (2), the
    # input and weight gradients of both for D's loss (4), and the input gradients of the
    # generated pair's pass again, through which G's adversarial loss flows (1).
    gan = types.SimpleNamespace(network=generator, discriminator=_hand_counted_discriminator())
    assert flops.analytic_train_flops(gan, 8) == 3 * 22016 + (2 + 4 + 1) * 1536


@pytest.mark.slow
def test_counted_flops_match_the_analytic_count_for_a_plain_network(quick_report):
    """Regression net: convolutions are nearly all its FLOPs, so both counts agree.

    The quick run's training section counts them (benchmarks.flops.counted_train_flops
    and analytic_train_flops on the trained tiny regression), so no second trainer is built.
    """
    _, report, _ = quick_report
    rows = [row for row in report["training"] if row["family"] == "regression"]
    assert rows
    for row in rows:
        assert 0.9 < row["flops_per_image"] / row["analytic_flops_per_image"] < 1.1, row
        assert "Conv2D" in row["flops_by_op_type"]


def test_bench_on_a_missing_folder_is_a_usage_error(tmp_path, capsys):
    assert main(["--data", str(tmp_path / "missing"), "--quick"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_bench_bad_train_item_is_a_usage_error(small_dataset, capsys):
    assert main(["--data", small_dataset, "--quick", "--train", "gan"]) == 2
    assert "FAMILY:WIDTH" in capsys.readouterr().err


def test_bench_size_off_the_network_stride_is_a_usage_error(small_dataset, capsys):
    # The default and paper GANs need multiples of 128 px.
    assert main(["--data", small_dataset, "--image-size", "32", "--sections", "training"]) == 2
    assert "stride" in capsys.readouterr().err


def test_bench_model_dir_without_a_colorizer_is_a_usage_error(small_dataset, tmp_path, capsys):
    args = ["--data", small_dataset, "--quick", "--model-dir", str(tmp_path)]
    assert main(args) == 2
    assert "colorizer.keras" in capsys.readouterr().err


def test_bench_torch_python_without_torch_is_a_usage_error(small_dataset, capsys):
    # This interpreter has no torch (keras-colorize does not depend on it).
    if importlib.util.find_spec("torch"):
        pytest.skip("torch is installed here")
    args = ["--data", small_dataset, "--quick", "--torch-python", sys.executable]
    assert main(args) == 2
    assert "cannot import torch" in capsys.readouterr().err


@pytest.mark.skipif(
    not os.environ.get("KERAS_COLORIZE_TORCH_PYTHON"),
    reason="set KERAS_COLORIZE_TORCH_PYTHON to an interpreter with torch",
)
def test_pytorch_reference_runs_the_same_architecture():
    from benchmarks import reference as torch_reference

    ours = {
        "family": "gan",
        "preset": "tiny",
        "precision": "mixed_bfloat16",
        "images_per_second": 100.0,
        "width": 4,
        "disc_width": 4,
        "num_downs": 5,
        "disc_layers": 3,
        "image_size": 32,
        "batch_size": 4,
    }
    # The same architecture in float32 at half the speed: PyTorch's float32 step is measured
    # once and both rows are compared with it.
    slower = {**ours, "precision": "float32", "images_per_second": 50.0}
    python = os.environ["KERAS_COLORIZE_TORCH_PYTHON"]
    row, slower_row = torch_reference.compare(python, [ours, slower], steps=1, repeats=1)
    assert (
        row["reference"]["dtype"] == "bfloat16" and row["reference_float32"]["dtype"] == "float32"
    )
    for reference in (row["reference"], row["reference_float32"]):
        assert reference["ngf"] == 4 and reference["num_downs"] == 5 and reference["size"] == 32
        assert _positive(reference["images_per_second"])
    assert slower_row["reference"] == row["reference_float32"]
    assert row["ratio_to_float32"] == pytest.approx(2 * slower_row["ratio_to_float32"])


def test_the_package_never_imports_the_benchmarks():
    """benchmarks/ sits beside the installed package, which must work without it."""
    offenders = []
    for path in PACKAGE_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            if any(name.split(".")[0] == "benchmarks" for name in names):
                offenders.append(str(path.relative_to(PACKAGE_DIR.parent)))
    assert not offenders
