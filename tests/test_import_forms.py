"""How a trained network's layers are stored, against PyTorch and ONNX themselves: pruned
(``torch.nn.utils.prune``: ``weight_orig`` x ``weight_mask``), weight-normed (old and
parametrized), bias-free, sparse and quantised tensors import as the weight PyTorch computes
with; what eie cannot run between two layers (a batch norm, a GRU, a Mul) is listed and the
import refused unless --select names the layers; an ONNX weight written as
``Transpose(initializer)`` is read; names with control characters make a valid
``network.toml``.  Each of these had imported a shorter network silently (or crashed)."""

import tomllib
import warnings

import numpy as np
import pytest
from conftest import import_torch

from eie.cli import main
from eie.importers import import_file
from eie.network import load_network

torch = import_torch()            # .ci/run installs it (tests/test_ci_provides.py)
torch.set_num_threads(1)
nn = torch.nn
import torch.nn.utils.prune  # noqa: E402  (a submodule torch does not import itself)


def mlp(middle):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), middle, nn.ReLU(), nn.Linear(16, 4))


def effective(module) -> np.ndarray:
    """The weight PyTorch multiplies with (after pruning or weight norm)."""
    return module.weight.detach().numpy()


@pytest.mark.parametrize("form", ["pruned", "bias-free", "weight-norm", "old-weight-norm", "pruned-bias"])
def test_every_form_of_a_linear_imports_as_the_weight_torch_uses(tmp_path, form):
    middle = nn.Linear(16, 16, bias=form != "bias-free")
    if form.startswith("pruned"):
        torch.nn.utils.prune.l1_unstructured(middle, "weight", amount=0.9)
        if form == "pruned-bias":
            torch.nn.utils.prune.l1_unstructured(middle, "bias", amount=0.5)
    elif form == "weight-norm":
        middle = torch.nn.utils.parametrizations.weight_norm(middle)
    elif form == "old-weight-norm":
        with pytest.warns(FutureWarning):
            middle = torch.nn.utils.weight_norm(middle)
    m = mlp(middle)
    torch.save(m.state_dict(), tmp_path / "m.pt")
    for use_torch in (True, False):
        net = import_file(tmp_path / "m.pt", use_torch=use_torch)
        assert [x.shape for x in net.layers] == [(16, 8), (16, 16), (4, 16)], form
        layer = net.layers[1]
        np.testing.assert_allclose(layer.weight, effective(m[2]), rtol=2e-6, atol=1e-7)
        if form == "bias-free":
            assert layer.bias is None
        else:
            np.testing.assert_array_equal(layer.bias, m[2].bias.detach().numpy())
        assert not net.gaps and not net.skipped
    # the whole network through eie's float path (dense, no compression) equals torch's forward
    assert main(["import", str(tmp_path / "m.pt"), "-o", str(tmp_path / "net")]) == 0
    x = np.linspace(-1, 1, 8, dtype=np.float32)
    ref = m(torch.from_numpy(x)).detach().numpy()
    h = x.astype(np.float64)
    for layer in load_network(tmp_path / "net").layers:
        arrays = np.load(tmp_path / "net" / layer.file)
        h = arrays["weight"] @ h + arrays.get("bias", 0)
        h = np.maximum(h, 0) if layer.function == "relu" else h
    np.testing.assert_allclose(h, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("middle, needle", [
    (nn.BatchNorm1d(16), "'2' (2.weight, 2.bias, 2.running_mean, 2.running_var, ...): not a layer eie imports"),
    (nn.LayerNorm(16), "'2' (2.weight, 2.bias): not a layer eie imports"),
], ids=["batch-norm", "layer-norm"])
def test_what_lies_between_two_layers_is_listed_and_the_import_refused(tmp_path, capsys, middle, needle):
    torch.save(mlp(middle).state_dict(), tmp_path / "m.pt")
    assert main(["import", "--list", str(tmp_path / "m.pt")]) == 0
    assert f"left out: {needle}" in capsys.readouterr().out
    assert main(["import", str(tmp_path / "m.pt"), "-o", str(tmp_path / "net")]) == 2
    err = capsys.readouterr().err
    assert "between the layers that run lies what eie cannot run" in err and needle in err and "--select" in err
    assert not (tmp_path / "net").exists()
    # the user names the layers: a chain of them is what they asked for
    assert main(["import", str(tmp_path / "m.pt"), "--select", "^[04]$", "-o", str(tmp_path / "net")]) == 0
    assert [x.name for x in load_network(tmp_path / "net").layers] == ["0", "4"]


def test_a_gru_and_a_projected_lstm_are_left_out_with_the_reason(tmp_path, capsys):
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(4, 6)
            self.proj = nn.LSTM(4, 6, proj_size=3)
            self.fc = nn.Linear(3, 2)

    torch.save(M().state_dict(), tmp_path / "m.pt")
    assert main(["import", "--list", str(tmp_path / "m.pt")]) == 0
    out = capsys.readouterr().out
    assert "left out: 'gru' (gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0): a GRU" in out
    assert "'proj' (proj.weight_ih_l0, proj.weight_hh_l0, proj.bias_ih_l0, proj.bias_hh_l0, ...): an LSTM with " \
           "proj_size" in out


def test_an_embedding_table_is_not_a_layer(tmp_path):
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(50, 4)
            self.rnn = nn.LSTM(4, 3)

    torch.save(M().state_dict(), tmp_path / "m.pt")
    net = import_file(tmp_path / "m.pt")
    assert [x.kind for x in net.layers] == ["lstm"]
    assert net.skipped == ("'embedding' (embedding.weight): an embedding table (a lookup, not a layer)",)


@pytest.mark.parametrize("kind", ["sparse-coo", "sparse-csr", "qint8", "float8"])
def test_sparse_and_quantised_tensors_import_as_the_values_they_stand_for(tmp_path, kind):
    warnings.simplefilter("ignore", UserWarning)      # torch: CSR "in beta", quantised "deprecated"
    torch.manual_seed(1)
    w = torch.randn(6, 5)
    w[w.abs() < 0.8] = 0
    if kind == "sparse-coo":
        stored, dense = w.to_sparse(), w
    elif kind == "sparse-csr":
        stored, dense = w.to_sparse_csr(), w
    elif kind == "qint8":
        stored = torch.quantize_per_tensor(w, 0.05, 0, torch.qint8)
        dense = stored.dequantize()
    else:
        stored = w.to(torch.float8_e4m3fn)
        dense = stored.float()
    torch.save({"fc.weight": stored, "fc.bias": torch.zeros(6)}, tmp_path / "m.pt")
    (layer,) = import_file(tmp_path / "m.pt", use_torch=True).layers
    np.testing.assert_array_equal(layer.weight, dense.numpy())


def test_an_all_zero_layer_is_refused_at_import_naming_it(tmp_path, capsys):
    np.savez(tmp_path / "z.npz", **{"a.weight": np.ones((4, 3)), "a.bias": np.zeros(4),
                                    "b.weight": np.zeros((2, 4)), "b.bias": np.ones(2)})
    assert main(["import", str(tmp_path / "z.npz"), "-o", str(tmp_path / "n")]) == 2
    err = capsys.readouterr().err
    assert "layer 'b' has no non-zero weight" in err and "z.npz" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "n").exists()


