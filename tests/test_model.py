"""Cycle model: against a cycle-stepping reference, a plain integer reference, the paper
and the authors' simulator."""

import numpy as np
import pytest
from cycle_ref import step_simulate
from hypothesis import given, settings
from hypothesis import strategies as st

from eie.config import EIEConfig
from eie.errors import InputError
from eie.fixed import quantize
from eie.layer import CompressedLayer, load_layer
from eie.model import simulate, simulate_stack


def random_layer(rng, n_out, n_in, density, act_density, bias=True):
    """``bias``: True or "coded" (codes into the codebook), "full" (a float bias), False/None."""
    codes = (rng.random((n_out, n_in)) < density) * rng.integers(1, 16, (n_out, n_in))
    cb = np.concatenate([[0.0], np.sort(rng.normal(0, 0.5, 15))])
    b = rng.integers(0, 16, n_out) if bias else None
    x = np.where(rng.random(n_in) < act_density, rng.exponential(1.0, n_in), 0.0)
    if bias == "full":
        # of either sign, some exactly 0, some far below the smallest codebook step
        full = rng.normal(0, 0.3, n_out) * (rng.random(n_out) < 0.8) * rng.choice([1.0, 1e-3], n_out)
        return CompressedLayer(cb, codes, None, x, bias=full)
    return CompressedLayer(cb, codes, b, x)


def integer_reference(layer, a_q, cb_q, shift, acc_bits=16, act_bits=16, fa=None, relu=False, fo=None):
    """Plain integer implementation of the fixed-point rules [arch §4], row by row; a
    full-precision bias is the accumulator's start value
    ``clamp(floor(bias * 2**fo + 1/2), -2**(acc_bits-1), 2**(acc_bits-1) - 1)`` [arch §2]."""
    import math
    out = []
    for i in range(layer.n_out):
        acc = 0
        if layer.bias is not None:
            acc = math.floor(float(layer.bias[i]) * 2.0 ** fo + 0.5)
            acc = max(-(1 << (acc_bits - 1)), min((1 << (acc_bits - 1)) - 1, acc))
        terms = [(int(a_q[j]), int(layer.codes[i, j])) for j in range(layer.n_in)]
        if layer.bias_codes is not None:
            terms.append((1 << fa, int(layer.bias_codes[i])))
        for a, c in terms:
            if a and c:
                p = a * int(cb_q[c])
                acc += p if shift == 0 else (p + (1 << (shift - 1))) >> shift
        acc = ((acc + (1 << (acc_bits - 1))) % (1 << acc_bits)) - (1 << (acc_bits - 1))
        y = max(-(1 << (act_bits - 1)), min((1 << (act_bits - 1)) - 1, acc))
        out.append(max(y, 0) if relu else y)
    return out


@settings(max_examples=40, deadline=None)
@given(n_out=st.integers(1, 40), n_in=st.integers(1, 40), pes=st.integers(1, 9), depth=st.integers(1, 5),
       density=st.floats(0, 1), act_density=st.floats(0, 1), seed=st.integers(0, 2**32 - 1),
       bias=st.sampled_from([None, "coded", "full"]), relu=st.booleans())
def test_model_equals_cycle_stepping_reference(n_out, n_in, pes, depth, density, act_density, seed, bias, relu):
    rng = np.random.default_rng(seed)
    layer = random_layer(rng, n_out, n_in, density, act_density, bias)
    r = simulate(layer, config=EIEConfig(pes=pes, queue_depth=depth), relu=relu)
    a_q = quantize(layer.activations, r.plan.fa, 16)
    cb_q = quantize(layer.codebook, r.plan.fw, 16)
    acc_init = None if layer.bias is None else quantize(layer.bias, r.plan.fo, 16).tolist()
    cycles, out, stats = step_simulate(layer.codes.tolist(), None if layer.bias_codes is None else
                                       layer.bias_codes.tolist(), a_q.tolist(), cb_q.tolist(), r.plan.shift,
                                       pes, depth, fa=r.plan.fa, relu=relu, acc_init=acc_init)
    assert r.cycles == cycles
    assert r.outputs_q.tolist() == out
    for key in ("line_reads", "bypasses", "entries", "padding", "empty_columns", "pops"):
        assert r.pe[key].tolist() == stats[key], key
    assert r.totals["stall_cycles"] == stats["stall_cycles"]
    assert r.totals["broadcasts"] == stats["broadcasts"]


