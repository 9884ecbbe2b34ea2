"""The model's fast paths: the CCU recurrence evaluated D broadcasts at a time, ``retime``
(a result moved to another queue depth, line width, clock or SRAM size without computing
the values again) and the direct CSR build of the float reference.  Each is held to the
slow, plain definition it replaces."""


import numpy as np
import pytest
import scipy.sparse as sp
from cycle_ref import step_simulate
from hypothesis import given, settings
from hypothesis import strategies as st
from test_model import random_layer

from eie.compile import compile_layer
from eie.config import EIEConfig
from eie.errors import InputError
from eie.fixed import quantize
from eie.layer import CompressedLayer, load_layer
from eie.model import (
    CCU_BLOCK_MIN_DEPTH,
    RETIME_FIELDS,
    ccu_broadcast_and_queue_pop,
    retime,
    simulate,
    simulate_stack,
)
from eie.reference import sparse_weight


def stepped(gaps, slots, d):
    """The recurrence of [arch §5.1-§5.3] one broadcast at a time, in plain Python."""
    n, k1 = slots.shape
    found, bcast, pop = [], [], [[0] * k1 for _ in range(n)]
    b = -1
    for k in range(k1):
        f = b + int(gaps[k])
        found.append(f)
        if k >= d:
            f = max(f, 1 + max(pop[p][k - d] for p in range(n)))
        b = f
        bcast.append(b)
        for p in range(n):
            pop[p][k] = b + 1 if k == 0 else max(b + 1, pop[p][k - 1] + int(slots[p, k - 1]))
    return found, bcast, pop


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 12), k1=st.integers(1, 80), d=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_ccu_blocks_equal_the_stepped_recurrence(n, k1, d, seed):
    rng = np.random.default_rng(seed)
    slots = np.maximum(rng.integers(0, 9, (n, k1)), 1)
    gaps = rng.integers(1, 6, k1)
    found, bcast, pop = ccu_broadcast_and_queue_pop(gaps, slots, d)
    f2, b2, p2 = stepped(gaps, slots, d)
    assert found.tolist() == f2 and bcast.tolist() == b2 and pop.tolist() == p2


@settings(max_examples=30, deadline=None)
@given(n_out=st.integers(1, 40), n_in=st.integers(1, 40), pes=st.integers(1, 9),
       depth=st.integers(CCU_BLOCK_MIN_DEPTH, CCU_BLOCK_MIN_DEPTH + 6), density=st.floats(0, 1),
       act_density=st.floats(0, 1), seed=st.integers(0, 2**32 - 1))
def test_block_path_equals_cycle_stepping_reference(n_out, n_in, pes, depth, density, act_density, seed):
    """test_model's cycle-stepping comparison at the queue depths that take the block path."""
    rng = np.random.default_rng(seed)
    layer = random_layer(rng, n_out, n_in, density, act_density)
    r = simulate(layer, config=EIEConfig(pes=pes, queue_depth=depth))
    a_q = quantize(layer.activations, r.plan.fa, 16)
    cb_q = quantize(layer.codebook, r.plan.fw, 16)
    cycles, out, stats = step_simulate(layer.codes.tolist(), layer.bias_codes.tolist(), a_q.tolist(), cb_q.tolist(),
                                       r.plan.shift, pes, depth, fa=r.plan.fa)
    assert r.cycles == cycles
    assert r.outputs_q.tolist() == out
    for key in ("line_reads", "bypasses", "entries", "padding", "empty_columns", "pops"):
        assert r.pe[key].tolist() == stats[key], key
    assert r.totals["stall_cycles"] == stats["stall_cycles"]


def same_result(a, b):
    assert a.config == b.config and a.cycles == b.cycles
    assert np.array_equal(a.outputs_q, b.outputs_q)
    assert {k: v.tolist() for k, v in a.pe.items()} == {k: v.tolist() for k, v in b.pe.items()}
    assert a.totals == b.totals and a.events == b.events
    assert a.capacity_problems == b.capacity_problems
    assert [t.cycles for t in a.timings] == [t.cycles for t in b.timings]


@settings(max_examples=40, deadline=None)
@given(n_out=st.integers(1, 60), n_in=st.integers(1, 50), pes=st.integers(1, 9), regfile=st.sampled_from([2, 64]),
       depths=st.tuples(st.integers(1, 20), st.integers(1, 20)), lines=st.tuples(st.sampled_from([8, 64, 256]),
                                                                                 st.sampled_from([8, 64, 256])),
       density=st.floats(0, 1), act_density=st.floats(0, 1), seed=st.integers(0, 2**32 - 1))
