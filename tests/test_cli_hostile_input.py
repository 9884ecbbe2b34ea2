"""Hostile and extreme input (a second audit): links that lead out of an output directory,
devices where a text file goes, self-referential pickles, numbers at the edge of float64,
outputs that name each other. Each case: exit 2 with one line naming the field and the fix
(or, for the API, one EIEError), nothing written or removed outside what was asked."""

import json
import os

import numpy as np
import pytest

from eie.cli import main
from eie.errors import InputError
from eie.fileio import OutputPlan


def one_error(code, err, *needles):
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("eie: error: "), err
    for n in needles:
        assert n in lines[0], (n, lines[0])


def test_force_never_removes_a_stale_file_through_a_link(tmp_path):
    """--force removes the files the previous manifest listed and this run does not write, but
    only regular files reached through real subdirectories: a subdirectory replaced by a link
    to elsewhere (or a hand-written manifest naming a path through a link) removed the files
    there."""
    out, keep = tmp_path / "out", tmp_path / "keep"
    keep.mkdir()
    (keep / "a.hex").write_text("precious\n")
    plan = OutputPlan(out, force=False, kind="test")
    plan.add("images/a.hex", "1\n")
    plan.add("top.v", "module top; endmodule\n")
    plan.add("manifest.json", {})
    plan.commit()
    assert json.loads((out / "manifest.json").read_text())["files"] == ["images/a.hex", "manifest.json", "top.v"]
    (out / "images" / "a.hex").unlink()
    (out / "images").rmdir()
    os.symlink(keep, out / "images")
    (out / "old.txt").write_text("stale\n")
    m = json.loads((out / "manifest.json").read_text())
    m["files"] += ["old.txt", "images/../../keep/a.hex"]
    (out / "manifest.json").write_text(json.dumps(m))
    again = OutputPlan(out, force=True, kind="test")
    again.add("top.v", "module top; endmodule\n")
    again.add("manifest.json", {})
    again.commit()
    assert (keep / "a.hex").read_text() == "precious\n"          # not removed through the link
    assert not (out / "old.txt").exists()                          # a plain stale file is
    assert (out / "images").is_symlink()


@pytest.mark.parametrize("argv", [["simulate", "{layer}", "--config", "{dev}"],
                                  ["simulate", "{layer}", "--energy-table", "{dev}"],
                                  ["bench", "--spec", "{dev}"],
                                  ["dse", "{dev}"],
                                  ["compile", "{layer}", "--config", "{link}", "-o", "{out}"]])
def test_a_device_where_a_text_file_goes_is_refused(argv, tmp_path, capsys):
    """/dev/zero as a config, an energy table, a spec (or a link to it) was read until memory
    ran out (MemoryError traceback, or the kernel's OOM kill): a text input must be a regular
    file."""
    from eie.compress import synthetic_layer
    from eie.layer import save_layer
    save_layer(tmp_path / "l.npz", synthetic_layer(8, 8, 0.5, seed=1))
    os.symlink("/dev/zero", tmp_path / "zero.toml")
    words = [w.format(layer=tmp_path / "l.npz", dev="/dev/zero", link=tmp_path / "zero.toml", out=tmp_path / "o")
             for w in argv]
    code = main(words)
    one_error(code, capsys.readouterr().err, "is not a regular file")
    assert not (tmp_path / "o").exists()


def test_a_network_layer_linked_to_a_device_is_refused(tmp_path, capsys):
    """A network.toml layer whose file is a link to /dev/zero: `eie simulate DIR` was OOM-killed."""
    from eie.network import Network, NetworkLayer, network_toml
    os.symlink("/dev/zero", tmp_path / "z.npz")
    (tmp_path / "network.toml").write_text(network_toml(Network("n", (NetworkLayer("a", "z.npz", "fc", (4, 4)),))))
    np.save(tmp_path / "x.npy", np.ones(4))
    code = main(["simulate", str(tmp_path), "--input", str(tmp_path / "x.npy")])
    one_error(code, capsys.readouterr().err, "z.npz", "not a regular file")


def _torch_zip(path, obj):
    import pickle
    import zipfile
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps(obj, protocol=2))
        zf.writestr("archive/byteorder", "little")


