"""Trainers: keras.Model subclasses that wrap a family's network and own its training step.

Architecture lives in keras_colorize.models; the losses and optimisation live
here. Every trainer offers the same inference contract through
``inference_model()``: normalised L (B, H, W, 1) -> normalised ab (B, H, W, 2)
at full resolution, float32 (a guided network takes [L, hints, reference]:
see keras_colorize.guidance.hints; the datasets then yield those inputs as
the first element of each pair). That model, and only it, is what gets saved as
``colorizer.keras`` and exported.

Losses under tf.distribute: each replica computes the mean over its own part
of the batch and divides by the number of replicas, so that the gradients
summed across replicas equal those of the global-batch mean.

A network with a pretrained encoder (the sub-model named
models.backbone_unet.BACKBONE_NAME) trains it with a second optimizer,
``backbone_optimizer``, at ``train.backbone_lr_multiplier`` times the learning
rate; ``callbacks.FreezeBackbone`` sets that rate to 0 for the first epochs.
Adam normalises gradients, so scaling them would not slow the encoder: it
needs its own learning rate.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_colorize import constants as C
from keras_colorize.color import ab_bins
from keras_colorize.models.backbone_unet import BACKBONE_NAME
from keras_colorize.models.classification import CLASSIFICATION_OUTPUT_STRIDE
from keras_colorize.models.layers import BilinearUpsample


def _num_replicas():
    return tf.distribute.get_strategy().num_replicas_in_sync


def _replica_share(mean_loss):
    """This replica's share of a global-batch mean (see the module docstring)."""
    return mean_loss / tf.cast(_num_replicas(), mean_loss.dtype)


def loss_scaled(optimizer):
    """Wraps `optimizer` for dynamic loss scaling when the global policy computes in float16."""
    policy = keras.mixed_precision.global_policy()
    if policy.compute_dtype == "float16" and not isinstance(
        optimizer, keras.optimizers.LossScaleOptimizer
    ):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def lightness_of(inputs):
    """The L_norm of a network's inputs: the tensor itself, or the first of a guided network's."""
    return inputs[0] if isinstance(inputs, list | tuple) else inputs


def example_inputs(network, size):
    """Zero inputs of batch 1 for every input of ``network``, images size x size."""
    values = [
        tf.zeros([1, *(size if dim is None else dim for dim in tensor.shape[1:])])
        for tensor in network.inputs
    ]
    return values if len(values) > 1 else values[0]


def find_backbone(network):
    """The network's pretrained encoder sub-model, or None for a scratch network."""
    found = [layer for layer in network.layers if layer.name == BACKBONE_NAME]
    return found[0] if found else None


