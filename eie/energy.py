"""Per-event energy model of an EIE array, calibrated on EIE Table II [arch §7].

The cycle-accurate model counts events (sparse-matrix line reads, pointer reads, MACs, ...);
this module prices each event in pJ and groups them into the modules of EIE Table II.  Two
calibrations reproduce Table II's power of each module, at two sets of event rates
(:data:`CALIBRATIONS`, docs/energy.md §3):

* ``"fc8"`` (the default, ``eie/data/energy_45nm.toml``): the rates the model measures on the
  real AlexNet FC8 layer at the paper's design point (:data:`FC8_RUN`), the layer the paper
  reports 590 mW on; :func:`calibrate_fc8`.
* ``"steady"`` (``eie/data/energy_45nm_steady.toml``): an idealised steady state (one useful
  entry per PE-cycle, full lines, 4 entries per column); :func:`calibrate_table2`.

Tests pin that each shipped file equals its calibration function.

Energies are in pJ, powers in mW, times in µs (1 mW for 1 µs = 1 nJ = 1000 pJ).
"""

from __future__ import annotations

import math
import numbers
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from functools import cache
from importlib import resources
from pathlib import Path

from .config import EIEConfig
from .errors import ConfigError, InputError
from .fileio import read_toml

__all__ = [
    "EVENTS", "COMPONENTS", "TABLE2_MW", "TABLE2_TOTAL_MW", "TABLE2_CLOCK_MHZ",
    "STEADY_ENTRIES_PER_COLUMN", "FIXED16_MULT_SAVING", "LINE_WIDTH_EXPONENT",
    "SRAM_CAPACITY_EXPONENT", "CALIBRATIONS", "DEFAULT_CALIBRATION", "FC8_RUN", "MAX_ENERGY", "EnergyTable",
    "EnergyReport",
    "calibrate_rates", "calibrate_table2", "calibrate_fc8", "fc8_rates", "steady_state_events",
    "sram_access_scale", "fixed16_mac_pj", "estimate", "dram_baselines",
]

#: Event counts the cycle model hands over [arch §7]; totals over all PEs.
EVENTS = ("spmat_line_read", "ptr_read", "codebook_read", "mac", "dst_rf_read", "dst_rf_write",
          "src_rf_read", "queue_push", "queue_pop", "broadcast", "lnzd_search")

#: Report components (the modules of EIE Table II, plus the central control unit) and
#: the events each one sums.
COMPONENTS = {
    "spmat_read": ("spmat_line_read",),
    "ptr_read": ("ptr_read",),
    "arith": ("mac", "codebook_read"),
    "act_rw": ("dst_rf_read", "dst_rf_write", "src_rf_read"),
    "act_queue": ("queue_push", "queue_pop"),
    "ccu": ("broadcast", "lnzd_search"),
}

#: EIE Table II: power of one PE per module, 45 nm, 800 MHz.  The published total is 9.157
#: mW; the module figures, each rounded, add up to 9.158 mW.
TABLE2_MW = {"spmat_read": 4.955, "ptr_read": 1.807, "arith": 1.162, "act_rw": 1.122, "act_queue": 0.112}
TABLE2_TOTAL_MW = 9.157
#: Clock at which Table II was measured.  Energy per event does not depend on the clock (to
#: first order, at fixed voltage), so the calibration converts with this clock, not a config's.
TABLE2_CLOCK_MHZ = 800.0

#: Steady-state entries per column per PE (assumption): real AlexNet FC8 has 453,748 useful
#: MACs over 1,760 broadcast columns x 64 PEs = 4.03.
STEADY_ENTRIES_PER_COLUMN = 4.0

#: EIE Sec VI: a 16-bit fixed-point multiply uses 6.2x less energy than a 32-bit float one.
FIXED16_MULT_SAVING = 6.2