def test_a_state_dict_that_holds_itself_or_explodes_is_refused(tmp_path, capsys):
    """The PyTorch reader (no torch) walked the unpickled state dict recursively: a list that
    holds itself ended in a RecursionError traceback (exit 1), and 40 nested pairs that each
    hold one object twice (a 300-byte file, 2^40 paths) ran until killed."""
    selfref = []
    selfref.append(selfref)
    bomb = {"w": []}
    for _ in range(40):
        bomb = [bomb, bomb]
    for name, obj, needle in (("selfref.pt", {"a": selfref}, "holds itself at 'a.0'"),
                              ("bomb.pt", bomb, "more than 1,000,000 objects")):
        _torch_zip(tmp_path / name, obj)
        code = main(["import", str(tmp_path / name), "--list"])
        one_error(code, capsys.readouterr().err, needle, "crafted pickle")
    deep = {"w": 1}
    for _ in range(100):
        deep = {"x": deep}
    _torch_zip(tmp_path / "deep.pt", deep)
    one_error(main(["import", str(tmp_path / "deep.pt"), "--list"]), capsys.readouterr().err,
              "nests deeper than 64 levels")


def test_an_output_file_inside_the_output_directory_is_refused(tmp_path, capsys):
    """--json DIR/eie_top.v replaced the Verilog eie rtl had just written; dse --report DIR --csv
    DIR/x.csv left x.csv behind when the report was refused: an output file may not lie inside
    the run's output directory, checked before any work."""
    out = tmp_path / "ry"
    out.mkdir()
    code = main(["rtl", "--pes", "2", "-o", str(out), "--json", str(out / "eie_top.v")])
    one_error(code, capsys.readouterr().err, "--json", "is inside --out")
    assert list(out.iterdir()) == []
    (tmp_path / "s.toml").write_text('[axes]\npes = [2]\n[workloads]\nlayers = ["NT-LSTM"]\n')
    rp = tmp_path / "rp"
    rp.mkdir()
    code = main(["dse", str(tmp_path / "s.toml"), "--report", str(rp), "--csv", str(rp / "x.csv"),
                 "--db", str(tmp_path / "s.db")])
    one_error(code, capsys.readouterr().err, "--csv", "is inside --report")
    assert list(rp.iterdir()) == [] and not (tmp_path / "s.db").exists()


