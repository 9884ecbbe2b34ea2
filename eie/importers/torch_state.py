"""PyTorch state dicts (``.pt``/``.pth``), zip (PyTorch >= 1.6) and legacy format.

With PyTorch installed the file is read by ``torch.load(weights_only=True)``.  Without it,
eie reads the file itself and never runs anything from it: the pickle is read by an
unpickler whose only globals are an allow-list (what ``weights_only`` allows for a state
dict: ``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` and its older and
``Parameter`` forms, and the ``torch.*Storage`` types, each replaced by eie's own inert
stand-in), so a pickle naming any other global is refused before anything is called.
Storages are read as raw bytes and every tensor view is checked against its storage.

Layout of the two formats (as ``torch.save`` writes them):

* zip: ``ARCHIVE/data.pkl`` (the pickle; a storage is the persistent id
  ``('storage', torch.FloatStorage, key, location, numel)``), ``ARCHIVE/data/KEY`` (the raw
  bytes of storage KEY), ``ARCHIVE/byteorder`` (``little`` when absent);
* legacy: five pickles in a row (the magic number 0x1950a86a20f9469cfc6c, the protocol
  version 1001, a dict of system information with ``little_endian``, the object with
  persistent ids ``('storage', type, key, location, numel, view)``, the list of storage
  keys), then each storage in that order: its element count (int64) and its bytes.
"""

from __future__ import annotations

import importlib.util
import io
import pickle
import struct
import warnings
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..errors import InputError
from .tensors import TensorInfo

__all__ = ["LEGACY_MAGIC", "STORAGE_DTYPES", "is_torch_file", "read_state_dict"]

#: the first pickle of a legacy-format file holds this number
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_HEAD = b"\x80\x02\x8a\x0a" + LEGACY_MAGIC.to_bytes(10, "little")

#: storage type -> element dtype ("bf16": bfloat16, widened to float32 when read)
STORAGE_DTYPES = {
    "FloatStorage": "f4", "DoubleStorage": "f8", "HalfStorage": "f2", "BFloat16Storage": "bf16",
    "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1", "ByteStorage": "u1",
    "BoolStorage": "b1",
}


class Refused(InputError):
    """The pickle names a global outside the allow-list."""


class _StorageType:
    __slots__ = ("name", "dtype")

    def __init__(self, name: str, dtype: str):
        self.name, self.dtype = name, dtype

    @property
    def itemsize(self) -> int:
        return 2 if self.dtype == "bf16" else np.dtype(self.dtype).itemsize


class _Storage:
    __slots__ = ("key", "type", "numel")

    def __init__(self, key: str, stype: _StorageType, numel: int):
        self.key, self.type, self.numel = key, stype, numel


class _Tensor:
    __slots__ = ("storage", "offset", "size", "stride")

    def __init__(self, storage, offset, size, stride):
        ok = (isinstance(storage, _Storage) and isinstance(offset, int) and offset >= 0
              and isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)
              and all(isinstance(v, int) and v >= 0 for v in size + stride))
        if not ok:
            raise InputError(f"a tensor record is malformed (storage offset {offset!r}, size {size!r}, "
                             f"stride {stride!r})")
        if all(size) and offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True)) >= storage.numel:
            raise InputError(f"a tensor of shape {size} (offset {offset}, strides {stride}) runs past the end of "
                             f"its storage {storage.key!r} of {storage.numel} elements: the file is inconsistent")
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def array(self, data: bytes, little: bool) -> np.ndarray:
        st = self.storage.type
        if len(data) < self.storage.numel * st.itemsize:
            raise InputError(f"storage {self.storage.key!r} holds {len(data)} bytes, fewer than its "
                             f"{self.storage.numel} elements need: the file is truncated")
        order = "<" if little else ">"
        raw = np.frombuffer(data, dtype=order + ("u2" if st.dtype == "bf16" else st.dtype),
                            count=self.storage.numel)
        if st.dtype == "bf16":
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        a = np.lib.stride_tricks.as_strided(raw[self.offset:], shape=self.size,
                                            strides=[s * raw.itemsize for s in self.stride], writeable=False)
        # a contiguous native-order copy; (ascontiguousarray would make a 0-d tensor 1-d)
        return a.astype(raw.dtype.newbyteorder("="), order="C", copy=True)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _Tensor(storage, storage_offset, tuple(size), tuple(stride))


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    return _rebuild_tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    if not isinstance(data, _Tensor):
        raise InputError(f"a Parameter must hold a tensor, not {type(data).__name__}")
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name, dtype) for name, dtype in STORAGE_DTYPES.items()},
}


