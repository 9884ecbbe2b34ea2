"""`eie board`: PLL settings against the vendors' published ranges and IceStorm's own
answer, UART divisors, the refusals (exit 2, one line naming the fix) before any tool
runs, and one real build per board (slow; marked synth)."""

import hashlib
import json
import re

import pytest

from eie import cli
from eie.config import EIEConfig
from eie.errors import InputError
from eie.flow.board import BOARDS, board_clock, build_board, format_board, uart_divisor
from eie.flow.synth import DEVICES, DoesNotFit
from eie.hdl.params import HWConfig
from eie.hdl.pll import ecp5_pll, ice40_pll


def one_error(code, err):
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("eie: error: "), err
    return lines[0]


# ---- PLLs ---------------------------------------------------------------------------------------
def test_ice40_pll_matches_icepll():
    # `icepll -i 12 -o 48`: DIVR 0, DIVF 63, DIVQ 4, FILTER_RANGE 1 (the iCEBreaker's 48 MHz)
    pll = ice40_pll(12, 48)
    assert pll.f_out == 48 and pll.params == {"FEEDBACK_PATH": "SIMPLE", "DIVR": 0, "DIVF": 63, "DIVQ": 4,
                                              "FILTER_RANGE": 1}


@pytest.mark.parametrize("f_out", [16, 24, 30, 36.5, 50, 66, 100])
def test_ice40_pll_within_ranges(f_out):
    pll = ice40_pll(12, f_out)
    p = pll.params
    pfd = 12 / (p["DIVR"] + 1)
    assert 10 <= pfd <= 133 and 533 <= pll.f_vco <= 1066 and pll.f_vco == pytest.approx(pfd * (p["DIVF"] + 1))
    assert pll.f_out == pytest.approx(pll.f_vco / 2 ** p["DIVQ"]) and abs(pll.f_out - f_out) / f_out < 0.02


@pytest.mark.parametrize("f_out", [25, 40, 50, 62.5, 75, 100, 125, 150])
def test_ecp5_pll_within_ranges(f_out):
    pll = ecp5_pll(25, f_out)
    p = pll.params
    pfd = 25 / p["CLKI_DIV"]
    assert 3.125 <= pfd <= 400 and 400 <= pll.f_vco <= 800
    assert pll.f_out == pytest.approx(pfd * p["CLKFB_DIV"]) and pll.f_vco == pytest.approx(pll.f_out * p["CLKOP_DIV"])
    assert pll.f_out == pytest.approx(f_out)


def test_pll_ranges_are_checked():
    with pytest.raises(ValueError, match=r"iCE40 PLL output must be in \[16, 275\] MHz, not 12"):
        ice40_pll(12, 12)
    with pytest.raises(ValueError, match=r"ECP5 PLL input must be in \[8, 400\] MHz, not 5"):
        ecp5_pll(5, 50)


# ---- clocks and baud rates ------------------------------------------------------------------------
def test_board_clock_and_divisor():
    assert board_clock(BOARDS["icebreaker"], None) == (12.0, None)
    f, pll = board_clock(BOARDS["ulx3s"], None)
    assert f == 50 and pll.family == "ecp5"
    assert uart_divisor(12, 1_000_000) == 12 and uart_divisor(50, 115_200) == 434
    with pytest.raises(InputError, match=r"--baud 3000000 is 4.2% off at 25 MHz \(8 cycles per bit\): .* \(e.g. 3125000\)"):
        uart_divisor(25, 3_000_000)
    with pytest.raises(InputError, match="at least 4 clock cycles per bit"):
        uart_divisor(12, 6_000_000)
    with pytest.raises(InputError, match="--clock-mhz 10: the iCE40 PLL output must be in"):
        board_clock(BOARDS["icebreaker"], 10)


