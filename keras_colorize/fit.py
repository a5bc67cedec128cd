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

from keras_colorize import artifacts as A
from keras_colorize.cli import UsageError, command, missing_tensorflow, report
from keras_colorize.config import BACKBONES, FAMILIES, PRECISIONS, STRATEGIES

PROG = "fit"


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m keras_colorize.fit",
        description="Train a colorizer (regression, classification or gan) on a data_prep dataset.",
    )
    parser.add_argument("--model", choices=FAMILIES, help="model family")
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
        "--backbone",
        choices=BACKBONES,
        help="encoder: the family's own from scratch (default) or an ImageNet EfficientNet-Lite",
    )
    parser.add_argument(
        "--backbone-lr-multiplier",
        type=float,
        metavar="M",
        help="the pretrained encoder learns at M x the learning rate (default 0.1)",
    )
    parser.add_argument(
        "--freeze-backbone-epochs",
        type=int,
        metavar="N",
        help="the pretrained encoder does not learn in the first N epochs (default 0)",
    )
    parser.add_argument(
        "--guided",
        action="store_true",
        default=None,
        help="train with simulated colour hints and reference colours (colorize --hints)",
    )
    parser.add_argument("--precision", choices=PRECISIONS)
    parser.add_argument("--strategy", choices=STRATEGIES)
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
        "model.backbone": args.backbone,
        "model.guided": args.guided,
        "train.backbone_lr_multiplier": args.backbone_lr_multiplier,
        "train.freeze_backbone_epochs": args.freeze_backbone_epochs,
        "train.precision": args.precision,
        "train.strategy": args.strategy,
        "train.seed": args.seed,
        "data": args.data,
    }
    return {key: value for key, value in flags.items() if value is not None}


def resolve_config(args):
    """The run's Config from the flags, or from the run dir with --resume."""
    from keras_colorize.config import load_config, make_config, parse_set_flags

    config_path = os.path.join(args.run_dir, A.CONFIG_FILE)
    if args.resume:
        if not os.path.exists(config_path):
            raise UsageError(f"--resume: {args.run_dir} holds no {A.CONFIG_FILE} to resume")
        return load_config(config_path)
    if not args.model or not args.data:
        raise UsageError("--model and --data are required (or --resume with an existing --run-dir)")
    overrides = {**_flag_overrides(args), **parse_set_flags(args.set)}
    return make_config(args.model, args.preset, overrides)


@command(PROG)
def main(argv=None):
    """Trains; returns the exit code (2 for a user mistake, 1 if training diverged)."""
    args = parse_args(argv)
    if missing := missing_tensorflow(PROG):
        return report(PROG, missing)
    import tensorflow as tf

    from keras_colorize.config import ConfigError
    from keras_colorize.data.pipeline import DatasetError
    from keras_colorize.training.distribute import StrategyError, writes_run_dir
    from keras_colorize.training.run_dir import prepare_run_dir
    from keras_colorize.training.train import check_data, train

    try:
        config = resolve_config(args)
        manifest, prior = check_data(config)
        chief = writes_run_dir(config.train.strategy)
        # Other workers of a multi-worker run leave the run dir to the chief (two
        # writers of config.json race) and write to run_dir/.worker-N instead.
        if chief:
            finished = prepare_run_dir(args.run_dir, config)
        else:
            finished = os.path.exists(os.path.join(args.run_dir, A.COLORIZER_FILE))
        if finished:
            print(f"fit: {args.run_dir} already holds a finished run; nothing to do")
            return 0
        history = train(
            config, manifest, prior, args.run_dir, args.cpu_replicas, verbose=0 if args.quiet else 1
        )
    except (UsageError, ConfigError, DatasetError, StrategyError) as error:
        return report(PROG, error)
    except tf.errors.DataLossError as error:  # a shard cut short, e.g. by a full disk
        return report(
            PROG,
            f"a shard of {config.data} is truncated or damaged ({type(error).__name__}); "
            "rebuild the dataset with `python -m data_prep`",
        )
    final = {k: v[-1] for k, v in history.items() if v}
    if any(not math.isfinite(v) for v in final.values()):
        return 1
    print("fit: done; " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(final.items())))
    if chief:
        print(f"fit: wrote {os.path.join(args.run_dir, A.COLORIZER_FILE)}")
        if config.train.write_tflite:
            from keras_colorize.serving.tflite import write_run_tflite

            print(f"fit: wrote {write_run_tflite(args.run_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
