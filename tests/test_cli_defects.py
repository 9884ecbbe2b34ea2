"""The defects a first trial of the command line found, one test each (docs/cli.md, "Output
files"): every bad case is exit 2, one line ``eie: error: ...`` naming the file or option and
the fix, and nothing written (no partial file, no temporary file)."""

import io
import json
import os
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from eie.cli import main
from eie.layer import MAX_ELEMENTS
from eie.prepare import load_compressed

CB = np.concatenate([[0.0], np.linspace(-1, 1, 15)])


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def refused(code, err, *needles):
    """Exit 2 and exactly one ``eie: error:`` line on stderr holding every needle."""
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("eie: error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def listing(d):
    """Every path under ``d`` (temporary files included), to show nothing was written."""
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(3)
    f = {}
    f["x"] = tmp_path / "x.npy"
    np.save(f["x"], rng.random(48))
    codes = (rng.random((32, 48)) < 0.4) * rng.integers(1, 16, (32, 48))
    f["comp"] = tmp_path / "comp.npz"
    np.savez(f["comp"], codebook=CB, codes=codes, activations=rng.random(48))
    f["dense"] = tmp_path / "dense.npz"           # every weight non-zero, and a bias
    np.savez(f["dense"], weight=rng.normal(size=(32, 48)), bias=rng.normal(size=32))
    return f


# ---- 1. a .npy where a layer .npz is expected --------------------------------------------
NPY_AS_LAYER = [
    ["compress", "{x}"],
    ["compile", "{x}", "--pes", "4"],
    ["simulate", "{x}", "--pes", "4"],
    ["verify", "{x}", "--sim", "amaranth"],
    ["rtl", "--layer", "{x}", "-o", "{tmp}/rtl"],
]


@pytest.mark.parametrize("argv", NPY_AS_LAYER, ids=[a[0] for a in NPY_AS_LAYER])
def test_npy_given_as_layer_is_one_error(argv, files, tmp_path, capsys):
    before = listing(tmp_path)
    code, _, err = run([a.format(tmp=tmp_path, **files) for a in argv], capsys)
    refused(code, err, "x.npy", "single array (.npy), not a layer archive", "numpy.savez")
    assert listing(tmp_path) == before


# ---- 2. a dense layer with a bias runs; the bias is not counted as weights ---------------
def test_dense_layer_with_bias_simulates(files, tmp_path, capsys):
    js = tmp_path / "r.json"
    code, _, err = run(["simulate", files["dense"], "--input", files["x"], "--pes", 4, "--json", js], capsys)
    assert code == 0, err
    rec = json.loads(js.read_text())
    assert rec["weight_nonzeros"] == 32 * 48                  # all weights; was 32*48 + bias > n_out*n_in
    # the bias is kept at full precision (the accumulators start from it): no bias entries
    assert rec["bias_kind"] == "full" and rec["bias_nonzeros"] == 0
    assert rec["outputs_match_reference"] is True
    code, _, err = run(["simulate", files["dense"], "--input", files["x"], "--pes", 4, "--bias", "coded", "--json",
                        js, "--force"], capsys)
    assert code == 0, err
    rec = json.loads(js.read_text())
    assert rec["bias_kind"] == "coded"
    assert rec["bias_nonzeros"] == np.count_nonzero(load_compressed(files["dense"], bias_mode="coded").bias_codes) > 0
    comp = tmp_path / "c.npz"
    assert run(["compress", files["dense"], "-o", comp], capsys)[0] == 0
    code, _, err = run(["simulate", comp, "--input", files["x"], "--pes", 4], capsys)
    assert code == 0, err


# ---- 3. --out FILE --force where FILE is a regular file ----------------------------------
def test_compile_out_regular_file_is_refused(files, tmp_path, capsys):
    target = tmp_path / "F"
    target.write_text("precious")
    before = listing(tmp_path)
    code, _, err = run(["compile", files["comp"], "--pes", 4, "--out", target, "--force"], capsys)
    refused(code, err, repr(str(target)), "is not a directory", "give a directory")
    assert target.read_text() == "precious" and listing(tmp_path) == before


@pytest.mark.parametrize("argv", [["compile", "{comp}", "--pes", "4"], ["rtl", "--pes", "4"]])
def test_out_dash_is_not_a_directory(argv, files, tmp_path, capsys, monkeypatch):
    """``-o -`` means standard output elsewhere; a directory cannot be it: refused, no
    directory named ``-``."""
    monkeypatch.chdir(tmp_path)
    before = listing(tmp_path)
    code, _, err = run([a.format(**files) for a in argv] + ["-o", "-", "--force"], capsys)
    refused(code, err, "output directory cannot be '-' (standard output)", "give a directory name")
    assert listing(tmp_path) == before


# ---- 4. --json DIR --force where DIR is a directory -------------------------------------
@pytest.mark.parametrize("command", ["simulate", "compile", "compress"])
def test_json_directory_is_refused_and_leaves_no_temp_file(command, files, tmp_path, capsys):
    d = tmp_path / "D"
    d.mkdir()
    layer = files["dense"] if command == "compress" else files["comp"]
    before = listing(tmp_path)
    for _ in range(2):                              # every try used to leave a D.<pid>.tmp
        code, _, err = run([command, layer, "--json", d, "--force"]
                           + (["--pes", 4] if command != "compress" else []), capsys)
        refused(code, err, repr(str(d)), "is a directory", "regular files")
    assert listing(tmp_path) == before


# ---- 5. a place that cannot be written ---------------------------------------------------
UNWRITABLE = [
    ["simulate", "{comp}", "--pes", "4", "--output", "/proc/eie-y.npy"],
    ["simulate", "{comp}", "--pes", "4", "--json", "/proc/eie-y.json"],
    ["compress", "{dense}", "-o", "/proc/eie-c.npz"],
    ["config", "-o", "/proc/eie.toml"],
]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc, a directory nobody can write into")
@pytest.mark.parametrize("argv", UNWRITABLE, ids=[a[0] + "-" + a[-2] for a in UNWRITABLE])
def test_unwritable_output_is_one_error(argv, files, capsys):
    code, out, err = run([a.format(**files) for a in argv], capsys)
    refused(code, err, "/proc/eie", "cannot be written", "choose a writable directory")
    assert out == ""                                # refused before any work


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_unwritable_output_directory_is_one_error(files, capsys):
    code, _, err = run(["compile", files["comp"], "--pes", 4, "-o", "/proc/eie-images"], capsys)
    refused(code, err, "/proc/eie-images")
    assert not os.path.exists("/proc/eie-images")


# ---- 6. never replace anything but a regular file; --json - is standard output -----------
def test_force_never_replaces_a_symlink(files, tmp_path, capsys):
    target = tmp_path / "target.txt"
    target.write_text("precious")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    code, _, err = run(["simulate", files["comp"], "--pes", 4, "--json", link, "--force"], capsys)
    refused(code, err, "symbolic link", "only replaces regular files")
    assert link.is_symlink() and target.read_text() == "precious"


@pytest.mark.skipif(not os.path.islink("/dev/stdout"), reason="/dev/stdout is not a symbolic link here")
def test_force_never_replaces_dev_stdout(files, capsys):
    code, _, err = run(["simulate", files["comp"], "--pes", 4, "--json", "/dev/stdout", "--force"], capsys)
    refused(code, err, "/dev/stdout", "symbolic link", "give a file path")
    assert os.path.islink("/dev/stdout")


JSON_TO_STDOUT = [
    (["simulate", "{comp}", "--pes", "4"], "cycles", "layer comp"),
    (["compile", "{comp}", "--pes", "4"], "passes", "entries per PE"),
    (["compress", "{dense}", "--density", "0.5"], "compression_rate", "Compress rate"),
    (["bench", "--layers", "NT-LSTM", "--pes", "16"], None, "EIE benchmark"),
    (["rtl", "-o", "{tmp}/rtl", "--pes", "1", "--spmat-kb", "1", "--ptr-kb", "1"], "bytes", "wrote"),
]


@pytest.mark.parametrize("argv,key,human", JSON_TO_STDOUT, ids=[a[0][0] for a in JSON_TO_STDOUT])
def test_json_dash_is_json_alone_on_stdout(argv, key, human, files, tmp_path, capsys):
    code, out, err = run([a.format(tmp=tmp_path, **files) for a in argv] + ["--json", "-"], capsys)
    assert code == 0, err
    doc = json.loads(out)                               # standard output is the JSON document alone
    if key:
        assert key in doc
    else:
        assert isinstance(doc, list) and doc[0]["name"] == "NT-LSTM"
    assert human in err                                 # the human text went to standard error


# ---- 7. one path for two outputs --------------------------------------------------------
def test_two_outputs_one_file_is_refused(files, tmp_path, capsys):
    a = tmp_path / "a.json"
    same = tmp_path / "sub" / ".." / "a.json"
    (tmp_path / "sub").mkdir()
    before = listing(tmp_path)
    code, _, err = run(["simulate", files["comp"], "--pes", 4, "--json", a, "--output", same], capsys)
    refused(code, err, "--json and --output name the same file", "give each output its own file")
    code, _, err = run(["compress", files["dense"], "-o", a, "--json", a], capsys)
    refused(code, err, "--out and --json name the same file")
    out = tmp_path / "img"
    out.mkdir()
    before = listing(tmp_path)
    code, _, err = run(["compile", files["comp"], "--pes", 4, "-o", out, "--json", out / "manifest.json"], capsys)
    refused(code, err, "--json", "is inside --out", "give --json a path outside it")
    # any file of the directory, not only its manifest (--json img/codebook.hex overwrote the image)
    code, _, err = run(["compile", files["comp"], "--pes", 4, "-o", out, "--json", out / "codebook.hex"], capsys)
    refused(code, err, "is inside --out")
    assert listing(tmp_path) == before


# ---- 8. inputs that overflow the activation range -----------------------------------------
def test_saturated_inputs_are_counted_and_the_fix_is_given(tmp_path, capsys):
    rng = np.random.default_rng(8)
    codes = (rng.random((24, 40)) < 0.5) * rng.integers(1, 16, (24, 40))
    layer = tmp_path / "l.npz"
    np.savez(layer, codebook=CB, codes=codes)
    x = rng.random(40) * 1e6
    x[:5] = 100.0                                  # these fit 16 bits at fa=0
    big = tmp_path / "big.npy"
    np.save(big, x)
    js = tmp_path / "r.json"
    code, out, _ = run(["simulate", layer, "--pes", 4, "--input", big, "--json", js], capsys)
    assert code == 0
    rec = json.loads(js.read_text())
    n_sat = int(np.count_nonzero(x > 32767.5))
    assert rec["saturated_inputs"] == n_sat and n_sat > 0
    assert rec["outputs_match_reference"] is False
    k = rec["input_scale"]
    assert k >= 2 ** int(np.ceil(np.log2(x.max() / 32767)))     # the input fits, and the outputs too
    warning = [line for line in out.splitlines() if "warning:" in line]
    # the saturation, and (these outputs reach ~1e7 at fo = 0) the accumulators that wrapped:
    # the rows whose exact sum of rounded products [arch §4], worked here in integers, leaves 16 bits
    fb = rec["fraction_bits"]
    a_q = np.clip(np.floor(x * 2.0 ** fb["fa"] + 0.5), -32768, 32767).astype(np.int64)
    w_q = np.clip(np.floor(CB * 2.0 ** fb["fw"] + 0.5), -32768, 32767).astype(np.int64)[codes] * (codes != 0)
    s = fb["fa"] + fb["fw"] - fb["fo"]
    prods = w_q * a_q[None, :]
    sums = ((prods + (1 << (s - 1))) >> s if s else prods).sum(axis=1)
    wrapped = int(np.count_nonzero((sums < -32768) | (sums > 32767)))
    assert rec["wrapped_outputs"] == wrapped > 0 and len(warning) == 2
    assert f"{n_sat} of 40 inputs saturated" in warning[0] and f"scale the input by 1/{k}" in warning[0]
    # the fix works: the scaled input saturates nowhere and matches the reference
    scaled = tmp_path / "scaled.npy"
    np.save(scaled, x / k)
    code, out, _ = run(["simulate", layer, "--pes", 4, "--input", scaled, "--json", js, "--force"], capsys)
    rec = json.loads(js.read_text())
    assert code == 0 and rec["saturated_inputs"] == 0 and rec["outputs_match_reference"] is True
    assert "warning" not in out


def test_saturated_inputs_in_a_stack(tmp_path, capsys):
    rng = np.random.default_rng(9)
    l1, l2 = tmp_path / "l1.npz", tmp_path / "l2.npz"
    np.savez(l1, codebook=CB, codes=(rng.random((16, 20)) < 0.5) * rng.integers(1, 16, (16, 20)),
             activations=np.full(20, 1e5))
    np.savez(l2, codebook=CB, codes=(rng.random((8, 16)) < 0.5) * rng.integers(1, 16, (8, 16)))
    js = tmp_path / "s.json"
    code, out, _ = run(["simulate", l1, l2, "--pes", 4, "--json", js], capsys)
    doc = json.loads(js.read_text())
    assert code == 0 and doc["saturated_inputs"] == 20 and doc["layers"][0]["saturated_inputs"] == 20
    assert doc["layers"][1]["saturated_inputs"] == 0
    k = doc["input_scale"]
    assert k >= 4 and "20 of 20 inputs saturated" in out and f"scale the input by 1/{k} " in out


# ---- 9. --density/--bits with a compressed layer -----------------------------------------
ALREADY_COMPRESSED = [
    ["compile", "{comp}", "--pes", "4", "--density", "0.5"],
    ["simulate", "{comp}", "--pes", "4", "--bits", "3"],
    ["rtl", "--layer", "{comp}", "-o", "{tmp}/rtl", "--density", "0.5"],
    ["verify", "{comp}", "--sim", "amaranth", "--bits", "3"],
]


@pytest.mark.parametrize("argv", ALREADY_COMPRESSED, ids=[a[0] for a in ALREADY_COMPRESSED])
def test_density_bits_refused_for_a_compressed_layer(argv, files, tmp_path, capsys):
    before = listing(tmp_path)
    code, _, err = run([a.format(tmp=tmp_path, **files) for a in argv], capsys)
    flag = "--density" if "--density" in argv else "--bits"
    refused(code, err, "comp.npz", "already compressed", f"{flag} applies only to a dense layer; drop it")
    assert listing(tmp_path) == before


# ---- 10. a directory rewritten with --force holds one run's files -------------------------
def test_compile_force_removes_the_earlier_runs_files(files, tmp_path, capsys):
    out = tmp_path / "img"
    code, _, err = run(["compile", files["comp"], "--pes", 8, "--regfile-entries", 2, "-o", out], capsys)
    assert code == 0, err
    first = set(listing(out))
    (out / "notes.txt").write_text("mine")          # not listed by a manifest: never removed
    code, _, err = run(["compile", files["comp"], "--pes", 4, "-o", out, "--force"], capsys)
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    second = set(manifest["files"])
    assert len(second) < len(first) and any(n.startswith("pass1_") for n in first)
    assert set(listing(out)) == second | {"notes.txt"}
    code, _, err = run(["compile", files["comp"], "--pes", 4, "-o", out], capsys)
    refused(code, err, "already holds", "--force")


# ---- 11. shapes and dtypes come from the headers, before anything is decompressed --------
def _npy_header(shape, descr="|u1") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _crafted(path, shape, data_bytes):
    """A small compressed archive whose 'codes' header declares ``shape`` (the data: zeros)."""
    cb = io.BytesIO()
    np.save(cb, CB)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("codebook.npy", cb.getvalue())
        zf.writestr("codes.npy", _npy_header(shape) + bytes(data_bytes))


def test_huge_declared_shape_is_refused_from_the_header(tmp_path, capsys, monkeypatch):
    layer = tmp_path / "huge.npz"
    _crafted(layer, (40000, 50000), 1 << 20)       # 2e9 elements declared, 1 MiB of zeros held
    assert layer.stat().st_size < 10_000

    def no_read(*args, **kwargs):
        raise AssertionError("an array was decompressed")
    monkeypatch.setattr(np.lib.format, "read_array", no_read)
    tracemalloc.start()
    try:
        code, _, err = run(["simulate", layer, "--pes", 4], capsys)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    refused(code, err, "'codes' in", "(40000, 50000)", "2,000,000,000 elements", f"{MAX_ELEMENTS:,}",
            "eie.layer.MAX_ELEMENTS")
    assert peak < 32 << 20


def test_declared_shape_larger_than_the_data_is_refused(tmp_path, capsys, monkeypatch):
    layer = tmp_path / "short.npz"
    _crafted(layer, (1000, 4096), 100)
    monkeypatch.setattr(np.lib.format, "read_array", lambda *a, **k: pytest.fail("decompressed"))
    code, _, err = run(["compile", layer, "--pes", 4], capsys)
    refused(code, err, "'codes' in", "(1000, 4096)", "4,096,000 bytes", "holds only 100", "truncated")


def test_input_shape_is_checked_from_the_header(files, tmp_path, capsys):
    big = tmp_path / "big.npy"
    big.write_bytes(_npy_header((1 << 30,), "<f8") + bytes(64))
    code, _, err = run(["simulate", files["comp"], "--pes", 4, "--input", big], capsys)
    refused(code, err, "big.npy", "declares shape (1073741824,)")
    wrong = tmp_path / "wrong.npy"
    wrong.write_bytes(_npy_header((1000,), "<f8") + bytes(8000))
    code, _, err = run(["simulate", files["comp"], "--pes", 4, "--input", wrong], capsys)
    refused(code, err, "input wrong.npy must have one value per input column (48), not 1000")


def test_object_array_in_a_layer_is_refused(tmp_path, capsys):
    layer = tmp_path / "obj.npz"
    with zipfile.ZipFile(layer, "w") as zf:
        zf.writestr("weight.npy", _npy_header((2, 2), "|O") + bytes(32))
    code, _, err = run(["compress", layer], capsys)
    refused(code, err, "'weight' in", "must be a numeric array, not dtype object")


# ---- 12. a second QA pass ---------------------------------------------------------------------
NOT_UTF8 = [
    (["config", "--config", "{bad}"], "config file"),
    (["simulate", "{comp}", "--config", "{bad}"], "config file"),
    (["simulate", "{comp}", "--energy-table", "{bad}"], "energy file"),
    (["bench", "--spec", "{bad}"], "spec file"),
    (["report", "paper", "--spec", "{bad}", "-o", "{tmp}/paper"], "spec file"),
    (["deep-compress", "--dataset", "fashion-mnist", "--train-config", "{bad}", "-o", "{tmp}/dc"], "training config"),
    (["dse", "{bad}"], "spec"),
]


@pytest.mark.parametrize("argv,what", NOT_UTF8, ids=[a[0] + a[a.index("{bad}") - 1] for a, _ in NOT_UTF8])
def test_text_file_not_utf8_is_one_error(argv, what, files, tmp_path, capsys):
    """A configuration, spec, energy table or training config that is not UTF-8 was a
    UnicodeDecodeError traceback; one owner now reads them (eie.fileio.read_text)."""
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe")
    before = listing(tmp_path)
    code, _, err = run([a.format(bad=bad, tmp=tmp_path, **files) for a in argv], capsys)
    refused(code, err, f"{what} {str(bad)!r} is not UTF-8 text", "save it as UTF-8")
    assert listing(tmp_path) == before


def test_bench_spec_layer_over_the_element_limit(tmp_path, capsys):
    """n_in = n_out = 100000 was a numpy memory error while making the synthetic layer."""
    spec = tmp_path / "s.toml"
    spec.write_text('[[layer]]\nname = "big"\nn_in = 100000\nn_out = 100000\nweight_density = 0.1\n'
                    'act_density = 0.5\n')
    code, _, err = run(["bench", "--spec", spec], capsys)
    refused(code, err, "layer 'big': n_out x n_in = 100000 x 100000", f"limit of {MAX_ELEMENTS:,}", "lower n_in")
    spec.write_text(spec.read_text().replace("n_out = 100000", f"n_out = {MAX_ELEMENTS // 100000}"))
    from eie.bench import load_specs
    assert load_specs(spec)[0].n_out * 100000 <= MAX_ELEMENTS          # at the limit: accepted


@pytest.mark.parametrize("extra, message", [
    ('paper_actual_us = -30.3\n', "layer 'a': paper_actual_us must be a time in microseconds > 0, not -30.3"),
    ('paper_theoretical_us = 0.0\n', "layer 'a': paper_theoretical_us must be a time in microseconds > 0"),
    ('[[layer]]\nname = "a"\nn_in = 8\nn_out = 8\nweight_density = 0.5\nact_density = 0.5\n',
     "layer 1: the name 'a' is taken by an earlier layer"),
])
def test_bench_spec_paper_times_and_names(tmp_path, capsys, extra, message):
    """A negative published time printed '-105 %'; a name given twice ran twice under one key."""
    spec = tmp_path / "s.toml"
    spec.write_text('[[layer]]\nname = "a"\nn_in = 8\nn_out = 8\nweight_density = 0.5\nact_density = 0.5\n' + extra)
    code, _, err = run(["bench", "--spec", spec], capsys)
    refused(code, err, message)


def test_rtl_relu_needs_a_layer(tmp_path, capsys):
    code, _, err = run(["rtl", "--relu", "-o", tmp_path / "r"], capsys)
    refused(code, err, "--relu needs --layer")
    assert not (tmp_path / "r").exists()


def _board_json(directory, edit):
    from eie.config import EIEConfig
    from eie.flow.board_sim import write_manifest
    from eie.hdl.params import HWConfig
    directory.mkdir()
    path = write_manifest(directory, HWConfig(EIEConfig(pes=1)), baud=115_200, divisor=8)
    rec = json.loads(path.read_text())
    edit(rec)
    path.write_text(json.dumps(rec))
    return directory


BAD_BUILDS = [
    ("no-uart", lambda r: r.pop("uart"), "has no field uart.baud"),
    ("no-spmat-lines", lambda r: r["hw"].pop("spmat_lines"), "has no field hw.spmat_lines"),
    ("baud-fast", lambda r: r["uart"].update(baud="fast"), "field uart.baud must be a positive integer, not 'fast'"),
    ("baud-0", lambda r: r["uart"].update(baud=0), "field uart.baud must be a positive integer, not 0"),
    ("no-title", lambda r: r.pop("title"), "has no field title"),
    ("bad-pes", lambda r: r["hw"]["config"].update(pes=0), "field hw: pes must be"),
]


@pytest.mark.parametrize("edit,needle", [b[1:] for b in BAD_BUILDS], ids=[b[0] for b in BAD_BUILDS])
def test_run_board_checks_board_json_first(edit, needle, files, tmp_path, capsys):
    """A board.json without a field run-board reads (or with a bad one) was a KeyError or
    TypeError traceback, the title's only after the board session; a baud of 0 from the file
    was reported as --baud.  Checked before the serial port is opened (it does not exist)."""
    pytest.importorskip("serial", reason="the 'fpga' extra (pyserial) is not installed")
    build = _board_json(tmp_path / "b", edit)
    code, _, err = run(["run-board", files["comp"], "--port", tmp_path / "no-port", "--build", build], capsys)
    line = refused(code, err, f"--build {str(build)!r}: board.json", needle, "rebuild with `eie board`")
    assert "--baud" not in line


@pytest.mark.parametrize("timeout", ["nan", "inf"])
def test_run_board_timeout_must_be_finite(timeout, files, tmp_path, capsys):
    pytest.importorskip("serial", reason="the 'fpga' extra (pyserial) is not installed")
    build = _board_json(tmp_path / "b", lambda r: None)
    code, _, err = run(["run-board", files["comp"], "--port", tmp_path / "no-port", "--build", build,
                        "--timeout", timeout], capsys)
    refused(code, err, f"--timeout must be a number of seconds in [0.001, 3600], not {float(timeout)!r}")
    code, _, err = run(["run-board", files["comp"], "--port", tmp_path / "no-port", "--build", build,
                        "--timeout", 1], capsys)
    refused(code, err, "cannot open serial port")          # board.json intact: it gets to the port, one line


def test_a_bad_clock_names_the_option_and_stops_before_work(capsys):
    """``--clock-mhz 1e-320`` had simulated first and then failed on a NaN energy naming
    ``eie_total_pj``; a clock below 1 kHz is refused by the configuration, named by the
    option the user typed."""
    for value in ("1e-320", "0.0005"):
        assert main(["bench", "--layers", "NT-We", "--clock-mhz", value]) == 2
        assert capsys.readouterr() == ("", f"eie: error: --clock-mhz: clock_mhz must be at least 0.001, not "
                                           f"{float(value)!r}\n")
    assert main(["bench", "--layers", "NT-We", "--pes", "0"]) == 2
    assert capsys.readouterr().err == "eie: error: --pes: pes must be an integer in [1, 4096], not 0\n"


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys):
    """Ctrl-C in any command: one line and the shell's code for SIGINT, no traceback."""
    from eie.cli import build_parser

    def interrupted(args):
        raise KeyboardInterrupt
    ap = build_parser()
    ap._subparsers._group_actions[0].choices["config"].set_defaults(func=interrupted)
    monkeypatch.setattr("eie.cli.build_parser", lambda: ap)
    assert main(["config"]) == 130
    assert capsys.readouterr() == ("", "eie config: interrupted\n")