def test_dse_report_in_the_working_directory_keeps_the_default_database(tmp_path, capsys, monkeypatch):
    """eie dse s.toml --report . --force was refused ("--db 's.db' is inside --report '.'")
    although the user gave no --db: the default database sits in the working directory, and
    no report file is a .db, so a report there, and a second one, leave it in place."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.toml").write_text('[axes]\npes = [2, 4]\n[workloads]\nlayers = ["NT-LSTM"]\n')
    assert main(["dse", "s.toml", "--report", ".", "--workers", "0", "--force"]) == 0, capsys.readouterr().err
    assert (tmp_path / "s.db").is_file() and (tmp_path / "report.md").is_file()
    assert main(["dse", "s.toml", "--report", ".", "--workers", "0", "--force"]) == 0, capsys.readouterr().err
    assert (tmp_path / "s.db").is_file() and (tmp_path / "s.toml").is_file()


@pytest.mark.parametrize("cmd", ["dsd", "deep-compress"])
def test_a_training_output_directory_holding_a_manifest_is_refused_before_training(cmd, tmp_path, capsys,
                                                                                    monkeypatch):
    """eie dsd -o DIR with only DIR/manifest.json trained every seed, then refused the directory
    (the check before the run left the manifest out)."""
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "manifest.json").write_text("{}\n")

    def no_training(*args, **kwargs):
        raise AssertionError("trained before refusing the output directory")
    monkeypatch.setattr("eie.train.dsd_example.run_dsd", no_training)
    monkeypatch.setattr("eie.train.run_deep_compression", no_training)          # what eie deep-compress calls
    code = main([cmd, "-o", str(tmp_path / "o"), "--epochs", "1"])
    one_error(code, capsys.readouterr().err, "already holds 'manifest.json'", "use --force")


def test_an_unwritable_place_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    """A new output directory under /proc (or a read-only mount) was found unwritable only when
    the results were written: `eie report paper -o /proc/x` after the whole run, with a
    tempfile traceback. Now the place is probed first, before any work."""
    import eie.report
    monkeypatch.setattr(eie.report, "run_paper_report",
                        lambda *a, **k: (_ for _ in ()).throw(AssertionError("ran before refusing")))
    one_error(main(["report", "paper", "-o", "/proc/eie-report"]), capsys.readouterr().err,
              "/proc/eie-report", "cannot be written", "choose a writable directory")
    from eie.compress import synthetic_layer
    from eie.layer import save_layer
    save_layer(tmp_path / "l.npz", synthetic_layer(8, 8, 0.5, seed=1))
    one_error(main(["compile", str(tmp_path / "l.npz"), "--pes", "2", "-o", "/proc/eie-images"]),
              capsys.readouterr().err, "/proc/eie-images", "cannot be written")


@pytest.mark.parametrize("axis, needle", [
    ("pes = [[1], [2]]", "axes.pes must list numbers (or target names), not [1]"),
    ("pes = {start = 0, stop = 1e308, step = 1e-308}", "more than 10000 values: use a coarser step"),
    ('clock_mhz = {start = 1e-300, stop = 1e300, step = "x1.01"}', "use a larger factor"),
    ('clock_mhz = {start = 1, stop = 1e300, step = "x1.0000001"}', "use a larger factor"),
])
def test_dse_axis_extremes_are_one_error(axis, needle, tmp_path, capsys):
    """Each was a traceback: TypeError (unhashable list), OverflowError, MemoryError (a
    geometric range of 6.9 billion values had no count cap)."""
    (tmp_path / "s.toml").write_text(f'[axes]\n{axis}\n[workloads]\nlayers = ["NT-LSTM"]\n')
    one_error(main(["dse", str(tmp_path / "s.toml"), "--db", str(tmp_path / "s.db")]), capsys.readouterr().err,
              needle)
    assert not (tmp_path / "s.db").exists()


@pytest.mark.parametrize("entry, needle", [
    ("layer = [1, 2]", "layer 0 must be a [[layer]] table"),
    ('[[layer]]\nname = ["x"]\nn_in = 4\nn_out = 4\nweight_density = 0.5\nact_density = 0.5', "name must be a non-empty"),
    ('[[layer]]\nname = ""\nn_in = 4\nn_out = 4\nweight_density = 0.5\nact_density = 0.5', "name must be a non-empty"),
    ('[[layer]]\nname = "a"\nn_in = 4\nn_out = 4\nweight_density = 0.5\nact_density = 0.5\nseed = -1',
     "layer 'a': seed must be an integer >= 0"),
])
def test_bench_spec_extremes_are_one_error_naming_the_file(entry, needle, tmp_path, capsys):
    (tmp_path / "spec.toml").write_text(entry + "\n")
    one_error(main(["bench", "--spec", str(tmp_path / "spec.toml")]), capsys.readouterr().err,
              f"spec file {str(tmp_path / 'spec.toml')!r}", needle)


def test_clock_and_sram_sizes_have_an_upper_bound_and_json_stays_json(tmp_path, capsys):
    """clock_mhz = 1e308 gave "average power inf mW" and `Infinity` in --json (not JSON);
    spmat_kb = 1e30 was blamed on the energy table. Both are bounded, the message names the
    config file, and a non-finite float is written as null."""
    from eie.config import EIEConfig
    from eie.errors import ConfigError
    from eie.fileio import dumps_json
    for field, value, needle in (("clock_mhz", 1e308, "clock_mhz must be at most 100,000"),
                                 ("spmat_kb", 1e30, "spmat_kb must be at most 1,048,576")):
        (tmp_path / "c.toml").write_text(f"{field} = {value!r}\n")
        with pytest.raises(ConfigError, match=f"config file '{tmp_path / 'c.toml'}': {needle}"):
            EIEConfig.from_file(tmp_path / "c.toml")
    text = dumps_json({"a": float("inf"), "b": [1.0, float("nan")], "c": np.array([np.inf, 2.0]), "d": "Infinity"})
    assert json.loads(text) == {"a": None, "b": [1.0, None], "c": [None, 2.0], "d": "Infinity"}
    assert "Infinity" not in text.replace('"Infinity"', "") and "NaN" not in text


def test_dse_db_is_never_written_through_a_link(tmp_path, capsys):
    """--db through a link extended the linked database in place, or created one at a dangling
    link's target; a read-only place was reported as "not an eie sweep database"."""
    (tmp_path / "s.toml").write_text('[axes]\npes = [2]\n[workloads]\nlayers = ["NT-LSTM"]\n')
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside" / "created.db", tmp_path / "dangling.db")
    one_error(main(["dse", str(tmp_path / "s.toml"), "--db", str(tmp_path / "dangling.db"), "--workers", "0"]),
              capsys.readouterr().err, "is a symbolic link")
    assert not (tmp_path / "outside" / "created.db").exists()
    one_error(main(["dse", str(tmp_path / "s.toml"), "--db", "/proc/eie.db", "--workers", "0"]),
              capsys.readouterr().err, "cannot be written")


