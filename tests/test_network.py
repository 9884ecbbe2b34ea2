"""Network directories (eie/network.py): read back what is written, and every bad case is one
clear error naming the layer and the field."""

import numpy as np
import pytest

from eie.compress import synthetic_layer
from eie.errors import InputError
from eie.network import Network, NetworkLayer, load_network, network_toml


def _save(path, n_out, n_in, seed):
    lay = synthetic_layer(n_out, n_in, 0.3, seed=seed)
    np.savez(path, codebook=lay.codebook, codes=lay.codes)


@pytest.fixture
def netdir(tmp_path):
    _save(tmp_path / "a.npz", 20, 30, 1)
    _save(tmp_path / "b.npz", 10, 20, 2)
    net = Network("two", (NetworkLayer("a", "a.npz", "fc", (20, 30), "relu"),
                          NetworkLayer("b", "b.npz", "fc", (10, 20), "none")), source="test")
    (tmp_path / "network.toml").write_text(network_toml(net))
    return tmp_path


def test_round_trip(netdir):
    net = load_network(netdir)
    assert net.name == "two" and net.source == "test" and [layer.name for layer in net.layers] == ["a", "b"]
    assert net.layers[0].function == "relu" and net.layers[1].shape == (10, 20)
    assert net.path(net.layers[1]) == netdir / "b.npz"


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("shape = [10, 20]", "shape = [10, 21]"), "has 21 inputs but 'a' has 20 outputs"),
    (lambda t: t.replace('function = "relu"', 'function = "gelu"'), "function must be one of"),
    (lambda t: t.replace('kind = "fc"', 'kind = "pool"', 1), "kind must be one of"),
    (lambda t: t.replace('file = "b.npz"', 'file = "../b.npz"'), "file must be a path inside the directory"),
    (lambda t: t.replace('name = "b"', 'name = "a"'), "two layers are named 'a'"),
    (lambda t: t + '\n[extra]\nx = 1\n', "unknown table 'extra'"),
    (lambda t: t.replace('kind = "fc"', 'kind = "conv"'), "has no fully-connected or LSTM layer"),
    (lambda t: t.replace("shape = [20, 30]", "shape = [21, 30]").replace("shape = [10, 20]", "shape = [10, 21]"),
     "declares shape [21, 30] but a.npz holds [20, 30]"),
    (lambda t: t.replace('name = "b"\n', 'name = "b"\nhidden = 3\n'), "'hidden' is only for an lstm layer"),
])
def test_bad_network_files(netdir, edit, message):
    toml = netdir / "network.toml"
    toml.write_text(edit(toml.read_text()))
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        load_network(netdir)


def test_missing_directory_and_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_network(tmp_path / "nope")
    with pytest.raises(InputError, match="has no network.toml"):
        load_network(tmp_path)


def test_lstm_layer_shape_rule(tmp_path):
    _save(tmp_path / "l.npz", 4 * 8, 5 + 8, 3)
    good = Network("l", (NetworkLayer("l", "l.npz", "lstm", (32, 13), "none", hidden=8, input=5, gates="ifgo",
                                      direction="forward"),))
    (tmp_path / "network.toml").write_text(network_toml(good))
    assert load_network(tmp_path).layers[0].hidden == 8
    (tmp_path / "network.toml").write_text(network_toml(good).replace("hidden = 8", "hidden = 7"))
    with pytest.raises(InputError, match=r"shape must be \[4\*hidden, input\+hidden\]"):
        load_network(tmp_path)