#: globals of tensors that are not plain dense ones (what eie's own reader says of them)
_TENSOR_KINDS = {("torch", "float8_e4m3fn"), ("torch", "float8_e5m2"), ("torch", "qint8"), ("torch", "quint8"),
                 ("torch", "qint32"), ("torch", "sparse_coo"), ("torch", "sparse_csr"), ("torch", "complex32")}


class _Unpickler(pickle.Unpickler):
    """Globals only from :data:`_ALLOWED`; storages become :class:`_Storage` records."""

    def __init__(self, fh, storages: dict, legacy: bool):
        super().__init__(fh)
        self.storages, self.legacy = storages, legacy

    def find_class(self, module, name):
        obj = _ALLOWED.get((module, name))
        if obj is None and ((module == "torch._utils" and name.startswith("_rebuild_"))
                            or (module, name) in _TENSOR_KINDS):
            raise Refused(f"the pickle holds a tensor eie's own reader does not read ({module}.{name}: a sparse, "
                          f"quantised or otherwise non-dense tensor); with PyTorch installed (pip install torch) "
                          f"eie reads it through torch.load(weights_only=True)")
        if obj is None:
            raise Refused(f"the pickle names the global {module}.{name}, which is neither a tensor nor a plain "
                          f"container: refused (eie only reads tensors, dicts and lists from a PyTorch file; a "
                          f"whole pickled model: save its state dict, torch.save(model.state_dict(), PATH))")
        return obj

    def persistent_load(self, pid):
        n = 6 if self.legacy else 5
        if (not isinstance(pid, tuple) or len(pid) != n or pid[0] != "storage"
                or not isinstance(pid[1], _StorageType) or not isinstance(pid[2], str) or not isinstance(pid[4], int)):
            raise InputError(f"a storage record is malformed: {pid!r:.120}")
        _, stype, key, _location, numel = pid[:5]
        if self.legacy and pid[5] is not None:
            raise InputError(f"storage {key!r} is a view of another storage (a pre-1.0 legacy file): save it again "
                             f"with a recent PyTorch")
        old = self.storages.get(key)
        if old is not None and (old.type.name != stype.name or old.numel != numel):
            raise InputError(f"storage {key!r} is declared twice with different types or sizes")
        self.storages[key] = old or _Storage(key, stype, numel)
        return self.storages[key]


def _unpickle(fh, storages: dict, legacy: bool, where: str):
    """One pickle from ``fh`` (left just past it) with the allow-list unpickler."""
    try:
        return _Unpickler(fh, storages, legacy).load()
    except InputError as exc:
        raise type(exc)(f"{where}: {exc}") from None
    except Exception as exc:                   # a corrupt pickle raises anything
        raise InputError(f"{where} is not a readable PyTorch file (truncated or corrupt?): "
                         f"{type(exc).__name__}: {exc}") from None


#: the most containers and tensors a state dict may hold, and the deepest nesting: far above
#: any model's, far below what a few hundred bytes of crafted pickle can make (a list of
#: itself, or 40 nested pairs that each hold one object twice: 2^40 paths)
MAX_NODES, MAX_DEPTH = 1_000_000, 64