def test_outputs_equal_plain_integer_reference(rng):
    layer = random_layer(rng, 50, 70, 0.3, 0.5)
    for pes in (1, 4, 16):
        r = simulate(layer, config=EIEConfig(pes=pes))
        a_q = quantize(layer.activations, r.plan.fa, 16)
        cb_q = quantize(layer.codebook, r.plan.fw, 16)
        assert r.outputs_q.tolist() == integer_reference(layer, a_q, cb_q, r.plan.shift, fa=r.plan.fa)
        assert r.reference["outputs_match_reference"]


def test_wide_accumulator_and_row_passes(rng):
    layer = random_layer(rng, 45, 30, 0.4, 0.6)
    cfg = EIEConfig(pes=4, regfile_entries=3, acc_bits=24)           # 12 rows per pass: 4 passes
    r = simulate(layer, config=cfg)
    assert r.totals["passes"] == 4
    a_q = quantize(layer.activations, r.plan.fa, 16)
    cb_q = quantize(layer.codebook, r.plan.fw, 16)
    assert r.outputs_q.tolist() == integer_reference(layer, a_q, cb_q, r.plan.shift, acc_bits=24, fa=r.plan.fa)
    # each pass re-broadcasts every non-zero input plus the bias column
    assert r.totals["broadcasts"] == 4 * (np.count_nonzero(a_q) + 1)


def test_invariants(rng):
    layer = random_layer(rng, 64, 96, 0.2, 0.4)
    cfg = EIEConfig(pes=8)
    r = simulate(layer, config=cfg)
    nz = r.totals["nonzero_inputs"]
    a_q = quantize(layer.activations, r.plan.fa, 16)
    cols = np.nonzero(a_q)[0]
    # useful MACs = non-zero weights in the columns of non-zero activations (+ the bias)
    expect = int(np.count_nonzero(layer.codes[:, cols])) + int(np.count_nonzero(layer.bias_codes))
    assert r.useful_macs == expect
    assert r.events["ptr_read"] == (nz + 1) * cfg.pes
    assert r.load_efficiency == pytest.approx(expect / (r.cycles * cfg.pes))
    # every PE cycle is accounted for exactly once
    assert np.all(r.pe["entries"] + r.pe["empty_columns"] + r.pe["starved"] == r.cycles)


def test_all_zero_input_still_adds_bias(rng):
    layer = random_layer(rng, 10, 20, 0.5, 0.0)
    layer = CompressedLayer(layer.codebook, layer.codes, layer.bias_codes, np.zeros(20))
    r = simulate(layer, config=EIEConfig(pes=4), fo=8)
    assert r.totals["broadcasts"] == 1
    fw = r.plan.fw
    cb_q = quantize(layer.codebook, fw, 16)
    expect = [(((1 << r.plan.fa) * int(cb_q[b])) + (1 << (r.plan.shift - 1))) >> r.plan.shift if b else 0
              for b in layer.bias_codes]
    assert r.outputs_q.tolist() == expect
    # scanner: 5 empty groups (20 inputs / 4 PEs) each cost a cycle, then the bias group
    assert r.timings == [] and r.totals["groups_scanned"] == 6


def test_queue_depth_one_runs_and_deeper_queue_never_slower(rng):
    layer = random_layer(rng, 128, 256, 0.1, 0.4)
    cycles = [simulate(layer, config=EIEConfig(pes=16, queue_depth=d)).cycles for d in (1, 2, 4, 8, 32)]
    assert all(a >= b for a, b in zip(cycles, cycles[1:], strict=False))
    assert cycles[0] > cycles[-1]


def test_stack_two_layers_matches_chained_integer_reference(rng):
    l1 = random_layer(rng, 24, 30, 0.4, 0.6)
    l2 = random_layer(rng, 10, 24, 0.4, 1.0)
    cfg = EIEConfig(pes=4)
    r1, r2 = simulate_stack([l1, l2], l1.activations, cfg)
    assert r2.plan.fa == r1.plan.fo
    a_q = quantize(l1.activations, r1.plan.fa, 16)
    y1 = integer_reference(l1, a_q, quantize(l1.codebook, r1.plan.fw, 16), r1.plan.shift, fa=r1.plan.fa, relu=True)
    assert r1.outputs_q.tolist() == y1
    y2 = integer_reference(l2, np.array(y1), quantize(l2.codebook, r2.plan.fw, 16), r2.plan.shift, fa=r2.plan.fa)
    assert r2.outputs_q.tolist() == y2
    # the second layer broadcasts exactly the non-zeros of the first layer's ReLU output
    assert r2.totals["nonzero_inputs"] == sum(1 for v in y1 if v)