@pytest.mark.parametrize("argv, message", [
    (["bench", "--layers", ""], "--layers must be a comma-separated list of layer names with none empty, not ''"),
    (["bench", "--layers", "NT-We,NT-We"], "--layers names 'NT-We' twice: give each once"),
    (["bench", "--layers", "NT-We,"], "--layers must be a comma-separated list of layer names with none empty, "
                                       "not 'NT-We,'"),
    (["bench", "--layers", "NT-We", "--fc8", "missing.npz"],
     "--fc8 'missing.npz' is not a file: give the path of alexnet_fc8.npz"),
    (["report", "paper", "--out", "rp", "--pe-counts", ""],
     "--pe-counts must be a comma-separated list of integers with none empty, not ''"),
    (["report", "paper", "--out", "rp", "--pe-counts", "64,"],
     "--pe-counts must be a comma-separated list of integers with none empty, not '64,'"),
    (["report", "paper", "--out", "rp", "--queue-depths", "8,8"], "--queue-depths names '8' twice: give each once"),
    (["report", "paper", "--out", "rp", "--layers", ""],
     "--layers must be a comma-separated list of layer names with none empty, not ''"),
])
def test_lists_with_empty_or_repeated_items_are_refused_before_work(tmp_path, monkeypatch, capsys, argv, message):
    """They had run every layer (``--layers ""``), the default sweep (``--pe-counts ""``), or
    dropped the empty or repeated item without a word."""
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert capsys.readouterr() == ("", f"eie: error: {message}\n")
    assert list(tmp_path.iterdir()) == []


