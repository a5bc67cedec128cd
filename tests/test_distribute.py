"""Distributed training: MirroredStrategy and MultiWorkerMirroredStrategy, for real.

Every scenario needs a fresh TensorFlow process: logical CPU devices and
collective ops can only be configured before TensorFlow initialises. So the
tests run subprocesses: `python -m keras_colorize.fit`, or this file itself
(`python tests/test_distribute.py step-equivalence DATASET`) for the
one-step comparison. The two single-process scenarios (1 and 2) run at once,
in the background from the module's first test (single_process_runs).
"""

import csv
import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import BackgroundCommands, command_result, start_with_first_test

from keras_colorize.training.distribute import local_worker_addresses

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAMILIES = ("regression", "classification", "gan")
SIZE = 32  # tiny crops: the GAN's 5 downsamplings reach 1x1
LEARNING_RATE = 0.05
# Largest allowed |w(2 replicas) - w(1 replica)| relative to the step |w(1 replica) - w0|.
# A per-replica loss summed instead of averaged (x2) or divided twice (x0.5) gives a
# relative difference of 1 or 0.5 with plain SGD; float summation order gives < 1e-4.
RELATIVE_TOLERANCE = 1e-3


def _env():
    """The workers' environment: the checkout importable, less TF log noise, and one thread
    for TensorFlow's ops in each (two workers on two cores would otherwise run four)."""
    paths = [ROOT, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths), TF_CPP_MIN_LOG_LEVEL="2")
    env.update(TF_NUM_INTRAOP_THREADS="1", OMP_NUM_THREADS="1")
    env.pop("TF_CONFIG", None)
    return env


def _tail(text, lines=40):
    return "\n".join(text.splitlines()[-lines:])


# ---------------------------------------------------------------------------
# 1. One step under MirroredStrategy (2 replicas) == one step with 1 replica.
# ---------------------------------------------------------------------------


def _tiny_trainer(family, prior):
    """The family's trainer at width 4, no dropout, built and compiled with plain SGD.

    SGD because its step is proportional to the gradient: Adam normalises the
    gradient's scale away and would hide a per-replica loss scaled x2.
    """
    import keras

    from keras_colorize.config import make_config
    from keras_colorize.training.families import build_trainer
    from keras_colorize.training.trainers import GANTrainer

    overrides = {"model.width": 4, "model.disc_width": 4, "model.dropout": 0.0}
    config = make_config(family, "tiny", {**overrides, "train.image_size": SIZE})
    trainer = build_trainer(config.model, config.train, prior)
    if isinstance(trainer, GANTrainer):
        trainer.compile(keras.optimizers.SGD(LEARNING_RATE), keras.optimizers.SGD(LEARNING_RATE))
    else:
        trainer.compile(keras.optimizers.SGD(LEARNING_RATE))
    trainer.build_variables(SIZE)
    return trainer


def _step_equivalence_main(dataset):
    """Subprocess body: prints {family: comparison} as one JSON line."""
    from keras_colorize.training.distribute import split_cpu

    split_cpu(2)  # before anything initialises TensorFlow
    import keras
    import tensorflow as tf

    from keras_colorize.data.pipeline import make_dataset

    keras.mixed_precision.set_global_policy("float32")
    tf.config.experimental.enable_op_determinism()
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    prior = np.load(os.path.join(dataset, "ab_prior.npy"))
    # Two identical halves: each replica's BatchNorm batch statistics then equal
    # the global batch's, so 1 and 2 replicas must compute the very same step.
    half = next(iter(make_dataset(dataset, "train", 2, image_size=SIZE, training=False)))
    batch = tuple(tf.concat([x, x], axis=0) for x in half)

    results = {}
    for family in FAMILIES:
        keras.utils.set_random_seed(0)
        initial = None
        after = {}
        for replicas, strategy in ((1, tf.distribute.get_strategy()), (2, mirrored)):
            with strategy.scope():
                trainer = _tiny_trainer(family, prior)
                if initial is None:
                    initial = [np.array(w) for w in trainer.get_weights()]
                else:
                    trainer.set_weights(initial)
            assert trainer.distribute_strategy.num_replicas_in_sync == replicas
            data = tf.data.Dataset.from_tensors(batch).repeat()
            # fit, the path users run: Keras splits the global batch of 4 over the replicas.
            trainer.fit(data, epochs=1, steps_per_epoch=1, shuffle=False, verbose=0)
            after[replicas] = trainer.get_weights()
        results[family] = _compare(_weight_groups(trainer), initial, after[1], after[2])
    print(json.dumps(results))


def _weight_groups(trainer):
    """A label per weight of trainer.get_weights(): which network, trained or BN statistics.

    Grouped because a scaling bug in one network (say the GAN's discriminator)
    must not hide among another network's larger steps.
    """
    other = getattr(trainer, "discriminator", None)
    discriminator = {id(w) for w in other.weights} if other is not None else set()
    labels = []
    for weight in trainer.weights:
        network = "discriminator" if id(weight) in discriminator else "network"
        labels.append(f"{network} {'trainable' if weight.trainable else 'moving statistics'}")
    return labels


