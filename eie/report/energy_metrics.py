"""The report's energy and platform numbers from the runs: energy by component, EIE
against weights from DRAM, the saving decomposed, and speed and energy against the
paper's CPU/GPU baselines and this machine's CPU.

Functions from a :class:`~eie.report.runs.Runs` (and the Table IV rows of
:func:`eie.report.metrics.table4_rows`) to table rows: dicts, written as JSON as they
are.  The sentences are in :mod:`eie.report.energy_text`.
"""

from __future__ import annotations

import math

from ..energy import COMPONENTS, EnergyTable, fixed16_mac_pj
from .published import HEADLINES, PAPER_CHIP_MW, PAPER_PLATFORMS_US, PAPER_SAVING, PLATFORMS
from .runs import Runs

__all__ = ["ENERGY_PARTS", "geomean", "ratio", "energy_rows", "dram_rows", "saving_row", "saving_rows",
           "paper_saving_row", "saving_geomeans", "implied_platform_w", "platform_layers", "speedup_rows",
           "energy_efficiency_rows", "machine_series", "machine_rows"]

#: The energy components of a breakdown row: the model's, then static energy.
ENERGY_PARTS = (*COMPONENTS, "static")


def geomean(values):
    """Geometric mean of the positive values (``None`` and non-positive ones skipped)."""
    vals = [v for v in values if v is not None and v > 0]
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else None


def ratio(a, b):
    """``a / b``; ``None`` if ``a`` is ``None`` or ``b`` is missing or zero."""
    return None if a is None or not b else a / b


def _mul(a, b):
    return None if a is None else a * b


def _geomean_row(rows: list[dict], skip=("layer",)) -> dict:
    return {"layer": "geometric mean", **{k: geomean([r[k] for r in rows]) for k in rows[0] if k not in skip}}


# ---- EIE's own energy ----------------------------------------------------------------------
def energy_rows(runs: Runs) -> list[dict]:
    """Per layer at the design point: µJ by component (:data:`ENERGY_PARTS`), total,
    average power (mW) and the sparse-matrix SRAM's share (%)."""
    rows = []
    for ref in runs.refs:
        e = runs.rec(ref)["energy_pj"]
        by = e["by_component_pj"]
        rows.append({"layer": ref.name, **{c: by[c] / 1e6 for c in ENERGY_PARTS}, "total_uj": e["total_pj"] / 1e6,
                     "power_mw": e["avg_power_mw"], "spmat_share_pct": 100 * by["spmat_read"] / e["total_pj"]})
    return rows


def dram_rows(runs: Runs) -> list[dict]:
    """Per layer, µJ per inference: EIE, and the same layer with its weights from DRAM
    (compressed or dense) or dense from SRAM (the record's ``dram_baselines``)."""
    rows = []
    for ref in runs.refs:
        r = runs.rec(ref)
        d = r["dram_baselines"]
        rows.append({"layer": ref.name, "eie_uj": r["energy_pj"]["total_pj"] / 1e6,
                     "compressed_dram_uj": d["compressed_dram_pj"] / 1e6,
                     "dense_sram_uj": d["dense_sram_pj"] / 1e6, "dense_dram_uj": d["dense_dram_pj"] / 1e6,
                     "dense_dram_over_eie": d["dense_dram_over_eie"],
                     "compressed_dram_over_eie": d["compressed_dram_over_eie"]})
    return rows


def saving_row(name: str, r: dict, t: EnergyTable) -> dict:
    """EIE's saving over dense weights from DRAM as a product of factors, each a ratio of
    two energies E1..E5 built from the Table I primitives of ``t`` (see the report's
    section 3.3), so that the factors multiply exactly to dense DRAM / EIE."""
    d_, s_, m_ = t.dram_read_32_pj, t.sram_read_32_pj, t.float_mult_32_pj + t.float_add_32_pj
    f_, b = fixed16_mac_pj(t), 4
    big_d = r["n_in"] * r["n_out"]
    z, u = r["weight_nonzeros"], r["useful_macs"]
    e1, e2, e3 = big_d * (d_ + m_), big_d * (s_ + m_), z * (s_ + m_)
    e4, e5 = z * (s_ * b / 32 + f_), u * (s_ * b / 32 + f_)
    eie = r["energy_pj"]["total_pj"]
    return {"layer": name, "dram_to_sram": e1 / e2, "sparsity": e2 / e3, "weight_sharing": e3 / e4,
            "zero_activations": e4 / e5, "overheads": e5 / eie, "total": e1 / eie,
            "memory_only_sram": d_ / s_, "memory_only_sharing": 32 / b,
            "energies_pj": {"E1": e1, "E2": e2, "E3": e3, "E4": e4, "E5": e5, "EIE": eie}}


def saving_rows(runs: Runs) -> list[dict]:
    """:func:`saving_row` of each layer at the design point."""
    table = EnergyTable.default(runs.base)
    return [saving_row(ref.name, runs.rec(ref), table) for ref in runs.refs]


