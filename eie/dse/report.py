"""The sweep report (``eie dse --report DIR``): Markdown + HTML, Pareto plots, tables with
their JSON (docs/dse.md §6), built on :mod:`eie.report.doc`."""

from __future__ import annotations

from ..report.doc import Column, Doc, Figure, Table
from .analysis import METRICS, Design, fitting_front

__all__ = ["build_report", "SCALE"]

#: metric -> (divisor, unit shown): energies in µJ, EDP in µJ·µs
SCALE = {"energy": (1e6, "µJ"), "latency": (1.0, "µs"), "power": (1.0, "mW"), "area": (1.0, "mm²"),
         "edp": (1e6, "µJ·µs")}


def _cols(metrics=("energy", "latency", "area", "power", "edp")) -> list[Column]:
    return [Column(m, f"{m} {SCALE[m][1]}", "num", 3) for m in metrics]


def _row(d: Design, workload: str | None = None) -> dict:
    row = {"design": d.label, "target": d.target, "fits": d.fits}
    for m in SCALE:
        if workload is None:
            v = d.metric(m)
        else:
            r = d.workloads[workload]
            v = d.area_mm2 if m == "area" else r[METRICS[m][0]]
        row[m] = v / SCALE[m][0]
    return row


def _scatter(name: str, caption: str, designs: list[Design], fr: list[Design], x: str, y: str,
             fitted: bool) -> Figure:
    done = [d for d in designs if d.complete and (d.fits or not fitted)]
    series = [{"label": "designs", "x": [d.metric(x) / SCALE[x][0] for d in done],
               "y": [d.metric(y) / SCALE[y][0] for d in done]}]
    pts = sorted((d.metric(x) / SCALE[x][0], d.metric(y) / SCALE[y][0]) for d in fr)
    series.append({"label": "Pareto front (energy, latency, area)", "x": [p[0] for p in pts],
                   "y": [p[1] for p in pts], "line": False})
    return Figure(name, caption, {"panels": [{"type": "scatter", "series": series, "xlabel": f"{x} {SCALE[x][1]}",
                                              "ylabel": f"{y} {SCALE[y][1]}", "xscale": "log", "yscale": "log"}],
                                  "width": 6.5, "height": 4.6})


def _sensitivity(doc: Doc, sens: list[dict]) -> None:
    doc.heading(1, "Sensitivity")
    doc.para("Median over the lines of designs that differ in one axis only of max / min of the metric along the "
             "line (1.00 = the axis does not move it); ↑ the metric rises from the axis's first value to its last "
             "(in spec order), ↓ it falls. The largest of each column is the axis that moves that metric most.")
    rows = []
    for r in sens:
        row = {"axis": r["axis"]}
        for m in SCALE:
            v = r[m]
            arrow = {1: " ↑", -1: " ↓"}.get(r[f"{m}_dir"], "")
            row[m] = None if v is None else f"×{v:.2f}{arrow}"
        rows.append(row)
    most = {m: max((r for r in sens if r[m] is not None), key=lambda r: r[m], default=None) for m in SCALE}
    doc.table(Table("sensitivity", "Which axis moves which metric", [Column("axis", "axis", "text")]
                    + [Column(m, m, "text") for m in SCALE], rows,
                    notes=["Moves most: " + "; ".join(f"{m}: {r['axis']}" for m, r in most.items() if r)]))


def build_report(spec, designs: list[Design], counts, best, constraints: dict, sens: list[dict],
                 failures: list[dict]) -> Doc:
    """The report of one sweep (``best``: ``(design, qualifying count)``)."""
    doc = Doc(f"Design-space exploration: {spec.name}")
    axes = ", ".join(f"`{a.name}` ({len(a.values)})" for a in spec.axes)
    doc.para(f"{spec.n_designs:,} designs ({axes}) × {len(spec.workloads)} workloads "
             f"({', '.join(w.name for w in spec.workloads)}) = {spec.n_points:,} points: {counts.computed:,} computed "
             f"this run ({counts.failed:,} failed), {counts.reused:,} from the database. Energy: the "
             f"`{spec.energy_table if spec.energy_table in ('fc8', 'steady') else 'file'}` table (docs/energy.md); "
             f"area: the 45 nm model calibrated on EIE Table II (docs/area.md). Over the workloads a design's energy "
             f"and latency add up (run one after the other); power = energy / latency.")
    fr, fitted = fitting_front(designs)
    doc.heading(1, "Best design")
    limits = ", ".join(f"{k} ≤ {v:g}" for k, v in constraints.items() if v is not None) or "no limits"
    d, n_ok = best
    if d is None:
        doc.para(f"No complete design that fits its memories meets the limits ({limits}).")
    else:
        doc.para(f"Lowest {spec.objective} under {limits} ({n_ok:,} designs qualify): **{d.label}**.")
        doc.table(Table("best", "Best design per workload", [Column("workload", "workload", "text")]
                        + _cols(("energy", "latency", "power")) + [Column("fits", "fits", "bool")],
                        [{"workload": w, **_row(d, w)} for w in d.workloads]))
    doc.heading(1, "Pareto front")
    if fitted:
        doc.para(f"{len(fr)} of {sum(x.complete and x.fits for x in designs)} complete designs that fit their "
                 f"memories are Pareto-optimal in energy, latency and area (no other is as good in all three and "
                 f"better in one).")
    else:
        doc.para(f"No design fits the memories with every workload (`fit_problems` of each point says why), so the "
                 f"front below ignores the memory sizes: {len(fr)} of {sum(x.complete for x in designs)} complete "
                 f"designs are Pareto-optimal in energy, latency and area.")
    design_cols = [Column("design", "design", "text"), Column("target", "target", "text")]
    doc.table(Table("pareto", "Pareto front over all workloads (sorted by energy)", design_cols + _cols(),
                    [_row(x) for x in fr]))
    doc.figure(_scatter("energy_latency", "Energy vs latency, all workloads (log scales)", designs, fr,
                        "latency", "energy", fitted))
    doc.figure(_scatter("area_latency", "Area vs latency, all workloads (log scales)", designs, fr, "latency", "area", fitted))
    doc.figure(_scatter("energy_area", "Energy vs area, all workloads (log scales)", designs, fr, "area", "energy", fitted))
    if len(spec.workloads) > 1:
        for i, w in enumerate(spec.workloads):
            wf, w_fitted = fitting_front(designs, workload=w.name)
            caption = f"Pareto front of {w.name}" + ("" if w_fitted else
                                                      " (no design fits its memories: memory sizes ignored)")
            doc.table(Table(f"pareto_{i}", caption, design_cols + _cols(), [_row(x, w.name) for x in wf]))
    _sensitivity(doc, sens)
    if failures:
        doc.heading(1, "Failed points")
        doc.table(Table("failures", f"Failed points ({len(failures)}; the first 50)",
                        [Column("workload", "workload", "text"), Column("design", "design", "text"),
                         Column("error", "error", "text")], failures[:50]))
    return doc
