"""`python -m keras_colorize.fit`: train a colorizer on a data_prep dataset.

    python -m keras_colorize.fit --model gan --data data/photos --run-dir runs/gan

The run dir receives config.json (the resolved configuration), checkpoints/,
backup/ (BackupAndRestore state: a killed run resumes where it stopped when
started again), logs/ (TensorBoard: losses and sample colorizations),
losses.csv, and at the end colorizer.keras, the inference network alone.
"""

import argparse
import math
import os
import sys

USAGE_ERROR = 2
CONFIG_FILE = "config.json"
COLORIZER_FILE = "colorizer.keras"


class FitError(Exception):
    """A user mistake found before training starts; one-line message."""


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m keras_colorize.fit",
        description="Train a colorizer (regression, classification or gan) on a data_prep dataset.",
    )
    parser.add_argument(
        "--model", choices=["regression", "classification", "gan"], help="model family"
    )
    parser.add_argument("--data", help="a `python -m data_prep` output folder")
    parser.add_argument(
        "--run-dir", required=True, help="where config, checkpoints, logs and the model go"
    )
    parser.add_argument(
        "--preset", default="default", help="default, paper (the paper's hyper-parameters) or tiny"
    )
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int, help="global batch size")
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument(
        "--image-size", type=int, help="square training crops (a multiple of the network stride)"
    )
    parser.add_argument("--width", type=int, help="base channel count of the network")
    parser.add_argument(
        "--precision", choices=["auto", "float32", "mixed_float16", "mixed_bfloat16"]
    )
    parser.add_argument("--strategy", choices=["auto", "none", "mirrored", "multiworker"])
    parser.add_argument(
        "--cpu-replicas", type=int, default=0, help="split the CPU into N devices (for mirrored)"
    )
    parser.add_argument("--seed", type=int)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any setting, e.g. train.l1_weight=500",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --run-dir with its own config"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def _flag_overrides(args):
    flags = {
        "train.epochs": args.epochs,
        "train.batch_size": args.batch_size,
        "train.learning_rate": args.learning_rate,
        "train.image_size": args.image_size,
        "model.width": args.width,
        "train.precision": args.precision,
        "train.strategy": args.strategy,
        "train.seed": args.seed,
        "data": args.data,
    }
    return {key: value for key, value in flags.items() if value is not None}


def resolve_config(args):
    """The run's Config from the flags, or from the run dir with --resume."""
    from keras_colorize.config import load_config, make_config, parse_set_flags

    config_path = os.path.join(args.run_dir, CONFIG_FILE)
    if args.resume:
        if not os.path.exists(config_path):
            raise FitError(f"--resume: {args.run_dir} holds no {CONFIG_FILE} to resume")
        return load_config(config_path)
    if not args.model or not args.data:
        raise FitError("--model and --data are required (or --resume with an existing --run-dir)")
    overrides = {**_flag_overrides(args), **parse_set_flags(args.set)}
    return make_config(args.model, args.preset, overrides)


def check_data(config):
    """Checks the dataset before any heavy work; returns (manifest, prior or None)."""
    import numpy as np

    from keras_colorize.data import schema
    from keras_colorize.data.pipeline import read_manifest
    from keras_colorize.models import network_stride

    manifest = read_manifest(config.data)
    if not schema.shard_paths(config.data, "train") or not manifest["counts"].get("train"):
        raise FitError(f"{config.data} holds no training images")
    train_count = manifest["counts"]["train"]
    if config.train.batch_size > train_count:
        raise FitError(
            f"batch size {config.train.batch_size} exceeds the {train_count} training images"
        )
    side = manifest["image_shape"][0]
    size = config.train.image_size
    model = config.model
    kwargs = {"num_downs": model.num_downs} if model.family == "gan" else {}
    stride = network_stride(model.family, width=model.width, **kwargs)
    if size % stride or size > side:
        raise FitError(
            f"--image-size {size} must be a multiple of {stride} and at most the stored side {side}"
        )
    prior = None
    if model.family == "classification":
        prior_path = os.path.join(config.data, schema.PRIOR_FILE)
        if not os.path.exists(prior_path):
            raise FitError(
                f"{config.data} lacks {schema.PRIOR_FILE}, which the classification model needs"
            )
        prior = np.load(prior_path)
    return manifest, prior


