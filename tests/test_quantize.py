"""Quantised ab space: bin derivation, soft-encoding, rebalancing, decoding, save/load."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from keras_colorize import constants as C
from keras_colorize.color import ab_bins, tf_lab

# Farthest an ab point can be from its cell's centre: half a cell diagonal.
HALF_DIAGONAL = C.AB_GRID_STEP / 2 * np.sqrt(2.0)


def _nearest_bin_distance(ab, bins):
    return np.min(np.linalg.norm(ab[:, None, :] - bins[None, :, :], axis=-1), axis=1)


def _numpy_soft_encode(ab, bins, k, sigma):
    """Direct float64 reference: argsort the distances, Gaussian weights, normalise."""
    ab = ab.reshape(-1, 2).astype(np.float64)
    dist = np.linalg.norm(ab[:, None, :] - bins[None, :, :].astype(np.float64), axis=-1)
    out = np.zeros_like(dist)
    for row, d in enumerate(dist):
        nearest = np.argsort(d)[:k]
        w = np.exp(-(d[nearest] ** 2) / (2 * sigma**2))
        out[row, nearest] = w / w.sum()
    return out


# --- in_gamut_bins -----------------------------------------------------------


def test_in_gamut_bins_count_is_stable_under_denser_sampling():
    bins = ab_bins.in_gamut_bins()
    denser = ab_bins._derive_in_gamut_bins(2 * ab_bins._GAMUT_SAMPLES_PER_EDGE - 1)
    np.testing.assert_array_equal(bins, denser)
    assert bins.shape == (262, 2)  # see the docstring for why not ZHANG_NUM_BINS
    assert bins.dtype == np.float32


def test_in_gamut_bins_are_sorted_grid_centres_including_gray():
    bins = ab_bins.in_gamut_bins()
    np.testing.assert_array_equal(bins % C.AB_GRID_STEP, 0.0)
    assert np.abs(bins).max() <= C.AB_GRID_LIMIT
    assert any((bins == 0.0).all(axis=1))
    order = np.lexsort((bins[:, 1], bins[:, 0]))
    np.testing.assert_array_equal(order, np.arange(len(bins)))
    assert len(np.unique(bins, axis=0)) == len(bins)


def test_every_srgb_colour_falls_in_a_bin_cell():
    rgb = np.random.default_rng(0).random((4000, 3))
    rgb[:8] = [
        [0, 0, 0],
        [1, 1, 1],
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
        [1, 1, 0],
        [0, 1, 1],
        [1, 0, 1],
    ]
    ab = tf_lab.rgb_to_lab(rgb).numpy()[:, 1:]
    distance = _nearest_bin_distance(ab, ab_bins.in_gamut_bins())
    assert distance.max() <= HALF_DIAGONAL + 1e-4


def test_in_gamut_bins_is_cached_and_read_only():
    bins = ab_bins.in_gamut_bins()
    assert ab_bins.in_gamut_bins() is bins
    with pytest.raises(ValueError):
        bins[0, 0] = 1.0


# --- soft_encode -------------------------------------------------------------


def test_soft_encode_matches_numpy_reference():
    bins = ab_bins.in_gamut_bins()
    ab = np.random.default_rng(1).uniform(-100, 100, size=(2, 4, 5, 2)).astype(np.float32)
    got = ab_bins.soft_encode(ab)
    assert got.shape == (2, 4, 5, len(bins)) and got.dtype == tf.float32
    want = _numpy_soft_encode(ab, bins, C.SOFT_ENCODE_NEIGHBOURS, C.SOFT_ENCODE_SIGMA)
    np.testing.assert_allclose(got.numpy().reshape(-1, len(bins)), want, atol=1e-5)


def test_soft_encode_sums_to_one_with_exactly_k_nonzeros():
    ab = np.random.default_rng(2).uniform(-120, 120, size=(3, 7, 2))
    for k in (1, C.SOFT_ENCODE_NEIGHBOURS, 10):
        encoded = ab_bins.soft_encode(ab, k=k).numpy()
        np.testing.assert_allclose(encoded.sum(axis=-1), 1.0, atol=1e-5)
        np.testing.assert_array_equal((encoded > 0).sum(axis=-1), k)


def test_soft_encode_puts_largest_weight_on_the_bin_under_the_pixel():
    bins = ab_bins.in_gamut_bins()
    picks = np.array([0, 17, len(bins) // 2, len(bins) - 1])
    encoded = ab_bins.soft_encode(bins[picks]).numpy()
    np.testing.assert_array_equal(encoded.argmax(axis=-1), picks)


def test_soft_encode_far_outside_the_grid_is_finite():
    encoded = ab_bins.soft_encode(np.array([[1e4, -1e4]])).numpy()
    assert np.isfinite(encoded).all()
    np.testing.assert_allclose(encoded.sum(), 1.0, atol=1e-5)


def test_soft_encode_in_tf_function_with_unknown_shape_and_cold_cache():
    ab_bins.in_gamut_bins.cache_clear()  # first derivation happens while tracing
    encode = tf.function(
        ab_bins.soft_encode, input_signature=[tf.TensorSpec([None, None, None, 2], tf.float32)]
    )
    ab = np.random.default_rng(3).uniform(-80, 80, size=(2, 3, 4, 2)).astype(np.float32)
    np.testing.assert_allclose(encode(ab).numpy(), ab_bins.soft_encode(ab).numpy(), atol=1e-6)


# --- prior and rebalancing ---------------------------------------------------


def test_prior_from_grid_histogram_maps_cells_to_bins():
    bins = ab_bins.in_gamut_bins()
    counts = np.zeros((C.AB_GRID_SIZE, C.AB_GRID_SIZE))
    index = ab_bins._grid_index(bins)
    counts[index[:, 0], index[:, 1]] = np.arange(1, len(bins) + 1)
    prior = ab_bins.prior_from_grid_histogram(counts)
    np.testing.assert_allclose(prior, np.arange(1, len(bins) + 1) / counts.sum())


def test_prior_from_grid_histogram_moves_out_of_gamut_counts_to_nearest_bin():
    bins = ab_bins.in_gamut_bins()
    counts = np.zeros((C.AB_GRID_SIZE, C.AB_GRID_SIZE))
    counts[-1, -1] = 3.0  # (110, 110): no sRGB colour reaches it
    counts[C.AB_GRID_SIZE // 2, C.AB_GRID_SIZE // 2] = 1.0  # gray (0, 0)
    prior = ab_bins.prior_from_grid_histogram(counts)
    corner = np.argmin(np.linalg.norm(bins - C.AB_GRID_LIMIT, axis=-1))
    gray = np.flatnonzero((bins == 0.0).all(axis=1))[0]
    assert prior[corner] == pytest.approx(0.75) and prior[gray] == pytest.approx(0.25)
    assert prior.sum() == pytest.approx(1.0)


def test_prior_from_grid_histogram_rejects_bad_input():
    with pytest.raises(ValueError):
        ab_bins.prior_from_grid_histogram(np.ones((22, 23)))
    with pytest.raises(ValueError):
        ab_bins.prior_from_grid_histogram(np.zeros((C.AB_GRID_SIZE, C.AB_GRID_SIZE)))


def _peaked_prior():
    """Most mass near gray, a little everywhere: like a real photo collection."""
    bins = ab_bins.in_gamut_bins().astype(np.float64)
    prior = np.exp(-np.sum(bins**2, axis=-1) / (2 * 20.0**2)) + 1e-4
    return prior / prior.sum()


def test_uniform_prior_gives_unit_weights():
    q = len(ab_bins.in_gamut_bins())
    weights = ab_bins.rebalance_weights(np.full(q, 1.0 / q))
    assert weights.shape == (q,) and weights.dtype == np.float32
    np.testing.assert_allclose(weights, 1.0, rtol=1e-5)


def test_rare_bins_get_larger_weights_and_normalisation_holds():
    prior = _peaked_prior()
    weights = ab_bins.rebalance_weights(prior)
    assert weights[prior.argmin()] > 3 * weights[prior.argmax()]
    p_smooth = ab_bins.smooth_prior(prior)
    assert np.sum(p_smooth * weights) == pytest.approx(1.0, rel=1e-5)
    # Weights fall as the smoothed prior rises (w is 1 / p_mix up to a constant).
    order = np.argsort(p_smooth)
    assert (np.diff(weights[order]) <= 1e-6 * weights.max()).all()


def test_lambda_one_gives_unit_weights():
    np.testing.assert_allclose(ab_bins.rebalance_weights(_peaked_prior(), lam=1.0), 1.0, rtol=1e-5)


def test_smooth_prior_spreads_a_spike_to_its_neighbours():
    bins = ab_bins.in_gamut_bins()
    gray = np.flatnonzero((bins == 0.0).all(axis=1))[0]
    spike = np.zeros(len(bins))
    spike[gray] = 1.0
    smoothed = ab_bins.smooth_prior(spike)
    neighbour = np.flatnonzero((bins == [C.AB_GRID_STEP, 0.0]).all(axis=1))[0]
    assert smoothed.argmax() == gray and 0 < smoothed[neighbour] < smoothed[gray]
    assert smoothed.sum() == pytest.approx(1.0)


# --- loss pieces ---------------------------------------------------------------


def test_pixel_weights_take_the_weight_of_the_argmax_bin():
    bins = ab_bins.in_gamut_bins()
    weights = np.arange(len(bins), dtype=np.float32)
    picks = np.array([[3, 40], [100, 7]])
    targets = ab_bins.soft_encode(bins[picks])  # (2, 2, Q), argmax at the picks
    np.testing.assert_array_equal(ab_bins.pixel_weights(targets, weights).numpy(), picks)


def test_colourful_mask():
    ab = np.zeros((3, 4, 4, 2), dtype=np.float32)
    ab[0] = C.GRAY_AB_THRESHOLD  # exactly at the threshold: still gray
    ab[1, 2, 3, 1] = -(C.GRAY_AB_THRESHOLD + 0.1)
    ab[2, 0, 0, 0] = C.GRAY_AB_THRESHOLD + 0.1
    np.testing.assert_array_equal(ab_bins.colourful_mask(ab).numpy(), [False, True, True])


def test_class_rebalanced_cross_entropy_matches_numpy():
    rng = np.random.default_rng(4)
    bins = ab_bins.in_gamut_bins()
    targets = ab_bins.soft_encode(rng.uniform(-60, 60, size=(2, 3, 3, 2)))
    logits = rng.normal(size=(2, 3, 3, len(bins))).astype(np.float32)
    pixel_w = rng.uniform(0.5, 2.0, size=(2, 3, 3)).astype(np.float32)
    got = ab_bins.class_rebalanced_cross_entropy(targets, logits, pixel_w).numpy()
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    want = (-(targets.numpy() * log_softmax).sum(axis=-1) * pixel_w).mean(axis=(1, 2))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    masked = ab_bins.class_rebalanced_cross_entropy(
        targets, tf.cast(logits, tf.float16), pixel_w, mask=np.array([False, True])
    ).numpy()
    assert masked.dtype == np.float32 and masked[0] == 0.0
    np.testing.assert_allclose(masked[1], want[1], rtol=1e-2)


# --- decoding ------------------------------------------------------------------


def test_annealed_mean_at_small_temperature_approaches_the_mode():
    bins = ab_bins.in_gamut_bins()
    modes = [0, 50, 150, len(bins) - 1]
    logits = np.random.default_rng(5).normal(size=(4, len(bins))).astype(np.float32)
    logits[np.arange(4), modes] = logits.max(axis=-1) + 1.0  # a mode 1 logit clear of the rest
    errors = [
        np.abs(ab_bins.annealed_mean(logits, temperature=t).numpy() - bins[modes]).max()
        for t in (1.0, C.ANNEALED_MEAN_T, 0.01)
    ]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-3


def test_annealed_mean_at_unit_temperature_is_the_softmax_mean():
    bins = ab_bins.in_gamut_bins()
    logits = np.random.default_rng(6).normal(size=(2, 3, len(bins)))
    probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    decoded = ab_bins.annealed_mean(logits, temperature=1.0)
    assert decoded.shape == (2, 3, 2) and decoded.dtype == tf.float32
    np.testing.assert_allclose(decoded.numpy(), probs @ bins, atol=1e-3)


def test_annealed_mean_stays_within_the_bin_range():
    bins = ab_bins.in_gamut_bins()
    logits = 10.0 * np.random.default_rng(7).normal(size=(64, len(bins)))
    decoded = ab_bins.annealed_mean(logits).numpy()
    assert (decoded >= bins.min(axis=0) - 1e-3).all() and (decoded <= bins.max(axis=0) + 1e-3).all()


def test_annealed_mean_converts_to_tflite_builtins():
    q = len(ab_bins.in_gamut_bins())
    decode = tf.function(
        ab_bins.annealed_mean, input_signature=[tf.TensorSpec([1, None, None, q], tf.float32)]
    )
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [decode.get_concrete_function()], decode
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    interpreter = Interpreter(model_content=converter.convert())
    interpreter.resize_tensor_input(0, [1, 3, 4, q])
    interpreter.allocate_tensors()
    logits = np.random.default_rng(9).normal(size=(1, 3, 4, q)).astype(np.float32)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], logits)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, ab_bins.annealed_mean(logits).numpy(), atol=1e-4)


def test_annealed_mean_decode_layer_round_trip(tmp_path):
    q = len(ab_bins.in_gamut_bins())
    model = keras.Sequential(
        [keras.Input((4, 4, 3)), keras.layers.Conv2D(q, 1), ab_bins.AnnealedMeanDecode(0.5)]
    )
    x = np.random.default_rng(8).normal(size=(2, 4, 4, 3)).astype(np.float32)
    path = tmp_path / "decode.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.layers[-1].temperature == 0.5
    assert loaded.layers[-1].get_config()["temperature"] == 0.5
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert model.predict(x, verbose=0).shape == (2, 4, 4, 2)


def test_annealed_mean_decode_chroma_gain_scales_the_decoded_ab_and_round_trips(tmp_path):
    q = len(ab_bins.in_gamut_bins())
    logits = np.random.default_rng(10).normal(size=(1, 3, 4, q)).astype(np.float32)
    inputs = keras.Input((3, 4, q))
    model = keras.Model(inputs, ab_bins.AnnealedMeanDecode(0.38, chroma_gain=1.1)(inputs))
    np.testing.assert_allclose(
        model.predict(logits, verbose=0),
        1.1 * ab_bins.annealed_mean(logits, temperature=0.38).numpy(),
        rtol=1e-5,
        atol=1e-5,
    )
    path = tmp_path / "gain.keras"
    model.save(path)
    assert keras.saving.load_model(path).layers[-1].chroma_gain == pytest.approx(1.1)


def test_annealed_mean_decode_without_a_saved_gain_decodes_as_before():
    # Models saved before chroma_gain existed carry no such key in their config.
    config = ab_bins.AnnealedMeanDecode(0.5).get_config()
    del config["chroma_gain"]
    assert ab_bins.AnnealedMeanDecode.from_config(config).chroma_gain == 1.0
    with pytest.raises(ValueError, match="chroma_gain"):
        ab_bins.AnnealedMeanDecode(chroma_gain=0.0)


def test_annealed_mean_decode_layer_is_float32_under_mixed_precision():
    q = len(ab_bins.in_gamut_bins())
    try:
        keras.config.set_dtype_policy("mixed_float16")
        layer = ab_bins.AnnealedMeanDecode()
        out = layer(tf.zeros((1, 2, 2, q), tf.float16))
    finally:
        keras.config.set_dtype_policy("float32")
    assert layer.compute_dtype == "float32" and out.dtype == tf.float32
    assert layer.temperature == C.ANNEALED_MEAN_T
    np.testing.assert_allclose(
        out.numpy(), np.broadcast_to(ab_bins.in_gamut_bins().mean(0), (1, 2, 2, 2)), atol=1e-3
    )


def test_annealed_mean_decode_layer_rejects_wrong_bin_count():
    with pytest.raises(ValueError):
        ab_bins.AnnealedMeanDecode()(tf.zeros((1, 2, 2, C.ZHANG_NUM_BINS)))
