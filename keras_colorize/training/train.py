"""Training a colorizer on a data_prep dataset: the work behind `python -m keras_colorize.fit`.

``check_data`` refuses a dataset the run cannot use before anything heavy
starts; ``train`` sets precision and strategy, builds the family's trainer,
runs Keras ``fit`` (or the custom loop under MultiWorkerMirroredStrategy, see
training.distribute) with the run dir's callbacks and saves colorizer.keras.
"""

import math
import os

import keras
import numpy as np
import tensorflow as tf

from keras_colorize import artifacts as A
from keras_colorize.cli import UsageError, error_line
from keras_colorize.data import schema
from keras_colorize.data.augment import Augmentation, ObjectsError, load_objects
from keras_colorize.data.pipeline import make_dataset, read_manifest
from keras_colorize.guidance.simulate import HintSimulation
from keras_colorize.models.backbone_unet import BACKBONES, SCRATCH
from keras_colorize.models.backbones import PretrainedWeightsMissing, pretrained_weights_path
from keras_colorize.training.callbacks import (
    FreezeBackbone,
    KeepBest,
    PeriodicCheckpoint,
    SampleColorizations,
    StopOnNaN,
    TimeBudget,
    WeightAverage,
)
from keras_colorize.training.distribute import custom_fit, is_chief, make_strategy, split_cpu
from keras_colorize.training.families import build_trainer, family_of, network_stride
from keras_colorize.training.precision import set_precision
from keras_colorize.training.run_dir import save_colorizer


class TrainError(UsageError):
    """A dataset or setting the run cannot use, found before training starts; one line."""


def check_backbone(model_config):
    """Refuses a pretrained backbone whose weight package is not installed, in one line."""
    if model_config.backbone == SCRATCH or not model_config.pretrained:
        return
    try:
        pretrained_weights_path(BACKBONES[model_config.backbone])
    except PretrainedWeightsMissing as error:
        raise TrainError(str(error)) from None


def check_data(config):
    """Checks the dataset before any heavy work; returns (manifest, prior or None)."""
    check_backbone(config.model)
    if config.train.init_from and not os.path.isfile(config.train.init_from):
        raise TrainError(f"train.init_from: {config.train.init_from} is not a colorizer.keras file")
    objects = config.train.paste_objects
    if objects and not os.path.isdir(objects):
        raise TrainError(f"train.paste_objects: {objects} is not a folder of RGBA cut-outs")
    manifest = read_manifest(config.data)
    if not schema.shard_paths(config.data, "train") or not manifest["counts"].get("train"):
        raise TrainError(f"{config.data} holds no training images")
    train_count = manifest["counts"]["train"]
    if config.train.batch_size > train_count:
        raise TrainError(
            f"batch size {config.train.batch_size} exceeds the {train_count} training images"
        )
    side = manifest["image_shape"][0]
    size = config.train.image_size
    family = family_of(config.model)
    stride = network_stride(config.model)
    if size % stride or size > side:
        raise TrainError(
            f"--image-size {size} must be a multiple of {stride} and at most the stored side {side}"
        )
    prior = None
    if family.needs_prior:
        prior_path = os.path.join(config.data, schema.PRIOR_FILE)
        if not os.path.exists(prior_path):
            raise TrainError(
                f"{config.data} lacks {schema.PRIOR_FILE}, which the {family.name} model needs"
            )
        prior = np.load(prior_path)
    return manifest, prior


def _shapes(weights):
    """The shapes of a list of weights (arrays or variables), as tuples."""
    return [tuple(w.shape) for w in weights]


def initialise_from(network, path):
    """Sets ``network``'s weights from the colorizer in ``path``; TrainError if they do not fit.

    The same architecture takes every weight. Another head on the same body
    (a classification U-Net from a regression one: same backbone, width and
    guidance, "logits" instead of the full-resolution stages) takes, layer by
    layer and by name, every layer the two share; its own layers keep their
    initialisation. A shared name of another shape, or nothing shared, is
    another network. A resumed run then restores its own newer weights over
    these.
    """
    # Importing registers the project's custom layers before deserialisation.
    import keras_colorize.color.ab_bins  # noqa: F401
    import keras_colorize.models.layers  # noqa: F401

    try:
        source = keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a bad file
        raise TrainError(f"train.init_from: {path} does not load ({error_line(error)})") from None
    another = TrainError(
        f"train.init_from: {path} is another network ({len(source.weights)} weights; this run's "
        f"{network.name} has {len(network.weights)}): use the same --backbone, --width and "
        "--guided (and, from scratch encoders, the same --model)"
    )
    weights = source.get_weights()
    if _shapes(weights) == _shapes(network.weights):
        network.set_weights(weights)
        print(f"fit: started from the weights of {path}")
        return
    by_name = {layer.name: layer for layer in source.layers if layer.weights}
    shared, new = [], []
    for layer in network.layers:
        if not layer.weights:
            continue
        match = by_name.get(layer.name)
        if match is None:
            new.append(layer.name)
        elif _shapes(match.weights) != _shapes(layer.weights):
            raise another
        else:
            shared.append((layer, match))
    if not shared:
        raise another
    for layer, match in shared:
        layer.set_weights(match.get_weights())
    print(
        f"fit: started from the weights of {path}: {len(shared)} shared layers; "
        f"new, from their initialisation: {', '.join(new)}"
    )


