"""Network directories: a whole network as eie reads and writes it [arch §8].

A network directory holds ``network.toml`` and one layer file per layer::

    [network]
    name = "lenet-300-100"
    source = "lenet.onnx"          # what it was imported from (optional, informational)

    [[layer]]
    name = "ip1"
    file = "ip1.npz"               # a layer .npz (compressed, or dense: compressed when run)
    kind = "fc"                    # fc | lstm | conv (conv: storage accounting only, never run)
    shape = [300, 784]             # [out, in] of the matrix on the array (LSTM: [4H, X + H])
    function = "relu"              # applied after the layer: relu | none | sigmoid | tanh | softmax
    # LSTM only: hidden = H, input = X, gates = "ifgo" (the order of the 4 row blocks),
    # direction = "forward" | "reverse"

Layers run in file order; a layer's input is the previous runnable layer's output.  Paths
are relative to the directory.  ``eie import`` also writes ``manifest.json`` (the files of the
import, for the ``--force`` rule of output directories); it is not read here.  :func:`load_network` checks everything up front (the file
exists, the shapes chain, each layer file's shape equals ``shape``) and raises
:class:`~eie.errors.InputError` naming the layer, the field and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError, first_repeat
from .fileio import read_toml

__all__ = ["KINDS", "FUNCTIONS", "GATES", "NetworkLayer", "Network", "check_layers", "load_network",
           "network_toml"]

#: layer kinds: ``fc`` runs on the array; ``lstm`` runs its stacked 4H x (X+H) matrix on the
#: array and the gates off it; ``conv`` is stored (flattened) for storage accounting only
KINDS = ("fc", "lstm", "conv")
#: functions applied after a layer
FUNCTIONS = ("relu", "none", "sigmoid", "tanh", "softmax")
#: the gate letters of an LSTM layer's row blocks, in eie's default order (``gates`` names the order
#: of a file's blocks: input, forget, cell candidate g, output)
GATES = "ifgo"


@dataclass(frozen=True)
class NetworkLayer:
    """One layer of a network directory (see the module docstring for each field)."""

    name: str
    file: str
    kind: str = "fc"
    shape: tuple[int, int] = (0, 0)
    function: str = "none"
    hidden: int | None = None
    input: int | None = None
    gates: str | None = None
    direction: str | None = None

    @property
    def n_out(self) -> int:
        return self.shape[0]

    @property
    def n_in(self) -> int:
        return self.shape[1]

    @property
    def runs(self) -> bool:
        """Whether the layer runs on the array (conv layers are stored only)."""
        return self.kind != "conv"

    def to_dict(self) -> dict:
        d = {"name": self.name, "file": self.file, "kind": self.kind, "shape": list(self.shape),
             "function": self.function}
        for k in ("hidden", "input", "gates", "direction"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        return d


@dataclass(frozen=True)
class Network:
    """A network directory: its layers in order, and where it lives."""

    name: str
    layers: tuple[NetworkLayer, ...]
    directory: Path | None = None
    source: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def runnable(self) -> tuple[NetworkLayer, ...]:
        return tuple(layer for layer in self.layers if layer.runs)

    def path(self, layer: NetworkLayer) -> Path:
        """The layer file of ``layer``."""
        if self.directory is None:
            raise ValueError("the network has no directory")
        return self.directory / layer.file


def _where(i: int, d: dict) -> str:
    return f"layer {i} ({d.get('name', '?')!r})" if isinstance(d, dict) else f"layer {i}"


def _layer(i: int, d, where: str) -> NetworkLayer:
    if not isinstance(d, dict):
        raise InputError(f"{where}: [[layer]] {i} must be a table, not {type(d).__name__}")
    w = f"{where}: {_where(i, d)}"
    known = {"name", "file", "kind", "shape", "function", "hidden", "input", "gates", "direction"}
    unknown = sorted(set(d) - known)
    if unknown:
        raise InputError(f"{w}: unknown key {unknown[0]!r}; known keys are {', '.join(sorted(known))}")
    for key in ("name", "file", "shape"):
        if key not in d:
            raise InputError(f"{w} needs {key!r}")
    name, file = d["name"], d["file"]
    if not isinstance(name, str) or not name:
        raise InputError(f"{w}: name must be a non-empty string, not {name!r}")
    if not isinstance(file, str) or Path(file).is_absolute() or ".." in Path(file).parts:
        raise InputError(f"{w}: file must be a path inside the directory, not {file!r}")
    kind = d.get("kind", "fc")
    if kind not in KINDS:
        raise InputError(f"{w}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    shape = d["shape"]
    if (not isinstance(shape, list) or len(shape) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in shape)):
        raise InputError(f"{w}: shape must be [out, in] with two integers >= 1, not {shape!r}")
    function = d.get("function", "none")
    if function not in FUNCTIONS:
        raise InputError(f"{w}: function must be one of {', '.join(FUNCTIONS)}, not {function!r}")
    extra = {}
    if kind == "lstm":
        for key in ("hidden", "input"):
            v = d.get(key)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise InputError(f"{w}: an lstm layer needs {key} = an integer >= 1, not {v!r}")
            extra[key] = v
        if shape != [4 * extra["hidden"], extra["input"] + extra["hidden"]]:
            raise InputError(f"{w}: an lstm layer's shape must be [4*hidden, input+hidden] = "
                             f"[{4 * extra['hidden']}, {extra['input'] + extra['hidden']}], not {shape!r}")
        gates = d.get("gates", GATES)
        if not isinstance(gates, str) or sorted(gates) != sorted(GATES):
            raise InputError(f"{w}: gates must be an order of the letters i, f, g, o (e.g. 'ifgo'), not {gates!r}")
        direction = d.get("direction", "forward")
        if direction not in ("forward", "reverse"):
            raise InputError(f"{w}: direction must be forward or reverse, not {direction!r}")
        extra.update(gates=gates, direction=direction)
    else:
        for key in ("hidden", "input", "gates", "direction"):
            if key in d:
                raise InputError(f"{w}: {key!r} is only for an lstm layer")
    return NetworkLayer(name, file, kind, (shape[0], shape[1]), function, **extra)


def check_layers(layers, where: str) -> None:
    """The rules that bind the layers of a network together (each layer alone is checked when
    it is made): unique names, at least one layer that runs on the array, and consecutive
    runnable fully-connected layers chain (out of one = in of the next).  ``where`` starts
    each message.  :func:`load_network` and ``eie import`` (before it writes anything) use it."""
    names = [layer.name for layer in layers]
    dup = first_repeat(names)
    if dup:
        raise InputError(f"{where}: two layers are named {dup!r}: names must be unique")
    run = [layer for layer in layers if layer.runs]
    if not run:
        raise InputError(f"{where} has no fully-connected or LSTM layer: nothing runs on the array")
    for prev, cur in zip(run, run[1:], strict=False):
        if cur.kind == "fc" and prev.kind == "fc" and cur.n_in != prev.n_out:
            raise InputError(f"{where}: layer {cur.name!r} has {cur.n_in} inputs but {prev.name!r} has "
                             f"{prev.n_out} outputs: the layers must chain")


def load_network(directory, *, check_files: bool = True) -> Network:
    """Read ``directory/network.toml``; every layer is checked (and, with ``check_files``, its
    file exists and its matrix has the declared shape, read from the archive's headers)."""
    d = Path(directory)
    toml = d / "network.toml"
    if not d.is_dir():
        raise InputError(f"network directory {str(d)!r} does not exist (make one with `eie import`)")
    if not toml.is_file():
        raise InputError(f"{str(d)!r} is not a network directory: it has no network.toml (make one with `eie import`)")
    where = str(toml)
    data = read_toml(toml, where)
    unknown = sorted(set(data) - {"network", "layer"})
    if unknown:
        raise InputError(f"{where}: unknown table {unknown[0]!r}; a network file has [network] and [[layer]]")
    head = data.get("network", {})
    if not isinstance(head, dict):
        raise InputError(f"{where}: [network] must be a table")
    layers = data.get("layer")
    if not isinstance(layers, list) or not layers:
        raise InputError(f"{where} lists no [[layer]]: a network needs at least one layer")
    parsed = tuple(_layer(i, ld, where) for i, ld in enumerate(layers))
    check_layers(parsed, where)
    net = Network(str(head.get("name", d.name)), parsed, d, head.get("source"))
    if check_files:
        from .layer import layer_shape
        for layer in parsed:
            path = d / layer.file
            shape = layer_shape(path)
            if tuple(shape) != layer.shape:
                raise InputError(f"{where}: layer {layer.name!r} declares shape {list(layer.shape)} but "
                                 f"{layer.file} holds {list(shape)}")
    return net


def network_toml(net: Network) -> str:
    """The ``network.toml`` text of ``net`` (what :func:`load_network` reads back)."""

    def value(v):
        if isinstance(v, str):
            # a TOML basic string: backslash, quote and every control character escaped (a
            # layer named after a tensor or an ONNX node may hold any character)
            return '"' + "".join(c if c >= " " and c not in '\\"\x7f' else
                                 {"\\": "\\\\", '"': '\\"'}.get(c, f"\\u{ord(c):04x}") for c in v) + '"'
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v)

    lines = ["[network]", f"name = {value(net.name)}"]
    if net.source:
        lines.append(f"source = {value(net.source)}")
    for layer in net.layers:
        lines += ["", "[[layer]]"] + [f"{k} = {value(v)}" for k, v in layer.to_dict().items()]
    return "\n".join(lines) + "\n"
