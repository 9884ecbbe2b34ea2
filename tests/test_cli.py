"""The command line: the FC8 contract, JSON outputs, and one clear error (exit 2, no file)
for each kind of bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest

from eie.cli import main

CB = np.concatenate([[0.0], np.linspace(-1, 1, 15)])


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def small(tmp_path):
    rng = np.random.default_rng(5)
    codes = (rng.random((40, 60)) < 0.3) * rng.integers(1, 16, (40, 60))
    x = np.where(rng.random(60) < 0.5, rng.random(60), 0.0)
    path = tmp_path / "small.npz"
    np.savez(path, codebook=CB, codes=codes, bias_codes=rng.integers(0, 16, 40), activations=x)
    return path, codes, x


def test_simulate_fc8_contract(fc8_path, tmp_path, capsys):
    js, npy = tmp_path / "out.json", tmp_path / "y.npy"
    code, out, _ = run(["simulate", fc8_path, "--pes", 64, "--queue-depth", 8, "--json", js, "--output", npy], capsys)
    assert code == 0
    rec = json.loads(js.read_text())
    for key in ("cycles", "time_us", "useful_macs", "load_efficiency", "energy_pj", "outputs_match_reference"):
        assert key in rec
    assert abs(rec["cycles"] - 7926) / 7926 < 0.01
    assert rec["time_us"] == pytest.approx(rec["cycles"] / 800)
    assert rec["outputs_match_reference"] is True
    assert rec["energy_pj"]["total_pj"] == pytest.approx(sum(rec["energy_pj"]["by_component_pj"].values()))
    y = np.load(npy, allow_pickle=False)
    d = np.load(fc8_path, allow_pickle=False)
    assert y.shape == (1000,) and np.max(np.abs(y - d["expected_output"])) < 0.05
    assert y.min() < 0                                # before ReLU unless --relu


def test_simulate_input_relu_and_consistency(small, tmp_path, capsys):
    path, codes, x = small
    xin = tmp_path / "x.npy"
    np.save(xin, x[::-1].copy())
    js, npy = tmp_path / "r.json", tmp_path / "y.npy"
    code, _, _ = run(["simulate", path, "--pes", 4, "--input", xin, "--relu", "--json", js, "--output", npy], capsys)
    assert code == 0
    rec = json.loads(js.read_text())
    y = np.load(npy)
    assert y.min() >= 0
    ref = CB[codes] @ x[::-1]
    assert rec["nonzero_inputs"] == int(np.count_nonzero(x))
    assert np.allclose(y, np.maximum(ref + CB[np.load(path)["bias_codes"]], 0), atol=0.05)


def test_compress_compile_pipeline(tmp_path, capsys):
    rng = np.random.default_rng(9)
    dense = tmp_path / "dense.npz"
    np.savez(dense, weight=rng.normal(size=(32, 48)), bias=rng.normal(size=32))
    out = tmp_path / "c.npz"
    code, text, _ = run(["compress", dense, "--density", 0.25, "--out", out], capsys)
    assert code == 0 and out.exists()
    d = np.load(out)
    assert np.count_nonzero(d["codes"]) == round(0.25 * 32 * 48)
    img = tmp_path / "img"
    code, text, _ = run(["compile", out, "--pes", 4, "--out", img], capsys)
    assert code == 0 and (img / "pass0_pe3_spmat.hex").exists() and (img / "manifest.json").exists()


def _bad_files(tmp_path):
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 16, (8, 8))
    f = {}
    f["nan"] = tmp_path / "nan.npz"
    w = rng.normal(size=(8, 8))
    w[2, 3] = np.nan
    np.savez(f["nan"], weight=w)
    f["inf"] = tmp_path / "inf.npz"
    w[2, 3] = np.inf
    np.savez(f["inf"], weight=w)
    f["code"] = tmp_path / "code.npz"
    bad = codes.copy()
    bad[0, 0] = 16
    np.savez(f["code"], codebook=CB, codes=bad, activations=np.ones(8))
    f["cb0"] = tmp_path / "cb0.npz"
    np.savez(f["cb0"], codebook=CB + 0.5, codes=codes, activations=np.ones(8))
    f["shape"] = tmp_path / "shape.npz"
    np.savez(f["shape"], codebook=CB, codes=codes, activations=np.ones(7))
    f["bias"] = tmp_path / "bias.npz"
    np.savez(f["bias"], codebook=CB, codes=codes, bias_codes=np.ones(5, int), activations=np.ones(8))
    f["good"] = tmp_path / "good.npz"
    np.savez(f["good"], codebook=CB, codes=codes, activations=np.ones(8))
    f["trunc"] = tmp_path / "trunc.npz"
    f["trunc"].write_bytes(f["good"].read_bytes()[:200])
    f["cfg"] = tmp_path / "cfg.toml"
    f["cfg"].write_text("pes = 4\nqueue_dpeth = 3\n")
    return f


BAD = [
    (["compress", "{nan}", "--density", "0.5", "--out", "{out}"], "weight must be finite"),
    (["compress", "{inf}", "--density", "0.5", "--out", "{out}"], "weight must be finite"),
    (["simulate", "{code}", "--pes", "4", "--json", "{out}"], "codes must be in [0, 15]"),
    (["simulate", "{cb0}", "--pes", "4", "--json", "{out}"], "codebook[0] must be 0.0"),
    (["simulate", "{shape}", "--pes", "4", "--json", "{out}"], "activations must have one value per input column (8)"),
    (["simulate", "{bias}", "--pes", "4", "--json", "{out}"], "bias_codes must have one code per output row (8)"),
    (["compress", "{nan}", "--density", "1.5", "--out", "{out}"], "--density must be in (0, 1], not 1.5"),
    (["compress", "{nan}", "--density", "0", "--out", "{out}"], "--density must be in (0, 1], not 0.0"),
    (["simulate", "{good}", "--config", "{cfg}", "--json", "{out}"], "unknown configuration key 'queue_dpeth'"),
    (["simulate", "{trunc}", "--pes", "4", "--json", "{out}"], "not a readable .npz"),
    (["simulate", "{good}", "--pes", "1", "--spmat-kb", "0.0078125", "--json", "{out}"], "sparse-matrix SRAM of PE 0"),
    (["simulate", "{good}", "--pes", "4", "--input", "{missing}", "--json", "{out}"], "does not exist"),
    (["compile", "{good}", "--pes", "3", "--line-bits", "60", "--out", "{out}"], "line_bits must be a multiple"),
]


@pytest.mark.parametrize("argv,msg", BAD, ids=[f"{a[0]}-{m[:24]}" for a, m in BAD])
def test_bad_input_exit_2_one_line_no_file(argv, msg, tmp_path, capsys):
    f = _bad_files(tmp_path)
    out = tmp_path / "result.out"
    args = [a.format(out=out, missing=tmp_path / "nope.npy", **f) for a in argv]
    code, _, err = run(args, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("eie: error: ")
    assert msg in lines[0]
    assert not out.exists()
    assert not list(tmp_path.glob("*.tmp*"))


def test_never_overwrites_without_force(small, tmp_path, capsys):
    path, _, _ = small
    js = tmp_path / "r.json"
    js.write_text("precious")
    code, _, err = run(["simulate", path, "--pes", 4, "--json", js], capsys)
    assert code == 2 and "--force" in err and js.read_text() == "precious"
    code, _, _ = run(["simulate", path, "--pes", 4, "--json", js, "--force"], capsys)
    assert code == 0 and json.loads(js.read_text())["pes"] == 4


def test_console_script_exit_code(tmp_path):
    bad = tmp_path / "x.npz"
    bad.write_bytes(b"not a zip")
    p = subprocess.run([sys.executable, "-m", "eie", "simulate", str(bad)], capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.startswith("eie: error:")


def test_bench_json_subset(tmp_path, capsys):
    js = tmp_path / "b.json"
    code, out, _ = run(["bench", "--layers", "NT-LSTM", "--pes", 16, "--json", js], capsys)
    assert code == 0
    rows = json.loads(js.read_text())
    assert [r["name"] for r in rows] == ["NT-LSTM"]
    assert rows[0]["paper_actual_us"] == 7.5
    assert rows[0]["time_us"] == pytest.approx(rows[0]["cycles"] / 800)
    assert "NT-LSTM" in out
    code, _, err = run(["bench", "--layers", "Alex-9"], capsys)
    assert code == 2 and "Alex-9" in err


def test_simulate_stack_of_two_layers(tmp_path, capsys):
    rng = np.random.default_rng(21)
    c1 = (rng.random((30, 20)) < 0.4) * rng.integers(1, 16, (30, 20))
    c2 = (rng.random((12, 30)) < 0.4) * rng.integers(1, 16, (12, 30))
    x = rng.random(20)
    l1, l2 = tmp_path / "l1.npz", tmp_path / "l2.npz"
    np.savez(l1, codebook=CB, codes=c1, activations=x)
    np.savez(l2, codebook=CB, codes=c2)
    js, npy = tmp_path / "s.json", tmp_path / "y.npy"
    code, out, _ = run(["simulate", l1, l2, "--pes", 4, "--json", js, "--output", npy], capsys)
    assert code == 0
    doc = json.loads(js.read_text())
    assert len(doc["layers"]) == 2 and doc["cycles"] == sum(r["cycles"] for r in doc["layers"])
    assert doc["outputs_match_reference"] is True
    ref = CB[c2] @ np.maximum(CB[c1] @ x, 0)            # float forward with ReLU between
    assert np.allclose(np.load(npy), ref, atol=0.05)
    code, _, err = run(["simulate", l2, l1, "--pes", 4, "--input", tmp_path / "nope.npy"], capsys)
    assert code == 2


def test_simulate_says_why_outputs_cannot_match(tmp_path, capsys):
    """A layer whose sums overflow the 16-bit accumulators and whose codebook value does not
    fit 16 bits: the output names both, with the fix, and the JSON has the counts."""
    lay, js = tmp_path / "big.npz", tmp_path / "s.json"
    np.savez(lay, codebook=np.array([0.0, 1e6]), codes=np.ones((4, 8), np.int64), activations=np.ones(8))
    code, out, _ = run(["simulate", lay, "--pes", 4, "--json", js], capsys)
    assert code == 0 and "outputs match reference: False" in out
    assert "1 codebook value(s) saturated (the 16-bit codebook with fw=0 holds |w| <= 32767; the largest is 1e+06)" in out
    assert "4 output(s) overflowed the 16-bit accumulators" in out and "raise --acc-bits" in out
    doc = json.loads(js.read_text())
    assert (doc["wrapped_outputs"], doc["saturated_codebook"]) == (4, 1)
