"""npz archives of dense weight/bias pairs (``numpy.savez``; layers found by name as in
:mod:`eie.importers.tensors`).  Read with ``allow_pickle=False``; each array's shape comes
from its ``.npy`` header before its data is read."""

from __future__ import annotations

import zipfile
from functools import partial
from pathlib import Path

import numpy as np

from ..errors import InputError
from .tensors import TensorInfo, natural_key

__all__ = ["is_npz", "read_npz"]


def is_npz(path: Path, head: bytes) -> bool:
    if not head.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return bool(names) and all(n.endswith(".npy") for n in names)


def _header(zf: zipfile.ZipFile, name: str) -> tuple[tuple, np.dtype]:
    fmt = np.lib.format
    with zf.open(name) as member:
        version = fmt.read_magic(member)
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _fortran, dtype = read(member)
    return tuple(int(v) for v in shape), dtype


def model_order(names: list[str]) -> bool:
    """Whether an archive's names keep the model's order: ``numpy.savez`` keeps the keyword
    order, which for a saved state dict is the model's, unless the names are sorted as plain
    strings -- the model's order was lost there (``net.10`` sorts before ``net.2``)."""
    return names != sorted(names)


def archive_order(names: list[str]) -> list[str]:
    """The order the layers are taken in: the archive's where it is the model's
    (:func:`model_order`), else natural order, as a safetensors file is."""
    return list(names) if model_order(names) else sorted(names, key=natural_key)


def read_npz(path) -> dict[str, TensorInfo]:
    """The arrays of an npz, in :func:`archive_order`."""
    path = Path(path)
    where = repr(str(path))
    infos = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for name in archive_order(zf.namelist()):
                shape, dtype = _header(zf, name)
                key = name[: -len(".npy")]
                infos[key] = TensorInfo(shape, str(dtype), partial(_load, path, key, dtype))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, SyntaxError) as exc:
        raise InputError(f"{where} is not a readable .npz (truncated or corrupt?): {exc}") from None
    return infos


def _load(path: Path, key: str, dtype: np.dtype) -> np.ndarray:
    if dtype.hasobject or dtype.kind not in "biuf":
        raise InputError(f"{str(path)!r}: array {key!r} must be numeric, not dtype {dtype} (a pickled object array "
                         f"is never loaded)")
    try:
        with np.load(path, allow_pickle=False) as f:
            return f[key]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InputError(f"{str(path)!r}: array {key!r} cannot be read (truncated or corrupt?): {exc}") from None
