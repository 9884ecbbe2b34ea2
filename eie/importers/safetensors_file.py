"""safetensors files (the ``safetensors`` package's numpy API; layers found by name as in
:mod:`eie.importers.tensors`).

The file is an 8-byte little-endian header length, a JSON header (name -> dtype, shape,
data offsets) and the data.  Shapes come from the header before any tensor is read.
numpy has no bfloat16, so a ``BF16`` tensor is read from its offsets and widened to
float32 (the upper 16 bits of a float32 are a bfloat16).
"""

from __future__ import annotations

import json
import struct
from functools import partial
from pathlib import Path

import numpy as np

from ..errors import InputError
from .tensors import TensorInfo, natural_key

__all__ = ["is_safetensors", "read_safetensors"]


def is_safetensors(path: Path, head: bytes) -> bool:
    """An 8-byte header length that fits the file, then ``{``."""
    if len(head) < 9 or head[8:9] != b"{":
        return False
    (n,) = struct.unpack_from("<Q", head)
    return 2 <= n <= path.stat().st_size - 8


def _bf16_loader(path: Path, name: str, header_len: int, offsets, shape):
    def load():
        a, b = offsets
        with open(path, "rb") as fh:
            fh.seek(8 + header_len + a)
            raw = fh.read(b - a)
        u = np.frombuffer(raw, dtype="<u2")
        if u.size != int(np.prod(shape)):
            raise InputError(f"{str(path)!r}: tensor {name!r} holds {u.size} values, its shape {shape} needs "
                             f"{int(np.prod(shape))}")
        return (u.astype(np.uint32) << 16).view(np.float32).reshape(shape)
    return load


def read_safetensors(path) -> dict[str, TensorInfo]:
    """The tensors of a safetensors file, in natural order of their names (``layer.2`` before
    ``layer.10``; the file's own order is by dtype and name, not by layer)."""
    from safetensors import SafetensorError, safe_open
    path = Path(path)
    where = repr(str(path))
    try:
        with open(path, "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(n)) if n <= path.stat().st_size - 8 else None
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        with safe_open(str(path), framework="np") as f:
            keys = sorted(f.keys(), key=natural_key)
            infos = {}
            for k in keys:
                sl = f.get_slice(k)
                shape, dtype = tuple(int(v) for v in sl.get_shape()), str(sl.get_dtype())
                load = (_bf16_loader(path, k, n, header[k]["data_offsets"], shape) if dtype == "BF16"
                        else partial(_get, path, k))
                infos[k] = TensorInfo(shape, dtype, load)
    except (SafetensorError, OSError, ValueError, KeyError, TypeError, struct.error) as exc:
        raise InputError(f"{where} is not a readable safetensors file (truncated or corrupt?): {exc}") from None
    return infos


def _get(path: Path, key: str) -> np.ndarray:
    from safetensors import SafetensorError, safe_open
    try:
        with safe_open(str(path), framework="np") as f:
            return f.get_tensor(key)
    except (SafetensorError, OSError, ValueError, TypeError) as exc:
        raise InputError(f"{str(path)!r}: tensor {key!r} cannot be read: {exc}") from None
