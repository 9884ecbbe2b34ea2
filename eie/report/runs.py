"""What the paper report simulates: the Sec VI sweeps, the points they make, the runs.

Every point goes through :mod:`eie.sweep` (compile → simulate → record_of, the path of
``eie simulate``).  :func:`run_sweeps` returns a :class:`Runs`, the records every metric
of the report is computed from (:mod:`eie.report.metrics`,
:mod:`eie.report.energy_metrics`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from ..bench import LayerSpec
from ..config import EIEConfig
from ..errors import ConfigError
from ..sweep import LayerRef, Point, Progress, count_distinct, run_points, time_matvec
from .published import AUTHORS_RING_SLOTS

__all__ = ["FC8_NAME", "AUTHORS_QUEUE_DEPTH", "PaperSweeps", "Runs", "run_sweeps"]

#: The report's name for the real AlexNet FC8 layer (``--fc8``); no spec layer may use it.
FC8_NAME = "Alex-8 (real FC8)"
#: The queue depth that matches the authors' simulator: their ring holds one entry fewer
#: than it has slots, and our ``queue_depth`` counts entries held.
AUTHORS_QUEUE_DEPTH = AUTHORS_RING_SLOTS - 1


@dataclass(frozen=True)
class PaperSweeps:
    """The Sec VI sweeps: activation-queue depths (Fig 8), SRAM line widths in bits (Fig 9)
    and PE counts (Figs 11-13).  Each value must make a valid :class:`EIEConfig`."""

    queue_depths: tuple = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    line_bits: tuple = (32, 64, 128, 256, 512)
    pes: tuple = (1, 2, 4, 8, 16, 32, 64, 128, 256)

    def __post_init__(self):
        base = EIEConfig()
        for attr, field in (("queue_depths", "queue_depth"), ("line_bits", "line_bits"), ("pes", "pes")):
            values = getattr(self, attr)
            if not isinstance(values, (tuple, list)) or not values:
                raise ConfigError(f"{attr} must be a non-empty list of integers, not {values!r}")
            for v in values:
                base.replace(**{field: v})          # raises ConfigError naming the field and rule
            object.__setattr__(self, attr, tuple(sorted(set(values))))


@dataclass
class Runs:
    """The records of one report run.

    ``records`` maps each :class:`~eie.sweep.Point` to its ``record_of`` dict (equal
    configurations share one record); ``timings`` maps a layer name to its
    :func:`~eie.sweep.time_matvec` result (empty with ``--no-timing``).  ``fc8`` is the
    real FC8 layer (``--fc8``), ``diag`` a synthetic Alex-8 at its densities, and
    ``fc8_density`` its measured ``(weight, activation)`` densities; all ``None`` without
    ``--fc8``.  ``points``: distinct simulated points; ``wall_s``: time of the runs.
    """

    base: EIEConfig
    refs: list[LayerRef]
    records: dict
    timings: dict
    fc8: LayerRef | None
    diag: LayerRef | None
    fc8_density: tuple | None
    points: int
    wall_s: float

    def rec(self, ref: LayerRef, **changes) -> dict:
        """The record of ``ref`` at the design point with ``changes``."""
        return self.records[Point.make(ref, **changes)]

    def layer(self, name: str) -> LayerRef:
        """The spec layer called ``name``."""
        return self.refs[[ref.name for ref in self.refs].index(name)]

    def mismatches(self) -> list[str]:
        """The distinct points whose fixed-point outputs missed the float reference."""
        distinct = {id(r): (p, r) for p, r in self.records.items()}.values()    # equal configurations share a record
        return [f"{p.layer.name} {dict(p.changes)}" for p, r in distinct if r.get("outputs_match_reference") is False]


def _plan(specs: list[LayerSpec], fc8: str | None, sweeps: PaperSweeps):
    """The layers, the points to simulate and the real FC8 layer's extras (see :class:`Runs`)."""
    refs = [LayerRef.of_spec(s) for s in specs]
    points = []
    for ref in refs:
        points.append(Point.make(ref))
        points += [Point.make(ref, queue_depth=q) for q in sweeps.queue_depths]
        points += [Point.make(ref, line_bits=w) for w in sweeps.line_bits]
        points += [Point.make(ref, pes=n) for n in sweeps.pes]
    fc8_ref = diag = density = None
    if fc8 is not None:
        fc8_ref = LayerRef.of_file(fc8, FC8_NAME)
        layer = fc8_ref.load()                     # checks the file before any work starts
        density = (float((layer.codes != 0).mean()), float((layer.activations != 0).mean()))
        points += [Point.make(fc8_ref), Point.make(fc8_ref, queue_depth=AUTHORS_QUEUE_DEPTH)]
        alex8 = next((s for s in specs if s.name == "Alex-8"), None)
        if alex8 is not None:
            diag = LayerRef.of_spec(replace(alex8, name="Alex-8 synthetic at the real FC8's densities",
                                            weight_density=round(density[0], 6), act_density=round(density[1], 6)))
            points.append(Point.make(diag))
    return refs, points, fc8_ref, diag, density


def run_sweeps(specs: list[LayerSpec], fc8: str | None, sweeps: PaperSweeps, jobs: int, timing: bool,
               stream) -> Runs:
    """Simulate every point of the report on ``jobs`` workers (progress on ``stream``),
    then, if ``timing``, time each layer's mat-vec on this machine with nothing else running."""
    t0 = time.perf_counter()
    base = EIEConfig()
    refs, points, fc8_ref, diag, density = _plan(specs, fc8, sweeps)
    n_points = count_distinct(points, base)
    seq = [(time_matvec, (ref,), 1, f"{ref.name} numpy/scipy timing") for ref in refs] if timing else []
    progress = Progress(n_points + len(seq), "eie report", stream=stream)
    try:
        records, timed = run_points(points, base, jobs, progress, sequential=seq)
    finally:
        progress.close()
    return Runs(base, refs, records, {t["name"]: t for t in timed}, fc8_ref, diag, density, n_points,
                time.perf_counter() - t0)
