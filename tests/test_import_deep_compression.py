"""Deep Compression's release format: files written by an independent encoder
(tests/model_writers.py) from known code tensors decode to exactly those tensors, through
the library and through `eie import`; every kind of bad file is one clear error."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from model_writers import dc_entries, dc_release, pack_nibbles, random_compressed

from eie.cli import main
from eie.errors import InputError
from eie.importers import import_file
from eie.importers.caffe import caffe_layers, parse_text_proto
from eie.importers.deep_compression import LayerSpec, parse_layer_spec, read_release
from eie.layer import load_layer
from eie.network import load_network

ALEXNET = """name: "AlexNet"
input: "data"
input_dim: 10 input_dim: 3 input_dim: 227 input_dim: 227
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 96 kernel_size: 11 stride: 4 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "norm1" type: "LRN" bottom: "conv1" top: "norm1" }
layer { name: "pool1" type: "Pooling" bottom: "norm1" top: "pool1" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "conv2" type: "Convolution" bottom: "pool1" top: "conv2"
  convolution_param { num_output: 256 pad: 2 kernel_size: 5 group: 2 } }
layer { name: "relu2" type: "ReLU" bottom: "conv2" top: "conv2" }
layer { name: "pool2" type: "Pooling" bottom: "conv2" top: "pool2" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "conv3" type: "Convolution" bottom: "pool2" top: "conv3" convolution_param { num_output: 384 pad: 1 kernel_size: 3 } }
layer { name: "conv4" type: "Convolution" bottom: "conv3" top: "conv4"
  convolution_param { num_output: 384 pad: 1 kernel_size: 3 group: 2 } }
layer { name: "conv5" type: "Convolution" bottom: "conv4" top: "conv5"
  convolution_param { num_output: 256 pad: 1 kernel_size: 3 group: 2 } }
