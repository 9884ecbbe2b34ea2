"""ONNX models (the ``onnx`` package; never onnxruntime: nothing is run).

The graph's nodes are read in order; a layer is a node whose weights are constants
(initializers or ``Constant`` nodes):

* ``Gemm`` ``Y = alpha * A' @ B' + beta * C`` (``A'`` = ``A`` transposed when ``transA``,
  ``B'`` likewise): with a constant ``B`` the weight is ``alpha * B'^T`` (out x in), with a
  constant ``A`` it is ``alpha * A'``; the bias is ``beta * C`` (one value per output, or
  one value broadcast), or a following ``Add`` when ``C`` is absent;
* ``MatMul`` with a constant 2-D ``B`` (in x out: the weight is ``B^T``) or ``A`` (out x
  in), and a following ``Add`` of a constant with one value per output as its bias;
* ``LSTM`` with constant ``W`` (dirs x 4H x X), ``R`` (dirs x 4H x H) and optional ``B``
  (dirs x 8H): one layer per direction, the stacked ``[W | R]`` (4H x (X+H)) with bias
  ``Wb + Rb``; ONNX orders the gate blocks i, o, f, c, which is ``gates = "iofg"`` in eie's
  letters (c, the cell candidate, is eie's g).  An LSTM with peepholes, ``input_forget`` or
  gate functions other than sigmoid/tanh/tanh is left out (eie's LSTM has none of them);
* ``Conv`` with a constant weight (out x in/group x k...): kind ``conv``, flattened.

The function after a layer is the node that alone consumes its output (through
``Identity``/``Dropout``): ``Relu``, ``Sigmoid``, ``Tanh`` or ``Softmax``; anything else is
``none`` (an activation eie does not have, such as ``Clip`` or ``Gelu``, is named in the
layer's note).  LSTM layers: ``none`` (their gate functions are part of the layer).
Sub-graphs (``If``, ``Loop``, ``Scan``) are not searched; nodes left out are listed.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..layer import MAX_ELEMENTS
from .result import ImportedLayer, ImportedNetwork, as_float

__all__ = ["read_onnx"]

_FUNCTIONS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Softmax": "softmax"}
_OTHER_ACTIVATIONS = {"Clip", "LeakyRelu", "Elu", "Selu", "Gelu", "HardSigmoid", "HardSwish", "Softplus", "PRelu",
                      "Mish", "Erf", "Celu", "ThresholdedRelu", "LogSoftmax"}
_PASS = {"Identity", "Dropout"}
#: nodes that only reshape an activation vector (between two layers they change nothing eie computes)
_SHAPE = {"Flatten", "Reshape", "Squeeze", "Unsqueeze"}
_LAYER_OPS = {"Gemm", "MatMul", "Conv", "LSTM"}
_SHAPE_ONLY = {"Shape", "Size"}
_QUANTISED = {"MatMulInteger", "ConvInteger", "QLinearMatMul", "QLinearConv", "QGemm", "DynamicQuantizeLSTM",
              "DynamicQuantizeMatMul", "MatMulNBits"}


class _Graph:
    """Constants, producers and consumers of one ONNX graph."""

    def __init__(self, graph, opset: int = 13, ranks: dict | None = None):
        from onnx import numpy_helper
        self.opset = opset
        self.ranks = ranks or {}             # tensor -> number of dimensions (ONNX shape inference)
        self.to_array = numpy_helper.to_array
        self.consts = {t.name: t for t in graph.initializer}
        for node in graph.node:
            if node.op_type == "Constant" and node.output:
                for a in node.attribute:
                    if a.name == "value":
                        self.consts[node.output[0]] = a.t
        #: outputs of a Transpose or Identity of a constant (an export without constant folding
        #: writes a bias-free Linear's weight as Transpose(initializer)): name -> (node, source)
        self.derived: dict[str, tuple] = {}
        for node in graph.node:
            if (node.op_type in ("Transpose", "Identity") and len(node.input) == 1 and node.output
                    and self.is_const(node.input[0])):
                self.derived[node.output[0]] = (node, node.input[0])
        self.produced_by_const = {o for node in graph.node if node.input and node.op_type != "Constant"
                                  and all(self.is_const(i) for i in node.input if i) for o in node.output}
        self.consumers: dict[str, list] = {}
        for node in graph.node:
            for name in node.input:
                if name:
                    self.consumers.setdefault(name, []).append(node)

    def const(self, name: str) -> np.ndarray | None:
        if name in self.derived:
            node, src = self.derived[name]
            a = self.const(src)
            if a is None or node.op_type == "Identity":
                return a
            perm = [int(p) for p in _attrs(node).get("perm", range(a.ndim - 1, -1, -1))]
            if sorted(perm) != list(range(a.ndim)):
                raise InputError(f"Transpose {node.name!r} has perm {perm}, not a permutation of {a.ndim} axes")
            return np.ascontiguousarray(a.transpose(perm))
        t = self.consts.get(name)
        if t is None:
            return None
        dims = [int(d) for d in t.dims]
        if any(d < 0 for d in dims) or math.prod(dims) > MAX_ELEMENTS:
            raise InputError(f"constant {name!r} declares shape {dims}: more than {MAX_ELEMENTS:,} values or a "
                             f"negative dimension; a layer that large is refused (split it)")
        try:
            a = self.to_array(t)
        except (ValueError, TypeError) as exc:
            raise InputError(f"constant {name!r} declares shape {dims} but its data does not fit it ({exc}): the "
                             f"file is truncated or corrupt; export the model again") from None
        if a.dtype.kind not in "fiu" and a.dtype.name != "bfloat16":
            return None
        a = as_float(a)
        if not np.all(np.isfinite(a)):
            raise InputError(f"constant {name!r} holds a value that is not finite (NaN or infinity)")
        return a

    def is_const(self, name: str) -> bool:
        return name in self.consts or name in self.derived

    def users(self, name: str) -> list:
        """The nodes that read the values of ``name`` (a ``Shape`` or ``Size`` reads only its
        shape: ``h.view(h.size(0), -1)`` is not a branch)."""
        return [u for u in self.consumers.get(name, []) if u.op_type not in _SHAPE_ONLY]

    def sole_consumer(self, name: str):
        """The one node that reads ``name`` (through Identity/Dropout and reshapes), or None."""
        return self.consumer_path(name)[0]

    def consumer_path(self, name: str) -> tuple:
        """:meth:`sole_consumer` and whether a reshape lies on the way to it."""
        node, _, reshaped, _ = self.walk(name)
        return node, reshaped

    def walk(self, name: str) -> tuple:
        """From ``name`` through pass-throughs and reshapes, each tensor on the way read by one
        node alone (a graph output reading it as well changes nothing computed): ``(node,
        the tensor it reads, whether a reshape was passed, readers)``, where ``node`` is the
        first other node, or None at a tensor with ``readers`` other than 1 (a branch, or
        the end)."""
        reshaped = False
        while True:
            users = self.users(name)
            if len(users) != 1:
                return None, name, reshaped, len(users)
            node = users[0]
            if node.op_type not in _PASS and node.op_type not in _SHAPE:
                return node, name, reshaped, 1
            reshaped = reshaped or node.op_type in _SHAPE
            name = node.output[0]


def _attrs(node) -> dict:
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _function(g: _Graph, out: str) -> tuple[str, str]:
    node, reshaped = g.consumer_path(out)
    if node is None:
        return "none", ""
    if node.op_type == "Softmax":
        # eie's softmax is over the layer's outputs: the input's last axis, read directly (a
        # softmax after a reshape is over parts of them); ONNX before opset 13 flattens from
        # ``axis`` (default 1), from 13 on takes ``axis`` alone (default -1)
        axis = int(_attrs(node).get("axis", -1 if g.opset >= 13 else 1))
        rank = g.ranks.get(node.input[0])
        last = (axis % rank == rank - 1) if rank else axis == -1
        if reshaped or not last:
            where = "after a reshape" if reshaped else f"over axis {axis}" + (f" of {rank}" if rank else "")
            return "none", f"followed by Softmax {where} (eie's softmax is over the outputs: recorded as none)"
    if node.op_type in _FUNCTIONS:
        return _FUNCTIONS[node.op_type], ""
    if node.op_type in _OTHER_ACTIVATIONS:
        return "none", f"followed by {node.op_type} (not an eie function: recorded as none)"
    if node.op_type in _LAYER_OPS or node.op_type in _SHAPE:
        return "none", ""
    return "none", f"followed by {node.op_type} (not run by eie: recorded as none)"


def _per_output(c: np.ndarray, n_out: int, column: bool) -> bool:
    """Whether constant ``c`` adds one value per output (or one value to all) to a result
    whose outputs run along the last axis (``column`` False) or down the rows (True)."""
    if c.size == 1:
        return True
    axis = -2 if column else -1
    return (c.size == n_out and c.ndim >= -axis and c.shape[axis] == n_out)


def _following_bias(g: _Graph, out: str, n_out: int, column: bool) -> tuple[np.ndarray | None, str, str]:
    """A following ``Add`` of a constant with one value per output: (bias, its name, the
    output after it)."""
    node = g.sole_consumer(out)
    if node is None or node.op_type != "Add" or len(node.input) != 2:
        return None, "", out
    other = node.input[1] if node.input[0] == out else node.input[0]
    b = g.const(other)
    if b is None or not _per_output(b, n_out, column):
        return None, "", out
    return np.broadcast_to(b.reshape(-1), (n_out,)).astype(b.dtype), other, node.output[0]


def _name(node, weight: str) -> str:
    if weight.endswith(".weight"):
        return weight[: -len(".weight")]
    return node.name or node.output[0]


def _gemm_like(g: _Graph, node, where: str) -> tuple[ImportedLayer, str, str] | None:
    """The layer of a Gemm or MatMul with a constant operand, the activation it reads and the
    tensor its function (if any) writes; None without a constant 2-D operand."""
    a_name, b_name = node.input[0], node.input[1]
    at = _attrs(node) if node.op_type == "Gemm" else {}
    alpha, beta = float(at.get("alpha", 1.0)), float(at.get("beta", 1.0))
    for key, v in (("alpha", alpha), ("beta", beta)):
        if not math.isfinite(v):
            raise InputError(f"{where}: Gemm {node.name or node.output[0]!r}: {key} = {v!r} is not a finite "
                             f"number (the weights would be inf or nan)")
    const_a, const_b = g.is_const(a_name), g.is_const(b_name)
    if const_a == const_b:
        return None                                       # no weight, or constant folding
    m = g.const(b_name if const_b else a_name)
    if m is None or m.ndim != 2:
        return None
    if const_b:
        m = m if at.get("transB", 0) else m.T            # B' is in x out: the weight is B'^T
        wname = b_name
    else:
        m = m.T if at.get("transA", 0) else m            # A' is out x in
        wname = a_name
    with np.errstate(over="ignore", invalid="ignore"):      # an overflow is the error below
        w = (alpha * m).astype(m.dtype) if alpha != 1.0 else m
    if not np.all(np.isfinite(w)):
        raise InputError(f"{where}: Gemm {node.name or node.output[0]!r}: alpha = {alpha!r} times the weight "
                         f"{wname!r} overflows {w.dtype}")
    n_out = w.shape[0]
    bias, bname, out = None, "", node.output[0]
    if node.op_type == "Gemm" and len(node.input) > 2 and node.input[2]:
        c = g.const(node.input[2])
        if c is None:
            raise InputError(f"{where}: Gemm {node.name!r} has a bias C ({node.input[2]!r}) that is not a constant")
        if not _per_output(c, n_out, column=not const_b):
            raise InputError(f"{where}: Gemm {node.name!r}: bias C has shape {c.shape}, not one value per output "
                             f"({n_out}) or one value")
        with np.errstate(over="ignore", invalid="ignore"):
            bias, bname = np.broadcast_to(beta * c.reshape(-1), (n_out,)).astype(c.dtype), node.input[2]
        if not np.all(np.isfinite(bias)):
            raise InputError(f"{where}: Gemm {node.name or node.output[0]!r}: beta = {beta!r} times the bias "
                             f"{bname!r} overflows {bias.dtype}")
    else:
        bias, bname, out = _following_bias(g, out, n_out, column=not const_b)
    function, note = _function(g, out)
    origin = f"{node.op_type} {node.name or node.output[0]} ({wname}" + (f" + {bname})" if bname else ")")
    source = g.derived[wname][1] if wname in g.derived else wname     # Transpose(fc1.weight): named fc1
    layer = ImportedLayer(_name(node, source), "fc", function, weight=w, bias=bias, origin=origin, note=note)
    after = g.sole_consumer(out)
    end = after.output[0] if after is not None and function != "none" else out
    return layer, (b_name if const_a else a_name), end


class _Unsupported(Exception):
    """A node eie cannot hold: left out, with the reason, in ``ImportedNetwork.skipped``."""


def _lstm(g: _Graph, node, where: str) -> list[ImportedLayer]:
    ins = list(node.input) + [""] * (8 - len(node.input))
    at = _attrs(node)
    if ins[7]:
        raise _Unsupported("it has peepholes (input P), which eie's LSTM has not")
    if at.get("input_forget", 0):
        raise _Unsupported("it couples the input and forget gates (input_forget=1)")
    acts = [a.decode() if isinstance(a, bytes) else a for a in at.get("activations", [])]
    if acts and any(a != b for a, b in zip(acts, ["Sigmoid", "Tanh", "Tanh"] * 2, strict=False)):
        raise _Unsupported(f"its gate functions are {acts}; eie's LSTM has Sigmoid, Tanh, Tanh")
    if at.get("layout", 0):
        raise _Unsupported("it has layout=1 (batch first)")
    label = f"LSTM {node.name!r}"
    w, r = g.const(ins[1]), g.const(ins[2])
    if w is None or r is None:
        return []
    b = g.const(ins[3]) if ins[3] else None
    direction = at.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    dirs = 2 if direction == "bidirectional" else 1
    hidden = int(at.get("hidden_size", r.shape[-1]))
    if w.ndim != 3 or r.ndim != 3 or w.shape[:2] != (dirs, 4 * hidden) or r.shape != (dirs, 4 * hidden, hidden):
        raise InputError(f"{where}: {label} has W {w.shape} and R {r.shape}; with {dirs} direction(s) and "
                         f"hidden_size {hidden} they must be ({dirs}, {4 * hidden}, X) and ({dirs}, {4 * hidden}, "
                         f"{hidden})")
    if b is not None and b.shape != (dirs, 8 * hidden):
        raise InputError(f"{where}: {label} has B {b.shape}, not ({dirs}, {8 * hidden})")
    base = node.name or node.output[0]
    names = {"bidirectional": ["forward", "reverse"], "reverse": ["reverse"]}.get(direction, ["forward"])
    out = []
    for d, dname in enumerate(names):
        m = np.concatenate([w[d], r[d]], axis=1)
        bias = None if b is None else b[d, : 4 * hidden] + b[d, 4 * hidden:]
        out.append(ImportedLayer(f"{base}.{dname}" if dirs == 2 else base, "lstm", "none", weight=m, bias=bias,
                                 hidden=hidden, input=w.shape[2], gates="iofg", direction=dname,
                                 origin=f"LSTM {base} direction {d} ({ins[1]} | {ins[2]}"
                                        + (f" + {ins[3]})" if b is not None else ")")))
    return out


def _conv(g: _Graph, node) -> ImportedLayer | None:
    w = g.const(node.input[1]) if len(node.input) > 1 else None
    if w is None or w.ndim < 3:
        return None
    bias = g.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if bias is not None and bias.shape != (w.shape[0],):
        bias = None
    function, note = _function(g, node.output[0])
    return ImportedLayer(_name(node, node.input[1]), "conv", function, weight=w.reshape(w.shape[0], -1), bias=bias,
                         origin=f"Conv {node.name or node.output[0]} ({node.input[1]}, {'x'.join(map(str, w.shape))})",
                         note=note)


def read_onnx(path) -> ImportedNetwork:
    """The layers of an ONNX model (see the module docstring)."""
    import onnx
    path = Path(path)
    where = repr(str(path))
    try:
        model = onnx.load(str(path))
    except Exception as exc:                  # protobuf's DecodeError, a missing external-data file...
        raise InputError(f"{where} is not a readable ONNX model (truncated or corrupt?): "
                         f"{type(exc).__name__}: {exc}") from None
    opset = next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    g = _Graph(model.graph, opset, _ranks(model))
    layers, skipped = [], []
    ends: dict[int, tuple[str, str]] = {}
    for node in model.graph.node:
        if node.op_type in ("Gemm", "MatMul") and len(node.input) >= 2:
            got = _gemm_like(g, node, where)
            layer = None
            if got is not None:
                layer, start, end = got
                ends[id(layer)] = (start, end)
            elif g.is_const(node.input[0]) or g.is_const(node.input[1]):
                skipped.append(f"{node.op_type} {node.name!r}: its constant operand is not a 2-D matrix")
            elif node.input[0] in g.produced_by_const or node.input[1] in g.produced_by_const:
                skipped.append(f"{node.op_type} {node.name!r}: its weight is computed in the graph from constants "
                               f"(export with constant folding)")
        elif node.op_type == "LSTM":
            try:
                found = _lstm(g, node, where)
            except _Unsupported as exc:
                skipped.append(f"LSTM {node.name!r}: {exc}")
                continue
            layers += found
            if not found:
                skipped.append(f"LSTM {node.name!r}: its weights are computed in the graph, not constants")
            continue
        elif node.op_type == "Conv":
            layer = _conv(g, node)
        else:
            if any(a.type in (5, 10) for a in node.attribute):       # GRAPH, GRAPHS
                skipped.append(f"{node.op_type} {node.name!r}: sub-graphs are not searched")
            elif node.op_type in _QUANTISED:
                skipped.append(f"{node.op_type} {node.name!r}: quantised operators are not read (import the float "
                               f"model)")
            continue
        if layer is not None:
            layers.append(layer)
    seen: dict[str, int] = {}
    unique = []
    for layer in layers:
        k = seen.get(layer.name, 0)
        seen[layer.name] = k + 1
        unique.append(layer if k == 0 else replace(layer, name=f"{layer.name}_{k + 1}"))
    # the gaps named by the layers' final names (a repeated name had read "between 'fc' and 'fc'")
    gaps = _gaps(g, unique, {id(u): ends[id(x)] for x, u in zip(layers, unique, strict=True) if id(x) in ends})
    return ImportedNetwork(path.stem, path.name, "onnx", tuple(unique), tuple(skipped), tuple(gaps))


def _ranks(model) -> dict:
    """Each tensor's number of dimensions where ONNX shape inference knows it (empty when it
    fails: a Softmax's axis is then taken as the last only when it is -1)."""
    try:
        from onnx import shape_inference
        inferred = shape_inference.infer_shapes(model)
    except Exception:                          # a model shape inference cannot follow
        return {}
    g = inferred.graph
    return {vi.name: len(vi.type.tensor_type.shape.dim) for vi in [*g.value_info, *g.input, *g.output]
            if vi.type.HasField("tensor_type") and vi.type.tensor_type.HasField("shape")}


def _gaps(g: _Graph, layers: list, ends: dict) -> list[str]:
    """Between two consecutive fully-connected layers, whatever the graph does that eie's chain
    does not: a node other than a pass-through or a reshape on the way from the first one's
    output (after its bias and function) to the second one's input, or a branch."""
    out = []
    for a, b in zip(layers, layers[1:], strict=False):
        if a.kind != "fc" or b.kind != "fc" or id(a) not in ends or id(b) not in ends:
            continue
        # every tensor on the way, the second layer's input too, feeds that way alone (a skip
        # from it to a later Add had been missed when it was the second layer's input)
        node, read, _, readers = g.walk(ends[id(a)][1])
        if node is None:
            out.append(f"the output of {a.name!r} goes to {readers} nodes, not only to {b.name!r} (a branch: a skip "
                       f"connection, or an activation split into several nodes)")
        elif read != ends[id(b)][0]:
            out.append(f"{node.op_type} {node.name or node.output[0]!r} between {a.name!r} and {b.name!r}")
    return out


