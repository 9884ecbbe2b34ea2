"""LSTM layers on the array (eie.lstm, ``eie lstm``), against references written here.

The reference LSTM below follows PyTorch's ``nn.LSTM`` (separate ``W_ih``/``W_hh``, two biases,
gate blocks i, f, g, o) and is independent of eie's stacked-matrix code.  The fixed-point
run is held to it within a bound derived step by step (see :func:`h_bound`).
"""

import io
import json

import numpy as np
import pytest

from eie.cli import main
from eie.compress import compress_layer
from eie.config import EIEConfig
from eie.errors import InputError
from eie.layer import CompressedLayer, DenseLayer, save_layer
from eie.lstm import run_lstm_layer
from eie.model import simulate
from eie.network import NetworkLayer
from eie.reference import error_bound, sparse_weight

H, X, T = 16, 8, 12
CFG = EIEConfig(pes=4)


def sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def torch_lstm(w_ih, w_hh, b_ih, b_hh, xs, reverse=False):
    """PyTorch's LSTM equations, float64; h in input order."""
    hidden = w_hh.shape[1]
    h, c = np.zeros(hidden), np.zeros(hidden)
    out = np.zeros((len(xs), hidden))
    for t in (range(len(xs) - 1, -1, -1) if reverse else range(len(xs))):
        gates = w_ih @ xs[t] + b_ih + w_hh @ h + b_hh
        i, f, g, o = np.split(gates, 4)
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
        out[t] = h
    return out


@pytest.fixture
def case():
    rng = np.random.default_rng(7)
    w = rng.normal(scale=0.4, size=(4 * H, X + H))
    b = rng.normal(scale=0.2, size=4 * H)
    dense = DenseLayer(w, b, name="lstm")
    layer, _ = compress_layer(dense, density=0.5, bits=4)
    xs = rng.normal(size=(T, X))
    return dense, layer, xs


def nl(gates="ifgo", direction="forward", hidden=H, inp=X):
    return NetworkLayer("lstm", "lstm.npz", "lstm", (4 * hidden, inp + hidden), "none", hidden, inp, gates, direction)


def split(layer_or_w, bias):
    w = layer_or_w.dense_weight() if isinstance(layer_or_w, CompressedLayer) else layer_or_w
    return w[:, :X], w[:, X:], bias, np.zeros_like(bias)


def h_bound(layer, res, xs, reverse=False):
    """Per step, a bound on |h_fixed - h_float| (both on the compressed weights).

    The pre-activations of step t differ from the float LSTM's by at most the arch §4 bound of
    the array on the step's own input z' = [x_t ; h'_{t-1}] (eie.reference.error_bound) plus
    |R| e_h(t-1) (the float LSTM feeds back its own h).  sigmoid is 1/4-Lipschitz, tanh 1-Lipschitz
    and every gate is in [-1, 1], so e_c(t) <= e_f |c| + e_c(t-1) + e_i |g| + e_g and
    e_h(t) <= e_o + e_c(t) (|o'| <= 1, |tanh| <= 1), plus the quantisation of h, 2^-(fa+1), and
    float32 rounding on the host (1e-6, generous)."""
    p = res.plan
    w = sparse_weight(layer)
    rabs = np.abs(layer.dense_weight()[:, X:])
    e_h, e_c = np.zeros(H), np.zeros(H)
    c_ref = np.zeros(H)
    out = np.zeros(len(xs))
    h_prev = np.zeros(H)
    wd, b = layer.dense_weight(), layer.bias_values()
    h_ref = np.zeros(H)
    for t in (range(len(xs) - 1, -1, -1) if reverse else range(len(xs))):
        z = np.concatenate([xs[t], h_prev])
        e_pre = error_bound(layer, z, p.fa, p.fw, p.fo, w) + rabs @ e_h
        i_, f_, g_, o_ = np.split(e_pre, 4)
        pre = wd @ np.concatenate([xs[t], h_ref]) + b
        pi, pf, pg, po = np.split(pre, 4)
        g = np.tanh(pg)
        e_c = 0.25 * f_ * np.abs(c_ref) + e_c + 0.25 * i_ * np.abs(g) + g_
        c_ref = sig(pf) * c_ref + sig(pi) * g
        h_ref = sig(po) * np.tanh(c_ref)
        e_h = 0.25 * o_ + e_c + 2.0 ** -(p.fa + 1) + 1e-6
        out[t] = e_h.max()
        h_prev = res.h[t]
    return out


