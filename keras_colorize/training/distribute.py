"""tf.distribute strategies, and the custom loop used under MultiWorkerMirroredStrategy.

Keras 3.15's `fit` fails under MultiWorkerMirroredStrategy ("Attempt to
convert a value (PerReplica...)", tests/test_distribute.py), so multi-worker
training runs its own loop: `strategy.run(trainer.train_step, ...)`, i.e. the
very same per-step code that `fit` runs, with the same callbacks' outputs
(checkpoints, CSV log, final model) written by the chief only. Unlike `fit`'s
BackupAndRestore, this loop does not resume an interrupted run.

Measured with Keras 3.15 on tf.distribute (tests/test_distribute.py):
- gradients are summed over replicas, so each replica's loss is its batch mean
  divided by `num_replicas_in_sync` (the trainers do; Keras' compiled losses too);
- BatchNorm moving statistics are MirroredVariables with aggregation NONE: each
  replica updates its own copy from its own batches and reads or saves return
  the first local replica's, so copies differ between replicas and workers;
- metric variables are sync-on-read: reading one is an all-reduce.
"""

import csv
import json
import os
import socket
import time

import keras
import tensorflow as tf

from keras_colorize import artifacts as A


class StrategyError(ValueError):
    """The requested strategy cannot run here; one-line message."""


def make_strategy(requested):
    """'auto' -> MirroredStrategy over 2+ GPUs, else the default (one device) strategy.

    'mirrored' mirrors over all local GPUs, or all logical CPU devices when
    there is no GPU; 'multiworker' reads the cluster from TF_CONFIG.
    """
    if requested == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise StrategyError("--strategy multiworker needs the TF_CONFIG environment variable")
        # Before anything that initialises the TF context (listing logical devices
        # does): collective ops can only be configured at program startup.
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if requested == "mirrored":
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if requested == "auto" and len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def split_cpu(replicas):
    """Splits the CPU into `replicas` logical devices (before TensorFlow starts using it).

    Lets MirroredStrategy run, and be tested and benchmarked, on a machine
    without GPUs.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * replicas
    )


def local_worker_addresses(count):
    """`count` "127.0.0.1:PORT" addresses free right now, for a cluster of local workers.

    The sockets are held open together while choosing, so the ports differ.
    """
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [f"127.0.0.1:{sock.getsockname()[1]}" for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _task():
    """(type, index) of this process in TF_CONFIG; ("worker", 0) without one."""
    task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
    return task.get("type", "worker"), int(task.get("index", 0))


def is_chief():
    """True on the worker that writes outputs (task 0 of 'worker', or 'chief')."""
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    kind, index = _task()
    return kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)


def writes_run_dir(strategy_name):
    """False only on a non-chief worker of a multi-worker run: the chief alone writes the
    run dir (config.json, checkpoints, losses.csv, colorizer.keras)."""
    return strategy_name != "multiworker" or is_chief()


def worker_dir(run_dir):
    """Where this worker writes: `run_dir` on the chief, else its scratch `run_dir/.worker-N`.

    The other workers' copies (losses.csv, checkpoints) are identical to the
    chief's except for BatchNorm moving statistics, which Keras 3 keeps per
    replica; nothing needs them, but they show that the workers agree.
    """
    if is_chief():
        return run_dir
    kind, index = _task()
    return os.path.join(run_dir, f".{kind}-{index}")


def custom_fit(
    trainer, strategy, dataset_fn, epochs, steps_per_epoch, run_dir, checkpoint_every=1, verbose=1
):
    """Trains `trainer` with `strategy.run(trainer.train_step)` for epochs x steps.

    Every worker runs this loop in lockstep: each step all-reduces the
    gradients, and reading a metric all-reduces its (sync-on-read) variables,
    so all workers read the same metrics in the same order, whatever their
    verbosity (a worker that skipped a read would pair its next collective with
    another worker's read and fail). Saving weights reads only local copies.

    Args:
        trainer: a compiled trainer built under `strategy.scope()`.
        dataset_fn: input_context -> repeated tf.data.Dataset of per-replica batches.
        run_dir: where the chief writes losses.csv and checkpoints (see worker_dir).

    Returns:
        dict of lists, like History.history; the metrics are global (all workers).
    """
    dataset = strategy.distribute_datasets_from_function(dataset_fn)
    iterator = iter(dataset)

    @tf.function
    def train_step():
        strategy.run(trainer.train_step, args=(next(iterator),))

    chief = is_chief()
    out_dir = worker_dir(run_dir)
    os.makedirs(out_dir, exist_ok=True)
    csv_path = os.path.join(out_dir, A.LOSSES_FILE)
    if os.path.exists(csv_path):
        # No resume here (unlike fit's BackupAndRestore): training restarts from
        # scratch, so the rows of an interrupted earlier attempt no longer apply.
        os.remove(csv_path)
    history = {}
    for epoch in range(epochs):
        for metric in trainer.metrics:
            metric.reset_state()
        progress = keras.utils.Progbar(steps_per_epoch, verbose=verbose if chief else 0)
        start = time.perf_counter()
        for step in range(steps_per_epoch):
            train_step()
            logs = {m.name: float(m.result()) for m in trainer.metrics}
            progress.update(step + 1, list(logs.items()))
        logs["seconds"] = time.perf_counter() - start
        for name, value in logs.items():
            history.setdefault(name, []).append(value)
        _append_csv(csv_path, epoch, logs)
        if (epoch + 1) % checkpoint_every == 0:
            folder = os.path.join(out_dir, A.CHECKPOINT_DIR)
            os.makedirs(folder, exist_ok=True)
            trainer.save_weights(os.path.join(folder, A.CHECKPOINT_NAME.format(epoch=epoch + 1)))
    return history


def _append_csv(path, epoch, logs):
    new = not os.path.exists(path)
    with open(path, "a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(["epoch", *logs])
        writer.writerow([epoch, *logs.values()])