class ColorizationTrainer(keras.Model):
    """Base class: holds the colorization network; calling the trainer calls it."""

    def __init__(self, network, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.backbone = find_backbone(network)
        self.backbone_optimizer = None
        self.backbone_learning_rate = None  # what FreezeBackbone restores

    def call(self, inputs, training=False):
        return self.network(inputs, training=training)

    def inference_model(self):
        """L_norm (B, H, W, 1) -> ab_norm (B, H, W, 2) float32; shares the trained weights."""
        return self.network

    def colorize(self, inputs):
        """Predicted ab_norm for a batch of the network's inputs, inference mode."""
        return self.inference_model()(inputs, training=False)

    def compile_for(self, train_config):
        """Compiles with the optimizer(s) the training config asks for; returns self."""
        self.compile(make_optimizer(train_config))
        self._compile_backbone(train_config)
        return self

    def _compile_backbone(self, train_config):
        if self.backbone is None:
            return
        rate = train_config.learning_rate * train_config.backbone_lr_multiplier
        self.backbone_learning_rate = rate
        # Not loss-scaled itself: apply_network_gradients unscales with the main optimizer's scale.
        self.backbone_optimizer = make_optimizer(train_config, rate)

    def apply_network_gradients(self, optimizer, gradients, variables):
        """``optimizer.apply``, except that the backbone's variables go to the backbone optimizer.

        Under float16 the gradients carry the main optimizer's loss scale: the
        backbone's are unscaled here, before ``optimizer.apply`` may change the
        scale, and a non-finite one is zeroed (its step is skipped by the main
        optimizer, which then lowers the scale).
        """
        if self.backbone_optimizer is None:
            optimizer.apply(gradients, variables)
            return
        mine = {id(v) for v in self.backbone.trainable_variables}
        head = [(g, v) for g, v in zip(gradients, variables, strict=True) if id(v) not in mine]
        encoder = [(g, v) for g, v in zip(gradients, variables, strict=True) if id(v) in mine]
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            scale = tf.cast(optimizer.dynamic_scale, tf.float32)
            encoder = [
                (tf.where(tf.math.is_finite(g), g / tf.cast(scale, g.dtype), tf.zeros_like(g)), v)
                for g, v in encoder
            ]
        optimizer.apply(*zip(*head, strict=True))
        self.backbone_optimizer.apply(*zip(*encoder, strict=True))

    def _build_optimizers(self):
        self.optimizer.build(self.network.trainable_variables)
        if self.backbone_optimizer is not None:
            self.backbone_optimizer.build(self.backbone.trainable_variables)

    def build_variables(self, size):
        """Creates every variable a checkpoint holds (networks and optimizer state) now.

        Needed before loading a checkpoint or restoring a backup, which fill
        existing variables; ``size`` is the side of the square training input.
        """
        self(example_inputs(self.network, size))
        self._build_optimizers()


class RegressionTrainer(ColorizationTrainer):
    """L2 regression on ab: the mean squared error of ab/110 (+ an optional chroma term).

    The L2 optimum is the mean of the plausible colours, which is grayer than
    any of them: the sepia look. ``chroma_weight`` > 0 adds
    chroma_weight * mean(relu(|ab_true| - |ab_pred|)^2), a penalty on
    predicting LESS chroma than the truth (never more), which pushes the
    prediction's saturation toward the truth's without choosing its hue.
    """

    def __init__(self, network, chroma_weight=0.0, **kwargs):
        super().__init__(network, **kwargs)
        self.chroma_weight = float(chroma_weight)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def compile(self, optimizer, **kwargs):
        super().compile(optimizer=loss_scaled(optimizer), **kwargs)

    def _loss(self, inputs, ab_norm, training):
        prediction = tf.cast(self.network(inputs, training=training), tf.float32)  # (B, H, W, 2)
        loss = tf.reduce_mean(tf.square(prediction - ab_norm))
        if self.chroma_weight:
            chroma = lambda ab: tf.sqrt(tf.reduce_sum(tf.square(ab), axis=-1) + 1e-8)  # noqa: E731
            shortfall = tf.nn.relu(chroma(ab_norm) - chroma(prediction))  # (B, H, W)
            loss += self.chroma_weight * tf.reduce_mean(tf.square(shortfall))
        return loss

    def train_step(self, data):
        inputs, ab_norm = data
        with tf.GradientTape() as tape:
            loss = self._loss(inputs, ab_norm, training=True)
            scaled = self.optimizer.scale_loss(_replica_share(loss))
        variables = self.network.trainable_variables
        self.apply_network_gradients(self.optimizer, tape.gradient(scaled, variables), variables)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        self.loss_tracker.update_state(self._loss(*data, training=False))
        return {"loss": self.loss_tracker.result()}


class ClassificationTrainer(ColorizationTrainer):
    """Zhang et al.'s class-rebalanced cross-entropy over soft-encoded ab bins.

    The ab targets are averaged down to the network's output resolution (H/4),
    soft-encoded in-graph over the in-gamut bins, and each pixel is weighted
    by the rebalancing factor of its most likely bin. Gray images carry no
    colour information and are masked out.
    """

    def __init__(
        self, network, class_weights, temperature=C.ANNEALED_MEAN_T, chroma_gain=1.0, **kwargs
    ):
        super().__init__(network, **kwargs)
        self.bins = ab_bins.in_gamut_bins()
        self.class_weights = np.asarray(class_weights, dtype=np.float32)
        if self.class_weights.shape != (len(self.bins),):
            raise ValueError(
                f"class_weights must have shape ({len(self.bins)},), got {self.class_weights.shape}"
            )
        self.temperature = temperature
        self.chroma_gain = chroma_gain  # decoding only: the loss is on the logits
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.colourful_tracker = keras.metrics.Mean(name="colourful_fraction")
        # Built here: Keras forbids adding sub-models to a trainer once it is built.
        self.colorizer = self._build_colorizer()

    @property
    def metrics(self):
        return [self.loss_tracker, self.colourful_tracker]

    def compile(self, optimizer, **kwargs):
        super().compile(optimizer=loss_scaled(optimizer), **kwargs)

    def _per_example_loss(self, inputs, ab_norm, training):
        ab = tf.cast(ab_norm, tf.float32) * C.AB_SCALE  # (B, H, W, 2) Lab units
        stride = CLASSIFICATION_OUTPUT_STRIDE
        ab_small = tf.nn.avg_pool2d(ab, stride, stride, "VALID")  # (B, H/4, W/4, 2)
        targets = ab_bins.soft_encode(ab_small, self.bins)  # (B, H/4, W/4, Q)
        weights = ab_bins.pixel_weights(targets, self.class_weights)  # (B, H/4, W/4)
        mask = ab_bins.colourful_mask(ab)  # (B,)
        logits = self.network(inputs, training=training)  # (B, H/4, W/4, Q)
        per_example = ab_bins.class_rebalanced_cross_entropy(targets, logits, weights, mask)
        return per_example, mask

    def _update_metrics(self, per_example, mask):
        self.loss_tracker.update_state(per_example)
        self.colourful_tracker.update_state(tf.cast(mask, tf.float32))
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        inputs, ab_norm = data
        with tf.GradientTape() as tape:
            per_example, mask = self._per_example_loss(inputs, ab_norm, training=True)
            loss = _replica_share(tf.reduce_mean(per_example))
            scaled = self.optimizer.scale_loss(loss)
        variables = self.network.trainable_variables
        self.apply_network_gradients(self.optimizer, tape.gradient(scaled, variables), variables)
        return self._update_metrics(per_example, mask)

    def test_step(self, data):
        per_example, mask = self._per_example_loss(*data, training=False)
        return self._update_metrics(per_example, mask)

    def _build_colorizer(self):
        """The network, annealed-mean decoding and a bilinear upsample back to full resolution."""
        inputs = [keras.Input(t.shape[1:], name=t.name.split(":")[0]) for t in self.network.inputs]
        inputs = inputs if len(inputs) > 1 else inputs[0]
        logits = self.network(inputs)  # (B, H/4, W/4, Q)
        decode = ab_bins.AnnealedMeanDecode(
            self.temperature, self.chroma_gain, name="annealed_mean"
        )
        ab = decode(logits)
        ab_norm = keras.layers.Rescaling(1.0 / C.AB_SCALE, dtype="float32", name="ab_norm")(ab)
        full = BilinearUpsample(CLASSIFICATION_OUTPUT_STRIDE, dtype="float32", name="upsample")(
            ab_norm
        )  # (B, H, W, 2)
        return keras.Model(inputs, full, name="classification_colorizer")

    def inference_model(self):
        return self.colorizer


class GANTrainer(ColorizationTrainer):
    """pix2pix: a U-Net generator against a PatchGAN discriminator, LSGAN losses.

    D minimises 0.5 * (MSE(D(real), 1) + MSE(D(fake), 0)); G minimises
    l1_weight * |G(L) - ab| + MSE(D(fake), 1). One generator pass and two
    discriminator passes per step feed both updates (as in the TensorFlow
    pix2pix tutorial).
    """

    def __init__(self, generator, discriminator, l1_weight=100.0, **kwargs):
        super().__init__(generator, **kwargs)
        self.discriminator = discriminator
        self.l1_weight = float(l1_weight)
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in ("g_loss", "g_adv", "l1", "d_loss")
        }

    @property
    def metrics(self):
        return list(self.trackers.values())

    def compile(self, optimizer, d_optimizer, **kwargs):
        # Keras wraps only `optimizer` for float16 loss scaling; D's must be wrapped by hand.
        super().compile(optimizer=loss_scaled(optimizer), **kwargs)
        self.d_optimizer = loss_scaled(d_optimizer)

    def compile_for(self, train_config):
        d_rate = train_config.d_learning_rate or train_config.learning_rate
        self.compile(make_optimizer(train_config), make_optimizer(train_config, d_rate))
        self._compile_backbone(train_config)
        return self

    def build_variables(self, size):
        self(example_inputs(self.network, size))
        self.discriminator([tf.zeros((1, size, size, 1)), tf.zeros((1, size, size, 2))])
        self._build_optimizers()
        self.d_optimizer.build(self.discriminator.trainable_variables)

    def get_compile_config(self):
        return {
            "optimizer": keras.saving.serialize_keras_object(self.optimizer),
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
        }

    def compile_from_config(self, config):
        self.compile(
            optimizer=keras.saving.deserialize_keras_object(config["optimizer"]),
            d_optimizer=keras.saving.deserialize_keras_object(config["d_optimizer"]),
        )

    def _record(self, values):
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data):
        inputs, ab_norm = data
        l_norm = lightness_of(inputs)  # D judges colours against the gray photo alone
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = self.network(inputs, training=True)  # (B, H, W, 2)
            d_real = tf.cast(self.discriminator([l_norm, ab_norm], training=True), tf.float32)
            d_fake = tf.cast(self.discriminator([l_norm, fake], training=True), tf.float32)
            d_loss = 0.5 * (
                tf.reduce_mean(tf.square(d_real - 1.0)) + tf.reduce_mean(tf.square(d_fake))
            )
            g_adv = tf.reduce_mean(tf.square(d_fake - 1.0))
            g_l1 = tf.reduce_mean(tf.abs(tf.cast(fake, tf.float32) - ab_norm))
            g_loss = g_adv + self.l1_weight * g_l1
            g_scaled = self.optimizer.scale_loss(_replica_share(g_loss))
            d_scaled = self.d_optimizer.scale_loss(_replica_share(d_loss))
        g_vars = self.network.trainable_variables
        d_vars = self.discriminator.trainable_variables
        self.apply_network_gradients(self.optimizer, g_tape.gradient(g_scaled, g_vars), g_vars)
        self.d_optimizer.apply(d_tape.gradient(d_scaled, d_vars), d_vars)
        return self._record({"g_loss": g_loss, "g_adv": g_adv, "l1": g_l1, "d_loss": d_loss})

    def test_step(self, data):
        inputs, ab_norm = data
        fake = tf.cast(self.network(inputs, training=False), tf.float32)
        self.trackers["l1"].update_state(tf.reduce_mean(tf.abs(fake - ab_norm)))
        return {"l1": self.trackers["l1"].result()}


def class_weights_from_prior(prior_grid, rebalance_lambda=C.REBALANCE_LAMBDA):
    """ab grid histogram (data_prep's ab_prior.npy) -> per-bin rebalancing weights (Q,)."""
    prior = ab_bins.prior_from_grid_histogram(prior_grid)
    return ab_bins.rebalance_weights(prior, lam=rebalance_lambda)


def make_optimizer(train_config, learning_rate=None):
    """Adam (AdamW when weight decay is set), as in the paper for every family."""
    learning_rate = train_config.learning_rate if learning_rate is None else learning_rate
    if train_config.weight_decay:
        return keras.optimizers.AdamW(
            learning_rate, weight_decay=train_config.weight_decay, beta_1=train_config.beta_1
        )
    return keras.optimizers.Adam(learning_rate, beta_1=train_config.beta_1)
