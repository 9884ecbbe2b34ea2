"""Workloads of a design-space sweep: benchmark layers, layer files, network directories
(docs/dse.md §2).

A :class:`Workload` is what the parent resolves, checks and hashes up front (each layer file
is read once there, so that a file the array cannot run is refused by name before any point
runs, and nothing large is kept); :func:`load_layers` is what a worker runs to get the layers
and their inputs.

* **benchmark layer** (a Table III name such as ``"Alex-7"``): the seeded synthetic layer
  of :func:`eie.bench.make_layer`, with ``weight_bits``-bit codes;
* **layer file** (``.npz``): a compressed layer with ``activations``, or a dense one
  (``weight`` [, ``bias``], ``activations``), shared to ``weight_bits``-bit codes (its
  non-zero weights kept);
* **network directory** (``network.toml``, :mod:`eie.network`): its fully-connected and LSTM
  layers in order (conv layers are stored only, never run).  A layer runs on its file's
  ``activations`` when it has them; an fc layer without them after an fc layer runs on that
  layer's fixed-point outputs, as ``eie simulate DIR`` does (``WorkloadLayer.chained``; the
  worker chains them per value group, :mod:`eie.dse.evaluate`; the function after each,
  relu, sigmoid, tanh, softmax or none, as there).  The first runnable layer, and a layer
  after an LSTM (whose output needs the gates, computed off the array), must have their own.

The content hash of a workload (``digest``) covers what it is made from: the benchmark
spec, the bytes of the layer file, or ``network.toml`` and every layer file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..bench import LayerSpec, load_specs, make_layer
from ..errors import InputError

__all__ = ["Workload", "WorkloadLayer", "resolve_workload", "load_layers", "KINDS"]

KINDS = ("bench", "layer", "network")


@dataclass(frozen=True)
class Workload:
    """A resolved workload: its display name, kind, source and content hash."""

    name: str
    kind: str
    source: str                    # benchmark name, or the absolute path of the file or directory
    digest: str
    spec: LayerSpec | None = None
    weight: float = 1.0            # rough work (non-zero weights), to order the tasks
    files: tuple[str, ...] = ()    # the files it is read from (absolute paths): a run's outputs must be none of them

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "source": self.source, "digest": self.digest}


@dataclass(frozen=True, eq=False)
class WorkloadLayer:
    """One layer of a workload as a worker runs it."""

    name: str
    layer: object                  # CompressedLayer
    x: np.ndarray
    # a network's fc layer: the function after it, and whether it takes the previous fc
    # layer's fixed-point outputs (no activations of its own; eie.pipeline.next_input) --
    # then ``x`` (the float result through the functions) is not what it runs on
    function: str = "none"
    chained: bool = False


def _sha(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(hashlib.sha256(p).digest())
    return h.hexdigest()


def _file_digest(path: Path) -> bytes:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.digest()


def _has_activations(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return "activations.npy" in zf.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def resolve_workload(entry: str, root: Path, where: str, specs: dict | None = None) -> Workload:
    """``entry`` as a benchmark name (of ``specs``, name -> :class:`~eie.bench.LayerSpec`;
    default: the built-in Table III), else a path relative to ``root`` (or absolute); checked
    (the file or directory exists and is a layer or a network with inputs) and hashed."""
    if specs is None:
        specs = {s.name: s for s in load_specs()}
    if entry in specs:
        s = specs[entry]
        digest = _sha(b"bench", json.dumps(dataclasses.asdict(s), sort_keys=True).encode())
        return Workload(s.name, "bench", s.name, digest, s, s.n_in * s.n_out * s.weight_density)
    path = (root / entry).resolve()
    if path.is_dir():
        return _network(path, where)
    if path.is_file():
        from ..layer import layer_shape
        try:
            n_out, n_in = layer_shape(path)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
        if not _has_activations(path):
            raise InputError(f"{where}: layer file {str(path)!r} has no 'activations' array: a sweep needs the "
                             f"input (save it into the .npz as 'activations')")
        _check_layer_file(path, where)
        return Workload(path.stem, "layer", str(path), _sha(b"layer", _file_digest(path)), None, n_out * n_in * 0.1,
                        (str(path),))
    raise InputError(f"{where}: {entry!r} is neither a benchmark layer ({', '.join(specs)}) nor a layer file or "
                     f"network directory (looked for {str(path)!r})")


def _network(path: Path, where: str) -> Workload:
    from ..network import load_network
    try:
        net = load_network(path)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    parts = [b"network", (path / "network.toml").read_bytes()]
    files = [str(path / "network.toml")]
    previous = None
    work = 0.0
    for layer in net.layers:
        parts.append(_file_digest(net.path(layer)))
        files.append(str(net.path(layer).resolve()))
        if not layer.runs:
            continue
        if (previous is None or previous.kind == "lstm") and not _has_activations(net.path(layer)):
            why = "the first layer that runs" if previous is None else f"it follows the lstm layer {previous.name!r}"
            raise InputError(f"{where}: network {str(path)!r}: layer {layer.name!r} needs an 'activations' array "
                             f"in {layer.file} ({why}): save its input into the file")
        _check_layer_file(net.path(layer), f"{where}: network {str(path)!r}: layer {layer.name!r}")
        previous = layer
        work += layer.n_out * layer.n_in * 0.1
    return Workload(net.name, "network", str(path), _sha(*parts), None, work, tuple(files))


def _check_layer_file(path: Path, where: str) -> None:
    """Refuse, before any point runs, a layer file that every point would fail on: what
    :func:`~eie.layer.load_layer` checks (shapes, finite values, one activation per column,
    codes within the codebook) and a dense weight with no non-zero value (nothing to share
    into a codebook).  The arrays are dropped again: the workers read the file themselves."""
    from ..layer import DenseLayer, load_layer
    try:
        layer = load_layer(path)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    if isinstance(layer, DenseLayer) and not np.any(layer.weight):
        raise InputError(f"{where}: layer file {str(path)!r}: every weight is 0, so there is nothing to share into "
                         f"a codebook or to run: give a layer with non-zero weights")


# ---- worker side -----------------------------------------------------------------------
_CACHE: OrderedDict = OrderedDict()
_CACHE_KEPT = 2


def load_layers(workload: Workload, weight_bits: int) -> list[WorkloadLayer]:
    """The layers of ``workload`` with their inputs, codes of ``weight_bits`` bits (kept for
    the last few workloads of this process)."""
    key = (workload.digest, weight_bits)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    if workload.kind == "bench":
        layer = make_layer(workload.spec, bits=weight_bits)
        out = [WorkloadLayer(workload.name, layer, layer.activations)]
    elif workload.kind == "layer":
        layer = _compressed(Path(workload.source), weight_bits)
        out = [WorkloadLayer(workload.name, layer, layer.activations)]
    else:
        out = _network_layers(Path(workload.source), weight_bits)
    _CACHE[key] = out
    while len(_CACHE) > _CACHE_KEPT:
        _CACHE.popitem(last=False)
    return out


def _compressed(path: Path, weight_bits: int):
    from ..compress import compress_layer
    from ..layer import CompressedLayer, DenseLayer, load_layer
    layer = load_layer(path)
    if isinstance(layer, DenseLayer):
        layer, _ = compress_layer(layer, bits=weight_bits)
    if not isinstance(layer, CompressedLayer):
        raise InputError(f"{str(path)!r} is not a layer file")
    return layer


_FUNCTIONS = {
    "relu": lambda y: np.maximum(y, 0.0),
    "none": lambda y: y,
    "sigmoid": lambda y: 1.0 / (1.0 + np.exp(-y)),
    "tanh": np.tanh,
    "softmax": lambda y: np.exp(y - y.max()) / np.exp(y - y.max()).sum(),
}


def _network_layers(path: Path, weight_bits: int) -> list[WorkloadLayer]:
    from ..network import load_network
    from ..reference import float_forward
    net = load_network(path)
    out, y, prev = [], None, None
    for nl in net.runnable:
        layer = _compressed(net.path(nl), weight_bits)
        x = layer.activations if layer.activations is not None else y
        chained = layer.activations is None and nl.kind == "fc" and prev is not None and prev.kind == "fc"
        out.append(WorkloadLayer(f"{net.name}/{nl.name}", layer, x, nl.function if nl.kind == "fc" else "none",
                                 chained))
        y = None if nl.kind == "lstm" else _FUNCTIONS[nl.function](float_forward(layer, x))
        prev = nl
    return out