def test_an_output_is_never_one_of_the_inputs(tmp_path, capsys):
    """eie simulate l.npz -o l.npz --force replaced the layer with its output activations."""
    from eie.compress import synthetic_layer
    from eie.layer import DenseLayer, save_layer
    layer = synthetic_layer(8, 8, 0.5, seed=1)
    save_layer(tmp_path / "l.npz", layer)
    before = (tmp_path / "l.npz").read_bytes()
    one_error(main(["simulate", str(tmp_path / "l.npz"), "--pes", "2", "-o", str(tmp_path / "l.npz"), "--force"]),
              capsys.readouterr().err, "--output", "is the layer file: eie never writes over its input")
    np.save(tmp_path / "x.npy", np.ones(8))
    one_error(main(["simulate", str(tmp_path / "l.npz"), "--input", str(tmp_path / "x.npy"), "--json",
                    str(tmp_path / "x.npy"), "--force"]), capsys.readouterr().err, "is the --input file")
    save_layer(tmp_path / "d.npz", DenseLayer(np.ones((4, 4))))
    one_error(main(["compress", str(tmp_path / "d.npz"), "-o", str(tmp_path / "d.npz"), "--force"]),
              capsys.readouterr().err, "--out", "is the layer file")
    assert (tmp_path / "l.npz").read_bytes() == before


def test_no_command_writes_over_its_input(tmp_path, capsys):
    """Every command, not only simulate and compress: an output (--json, --csv, --output) that
    is a file the run reads, or a file of a network directory it reads, is refused with one
    line and exit 2, and the input is unchanged."""
    from eie.compress import synthetic_layer
    from eie.layer import save_layer
    from eie.network import Network, NetworkLayer, network_toml
    save_layer(tmp_path / "c.npz", synthetic_layer(8, 8, 0.5, seed=1))
    lstm = synthetic_layer(16, 6, 0.5, seed=2)          # 4 x hidden 4 rows, input 2 + hidden 4 columns
    save_layer(tmp_path / "lstm.npz", lstm)
    np.save(tmp_path / "xs.npy", np.ones((3, 2)))
    (tmp_path / "s.toml").write_text('[axes]\npes = [2]\n[workloads]\nlayers = ["NT-LSTM"]\n')
    (tmp_path / "b.toml").write_text('[[layer]]\nname = "x"\nrows = 8\ncols = 8\ndensity = 0.5\n')
    net = tmp_path / "net"
    net.mkdir()
    save_layer(net / "fc1.npz", synthetic_layer(8, 12, 0.5, seed=3))
    (net / "network.toml").write_text(network_toml(Network("n", (NetworkLayer("fc1", "fc1.npz", "fc", (8, 12)),))))
    (net / "manifest.json").write_text('{"files": ["fc1.npz", "network.toml"], "written_by": "eie import"}')
    np.save(tmp_path / "x12.npy", np.ones(12))
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    cases = [
        (["compile", "c.npz", "--json", "c.npz"], "--json 'c.npz' is the layer file"),
        (["compile", "c.npz", "--input", "x12.npy", "--json", "x12.npy"], "is the --input file"),
        (["rtl", "--layer", "c.npz", "-o", "r", "--json", "c.npz"], "is the --layer file"),
        (["bench", "--spec", "b.toml", "--json", "b.toml"], "is the --spec file"),
        (["dse", "s.toml", "--csv", "s.toml", "--workers", "0"], "--csv 's.toml' is the spec file"),
        (["lstm", "lstm.npz", "--hidden", "4", "--input-size", "2", "--json", "lstm.npz"], "is the src file"),
        (["lstm", "lstm.npz", "--hidden", "4", "--input", "xs.npy", "--json", "xs.npy"], "is the --input-seq file"),
        (["simulate", "net", "--input", "x12.npy", "-o", "net/fc1.npz"],
         "is the file of layer 'fc1' of the network directory 'net'"),
        (["simulate", "net", "--input", "x12.npy", "--json", "net/network.toml"],
         "is the network.toml of the network directory 'net'"),
        (["simulate", "net", "--input", "x12.npy", "--json", "net/manifest.json"],
         "is the manifest.json of the network directory 'net'"),
        (["eval", "net", "--data", "x12.npy", "--json", "x12.npy"], "is the --data file"),
    ]
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for argv, needle in cases:
            one_error(main([*argv, "--force"]), capsys.readouterr().err, needle,
                      "eie never writes over its input")
    finally:
        os.chdir(cwd)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_messages_name_the_file_or_layer(tmp_path, capsys):
    """'the input sequence must be finite' and 'weight must fit a float32 codebook' named
    neither the file nor the layer."""
    from eie.layer import DenseLayer, save_layer
    from eie.network import Network, NetworkLayer, network_toml
    w = np.ones((8, 4))
    w[0, 0] = 1e300
    save_layer(tmp_path / "big.npz", DenseLayer(w))
    (tmp_path / "network.toml").write_text(network_toml(Network("n", (NetworkLayer("fc0", "big.npz", "fc", (8, 4)),))))
    np.save(tmp_path / "x.npy", np.ones(4))
    one_error(main(["simulate", str(tmp_path), "--input", str(tmp_path / "x.npy")]), capsys.readouterr().err,
              "layer 'fc0'", "big.npz", "float32 codebook")
    H, X = 2, 3
    save_layer(tmp_path / "lstm.npz", DenseLayer(np.random.default_rng(0).normal(size=(4 * H, X + H))))
    xs = np.zeros((2, X))
    xs[1, 1] = np.nan
    np.save(tmp_path / "xs.npy", xs)
    one_error(main(["lstm", str(tmp_path / "lstm.npz"), "--hidden", str(H), "--input-size", str(X), "--input",
                    str(tmp_path / "xs.npy")]), capsys.readouterr().err,
              f"input sequence {str(tmp_path / 'xs.npy')!r} holds 1 values that are not finite")