# ---- refusals before any tool runs --------------------------------------------------------------
def test_cli_refusals(tmp_path, capsys):
    def run(*args):
        code = cli.main([str(a) for a in args])
        return one_error(code, capsys.readouterr().err)

    assert "TARGET must be one of ulx3s, ulx3s-25f, ulx3s-45f, icebreaker, hx8k-breakout, not 'arty'" in run(
        "board", "arty", "-o", tmp_path / "a")
    msg = run("board", "icebreaker", "--pes", 4, "-o", tmp_path / "b")
    assert "does not fit" in msg and "reduce --pes" in msg
    msg = run("board", "ulx3s", "--pes", 32, "-o", tmp_path / "c")
    assert "does not fit Radiona ULX3S" in msg and "DP16KD" in msg
    assert "--baud 7000000 needs at least 4 clock cycles per bit" in run("board", "icebreaker", "--baud", 7_000_000,
                                                                          "-o", tmp_path / "d")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert "is not empty" in run("board", "icebreaker", "-o", tmp_path / "full")
    assert "--clock-mhz must be in [1, 500] MHz for a board" in run("board", "ulx3s", "--clock-mhz", 900, "-o",
                                                                    tmp_path / "e")
    assert "--clock-mhz 10: the iCE40 PLL output must be in" in run("board", "icebreaker", "--clock-mhz", 10, "-o",
                                                                     tmp_path / "f")
    assert "--seed lists a seed twice (1 2 1): give each once" in run("board", "icebreaker", "--seed", 1, 2, 1, "-o",
                                                                     tmp_path / "g")
    assert "--seed takes integers in [0, 2147483647] (nextpnr reads a 32-bit int), not -3" in run("board", "icebreaker", "--seed", -3, "-o", tmp_path / "h")
    # seeds before the board: the board is the board, not a third seed (argparse alone would
    # read it as one), and the options after it still count
    assert "--seed lists a seed twice (2 2)" in run("board", "--seed", 2, 2, "icebreaker", "-o", tmp_path / "i")
    assert "--baud 7000000 needs" in run("board", "--seed", 1, 2, "icebreaker", "--baud", 7_000_000, "-o",
                                         tmp_path / "j")
    # an abbreviation argparse accepts is the same option; a later --seed still wins over an earlier one
    assert "--seed lists a seed twice (4 4)" in run("board", "--se", 4, 4, "icebreaker", "-o", tmp_path / "j")
    assert "--seed lists a seed twice (3 3)" in run("board", "--seed", 1, "icebreaker", "--seed", 3, 3, "-o",
                                                    tmp_path / "j")
    # the "=" form takes the integers after it too (argparse alone takes one and reads the next as the board)
    assert "--seed lists a seed twice (5 5)" in run("board", "--seed=5", 5, "icebreaker", "-o", tmp_path / "j")
    assert "--seed lists a seed twice (6 6)" in run("board", "--se=6", 6, "icebreaker", "-o", tmp_path / "j")
    assert "--floorplan on places ECP5 block RAMs; ice40 has no floorplan" in run("board", "icebreaker", "--floorplan",
                                                                                   "on", "-o", tmp_path / "k")
    assert not any((tmp_path / n).exists() for n in "abcdefghijk")