def test_fc8_reproduces_the_authors_simulator(fc8_path):
    # The authors' C++ simulator on this vector: 7,926 cycles with an 8-slot ring (7 usable),
    # 453,748 useful MACs, pointer reads (1,759 + 1) x 64, no padding at 64 PEs
    # (../shared/data/alexnet-fc8/README.md).
    layer = load_layer(fc8_path)
    r = simulate(layer, config=EIEConfig(pes=64, queue_depth=7))
    assert r.cycles == 7926
    assert r.useful_macs == 453748
    assert r.events["ptr_read"] == 1760 * 64
    assert r.totals["padding_entries"] == 0
    assert r.reference["outputs_match_reference"]
    expected = np.load(fc8_path, allow_pickle=False)["expected_output"]
    assert np.max(np.abs(r.outputs - expected)) < 0.05
    # the paper's Table IV: 9.9 us at 800 MHz; our 8-entry queue is within 1 % (7,896 cycles)
    r8 = simulate(layer, config=EIEConfig(pes=64, queue_depth=8))
    assert r8.cycles == 7896
    assert np.array_equal(r8.outputs_q, r.outputs_q)


def test_simulate_fixed_equals_simulate_on_integer_inputs(rng):
    from eie.compile import compile_layer
    from eie.model import simulate_fixed
    layer = random_layer(rng, 30, 40, 0.3, 0.5)
    cfg = EIEConfig(pes=4)
    r = simulate(layer, config=cfg)
    a_q = quantize(layer.activations, r.plan.fa, 16)
    rf = simulate_fixed(compile_layer(layer, cfg), a_q, r.plan)
    assert rf.cycles == r.cycles and np.array_equal(rf.outputs_q, r.outputs_q)
    assert rf.events == r.events


def test_dense_layer_file_is_compressed_then_simulated(tmp_path, capsys):
    from eie.cli import main
    rng = np.random.default_rng(4)
    p = tmp_path / "dense.npz"
    np.savez(p, weight=rng.normal(size=(16, 24)) * (rng.random((16, 24)) < 0.5), activations=rng.random(24))
    assert main(["simulate", str(p), "--pes", "4", "--json", str(tmp_path / "o.json")]) == 0
    import json
    rec = json.loads((tmp_path / "o.json").read_text())
    w = np.load(p)["weight"]
    assert rec["weight_nonzeros"] == np.count_nonzero(w)       # density None keeps the existing non-zeros
    assert rec["outputs_match_reference"]


def test_an_accumulator_that_wraps_is_a_mismatch_not_a_saturation():
    """128 weights of 1.0 times inputs of 1000: the exact sum 128,000 does not fit 16 bits at
    any fo >= 0, so the accumulator wraps (128,000 - 2 x 65,536 = -3,072) and the write-out is
    that value, not the saturated 32,767; the check counts it as wrapped and a mismatch.  With
    32-bit accumulators the sum fits, the write-out saturates honestly and the check passes."""
    layer = CompressedLayer(np.array([0.0, 1.0]), np.ones((4, 128), np.int64), None, np.full(128, 1000.0))
    r = simulate(layer, config=EIEConfig(pes=4))
    assert r.plan.fo == 0 and list(r.outputs_q) == [128_000 - 2 * 65_536] * 4
    ref = r.reference
    assert ref["wrapped_outputs"] == 4 and ref["mismatches"] == 4 and not ref["outputs_match_reference"]
    r32 = simulate(layer, config=EIEConfig(pes=4, acc_bits=32))
    assert list(r32.outputs_q) == [32_767] * 4
    assert r32.reference["wrapped_outputs"] == 0 and r32.reference["outputs_match_reference"]


