"""The report's time numbers from the runs: Table IV, the theoretical-time check, the real
FC8 layer and the Sec VI design-space sweeps (Figs 8, 9, 11-13).

Functions from a :class:`~eie.report.runs.Runs` to plain data: table rows and figure
series are dicts, written as JSON as they are (``data/<name>.json``); a summary that a
sentence quotes is a frozen dataclass.  No sentences here beyond row labels (they are in
:mod:`eie.report.performance_text`), so each number can be tested apart from the prose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..bench import LayerSpec
from ..config import EIEConfig
from ..energy import EnergyTable
from .published import AUTHORS_FC8_CYCLES, AUTHORS_RING_SLOTS, PAPER_FC8_US, PAPER_TYPOS
from .runs import AUTHORS_QUEUE_DEPTH, FC8_NAME, Runs

__all__ = ["WITHIN_PCT", "FLAT_TOLERANCE", "pct_diff", "table4_row", "table4_rows", "theoretical_rows",
           "TheoreticalFit", "theoretical_fit", "pointers_per_pe", "fc8_check_rows", "sweep_series", "mean_by_x",
           "LineWidthSweep", "line_width_sweep", "energy_minima", "all_inputs_nonzero", "alpha_window",
           "alpha_inside", "alpha_common", "pe_speedup", "Superlinear", "superlinear", "real_work", "rising",
           "pe_load_efficiency", "EfficiencyDrop", "efficiency_drop"]

#: Acceptance band of the reproduction: |ours − paper| / paper, % of Table IV's actual time.
WITHIN_PCT = 15.0
#: Energies within this fraction of the lowest count as a tie (a flat curve) in Fig 9.
FLAT_TOLERANCE = 0.005


def pct_diff(ours, paper):
    """``ours`` relative to ``paper`` in %; ``None`` without a published value."""
    return None if not paper else 100.0 * (ours - paper) / paper


# ---- Table IV ------------------------------------------------------------------------------
def table4_row(name: str, r: dict, wdens: float, adens: float, paper_us, paper_theo) -> dict:
    """One Table IV row from a design-point record ``r``, the layer's weight and activation
    densities (fractions) and the paper's actual and theoretical µs (``None``: unpublished)."""
    diff = pct_diff(r["time_us"], paper_us)
    t3 = r["n_in"] * r["n_out"] * wdens * adens / (r["pes"] * r["clock_mhz"])
    return {
        "layer": name, "size": f"{r['n_in']} × {r['n_out']}", "weight_pct": 100 * wdens,
        "act_pct": 100 * r["nonzero_inputs"] / r["n_in"], "cycles": r["cycles"], "time_us": r["time_us"],
        "theoretical_us": r["theoretical_us"], "load_eff_pct": 100 * r["load_efficiency"],
        "paper_actual_us": paper_us, "diff_pct": diff, "paper_theoretical_us": paper_theo,
        "theor_diff_pct": pct_diff(r["theoretical_us"], paper_theo), "table3_theoretical_us": t3,
        "table3_act_pct": 100 * adens,
        "within": None if diff is None else abs(diff) <= WITHIN_PCT, "fits": r["fits"],
        "entries_us": (r["useful_macs"] + r["padding_entries"]) / (r["pes"] * r["clock_mhz"]),
        "load_balance": r["load_balance"], "padding_entries": r["padding_entries"], "useful_macs": r["useful_macs"],
        "stall_cycles": r["stall_cycles"], "outputs_match_reference": r.get("outputs_match_reference"),
    }


def table4_rows(runs: Runs, specs: list[LayerSpec]) -> dict[str, dict]:
    """Table IV rows by layer name: the spec layers in order, then the real FC8 layer."""
    rows = [table4_row(spec.name, runs.rec(ref), spec.weight_density, spec.act_density, spec.paper_actual_us,
                       spec.paper_theoretical_us) for spec, ref in zip(specs, runs.refs, strict=True)]
    if runs.fc8 is not None:
        rows.append(table4_row(FC8_NAME, runs.rec(runs.fc8), *runs.fc8_density, *PAPER_FC8_US))
    return {r["layer"]: r for r in rows}