def test_out_must_be_a_real_directory(tmp_path, capsys, monkeypatch):
    """``-o LINK`` (a symbolic link to a directory), ``-o FILE`` and ``-o -`` are refused
    like ``eie compile -o`` before anything is elaborated, and nothing is written through
    the link."""
    import eie.flow.board as board_flow

    def no_build(*args, **kw):
        raise AssertionError("the design was elaborated: the output directory was not refused")

    monkeypatch.setattr(board_flow, "_write_design", no_build)
    target = tmp_path / "target"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out, message in ((link, f"--out directory {str(link)!r} is not a directory (it is a symbolic link)"),
                         (afile, f"--out directory {str(afile)!r} is not a directory (it is a regular file)"),
                         ("-", "--out directory cannot be '-' (standard output)")):
        for force in ([], ["--force"]):
            code = cli.main(["board", "ulx3s", "--pes", "1", "-o", str(out), *force])
            assert message in one_error(code, capsys.readouterr().err)
    assert list(target.iterdir()) == [] and afile.read_text() == "x"
    assert not (tmp_path / "-").exists()
    # --force into a directory: a link or a directory where the build puts one of its own
    # files is refused (the build would write through it); the user's other files do not matter
    for name, make in (("board.json", lambda p: p.symlink_to(afile)), ("eie_board.bit", lambda p: p.mkdir()),
                       ("build_eie_board.sh", lambda p: p.symlink_to(afile)),
                       ("eie_board-s3-ripup.tim", lambda p: p.symlink_to(afile)),
                       ("site-probe", lambda p: p.symlink_to(target))):
        d = tmp_path / f"d-{name}"
        d.mkdir()
        (d / "notes.txt").symlink_to(afile)
        (d / "eie_board_old").mkdir()                   # the user's, not a name the build writes
        make(d / name)
        code = cli.main(["board", "ulx3s", "--pes", "1", "-o", str(d), "--force"])
        assert f"{str(d / name)!r} is " in one_error(code, capsys.readouterr().err)
    assert afile.read_text() == "x"


def test_wrong_vendor_is_refused(tmp_path):
    with pytest.raises(InputError, match="must use the ecp5 primitives"):
        build_board("ulx3s", HWConfig(EIEConfig(pes=1)), tmp_path / "x")
    with pytest.raises(InputError, match="--tmg-ripup must be one of off, on, auto, not 'sometimes'"):
        build_board("ulx3s", HWConfig(EIEConfig(pes=1), vendor="ecp5"), tmp_path / "y", tmg_ripup="sometimes")
    assert not (tmp_path / "y").exists()


@pytest.mark.parametrize("target, prim, port", [("icebreaker", "SB_PLL40_PAD", "PACKAGEPIN"),
                                               ("hx8k-breakout", "SB_PLL40_CORE", "REFERENCECLK")])
def test_ice40_pll_takes_the_clock_where_the_board_wires_it(target, prim, port, tmp_path):
    """The iCEBreaker's oscillator pin is the PLL's own pad (SB_PLL40_PAD on the pin); the
    HX8K breakout's (J3) is not, so the clock goes through the pin's buffer into SB_PLL40_CORE
    (both built for real: reports/fpga/boards).  The divider values are the PLL's settings; at
    the oscillator's own clock there is no PLL."""
    from eie.flow.board import _write_design
    board = BOARDS[target]
    hw = HWConfig(EIEConfig(**board.config), vendor="ice40")
    dev = DEVICES["ice40"][board.device]
    f, pll = board_clock(board, 48)
    assert f == 48.0
    _write_design(board, dev, hw, tmp_path / "p", divisor=48, resync=960, pll=pll)
    il = (tmp_path / "p" / "eie_board.il").read_text()
    cell = il[il.index(f"cell \\{prim} "):]
    cell = cell[:cell.index("end\n")]
    other = {"SB_PLL40_PAD", "SB_PLL40_CORE"} - {prim}
    assert f"connect \\{port} " in cell and not any(f"cell \\{o} " in il for o in other)
    for name in ("DIVR", "DIVF", "DIVQ"):
        assert re.search(rf"parameter \\{name} {pll.params[name]}\b", cell), name
    _write_design(board, dev, hw, tmp_path / "q", divisor=12, resync=240, pll=None)
    assert "SB_PLL40" not in (tmp_path / "q" / "eie_board.il").read_text()


#: the stand-in yosys's netlist: one flip-flop behind one LUT (the record's logic levels)
NETLIST = json.dumps({"modules": {"top": {"attributes": {"top": "00000000000000000000000000000001"}, "cells": {
    "l": {"type": "SB_LUT4", "port_directions": {"I0": "input", "O": "output"}, "connections": {"I0": [2], "O": [3]}},
    "q": {"type": "SB_DFF", "port_directions": {"C": "input", "D": "input", "Q": "output"},
          "connections": {"C": [1], "D": [3], "Q": [2]}}}}}})


