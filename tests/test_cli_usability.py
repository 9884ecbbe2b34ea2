"""The friction of a first trial of the command line: version, ``-o``, help text with units,
capacity errors that name flags, one rule for missing output directories, the paper
comparison only at the paper's design point, example configurations, the bias report."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import eie
from eie.cli import build_parser, main
from eie.config import EIEConfig
from eie.flow.references import DEVICE_REFERENCES

REPO = Path(__file__).resolve().parents[1]
CB = np.concatenate([[0.0], np.linspace(-1, 1, 15)])


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_error(code, err):
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("eie: error: "), err
    return lines[0]


def subparsers():
    ap = build_parser()
    (sub,) = [a for a in ap._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices


@pytest.fixture
def layer(tmp_path):
    rng = np.random.default_rng(4)
    path = tmp_path / "l.npz"
    codes = (rng.random((32, 48)) < 0.4) * rng.integers(1, 16, (32, 48))
    np.savez(path, codebook=CB, codes=codes, activations=rng.random(48))
    return path


# ---- version, python -m eie ----------------------------------------------------------------
def test_version(capsys):
    assert isinstance(eie.__version__, str) and eie.__version__ and eie.__version__ != "0+unknown"
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"eie {eie.__version__}"
    p = subprocess.run([sys.executable, "-m", "eie", "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == f"eie {eie.__version__}"


# ---- -o, help text -------------------------------------------------------------------------
def test_o_is_short_for_out_everywhere():
    with_out = []
    for name, p in subparsers().items():
        for act in p._actions:
            if "--out" in act.option_strings:
                assert "-o" in act.option_strings, f"eie {name} --out has no -o"
                with_out.append(name)
    assert set(with_out) >= {"compress", "compile", "report", "rtl", "config"}
    assert "-o" in subparsers()["simulate"]._option_string_actions     # its one file output, --output


def test_every_option_has_help():
    ap = build_parser()
    (sub,) = [a for a in ap._actions if isinstance(a, argparse._SubParsersAction)]
    assert all(c.help for c in sub._choices_actions)              # every command says what it does
    for name, p in subparsers().items():
        for act in p._actions:
            assert act.help and act.help != argparse.SUPPRESS and act.help.strip(), \
                f"eie {name} {act.option_strings or act.dest} has no help"


UNITS = [
    ("compress", "--density", "fraction"), ("compress", "--bits", "bits"), ("compress", "--index-bits", "bits"),
    ("compile", "--density", "fraction"), ("simulate", "--bits", "bits"), ("simulate", "--energy-table", "pJ"),
    ("verify", "--max-cycles", "cycles"), ("report", "--jobs", "processes"), ("report", "--queue-depths", "per PE"),
    ("simulate", "--spmat-kb", "KiB"), ("simulate", "--spmat-kb", "per PE"), ("simulate", "--clock-mhz", "MHz"),
    ("simulate", "--queue-depth", "each PE"), ("rtl", "--spmat-lines", "per PE"), ("synth", "--ptr-words", "per PE"),
]


@pytest.mark.parametrize("command,option,unit", UNITS, ids=[f"{c}{o}" for c, o, _ in UNITS])
def test_help_states_the_unit(command, option, unit):
    act = subparsers()[command]._option_string_actions[option]
    assert unit in act.help


# ---- capacity errors name the flags ----------------------------------------------------------
def test_capacity_error_names_the_flag(layer, tmp_path, capsys):
    args = [layer, "--pes", 1, "--spmat-kb", 0.0078125]
    msg = one_error(*run(["compile", *args, "-o", tmp_path / "img"], capsys)[::2])
    assert "--spmat-kb" in msg and "spmat_kb" not in msg and "--no-capacity-check" not in msg
    msg = one_error(*run(["simulate", *args, "--json", tmp_path / "r.json"], capsys)[::2])
    assert "--spmat-kb" in msg and "spmat_kb" not in msg and "--no-capacity-check" in msg
    assert not (tmp_path / "img").exists() and not (tmp_path / "r.json").exists()
    code, out, _ = run(["simulate", *args, "--no-capacity-check"], capsys)
    assert code == 0 and "does NOT fit" in out


# ---- one rule for a missing output directory -------------------------------------------------
MISSING = [
    ["compress", "{dense}", "-o", "{nodir}/c.npz"],
    ["compress", "{dense}", "--json", "{nodir}/c.json"],
    ["compile", "{layer}", "--pes", "4", "-o", "{nodir}/img"],
    ["compile", "{layer}", "--pes", "4", "--json", "{nodir}/c.json"],
    ["simulate", "{layer}", "--pes", "4", "--json", "{nodir}/r.json"],
    ["simulate", "{layer}", "--pes", "4", "-o", "{nodir}/y.npy"],
    ["bench", "--layers", "NT-LSTM", "--json", "{nodir}/b.json"],
    ["report", "paper", "-o", "{nodir}/report"],
    ["rtl", "-o", "{nodir}/rtl"],
    ["rtl", "-o", "{tmp}/rtl", "--json", "{nodir}/m.json"],
    ["config", "-o", "{nodir}/c.toml"],
    ["verify", "{layer}", "--sim", "amaranth", "--json", "{nodir}/v.json"],
    ["verify", "{layer}", "--sim", "amaranth", "--waves", "{nodir}/w.vcd"],
    ["board", "icebreaker", "-o", "{nodir}/b"],
    ["board", "icebreaker", "-o", "{tmp}/b", "--json", "{nodir}/b.json"],
    ["run-board", "{layer}", "--port", "x", "--build", "{tmp}", "--json", "{nodir}/r.json"],
]


@pytest.mark.parametrize("argv", MISSING, ids=[f"{a[0]}{a[-2]}" for a in MISSING])
def test_missing_output_directory_one_rule(argv, layer, tmp_path, capsys):
    dense = tmp_path / "dense.npz"
    np.savez(dense, weight=np.random.default_rng(1).normal(size=(8, 8)))
    before = sorted(tmp_path.rglob("*"))
    nodir = tmp_path / "nodir"
    code, out, err = run([a.format(layer=layer, dense=dense, nodir=nodir, tmp=tmp_path) for a in argv], capsys)
    msg = one_error(code, err)
    assert repr(str(nodir)) in msg and "does not exist (create it first)" in msg
    assert sorted(tmp_path.rglob("*")) == before and out == ""


def test_out_directory_is_created_when_its_parent_exists(layer, tmp_path, capsys):
    out = tmp_path / "new"
    code, _, _ = run(["compile", layer, "--pes", 4, "-o", out], capsys)
    assert code == 0 and (out / "manifest.json").is_file()


# ---- bench compares with the paper only at the paper's design point ------------------------
def test_bench_compares_with_the_paper_only_at_its_design_point(tmp_path, capsys):
    js = tmp_path / "b.json"
    code, out, _ = run(["bench", "--layers", "NT-LSTM", "--pes", 16, "--json", js], capsys)
    assert code == 0
    row = json.loads(js.read_text())[0]
    assert row["paper_comparable"] is False and "diff_vs_paper_pct" not in row
    assert row["paper_actual_us"] == 7.5                       # the published figure stays in the record
    header = out.splitlines()[1]
    assert "paper us" not in header and "diff" not in header
    why = [line for line in out.splitlines() if line.startswith("not compared with the paper")]
    assert len(why) == 1 and "--pes 16 (paper 64)" in why[0]
    code, out, _ = run(["bench", "--layers", "NT-LSTM", "--config", REPO / "models/paper.toml", "--json", js,
                        "--force"], capsys)
    row = json.loads(js.read_text())[0]
    assert code == 0 and row["paper_comparable"] is True
    assert row["diff_vs_paper_pct"] == pytest.approx(100 * (row["time_us"] - 7.5) / 7.5)
    assert "paper us" in out.splitlines()[1] and "not compared" not in out


# ---- configuration files ---------------------------------------------------------------------
def test_config_prints_the_defaults_and_reads_them_back(tmp_path, capsys):
    code, text, _ = run(["config"], capsys)
    assert code == 0
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert EIEConfig.from_file(path) == EIEConfig()
    assert (REPO / "models/paper.toml").read_text() == text       # the example is `eie config` output
    js = tmp_path / "r.json"
    code, _, _ = run(["bench", "--layers", "NT-LSTM", "--config", path, "--json", js], capsys)
    assert code == 0 and json.loads(js.read_text())[0]["pes"] == 64


def test_config_out_json_is_json_that_config_reads_back(tmp_path, capsys):
    """`eie config -o X.json` writes JSON (`--config X.json` reads a .json file as JSON);
    any other name gets the TOML of standard output."""
    code, _, _ = run(["config", "--pes", 8, "--queue-depth", 4, "-o", tmp_path / "c.json"], capsys)
    assert code == 0
    assert json.loads((tmp_path / "c.json").read_text()) == EIEConfig(pes=8, queue_depth=4).to_dict()
    code, text, _ = run(["config", "--config", tmp_path / "c.json"], capsys)
    assert code == 0 and EIEConfig.from_file(tmp_path / "c.json") == EIEConfig(pes=8, queue_depth=4)
    code, _, _ = run(["config", "--config", tmp_path / "c.json", "-o", tmp_path / "c.toml"], capsys)
    assert code == 0 and (tmp_path / "c.toml").read_text() == text


def test_ecp5_example_configuration(capsys):
    path = REPO / "models/ecp5_4pe.toml"
    assert EIEConfig.from_file(path) == EIEConfig(**DEVICE_REFERENCES[("ecp5", "25k")])
    flags = [x for k, v in DEVICE_REFERENCES[("ecp5", "25k")].items() for x in ("--" + k.replace("_", "-"), v)]
    code, text, _ = run(["config", *flags], capsys)
    assert code == 0 and path.read_text() == text


# ---- compress reports how far the bias moved ----------------------------------------------
def test_compress_reports_the_bias_change(tmp_path, capsys):
    rng = np.random.default_rng(6)
    bias = rng.normal(scale=0.05, size=32)          # small next to the kept weights, as in a trained layer
    bias[:3] = 0.0
    dense = tmp_path / "d.npz"
    np.savez(dense, weight=rng.normal(size=(32, 48)), bias=bias)
    out, js = tmp_path / "c.npz", tmp_path / "c.json"
    code, text, _ = run(["compress", dense, "--density", 0.25, "--bias", "coded", "-o", out, "--json", js], capsys)
    assert code == 0
    c = np.load(out)
    assert "bias" not in c
    coded = c["codebook"][c["bias_codes"]]
    rep = json.loads(js.read_text())["bias"]
    assert rep["mode"] == "coded"
    zeroed = int(np.count_nonzero((bias != 0) & (coded == 0)))
    assert rep["nonzero"] == 29 and rep["zeroed"] == zeroed > 0
    assert rep["zeroed_fraction"] == pytest.approx(zeroed / 29)
    assert rep["max_abs_change"] == pytest.approx(np.max(np.abs(coded - bias)))
    assert rep["mean_abs_change"] == pytest.approx(np.mean(np.abs(coded - bias)))
    line = [x for x in text.splitlines() if x.startswith("bias coded with the weight codebook")]
    assert len(line) == 1 and f"{zeroed} of 29 non-zero bias values became 0" in line[0]
    # the default keeps the bias at full precision: written as 'bias', every value kept
    code, text, _ = run(["compress", dense, "--density", 0.25, "-o", out, "--json", js, "--force"], capsys)
    assert code == 0
    c = np.load(out)
    assert "bias_codes" not in c and np.array_equal(c["bias"], bias)
    assert json.loads(js.read_text())["bias"] == {"mode": "full", "values": 32, "nonzero": 29,
                                                  "max_abs_bias": pytest.approx(np.abs(bias).max())}
    assert "bias kept at full precision: 32 values (29 non-zero)" in text and "became 0" not in text
    np.savez(dense, weight=rng.normal(size=(32, 48)))
    code, text, _ = run(["compress", dense, "--json", js, "--force"], capsys)
    assert code == 0 and json.loads(js.read_text())["bias"] is None and "bias" not in text
