"""Performance figures of the core (printed, not asserted): run with the project's venv.

    .venv/bin/python bench/perf.py [--fc8 ../shared/data/alexnet-fc8/alexnet_fc8.npz]

1. The real AlexNet FC8 layer on 64 PEs, queue depth 8 (and 7 = the authors' 8-slot ring):
   cycles vs the authors' simulator (7,926) and wall time of compile and simulate, against
   the authors' C++ simulator's 0.13 s on the same vector.
2. The VGG-6 shape (25088 x 4096, 4 % weights, 18.3 % activations): wall time of
   compress + compile and of simulate, and the peak resident memory.
"""

import argparse
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from eie.compile import compile_layer  # noqa: E402
from eie.compress import synthetic_layer  # noqa: E402
from eie.config import EIEConfig  # noqa: E402
from eie.layer import load_layer  # noqa: E402
from eie.model import simulate  # noqa: E402


def best_of(fn, n=5):
    times, out = [], None
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "alexnet-fc8" / "alexnet_fc8.npz"
    ap.add_argument("--fc8", default=str(default))
    ap.add_argument("--skip-vgg", action="store_true")
    args = ap.parse_args()

    if Path(args.fc8).exists():
        layer = load_layer(args.fc8)
        for depth in (8, 7):
            cfg = EIEConfig(pes=64, queue_depth=depth)
            t_comp, compiled = best_of(lambda cfg=cfg: compile_layer(layer, cfg))
            t_sim, res = best_of(lambda compiled=compiled: simulate(compiled, layer.activations, source=layer,
                                                                     check_reference=False))
            t_all, res2 = best_of(lambda cfg=cfg: simulate(layer, config=cfg))
            print(f"FC8, 64 PEs, queue depth {depth}: {res.cycles} cycles "
                  f"({100 * (res.cycles - 7926) / 7926:+.2f} % vs the authors' 7,926), "
                  f"outputs match reference: {res2.reference['outputs_match_reference']}")
            print(f"  wall: compile {t_comp * 1e3:.0f} ms, simulate {t_sim * 1e3:.0f} ms, "
                  f"end to end with float reference {t_all * 1e3:.0f} ms (authors' C++ simulator: 130 ms)")
    else:
        print(f"FC8 layer not found at {args.fc8}: skipped", file=sys.stderr)

    if not args.skip_vgg:
        cfg = EIEConfig()
        t0 = time.perf_counter()
        vgg = synthetic_layer(4096, 25088, 0.04, bits=4, seed=16, act_density=0.183, name="VGG-6")
        t1 = time.perf_counter()
        compiled = compile_layer(vgg, cfg, check=False)
        t2 = time.perf_counter()
        res = simulate(compiled, vgg.activations, source=vgg)
        t3 = time.perf_counter()
        print(f"VGG-6 shape 25088x4096, 4 % weights, 18.3 % activations, 64 PEs: {res.cycles} cycles "
              f"({res.time_us:.1f} us), outputs match reference: {res.reference['outputs_match_reference']}")
        print(f"  wall: compress {t1 - t0:.2f} s + compile {t2 - t1:.2f} s = {t2 - t0:.2f} s (goal <= 10 s); "
              f"simulate {t3 - t2:.2f} s (goal <= 5 s); peak RSS {peak_rss_mb():.0f} MB (goal <= 2048)")


if __name__ == "__main__":
    main()
