"""ONNX import: models built with onnx.helper are run by onnx's own reference evaluator
(``onnx.reference``, no onnxruntime) and the imported layers, run as eie reads them
(``f(W x + b)``, an LSTM from its stacked matrix and gate letters), give the same outputs."""

import importlib.util

import numpy as np
import pytest
from conftest import wheel_file

onnx = pytest.importorskip("onnx", reason="the 'networks' extra (onnx) is not installed")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

from eie.cli import main  # noqa: E402
from eie.errors import InputError  # noqa: E402
from eie.importers import detect_format, import_file  # noqa: E402
from eie.network import load_network  # noqa: E402

F = TensorProto.FLOAT


def run(argv, capsys):
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def init(name, a):
    return numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)


def save(tmp_path, nodes, inits, inputs, outputs, name="m.onnx"):
    graph = helper.make_graph(nodes, "g", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    path = tmp_path / name
    onnx.save(model, str(path))
    return path, model


def act(function, y):
    if function == "relu":
        return np.maximum(y, 0)
    if function == "sigmoid":
        return 1 / (1 + np.exp(-y))
    if function == "tanh":
        return np.tanh(y)
    if function == "softmax":
        e = np.exp(y - y.max())
        return e / e.sum()
    return y


@pytest.fixture
def mlp(tmp_path, rng):
    w1, w2, w3, w4 = (rng.normal(size=s).astype(np.float32) for s in ((6, 5), (6, 4), (4, 3), (3, 2)))
    b1, c2, b3, b4 = (rng.normal(size=s).astype(np.float32) for s in (6, (1, 4), (1, 1, 3), 2))
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h1"], name="g1", transB=1),
        helper.make_node("Relu", ["h1"], ["a1"]),
        helper.make_node("Gemm", ["a1", "w2", "c2"], ["h2"], name="g2", alpha=0.5, beta=2.0),
        helper.make_node("Sigmoid", ["h2"], ["a2"]),
        helper.make_node("MatMul", ["a2", "w3"], ["m3"], name="mm3"),
        helper.make_node("Add", ["m3", "b3"], ["h3"]),
        helper.make_node("Tanh", ["h3"], ["a3"]),
        helper.make_node("Constant", [], ["w4"], value=init("w4v", w4)),
        helper.make_node("Gemm", ["a3", "w4"], ["m4"], name="g4"),
        helper.make_node("Identity", ["m4"], ["m4i"]),
        helper.make_node("Add", ["b4", "m4i"], ["h4"]),
        helper.make_node("Softmax", ["h4"], ["y"]),
    ]
    path, model = save(tmp_path, nodes, [init("w1", w1), init("b1", b1), init("w2", w2), init("c2", c2),
                                          init("w3", w3.reshape(4, 3)), init("b3", b3), init("b4", b4)],
                       [helper.make_tensor_value_info("x", F, [1, 5])], [helper.make_tensor_value_info("y", F, [1, 2])])
    return path, model


def test_gemm_matmul_constants_and_functions(mlp, rng):
    path, model = mlp
    assert detect_format(path) == "onnx"
    net = import_file(path)
    assert [(x.name, x.kind, x.shape, x.function) for x in net.layers] == [
        ("g1", "fc", (6, 5), "relu"), ("g2", "fc", (4, 6), "sigmoid"), ("mm3", "fc", (3, 4), "tanh"),
        ("g4", "fc", (2, 3), "softmax")]
    for _ in range(3):
        x = rng.normal(size=5).astype(np.float32)
        want = ReferenceEvaluator(model).run(None, {"x": x[None]})[0][0]
        y = x.astype(np.float64)
        for layer in net.layers:
            y = act(layer.function, layer.weight @ y + layer.bias)
        assert np.allclose(y, want, atol=1e-5)


def test_a_constant_left_operand_and_transA(tmp_path, rng):
    """Y = A' @ X + C with a constant A (the outputs run down the rows)."""
    a, c = rng.normal(size=(5, 6)).astype(np.float32), rng.normal(size=(6, 1)).astype(np.float32)
    path, model = save(tmp_path, [helper.make_node("Gemm", ["a", "x", "c"], ["y"], transA=1, name="left")],
                       [init("a", a), init("c", c)], [helper.make_tensor_value_info("x", F, [5, 1])],
                       [helper.make_tensor_value_info("y", F, [6, 1])])
    layer = import_file(path).layers[0]
    x = rng.normal(size=5).astype(np.float32)
    want = ReferenceEvaluator(model).run(None, {"x": x[:, None]})[0][:, 0]
    assert layer.shape == (6, 5) and np.allclose(layer.weight @ x + layer.bias, want, atol=1e-5)


