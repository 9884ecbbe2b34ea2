"""Logic levels of a synthesised netlist: how deep the logic between registers is.

A place-and-route run answers "how fast" for one seed; its one critical path moves with the
seed (docs/fpga.md).  The logic levels answer "how deep" for the netlist itself, before any
placement: for every timing endpoint (a flip-flop's data, enable or set/reset input, a
block RAM's or multiplier's registered input, a LUT RAM's write port, an output pin) the
largest number of logic cells on a path to it from a start point (a flip-flop, a
registered block RAM or multiplier output, an input pin).  It is what Vivado's
``report_design_analysis -logic_level_distribution`` shows, for yosys's ECP5 and iCE40
netlists, and it is deterministic: two RTL variants compare without the seed lottery.

What counts as one level (:data:`LEVEL_CELLS`):

* a LUT (ECP5 ``LUT4``, iCE40 ``SB_LUT4``), and on ECP5 a wider LUT built from LUT4s by the
  slice's wide-function multiplexers (``PFUMX``: two LUT4s into a LUT5, ``L6MUX21``: two of
  those into a LUT6, ...): the LUT4s' outputs reach the multiplexers on the slice's own
  wires, so a LUT7 is one level; a signal that enters such a multiplexer at its select (a
  routed input) adds a level, as it does in nextpnr's path report;
* a LUT RAM read (ECP5 ``TRELLIS_DPR16X4``, address to data);
* a carry chain, entered from a LUT input: the carry's way along the chain adds none;
* a multiplier's array (ECP5 ``MULT18X18D``, iCE40 ``SB_MAC16``): on the way from an
  unregistered input, or from its input registers to an unregistered product; a product
  register (ECP5 pipeline or output register) is a start point, and an unregistered input in
  front of it ends its path there, the multiply counted.  (An ``SB_MAC16`` with any register
  is taken as registered throughout.)

Every other cell is a start and end point (flip-flops, block RAMs, I/O cells); so are the top
module's ports, an output driven by a cell ending a path (yosys's ``synth_*`` netlists of
``eie synth`` have no I/O cells; the board builds' have).  :func:`logic_levels` reads the
yosys JSON (``top.json`` of ``eie synth --workdir``); ``eie synth`` puts the result into its
record (``logic_levels``) and prints the distribution.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

__all__ = ["LEVEL_CELLS", "logic_levels", "group_name", "format_levels", "DEEPEST_GROUPS", "ECP5_MAX_LEVELS",
           "PRIM_SUFFIXES"]

#: the cell types that can be a level (the others are start and end points)
LEVEL_CELLS = ("LUT4", "PFUMX", "L6MUX21", "TRELLIS_DPR16X4", "CCU2C", "SB_LUT4", "SB_CARRY", "MULT18X18D",
               "SB_MAC16")
_CARRY_IN = {"CIN", "FCI", "CI"}

#: groups listed in ``deepest``
DEEPEST_GROUPS = 10

#: the RTL's design rule on ECP5: no endpoint deeper than this many levels (docs/fpga.md,
#: Logic levels; tests/test_hdl_synth.py holds the array's netlist to it), so that a change
#: adding depth is seen without a place-and-route
ECP5_MAX_LEVELS = 5

#: what yosys's techmap and nextpnr's packer append to a cell's design name
PRIM_SUFFIXES = ("_TRELLIS", "_LUT4", "_CCU2", "_PFUMX", "_L6MUX", "_DPR16", "_SB_", "_DP16KD", "_MULT18")
_SUFFIX = re.compile("|".join(map(re.escape, PRIM_SUFFIXES)))
_PE = re.compile(r"(?<![A-Za-z0-9_])pe\d+(?=[._]|$)")


def group_name(cell: str) -> str:
    """The register (or port) a cell belongs to, one name for all PEs: yosys's suffixes cut
    (``pe2.queue.rptr2_c0_TRELLIS_FF_Q_3`` -> ``pe*.queue.rptr2_c0``), the PE index a ``*``."""
    mo = _SUFFIX.search(cell)
    base = (cell[:mo.start()] if mo else cell).rstrip("._") or cell
    return _PE.sub("pe*", base)


def _param_on(params: dict, name: str, off=("NONE", "", "0")) -> bool:
    """A register parameter of a DSP cell set (yosys writes ``"CLK0"``/``"NONE"`` strings or
    binary strings ``"0"``/``"1"``)."""
    v = str(params.get(name, "NONE")).strip()
    return v not in off and set(v) != {"0"}


def _mult_regs(cell: dict) -> tuple[bool, bool, bool] | None:
    """(A registered, B registered, product registered) of a multiplier cell, None if not one."""
    params = cell.get("parameters", {})
    if cell["type"] == "MULT18X18D":
        return (_param_on(params, "REG_INPUTA_CLK"), _param_on(params, "REG_INPUTB_CLK"),
                _param_on(params, "REG_PIPELINE_CLK") or _param_on(params, "REG_OUTPUT_CLK"))
    if cell["type"] == "SB_MAC16":
        regs = ("A_REG", "B_REG", "C_REG", "D_REG", "TOP_8x8_MULT_REG", "BOT_8x8_MULT_REG",
                "PIPELINE_16x16_MULT_REG1", "PIPELINE_16x16_MULT_REG2")
        sel = [str(params.get(k, "0")).strip() for k in ("TOPOUTPUT_SELECT", "BOTOUTPUT_SELECT")]
        comb = not any(_param_on(params, k) for k in regs) and all(v in ("0", "00", "11", "10", "2", "3")
                                                                   for v in sel)
        return (not comb, not comb, not comb)
    return None


def _mult_input(cell: dict, port: str) -> str | None:
    """``"A"``/``"B"`` for a multiplier's operand pin (iCE40: C and D count as A's)."""
    if port[:1] in "AB" and port[1:].isdigit():
        return port[0]
    if cell["type"] == "SB_MAC16" and port[:1] in "CD" and port[1:].isdigit():
        return "A"
    return None


#: a start inside the cell itself (``_comb_inputs``): its input registers before its array
_INSIDE = None


def _comb_inputs(cell: dict, out_port: str) -> list[tuple[str | None, int]] | None:
    """The inputs of a combinational cell that reach ``out_port``, each with its weight (the
    levels the cell adds on that way; ``(_INSIDE, w)``: a path that starts at a register in
    the cell, ``w`` levels before the output); None if the output is a start point."""
    t = cell["type"]
    dirs = cell.get("port_directions", {})
    inputs = [p for p, d in dirs.items() if d == "input"]
    if t in ("LUT4", "SB_LUT4"):
        return [(p, 1) for p in inputs]
    if t in ("PFUMX", "L6MUX21"):                 # data from the LUTs beside it; the select is routed
        return [(p, 1 if p in ("C0", "SD") else 0) for p in inputs]
    if t == "TRELLIS_DPR16X4":                    # asynchronous read: address -> data
        return [(p, 1) for p in inputs if p.startswith("RAD")] if out_port.startswith("DO") else []
    if t == "CCU2C":                              # S0 from the first half and the carry in
        half = [p for p in inputs if p in ("A0", "B0", "C0", "D0", "CIN")] if out_port == "S0" else inputs
        return [(p, 0 if p in _CARRY_IN else 1) for p in half]
    if t == "SB_CARRY":
        return [(p, 0 if p in _CARRY_IN else 1) for p in inputs]
    regs = _mult_regs(cell) if t in ("MULT18X18D", "SB_MAC16") else None
    if regs is not None:
        reg_a, reg_b, reg_p = regs
        if reg_p:
            return None
        ways = [(p, 1) for p in inputs if (op := _mult_input(cell, p)) and not (reg_a if op == "A" else reg_b)]
        return ways + ([(_INSIDE, 1)] if reg_a or reg_b else [])
    return None


def _is_top(module: dict) -> bool:
    v = module.get("attributes", {}).get("top", 0)
    if isinstance(v, str):                        # yosys writes attributes as binary strings
        return set(v) <= {"0", "1"} and "1" in v
    return bool(v)


def _top_module(netlist: dict) -> dict:
    tops = [m for m in (netlist.get("modules") or {}).values() if _is_top(m)]
    if len(tops) != 1:
        raise ValueError(f"a yosys JSON netlist names one top module (attribute 'top'); this one names {len(tops)}")
    return tops[0]


_CLOCKS = re.compile(r"CLK\w*|\w*CLKN?\d*|WCK")      # CLK, CLKA, CLK0, RCLK, RCLKN, INPUT_CLK, WCK ...


def _is_clock(cell_type: str, port: str) -> bool:
    return bool(_CLOCKS.fullmatch(port)) or (cell_type.startswith("SB_DFF") and port == "C")


def _endpoint_ports(cell: dict) -> list[tuple[str, int]]:
    """The inputs of ``cell`` that end paths, each with the levels the cell adds before its
    register: every input of a start/end-point cell but its clocks; of a LUT RAM its write
    port; of a multiplier its registered operands, and its unregistered ones when the product
    is registered (the multiply counted); of other combinational cells none."""
    dirs = cell.get("port_directions", {})
    t = cell.get("type", "")
    inputs = [p for p, d in dirs.items() if d == "input" and not _is_clock(t, p)]
    if t.startswith("$scopeinfo"):
        return []
    if t == "TRELLIS_DPR16X4":
        return [(p, 0) for p in inputs if not p.startswith("RAD")]
    regs = _mult_regs(cell) if t in ("MULT18X18D", "SB_MAC16") else None
    if regs is not None:
        reg_a, reg_b, reg_p = regs
        out = []
        for p in inputs:
            op = _mult_input(cell, p)
            # control pins (signs, enables, resets) and registered operands end here
            if op is None or (reg_a if op == "A" else reg_b):
                out.append((p, 0))
            elif reg_p:
                out.append((p, 1))
        return out
    outs = [p for p, d in dirs.items() if d == "output"]
    if t in LEVEL_CELLS and outs and _comb_inputs(cell, outs[0]) is not None:
        return []
    return [(p, 0) for p in inputs]


def logic_levels(netlist, *, deepest: int = DEEPEST_GROUPS) -> dict:
    """The logic-level distribution of a yosys JSON netlist (a path, or the parsed dict).

    Returns ``{"histogram": {levels: endpoints}, "max": deepest level, "endpoints": count,
    "deepest": [{"to", "from", "levels", "endpoints"}, ...]}``: ``deepest`` lists the endpoint
    groups (:func:`group_name`) with the most levels, each with the start point of its
    deepest path and how many of its endpoint bits have that many levels, deepest first (then
    the groups with most endpoints), at most ``deepest`` of them."""
    if not isinstance(netlist, dict):
        netlist = json.loads(Path(netlist).read_text())
    top = _top_module(netlist)
    cells: dict = top.get("cells", {})
    driver: dict[int, tuple[str, str]] = {}
    for name, cell in cells.items():
        for port, bits in cell.get("connections", {}).items():
            if cell.get("port_directions", {}).get(port) == "output":
                for b in bits:
                    if isinstance(b, int):
                        driver[b] = (name, port)
    memo: dict[int, tuple[int, str]] = {}

    def depth(bit: int) -> tuple[int, str]:
        """(levels, start point) of the deepest path ending at net bit ``bit``: iterative,
        so a deep chain does not exhaust Python's stack; a combinational loop (none in a
        synthesised netlist) is cut where it closes."""
        if bit in memo:
            return memo[bit]
        stack = [(bit, False)]
        on_path: set[int] = set()
        while stack:
            b, expanded = stack.pop()
            if b in memo:
                continue
            if b not in driver:                   # a constant or an input port
                memo[b] = (0, "(input)")
                continue
            name, port = driver[b]
            cell = cells[name]
            ins = _comb_inputs(cell, port)
            if ins is None:                       # a start point
                memo[b] = (0, name)
                continue
            inside = max((w for p, w in ins if p is _INSIDE), default=None)
            in_bits = [(ib, w) for p, w in ins if p is not _INSIDE
                       for ib in cell["connections"].get(p, []) if isinstance(ib, int)]
            if not expanded:
                on_path.add(b)
                stack.append((b, True))
                stack.extend((ib, False) for ib, _ in in_bits if ib not in memo and ib not in on_path)
                continue
            on_path.discard(b)
            best = (0 if inside is None else inside, name)     # from the cell's own registers
            for ib, w in in_bits:
                lv, src = memo.get(ib, (0, name))    # a loop's back edge counts as a start
                if lv + w > best[0]:
                    best = (lv + w, src)
            memo[b] = best
        return memo[bit]

    hist: Counter = Counter()
    groups: dict[str, dict] = defaultdict(lambda: {"levels": -1, "from": "", "endpoints": 0})
    n = 0

    def end(bit: int, extra: int, group: str) -> None:
        nonlocal n
        lv, src = depth(bit)
        lv += extra
        n += 1
        hist[lv] += 1
        g = groups[group]
        if lv > g["levels"]:
            g.update(levels=lv, endpoints=1, **{"from": group_name(src)})
        elif lv == g["levels"]:
            g["endpoints"] += 1

    for name, cell in cells.items():
        for port, extra in _endpoint_ports(cell):
            for b in cell.get("connections", {}).get(port, []):
                if isinstance(b, int):            # not a constant
                    end(b, extra, group_name(name))
    # the top's outputs driven by a cell (an I/O cell's pad is not: its pin ended the path)
    for pname, port in (top.get("ports") or {}).items():
        if port.get("direction") == "output":
            for b in port.get("bits", []):
                if isinstance(b, int) and b in driver:
                    end(b, 0, pname)
    ranked = sorted(groups.items(), key=lambda kv: (-kv[1]["levels"], -kv[1]["endpoints"], kv[0]))
    return {
        "histogram": {str(k): hist[k] for k in sorted(hist)},
        "max": max(hist) if hist else 0,
        "endpoints": n,
        "deepest": [{"to": g, "from": v["from"], "levels": v["levels"], "endpoints": v["endpoints"]}
                    for g, v in ranked[:deepest] if v["levels"] > 0],
    }


def format_levels(lv: dict, groups: int = 3) -> list[str]:
    """Lines for ``eie synth``'s human output: the distribution and the deepest groups."""
    hist = ", ".join(f"{k}: {v}" for k, v in lv["histogram"].items())
    lines = [f"  logic levels  max {lv['max']} ({lv['endpoints']} endpoints by levels: {hist})"]
    for d in lv["deepest"][:groups]:
        lines.append(f"    {d['levels']} levels: {d['from']} -> {d['to']} ({d['endpoints']} bit{'s' if d['endpoints'] != 1 else ''})")
    return lines
