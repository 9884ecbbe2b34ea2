"""Answers from a sweep: designs over all workloads, Pareto fronts, the best design under
constraints, and which axis moves which metric (docs/dse.md §6).

A **design** is one combination of axis values (a configuration and a target).  Over the
spec's workloads it has: energy = the sum of the workloads' energies, latency = the sum of
their times (run one after the other), average power = energy / latency, area (the same
for every workload), energy-delay product = energy x latency.  A design is *complete* when
every workload of it was evaluated without error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["METRICS", "Design", "collect", "pareto_mask", "front", "fitting_front", "best_under", "sensitivity",
           "objective_value"]

#: metric name -> (record / design attribute, unit, what "lower" means)
METRICS = {
    "energy": ("energy_pj", "pJ"),
    "latency": ("time_us", "µs"),
    "power": ("power_mw", "mW"),
    "area": ("area_mm2", "mm²"),
    "edp": ("edp", "pJ·µs"),
}


#: what a design keeps of each workload's record (the rest stays in the database)
KEPT = ("energy_pj", "time_us", "power_mw", "edp", "fits")


@dataclass
class Design:
    """One design over the workloads (see the module docstring)."""

    label: str
    target: str
    axes: dict
    config: dict
    area_mm2: float = 0.0
    workloads: dict = field(default_factory=dict)     # name -> the metrics of its ok point (KEPT)
    errors: dict = field(default_factory=dict)        # name -> error message

    @property
    def complete(self) -> bool:
        return not self.errors

    @property
    def energy_pj(self) -> float:
        return sum(r["energy_pj"] for r in self.workloads.values())

    @property
    def time_us(self) -> float:
        return sum(r["time_us"] for r in self.workloads.values())

    @property
    def power_mw(self) -> float:
        t = self.time_us
        return self.energy_pj / t * 1e-3 if t else 0.0

    @property
    def edp(self) -> float:
        return self.energy_pj * self.time_us

    @property
    def fits(self) -> bool:
        return all(r["fits"] for r in self.workloads.values())

    def metric(self, name: str) -> float:
        return getattr(self, METRICS[name][0])

    def summary(self) -> dict:
        return {"design": self.label, "target": self.target, **{k: v for k, v in self.axes.items()},
                "energy_pj": self.energy_pj, "time_us": self.time_us, "power_mw": self.power_mw,
                "area_mm2": self.area_mm2, "edp": self.edp, "fits": self.fits,
                "workloads": {n: {k: r[k] for k in ("time_us", "energy_pj", "power_mw", "fits")}
                              for n, r in self.workloads.items()}}


def collect(pairs) -> list[Design]:
    """Designs from ``(point, stored row or None)`` pairs (:func:`eie.dse.export.joined`), in
    the order they first appear; a point without an ``ok`` row is an error of its design."""
    from .evaluate import design_label
    designs: dict = {}
    for point, row in pairs:
        label = design_label(point.axes)
        d = designs.get(label)
        if d is None:
            d = designs[label] = Design(label, point.target, dict(point.axes), {}, float("nan"))
        rec = row["record"] if row is not None and row["status"] == "ok" else None
        if rec is None:
            d.errors[point.workload.name] = row["error"] if row is not None else "not evaluated"
            continue
        d.config, d.area_mm2 = rec["config"], rec["area_mm2"]
        d.workloads[point.workload.name] = {k: rec[k] for k in KEPT}
    return list(designs.values())


def pareto_mask(values) -> np.ndarray:
    """Rows of ``values`` (n x k, all minimised) that no other row dominates (as good in
    every column and better in one).  Equal rows all stay."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    keep = np.ones(n, dtype=bool)
    for start in range(0, n, 256):
        block = v[start:start + 256]
        le = (v[None, :, :] <= block[:, None, :]).all(axis=2)
        lt = (v[None, :, :] < block[:, None, :]).any(axis=2)
        keep[start:start + 256] = ~(le & lt).any(axis=1)
    return keep


