"""`python -m keras_colorize.bench`: throughput figures, each a median over repeats after warm-up.

Measures the input pipeline (make_dataset alone: how many training images per
second it can hand to a model) and the training step of each family, through
`fit` on batches cached in memory so that only the model is timed.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

USAGE_ERROR = 2


def describe_machine():
    """CPU model, core count and library versions, for the top of every report."""
    import keras
    import tensorflow as tf

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
        "gpus": len(tf.config.list_physical_devices("GPU")),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def pipeline_throughput(data_dir, batch_size, image_size=None, batches=20, warmup=5, repeats=3):
    """Images/second of make_dataset's training stream (decode, augment, Lab, batch).

    Returns:
        dict with the median and every repeat's images/second.
    """
    from keras_colorize.data.pipeline import make_dataset

    dataset = make_dataset(data_dir, "train", batch_size, image_size=image_size, repeat=True)
    iterator = iter(dataset)
    for _ in range(warmup):
        next(iterator)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(batches):
            next(iterator)
        rates.append(batches * batch_size / (time.perf_counter() - start))
    return {
        "images_per_second": statistics.median(rates),
        "repeats": rates,
        "batch_size": batch_size,
        "batches_per_repeat": batches,
    }


class _EpochTimer:
    """Collects each epoch's wall time (a keras callback, built lazily to keep imports light)."""

    def __new__(cls):
        import keras

        class Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.seconds = []

            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.seconds.append(time.perf_counter() - self.start)

        return Timer()


def train_throughput(
    data_dir, family, precision, width, batch_size=16, image_size=128, steps=10, repeats=3
):
    """Training images/second of one family through `fit`, median over `repeats` epochs.

    The first epoch (tracing, warm-up) is not counted. Batches come from the
    real pipeline, cached in memory, so the figure is the model's alone.
    """
    import keras
    import numpy as np

    from keras_colorize.config import make_config
    from keras_colorize.data import schema
    from keras_colorize.data.pipeline import make_dataset
    from keras_colorize.trainers import build_trainer, compile_trainer

    overrides = {
        "model.width": width,
        "train.batch_size": batch_size,
        "train.image_size": image_size,
        "train.precision": precision,
    }
    if family == "gan":
        overrides["model.disc_width"] = width
    config = make_config(family, "default", overrides)
    prior = (
        np.load(os.path.join(data_dir, schema.PRIOR_FILE)) if family == "classification" else None
    )
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        trainer = compile_trainer(build_trainer(config.model, config.train, prior), config.train)
        batches = make_dataset(data_dir, "train", batch_size, image_size=image_size, repeat=True)
        batches = batches.take(4).cache().repeat()
        timer = _EpochTimer()
        trainer.fit(
            batches, epochs=1 + repeats, steps_per_epoch=steps, callbacks=[timer], verbose=0
        )
    finally:
        keras.mixed_precision.set_global_policy(previous)
    rates = [steps * batch_size / s for s in timer.seconds[1:]]
    return {
        "family": family,
        "width": width,
        "precision": precision,
        "batch_size": batch_size,
        "image_size": image_size,
        "images_per_second": statistics.median(rates),
        "repeats": rates,
    }


def _markdown(report):
    machine = report["machine"]
    pipeline = report["pipeline"]
    lines = [
        "# keras-colorize benchmark",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['gpus']} GPUs; "
        f"Python {machine['python']}, TensorFlow {machine['tensorflow']}, "
        f"Keras {machine['keras']}.",
        "",
        "## Input pipeline (make_dataset, training split, augmentation on)",
        "",
        "| batch | images/s (median) | repeats |",
        "|---|---|---|",
        f"| {pipeline['batch_size']} | {pipeline['images_per_second']:.0f} | "
        + ", ".join(f"{r:.0f}" for r in pipeline["repeats"])
        + " |",
        "",
    ]
    if report.get("training"):
        lines += [
            "## Training step (fit, batches cached in memory)",
            "",
            "| family | width | precision | batch | size | images/s (median) |",
            "|---|---|---|---|---|---|",
        ]
        for row in report["training"]:
            lines.append(
                f"| {row['family']} | {row['width']} | {row['precision']} | {row['batch_size']} | "
                f"{row['image_size']} | {row['images_per_second']:.1f} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m keras_colorize.bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--data", required=True, help="a data_prep output folder")
    parser.add_argument("--out", help="write bench.json and bench.md here")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--quick", action="store_true", help="few batches, few repeats (a smoke run)"
    )
    parser.add_argument(
        "--train",
        nargs="*",
        default=[],
        metavar="FAMILY:WIDTH",
        help="also time training steps, e.g. regression:64 gan:32",
    )
    parser.add_argument(
        "--precisions", nargs="+", default=["float32", "mixed_bfloat16"], help="for --train"
    )
    args = parser.parse_args(argv)

    from keras_colorize.config import ConfigError
    from keras_colorize.data.pipeline import DatasetError

    batches, repeats = (3, 2) if args.quick else (30, args.repeats)
    steps, train_repeats = (2, 1) if args.quick else (10, 3)
    training = []
    try:
        pipeline = pipeline_throughput(
            args.data, args.batch_size, args.image_size, batches=batches, repeats=repeats
        )
        for item in args.train:
            family, _, width = item.partition(":")
            if not width.isdigit():
                raise ConfigError(f"--train expects FAMILY:WIDTH, e.g. gan:32, got {item!r}")
            for precision in args.precisions:
                row = train_throughput(
                    args.data,
                    family,
                    precision,
                    int(width),
                    batch_size=args.batch_size,
                    image_size=args.image_size or 128,
                    steps=steps,
                    repeats=train_repeats,
                )
                training.append(row)
    except (DatasetError, ConfigError) as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    report = {"machine": describe_machine(), "pipeline": pipeline, "training": training}
    text = _markdown(report)
    print(text)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "bench.json"), "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=1)
        with open(os.path.join(args.out, "bench.md"), "w", encoding="utf-8") as handle:
            handle.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