@pytest.mark.parametrize("cmd, text", [("deep-compress", "foo = 1\n"), ("dsd", "[train]\nfoo = 1\n")])
def test_a_training_config_key_error_names_the_file(cmd, text, tmp_path, capsys):
    (tmp_path / "t.toml").write_text(text)
    one_error(main([cmd, "--train-config", str(tmp_path / "t.toml"), "--epochs", "1"]), capsys.readouterr().err,
              str(tmp_path / "t.toml"), "unknown training key 'foo'")


def test_a_diverging_training_run_says_so():
    """lr = 1e308 in --train-config printed RuntimeWarnings, then "weight must be finite, not
    -inf" from the compression: the epoch that diverged is now named, with the fix."""
    from eie.errors import InputError
    from eie.train.mlp import MLP, train_epochs
    rng = np.random.default_rng(0)
    model = MLP([rng.normal(size=(3, 4)).astype(np.float32)], [np.zeros(3, np.float32)])
    x, y = rng.normal(size=(16, 4)).astype(np.float32), rng.integers(0, 3, 16)

    def step(gw, gb):
        for w, g in zip(model.weights, gw, strict=True):
            w -= np.float32(1e38) * g
    with pytest.raises(InputError, match=r"training diverged in epoch 1 .*lower the learning rates"):
        train_epochs(model, x, y, epochs=3, batch=4, step=step, rng=np.random.default_rng(1))


@pytest.mark.parametrize("writer", ["bytes", "stream"])
def test_the_temporary_file_is_never_written_through_a_planted_link(tmp_path, writer):
    """Every write goes to ``.NAME.PID.tmp`` and is renamed into place; a link planted at that
    predictable name was followed (the linked file overwritten).  Now the temporary file is
    created new (O_EXCL | O_NOFOLLOW) after removing the link itself: the linked file is
    unchanged, the output written, no temporary file left."""
    from eie.fileio import write_bytes, write_stream
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "out.json"
    (tmp_path / f".out.json.{os.getpid()}.tmp").symlink_to(victim)
    if writer == "bytes":
        write_bytes(out, b"{}\n")
    else:
        write_stream(out, iter(["{", "}\n"]))
    assert victim.read_text() == "precious\n" and out.read_text() == "{}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "victim.txt"]