def test_retime_equals_simulate(n_out, n_in, pes, regfile, depths, lines, density, act_density, seed):
    rng = np.random.default_rng(seed)
    layer = random_layer(rng, n_out, n_in, density, act_density)
    first = EIEConfig(pes=pes, regfile_entries=regfile, queue_depth=depths[0], line_bits=lines[0])
    second = first.replace(queue_depth=depths[1], line_bits=lines[1], clock_mhz=250.0, spmat_kb=0.25, ptr_kb=0.5,
                           lnzd_fanin=2)
    r = simulate(layer, config=first, keep_timing=True, keep_work=True)
    fresh = simulate(compile_layer(layer, second, check=False), keep_timing=True, source=layer)
    moved = retime(r, second, keep_timing=True)
    same_result(moved, fresh)
    assert moved.reference == fresh.reference
    # and back: the first result is untouched
    same_result(retime(moved, first, keep_timing=True), r)


def test_retime_after_a_stack_and_its_errors(rng):
    l1 = random_layer(rng, 24, 30, 0.4, 0.6)
    l2 = random_layer(rng, 10, 24, 0.4, 1.0)
    cfg = EIEConfig(pes=4)
    _, r2 = simulate_stack([l1, l2], l1.activations, cfg, keep_work=True)
    deeper = cfg.replace(queue_depth=2)
    _, fresh = simulate_stack([l1, l2], l1.activations, deeper)
    same_result(retime(r2, deeper), fresh)
    with pytest.raises(InputError, match=r"retime cannot change pes \(4 -> 8\): it changes the memory images"):
        retime(r2, cfg.replace(pes=8))
    with pytest.raises(InputError, match="retime cannot change act_bits"):
        retime(r2, cfg.replace(act_bits=12))
    with pytest.raises(InputError, match="retime needs a SimResult of simulate or simulate_stack run with keep_work"):
        retime(simulate_stack([l1, l2], l1.activations, cfg)[1], cfg)         # kept nothing: the default
    # what retime may change is exactly what neither the images nor the values depend on
    assert set(RETIME_FIELDS) == {"queue_depth", "clock_mhz", "line_bits", "lnzd_fanin", "spmat_kb", "ptr_kb",
                                  "ptr_bits", "act_sram_kb"}


def test_fc8_retimed_to_the_authors_queue(fc8_path):
    # The authors' simulator: 7,926 cycles with their 8-slot ring (our queue_depth 7); 7,896 at 8.
    layer = load_layer(fc8_path)
    r8 = simulate(layer, config=EIEConfig(queue_depth=8), check_reference=False, keep_work=True)
    assert r8.cycles == 7896
    r7 = retime(r8, EIEConfig(queue_depth=7))
    assert r7.cycles == 7926 and r7.useful_macs == 453748


@settings(max_examples=60, deadline=None)
@given(n_out=st.integers(1, 30), n_in=st.integers(1, 30), density=st.floats(0, 1), zero_code=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_sparse_weight_equals_scipy_from_the_dense_codes(n_out, n_in, density, zero_code, seed):
    rng = np.random.default_rng(seed)
    codes = (rng.random((n_out, n_in)) < density) * rng.integers(1, 16, (n_out, n_in))
    cb = np.concatenate([[0.0], rng.normal(size=15)])
    if zero_code:
        cb[3] = 0.0              # a shared weight that is 0.0 is not a weight
    layer = CompressedLayer(cb, codes)
    want = sp.csr_matrix(layer.codes)
    want.data = cb[want.data]
    want.eliminate_zeros()
    got = sparse_weight(layer)
    assert got.shape == want.shape and got.has_canonical_format
    assert got.indptr.tolist() == want.indptr.tolist() and got.indices.tolist() == want.indices.tolist()
    assert got.data.tolist() == want.data.tolist()


def test_retime_keeps_a_full_precision_bias():
    """A layer with a full-precision bias (accumulators preloaded) retimed to another queue
    depth equals a fresh simulation there: outputs, cycles, the preload count and its events."""
    from eie.compress import synthetic_layer
    lay = synthetic_layer(70, 90, 0.3, seed=5, act_density=0.4, bias_mode="full")
    assert lay.bias is not None and lay.bias_codes is None
    cfg = EIEConfig(pes=8, queue_depth=4)
    first = simulate(lay, config=cfg, keep_work=True)
    other = cfg.replace(queue_depth=2, clock_mhz=400.0)
    moved, fresh = retime(first, other), simulate(lay, config=other)
    np.testing.assert_array_equal(moved.outputs_q, fresh.outputs_q)
    assert moved.cycles == fresh.cycles and moved.events == fresh.events
    assert moved.totals["preloaded_accumulators"] == fresh.totals["preloaded_accumulators"] == 70