layer { name: "pool5" type: "Pooling" bottom: "conv5" top: "pool5" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "fc6" type: "InnerProduct" bottom: "pool5" top: "fc6" inner_product_param { num_output: 4096 } }
layer { name: "relu6" type: "ReLU" bottom: "fc6" top: "fc6" }
layer { name: "drop6" type: "Dropout" bottom: "fc6" top: "fc6" }
layer { name: "fc7" type: "InnerProduct" bottom: "fc6" top: "fc7" inner_product_param { num_output: 4096 } }
layer { name: "relu7" type: "ReLU" bottom: "fc7" top: "fc7" }
layer { name: "fc8" type: "InnerProduct" bottom: "fc7" top: "fc8" inner_product_param { num_output: 1000 } }
layer { name: "prob" type: "Softmax" bottom: "fc8" top: "prob" }
"""


def run(argv, capsys):
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_encoder_matches_the_papers_worked_example():
    """The writer itself: EIE's padding example, column [0,0,1,2, eighteen 0s, 3] ->
    v = [1,2,0,3], z = [2,0,15,2] (the same rule as the release format's filler)."""
    code, index = dc_entries(np.array([0, 0, 1, 2] + [0] * 18 + [3]))
    assert code.tolist() == [1, 2, 0, 3] and index.tolist() == [2, 0, 15, 2]
    assert pack_nibbles([1, 2, 3]) == bytes([0x21, 0x03])


@pytest.mark.parametrize("density", [0.0005, 0.09, 0.6])
def test_decode_equals_the_original(tmp_path, rng, density):
    """Gaps longer than 15 (fillers), odd and even counts, 4- and 8-bit codes."""
    layers = [random_compressed(rng, 37, 101, density), random_compressed(rng, 20, 37, density, bits=8),
              random_compressed(rng, 9, 20, density)]
    path = tmp_path / "net.net"
    path.write_bytes(dc_release([(c, cb, b, bits) for (c, cb, b), bits in zip(layers, (4, 8, 4), strict=True)]))
    specs = [LayerSpec("fc1", 37, 101), LayerSpec("fc2", 20, 37, bits=8), LayerSpec("fc3", 9, 20)]
    net = read_release(path, specs)
    for (codes, codebook, bias), got in zip(layers, net.layers, strict=True):
        assert np.array_equal(got.codes, codes)
        assert np.array_equal(got.codebook, codebook) and np.array_equal(got.bias, bias)
        assert np.array_equal(got.codebook[got.codes], codebook[codes])        # decode == the original
    assert [layer.function for layer in net.layers] == ["relu", "relu", "none"]


def test_the_alexnet_command_exactly(tmp_path, rng, capsys):
    """`eie import net.bin --format deep-compression --layer fc6:4096x9216 --layer fc7:4096x4096
    --layer fc8:1000x4096 -o DIR`, on a file of AlexNet's FC shapes (densities of Table III)."""
    layers = [random_compressed(rng, 4096, 9216, 0.09), random_compressed(rng, 4096, 4096, 0.09),
              random_compressed(rng, 1000, 4096, 0.25)]
    src = tmp_path / "net.bin"
    src.write_bytes(dc_release([(c, cb, b, 4) for c, cb, b in layers]))
    out = tmp_path / "alexnet"
    rc, text, err = run(["import", src, "--format", "deep-compression", "--layer", "fc6:4096x9216",
                         "--layer", "fc7:4096x4096", "--layer", "fc8:1000x4096", "-o", out], capsys)
    assert rc == 0, err
    net = load_network(out)
    assert [(x.name, x.shape, x.function) for x in net.layers] == [
        ("fc6", (4096, 9216), "relu"), ("fc7", (4096, 4096), "relu"), ("fc8", (1000, 4096), "none")]
    with np.load(out / "fc8.npz") as f:
        assert sorted(f.files) == ["bias", "codebook", "codes"]
        codes, codebook, bias = layers[2]
        assert np.array_equal(f["codes"], codes) and np.array_equal(f["bias"], bias)
    assert load_layer(out / "fc7.npz").shape == (4096, 4096)


def test_prototxt_gives_shapes_bits_and_functions(tmp_path, rng):
    name, found = caffe_layers(ALEXNET, "alexnet.prototxt")
    assert name == "AlexNet"
    assert [(c.name, c.weight_shape, c.function) for c in found] == [
        ("conv1", (96, 3, 11, 11), "relu"), ("conv2", (256, 48, 5, 5), "relu"), ("conv3", (384, 256, 3, 3), "none"),
        ("conv4", (384, 192, 3, 3), "none"), ("conv5", (256, 192, 3, 3), "none"), ("fc6", (4096, 9216), "relu"),
        ("fc7", (4096, 4096), "relu"), ("fc8", (1000, 4096), "softmax")]
    small = ALEXNET.replace("num_output: 4096", "num_output: 40").replace("num_output: 1000", "num_output: 10")
    small = small.replace("num_output: 256 pad: 1", "num_output: 8 pad: 1")
    (tmp_path / "deploy.prototxt").write_text(small)
    _, shapes = caffe_layers(small, "x")
    layers = [random_compressed(rng, *c.shape, 0.05, bits=8 if c.kind == "conv" else 4) for c in shapes]
    (tmp_path / "a.net").write_bytes(dc_release([(co, cb, b, 8 if c.kind == "conv" else 4)
                                                 for (co, cb, b), c in zip(layers, shapes, strict=True)]))
    net = import_file(tmp_path / "a.net", prototxt=tmp_path / "deploy.prototxt")
    assert net.name == "AlexNet" and net.format == "deep-compression"
    assert [(x.name, x.kind, x.shape, len(x.codebook)) for x in net.layers][4:] == [
        ("conv5", "conv", (8, 192 * 9), 256), ("fc6", "fc", (40, 8 * 36), 16), ("fc7", "fc", (40, 40), 16),
        ("fc8", "fc", (10, 40), 16)]
    assert net.layers[-1].function == "softmax"
    assert all(np.array_equal(x.codes, co) for x, (co, _, _) in zip(net.layers, layers, strict=True))


def test_text_format_details():
    msg = parse_text_proto('a: 1 b { c: "x y" d: [1, 2] } # note\nb < c: MAX > e: -1.5e-3', "t")
    assert msg == {"a": [1], "b": [{"c": ["x y"], "d": [1, 2]}, {"c": ["MAX"]}], "e": [-1.5e-3]}
    with pytest.raises(InputError, match="missing '}'"):
        parse_text_proto("layer { name: 'x' ", "t")


def test_layer_spec_parsing():
    assert parse_layer_spec("fc6:4096x9216") == LayerSpec("fc6", 4096, 9216, 4, "fc")
    assert parse_layer_spec("conv1:96x363:8").kind == "conv"
    with pytest.raises(InputError, match=r"--layer must be NAME:OUTxIN or NAME:OUTxIN:BITS \(e.g. fc6:4096x9216\), not 'fc6:4096'"):
        parse_layer_spec("fc6:4096")
    with pytest.raises(InputError, match="bits must be 4 or 8"):
        parse_layer_spec("fc6:10x10:5")


@pytest.fixture
def good(rng):
    layers = [random_compressed(rng, 30, 50, 0.2), random_compressed(rng, 10, 30, 0.3)]
    return layers, dc_release([(c, cb, b, 4) for c, cb, b in layers])


SPECS = ["--layer", "fc1:30x50", "--layer", "fc2:10x30"]


def _truncated(data):
    return data[:-7]


def _past_the_end(data):
    # raise the first index nibble of layer 2 so that its entries run past its 10x30 tensor
    counts = np.frombuffer(data[:8], "<u4")
    n2 = int(counts[1])
    tail = bytearray(data)
    start = len(data) - ((n2 - 1) // 2 + 1)
    for i in range(start, len(data)):
        tail[i] = 0xFF
    return bytes(tail)


def _codebook_not_zero(data):
    d = bytearray(data)
    d[8:12] = np.float32(0.5).tobytes()
    return bytes(d)


@pytest.mark.parametrize("spoil, specs, message", [
    (_truncated, SPECS, "is truncated: layer 'fc2' \\(#1\\)'s .* relative indices needs"),
    (_past_the_end, SPECS, "layer 'fc2' \\(#1\\)'s indices run past the tensor"),
    (_codebook_not_zero, SPECS, "layer 'fc1' \\(#0\\)'s codebook entry 0 must be 0.0 .*not 0.5"),
    (lambda d: d + bytes(12), SPECS, "12 bytes follow the last layer \\('fc2'\\)"),
    (lambda d: d, ["--layer", "fc1:30x50"], "codebook entry 0 must be 0.0"),
    (lambda d: d, ["--layer", "fc1:31x50", "--layer", "fc2:10x30"], "codebook entry 0 must be 0.0|truncated|run past"),
    (lambda d: d, ["--layer", "fc1:30x50", "--layer", "fc2:2x3"], "declares .* non-zeros, more than its 2x3"),
    (lambda d: d[:5], SPECS, "is truncated: the 2 non-zero counts needs 8 bytes"),
])
def test_bad_files_are_one_error_and_nothing_is_written(tmp_path, good, capsys, spoil, specs, message):
    src = tmp_path / "net.bin"
    src.write_bytes(spoil(good[1]))
    out = tmp_path / "out"
    rc, _, err = run(["import", src, "--format", "deep-compression", *specs, "-o", out], capsys)
    assert rc == 2 and err.count("\n") == 1 and err.startswith("eie: error: ")
    assert re.search(message, err), err
    assert not out.exists()


def test_the_good_file_of_the_bad_cases_imports(tmp_path, good, capsys):
    src = tmp_path / "net.bin"
    src.write_bytes(good[1])
    rc, _, err = run(["import", src, *SPECS, "-o", tmp_path / "out"], capsys)      # format from --layer
    assert rc == 0, err
    assert np.array_equal(load_layer(tmp_path / "out" / "fc2.npz").codes, good[0][1][0])


def test_layers_and_prototxt_are_for_deep_compression_only(tmp_path, capsys):
    np.savez(tmp_path / "m.npz", **{"fc.weight": np.ones((2, 3)), "fc.bias": np.zeros(2)})
    rc, _, err = run(["import", tmp_path / "m.npz", "--format", "npz", "--layer", "fc:2x3", "-o", tmp_path / "o"],
                     capsys)
    assert rc == 2 and "--layer and --prototxt describe a Deep Compression file" in err
    rc, _, err = run(["import", tmp_path / "m.npz", "--format", "deep-compression", "-o", tmp_path / "o"], capsys)
    assert rc == 2 and "needs its layers: give --layer" in err


def test_v1_prototxt_and_input_layer():
    """The V1 spelling (layers { type: CONVOLUTION }) of Caffe's LeNet, and an Input layer."""
    lenet = """name: "LeNet" input: "data" input_shape { dim: 64 dim: 1 dim: 28 dim: 28 }
    layers { name: "conv1" type: CONVOLUTION bottom: "data" top: "conv1" convolution_param { num_output: 20 kernel_size: 5 } }
    layers { name: "pool1" type: POOLING bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
    layers { name: "conv2" type: CONVOLUTION bottom: "pool1" top: "conv2" convolution_param { num_output: 50 kernel_size: 5 } }
    layers { name: "pool2" type: POOLING bottom: "conv2" top: "pool2" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
    layers { name: "ip1" type: INNER_PRODUCT bottom: "pool2" top: "ip1" inner_product_param { num_output: 500 } }
    layers { name: "relu1" type: RELU bottom: "ip1" top: "ip1" }
    layers { name: "ip2" type: INNER_PRODUCT bottom: "ip1" top: "ip2" inner_product_param { num_output: 10 } }
    layers { name: "prob" type: SOFTMAX bottom: "ip2" top: "prob" }"""
    _, found = caffe_layers(lenet, "lenet")
    assert [(c.name, c.kind, c.shape, c.function) for c in found] == [
        ("conv1", "conv", (20, 25), "none"), ("conv2", "conv", (50, 500), "none"), ("ip1", "fc", (500, 800), "relu"),
        ("ip2", "fc", (10, 500), "softmax")]
    net = ('layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }\n'
           'layer { name: "fc1" type: "InnerProduct" bottom: "data" top: "fc1" inner_product_param { num_output: 7 } }')
    assert caffe_layers(net, "x")[1][0].shape == (7, 192)
    with pytest.raises(InputError, match="layer 'fc1': the shape of its input is unknown"):
        caffe_layers(net.replace('bottom: "data"', 'bottom: "nope"'), "x")


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 70), st.floats(0, 1), st.sampled_from([4, 8]), st.integers(0, 2**32 - 1))
def test_decode_round_trips_random_layers(tmp_path_factory, n_out, n_in, density, bits, seed):
    codes, codebook, bias = random_compressed(np.random.default_rng(seed), n_out, n_in, density, bits)
    path = tmp_path_factory.mktemp("dc") / "r.net"
    path.write_bytes(dc_release([(codes, codebook, bias, bits)]))
    (got,) = read_release(path, [LayerSpec("fc", n_out, n_in, bits)]).layers
    assert np.array_equal(got.codes, codes) and np.array_equal(got.bias, bias)