def test_config_json_by_suffix_in_any_case_and_no_duplicate_keys(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["config", "-o", "X.JSON"]) == 0
    assert json.loads((tmp_path / "X.JSON").read_text())["pes"] == 64
    (tmp_path / "d.json").write_text('{"pes": 32, "pes": 16}')
    assert main(["config", "--config", "d.json"]) == 2
    assert capsys.readouterr().err == "eie: error: config file 'd.json' is not valid json: key 'pes' is given twice\n"


@pytest.mark.parametrize("argv, line", [
    (["compress", "x.npz", "--densty", "0.1"], "eie compress: error: unrecognized arguments: --densty 0.1 (did you "
                                                "mean --density?); 'eie compress --help' lists the options"),
    (["simulate", "x.npz", "--queue_depth", "4"], "eie simulate: error: unrecognized arguments: --queue_depth 4 (did "
                                                   "you mean --queue-depth?); 'eie simulate --help' lists the options"),
    (["simulate", "x.npz", "--pes", "four"], "eie simulate: error: argument --pes: invalid int value: 'four'; "
                                              "'eie simulate --help' lists the options"),
    (["report"], "eie report: error: the following arguments are required: REPORT; 'eie report --help' lists the "
                 "options"),
    (["--bogus", "compile", "x.npz"], "eie: error: unrecognized argument before the command: --bogus (eie itself "
                                      "takes --help and --version; options go after the command); 'eie --help' "
                                      "lists the commands"),
])
def test_argparse_mistakes_are_one_line_with_the_nearest_option(capsys, argv, line):
    """argparse had printed its usage first (the top-level one for a mistyped option, a dozen
    lines for some commands) against docs/cli.md's one line."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    assert capsys.readouterr() == ("", line + "\n")


def test_compile_refuses_existing_images_before_saying_anything(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "l.npz", weight=np.ones((3, 4)), activations=np.ones(4))
    assert main(["compile", "l.npz", "-o", "images", "--pes", "4"]) == 0
    capsys.readouterr()
    assert main(["compile", "l.npz", "-o", "images", "--pes", "4"]) == 2
    assert capsys.readouterr() == ("", "eie: error: output directory 'images' already holds 'pass0_pe0_spmat.hex': "
                                       "use --force to overwrite\n")


def test_report_default_directory_is_made_anywhere(tmp_path, monkeypatch, capsys):
    """``eie report paper`` without --out had failed outside the checkout ('reports' missing)."""
    monkeypatch.chdir(tmp_path)
    assert main(["report", "paper", "--layers", "NT-We", "--no-timing", "--jobs", "1", "--pe-counts", "64",
                 "--queue-depths", "8", "--line-widths", "64"]) == 0
    assert (tmp_path / "reports" / "paper" / "report.md").is_file()
    assert "wrote" in capsys.readouterr().out
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    (tmp_path / "elsewhere" / "reports").write_text("a file\n")           # in the way: refused, not replaced
    assert main(["report", "paper", "--layers", "NT-We", "--no-timing"]) == 2
    assert (tmp_path / "elsewhere" / "reports").read_text() == "a file\n"
    (tmp_path / "third").mkdir()
    monkeypatch.chdir(tmp_path / "third")                    # a bad argument: nothing made, reports/ neither
    assert main(["report", "paper", "--jobs", "0"]) == 2
    assert list((tmp_path / "third").iterdir()) == []
    assert main(["report", "paper", "--pe-counts", "8,08"]) == 2
    assert capsys.readouterr().err.endswith("eie: error: --pe-counts names 8 twice: give each once\n")
    assert list((tmp_path / "third").iterdir()) == []


def test_report_names_eie_not_the_users_repository(tmp_path, monkeypatch):
    """An eie installed in a venv inside the user's own git repository had reported that
    repository's commit as eie's."""
    import subprocess

    from eie.report import paper
    monkeypatch.setattr(paper, "__file__", str(tmp_path / "repo" / "venv" / "site" / "eie" / "report" / "paper.py"))
    (tmp_path / "repo" / "venv" / "site" / "eie" / "report").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    subprocess.run(["git", "-C", str(tmp_path / "repo"), "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-q",
                    "--allow-empty", "-m", "x"], check=True)
    assert paper._git_commit() is None
    monkeypatch.undo()
    from conftest import REPO
    if (REPO / ".git").exists() and (REPO / "eie" / "report" / "paper.py").resolve() == Path(paper.__file__).resolve():
        assert paper._git_commit() is not None        # run from this checkout: it names its commit


def test_the_suggested_input_scale_fixes_even_a_huge_input(tmp_path, monkeypatch, capsys):
    """The scale had stopped at 2^62, which leaves 1e30 at 2.2e11, far beyond 32767."""
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "sat.npz", codebook=np.array([0.0, 0.5, -0.25, 1.0]), codes=np.ones((3, 3), int),
             activations=np.array([1e30, 1.0, 0.0]))
    assert main(["simulate", "sat.npz", "--pes", "2", "--json", "r.json"]) == 0
    out = capsys.readouterr().out
    assert "outputs match reference: False" in out and "scale the input by 1/2^85 " in out
    k = json.loads((tmp_path / "r.json").read_text())["input_scale"]
    assert k == 2 ** 85 and 1e30 / k <= 32767 < 1e30 / (k // 2)


def test_a_default_field_in_conflict_names_the_option_that_changes_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "l.npz", weight=np.ones((3, 4)), activations=np.ones(4))
    assert main(["simulate", "l.npz", "--weight-bits", "2"]) == 2
    assert capsys.readouterr().err == ("eie: error: line_bits must be a multiple of the entry width "
                                       "weight_bits+index_bits=6, not 64 (line_bits is the default: give --line-bits "
                                       "with the options that changed it, --weight-bits)\n")


def test_amaranth_cannot_simulate_the_ecp5_primitives(tmp_path, monkeypatch, capsys):
    """They are black boxes to it: the run had read zeros (every output and the cycles
    differed) instead of refusing."""
    pytest.importorskip("amaranth")
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "l.npz", codebook=np.array([0.0, 0.5]), codes=np.ones((3, 4), int), activations=np.ones(4))
    assert main(["verify", "l.npz", "--sim", "amaranth", "--vendor", "ecp5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("eie: error: the Amaranth simulator cannot run the ECP5 primitives (DP16KD, MULT18X18D)")
    assert len(err.splitlines()) == 1


def test_inputs_are_protected_only_while_their_command_runs(tmp_path, monkeypatch):
    """The CLI's protected inputs had stayed set after main() returned: a later API OutputPlan
    in the same process could not write the last command's layer file."""
    from eie.fileio import OutputPlan
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "l.npz", weight=np.ones((3, 4)), activations=np.ones(4))
    assert main(["compile", "l.npz", "--pes", "2", "-o", "c"]) == 0
    plan = OutputPlan(tmp_path, force=True, kind="mine")
    plan.add("l.npz", b"x")
    plan.commit()
    assert (tmp_path / "l.npz").read_bytes() == b"x"