def front(designs: list[Design], metrics=("energy", "latency", "area"), workload: str | None = None,
          require_fit: bool = True) -> list[Design]:
    """The designs that are Pareto-optimal in ``metrics``, sorted by the first metric: over
    all workloads, among the complete designs (that fit every workload's memories, with
    ``require_fit``); or over one ``workload``, among the designs that ran it (and fit it:
    a design too small for another workload is still on this one's front)."""
    if workload is not None:
        cand = [d for d in designs if workload in d.workloads and (d.workloads[workload]["fits"] or not require_fit)]
        vals = [[_workload_metric(d, workload, m) for m in metrics] for d in cand]
    else:
        cand = [d for d in designs if d.complete and (d.fits or not require_fit)]
        vals = [[d.metric(m) for m in metrics] for d in cand]
    if not cand:
        return []
    mask = pareto_mask(vals)
    chosen = [(v, d) for v, d, k in zip(vals, cand, mask, strict=True) if k]
    return [d for _, d in sorted(chosen, key=lambda t: t[0])]


def fitting_front(designs: list[Design], **kw) -> tuple[list[Design], bool]:
    """:func:`front` of the designs that fit; when none fits, of all complete designs.
    Returns the front and whether it required the fit."""
    fr = front(designs, **kw)
    w = kw.get("workload")
    if fr or not any((w in d.workloads) if w is not None else d.complete for d in designs):
        return fr, True
    return front(designs, require_fit=False, **kw), False


def _workload_metric(d: Design, workload: str, metric: str) -> float:
    r = d.workloads[workload]
    return d.area_mm2 if metric == "area" else r[METRICS[metric][0]]


def objective_value(d: Design, objective: str) -> float:
    return d.metric(objective)


def best_under(designs: list[Design], objective: str, max_area: float | None = None, max_power: float | None = None,
               max_latency: float | None = None) -> tuple[Design | None, int]:
    """The complete, fitting design with the lowest ``objective`` among those within the
    limits: chip area <= ``max_area`` mm², every workload's average power <= ``max_power``
    mW and time <= ``max_latency`` µs.  Returns it (None if none qualifies) and how many
    designs qualified."""
    ok = []
    for d in designs:
        if not (d.complete and d.fits):
            continue
        if max_area is not None and d.area_mm2 > max_area:
            continue
        if max_power is not None and any(r["power_mw"] > max_power for r in d.workloads.values()):
            continue
        if max_latency is not None and any(r["time_us"] > max_latency for r in d.workloads.values()):
            continue
        ok.append(d)
    if not ok:
        return None, 0
    # on a tie the smaller chip, then less energy, then less time: never a design another one
    # of the tie dominates (the label, compared as text, had preferred "128" to "64")
    return min(ok, key=lambda d: (objective_value(d, objective), d.area_mm2, d.energy_pj, d.time_us,
                                  d.label)), len(ok)


def sensitivity(designs: list[Design], axes: list[str], metrics=tuple(METRICS)) -> list[dict]:
    """For each axis and metric, how far the metric moves when only that axis changes.

    The complete designs are grouped into *lines* that agree on every other axis; on each
    line with at least two values of the axis, the spread is max / min of the metric.  A
    row gives, per metric, the median spread over the lines (``<metric>``, 1.0 = no effect)
    and the median sign of (metric at the axis's last value - at its first, in spec order:
    ``<metric>_dir`` +1 rises, -1 falls, 0 mixed or flat)."""
    done = [d for d in designs if d.complete]
    rows = []
    for axis in axes:
        lines: dict = {}
        for d in done:
            rest = tuple((k, v) for k, v in d.axes.items() if k != axis)
            lines.setdefault(rest, []).append(d)
        row = {"axis": axis}
        for m in metrics:
            spreads, signs = [], []
            for line in lines.values():
                if len({d.axes[axis] for d in line}) < 2:
                    continue
                vals = [d.metric(m) for d in line]
                lo, hi = min(vals), max(vals)
                if lo > 0 and math.isfinite(hi):
                    spreads.append(hi / lo)
                signs.append(np.sign(vals[-1] - vals[0]))
            row[m] = float(np.median(spreads)) if spreads else None
            row[f"{m}_dir"] = int(np.sign(np.median(signs))) if signs else 0
        rows.append(row)
    return rows
