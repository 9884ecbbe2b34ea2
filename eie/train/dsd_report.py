"""The report of `eie dsd`: per-seed JSON, a summary document, Markdown and HTML, a figure.

:func:`summarize` turns the seeded :class:`~eie.train.dsd_example.DSDRun` s (or their
per-seed JSON records, so a committed report can be rebuilt and checked) into one
JSON-ready document (mean / standard deviation / range over the seeds, the paired gains,
the array figures); :func:`build_doc` renders it as an :class:`eie.report.doc.Doc` (the
Markdown and HTML renderer of the paper report, whose tables are written as
``data/<name>.json``); :func:`report_files` lists every file of the output directory for
:class:`eie.fileio.OutputPlan`.  The verdict sentence ("DSD helps / does not help") is
computed from the numbers by :func:`verdict`, never written by hand.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..report.doc import Column, Doc, Figure, Table
from .dsd_example import ARRAY_VARIANTS, VARIANTS
from .report import summary_stats

__all__ = ["TITLES", "ARRAY_TITLES", "PAPER_DSD", "variant_titles", "records", "summarize", "baseline_note",
           "rebuild_files", "verdict", "silent_warning", "build_doc", "report_files"]

TITLES = {"dense": "dense ({e} epoch{s})", "sparse": "sparse (S)", "dsd": "DSD",
          "dense_same_epochs": "dense, same epochs ({t})", "dense_continued": "dense continued (no pruning)",
          "dc": "Deep Compression", "dsd_dc": "DSD + Deep Compression"}
ARRAY_TITLES = {"dense_same_epochs": "dense baseline (all weights, 4-bit shared)",
                "dsd": "DSD (all weights, 4-bit shared)", "dc": "Deep Compression of the dense baseline",
                "dsd_dc": "DSD, then Deep Compression"}

#: DSD (Han et al., ICLR 2017), Table 1 and the abstract: top-1 gains on ImageNet
PAPER_DSD = ("the DSD paper reports top-1 gains of +1.1 to +4.3 points on ImageNet CNNs (GoogLeNet +1.1, VGG-16 "
             "+4.3, ResNet-18 +1.2, ResNet-50 +1.1), against baselines trained on for the same number of epochs")


def variant_titles(doc: dict) -> dict:
    tc, dc = doc["train_config"], doc["dsd_config"]
    e, total = tc["dense_epochs"], tc["dense_epochs"] + dc["sparse_epochs"] + dc["redense_epochs"]
    return {k: v.format(e=e, t=total, s="" if e == 1 else "s") for k, v in TITLES.items()}


def records(runs: Sequence) -> list[dict]:
    """The runs as their JSON records (``DSDRun.to_dict()``; records, e.g. the committed
    ``seed-<s>.json``, pass through), so a report can be rebuilt from its per-seed files."""
    return [r if isinstance(r, dict) else r.to_dict() for r in runs]


def summarize(runs: Sequence, command: str = "", threads: int | None = None) -> dict:
    """The JSON document of the runs (:class:`DSDRun` s or their records; one dataset and
    configuration); ``threads``: the BLAS threads they ran with (None: not limited)."""
    runs = records(runs)
    first = runs[0]
    n_test = first["images"]["test"]

    def stats(f):
        return summary_stats(f(r) for r in runs)

    gains = {f"dsd_vs_{k}": stats(lambda r, k=k: r["test"]["dsd"] - r["test"][k])
             for k in ("dense_same_epochs", "dense_continued", "dense")}
    gains["sparse_vs_dense"] = stats(lambda r: r["test"]["sparse"] - r["test"]["dense"])
    gains["val_dsd_vs_dense_same_epochs"] = stats(lambda r: r["val"]["dsd"] - r["val"]["dense_same_epochs"])
    doc = {
        "command": command, "dataset": first["dataset"], "split": first["split"], "sizes": first["sizes"],
        "train_images": first["images"]["train"], "val_images": first["images"]["val"], "test_images": n_test,
        "blas_threads": threads, "seeds": [r["seed"] for r in runs], "train_config": first["train_config"],
        "dsd_config": first["dsd_config"], "eie_config": first["eie_config"],
        "test_accuracy": {k: stats(lambda r, k=k: r["test"][k]) for k in VARIANTS},
        "val_accuracy": {k: stats(lambda r, k=k: r["val"][k]) for k in VARIANTS},
        "gain": gains,
        "paired_test": {k: sum(r["paired_test"][k] for r in runs)
                        for k in ("dsd_right_baseline_wrong", "dsd_wrong_baseline_right")} | {
                            "image_runs": n_test * len(runs)},
        "restored_nonzero": stats(lambda r: r["restored_nonzero"]),
        "silent_pruned": stats(lambda r: r["silent_pruned"]),
        "restored_other": stats(lambda r: r["restored_other"]),
        "silent_units": {k: [summary_stats(r["silent_units"][k][i] for r in runs)
                             for i in range(len(first["silent_units"][k]))] for k in VARIANTS},
        "times_s": {k: stats(lambda r, k=k: r["times_s"][k]) for k in first["times_s"]},
        "runs": [{k: v for k, v in r.items() if k != "log"} for r in runs],
        "curves": curves(first),
        "paper": PAPER_DSD,
    }
    if first["on_array"]:
        doc["on_array"] = {v: _array_stats([a for r in runs for a in r["on_array"] if a["variant"] == v])
                           for v in ARRAY_VARIANTS}
        doc["sim_images"] = first["on_array"][0]["speed"]["images"]
    doc["verdict"] = verdict(doc)
    return doc


def _array_stats(items: list[dict]) -> dict:
    def stats(f):
        return summary_stats(f(a) for a in items)
    return {
        "float": stats(lambda a: a["test"]["dense"]),
        "compressed_float": stats(lambda a: a["test"]["finetuned"]),
        "fixed_point": stats(lambda a: a["test"]["fixed_point"]),
        "density": stats(lambda a: a["total"]["density"]),
        "rate": stats(lambda a: a["total"]["compression_rate_huffman"]),
        "bytes": stats(lambda a: a["total"]["compressed_bytes_huffman"]),
        **{k: stats(lambda a, k=k: a["speed"][k]) for k in ("cycles", "time_us", "energy_pj", "load_efficiency")},
        "fits": all(a["speed"]["fits"] for a in items),
        "outputs_match_reference": all(a["speed"]["outputs_match_reference"] for a in items),
    }


def paired_se(doc: dict) -> float:
    """The standard error (points) of the pooled paired difference DSD - baseline over all
    image-runs: ``sqrt(discordant) / image-runs`` (McNemar's normal approximation)."""
    p = doc["paired_test"]
    return 100 * math.sqrt(p["dsd_right_baseline_wrong"] + p["dsd_wrong_baseline_right"]) / p["image_runs"]


def verdict(doc: dict) -> str:
    """One sentence, from the numbers: whether DSD beat the dense baseline trained for the
    same number of epochs, by how much, and whether that is more than the noise (twice the
    paired standard error of the pooled difference, and all seeds on one side)."""
    g = doc["gain"]["dsd_vs_dense_same_epochs"]
    mean = 100 * g["mean"]
    se = paired_se(doc)
    seeds = [r["test"]["dsd"] - r["test"]["dense_same_epochs"] for r in doc["runs"]]
    up, down = sum(d > 0 for d in seeds), sum(d < 0 for d in seeds)
    spread = (f"{mean:+.2f} ± {100 * g['sd']:.2f} points (range {100 * g['min']:+.2f} .. {100 * g['max']:+.2f})"
              if len(seeds) > 1 else f"{mean:+.2f} points (one seed)")
    count = f"DSD ahead in {up} of {len(seeds)} seeds, behind in {down}"
    if abs(mean) < 2 * se or (up and down):
        return (f"DSD does not measurably help here: {spread} against the dense network trained for the same "
                f"number of epochs, {count}; within the noise (paired standard error {se:.2f} points).")
    word = "helps" if mean > 0 else "hurts"
    return (f"DSD {word} here, by {spread} against the dense network trained for the same number of epochs "
            f"({count}; paired standard error {se:.2f} points).")


def baseline_note(doc: dict) -> str:
    """Whether the same-epochs baseline gained or lost by its longer training (validation
    images, which chose nothing of it), and DSD against the shorter dense network."""
    va, g = doc["val_accuracy"], doc["gain"]["dsd_vs_dense"]
    e = doc["train_config"]["dense_epochs"]
    total = e + doc["dsd_config"]["sparse_epochs"] + doc["dsd_config"]["redense_epochs"]
    short, long_ = 100 * va["dense"]["mean"], 100 * va["dense_same_epochs"]["mean"]
    trend = ("lowers" if long_ < short else "raises") + " the validation accuracy"
    lost = ", so part of the gain is the baseline losing by its longer training" if long_ < short else ""
    return (f"Training the dense network for {total} epochs instead of {e} {trend} ({short:.2f} -> {long_:.2f} % on "
            f"the validation images){lost}; against the {e}-epoch dense network (DSD's own dense step) DSD gains "
            f"{_pm(g, sign='+')} points on the test images (range {100 * g['min']:+.2f} .. {100 * g['max']:+.2f}).")


def _pm(s: dict, scale: float = 100.0, digits: int = 2, sign: str = "") -> str:
    return f"{scale * s['mean']:{sign}.{digits}f} ± {scale * s['sd']:.{digits}f}"


def build_doc(doc: dict) -> Doc:
    """The report as an :class:`eie.report.doc.Doc` (Markdown and HTML from the same blocks)."""
    d = Doc(f"DSD training of LeNet-300-100 on real data ({doc['dataset']})")
    for section in (_head, _accuracy, _on_array, _precision, _time, _files):
        section(d, doc)
    return d


def _head(d: Doc, doc: dict) -> None:
    tc, dc = doc["train_config"], doc["dsd_config"]
    sparse_lr = tc["lr"] if dc["sparse_lr"] is None else dc["sparse_lr"]
    if doc["command"]:
        d.para(f"Made by `{doc['command']}` (regenerate with the same command and `--force`; `eie dsd --help`).")
    d.para(f"**Verdict.** {doc['verdict']} {baseline_note(doc)} For scale: {doc['paper']}.")
    d.para(f"**Data.** {doc['split']}. Pixels scaled to [0, 1]. The DSD hyper-parameters were chosen on the "
           f"validation images only (`validation.md`, `bench/dsd_tune.py`), the dense ones for the dense network by "
           f"Deep Compression's search (reports/deep-compression/validation.md); the test images are scored once per "
           f"run and chose nothing.")
    d.para(f"**Training** (`eie.train.dsd`), network {' -> '.join(map(str, doc['sizes']))}, {tc['optimizer']}, batch "
           f"{tc['batch']}, L2 {tc['weight_decay']:g}, every step a fresh optimiser whose rate falls to 0 along a half "
           f"cosine: dense {tc['dense_epochs']} epochs at lr {tc['lr']:g}; sparse (S): every layer pruned to "
           f"{100 * dc['sparsity']:g} % sparsity by magnitude, {dc['sparse_epochs']} epochs at lr {sparse_lr:g} with "
           f"the pruned weights held at exactly 0; re-dense (D): the pruned weights restored at 0, "
           f"{dc['redense_epochs']} epochs at lr {dc['lr_drop'] * tc['lr']:g} (lr drop {dc['lr_drop']:g}). "
           f"Baselines with DSD's {tc['dense_epochs'] + dc['sparse_epochs'] + dc['redense_epochs']} epochs: the "
           f"dense network trained in one run from the same initial weights (**the** baseline, the DSD paper's "
           f"comparison), and the {tc['dense_epochs']}-epoch dense network continued through S's and D's schedule "
           f"(rates, epochs, minibatch order) without pruning, so that pruning is its only difference from DSD. "
           f"Seeds {', '.join(map(str, doc['seeds']))}.")


def _accuracy(d: Doc, doc: dict) -> None:
    t = variant_titles(doc)
    d.heading(1, f"Accuracy on the {doc['test_images']:,} test images")
    cols = [Column("seed", "seed", "int")] + [Column(k, t[k], suffix=" %") for k in VARIANTS]
    cols.append(Column("gain", "DSD − same epochs (points)", "signed"))
    rows = [{"seed": r["seed"], **{k: 100 * r["test"][k] for k in VARIANTS},
             "gain": 100 * (r["test"]["dsd"] - r["test"]["dense_same_epochs"])} for r in doc["runs"]]
    d.table(Table("accuracy", "Top-1 test accuracy per seed", cols, rows))
    acc, val = doc["test_accuracy"], doc["val_accuracy"]
    stats = [{"variant": t[k], "mean": 100 * acc[k]["mean"], "sd": 100 * acc[k]["sd"], "min": 100 * acc[k]["min"],
              "max": 100 * acc[k]["max"], "val": 100 * val[k]["mean"]} for k in VARIANTS]
    d.table(Table("accuracy_stats", f"Over the {len(doc['runs'])} seeds (test %; validation mean for reference)",
                  [Column("variant", "network", "text"), Column("mean", "mean"), Column("sd", "sd"),
                   Column("min", "min"), Column("max", "max"), Column("val", "validation mean")], stats))
    g = doc["gain"]
    d.items([f"DSD − dense, same epochs: **{_pm(g['dsd_vs_dense_same_epochs'], sign='+')} points** "
             f"(range {100 * g['dsd_vs_dense_same_epochs']['min']:+.2f} .. "
             f"{100 * g['dsd_vs_dense_same_epochs']['max']:+.2f}); on the validation images "
             f"{_pm(g['val_dsd_vs_dense_same_epochs'], sign='+')}.",
             f"DSD − dense continued without pruning: {_pm(g['dsd_vs_dense_continued'], sign='+')} points (what pruning adds).",
             f"DSD − its own dense step ({doc['train_config']['dense_epochs']} epochs): {_pm(g['dsd_vs_dense'], sign='+')} "
             f"points (the DSD paper's 'baseline' column, which has fewer epochs).",
             f"Sparse (S) − dense step: {_pm(g['sparse_vs_dense'], sign='+')} points, with {100 * (1 - doc['dsd_config']['sparsity']):g} % of the weights.",
             f"After the re-dense step {_pm(doc['restored_nonzero'], 100, 1)} % of the pruned weights are non-zero "
             f"again. {_pm(doc['silent_pruned'], 100, 1)} % of them get no gradient: their input is 0 on every "
             f"training image (a blank pixel, or a silent unit below) or their unit is silent (ReLU keeps it at 0 on "
             f"every training image), so they stay at the sparse step's 0.0; of the others "
             f"{_pm(doc['restored_other'], 100, 1)} % are non-zero again.",
             "Silent hidden units (ReLU at 0 on every training image), per hidden layer: "
             + "; ".join(f"{t[k]} " + ", ".join(f"{100 * u['mean']:.0f} %" for u in doc["silent_units"][k])
                         for k in VARIANTS)
             + ". A silent unit gets no gradient, so it stays silent: it is capacity the network has lost."]
            + silent_warning(doc))
    d.figure(_figure(doc, t))


def silent_warning(doc: dict) -> list[str]:
    """A warning when most of a hidden layer is silent in some network (the training has
    lost most of its width, and DSD has little left to prune and restore)."""
    worst = max((u["mean"], k, i) for k, layers in doc["silent_units"].items() for i, u in enumerate(layers))
    if worst[0] <= 0.5:
        return []
    return [f"**Warning: most of the network is silent.** Up to {100 * worst[0]:.0f} % of hidden layer {worst[2] + 1}'s "
            f"units never fire on a training image ({variant_titles(doc)[worst[1]]}): the networks compared here run on "
            f"a fraction of their width, the sparse step prunes mostly weights that no longer matter, and these numbers "
            f"say more about the training recipe on {doc['dataset']} than about DSD."]


def _figure(doc: dict, t: dict) -> Figure:
    runs = doc["runs"]
    per_seed = {"type": "line", "x": [r["seed"] for r in runs], "xlabel": "seed", "ylabel": "test top-1 (%)",
                "title": "test accuracy per seed",
                "series": [{"label": t[k], "y": [100 * r["test"][k] for r in runs]} for k in VARIANTS]}
    curves = doc["curves"]
    learn = {"type": "line", "x": list(range(1, len(curves["dsd"]) + 1)), "xlabel": "epoch",
             "ylabel": "validation top-1 (%)", "title": f"validation accuracy while training (seed {runs[0]['seed']})",
             # every variant in the left panel's order (so each keeps its colour); dense and sparse are
             # parts of the DSD curve and have no line of their own here
             "series": [{"label": t[k], "y": [None if v is None else 100 * v for v in curves[k]] if k in curves
                         else [None] * len(curves["dsd"])} for k in VARIANTS]}
    return Figure("dsd", "DSD against the dense baselines: test accuracy per seed (left) and the validation "
                  "accuracy after every epoch of the first seed (right; the DSD line runs through its dense, sparse "
                  "and re-dense steps)", {"panels": [per_seed, learn]})


def _on_array(d: Doc, doc: dict) -> None:
    if "on_array" not in doc:
        return
    ec, oa = doc["eie_config"], doc["on_array"]
    d.heading(1, "On the accelerator: accuracy, size, speed and energy side by side")
    rows = [{"network": ARRAY_TITLES[v], "float": 100 * s["float"]["mean"],
             "compressed": 100 * s["compressed_float"]["mean"], "fixed": 100 * s["fixed_point"]["mean"],
             "fixed_sd": 100 * s["fixed_point"]["sd"], "density": 100 * s["density"]["mean"],
             "rate": s["rate"]["mean"], "kb": s["bytes"]["mean"] / 1024, "cycles": s["cycles"]["mean"],
             "us": s["time_us"]["mean"], "uj": s["energy_pj"]["mean"] / 1e6,
             "eff": 100 * s["load_efficiency"]["mean"]} for v, s in oa.items()]
    cols = [Column("network", "network", "text"), Column("float", "float (before sharing)", suffix=" %"),
            Column("compressed", "shared + fine-tuned, float", suffix=" %"),
            Column("fixed", f"array, {ec['act_bits']}-bit", suffix=" %"), Column("fixed_sd", "sd"),
            Column("density", "non-zero weights", decimals=1, suffix=" %"), Column("rate", "rate (P+Q+H)", decimals=1,
                                                                               suffix="x"),
            Column("kb", "KiB", decimals=1), Column("cycles", "cycles", "int"), Column("us", "latency µs"),
            Column("uj", "energy µJ", decimals=3), Column("eff", "load efficiency", decimals=1, suffix=" %")]
    d.table(Table("on_array", f"Mean over the {len(doc['runs'])} seeds; cycles, latency and energy per inference, "
                  f"the mean over the first {doc['sim_images']} test images", cols, rows))
    fits = all(s["fits"] for s in oa.values())
    fit_text = ("Every layer fits the memories of the configuration" if fits else
                "Some layers do NOT fit the memories of the configuration (they were simulated anyway)")
    match = all(s["outputs_match_reference"] for s in oa.values())
    d.para(f"Every network goes through the same path (`eie.train.run_deep_compression` from the trained network, "
           f"`eie.train.accelerator`): {ec['weight_bits']}-bit weight sharing with fine-tuned centroids (the "
           f"unpruned rows keep every non-zero weight; DSD leaves some exactly 0, see above), the accuracy on the "
           f"array's fixed point for all test images "
           f"(bit-exact with `eie.model`), the storage in Deep Compression's Table 2 account ({ec['index_bits']}-bit "
           f"relative indices, Huffman-coded; 32-bit float weights = 1x), and cycles, latency and energy per "
           f"inference from the cycle-accurate model and the energy table of `eie.energy` ({ec['pes']} PEs at "
           f"{ec['clock_mhz']:g} MHz), image by image, with the fraction bits calibrated on the training images. "
           f"Deep Compression uses the committed hyper-parameters (reports/deep-compression; not re-tuned for "
           f"DSD's network). {fit_text}; "
           f"the model {'agreed' if match else 'did NOT agree'} with its reference on every simulated image.")
    a, b = oa["dsd_dc"], oa["dc"]
    d.para(f"DSD then Deep Compression against Deep Compression of the same-epochs baseline: "
           f"{100 * (a['fixed_point']['mean'] - b['fixed_point']['mean']):+.2f} points on the array, "
           f"{a['rate']['mean']:.1f}x against {b['rate']['mean']:.1f}x, {a['cycles']['mean']:,.0f} against "
           f"{b['cycles']['mean']:,.0f} cycles. The cycles depend on the matrices and on the inputs' zeros, not on "
           f"how the network was trained; the compressed networks run about "
           f"{oa['dense_same_epochs']['cycles']['mean'] / b['cycles']['mean']:.1f}x faster than the dense ones "
           f"with {oa['dense_same_epochs']['energy_pj']['mean'] / b['energy_pj']['mean']:.1f}x less energy (a network "
           f"this small keeps the PEs waiting on the broadcast of each non-zero input: see the load efficiency).")


def _precision(d: Doc, doc: dict) -> None:
    n, p = doc["test_images"], doc["paired_test"]
    acc = doc["test_accuracy"]["dense_same_epochs"]["mean"]
    weights = sum(a * b for a, b in zip(doc["sizes"], doc["sizes"][1:], strict=False))
    d.heading(1, "How precise these numbers are")
    items = [f"One test image is {100 / n:.2f} points; the binomial standard error of one accuracy near "
             f"{100 * acc:.1f} % on {n:,} images is {100 * math.sqrt(acc * (1 - acc) / n):.2f} points.",
             f"The comparison is paired (same images, same seed, same initial weights): pooled over the seeds, "
             f"{p['dsd_right_baseline_wrong']} image-runs were right only for DSD and {p['dsd_wrong_baseline_right']} "
             f"only for the same-epochs baseline, out of {p['image_runs']:,}: a paired standard error of about "
             f"{paired_se(doc):.2f} points (the same images recur in every seed, so another split would show more).",
             "The seed spread measures initialisation and minibatch order only, not the sampling of the images.",
             f"The DSD paper's gains are on ImageNet CNNs trained on 1.2 million images; this is a "
             f"{weights:,}-weight MLP trained on {doc['train_images']:,} images, every step annealing its rate to 0 "
             f"with L2 weight decay, so the regularisation DSD brings competes with what the baseline already has."]
    d.items(items)


def _time(d: Doc, doc: dict) -> None:
    threads = doc.get("blas_threads")
    d.heading(1, "Time per seed")
    rows = [{"part": k.replace("_", " "), "mean": s["mean"], "min": s["min"], "max": s["max"]}
            for k, s in doc["times_s"].items()]
    limit = "BLAS threads not limited" if threads is None else f"{threads} BLAS thread(s)"
    d.table(Table("times", f"Seconds per seed on this machine ({limit}; shared with other jobs)",
                  [Column("part", "part", "text"), Column("mean", "mean", decimals=1), Column("min", "min", decimals=1),
                   Column("max", "max", decimals=1)], rows))


def _files(d: Doc, doc: dict) -> None:
    d.heading(1, "Files")
    d.items(["`seed-<s>.json`: everything one seed produced (accuracies, the per-epoch log of every network "
             "trained, the array runs with their storage and fixed point).",
             "`report.json`: this summary's numbers; `data/<table>.json`: the numbers behind each table and the "
             "figure; `dsd.png`: the figure.",
             "`validation.md` / `validation.json` (when present): the hyper-parameter search on the validation "
             "images (`bench/dsd_tune.py`).",
             "`manifest.json`: the command and every file it wrote."])


def curves(run: dict) -> dict[str, list[float]]:
    """Validation accuracy after every epoch of one run's record: DSD's three steps end to
    end and the two baselines (the continued one from its start at the dense step's end)."""
    by_step: dict[str, list[float]] = {}
    for e in run["log"]:
        by_step.setdefault(e["step"], []).append(e["val_accuracy"])
    dense = by_step.get("dense", [])
    return {"dsd": dense + by_step.get("sparse", []) + by_step.get("redense", []),
            "dense_same_epochs": by_step.get("dense_same_epochs", []),
            "dense_continued": dense + by_step.get("dense_continued", [])}


def rebuild_files(directory) -> dict[str, object]:
    """The files :func:`report_files` makes, rebuilt from a report directory's ``seed-<s>.json``
    and the command and thread count its ``report.json`` records (no training): a committed
    report is fresh if this reproduces it."""
    directory = Path(directory)
    doc = json.loads((directory / "report.json").read_text())
    runs = [json.loads((directory / f"seed-{s}.json").read_text()) for s in doc["seeds"]]
    return report_files(runs, summarize(runs, command=doc["command"], threads=doc["blas_threads"]))


def report_files(runs: Sequence, doc: dict) -> dict[str, object]:
    """Every file of the output directory but the manifest: ``report.md``, ``report.html``,
    ``report.json``, ``seed-<s>.json`` per seed (``runs``: :class:`DSDRun` s or their
    records), ``dsd.png`` and ``data/<name>.json``."""
    runs = records(runs)
    from ..report.plots import draw
    rendered = build_doc(doc)
    files: dict[str, object] = {"report.md": rendered.markdown(), "report.html": rendered.html(), "report.json": doc}
    files.update(rendered.data_files())
    files.update({f"seed-{r['seed']}.json": r for r in runs})
    with tempfile.TemporaryDirectory() as tmp:
        for fig in rendered.figures:
            path = Path(tmp) / fig.png
            draw(fig, path)
            files[fig.png] = path.read_bytes()
    return files
