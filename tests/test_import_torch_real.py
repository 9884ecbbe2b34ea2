"""eie's own PyTorch reader against PyTorch itself: files written by ``torch.save`` (zip and
legacy layouts, shared-storage views, every dtype a state dict holds) read by the allow-list
reader (``use_torch=False``) equal PyTorch's own tensors; the test writers of
tests/model_writers.py write files PyTorch reads back to the same arrays; a file PyTorch's
``weights_only`` refuses, eie refuses too.

PyTorch is not an eie dependency; `.ci/run` installs its CPU wheel so this file runs in CI
(there a missing torch fails tests/test_ci_provides.py)."""

import collections
import io

import numpy as np
import pytest
from conftest import import_torch
from model_writers import Tensor, torch_legacy, torch_zip

from eie.cli import main
from eie.errors import InputError
from eie.importers import import_file
from eie.importers.torch_state import read_state_dict

torch = import_torch()            # .ci/run installs it (tests/test_ci_provides.py)
torch.set_num_threads(1)


class Net(torch.nn.Module):
    """What a state dict of a real model holds: conv, batch norm (an int64 buffer), LSTM, linear."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.conv = torch.nn.Conv2d(2, 4, 3)
        self.bn = torch.nn.BatchNorm2d(4)
        self.rnn = torch.nn.LSTM(5, 3)
        self.fc1 = torch.nn.Linear(6, 7)
        self.fc2 = torch.nn.Linear(7, 2)


def as_numpy(t):
    t = t.detach()
    return (t.float() if t.dtype == torch.bfloat16 else t).numpy()


def saved(obj, path, legacy=False):
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_own_reader_equals_torch_on_a_saved_model(tmp_path, legacy):
    sd = Net().state_dict()
    sd["bn.running_mean"] += torch.arange(4.0)       # a buffer that is not all zeros
    path = saved(sd, tmp_path / "m.pt", legacy)
    got = read_state_dict(path, use_torch=False)
    assert list(got) == list(sd)
    for k, t in sd.items():
        a = got[k].load()
        assert got[k].shape == tuple(t.shape) and a.dtype == t.numpy().dtype, k
        assert np.array_equal(a, t.numpy()), k
    assert sd["bn.num_batches_tracked"].dtype == torch.int64 and got["bn.num_batches_tracked"].load().dtype == np.int64
    # the network eie makes of it is the same through either reader
    own, via_torch = import_file(path, use_torch=False), import_file(path, use_torch=True)
    assert [(x.name, x.kind, x.shape) for x in own.layers] == [(x.name, x.kind, x.shape) for x in via_torch.layers]
    assert [x.name for x in own.layers] == ["conv", "rnn.l0", "fc1", "fc2"]
    for a, b in zip(own.layers, via_torch.layers, strict=True):
        assert np.array_equal(a.weight, b.weight) and np.array_equal(a.bias, b.bias)
    assert np.array_equal(own.layers[2].weight, sd["fc1.weight"].numpy())


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_views_of_one_storage_and_every_dtype(tmp_path, legacy):
    """Views share a storage in the file (offset, stride, transposition); float16, bfloat16,
    float64 and the integer types are stored as they are."""
    base = torch.arange(60, dtype=torch.float32).reshape(6, 10) / 7
    sd = collections.OrderedDict([
        ("t.weight", base.t()),                        # transposed: strides (1, 10)
        ("s.weight", base[1:5, 2:9:2]),                # offset and step
        ("s.bias", base[5, 3:7]),
        ("h.weight", torch.linspace(-2, 2, 12).reshape(3, 4).half()),
        ("b.weight", torch.linspace(-3, 3, 12).reshape(4, 3).bfloat16()),
        ("d.weight", torch.linspace(-1, 1, 6, dtype=torch.float64).reshape(2, 3)),
        ("i8", torch.tensor([-128, 0, 127], dtype=torch.int8)),
        ("u8", torch.tensor([0, 200, 255], dtype=torch.uint8)),
        ("i16", torch.tensor([-30000, 5], dtype=torch.int16)),
        ("i32", torch.tensor([-2**31, 2**31 - 1], dtype=torch.int32)),
        ("i64", torch.tensor([-2**62, 2**62], dtype=torch.int64)),
    ])
    path = saved(sd, tmp_path / "v.pt", legacy)
    got = read_state_dict(path, use_torch=False)
    assert list(got) == list(sd)
    for k, t in sd.items():
        want = as_numpy(t)
        a = got[k].load()
        assert a.shape == want.shape and a.dtype == want.dtype, (k, a.dtype, want.dtype)
        assert np.array_equal(a, want), k


def test_a_checkpoint_dict_nests_the_state_dict(tmp_path):
    """A training checkpoint: the model's state dict under a key, beside plain numbers."""
    sd = Net().state_dict()
    path = saved({"epoch": 3, "model": sd, "best": 0.5}, tmp_path / "ckpt.pth")
    got = read_state_dict(path, use_torch=False)
    assert list(got) == [f"model.{k}" for k in sd]
    assert np.array_equal(got["model.fc2.weight"].load(), sd["fc2.weight"].numpy())
    assert [x.name for x in import_file(path, use_torch=False).layers] == ["model.conv", "model.rnn.l0",
                                                                           "model.fc1", "model.fc2"]


