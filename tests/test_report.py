"""`eie report paper` on a reduced run: every Markdown table row equals the JSON behind it,
the HTML references every figure the report claims, Table IV's arithmetic holds when
recomputed here, and bad arguments end in exit 2 with nothing written."""

import ast
import contextlib
import io
import json
import math
import re
import statistics
from pathlib import Path

import numpy as np
import pytest
from conftest import fc8_file

import eie.report
from eie.bench import load_specs, make_layer
from eie.cli import main
from eie.config import EIEConfig
from eie.errors import InputError
from eie.pipeline import run_layer
from eie.report import Column, Doc, Figure, Table, write_report
from eie.sweep import Progress

# Small stand-ins named like paper layers, so the paper's platform figures attach to them.
SPEC = """
[[layer]]
name = "Alex-8"
n_in = 640
n_out = 256
weight_density = 0.25
act_density = 0.375
paper_actual_us = 9.9
paper_theoretical_us = 8.9
seed = 8

[[layer]]
name = "NT-We"
n_in = 512
n_out = 96
weight_density = 0.1
act_density = 1.0
paper_actual_us = 8.0
paper_theoretical_us = 5.2
seed = 26

[[layer]]
name = "small"
n_in = 200
n_out = 130
weight_density = 0.2
act_density = 0.5
seed = 3
"""
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# a captured eie synth --json record (ECP5-25k reference configuration, bench/synth.py)
FPGA = Path(__file__).resolve().parents[1] / "reports" / "fpga"        # the committed eie synth records


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    spec = tmp / "spec.toml"
    spec.write_text(SPEC)
    out = tmp / "paper"
    args = ["report", "paper", "--spec", spec, "--out", out, "--queue-depths", "1,8", "--line-widths", "32,64,128",
            "--pe-counts", "1,4,64", "--jobs", "2"]
    fc8 = fc8_file()
    if fc8.exists():
        args += ["--fc8", fc8]
    args += ["--fpga", FPGA]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    assert code == 0, err.getvalue()
    manifest = json.loads((out / "data" / "manifest.json").read_text())
    return {"out": out, "spec": spec, "manifest": manifest, "stderr": err.getvalue(), "fc8": fc8.exists()}


def _md_tables(md: str) -> dict:
    """{json path: (header cells, [row cells])} for every table in the Markdown."""
    lines = md.splitlines()
    tables = {}
    for i, line in enumerate(lines):
        m = re.fullmatch(r"<!-- data: (data/\S+\.json) -->", line)
        if not m:
            continue
        j = i + 1
        while not lines[j].startswith("|"):
            j += 1
        header = [c.strip() for c in lines[j].strip("|").split("|")]
        rows = []
        j += 2                                   # skip the alignment row
        while j < len(lines) and lines[j].startswith("|"):
            rows.append([c.strip() for c in lines[j].strip("|").split("|")])
            j += 1
        tables[m.group(1)] = (header, rows)
    return tables


def _check_cell(text: str, col: dict, value):
    where = f"column {col['header']!r}: {text!r} vs {value!r}"
    if value is None:
        assert text == "–", where
        return
    if col["kind"] == "text":
        assert text == str(value), where
        return
    if col["kind"] == "bool":
        assert text == ("yes" if value else "no"), where
        return
    num = text.removesuffix(col["suffix"]).replace(",", "")
    parsed = float(num)
    decimals = 0 if col["kind"] == "int" else col["decimals"]
    assert abs(parsed - value) <= 0.5 * 10.0 ** -decimals * (1 + 1e-9) + 1e-12 * abs(value), where


def test_every_markdown_table_row_matches_its_json(report):
    out, manifest = report["out"], report["manifest"]
    tables = _md_tables((out / "report.md").read_text())
    assert sorted(tables) == sorted(f"data/{name}.json" for name in manifest["tables"])
    assert "table4" in manifest["tables"] and "energy_saving" in manifest["tables"]
    checked = 0
    for path, (header, rows) in tables.items():
        data = json.loads((out / path).read_text())
        cols = data["columns"]
        assert header == [c["header"] for c in cols], path
        assert len(rows) == len(data["rows"]), path
        for cells, row in zip(rows, data["rows"], strict=True):
            assert len(cells) == len(cols), path
            for text, col in zip(cells, cols, strict=True):
                _check_cell(text, col, row.get(col["key"]))
                checked += 1
    assert checked > 200


