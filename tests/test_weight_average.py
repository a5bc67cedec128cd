"""train.ema_momentum: the moving average of the weights that validation, KeepBest and
the saved colorizer see, while training itself goes on from the raw weights."""

import keras
import numpy as np
import pytest

from keras_colorize.config import ConfigError, make_config
from keras_colorize.training.callbacks import WeightAverage

MOMENTUM = 0.6


class Trainer(keras.Model):
    """The callback's view of a trainer: a model with a ``network``."""

    def __init__(self):
        super().__init__()
        self.network = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])

    def call(self, inputs):
        return self.network(inputs)


class _Recorder(keras.callbacks.Callback):
    """Placed after WeightAverage: what the training steps and the validation saw."""

    def __init__(self):
        super().__init__()
        self.after_step, self.epoch_starts, self.validated = [], [], []

    def _weights(self):
        return [w.copy() for w in self.model.network.get_weights()]

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0:
            self.epoch_starts.append(self._weights())

    def on_train_batch_end(self, batch, logs=None):
        self.after_step.append(self._weights())

    def on_test_begin(self, logs=None):
        self.validated.append(self._weights())


def _expected_average(history, start):
    average = [w.copy() for w in start]
    for step, weights in enumerate(history):
        decay = min(MOMENTUM, (1 + step) / (10 + step))
        average = [decay * a + (1 - decay) * w for a, w in zip(average, weights, strict=True)]
    return average


def test_validation_and_the_end_see_the_average_and_training_the_raw_weights():
    keras.utils.set_random_seed(3)
    trainer = Trainer()
    trainer.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    start = [w.copy() for w in trainer.network.get_weights()]
    x = np.random.default_rng(0).normal(size=(24, 3)).astype("float32")
    y = x[:, :2] * 3.0 + 1.0
    recorder = _Recorder()
    trainer.fit(
        x,
        y,
        batch_size=4,
        epochs=2,
        shuffle=False,
        validation_data=(x, y),
        verbose=0,
        callbacks=[WeightAverage(MOMENTUM), recorder],
    )
    steps = len(recorder.after_step)
    assert steps == 12
    first_epoch = _expected_average(recorder.after_step[:6], start)
    for seen, expected in zip(recorder.validated[0], first_epoch, strict=True):
        np.testing.assert_allclose(seen, expected, rtol=1e-5, atol=1e-6)
    # The second epoch trains on from the first's last raw step, not from its average.
    for seen, raw in zip(recorder.epoch_starts[1], recorder.after_step[5], strict=True):
        np.testing.assert_array_equal(seen, raw)
    assert not np.allclose(recorder.epoch_starts[1][0], first_epoch[0])
    final = _expected_average(recorder.after_step, start)
    for kept, expected in zip(trainer.network.get_weights(), final, strict=True):
        np.testing.assert_allclose(kept, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("momentum", ["-0.1", "1.0"])
def test_a_momentum_outside_zero_to_one_is_a_config_error(momentum):
    with pytest.raises(ConfigError, match="ema_momentum"):
        make_config("regression", overrides={"train.ema_momentum": momentum})