@pytest.mark.parametrize("writer", [torch_zip, torch_legacy])
def test_the_test_writers_write_what_torch_reads(rng, writer):
    """tests/model_writers.py writes the files of the reader's other tests opcode by opcode:
    PyTorch reads them to the same arrays (so those tests test real files)."""
    base = rng.normal(size=(4, 7)).astype(np.float32)
    tensors = {"a.weight": Tensor(base, 0, (7, 4), (1, 7), key="s"), "a.bias": Tensor(base, 3, (7,), (1,), key="s"),
               "b.weight": rng.normal(size=(2, 7)), "b.bias": rng.normal(size=2).astype(np.float16)}
    obj = torch.load(io.BytesIO(writer(tensors)), map_location="cpu", weights_only=True)
    assert list(obj) == list(tensors)
    assert np.array_equal(obj["a.weight"].numpy(), base.T)
    assert np.array_equal(obj["a.bias"].numpy(), base.ravel()[3:10])
    assert obj["b.weight"].dtype == torch.float64 and np.array_equal(obj["b.weight"].numpy(), tensors["b.weight"])
    assert obj["b.bias"].dtype == torch.float16 and np.array_equal(obj["b.bias"].numpy(), tensors["b.bias"])


class NotATensor:
    pass


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_a_file_torch_refuses_eie_refuses_with_either_reader(tmp_path, legacy):
    """A pickled object of a class of the saving program: PyTorch's weights_only load refuses
    it, and so does eie, through its own reader and through PyTorch."""
    import pickle
    sd = {"fc.weight": torch.ones(2, 3), "extra": NotATensor()}
    path = saved(sd, tmp_path / "evil.pt", legacy)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, map_location="cpu", weights_only=True)
    with pytest.raises(InputError, match="NotATensor"):
        read_state_dict(path, use_torch=False)
    with pytest.raises(InputError, match="refused"):
        import_file(path, use_torch=True)


