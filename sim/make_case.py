"""Write a case file for the packaged cocotb testbench (``eie/flow/tb/tb_eie.py``) that runs
a layer on the committed reference design ``hdl/eie_ecp5_4pe.v``, and the model's expected
result next to it.

    python sim/make_case.py [LAYER.npz] [--out sim/build/case.json]

Without a layer, a seeded synthetic 40 x 48 layer is used.  ``make -C sim`` calls this, then
cocotb's Makefile flow; ``python sim/check.py`` compares the testbench's result with the
expectation (outputs, cycles, counters).
"""

import argparse
import json
import sys
from pathlib import Path

from eie.flow.host import prepared_jobs
from eie.flow.references import reference
from eie.model import simulate
from eie.prepare import load_compressed, prepare_layer


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("layer", nargs="?", help="layer .npz with activations (default: a synthetic one)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "build" / "case.json"))
    args = ap.parse_args(argv)
    ref = reference("eie_ecp5_4pe")
    hw, cfg = ref.hw, ref.hw.config
    if args.layer:
        layer = load_compressed(args.layer)
    else:
        from eie.compress import synthetic_layer
        layer = synthetic_layer(40, 48, 0.3, seed=3, act_density=0.5)
    prep = prepare_layer(layer, cfg, need_input=True)
    jobs = prepared_jobs(hw, prep, relu=False)           # a full-precision bias: its preload too
    model = simulate(prep.compiled, prep.x, plan=prep.plan, check_reference=False, source=layer)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"hw": hw.to_dict(), "layers": [{"jobs": jobs, "n_out": layer.n_out}],
                               "max_cycles": 2 * model.cycles + 1000, "preload": False}))
    expected = {"outputs_q": [int(v) for v in model.outputs_q], "cycles": int(model.cycles),
                "pe": {k: [int(v) for v in model.pe[k]] for k in ("entries", "padding", "empty_columns",
                                                                   "line_reads", "pops", "bypasses")}}
    out.with_name("expected.json").write_text(json.dumps(expected))
    print(f"wrote {out} ({layer.n_out}x{layer.n_in} on {hw.pes} PEs; model: {model.cycles} cycles)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