def test_report_directory_check_leaves_the_users_own_entries_under_data(tmp_path):
    """Before the document exists only its JSON names and PNGs are checked: a user's
    ``data/mine/`` had been refused as 'a directory'; a link at a JSON name still is."""
    from eie.errors import InputError
    from eie.report import check_out_dir
    rep = tmp_path / "rep"
    (rep / "data" / "mine").mkdir(parents=True)
    (rep / "data" / "notes.txt").symlink_to(tmp_path)
    assert check_out_dir(rep, True) == rep
    (rep / "data" / "pareto.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(InputError, match="pareto.json' is a symbolic link"):
        check_out_dir(rep, True)


@pytest.mark.parametrize("extra, message", [
    (["--density", "0"], "--density must be a number in (0, 1] (the fraction of weights kept), not 0.0"),
    (["--bits", "9"], "--bits must be an integer in [1, 8] (codebook of 2^bits entries), not 9"),
])
def test_dense_options_are_named_for_a_network_too(tmp_path, monkeypatch, capsys, extra, message):
    """From inside a network's layer the message had named only 'density' / 'bits'."""
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "m.npz", **{"fc1.weight": np.ones((4, 3)), "fc1.bias": np.zeros(4),
                                    "fc2.weight": np.ones((2, 4)), "fc2.bias": np.zeros(2)})
    assert main(["import", "m.npz", "-o", "net"]) == 0
    np.save(tmp_path / "x.npy", np.ones(3))
    capsys.readouterr()
    assert main(["simulate", "net", "--input", "x.npy", *extra]) == 2
    assert capsys.readouterr().err == f"eie: error: {message}\n"


