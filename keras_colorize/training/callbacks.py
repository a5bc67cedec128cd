"""Callbacks for fit: sample colorizations, NaN advice, checkpoints, backbone freezing,
the best epoch, a time budget and a moving average of the weights."""

import os
import time

import keras
import numpy as np
import tensorflow as tf

from keras_colorize import artifacts as A
from keras_colorize import constants as C
from keras_colorize.color.tf_lab import l_ab_normalized_to_rgb
from keras_colorize.training.trainers import lightness_of


def sample_grid(l_norm, ab_pred, ab_true):
    """One image per sample: gray input | prediction | ground truth, side by side.

    Args:
        l_norm: float (N, H, W, 1); ab_pred, ab_true: float (N, H, W, 2), normalised.

    Returns:
        float32 (N, H, 3W, 3) RGB in [0, 1].
    """
    gray = l_ab_normalized_to_rgb(l_norm, tf.zeros_like(ab_true))
    predicted = l_ab_normalized_to_rgb(l_norm, ab_pred)
    truth = l_ab_normalized_to_rgb(l_norm, ab_true)
    return tf.concat([gray, predicted, truth], axis=2)


def mean_chroma(ab_norm):
    """Mean sqrt(a^2 + b^2) in Lab units of normalised ab (..., 2)."""
    ab = tf.cast(ab_norm, tf.float32) * C.AB_SCALE
    return float(tf.reduce_mean(tf.norm(ab, axis=-1)))


class SampleColorizations(keras.callbacks.Callback):
    """Each epoch: logs a grid of validation colorizations to TensorBoard, and the
    mean chroma of predictions and ground truth (``val_chroma``,
    ``val_true_chroma``) to the epoch logs, so the CSV and TensorBoard show
    whether the model dares to colour.

    Place it before CSVLogger and TensorBoard in the callback list so they see
    the added logs.
    """

    def __init__(self, samples, log_dir):
        super().__init__()
        self.inputs, self.ab_true = samples  # inputs: L_norm, or [L_norm, hints, reference]
        self.l_norm = lightness_of(self.inputs)
        self.writer = tf.summary.create_file_writer(os.path.join(log_dir, "samples"))

    def on_epoch_end(self, epoch, logs=None):
        ab_pred = self.model.colorize(self.inputs)
        if logs is not None:
            logs["val_chroma"] = mean_chroma(ab_pred)
            logs["val_true_chroma"] = mean_chroma(self.ab_true)
        with self.writer.as_default():
            grid = sample_grid(self.l_norm, ab_pred, self.ab_true)
            tf.summary.image("gray | predicted | truth", grid, step=epoch, max_outputs=len(grid))
        self.writer.flush()


class StopOnNaN(keras.callbacks.Callback):
    """Stops training when any logged loss becomes NaN or infinite, saying what to change."""

    def __init__(self, advice):
        super().__init__()
        self.advice = advice

    def on_train_batch_end(self, batch, logs=None):
        bad = sorted(k for k, v in (logs or {}).items() if not np.isfinite(float(v)))
        if bad:
            print(
                f"\nfit: {', '.join(bad)} became NaN/inf at batch {batch}; stopping. {self.advice}"
            )
            self.model.stop_training = True


class PeriodicCheckpoint(keras.callbacks.Callback):
    """Keeps the trainer's weights (networks and optimizer state) every `every` epochs."""

    def __init__(self, folder, every=1):
        super().__init__()
        self.folder = folder
        self.every = every

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            os.makedirs(self.folder, exist_ok=True)
            name = A.CHECKPOINT_NAME.format(epoch=epoch + 1)
            self.model.save_weights(os.path.join(self.folder, name))


class FreezeBackbone(keras.callbacks.Callback):
    """Keeps a pretrained encoder still for the first ``epochs`` epochs, then lets it learn.

    While frozen, the backbone optimizer's learning rate is 0 (its batch-norm
    statistics still adapt to gray input); from epoch ``epochs`` on it is the
    trainer's ``backbone_learning_rate``. Only the new decoder learns at
    first, so its random gradients do not disturb the ImageNet features.
    """

    def __init__(self, epochs):
        super().__init__()
        self.epochs = int(epochs)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = getattr(self.model, "backbone_optimizer", None)
        if optimizer is None:
            return
        rate = 0.0 if epoch < self.epochs else self.model.backbone_learning_rate
        optimizer.learning_rate.assign(rate)