def _stand_in_tools(monkeypatch, stat: str, pnr_log: str, calls=None, pnr_cmds=None):
    """yosys, nextpnr and the packer replaced by stand-ins that write ``stat`` and
    ``pnr_log`` and a placed design and bitstream; ``calls`` collects the tools run,
    ``pnr_cmds`` nextpnr's command lines."""
    import eie.flow.board as fb

    def fake_run(cmd, cwd, what, log):
        if calls is not None:
            calls.append(what)
        if what == "yosys":
            (cwd / "stat.txt").write_text(stat)
            (cwd / "eie_board.json").write_text(NETLIST)
        elif what == "nextpnr":
            if pnr_cmds is not None:
                pnr_cmds.append(cmd)
            log.write_text(pnr_log)
            placed = "--textcfg" if "--textcfg" in cmd else "--asc"
            (cwd / cmd[cmd.index(placed) + 1]).write_text("placed")
        else:
            (cwd / ("eie_board.bit" if what == "ecppack" else "eie_board.bin")).write_bytes(b"\0" * 16)
        return 0.1

    monkeypatch.setattr(fb, "_run", fake_run)
    monkeypatch.setattr(fb, "_tool", lambda name: name)


ULX3S = [name for name, b in BOARDS.items() if "ULX3S" in b.platform]


def test_every_ulx3s_fpga_is_offered_but_the_12f():
    assert sorted(ULX3S) == ["ulx3s", "ulx3s-25f", "ulx3s-45f"]
    assert BOARDS["ulx3s"].platform.endswith("ULX3S_85F_Platform")


@pytest.mark.parametrize("target", ULX3S)
def test_ulx3s_part_is_the_boards_own(target):
    """Each ULX3S target's device in the flow (nextpnr's die, the fit checks' capacities) is
    the FPGA of its amaranth-boards platform: part, package and speed grade agree."""
    board = BOARDS[target]
    plat = board.make_platform()
    dev = DEVICES["ecp5"][board.device].graded(board.speed)
    # Lattice's ordering code names the caBGA381 package "BG381"; nextpnr calls it CABGA381
    assert dev.part == f"{plat.device}-{plat.speed}{dev.package}" and dev.package == "CABGA" + plat.package[2:]
    assert dev.pnr_args == (f"--{plat.device.split('-')[1][:-1].lower()}k",)
    assert board.osc_mhz == plat.default_clk_frequency / 1e6


@pytest.mark.parametrize("target", ULX3S)
def test_ulx3s_builds_target_their_own_die(target, tmp_path, monkeypatch):
    """With stand-in tools: nextpnr runs on the board's die and package, the PLL takes the
    oscillator to the default clock, the resources are counted against that FPGA's."""
    cmds = []
    board = BOARDS[target]
    dev = DEVICES["ecp5"][board.device]
    _stand_in_tools(monkeypatch, "  1000 cells\n   900   LUT4\n   500   TRELLIS_FF\n    12   DP16KD\n     1   MULT18X18D\n",
                    "Info: Max frequency for clock 'clk': 90.00 MHz (FAIL at 150.00 MHz)\n", pnr_cmds=cmds)
    hw = HWConfig(EIEConfig(**dict(board.config, pes=1)), vendor="ecp5")
    rec = build_board(target, hw, tmp_path / "b", floorplan="none").to_dict()
    (cmd,) = cmds
    die = {"ulx3s": "--85k", "ulx3s-25f": "--25k", "ulx3s-45f": "--45k"}[target]
    assert die in cmd and not {"--25k", "--45k", "--85k"} - {die} & set(cmd)
    assert cmd[cmd.index("--package") + 1] == "CABGA381"
    assert cmd[cmd.index("--speed") + 1] == "6"
    assert rec["clock_mhz"] == 50.0 and rec["pll"]["f_out_mhz"] == 50.0 and rec["timing_met"]
    # 12 DP16KD per PE of the default array (8 for 16 KiB of lines, 2 pointer banks, 2
    # activation banks): the FPGA's 56 / 108 / 208 hold 4 / 9 / 17 of them
    assert rec["max_pes_by_bram"] == {"ulx3s": 17, "ulx3s-25f": 4, "ulx3s-45f": 9}[target]
    assert f"block RAM for {rec['max_pes_by_bram']} PE(s) of this configuration" in format_board(rec)
    # the block-RAM fit check before any tool runs is the FPGA's: 5 PEs need 60 DP16KD, more
    # than the 25F's 56 (the 45F has 108, the 85F 208: the datasheet's EBR counts)
    assert dev.brams == {"ulx3s": 208, "ulx3s-25f": 56, "ulx3s-45f": 108}[target]
    cmds.clear()
    five = HWConfig(EIEConfig(**dict(board.config, pes=5)), vendor="ecp5")
    if target == "ulx3s-25f":
        with pytest.raises(DoesNotFit, match=r"60 .*56: at most 4 PE\(s\) of this configuration fit"):
            build_board(target, five, tmp_path / "c", floorplan="none")
        assert not cmds
    else:
        build_board(target, five, tmp_path / "c", floorplan="none")
        assert len(cmds) == 1