@pytest.mark.parametrize("attrs, needle", [({"alpha": float("inf")}, "alpha = inf is not a finite number"),
                                           ({"beta": float("nan")}, "beta = nan is not a finite number"),
                                           ({"alpha": 1e38}, "overflows float32")])
def test_gemm_alpha_and_beta_must_keep_the_weights_finite(tmp_path, rng, attrs, needle):
    """alpha = inf was imported: the layer file held weights of inf (the finite check ran on the
    initialiser, before the scaling)."""
    w = rng.normal(size=(3, 4)).astype(np.float32) * 100
    path, _ = save(tmp_path, [helper.make_node("Gemm", ["x", "w"], ["y"], transB=1, name="g", **attrs)],
                   [init("w", w)], [helper.make_tensor_value_info("x", F, [1, 4])],
                   [helper.make_tensor_value_info("y", F, [1, 3])])
    with pytest.raises(InputError, match=needle):
        import_file(path)


def lstm_model(tmp_path, rng, direction="bidirectional", hidden=3, inp=4, bias=True, extra=None):
    dirs = 2 if direction == "bidirectional" else 1
    w = rng.normal(size=(dirs, 4 * hidden, inp)).astype(np.float32)
    r = rng.normal(size=(dirs, 4 * hidden, hidden)).astype(np.float32)
    b = rng.normal(size=(dirs, 8 * hidden)).astype(np.float32)
    inputs = ["x", "w", "r", "b" if bias else ""] + (extra or [])
    node = helper.make_node("LSTM", inputs, ["y"], name="rnn", hidden_size=hidden, direction=direction)
    inits = [init("w", w), init("r", r)] + ([init("b", b)] if bias else [])
    if extra:
        inits += [init("p", rng.normal(size=(dirs, 3 * hidden)))]
    return save(tmp_path, [node], inits, [helper.make_tensor_value_info("x", F, [5, 1, inp])],
                [helper.make_tensor_value_info("y", F, [5, dirs, 1, hidden])])


def run_lstm(layer, xs):
    """An LSTM driven by eie's layer description: z = M [x; h] + b, rows in ``gates`` order."""
    hsz = layer.hidden
    block = {g: slice(k * hsz, (k + 1) * hsz) for k, g in enumerate(layer.gates)}
    h, c, out = np.zeros(hsz), np.zeros(hsz), []
    steps = range(len(xs)) if layer.direction == "forward" else reversed(range(len(xs)))
    for t in steps:
        z = layer.weight @ np.concatenate([xs[t], h]) + (0 if layer.bias is None else layer.bias)
        sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        i, f, g, o = sig(z[block["i"]]), sig(z[block["f"]]), np.tanh(z[block["g"]]), sig(z[block["o"]])
        c = f * c + i * g
        h = o * np.tanh(c)
        out.append((t, h))
    return np.array([h for _, h in sorted(out, key=lambda p: p[0])])


@pytest.mark.parametrize("direction, bias", [("bidirectional", True), ("forward", False), ("reverse", True)])
def test_lstm_maps_onto_eies_gates(tmp_path, rng, direction, bias):
    path, model = lstm_model(tmp_path, rng, direction, bias=bias)
    net = import_file(path)
    names = {"bidirectional": ["rnn.forward", "rnn.reverse"]}.get(direction, ["rnn"])
    assert [x.name for x in net.layers] == names
    assert all(x.kind == "lstm" and x.gates == "iofg" and x.shape == (12, 7) and x.function == "none"
               for x in net.layers)
    xs = rng.normal(size=(5, 4)).astype(np.float32)
    want = ReferenceEvaluator(model).run(None, {"x": xs[:, None, :]})[0]       # seq x dirs x batch x H
    for d, layer in enumerate(net.layers):
        assert np.allclose(run_lstm(layer, xs), want[:, d, 0, :], atol=1e-5)


def test_unsupported_lstm_features_are_left_out_with_the_reason(tmp_path, rng, capsys):
    path, _ = lstm_model(tmp_path, rng, "forward", extra=["", "", "", "p"])
    with pytest.raises(InputError, match="holds no layer eie can import .*; left out: LSTM 'rnn': it has peepholes"):
        import_file(path)