def test_float_reference_is_pytorchs_lstm(case):
    dense, layer, xs = case
    res = run_lstm_layer(layer, nl(), xs, CFG, dense=dense)
    assert np.allclose(res.h_float, torch_lstm(*split(layer, layer.bias), xs), atol=1e-12)
    assert np.allclose(res.h_dense, torch_lstm(*split(dense.weight, dense.bias), xs), atol=1e-12)


def test_preactivations_are_the_models_on_the_stacked_input(case):
    dense, layer, xs = case
    res = run_lstm_layer(layer, nl(), xs, CFG)
    h_prev = np.zeros(H)
    for t in range(T):
        sim = simulate(layer, np.concatenate([xs[t], h_prev]), config=CFG, plan=res.plan)
        assert np.array_equal(sim.outputs_q, res.preacts_q[t])
        assert res.steps[t].cycles == sim.cycles and res.steps[t].t == t
        h_prev = res.h[t]
    assert res.totals["preacts_match_reference"]
    assert res.totals["cycles"] == sum(s.cycles for s in res.steps)


def test_each_step_within_the_derived_one_step_bound(case):
    """Given the run's own h_{t-1} and c_{t-1}, one float step differs from the run's h_t by at
    most e_o/4 + e_c + 2^-(fa+1) + 1e-6 with e_c = e_f/4 |c_{t-1}| + e_i/4 |g| + e_g and e_* the
    arch §4 bound of the array's pre-activations on [x_t ; h_{t-1}] (float32 on the host: 1e-6)."""
    dense, layer, xs = case
    res = run_lstm_layer(layer, nl(), xs, CFG)
    p, w, wd, b = res.plan, sparse_weight(layer), layer.dense_weight(), layer.bias_values()
    h_prev, c_prev = np.zeros(H), np.zeros(H)
    for t in range(T):
        z = np.concatenate([xs[t], h_prev])
        e_i, e_f, e_g, e_o = np.split(error_bound(layer, z, p.fa, p.fw, p.fo, w), 4)
        pi, pf, pg, po = np.split(wd @ z + b, 4)
        c = sig(pf) * c_prev + sig(pi) * np.tanh(pg)
        h = sig(po) * np.tanh(c)
        e_c = e_f / 4 * np.abs(c_prev) + e_i / 4 * np.abs(np.tanh(pg)) + e_g
        assert np.all(np.abs(res.h[t] - h) <= e_o / 4 + e_c + 2.0 ** -(p.fa + 1) + 1e-6), t
        assert np.all(np.abs(res.c[t] - c) <= e_c + 1e-6), t
        h_prev, c_prev = res.h[t], res.c[t]


def test_h_error_within_the_derived_bound(case):
    dense, layer, xs = case
    res = run_lstm_layer(layer, nl(), xs, CFG)
    err = np.abs(res.h - res.h_float).max(axis=1)
    bound = h_bound(layer, res, xs)
    assert np.all(err <= bound), (err, bound)
    # the worst case grows with |R| every step (7.8e-3 after one step, 0.46 after three here);
    # measured, the error stays a few quantisation steps of h: 7.1e-4 = 5.8 * 2^-fa (fa = 13)
    assert bound[0] < 0.01
    assert np.allclose([s.max_abs_error for s in res.steps], err)
    assert res.totals["max_abs_error"] < 8 * 2.0 ** -res.plan.fa


