"""How the hyper-parameters of `eie deep-compress` were chosen: on the validation split only.

    .venv/bin/python bench/deep_compress_tune.py [--seeds 100,101,102,103,104] [--out reports/deep-compression]

One-at-a-time sweeps around the base configuration, each setting run with the tuning seeds
(100..104, never the seeds the report uses) and scored on the validation split (500 images;
the test split is not loaded into any score here).  Two rules, fixed before the sweep:

1. the dense settings (``lr``, ``weight_decay``, ``dense_epochs``) maximise the mean
   validation accuracy of the *dense* network, so the baseline is as good as this budget
   makes it, not weakened to make the loss look small;
2. the compression settings (pruning rounds and epochs, retraining and fine-tuning rates)
   maximise the mean validation accuracy of the compressed network on the fixed point.

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

#: (group, field, values); the base value of each field is in TrainConfig's defaults
SWEEPS = [
    ("dense", "lr", [5e-4, 1e-3, 2e-3]),
    ("dense", "weight_decay", [0.0, 1e-4, 5e-4, 1e-3]),
    ("dense", "dense_epochs", [10, 20, 40]),
    ("compression", "retrain_lr", [2.5e-4, 5e-4, 1e-3]),
    ("compression", "prune_steps/retrain_epochs", [(2, 8), (4, 4), (8, 2), (4, 8)]),
    ("compression", "finetune_lr", [3e-5, 1e-4, 3e-4]),
    ("compression", "finetune_epochs", [2, 4, 8]),
]


def settings(field, value):
    if field == "prune_steps/retrain_epochs":
        return {"prune_steps": value[0], "retrain_epochs": value[1]}
    return {field: value}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="100,101,102,103,104")
    ap.add_argument("--out", help="directory for validation.md / validation.json")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    data = load_dataset("mnist-5k")
    base = TrainConfig()
    rows = []
    cache = {}
    t_start = time.perf_counter()
    for group, field, values in SWEEPS:
        for value in values:
            cfg = base.replace(**settings(field, value))
            key = json.dumps(cfg.to_dict(), sort_keys=True)
            if key not in cache:
                runs = [run_deep_compression(data, cfg, seed) for seed in seeds]
                cache[key] = {k: float(np.mean([getattr(r.val, k) for r in runs]))
                              for k in ("dense", "pruned", "shared", "finetuned", "fixed_point")}
                cache[key]["fixed_point_sd"] = float(np.std([r.val.fixed_point for r in runs]))
                cache[key]["dense_sd"] = float(np.std([r.val.dense for r in runs]))
                cache[key]["rate"] = float(np.mean([r.total["compression_rate_huffman"] for r in runs]))
            row = {"group": group, "field": field, "value": value, **cache[key],
                   "base": all(getattr(base, k) == v for k, v in settings(field, value).items())}
            rows.append(row)
            print(f"{group:11} {field:26} {str(value):10} dense {row['dense']:.4f}  pruned {row['pruned']:.4f}  "
                  f"shared {row['shared']:.4f}  finetuned {row['finetuned']:.4f}  fixed {row['fixed_point']:.4f}  "
                  f"{row['rate']:.1f}x{'  (base)' if row['base'] else ''}", flush=True)
    wall = time.perf_counter() - t_start
    print(f"{wall:.0f} s", file=sys.stderr)
    if args.out:
        out = Path(args.out)
        out.mkdir(exist_ok=True)
        lines = [
            "# Choosing the hyper-parameters of `eie deep-compress` (validation split only)", "",
            f"Written by `bench/deep_compress_tune.py`: LeNet-300-100 on mnist-5k, {len(seeds)} tuning seeds "
            f"({', '.join(map(str, seeds))}; the report uses 0..4), mean top-1 accuracy on the 500 validation "
            f"images (one image = 0.2 points). One setting changes at a time; every other field keeps its "
            f"default (`eie.train.example.TrainConfig`). Rule for the dense group: the best *dense* "
            f"accuracy; for the compression group: the best compressed accuracy on the fixed point. "
            f"Wall time {wall:.0f} s.", "",
            "| group | setting | value | dense | pruned | shared | fine-tuned | fixed point | rate (P+Q+H) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            mark = " (default)" if r["base"] else ""
            lines.append(f"| {r['group']} | `{r['field']}` | {r['value']}{mark} | {100 * r['dense']:.2f} | "
                         f"{100 * r['pruned']:.2f} | {100 * r['shared']:.2f} | {100 * r['finetuned']:.2f} | "
                         f"{100 * r['fixed_point']:.2f} | {r['rate']:.1f}x |")
        (out / "validation.md").write_text("\n".join(lines) + "\n")
        (out / "validation.json").write_text(json.dumps({"seeds": seeds, "base": base.to_dict(), "rows": rows},
                                                        indent=1, default=list) + "\n")
        print(f"wrote {out / 'validation.md'}")


if __name__ == "__main__":
    main()
