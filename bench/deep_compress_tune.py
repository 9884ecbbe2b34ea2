"""How the hyper-parameters of `eie deep-compress` were chosen: on the validation split only.

    .venv/bin/python bench/deep_compress_tune.py [--seeds 100,101,102,103,104] [--out reports/deep-compression]

A coordinate search in two rounds.  Each round sweeps one field at a time around the current
base (every other field at its base value), each setting run with the tuning seeds (100..104,
never the seeds the report uses) and scored on the validation split (500 images; the test
split is never scored here).  Two rules, fixed before the search:

1. the dense settings (``lr``, ``weight_decay``, ``dense_epochs``) maximise the mean
   validation accuracy of the *dense* network, so the baseline is as good as this budget
   makes it, not weakened to make the loss look small;
2. the compression settings (pruning rounds and epochs, retraining and fine-tuning rates)
   maximise the mean validation accuracy of the compressed network on the fixed point.

A setting replaces the base value only if its mean is strictly higher; the winners of a
round are combined into the next round's base.  Round 1 starts from ``BASE0`` (set after a
first look at the validation scores of a few settings); the base after round 2 is the default of
``eie.train.TrainConfig`` (the script says whether it still is).

Writes ``validation.md`` and ``validation.json`` into ``--out`` (with ``--out``).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from eie.train.data import load_dataset  # noqa: E402
from eie.train.example import TrainConfig, run_deep_compression  # noqa: E402

#: the starting point, set after a first look at the validation scores of a few settings
BASE0 = {"lr": 1e-3, "weight_decay": 5e-4, "dense_epochs": 20, "retrain_lr": 5e-4, "prune_steps": 4,
         "retrain_epochs": 4, "finetune_lr": 1e-4, "finetune_epochs": 4}

#: (group, field, values)
SWEEPS = [
    ("dense", "lr", [5e-4, 1e-3, 2e-3, 4e-3]),
    ("dense", "weight_decay", [0.0, 1e-4, 5e-4, 1e-3, 2e-3]),
    ("dense", "dense_epochs", [10, 20, 40]),
    ("compression", "retrain_lr", [2.5e-4, 5e-4, 1e-3, 2e-3]),
    ("compression", "prune_steps/retrain_epochs", [(2, 8), (4, 4), (8, 2), (4, 8), (4, 12)]),
    ("compression", "finetune_lr", [3e-5, 1e-4, 3e-4]),
    ("compression", "finetune_epochs", [2, 4, 8]),
]
STAGES = ("dense", "pruned", "shared", "finetuned", "fixed_point")


def settings(field, value):
    if field == "prune_steps/retrain_epochs":
        return {"prune_steps": value[0], "retrain_epochs": value[1]}
    return {field: value}


def value_of(cfg, field):
    if field == "prune_steps/retrain_epochs":
        return (cfg.prune_steps, cfg.retrain_epochs)
    return getattr(cfg, field)


class Scorer:
    """Mean validation accuracies of a configuration over the seeds (each configuration once)."""

    def __init__(self, data, seeds):
        self.data, self.seeds, self.cache = data, seeds, {}

    def __call__(self, cfg):
        key = json.dumps(cfg.to_dict(), sort_keys=True)
        if key not in self.cache:
            runs = [run_deep_compression(self.data, cfg, seed) for seed in self.seeds]
            score = {k: float(np.mean([getattr(r.val, k) for r in runs])) for k in STAGES}
            score["fixed_point_sd"] = float(np.std([r.val.fixed_point for r in runs], ddof=1))
            score["rate"] = float(np.mean([r.total["compression_rate_huffman"] for r in runs]))
            score["seconds"] = float(np.mean([r.times.total for r in runs]))
            self.cache[key] = score
        return self.cache[key]


def search_round(score, base, number):
    """One round: every sweep around ``base``; returns (rows, the combined winners)."""
    rows, winners = [], {}
    for group, field, values in SWEEPS:
        metric = "dense" if group == "dense" else "fixed_point"
        best_value, best = value_of(base, field), score(base)[metric]
        for value in values:
            cfg = base.replace(**settings(field, value))
            sc = score(cfg)
            is_base = value == value_of(base, field)
            rows.append({"round": number, "group": group, "field": field, "value": value, "base": is_base, **sc})
            print(f"round {number} {group:11} {field:26} {str(value):10} " + "  ".join(
                f"{k} {sc[k]:.4f}" for k in STAGES) + f"  {sc['rate']:.1f}x  {sc['seconds']:.0f} s"
                + ("  (base)" if is_base else ""), flush=True)
            if sc[metric] > best:
                best_value, best = value, sc[metric]
        winners.update(settings(field, best_value))
    return rows, base.replace(**winners)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="100,101,102,103,104")
    ap.add_argument("--out", help="directory for validation.md / validation.json")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    score = Scorer(load_dataset("mnist-5k"), seeds)
    t_start = time.perf_counter()
    base = TrainConfig().replace(**BASE0)
    bases, rows = [base], []
    for number in (1, 2):
        r, base = search_round(score, base, number)
        rows += r
        bases.append(base)
        print(f"after round {number}: " + ", ".join(f"{k} = {getattr(base, k)}" for k in BASE0), flush=True)
    final = score(base)
    wall = time.perf_counter() - t_start
    is_default = base == TrainConfig()
    print(f"final: {final}; {'equals' if is_default else 'DIFFERS FROM'} TrainConfig(); {wall:.0f} s", file=sys.stderr)
    if args.out:
        write(Path(args.out), seeds, bases, rows, final, is_default, wall)


def write(out, seeds, bases, rows, final, is_default, wall):
    out.mkdir(exist_ok=True)
    fmt = ", ".join
    lines = [
        "# Choosing the hyper-parameters of `eie deep-compress` (validation split only)", "",
        f"Written by `bench/deep_compress_tune.py`: LeNet-300-100 on mnist-5k, {len(seeds)} tuning seeds "
        f"({fmt(map(str, seeds))}; the report uses 0..4), mean top-1 accuracy (%) on the 500 validation images "
        f"(one image = 0.2 points; the seed-to-seed sd of one configuration is about 0.3-0.5 points, so "
        f"differences below ~0.3 points are noise). A coordinate search in two rounds; in each, one field "
        f"changes at a time around the round's base. Rule for the dense group: the best *dense* accuracy; "
        f"for the compression group: the best compressed accuracy on the fixed point; a value must beat the "
        f"base strictly. The winners of a round make the next base. Wall time {wall:.0f} s.", "",
        "Bases: " + "; ".join(f"round {i + 1}: " + fmt(f"`{k}` {getattr(b, k):g}" for k in BASE0)
                              for i, b in enumerate(bases[:-1]))
        + "; after round 2 (the defaults): " + fmt(f"`{k}` {getattr(bases[-1], k):g}" for k in BASE0)
        + f" ({'equal to' if is_default else 'NOT equal to'} `TrainConfig()`).", "",
        f"With the defaults: dense {100 * final['dense']:.2f}, pruned {100 * final['pruned']:.2f}, "
        f"fine-tuned {100 * final['finetuned']:.2f}, fixed point {100 * final['fixed_point']:.2f} "
        f"(sd {100 * final['fixed_point_sd']:.2f}), {final['rate']:.1f}x.", "",
        "| round | group | setting | value | dense | pruned | shared | fine-tuned | fixed point | rate (P+Q+H) | s/run |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        value = f"**{r['value']}** (base)" if r["base"] else str(r["value"])
        lines.append(f"| {r['round']} | {r['group']} | `{r['field']}` | {value} | {100 * r['dense']:.2f} | "
                     f"{100 * r['pruned']:.2f} | {100 * r['shared']:.2f} | {100 * r['finetuned']:.2f} | "
                     f"{100 * r['fixed_point']:.2f} | {r['rate']:.1f}x | {r['seconds']:.0f} |")
    (out / "validation.md").write_text("\n".join(lines) + "\n")
    (out / "validation.json").write_text(json.dumps(
        {"seeds": seeds, "bases": [b.to_dict() for b in bases], "final": final, "rows": rows}, indent=1,
        default=list) + "\n")
    print(f"wrote {out / 'validation.md'}")


if __name__ == "__main__":
    main()