def test_a_permuted_gate_order_gives_the_same_h(case):
    dense, layer, xs = case
    base = run_lstm_layer(layer, nl(), xs, CFG)
    for order in ("iofg", "gofi", "oigf"):
        rows = np.concatenate([np.arange(H) + "ifgo".index(letter) * H for letter in order])
        perm = CompressedLayer(layer.codebook, layer.codes[rows], bias=layer.bias[rows], name="p")
        res = run_lstm_layer(perm, nl(order), xs, CFG)
        assert np.array_equal(res.h, base.h), order
        assert np.allclose(res.h_float, base.h_float, atol=1e-14)


def test_reverse_runs_the_sequence_backwards(case):
    dense, layer, xs = case
    res = run_lstm_layer(layer, nl(direction="reverse"), xs, CFG)
    assert [s.t for s in res.steps] == list(range(T - 1, -1, -1))
    assert np.allclose(res.h_float, torch_lstm(*split(layer, layer.bias), xs, reverse=True), atol=1e-12)
    fwd = run_lstm_layer(layer, nl(), xs[::-1], CFG)
    assert np.array_equal(res.h, fwd.h[::-1])
    assert np.all(np.abs(res.h - res.h_float).max(axis=1) <= h_bound(layer, res, xs, reverse=True))


@pytest.mark.parametrize("kw, msg", [
    (dict(net=nl(hidden=H + 1)), "must be 4H x \\(X\\+H\\)"),
    (dict(net=nl(gates="ifgx")), "gates must be an order"),
    (dict(net=nl(gates="iifo")), "gates must be an order"),
    (dict(net=nl(direction="sideways")), "direction must be"),
    (dict(xs=np.zeros((3, X + 1))), "T x X"),
    (dict(xs=np.zeros(X)), "T x X"),
    (dict(h0=np.zeros(H + 1)), "h0 must be"),
])
def test_bad_input_is_an_input_error(case, kw, msg):
    dense, layer, xs = case
    with pytest.raises(InputError, match=msg):
        run_lstm_layer(layer, kw.get("net", nl()), kw.get("xs", xs), CFG, h0=kw.get("h0"))


# ---- the command line -------------------------------------------------------------------------

def run(argv, capsys):
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def refused(rc, err, needle):
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("eie: error: ") and needle in lines[0], err


def test_cli_runs_a_layer_file_and_writes_json(case, tmp_path, capsys):
    dense, layer, xs = case
    save_layer(tmp_path / "l.npz", dense)
    np.save(tmp_path / "xs.npy", xs)
    rc, out, err = run(["lstm", tmp_path / "l.npz", "--hidden", H, "--input-size", X, "--input-seq", tmp_path / "xs.npy",
                        "--density", 0.5, "--pes", 4, "--json", tmp_path / "r.json"], capsys)
    assert rc == 0, err
    assert "per step" in out and "h vs the float LSTM" in out and "dense weights" in out
    doc = json.loads((tmp_path / "r.json").read_text())
    want = run_lstm_layer(layer, nl(), xs, CFG, dense=dense)
    assert len(doc["steps"]) == T and doc["totals"]["cycles"] == want.totals["cycles"]
    assert np.allclose(doc["h"], want.h)


def test_cli_network_directory(case, tmp_path, capsys):
    dense, layer, xs = case
    d = tmp_path / "net"
    d.mkdir()
    save_layer(d / "l.npz", layer)
    (d / "network.toml").write_text(
        f'[network]\nname = "n"\n\n[[layer]]\nname = "rnn"\nfile = "l.npz"\nkind = "lstm"\nshape = [{4 * H}, '
        f'{X + H}]\nhidden = {H}\ninput = {X}\ngates = "ifgo"\ndirection = "reverse"\n')
    rc, out, err = run(["lstm", d, "--layer", "rnn", "--seq", 4, "--pes", 4, "--json", "-"], capsys)
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["direction"] == "reverse" and [s["t"] for s in doc["steps"]] == [3, 2, 1, 0]
    rc, out, err = run(["lstm", d, "--seq", 4], capsys)
    refused(rc, err, "--layer NAME")