def _tensors(obj, where: str = "the model file") -> dict:
    """The tensors of a (nested) state dict, keyed by their dotted path.  Walked with a stack
    of its own (no recursion): a container inside itself, nesting deeper than
    :data:`MAX_DEPTH` or more than :data:`MAX_NODES` visits is an :class:`InputError`."""
    out = {}
    stack = [(obj, "", ())]                   # (object, dotted path, ids of the containers above it)
    visits = 0
    while stack:
        o, prefix, above = stack.pop()
        visits += 1
        if visits > MAX_NODES:
            raise InputError(f"{where} holds more than {MAX_NODES:,} objects in its state dict: not a model's "
                             f"(a crafted pickle?)")
        if isinstance(o, _Tensor):
            out[prefix] = o
            continue
        if isinstance(o, dict):
            items = [(f"{prefix}.{k}" if prefix else str(k), v) for k, v in o.items()]
        elif isinstance(o, (list, tuple)):
            items = [(f"{prefix}.{i}" if prefix else str(i), v) for i, v in enumerate(o)]
        else:
            continue
        if id(o) in above:
            raise InputError(f"{where}: the state dict holds itself at {prefix or 'its top'!r}: not a model's "
                             f"(a crafted pickle?)")
        if len(above) >= MAX_DEPTH:
            raise InputError(f"{where}: the state dict nests deeper than {MAX_DEPTH} levels at {prefix!r}: not a "
                             f"model's")
        stack.extend((v, name, (*above, id(o))) for name, v in reversed(items))
    return out


def is_torch_file(path: Path, head: bytes) -> bool:
    if head.startswith(_LEGACY_HEAD):
        return True
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as zf:
                return any(n == "data.pkl" or n.endswith("/data.pkl") for n in zf.namelist())
        except (zipfile.BadZipFile, OSError):
            return False
    return False


def _info(t: _Tensor, load) -> TensorInfo:
    return TensorInfo(t.size, t.storage.type.name, load)


def _read_zip(path: Path, where: str) -> dict[str, TensorInfo]:
    try:
        with zipfile.ZipFile(path) as zf:
            pkl = [n for n in zf.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
            if len(pkl) != 1:
                raise InputError(f"{where} holds {len(pkl)} data.pkl records, not one: not a PyTorch file")
            base = pkl[0][: -len("data.pkl")]
            order = zf.read(base + "byteorder").decode().strip() if base + "byteorder" in zf.namelist() else "little"
            storages: dict = {}
            obj = _unpickle(io.BytesIO(zf.read(pkl[0])), storages, False, where)
            members = {n: zf.getinfo(n).file_size for n in zf.namelist()}
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError, KeyError) as exc:
        raise InputError(f"{where} is not a readable PyTorch zip file (truncated or corrupt?): {exc}") from None
    if order not in ("little", "big"):
        raise InputError(f"{where}: byteorder must be little or big, not {order!r}")
    for s in storages.values():
        name = f"{base}data/{s.key}"
        if name not in members:
            raise InputError(f"{where}: storage {s.key!r} has no record {name!r}: the file is truncated")
        if members[name] < s.numel * s.type.itemsize:
            raise InputError(f"{where}: storage {s.key!r} declares {s.numel} elements of {s.type.name} "
                             f"({s.numel * s.type.itemsize} bytes) but holds {members[name]}: the file is truncated")

    def loader(t: _Tensor):
        def load():
            with zipfile.ZipFile(path) as zf:
                return t.array(zf.read(f"{base}data/{t.storage.key}"), order == "little")
        return load

    return {k: _info(t, loader(t)) for k, t in _tensors(obj, where).items()}


