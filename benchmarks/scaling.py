"""Training throughput under tf.distribute: 1 vs 2 logical CPU devices, and 2 local workers.

Logical devices and collective ops must be configured before TensorFlow
starts, so every set-up runs in fresh processes, each this module's worker:

    python -m benchmarks.scaling --data D --family gan --preset default \\
        --image-size 128 --batch-size 16 --mode mirrored --replicas 2

prints one JSON line with its images/second (median over timed epochs after a
warm-up epoch, on cached batches). ``mirrored`` trains with ``fit`` under
MirroredStrategy over ``--replicas`` logical CPU devices (distribute.split_cpu);
``multiworker`` is one worker of a MultiWorkerMirroredStrategy cluster read
from TF_CONFIG, training with distribute.custom_fit, the loop fit.py uses for
multi-worker runs. The global batch is the same in every set-up.

``scaling`` runs the set-ups one after another; ``start`` launches them all at
once and returns while they run (bench --quick: they then overlap with each
other and with the benchmark's other sections, so their figures mean nothing).
"""

import argparse
import json
import statistics
import sys
import tempfile

from benchmarks.process import child_env, python_module, start_children
from keras_colorize.config import FAMILIES
from keras_colorize.training.distribute import local_worker_addresses

MODULE = "benchmarks.scaling"
# TensorFlow's ops on one thread (start: set-ups sharing the machine).
ONE_THREAD = {"TF_NUM_INTRAOP_THREADS": "1", "OMP_NUM_THREADS": "1"}
SETUPS = (
    ("MirroredStrategy, 1 CPU device", "mirrored", 1),
    ("MirroredStrategy, 2 logical CPU devices", "mirrored", 2),
    ("MultiWorkerMirroredStrategy, 2 local workers", "multiworker", 2),
)


def _worker_args(data_dir, family, preset, image_size, batch_size, precision, steps, repeats):
    return [
        "--data", data_dir, "--family", family, "--preset", preset,
        "--image-size", image_size, "--batch-size", batch_size, "--precision", precision,
        "--steps", steps, "--repeats", repeats,
    ]  # fmt: skip


def _parse(result):
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        return {"error": result.error_line()}
    return json.loads(lines[-1])


def _start(common, mode, replicas, timeout, extra_env=None):
    """Starts one set-up's process(es); returns (workers, Children)."""
    extra_env = extra_env or {}
    if mode == "mirrored":
        command = python_module(MODULE, *common, "--mode", mode, "--replicas", replicas)
        return 1, start_children([(command, child_env(extra_env))], timeout)
    cluster = {"worker": local_worker_addresses(replicas)}
    command = python_module(MODULE, *common, "--mode", mode)
    commands = []
    for index in range(replicas):
        config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        commands.append((command, child_env({**extra_env, "TF_CONFIG": json.dumps(config)})))
    return replicas, start_children(commands, timeout)


def _row(label, mode, replicas, workers, results):
    # The chief's figure (all workers time the same collective steps).
    row = {"setup": label, "strategy": mode, "replicas": replicas, "workers": workers}
    row.update(_parse(results[0]))
    failed = [r for r in results[1:] if r.returncode != 0]
    if failed and "error" not in row:
        row["error"] = failed[0].error_line()
    return row


def _with_speedups(rows):
    base = rows[0].get("images_per_second")
    for row in rows:
        if base and row.get("images_per_second"):
            row["speedup"] = row["images_per_second"] / base
    return rows


def scaling(
    data_dir,
    family,
    preset,
    image_size,
    batch_size,
    precision="float32",
    steps=10,
    repeats=3,
    timeout=900,
):
    """Images/second of each set-up in SETUPS, each in its own process(es), one after another.

    Returns:
        list of rows: setup, strategy, replicas, workers, global_batch,
        images_per_second, repeats (or error), speedup against 1 device.
    """
    common = _worker_args(
        data_dir, family, preset, image_size, batch_size, precision, steps, repeats
    )
    rows = []
    for label, mode, replicas in SETUPS:
        workers, children = _start(common, mode, replicas, timeout)
        rows.append(_row(label, mode, replicas, workers, children.wait()))
    return _with_speedups(rows)


