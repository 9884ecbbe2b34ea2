"""`eie` command line: a thin shell over the Python API, and the top floor of the package
(nothing in ``eie`` imports it).

Every bad input ends in one line ``eie: error: ...`` on stderr and exit code 2, with no
output file written.  Existing files are never overwritten without ``--force``.
"""

from __future__ import annotations

import argparse
import os
import re
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


def _int_lists_last(ap: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """``argv`` with every option that takes several integers (``--seed S [S ...]``) and its
    integers moved to the end when a word that is not an integer follows them: argparse lets
    such an option take every word up to the next option, so ``eie board --seed 1 2 ulx3s``
    read the board as a seed.  Words after ``--`` stay where they are."""
    sub = next((a for a in ap._actions if isinstance(a, argparse._SubParsersAction)), None)
    at = next((i for i, w in enumerate(argv) if sub and w in sub.choices), None)
    if at is None:
        return argv
    opts = {o for a in sub.choices[argv[at]]._actions if a.nargs in ("+", "*") and a.type is int
            for o in a.option_strings}
    head, rest, moved, i = argv[:at + 1], [], [], at + 1
    while i < len(argv):
        w = argv[i]
        if w == "--":
            rest += argv[i:]
            break
        if w in opts:
            j = i + 1
            while j < len(argv) and re.fullmatch(r"-?\d+", argv[j]):
                j += 1
            if j > i + 1 and j < len(argv) and not argv[j].startswith("-"):
                moved += argv[i:j]
                i = j
                continue
        rest.append(w)
        i += 1
    return head + rest + moved


def main(argv=None) -> int:
    ap = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = ap.parse_args(_int_lists_last(ap, argv))
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