#: Scaling of one SRAM access with its width and its capacity (Horowitz, ISSCC 2014):
#: 64-bit reads cost 10 pJ at 8 KB and 20 pJ at 32 KB (x2 for x4 capacity: exponent 0.5;
#: 100 pJ at 1 MB agrees within 15 %), and Table I's 32-bit read, 5 pJ, is the same
#: 0.156 pJ/bit as the 64-bit 8 KB read: energy per access proportional to the width.
LINE_WIDTH_EXPONENT = 1.0
SRAM_CAPACITY_EXPONENT = 0.5

# The design point Table II describes; default() scales the calibrated table from it.
_REFERENCE = EIEConfig()

#: The calibrations: name -> (table file in eie/data, what its event rates are).
CALIBRATIONS = {
    "fc8": ("energy_45nm.toml", "the real AlexNet FC8 layer at the design point (FC8_RUN)"),
    "steady": ("energy_45nm_steady.toml", "steady state: one useful entry per PE-cycle, full lines, "
                                          "4 entries per column"),
}
DEFAULT_CALIBRATION = "fc8"

#: The model on the real AlexNet FC8 layer (the authors' alexnet_fc8.npz: 1000 x 4096, 25 %
#: weights, 1,759 non-zero inputs) at the paper's design point (EIEConfig(): 64 PEs, queue
#: depth 8): its cycles and event totals [arch §7].  tests/test_energy.py pins them against
#: the model on the file.
FC8_RUN = {
    "cycles": 7896, "pes": 64,
    "events": {"spmat_line_read": 100900, "ptr_read": 112640, "codebook_read": 453748, "mac": 453748,
               "dst_rf_read": 452614, "dst_rf_write": 453748, "src_rf_read": 4096, "queue_push": 112640,
               "queue_pop": 112640, "broadcast": 1760, "lnzd_search": 1806},
}

# Split of ArithmUnit power between `mac` and `codebook_read` (Horowitz 45 nm figures):
# a 16-bit fixed multiply (32-bit float multiply 3.7 pJ / 6.2) plus a 16-bit add
# (0.05 pJ), against a 16-bit read of the 16 x 16-bit codebook, sized from the 64-bit
# read of an 8 KB SRAM (10 pJ) by width (x 16/64) and capacity (x (32 B / 8 KB)^0.5).
_MAC_HOROWITZ_PJ = 3.7 / FIXED16_MULT_SAVING + 0.05
_CODEBOOK_HOROWITZ_PJ = 10.0 * (16 / 64) * (32 / 8192) ** SRAM_CAPACITY_EXPONENT


#: largest value of an energy table field: a joule per event (pJ; for ``static_mw_per_pe``
#: 1e12 mW, a gigawatt per PE), beyond any circuit.  Larger values are refused where the table is
#: read, so that no total can overflow to infinity.
MAX_ENERGY = 1e12


def _is_energy(value) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0)


def _prefix(where):
    return f"{where}: " if where else ""


def _check_table_values(data: Mapping, where: str | None) -> dict:
    known = [f.name for f in fields(EnergyTable)]
    for key in data:
        if key not in known:
            raise ConfigError(f"{_prefix(where)}unknown energy key {key!r}; known keys are {', '.join(known)}")
    for key, value in data.items():
        if not _is_energy(value):
            raise ConfigError(f"{_prefix(where)}{key} must be a number >= 0, not {value!r}")
        if value > MAX_ENERGY:
            raise ConfigError(f"{_prefix(where)}{key} must be at most {MAX_ENERGY:g} (a joule per event: larger "
                              f"values overflow the energy totals), not {value!r}")
    return {key: float(value) for key, value in data.items()}