# ---- found by a review: FIFOs, inputs inside output directories, corrupt ONNX -------------

@pytest.mark.parametrize("argv, message", [
    (["simulate", "f.npz"], "layer file 'f.npz' is not a regular file"),
    (["compress", "f.npz"], "layer file 'f.npz' is not a regular file"),
    (["compile", "f.npz"], "layer file 'f.npz' is not a regular file"),
    (["simulate", "l.npz", "--input", "f.npy"], "input file 'f.npy' is not a regular file"),
])
def test_a_fifo_is_refused_not_opened(tmp_path, monkeypatch, capsys, argv, message):
    """Opening a FIFO with no writer blocks: the command had hung for ever."""
    import threading
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "l.npz", weight=np.ones((3, 4)), activations=np.ones(4))
    os.mkfifo(tmp_path / "f.npz")
    os.mkfifo(tmp_path / "f.npy")
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("rc", main(argv)), daemon=True)
    t.start()
    t.join(30)
    if t.is_alive():
        for f in ("f.npz", "f.npy"):                  # a writer unblocks the reader: the run can end
            with open(tmp_path / f, "wb"):
                pass
        pytest.fail(f"eie {' '.join(argv)} blocked on the FIFO")
    assert result["rc"] == 2
    assert capsys.readouterr().err == f"eie: error: {message}\n"