def test_html_references_every_figure_it_claims(report):
    out, manifest = report["out"], report["manifest"]
    html = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    claimed = set(manifest["figures"])
    assert claimed == set(re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", md))
    assert claimed == set(re.findall(r'<img src="([^"]+)"', html))
    assert {"fig8_queue_depth.png", "fig9_line_width.png", "fig11_speedup_pes.png", "fig12_real_work_pes.png",
            "fig13_load_efficiency_pes.png", "energy_breakdown_shares.png"} <= claimed
    for png in claimed:
        data = (out / png).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) < 400_000, png
        assert (out / "data" / png.replace(".png", ".json")).exists()
    for name in manifest["tables"]:
        assert f'id="table-{name}"' in html
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == manifest["files"]
    assert "<link" not in html and "<script" not in html                   # self-contained: nothing fetched


def test_table4_arithmetic_recomputed(report):
    rows = json.loads((report["out"] / "data" / "table4.json").read_text())["rows"]
    specs = {s.name: s for s in load_specs(report["spec"])}
    for row in rows:
        assert row["time_us"] == pytest.approx(row["cycles"] / 800.0)
        assert row["theoretical_us"] == pytest.approx(row["useful_macs"] / (64 * 800.0))
        paper = row["paper_actual_us"]
        if paper is None:
            assert row["diff_pct"] is None and row["within"] is None
            continue
        diff = (row["cycles"] / 800.0 - paper) / paper * 100.0
        assert row["diff_pct"] == pytest.approx(diff)
        assert row["within"] == (abs(diff) <= 15.0)
        if row["paper_theoretical_us"]:
            assert row["theor_diff_pct"] == pytest.approx(
                100 * (row["theoretical_us"] - row["paper_theoretical_us"]) / row["paper_theoretical_us"])
    # the report's numbers are the bench path's numbers (same layer, same configuration)
    rec, _ = run_layer(make_layer(specs["NT-We"]), EIEConfig(), check_capacity=False)
    nt = next(r for r in rows if r["layer"] == "NT-We")
    assert (nt["cycles"], nt["useful_macs"]) == (rec["cycles"], rec["useful_macs"])


def test_sweeps_and_energy_are_consistent(report):
    data = report["out"] / "data"
    t4 = {r["layer"]: r for r in json.loads((data / "table4.json").read_text())["rows"]}
    fig8 = json.loads((data / "fig8_queue_depth.json").read_text())["panels"][0]
    i8 = fig8["x"].index(8)
    for s in fig8["series"]:                       # depth 8 is the Table IV point
        assert s["y"][i8] == pytest.approx(t4[s["label"]]["load_eff_pct"])
    fig11 = json.loads((data / "fig11_speedup_pes.json").read_text())["panels"][0]
    assert fig11["x"] == [1, 4, 64] and all(s["y"][0] == 1.0 for s in fig11["series"])
    saving = json.loads((data / "energy_saving.json").read_text())["rows"]
    dram = {r["layer"]: r for r in json.loads((data / "energy_dram.json").read_text())["rows"]}
    for r in saving:
        if r["layer"] == "paper":
            assert r["total"] == pytest.approx(120 * 10 * 8 * 3)
            continue
        prod = r["dram_to_sram"] * r["sparsity"] * r["weight_sharing"] * r["zero_activations"] * r["overheads"]
        assert prod == pytest.approx(r["total"])
        assert r["total"] == pytest.approx(dram[r["layer"]]["dense_dram_over_eie"])
    energy = json.loads((data / "energy_breakdown.json").read_text())["rows"]
    for r in energy:
        parts = sum(r[k] for k in ("spmat_read", "ptr_read", "arith", "act_rw", "act_queue", "ccu", "static"))
        assert parts == pytest.approx(r["total_uj"])
    machine = json.loads((data / "this_machine.json").read_text())["rows"]
    for r in machine[:-1]:
        assert r["numpy_dense_us"] > 0 and r["speedup_numpy"] == pytest.approx(r["numpy_dense_us"] / r["eie_us"])
    speed = json.loads((data / "speedup_dense.json").read_text())["rows"]
    alex = next(r for r in speed if r["layer"] == "Alex-8")
    assert alex["cpu_us"] == 1134.9 and alex["cpu_paper"] == pytest.approx(1134.9 / 9.9)


def test_progress_and_fc8(report):
    assert "eie report [" in report["stderr"] and "100%" in report["stderr"]
    if not report["fc8"]:
        pytest.skip("real FC8 layer not available")
    rows = json.loads((report["out"] / "data" / "fc8_check.json").read_text())["rows"]
    assert rows[1]["cycles"] == 7926 and rows[1]["match"] is True    # the authors' simulator, 8-slot ring
    assert "7,926" in (report["out"] / "report.md").read_text()