@dataclass(frozen=True)
class EnergyTable:
    """Energy of each event in pJ (per event, per PE or per array as counted in [arch §7]).

    Event fields carry the event's name; ``static_mw_per_pe`` is clock/leakage power per PE
    (mW, charged for every cycle of the layer; 0 by default because Table II's clock
    power is already spread over the modules' events).  The ``*_32_pj`` fields are the
    Table I (Horowitz) primitives that price the DRAM and SRAM baselines.

    Use :meth:`default` for the calibrated 45 nm table and :meth:`from_toml` for a user
    file; every field is checked (a finite number >= 0) on construction.
    """

    spmat_line_read: float
    ptr_read: float
    codebook_read: float
    mac: float
    dst_rf_read: float
    dst_rf_write: float
    src_rf_read: float
    queue_push: float
    queue_pop: float
    broadcast: float
    lnzd_search: float
    static_mw_per_pe: float = 0.0
    int_add_32_pj: float = 0.1
    float_add_32_pj: float = 0.9
    int_mult_32_pj: float = 3.1
    float_mult_32_pj: float = 3.7
    sram_read_32_pj: float = 5.0
    dram_read_32_pj: float = 640.0

    def __post_init__(self):
        for key, value in _check_table_values(asdict(self), None).items():
            object.__setattr__(self, key, value)

    @classmethod
    def default(cls, config: EIEConfig | None = None, calibration: str = DEFAULT_CALIBRATION) -> EnergyTable:
        """The calibrated 45 nm table of ``calibration`` (:data:`CALIBRATIONS`; default the
        FC8 one, ``eie/data/energy_45nm.toml``) for ``config``.

        The file describes the paper's design point (``EIEConfig()``).  For another
        configuration one SRAM access scales with :func:`sram_access_scale`:
        ``spmat_line_read`` with ``line_bits`` (reference 64) and ``spmat_kb`` (128),
        ``ptr_read`` with ``ptr_bits`` (16) and ``ptr_kb`` (32).  Every other field is
        independent of the configuration (the clock changes power, not energy per event).
        """
        config = _REFERENCE if config is None else config
        if calibration not in CALIBRATIONS:
            raise ConfigError(f"energy calibration must be one of {', '.join(CALIBRATIONS)}, not {calibration!r}")
        values = dict(_reference_values(calibration))
        values["spmat_line_read"] *= sram_access_scale(config.line_bits, config.spmat_kb,
                                                       _REFERENCE.line_bits, _REFERENCE.spmat_kb)
        values["ptr_read"] *= sram_access_scale(config.ptr_bits, config.ptr_kb,
                                                _REFERENCE.ptr_bits, _REFERENCE.ptr_kb)
        return cls(**values)

    @classmethod
    def from_toml(cls, path, config: EIEConfig | None = None) -> EnergyTable:
        """:meth:`default` for ``config`` with the fields set in the TOML file ``path``.

        The file holds top-level ``name = value`` pairs (any subset of the fields, values
        used as given, not scaled).  Unknown keys, values that are not numbers >= 0, and
        unreadable or invalid files raise :class:`~eie.errors.ConfigError`.
        """
        path = Path(path)
        where = f"energy file {str(path)!r}"
        data = read_toml(path, where, ConfigError)
        return cls.default(config)._with(data, where)

    @classmethod
    def load(cls, name_or_path, config: EIEConfig | None = None) -> EnergyTable:
        """A calibration by name (:data:`CALIBRATIONS`: ``"fc8"``, ``"steady"``) or a TOML file
        (:meth:`from_toml`): what ``--energy-table`` takes."""
        if str(name_or_path) in CALIBRATIONS:
            return cls.default(config, str(name_or_path))
        if not Path(name_or_path).exists():
            raise ConfigError(f"energy table {str(name_or_path)!r} is neither a calibration "
                              f"({', '.join(CALIBRATIONS)}) nor a file: give one of those names or the path of a "
                              f"TOML file of energies (docs/energy.md)")
        return cls.from_toml(name_or_path, config)

    def replace(self, **changes) -> EnergyTable:
        """A copy with some fields changed (checked: known names, numbers >= 0)."""
        return self._with(changes, None)

    def _with(self, changes: Mapping, where: str | None) -> EnergyTable:
        values = asdict(self)
        values.update(_check_table_values(changes, where))
        return EnergyTable(**values)

    def to_dict(self) -> dict:
        return asdict(self)


