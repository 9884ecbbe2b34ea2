"""Deep Compression's release format (the compressed AlexNet ``.net`` file that ``decode.py``
of songhan/Deep-Compression-AlexNet turns back into a caffemodel) [docs/networks.md].

The file has no header of its own: the layers and their shapes come from outside
(``--layer NAME:OUTxIN[:BITS]`` or a Caffe prototxt).  For L layers it holds

1. L non-zero counts, uint32 little-endian, one per layer (entries stored, the filler
   entries included);
2. per layer, in order: the codebook, ``2**bits`` float32 (16 for 4-bit layers, 256 for
   8-bit ones; entry 0 is 0.0: code 0 is a pruned weight and the filler); the bias, one
   float32 per output; the codes, two per byte low nibble first (4 bits,
   ``(nnz-1)//2+1`` bytes) or one per byte (8 bits, ``nnz`` bytes); the relative indices,
   4 bits, two per byte low nibble first (``(nnz-1)//2+1`` bytes).

Entry k sits at position ``sum(index[0..k] + 1) - 1`` of the flattened weight tensor (row
major, a convolution's ``out x in x kh x kw`` included); positions never reached hold
code 0.  A gap longer than 15 is bridged by filler entries (code 0, index 15), as in
EIE's own encoding [arch §3].  Every count and offset is checked: a stream shorter than
its counts, indices running past the tensor, bytes left over after the last layer and a
codebook whose entry 0 is not 0.0 are errors naming the layer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fileio import read_text
from ..layer import MAX_ELEMENTS
from .caffe import caffe_layers
from .result import ImportedLayer, ImportedNetwork

__all__ = ["LayerSpec", "parse_layer_spec", "specs_from_prototxt", "read_release"]


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a release file: its name, stored shape (out x in, a convolution
    flattened), code bits (4 or 8), kind and the function after it."""

    name: str
    n_out: int
    n_in: int
    bits: int = 4
    kind: str = "fc"
    function: str = "none"

    def __post_init__(self):
        if self.bits not in (4, 8):
            raise InputError(f"layer {self.name!r}: bits must be 4 or 8 (the release format packs 4-bit codes two "
                             f"per byte and 8-bit codes one per byte), not {self.bits}")
        if self.n_out < 1 or self.n_in < 1:
            raise InputError(f"layer {self.name!r}: shape must be at least 1x1, not {self.n_out}x{self.n_in}")
        if self.n_out * self.n_in > MAX_ELEMENTS:
            raise InputError(f"layer {self.name!r}: {self.n_out}x{self.n_in} is more than the limit of "
                             f"{MAX_ELEMENTS:,} weights per layer (eie.layer.MAX_ELEMENTS)")


_SPEC = re.compile(r"^(?P<name>[^:]+):(?P<out>\d+)x(?P<inp>\d+)(?::(?P<bits>\d+))?$")


def parse_layer_spec(text: str) -> LayerSpec:
    """``NAME:OUTxIN[:BITS]`` (``fc6:4096x9216``, ``conv1:96x363:8``); 4 bits unless given.
    A name containing ``conv`` is a convolution (stored, not run), as ``decode.py`` decides."""
    m = _SPEC.match(text.strip())
    if not m:
        raise InputError(f"--layer must be NAME:OUTxIN or NAME:OUTxIN:BITS (e.g. fc6:4096x9216), not {text!r}")
    kind = "conv" if "conv" in m["name"] else "fc"
    return LayerSpec(m["name"], int(m["out"]), int(m["inp"]), int(m["bits"] or 4), kind)


def specs_from_prototxt(path) -> tuple[str | None, list[LayerSpec]]:
    """The layers ``decode.py`` reads from a Caffe deploy prototxt: convolution and
    inner-product layers whose names contain conv, fc or ip, in file order; 8-bit codes for
    a name containing conv, 4-bit otherwise."""
    path = Path(path)
    text = read_text(path, f"--prototxt {str(path)!r}")
    name, layers = caffe_layers(text, repr(str(path)))
    if not layers:
        raise InputError(f"--prototxt {str(path)!r} has no convolution or inner-product layer named conv*, fc* or ip*")
    specs = [LayerSpec(c.name, *c.shape, bits=8 if "conv" in c.name else 4, kind=c.kind, function=c.function)
             for c in layers]
    return name, specs


