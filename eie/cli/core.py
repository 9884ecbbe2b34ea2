"""The core commands: ``compress``, ``compile``, ``simulate``, ``bench``, ``report``, ``config``.

Each is a thin shell over the library: parse, check the outputs, call, print.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..compress import BIAS_MODES
from ..config import EIEConfig, to_toml
from ..errors import CapacityError, EIEError, InputError, first_repeat
from ..fileio import (
    check_distinct,
    check_out,
    check_out_dir,
    check_outside,
    dumps_json,
    write_json,
    write_text,
)
from ..fixed import max_value
from ..layer import save_npy
from ..prepare import load_compressed
from .options import (
    BIAS_HELP,
    add_config_options,
    add_dense_options,
    add_energy_table_option,
    config_from,
    default_parent,
    dense_options,
    human_stream,
    overflow_warnings,
    simulate_setup,
)

__all__ = ["register", "format_record", "saturation_warning"]


# ---- commands ------------------------------------------------------------------------
def cmd_compress(args) -> int:
    from ..compress import BiasReport, compress_layer
    from ..layer import DenseLayer, load_layer, save_layer
    out = check_out(args.out, args.force, "output file")
    js = check_out(args.json, args.force, "JSON file", stdout_ok=True)
    check_distinct(**{"--out": out, "--json": js})
    say = human_stream(js)
    if args.density is not None and not (0 < args.density <= 1):
        raise InputError(f"--density must be in (0, 1], not {args.density!r}")
    layer = load_layer(args.layer)
    if not isinstance(layer, DenseLayer):
        raise InputError(f"{args.layer!r} is already compressed (it holds 'codebook' and 'codes'): nothing to do")
    comp, report = compress_layer(layer, density=args.density, bits=args.bits, index_bits=args.index_bits,
                                  bias_mode=args.bias)
    print(report.format_table(), file=say)
    bias = None
    if layer.bias is not None and args.bias == "coded":
        coded = BiasReport.of(layer.bias, comp.bias_values())
        print(coded.format_line(), file=say)
        bias = {"mode": "coded", **coded.to_dict()}
    elif layer.bias is not None:
        nz = int(np.count_nonzero(layer.bias))
        print(f"bias kept at full precision: {layer.bias.size:,} values ({nz:,} non-zero), largest |bias| "
              f"{float(np.abs(layer.bias).max()):.3g}; the accumulators start from it", file=say)
        bias = {"mode": "full", "values": int(layer.bias.size), "nonzero": nz,
                "max_abs_bias": float(np.abs(layer.bias).max())}
    if out:
        save_layer(out, comp)
        print(f"wrote {out}", file=say)
    if js:
        write_json(js, {**report.to_dict(), "bias": bias})
    return 0


def cmd_compile(args) -> int:
    from ..compile import hex_plan
    from ..layer import load_activations
    from ..prepare import prepare_layer
    cfg = config_from(args)
    js = check_out(args.json, args.force, "JSON file", stdout_ok=True)
    out = check_out_dir(args.out) if args.out else None
    check_outside(out, "--out", **{"--json": js})
    say = human_stream(js)
    layer = load_compressed(args.layer, **dense_options(args))
    x = load_activations(args.input, layer.n_in) if args.input else None
    prep = prepare_layer(layer, cfg, x)
    compiled, plan = prep.compiled, prep.plan
    images = None
    if out is not None:                     # every file checked before anything is said or written
        images = hex_plan(compiled, out, codebook_q=prep.cb_q, act_q=prep.a_q, force=args.force,
                          bias_q=prep.bias_q)
        images.check()
    st = compiled.load_stats()
    print(f"layer {layer.name}: {layer.n_out}x{layer.n_in} on {cfg.pes} PEs, {len(compiled.passes)} pass(es)",
          file=say)
    print(f"entries per PE: max {st['max_entries']}, mean {st['mean_entries']:.1f}, balance {st['balance']:.3f}, "
          f"padding {st['padding_fraction']:.2%}; lines max {int(st['lines'].max())} of {cfg.spmat_lines}; "
          f"pointers {int(st['pointers'][0])} of {cfg.ptr_capacity}", file=say)
    if plan:
        print(f"fraction bits: fa={plan.fa} fw={plan.fw} fo={plan.fo}", file=say)
    if images is not None:
        files = images.commit()
        print(f"wrote {len(files)} files to {out}", file=say)
    if js:
        write_json(js, {"name": layer.name, "passes": len(compiled.passes),
                         "fraction_bits": plan.to_dict() if plan else None,
                         **{k: v for k, v in st.items()}})
    return 0


def format_record(rec, cfg, title) -> str:
    """The lines ``eie simulate`` prints for one layer (docs/cli.md, "Reading the output")."""
    e = rec["energy_pj"]
    lines = [
        f"{title}: {rec['n_out']}x{rec['n_in']}, {rec['nonzero_inputs']} non-zero inputs, "
        f"{cfg.pes} PEs, queue depth {cfg.queue_depth}, {cfg.clock_mhz:g} MHz",
        f"  cycles            {rec['cycles']}  ({rec['time_us']:.3f} us; theoretical {rec['theoretical_us']:.3f} us)",
        f"  useful MACs       {rec['useful_macs']}  load efficiency {rec['load_efficiency']:.1%}, "
        f"balance {rec['load_balance']:.3f}, stall cycles {rec['stall_cycles']}",
        f"  energy            {e['total_pj'] / 1e6:.3f} uJ, average power {e['avg_power_mw']:.1f} mW",
    ]
    lines += [f"    {k:<15} {v / 1e6:10.4f} uJ" for k, v in e["by_component_pj"].items()]
    d = rec["dram_baselines"]
    fb = rec["fraction_bits"]
    lines += [
        f"  weights from DRAM: dense {d['dense_dram_pj'] / 1e6:.1f} uJ, compressed "
        f"{d['compressed_dram_pj'] / 1e6:.2f} uJ",
        f"  fixed point       fa={fb['fa']} fw={fb['fw']} fo={fb['fo']}; outputs match reference: "
        f"{rec['outputs_match_reference']} (max error {rec['max_abs_error']:.3g}, bound {rec['max_error_bound']:.3g})",
    ]
    if rec.get("bias_kind") == "full":
        lines.append(f"  bias              full precision: {rec['preloaded_accumulators']} accumulators start from it"
                     + (f" ({rec['saturated_bias']} clamped to acc_bits)" if rec.get("saturated_bias") else ""))
    elif rec.get("bias_kind") == "coded":
        lines.append(f"  bias              coded with the codebook: {rec['bias_nonzeros']} non-zero codes in the bias column")
    if rec.get("saturated_inputs"):
        lines.append(saturation_warning(rec, cfg))
    lines += overflow_warnings(rec, cfg)
    if not rec["fits"]:
        lines.append(f"  does NOT fit: {rec['capacity_problems'][0]}")
    return "\n".join(lines)


def saturation_warning(rec, cfg) -> str:
    """The line that says how many inputs were clamped to the activation range, and the fix."""
    fa = rec["fraction_bits"]["fa"]
    top = max_value(cfg.act_bits, fa)
    k = rec["input_scale"]
    k = k if k < 1 << 20 else f"2^{int(k).bit_length() - 1}"
    return (f"  warning: {rec['saturated_inputs']} of {rec['n_in']} inputs saturated (the {cfg.act_bits}-bit "
            f"activations with fa={fa} hold |x| <= {top:g}; the largest is {rec['max_abs_input']:g}), so the "
            f"outputs cannot match the reference: "
            f"scale the input by 1/{k} (the outputs then scale by 1/{k}, apart from the bias)")


def cmd_simulate(args) -> int:
    from ..layer import load_activations
    if Path(args.layer[0]).is_dir():
        from .networks import cmd_simulate_network
        return cmd_simulate_network(args)
    cfg, js, out, say, table = simulate_setup(args)
    layers = [load_compressed(path, **dense_options(args)) for path in args.layer]
    first = layers[0]
    x = load_activations(args.input, first.n_in) if args.input else first.activations
    if x is None:
        raise InputError(f"{args.layer[0]!r} has no 'activations' array: give the input with --input ACT.npy")
    try:
        outputs, doc = _simulate(args, cfg, layers, x, table, say)
    except CapacityError as exc:
        raise CapacityError(f"{exc}; or give --no-capacity-check to simulate it as if it fitted") from None
    if out:
        save_npy(out, outputs.astype(np.float64))
    if js:
        write_json(js, doc)
    return 0


def _simulate(args, cfg, layers, x, table, say):
    """Run one layer or a stack and print it; returns (outputs, JSON document)."""
    from ..pipeline import run_layer, run_stack
    first = layers[0]
    if len(layers) == 1:
        rec, res = run_layer(first, cfg, x=x, relu=args.relu, table=table,
                             check_capacity=not args.no_capacity_check)
        print(format_record(rec, cfg, f"layer {first.name}"), file=say)
        return res.outputs, rec
    for i in range(1, len(layers)):
        if layers[i].n_in != layers[i - 1].n_out:
            raise InputError(f"layer {args.layer[i]!r} has {layers[i].n_in} inputs but {args.layer[i - 1]!r} "
                             f"has {layers[i - 1].n_out} outputs: a stack chains outputs to inputs")
    summary, records, results = run_stack(layers, cfg, x, relu_last=args.relu, table=table,
                                          check_capacity=not args.no_capacity_check)
    for i, (rec, layer) in enumerate(zip(records, layers, strict=True)):
        print(format_record(rec, cfg, f"layer {i} ({layer.name})"), file=say)
    print(f"stack of {len(layers)} layers: {summary['cycles']} cycles ({summary['time_us']:.3f} us), "
          f"{summary['energy_pj']['total_pj'] / 1e6:.3f} uJ, load efficiency {summary['load_efficiency']:.1%}, "
          f"outputs match reference: {summary['outputs_match_reference']}", file=say)
    return results[-1].outputs, {**summary, "layers": records}


#: ``eie report paper``'s output directory when ``--out`` is not given (the checkout's
#: committed report; in any other directory it is made, ``reports/`` with it)
DEFAULT_REPORT_DIR = "reports/paper"


def _items(option: str, text: str, what: str) -> list[str]:
    """The items of a comma-separated option: none empty (``""``, ``"a,,b"``, ``"64,"``), none
    twice (they had been dropped or de-duplicated without a word)."""
    items = [v.strip() for v in text.split(",")]
    if not all(items):
        raise InputError(f"{option} must be a comma-separated list of {what} with none empty, not {text!r}")
    dup = first_repeat(items)
    if dup is not None:
        raise InputError(f"{option} names {dup!r} twice: give each once")
    return items


def _selected(specs, layers: str | None):
    """The specs ``--layers`` names (all of them when it is not given), in the spec's order."""
    if layers is None:
        return specs
    wanted = _items("--layers", layers, "layer names")
    names = {s.name for s in specs}
    missing = [w for w in wanted if w not in names]
    if missing:
        raise InputError(f"--layers names {missing[0]!r}, not in the spec; choose from {', '.join(sorted(names))}")
    return [s for s in specs if s.name in wanted]


