"""The report of `eie deep-compress`: a JSON document, its Markdown, and the network directory.

:func:`summarize` turns the seeded runs into one JSON-ready document (per-seed records and
mean / standard deviation / range over the seeds); :func:`markdown` renders it;
:func:`report_files` lists every file of the output directory (the report, and the network
of the first seed as an :mod:`eie.network` directory) for :class:`eie.fileio.OutputPlan`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np

from ..network import Network, NetworkLayer, network_toml
from .example import DeepCompressionRun

__all__ = ["PAPER_LENET_300_100", "summary_stats", "summarize", "markdown", "network_files", "report_files"]

#: Deep Compression (ICLR 2016) Table 2, LeNet-300-100 on the full MNIST (60,000 training
#: images): per layer weights and % kept (P), and the totals (docs/training.md quotes it)
PAPER_LENET_300_100 = {
    "layers": [("ip1", "235K", "8%"), ("ip2", "30K", "9%"), ("ip3", "1K", "26%")],
    "ip1_bits": "6-bit weights (4.4 after Huffman), 5-bit index (3.7)",
    "total": "266K weights, 8 % kept (12x), 32x after quantisation, 40x after Huffman",
    "error": "1.64 % dense -> 1.58 % compressed (1,070 KB -> 27 KB)",
}

STAGES = ("dense", "pruned", "shared", "finetuned", "fixed_point")
STAGE_TITLES = {"dense": "dense", "pruned": "pruned", "shared": "pruned + shared",
                "finetuned": "pruned + shared, fine-tuned", "fixed_point": "fixed point (array)"}


def summary_stats(values) -> dict:
    v = np.asarray(list(values), dtype=np.float64)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "n": int(v.size)}


def summarize(runs: Sequence[DeepCompressionRun], command: str = "", threads: int | None = None) -> dict:
    """The JSON document of the runs (all share one dataset and configuration); ``threads``:
    the BLAS threads they ran with (None: not limited), for the timing table."""
    first = runs[0]
    n_train, n_val, n_test = first.images
    acc = {s: summary_stats(getattr(r.test, s) for r in runs) for s in STAGES}
    val = {s: summary_stats(getattr(r.val, s) for r in runs) for s in STAGES}
    loss = {s: summary_stats(r.test.dense - getattr(r.test, s) for r in runs) for s in STAGES[1:]}
    p = acc["dense"]["mean"]
    return {
        "command": command,
        "example": "lenet-300-100" if first.sizes[1:-1] == [300, 100] else f"mlp-{'-'.join(map(str, first.sizes))}",
        "dataset": first.dataset, "split": first.split, "train_images": n_train, "val_images": n_val,
        "test_images": n_test, "blas_threads": threads,
        "sizes": first.sizes, "seeds": [r.seed for r in runs],
        "train_config": first.config.to_dict(), "eie_config": first.eie_config.to_dict(),
        "test_accuracy": acc, "val_accuracy": val,
        "test_loss_vs_dense": loss,
        "compression_rate": summary_stats(r.total["compression_rate"] for r in runs),
        "compression_rate_huffman": summary_stats(r.total["compression_rate_huffman"] for r in runs),
        "compression_rate_huffman_with_bias": summary_stats(r.total["compression_rate_huffman_with_bias"] for r in runs),
        "binomial_se_points": 100 * math.sqrt(p * (1 - p) / n_test) if n_test else None,
        "times_s": {k: summary_stats(r.times.to_dict()[k] for r in runs) for k in first.times.to_dict()},
        "runs": [r.to_dict() for r in runs],
        "paper": PAPER_LENET_300_100,
    }


def _n(k: int, word: str) -> str:
    return f"{k} {word}" + ("" if k == 1 else "s")


def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


def _pm(s: dict, scale: float = 100.0, digits: int = 2) -> str:
    return f"{scale * s['mean']:.{digits}f} ± {scale * s['sd']:.{digits}f}"


def markdown(doc: dict) -> str:
    """The Markdown report of a :func:`summarize` document."""
    sections = (_head, _accuracy, _compression, _fixed_point, _time, _precision, _files)
    return "\n".join(line for section in sections for line in section(doc))


def _head(doc: dict) -> list[str]:
    seeds, tc, ec = doc["seeds"], doc["train_config"], doc["eie_config"]
    out = [f"# Deep Compression of {doc['example']} on real data ({doc['dataset']})", ""]
    if doc["command"]:
        out += [f"Made by `{doc['command']}`.", ""]
    out += [
        f"**Data.** {doc['split']}. Pixels scaled to [0, 1]. Hyper-parameters were chosen on the validation "
        f"images only (`validation.md`); the test images are scored once per run.", "",
        f"**Pipeline** (`eie.train`), network {' -> '.join(map(str, doc['sizes']))} (ReLU between layers): "
        f"dense training ({_n(tc['dense_epochs'], 'epoch')}, {tc['optimizer']}, lr {tc['lr']:g}, L2 {tc['weight_decay']:g}, "
        f"batch {tc['batch']}); iterative magnitude pruning in {tc['prune_steps']} rounds to "
        f"{', '.join(f'{100 * d:g} %' for d in tc['densities'])} of the weights, each round retrained "
        f"{_n(tc['retrain_epochs'], 'epoch')} with the gradient of pruned weights masked (lr {tc['retrain_lr']:g}); "
        f"k-means weight sharing per layer ({ec['weight_bits']}-bit codes: {2 ** ec['weight_bits'] - 1} centroids, "
        f"linear initialisation, code 0 = 0.0); centroid fine-tuning ({_n(tc['finetune_epochs'], 'epoch')}, "
        f"lr {tc['finetune_lr']:g}, gradients summed per cluster, codes fixed); biases stay float32. "
        f"{'Each stage ends with its learning rate decayed to 0 along a half cosine. ' if tc['lr_decay'] else ''}"
        f"Seeds {', '.join(map(str, seeds))} (initialisation and minibatch order; the split is the same for all).",
        ""]
    return out


def _accuracy(doc: dict) -> list[str]:
    runs, n = doc["runs"], doc["test_images"]
    acc, loss = doc["test_accuracy"], doc["test_loss_vs_dense"]
    out = [
        f"## Accuracy on the {n:,} test images (%)", "",
        "| seed | dense | pruned | pruned + shared | pruned + shared, fine-tuned | fixed point (array) | "
        "loss vs dense (points) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        t = r["test"]
        out.append(f"| {r['seed']} | {_pct(t['dense'])} | {_pct(t['pruned'])} | {_pct(t['shared'])} | "
                   f"{_pct(t['finetuned'])} | {_pct(t['fixed_point'])} | {100 * (t['dense'] - t['fixed_point']):+.2f} |")
    if len(runs) > 1:
        out.append("| **mean ± sd** | " + " | ".join(f"**{_pm(acc[s])}**" for s in STAGES)
                   + f" | **{_pm(loss['fixed_point'])}** |")
        out.append("| min .. max | " + " | ".join(f"{_pct(acc[s]['min'])} .. {_pct(acc[s]['max'])}" for s in STAGES)
                   + f" | {100 * loss['fixed_point']['min']:+.2f} .. {100 * loss['fixed_point']['max']:+.2f} |")
    fp = loss["fixed_point"]
    out += ["", f"Loss of the compressed network on the array's fixed point against the dense network of the same "
                f"seed: {100 * fp['mean']:+.2f} points on average"
                + (f" (sd {100 * fp['sd']:.2f}, range {100 * fp['min']:+.2f} .. {100 * fp['max']:+.2f}) over "
                   f"{len(runs)} seeds" if len(runs) > 1 else "")
                + f"; goal: at most +0.50 points at 30x or more. Float vs fixed point: "
                  f"{_pm(acc['finetuned'])} vs {_pm(acc['fixed_point'])} %.", ""]
    if "val_accuracy" in doc:
        va = doc["val_accuracy"]
        out += [f"Validation images ({doc['val_images']:,}; what the hyper-parameters were chosen on), mean over the "
                f"seeds: "
                + ", ".join(f"{STAGE_TITLES[s]} {100 * va[s]['mean']:.2f} %" for s in STAGES) + ".", ""]
    return out


def _compression(doc: dict) -> list[str]:
    runs, ec = doc["runs"], doc["eie_config"]
    r0 = runs[0]
    out = [f"## Compression (Deep Compression Table 2 layout; seed {r0['seed']})", "",
            "| Layer | #Weights | Weights% (P) | Weight bits (P+Q) | Weight bits (P+Q+H) | Index bits (P+Q) | "
            "Index bits (P+Q+H) | Compress rate (P+Q) | Compress rate (P+Q+H) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for s in r0["storage"]:
        out.append(f"| {s['name']} | {s['weights']:,} | {100 * s['density']:.1f}% | {s['weight_bits']} | "
                   f"{s['weight_bits_huffman']:.2f} | {s['index_bits']} | {s['index_bits_huffman']:.2f} | "
                   f"{100 / s['compression_rate']:.2f}% ({s['compression_rate']:.1f}x) | "
                   f"{100 / s['compression_rate_huffman']:.2f}% ({s['compression_rate_huffman']:.1f}x) |")
    t = r0["total"]
    out.append(f"| **Total** | {t['weights']:,} | {100 * t['density']:.1f}% ({t['pruning_rate']:.1f}x) | "
               f"{t['weight_bits']:g} | {t['weight_bits_huffman']:.2f} | {t['index_bits']:g} | "
               f"{t['index_bits_huffman']:.2f} | {100 / t['compression_rate']:.2f}% ({t['compression_rate']:.1f}x) | "
               f"**{100 / t['compression_rate_huffman']:.2f}% ({t['compression_rate_huffman']:.1f}x)** |")
    paper = doc["paper"]
    cr, crh, crb = doc["compression_rate"], doc["compression_rate_huffman"], doc["compression_rate_huffman_with_bias"]
    out += ["",
            f"Bytes: dense {t['dense_bytes']:,} B (float32 weights), compressed {t['compressed_bytes']:,} B (P+Q), "
            f"{t['compressed_bytes_huffman']:,} B (P+Q+H), each layer's 16-entry float32 codebook included; "
            f"{t['entries'] - t['fillers']:,} non-zeros + {t['fillers']:,} filler entries (a gap of more than "
            f"{2 ** ec['index_bits'] - 1} zeros in the flattened matrix costs a filler with "
            f"{ec['index_bits']}-bit relative indices). "
            f"Table 2 counts weights only; with the {t['bias_bits'] // 32} float32 biases counted on both sides the "
            f"rate (P+Q+H) is {t['compression_rate_huffman_with_bias']:.1f}x.", ""]
    if len(runs) > 1:
        out += [f"Over the {len(runs)} seeds: {_pm(cr, 1, 1)}x (P+Q), **{_pm(crh, 1, 1)}x (P+Q+H)** "
                f"(range {crh['min']:.1f}x .. {crh['max']:.1f}x), {_pm(crb, 1, 1)}x with the biases.", ""]
    out += ["Deep Compression's Table 2 (LeNet-300-100, full MNIST): "
            + "; ".join(f"{a} {b} weights, {c} kept" for a, b, c in paper["layers"])
            + f"; ip1 {paper['ip1_bits']}; total {paper['total']}; error {paper['error']}. "
            f"Differences here: {ec['weight_bits']}-bit codes and {ec['index_bits']}-bit indices, the widths of "
            f"the EIE array (the paper's LeNet used 6-bit weights and 5-bit indices), so the quantisation step "
            f"gives more and the filler entries cost more.", ""]
    return out


def _fixed_point(doc: dict) -> list[str]:
    ec, r0 = doc["eie_config"], doc["runs"][0]
    a = r0["accelerator"]
    out = ["## On the array's fixed point", "",
            f"Each test image runs through the compressed network in {ec['act_bits']}-bit activations, "
            f"{ec['codebook_bits']}-bit codebook values and {ec['acc_bits']}-bit accumulators, bit-exactly as "
            f"`eie.model` computes it (`eie.train.accelerator.accelerator_outputs`, tested equal to "
            f"`eie.model.simulate_stack` image by image); the float bias preloads the accumulators [arch §2]. "
            f"The fraction bits are chosen once per layer from the training images and then fixed "
            f"(seed {r0['seed']}):", "",
            "| layer | fa | fw | fo | shift | non-zero inputs (test) | saturated outputs (test) |",
            "|---|---|---|---|---|---|---|"]
    for s, plan, dens, sat in zip(r0["storage"], a["plans"], a["input_density"], a["saturated_outputs"], strict=True):
        out.append(f"| {s['name']} | {plan['fa']} | {plan['fw']} | {plan['fo']} | {plan['shift']} | "
                   f"{100 * dens:.1f} % | {sat:,} |")
    out += ["", f"Inputs saturated by the quantisation: {a['saturated_inputs']}. The non-zero inputs are what "
                f"the array broadcasts (it skips zeros): MNIST's pixels are sparse, the hidden layers' ReLU "
                f"outputs much less so.", ""]
    return out


def _time(doc: dict) -> list[str]:
    runs, ts = doc["runs"], doc["times_s"]
    threads = doc.get("blas_threads")
    limit = "BLAS threads not limited" if threads is None else _n(threads, "BLAS thread")
    out = [f"## Time per seed (s, this machine, {limit})", "",
            "| stage | " + " | ".join(str(r["seed"]) for r in runs) + " | mean |",
            "|---|" + "---|" * (len(runs) + 1)]
    for k in ts:
        out.append(f"| {k.replace('_', ' ')} | " + " | ".join(f"{r['times_s'][k]:.1f}" for r in runs)
                   + f" | {ts[k]['mean']:.1f} |")
    return out + [""]


def _precision(doc: dict) -> list[str]:
    """What the size of the data set means for the numbers."""
    runs, n, acc = doc["runs"], doc["test_images"], doc["test_accuracy"]
    fp, t = doc["test_loss_vs_dense"]["fixed_point"], runs[0]["total"]
    se = doc["binomial_se_points"]
    pair = [(r["paired_test"]["dense_right_compressed_wrong"], r["paired_test"]["dense_wrong_compressed_right"])
            for r in runs]
    out = ["## What 5,000 images mean for these numbers" if doc["dataset"] == "mnist-5k"
            else "## How precise these numbers are", "",
            f"- One test image is {100 / n:.2f} points. At {100 * acc['dense']['mean']:.1f} % the binomial standard "
            f"error of one accuracy on {n:,} images is {se:.2f} points ({se / 0.5:.1f} times the 0.5-point goal), "
            f"so a different split would move every column by about that much.",
            "- The loss is paired (the same images, the same seed), so only the images on which the two networks "
            "disagree count: dense right and compressed wrong / the reverse, per seed: "
            + ", ".join(f"{a_}/{b_}" for a_, b_ in pair) + ".",
            f"- Pooled over the seeds, {sum(a_ for a_, _ in pair)} image-runs went dense-only and "
            f"{sum(b_ for _, b_ in pair)} compressed-only out of {n * len(runs):,}: a loss of "
            f"{100 * (sum(a_ for a_, _ in pair) - sum(b_ for _, b_ in pair)) / (n * len(runs)):+.2f} points with a "
            f"paired standard error of about {100 * math.sqrt(sum(a_ + b_ for a_, b_ in pair)) / (n * len(runs)):.2f} "
            f"points (sqrt(disagreements) / image-runs; the same images recur in every seed, so this understates "
            f"what another split would show).",
            "- The seed spread (sd over seeds) measures initialisation and minibatch order only, not the "
            "sampling of the images; the two add up.",
            ]
    if doc["dataset"] == "mnist-5k":
        nt = doc["train_images"]
        out += [f"- The dense baseline is far below LeNet-300-100 on the full MNIST (1.64 % error in Deep "
                f"Compression): {nt:,} training images are {100 * nt / 60000:.{0 if nt >= 600 else 2}f} % of the 60,000, and the "
                f"network's {t['weights']:,} weights are {t['weights'] / nt:.0f} per training image"
                + ("; pruning and sharing regularise a network this large for this little data, which is how the "
                   "compressed network can score above its dense parent here" if fp["mean"] < 0 else "")
                + ". The numbers say little about the full data set, where the published result is the reference "
                "(1.58 % error at 40x).",
                "- With `--dataset fashion-mnist` (Debian's dataset-fashion-mnist, 55,000 / 5,000 / 10,000 "
                "images) the same pipeline has sixteen times the training data and ten times the test images."]
    return out + [""]


def _files(doc: dict) -> list[str]:
    return ["## Files", "",
            f"- `network/`: the compressed network of seed {doc['runs'][0]['seed']} as an eie network directory "
            f"(`network.toml`; per layer `codebook` float32 (entry 0 = 0.0), `codes` uint8, `bias` float32).",
            "- `report.json`: every number above, per seed.",
            "- `validation.md` / `validation.json` (when present): the hyper-parameter sweep on the validation "
            "images (`bench/deep_compress_tune.py`).", ""]


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def network_files(run: DeepCompressionRun, source: str = "") -> dict[str, object]:
    """The files of an :mod:`eie.network` directory holding ``run``'s compressed network:
    ``network.toml`` and one ``.npz`` per layer (``codebook``, ``codes``, ``bias``)."""
    layers = run.net.layers
    entries = []
    files: dict[str, object] = {}
    for i, layer in enumerate(layers):
        function = "relu" if i < len(layers) - 1 else "softmax"
        entries.append(NetworkLayer(layer.name, f"{layer.name}.npz", "fc", tuple(layer.codes.shape), function))
        files[f"{layer.name}.npz"] = _npz_bytes(layer.arrays())
    net = Network(f"lenet-300-100-seed{run.seed}" if run.sizes[1:-1] == [300, 100] else f"mlp-seed{run.seed}",
                  tuple(entries), source=source or None)
    files["network.toml"] = network_toml(net)
    return files


def report_files(runs: Sequence[DeepCompressionRun], doc: dict, source: str = "") -> dict[str, object]:
    """Every file of the output directory but the manifest: ``report.md``, ``report.json``
    and ``network/`` (the first run's network)."""
    files: dict[str, object] = {"report.md": markdown(doc), "report.json": doc}
    files.update({f"network/{k}": v for k, v in network_files(runs[0], source).items()})
    return files
