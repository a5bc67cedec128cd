"""Compute-side figures: a matmul peak per dtype, the input pipeline, and training steps.

Every figure is the median over timed repeats after untimed warm-up. Training
is timed through ``fit`` on a few batches of the real pipeline cached in
memory, so that only the model is timed; its FLOPs come from
benchmarks.flops.
"""

import os
import statistics
import time

# The dtype a Keras policy computes in: its training FLOPs are compared with
# the matmul peak of that dtype.
COMPUTE_DTYPES = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}
CACHED_BATCHES = 4  # distinct batches cycled through while training is timed


def matmul_peak(dtype, size=2048, warmup=2, repeats=5, per_repeat=3):
    """GFLOP/s of a square ``size`` x ``size`` tf.matmul in ``dtype``, median over repeats.

    Runs where TensorFlow places it by default (the GPU if there is one), like
    the training steps it is compared with.
    """
    import tensorflow as tf

    a = tf.cast(tf.random.uniform((size, size), seed=1), dtype)
    b = tf.cast(tf.random.uniform((size, size), seed=2), dtype)
    multiply = tf.function(tf.matmul)
    for _ in range(warmup):
        product = multiply(a, b)
    product[0, 0].numpy()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(per_repeat):
            product = multiply(a, b)
        product[0, 0].numpy()  # waits for an asynchronous device
        rates.append(per_repeat * 2 * size**3 / (time.perf_counter() - start) / 1e9)
    return {
        "dtype": dtype,
        "size": size,
        "gflops": statistics.median(rates),
        "repeats": rates,
        "device": product.device,
    }


def numpy_matmul_peak(size=2048, repeats=5):
    """GFLOP/s of a square float32 matmul in numpy (its BLAS): a second opinion on the peak."""
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = (rng.random((size, size), dtype=np.float32) for _ in range(2))
    a @ b
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        rates.append(2 * size**3 / (time.perf_counter() - start) / 1e9)
    config = np.show_config(mode="dicts") or {}
    blas = config.get("Build Dependencies", {}).get("blas", {}).get("name", "BLAS")
    return {
        "dtype": "float32",
        "size": size,
        "gflops": statistics.median(rates),
        "repeats": rates,
        "device": f"numpy {np.__version__} ({blas})",
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
        "image_size": image_size,
        "batches_per_repeat": batches,
    }


def epoch_timer():
    """A Keras callback collecting each epoch's wall time in its ``seconds`` list."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)

    return EpochTimer()


def load_prior(data_dir, model_config):
    """The dataset's ab prior if the family trains with it, else None."""
    import numpy as np

    from keras_colorize.data import schema
    from keras_colorize.training.families import family_of

    if not family_of(model_config).needs_prior:
        return None
    return np.load(os.path.join(data_dir, schema.PRIOR_FILE))


def build_bench_trainer(config, prior):
    """The family's trainer, compiled, with every variable created (in the current scope)."""
    from keras_colorize.training.families import build_trainer

    trainer = build_trainer(config.model, config.train, prior).compile_for(config.train)
    trainer.build_variables(config.train.image_size)
    return trainer


def cached_batches(data_dir, batch_size, image_size, input_context=None):
    """A few real training batches, cached and repeated: the model is timed, not the input."""
    from keras_colorize.data.pipeline import make_dataset

    dataset = make_dataset(
        data_dir,
        "train",
        batch_size,
        image_size=image_size,
        repeat=True,
        input_context=input_context,
    )
    return dataset.take(CACHED_BATCHES).cache().repeat()


def train_throughput(data_dir, config, steps=10, repeats=3, count_flops=True):
    """Training images/second of ``config`` through ``fit``; median over ``repeats`` epochs.

    The first epoch (tracing, warm-up) is not timed. ``config.train.precision``
    is the Keras policy used; its batch size and image size are the step's.

    Returns:
        dict: family, width, precision, batch_size, image_size, images_per_second,
        repeats; with count_flops also the counted and analytic FLOPs per image.
    """
    import keras

    from benchmarks import flops as bench_flops
    from keras_colorize.training.families import family_of

    model, train = config.model, config.train
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(train.precision)
    try:
        trainer = build_bench_trainer(config, load_prior(data_dir, model))
        batches = cached_batches(data_dir, train.batch_size, train.image_size)
        timer = epoch_timer()
        trainer.fit(
            batches,
            epochs=1 + repeats,
            steps_per_epoch=steps,
            callbacks=[timer],
            shuffle=False,  # a tf.data pipeline; Keras would only warn
            verbose=0,
        )
        flops = {}
        if count_flops:
            size = train.image_size
            counted = bench_flops.counted_train_flops(trainer, train.batch_size, size)
            flops = {
                "flops_per_image": counted["flops_per_image"],
                "flops_by_op_type": counted["by_op_type"],
                "analytic_flops_per_image": bench_flops.analytic_train_flops(trainer, size),
            }
    finally:
        keras.mixed_precision.set_global_policy(previous)
    rates = [steps * train.batch_size / s for s in timer.seconds[1:]]
    fields = family_of(model).config_fields
    return {
        "family": model.family,
        "width": model.width,
        # The architecture fields the family has (the GAN's depths and discriminator), else None.
        **{
            name: getattr(model, name) if name in fields else None
            for name in ("disc_width", "num_downs", "disc_layers")
        },
        "precision": train.precision,
        "batch_size": train.batch_size,
        "image_size": train.image_size,
        "steps_per_repeat": steps,
        "images_per_second": statistics.median(rates),
        "repeats": rates,
        **flops,
    }


def add_efficiency(row, peaks):
    """Adds achieved FLOP/s and its fraction of the same dtype's matmul peak to a training row.

    The analytic (model) FLOPs give the main figure, as is usual for "model FLOPs
    utilisation"; the counted FLOPs (which include element-wise ops and overcount
    some backprop convolutions, benchmarks.flops) a second one.
    """
    dtype = COMPUTE_DTYPES[row["precision"]]
    peak = peaks.get(dtype)
    if "analytic_flops_per_image" not in row:
        return row
    achieved = row["analytic_flops_per_image"] * row["images_per_second"] / 1e9
    counted = row["flops_per_image"] * row["images_per_second"] / 1e9
    row["compute_dtype"] = dtype
    row["achieved_gflops"] = achieved
    row["achieved_gflops_counted"] = counted
    row["peak_gflops"] = peak
    row["fraction_of_peak"] = achieved / peak if peak else None
    row["fraction_of_peak_counted"] = counted / peak if peak else None
    return row