def test_an_output_directory_never_loses_or_overwrites_an_input(tmp_path, monkeypatch, capsys):
    """``eie import s/fc.npz -o s --force`` had replaced the model file; ``eie compile
    net/fc1.npz -o net --force`` had removed the network's files (listed by import's manifest)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s").mkdir()
    np.savez(tmp_path / "s" / "fc.npz", weight=np.ones((3, 4)), bias=np.zeros(3), activations=np.ones(4))
    before = (tmp_path / "s" / "fc.npz").read_bytes()
    assert main(["import", "s/fc.npz", "-o", "s", "--force"]) == 2
    assert capsys.readouterr().err == ("eie: error: network directory 's': this run writes 'fc.npz', which is the "
                                       "src file: eie never writes over its input; give another directory\n")
    assert (tmp_path / "s" / "fc.npz").read_bytes() == before
    np.savez(tmp_path / "m.npz", **{"fc1.weight": np.ones((4, 3)), "fc1.bias": np.zeros(4),
                                    "fc2.weight": np.ones((2, 4)), "fc2.bias": np.zeros(2)})
    assert main(["import", "m.npz", "-o", "net"]) == 0
    files = sorted(p.name for p in (tmp_path / "net").iterdir())
    # compiled into the network directory: refused, --force or not (compile's manifest would
    # replace import's record, and a later 'eie import --force' could not tell its stale files)
    before = {p.name: p.read_bytes() for p in (tmp_path / "net").iterdir()}
    np.savez(tmp_path / "l.npz", weight=np.ones((3, 4)), activations=np.ones(4))
    for argv in (["compile", "net/fc1.npz", "--pes", "2", "-o", "net", "--force"],
                 ["compile", "l.npz", "--pes", "2", "-o", "net", "--force"], ["compile", "l.npz", "-o", "net"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "holds the files of an 'eie import' run" in err and "'net/compile'" in err and err.count("\n") == 1
        assert {p.name: p.read_bytes() for p in (tmp_path / "net").iterdir()} == before
    assert main(["compile", "net/fc1.npz", "--pes", "2", "-o", "net/compile"]) == 0      # the suggested place
    assert main(["import", "m.npz", "-o", "net", "--force"]) == 0       # import's own directory: its own run
    assert main(["compile", "l.npz", "--pes", "2", "-o", "net/compile", "--force"]) == 0
    assert sorted(files) == sorted(p.name for p in (tmp_path / "net").iterdir() if p.name != "compile")



def test_force_removes_stale_files_only_of_its_own_kind(tmp_path):
    out = tmp_path / "out"
    first = OutputPlan(out, force=False, kind="rtl")
    first.add("a.txt", "a\n")
    first.add("manifest.json", {})
    first.commit()
    other = OutputPlan(out, force=True, kind="compile")
    other.add("b.txt", "b\n")
    other.add("manifest.json", {})
    with pytest.raises(InputError, match="holds the files of an 'eie rtl' run"):
        other.commit()                               # it would replace rtl's record: refused, --force or not
    assert (out / "a.txt").exists() and not (out / "b.txt").exists()
    out = tmp_path / "out2"
    (out).mkdir()
    (out / "a.txt").write_text("a\n")               # a file no manifest lists: never removed
    other.directory = out
    other.commit()
    again = OutputPlan(out, force=True, kind="compile")
    again.add("c.txt", "c\n")
    again.add("manifest.json", {})
    again.commit()
    assert not (out / "b.txt").exists() and (out / "a.txt").exists() and (out / "c.txt").exists()
    # a stale file of its own kind that is an input of this command stays
    from eie.fileio import protect_inputs
    protect_inputs({"layer file": out / "c.txt"})
    try:
        last = OutputPlan(out, force=True, kind="compile")
        last.add("d.txt", "d\n")
        last.add("manifest.json", {})
        last.commit()
        assert (out / "c.txt").exists() and (out / "d.txt").exists()
        over = OutputPlan(out, force=True, kind="compile")
        over.add("c.txt", "x\n")
        with pytest.raises(InputError, match="this run writes 'c.txt', which is the layer file"):
            over.commit()
        assert (out / "c.txt").read_text() == "c\n"
    finally:
        protect_inputs({})


def test_a_corrupt_onnx_constant_is_one_error(tmp_path, monkeypatch, capsys):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    monkeypatch.chdir(tmp_path)
    for dims, message in (([6, 5], "constant 'fc.weight' declares shape [6, 5] but its data does not fit it "
                                   "(cannot reshape array of size 3 into shape (6,5)): the file is truncated or "
                                   "corrupt; export the model again"),
                          ([100000, 100000], "constant 'fc.weight' declares shape [100000, 100000]: more than "
                                             "268,435,456 values or a negative dimension")):
        t = onnx.TensorProto()
        t.name, t.data_type = "fc.weight", TensorProto.FLOAT
        t.dims.extend(dims)
        t.raw_data = b"\0" * 12
        g = helper.make_graph([helper.make_node("Gemm", ["x", "fc.weight", "fc.bias"], ["y"], transB=1)], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6])],
                              [t, numpy_helper.from_array(np.zeros(6, np.float32), "fc.bias")])
        (tmp_path / "m.onnx").write_bytes(helper.make_model(g).SerializeToString())
        for extra in ([], ["--list"]):
            assert main(["import", "m.onnx", "-o", "on", *extra]) == 2
            err = capsys.readouterr().err
            assert err.startswith(f"eie: error: 'm.onnx': {message}") and len(err.splitlines()) == 1
        assert not (tmp_path / "on").exists()


def test_import_refuses_an_empty_layer_before_writing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "z.npz", **{"fc.weight": np.zeros((0, 5), np.float32), "fc.bias": np.zeros(0, np.float32)})
    assert main(["import", "z.npz", "-o", "zn"]) == 2
    assert capsys.readouterr().err == ("eie: error: 'z.npz': layer 'fc' has shape (0, 5): a layer needs at least one output "
                                       "row and one input column; leave it out (--select)\n")
    assert not (tmp_path / "zn").exists()


def test_bad_values_are_one_line_naming_the_value(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "cf.npz", codebook=np.r_[0.0, np.ones(15)], codes=np.full((2, 2), 1e30))
    assert main(["simulate", "cf.npz"]) == 2
    assert capsys.readouterr().err == ("eie: error: codes must be in [0, 15] (the codebook has 16 entries), "
                                       "not 1e+30\n")
    np.savez(tmp_path / "ld.npz", weight=np.full((2, 2), np.longdouble("1e400")))
    assert main(["compress", "ld.npz"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("eie: error: weight must be finite") and len(err.splitlines()) == 1


def test_a_hard_link_to_an_input_is_the_input(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "l.npz", weight=np.ones((3, 4)), activations=np.ones(4))
    os.link(tmp_path / "l.npz", tmp_path / "hl.npz")
    assert main(["simulate", "l.npz", "--json", "hl.npz", "--force"]) == 2
    assert capsys.readouterr().err == ("eie: error: --json 'hl.npz' is the layer file: eie never writes over its "
                                       "input; give --json another file\n")
