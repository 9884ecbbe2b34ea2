"""How long loading a layer through the board's UART bridge takes: what a user of
``eie run-board`` waits for.

    .venv/bin/python bench/uart_load.py [--fc8 PATH] [--json OUT]

The bytes are counted by the same driver that talks to a board (eie.flow.board_host:
``UARTDriver``'s frames, with a counting transport instead of a serial port), for the real
AlexNet FC8 layer (read from ../shared, never copied into the repository) on the paper's
64-PE design and on the 4-PE reference configuration (ECP5-25k, reports/fpga; memories as
large as FC8 needs there: it does not fit the 25k), and for the
layers the tests run on the simulated iCEBreaker board.  Line time = bytes x 10 bits / baud
(8N1); the bridge keeps up with any baud rate its divisor allows (a word is written in two
clock cycles, a byte lasts 10 x divisor >= 40), so the line is the bottleneck.  The
parallel port's load cycles are given for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FC8 = Path(os.environ.get("EIE_SHARED", REPO.parent / "shared")) / "data" / "alexnet-fc8" / "alexnet_fc8.npz"
BAUDS = (115_200, 1_000_000, 3_000_000)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fc8", default=str(DEFAULT_FC8))
    ap.add_argument("--json", help="write the figures as JSON")
    args = ap.parse_args(argv)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from eie.compress import synthetic_layer
    from eie.config import EIEConfig
    from eie.flow.board import BOARDS
    from eie.flow.board_host import load_traffic
    from eie.flow.generate import hw_for_layer
    from eie.flow.host import pass_writes, prepared_jobs
    from eie.flow.references import DEVICE_REFERENCES
    from eie.hdl.params import HWConfig
    from eie.layer import load_layer
    from eie.prepare import prepare_layer

    cases = []
    if Path(args.fc8).is_file():
        fc8 = load_layer(args.fc8)
        cases.append(("AlexNet FC8 on the paper's 64 PEs", fc8, EIEConfig(), None))
        # the 4-PE reference array; its 16 KiB per PE hold a sixteenth of FC8, so the memories
        # (and the pointers' width) are what FC8 needs on 4 PEs
        cases.append(("AlexNet FC8 on the 4-PE reference array", fc8,
                      EIEConfig(**{**DEVICE_REFERENCES[("ecp5", "25k")], "spmat_kb": 512, "ptr_kb": 96,
                                   "ptr_bits": 20}), None))
    else:
        print(f"note: {args.fc8} not found: FC8 left out (set EIE_SHARED)", file=sys.stderr)
    ice = EIEConfig(**BOARDS["icebreaker"].config)
    cases.append(("12x24 test layer on the iCEBreaker build (1 PE)",
                  synthetic_layer(12, 24, 0.3, bits=ice.weight_bits, seed=7, act_density=0.6), ice,
                  HWConfig(ice, vendor="ice40")))
    rows = []
    for name, layer, cfg, hw in cases:
        prep = prepare_layer(layer, cfg, need_input=True)
        hw = hw or hw_for_layer(prep.compiled)
        jobs = prepared_jobs(hw, prep)
        words = sum(len(pass_writes(hw, j["image"])) for j in jobs)
        per_baud = {b: load_traffic(hw, jobs, b) for b in BAUDS}
        t = per_baud[BAUDS[0]]
        rows.append({"layer": name, "pes": cfg.pes, "passes": len(jobs), "host_words": words,
                     "frames": t.frames, "bytes_out": t.bytes_out, "bytes_back": t.bytes_back,
                     "bytes_per_word": round(t.bytes_out / words, 3), "parallel_port_cycles": words,
                     "seconds": {str(b): round(per_baud[b].seconds, 3) for b in BAUDS}})
    print(f"{'layer':<48} {'passes':>6} {'words':>9} {'frames':>7} {'bytes':>10} {'B/word':>6}  "
          + "  ".join(f"{b / 1e6:g} Mbaud" for b in BAUDS))
    for r in rows:
        print(f"{r['layer']:<48} {r['passes']:>6} {r['host_words']:>9,} {r['frames']:>7,} {r['bytes_out']:>10,} "
              f"{r['bytes_per_word']:>6}  " + "  ".join(f"{r['seconds'][str(b)]:>9.2f} s" for b in BAUDS))
    if args.json:
        Path(args.json).write_text(json.dumps({"bauds": list(BAUDS), "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