def paper_saving_row() -> dict:
    """The paper's factors as a row of the saving table."""
    return {"layer": "paper", **PAPER_SAVING, "overheads": None, "total": math.prod(PAPER_SAVING.values()),
            "memory_only_sram": None, "memory_only_sharing": None}


def saving_geomeans(rows: list[dict]) -> dict:
    """Geometric means of the factors of :func:`saving_rows` over the layers."""
    return {k: geomean([r[k] for r in rows])
            for k in ("dram_to_sram", "sparsity", "weight_sharing", "zero_activations", "overheads", "total")}


# ---- the paper's platforms and this machine ------------------------------------------------
def implied_platform_w() -> dict:
    """The platform power (W) the headlines imply: energy ratio / speed ratio × chip power."""
    return {p: PAPER_CHIP_MW / 1e3 * e / s for p, (s, e) in HEADLINES.items()}


def platform_layers(runs: Runs) -> list[str]:
    """The layers of the run that have published platform times."""
    return [ref.name for ref in runs.refs if ref.name in PAPER_PLATFORMS_US]


def speedup_rows(t4: dict, names: list[str], dense: bool) -> list[dict]:
    """Platform time / EIE time (ours and the paper's) per layer for the platforms running
    the dense or the pruned layer, then the geometric-mean row."""
    idx = 0 if dense else 1
    rows = []
    for n in names:
        row = {"layer": n, "eie_us": t4[n]["time_us"], "paper_eie_us": t4[n]["paper_actual_us"]}
        for p in PLATFORMS:
            tp = PAPER_PLATFORMS_US[n][p][idx]
            row[f"{p}_us"] = tp
            row[f"{p}_ours"] = tp / t4[n]["time_us"]
            row[f"{p}_paper"] = ratio(tp, t4[n]["paper_actual_us"])
        rows.append(row)
    return rows + [_geomean_row(rows)]


def energy_efficiency_rows(t4: dict, energy_by_layer: dict, names: list[str], implied_w: dict) -> list[dict]:
    """Platform energy (dense time × implied power) / EIE energy, with EIE priced by the
    model (ours) and by the paper's time × chip power (paper), then the geometric mean."""
    rows = []
    for n in names:
        eie_uj = energy_by_layer[n]["total_uj"]
        row = {"layer": n, "eie_uj": eie_uj, "paper_eie_uj": _mul(t4[n]["paper_actual_us"], PAPER_CHIP_MW / 1e3)}
        for p in PLATFORMS:
            e_p = PAPER_PLATFORMS_US[n][p][0] * implied_w[p]        # µs x W = µJ
            row[f"{p}_uj"] = e_p
            row[f"{p}_ours"] = e_p / eie_uj
            row[f"{p}_paper"] = ratio(e_p, row["paper_eie_uj"])
        rows.append(row)
    return rows + [_geomean_row(rows)]


def machine_series(runs: Runs, t4: dict, names: list[str]) -> list[dict]:
    """This CPU's time / EIE time per named layer, for the speedup figure (none without timings)."""
    if not runs.timings:
        return []
    return [{"label": "this CPU, numpy dense", "values": [ratio(runs.timings[n]["numpy_dense_us"], t4[n]["time_us"])
                                                          if n in runs.timings else None for n in names]},
            {"label": "this CPU, scipy CSR", "values": [ratio(runs.timings[n]["scipy_csr_us"], t4[n]["time_us"])
                                                        if n in runs.timings else None for n in names]}]


def machine_rows(runs: Runs, t4: dict, energy_by_layer: dict, cpu_w: float) -> list[dict]:
    """EIE against this machine's numpy and scipy mat-vec per layer (time, and energy at
    ``cpu_w`` watts), with the paper's CPU times beside them, then the geometric mean."""
    rows = []
    for ref in runs.refs:
        t = runs.timings[ref.name]
        eie = t4[ref.name]["time_us"]
        e_uj = energy_by_layer[ref.name]["total_uj"]
        paper = PAPER_PLATFORMS_US.get(ref.name, {}).get("cpu", (None, None))
        rows.append({"layer": ref.name, "numpy_dense_us": t["numpy_dense_us"], "scipy_csr_us": t["scipy_csr_us"],
                     "paper_cpu_dense_us": paper[0], "paper_cpu_sparse_us": paper[1], "eie_us": eie,
                     "speedup_numpy": t["numpy_dense_us"] / eie, "speedup_scipy": t["scipy_csr_us"] / eie,
                     "energy_numpy": t["numpy_dense_us"] * cpu_w / e_uj,
                     "energy_scipy": t["scipy_csr_us"] * cpu_w / e_uj,
                     "reps": min(t["numpy_dense_reps"], t["scipy_csr_reps"])})
    return rows + [_geomean_row(rows, skip=("layer", "reps"))]
