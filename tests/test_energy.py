"""Energy model: Table II calibration, pricing of event counts, TOML tables, baselines.

Every expected number here is worked out by hand from the published figures (EIE Table I
and Table II, Horowitz 45 nm), never by calling the code under test a second time.
"""

import json
import math

import pytest

from eie.config import EIEConfig
from eie.energy import (
    CALIBRATIONS,
    EVENTS,
    FC8_RUN,
    MAX_ENERGY,
    EnergyTable,
    calibrate_fc8,
    calibrate_rates,
    calibrate_table2,
    dram_baselines,
    estimate,
    steady_state_events,
)
from eie.errors import ConfigError, InputError

# EIE Table II, one PE at 800 MHz (mW).  1 mW at 800 MHz is 1.25 pJ per cycle.
SPMAT_MW, PTR_MW, ARITH_MW, ACT_MW, QUEUE_MW = 4.955, 1.807, 1.162, 1.122, 0.112
CYCLE_NS = 1.25

# A table with round numbers, independent of the calibration.
SIMPLE = dict(spmat_line_read=10.0, ptr_read=2.0, codebook_read=0.5, mac=1.0, dst_rf_read=0.25,
              dst_rf_write=0.25, src_rf_read=0.125, queue_push=0.1, queue_pop=0.1, broadcast=3.0,
              lnzd_search=0.5, static_mw_per_pe=2.0)