def test_the_directory_round_trips_and_simulates(tmp_path, mlp, capsys):
    path, _ = mlp
    out = tmp_path / "net"
    rc, text, err = run(["import", path, "-o", out], capsys)
    assert rc == 0, err
    net = load_network(out)
    assert [x.function for x in net.layers] == ["relu", "sigmoid", "tanh", "softmax"]
    np.save(tmp_path / "x.npy", np.abs(np.arange(5.0)) + 0.5)
    rc, text, err = run(["simulate", out / "g1.npz", "--input", tmp_path / "x.npy", "--pes", "4"], capsys)
    assert rc == 0 and "cycles" in text, err


def test_no_fc_layer_and_broken_chains(tmp_path, rng, capsys):
    conv = save(tmp_path, [helper.make_node("Conv", ["x", "k"], ["y"], name="c")], [init("k", rng.normal(size=(2, 1, 3, 3)))],
                [helper.make_tensor_value_info("x", F, [1, 1, 5, 5])], [helper.make_tensor_value_info("y", F, [1, 2, 3, 3])],
                name="conv.onnx")[0]
    rc, _, err = run(["import", conv, "-o", tmp_path / "o"], capsys)
    assert rc == 2 and "has no fully-connected or LSTM layer: nothing runs on the array" in err
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="d0"), helper.make_node("Reshape", ["h", "s"], ["h2"]),
             helper.make_node("MatMul", ["h2", "w2"], ["y"], name="d1")]
    chain = save(tmp_path, nodes, [init("w1", rng.normal(size=(4, 6))), init("w2", rng.normal(size=(3, 2))),
                                   numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "s")],
                 [helper.make_tensor_value_info("x", F, [1, 4])], [helper.make_tensor_value_info("y", F, [2, 2])],
                 name="chain.onnx")[0]
    rc, _, err = run(["import", chain, "-o", tmp_path / "o"], capsys)
    assert rc == 2 and "layer 'd1' has 3 inputs but 'd0' has 6 outputs: the layers must chain; import a chain" in err
    assert not (tmp_path / "o").exists()
    rc, _, err = run(["import", chain, "--select", "d1", "-o", tmp_path / "o"], capsys)
    assert rc == 0 and [x.name for x in load_network(tmp_path / "o").layers] == ["d1"]


def test_corrupt_file_and_missing_extra(tmp_path, mlp, capsys, monkeypatch):
    path, _ = mlp
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(path.read_bytes()[:100])
    rc, _, err = run(["import", bad, "-o", tmp_path / "o"], capsys)
    assert rc == 2 and "is not a readable ONNX model" in err and err.count("\n") == 1
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a))
    rc, _, err = run(["import", path, "-o", tmp_path / "o"], capsys)
    assert rc == 2 and err == ("eie: error: eie import --format onnx needs the 'networks' extra for importing real "
                               "networks and their data (module 'onnx' is missing): pip install 'eie[networks]'\n")
    assert not (tmp_path / "o").exists()


# ---- real files from wheels -------------------------------------------------------------

def test_real_ddddocr_bilstm_and_classifier(tmp_path, capsys):
    src = wheel_file("ddddocr", "common.onnx")
    rc, text, err = run(["import", "--list", src], capsys)
    assert rc == 0, err
    assert "LSTM_79.forward  lstm  2048x1024 (H=512, X=512, iofg, forward)" in text
    assert "LSTM_79.reverse  lstm  2048x1024 (H=512, X=512, iofg, reverse)" in text
    assert "Gemm_97          fc    8210x1024" in text
    rc, _, err = run(["import", src, "--select", r"LSTM_79\.reverse", "-o", tmp_path / "d"], capsys)
    assert rc == 0, err
    (layer,) = load_network(tmp_path / "d").layers
    assert (layer.kind, layer.hidden, layer.input, layer.gates, layer.direction) == ("lstm", 512, 512, "iofg", "reverse")


def test_real_magika_needs_a_chain(tmp_path, capsys):
    src = wheel_file("magika", "models/standard_v3_3/model.onnx")
    rc, _, err = run(["import", src, "-o", tmp_path / "m"], capsys)
    assert rc == 2 and "the layers must chain" in err
    rc, _, err = run(["import", src, "--select", "Dense_1", "-o", tmp_path / "m"], capsys)
    assert rc == 0 and load_network(tmp_path / "m").layers[0].shape == (214, 512)


def test_real_silero_has_no_fc_at_the_top_level(tmp_path, capsys):
    src = wheel_file("silero_vad", "data/silero_vad_16k_op15.onnx")
    rc, _, err = run(["import", src, "-o", tmp_path / "s"], capsys)
    assert rc == 2 and "nothing runs on the array; left out: If '/model/decoder/If': sub-graphs are not searched" in err