def test_ecp5_board_reset_goes_through_a_global_buffer(tmp_path):
    """On ECP5 the synchronised reset drives a DCCA whose output is the design's reset (so
    nextpnr puts it on a primary clock network; as a fabric net it was the 4-PE ULX3S-25F's
    worst path, 58.3 MHz); iCE40 keeps the plain synchroniser."""
    from eie.flow.board import _write_design
    board = BOARDS["ulx3s-25f"]
    hw = HWConfig(EIEConfig(**dict(board.config, pes=1)), vendor="ecp5")
    _, pll = board_clock(board, None)
    _write_design(board, DEVICES["ecp5"]["25k"], hw, tmp_path / "e", divisor=50, resync=1000, pll=pll)
    il = (tmp_path / "e" / "eie_board.il").read_text()
    (cell,) = re.findall(r"cell \\DCCA \S+\n(.*?)  end\n", il, re.S)
    clko = re.search(r"connect \\CLKO (\S+)", cell)[1]
    clki = re.search(r"connect \\CLKI (\S+)", cell)[1]
    assert clko == "\\rst" and "rst_sync" in clki
    # every flip-flop reset of the array is that net: the sync domain's reset port of the core
    assert re.search(r"connect \\rst \\rst\b", il)
    ice = BOARDS["icebreaker"]
    _write_design(ice, DEVICES["ice40"]["up5k"], HWConfig(EIEConfig(**ice.config), vendor="ice40"), tmp_path / "i",
                  divisor=12, resync=240, pll=None)
    assert "DCCA" not in (tmp_path / "i" / "eie_board.il").read_text()


