"""`python -m keras_colorize.bench`: throughput figures, each a median over repeats after warm-up.

For now it measures the input pipeline (make_dataset alone): how many
training images per second it can hand to a model. Training consumes about
15-60 images/s on this project's 2-core CPU, so the pipeline must out-run that
by a wide margin.
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
    args = parser.parse_args(argv)

    from keras_colorize.data.pipeline import DatasetError

    batches, repeats = (3, 2) if args.quick else (30, args.repeats)
    try:
        pipeline = pipeline_throughput(
            args.data, args.batch_size, args.image_size, batches=batches, repeats=repeats
        )
    except DatasetError as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    report = {"machine": describe_machine(), "pipeline": pipeline}
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