def theoretical_rows(t4: dict) -> list[dict]:
    """The paper's theoretical column against Table III's densities, useful MACs and all
    issued entries (padding included), each at 64 PEs × 800 MHz, per Table IV row."""
    return [{"layer": r["layer"], "table3_us": r["table3_theoretical_us"], "useful_us": r["theoretical_us"],
             "entries_us": r["entries_us"], "paper_us": r["paper_theoretical_us"],
             "diff_useful_pct": r["theor_diff_pct"],
             "diff_entries_pct": pct_diff(r["entries_us"], r["paper_theoretical_us"])} for r in t4.values()]


@dataclass(frozen=True)
class TheoreticalFit:
    """Whether the paper's theoretical column tracks useful MACs or all issued entries.

    Over ``rows`` rows with a published value that is not a known copy (``left_out``):
    mean |diff| against each, how many rows are ``closer`` to all entries, and the row
    where padding makes the most difference (``most``, a :func:`theoretical_rows` row).
    """

    rows: int
    mean_useful_pct: float
    mean_entries_pct: float
    closer: int
    most: dict
    left_out: list[str]


def theoretical_fit(rows: list[dict]) -> TheoreticalFit | None:
    """:class:`TheoreticalFit` of :func:`theoretical_rows`; ``None`` if no row compares."""
    fair = [r for r in rows if r["paper_us"] and r["layer"] not in PAPER_TYPOS]
    if not fair:
        return None
    return TheoreticalFit(
        rows=len(fair),
        mean_useful_pct=sum(abs(r["diff_useful_pct"]) for r in fair) / len(fair),
        mean_entries_pct=sum(abs(r["diff_entries_pct"]) for r in fair) / len(fair),
        closer=sum(abs(r["diff_entries_pct"]) < abs(r["diff_useful_pct"]) for r in fair),
        most=max(fair, key=lambda r: abs(r["diff_useful_pct"]) - abs(r["diff_entries_pct"])),
        left_out=sorted(PAPER_TYPOS & {r["layer"] for r in rows}))