def test_a_name_with_control_characters_makes_a_valid_network_toml(tmp_path, capsys):
    np.savez(tmp_path / "c.npz", **{"a\x01b\n.weight": np.ones((2, 3)), "a\x01b\n.bias": np.zeros(2)})
    assert main(["import", str(tmp_path / "c.npz"), "-o", str(tmp_path / "n")]) == 0
    out = capsys.readouterr().out
    assert "a\\x01b\\n" in out and "a\x01" not in out           # one table row, escaped
    data = tomllib.loads((tmp_path / "n" / "network.toml").read_text())
    assert data["layer"][0]["name"] == "a\x01b\n"
    assert load_network(tmp_path / "n").layers[0].name == "a\x01b\n"


def test_a_truncated_zip_says_so(tmp_path, capsys):
    torch.save(mlp(nn.Linear(16, 16)).state_dict(), tmp_path / "m.pt")
    data = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "t.pt").write_bytes(data[: len(data) * 99 // 100])
    assert main(["import", str(tmp_path / "t.pt"), "-o", str(tmp_path / "n")]) == 2
    assert "truncated or corrupt" in capsys.readouterr().err


# ---- ONNX ----------------------------------------------------------------------------------

onnx = pytest.importorskip("onnx")


def export(model, path, example=None, **kw):
    """``model`` exported to ONNX at ``path`` (the legacy exporter, torch's warnings quiet),
    traced on ``example`` (default: one zero input of a Sequential's first layer)."""
    example = torch.zeros(1, model[0].in_features) if example is None else example
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (example,), str(path), dynamo=False, **kw)
    return path


def test_onnx_a_batch_norm_between_layers_is_refused_not_dropped(tmp_path, capsys):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 10), nn.BatchNorm1d(10), nn.ReLU(), nn.Linear(10, 3))
    src = export(m, tmp_path / "bn.onnx")
    assert main(["import", "--list", str(src)]) == 0
    assert "followed by BatchNormalization (not run by eie" in capsys.readouterr().out
    assert main(["import", str(src), "-o", str(tmp_path / "n")]) == 2
    err = capsys.readouterr().err
    assert "BatchNormalization '/1/BatchNormalization' between '0' and '3'" in err and "--select" in err
    assert not (tmp_path / "n").exists()


