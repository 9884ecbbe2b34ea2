"""The Wishbone slave (eie.hdl.wishbone.EIEWishbone) under cocotb, driven by our cocotb
Wishbone master (eie/flow/tb/wishbone_master.py), classic and pipelined, against the model:
outputs bit for bit, the pass cycles (the cycles register and the done pin), every counter.
The same layers as the parallel-port co-simulation (tests/test_rtl_cosim.py); the Amaranth
simulator runs the same driver protocol in tests/test_hdl_wishbone.py."""

import pytest
from test_rtl_cosim import CFG, HW, LAYERS, SIMS, _assert_matches, _case

from eie.flow import verify


@pytest.mark.parametrize("bus", ["wishbone", "wishbone-pipelined"])
def test_wishbone_matches_model(bus):
    sim = SIMS[0]
    cases = [_case(CFG, HW, *spec) for spec in LAYERS]
    layers = [c for c, _ in cases]
    layers[1] = dict(layers[1], resident=True)
    layers[3] = dict(layers[3], chain=True)
    b = verify.build(HW, None if sim == "none" else sim, bus=bus)
    out = verify.run(b, layers, max_cycles=20_000, name=bus)
    for res, (_, ref) in zip(out.results, cases, strict=True):
        _assert_matches(res, ref)


def test_wide_accumulators_take_a_negative_bias_over_the_word_bus():
    """acc_bits > 32: a negative full-precision bias preload has bits above word 0, so it goes
    out as all its bus words (word 0 alone had reached the array zero-extended: output 32767
    where the model says 6817).  Outputs are held to numpy before the RTL to the model."""
    import numpy as np
    from rtl_cases import Case, job

    from eie.compress import synthetic_layer
    from eie.config import EIEConfig
    from eie.hdl.params import HWConfig
    from eie.model import simulate
    cfg = EIEConfig(pes=3, queue_depth=1, lnzd_fanin=2, acc_bits=40, line_bits=96, codebook_bits=24,
                    regfile_entries=4)
    hw = HWConfig(cfg, spmat_lines=32, ptr_words=32, act_depth=32)
    layer = synthetic_layer(cfg.rows_per_pass + 2, 2 * cfg.pes + 4, 0.5, bits=cfg.weight_bits, seed=32,
                            act_density=0.7, bias_mode="full")
    assert (layer.bias < 0).any()                       # negative preloads: bits above 31 at acc_bits 40
    ref_float = layer.codebook[layer.codes] @ layer.activations + layer.bias
    model = simulate(layer, layer.activations, config=cfg)
    assert model.reference["outputs_match_reference"] and np.allclose(model.outputs, ref_float, atol=0.05)
    case, ref = job(hw, Case("negbias", layer, layer.activations, False))
    sim = SIMS[0]
    b = verify.build(hw, None if sim == "none" else sim, bus="wishbone")
    out = verify.run(b, [case], max_cycles=20_000, name="negbias")
    _assert_matches(out.results[0], ref)