def _nibbles(packed: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` 4-bit values of ``packed``, low nibble first."""
    out = np.empty(2 * packed.size, dtype=np.uint8)
    out[0::2] = packed & 0x0F
    out[1::2] = packed >> 4
    return out[:n]


class _Stream:
    def __init__(self, data: bytes, where: str):
        self.data, self.pos, self.where = data, 0, where

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise InputError(f"{self.where} is truncated: {what} needs {n} bytes at offset {self.pos}, the file has "
                             f"{len(self.data) - self.pos} left (a stream shorter than its non-zero count, or "
                             f"layers/shapes that do not match the file)")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk


def read_release(path, specs: list[LayerSpec], *, name: str | None = None, relu_between: bool = True) -> ImportedNetwork:
    """Decode a release file laid out as ``specs`` (see the module docstring).  The function
    after each layer is the spec's, or, with ``relu_between`` (no prototxt), ReLU after
    every layer but the last."""
    path = Path(path)
    where = repr(str(path))
    if not specs:
        raise InputError("a Deep Compression file needs its layers: give --layer NAME:OUTxIN (repeated, in file "
                         "order) or --prototxt deploy.prototxt")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{where} cannot be read: {exc.strerror or exc}") from None
    s = _Stream(data, where)
    counts = np.frombuffer(s.take(4 * len(specs), f"the {len(specs)} non-zero counts"), dtype="<u4")
    layers = []
    for i, (spec, nnz) in enumerate(zip(specs, counts.tolist(), strict=True)):
        label = f"layer {spec.name!r} (#{i})"
        size = spec.n_out * spec.n_in
        if nnz > size:
            raise InputError(f"{where}: {label} declares {nnz:,} non-zeros, more than its {spec.n_out}x{spec.n_in} "
                             f"= {size:,} weights: the shapes disagree with the file")
        codebook = np.frombuffer(s.take(4 * (1 << spec.bits), f"{label}'s {1 << spec.bits}-entry codebook"),
                                 dtype="<f4").astype(np.float32)
        if not np.all(np.isfinite(codebook)):
            raise InputError(f"{where}: {label}'s codebook holds a value that is not finite")
        if codebook[0] != 0.0:
            raise InputError(f"{where}: {label}'s codebook entry 0 must be 0.0 (code 0 is the pruned weight and the "
                             f"filler), not {float(codebook[0])!r}: the file or its layer list is wrong")
        bias = np.frombuffer(s.take(4 * spec.n_out, f"{label}'s bias of {spec.n_out} values"),
                             dtype="<f4").astype(np.float32)
        if not np.all(np.isfinite(bias)):
            raise InputError(f"{where}: {label}'s bias holds a value that is not finite")
        per_byte = 8 // spec.bits
        code_bytes = np.frombuffer(s.take((nnz - 1) // per_byte + 1, f"{label}'s {nnz:,} codes"), dtype=np.uint8)
        index_bytes = np.frombuffer(s.take((nnz - 1) // 2 + 1, f"{label}'s {nnz:,} relative indices"),
                                    dtype=np.uint8)
        codes = _nibbles(code_bytes, nnz) if spec.bits == 4 else code_bytes[:nnz]
        positions = np.cumsum(_nibbles(index_bytes, nnz).astype(np.int64) + 1) - 1
        if nnz and positions[-1] >= size:
            k = int(np.argmax(positions >= size))
            raise InputError(f"{where}: {label}'s indices run past the tensor: entry {k:,} of {nnz:,} lands at "
                             f"position {int(positions[k]):,} of a {spec.n_out}x{spec.n_in} tensor ({size:,} "
                             f"positions): the shapes disagree with the file")
        flat = np.zeros(size, dtype=np.uint8)
        flat[positions] = codes
        function = spec.function if not relu_between else ("relu" if i < len(specs) - 1 else "none")
        layers.append(ImportedLayer(spec.name, spec.kind, function, codebook=codebook,
                                    codes=flat.reshape(spec.n_out, spec.n_in), bias=bias,
                                    origin=f"{nnz:,} entries, {spec.bits}-bit codes"))
    if s.pos != len(data):
        raise InputError(f"{where}: {len(data) - s.pos:,} bytes follow the last layer ({specs[-1].name!r}): the file "
                         f"holds more than the {len(specs)} layer(s) given (a missing --layer, or shapes that disagree "
                         f"with the file)")
    return ImportedNetwork(name or path.stem, path.name, "deep-compression", tuple(layers), guessed=relu_between)