def test_cli_bad_input_is_one_error_and_writes_nothing(case, tmp_path, capsys):
    dense, layer, xs = case
    save_layer(tmp_path / "l.npz", layer)
    np.save(tmp_path / "wide.npy", np.zeros((3, X + 2)))
    js = tmp_path / "out.json"
    before = sorted(p.name for p in tmp_path.iterdir())
    cases = [
        (["--hidden", H + 1, "--input-size", X], "must be 4H x (X+H)"),          # shape not 4H x (X+H)
        (["--hidden", H, "--input-size", X + 1], "must be 4H x (X+H)"),
        (["--hidden", H, "--input-size", X, "--input-seq", tmp_path / "wide.npy"], f"T x {X}"),
        (["--hidden", H, "--input-size", X, "--gates", "ifgx"], "gates must be an order"),
        (["--hidden", H, "--input-size", X, "--gates", "ifg"], "gates must be an order"),
        (["--input-size", X], "--hidden H and --input-size X"),
        (["--hidden", H, "--input-size", X, "--seq", 0], "--seq must be"),
        (["--hidden", H, "--input-size", X, "--seq", 99999999999], "give at most --seq"),
        # each per-step array of the sequence (4H wide the widest) within 2**28 values
        (["--hidden", H, "--input-size", X, "--seq", (1 << 28) // (4 * H) + 1],
         f"give at most --seq {(1 << 28) // (4 * H)}"),
        # --input is the sequence file, as in every other command; an old-style size names the fix
        (["--hidden", H, "--input-size", X, "--input", 7], "a layer file's input size is --input-size 7"),
        (["--hidden", H, "--input-size", X, "--input", tmp_path / "wide.npy"], f"T x {X}"),
    ]
    for extra, needle in cases:
        rc, out, err = run(["lstm", tmp_path / "l.npz", *extra, "--json", js], capsys)
        refused(rc, err, needle)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_sequence_file_longer_than_the_arrays_allow_is_refused(case, tmp_path, capsys, monkeypatch):
    """A sequence read from a file is held to the same bound as --seq: T x 4H values per
    sequence (the pre-activations; a 4M x 1 file on a 512-cell layer asked numpy for 64 GiB).
    With the element limit lowered to 16 x 4H, 17 steps are refused and 16 run."""
    import eie.lstm
    dense, layer, xs = case
    monkeypatch.setattr(eie.lstm, "MAX_ELEMENTS", 16 * 4 * H)
    save_layer(tmp_path / "l.npz", layer)
    np.save(tmp_path / "long.npy", np.ones((17, X)))
    np.save(tmp_path / "ok.npy", np.ones((16, X)))
    rc, out, err = run(["lstm", tmp_path / "l.npz", "--hidden", H, "--input-size", X, "--input", tmp_path / "long.npy"],
                       capsys)
    refused(rc, err, f"the input sequence has 17 steps; with H={H}, X={X} at most 16 fit")
    rc, out, err = run(["lstm", tmp_path / "l.npz", "--hidden", H, "--input-size", X, "--input", tmp_path / "ok.npy"],
                       capsys)
    assert rc == 0, err


def _npy_header(shape, descr="<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def test_cli_input_seq_is_checked_from_its_header(case, tmp_path, capsys):
    """--input-seq goes through eie.layer.read_npy: a header declaring more than MAX_ELEMENTS
    (3e12 x 8 float64 was a numpy memory error) or a wrong shape is refused from the header;
    an archive (even a broken one) and a file shorter than its header declares are one error
    each."""
    dense, layer, xs = case
    save_layer(tmp_path / "l.npz", layer)
    (tmp_path / "huge.npy").write_bytes(_npy_header((3_000_000_000_000, X)) + bytes(64))
    (tmp_path / "wide.npy").write_bytes(_npy_header((T, X + 1)) + bytes(8 * T * (X + 1)))
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 and then nothing")
    (tmp_path / "short.npy").write_bytes(_npy_header((T, X)) + bytes(8))
    js = tmp_path / "out.json"
    cases = [("huge.npy", "declares shape (3000000000000, 8)", "MAX_ELEMENTS"),
             ("wide.npy", f"must be T x X = T x {X}, not shape ({T}, {X + 1})"),
             ("broken.npz", "is not a .npy array"),
             ("short.npy", "holds only 8", "truncated")]
    for name, *needles in cases:
        rc, out, err = run(["lstm", tmp_path / "l.npz", "--hidden", H, "--input-size", X, "--input-seq",
                            tmp_path / name, "--json", js], capsys)
        for needle in needles:
            refused(rc, err, needle)
    assert not js.exists()


def test_an_imported_onnx_bilstm_against_onnx_reference(tmp_path, capsys):
    """ONNX's gate order (iofg) and both directions, through `eie import`, against onnx's own
    reference evaluator."""
    onnx = pytest.importorskip("onnx", reason="the 'networks' extra (onnx) is not installed")
    from onnx import TensorProto, helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    from eie.layer import load_layer
    from eie.network import load_network
    rng = np.random.default_rng(3)
    hid, inp, steps = 8, 5, 6
    arr = {"w": rng.normal(scale=0.5, size=(2, 4 * hid, inp)), "r": rng.normal(scale=0.5, size=(2, 4 * hid, hid)),
           "b": rng.normal(scale=0.2, size=(2, 8 * hid))}
    inits = [numpy_helper.from_array(a.astype(np.float32), k) for k, a in arr.items()]
    node = helper.make_node("LSTM", ["x", "w", "r", "b"], ["y"], name="rnn", hidden_size=hid,
                            direction="bidirectional")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [steps, 1, inp])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [steps, 2, 1, hid])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(tmp_path / "m.onnx"))
    assert main(["import", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "d")]) == 0
    capsys.readouterr()
    xs = rng.normal(size=(steps, inp)).astype(np.float32)
    want = ReferenceEvaluator(model).run(None, {"x": xs[:, None, :]})[0]
    net = load_network(tmp_path / "d")
    for d, layer in enumerate(net.layers):
        assert layer.gates == "iofg" and layer.direction == ("forward", "reverse")[d]
        dense = load_layer(net.path(layer))
        comp, _ = compress_layer(dense, bits=8)
        res = run_lstm_layer(comp, layer, xs, CFG.replace(weight_bits=8, line_bits=96), dense=dense)
        assert np.allclose(res.h_dense, want[:, d, 0, :], atol=1e-5)
        assert np.abs(res.h - want[:, d, 0, :]).max() < 0.05     # 8-bit sharing + 16-bit fixed point


