"""Caffe deploy prototxt: the layer shapes a Deep Compression release file leaves out.

The prototxt is protobuf text format (``name: "AlexNet"``, ``layer { ... }``); it is
parsed here without protobuf or Caffe.  The input shape (``input_dim`` x4,
``input_shape { dim }`` or an ``Input`` layer) is carried through the layers to give each
convolution and inner-product layer its weight shape:

* ``Convolution``: ``num_output x (C/group) x kh x kw``; output
  ``(H + 2 pad - dilation (k - 1) - 1) div stride + 1``;
* ``Pooling``: output ``ceil((H + 2 pad - k) / stride) + 1``, one less when the last window
  would start in the padding (Caffe's rule); ``global_pooling``: 1 x 1;
* ``InnerProduct``: ``num_output x (C H W)``;
* ``Concat`` adds channels, ``Flatten`` flattens, every other layer keeps its input shape.

Both the current (``layer { type: "Convolution" }``) and the V1 (``layers { type:
CONVOLUTION }``) spellings are read.  The function after a layer is the first later layer
that reads its output: ``ReLU``, ``Sigmoid``, ``TanH`` or ``Softmax``, else none.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..errors import InputError

__all__ = ["parse_text_proto", "CaffeLayer", "caffe_layers"]

_TOKEN = re.compile(r'\s+|#[^\n]*|"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|[{}:\[\],;<>]|[^\s{}:\[\],;<>"\'#]+')


def parse_text_proto(text: str, where: str) -> dict:
    """Protobuf text format as nested dicts; every field maps to the list of its values."""
    tokens = [t for t in _TOKEN.findall(text) if t.strip() and not t.startswith("#")]
    pos = 0

    def scalar(tok: str):
        if tok[0] in "\"'":
            return tok[1:-1].encode().decode("unicode_escape")
        try:
            return int(tok)
        except ValueError:
            pass
        try:
            return float(tok)
        except ValueError:
            return tok                             # an enum (MAX) or a bool (true)

    def message(end: str | None) -> dict:
        nonlocal pos
        msg: dict = {}
        while pos < len(tokens):
            tok = tokens[pos]
            if tok == end:
                pos += 1
                return msg
            if tok in "{}:[],;<>":
                raise InputError(f"{where}: unexpected {tok!r} in the prototxt (token {pos})")
            name = tok
            pos += 1
            if pos < len(tokens) and tokens[pos] == ":":
                pos += 1
            if pos >= len(tokens):
                raise InputError(f"{where}: the prototxt ends after {name!r}")
            tok = tokens[pos]
            if tok in ("{", "<"):
                pos += 1
                msg.setdefault(name, []).append(message("}" if tok == "{" else ">"))
            elif tok == "[":
                pos += 1
                while pos < len(tokens) and tokens[pos] != "]":
                    if tokens[pos] != ",":
                        msg.setdefault(name, []).append(scalar(tokens[pos]))
                    pos += 1
                pos += 1
            else:
                msg.setdefault(name, []).append(scalar(tok))
                pos += 1
            if pos < len(tokens) and tokens[pos] in ",;":
                pos += 1
        if end is not None:
            raise InputError(f"{where}: the prototxt ends inside a {{ ... }} block (a missing '}}')")
        return msg

    return message(None)


def _one(msg: dict, key: str, default=None):
    v = msg.get(key)
    return v[0] if v else default


@dataclass(frozen=True)
class CaffeLayer:
    """A convolution or inner-product layer of the prototxt and its weight's shape."""

    name: str
    kind: str                     # "conv" | "fc"
    weight_shape: tuple[int, ...]
    function: str

    @property
    def shape(self) -> tuple[int, int]:
        """The weight as eie stores it: out x (everything else)."""
        return self.weight_shape[0], math.prod(self.weight_shape[1:])


def _norm(t) -> str:
    return str(t).lower().replace("_", "")


def _pair(p: dict, key: str, default: int, where: str) -> tuple[int, int]:
    """A kernel/stride/pad value: ``key`` (once or per axis) or ``key_h``/``key_w``."""
    h, w = _one(p, key + "_h"), _one(p, key + "_w")
    vals = p.get(key, [])
    if h is not None or w is not None:
        return int(h if h is not None else default), int(w if w is not None else default)
    if not vals:
        return default, default
    if not all(isinstance(v, int) and v >= 0 for v in vals):
        raise InputError(f"{where}: {key} must be integers >= 0, not {vals}")
    return (vals[0], vals[0]) if len(vals) == 1 else (vals[0], vals[1])


_FUNCS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "softmax": "softmax"}


def _input_blobs(net: dict) -> dict:
    """The shapes (C, H, W) of the net-level inputs (``input`` with ``input_dim`` or ``input_shape``)."""
    blobs = {}
    dims = net.get("input_dim") or [d for s in net.get("input_shape", []) for d in s.get("dim", [])]
    for name in net.get("input", []):
        if len(dims) >= 2:
            blobs[name] = tuple(int(d) for d in dims[1:4]) + (1,) * max(0, 4 - len(dims))
    return blobs


