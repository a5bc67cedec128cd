"""Local colour hints: a point colours its own region, fades away and stops at strong edges."""

import json

import numpy as np
import pytest
from PIL import Image

from keras_colorize.color import np_lab
from keras_colorize.colorize import main
from keras_colorize.evaluation.locality import near_far
from keras_colorize.guidance.hints import hint_map
from keras_colorize.guidance.levin import propagate
from keras_colorize.guidance.local import hint_reach, local_hints
from keras_colorize.inference.backends import Backend, TFLiteBackend
from keras_colorize.inference.pipeline import HINT_MODES, colorize_images
from keras_colorize.inference.shipped import shipped_model
from keras_colorize.inference.user_guidance import load_guidance
from tests.conftest import photo_paths

RED = (60.0, 40.0)


def _two_regions(size=48, seed=0):
    """L (size, size): a dark left half (30) and a light right half (80), with a little noise."""
    rng = np.random.default_rng(seed)
    lightness = np.where(np.arange(size)[None, :] < size // 2, 30.0, 80.0)
    return np.broadcast_to(lightness, (size, size)) + rng.normal(0.0, 1.0, (size, size))


def _one_hint(shape, row, column, ab=RED):
    hint_ab = np.zeros(shape + (2,), np.float32)
    hint_mask = np.zeros(shape, bool)
    hint_ab[row, column] = ab
    hint_mask[row, column] = True
    return hint_ab, hint_mask


def _object_photo(size=64):
    """uint8 RGB gray photo: a dark disk (the object, L ~ 35) on a light textured background."""
    rng = np.random.default_rng(1)
    rows, cols = np.mgrid[:size, :size]
    disk = (rows - size * 0.3) ** 2 + (cols - size * 0.3) ** 2 <= (size * 0.2) ** 2
    gray = np.where(disk, 80.0, 190.0) + rng.normal(0.0, 4.0, (size, size))
    return np.repeat(np.clip(gray, 0, 255).astype(np.uint8)[..., None], 3, axis=-1)


def test_the_correction_is_exact_at_the_hint_and_decays_away():
    lightness = np.full((40, 40), 50.0)
    hint_ab, hint_mask = _one_hint(lightness.shape, 20, 20)
    weighted, reach = hint_reach(lightness, hint_ab, hint_mask, decay=1e-2)
    np.testing.assert_allclose(weighted[20, 20], RED)
    assert reach[20, 20] == 1.0
    assert np.all((reach >= 0) & (reach <= 1))
    # Along a row, the reach falls with the distance from the point.
    assert np.all(np.diff(reach[20, 20:]) < 0)
    assert reach[20, 39] < 0.1 * reach[20, 21]
    # The colour where the hint reaches is the hint's: U / g.
    np.testing.assert_allclose(weighted[20, 30] / reach[20, 30], RED, rtol=1e-4)


def test_colour_does_not_cross_a_strong_edge_much():
    lightness = _two_regions()
    hint_ab, hint_mask = _one_hint(lightness.shape, 24, 12)
    _, reach = hint_reach(lightness, hint_ab, hint_mask)
    # The same distance from the point (12 px) on its own side and across the edge.
    same_side = reach[24 - 12, 12]
    other_side = reach[24, 24:].max()
    assert same_side > 0.2
    assert other_side < 0.05 * same_side
    # Levin's own affinities let it through; without decay it is Levin's propagation.
    _, leaky = hint_reach(lightness, hint_ab, hint_mask, sharpness=1.0)
    assert leaky[24, 24:].max() > 0.1
    levin = propagate(lightness, hint_ab, hint_mask)
    weighted, _ = hint_reach(lightness, hint_ab, hint_mask, decay=1e-9, sharpness=1.0)
    np.testing.assert_allclose(weighted, levin, atol=0.01)


def test_the_network_keeps_what_no_hint_reaches():
    lightness = _two_regions()
    auto = np.full(lightness.shape + (2,), (5.0, 20.0), np.float32)
    guided = np.full(lightness.shape + (2,), RED, np.float32)  # a network that paints it all red
    hint_ab, hint_mask = _one_hint(lightness.shape, 24, 12)
    result = local_hints(lightness, auto, hint_ab, hint_mask, guided)
    np.testing.assert_allclose(result[24, 12], RED)
    np.testing.assert_allclose(result[:, 36:], auto[:, 36:], atol=0.5)  # across the edge
    assert np.abs(result[24, 13] - np.array(RED)).max() < 5
    # No hint: the automatic colours, exactly.
    empty = np.zeros(lightness.shape, bool)
    np.testing.assert_array_equal(local_hints(lightness, auto, hint_ab, empty, guided), auto)
    with pytest.raises(ValueError, match="decay"):
        hint_reach(lightness, hint_ab, hint_mask, decay=0.0)
    with pytest.raises(ValueError, match="decay"):
        propagate(lightness, hint_ab, hint_mask, decay=-1.0)
    with pytest.raises(ValueError, match="auto_ab"):
        local_hints(lightness, auto[1:], hint_ab, hint_mask)


def test_one_point_colours_its_object_more_than_the_rest():
    photo = _object_photo()
    lightness = photo[..., 0].astype(np.float64) / 2.55  # near enough to L for this check
    auto = np.zeros(photo.shape[:2] + (2,), np.float32)
    hint_ab, hint_mask = _one_hint(photo.shape[:2], 19, 19)
    result = local_hints(lightness, auto, hint_ab, hint_mask)
    delta = np.linalg.norm(result - auto, axis=-1)
    rows, cols = np.mgrid[:64, :64]
    distance = np.hypot(rows - 19, cols - 19)
    near, far = delta[distance <= 4].mean(), delta[distance > 16].mean()
    assert far < near / 3, (near, far)


class _SpreadingBackend(Backend):
    """A guided stand-in that paints the whole photo the mean colour of its hints."""

    working_size = 128
    fixed_size = True
    guided = True

    def _predict(self, l_norm, hints=None, reference=None):
        out = np.full(l_norm.shape[:3] + (2,), 0.05, np.float32)
        for index, one in enumerate(hints):
            mask = one[..., 2] > 0
            if mask.any():
                out[index] = one[mask, :2].mean(axis=0)
        return out


@pytest.mark.parametrize("hint_mode, local", [("local", True), ("network", False)])
def test_colorize_with_one_point_changes_far_pixels_less_than_near_ones(hint_mode, local):
    photo = _object_photo(128)
    backend = _SpreadingBackend()
    point = (38.5, 38.5)  # the disk's centre
    hints = hint_map([(*point, *RED, 3.0)], photo.shape, backend.working_size)
    before = colorize_images([photo], backend)[0]
    after = colorize_images([photo], backend, hints=[hints], hint_mode=hint_mode)[0]
    near, far = near_far(before, after, point)
    assert near > 20
    assert (far < near / 3) == local, (near, far)


def test_hint_mode_is_checked():
    with pytest.raises(ValueError, match="hint_mode"):
        colorize_images([_object_photo()], _SpreadingBackend(), hint_mode="global")


def test_colorize_command_applies_a_point_locally_unless_told_otherwise(tmp_path):
    photo = Image.open(photo_paths()[0]).convert("L").convert("RGB")
    source = tmp_path / "photo.png"
    photo.save(source)
    point = (photo.width * 0.3, photo.height * 0.6)
    hints = tmp_path / "hints.json"
    hints.write_text(json.dumps([{"x": point[0], "y": point[1], "color": "#ff0000"}]))
    results = {}
    for name, extra in (
        ("none", []),
        ("local", ["--hints", str(hints)]),
        ("network", ["--hints", str(hints), "--hint-mode", "network"]),
    ):
        out = tmp_path / name
        assert main([str(source), "--out", str(out), "--quiet", *extra]) == 0
        results[name] = np.asarray(Image.open(out / "photo.png").convert("RGB"))
    local = near_far(results["none"], results["local"], point)
    assert local[0] > 20, local  # red where it was put
    assert local[1] < local[0] / 3, local
    # Each mode is colorize_images' own: local by default, the network's with the flag.
    backend = TFLiteBackend(shipped_model())
    guidance = load_guidance(backend, "shipped", [str(source)], hints=str(hints))
    for mode in HINT_MODES:
        expected = colorize_images(
            [np.asarray(photo)], backend, hints=[guidance.hints], hint_mode=mode
        )[0]
        difference = np.abs(results[mode].astype(int) - expected.astype(int))
        assert difference.max() <= 1, mode
    assert np.abs(results["local"].astype(int) - results["network"].astype(int)).mean() > 0.5
    assert np_lab.rgb_uint8_to_lab(results["local"])[..., 1].max() > 40