def test_saturated_inputs_are_counted_and_warned(tmp_path, monkeypatch, capsys):
    """Inputs beyond the activations' range (fa = 0) had given only "within the fixed-point
    bound: NO"; the count is the values of the sequence beyond the 16-bit range."""
    monkeypatch.chdir(tmp_path)
    H, X = 8, 6
    w = np.random.default_rng(1).normal(size=(4 * H, X + H)).astype(np.float32)
    np.savez(tmp_path / "lstm.npz", weight=w, bias=np.zeros(4 * H, np.float32))
    seq = np.full((3, X), 0.5)
    seq[1, 2], seq[2, 4] = 1e30, -1e30                  # two values no fixed-point format holds
    np.save(tmp_path / "big.npy", seq)
    np.save(tmp_path / "ok.npy", np.full((3, X), 0.5))
    assert main(["lstm", "lstm.npz", "--hidden", str(H), "--input-size", str(X), "--input", "big.npy", "--pes", "2",
                 "--json", "r.json"]) == 0
    out = capsys.readouterr().out
    assert "warning: 2 of 18 input values saturated (the 16-bit activations with fa=0 hold |x| <= 32767; the " \
           "largest is 1e+30)" in out
    assert json.loads((tmp_path / "r.json").read_text())["totals"]["saturated_inputs"] == 2
    assert main(["lstm", "lstm.npz", "--hidden", str(H), "--input-size", str(X), "--input", "ok.npy", "--pes", "2"]) == 0
    assert "saturated" not in capsys.readouterr().out
