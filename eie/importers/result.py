"""What every importer returns, and how it becomes a network directory (docs/networks.md §2-3).

An importer reads one file and returns an :class:`ImportedNetwork`: the layers eie can hold
(fully-connected, LSTM, convolution), in the order the file implies, each as an
:class:`ImportedLayer` with its arrays already converted to eie's conventions (weight rows
are outputs, an LSTM is one stacked ``4H x (X+H)`` matrix, a convolution is flattened to
``out x (in*kh*kw)``).  :func:`network_plan` checks the whole network with
:func:`eie.network.check_layers` and collects its files in an
:class:`~eie.fileio.OutputPlan`, so nothing is written unless everything is right.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, replace

import numpy as np

from ..errors import InputError
from ..fileio import OutputPlan
from ..network import FUNCTIONS, GATES, KINDS, Network, NetworkLayer, check_layers, network_toml

__all__ = ["ImportedLayer", "ImportedNetwork", "file_names", "select_layers", "npz_bytes", "network_plan",
           "as_float"]


def as_float(a: np.ndarray) -> np.ndarray:
    """``a`` as float32 when it is a half, bfloat16-converted or integer array; float32 and
    float64 stay as they are (a layer file keeps the source's precision)."""
    a = np.asarray(a)
    if a.dtype in (np.float32, np.float64):
        return a
    return a.astype(np.float32)


@dataclass(frozen=True, eq=False)
class ImportedLayer:
    """One layer read from a file.

    Either dense (``weight``, out x in, float) or compressed (``codebook`` + ``codes``, as in
    Deep Compression's release); ``bias`` is a float vector (one value per output row) or
    None.  ``origin`` says where the layer came from in the file (node or tensor names) and
    ``note`` anything the user should know (an activation eie does not have).
    """

    name: str
    kind: str
    function: str = "none"
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    codebook: np.ndarray | None = None
    codes: np.ndarray | None = None
    origin: str = ""
    note: str = ""
    hidden: int | None = None
    input: int | None = None
    gates: str | None = None
    direction: str | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {self.kind!r}")
        if self.function not in FUNCTIONS:
            raise ValueError(f"function must be one of {FUNCTIONS}, not {self.function!r}")
        if (self.weight is None) == (self.codes is None):
            raise ValueError("give either weight (dense) or codebook and codes (compressed)")
        m = self.weight if self.weight is not None else self.codes
        if m.ndim != 2:
            raise ValueError(f"the matrix of layer {self.name!r} must be 2-D, not shape {m.shape}")
        if self.bias is not None and self.bias.shape != (m.shape[0],):
            raise InputError(f"layer {self.name!r}: the bias has shape {self.bias.shape}, not one value per "
                             f"output row ({m.shape[0]})")
        if self.kind == "lstm":
            if self.hidden is None or self.input is None or sorted(self.gates or "") != sorted(GATES):
                raise ValueError("an lstm layer needs hidden, input and gates")
            if m.shape != (4 * self.hidden, self.input + self.hidden):
                raise ValueError(f"an lstm matrix must be 4H x (X+H), not {m.shape}")

    def problem(self) -> str | None:
        """Why the layer cannot be written into a network directory (None: it can).  Checked
        when the layers are written (:func:`network_plan`), after ``--select``: ``--list``
        shows such a layer and ``--select`` leaves it out (the check at reading had refused
        the whole file)."""
        m = self.weight if self.weight is not None else self.codes
        if min(m.shape) < 1:
            # a network directory's layers have shapes of at least 1 x 1 (eie.network)
            return (f"layer {self.name!r} has shape {tuple(int(v) for v in m.shape)}: a layer needs at least one "
                    f"output row and one input column; leave it out (--select)")
        if self.weight is not None and self.kind != "conv":
            # what eie's compression refuses later (eie.compress.share_weights), said with the name
            if not np.any(self.weight):
                return (f"layer {self.name!r} has no non-zero weight: nothing for the array to compute (its output "
                        f"would be its bias alone); leave it out (--select)")
            big, limit = float(np.max(np.abs(self.weight))), float(np.finfo(np.float32).max)
            if big > limit:
                return (f"layer {self.name!r} has a weight of magnitude {big:.4g}, beyond float32's {limit:.4g}: "
                        f"eie's codebooks are float32; scale the layer or leave it out (--select)")
        return None

    @property
    def shape(self) -> tuple[int, int]:
        m = self.weight if self.weight is not None else self.codes
        return int(m.shape[0]), int(m.shape[1])

    @property
    def compressed(self) -> bool:
        return self.codes is not None

    @property
    def runs(self) -> bool:
        return self.kind != "conv"

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays of the layer file: ``codebook``, ``codes`` [, ``bias``] or ``weight``
        [, ``bias``] (a float ``bias``, never ``bias_codes``: [arch §2])."""
        out = ({"codebook": self.codebook, "codes": self.codes} if self.compressed else {"weight": self.weight})
        if self.bias is not None:
            out["bias"] = self.bias
        return out

    def entry(self, file: str) -> NetworkLayer:
        """Its ``[[layer]]`` of ``network.toml``, stored in ``file``."""
        lstm = {"hidden": self.hidden, "input": self.input, "gates": self.gates,
                "direction": self.direction or "forward"} if self.kind == "lstm" else {}
        return NetworkLayer(self.name, file, self.kind, self.shape, self.function, **lstm)


@dataclass(frozen=True, eq=False)
class ImportedNetwork:
    """The layers of one imported file, in order."""

    name: str
    source: str
    format: str
    layers: tuple[ImportedLayer, ...]
    #: what the importer saw but could not take, one line each (printed by ``--list``)
    skipped: tuple[str, ...] = ()
    #: what of that sits between two layers that run: the chain of the layers alone computes
    #: something else, so writing it is refused unless ``--select`` names the layers
    gaps: tuple[str, ...] = ()
    #: the ``--select`` pattern that chose the layers (None: every layer of the file)
    selected: str | None = None
    #: the functions were guessed (a file without a graph): a selection guesses them again
    guessed: bool = False
    #: the layers' order is their names' (a safetensors file, a name-sorted npz), not the model's
    by_name: bool = False

    def describe(self) -> str:
        """The table ``eie import --list`` prints."""
        rows = [("#", "name", "kind", "shape", "function", "stored", "from")]
        for i, layer in enumerate(self.layers):
            shape = f"{layer.shape[0]}x{layer.shape[1]}"
            if layer.kind == "lstm":
                shape += f" (H={layer.hidden}, X={layer.input}, {layer.gates}, {layer.direction})"
            stored = (f"compressed {len(layer.codebook)}-entry codebook" if layer.compressed else "dense")
            stored += ", bias" if layer.bias is not None else ""
            problem = layer.problem()
            origin = layer.origin + (f"; {layer.note}" if layer.note else "") + (
                f"; cannot be imported: {problem}" if problem else "")
            rows.append((str(i), _printable(layer.name), layer.kind, shape, layer.function, stored,
                         _printable(origin)))
        widths = [max(len(r[k]) for r in rows) for k in range(6)]
        lines = [f"{self.name}: {len(self.layers)} layer(s) from {self.source} ({self.format})"]
        lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r[:6], widths, strict=True)) + "  " + r[6]
                  for r in rows]
        lines += [f"  left out: {s}" for s in self.skipped]
        if self.by_name and len(self.layers) > 1:
            lines.append("  order: the layers' names (the file keeps its tensors sorted by name, not in the model's "
                         "order)")
        return "\n".join(line.rstrip() for line in lines)


def guess_functions(layers) -> list:
    """A file without a graph says no function: ReLU after every layer but the last (an
    LSTM's gates are its own: none), the rule of docs/networks.md, "State dicts"."""
    return [layer if layer.kind == "lstm" else replace(layer, function="none" if i == len(layers) - 1 else "relu")
            for i, layer in enumerate(layers)]


def _printable(text: str) -> str:
    """``text`` with control characters escaped (a name with a newline broke the table)."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def select_layers(net: ImportedNetwork, pattern: str | None) -> ImportedNetwork:
    """The layers whose name matches the regular expression ``pattern`` (``re.search``)."""
    if pattern is None:
        return net
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise InputError(f"--select must be a regular expression, not {pattern!r} ({exc})") from None
    kept = tuple(layer for layer in net.layers if rx.search(layer.name))
    # the user named the layers: a chain of them is what they asked for, whatever lies between
    if not kept:
        raise InputError(f"--select {pattern!r} matches none of the {len(net.layers)} layers of {net.source} "
                         f"({', '.join(layer.name for layer in net.layers[:8])}"
                         f"{', ...' if len(net.layers) > 8 else ''}): see eie import --list")
    if net.guessed:          # the last layer kept has no function after it (it had kept the file's relu)
        kept = tuple(guess_functions(kept))
    return replace(net, layers=kept, gaps=(), selected=pattern)


def file_names(names) -> list[str]:
    """One distinct, portable ``.npz`` file name per layer name (characters other than letters,
    digits, ``-``, ``_`` and ``.`` become ``_``; a repeated name gets ``_2``, ``_3``...)."""
    out, seen = [], set()
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip(".") or "layer"
        stem, k = base, 2
        while stem.lower() in seen:
            stem, k = f"{base}_{k}", k + 1
        seen.add(stem.lower())
        out.append(stem + ".npz")
    return out


def npz_bytes(arrays: dict) -> bytes:
    """An ``.npz`` (what ``numpy.load`` reads) of ``arrays``.  Integer arrays (codes: mostly 0)
    are deflated at level 1, 5x smaller at ~60 MB/s; float arrays are stored as they are:
    trained weights hardly compress (7 % on a real model) and level 6, numpy's, deflates
    only ~15 MB/s, which would dominate an import."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compresslevel=1) as zf:
        for name, a in arrays.items():
            a = np.ascontiguousarray(a)
            zf.compression = zipfile.ZIP_DEFLATED if a.dtype.kind in "iub" else zipfile.ZIP_STORED
            with zf.open(f"{name}.npy", "w", force_zip64=a.nbytes > (1 << 31) - (1 << 20)) as fh:
                np.lib.format.write_array(fh, a, allow_pickle=False)
    return buf.getvalue()


def network_plan(net: ImportedNetwork, directory, *, force: bool) -> tuple[OutputPlan, Network]:
    """Check ``net`` as a network (:func:`eie.network.check_layers`) and collect its files:
    one ``.npz`` per layer, ``network.toml``, and ``manifest.json`` (the files of this import,
    so that ``--force`` removes those of an earlier one).  Nothing is written yet: call
    ``plan.commit()``."""
    for layer in net.layers:
        problem = layer.problem()
        if problem is not None:
            raise InputError(f"{net.source!r}: {problem}")
    runs = [layer.name for layer in net.layers if layer.runs]
    if net.by_name and net.selected is None and len({re.sub(r"\d+", "#", n.removesuffix(".reverse")) for n in runs}) > 1:
        raise InputError(f"{net.source}: the file keeps its tensors sorted by name, not in the model's order, and "
                         f"the layers' names do not number it ({', '.join(runs[:4])}{', ...' if len(runs) > 4 else ''}): "
                         f"the order they would chain in is a guess.  Import the layers you want with --select "
                         f"REGEX (in the order --list shows), or save a PyTorch state dict (torch.save(model."
                         f"state_dict())), which keeps the model's order")
    files = file_names(layer.name for layer in net.layers)
    entries = tuple(layer.entry(f) for layer, f in zip(net.layers, files, strict=True))
    try:
        check_layers(entries, repr(net.source))
    except InputError as exc:
        if "nothing runs" in str(exc):
            hint = f"; left out: {'; '.join(net.skipped[:3])}" if net.skipped else ""
        elif net.gaps:           # what lies between them says more than the shapes do
            hint = (f"; left out between the layers (eie cannot run it): {'; '.join(net.gaps[:3])}; import a chain "
                    f"with --select REGEX (eie import --list shows the layers)")
        else:
            hint = ("; import a chain of them with --select REGEX (eie import --list shows the layers)"
                    if net.selected is None else
                    f"; --select {net.selected!r} picked layers that do not chain: pick a chain (eie import --list "
                    f"shows the layers and their shapes)")
        raise InputError(f"{exc}{hint}") from None
    if net.gaps:
        listed = "; ".join(net.gaps[:3]) + (f"; and {len(net.gaps) - 3} more" if len(net.gaps) > 3 else "")
        raise InputError(f"{net.source}: between the layers that run lies what eie cannot run: {listed}; the "
                         f"network without it would compute something else.  Import the layers you want with "
                         f"--select REGEX (eie import --list shows them); a batch norm can be folded into the layer "
                         f"before it when exporting")
    network = Network(net.name, entries, source=net.source)
    plan = OutputPlan(directory, force=force, kind="import", what="network directory")
    for layer, f in zip(net.layers, files, strict=True):
        plan.add(f, npz_bytes(layer.arrays()))
    plan.add("network.toml", network_toml(network))
    plan.add("manifest.json", {"source": net.source, "format": net.format, "layers": len(entries)})
    return plan, network