# ---- one real build per board --------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.synth
@pytest.mark.parametrize("target, args", [("icebreaker", []), ("ulx3s", ["--pes", "1"])], ids=["icebreaker", "ulx3s-1pe"])
def test_real_board_build(target, args, tmp_path, capsys):
    """A real build of each board: a bitstream, Fmax above the board clock, JSON with the
    bitstream path, fmax_mhz, the clock and resources.  iCEBreaker: the default (1 PE at the
    12 MHz oscillator, 86 % of the UP5K: the default closest to its device's limit).  ULX3S:
    the whole flow of the default (the 85F, the PLL from 25 to 50 MHz, the UART bridge, the
    block-RAM floorplan, ecppack) on 1 PE (~50 s); its default 4-PE build is ~4.5 min of
    nextpnr and is bench/boards.py's (reports/fpga/boards)."""
    out = tmp_path / "build"
    code = cli.main(["board", target, *args, "-o", str(out), "--json", str(tmp_path / "b.json")])
    assert code == 0, capsys.readouterr().err
    rec = json.loads((tmp_path / "b.json").read_text())
    assert rec["pes"] == (1 if args else BOARDS[target].config["pes"])
    assert rec["bitstream"] and (out / rec["bitstream"].rsplit("/", 1)[1]).stat().st_size > 10_000
    assert rec["fmax_mhz"] >= rec["clock_mhz"] == BOARDS[target].clock_mhz and rec["timing_met"]
    assert rec["resources"]["luts"]["used"] > 0 and rec["resources"]["brams"]["used"] > 0
    assert (rec["pll"] is not None) == (target == "ulx3s")
    assert rec["design_sha256"] == hashlib.sha256((out / "eie_board.il").read_bytes()).hexdigest()
    lv = rec["logic_levels"]                # the board netlist's, UART bridge included
    assert lv["endpoints"] > rec["resources"]["ffs"]["used"] and lv["max"] >= 2
    if target == "ulx3s":
        assert rec["pll"]["f_out_mhz"] == rec["clock_mhz"] == 50 and rec["floorplan"]["applied"]
        # the reset reaches every flip-flop over a primary clock network (its DCCA), not fabric
        log = "\n".join(p.read_text() for p in out.glob("eie_board*.tim"))
        assert "promoting clock net rst to global network" in log and "routing clock net rst using global" in log
    assert json.loads((out / "board.json").read_text())["hw"] == rec["hw"]
    if target == "icebreaker":
        # the descriptor FIFO in block RAM left room for a 16-bit PE with 16 accumulators and a
        # depth-4 queue on the UP5K; placement failed near 90 % of the cells, so keep a margin
        hw = rec["hw"]
        assert hw["desc_fifo"] == "bram" and hw["config"]["act_bits"] == 16 and hw["config"]["queue_depth"] == 4
        assert rec["resources"]["luts"]["used"] < 0.88 * rec["resources"]["luts"]["total"]


def test_hostmap_decode_round_trip():
    from eie.hdl.regmap import GLOBAL_REGS, MEM, HostMap
    hw = HWConfig(EIEConfig(pes=5, regfile_entries=8), spmat_lines=64, ptr_words=32, act_depth=32)
    hm = HostMap(hw)
    for p in range(5):
        for mem in MEM:
            assert hm.decode(hm.pe(p, mem, 13)) == ("pe", p, mem, 13)
    assert hm.decode(hm.bcast("codebook", 7)) == ("bcast", None, "codebook", 7)
    for name, off in GLOBAL_REGS.items():
        assert hm.decode(hm.reg(name)) == ("reg", None, name, off)


STAT = """
     7000 cells
     3000   SB_LUT4
     2700   SB_DFF
        6   SB_RAM40_4K
        1   SB_MAC16
"""
PNR = """Info: Device utilisation:
Info: \t         ICESTORM_LC:    4626/   5280    87%
Info: \t        ICESTORM_RAM:       6/     30    20%
Info: Max frequency for clock 'clk12_0__io': {fmax:.2f} MHz ({verdict} at 12.00 MHz)
"""


@pytest.mark.parametrize("fmax", [9.5, 39.0])
def test_the_clock_decides_with_stand_in_tools(fmax, tmp_path, monkeypatch):
    """With yosys and nextpnr replaced by stand-ins that write their reports: an Fmax below
    the board clock is refused (DoesNotFit, exit 2) and nothing is packed; above it, the
    packer runs and board.json records bitstream, Fmax, clock and resources."""
    calls = []
    _stand_in_tools(monkeypatch, STAT, PNR.format(fmax=fmax, verdict="PASS" if fmax >= 12 else "FAIL"), calls=calls)
    hw = HWConfig(EIEConfig(**BOARDS["icebreaker"].config), vendor="ice40")
    if fmax < 12:
        with pytest.raises(DoesNotFit, match=r"does not meet the board clock: Fmax 9.5 MHz < 12 MHz"):
            build_board("icebreaker", hw, tmp_path / "b")
        assert calls == ["yosys", "nextpnr"] and not (tmp_path / "b" / "board.json").exists()
    else:
        rec = build_board("icebreaker", hw, tmp_path / "b").to_dict()
        assert calls == ["yosys", "nextpnr", "icepack"]
        saved = json.loads((tmp_path / "b" / "board.json").read_text())
        assert saved["fmax_mhz"] == rec["fmax_mhz"] == 39.0 and saved["clock_mhz"] == 12.0
        assert saved["bitstream"].endswith("eie_board.bin") and saved["resources"]["luts"]["used"] == 4626
        assert saved["logic_levels"]["histogram"] == {"1": 1}       # the stand-in netlist's one LUT