def test_onnx_a_weight_written_as_a_transpose_of_a_constant_is_read(tmp_path):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16, bias=False), nn.ReLU(), nn.Linear(16, 3))
    net = import_file(export(m, tmp_path / "nf.onnx", do_constant_folding=False))
    assert [x.shape for x in net.layers] == [(16, 6), (16, 16), (3, 16)] and not net.gaps
    for layer, ref in zip(net.layers, (m[0], m[2], m[4]), strict=True):
        np.testing.assert_array_equal(layer.weight, ref.weight.detach().numpy())
    assert [x.function for x in net.layers] == ["relu", "relu", "none"]


def test_onnx_a_view_by_the_batch_size_between_layers_is_no_branch(tmp_path):
    """``h.view(h.size(0), -1)`` exports a Shape node reading the activation: it reads only the
    shape, so the two layers still chain (it had been refused as "goes to 2 nodes")."""

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.a, self.b = nn.Linear(6, 8), nn.Linear(8, 3)

        def forward(self, x):
            h = torch.relu(self.a(x))
            return self.b(h.view(h.size(0), -1))

    export(M(), tmp_path / "v.onnx", torch.zeros(2, 6), dynamic_axes={"x": {0: "n"}}, input_names=["x"])
    ops = [n.op_type for n in onnx.load(str(tmp_path / "v.onnx")).graph.node]
    assert "Shape" in ops and "Reshape" in ops
    net = import_file(tmp_path / "v.onnx")
    assert [(x.name, x.function) for x in net.layers] == [("a", "relu"), ("b", "none")] and not net.gaps


def test_onnx_a_function_after_a_flatten_is_the_layer_s_function(tmp_path):
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=(8, 6)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.normal(size=(3, 8)).astype(np.float32), "w2")]
    nodes = [helper.make_node("Gemm", ["x", "w1"], ["h"], transB=1, name="g1"),
             helper.make_node("Flatten", ["h"], ["f"], name="fl"),
             helper.make_node("Relu", ["f"], ["r"], name="r"),
             helper.make_node("Gemm", ["r", "w2"], ["y"], transB=1, name="g2")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], inits)
    (tmp_path / "f.onnx").write_bytes(helper.make_model(g).SerializeToString())
    net = import_file(tmp_path / "f.onnx")
    assert [x.function for x in net.layers] == ["relu", "none"] and not net.gaps


