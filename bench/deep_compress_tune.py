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
round are combined, and the combination becomes the next base only if it raises the
compressed accuracy without lowering the dense one (winners of noise-level differences
need not add up).  Round 1 starts from ``BASE0`` (set after a first look at the validation
scores of a few settings); the base after round 2 is the default of
``eie.train.TrainConfig`` (the script says whether it still is).

Writes ``validation.md`` and ``validation.json`` into ``--out`` (with ``--out``).  A run is
deterministic (seeded, one BLAS thread), so ``--reuse FILE`` takes the scores of an earlier
``validation.json`` instead of recomputing them.
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

    def __init__(self, data, seeds, reuse=None):
        self.data, self.seeds, self.cache = data, seeds, {}
        self.reused_wall = 0.0
        if reuse:
            old = json.loads(Path(reuse).read_text())
            if old["seeds"] != seeds:
                raise SystemExit(f"--reuse {reuse}: its seeds {old['seeds']} are not {seeds}")
            self.reused_wall = float(old.get("wall_s", 0.0))
            for item in old["scores"]:
                self.cache[json.dumps(TrainConfig().replace(**item["config"]).to_dict(), sort_keys=True)] = item["score"]

    def scores(self):
        return [{"config": json.loads(k), "score": v} for k, v in self.cache.items()]

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
    ap.add_argument("--reuse", metavar="FILE", help="the scores of an earlier validation.json (same seeds)")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    score = Scorer(load_dataset("mnist-5k"), seeds, args.reuse)
    t_start = time.perf_counter()
    base = TrainConfig().replace(**BASE0)
    rounds, rows = [], []
    for number in (1, 2):
        r, combined = search_round(score, base, number)
        rows += r
        old, new = score(base), score(combined)
        accepted = new["fixed_point"] > old["fixed_point"] and new["dense"] >= old["dense"]
        rounds.append({"round": number, "base": base, "combined": combined, "base_score": old,
                       "combined_score": new, "accepted": accepted})
        print(f"after round {number}: combined winners " + ", ".join(f"{k} = {getattr(combined, k)}" for k in BASE0)
              + f": dense {new['dense']:.4f}, fixed point {new['fixed_point']:.4f} against the base's "
              f"{old['dense']:.4f}, {old['fixed_point']:.4f}: {'accepted' if accepted else 'kept the base'}",
              flush=True)
        if accepted:
            base = combined
    final = score(base)
    wall = time.perf_counter() - t_start + score.reused_wall
    is_default = base == TrainConfig()
    print(f"final: {final}; {'equals' if is_default else 'DIFFERS FROM'} TrainConfig(); {wall:.0f} s", file=sys.stderr)
    if args.out:
        write(Path(args.out), seeds, rounds, base, rows, final, is_default, wall, score.scores())


def write(out, seeds, rounds, chosen, rows, final, is_default, wall, scores):
    out.mkdir(exist_ok=True)
    fmt = ", ".join

    def cfg_text(cfg):
        return fmt(f"`{k}` {getattr(cfg, k):g}" for k in BASE0)

    lines = [
        "# Choosing the hyper-parameters of `eie deep-compress` (validation split only)", "",
        f"Written by `bench/deep_compress_tune.py`: LeNet-300-100 on mnist-5k, {len(seeds)} tuning seeds "
        f"({fmt(map(str, seeds))}; the report uses 0..4), mean top-1 accuracy (%) on the 500 validation images "
        f"(one image = 0.2 points; the seed-to-seed sd of one configuration is about 0.3-0.5 points, so "
        f"differences below ~0.3 points are noise). A coordinate search in two rounds; in each, one field "
        f"changes at a time around the round's base. Rule for the dense group: the best *dense* accuracy; "
        f"for the compression group: the best compressed accuracy on the fixed point; a value must beat the "
        f"base strictly. The winners of a round are combined, and the combination becomes the next base only "
        f"if it raises the compressed accuracy without lowering the dense one. Compute time {wall:.0f} s "
        f"on a shared 2-core machine, one BLAS thread.", "",
    ]
    for r in rounds:
        b, c = r["base_score"], r["combined_score"]
        lines.append(f"- Round {r['round']}: base {cfg_text(r['base'])} (dense {100 * b['dense']:.2f}, fixed point "
                     f"{100 * b['fixed_point']:.2f}); combined winners {cfg_text(r['combined'])} (dense "
                     f"{100 * c['dense']:.2f}, fixed point {100 * c['fixed_point']:.2f}): "
                     f"{'accepted' if r['accepted'] else 'rejected, the base stays'}.")
    lines += ["", f"Chosen (the defaults, {'equal to' if is_default else 'NOT equal to'} `TrainConfig()`): "
              f"{cfg_text(chosen)}: dense {100 * final['dense']:.2f}, pruned {100 * final['pruned']:.2f}, "
              f"fine-tuned {100 * final['finetuned']:.2f}, fixed point {100 * final['fixed_point']:.2f} "
              f"(sd {100 * final['fixed_point_sd']:.2f}), {final['rate']:.1f}x, {final['seconds']:.0f} s per run "
              f"(under the load of the time).", "",
              "| round | group | setting | value | dense | pruned | shared | fine-tuned | fixed point | "
              "rate (P+Q+H) | s/run |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        value = f"**{r['value']}** (base)" if r["base"] else str(r["value"])
        lines.append(f"| {r['round']} | {r['group']} | `{r['field']}` | {value} | {100 * r['dense']:.2f} | "
                     f"{100 * r['pruned']:.2f} | {100 * r['shared']:.2f} | {100 * r['finetuned']:.2f} | "
                     f"{100 * r['fixed_point']:.2f} | {r['rate']:.1f}x | {r['seconds']:.0f} |")
    (out / "validation.md").write_text("\n".join(lines) + "\n")
    doc = {"seeds": seeds, "wall_s": wall, "base0": BASE0, "chosen": chosen.to_dict(), "final": final,
           "rounds": [{**r, "base": r["base"].to_dict(), "combined": r["combined"].to_dict()} for r in rounds],
           "rows": rows, "scores": scores}
    (out / "validation.json").write_text(json.dumps(doc, indent=1, default=list) + "\n")
    print(f"wrote {out / 'validation.md'}")


if __name__ == "__main__":
    main()
