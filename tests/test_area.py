"""Area model: Table II reproduced at the design point, and each scaling law by hand.

The coefficients are worked out here from the published numbers (EIE Table II, Sec V) with
numpy's solver, not read back from eie.area."""

import math

import numpy as np
import pytest

from eie.area import AreaModel, arith_cells, calibrate_area, estimate_area, queue_entry_bits, sram_um2
from eie.config import EIEConfig

# EIE Table II, one PE (µm²)
SPMAT, PTR, ACT, ARITH, QUEUE, FILLER, TOTAL = 469_412, 121_849, 18_934, 3_110, 758, 23_961, 638_024
MEMORY = 594_786                     # Table II by type: memory
SPMAT_BITS, PTR_BANK_BITS, ACT_BITS = 128 * 8192, 16 * 8192, 2 * 8192


def fitted_sram():
    """a (per bit) and b (per sqrt(bit x width)) from SpmatRead (64 wide) and PtrRead (2 banks, 16 wide)."""
    m = np.array([[SPMAT_BITS, math.sqrt(SPMAT_BITS * 64)],
                  [2 * PTR_BANK_BITS, 2 * math.sqrt(PTR_BANK_BITS * 16)]])
    return np.linalg.solve(m, [SPMAT, PTR])


def test_design_point_is_table2():
    r = estimate_area(EIEConfig())
    for name, um2 in (("spmat_read", SPMAT), ("ptr_read", PTR), ("act_rw", ACT), ("arith", ARITH),
                      ("act_queue", QUEUE), ("filler", FILLER)):
        assert getattr(r, name) == pytest.approx(um2, rel=1e-9), name
    assert r.pe_um2 == pytest.approx(TOTAL, rel=1e-9)                # 0.638 mm² per PE
    # the chip: 64 PEs + the LNZD tree (21 nodes); the paper: 40.8 mm²
    assert r.chip_mm2 == pytest.approx(64 * TOTAL * 1e-6 + r.lnzd_um2 * 1e-6, rel=1e-12)
    assert round(r.chip_mm2, 1) == 40.8
    assert 0 < r.lnzd_um2 * 1e-6 < 0.016          # what 40.8 leaves beside 64 x 0.638024 = 40.834
    assert sum(r.chip_by_component_mm2.values()) == pytest.approx(r.chip_mm2, rel=1e-12)
    # SRAM: Table II's memory is 93.2 % of a PE; our SRAM laws fold the memory modules' own
    # logic in, 94.1 %
    assert round(MEMORY / TOTAL, 3) == 0.932
    assert r.sram_share == pytest.approx(0.941, abs=1e-3)


def test_sram_coefficients_by_hand():
    a, b = fitted_sram()
    m = calibrate_area()
    assert (m.sram_bit_um2, m.sram_periphery_um2) == pytest.approx((a, b), rel=1e-9)
    assert a == pytest.approx(0.4063, abs=1e-4) and b == pytest.approx(5.300, abs=1e-3)
    # ActRW: the 2 KiB activation SRAM (16 wide) by the same law, the rest over 2 x 64 x 16 bits
    act_sram = a * ACT_BITS + b * math.sqrt(ACT_BITS * 16)
    assert m.regfile_bit_um2 == pytest.approx((ACT - act_sram) / 2048, rel=1e-9)
    assert m.cell_um2 == pytest.approx(ARITH / (256 + 32 + 80 + 256 + 10), rel=1e-12)
    assert m.queue_bit_um2 == pytest.approx(QUEUE / (8 * 33), rel=1e-12)
    assert m.filler_fraction == pytest.approx(FILLER / (TOTAL - FILLER), rel=1e-12)


def test_sram_scales_with_capacity_and_width():
    a, b = fitted_sram()
    big = estimate_area(EIEConfig(spmat_kb=256)).spmat_read
    assert big == pytest.approx(a * 2 * SPMAT_BITS + b * math.sqrt(2 * SPMAT_BITS * 64), rel=1e-9)
    wide = estimate_area(EIEConfig(line_bits=256)).spmat_read
    assert wide == pytest.approx(a * SPMAT_BITS + b * math.sqrt(SPMAT_BITS * 256), rel=1e-9)
    # a doubled capacity costs less than double (periphery ~ sqrt), a wider read costs more
    assert SPMAT < big < 2 * SPMAT and wide > SPMAT
    ptr = estimate_area(EIEConfig(ptr_kb=8, ptr_bits=32)).ptr_read
    assert ptr == pytest.approx(2 * (a * 4 * 8192 + b * math.sqrt(4 * 8192 * 32)), rel=1e-9)
    model = AreaModel(1.0, 2.0, 0, 0, 0, 0)
    assert sram_um2(100, 4, model) == pytest.approx(100 + 2 * 20)


def test_arithmetic_queue_filler_and_lnzd_laws():
    m = calibrate_area()
    ref = estimate_area(EIEConfig())
    # multiplier ~ act_bits x codebook_bits, adders and registers ~ width, codebook ~ entries
    narrow = EIEConfig(act_bits=8, codebook_bits=8, acc_bits=8)
    cells = arith_cells(narrow)
    assert cells == {"multiplier": 64, "adder_shifter": 16, "pipeline_registers": 40, "codebook": 128,
                     "address": 10}
    assert estimate_area(narrow).arith == pytest.approx(m.cell_um2 * 258, rel=1e-12)
    assert arith_cells(EIEConfig(weight_bits=2, line_bits=48))["codebook"] == 4 * 16
    # the queue is linear in its depth
    assert estimate_area(EIEConfig(queue_depth=16)).act_queue == pytest.approx(2 * QUEUE, rel=1e-12)
    assert estimate_area(EIEConfig(queue_depth=1)).act_queue == pytest.approx(QUEUE / 8, rel=1e-12)
    # an index wide enough for every column the activation SRAMs hold (65,536 + the bias)
    assert queue_entry_bits(EIEConfig()) == 16 + 17
    assert queue_entry_bits(EIEConfig(pes=4)) == 16 + 13
    # filler: a constant fraction of the placed cells
    r = estimate_area(EIEConfig(spmat_kb=64, queue_depth=32))
    placed = r.pe_um2 - r.filler
    assert r.filler / placed == pytest.approx(FILLER / (TOTAL - FILLER), rel=1e-12)
    # the LNZD tree: nodes x fan-in x (act_bits + 1) cells; 16 + 4 + 1 = 21 nodes of fan-in 4
    # for 64 PEs, 16 + 1 = 17 of fan-in 16 for 256 PEs
    assert ref.lnzd_um2 == pytest.approx(21 * 4 * 17 * m.cell_um2, rel=1e-12)
    wide_tree = estimate_area(EIEConfig(pes=256, lnzd_fanin=16))
    assert wide_tree.lnzd_um2 == pytest.approx(17 * 16 * 17 * m.cell_um2, rel=1e-12)
    # PEs multiply the chip
    assert estimate_area(EIEConfig(pes=128)).chip_mm2 == pytest.approx(
        128 * estimate_area(EIEConfig(pes=128)).pe_um2 * 1e-6 + estimate_area(EIEConfig(pes=128)).lnzd_um2 * 1e-6)


def test_report_dict_and_table():
    r = estimate_area(EIEConfig())
    d = r.to_dict()
    assert d["pe_um2"] == pytest.approx(TOTAL) and d["pes"] == 64
    assert set(d["chip_by_component_mm2"]) == {"spmat_read", "ptr_read", "act_rw", "arith", "act_queue", "filler",
                                              "ccu"}
    text = r.format_table()
    assert "469,412" in text and "40.84 mm2" in text and "SRAM 94.1%" in text