def test_list_and_select_still_work_when_one_layer_cannot_be_imported(tmp_path, capsys):
    """The all-zero check ran while the file was read: --list failed and --select could not
    leave the layer out, as its own message advised."""
    np.savez(tmp_path / "z.npz", **{"fc1.weight": np.ones((4, 3)), "fc1.bias": np.zeros(4),
                                    "fc2.weight": np.zeros((2, 4)), "fc2.bias": np.ones(2)})
    assert main(["import", "--list", str(tmp_path / "z.npz")]) == 0
    assert "cannot be imported: layer 'fc2' has no non-zero weight" in capsys.readouterr().out
    assert main(["import", str(tmp_path / "z.npz"), "--select", "fc1", "-o", str(tmp_path / "n")]) == 0
    assert [x.name for x in load_network(tmp_path / "n").layers] == ["fc1"]


def test_a_bias_free_weight_is_a_layer_only_where_it_chains(tmp_path):
    """A word-language model's embedding is called ``encoder`` (vocabulary x width): it had
    become a ReLU layer in front of the LSTM.  A bias-free MLP still imports whole."""

    class WLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Embedding(50, 8)
            self.rnn = nn.LSTM(8, 6)
            self.decoder = nn.Linear(6, 50, bias=False)

    torch.save(WLM().state_dict(), tmp_path / "wlm.pt")
    net = import_file(tmp_path / "wlm.pt")
    assert [(x.name, x.kind) for x in net.layers] == [("rnn.l0", "lstm"), ("decoder", "fc")]
    assert any(s.startswith("'encoder' (encoder.weight): a 2-D weight without a bias (50 x 8)") for s in net.skipped)
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(5, 7, bias=False), nn.ReLU(), nn.Linear(7, 3, bias=False))
    torch.save(m.state_dict(), tmp_path / "mlp.pt")
    net = import_file(tmp_path / "mlp.pt")
    assert [x.shape for x in net.layers] == [(7, 5), (3, 7)] and not net.skipped
    np.savez(tmp_path / "one.npz", weight=np.ones((3, 4)))                     # a file of one bias-free layer
    assert [x.shape for x in import_file(tmp_path / "one.npz").layers] == [(3, 4)]


def test_a_file_not_in_model_order_refuses_any_module_left_out(tmp_path, capsys):
    """safetensors sorts its names: a batch norm named ``norm`` between ``fc1`` and ``fc2``
    sorts after both, so 'between' in the file's order missed it and the import dropped it."""
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    rng = np.random.default_rng(0)
    tensors = {"fc1.weight": rng.normal(size=(8, 4)).astype(np.float32), "fc1.bias": np.zeros(8, np.float32),
               "norm.weight": np.ones(8, np.float32), "norm.bias": np.zeros(8, np.float32),
               "norm.running_mean": np.zeros(8, np.float32), "norm.running_var": np.ones(8, np.float32),
               "fc2.weight": rng.normal(size=(3, 8)).astype(np.float32), "fc2.bias": np.zeros(3, np.float32)}
    safetensors_numpy.save_file(tensors, str(tmp_path / "m.safetensors"))
    np.savez(tmp_path / "sorted.npz", **dict(sorted(tensors.items())))
    for name in ("m.safetensors", "sorted.npz"):
        assert main(["import", str(tmp_path / name), "-o", str(tmp_path / "n")]) == 2
        assert "'norm' (norm." in capsys.readouterr().err
    np.savez(tmp_path / "ordered.npz", **tensors)                   # the model's order: fc1, norm, fc2
    assert main(["import", str(tmp_path / "ordered.npz"), "-o", str(tmp_path / "n")]) == 2
    assert "'norm' (norm." in capsys.readouterr().err
    tail = {k: v for k, v in tensors.items() if not k.startswith("norm")} | {"head.weight": np.ones(8, np.float32)}
    np.savez(tmp_path / "after.npz", **tail)                         # after the last layer: not between
    assert main(["import", str(tmp_path / "after.npz"), "-o", str(tmp_path / "n")]) == 0