def _weighted(layer: dict, typ: str, src, w: str) -> tuple[str, tuple, tuple]:
    """(kind, weight shape, output shape) of a convolution or inner-product layer."""
    key = "convolution_param" if typ == "convolution" else "inner_product_param"
    p = _one(layer, key, {})
    n = _one(p, "num_output")
    if not isinstance(n, int) or n < 1:
        raise InputError(f"{w} needs {key} {{ num_output: N }} with N >= 1, not {n!r}")
    if src is None:
        raise InputError(f"{w}: the shape of its input is unknown (give the input shape with input_dim, or the "
                         f"layers with --layer NAME:OUTxIN)")
    if typ == "innerproduct":
        return "fc", (n, math.prod(src)), (n, 1, 1)
    kh, kw = _pair(p, "kernel_size" if "kernel_size" in p else "kernel", 0, w)
    sh, sw = _pair(p, "stride", 1, w)
    ph, pw = _pair(p, "pad", 0, w)
    dh, dw = _pair(p, "dilation", 1, w)
    group = int(_one(p, "group", 1))
    if kh < 1 or kw < 1 or sh < 1 or sw < 1 or group < 1 or src[0] % group or n % group:
        raise InputError(f"{w}: kernel {kh}x{kw}, stride {sh}x{sw}, group {group} with {src[0]} input and {n} "
                         f"output channels is not a valid convolution")
    shape = (n, (src[1] + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (src[2] + 2 * pw - dw * (kw - 1) - 1) // sw + 1)
    if min(shape) < 1:
        raise InputError(f"{w}: its output shape {shape} is empty: check the input shape")
    return "conv", (n, src[0] // group, kh, kw), shape


def _shape_after(typ: str, layer: dict, src, parts: list, w: str):
    """The output shape of a layer without weights (None when unknown)."""
    if typ == "input":
        d = [int(x) for s in _one(layer, "input_param", {}).get("shape", []) for x in s.get("dim", [])]
        return tuple(d[1:4]) + (1,) * (3 - len(d[1:4])) if len(d) >= 2 else None
    if src is None:
        return None
    if typ == "pooling":
        p = _one(layer, "pooling_param", {})
        if str(_one(p, "global_pooling", "false")).lower() == "true":
            return (src[0], 1, 1)
        kh, kw = _pair(p, "kernel_size" if "kernel_size" in p else "kernel", 1, w)
        sh, sw = _pair(p, "stride", 1, w)
        ph, pw = _pair(p, "pad", 0, w)
        return (src[0], _pool(src[1], kh, sh, ph), _pool(src[2], kw, sw, pw))
    if typ == "concat":
        return None if any(s is None for s in parts) else (sum(s[0] for s in parts),) + parts[0][1:]
    if typ == "flatten":
        return (math.prod(src), 1, 1)
    return src                                   # ReLU, LRN, Dropout, BatchNorm, Scale, Softmax...


def caffe_layers(text: str, where: str) -> tuple[str | None, list[CaffeLayer]]:
    """(network name, its convolution and inner-product layers in order, with weight shapes)."""
    net = parse_text_proto(text, where)
    layers = net.get("layer", []) + net.get("layers", [])
    if not layers:
        raise InputError(f"{where} has no layer {{ ... }} block: not a Caffe prototxt")
    blobs = _input_blobs(net)
    found: list[tuple[int, CaffeLayer, str]] = []
    order = []
    for i, layer in enumerate(layers):
        name, typ = str(_one(layer, "name", f"layer{i}")), _norm(_one(layer, "type", ""))
        bottoms, tops = layer.get("bottom", []), layer.get("top", [])
        order.append((typ, bottoms))
        w = f"{where}: layer {name!r}"
        src = blobs.get(bottoms[0]) if bottoms else None
        if typ in ("convolution", "innerproduct"):
            kind, wshape, shape = _weighted(layer, typ, src, w)
            if re.search("conv|fc|ip", name):
                found.append((i, CaffeLayer(name, kind, wshape, "none"), tops[0] if tops else name))
        else:
            shape = _shape_after(typ, layer, src, [blobs.get(b) for b in bottoms], w)
        for t in tops:
            blobs[t] = shape
    result = []
    for i, layer, top in found:
        func = next((_FUNCS.get(typ, "none") for typ, bottoms in order[i + 1:] if top in bottoms), "none")
        result.append(CaffeLayer(layer.name, layer.kind, layer.weight_shape, func))
    name = _one(net, "name")
    return (str(name) if name is not None else None), result


def _pool(n: int, k: int, s: int, p: int) -> int:
    out = math.ceil((n + 2 * p - k) / s) + 1
    if p > 0 and (out - 1) * s >= n + p:
        out -= 1
    return out