def cmd_bench(args) -> int:
    from ..bench import format_bench, load_specs, run_bench
    from ..energy import EnergyTable
    cfg = config_from(args)
    js = check_out(args.json, args.force, "JSON file", stdout_ok=True)
    table = EnergyTable.load(args.energy_table, config=cfg) if args.energy_table else EnergyTable.default(cfg)
    if args.fc8 is not None and not Path(args.fc8).is_file():
        raise InputError(f"--fc8 {args.fc8!r} is not a file: give the path of alexnet_fc8.npz")
    specs = _selected(load_specs(args.spec), args.layers)
    rows = run_bench(cfg, specs, fc8=args.fc8, table=table,
                     progress=lambda name: print(f"  running {name} ...", file=sys.stderr, flush=True))
    print(format_bench(rows, cfg, args.energy_table), file=human_stream(js))
    if js:
        write_json(js, rows)
    return 0


def cmd_report(args) -> int:
    from ..bench import load_specs
    from ..report import PaperSweeps, run_paper_report
    from ..report import check_out_dir as check_report_dir
    if args.jobs < 1:
        raise InputError(f"--jobs must be an integer >= 1, not {args.jobs}")
    if args.fc8 is not None and not Path(args.fc8).is_file():
        raise InputError(f"--fc8 {args.fc8!r} does not exist: give the path of alexnet_fc8.npz")
    specs = _selected(load_specs(args.spec), args.layers)

    def int_list(option, text, field):
        items = _items(option, text, "integers")
        try:
            values = [int(v) for v in items]
        except ValueError:
            raise InputError(f"{option} must be a comma-separated list of integers, not {text!r}") from None
        dup = first_repeat(values)
        if dup is not None:                  # 8 and 08 are one value
            raise InputError(f"{option} names {dup} twice: give each once")
        for v in values:
            try:
                EIEConfig().replace(**{field: v})
            except EIEError as exc:
                raise InputError(f"{option}: {exc}") from None
        return tuple(values)

    default = PaperSweeps()
    sweeps = PaperSweeps(
        int_list("--queue-depths", args.queue_depths, "queue_depth") if args.queue_depths is not None
        else default.queue_depths,
        int_list("--line-widths", args.line_widths, "line_bits") if args.line_widths is not None else default.line_bits,
        int_list("--pe-counts", args.pe_counts, "pes") if args.pe_counts is not None else default.pes)
    fpga = None
    if args.fpga is not None:
        from ..report.fpga import load_records
        fpga = load_records(args.fpga)          # checked before the long run
    if args.out is None:                    # every other argument checked: the default is made with its parent
        args.out = DEFAULT_REPORT_DIR
        default_parent(args.out)
    out = check_report_dir(args.out, args.force)
    command = " ".join(["eie report", args.which]
                       + [f"{flag} {value}" for flag, value in (
                           ("--fc8", args.fc8), ("--fpga", args.fpga), ("--out", args.out), ("--spec", args.spec), ("--layers", args.layers),
                           ("--queue-depths", args.queue_depths), ("--line-widths", args.line_widths),
                           ("--pe-counts", args.pe_counts)) if value is not None]
                       + ([f"--jobs {args.jobs}"] if args.jobs != 2 else [])
                       + (["--no-timing"] if args.no_timing else []) + (["--force"] if args.force else []))
    meta = run_paper_report(out, specs, fc8=args.fc8, sweeps=sweeps, jobs=args.jobs, force=args.force,
                            timing=not args.no_timing, command=command, fpga=fpga)
    print(f"wrote {len(meta['files'])} files to {out}/ (report.md, report.html) in {meta['wall_s']:.0f} s")
    return 0