def prepare_run_dir(run_dir, config):
    """Writes config.json, or checks that the one there is the same config.

    Returns:
        True if the run already finished (colorizer.keras exists).
    """
    from keras_colorize.config import load_config

    config_path = os.path.join(run_dir, CONFIG_FILE)
    if os.path.exists(config_path):
        previous = load_config(config_path)
        if previous != config:
            old, new = _flatten(previous.to_dict()), _flatten(config.to_dict())
            changed = [
                f"{k} {old.get(k)!r} -> {new.get(k)!r}"
                for k in sorted(new)
                if old.get(k) != new.get(k)
            ]
            raise FitError(
                f"{run_dir} holds a run with a different config ({'; '.join(changed)}); "
                "use another --run-dir, or --resume to continue that run"
            )
        return os.path.exists(os.path.join(run_dir, COLORIZER_FILE))
    if os.path.isdir(run_dir) and os.listdir(run_dir):
        raise FitError(f"{run_dir} is not empty and holds no {CONFIG_FILE}; use another --run-dir")
    os.makedirs(run_dir, exist_ok=True)
    with open(config_path, "w", encoding="utf-8") as handle:
        handle.write(config.to_json())
    return False


def _flatten(values, prefix=""):
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def steps_per_epoch(config, manifest):
    train = config.train
    return train.steps_per_epoch or max(1, manifest["counts"]["train"] // train.batch_size)


def save_colorizer(trainer, config, path):
    """Saves the inference network as a float32 .keras file, whatever the training policy."""
    from keras_colorize.training.trainers import build_float32_trainer

    fresh = build_float32_trainer(config.model, config.train).inference_model()
    fresh.set_weights(trainer.inference_model().get_weights())
    fresh.save(path)
    return path


def _callbacks(config, run_dir, samples, verbose):
    import keras

    from keras_colorize.training.callbacks import PeriodicCheckpoint, SampleColorizations, StopOnNaN

    advice = (
        f"Lower the learning rate (now {config.train.learning_rate:g}, e.g. --learning-rate "
        f"{config.train.learning_rate / 10:g}) or train in float32 (--precision float32)."
    )
    return [
        StopOnNaN(advice),
        keras.callbacks.BackupAndRestore(os.path.join(run_dir, "backup")),
        SampleColorizations(samples, os.path.join(run_dir, "logs")),
        PeriodicCheckpoint(os.path.join(run_dir, "checkpoints"), config.train.checkpoint_every),
        keras.callbacks.CSVLogger(os.path.join(run_dir, "losses.csv"), append=True),
        keras.callbacks.TensorBoard(os.path.join(run_dir, "logs"), write_graph=False),
    ]


def train(config, manifest, prior, run_dir, cpu_replicas=0, verbose=1):
    """Builds, trains and saves; returns the History-like dict of losses."""
    import keras
    import tensorflow as tf

    from keras_colorize.data.pipeline import make_dataset
    from keras_colorize.training.distribute import custom_fit, is_chief, make_strategy, split_cpu
    from keras_colorize.training.precision import set_precision
    from keras_colorize.training.trainers import GANTrainer, build_trainer, compile_trainer

    if cpu_replicas > 1:
        split_cpu(cpu_replicas)
    keras.utils.set_random_seed(config.train.seed)
    if not tf.config.list_physical_devices("GPU"):
        # Same seed, same loss curve on a CPU (cheap there; on a GPU it costs
        # speed and some kernels have no deterministic version).
        tf.config.experimental.enable_op_determinism()
    policy = set_precision(config.train.precision)
    strategy = make_strategy(config.train.strategy)
    replicas = strategy.num_replicas_in_sync
    print(
        f"fit: {config.model.family}, precision {policy}, {replicas} replica(s), run dir {run_dir}"
    )
    if config.train.batch_size % replicas:
        raise FitError(
            f"batch size {config.train.batch_size} is not divisible by the {replicas} replicas"
        )
    size = config.train.image_size
    steps = steps_per_epoch(config, manifest)

    def dataset_fn(context=None, repeat=True):
        batch = (
            context.get_per_replica_batch_size(config.train.batch_size)
            if context
            else config.train.batch_size
        )
        return make_dataset(
            config.data,
            "train",
            batch,
            image_size=size,
            seed=config.train.seed,
            repeat=repeat,
            input_context=context,
        )

    with strategy.scope():
        trainer = build_trainer(config.model, config.train, prior)
        compile_trainer(trainer, config.train)
        trainer(tf.zeros((1, size, size, 1)))  # builds the weights BackupAndRestore restores into
        if isinstance(trainer, GANTrainer):
            trainer.discriminator([tf.zeros((1, size, size, 1)), tf.zeros((1, size, size, 2))])
            trainer.build_optimizers()
    if verbose:
        trainer.network.summary(print_fn=lambda line, **_: print(line))

    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        history = custom_fit(
            trainer,
            strategy,
            dataset_fn,
            config.train.epochs,
            steps,
            run_dir,
            config.train.checkpoint_every,
            verbose,
        )
        if is_chief():
            save_colorizer(trainer, config, os.path.join(run_dir, COLORIZER_FILE))
        return history

    val_count = manifest["counts"].get("val", 0)
    validation = validation_steps = None
    # Several replicas need whole validation batches split evenly: Keras' evaluate
    # reduces the first batch across replicas (uneven shapes fail) and a replica
    # left with an empty final batch fails in its convolutions. Repeated, because
    # from epoch 2 that first-batch peek reads the previous epoch's spent iterator.
    val_batch = min(config.train.batch_size, val_count) // replicas * replicas
    if val_batch:
        whole = replicas > 1
        validation = make_dataset(
            config.data, "val", val_batch, image_size=size, drop_remainder=whole, repeat=whole
        )
        validation_steps = val_count // val_batch if whole else math.ceil(val_count / val_batch)
        if config.train.validation_batches:
            validation_steps = min(validation_steps, config.train.validation_batches)
    if val_count:
        samples = next(
            iter(
                make_dataset(
                    config.data, "val", min(config.train.sample_images, val_count), image_size=size
                )
            )
        )
    else:
        samples = next(iter(dataset_fn(repeat=False)))
    history = trainer.fit(
        dataset_fn(),
        epochs=config.train.epochs,
        steps_per_epoch=steps,
        validation_data=validation,
        validation_steps=validation_steps,
        shuffle=False,  # the pipeline shuffles
        callbacks=_callbacks(config, run_dir, samples, verbose),
        verbose=verbose,
    )
    if not trainer.stop_training or trainer.history.epoch:
        save_colorizer(trainer, config, os.path.join(run_dir, COLORIZER_FILE))
    return history.history


def main(argv=None):
    """Trains; returns the exit code (2 for a user mistake, 1 if training diverged)."""
    args = parse_args(argv)
    from keras_colorize.config import ConfigError
    from keras_colorize.data.pipeline import DatasetError
    from keras_colorize.training.distribute import StrategyError, writes_run_dir

    try:
        config = resolve_config(args)
        manifest, prior = check_data(config)
        chief = writes_run_dir(config.train.strategy)
        # Other workers of a multi-worker run leave the run dir to the chief (two
        # writers of config.json race) and write to run_dir/.worker-N instead.
        if chief:
            finished = prepare_run_dir(args.run_dir, config)
        else:
            finished = os.path.exists(os.path.join(args.run_dir, COLORIZER_FILE))
        if finished:
            print(f"fit: {args.run_dir} already holds a finished run; nothing to do")
            return 0
        history = train(
            config, manifest, prior, args.run_dir, args.cpu_replicas, verbose=0 if args.quiet else 1
        )
    except (FitError, ConfigError, DatasetError, StrategyError) as error:
        print(f"fit: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    final = {k: v[-1] for k, v in history.items() if v}
    if any(not math.isfinite(v) for v in final.values()):
        return 1
    print("fit: done; " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(final.items())))
    if chief:
        print(f"fit: wrote {os.path.join(args.run_dir, COLORIZER_FILE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