def test_a_pruned_bias_mask_of_another_shape_is_refused(tmp_path, capsys):
    torch.save({"fc.weight": torch.ones(3, 4), "fc.bias_orig": torch.ones(3), "fc.bias_mask": torch.ones(2)},
               tmp_path / "m.pt")
    assert main(["import", str(tmp_path / "m.pt"), "-o", str(tmp_path / "n")]) == 2
    assert "pruning mask 'fc.bias_mask' has shape (2,), its bias 'fc.bias_orig' (3,)" in capsys.readouterr().err


def test_eie_s_own_reader_names_a_tensor_kind_it_does_not_read(tmp_path, capsys):
    """Without PyTorch, a sparse tensor had been refused with the "whole pickled model" advice;
    a complex32 weight had escaped as a TypeError traceback with PyTorch."""
    w = torch.randn(6, 5)
    torch.save({"fc.weight": w.to_sparse(), "fc.bias": torch.zeros(6)}, tmp_path / "s.pt")
    with pytest.raises(Exception, match=r"a tensor eie's own reader does not read .*pip install torch"):
        import_file(tmp_path / "s.pt", use_torch=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)                 # torch: ComplexHalf is "experimental"
        torch.save({"fc.weight": torch.ones(3, 4).to(torch.complex32), "fc.bias": torch.zeros(3)}, tmp_path / "c.pt")
    assert main(["import", str(tmp_path / "c.pt"), "-o", str(tmp_path / "n")]) == 2
    err = capsys.readouterr().err
    assert "tensor 'fc.weight' must be numeric, not complex64" in err and err.count("\n") == 1


def test_onnx_a_skip_from_the_second_layer_s_input_is_a_branch(tmp_path):
    """fc2(h) + h: h is fc2's input and also goes to the Add after it; the walk stopped at fc2's
    input without counting its readers, so the import ran fc1 -> fc2 and missed the skip."""

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.fc1, self.fc2 = nn.Linear(20, 16), nn.Linear(16, 16)

        def forward(self, x):
            h = torch.relu(self.fc1(x))
            return self.fc2(h) + h

    net = import_file(export(M(), tmp_path / "r.onnx", torch.randn(2, 20)))
    assert net.gaps and "the output of 'fc1' goes to 2 nodes" in net.gaps[0]


def test_onnx_softmax_over_another_axis_is_not_eie_s_softmax(tmp_path):
    from onnx import TensorProto, helper, numpy_helper
    w = numpy_helper.from_array(np.ones((3, 6), np.float32), "w")
    nodes = [helper.make_node("Gemm", ["x", "w"], ["h"], transB=1, name="g"),
             helper.make_node("Softmax", ["h"], ["y"], axis=0, name="s")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], [w])
    (tmp_path / "s.onnx").write_bytes(helper.make_model(g).SerializeToString())
    (layer,) = import_file(tmp_path / "s.onnx").layers
    assert layer.function == "none" and "Softmax over axis 0" in layer.note


def test_safetensors_layers_whose_names_do_not_give_the_order_are_refused(tmp_path, capsys):
    """safetensors sorts names: input/hidden/output came out as hidden, input, output and
    imported (max error 0.2 against torch)."""
    st = pytest.importorskip("safetensors.torch")

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.input, self.hidden, self.output = nn.Linear(32, 32), nn.Linear(32, 32), nn.Linear(32, 10)

    st.save_file(M().state_dict(), str(tmp_path / "m.safetensors"))
    assert main(["import", "--list", str(tmp_path / "m.safetensors")]) == 0
    assert "order: the layers' names" in capsys.readouterr().out
    assert main(["import", str(tmp_path / "m.safetensors"), "-o", str(tmp_path / "n")]) == 2
    assert "the order they would chain in is a guess" in capsys.readouterr().err
    st.save_file(nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3)).state_dict(), str(tmp_path / "s.safetensors"))
    assert main(["import", str(tmp_path / "s.safetensors"), "-o", str(tmp_path / "s")]) == 0    # numbered: 0, 2


