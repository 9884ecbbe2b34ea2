"""Layers from a flat set of named tensors (a PyTorch state dict, a safetensors file, an npz).

Such files hold no graph, only names, so the layers are found by the naming convention
PyTorch modules use (docs/networks.md, "State dicts"):

* ``P.weight`` (2-D, out x in) with ``P.bias`` (1-D, out): a fully-connected layer ``P``.
  A 2-D weight without a bias is not taken: an embedding table looks the same.
* ``P.weight`` with 3 or more dimensions (out x in x k...): a convolution, flattened to
  ``out x (in*k...)`` (kind ``conv``: storage only); its bias is optional.
* ``P.weight_ih_l0`` + ``P.weight_hh_l0`` [+ ``P.bias_ih_l0`` + ``P.bias_hh_l0``] (an
  ``nn.LSTM`` layer; ``_l1``... further layers, ``_reverse`` the second direction) or the
  same without ``_l0`` (an ``nn.LSTMCell``): an LSTM layer ``[W_ih | W_hh]`` with bias
  ``b_ih + b_hh`` and PyTorch's gate order i, f, g, o.  A GRU (3H rows) is not an LSTM and
  is left out.

The separator before ``weight``/``bias`` may be ``.``, ``/`` or ``_``; a file holding just
``weight`` and ``bias`` is one layer named after the file, and a bare ``nn.LSTM``'s state dict
(``weight_ih_l0``, ...) LSTM layers named after the file (``rnn.l0``, ``rnn.l0.reverse``).  The function after each layer
is unknown without a graph: ReLU after every layer but the last (LSTM layers: none).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from ..errors import InputError
from ..layer import check_array_header
from .result import ImportedLayer, as_float

__all__ = ["TensorInfo", "natural_key", "layers_from_tensors"]

_LEAF = re.compile(r"^(?:(?P<prefix>.*?)[./_])?(?P<leaf>weight|bias)$")
_RNN = re.compile(r"^(?:(?P<prefix>.*?)[./_])?(?P<leaf>weight|bias)_(?P<side>ih|hh)(?P<layer>_l\d+)?(?P<rev>_reverse)?$")


@dataclass(frozen=True)
class TensorInfo:
    """A tensor's shape and dtype (from the file's header), and how to read it."""

    shape: tuple[int, ...]
    dtype: str
    load: Callable[[], np.ndarray]


def natural_key(name: str):
    """Sort key that orders ``layer.2`` before ``layer.10``."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name) if t]


@dataclass
class _Found:
    name: str
    kind: str
    order: int
    weight: str
    bias: str | None = None
    hh: str | None = None
    bias_hh: str | None = None
    reverse: bool = False


def _get(tensors: Mapping[str, TensorInfo], key: str, where: str) -> np.ndarray:
    info = tensors[key]
    # the element count from the header, before anything is read (eie.layer.MAX_ELEMENTS)
    check_array_header(f"{where}: tensor {key!r}", tuple(info.shape), np.dtype("float32"))
    a = info.load()
    if tuple(a.shape) != tuple(info.shape):
        raise InputError(f"{where}: tensor {key!r} holds shape {a.shape}, its header says {info.shape}")
    if a.dtype.kind not in "fiu":
        raise InputError(f"{where}: tensor {key!r} must be numeric, not {a.dtype}")
    a = as_float(a)
    if not np.all(np.isfinite(a)):
        raise InputError(f"{where}: tensor {key!r} holds a value that is not finite (NaN or infinity)")
    return a


def _find(tensors: Mapping[str, TensorInfo], stem: str) -> list[_Found]:
    found: dict[str, _Found] = {}
    for i, key in enumerate(tensors):
        m = _LEAF.match(key)
        if m and m["leaf"] == "weight":
            prefix = m["prefix"] or stem
            bias = key[: -len("weight")] + "bias"
            bias = bias if bias in tensors else None
            shape = tensors[key].shape
            if len(shape) >= 3:
                found[key] = _Found(prefix, "conv", i, key, bias)
            elif len(shape) == 2 and bias is not None:
                found[key] = _Found(prefix, "fc", i, key, bias)
            continue
        m = _RNN.match(key)
        if m and m["leaf"] == "weight" and m["side"] == "ih":
            suffix = (m["layer"] or "") + (m["rev"] or "")
            base = key[: -len("weight_ih" + suffix)]
            hh, b_ih, b_hh = base + "weight_hh" + suffix, base + "bias_ih" + suffix, base + "bias_hh" + suffix
            if hh not in tensors:
                continue
            name = (m["prefix"] or stem) + (m["layer"] or "").replace("_l", ".l") + (".reverse" if m["rev"] else "")
            found[key] = _Found(name, "lstm", i, key, b_ih if b_ih in tensors else None, hh,
                                b_hh if b_hh in tensors else None, bool(m["rev"]))
    return sorted(found.values(), key=lambda f: f.order)


def layers_from_tensors(tensors: Mapping[str, TensorInfo], where: str, stem: str) -> list[ImportedLayer]:
    """The layers among ``tensors`` (in their order), read and converted; ``where`` (the file)
    starts every error, ``stem`` names a layer stored as bare ``weight``/``bias``."""
    out: list[ImportedLayer] = []
    for f in _find(tensors, stem):
        shape = tensors[f.weight].shape
        origin = f.weight + (f" + {f.bias}" if f.bias else "")
        if f.kind == "lstm":
            h4, x = shape if len(shape) == 2 else (0, 0)
            hh = tensors[f.hh].shape
            if len(shape) != 2 or len(hh) != 2 or h4 % 4 or hh != (h4, h4 // 4):
                continue                     # a GRU (3H rows) or a vanilla RNN: not an LSTM
            w = np.concatenate([_get(tensors, f.weight, where), _get(tensors, f.hh, where)], axis=1)
            bias = None
            for key in (f.bias, f.bias_hh):
                if key is not None:
                    b = _get(tensors, key, where)
                    if b.shape != (h4,):
                        raise InputError(f"{where}: LSTM bias {key!r} has shape {b.shape}, not ({h4},)")
                    bias = b if bias is None else bias + b
            out.append(ImportedLayer(f.name, "lstm", weight=w, bias=bias, hidden=h4 // 4, input=x, gates="ifgo",
                                     direction="reverse" if f.reverse else "forward",
                                     origin=f"{f.weight} + {f.hh}" + (" + biases" if bias is not None else "")))
            continue
        w = _get(tensors, f.weight, where)
        if f.kind == "conv":
            w = w.reshape(shape[0], math.prod(shape[1:]))
        b = _get(tensors, f.bias, where) if f.bias else None
        if b is not None and b.shape != (shape[0],):
            if f.kind == "fc":
                raise InputError(f"{where}: bias {f.bias!r} has shape {b.shape} but weight {f.weight!r} has "
                                 f"{shape[0]} output rows: they must agree")
            b = None
        out.append(ImportedLayer(f.name, f.kind, weight=w, bias=b, origin=origin))
    return [layer if layer.kind == "lstm" or i == len(out) - 1 else replace(layer, function="relu")
            for i, layer in enumerate(out)]
