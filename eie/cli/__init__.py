"""`eie` command line: a thin shell over the Python API, and the top floor of the package
(nothing in ``eie`` imports it).

Every bad input ends in one line ``eie: error: ...`` on stderr and exit code 2, with no
output file written.  Existing files are never overwritten without ``--force``.
"""

from __future__ import annotations

import argparse
import os
import sys

from .. import __version__
from ..errors import EIEError
from . import board, core, dsd, dse, lstm, networks, rtl, train

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="eie", description="EIE sparse-accelerator toolkit: compress, compile, "
                                 "simulate, price in energy, generate and verify RTL, synthesise")
    ap.add_argument("--version", action="version", version=f"eie {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    core.register(sub)
    networks.register(sub)
    lstm.register(sub)
    rtl.register(sub)
    dse.register(sub)
    train.register(sub)
    dsd.register(sub)
    board.register(sub)
    return ap


def main(argv=None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        return args.func(args)
    except EIEError as exc:
        print(f"eie: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader of standard output went away (`eie ... | head`): stop quietly, and keep
        # Python from reporting the failed flush at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
