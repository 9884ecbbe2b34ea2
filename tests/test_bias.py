"""A bias that survives [arch §2, §4]: a layer carries the authors' coded bias (``bias_codes``,
entries in the bias column) or a full-precision bias (``bias``: the bias column stays empty
and every destination accumulator starts from ``q_acc(bias_i)``).

The model is held to an independent numpy integer implementation of §4 with the preload,
and to the layer without a bias for everything that must not change (images, timing,
counters)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eie.compile import compile_layer, hex_images
from eie.compress import compress_layer
from eie.config import EIEConfig
from eie.errors import InputError
from eie.fixed import QuantPlan, acc_preload, plan_layer, quantize
from eie.flow.host import layer_jobs, pass_image, pass_writes, start_ctrl
from eie.hdl.params import HWConfig
from eie.hdl.regmap import CTRL_BITS, HostMap
from eie.layer import CompressedLayer, DenseLayer, load_layer, save_layer
from eie.model import simulate, simulate_fixed, simulate_stack
from eie.prepare import prepare_layer
from eie.reference import error_bound, float_forward

CB = np.concatenate([[0.0], np.sort(np.random.default_rng(0).normal(0, 0.5, 15))])


def layer_with(rng, n_out, n_in, density, act_density, bias="full", scale=0.3):
    codes = (rng.random((n_out, n_in)) < density) * rng.integers(1, 16, (n_out, n_in))
    x = np.where(rng.random(n_in) < act_density, rng.exponential(1.0, n_in), 0.0)
    if bias == "full":
        b = rng.normal(0, scale, n_out) * (rng.random(n_out) < 0.8)       # either sign, some exactly 0
        return CompressedLayer(CB, codes, None, x, bias=b)
    if bias == "coded":
        return CompressedLayer(CB, codes, rng.integers(0, 16, n_out), x)
    return CompressedLayer(CB, codes, None, x)


def numpy_reference(layer, a_q, cb_q, plan, acc_bits=16, act_bits=16, relu=False):
    """§4 in plain numpy integers, independent of eie.fixed: products, round-half-up shift,
    the accumulator starting from clamp(floor(bias·2^fo + 1/2)) (a coded bias: one more
    product with activation 1.0), wrap-around in acc_bits, saturate, ReLU."""
    s = plan.fa + plan.fw - plan.fo
    w = np.asarray(cb_q, np.int64)[layer.codes.astype(np.int64)]
    prod = np.asarray(a_q, np.int64)[None, :] * w
    if layer.bias_codes is not None:
        bias_col = (1 << plan.fa) * np.asarray(cb_q, np.int64)[layer.bias_codes.astype(np.int64)]
        prod = np.concatenate([prod, bias_col[:, None]], axis=1)
    r = prod if s == 0 else (prod + (1 << (s - 1))) >> s
    lo, hi = -(1 << (acc_bits - 1)), (1 << (acc_bits - 1)) - 1
    acc = np.zeros(layer.n_out, np.int64)
    if layer.bias is not None:
        acc = np.array([min(hi, max(lo, math.floor(b * 2.0 ** plan.fo + 0.5))) for b in layer.bias], np.int64)
    acc = acc + r.sum(axis=1)
    acc = ((acc - lo) % (1 << acc_bits)) + lo
    y = np.clip(acc, -(1 << (act_bits - 1)), (1 << (act_bits - 1)) - 1)
    return np.maximum(y, 0) if relu else y


# ---- the layer ------------------------------------------------------------------------------
def test_a_layer_carries_at_most_one_bias():
    codes = np.ones((3, 2), int)
    assert CompressedLayer(CB, codes).bias_kind is None
    assert CompressedLayer(CB, codes, [1, 0, 2]).bias_kind == "coded"
    full = CompressedLayer(CB, codes, bias=[0.5, -1e-6, 0.0])
    assert full.bias_kind == "full" and full.bias.dtype == np.float64
    assert np.array_equal(full.bias_values(), [0.5, -1e-6, 0.0])
    with pytest.raises(InputError, match="bias .full precision. or bias_codes .coded with the codebook., not both"):
        CompressedLayer(CB, codes, [1, 0, 2], bias=[0.5, 0.0, 0.0])
    with pytest.raises(InputError, match=r"bias must have one value per output row \(3\), not 2"):
        CompressedLayer(CB, codes, bias=[0.5, 0.0])
    with pytest.raises(InputError, match="bias must be finite, not"):
        CompressedLayer(CB, codes, bias=[0.5, np.nan, 0.0])


def test_files_keep_a_float_bias_at_full_precision(tmp_path):
    codes = np.arange(12).reshape(4, 3) % 16
    b = np.array([1e-5, -0.25, 0.0, 3.0])
    np.savez(tmp_path / "c.npz", codebook=CB, codes=codes, bias=b)
    layer = load_layer(tmp_path / "c.npz")
    assert layer.bias_kind == "full" and np.array_equal(layer.bias, b) and layer.bias_codes is None
    for lay in (layer, CompressedLayer(CB, codes, [0, 1, 2, 3], np.ones(3), "x"),
                DenseLayer(np.ones((2, 3)), np.array([1e-9, 2.0]), np.ones(3))):
        save_layer(tmp_path / "r.npz", lay)
        back = load_layer(tmp_path / "r.npz")
        assert type(back) is type(lay)
        for key in ("bias", "bias_codes", "activations", "codes", "codebook", "weight"):
            a, c = getattr(lay, key, None), getattr(back, key, None)
            assert (a is None and c is None) or np.array_equal(a, c), key
    np.savez(tmp_path / "both.npz", codebook=CB, codes=codes, bias=b, bias_codes=np.zeros(4, int))
    with pytest.raises(InputError, match="give either 'bias' or 'bias_codes', not both"):
        load_layer(tmp_path / "both.npz")


# ---- compile: the bias column stays empty, the timing is the bias-free layer's -----------------
@pytest.mark.parametrize("pes,regfile", [(1, 64), (4, 3), (5, 2)])
def test_full_bias_leaves_images_and_timing_of_the_layer_without_bias(rng, pes, regfile):
    full = layer_with(rng, 23, 17, 0.4, 0.5, "full")
    none = CompressedLayer(full.codebook, full.codes, None, full.activations)
    cfg = EIEConfig(pes=pes, regfile_entries=regfile, queue_depth=2)
    cf, cn = compile_layer(full, cfg), compile_layer(none, cfg)
    assert np.array_equal(cf.bias, full.bias) and not cf.has_bias and cn.bias is None
    for pf, pn in zip(cf.passes, cn.passes, strict=True):
        assert np.array_equal(pf.ptr, pn.ptr) and np.array_equal(pf.v, pn.v) and np.array_equal(pf.z, pn.z)
        assert not pf.lengths[:, cf.cp].any()                   # the bias column is empty in every PE
    rf = simulate(cf, source=full)
    plan = rf.plan
    rn = simulate(cn, full.activations, plan=plan, source=none)
    assert rf.cycles == rn.cycles and rf.totals["broadcasts"] == rn.totals["broadcasts"]
    for k in rf.pe:
        assert np.array_equal(rf.pe[k], rn.pe[k]), k
    for k in ("stall_cycles", "groups_scanned", "useful_macs", "stored_entries"):
        assert rf.totals[k] == rn.totals[k], k
    # the outputs differ exactly by the preload (nothing saturates or wraps here)
    assert np.array_equal(rf.outputs_q - rn.outputs_q, acc_preload(full.bias, plan.fo, cfg.acc_bits))
    assert rf.reference["outputs_match_reference"]
    # the energy events differ only in the preload: one destination write per output [arch §7]
    assert {k: v for k, v in rf.events.items() if k != "dst_rf_write"} == \
        {k: v for k, v in rn.events.items() if k != "dst_rf_write"}
    assert rf.events["dst_rf_write"] == rn.events["dst_rf_write"] + full.n_out
    assert rf.totals["preloaded_accumulators"] == full.n_out and rn.totals["preloaded_accumulators"] == 0


# ---- the model against an independent integer reference ----------------------------------------
@settings(max_examples=30, deadline=None)
@given(n_out=st.integers(1, 50), n_in=st.integers(1, 40), pes=st.integers(1, 6), regfile=st.integers(1, 8),
       acc_bits=st.sampled_from([16, 20, 24]), density=st.floats(0, 1), act_density=st.floats(0, 1),
       scale=st.sampled_from([1e-4, 0.3, 3.0]), seed=st.integers(0, 2**32 - 1), relu=st.booleans())
def test_model_equals_numpy_integer_reference(n_out, n_in, pes, regfile, acc_bits, density, act_density, scale, seed,
                                              relu):
    rng = np.random.default_rng(seed)
    layer = layer_with(rng, n_out, n_in, density, act_density, "full", scale)
    cfg = EIEConfig(pes=pes, regfile_entries=regfile, acc_bits=acc_bits, queue_depth=3)
    r = simulate(layer, config=cfg, relu=relu)
    a_q = quantize(layer.activations, r.plan.fa, 16)
    cb_q = quantize(layer.codebook, r.plan.fw, 16)
    assert r.outputs_q.tolist() == numpy_reference(layer, a_q, cb_q, r.plan, acc_bits, relu=relu).tolist()
    assert r.reference["outputs_match_reference"]
    assert r.totals["saturated_bias"] == 0                       # plan_layer keeps the preload in range
    # the model on the integer input the hardware gets, and its compiled images alone
    rf = simulate_fixed(compile_layer(layer, cfg), a_q, r.plan, relu=relu)
    assert np.array_equal(rf.outputs_q, r.outputs_q) and rf.cycles == r.cycles and rf.events == r.events


def test_negative_and_saturating_bias_with_forced_fraction_bits(rng):
    """fo forced so that large biases clamp to the accumulator range at the preload: the
    model still equals the integer reference and counts the clamped biases."""
    layer = layer_with(rng, 30, 20, 0.3, 0.5, "full")
    bias = layer.bias.copy()
    bias[:4] = [40.0, -40.0, 3.99, -4.0]              # with fo = 13 the range is [-4, 4 - 2^-13]
    layer = CompressedLayer(layer.codebook, layer.codes, None, layer.activations, bias=bias)
    cfg = EIEConfig(pes=4, regfile_entries=4)
    plan0 = plan_layer(layer.codebook, layer.activations, float_forward(layer, layer.activations), cfg,
                       bias=layer.bias)
    plan = QuantPlan(plan0.fa, plan0.fw, 13)
    r = simulate(layer, config=cfg, plan=plan, check_reference=False)
    a_q = quantize(layer.activations, plan.fa, 16)
    assert r.outputs_q.tolist() == numpy_reference(layer, a_q, quantize(layer.codebook, plan.fw, 16), plan).tolist()
    assert r.totals["saturated_bias"] == 2                      # ±40 clamp; 3.99 and -4 fit
    pre = acc_preload(bias, 13, 16)
    assert pre[:4].tolist() == [32767, -32768, 32686, -32768]


def test_plan_caps_fo_so_the_preload_does_not_saturate():
    """Outputs much smaller than the bias (W·x cancels it) would give a large fo; the cap
    keeps max|bias|·2^fo within the accumulator."""
    cb = np.array([0.0, -1.0, 1.0])
    layer = CompressedLayer(cb, np.array([[2], [1]]), None, np.array([1.0]), bias=np.array([-1.0, 1.0]))
    y = float_forward(layer, layer.activations)
    assert np.allclose(y, 0.0, atol=0)                          # exact cancellation
    cfg = EIEConfig(pes=2)
    plan = plan_layer(cb, layer.activations, y, cfg, bias=layer.bias)
    assert plan.fo == 14                                        # largest fo with 1.0·2^fo <= 32767
    assert plan_layer(cb, layer.activations, y, cfg).fo > plan.fo
    r = simulate(layer, config=cfg)
    assert r.plan == plan and r.totals["saturated_bias"] == 0 and r.reference["outputs_match_reference"]
    assert r.outputs_q.tolist() == [0, 0]


def test_error_bound_adds_the_preload_rounding_on_rows_with_a_bias(rng):
    full = layer_with(rng, 12, 9, 0.5, 0.7, "full")
    none = CompressedLayer(full.codebook, full.codes, None, full.activations)
    db = error_bound(full, full.activations, 10, 13, 9) - error_bound(none, none.activations, 10, 13, 9)
    np.testing.assert_allclose(db, np.where(full.bias != 0, 2.0 ** -10, 0.0), rtol=0, atol=1e-12)


# ---- what the issue is about: a real-looking bias survives -------------------------------------
def test_small_bias_survives_full_precision_and_is_zeroed_when_coded():
    """A trained layer's bias is much smaller than its kept weights: coded with the weight
    codebook every value becomes 0; at full precision each survives within 2^-(fo+1)."""
    rng = np.random.default_rng(7)
    w = rng.normal(0, 1, (48, 64))
    b = rng.normal(0, 1e-2, 48)
    x = np.maximum(rng.normal(0, 1, 64), 0)
    dense = DenseLayer(w, b, x)
    full, _ = compress_layer(dense, density=0.3)
    coded, _ = compress_layer(dense, density=0.3, bias_mode="coded")
    step = np.min(np.abs(full.dense_weight()[full.codes != 0]))
    assert np.max(np.abs(b)) < step / 20                        # far below the smallest kept weight
    assert np.count_nonzero(coded.bias_values()) == 0           # coded: every bias value became 0
    cfg = EIEConfig(pes=8)
    rf = simulate(full, config=cfg)
    fo = rf.plan.fo
    assert rf.reference["outputs_match_reference"]
    none = CompressedLayer(full.codebook, full.codes, None, x)
    rn = simulate(none, config=cfg, plan=rf.plan)
    rc = simulate(coded, config=cfg, plan=rf.plan)
    assert np.array_equal(rc.outputs_q, rn.outputs_q)           # the coded bias is gone
    kept = (rf.outputs_q - rn.outputs_q) / 2.0 ** fo             # the full-precision bias is there
    assert np.all(np.abs(kept - b) <= 2.0 ** -(fo + 1))
    assert np.count_nonzero(kept) >= 0.9 * b.size
    # with no input at all the outputs are the quantised bias itself
    r0 = simulate(full, np.zeros(64), config=cfg, plan=rf.plan)
    assert np.all(np.abs(r0.outputs - b) <= 2.0 ** -(fo + 1)) and r0.totals["broadcasts"] == 1


def test_fc8_with_its_bias_at_full_precision(fc8_path):
    """The authors' FC8 keeps its coded bias (7,926 / 7,896 cycles, tests/test_model.py); the
    same bias values carried at full precision leave the bias column empty: the timing of the
    layer without a bias, 16 cycles less, and the same outputs within the error bound."""
    fc8 = load_layer(fc8_path)
    full = CompressedLayer(fc8.codebook, fc8.codes, None, fc8.activations, bias=fc8.bias_values())
    none = CompressedLayer(fc8.codebook, fc8.codes, None, fc8.activations)
    for depth, cycles in ((7, 7910), (8, 7880)):
        cfg = EIEConfig(pes=64, queue_depth=depth)
        r = simulate(full, config=cfg)
        assert r.cycles == cycles == simulate(none, config=cfg).cycles
        assert r.reference["outputs_match_reference"]
    expected = np.load(fc8_path, allow_pickle=False)["expected_output"]
    assert np.max(np.abs(r.outputs - expected)) < 0.05


def test_stack_with_full_precision_biases_matches_chained_reference(rng):
    l1 = layer_with(rng, 24, 30, 0.4, 0.6, "full")
    l2 = layer_with(rng, 10, 24, 0.4, 1.0, "full", scale=1.0)
    cfg = EIEConfig(pes=4, regfile_entries=4)
    r1, r2 = simulate_stack([l1, l2], l1.activations, cfg)
    assert r1.reference["outputs_match_reference"] and r2.reference["outputs_match_reference"]
    a_q = quantize(l1.activations, r1.plan.fa, 16)
    y1 = numpy_reference(l1, a_q, quantize(l1.codebook, r1.plan.fw, 16), r1.plan, relu=True)
    assert r1.outputs_q.tolist() == y1.tolist()
    y2 = numpy_reference(l2, y1, quantize(l2.codebook, r2.plan.fw, 16), r2.plan)
    assert r2.outputs_q.tolist() == y2.tolist()


# ---- images: $readmemh files and host-port jobs -------------------------------------------------
def test_hex_images_hold_the_preload_per_pass_and_pe(rng):
    layer = layer_with(rng, 11, 7, 0.5, 0.5, "full")
    cfg = EIEConfig(pes=3, regfile_entries=2, acc_bits=20)                # 6 rows per pass: 2 passes
    prep = prepare_layer(layer, cfg)
    files = hex_images(prep.compiled, prep.cb_q, prep.a_q, prep.bias_q)
    assert len(prep.compiled.passes) == 2
    for t in range(2):
        for p in range(3):
            words = [int(v, 16) for v in files[f"pass{t}_pe{p}_bias.hex"].split()]
            words = [v - (1 << 20) if v >> 19 else v for v in words]
            rows = [t * 6 + r * 3 + p for r in range(2)]
            assert words == [int(prep.bias_q[i]) if i < 11 else 0 for i in rows]
            assert all(len(v) == 5 for v in files[f"pass{t}_pe{p}_bias.hex"].split())
    assert "pass1_pe2_bias.hex" in files["manifest.json"] and '"bias": "full"' in files["manifest.json"]
    assert not [f for f in hex_images(prep.compiled, prep.cb_q, prep.a_q) if f.endswith("_bias.hex")]
    coded = prepare_layer(layer_with(rng, 11, 7, 0.5, 0.5, "coded"), cfg)
    with pytest.raises(InputError, match="has no full-precision bias: bias_q must be None"):
        hex_images(coded.compiled, bias_q=np.zeros(11, int))


def test_host_jobs_preload_the_rows_of_each_pass(rng):
    layer = layer_with(rng, 13, 9, 0.5, 0.5, "full")
    cfg = EIEConfig(pes=4, regfile_entries=2, queue_depth=2)              # 8 rows per pass: 2 passes
    hw = HWConfig(cfg, spmat_lines=16, ptr_words=16, act_depth=8)
    prep = prepare_layer(layer, cfg)
    plan = prep.plan
    jobs = layer_jobs(hw, prep.compiled, prep.a_q, prep.cb_q, plan.shift, False, prep.bias_act, prep.bias_q)
    hm = HostMap(hw)
    mask = (1 << hw.data_bits) - 1
    for t, job in enumerate(jobs):
        image = job["image"]
        assert start_ctrl(image) == CTRL_BITS["start"] | CTRL_BITS["keep_acc"] == 5
        for p, pe in enumerate(image["pes"]):
            assert pe["bias"] == [int(prep.bias_q[i]) if i < 13 else 0 for i in (t * 8 + p, t * 8 + 4 + p)]
        ops = dict(pass_writes(hw, image))
        regs_only = dict(pass_writes(hw, image, memories=False))           # a resident pass
        for p, pe in enumerate(image["pes"]):
            for r, v in enumerate(pe["bias"]):
                assert ops[hm.pe(p, "out", r)] == regs_only[hm.pe(p, "out", r)] == v & mask
    # without a full-precision bias: no preload, a plain start (which clears the file)
    coded = prepare_layer(layer_with(rng, 13, 9, 0.5, 0.5, "coded"), cfg)
    image = pass_image(hw, coded.compiled, 0, coded.a_q, coded.cb_q, coded.plan.shift, False, coded.bias_act)
    assert start_ctrl(image) == CTRL_BITS["start"] and "bias" not in image["pes"][0]
    assert not [a for a, _ in pass_writes(hw, image) if a >> hm.mem_lsb & 7 == 5]
    with pytest.raises(ValueError, match="has a full-precision bias: give bias_q"):
        pass_image(hw, prep.compiled, 0, prep.a_q, prep.cb_q, plan.shift, False, prep.bias_act)
    with pytest.raises(ValueError, match="has no full-precision bias: bias_q must be None"):
        pass_image(hw, coded.compiled, 0, coded.a_q, coded.cb_q, 0, False, 1, np.zeros(13, int))


def test_cli_compile_writes_the_preload_images(tmp_path, capsys):
    from eie.cli import main
    rng = np.random.default_rng(3)
    layer = layer_with(rng, 20, 12, 0.5, 0.6, "full")
    path = tmp_path / "l.npz"
    save_layer(path, layer)
    assert main(["compile", str(path), "--pes", "4", "--regfile-entries", "4", "--out", str(tmp_path / "img")]) == 0
    names = sorted(f.name for f in (tmp_path / "img").glob("*_bias.hex"))
    assert names == sorted(f"pass{t}_pe{p}_bias.hex" for t in range(2) for p in range(4))
    prep = prepare_layer(layer, EIEConfig(pes=4, regfile_entries=4))
    words = [int(w, 16) for w in (tmp_path / "img" / "pass1_pe1_bias.hex").read_text().split()]
    assert words == [int(prep.bias_q[i]) & 0xFFFF if i < 20 else 0 for i in (17, 21, 25, 29)]
    # --bias applies to a dense file only
    assert main(["compile", str(path), "--bias", "coded"]) == 2
    assert "--bias applies only to a dense layer; drop it" in capsys.readouterr().err
