"""``python -m eie.hdl -o hdl/eie_top.v [--config cfg.toml] [--spmat-lines N ...]``:
write the Verilog of :class:`eie.hdl.top.EIETop` for one hardware configuration."""

import argparse
import sys
from pathlib import Path

from ..config import EIEConfig
from ..errors import EIEError
from .cosim import verilog_source
from .params import HWConfig


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eie.hdl", description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output", required=True, help="Verilog file to write")
    ap.add_argument("--config", help="EIEConfig file (TOML or JSON); default: the paper's design point")
    for name in ("spmat-lines", "ptr-words", "act-depth", "dst-depth"):
        ap.add_argument(f"--{name}", type=int, help=f"{name.replace('-', '_')} per PE (default: from the config)")
    args = ap.parse_args(argv)
    try:
        cfg = EIEConfig.from_file(args.config) if args.config else EIEConfig()
        hw = HWConfig(cfg, spmat_lines=args.spmat_lines, ptr_words=args.ptr_words, act_depth=args.act_depth,
                      dst_depth=args.dst_depth)
    except EIEError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(verilog_source(hw))
    print(f"wrote {out} ({hw.key()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
