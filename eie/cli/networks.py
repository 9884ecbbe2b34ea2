"""``eie import``: a trained model file in, a network directory out [docs/networks.md]."""

from __future__ import annotations

from pathlib import Path

from ..fileio import check_out_dir
from .options import require_extra

__all__ = ["register", "cmd_import"]


def cmd_import(args) -> int:
    from ..errors import InputError
    from ..importers import FORMATS, MODULES, detect_format, import_file, network_plan
    if not args.list and args.out is None:
        raise InputError("eie import needs -o/--out DIR (the network directory to write) or --list")
    out = check_out_dir(args.out, "network directory") if args.out else None
    src = Path(args.src)
    if not src.is_file():
        raise InputError(f"model file {str(src)!r} does not exist" if not src.exists()
                         else f"model file {str(src)!r} is not a regular file")
    if args.format is not None and args.format not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, not {args.format!r}")
    fmt = args.format or detect_format(src, has_layout=bool(args.layer or args.prototxt))
    if fmt in MODULES:
        require_extra("networks", f"eie import --format {fmt}", MODULES[fmt])
    net = import_file(src, fmt, layers=args.layer or (), prototxt=args.prototxt, select=args.select)
    if args.list:
        print(net.describe())
        return 0
    plan, network = network_plan(net, out, force=args.force)
    plan.commit()
    runs = sum(layer.runs for layer in network.layers)
    print(net.describe())
    print(f"wrote {out}/network.toml and {len(network.layers)} layer file(s) ({runs} run on the array, "
          f"{len(network.layers) - runs} stored only)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("import", help="read a trained model (Deep Compression, ONNX, PyTorch, safetensors, npz) "
                                      "into a network directory")
    p.add_argument("src", metavar="SRC", help="the model file")
    p.add_argument("--format", metavar="FORMAT",
                   help="deep-compression, onnx, torch, safetensors or npz (default: detected from the file; a "
                        "Deep Compression file is assumed when --layer or --prototxt is given)")
    p.add_argument("-o", "--out", metavar="DIR",
                   help="the network directory to write (network.toml, one .npz per layer, manifest.json); created "
                        "if its parent exists")
    p.add_argument("--list", action="store_true", help="list the layers that would be imported; write nothing")
    p.add_argument("--select", metavar="REGEX", help="import only the layers whose name matches REGEX (re.search)")
    p.add_argument("--layer", action="append", metavar="NAME:OUTxIN[:BITS]",
                   help="Deep Compression: one layer of the file, repeated in file order (4-bit codes unless "
                        ":8; a name containing 'conv' is a convolution, stored only)")
    p.add_argument("--prototxt", metavar="FILE",
                   help="Deep Compression: the Caffe deploy prototxt that gives the layers and their shapes")
    p.add_argument("--force", action="store_true",
                   help="write into a directory that holds an earlier import (its files are replaced or removed)")
    p.set_defaults(func=cmd_import)
