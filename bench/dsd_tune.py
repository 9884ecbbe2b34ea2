"""How the DSD hyper-parameters of `eie dsd` were chosen: on the validation split only.

    .venv/bin/python bench/dsd_tune.py [--seeds 100,101,102,103,104] [--out reports/dsd]

A full grid over the DSD fields (``SPARSITY`` x ``EPOCHS`` per step, sparse and re-dense
alike x ``LR_DROP`` x ``SPARSE_LR``), every setting run with the tuning seeds (100..104,
never the seeds the report uses) and scored on the validation split (500 images; the test
split is never scored here).  The dense step's hyper-parameters are
``eie.train.TrainConfig()``'s, chosen on the validation split for the dense network by
bench/deep_compress_tune.py and not touched here, so the baselines are as good as that
search made them.  The dense step does not depend on the DSD fields: it is trained once
per seed (exactly as ``run_dsd`` trains it) and copied.

Rule, fixed before the search: the setting with the highest mean validation accuracy of
the DSD network wins; a later setting in grid order (fewer epochs and a higher sparsity
first) must beat the best so far strictly.  The baselines' validation accuracy (the dense
network trained for the same total number of epochs) is printed beside each setting for
reading only; it chooses nothing.

Writes ``validation.md`` and ``validation.json`` into ``--out`` (with ``--out``).
"""

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from eie.fileio import dumps_json, write_text  # noqa: E402
from eie.train.data import load_dataset  # noqa: E402
from eie.train.dsd import DSDConfig, dense_step, redense_step, sparse_step  # noqa: E402
from eie.train.dsd_example import sizes_of  # noqa: E402
from eie.train.example import TrainConfig  # noqa: E402
from eie.train.mlp import MLP  # noqa: E402
from eie.train.threads import blas_threads  # noqa: E402

SPARSITY = [0.7, 0.5, 0.3]
EPOCHS = [10, 20]
LR_DROP = [0.1, 0.3]
SPARSE_LR = [None, 1e-3]          # None: the dense step's lr


def grid():
    for epochs, sparsity, drop, lr in itertools.product(EPOCHS, SPARSITY, LR_DROP, SPARSE_LR):
        yield DSDConfig(sparsity=sparsity, sparse_epochs=epochs, redense_epochs=epochs, lr_drop=drop, sparse_lr=lr)


def rngs(seed):
    """The children of run_dsd's SeedSequence: 0 init, 1 dense, 4 sparse, 5 re-dense, 6 baseline."""
    children = np.random.SeedSequence(seed).spawn(8)
    return lambda i: np.random.default_rng(children[i])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="100,101,102,103,104")
    ap.add_argument("--dataset", default="mnist-5k")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    data = load_dataset(args.dataset)
    train = TrainConfig()
    x, y, val = data.x_train, data.y_train, (data.x_val, data.y_val)
    configs = list(grid())
    scores = {i: [] for i in range(len(configs))}       # per config: (sparse, dsd) val accuracy per seed
    baseline = {e: [] for e in EPOCHS}
    dense_val = []
    t0 = time.perf_counter()
    with blas_threads(1):
        for seed in seeds:
            rng = rngs(seed)
            init = MLP.init(sizes_of(data, train), rng(0))
            dense = init.copy()
            dense_step(dense, x, y, train=train, rng=rng(1))
            dense_val.append(dense.accuracy(*val))
            for e in EPOCHS:
                same = init.copy()
                dense_step(same, x, y, train=train, rng=rng(6), epochs=train.dense_epochs + 2 * e)
                baseline[e].append(same.accuracy(*val))
            for i, cfg in enumerate(configs):
                model = dense.copy()
                sparse_step(model, x, y, train=train, dsd=cfg, rng=rng(4))
                sparse = model.accuracy(*val)
                redense_step(model, x, y, train=train, dsd=cfg, rng=rng(5))
                scores[i].append((sparse, model.accuracy(*val)))
            print(f"seed {seed} done, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    wall = time.perf_counter() - t0
    rows = []
    best = None
    for i, cfg in enumerate(configs):
        s = np.array(scores[i])
        row = {**cfg.to_dict(), "sparse_val": float(s[:, 0].mean()), "dsd_val": float(s[:, 1].mean()),
               "dsd_val_sd": float(s[:, 1].std(ddof=1)) if len(seeds) > 1 else 0.0,
               "baseline_val": float(np.mean(baseline[cfg.sparse_epochs]))}
        rows.append(row)
        if best is None or row["dsd_val"] > rows[best]["dsd_val"]:
            best = i
    chosen = configs[best]
    default = DSDConfig()
    print(f"chosen: {chosen.to_dict()} (DSDConfig() is {'the same' if chosen == default else default.to_dict()})")
    if args.out:
        write(args.out, seeds, rows, best, chosen == default, wall, float(np.mean(dense_val)), data, train)


def write(out, seeds, rows, best, is_default, wall, dense_val, data, train):
    def lr(v):
        return f"{train.lr:g} (the dense lr)" if v is None else f"{v:g}"
    b = rows[best]
    lines = [
        "# Choosing the DSD hyper-parameters of `eie dsd` (validation split only)", "",
        f"Written by `bench/dsd_tune.py`: LeNet-300-100 on {data.name}, {len(seeds)} tuning seeds "
        f"({', '.join(map(str, seeds))}; the report uses 0..4), mean top-1 accuracy (%) on the "
        f"{len(data.y_val):,} validation images (one image = {100 / len(data.y_val):.1f} points). The test images "
        f"were never scored. The dense step is `TrainConfig()` (chosen for the dense network by "
        f"`bench/deep_compress_tune.py`, reports/deep-compression/validation.md), {train.dense_epochs} epochs: "
        f"{100 * dense_val:.2f} % on validation. A full grid of {len(rows)} settings; the rule: the highest mean "
        f"validation accuracy of the DSD network, a later setting must beat the best so far strictly. The last "
        f"column, the dense network trained for the same total number of epochs, is there to read, it chose "
        f"nothing. Compute time {wall:.0f} s on a shared 2-core machine, one BLAS thread.", "",
        f"Chosen: sparsity {b['sparsity']:g}, {b['sparse_epochs']} + {b['redense_epochs']} epochs, sparse lr "
        f"{lr(b['sparse_lr'])}, lr drop {b['lr_drop']:g}: DSD {100 * b['dsd_val']:.2f} % (sd "
        f"{100 * b['dsd_val_sd']:.2f}) against {100 * b['baseline_val']:.2f} % for the same-epochs dense baseline; "
        + ("these are the defaults of `eie.train.DSDConfig()`." if is_default
           else "**not** the defaults of `eie.train.DSDConfig()`: update them."), "",
        "| sparsity | epochs per step | sparse lr | lr drop | sparse | DSD | DSD sd | dense, same epochs |",
        "|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(rows):
        mark = "**" if i == best else ""
        lines.append(f"| {r['sparsity']:g} | {r['sparse_epochs']} | {lr(r['sparse_lr'])} | {r['lr_drop']:g} | "
                     f"{100 * r['sparse_val']:.2f} | {mark}{100 * r['dsd_val']:.2f}{mark} | "
                     f"{100 * r['dsd_val_sd']:.2f} | {100 * r['baseline_val']:.2f} |")
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "validation.md", "\n".join(lines) + "\n")
    write_text(out / "validation.json", dumps_json({"seeds": seeds, "dataset": data.name, "wall_s": wall,
                                                    "dense_val": dense_val, "train_config": train.to_dict(),
                                                    "rows": rows, "chosen": rows[best]}))


if __name__ == "__main__":
    main()
