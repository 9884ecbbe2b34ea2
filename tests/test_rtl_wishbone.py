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