def steps_per_epoch(config, manifest):
    train = config.train
    return train.steps_per_epoch or max(1, manifest["counts"]["train"] // train.batch_size)


def _callbacks(config, run_dir, samples, validated):
    """fit's callbacks; ``validated``: the run has a validation split to judge epochs by."""
    advice = (
        f"Lower the learning rate (now {config.train.learning_rate:g}, e.g. --learning-rate "
        f"{config.train.learning_rate / 10:g}) or train in float32 (--precision float32)."
    )
    monitor = family_of(config.model).monitor
    judged = []
    if validated and config.train.early_stopping_patience:
        judged.append(
            keras.callbacks.EarlyStopping(
                monitor, patience=config.train.early_stopping_patience, mode="min"
            )
        )
    if validated and config.train.keep_best:
        judged.append(KeepBest(monitor))
    if config.train.time_budget_minutes:
        judged.append(TimeBudget(config.train.time_budget_minutes))
    # First: every later callback must judge and save the averaged weights.
    averaged = [WeightAverage(config.train.ema_momentum)] if config.train.ema_momentum else []
    return [
        *averaged,
        *judged,
        StopOnNaN(advice),
        keras.callbacks.BackupAndRestore(os.path.join(run_dir, A.BACKUP_DIR)),
        SampleColorizations(samples, os.path.join(run_dir, A.LOGS_DIR)),
        PeriodicCheckpoint(os.path.join(run_dir, A.CHECKPOINT_DIR), config.train.checkpoint_every),
        FreezeBackbone(config.train.freeze_backbone_epochs),
        keras.callbacks.CSVLogger(os.path.join(run_dir, A.LOSSES_FILE), append=True),
        keras.callbacks.TensorBoard(os.path.join(run_dir, A.LOGS_DIR), write_graph=False),
    ]


def make_augmentation(train_config):
    """The run's extra augmentations (rotation, pasted cut-outs); None: crops and flips only."""
    objects = None
    if train_config.paste_objects and train_config.paste_max:
        try:
            objects = load_objects(train_config.paste_objects)
        except ObjectsError as error:
            raise TrainError(str(error)) from None
    if objects is None and not train_config.rotate_degrees:
        return None
    return Augmentation(
        train_config.rotate_degrees,
        objects,
        train_config.paste_max,
        train_config.paste_probability,
    )


def make_guidance(config):
    """The hint simulation a guided network trains and validates with; None when unguided."""
    if not config.model.guided:
        return None
    return HintSimulation(config.train.hint_stop_probability, config.train.reference_probability)


def train(config, manifest, prior, run_dir, cpu_replicas=0, verbose=1):
    """Builds, trains and saves; returns the History-like dict of losses.

    The run's precision policy is global to Keras while it trains; the caller's
    policy is back afterwards, so what the process builds next is not bf16.
    """
    previous = keras.mixed_precision.global_policy()
    try:
        return _train(config, manifest, prior, run_dir, cpu_replicas, verbose)
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _train(config, manifest, prior, run_dir, cpu_replicas, verbose):
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
        raise TrainError(
            f"batch size {config.train.batch_size} is not divisible by the {replicas} replicas"
        )
    size = config.train.image_size
    steps = steps_per_epoch(config, manifest)
    augmentation = make_augmentation(config.train)
    guidance = make_guidance(config)

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
            augmentation=augmentation,
            guidance=guidance,
        )

    with strategy.scope():
        trainer = build_trainer(config.model, config.train, prior).compile_for(config.train)
        trainer.build_variables(size)  # the variables BackupAndRestore restores into
        if config.train.init_from:
            initialise_from(trainer.network, config.train.init_from)
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
            save_colorizer(trainer, config, os.path.join(run_dir, A.COLORIZER_FILE))
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
            config.data,
            "val",
            val_batch,
            image_size=size,
            drop_remainder=whole,
            repeat=whole,
            guidance=guidance,
        )
        validation_steps = val_count // val_batch if whole else math.ceil(val_count / val_batch)
        if config.train.validation_batches:
            validation_steps = min(validation_steps, config.train.validation_batches)
    if val_count:
        samples = next(
            iter(
                make_dataset(
                    config.data,
                    "val",
                    min(config.train.sample_images, val_count),
                    image_size=size,
                    guidance=guidance,
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
        callbacks=_callbacks(config, run_dir, samples, validated=validation is not None),
        verbose=verbose,
    )
    if not trainer.stop_training or trainer.history.epoch:
        save_colorizer(trainer, config, os.path.join(run_dir, A.COLORIZER_FILE))
    return history.history
