"""Time per stage of the LeNet-300-100 Deep Compression pipeline (printed, not asserted).

    .venv/bin/python bench/deep_compress.py [--seeds 3] [--threads 1] [--dataset mnist-5k]

Each seed runs the whole pipeline of `eie deep-compress` (eie.train.run_deep_compression,
default hyper-parameters): dense training, iterative pruning with masked retraining,
k-means sharing, centroid fine-tuning, Huffman storage accounting, and the fixed-point run
of the test (and validation) images.  BLAS is limited to ``--threads`` threads (default 1:
the machine is shared).  The budget is 60 s per seed on MNIST-5k; the load average is
printed because other jobs on the machine change the figures.
"""

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from eie.train import blas_threads, load_dataset, run_deep_compression  # noqa: E402

STAGES = ("dense", "prune", "share", "finetune", "storage", "fixed_point", "total")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dataset", default="mnist-5k")
    args = ap.parse_args()
    t = time.perf_counter()
    data = load_dataset(args.dataset)
    t_load = time.perf_counter() - t
    print(f"load {args.dataset}: {t_load:.2f} s ({len(data.y_train):,} / {len(data.y_val):,} / "
          f"{len(data.y_test):,} images); load average before: {os.getloadavg()[0]:.2f}")
    print(f"{'seed':>4}  " + "  ".join(f"{s:>11}" for s in STAGES) + "  test acc (fixed point)")
    totals = []
    with blas_threads(args.threads) as limited:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            run = run_deep_compression(data, seed=seed)
            times = run.times.to_dict()
            totals.append(times["total"])
            print(f"{seed:>4}  " + "  ".join(f"{times[s]:>10.2f}s" for s in STAGES)
                  + f"  {100 * run.test.fixed_point:.2f} %", flush=True)
    print(f"mean {sum(totals) / len(totals):.1f} s per seed, max {max(totals):.1f} s (budget 60 s); BLAS threads "
          f"{args.threads if limited else 'not limited (threadpoolctl missing)'}; load average after: "
          f"{os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
