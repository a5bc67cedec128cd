"""`python -m benchmarks`: training, input, inference and scaling figures in one report.

    python -m benchmarks --data data/photos160 --model-dir models/colorizer --out bench/

writes bench.json and bench.md: the machine first, then one table per section,
each figure a median over repeats after warm-up:

1. training: a matmul peak per dtype (with numpy's BLAS as a second opinion),
   and per family at the "default" and "paper" presets' widths, in float32 and
   mixed_bfloat16 (mixed_float16 with a GPU): images/second, training FLOPs per
   image (analytic model FLOPs, and counted from the train step's graph:
   benchmarks.flops), achieved FLOP/s and its fraction of the peak of
   the same dtype (benchmarks.training); with --torch-python, the
   reference pix2pix step in PyTorch beside our GAN (benchmarks.reference);
2. the input pipeline alone, and its ratio to the fastest training step;
3. inference latency through .keras, the SavedModel and each TFLite variant,
   and the colorize command end to end, in fresh processes, on a 12 MP and a
   1 MP photo through the model as .tflite and as .keras (benchmarks.inference,
   benchmarks.colorize);
4. scaling over 2 logical CPU devices and 2 local workers (benchmarks.scaling).

``--quick`` runs every section at toy sizes in under two minutes: it keeps the
command working, its figures mean nothing. It starts the scaling set-ups first
and lets them run beside the other sections (benchmarks.scaling.start).
"""

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
import time

from keras_colorize import cli
from keras_colorize.config import FAMILIES

PROG = "bench"
SECTION_FAILED = 1
SECTIONS = ("training", "pipeline", "inference", "scaling")
BENCH_JSON = "bench.json"
BENCH_MD = "bench.md"
TARGET_GAN_FRACTION = 0.60  # the GAN's float32 training step against the float32 matmul peak
TARGET_PIPELINE_RATIO = 5.0  # pipeline images/s over the fastest training images/s
QUICK_TFLITE_VARIANTS = ("float32", "int8")


_CLOCK = {"start": time.perf_counter()}  # reset by main


def _progress(message):
    elapsed = time.perf_counter() - _CLOCK["start"]
    print(f"bench: [{elapsed:4.0f} s] {message}", file=sys.stderr)


class BenchError(cli.UsageError):
    """A bad flag or input found before measuring; one-line message."""


