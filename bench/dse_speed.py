"""Speed of the model for design-space sweeps (printed, not asserted): run with the venv.

    .venv/bin/python bench/dse_speed.py [--fc8 ../shared/data/alexnet-fc8/alexnet_fc8.npz]
                                        [--skip-sweep] [--workers 2] [--reps 40]

1. The real AlexNet FC8 layer on 64 PEs, in this process (best of ``--reps``): compile,
   simulate with values (no reference check), both, and with the reference check; the
   EIE authors' C++ simulator takes 0.055 s for the same run, reading its files included.
2. A point that reuses the compiled image and the values (``eie.model.retime``): queue
   depth 8 -> 7 (the authors' 7,926 cycles), 8 -> 16, and a clock change.
3. A 1,008-point sweep: the nine Table III layers x 112 designs (4 PE counts x 7 queue
   depths x 2 line widths x 2 pointer SRAM sizes) with ``eie dse``'s runner on ``--workers``
   processes into a fresh SQLite file, then the same sweep again (every point reused).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from eie.compile import compile_layer  # noqa: E402
from eie.config import EIEConfig  # noqa: E402
from eie.layer import load_layer  # noqa: E402
from eie.model import retime, simulate  # noqa: E402

SWEEP = """
[dse]
name = "speed"

[axes]
pes = [16, 32, 64, 128]
queue_depth = [1, 2, 4, 8, 16, 32, 64]
line_bits = [32, 64]
ptr_kb = [32, 64]

[workloads]
layers = ["Alex-6", "Alex-7", "Alex-8", "VGG-6", "VGG-7", "VGG-8", "NT-We", "NT-Wd", "NT-LSTM"]
"""


def best_of(fn, n):
    """Best wall time of ``n`` runs (and the result); the CPU time of this process over the
    same runs goes to :data:`CPU` (on a shared machine wall time includes waiting for a core)."""
    best, cpu, out = float("inf"), float("inf"), None
    for _ in range(n):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        best = min(best, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    CPU[fn] = cpu
    return best, out


CPU: dict = {}


def cpu_ms(fn) -> str:
    return f"{CPU[fn] * 1e3:.1f} ms CPU"


def fc8(path: str, reps: int) -> None:
    layer = load_layer(path)
    cfg = EIEConfig()
    comp = lambda: compile_layer(layer, cfg)  # noqa: E731
    t_comp, compiled = best_of(comp, reps)
    sim = lambda: simulate(compiled, layer.activations, source=layer, check_reference=False,  # noqa: E731
                           keep_work=True)
    t_sim, res = best_of(sim, reps)
    both = lambda: simulate(compile_layer(layer, cfg), layer.activations, source=layer,  # noqa: E731
                            check_reference=False)
    t_both, _ = best_of(both, reps)
    check = lambda: simulate(compiled, layer.activations, source=layer)  # noqa: E731
    t_ref, ref = best_of(check, reps)
    print(f"FC8 on 64 PEs, queue depth 8: {res.cycles} cycles, outputs match reference: "
          f"{ref.reference['outputs_match_reference']}")
    print(f"  compile {t_comp * 1e3:.1f} ms ({cpu_ms(comp)}) + simulate with values {t_sim * 1e3:.1f} ms "
          f"({cpu_ms(sim)}); together {t_both * 1e3:.1f} ms ({cpu_ms(both)}; goal <= 55 ms, the authors' C++ "
          f"simulator); simulate with the reference check {t_ref * 1e3:.1f} ms ({cpu_ms(check)})")
    for label, new in (("queue depth 8 -> 7", cfg.replace(queue_depth=7)),
                       ("queue depth 8 -> 16", cfg.replace(queue_depth=16)),
                       ("clock 800 -> 500 MHz", cfg.replace(clock_mhz=500.0))):
        move = lambda new=new: retime(res, new)  # noqa: E731
        t, r = best_of(move, reps)
        print(f"  a point reusing the image and values ({label}): {t * 1e3:.1f} ms ({cpu_ms(move)}), "
              f"{r.cycles} cycles (goal <= 10 ms)")


def sweep(workers: int) -> None:
    from eie.dse import Store, load_spec, make_points, run_sweep
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / "speed.toml"
        spec_path.write_text(SWEEP)
        spec = load_spec(spec_path)
        points = make_points(spec)
        with Store(Path(tmp) / "speed.db") as store:
            t0 = time.perf_counter()
            first = run_sweep(spec, store, points, workers=workers)
            t1 = time.perf_counter()
            again = run_sweep(spec, store, points, workers=workers, progress=False)
            t2 = time.perf_counter()
    print(f"sweep: {spec.n_designs} designs x {len(spec.workloads)} layers = {len(points):,} points on {workers} "
          f"workers: {t1 - t0:.1f} s ({first.computed} computed, {first.failed} failed; goal <= 300 s); "
          f"again: {t2 - t1:.2f} s ({again.reused} reused, {again.computed} computed)")


def main():
    ap = argparse.ArgumentParser()
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "alexnet-fc8" / "alexnet_fc8.npz"
    ap.add_argument("--fc8", default=str(default))
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-sweep", action="store_true")
    args = ap.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", file=sys.stderr)
    if Path(args.fc8).exists():
        fc8(args.fc8, args.reps)
    else:
        print(f"FC8 layer not found at {args.fc8}: skipped", file=sys.stderr)
    if not args.skip_sweep:
        sweep(args.workers)


if __name__ == "__main__":
    main()