def test_an_imported_torch_lstm_against_torch_itself(tmp_path):
    """nn.LSTM (two layers, bidirectional: PyTorch's gate order ifgo, its two biases, the
    ``_reverse`` weights) through ``eie import``, run by eie's LSTM against nn.LSTM's forward:
    layer 0 of each direction on the input sequence (the dense float run equal, the array's
    within the 8-bit sharing and 16-bit fixed point), then layer 1 on layer 0's two
    directions side by side: the stack's output is nn.LSTM's."""
    from eie.compress import compress_layer
    from eie.config import EIEConfig
    from eie.layer import load_layer
    from eie.lstm import run_lstm_layer
    from eie.network import load_network
    torch.manual_seed(5)
    hid, inp, steps = 6, 4, 7
    rnn = torch.nn.LSTM(inp, hid, num_layers=2, bidirectional=True)
    # the bare LSTM's state dict (weight_ih_l0, ...: no prefix): layers named after the file
    path = saved(rnn.state_dict(), tmp_path / "rnn.pt")
    net_dir = tmp_path / "net"
    assert main(["import", str(path), "-o", str(net_dir)]) == 0
    net = load_network(net_dir)
    assert [x.name for x in net.layers] == ["rnn.l0", "rnn.l0.reverse", "rnn.l1", "rnn.l1.reverse"]
    assert [x.input for x in net.layers] == [inp, inp, 2 * hid, 2 * hid]
    xs = torch.randn(steps, 1, inp)
    with torch.no_grad():
        # layer 0 alone: a one-layer bidirectional LSTM holding layer 0's weights
        first = torch.nn.LSTM(inp, hid, bidirectional=True)
        first.load_state_dict({k: v for k, v in rnn.state_dict().items() if "_l0" in k})
        want = first(xs)[0][:, 0, :].numpy()                 # steps x 2H: forward, then reverse
        full = rnn(xs)[0][:, 0, :].numpy()                   # both layers
    cfg = EIEConfig(pes=4, weight_bits=8, line_bits=96)
    seq = xs[:, 0, :].numpy()
    for lay in (0, 1):
        outs = []
        for d, layer in enumerate(net.layers[2 * lay:2 * lay + 2]):
            assert (layer.gates, layer.direction, layer.hidden) == ("ifgo", ("forward", "reverse")[d], hid)
            dense = load_layer(net.path(layer))
            comp, _ = compress_layer(dense, bits=8)
            res = run_lstm_layer(comp, layer, seq, cfg, dense=dense)
            ref = (want if lay == 0 else full)[:, d * hid:(d + 1) * hid]
            assert np.allclose(res.h_dense, ref, atol=1e-5), (lay, d)
            if lay == 0:
                assert np.abs(res.h - ref).max() < 0.05
            outs.append(res.h_dense)
        seq = np.concatenate(outs, axis=1)                   # layer 1's input: steps x 2H


def test_a_trained_torch_mlp_through_import_and_eval(tmp_path):
    """A small nn.Sequential trained by PyTorch, saved, imported and scored by ``eie eval``:
    the dense float top-1 is PyTorch's own (layer order, out x in weights, biases and ReLU
    between the layers as the module computes them), and the array's is close to it."""
    import json
    rng = np.random.default_rng(11)
    centres = rng.random((4, 24)) * 2
    y = np.arange(400) % 4
    x = np.maximum(centres[y] + 1.5 * rng.standard_normal((400, 24)), 0).astype(np.float32)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(24, 32), torch.nn.ReLU(), torch.nn.Linear(32, 16), torch.nn.ReLU(),
                                torch.nn.Linear(16, 4))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(60):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xt), yt).backward()
        opt.step()
    with torch.no_grad():
        want = float((model(xt).argmax(1) == yt).double().mean())
    assert 0.6 < want < 0.99                        # trained, and not trivially perfect
    path = saved(model.state_dict(), tmp_path / "mlp.pt")
    assert main(["import", str(path), "-o", str(tmp_path / "net")]) == 0
    np.savez(tmp_path / "data.npz", x=x, y=y)
    js = tmp_path / "e.json"
    assert main(["eval", str(tmp_path / "net"), "--data", str(tmp_path / "data.npz"), "--density", "1",
                 "--bits", "8", "--pes", "4", "--weight-bits", "8", "--line-bits", "96", "--json", str(js)]) == 0
    top1 = json.loads(js.read_text())["top1"]
    assert top1["dense_float"] == pytest.approx(want, abs=1e-12)
    assert abs(top1["accelerator"] - want) <= 0.02


def test_a_whole_pickled_model_is_refused_with_the_fix(tmp_path):
    """``torch.save(model)`` pickles the module's classes: refused by either reader, the
    message naming the class and how to save what eie reads."""
    model = torch.nn.Sequential(torch.nn.Linear(4, 3))
    path = saved(model, tmp_path / "whole.pt")
    for use in (False, True):
        with pytest.raises(InputError, match=r"torch\.nn\.modules\.container\.Sequential.*"
                                             r"torch\.save\(model\.state_dict\(\), PATH\)"):
            import_file(path, use_torch=use)