@cache
def _reference_values(calibration: str = DEFAULT_CALIBRATION) -> tuple:
    """A shipped table, read once.  It must set every field (a test pins it)."""
    name = CALIBRATIONS[calibration][0]
    where = f"energy file 'eie/data/{name}'"
    text = resources.files("eie").joinpath("data", name).read_text(encoding="utf-8")
    data = _check_table_values(tomllib.loads(text), where)
    missing = [f.name for f in fields(EnergyTable) if f.name not in data]
    if missing:
        raise ConfigError(f"{where} is missing {', '.join(missing)}")
    return tuple(data.items())


def sram_access_scale(width_bits: float, capacity_kb: float, ref_width_bits: float, ref_capacity_kb: float) -> float:
    """Energy of one SRAM access relative to a reference SRAM of the same technology.

    ``(width / ref_width) ** LINE_WIDTH_EXPONENT * (capacity / ref_capacity) ** SRAM_CAPACITY_EXPONENT``:
    proportional to the bits read (bit lines and sense amplifiers per bit) and to the square
    root of the capacity (longer word and bit lines), after Horowitz's 45 nm figures.
    """
    return ((width_bits / ref_width_bits) ** LINE_WIDTH_EXPONENT
            * (capacity_kb / ref_capacity_kb) ** SRAM_CAPACITY_EXPONENT)


def fixed16_mac_pj(table: EnergyTable) -> float:
    """A 16-bit fixed-point multiply-add from the Table I primitives: 32-bit float multiply
    / 6.2 (EIE Sec VI) plus half a 32-bit integer add (adder energy ~ width; Horowitz's
    16-bit add is 0.05 pJ)."""
    return table.float_mult_32_pj / FIXED16_MULT_SAVING + table.int_add_32_pj * 16 / 32


def _steady_rates(config: EIEConfig, entries_per_column: float, entries_per_line_read: float | None) -> dict:
    """Events per cycle per PE at steady state (the array events: per cycle)."""
    _check_steady("entries_per_column", entries_per_column)
    if entries_per_line_read is None:
        entries_per_line_read = config.entries_per_line
    _check_steady("entries_per_line_read", entries_per_line_read)
    per_column = 1.0 / entries_per_column
    return {
        "spmat_line_read": 1.0 / entries_per_line_read,
        "ptr_read": per_column, "codebook_read": 1.0, "mac": 1.0,
        "dst_rf_read": 1.0, "dst_rf_write": 1.0, "src_rf_read": per_column,
        "queue_push": per_column, "queue_pop": per_column,
        "broadcast": per_column, "lnzd_search": per_column,
    }


def _check_steady(name, value):
    if not (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 1):
        raise ConfigError(f"{name} must be a number >= 1, not {value!r}")


def steady_state_events(config: EIEConfig, cycles: float,
                        entries_per_column: float = STEADY_ENTRIES_PER_COLUMN, *,
                        entries_per_line_read: float | None = None) -> dict:
    """Event totals of ``cycles`` cycles at steady state (the calibration's definition).

    Every PE issues one useful entry per cycle (one ``mac``, ``codebook_read``,
    ``dst_rf_read``, ``dst_rf_write``), reads a line every ``entries_per_line`` cycles, and
    starts a column every ``entries_per_column`` cycles (one ``ptr_read``, ``queue_push``,
    ``queue_pop``, ``src_rf_read``); the CCU broadcasts and searches once per column.
    ``entries_per_line_read`` (default ``config.entries_per_line``: every entry of a line
    is used) sets the line-read rate.  Counts are floats.
    """
    array_events = {"broadcast", "lnzd_search"}
    rates = _steady_rates(config, entries_per_column, entries_per_line_read)
    return {event: rate * cycles * (1 if event in array_events else config.pes)
            for event, rate in rates.items()}


