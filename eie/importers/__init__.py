"""Real networks in: read a trained model file and make a network directory [docs/networks.md].

One module per format, each returning an :class:`~eie.importers.result.ImportedNetwork`:

| format | module | reads |
|---|---|---|
| ``deep-compression`` | :mod:`.deep_compression` (+ :mod:`.caffe`) | Deep Compression's release file (compressed layers) |
| ``onnx`` | :mod:`.onnx_graph` | Gemm, MatMul (+Add), LSTM and Conv nodes with constant weights |
| ``torch`` | :mod:`.torch_state` | PyTorch state dicts, zip and legacy; without PyTorch by an allow-list reader |
| ``safetensors`` | :mod:`.safetensors_file` | safetensors files |
| ``npz`` | :mod:`.npz_file` | dense weight/bias pairs by name |

:func:`import_file` picks the format from the file's first bytes when none is given
(:func:`detect_format`), reads it and keeps the layers ``select`` matches;
:func:`~eie.importers.result.network_plan` turns the result into the files of a network
directory (``eie import``).  Floor 2 of the package layout: above :mod:`eie.network` and
:mod:`eie.layer`, below the CLI.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .result import ImportedLayer, ImportedNetwork, network_plan, select_layers

__all__ = ["FORMATS", "MODULES", "detect_format", "import_file", "ImportedLayer", "ImportedNetwork",
           "network_plan"]

#: the formats ``eie import --format`` accepts
FORMATS = ("deep-compression", "onnx", "torch", "safetensors", "npz")
#: the optional module (of the ``networks`` extra) a format needs
MODULES = {"onnx": ("onnx",), "safetensors": ("safetensors",)}


def detect_format(path, *, has_layout: bool = False) -> str:
    """The format of ``path`` from its first bytes: a zip holding ``data.pkl`` or the legacy
    magic number (torch), a zip of ``.npy`` members (npz), an 8-byte length and ``{``
    (safetensors), a ``.onnx`` name or a protobuf starting with field 1 (onnx).  A Deep
    Compression file has no signature: it is assumed when ``has_layout`` (``--layer`` or
    ``--prototxt`` given)."""
    from .npz_file import is_npz
    from .safetensors_file import is_safetensors
    from .torch_state import is_torch_file
    path = Path(path)
    if has_layout:
        return "deep-compression"
    with open(path, "rb") as fh:
        head = fh.read(16)
    if is_torch_file(path, head):
        return "torch"
    if is_npz(path, head):
        return "npz"
    if head.startswith(b"PK\x03\x04"):
        import zipfile
        try:
            with zipfile.ZipFile(path):
                pass
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise InputError(f"{str(path)!r} starts as a zip archive (a PyTorch file or an npz) but its directory "
                             f"cannot be read ({exc}): the file is truncated or corrupt; copy or save it again") from None
        raise InputError(f"{str(path)!r} is a zip archive but neither a PyTorch file (no data.pkl) nor an npz (not "
                         f"only .npy members): give --format")
    if is_safetensors(path, head):
        return "safetensors"
    if path.suffix.lower() == ".onnx" or head[:1] == b"\x08":
        return "onnx"
    raise InputError(f"cannot tell the format of {str(path)!r} from its first bytes: give --format "
                     f"({', '.join(FORMATS)}); a Deep Compression file also needs --layer or --prototxt")


def import_file(path, fmt: str | None = None, *, layers=(), prototxt=None, select: str | None = None,
                use_torch: bool | None = None) -> ImportedNetwork:
    """Read ``path`` (format ``fmt``, detected when None) and keep the layers whose name
    matches ``select``.  ``layers`` (``NAME:OUTxIN[:BITS]`` strings) or ``prototxt`` give a
    Deep Compression file its layers; ``use_torch`` forces (True) or avoids (False) PyTorch
    for a PyTorch file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"model file {str(path)!r} does not exist" if not path.exists()
                         else f"model file {str(path)!r} is not a regular file")
    if layers and prototxt:
        raise InputError("give the layers with --layer or with --prototxt, not both")
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    fmt = fmt or detect_format(path, has_layout=bool(layers or prototxt))
    try:
        net = _read(path, fmt, layers, prototxt, use_torch)
    except InputError as exc:
        if repr(str(path)) in str(exc):
            raise
        raise type(exc)(f"{str(path)!r}: {exc}") from None          # every message names the file
    return select_layers(net, select)


def _model_order(path: Path, fmt: str) -> bool:
    """Whether a file's tensors come in the model's order: a PyTorch state dict's do; a
    safetensors file's are sorted by name; an npz keeps the order it was saved in unless
    its names are sorted (then that order is unknown)."""
    if fmt == "torch":
        return True
    if fmt == "npz":
        import zipfile

        from .npz_file import model_order
        with zipfile.ZipFile(path) as zf:
            return model_order(zf.namelist())
    return False


def _read(path: Path, fmt: str, layers, prototxt, use_torch) -> ImportedNetwork:
    if fmt != "deep-compression" and (layers or prototxt):
        raise InputError(f"--layer and --prototxt describe a Deep Compression file; {str(path)!r} is read as {fmt}, "
                         f"which names its own layers: drop them")
    if fmt == "deep-compression":
        from .deep_compression import parse_layer_spec, read_release, specs_from_prototxt
        if prototxt:
            name, specs = specs_from_prototxt(prototxt)
            net = read_release(path, specs, name=name, relu_between=False)
        else:
            net = read_release(path, [parse_layer_spec(t) for t in layers])
    elif fmt == "onnx":
        from .onnx_graph import read_onnx
        net = read_onnx(path)
    else:
        from .npz_file import read_npz
        from .safetensors_file import read_safetensors
        from .tensors import layers_from_tensors
        from .torch_state import read_state_dict
        read = {"torch": lambda p: read_state_dict(p, use_torch=use_torch), "safetensors": read_safetensors,
                "npz": read_npz}[fmt]
        ordered = _model_order(path, fmt)
        found, skipped, gaps = layers_from_tensors(read(path), repr(str(path)), path.stem, ordered=ordered)
        net = ImportedNetwork(path.stem, path.name, fmt, tuple(found), tuple(skipped), tuple(gaps), guessed=True,
                              by_name=not ordered)
    if not net.layers:
        raise InputError(f"{str(path)!r} ({fmt}) holds no layer eie can import (fully-connected, LSTM or "
                         f"convolution with constant weights)"
                         + (f"; left out: {'; '.join(net.skipped[:3])}" if net.skipped else ""))
    return net