def _stand_in_nextpnr(monkeypatch, fmax_of):
    """yosys, nextpnr and icepack replaced: nextpnr's Fmax is ``fmax_of(seed, ripup)``
    (None: the placement fails); each run's placed design names its seed and rip-up, so the
    packed one can be told apart.  Returns the list of nextpnr command lines."""
    import eie.flow.board as fb
    pnr_cmds = []

    def fake_run(cmd, cwd, what, log):
        if what == "yosys":
            (cwd / "stat.txt").write_text(STAT)
            (cwd / "eie_board.json").write_text(NETLIST)
        elif what == "nextpnr":
            pnr_cmds.append(cmd)
            seed, ripup = int(cmd[cmd.index("--seed") + 1]), "--tmg-ripup" in cmd
            fmax = fmax_of(seed, ripup)
            if fmax is None:
                raise DoesNotFit("the design does not fit the board's FPGA: nextpnr: Unable to place cell 'x'")
            log.write_text(PNR.format(fmax=fmax, verdict="PASS" if fmax >= 12 else "FAIL"))
            (cwd / cmd[cmd.index("--asc") + 1]).write_text(f"seed {seed} ripup {ripup}")
        else:
            assert cmd[1] == "eie_board.asc"
            (cwd / "eie_board.bin").write_text((cwd / cmd[1]).read_text())
        return 0.1

    monkeypatch.setattr(fb, "_run", fake_run)
    monkeypatch.setattr(fb, "_tool", lambda name: name)
    return pnr_cmds


def test_seeds_and_ripup_until_the_board_clock_is_met(tmp_path, monkeypatch):
    """Several seeds and ``--tmg-ripup auto``: seeds are tried in order, a seed that does not
    place goes on to the next, a plain run that misses is followed by a rip-up run, and the
    first run that meets the 12 MHz clock is packed (its placed design, not the last run's);
    later seeds never run; every run is in ``attempts``."""
    table = {(1, False): 10.0, (1, True): 11.0, (2, False): None, (3, False): 11.5, (3, True): 13.0,
             (4, False): 20.0}
    cmds = _stand_in_nextpnr(monkeypatch, lambda s, r: table[s, r])
    hw = HWConfig(EIEConfig(**BOARDS["icebreaker"].config), vendor="ice40")
    out = tmp_path / "b"
    rec = build_board("icebreaker", hw, out, seed=[1, 2, 3, 4], tmg_ripup="auto").to_dict()
    runs = [(int(c[c.index("--seed") + 1]), "--tmg-ripup" in c) for c in cmds]
    assert runs == [(1, False), (1, True), (2, False), (3, False), (3, True)]
    assert all(c[c.index("--router") + 1] == "router2" for c in cmds)
    assert not any("--placer-heap-timingweight" in c for c in cmds)      # iCE40: nextpnr's own weight
    assert (rec["seed"], rec["tmg_ripup"], rec["fmax_mhz"], rec["timing_met"]) == (3, True, 13.0, True)
    assert [(a["seed"], a["tmg_ripup"], a.get("fmax_mhz")) for a in rec["attempts"]] == \
        [(1, False, 10.0), (1, True, 11.0), (2, False, None), (3, False, 11.5), (3, True, 13.0)]
    assert "Unable to place" in rec["attempts"][2]["error"]
    assert (out / "eie_board.bin").read_text() == "seed 3 ripup True"
    assert sorted(f.name for f in out.glob("eie_board*.asc")) == ["eie_board.asc"]
    assert {f.name for f in out.glob("eie_board-s*.tim")} == {"eie_board-s1.tim", "eie_board-s1-ripup.tim",
                                                              "eie_board-s3.tim"}
    assert json.loads((out / "board.json").read_text())["attempts"] == rec["attempts"]
    text = format_board(rec)
    assert "13.0 MHz (meets 12 MHz, seed 3, rip-up)" in text
    assert ("runs          seed 1 10.0 MHz, seed 1 rip-up 11.0 MHz, seed 2 did not place, seed 3 11.5 MHz, "
            "seed 3 rip-up 13.0 MHz") in text
    # a plain run that meets the clock is not followed by a rip-up run
    del cmds[:]
    rec4 = build_board("icebreaker", hw, tmp_path / "b4", seed=[4, 1], tmg_ripup="auto").to_dict()
    assert [(int(c[c.index("--seed") + 1]), "--tmg-ripup" in c) for c in cmds] == [(4, False)]
    assert (rec4["seed"], rec4["tmg_ripup"], len(rec4["attempts"])) == (4, False, 1)
    assert "runs " not in format_board(rec4)