def calibrate_rates(rates: Mapping) -> dict:
    """Per-event energies (pJ) that make a PE draw exactly the Table II power of each module
    at the given event ``rates`` (events per PE per cycle; ``broadcast`` and ``lnzd_search``
    per cycle of the array).  mW convert to pJ per cycle at Table II's 800 MHz (T = 1.25 ns);
    with P a module's power:

    - ``spmat_line_read`` = P_SpmatRead · T / line-read rate;
    - ``ptr_read`` = P_PtrRead · T / pointer-read rate;
    - ``mac``, ``codebook_read``: P_ArithmUnit · T shared in the ratio of Horowitz's energies
      (16-bit fixed multiply-add 0.6468 pJ : 16 x 16-bit codebook read 0.15625 pJ) at their
      rates;
    - ``dst_rf_read`` = ``dst_rf_write`` = ``src_rf_read``: P_ActRW · T over the three
      register-file access rates, equal energy per access;
    - ``queue_push`` = ``queue_pop``: P_queue · T over the push and pop rates;
    - ``broadcast`` = ``lnzd_search`` = 0: the CCU is not in Table II (docs/energy.md).
    """
    for name in EVENTS:
        value = rates.get(name)
        if not (isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
                and value >= 0):
            raise ConfigError(f"rates[{name!r}] must be a number >= 0, not {value!r}")
    for name in ("spmat_line_read", "ptr_read", "mac", "dst_rf_write", "queue_push"):
        if rates[name] <= 0:
            raise ConfigError(f"rates[{name!r}] must be > 0 to calibrate its module, not {rates[name]!r}")
    pj_per_cycle = {name: mw * 1e3 / TABLE2_CLOCK_MHZ for name, mw in TABLE2_MW.items()}
    arith = pj_per_cycle["arith"] / (rates["mac"] * _MAC_HOROWITZ_PJ + rates["codebook_read"] * _CODEBOOK_HOROWITZ_PJ)
    act = pj_per_cycle["act_rw"] / (rates["dst_rf_read"] + rates["dst_rf_write"] + rates["src_rf_read"])
    queue = pj_per_cycle["act_queue"] / (rates["queue_push"] + rates["queue_pop"])
    return {
        "spmat_line_read": pj_per_cycle["spmat_read"] / rates["spmat_line_read"],
        "ptr_read": pj_per_cycle["ptr_read"] / rates["ptr_read"],
        "codebook_read": arith * _CODEBOOK_HOROWITZ_PJ,
        "mac": arith * _MAC_HOROWITZ_PJ,
        "dst_rf_read": act, "dst_rf_write": act, "src_rf_read": act,
        "queue_push": queue, "queue_pop": queue,
        "broadcast": 0.0, "lnzd_search": 0.0,
    }


def calibrate_table2(config: EIEConfig | None = None,
                     entries_per_column: float = STEADY_ENTRIES_PER_COLUMN, *,
                     entries_per_line_read: float | None = None) -> dict:
    """The ``"steady"`` calibration: per-event energies (pJ) that make ``config`` draw the
    Table II power at steady state (:func:`steady_state_events`; :func:`calibrate_rates`).

    ``config`` is the design Table II is taken to describe (default: the paper's); only its
    ``entries_per_line`` enters.  ``entries_per_line_read`` (default ``entries_per_line``) is
    the useful entries per line read at steady state (docs/energy.md, "Line reads on real
    layers").  At the design point: ``spmat_line_read`` = 4.955 mW · 1.25 ns · 8,
    ``ptr_read`` = 1.807 · 1.25 · 4, register-file accesses 1.122 · 1.25 / (2 + 1/4), queue
    accesses 0.112 · 1.25 · 4 / 2.
    """
    config = _REFERENCE if config is None else config
    return calibrate_rates(_steady_rates(config, entries_per_column, entries_per_line_read))


def fc8_rates() -> dict:
    """The event rates of :data:`FC8_RUN`: per PE per cycle (the CCU's per cycle)."""
    cycles, pes = FC8_RUN["cycles"], FC8_RUN["pes"]
    return {name: count / (cycles * (1 if name in ("broadcast", "lnzd_search") else pes))
            for name, count in FC8_RUN["events"].items()}


