"""The real AlexNet FC8 layer on the 64-PE RTL under Verilator, against the model.

    .venv/bin/python bench/rtl_fc8.py [--fc8 PATH] [--queue-depth D] [--sim verilator|icarus]
                                      [--load backdoor|port] [--json OUT]

Default design: the reference design ``eie_paper_64pe`` (the paper's design point: 64 PEs,
queue depth 8, every SRAM at its paper size).  Its 7.6 MB of Verilog is not in git: it is
generated on demand (``eie rtl --reference hdl --design eie_paper_64pe`` writes it into
hdl/) and must have the SHA-256 that ``hdl/manifest.json`` records, so the text run here is
the reference text.
``--queue-depth D`` instead generates a 64-PE design with queue depth D and memories as deep
as FC8 needs (``--queue-depth 7`` is the authors' simulator, 7,926 cycles [arch §9]).

The layer's memories are loaded by back door (``--load backdoor``, the default:
``$readmemh`` images through the test-bench wrapper, eie/flow/backdoor.py) or word by word
through the host port (``--load port``: 397,917 cycles, about 5 minutes on 64 PEs); the
registers, the pass and the read-back always use the port.  Measured with the back door:
RTL run 5.9 s (start-up 1.0, load 0.7, pass 3.5, read-back 0.6), 7,896 cycles like the
model, outputs and counters identical; the 64-PE Verilator build took 1,689 s (excluded).
On a later machine of the same kind, alone: RTL run 10.1 s (start-up 1.1, load 0.6, pass
7.1, read-back 1.3), the same cycles, outputs and counters; build 694 s.

Checks that the RTL's outputs are bit-identical to the model's, that its cycles and every
counter are identical (exit code 1 otherwise), and prints the wall times: the build
(Verilog generation and Verilator compile, cached in the per-user cache, `eie cache`; excluded
from the comparison, printed separately), the model (compile + simulate, best of
``--repeat``), and the RTL run, split into the simulator process, loading the layer through
the host port, the pass itself and reading the results back.  The layer file is read from
../shared (never copied into the repository).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FC8 = Path(os.environ.get("EIE_SHARED", REPO.parent / "shared")) / "data" / "alexnet-fc8" / "alexnet_fc8.npz"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fc8", default=str(DEFAULT_FC8), help=f"alexnet_fc8.npz (default {DEFAULT_FC8})")
    ap.add_argument("--queue-depth", type=int, default=None,
                    help="generate a 64-PE design with this queue depth instead of using hdl/eie_paper_64pe.v")
    ap.add_argument("--sim", choices=("verilator", "icarus"), default="verilator")
    ap.add_argument("--load", choices=("backdoor", "port"), default="backdoor",
                    help="how the memories are loaded (default backdoor: $readmemh images)")
    ap.add_argument("--repeat", type=int, default=3, help="model timing: best of this many runs")
    ap.add_argument("--json", help="write the figures as JSON")
    args = ap.parse_args(argv)

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from eie.compile import compile_layer
    from eie.config import EIEConfig
    from eie.fixed import acc_preload, plan_layer, quantize
    from eie.flow import verify
    from eie.flow.generate import hw_for_layer
    from eie.flow.host import layer_jobs
    from eie.flow.references import reference, reference_text
    from eie.layer import load_layer
    from eie.model import simulate
    from eie.reference import float_forward

    if not Path(args.fc8).is_file():
        print(f"error: {args.fc8} not found (give --fc8 PATH or set EIE_SHARED)", file=sys.stderr)
        return 2
    layer = load_layer(args.fc8)
    x = layer.activations
    if args.queue_depth is None:
        import hashlib
        ref_design = reference("eie_paper_64pe")
        cfg, top, hw = ref_design.hw.config, ref_design.name, ref_design.hw
        vfile = REPO / "hdl" / f"{top}.v"
        if vfile.is_file():
            verilog = vfile.read_text()
        else:
            print(f"  generating {top} (not in git; `eie rtl --reference hdl --design {top}` keeps it) ...",
                  file=sys.stderr, flush=True)
            verilog = reference_text(ref_design)
        recorded = {d["file"]: d["sha256"] for d in json.loads((REPO / "hdl" / "manifest.json").read_text())["designs"]}
        if hashlib.sha256(verilog.encode()).hexdigest() != recorded[f"{top}.v"]:
            print(f"error: the {top} text differs from hdl/manifest.json's hash: regenerate hdl/", file=sys.stderr)
            return 1
        design = f"{top} (hash as in hdl/manifest.json)"
    else:
        cfg = EIEConfig(queue_depth=args.queue_depth)
        top, verilog = "eie_top", None
        hw = hw_for_layer(compile_layer(layer, cfg))
        design = "generated for FC8"

    # ---- model: compile + simulate (what `eie simulate` does), best of --repeat ----------------------
    best = None
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        compiled = compile_layer(layer, cfg)
        t1 = time.perf_counter()
        plan = plan_layer(layer.codebook, x, float_forward(layer, x), cfg, bias=layer.bias)
        ref = simulate(compiled, x, plan=plan, keep_timing=True, check_reference=False, source=layer)
        t2 = time.perf_counter()
        if best is None or t2 - t0 < best[0] + best[1]:
            best = (t1 - t0, t2 - t1)
    model_compile, model_sim = best

    # ---- RTL: build (excluded), then one run --------------------------------------------------------
    print(f"AlexNet FC8: {layer.n_out}x{layer.n_in}, {ref.totals['nonzero_inputs']} non-zero inputs; "
          f"{cfg.pes} PEs, queue depth {cfg.queue_depth}; design {design}: spmat {hw.spmat_lines} lines, "
          f"ptr {hw.ptr_words} words/bank, act {hw.act_depth}, dst {hw.dst_depth} per PE", flush=True)
    t0 = time.perf_counter()
    b = verify.build(hw, args.sim, top=top, verilog=verilog,
                     progress=lambda m: print(f"  {m}", file=sys.stderr, flush=True))
    build_s = time.perf_counter() - t0
    a_q = quantize(x, plan.fa, cfg.act_bits)
    cb_q = quantize(layer.codebook, plan.fw, cfg.codebook_bits)
    jobs = layer_jobs(hw, compiled, a_q, cb_q, plan.shift, False, 1 << plan.fa,
                      acc_preload(layer.bias, plan.fo, cfg.acc_bits))
    t0 = time.perf_counter()
    out = verify.run(b, [{"jobs": jobs, "n_out": layer.n_out}], max_cycles=2 * ref.cycles + 1000, name="fc8",
                     load=args.load)
    rtl_s = time.perf_counter() - t0
    rep = verify.compare(out.results[0], ref)

    ph, cy = out.wall, out.cycles
    model_s = model_compile + model_sim
    rtl_parts = {"startup": rtl_s - ph["total"], "reset": ph["reset"], "load": ph["load"], "compute": ph["compute"],
                 "readback": ph["readback"]}
    figures = {
        "layer": {"n_out": layer.n_out, "n_in": layer.n_in, "nonzero_inputs": int(ref.totals["nonzero_inputs"])},
        "design": design, "sim": args.sim, "load": args.load, "pes": cfg.pes, "queue_depth": cfg.queue_depth,
        "depths": {"spmat_lines": hw.spmat_lines, "ptr_words": hw.ptr_words, "act_depth": hw.act_depth,
                   "dst_depth": hw.dst_depth},
        "rtl_cycles": rep["rtl_cycles"], "model_cycles": rep["model_cycles"], "outputs_equal": rep["outputs_equal"],
        "cycles_equal": rep["cycles_equal"], "counters_equal": rep["counters_equal"], "equal": rep["equal"],
        "differences": rep["differences"],
        "wall_s": {"build_generate": b.generate_s, "build_compile": b.build_s, "build_total": build_s,
                   "model_compile": model_compile, "model_simulate": model_sim, "model": model_s,
                   "rtl_run": rtl_s, "rtl_parts": rtl_parts},
        "rtl_clock_cycles": cy,
        "speedup_model_vs_rtl": rtl_s / model_s,
        "speedup_compute_phase": ph["compute"] / model_sim,
    }
    cyc = "identical" if rep["cycles_equal"] else "DIFFER"
    print(f"  build (excluded)  {build_s:8.2f} s  (Verilog {b.generate_s:.2f} s, {args.sim} {b.build_s:.2f} s; "
          f"cached in {b.directory})")
    print(f"  model             {model_s:8.3f} s  (compile {model_compile:.3f} s + simulate {model_sim:.3f} s, "
          f"best of {args.repeat})")
    print(f"  RTL run           {rtl_s:8.2f} s  (simulator start-up {rtl_parts['startup']:.2f} s, reset "
          f"{ph['reset']:.2f} s, load ({'back door' if args.load == 'backdoor' else 'host port'}) "
          f"{ph['load']:.2f} s / {cy['load']:,} cycles, pass "
          f"{ph['compute']:.2f} s / {cy['compute']:,} cycles, read-back {ph['readback']:.2f} s / "
          f"{cy['readback']:,} cycles)")
    print(f"  cycles            RTL {rep['rtl_cycles']}, model {rep['model_cycles']}: {cyc}; outputs "
          f"{'identical' if rep['outputs_equal'] else 'DIFFER'} ({layer.n_out}); counters "
          f"{'identical' if rep['counters_equal'] else 'DIFFER'}")
    print(f"  speed             model {figures['speedup_model_vs_rtl']:.0f}x faster than the RTL run "
          f"(the pass alone: {figures['speedup_compute_phase']:.1f}x)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n")
    return 0 if rep["equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