class Started:
    """Every set-up of SETUPS running at once (start); ``rows`` waits for them."""

    def __init__(self, started):
        self._started = started  # [(label, mode, replicas, workers, Children)]

    def rows(self):
        """The rows scaling() returns, once every set-up has ended."""
        rows = [
            _row(label, mode, replicas, workers, children.wait())
            for label, mode, replicas, workers, children in self._started
        ]
        return _with_speedups(rows)

    def close(self):
        """Kills the set-ups still running (rows() has no need of this)."""
        for *_, children in self._started:
            children.close()


def start(
    data_dir,
    family,
    preset,
    image_size,
    batch_size,
    precision="float32",
    steps=10,
    repeats=3,
    timeout=900,
):
    """Starts every set-up of SETUPS at once and returns a Started; nothing is waited for.

    The set-ups then share the machine with each other and with whatever the
    caller runs meanwhile, so their figures mean nothing: for bench --quick,
    which only keeps the command working, at a fraction of the wall time. Each
    process runs TensorFlow's ops on one thread (ONE_THREAD), so that they crowd
    the caller less.
    """
    common = _worker_args(
        data_dir, family, preset, image_size, batch_size, precision, steps, repeats
    )
    started = []
    try:
        for label, mode, replicas in SETUPS:
            started.append(
                (label, mode, replicas, *_start(common, mode, replicas, timeout, ONE_THREAD))
            )
    except BaseException:
        Started(started).close()
        raise
    return Started(started)


def _worker_main(argv):
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--family", required=True, choices=FAMILIES)
    parser.add_argument("--preset", default="default")
    parser.add_argument("--image-size", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mode", choices=["mirrored", "multiworker"], required=True)
    parser.add_argument("--replicas", type=int, default=1)
    args = parser.parse_args(argv)

    from keras_colorize.training.distribute import make_strategy, split_cpu

    # Before anything initialises TensorFlow's devices.
    if args.mode == "multiworker":
        strategy = make_strategy("multiworker")
    else:
        if args.replicas > 1:
            split_cpu(args.replicas)
        strategy = make_strategy("mirrored")

    import keras

    from benchmarks.training import (
        build_bench_trainer,
        cached_batches,
        epoch_timer,
        load_prior,
    )
    from keras_colorize.config import make_config
    from keras_colorize.training.distribute import custom_fit

    keras.mixed_precision.set_global_policy(args.precision)
    overrides = {
        "train.image_size": args.image_size,
        "train.batch_size": args.batch_size,
        "train.precision": args.precision,
    }
    config = make_config(args.family, args.preset, overrides)
    with strategy.scope():
        trainer = build_bench_trainer(config, load_prior(args.data, config.model))
    epochs = 1 + args.repeats
    if args.mode == "mirrored":
        timer = epoch_timer()
        batches = cached_batches(args.data, args.batch_size, args.image_size)
        trainer.fit(
            batches,
            epochs=epochs,
            steps_per_epoch=args.steps,
            callbacks=[timer],
            shuffle=False,
            verbose=0,
        )
        seconds = timer.seconds[1:]
    else:

        def dataset_fn(context):
            per_replica = context.get_per_replica_batch_size(args.batch_size)
            return cached_batches(args.data, per_replica, args.image_size, context)

        with tempfile.TemporaryDirectory(prefix="bench-multiworker-") as run_dir:
            history = custom_fit(
                trainer,
                strategy,
                dataset_fn,
                epochs,
                args.steps,
                run_dir,
                checkpoint_every=epochs + 1,  # no checkpoints: they are not timed
                verbose=0,
            )
        seconds = history["seconds"][1:]
    rates = [args.steps * args.batch_size / s for s in seconds]
    result = {
        "global_batch": args.batch_size,
        "replicas_in_sync": strategy.num_replicas_in_sync,
        "images_per_second": statistics.median(rates),
        "repeats": rates,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