def write(tmp_path, text, name="table.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


# The real FC8 layer on the design point (64 PEs, queue depth 8): 7,896 cycles x 64 PEs =
# 505,344 PE-cycles with 100,900 line reads, 112,640 pointer reads, 453,748 MACs (no padding),
# 452,614 destination reads (1,134 bypasses), 4,096 source reads.
FC8_PE_CYCLES = 7896 * 64
FC8_LINE_PJ = 4.955 * 1.25 * FC8_PE_CYCLES / 100900          # 31.02 pJ

# ---- calibration against Table II ----------------------------------------------------------

def test_steady_state_power_per_module_is_table2():
    t = EnergyTable.default(calibration="steady")
    # power (mW) = energy per event (pJ) x events per cycle / cycle time (ns)
    # SpmatRead: one 64-bit line of 8 entries every 8 cycles.
    assert t.spmat_line_read / 8 / CYCLE_NS == pytest.approx(SPMAT_MW, rel=1e-9)
    # PtrRead: one pointer pair per column, a column every 4 cycles.
    assert t.ptr_read / 4 / CYCLE_NS == pytest.approx(PTR_MW, rel=1e-9)
    # ArithmUnit: one MAC and one codebook read per cycle.
    assert (t.mac + t.codebook_read) / CYCLE_NS == pytest.approx(ARITH_MW, rel=1e-9)
    # ActRW: a destination read and write per cycle, a source read per column.
    assert (t.dst_rf_read + t.dst_rf_write + t.src_rf_read / 4) / CYCLE_NS == pytest.approx(ACT_MW, rel=1e-9)
    # Activation queue: a push and a pop per column.
    assert (t.queue_push + t.queue_pop) / 4 / CYCLE_NS == pytest.approx(QUEUE_MW, rel=1e-9)


def test_calibrated_energies_by_hand():
    t = EnergyTable.default(calibration="steady")
    assert t.spmat_line_read == pytest.approx(4.955 * 1.25 * 8, rel=1e-12)    # 49.55 pJ
    assert t.ptr_read == pytest.approx(1.807 * 1.25 * 4, rel=1e-12)           # 9.035 pJ
    act = 1.122 * 1.25 / 2.25                                                  # 0.6233 pJ
    assert (t.dst_rf_read, t.dst_rf_write, t.src_rf_read) == pytest.approx((act, act, act), rel=1e-12)
    assert (t.queue_push, t.queue_pop) == pytest.approx((0.28, 0.28), rel=1e-12)
    # Horowitz split of ArithmUnit: 16-bit fixed MAC (3.7/6.2 + 0.05) vs 16x16b codebook read
    # (10 pJ x 16/64 x sqrt(32 B / 8 KB) = 0.15625 pJ).
    mac_ref, cb_ref = 3.7 / 6.2 + 0.05, 0.15625
    assert t.mac == pytest.approx(1.4525 * mac_ref / (mac_ref + cb_ref), rel=1e-12)
    assert t.codebook_read == pytest.approx(1.4525 * cb_ref / (mac_ref + cb_ref), rel=1e-12)
    assert t.broadcast == t.lnzd_search == t.static_mw_per_pe == 0.0


def test_shipped_toml_agrees_with_calibration():
    t = EnergyTable.default(calibration="steady")
    for event, pj in calibrate_table2(EIEConfig()).items():
        assert getattr(t, event) == pytest.approx(pj, rel=1e-12, abs=0), event


def test_calibration_follows_entries_per_column():
    cal = calibrate_table2(EIEConfig(), entries_per_column=5.0)
    assert cal["ptr_read"] == pytest.approx(1.807 * 1.25 * 5)
    assert cal["src_rf_read"] == pytest.approx(1.122 * 1.25 / 2.2)
    assert cal["queue_pop"] == pytest.approx(0.112 * 1.25 * 5 / 2)
    with pytest.raises(ConfigError, match=r"entries_per_column must be a number >= 1, not 0"):
        calibrate_table2(EIEConfig(), entries_per_column=0)


def test_calibration_with_partly_used_lines():
    # a line read every 4 useful entries instead of 8 halves the energy per line read
    cal = calibrate_table2(EIEConfig(), entries_per_line_read=4.0)
    assert cal["spmat_line_read"] == pytest.approx(4.955 * 1.25 * 4)
    assert steady_state_events(EIEConfig(), 800, entries_per_line_read=4.0)["spmat_line_read"] == 64 * 200
    with pytest.raises(ConfigError, match=r"entries_per_line_read must be a number >= 1, not 0.5"):
        calibrate_table2(EIEConfig(), entries_per_line_read=0.5)


def test_fc8_calibration_by_hand():
    t = EnergyTable.default()                                   # "fc8" is the default
    assert t == EnergyTable.default(calibration="fc8") == EnergyTable.load("fc8")
    assert t.spmat_line_read == pytest.approx(FC8_LINE_PJ, rel=1e-12)
    assert t.ptr_read == pytest.approx(1.807 * 1.25 * FC8_PE_CYCLES / 112640, rel=1e-12)   # 10.13 pJ
    act = 1.122 * 1.25 * FC8_PE_CYCLES / (452614 + 453748 + 4096)                          # 0.778 pJ
    assert (t.dst_rf_read, t.dst_rf_write, t.src_rf_read) == pytest.approx((act, act, act), rel=1e-12)
    assert t.queue_push == pytest.approx(0.112 * 1.25 * FC8_PE_CYCLES / (2 * 112640), rel=1e-12)
    mac_ref, cb_ref = 3.7 / 6.2 + 0.05, 0.15625
    k = 1.4525 * FC8_PE_CYCLES / (453748 * (mac_ref + cb_ref))
    assert (t.mac, t.codebook_read) == pytest.approx((k * mac_ref, k * cb_ref), rel=1e-12)
    assert t.broadcast == t.lnzd_search == t.static_mw_per_pe == 0.0
    for event, pj in calibrate_fc8().items():
        assert getattr(t, event) == pytest.approx(pj, rel=1e-12, abs=0), event


def test_fc8_run_is_the_model_on_the_real_layer(fc8_path):
    from eie.layer import load_layer
    from eie.model import simulate
    r = simulate(load_layer(fc8_path), config=EIEConfig(), check_reference=False)
    assert r.cycles == FC8_RUN["cycles"] and r.config.pes == FC8_RUN["pes"]
    assert {k: r.events[k] for k in EVENTS} == FC8_RUN["events"]
    # the "fc8" table draws Table II's power per module on it, 586.1 mW in all
    e = estimate(r.events, r.cycles, r.config)
    for comp, mw in (("spmat_read", SPMAT_MW), ("ptr_read", PTR_MW), ("arith", ARITH_MW),
                     ("act_rw", ACT_MW), ("act_queue", QUEUE_MW)):
        assert getattr(e, comp) / e.time_us / 1e3 == pytest.approx(64 * mw, rel=1e-9), comp
    assert e.avg_power_mw == pytest.approx(64 * 9.158, rel=1e-9)
    assert abs(e.avg_power_mw - 590) / 590 < 0.05                       # the paper: 590 mW
    # the "steady" table prices the same run 26 % above the paper
    s = estimate(r.events, r.cycles, r.config, EnergyTable.default(calibration="steady"))
    assert s.avg_power_mw == pytest.approx(740.3, abs=0.05)


def test_calibration_names_and_rates_errors(tmp_path):
    assert set(CALIBRATIONS) == {"fc8", "steady"}
    assert EnergyTable.load("steady") == EnergyTable.default(calibration="steady")
    with pytest.raises(ConfigError, match="energy calibration must be one of fc8, steady, not 'fc9'"):
        EnergyTable.default(calibration="fc9")
    # a mistyped name is neither: the message names both kinds (was: "energy file 'fc9' cannot be read")
    with pytest.raises(ConfigError, match=r"energy table 'fc9' is neither a calibration \(fc8, steady\) nor a file"):
        EnergyTable.load("fc9")
    assert EnergyTable.load(write(tmp_path, "mac = 2.5\n")).mac == 2.5
    rates = {e: 1.0 for e in EVENTS}
    with pytest.raises(ConfigError, match=r"rates\['mac'\] must be > 0 to calibrate its module, not 0"):
        calibrate_rates({**rates, "mac": 0})
    with pytest.raises(ConfigError, match=r"rates\['ptr_read'\] must be a number >= 0, not -1"):
        calibrate_rates({**rates, "ptr_read": -1})


def test_table1_primitives():
    t = EnergyTable.default()
    assert (t.int_add_32_pj, t.float_add_32_pj, t.int_mult_32_pj, t.float_mult_32_pj,
            t.sram_read_32_pj, t.dram_read_32_pj) == (0.1, 0.9, 3.1, 3.7, 5.0, 640.0)


def test_steady_state_run_of_the_array():
    cfg = EIEConfig()
    cycles = 800   # 1 us at 800 MHz
    ev = {"mac": 64 * 800, "codebook_read": 64 * 800, "dst_rf_read": 64 * 800, "dst_rf_write": 64 * 800,
          "spmat_line_read": 64 * 100, "ptr_read": 64 * 200, "src_rf_read": 64 * 200,
          "queue_push": 64 * 200, "queue_pop": 64 * 200, "broadcast": 200, "lnzd_search": 200}
    assert steady_state_events(cfg, cycles) == pytest.approx(ev)
    r = estimate(ev, cycles, cfg, EnergyTable.default(cfg, "steady"))
    assert r.time_us == pytest.approx(1.0)
    # over 1 us, pJ / 1000 = mW; 64 PEs
    for comp, mw in (("spmat_read", SPMAT_MW), ("ptr_read", PTR_MW), ("arith", ARITH_MW),
                     ("act_rw", ACT_MW), ("act_queue", QUEUE_MW)):
        assert getattr(r, comp) / 1e3 == pytest.approx(64 * mw, rel=1e-9), comp
    # the module figures add up to 9.158 mW per PE (Table II prints a total of 9.157)
    assert r.avg_power_mw == pytest.approx(64 * 9.158, rel=1e-9)


# ---- estimate -------------------------------------------------------------------------------

def test_estimate_by_hand():
    cfg = EIEConfig(pes=4, clock_mhz=500.0)
    table = EnergyTable(**SIMPLE)
    ev = {"spmat_line_read": 3, "ptr_read": 8, "codebook_read": 20, "mac": 18, "dst_rf_read": 16,
          "dst_rf_write": 18, "src_rf_read": 8, "queue_push": 8, "queue_pop": 8, "broadcast": 2,
          "lnzd_search": 4, "unrelated_stat": 99}
    r = estimate(ev, 1000, cfg, table)
    assert r.spmat_read == pytest.approx(30.0)           # 3 x 10
    assert r.ptr_read == pytest.approx(16.0)             # 8 x 2
    assert r.arith == pytest.approx(28.0)                # 18 x 1 + 20 x 0.5
    assert r.act_rw == pytest.approx(9.5)                # 16 x .25 + 18 x .25 + 8 x .125
    assert r.act_queue == pytest.approx(1.6)             # 16 x 0.1
    assert r.ccu == pytest.approx(8.0)                   # 2 x 3 + 4 x 0.5
    assert r.time_us == pytest.approx(2.0)               # 1000 cycles / 500 MHz
    assert r.static == pytest.approx(16_000.0)           # 2 mW x 4 PEs x 2 us = 16 nJ
    assert r.total_pj == pytest.approx(16_093.1)
    assert r.avg_power_mw == pytest.approx(16_093.1 / 2.0 / 1e3)  # pJ/us = uW


def test_report_dict_and_table():
    cfg = EIEConfig(pes=4, clock_mhz=500.0)
    ev = dict.fromkeys(EVENTS, 1)
    r = estimate(ev, 10, cfg, EnergyTable(**SIMPLE))
    d = json.loads(json.dumps(r.to_dict()))
    assert set(d["by_component_pj"]) == {"spmat_read", "ptr_read", "arith", "act_rw", "act_queue", "ccu", "static"}
    assert d["total_pj"] == pytest.approx(sum(d["by_component_pj"].values()))
    assert d["time_us"] == pytest.approx(0.02) and d["pes"] == 4
    text = r.format_table()
    for word in ("spmat_read", "act_queue", "static", "total", "500 MHz"):
        assert word in text


def test_estimate_errors():
    cfg = EIEConfig()
    ev = dict.fromkeys(EVENTS, 1)
    del ev["queue_pop"]
    with pytest.raises(InputError, match=r"events is missing the count 'queue_pop'"):
        estimate(ev, 10, cfg)
    ev["queue_pop"] = -1
    with pytest.raises(InputError, match=r"events\['queue_pop'\] must be a number >= 0, not -1"):
        estimate(ev, 10, cfg)
    ev["queue_pop"] = 1
    with pytest.raises(InputError, match=r"cycles must be a number > 0, not 0"):
        estimate(ev, 0, cfg)
    with pytest.raises(InputError, match=r"events\['cycles'\] must equal 10"):
        estimate({**ev, "cycles": 11}, 10, cfg)


# ---- TOML tables ----------------------------------------------------------------------------

def test_toml_override_changes_one_field(tmp_path):
    t = EnergyTable.from_toml(write(tmp_path, "mac = 2.5\n"))
    base = EnergyTable.default().to_dict()
    assert t.mac == 2.5
    assert {k: v for k, v in t.to_dict().items() if k != "mac"} == {k: v for k, v in base.items() if k != "mac"}


def test_toml_integer_value(tmp_path):
    assert EnergyTable.from_toml(write(tmp_path, "broadcast = 20\n")).broadcast == 20.0


@pytest.mark.parametrize(("text", "message"), [
    ("macs = 1.0\n", r"unknown energy key 'macs'; known keys are spmat_line_read, .*mac, "),
    ("ptr_read = -1\n", r"ptr_read must be a number >= 0, not -1"),
    ("mac = 'cheap'\n", r"mac must be a number >= 0, not 'cheap'"),
    ("mac = true\n", r"mac must be a number >= 0, not True"),
    ("mac = inf\n", r"mac must be a number >= 0, not inf"),
    # finite, but it overflowed the layer's total, reported as "eie_total_pj ... not inf"
    ("mac = 1e308\n", r"energy file .*: mac must be at most 1e\+12 .*, not 1e\+308"),
    ("dram_read_32_pj = 1e13\n", r"dram_read_32_pj must be at most 1e\+12"),
    ("[energy]\nmac = 1\n", r"unknown energy key 'energy'"),
    ("mac = \n", r"is not valid TOML"),
])
def test_toml_errors(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        EnergyTable.from_toml(write(tmp_path, text))


def test_largest_energy_is_accepted_and_totals_stay_finite():
    """MAX_ENERGY for every event of a large run: the totals stay finite."""
    table = EnergyTable(**{name: MAX_ENERGY for name in SIMPLE})
    rep = estimate({name: 1e15 for name in EVENTS}, 1e12, EIEConfig(), table)
    assert math.isfinite(rep.total_pj) and rep.total_pj >= 1e27


def test_toml_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"energy file .*nope.toml' cannot be read"):
        EnergyTable.from_toml(tmp_path / "nope.toml")


def test_table_checks_itself():
    with pytest.raises(ConfigError, match=r"mac must be a number >= 0, not -0.5"):
        EnergyTable(**{**SIMPLE, "mac": -0.5})
    with pytest.raises(ConfigError, match=r"unknown energy key 'foo'"):
        EnergyTable.default().replace(foo=1.0)
    assert EnergyTable.default().replace(broadcast=5).broadcast == 5.0


# ---- scaling with the configuration ---------------------------------------------------------

def test_line_read_scales_linearly_with_line_bits():
    widths = (32, 64, 128, 256, 512)
    energies = [EnergyTable.default(EIEConfig(line_bits=w), "steady").spmat_line_read for w in widths]
    assert all(a < b for a, b in zip(energies, energies[1:], strict=False))
    for w, e in zip(widths, energies, strict=True):
        assert e == pytest.approx(49.55 * w / 64, rel=1e-12)     # stated rule: ~ line_bits
    # same energy per bit read, so 8 entries cost the same in any line width
    t = EnergyTable.default(EIEConfig(line_bits=128))
    assert t.mac == EnergyTable.default().mac
    assert t.spmat_line_read == pytest.approx(2 * FC8_LINE_PJ, rel=1e-12)


def test_sram_size_scales_with_square_root_of_capacity():
    t = EnergyTable.default(EIEConfig(spmat_kb=512, ptr_kb=8), "steady")
    assert t.spmat_line_read == pytest.approx(49.55 * math.sqrt(4))
    assert t.ptr_read == pytest.approx(9.035 * math.sqrt(1 / 4))
    assert EnergyTable.default(EIEConfig(ptr_bits=32), "steady").ptr_read == pytest.approx(9.035 * 2)


def test_toml_override_is_not_scaled(tmp_path):
    t = EnergyTable.from_toml(write(tmp_path, "spmat_line_read = 30.0\n"), config=EIEConfig(line_bits=128))
    assert t.mac == EnergyTable.default().mac          # the rest: the default (fc8) table
    t = EnergyTable.default(EIEConfig(line_bits=128), "steady").replace(spmat_line_read=30.0)
    assert t.spmat_line_read == 30.0
    assert t.ptr_read == pytest.approx(9.035)


# ---- DRAM / SRAM baselines ------------------------------------------------------------------

def test_dram_baselines_small_layer_by_hand():
    cfg = EIEConfig(pes=2)
    b = dram_baselines(4, 8, nnz=8, nonzero_acts=4, config=cfg)
    assert b["dense_dram_pj"] == pytest.approx(32 * 640 + 32 * (3.7 + 0.9))       # 20,627.2
    assert b["dense_sram_pj"] == pytest.approx(32 * 5 + 32 * (3.7 + 0.9))          # 307.2
    # 8 entries x 8 bits + 2 PEs x 9 pointers x 16 bits = 352 bits = 11 words;
    # useful MACs 8 x 4/8 = 4, each 3.7/6.2 + 0.05 pJ
    assert b["compressed_bits"] == 352 and b["dram_words"] == 11
    assert b["compressed_dram_pj"] == pytest.approx(11 * 640 + 4 * (3.7 / 6.2 + 0.05))
    assert "eie_pj" not in b


def test_dram_baselines_ratios_and_overrides():
    b = dram_baselines(4, 8, 8, 4, EIEConfig(pes=2), compressed_bits=100, useful_macs=6, eie_total_pj=100.0)
    assert b["dram_words"] == 4                                    # ceil(100 / 32)
    assert b["compressed_dram_pj"] == pytest.approx(4 * 640 + 6 * (3.7 / 6.2 + 0.05))
    assert b["dense_dram_over_eie"] == pytest.approx(206.272)
    assert b["compressed_dram_over_eie"] == pytest.approx(b["compressed_dram_pj"] / 100)
    assert b["dense_sram_over_eie"] == pytest.approx(3.072)
    # the primitives come from the table
    t = EnergyTable.default().replace(dram_read_32_pj=100.0)
    assert dram_baselines(4, 8, 8, 4, EIEConfig(pes=2), t)["dense_dram_pj"] == pytest.approx(32 * 104.6)


def test_dram_baselines_errors():
    cfg = EIEConfig(pes=2)
    with pytest.raises(InputError, match=r"nnz must be an integer in \[0, 32\], not 33"):
        dram_baselines(4, 8, 33, 4, cfg)
    with pytest.raises(InputError, match=r"nonzero_acts must be an integer in \[0, 8\], not 9"):
        dram_baselines(4, 8, 8, 9, cfg)
    with pytest.raises(InputError, match=r"eie_total_pj must be a number > 0, not 0"):
        dram_baselines(4, 8, 8, 4, cfg, eie_total_pj=0)