def register(sub) -> None:
    """Add the core commands to the sub-parsers of ``eie``."""

    p = sub.add_parser("compress", help="prune + share weights of a dense layer; storage report")
    p.add_argument("layer", help="dense .npz with 'weight' (out x in) and optional 'bias'")
    p.add_argument("--density", type=float, default=None,
                   help="fraction of the weights kept, in (0, 1] (default: keep the non-zero weights)")
    p.add_argument("--bits", type=int, default=4,
                   help="bits of a weight code, 1..8: the codebook has 2**bits entries (default 4)")
    p.add_argument("--index-bits", type=int, default=4,
                   help="bits of a relative row index in the storage report, 1..8 (default 4; the array's own "
                        "width is --index-bits of compile/simulate)")
    p.add_argument("--bias", choices=BIAS_MODES, default="full", help=BIAS_HELP)
    p.add_argument("-o", "--out", metavar="FILE", help="write the compressed layer .npz here ('bias' or "
                                                       "'bias_codes' beside 'codebook' and 'codes')")
    p.add_argument("--json", metavar="FILE", help="write the storage and bias report as JSON ('-': standard output)")
    p.add_argument("--force", action="store_true", help="overwrite existing output files (regular files only)")
    p.set_defaults(func=cmd_compress)

    p = sub.add_parser("compile", help="map a layer onto the PEs; $readmemh memory images")
    p.add_argument("layer", help="layer .npz (compressed, or dense: compressed first)")
    p.add_argument("--input", metavar="ACT.npy",
                   help="input activations .npy (default: the layer's 'activations'); sets the fraction bits")
    add_dense_options(p)
    p.add_argument("-o", "--out", metavar="DIR", help="directory for the hex files and manifest.json (created if "
                                                      "its parent exists; files in it are only replaced with --force)")
    p.add_argument("--json", metavar="FILE", help="write the mapping statistics as JSON ('-': standard output)")
    p.add_argument("--force", action="store_true",
                   help="overwrite existing output files; in --out, also remove the files of the earlier run")
    add_config_options(p)
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("simulate", help="cycle-accurate simulation of a layer (or a stack), with energy")
    p.add_argument("layer", nargs="+", help="layer .npz; several = a stack with ReLU between layers; or one network "
                                            "directory (network.toml: its functions between layers)")
    p.add_argument("--input", metavar="ACT.npy", help="input activations .npy (default: the layer's 'activations')")
    p.add_argument("--relu", action="store_true", help="apply ReLU to the (last layer's) outputs")
    add_dense_options(p)
    add_energy_table_option(p)
    p.add_argument("--no-capacity-check", action="store_true",
                   help="simulate a layer larger than the SRAMs as if it fitted")
    p.add_argument("--json", metavar="FILE", help="write the full record as JSON ('-': standard output)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the output activations (float64) as .npy")
    p.add_argument("--force", action="store_true", help="overwrite existing output files (regular files only)")
    add_config_options(p)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("bench", help="the nine EIE Table III layers vs the paper's Table IV")
    p.add_argument("--spec", metavar="FILE", help="layer spec TOML (default: built-in Table III)")
    p.add_argument("--layers", help="comma-separated subset of layer names")
    p.add_argument("--fc8", metavar="FILE", help="also run the real AlexNet FC8 layer from this .npz")
    add_energy_table_option(p)
    p.add_argument("--json", metavar="FILE", help="write one record per layer as JSON ('-': standard output)")
    p.add_argument("--force", action="store_true", help="overwrite an existing JSON file (regular files only)")
    add_config_options(p)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("report", help="reproduce the EIE paper: Table IV, Sec VI sweeps, energy (Markdown + HTML)")
    p.add_argument("which", metavar="REPORT", choices=["paper"], help="the report to make: paper")
    p.add_argument("--fc8", metavar="FILE", help="also run the real AlexNet FC8 layer from this .npz")
    p.add_argument("--fpga", metavar="DIR", help="add the FPGA results in DIR (eie synth --json records, as "
                                                "bench/synth.py --out DIR writes them; e.g. reports/fpga)")
    p.add_argument("-o", "--out", metavar="DIR", default=None,
                   help=f"output directory, created if its parent exists (default: {DEFAULT_REPORT_DIR}, its "
                        f"parent created too)")
    p.add_argument("--force", action="store_true", help="write into a non-empty output directory")
    p.add_argument("--jobs", type=int, default=2,
                   help="worker processes for the sweeps, an integer >= 1 (default 2)")
    p.add_argument("--spec", help="layer spec TOML (default: built-in Table III)")
    p.add_argument("--layers", help="comma-separated subset of layer names")
    p.add_argument("--queue-depths", help="Fig 8 sweep of the activation-queue depth, entries per PE, e.g. 1,2,4,8 "
                                          "(default 1..256, powers of 2)")
    p.add_argument("--line-widths", help="Fig 9 sweep of the sparse-matrix SRAM line, bits per PE "
                                         "(default 32,64,128,256,512)")
    p.add_argument("--pe-counts", help="Figs 11-13 sweep of the number of PEs (default 1..256, powers of 2)")
    p.add_argument("--no-timing", action="store_true", help="skip timing numpy/scipy mat-vecs on this machine")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("config", help="print a configuration as TOML (default: the paper's design point)")
    p.add_argument("-o", "--out", metavar="FILE", help="write it to FILE instead of standard output (as JSON "
                                                       "when FILE ends in .json, else TOML)")
    p.add_argument("--force", action="store_true", help="overwrite an existing FILE")
    add_config_options(p)
    p.set_defaults(func=cmd_config)


def cmd_config(args) -> int:
    """Print (or write) the configuration the options describe, as a file ``--config`` reads:
    TOML, or JSON for an output file named ``*.json`` (``--config`` reads a file by its suffix)."""
    out = check_out(args.out, args.force, "output file")
    config = config_from(args)
    text = dumps_json(config.to_dict()) if out and out.suffix.lower() == ".json" else to_toml(config)
    if out:
        write_text(out, text)
        print(f"wrote {out}")
    else:
        print(text, end="")
    return 0