def calibrate_fc8() -> dict:
    """The ``"fc8"`` calibration (the default table): per-event energies (pJ) that make the
    real FC8 layer at the design point draw exactly the Table II power of each module
    (:func:`calibrate_rates` at :func:`fc8_rates`), so its average power is Table II's
    9.158 mW per PE, 586.1 mW for 64 PEs (the paper: 590 mW for the chip)."""
    return calibrate_rates(fc8_rates())


@dataclass(frozen=True)
class EnergyReport:
    """Energy of one run by component (pJ), its time and average power.

    Components: ``spmat_read``, ``ptr_read``, ``arith`` (mac + codebook_read), ``act_rw``
    (destination reads and writes, source reads), ``act_queue`` (push + pop), ``ccu``
    (broadcast + LNZD search) and ``static`` (``static_mw_per_pe`` x PEs x time).
    """

    spmat_read: float
    ptr_read: float
    arith: float
    act_rw: float
    act_queue: float
    ccu: float
    static: float
    total_pj: float
    time_us: float
    avg_power_mw: float
    cycles: float
    pes: int
    clock_mhz: float

    @property
    def by_component_pj(self) -> dict:
        return {name: getattr(self, name) for name in (*COMPONENTS, "static")}

    def to_dict(self) -> dict:
        """JSON-ready: ``by_component_pj`` plus the totals, all plain floats."""
        return {
            "by_component_pj": {k: float(v) for k, v in self.by_component_pj.items()},
            "total_pj": float(self.total_pj), "time_us": float(self.time_us),
            "avg_power_mw": float(self.avg_power_mw), "cycles": float(self.cycles),
            "pes": int(self.pes), "clock_mhz": float(self.clock_mhz),
        }

    def format_table(self) -> str:
        """A plain-text table: energy, share and average power of each component."""
        rows = [f"{'component':<12}{'energy (pJ)':>18}{'share':>9}{'power (mW)':>13}"]
        scale = 1e-3 / self.time_us   # pJ over the run -> mW
        for name, pj in (*self.by_component_pj.items(), ("total", self.total_pj)):
            share = pj / self.total_pj if self.total_pj else 0.0
            rows.append(f"{name:<12}{pj:>18,.1f}{share:>9.1%}{pj * scale:>13.3f}")
        rows.append(f"{self.cycles:,.0f} cycles at {self.clock_mhz:g} MHz = {self.time_us:.4g} us on "
                    f"{self.pes} PEs; average power {self.avg_power_mw:.4g} mW "
                    f"({self.avg_power_mw / self.pes:.4g} mW per PE)")
        return "\n".join(rows)


def _count(name: str, value, rule_positive: bool = False) -> float:
    ok = (isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
          and (value > 0 if rule_positive else value >= 0))
    if not ok:
        raise InputError(f"{name} must be a number {'>' if rule_positive else '>='} 0, not {value!r}")
    return float(value)


def estimate(events: Mapping, cycles: float, config: EIEConfig, table: EnergyTable | None = None) -> EnergyReport:
    """Price the event counts of one run (a layer, a pass or a stack) [arch §7].

    ``events`` holds the totals of :data:`EVENTS` (other keys are ignored, except that a
    ``cycles`` key must equal ``cycles`` and a ``cycle`` key ``cycles x pes``); ``cycles``
    is the run's length; ``table`` defaults to ``EnergyTable.default(config)``.  Missing
    or negative counts raise :class:`~eie.errors.InputError`.
    """
    if not isinstance(events, Mapping):
        raise InputError(f"events must be a dict of event counts, not {type(events).__name__}")
    cycles = _count("cycles", cycles, rule_positive=True)
    missing = [name for name in EVENTS if name not in events]
    if missing:
        raise InputError(f"events is missing the count {missing[0]!r}; an events dict needs {', '.join(EVENTS)}")
    counts = {name: _count(f"events[{name!r}]", events[name]) for name in EVENTS}
    for key, expected in (("cycles", cycles), ("cycle", cycles * config.pes)):
        if key in events and _count(f"events[{key!r}]", events[key]) != expected:
            raise InputError(f"events[{key!r}] must equal {expected:g} for {cycles:g} cycles on "
                             f"{config.pes} PEs, not {events[key]!r}")
    table = EnergyTable.default(config) if table is None else table
    parts = {comp: sum(counts[e] * getattr(table, e) for e in evs) for comp, evs in COMPONENTS.items()}
    time_us = cycles / config.clock_mhz
    parts["static"] = table.static_mw_per_pe * config.pes * time_us * 1e3   # mW x us = nJ
    total = sum(parts.values())
    return EnergyReport(**parts, total_pj=total, time_us=time_us, avg_power_mw=total / time_us * 1e-3,
                        cycles=cycles, pes=config.pes, clock_mhz=config.clock_mhz)