def describe_machine():
    """CPU model, core count, accelerators and library versions, for the top of every report."""
    import keras
    import tensorflow as tf

    from keras_colorize.training.precision import cpu_supports_bfloat16

    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next(
                line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cpu_bfloat16": cpu_supports_bfloat16(),
        "gpus": len(tf.config.list_physical_devices("GPU")),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--data", required=True, help="a data_prep output folder")
    parser.add_argument("--out", help="write bench.json and bench.md here")
    parser.add_argument(
        "--quick", action="store_true", help="every section at toy sizes (a smoke run, < 2 min)"
    )
    parser.add_argument(
        "--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="default: all"
    )
    parser.add_argument("--batch-size", type=int, default=16, help="training and pipeline batch")
    parser.add_argument(
        "--image-size", type=int, help="training and pipeline crops (default 128; --quick 32)"
    )
    parser.add_argument(
        "--repeats", type=int, help="timed repeats per figure (default 3; --quick 1)"
    )
    parser.add_argument(
        "--steps", type=int, help="training steps per timed repeat (default 10; --quick 2)"
    )
    parser.add_argument(
        "--train",
        nargs="*",
        default=[],
        metavar="FAMILY:WIDTH",
        help="time these networks instead of every family's default and paper widths, "
        "e.g. regression:64 gan:32",
    )
    parser.add_argument(
        "--precisions",
        nargs="+",
        choices=["float32", "mixed_bfloat16", "mixed_float16"],
        help="default: float32 and mixed_bfloat16, and mixed_float16 with a GPU",
    )
    parser.add_argument(
        "--model-dir",
        help="a folder with colorizer.keras and config.json (a run dir, or models/colorizer, "
        "the default when it exists); its colorizer.tflite and exports are used, else made "
        "in a scratch folder",
    )
    parser.add_argument(
        "--photos", help="a folder of photos for the colorize run (default: synthetic ones)"
    )
    parser.add_argument(
        "--photo-count", type=int, help="synthetic photos colorized (default 50; --quick 4)"
    )
    parser.add_argument(
        "--tflite-variants",
        nargs="*",
        metavar="VARIANT",
        help="TFLite variants exported when the model dir has none: float32 float16 dynamic "
        "int8 (default: all; --quick float32 and int8)",
    )
    parser.add_argument(
        "--tflite-size",
        type=int,
        help="side of the exported TFLite files (default 256; --quick the working size)",
    )
    parser.add_argument(
        "--torch-python",
        metavar="PYTHON",
        help="an interpreter that has torch: also time the reference pix2pix step in PyTorch "
        "(benchmarks/pytorch_pix2pix.py) next to every GAN the training section times",
    )
    parser.add_argument(
        "--scaling-family",
        default="gan",
        choices=list(FAMILIES),
        help="the network trained in the scaling section (default gan)",
    )
    return parser.parse_args(argv)


def _plan(args, gpus):
    """Resolves the defaults that depend on --quick into one settings dict."""
    from benchmarks.inference import PHOTO_SIZES

    quick = args.quick
    repeats = args.repeats if args.repeats is not None else (1 if quick else 3)
    steps = args.steps if args.steps is not None else (2 if quick else 10)
    photo_count = args.photo_count if args.photo_count is not None else (4 if quick else 50)
    if min(args.batch_size, repeats, steps, photo_count) < 1:
        raise BenchError("--batch-size, --repeats, --steps and --photo-count must be positive")
    precisions = args.precisions or (
        ["float32", "mixed_bfloat16"] + (["mixed_float16"] if gpus else [])
    )
    return {
        "quick": quick,
        "image_size": args.image_size or (32 if quick else 128),
        "batch_size": args.batch_size,
        "repeats": repeats,
        "steps": steps,
        "precisions": precisions,
        "presets": ["tiny"] if quick else ["default", "paper"],
        "pipeline_batches": 3 if quick else 30,
        "pipeline_warmup": 2 if quick else 5,
        "matmul_size": 1024 if quick else 2048,
        # --quick leaves out the 12 MP photo here (the colorize run still has one).
        "photo_sizes": list(PHOTO_SIZES[:2] if quick else PHOTO_SIZES),
        "photo_count": photo_count,
        "scaling_family": args.scaling_family,
        "scaling_preset": "tiny" if quick else "default",
    }


def training_specs(items, presets, image_size, batch_size):
    """[(label, family, preset, overrides)] of the networks to time, checked against the size.

    Without --train items: each family at each preset's widths, a width shared
    by two presets timed once. The precision is added per run.
    """
    from keras_colorize.config import ConfigError, make_config
    from keras_colorize.training import families

    base = {"train.image_size": image_size, "train.batch_size": batch_size}
    candidates = []
    if items:
        for item in items:
            family, _, width = item.partition(":")
            if family not in FAMILIES or not width.isdigit():
                raise ConfigError(f"--train expects FAMILY:WIDTH, e.g. gan:32, got {item!r}")
            widths = {"model.width": int(width)}
            if "disc_width" in families.FAMILIES[family].config_fields:  # a discriminator as wide
                widths["model.disc_width"] = int(width)
            candidates.append((f"{presets[0]}, width {width}", family, presets[0], widths))
    else:
        for family in FAMILIES:
            for preset in presets:
                candidates.append((preset, family, preset, {}))
    specs, seen = [], {}
    for label, family, preset, overrides in candidates:
        config = make_config(family, preset, {**base, **overrides})
        stride = families.network_stride(config.model)
        if image_size % stride:
            raise ConfigError(
                f"--image-size {image_size} is not a multiple of the {family} network's stride "
                f"{stride} (preset {preset}); use 128, or --quick"
            )
        if items:
            _check_buildable(config)
        if config.model in seen:  # e.g. regression: default and paper share width 64
            index = seen[config.model]
            old_label, *rest = specs[index]
            specs[index] = (f"{old_label} = {label}", *rest)
            continue
        seen[config.model] = len(specs)
        specs.append((label, family, preset, {**base, **overrides}))
    return specs


def _check_buildable(config):
    """Builds a --train network once, so that a width its builder refuses is a usage error."""
    from keras_colorize.config import ConfigError
    from keras_colorize.training.families import build_float32_trainer

    try:
        build_float32_trainer(config.model, config.train)
    except ValueError as error:
        raise ConfigError(f"--train {config.model.family}: {error}") from None


def _check_data(data_dir, image_size):
    from keras_colorize.data.pipeline import DatasetError, read_manifest

    manifest = read_manifest(data_dir)
    side = min(manifest.get("image_shape", [image_size])[:2])
    if side < image_size:
        raise DatasetError(
            f"{data_dir} stores {side} px images; --image-size {image_size} is larger"
        )


def run_training(data_dir, plan, specs):
    """Matmul peaks, then every spec at every precision; returns (peaks, rows)."""
    from benchmarks import training as bench_training
    from keras_colorize.config import make_config

    dtypes = sorted({bench_training.COMPUTE_DTYPES[p] for p in plan["precisions"]})
    peaks = [
        bench_training.matmul_peak(
            dtype, plan["matmul_size"], warmup=2, repeats=max(3, plan["repeats"])
        )
        for dtype in dtypes
    ]
    peak_by_dtype = {p["dtype"]: p["gflops"] for p in peaks}
    if "float32" in dtypes:  # a second opinion from another library's matmul
        peaks.append({**bench_training.numpy_matmul_peak(plan["matmul_size"]), "cross_check": True})
    rows, flops_cache = [], {}
    for label, family, preset, overrides in specs:
        for precision in plan["precisions"]:
            _progress(f"training {family} ({label}), {precision}")
            config = make_config(family, preset, {**overrides, "train.precision": precision})
            cached = flops_cache.get(config.model)
            row = bench_training.train_throughput(
                data_dir, config, plan["steps"], plan["repeats"], count_flops=cached is None
            )
            if cached is None:
                keys = ("flops_per_image", "flops_by_op_type", "analytic_flops_per_image")
                cached = flops_cache[config.model] = {k: row[k] for k in keys}
            row.update(cached)
            row["preset"] = label
            rows.append(bench_training.add_efficiency(row, peak_by_dtype))
    return peaks, rows


def run_reference(python, plan, training_rows):
    """The PyTorch pix2pix beside every timed GAN; an error is recorded, not raised."""
    from benchmarks import reference as bench_reference

    _progress("training: the PyTorch pix2pix reference (subprocesses)")
    try:
        return {
            "rows": bench_reference.compare(python, training_rows, plan["steps"], plan["repeats"])
        }
    except bench_reference.TorchReferenceError as error:
        return {"error": str(error)}


def run_pipeline(data_dir, plan, training_rows):
    from benchmarks import training as bench_training

    _progress("input pipeline")
    result = bench_training.pipeline_throughput(
        data_dir,
        plan["batch_size"],
        plan["image_size"],
        batches=plan["pipeline_batches"],
        warmup=plan["pipeline_warmup"],
        repeats=max(2, plan["repeats"]),
    )
    if training_rows:
        fastest = max(training_rows, key=lambda row: row["images_per_second"])
        ratio = result["images_per_second"] / fastest["images_per_second"]
        keys = ("family", "preset", "width", "precision", "images_per_second")
        result.update(
            fastest_training={k: fastest[k] for k in keys},
            ratio_to_fastest_training=ratio,
            target_ratio=TARGET_PIPELINE_RATIO,
            passed=ratio >= TARGET_PIPELINE_RATIO,
        )
    return result


def run_inference(model_dir, data_dir, plan, args):
    """Latency per backend and the colorize command; an error is recorded, not raised."""
    from benchmarks import colorize as bench_colorize
    from benchmarks import inference as bench_inference
    from keras_colorize.serving import tflite

    variants = args.tflite_variants
    if variants is None:
        # --quick: one plain and the int8 variant (the two conversion paths), to save time.
        variants = QUICK_TFLITE_VARIANTS if plan["quick"] else tflite.VARIANTS
    with tempfile.TemporaryDirectory(prefix="bench-inference-") as work_dir:
        _progress(f"inference: exports and latency of {model_dir}")
        artefacts = bench_inference.prepare_artefacts(
            model_dir, data_dir, work_dir, variants, args.tflite_size, plan["quick"]
        )
        result = {"model_dir": model_dir, "artefacts": artefacts}
        result["latency"] = bench_inference.latencies(
            artefacts,
            [tuple(s) for s in plan["photo_sizes"]],
            warmup=1,
            repeats=plan["repeats"],
        )
        _progress("inference: the colorize command (fresh processes)")
        models = {".keras": artefacts["keras"]}
        if artefacts["colorizer_tflite"]:
            models[".tflite"] = artefacts["colorizer_tflite"]
        try:
            result["colorize"] = bench_colorize.colorize_runs(
                models,
                work_dir,
                args.photos,
                plan["photo_count"],
                plan["quick"],
                plan["repeats"],
            )
        except bench_colorize.ColorizeRunError as error:
            result["colorize"] = {"error": str(error)}
    return result


def _scaling_args(data_dir, plan):
    return (
        data_dir,
        plan["scaling_family"],
        plan["scaling_preset"],
        plan["image_size"],
        plan["batch_size"],
        "float32",
        plan["steps"],
        plan["repeats"],
    )


def start_scaling(data_dir, plan):
    """--quick: every scaling set-up starts now and runs during the other sections."""
    from benchmarks import scaling as bench_scaling

    _progress("scaling: every set-up started (subprocesses, beside the other sections)")
    return bench_scaling.start(*_scaling_args(data_dir, plan))


def run_scaling(data_dir, plan, started=None):
    """The scaling section: one set-up after another, or the rows of ``started`` set-ups."""
    from benchmarks import scaling as bench_scaling

    if started is None:
        _progress("scaling (subprocesses)")
        rows = bench_scaling.scaling(*_scaling_args(data_dir, plan))
    else:
        _progress("scaling: waiting for the set-ups started at the beginning")
        rows = started.rows()
    result = {
        "family": plan["scaling_family"],
        "preset": plan["scaling_preset"],
        "precision": "float32",
        "rows": rows,
    }
    if started is not None:
        result["concurrent"] = True
    return result


def targets(report):
    """The project's speed targets with PASS/MISS, from whatever sections ran."""
    from benchmarks.colorize import TFLITE_TARGETS, TWELVE_MP
    from benchmarks.inference import size_label

    found = []
    for row in report.get("training", []):
        if row["family"] == "gan" and row["precision"] == "float32" and row.get("fraction_of_peak"):
            found.append(
                {
                    "name": f"GAN float32 training step, {row['preset']} (width {row['width']}), "
                    "fraction of the float32 matmul peak",
                    "value": row["fraction_of_peak"],
                    "target": f">= {TARGET_GAN_FRACTION:.0%}",
                    "passed": row["fraction_of_peak"] >= TARGET_GAN_FRACTION,
                }
            )
    for row in report.get("reference", {}).get("rows", []):
        if row["precision"] == "mixed_bfloat16":
            found.append(
                {
                    "name": f"GAN {row['preset']} (G {row['width']} / D {row['disc_width']}), "
                    "our mixed_bfloat16 images/s over the PyTorch pix2pix's float32 images/s",
                    "value": row["ratio_to_float32"],
                    "target": "> 1",
                    "passed": row["ratio_to_float32"] > 1,
                }
            )
    pipeline = report.get("pipeline", {})
    if "ratio_to_fastest_training" in pipeline:
        found.append(
            {
                "name": "input pipeline images/s over the fastest training images/s",
                "value": pipeline["ratio_to_fastest_training"],
                "target": f">= {TARGET_PIPELINE_RATIO:g}",
                "passed": pipeline["passed"],
            }
        )
    inference = report.get("inference", {})
    keras_row = next((r for r in inference.get("latency", []) if r["backend"] == ".keras"), None)
    twelve_mp = keras_row and keras_row["latency_ms"].get(size_label(TWELVE_MP))
    if twelve_mp:
        # The photo's own time in process, held to the goal of the command's own clock.
        (goal,) = [g for measure, g, _ in TFLITE_TARGETS[TWELVE_MP] if measure == "photo_seconds"]
        found.append(
            {
                "name": f"12 MP photo ({size_label(TWELVE_MP)}) through colorize_images with the "
                ".keras model, in process, seconds",
                "value": twelve_mp / 1000.0,
                "target": f"<= {goal:g} s",
                "passed": twelve_mp / 1000.0 <= goal,
            }
        )
    for row in inference.get("colorize", {}).get("photos", []):
        for target in row["targets"]:
            found.append(
                {
                    "name": f"{row['photo']} photo ({row['megapixels']:.0f} MP) through the "
                    f"colorize command with the {row['model']} model, fresh process, "
                    f"{target['label']}",
                    "value": target["value"],
                    "target": f"<= {target['goal']:g}",
                    "passed": target["passed"],
                }
            )
    return found


def _errors(report):
    errors = []
    inference = report.get("inference", {})
    for part in (report.get("reference", {}), inference, inference.get("colorize", {})):
        if "error" in part:
            errors.append(part["error"])
    for row in report.get("scaling", {}).get("rows", []):
        if "error" in row:
            errors.append(f"{row['setup']}: {row['error']}")
    return errors


def write_report(report, out_dir):
    from benchmarks.report import markdown

    text = markdown(report)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, BENCH_JSON), "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=1)
            handle.write("\n")
        with open(os.path.join(out_dir, BENCH_MD), "w", encoding="utf-8") as handle:
            handle.write(text)
    return text