@pytest.mark.parametrize("extra, message", [
    (["--pe-counts", "0,4"], "--pe-counts: pes must be an integer in [1, 4096], not 0"),
    (["--queue-depths", "a,b"], "--queue-depths must be a comma-separated list of integers, not 'a,b'"),
    (["--line-widths", "60"], "--line-widths: line_bits must be a multiple"),
    (["--layers", "Alex-9"], "--layers names 'Alex-9', not in the spec"),
    (["--fc8", "missing.npz"], "--fc8 'missing.npz' does not exist"),
    (["--jobs", "0"], "--jobs must be an integer >= 1, not 0"),
])
def test_bad_arguments_exit_2_and_write_nothing(tmp_path, capsys, extra, message):
    out = tmp_path / "rep"
    code = main(["report", "paper", "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("eie: error: ") and message in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_existing_output_needs_force(tmp_path, capsys):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert main(["report", "paper", "--out", str(out)]) == 2
    assert "exists and is not empty: use --force" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    afile = tmp_path / "file"
    afile.write_text("x")
    assert main(["report", "paper", "--out", str(afile)]) == 2
    assert "is not a directory" in capsys.readouterr().err
    assert main(["report", "paper", "--out", str(tmp_path / "no" / "dir")]) == 2
    assert "does not exist" in capsys.readouterr().err


def _doc(fig_name):
    doc = Doc("t")
    doc.table(Table("t1", "a table", [Column("k", "k", "text"), Column("v", "v", "num", 1, "x")],
                    [{"k": "a", "v": 1.25}]))
    doc.figure(Figure(fig_name, "a figure", {"panels": [{"type": "line", "x": [1, 2], "series": [
        {"label": "s", "y": [1.0, 2.0]}]}]}))
    return doc


def test_force_replaces_own_files_and_keeps_others(tmp_path):
    out = tmp_path / "rep"
    write_report(_doc("fig_a"), {}, out)
    assert (out / "fig_a.png").read_bytes().startswith(PNG_MAGIC)
    assert "| a | 1.2x |" in (out / "report.md").read_text()              # 1.25 rounds half to even
    (out / "mine.txt").write_text("keep")
    with pytest.raises(InputError, match="use --force"):
        write_report(_doc("fig_b"), {}, out)
    write_report(_doc("fig_b"), {}, out, force=True)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["data", "fig_b.png", "mine.txt", "report.html", "report.md"]
    assert not any(p.name.startswith(".rep") for p in tmp_path.iterdir())     # no temporary left behind


def _snapshot(d):
    """Every path under ``d`` with what it is: a link's target, a file's bytes, or a directory."""
    return {str(p.relative_to(d)): ("link", str(p.readlink())) if p.is_symlink() else
            ("file", p.read_bytes()) if p.is_file() else ("dir", None) for p in sorted(d.rglob("*"))}


SMALL = ["--layers", "Alex-8", "--queue-depths", "4", "--line-widths", "64", "--pe-counts", "64", "--no-timing",
         "--jobs", "1"]


@pytest.mark.parametrize("kind", ["symlink", "directory"])
def test_force_refuses_a_link_or_directory_in_place_of_a_report_file(kind, tmp_path, capsys):
    """``--force`` replaces the report's regular files only: a symbolic link or a directory
    where ``report.md`` goes is refused before anything runs or is written, the link's
    target and every other file untouched."""
    out = tmp_path / "rep"
    write_report(_doc("fig_a"), {}, out)
    target = tmp_path / "target.txt"
    target.write_text("precious\n")
    (out / "report.md").unlink()
    if kind == "symlink":
        (out / "report.md").symlink_to(target)
    else:
        (out / "report.md").mkdir()
    before = _snapshot(tmp_path)
    assert main(["report", "paper", *SMALL, "--out", str(out), "--force"]) == 2
    err = capsys.readouterr().err
    what = "a symbolic link" if kind == "symlink" else "a directory"
    assert err == f"eie: error: {str(out / 'report.md')!r} is {what}: eie only replaces regular files\n"
    assert _snapshot(tmp_path) == before and target.read_text() == "precious\n"


def test_a_directory_in_place_of_a_figure_is_refused_before_any_file_moves(tmp_path):
    """A figure's name is known once the document is: a directory there is refused before
    the first file of the report is replaced (no half-updated report, no temporary left)."""
    out = tmp_path / "rep"
    write_report(_doc("fig_a"), {}, out)
    (out / "fig_b.png").mkdir()
    before = _snapshot(tmp_path)
    with pytest.raises(InputError, match=r"fig_b\.png' is a directory: eie only replaces regular files"):
        write_report(_doc("fig_b"), {}, out, force=True)
    assert _snapshot(tmp_path) == before


def test_progress_bar_plain_text():
    s = io.StringIO()
    p = Progress(20, "sweep", stream=s)
    for _ in range(20):
        p.advance(1, "x")
    p.close()
    lines = s.getvalue().splitlines()
    assert len(lines) == 11 and lines[-1].startswith("sweep [") and "20/20 100%" in lines[-1]


def test_cell_format_rounding_matches_python():
    from eie.report.doc import format_cell
    assert format_cell(Column("d", "d", "signed", 1, " %"), -17.04) == "-17.0 %"
    assert format_cell(Column("n", "n", "int"), 7926) == "7,926"
    assert format_cell(Column("n", "n", "num", 2), None) == "–"
    assert math.isclose(float(format_cell(Column("n", "n", "num", 3), np.float64(0.1234)).replace(",", "")), 0.123)


def test_fpga_section_recomputed_from_the_records(report):
    rows = json.loads((report["out"] / "data" / "fpga.json").read_text())["rows"]
    recs = [r for r in (json.loads(f.read_text()) for f in FPGA.glob("*.json")) if "fmax_mhz" in r]
    assert len(rows) == len(recs) >= 1
    # every record is one row, its figures recomputed here from its seeds
    for rec in recs:
        fmax = [s["fmax_mhz"] for s in rec["seeds"]]
        mine = [row for row in rows if row["fmax_median"] == pytest.approx(statistics.median(fmax))
                and (row["fmax_worst"], row["fmax_best"]) == (min(fmax), max(fmax))
                and row["luts"] == rec["resources"]["luts"]["used"]]
        assert len(mine) == 1, rec.get("part")
        row = mine[0]
        assert row["gmacs"] == pytest.approx(rec["config"]["pes"] * statistics.median(fmax) / 1000)
        assert row["brams"] == rec["resources"]["brams"]["used"] and row["pes"] == rec["config"]["pes"]
    # the table's order: the family, then the PE count
    keys = [(row["device"].split()[0].lower(), row["pes"]) for row in rows]
    assert keys == sorted(keys)
    md = (report["out"] / "report.md").read_text()
    assert "4. The RTL on FPGAs" in md and "No FPGA results" not in md


def test_fpga_directory_errors_exit_2_before_running(tmp_path, capsys):
    code = main(["report", "paper", "--fpga", str(tmp_path / "none"), "--out", str(tmp_path / "o")])
    assert code == 2 and "FPGA results directory" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_report_layer_does_not_import_the_hardware_flow():
    # eie.report sits below eie.hdl (synth imports eie.report.fpga): no module of the report
    # may import the RTL flow, not even inside a function.
    report_dir = Path(eie.report.__file__).parent
    found = []
    for f in sorted(report_dir.glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [("eie." if node.level == 2 else "eie.report." if node.level == 1 else "")
                         + (node.module or "")]
            else:
                continue
            found += [f"{f.name}: {n}" for n in names if n == "eie.hdl" or n.startswith("eie.hdl.")]
    assert found == []


def test_alpha_window_hand_worked():
    from eie.report.metrics import alpha_common, alpha_inside, alpha_window
    # reads 10, 6, 4 at 32, 64, 128 bits: 64 is cheapest for log(6/4)/log 2 < α < log(10/6)/log 2
    row = alpha_window("L", [32, 64, 128], [10, 6, 4])
    assert row["r32"] == pytest.approx(10 / 6) and row["r128"] == pytest.approx(4 / 6)
    assert row["alpha_low"] == pytest.approx(math.log2(1.5)) and row["alpha_high"] == pytest.approx(math.log2(10 / 6))
    assert row["window"] and alpha_inside(0.6, row) and not alpha_inside(1.0, row)
    # halving reads exactly at every doubling (dense inputs): the window is empty
    flat = alpha_window("D", [32, 64, 128], [8, 4, 2])
    assert not flat["window"] and not alpha_common([row, flat])


def test_published_numbers_are_read_only():
    from eie.report.energy_metrics import implied_platform_w, paper_saving_row
    from eie.report.published import HEADLINES, PAPER_PLATFORMS_US, PAPER_SAVING
    with pytest.raises(TypeError):
        PAPER_SAVING["sparsity"] = 1.0
    with pytest.raises(TypeError):
        PAPER_PLATFORMS_US["Alex-8"]["cpu"] = (1.0, 1.0)
    assert paper_saving_row()["total"] == pytest.approx(120 * 10 * 8 * 3)
    # 24,000x less energy at 189x the speed: the i7 draws 24000 / 189 x 590 mW
    assert implied_platform_w()["cpu"] == pytest.approx(0.59 * 24000 / 189) and HEADLINES["cpu"] == (189, 24000)
