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
    best, out = float("inf"), None
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def fc8(path: str, reps: int) -> None:
    layer = load_layer(path)
    cfg = EIEConfig()
    t_comp, compiled = best_of(lambda: compile_layer(layer, cfg), reps)
    t_sim, res = best_of(lambda: simulate(compiled, layer.activations, source=layer, check_reference=False), reps)
    t_both, _ = best_of(lambda: simulate(compile_layer(layer, cfg), layer.activations, source=layer,
                                         check_reference=False), reps)
    t_ref, ref = best_of(lambda: simulate(compiled, layer.activations, source=layer), reps)
    print(f"FC8 on 64 PEs, queue depth 8: {res.cycles} cycles, outputs match reference: "
          f"{ref.reference['outputs_match_reference']}")
    print(f"  compile {t_comp * 1e3:.1f} ms + simulate with values {t_sim * 1e3:.1f} ms; together "
          f"{t_both * 1e3:.1f} ms (goal <= 55 ms, the authors' C++ simulator); simulate with the reference "
          f"check {t_ref * 1e3:.1f} ms")
    for label, new in (("queue depth 8 -> 7", cfg.replace(queue_depth=7)),
                       ("queue depth 8 -> 16", cfg.replace(queue_depth=16)),
                       ("clock 800 -> 500 MHz", cfg.replace(clock_mhz=500.0))):
        t, r = best_of(lambda new=new: retime(res, new), reps)
        print(f"  a point reusing the image and values ({label}): {t * 1e3:.1f} ms, {r.cycles} cycles "
              f"(goal <= 10 ms)")


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