def _prepare(args):
    """Checks every input before anything is measured; returns (machine, plan, specs, model_dir,
    reason to skip inference or None). Raises BenchError, ConfigError or DatasetError."""
    from benchmarks.inference import check_model_dir, default_model_dir
    from keras_colorize.serving import tflite

    machine = describe_machine()
    plan = _plan(args, machine["gpus"])
    _check_data(args.data, plan["image_size"])
    specs = training_specs(args.train, plan["presets"], plan["image_size"], args.batch_size)
    unknown = set(args.tflite_variants or ()) - set(tflite.VARIANTS)
    if unknown:
        raise BenchError(
            f"unknown TFLite variants {sorted(unknown)}; expected some of "
            + ", ".join(tflite.VARIANTS)
        )
    if args.torch_python and "training" in args.sections:
        from benchmarks.reference import TorchReferenceError, check_python

        try:
            check_python(args.torch_python)
        except TorchReferenceError as error:
            raise BenchError(str(error)) from None
    if args.photos and not os.path.isdir(args.photos):
        raise BenchError(f"--photos {args.photos} is not a folder")
    model_dir = args.model_dir or default_model_dir()
    if model_dir is None:
        return machine, plan, specs, None, "no model: pass --model-dir (a run dir)"
    problem = check_model_dir(model_dir)
    if problem and args.model_dir and "inference" in args.sections:
        raise BenchError(problem)
    return machine, plan, specs, model_dir, problem


