"""``eie lstm``: an LSTM layer stepped over a sequence on the array [eie.lstm, arch §8].

    eie lstm LAYER.npz --hidden H --input-size X [--gates ifgo] [--direction forward|reverse]
             [--seq T | --input FILE.npy] [--seed S] [--json OUT]
    eie lstm DIR --layer NAME ...        # an lstm layer of a network directory (eie import)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fileio import check_out, write_json
from ..fixed import max_value
from . import options as opt

__all__ = ["register", "cmd_lstm", "format_lstm"]

#: steps of the seeded random sequence when no --input is given
DEFAULT_SEQ = 16


def _load_sequence(path, x_in: int) -> np.ndarray:
    from ..layer import read_npy
    p = Path(path)

    def check_shape(shape):
        if len(shape) != 2 or shape[1] != x_in or shape[0] < 1:
            raise InputError(f"input sequence {str(p)!r} must be T x X = T x {x_in}, not shape {shape}")
    xs = read_npy(p, "input sequence", "use a shorter sequence", check_shape)
    if xs.dtype.kind in "fc" and not np.all(np.isfinite(xs)):
        raise InputError(f"input sequence {str(p)!r} holds {int(np.count_nonzero(~np.isfinite(xs)))} values that "
                         f"are not finite (nan or inf): give finite numbers")
    return xs


def _layer_of(args):
    """``(compressed layer, dense layer or None, NetworkLayer)`` from the command line."""
    from ..compress import compress_layer
    from ..layer import DenseLayer, load_layer
    from ..network import GATES, NetworkLayer, load_network
    from ..prepare import DEFAULT_BITS, load_compressed
    src = Path(args.src)
    if src.is_dir():
        given = [f for f, v in (("--hidden", args.hidden), ("--input-size", args.input_size),
                                ("--gates", args.gates),
                                ("--direction", args.direction)) if v is not None]
        if given:
            raise InputError(f"{given[0]} is read from {str(src)}/network.toml for a network directory: drop it")
        net = load_network(src)
        lstms = [layer for layer in net.layers if layer.kind == "lstm"]
        if args.layer is None:
            names = ", ".join(layer.name for layer in lstms) or "none"
            raise InputError(f"{str(src)!r} is a network directory: name its LSTM layer with --layer NAME "
                             f"(its lstm layers: {names})")
        match = [layer for layer in net.layers if layer.name == args.layer]
        if not match:
            raise InputError(f"{str(src)!r} has no layer {args.layer!r} (its lstm layers: "
                             f"{', '.join(layer.name for layer in lstms) or 'none'})")
        net_layer = match[0]
        if net_layer.kind != "lstm":
            raise InputError(f"layer {args.layer!r} of {str(src)!r} is a {net_layer.kind} layer, not an lstm layer")
        path = net.path(net_layer)
    else:
        if args.layer is not None:
            raise InputError("--layer NAME picks a layer of a network directory; SRC is a layer file")
        if not src.exists():
            raise InputError(f"layer file {str(src)!r} does not exist")
        if args.hidden is None or args.input_size is None:
            raise InputError("a layer file needs --hidden H and --input-size X (the stacked matrix is 4H x (X+H))")
        for f, v in (("--hidden", args.hidden), ("--input-size", args.input_size)):
            if v < 1:
                raise InputError(f"{f} must be an integer >= 1, not {v}")
        gates = GATES if args.gates is None else args.gates
        if sorted(gates) != sorted(GATES):
            raise InputError(f"--gates must be an order of the letters i, f, g, o (e.g. ifgo), not {gates!r}")
        net_layer = NetworkLayer(src.stem, src.name, "lstm", (4 * args.hidden, args.input_size + args.hidden),
                                 "none", args.hidden, args.input_size, gates, args.direction or "forward")
        path = src
    raw = load_layer(path)
    dense = raw if isinstance(raw, DenseLayer) else None
    opts = opt.dense_options(args)
    if dense is not None:
        from ..lstm import check_lstm
        check_lstm(dense.weight.shape, net_layer)       # before compressing
        layer, _ = compress_layer(dense, density=opts["density"],
                                  bits=DEFAULT_BITS if opts["bits"] is None else opts["bits"],
                                  bias_mode="full" if opts["bias_mode"] is None else opts["bias_mode"])
    else:
        layer = load_compressed(path, **opts)
    return layer, dense, net_layer


def format_lstm(result) -> str:
    """Per step cycles, time, energy, load efficiency and the error of h; then the totals."""
    cfg, tot = result.config, result.totals
    dense = result.h_dense is not None
    lines = [f"LSTM {result.name}: H={result.hidden}, X={result.input}, gates {result.gates}, {result.direction}, "
             f"{result.weight_nonzeros} non-zero weights of {4 * result.hidden * (result.input + result.hidden)} "
             f"({result.weight_nonzeros / (4 * result.hidden * (result.input + result.hidden)):.1%}); "
             f"{cfg.pes} PEs at {cfg.clock_mhz:g} MHz; fraction bits fa={result.plan.fa} fw={result.plan.fw} "
             f"fo={result.plan.fo} (one plan for the sequence)",
             "  gates and cell update on the host in float32; h quantised to the input format between steps",
             f"  {'step':>4} {'t':>4} {'cycles':>7} {'time_us':>8} {'energy_nJ':>10} {'load_eff':>8} "
             f"{'nz_in':>6} {'max|dh|':>9} {'mean|dh|':>9}" + (f" {'max|dh| dense':>13}" if dense else "")]
    for k, s in enumerate(result.steps):
        lines.append(f"  {k:>4} {s.t:>4} {s.cycles:>7} {s.time_us:>8.3f} {s.energy_pj / 1e3:>10.1f} "
                     f"{s.load_efficiency:>8.1%} {s.nonzero_inputs:>6} {s.max_abs_error:>9.2e} "
                     f"{s.mean_abs_error:>9.2e}" + (f" {s.max_abs_error_dense:>13.2e}" if dense else ""))
    lines.append(f"  total: {tot['steps']} steps, {tot['cycles']} cycles, {tot['time_us']:.3f} us, "
                 f"{tot['energy_pj'] / 1e3:.1f} nJ; per step {tot['cycles_per_step']:.1f} cycles, "
                 f"{tot['time_us_per_step']:.3f} us, {tot['energy_pj_per_step'] / 1e3:.1f} nJ; "
                 f"load efficiency {tot['load_efficiency']:.1%}")
    lines.append(f"  h vs the float LSTM (same compressed weights): max {tot['max_abs_error']:.2e}, mean "
                 f"{tot['mean_abs_error']:.2e}; pre-activations within the fixed-point bound: "
                 f"{'yes' if tot['preacts_match_reference'] else 'NO'}")
    if tot.get("saturated_inputs"):
        top = max_value(cfg.act_bits, result.plan.fa)
        lines.append(f"  warning: {tot['saturated_inputs']} of {tot['steps'] * result.input} input values saturated "
                     f"(the {cfg.act_bits}-bit activations with fa={result.plan.fa} hold |x| <= {top:g}; the largest "
                     f"is {tot['max_abs_input']:g}), so h cannot follow the float LSTM: scale the sequence down")
    if dense:
        lines.append(f"  h vs the float LSTM of the dense weights: max {tot['max_abs_error_dense']:.2e}, mean "
                     f"{tot['mean_abs_error_dense']:.2e} (compression alone: max "
                     f"{tot['max_abs_error_compression']:.2e})")
    return "\n".join(lines)


def cmd_lstm(args) -> int:
    from ..energy import EnergyTable
    from ..lstm import run_lstm_layer
    cfg = opt.config_from(args)
    js = check_out(args.json, args.force, "JSON file", stdout_ok=True)
    say = opt.human_stream(js)
    if args.seq is not None and args.input_seq is not None:
        raise InputError("give --seq T (a seeded random sequence) or --input FILE.npy, not both")
    if args.seq is not None and args.seq < 1:
        raise InputError(f"--seq must be an integer >= 1, not {args.seq}")
    if args.seed < 0:
        raise InputError(f"--seed must be an integer >= 0, not {args.seed}")
    table = EnergyTable.load(args.energy_table, config=cfg) if args.energy_table else EnergyTable.default(cfg)
    layer, dense, net_layer = _layer_of(args)
    from ..lstm import check_lstm
    hidden, x_in, _, _ = check_lstm(layer.shape, net_layer)
    if args.input_seq is not None:
        if args.input_seq.isdigit() and not Path(args.input_seq).exists():
            raise InputError(f"--input is the input sequence (a T x X .npy file), and {args.input_seq!r} is no file: "
                             f"a layer file's input size is --input-size {args.input_seq}")
        xs = _load_sequence(args.input_seq, x_in)
        source = f"sequence {args.input_seq}"
    else:
        from ..lstm import max_steps
        t = DEFAULT_SEQ if args.seq is None else args.seq
        if t > max_steps(hidden, x_in):
            raise InputError(f"--seq {t} is more steps than a layer with H={hidden}, X={x_in} may run (4H x T values "
                             f"per sequence, eie.layer.MAX_ELEMENTS): give at most --seq {max_steps(hidden, x_in)}")
        xs = np.random.default_rng(args.seed).standard_normal((t, x_in))
        source = f"seeded random sequence (seed {args.seed}): {t} steps of {x_in} N(0, 1) values, 100 % dense"
    result = run_lstm_layer(layer, net_layer, xs, cfg, table=table, dense=dense)
    print(format_lstm(result), file=say)
    print(f"  input: {source}", file=say)
    if js:
        doc = result.to_dict()
        doc["input"] = source
        write_json(js, doc)
    return 0


def register(sub) -> None:
    p = sub.add_parser("lstm", help="an LSTM layer stepped over a sequence: stacked [W | R] on the array, gates "
                                    "on the host; cycles, time and energy per step and the error of h")
    p.add_argument("src", metavar="LAYER.npz|DIR",
                   help="the stacked 4H x (X+H) layer file (dense: compressed first), or a network directory")
    p.add_argument("--layer", metavar="NAME", help="the lstm layer of the network directory DIR")
    p.add_argument("--hidden", type=int, metavar="H", help="hidden size H (a layer file)")
    p.add_argument("--input-size", type=int, metavar="X", help="input size X (a layer file)")
    p.add_argument("--gates", metavar="ORDER",
                   help="order of the four H-row blocks in the letters i, f, g, o (default ifgo, PyTorch's; "
                        "ONNX's is iofg)")
    p.add_argument("--direction", choices=("forward", "reverse"), default=None,
                   help="run the sequence forwards (default) or backwards")
    p.add_argument("--seq", type=int, metavar="T",
                   help=f"a seeded random input sequence of T steps (N(0, 1), dense; default {DEFAULT_SEQ})")
    p.add_argument("--input", "--input-seq", dest="input_seq", metavar="FILE.npy",
                   help="the input sequence, a T x X .npy array (as --input is every command's input)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random sequence (default 0)")
    opt.add_dense_options(p)
    opt.add_energy_table_option(p)
    p.add_argument("--json", metavar="FILE", help="write the run (steps, totals, h) as JSON ('-': standard output)")
    p.add_argument("--force", action="store_true", help="overwrite an existing JSON file (regular files only)")
    opt.add_config_options(p)
    p.set_defaults(func=cmd_lstm)