def _compare(labels, w0, w1, w2):
    """Per group: the norm of the 1-replica step (w1 - w0) and of the difference w2 - w1."""
    sums = {}
    for label, a, b, c in zip(labels, w0, w1, w2, strict=True):
        step, difference = sums.setdefault(label, [0.0, 0.0])
        sums[label] = [
            step + float(np.sum((b - a).astype(np.float64) ** 2)),
            difference + float(np.sum((c - b).astype(np.float64) ** 2)),
        ]
    return {k: {"step": math.sqrt(s), "difference": math.sqrt(d)} for k, (s, d) in sums.items()}


@pytest.fixture(scope="module")
def single_process_runs(small_dataset, tmp_path_factory):
    """Futures of (exit code, stdout, stderr) of the step comparison ("step") and of the CLI
    under MirroredStrategy ("mirrored", its run dir "mirrored_run"), both started at once."""
    commands = BackgroundCommands(lanes=2, timeout=300, threads=1)
    step = commands.start(
        [sys.executable, os.path.abspath(__file__), "step-equivalence", small_dataset]
    )
    # The GAN (two optimizers, custom train_step); 2 epochs, because from the
    # second epoch on Keras' evaluate re-reads its validation iterator.
    run_dir = str(tmp_path_factory.mktemp("mirrored") / "run")
    mirrored = commands.python_module(
        "keras_colorize.fit", "--model", "gan", "--preset", "tiny",
        "--data", small_dataset, "--run-dir", run_dir, "--epochs", "2",
        "--strategy", "mirrored", "--cpu-replicas", "2", "--quiet",
        "--set", "train.write_tflite=false",
    )  # fmt: skip
    yield {"step": step, "mirrored": mirrored, "mirrored_run": run_dir}
    commands.close()


@pytest.fixture(scope="module", autouse=True)
def start_single_process_runs(request):
    start_with_first_test(request, "single_process_runs")


@pytest.fixture(scope="module")
def step_comparison(single_process_runs):
    code, stdout, report = command_result(single_process_runs["step"])
    assert code == 0, report
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_mirrored_step_equals_single_replica_step(step_comparison, family):
    """Same initial weights, same global batch, plain SGD: one fit step with 2 replicas
    must update every weight as one step with 1 replica does."""
    groups = step_comparison[family]
    expected = {"network trainable", "network moving statistics"}
    if family == "gan":
        expected |= {"discriminator trainable", "discriminator moving statistics"}
    assert set(groups) == expected
    for label, values in groups.items():
        # The step itself is large against the tolerance, so a gradient scaled x2
        # (difference == step) or x0.5 (difference == step / 2) could not pass.
        assert values["step"] > 1e-3, (label, values)
        assert values["difference"] <= RELATIVE_TOLERANCE * values["step"], (family, label, values)


# ---------------------------------------------------------------------------
# 2. The CLI under MirroredStrategy over 2 logical CPU devices.
# ---------------------------------------------------------------------------


def _read_losses(run_dir):
    """losses.csv -> list of {column: float} rows; asserts every value is finite."""
    with open(os.path.join(run_dir, "losses.csv"), newline="", encoding="utf-8") as handle:
        rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    for row in rows:
        assert all(math.isfinite(v) for v in row.values()), row
    return rows


@pytest.mark.slow
def test_fit_cli_mirrored_two_cpu_replicas(single_process_runs):
    run_dir = single_process_runs["mirrored_run"]  # the command is in single_process_runs
    code, stdout, report = command_result(single_process_runs["mirrored"])
    assert code == 0, report
    assert "2 replica(s)" in stdout
    assert os.path.exists(os.path.join(run_dir, "colorizer.keras"))
    rows = _read_losses(run_dir)
    assert [row["epoch"] for row in rows] == [0, 1]
    assert {"g_loss", "d_loss", "l1", "val_l1"} <= set(rows[0])


# ---------------------------------------------------------------------------
# 3. MultiWorkerMirroredStrategy: two local worker processes.
# ---------------------------------------------------------------------------

MULTIWORKER_EPOCHS = 2