def pointers_per_pe(n_in: int, cfg: EIEConfig) -> int:
    """Column pointers a PE holds for ``n_in`` inputs: one per column of the input padded
    to a multiple of the PEs, the bias column's and the end pointer."""
    return -(-n_in // cfg.pes) * cfg.pes + 2


def fc8_check_rows(runs: Runs) -> list[dict]:
    """The real FC8 layer at our queue depth and at the authors' (their simulator's cycles
    beside it), then the synthetic Alex-8 at the real densities if it ran; needs ``--fc8``."""
    q8, q7 = runs.rec(runs.fc8), runs.rec(runs.fc8, queue_depth=AUTHORS_QUEUE_DEPTH)
    rows = [{"run": f"real FC8, queue depth {runs.base.queue_depth} (our Table IV setting)", "cycles": q8["cycles"],
             "time_us": q8["time_us"], "authors_cycles": None, "match": None},
            {"run": f"real FC8, queue depth {AUTHORS_QUEUE_DEPTH} (the authors' {AUTHORS_RING_SLOTS}-slot ring "
                    f"holds {AUTHORS_QUEUE_DEPTH})", "cycles": q7["cycles"], "time_us": q7["time_us"],
             "authors_cycles": AUTHORS_FC8_CYCLES, "match": q7["cycles"] == AUTHORS_FC8_CYCLES}]
    if runs.diag is not None:
        dg = runs.rec(runs.diag)
        wd, ad = (100 * d for d in runs.fc8_density)
        rows.append({"run": f"synthetic Alex-8 at the real densities ({wd:.1f} % weights, {ad:.1f} % inputs)",
                     "cycles": dg["cycles"], "time_us": dg["time_us"], "authors_cycles": None, "match": None})
    return rows


# ---- the design-space sweeps ---------------------------------------------------------------
def sweep_series(runs: Runs, field: str, values, fn) -> list[dict]:
    """One series per layer: ``fn(record)`` with ``field`` set to each of ``values``."""
    return [{"label": ref.name, "y": [fn(runs.rec(ref, **{field: v})) for v in values]} for ref in runs.refs]


def mean_by_x(series: list[dict], xs: list) -> dict:
    """The mean over the series at each x."""
    return {x: sum(s["y"][i] for s in series) / len(series) for i, x in enumerate(xs)}


@dataclass(frozen=True)
class LineWidthSweep:
    """Fig 9: sparse-matrix line reads and their energy (µJ) per layer at each line
    ``widths`` (bits), the energy of one read (pJ) by width, and the energy relative to
    ``ref_width`` (64 bits if swept)."""

    widths: list
    reads: list[dict]
    energy_uj: list[dict]
    pj_per_read: dict
    ref_width: int
    relative: list[dict]


def line_width_sweep(runs: Runs, widths: list) -> LineWidthSweep:
    """:class:`LineWidthSweep` of the runs at ``widths``."""
    reads = sweep_series(runs, "line_bits", widths, lambda r: r["events"]["spmat_line_read"])
    energy = sweep_series(runs, "line_bits", widths, lambda r: r["energy_pj"]["by_component_pj"]["spmat_read"] / 1e6)
    per_read = {w: EnergyTable.default(runs.base.replace(line_bits=w)).spmat_line_read for w in widths}
    ref_w = 64 if 64 in widths else widths[0]
    rel = [{"label": s["label"], "y": [y / s["y"][widths.index(ref_w)] for y in s["y"]]} for s in energy]
    return LineWidthSweep(widths, reads, energy, per_read, ref_w, rel)


def energy_minima(energy: list[dict], widths: list) -> dict[str, list]:
    """Per layer, the widths whose energy is within :data:`FLAT_TOLERANCE` of its lowest."""
    minima = {}
    for s in energy:
        low = min(s["y"])
        minima[s["label"]] = [w for w, e in zip(widths, s["y"], strict=True) if e <= low * (1 + FLAT_TOLERANCE)]
    return minima


def all_inputs_nonzero(runs: Runs, names: list[str]) -> bool:
    """Whether every input of the named layers is non-zero (a dense input vector)."""
    return all(runs.rec(ref)["nonzero_inputs"] == runs.rec(ref)["n_in"] for ref in runs.refs if ref.name in names)


def alpha_window(label: str, ws: list, reads: list) -> dict:
    """The exponents α for which ``reads_w · w^α`` is lowest at w = 64 among the swept widths."""
    r64 = reads[ws.index(64)]
    lo, hi = -math.inf, math.inf
    row = {"layer": label}
    for w, r in zip(ws, reads, strict=True):
        if w == 64:
            continue
        row[f"r{w}"] = r / r64
        bound = math.log(r64 / r) / math.log(w / 64)     # r·w^α > r64·64^α  <=>  α·log(w/64) > log(r64/r)
        if w > 64:
            lo = max(lo, bound)
        else:
            hi = min(hi, bound)
    row["alpha_low"] = None if lo == -math.inf else lo
    row["alpha_high"] = None if hi == math.inf else hi
    row["window"] = lo < hi
    return row


def alpha_inside(alpha: float, row: dict) -> bool:
    """Whether ``alpha`` lies in the open window of an :func:`alpha_window` row."""
    lo = -math.inf if row["alpha_low"] is None else row["alpha_low"]
    hi = math.inf if row["alpha_high"] is None else row["alpha_high"]
    return lo < alpha < hi


def alpha_common(rows: list[dict]) -> bool:
    """Whether one α lies in the window of every :func:`alpha_window` row."""
    lo = max((r["alpha_low"] for r in rows if r["alpha_low"] is not None), default=-math.inf)
    hi = min((r["alpha_high"] for r in rows if r["alpha_high"] is not None), default=math.inf)
    return lo < hi


def pe_speedup(runs: Runs, ps: list) -> tuple[list[dict], list[float]]:
    """Fig 11: each layer's speedup at each PE count over the fewest PEs swept, and the ideal."""
    speed = sweep_series(runs, "pes", ps, lambda r: r["cycles"])
    for s in speed:
        c0 = s["y"][0]
        s["y"] = [c0 / c for c in s["y"]]
    return speed, [p / ps[0] for p in ps]


@dataclass(frozen=True)
class Superlinear:
    """A layer whose speedup first exceeds the ideal by over 2 % at ``pes`` PEs, and its
    record at the fewest PEs ``base_pes``: ``cycles``, issued ``entries`` (all PEs),
    LNZD ``groups_scanned``, ``n_in``, row ``passes``; ``scan_bound``: the scan cycles
    exceed the entries per PE, so the baseline was bound by the scan, not the work."""

    layer: str
    pes: int
    speedup: float
    base_pes: int
    cycles: int
    entries: int
    groups_scanned: int
    n_in: int
    passes: int
    scan_bound: bool


def superlinear(runs: Runs, speed: list[dict], ideal: list[float], ps: list) -> list[Superlinear]:
    """The layers of :func:`pe_speedup` that scale above the ideal line."""
    out = []
    for ref, sp in zip(runs.refs, speed, strict=True):
        over = [(p, y) for p, y, i in zip(ps, sp["y"], ideal, strict=True) if y > 1.02 * i]
        if not over:
            continue
        r0 = runs.rec(ref, pes=ps[0])
        scans, entries = r0["groups_scanned"], r0["useful_macs"] + r0["padding_entries"]
        out.append(Superlinear(sp["label"], over[0][0], over[0][1], ps[0], r0["cycles"], entries, scans, r0["n_in"],
                               r0["passes"], scans > entries / ps[0]))
    return out


def real_work(runs: Runs, ps: list) -> list[dict]:
    """Fig 12: useful entries / all entries issued (%), per layer and PE count."""
    return sweep_series(runs, "pes", ps,
                        lambda r: 100 * r["useful_macs"] / max(1, r["useful_macs"] + r["padding_entries"]))


def rising(series: list[dict], margin: float = 0.5) -> list[str]:
    """The series that end more than ``margin`` above where they start."""
    return [s["label"] for s in series if s["y"][-1] > s["y"][0] + margin]


def pe_load_efficiency(runs: Runs, ps: list) -> tuple[list[dict], list[dict]]:
    """Fig 13: load efficiency % (useful MACs / (cycles × PEs)) and ALU busy % (entries
    issued, padding included, / (cycles × PEs)), per layer and PE count."""
    eff = sweep_series(runs, "pes", ps, lambda r: 100 * r["load_efficiency"])
    busy = sweep_series(runs, "pes", ps, lambda r: 100 * r["events"]["codebook_read"] / (r["cycles"] * r["pes"]))
    return eff, busy


@dataclass(frozen=True)
class EfficiencyDrop:
    """Load efficiency % at the most PEs (``lowest``-``highest`` over the layers) and the
    layer whose efficiency falls most from ``from_pes`` (64 if swept) to the most PEs
    (``worst``, from ``worst_from`` to ``worst_to`` %)."""

    lowest: float
    highest: float
    from_pes: int
    worst: str
    worst_from: float
    worst_to: float


def efficiency_drop(eff: list[dict], ps: list) -> EfficiencyDrop:
    """:class:`EfficiencyDrop` of the load-efficiency series of :func:`pe_load_efficiency`."""
    last = {s["label"]: s["y"][-1] for s in eff}
    i64 = ps.index(64) if 64 in ps else len(ps) - 1
    drop = {s["label"]: s["y"][i64] - s["y"][-1] for s in eff}
    worst = max(drop, key=drop.get)
    return EfficiencyDrop(min(last.values()), max(last.values()), ps[i64], worst, last[worst] + drop[worst],
                          last[worst])