@pytest.mark.parametrize("mode", ["off", "on"])
def test_no_seed_meets_the_clock(mode, tmp_path, monkeypatch):
    """``off`` / ``on``: one run per seed, without / with the rip-up; when none meets the
    clock the fastest is reported in the refusal (naming the seeds and what to try) and in
    report.json, and nothing is packed; a build whose only seed does not place is refused."""
    plain = {1: 9.0, 2: 10.5, 3: None}                      # seed 3 does not place
    cmds = _stand_in_nextpnr(monkeypatch, lambda s, r: None if plain[s] is None else plain[s] + (0.5 if r else 0))
    hw = HWConfig(EIEConfig(**BOARDS["icebreaker"].config), vendor="ice40")
    out = tmp_path / "b"
    best = 11.0 if mode == "on" else 10.5
    hint = "--tmg-ripup auto, " if mode == "off" else ""
    with pytest.raises(DoesNotFit, match=rf"Fmax {best} MHz < 12 MHz .*\(the best of seeds 1 2 3, seed 2"
                                         rf"{', with the rip-up' if mode == 'on' else ''}; lower --clock-mhz, or "
                                         rf"--pes, {hint}or more --seed values\)"):
        build_board("icebreaker", hw, out, seed=[1, 2, 3], tmg_ripup=mode)
    assert [("--tmg-ripup" in c) for c in cmds] == [mode == "on"] * 3
    rep = json.loads((out / "report.json").read_text())
    assert (rep["seed"], rep["fmax_mhz"], len(rep["attempts"])) == (2, best, 3) and rep["bitstream"] is None
    assert not (out / "board.json").exists() and not (out / "eie_board.bin").exists()
    with pytest.raises(DoesNotFit, match=r"Unable to place cell 'x' \(seeds tried: 3\)"):
        build_board("icebreaker", hw, tmp_path / "c", seed=3, tmg_ripup=mode)


def test_a_host_word_wider_than_the_bridge_is_refused_before_elaboration(tmp_path, capsys):
    """--line-bits 512 had elaborated and then died on a ValueError traceback (exit 1)."""
    from eie.cli import main
    assert main(["board", "ulx3s", "--line-bits", "512", "--pes", "1", "-o", str(tmp_path / "o")]) == 2
    assert capsys.readouterr() == ("", "eie: error: the host word (data_bits, the widest of line_bits, acc_bits and "
                                       "the others) must be at most 480 bits for the 32-bit bus, not 512: use "
                                       "--line-bits of at most 480\n")
    assert not (tmp_path / "o").exists()