def test_a_training_config_cannot_skip_dense_training():
    from eie.errors import InputError
    from eie.train.example import TrainConfig
    with pytest.raises(InputError, match="dense_epochs must be an integer >= 1, not 0"):
        TrainConfig(dense_epochs=0)
    assert TrainConfig(retrain_epochs=0, finetune_epochs=0).finetune_epochs == 0      # skipping those is an ablation


def test_a_clamped_bias_is_a_warning_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "sb.npz", codebook=np.array([0.0, 0.5, -0.25, 1.0]), codes=np.ones((3, 3), int),
             bias=np.array([2.0 ** 62, 0.5, -1.0]), activations=np.ones(3))
    assert main(["simulate", "sb.npz", "--pes", "2"]) == 0
    out = capsys.readouterr().out
    assert ("  warning: 1 bias value(s) clamped to the 16-bit accumulators (with fo=0 they hold |b| <= 32767), so "
            "those outputs start from the clamped value: raise --acc-bits, or scale the bias down") in out.splitlines()
    np.savez(tmp_path / "ok.npz", codebook=np.array([0.0, 0.5, -0.25, 1.0]), codes=np.ones((3, 3), int),
             bias=np.array([2.0, 0.5, -1.0]), activations=np.ones(3))
    assert main(["simulate", "ok.npz", "--pes", "2"]) == 0
    assert "clamped" not in capsys.readouterr().out