def main(argv=None):
    """Runs the sections; returns 0, 1 if a section failed to measure, 2 for a usage error."""
    _CLOCK["start"] = time.perf_counter()
    args = parse_args(argv)
    from keras_colorize.config import ConfigError
    from keras_colorize.data.pipeline import DatasetError

    sections = set(args.sections)
    try:
        machine, plan, specs, model_dir, skip_inference = _prepare(args)
    except (cli.UsageError, ConfigError, DatasetError) as error:
        return cli.report(PROG, error)

    from benchmarks import flops as bench_flops

    report = {
        "quick": plan["quick"],
        "machine": machine,
        "settings": plan,
        "methods": {
            "median": "every figure is the median over timed repeats after untimed warm-up",
            "flops": bench_flops.ANALYTIC_METHOD,
            "flops_cross_check": bench_flops.COUNTED_METHOD,
        },
    }
    report["seconds"] = {}
    # --quick: the scaling set-ups (fresh processes) start now and run beside the other sections.
    started = start_scaling(args.data, plan) if "scaling" in sections and plan["quick"] else None
    try:
        if "training" in sections:
            with _timed(report, "training"):
                report["matmul_peak"], report["training"] = run_training(args.data, plan, specs)
                if args.torch_python:
                    report["reference"] = run_reference(args.torch_python, plan, report["training"])
        if "pipeline" in sections:
            with _timed(report, "pipeline"):
                report["pipeline"] = run_pipeline(args.data, plan, report.get("training"))
        if "inference" in sections:
            with _timed(report, "inference"):
                if skip_inference:
                    report["inference"] = {"skipped": skip_inference}
                else:
                    try:
                        report["inference"] = run_inference(model_dir, args.data, plan, args)
                    except Exception as error:  # export and loading raise many types
                        message = cli.error_line(error, 300)
                        report["inference"] = {"model_dir": model_dir, "error": message}
        if "scaling" in sections:
            with _timed(report, "scaling"):
                report["scaling"] = run_scaling(args.data, plan, started)
    finally:
        if started is not None:
            started.close()  # only matters when a section raised: rows() has waited for them
    report["targets"] = targets(report)
    report["errors"] = _errors(report)
    print(write_report(report, args.out))
    for error in report["errors"]:
        print(f"{PROG}: error: {error}", file=sys.stderr)
    return SECTION_FAILED if report["errors"] else 0


@contextlib.contextmanager
def _timed(report, section):
    """Records the section's wall time in report["seconds"]."""
    start = time.perf_counter()
    yield
    report["seconds"][section] = time.perf_counter() - start


if __name__ == "__main__":
    sys.exit(main())
