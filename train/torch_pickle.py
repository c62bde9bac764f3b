"""Read a legacy (non-zip) PyTorch ``.pth`` state dict into numpy arrays, without torch.

Why not ``pickle.load``: a pickle can call any importable function, so a weights file is code.
The file is hash-checked first, then unpickled by :class:`RestrictedUnpickler`, which resolves
only the handful of names a plain state dict needs and refuses everything else.

Legacy layout (``torch.save(..., _use_new_zipfile_serialization=False)``): five consecutive
pickles -- magic number, protocol version, system info, the object itself (tensors reference
their storages by persistent id ``('storage', StorageClass, key, location, numel, view)``), the
list of storage keys -- followed by each storage in that order as an int64 element count and
the raw little-endian elements.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_detector.errors import ModelError, ModelIntegrityError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
# torch storage class -> numpy dtype (little endian, as torch writes on every supported platform)
STORAGE_DTYPES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "LongStorage": "<i8",
    "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1",
    "BoolStorage": "?",
}


class TorchPickleError(ModelError):
    """A weights file is not a readable legacy PyTorch state dict."""


class UnsafePickleError(TorchPickleError):
    """The pickle asks for a global outside the allow-list (it could run arbitrary code)."""


class WeightsHashError(TorchPickleError, ModelIntegrityError):
    """A weights file's SHA-256 is not the expected one."""


@dataclass(frozen=True)
class _Storage:
    key: str
    dtype: np.dtype
    numel: int


@dataclass(frozen=True)
class _TensorRef:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    if not isinstance(storage, _Storage):
        raise TorchPickleError("malformed tensor record: its storage is not a storage reference")
    return _TensorRef(storage, int(storage_offset), tuple(map(int, size)), tuple(map(int, stride)))


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data


def _storage_class(name: str):
    return ("storage-class", name)


_ALLOWED = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _storage_class(name) for name in STORAGE_DTYPES},
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only :data:`_ALLOWED` globals; storages become :class:`_Storage`."""

    def __init__(self, file, storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to unpickle global {module}.{name}: only a plain PyTorch state dict "
                f"is accepted") from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise TorchPickleError(f"unsupported persistent id in weights file: {pid!r:.80}")
        _, cls, key, _location, numel = pid[:5]
        if not (isinstance(cls, tuple) and cls[:1] == ("storage-class",)):
            raise TorchPickleError(f"persistent id names no torch storage class: {cls!r:.80}")
        if len(pid) > 5 and pid[5] is not None:
            raise TorchPickleError("storage views (pre-1.0 torch files) are not supported")
        storage = _Storage(str(key), np.dtype(STORAGE_DTYPES[cls[1]]), int(numel))
        known = self.storages.setdefault(storage.key, storage)
        if known != storage:
            raise TorchPickleError(f"storage {key} is declared twice with different types")
        return known


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _materialise(ref: _TensorRef, raw: dict[str, np.ndarray], name: str) -> np.ndarray:
    base = raw[ref.storage.key]
    if not ref.size:
        return base[ref.offset].copy()
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride, strict=True))
    if ref.offset < 0 or min(ref.stride) < 0 or last >= len(base):
        raise TorchPickleError(f"tensor {name} reaches outside its storage")
    item = base.itemsize
    view = np.lib.stride_tricks.as_strided(base[ref.offset:], ref.size,
                                           tuple(s * item for s in ref.stride), writeable=False)
    return np.array(view)  # own, contiguous copy


def parse_legacy(data: bytes) -> dict[str, np.ndarray]:
    """Parse legacy torch-pickle bytes (already trusted by hash) into ``{name: array}``."""
    f = io.BytesIO(data)
    storages: dict[str, _Storage] = {}

    def load():
        try:
            return RestrictedUnpickler(f, storages).load()
        except TorchPickleError:
            raise
        except Exception as exc:  # truncated / corrupt pickle
            raise TorchPickleError(f"corrupt weights file: {type(exc).__name__}: {exc}") from exc

    if load() != LEGACY_MAGIC:
        raise TorchPickleError("not a legacy PyTorch file (bad magic number; zip-format files "
                               "are not supported)")
    if (proto := load()) != LEGACY_PROTOCOL:
        raise TorchPickleError(f"unsupported legacy PyTorch protocol {proto!r}")
    info = load()
    if not (isinstance(info, dict) and info.get("little_endian", False)):
        raise TorchPickleError("only little-endian PyTorch files are supported")
    obj = load()
    keys = load()
    if not isinstance(obj, dict) or not isinstance(keys, list):
        raise TorchPickleError("weights file does not hold a state dict")
    raw: dict[str, np.ndarray] = {}
    for key in keys:
        st = storages.get(str(key))
        if st is None:
            raise TorchPickleError(f"storage {key} is listed but no tensor uses it")
        header = f.read(8)
        count = int.from_bytes(header, "little", signed=True) if len(header) == 8 else -1
        nbytes = count * st.dtype.itemsize
        if count != st.numel or len(chunk := f.read(nbytes)) != nbytes:
            raise TorchPickleError(f"storage {key}: expected {st.numel} elements, file has "
                                   f"{max(count, 0)} (truncated or corrupt)")
        raw[st.key] = np.frombuffer(chunk, st.dtype)
    if f.read(1):
        raise TorchPickleError("unexpected bytes after the last storage")
    out: dict[str, np.ndarray] = {}
    for name, value in obj.items():
        if not isinstance(value, _TensorRef):
            raise TorchPickleError(f"entry {name!r} is not a tensor")
        if value.storage.key not in raw:
            raise TorchPickleError(f"tensor {name} uses storage {value.storage.key}, never written")
        out[str(name)] = _materialise(value, raw, str(name))
    return out


def load_legacy_state_dict(path: str | os.PathLike, sha256: str) -> dict[str, np.ndarray]:
    """Verify ``path`` against ``sha256``, then parse it with the restricted unpickler."""
    path = Path(path)
    if not path.is_file():
        raise TorchPickleError(f"weights file not found: {path}")
    data = path.read_bytes()
    actual = sha256_bytes(data)
    if actual != sha256.lower():
        raise WeightsHashError(f"weights file {path} has SHA-256 {actual}, expected {sha256}")
    return parse_legacy(data)