def _run_worker_pair(family, dataset, run_dir, log_dir, timeout=240):
    """Runs the two workers of one cluster concurrently; returns [(returncode, stdout, stderr)].

    Both get the same --run-dir, as on a shared file system: the chief owns it,
    the other worker writes only into run_dir/.worker-1. Output goes to files
    (a full pipe would stall a worker while the other waits for it).
    """
    cluster = {"worker": local_worker_addresses(2)}
    command = [
        sys.executable, "-m", "keras_colorize.fit", "--model", family, "--preset", "tiny",
        "--data", dataset, "--run-dir", run_dir, "--strategy", "multiworker",
        "--set", "train.steps_per_epoch=2", "--epochs", str(MULTIWORKER_EPOCHS), "--quiet",
        "--set", "train.write_tflite=false",
    ]  # fmt: skip
    logs = [(os.path.join(log_dir, f"{i}.out"), os.path.join(log_dir, f"{i}.err")) for i in (0, 1)]
    processes = []
    for index, (out, err) in enumerate(logs):
        env = _env()
        task = {"type": "worker", "index": index}
        env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": task})
        with open(out, "w") as stdout, open(err, "w") as stderr:
            processes.append(
                subprocess.Popen(command, cwd=ROOT, env=env, stdout=stdout, stderr=stderr)
            )
    deadline = time.monotonic() + timeout
    try:
        while any(p.poll() is None for p in processes):
            # A worker whose partner failed or hangs would wait for it in a collective.
            if any(p.returncode for p in processes) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    results = []
    for process, (out, err) in zip(processes, logs, strict=True):
        with open(out) as stdout, open(err) as stderr:
            results.append((process.returncode, stdout.read(), stderr.read()))
    return results


def _checkpoint_state(run_dir, checkpoint, dataset):
    """[(path, value)] of a checkpoint's trainable weights and optimizer variables."""
    import keras

    from keras_colorize.config import load_config
    from keras_colorize.training.families import build_trainer
    from keras_colorize.training.trainers import GANTrainer

    config = load_config(os.path.join(run_dir, "config.json"))
    prior = np.load(os.path.join(dataset, "ab_prior.npy"))
    size = config.train.image_size
    # float32 variables whatever the run's policy: mixed policies keep float32 weights too.
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        trainer = build_trainer(config.model, config.train, prior).compile_for(config.train)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    trainer.build_variables(size)
    optimizer_variables = trainer.optimizer.variables
    if isinstance(trainer, GANTrainer):
        optimizer_variables = optimizer_variables + trainer.d_optimizer.variables
    trainer.load_weights(checkpoint)
    # A list, compared by position: a second trainer in this process gets other layer names.
    return [(v.path, v.numpy()) for v in trainer.trainable_weights + optimizer_variables]


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_fit_cli_multiworker_two_local_workers(small_dataset, tmp_path, family):
    run_dir = str(tmp_path / "run")
    results = _run_worker_pair(family, small_dataset, run_dir, str(tmp_path))
    killed = {-signal.SIGKILL: " (killed: its partner failed, or time ran out)"}
    report = "\n".join(
        f"--- worker {i} exit {code}{killed.get(code, '')}\n{out}\n{_tail(err)}"
        for i, (code, out, err) in enumerate(results)
    )
    assert [code for code, _, _ in results] == [0, 0], report
    assert all("2 replica(s)" in out for _, out, _ in results), report

    # The chief (worker 0) wrote the run; the other worker only its scratch folder.
    checkpoints = [f"epoch-{e + 1:04d}.weights.h5" for e in range(MULTIWORKER_EPOCHS)]
    expected = {
        "config.json",
        "checkpoints",
        "losses.csv",
        "colorizer.keras",
        ".worker-1",
    }
    assert set(os.listdir(run_dir)) == expected, report
    assert sorted(os.listdir(os.path.join(run_dir, "checkpoints"))) == checkpoints
    scratch = os.path.join(run_dir, ".worker-1")
    assert sorted(os.listdir(os.path.join(scratch, "checkpoints"))) == checkpoints
    rows = _read_losses(run_dir)
    assert [row["epoch"] for row in rows] == list(range(MULTIWORKER_EPOCHS))

    # The metrics are global: reading them all-reduces over both workers, so the
    # workers log the same losses although each trains on its own shard of files.
    other_rows = _read_losses(scratch)
    for row in (*rows, *other_rows):
        del row["seconds"]
    assert rows == other_rows

    # Both workers end with the same weights and optimizer state (BatchNorm moving
    # statistics are not compared: Keras 3 keeps them per replica, unsynchronised).
    last = os.path.join("checkpoints", checkpoints[-1])
    chief = _checkpoint_state(run_dir, os.path.join(run_dir, last), small_dataset)
    other = _checkpoint_state(run_dir, os.path.join(scratch, last), small_dataset)
    steps = [int(value) for name, value in chief if name.endswith("/iteration")]
    assert steps and all(n == MULTIWORKER_EPOCHS * 2 for n in steps), steps  # state was loaded
    assert len(chief) == len(other)
    for (name, value), (_, other_value) in zip(chief, other, strict=True):
        np.testing.assert_array_equal(value, other_value, err_msg=name)


if __name__ == "__main__":
    if sys.argv[1:2] == ["step-equivalence"]:
        _step_equivalence_main(sys.argv[2])