def _int_in(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not lo <= value <= hi:
        raise InputError(f"{name} must be an integer in [{lo}, {hi}], not {value!r}")
    return int(value)


def dram_baselines(n_out: int, n_in: int, nnz: int, nonzero_acts: int, config: EIEConfig,
                   table: EnergyTable | None = None, compressed_bits: int | None = None, *,
                   useful_macs: float | None = None, eie_total_pj: float | None = None) -> dict:
    """Energy (pJ) of the same layer on DRAM- and SRAM-fed baselines (docs/energy.md).

    - ``dense_dram_pj``: all ``n_out*n_in`` 32-bit float weights read from DRAM, each with a
      float multiply and add: ``n_out*n_in * (dram_read_32 + float_mult_32 + float_add_32)``.
    - ``compressed_dram_pj``: the compressed storage read from DRAM in 32-bit words,
      ``ceil(compressed_bits / 32) * dram_read_32``, plus the useful 16-bit fixed MACs
      (:func:`fixed16_mac_pj`).  ``compressed_bits`` defaults to
      ``nnz*(weight_bits+index_bits) + pes*(n_in+1)*ptr_bits`` (no padding, no codebook);
      ``useful_macs`` defaults to ``nnz * nonzero_acts / n_in`` (non-zeros spread evenly).
    - ``dense_sram_pj``: the dense baseline with every weight read from a 32 KB SRAM instead.

    With ``eie_total_pj`` (e.g. ``estimate(...).total_pj``) the result also holds it and
    the ratios ``dense_dram_over_eie``, ``compressed_dram_over_eie``, ``dense_sram_over_eie``.
    """
    n_out = _int_in("n_out", n_out, 1, 1 << 40)
    n_in = _int_in("n_in", n_in, 1, 1 << 40)
    dense = n_out * n_in
    nnz = _int_in("nnz", nnz, 0, dense)
    nonzero_acts = _int_in("nonzero_acts", nonzero_acts, 0, n_in)
    table = EnergyTable.default(config) if table is None else table
    if compressed_bits is None:
        compressed_bits = nnz * config.entry_bits + config.pes * (n_in + 1) * config.ptr_bits
    compressed_bits = _int_in("compressed_bits", compressed_bits, 0, 1 << 60)
    if useful_macs is None:
        useful_macs = nnz * nonzero_acts / n_in
    useful_macs = _count("useful_macs", useful_macs)
    words = -(-compressed_bits // 32)
    float_mac = table.float_mult_32_pj + table.float_add_32_pj
    out = {
        "dense_dram_pj": dense * (table.dram_read_32_pj + float_mac),
        "compressed_dram_pj": words * table.dram_read_32_pj + useful_macs * fixed16_mac_pj(table),
        "dense_sram_pj": dense * (table.sram_read_32_pj + float_mac),
        "dense_macs": dense,
        "useful_macs": useful_macs,
        "compressed_bits": compressed_bits,
        "dram_words": words,
    }
    if eie_total_pj is not None:
        eie = _count("eie_total_pj", eie_total_pj, rule_positive=True)
        out["eie_pj"] = eie
        for name in ("dense_dram", "compressed_dram", "dense_sram"):
            out[f"{name}_over_eie"] = out[f"{name}_pj"] / eie
    return out
