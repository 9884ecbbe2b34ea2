"""Board-build benchmark: each board's default ``eie board`` build, timed, with its Fmax
against the board clock and its resources.

    .venv/bin/python bench/boards.py                          # every board, seed 1
    .venv/bin/python bench/boards.py --only ulx3s --seeds 1 2 3
    .venv/bin/python bench/boards.py --out reports/fpga/boards

The defaults are what a user gets from ``eie board TARGET -o DIR`` with no other option
(eie.flow.board.BOARDS: the ULX3S's 4 PEs at 50 MHz through the PLL, the iCEBreaker's and
the HX8K breakout's 1 PE at 12 MHz).  One build per board and seed (each its own yosys,
nextpnr and packer run, as the command does it).  Prints one line per build (Fmax, the clock
it must meet, LUTs, block RAMs, wall time by step) and, with ``--out DIR``, writes
``DIR/<board>.json`` (the ``eie board --json`` record of the first seed, with the other
seeds' Fmax under ``seeds``; the build directory and bitstream named relative to it, as
``build/<board>``).  Exit status 1 if a default build does not fit its board or misses its
clock: the default is a promise the benchmark checks (the test suite builds each board's
flow on a small array; the full default ULX3S build takes minutes of nextpnr).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eie.config import EIEConfig  # noqa: E402
from eie.errors import EIEError  # noqa: E402
from eie.fileio import write_json  # noqa: E402
from eie.flow.board import BOARDS, build_board  # noqa: E402
from eie.hdl.params import HWConfig  # noqa: E402


def build(target: str, seed: int, workdir: Path, force: bool = False) -> dict:
    """The default build of ``target`` with nextpnr seed ``seed`` into ``workdir``: the
    record, or ``{"board": ..., "error": message}`` when it does not fit or meet its clock."""
    board = BOARDS[target]
    hw = HWConfig(EIEConfig(**board.config), vendor=board.family)
    t0 = time.monotonic()
    try:
        rec = build_board(target, hw, workdir / f"{target}-s{seed}", seed=seed, force=force).to_dict()
    except EIEError as exc:
        return {"board": target, "seed": seed, "error": str(exc), "wall_s": round(time.monotonic() - t0, 1)}
    rec = dict(rec, directory=f"build/{target}", bitstream=Path(rec["bitstream"]).name)
    return rec


def line(rec: dict) -> str:
    if "error" in rec:
        return f"{rec['board']:<14} seed {rec['seed']}: FAILED after {rec['wall_s']:.0f} s: {rec['error']}"
    r, w = rec["resources"], rec["wall_s"]
    steps = ", ".join(f"{k} {v:.0f} s" for k, v in w.items() if k != "total")
    verdict = "meets" if rec["timing_met"] else "MISSES"
    return (f"{rec['board']:<14} seed {rec['seed']}: {rec['pes']} PE(s), Fmax {rec['fmax_mhz']:6.1f} MHz ({verdict} "
            f"{rec['clock_mhz']:g} MHz), LUT {r['luts']['used']:,}/{r['luts']['total']:,} ({r['luts']['pct']} %), "
            f"block RAM {r['brams']['used']}/{r['brams']['total']}; build {w['total']:.0f} s ({steps})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--only", nargs="+", choices=sorted(BOARDS), metavar="BOARD",
                    help=f"these boards only (of {', '.join(BOARDS)})")
    ap.add_argument("--seeds", nargs="+", type=int, default=[1], help="nextpnr seeds: one build each (default 1)")
    ap.add_argument("--workdir", help="keep the build directories here (default: a temporary directory)")
    ap.add_argument("--force", action="store_true", help="build into the --workdir directories of an earlier run")
    ap.add_argument("--out", help="write <board>.json records into this directory")
    args = ap.parse_args(argv)
    targets = args.only or list(BOARDS)
    out = Path(args.out) if args.out else None
    if out is not None and not out.is_dir():
        ap.error(f"--out {args.out!r} is not a directory")
    failed = 0
    with tempfile.TemporaryDirectory(prefix="eie-boards-") as tmp:
        work = Path(args.workdir) if args.workdir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for target in targets:
            recs = []
            for seed in args.seeds:
                rec = build(target, seed, work, args.force)
                print(line(rec), flush=True)
                failed += "error" in rec
                recs.append(rec)
            first = recs[0]
            if out is not None and "error" not in first:
                first = dict(first, seeds=[{"seed": r["seed"], "fmax_mhz": r.get("fmax_mhz"),
                                            "wall_s": r["wall_s"]["total"] if "error" not in r else r["wall_s"],
                                            "error": r.get("error")} for r in recs])
                write_json(out / f"{target}.json", first)
    if out is not None:
        print(f"wrote {', '.join(f'{t}.json' for t in targets)} to {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