def test_select_guesses_the_functions_again(tmp_path):
    """A checkpoint with the model twice (model, ema): --select '^model' kept the relu the
    whole file had given model.2 (then followed by ema.0)."""
    m = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 3))
    torch.save({"model": m.state_dict(), "ema": m.state_dict()}, tmp_path / "e.pt")
    net = import_file(tmp_path / "e.pt", select=r"^model\.")
    assert [(x.name, x.function) for x in net.layers] == [("model.0", "relu"), ("model.2", "none")]


def test_char_rnn_embedding_and_a_head_after_a_bidirectional_lstm(tmp_path):
    """A square embedding (100 x 100) in front of an LSTM of 100 inputs had "chained" and
    become a ReLU layer; a bias-free head after a bidirectional LSTM (2H inputs) had been
    left out (it was compared with one direction's H)."""

    class CharRNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder, self.rnn, self.decoder = nn.Embedding(100, 100), nn.LSTM(100, 100), nn.Linear(100, 100)

    class Bi(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm, self.proj = nn.LSTM(10, 8, bidirectional=True), nn.Linear(16, 5, bias=False)

    torch.save(CharRNN().state_dict(), tmp_path / "c.pt")
    assert [x.name for x in import_file(tmp_path / "c.pt").layers] == ["rnn.l0", "decoder"]
    torch.save(Bi().state_dict(), tmp_path / "b.pt")
    assert [x.name for x in import_file(tmp_path / "b.pt").layers] == ["lstm.l0", "lstm.l0.reverse", "proj"]


def test_a_pruned_lstm_and_spectral_norm_import_as_torch_computes_them(tmp_path):
    torch.manual_seed(0)

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm, self.fc1, self.fc2 = nn.LSTM(10, 8), nn.Linear(8, 8), nn.Linear(8, 3)

    m = M()
    torch.nn.utils.prune.l1_unstructured(m.lstm, "weight_hh_l0", 0.5)
    torch.save(m.state_dict(), tmp_path / "p.pt")
    net = import_file(tmp_path / "p.pt")
    assert [x.name for x in net.layers] == ["lstm.l0", "fc1", "fc2"] and not net.skipped
    ref = torch.cat([m.lstm.weight_ih_l0, m.lstm.weight_hh_l0], dim=1).detach().numpy()
    np.testing.assert_array_equal(net.layers[0].weight, ref)
    for new in (False, True):
        torch.manual_seed(1)
        s = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
        s[2] = (torch.nn.utils.parametrizations.spectral_norm if new else torch.nn.utils.spectral_norm)(s[2])
        s.train()
        s(torch.randn(4, 6))                             # one power iteration, as training leaves u and v
        s.eval()
        torch.save(s.state_dict(), tmp_path / "sn.pt")
        net = import_file(tmp_path / "sn.pt")
        assert [x.name for x in net.layers] == ["0", "2"] and not net.skipped, new
        np.testing.assert_allclose(net.layers[1].weight, s[2].weight.detach().numpy(), rtol=1e-5, atol=1e-7)


def test_review_of_the_new_rules(tmp_path, capsys):
    """A last review of the rules above: a pruned 2-layer LSTM came out l1 before l0 (pruning
    moves weight_ih_l0_orig to the module's end); a bidirectional LSTM in safetensors was
    refused as unnumbered (l0 vs l0.reverse); a spectrally normed all-zero or empty weight
    broke --list; a pruned LSTM's mask of another shape dropped the LSTM silently; a
    name-sorted file's chain error hid the real cause (the order)."""
    torch.manual_seed(0)
    lstm = nn.LSTM(8, 8, num_layers=2)
    torch.nn.utils.prune.l1_unstructured(lstm, "weight_ih_l0", 0.5)
    torch.save(lstm.state_dict(), tmp_path / "p.pt")
    assert [x.name for x in import_file(tmp_path / "p.pt").layers] == ["p.l0", "p.l1"]
    st = pytest.importorskip("safetensors.torch")
    st.save_file(nn.LSTM(4, 3, num_layers=2, bidirectional=True).state_dict(), str(tmp_path / "bi.safetensors"))
    assert main(["import", str(tmp_path / "bi.safetensors"), "-o", str(tmp_path / "bi")]) == 0
    assert [x.name for x in load_network(tmp_path / "bi").layers] == ["bi.l0", "bi.l0.reverse", "bi.l1", "bi.l1.reverse"]
    m = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    m[2] = torch.nn.utils.spectral_norm(m[2])
    with torch.no_grad():
        m[2].weight_orig.zero_()
    torch.save(m.state_dict(), tmp_path / "z.pt")
    capsys.readouterr()
    assert main(["import", "--list", str(tmp_path / "z.pt")]) == 0
    assert "layer '2' has no non-zero weight" in capsys.readouterr().out
    assert main(["import", str(tmp_path / "z.pt"), "--select", "^0$", "-o", str(tmp_path / "z")]) == 0
    torch.save({"rnn.weight_ih_l0": torch.ones(16, 4), "rnn.weight_hh_l0_orig": torch.ones(16, 4),
                "rnn.weight_hh_l0_mask": torch.ones(16, 3), "head.weight": torch.ones(2, 4),
                "head.bias": torch.zeros(2)}, tmp_path / "bm.pt")
    assert main(["import", str(tmp_path / "bm.pt"), "-o", str(tmp_path / "bm")]) == 2
    assert "pruning mask 'rnn.weight_hh_l0_mask' has shape (16, 3)" in capsys.readouterr().err

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.input, self.hidden, self.output = nn.Linear(20, 16), nn.Linear(16, 8), nn.Linear(8, 3)

    st.save_file(M().state_dict(), str(tmp_path / "ioh.safetensors"))          # sorted: hidden, input, output
    assert main(["import", str(tmp_path / "ioh.safetensors"), "-o", str(tmp_path / "ioh")]) == 2
    assert "the order they would chain in is a guess" in capsys.readouterr().err


@pytest.mark.parametrize("opset, axis, reshape, expected", [
    (11, 2, False, "softmax"), (11, None, False, "none"), (13, 1, False, "none"), (13, None, False, "softmax"),
    (13, None, True, "none")])
def test_onnx_softmax_is_the_layer_s_only_over_its_outputs(tmp_path, opset, axis, reshape, expected):
    """MatMul on a (B, S, 6) input: opset 11's Softmax(axis=2) is over the outputs (it had been
    refused as "axis 2"), its default axis 1 flattens S x 12, axis 1 at opset 13 is over the
    sequence; a softmax after a reshape (B, 3, 4) is three softmaxes, not one over 12."""
    from onnx import TensorProto, helper, numpy_helper
    w = numpy_helper.from_array(np.ones((6, 12), np.float32), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm")]
    src = "h"
    if reshape:
        shape = numpy_helper.from_array(np.array([2, 5, 3, 4], np.int64), "shape")
        nodes.append(helper.make_node("Reshape", ["h", "shape"], ["r"], name="rs"))
        src = "r"
    kw = {} if axis is None else {"axis": axis}
    nodes.append(helper.make_node("Softmax", [src], ["y"], name="sm", **kw))
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [w] + ([shape] if reshape else []))
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    (tmp_path / "s.onnx").write_bytes(model.SerializeToString())
    (layer,) = import_file(tmp_path / "s.onnx").layers
    assert layer.function == expected, layer.note
