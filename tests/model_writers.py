"""Independent writers of the model formats eie imports, for the importer tests.

They share no code with ``eie.importers``: the Deep Compression writer is an encoder (the
importer is a decoder), and the PyTorch writer emits pickle opcodes by hand, without
``pickle`` or PyTorch, in the layout ``torch.save`` uses (zip and legacy).
"""

from __future__ import annotations

import io
import struct
import zipfile

import numpy as np

# ---- Deep Compression release format -------------------------------------------------


def dc_entries(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code, relative index) of every stored entry of a code tensor, fillers included: a gap
    of g zeros before a non-zero becomes g // 16 fillers (code 0, index 15) and then the
    entry with index g % 16."""
    flat = np.asarray(codes).ravel()
    pos = np.flatnonzero(flat)
    gaps = np.diff(np.concatenate([[-1], pos])) - 1
    fill, rem = gaps // 16, gaps % 16
    where = np.arange(pos.size) + np.cumsum(fill)
    total = pos.size + int(fill.sum())
    code = np.zeros(total, dtype=np.uint8)
    index = np.full(total, 15, dtype=np.uint8)
    code[where] = flat[pos]
    index[where] = rem
    return code, index


def pack_nibbles(values: np.ndarray) -> bytes:
    v = np.asarray(values, dtype=np.uint8)
    if v.size % 2:
        v = np.concatenate([v, [0]]).astype(np.uint8)
    return (v[0::2] | (v[1::2] << 4)).astype(np.uint8).tobytes()


def dc_release(layers) -> bytes:
    """A release file of ``layers``: (codes out x in, codebook float32, bias float32, bits)."""
    counts, body = [], b""
    for codes, codebook, bias, bits in layers:
        code, index = dc_entries(codes)
        counts.append(code.size)
        body += np.asarray(codebook, dtype="<f4").tobytes() + np.asarray(bias, dtype="<f4").tobytes()
        body += pack_nibbles(code) if bits == 4 else code.tobytes()
        body += pack_nibbles(index)
    return np.asarray(counts, dtype="<u4").tobytes() + body


def random_compressed(rng, n_out, n_in, density, bits=4):
    """(codes, codebook with entry 0 = 0.0, bias) of a random layer."""
    k = 1 << bits
    codebook = np.concatenate([[0.0], np.sort(rng.normal(size=k - 1))]).astype(np.float32)
    keep = rng.integers(0, 1 << 16, (n_out, n_in), dtype=np.uint16) < density * (1 << 16)
    codes = np.where(keep, rng.integers(1, k, (n_out, n_in), dtype=np.uint8), np.uint8(0))
    return codes, codebook, rng.normal(size=n_out).astype(np.float32)


# ---- PyTorch files, opcode by opcode -------------------------------------------------


def _str(s: str) -> bytes:
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def _int(n: int) -> bytes:
    return b"J" + struct.pack("<i", n)


def _tuple(items) -> bytes:
    return b"(" + b"".join(items) + b"t"


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


class Tensor:
    """A tensor record: a view (offset, shape, strides in elements) of a storage array."""

    def __init__(self, storage: np.ndarray, offset: int = 0, shape=None, stride=None, key=None):
        self.storage = np.ascontiguousarray(storage).ravel()
        self.offset = offset
        self.shape = tuple(np.shape(storage) if shape is None else shape)
        if stride is None:
            stride = tuple(int(np.prod(self.shape[i + 1:])) for i in range(len(self.shape)))
        self.stride = tuple(stride)
        self.key = key

    @classmethod
    def of(cls, a: np.ndarray):
        return cls(np.asarray(a))


_STORAGE = {np.dtype("float32"): "FloatStorage", np.dtype("float64"): "DoubleStorage",
            np.dtype("float16"): "HalfStorage", np.dtype("int64"): "LongStorage"}


def _tensor(t: Tensor, legacy: bool, rebuild=("torch._utils", "_rebuild_tensor_v2")) -> bytes:
    pid = [_str("storage"), _global("torch", _STORAGE[t.storage.dtype]), _str(t.key), _str("cpu"),
           _int(t.storage.size)] + ([b"N"] if legacy else [])
    hooks = _global("collections", "OrderedDict") + b")R"
    return (_global(*rebuild) + b"(" + _tuple(pid) + b"Q" + _int(t.offset) + _tuple(_int(v) for v in t.shape)
            + _tuple(_int(v) for v in t.stride) + b"\x89" + hooks + b"tR")


def state_dict_pickle(tensors: dict, legacy: bool = False, planted: tuple[str, str] | None = None,
                      nested: str | None = None) -> tuple[bytes, list[Tensor]]:
    """The pickle of an OrderedDict of tensors (``planted``: a global called as an extra
    entry; ``nested``: the dict sits under this key of an outer plain dict)."""
    recs = []
    body = b""
    for name, value in tensors.items():
        t = value if isinstance(value, Tensor) else Tensor.of(value)
        if t.key is None:
            t.key = str(len(recs))
        if all(r.key != t.key for r in recs):
            recs.append(t)
        body += _str(name) + _tensor(t, legacy)
    if planted:
        body += _str("planted") + _global(*planted) + _tuple([_str("x")]) + b"R"
    od = _global("collections", "OrderedDict") + b")R(" + body + b"u"
    if nested:
        od = b"}(" + _str(nested) + od + _str("epoch") + _int(3) + b"u"
    return b"\x80\x02" + od + b".", recs


def torch_zip(tensors: dict, *, archive: str = "model", big_endian: bool = False, **kw) -> bytes:
    pkl, recs = state_dict_pickle(tensors, **kw)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{archive}/data.pkl", pkl)
        zf.writestr(f"{archive}/byteorder", "big" if big_endian else "little")
        for t in recs:
            data = t.storage.astype(t.storage.dtype.newbyteorder(">")) if big_endian else t.storage
            zf.writestr(f"{archive}/data/{t.key}", data.tobytes())
        zf.writestr(f"{archive}/version", "3\n")
    return buf.getvalue()


def torch_legacy(tensors: dict, **kw) -> bytes:
    magic = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little") + b"."
    version = b"\x80\x02" + _int(1001) + b"."
    info = b"\x80\x02}(" + _str("protocol_version") + _int(1001) + _str("little_endian") + b"\x88u."
    pkl, recs = state_dict_pickle(tensors, legacy=True, **kw)
    keys = b"\x80\x02](" + b"".join(_str(t.key) for t in recs) + b"e."
    data = b"".join(struct.pack("<q", t.storage.size) + t.storage.tobytes() for t in recs)
    return magic + version + info + pkl + keys + data