def _read_legacy(path: Path, where: str) -> dict[str, TensorInfo]:
    data = path.read_bytes()
    fh = io.BytesIO(data)
    storages: dict = {}
    for _ in range(3):                         # magic number, protocol version, system information
        info = _unpickle(fh, {}, False, where)
    little = not isinstance(info, dict) or info.get("little_endian", True)
    obj = _unpickle(fh, storages, True, where)
    keys = _unpickle(fh, {}, False, where)
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise InputError(f"{where}: the list of storage keys is malformed")
    offsets = {}
    pos = fh.tell()
    for key in keys:
        s = storages.get(key)
        if s is None:
            raise InputError(f"{where}: storage {key!r} is listed but no tensor uses it: the file is inconsistent")
        if len(data) < pos + 8:
            raise InputError(f"{where}: storage {key!r} starts past the end of the file: the file is truncated")
        (numel,) = struct.unpack_from("<q" if little else ">q", data, pos)
        if numel != s.numel:
            raise InputError(f"{where}: storage {key!r} holds {numel} elements but is declared with {s.numel}")
        end = pos + 8 + numel * s.type.itemsize
        if end > len(data):
            raise InputError(f"{where}: storage {key!r} needs {numel * s.type.itemsize} bytes at offset {pos + 8}, "
                             f"the file has {len(data) - pos - 8}: the file is truncated")
        offsets[key] = (pos + 8, end)
        pos = end
    missing = sorted(set(storages) - set(offsets))
    if missing:
        raise InputError(f"{where}: storage {missing[0]!r} is used but not stored: the file is truncated")

    def loader(t: _Tensor):
        a, b = offsets[t.storage.key]
        return lambda: t.array(data[a:b], bool(little))

    return {k: _info(t, loader(t)) for k, t in _tensors(obj, where).items()}


def _read_with_torch(path: Path, where: str) -> dict[str, TensorInfo]:
    import torch
    try:
        with warnings.catch_warnings():
            # torch's remarks on the pickle protocol of a file it then refuses, or reads: the
            # outcome is said once, by eie, as one line (the refusal below, or the import)
            warnings.simplefilter("ignore", UserWarning)
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        # torch refused the file (a global outside its allow-list, a TorchScript archive) or
        # could not read it: eie's own reader -- an allow-list unpickler, which never calls
        # anything -- names the reason the same way with or without torch
        _read_own(path, where)
        if isinstance(exc, pickle.UnpicklingError):
            raise Refused(f"{where}: torch.load(weights_only=True) refused it: {str(exc).splitlines()[0]}") from None
        raise InputError(f"{where} is not a readable PyTorch file: {type(exc).__name__}: {exc}") from None

    def flat(o, prefix=""):
        if isinstance(o, torch.Tensor):
            yield prefix, o
        elif isinstance(o, dict):
            for k, v in o.items():
                yield from flat(v, f"{prefix}.{k}" if prefix else str(k))
        elif isinstance(o, (list, tuple)):
            for i, v in enumerate(o):
                yield from flat(v, f"{prefix}.{i}" if prefix else str(i))

    def numpy(t):
        t = t.detach().cpu()
        if t.layout != torch.strided:          # a sparse COO/CSR/... weight: the dense matrix it stands for
            t = t.to_dense()
        if t.is_quantized:                     # qint8 and friends: the values they stand for
            t = t.dequantize()
        if t.dtype == torch.bfloat16 or "float8" in str(t.dtype):     # no numpy dtype: widened
            t = t.float()
        if t.dtype == getattr(torch, "complex32", None):               # likewise; complex is refused later
            t = t.to(torch.complex64)
        return t.numpy()

    return {k: TensorInfo(tuple(t.shape), str(t.dtype), lambda t=t: numpy(t)) for k, t in flat(obj)}


def torch_installed() -> bool:
    """PyTorch can be imported (the default reader is then ``torch.load``)."""
    return importlib.util.find_spec("torch") is not None


def read_state_dict(path, *, use_torch: bool | None = None) -> dict[str, TensorInfo]:
    """The tensors of a PyTorch file, in the file's order (lazy: each is read when loaded).
    ``use_torch`` None: PyTorch when it is installed, else eie's own reader."""
    path = Path(path)
    where = repr(str(path))
    if use_torch is None:
        use_torch = torch_installed()
    if use_torch:
        return _read_with_torch(path, where)
    return _read_own(path, where)


def _read_own(path: Path, where: str) -> dict[str, TensorInfo]:
    """eie's own reader (no torch): a zip or a legacy file, through the allow-list unpickler."""
    with open(path, "rb") as fh:
        head = fh.read(len(_LEGACY_HEAD))
    if head.startswith(b"PK\x03\x04"):
        return _read_zip(path, where)
    if head == _LEGACY_HEAD:
        return _read_legacy(path, where)
    raise InputError(f"{where} is neither a zip nor a legacy PyTorch file (it does not start with 'PK' or the "
                     f"legacy magic number)")