def test_a_clamped_codebook_value_voids_the_bound_of_the_rows_that_use_it():
    """Codebook [0, 1e10, 0.5] in 16 bits: fw = 0 and 1e10 clamps to 32,767, far outside the
    error bound's premise (its bound, ~1e10 x 2^-(fa+1), would pass anything).  Row 0 has the
    clamped weight at input 0, row 1 the weight 0.5 at input 1: with input 0 zero, row 0 does
    not use it and both rows match; with input 0 non-zero, row 0 is a mismatch."""
    layer = CompressedLayer(np.array([0.0, 1e10, 0.5]), np.array([[1, 0], [0, 2]]), None, np.array([0.0, 1.0]))
    cfg = EIEConfig(pes=2, acc_bits=32)
    r = simulate(layer, config=cfg)
    assert r.plan.fw == 0 and r.reference["saturated_codebook"] == 1
    assert r.reference["outputs_match_reference"] and r.reference["max_abs_codebook"] == 1e10
    r1 = simulate(layer, np.array([1e-3, 1.0]), config=cfg)
    assert r1.reference["saturated_codebook"] == 1 and r1.reference["mismatches"] == 1
    assert not r1.reference["outputs_match_reference"]
    # an input that quantises to 0 (1e-6 < 2^-15 at fa = 14) is not broadcast: row 0 does not use it
    r2 = simulate(layer, np.array([1e-6, 1.0]), config=cfg)
    assert r2.plan.fa == 14 and r2.reference["mismatches"] == 0 and r2.reference["outputs_match_reference"]


def test_a_stack_whose_middle_outputs_are_small_caps_their_fraction_bits():
    """Layer 1's outputs reach only 0.2 (or are all 0 for a zero input), so its own choice of
    fo would be 16 or more; as the next layer's fa it is capped at act_bits - 2 = 14 [arch §8]
    and the stack runs: the result is numpy's W2 relu(W1 x) within the second layer's
    quantisation (2^-14 steps on its input)."""
    cb = np.array([0.0, 0.1, -0.1])
    l1 = CompressedLayer(cb, np.array([[1, 2, 1], [2, 1, 1]]))
    l2 = CompressedLayer(cb, np.array([[1, 1]]))
    x = np.array([1.0, 0.5, 1.0])
    r1, r2 = simulate_stack([l1, l2], x, EIEConfig(pes=2))
    assert r1.plan.fo == 14 and r2.plan.fa == 14
    ref = cb[l2.codes] @ np.maximum(cb[l1.codes] @ x, 0)
    assert abs(r2.outputs[0] - ref[0]) < 1e-3 and r2.reference["outputs_match_reference"]
    z1, z2 = simulate_stack([l1, l2], np.zeros(3), EIEConfig(pes=2))
    assert z1.plan.fo == 14 and list(z2.outputs_q) == [0]


def test_an_output_using_a_saturated_input_is_a_mismatch():
    """x = 1e30 clamps to 32767 at fa = 0; the bound's |x|·εw term (~2.5e29) had passed the
    outputs that use it although they are 5e29 off the float result."""
    cb = np.array([0.0, 0.5, -0.25, 1.0])
    codes = np.array([[1, 1, 1], [0, 1, 1], [2, 0, 3]])
    x = np.array([1e30, 1.0, 0.0])
    r = simulate(CompressedLayer(cb, codes), x, config=EIEConfig(pes=2))
    ref = r.reference
    assert ref["saturated_inputs"] == 1
    assert ref["mismatches"] == 2                          # rows 0 and 2 use x_0; row 1 does not
    assert not ref["outputs_match_reference"]
    y = cb[codes] @ x
    assert abs(r.outputs[1] - y[1]) <= 2.0 ** -(r.plan.fo + 1) * 3   # row 1 within its bound (fo = 0 here)
    r = simulate(CompressedLayer(cb, codes), np.array([3.0, 1.0, 0.0]), config=EIEConfig(pes=2))
    assert r.reference["saturated_inputs"] == 0 and r.reference["outputs_match_reference"]


@pytest.mark.parametrize("kw, message", [
    ({"fa": -1}, r"fa must be an integer in \[0, 40\] \(fraction bits\), not -1"),
    ({"fo": -3}, r"fo must be an integer in \[0, 40\] \(fraction bits\), not -3"),
    ({"fa": 2.5}, r"fa must be an integer in \[0, 40\] \(fraction bits\), not 2.5"),
    ({"fo": True}, r"fo must be an integer in \[0, 40\] \(fraction bits\), not True"),
])
def test_forced_fraction_bits_are_checked(kw, message):
    lay = CompressedLayer(np.array([0.0, 0.5, -0.25, 1.0]), np.ones((3, 3), int))
    with pytest.raises(InputError, match=message):
        simulate(lay, np.ones(3), config=EIEConfig(pes=2), **kw)