class KeepBest(keras.callbacks.Callback):
    """Ends training with the network weights of the epoch with the best validation ``monitor``.

    With a few hundred photos the validation loss bottoms out early while the
    training loss keeps falling; the colorizer saved at the end should be the
    best epoch's, not the last. Kept in memory (a resumed run starts afresh).
    """

    def __init__(self, monitor):
        super().__init__()
        self.monitor = monitor
        self.best = None
        self.best_epoch = None
        self.weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not np.isfinite(value):
            return
        if self.best is None or value < self.best:
            self.best, self.best_epoch = float(value), epoch + 1
            self.weights = self.model.network.get_weights()

    def on_train_end(self, logs=None):
        if self.weights is not None:
            self.model.network.set_weights(self.weights)
            print(f"fit: keeping epoch {self.best_epoch} ({self.monitor} {self.best:.4g})")


class TimeBudget(keras.callbacks.Callback):
    """Stops training at the end of the first epoch that ends after ``minutes`` of wall time.

    Comparing models "at equal CPU budget" means equal time, not equal epochs:
    networks differ several-fold in cost per epoch.
    """

    def __init__(self, minutes):
        super().__init__()
        self.seconds = 60.0 * float(minutes)
        self.started = None

    def on_train_begin(self, logs=None):
        self.started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        if time.monotonic() - self.started >= self.seconds:
            self.model.stop_training = True
            print(f"fit: time budget of {self.seconds / 60:g} min used up after epoch {epoch + 1}")


class WeightAverage(keras.callbacks.Callback):
    """An exponential moving average (EMA) of the network's weights, which everything
    that judges or saves an epoch sees, and which the run ends with.

    After every training batch ``average = d * average + (1 - d) * weights``, with
    ``d = min(momentum, (1 + t) / (10 + t))`` at step t, so the random or
    pretrained start is forgotten quickly (as tf.train.ExponentialMovingAverage
    does). Why: the last weights of an epoch are one noisy point of the
    optimizer's walk; their average over the last ~1 / (1 - momentum) steps
    validates better, and at no cost in training speed.

    The average replaces the weights from the start of validation until the
    next epoch begins, and at the end of training, so put this callback first:
    validation, KeepBest, the sample grid and checkpoints then see it. The
    BackupAndRestore backup therefore holds the average too: a resumed run
    continues from it and starts a new average there. Float weights only
    (batch-norm statistics included); integer state (seed generators) is left.
    """

    def __init__(self, momentum):
        super().__init__()
        if not 0.0 < momentum < 1.0:
            raise ValueError(f"the weight average's momentum must lie in (0, 1), not {momentum}")
        self.momentum = float(momentum)
        self.weights = self.average = None
        self.swapped = False

    def on_train_begin(self, logs=None):
        self.weights = [w for w in self.model.network.weights if "float" in str(w.dtype)]
        self.average = [tf.Variable(w.value, trainable=False) for w in self.weights]
        self.steps = tf.Variable(0.0, trainable=False)
        self.swapped = False
        momentum = self.momentum

        @tf.function
        def update():
            decay = tf.minimum(momentum, (1.0 + self.steps) / (10.0 + self.steps))
            for average, weight in zip(self.average, self.weights, strict=True):
                average.assign(
                    decay * average + (1.0 - decay) * tf.cast(weight.value, average.dtype)
                )
            self.steps.assign_add(1.0)

        @tf.function
        def swap():
            for average, weight in zip(self.average, self.weights, strict=True):
                held = tf.identity(weight.value)
                weight.assign(average)
                average.assign(held)

        self._update, self._swap = update, swap

    def _use_average(self, wanted):
        if self.swapped != wanted:
            self._swap()
            self.swapped = wanted

    def on_epoch_begin(self, epoch, logs=None):
        self._use_average(False)

    def on_train_batch_end(self, batch, logs=None):
        self._update()

    def on_test_begin(self, logs=None):
        self._use_average(True)

    def on_epoch_end(self, epoch, logs=None):
        self._use_average(True)

    def on_train_end(self, logs=None):
        self._use_average(True)
