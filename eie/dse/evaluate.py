"""Evaluating sweep points: keys, tasks and the worker's side (docs/dse.md §3, §5).

A **point** is one workload on one design (a configuration and a target).  Points are
grouped into **tasks** that share a compiled image: the same workload and the fields the
images depend on (:data:`IMAGE_FIELDS`).  In a task, points that also share the fields the
values depend on (:data:`VALUE_FIELDS`) are simulated once and moved to the others with
:func:`eie.model.retime` (queue depth, clock, line width, LNZD fan-in, SRAM sizes, pointer
width: :data:`eie.model.RETIME_FIELDS`).  A point that fails (an exception in its
compile, simulation or pricing) gets an error message instead of a record; the others go on.

A record holds the point's cycles, time, energy by component, average power, area by
component, energy-delay product, load efficiency, whether it fits the memories and why
not, and per layer the same in brief.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass

from ..config import EIEConfig
from .spec import ASIC, TARGET_AXIS, Spec
from .workload import Workload, load_layers

__all__ = ["IMAGE_FIELDS", "VALUE_FIELDS", "RECORD_VERSION", "TASK_POINTS", "Point", "Task", "point_key", "make_points",
           "make_tasks", "run_task", "design_label"]

#: EIEConfig fields a compiled image depends on [arch §2-§3] (weight_bits: the codebook
#: size a dense or synthetic layer is shared to)
IMAGE_FIELDS = ("pes", "index_bits", "regfile_entries", "weight_bits")
#: fields the values depend on beside the image [arch §4]
VALUE_FIELDS = ("act_bits", "codebook_bits", "acc_bits")
#: the layout and meaning of a record; part of every key, so a new one recomputes (2: a
#: network's chained fc layers run on the previous layer's fixed-point outputs, not on its
#: float result)
RECORD_VERSION = 2


@dataclass(frozen=True)
class Point:
    """One workload on one design; ``config`` None when the axis values do not make a valid
    configuration (``error`` says why)."""

    key: str
    workload: Workload
    axes: tuple                    # (axis, value) pairs
    target: str
    config: EIEConfig | None
    error: str | None = None


@dataclass(frozen=True)
class Task:
    """Points of one workload sharing a compiled image, and how to price them."""

    workload: Workload
    points: tuple[Point, ...]
    energy_table: str
    reference_check: bool
    fpga: dict                     # target -> record, for the targets of these points


def design_label(axes) -> str:
    """``pes=32 queue_depth=8``: a design by its axis values, each exact (a float as its
    shortest round-trip text; ``800.0`` as ``800``): designs are grouped by this label, and
    ``{v:g}``'s six digits had merged ``clock_mhz = 1234.5671`` with ``1234.5674``."""
    def text(v) -> str:
        if isinstance(v, float):
            short = f"{v:g}"
            return short if float(short) == v else repr(v)
        return str(v)
    return " ".join(f"{k}={text(v)}" for k, v in axes)


def _table_id(energy_table: str) -> str:
    if energy_table in ("fc8", "steady"):
        return energy_table
    with open(energy_table, "rb") as fh:
        return "sha256:" + hashlib.sha256(fh.read()).hexdigest()


def _canonical(config: dict) -> dict:
    """``config`` with every number of a float field as a float: ``clock_mhz = 800`` and
    ``800.0`` are one configuration, so one point (they had been keyed apart and computed
    twice)."""
    floats = {f.name for f in dataclasses.fields(EIEConfig) if f.type in ("float", float)}
    return {k: float(v) if k in floats and isinstance(v, int) and not isinstance(v, bool) else v
            for k, v in config.items()}


def point_key(config: dict, target: str, workload: Workload, table_id: str, reference_check: bool,
              fpga_record: str | None = None) -> str:
    """The key of a point: a hash of its configuration and target, its workload's content,
    the energy table, the reference check, the eie version and the record layout; for an
    FPGA target also the content of its record (``fpga_record``, :func:`record_id`: a
    re-synthesised record, or another one under the same name, had reused the old
    resources and fit verdicts)."""
    from .. import __version__
    doc = {"config": _canonical(config), "target": target, "workload": workload.digest, "energy_table": table_id,
           "reference_check": reference_check, "eie": __version__, "record": RECORD_VERSION}
    if fpga_record is not None:
        doc["fpga_record"] = fpga_record
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def record_id(record: dict) -> str:
    """The content hash of an FPGA record (its file name left out)."""
    body = {k: v for k, v in record.items() if k != "_file"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def make_points(spec: Spec) -> list[Point]:
    """Every point of ``spec``: workloads outermost, then the designs in spec order.  An FPGA
    target runs at its record's median Fmax unless ``clock_mhz`` is an axis."""
    from ..errors import EIEError
    from .fpga import fpga_clock_mhz
    table_id = _table_id(spec.energy_table)
    designs = []
    for values in spec.designs():
        target = values.get(TARGET_AXIS, ASIC)
        changes = {k: v for k, v in values.items() if k != TARGET_AXIS}
        if target != ASIC and "clock_mhz" not in changes:
            changes["clock_mhz"] = fpga_clock_mhz(spec.fpga[target])
        try:
            cfg, error = spec.base.replace(**changes), None
        except EIEError as exc:
            cfg, error = None, f"ConfigError: {exc}"
        as_dict = cfg.to_dict() if cfg is not None else {**spec.base.to_dict(), **changes}
        designs.append((tuple(values.items()), target, cfg, as_dict, error))
    records = {name: record_id(rec) for name, rec in spec.fpga.items()}
    return [Point(point_key(d, target, w, table_id, spec.reference_check, records.get(target)), w, axes, target,
                  cfg, error)
            for w in spec.workloads for axes, target, cfg, d, error in designs]


#: most points in one task: a group sharing an image is cut into tasks of this many, so
#: that a sweep of one image still spreads over the workers (each task compiles again)
TASK_POINTS = 32


def make_tasks(spec: Spec, points) -> list[Task]:
    """Group ``points`` (valid ones) into tasks by workload and image (at most
    :data:`TASK_POINTS` each), the largest first."""
    groups: dict = {}
    for p in points:
        groups.setdefault((p.workload, tuple(getattr(p.config, f) for f in IMAGE_FIELDS)), []).append(p)
    tasks = [Task(w, tuple(ps[i:i + TASK_POINTS]), spec.energy_table, spec.reference_check,
                  {p.target: spec.fpga[p.target] for p in ps[i:i + TASK_POINTS] if p.target != ASIC})
             for (w, _), ps in groups.items() for i in range(0, len(ps), TASK_POINTS)]
    # fewer PEs: more passes and longer runs; the estimate only orders the queue
    return sorted(tasks, key=lambda t: -t.workload.weight * (1 + 8 / t.points[0].config.pes) * (len(t.points) + 2))


# ---- worker side -----------------------------------------------------------------------
class _Sum:
    """What a point adds up over its workload's layers."""

    def __init__(self):
        self.cycles = 0
        self.useful = 0
        self.energy: dict = {}
        self.problems: list = []
        self.matches: list = []
        self.layers: list = []

    def add(self, name: str, res, report) -> None:
        self.cycles += res.cycles
        self.useful += res.useful_macs
        for k, v in report.by_component_pj.items():
            self.energy[k] = self.energy.get(k, 0.0) + v
        self.problems += [f"{name}: {p}" for p in res.capacity_problems]
        if "outputs_match_reference" in res.reference:
            self.matches.append(bool(res.reference["outputs_match_reference"]))
        self.layers.append({"name": name, "cycles": res.cycles, "time_us": res.time_us,
                            "energy_pj": report.total_pj, "load_efficiency": res.load_efficiency,
                            "fits": not res.capacity_problems})


def _record(p: Point, s: _Sum, fpga: dict | None) -> dict:
    from ..area import estimate_area
    cfg = p.config
    area = estimate_area(cfg)
    time_us = s.cycles / cfg.clock_mhz
    energy = sum(s.energy.values())
    problems = list(s.problems)
    if fpga is not None:
        problems += [f"device: {x}" for x in fpga["device_problems"]]
    return {
        "workload": p.workload.name, "design": design_label(p.axes), "target": p.target, "axes": dict(p.axes),
        "config": cfg.to_dict(), "cycles": s.cycles, "time_us": time_us, "energy_pj": energy,
        "energy_by_component_pj": s.energy, "power_mw": energy / time_us * 1e-3 if time_us else 0.0,
        "area_mm2": area.chip_mm2, "area_by_component_mm2": area.chip_by_component_mm2,
        "pe_area_mm2": area.pe_um2 * 1e-6, "edp": energy * time_us,
        "load_efficiency": s.useful / (s.cycles * cfg.pes) if s.cycles else 0.0, "useful_macs": s.useful,
        "fits": not problems, "fit_problems": problems,
        "outputs_match_reference": all(s.matches) if s.matches else None, "layers": s.layers, "fpga": fpga,
    }


def _value_groups(points) -> list[list[int]]:
    groups: dict = {}
    for i, p in enumerate(points):
        groups.setdefault(tuple(getattr(p.config, f) for f in VALUE_FIELDS), []).append(i)
    return list(groups.values())


def _tables(task: Task):
    from ..energy import EnergyTable
    cache: dict = {}

    def table(cfg: EIEConfig):
        key = (cfg.line_bits, cfg.spmat_kb, cfg.ptr_bits, cfg.ptr_kb)
        if key not in cache:
            cache[key] = EnergyTable.load(task.energy_table, cfg)
        return cache[key]
    return table


def _chains(layers) -> dict:
    """Per layer index of a network's chain (an fc layer and the fc layers after it that take
    its fixed-point outputs, :attr:`WorkloadLayer.chained`): ``(head index, the chain's layer
    indices)``; layers in no chain of two or more are not listed."""
    out, i = {}, 0
    while i < len(layers):
        j = i + 1
        while j < len(layers) and layers[j].chained:
            j += 1
        if j - i > 1:
            out.update({k: (i, list(range(i, j))) for k in range(i, j)})
        i = j
    return out


def _base_run(compiled, layers, li: int, chains: dict, g: int, prev: dict, reference_check: bool):
    """Layer ``li`` on one value group's first configuration (``compiled.config``), kept for
    :func:`~eie.model.retime`.  A layer alone runs on its own input; a layer of a chain runs
    as ``eie simulate DIR`` runs it (:func:`eie.pipeline.run_network`): the chain's fraction
    bits calibrated on its head's input, the previous layer's fixed-point outputs as input
    (:func:`eie.pipeline.next_input`), its ReLU on the array."""
    from ..evaluate import calibrate_plans
    from ..model import simulate
    from ..pipeline import next_input
    wl, cfg = layers[li], compiled.config
    if li not in chains:
        return simulate(compiled, wl.x, source=wl.layer, check_reference=reference_check, keep_work=True)
    head, members = chains[li]
    if li == head:
        plans = calibrate_plans([layers[k].layer for k in members], layers[head].x[None, :], cfg,
                                [layers[k].function for k in members])
        x = wl.x
    else:
        if prev.get(g, (None,))[0] != li - 1:
            raise ValueError(f"the previous layer {layers[li - 1].name} did not run")
        _, before, plans = prev[g]
        x = next_input(before, layers[li - 1].function, plans[li - head], cfg)
    res = simulate(compiled, x, plan=plans[li - head], relu=wl.function == "relu", source=wl.layer,
                   check_reference=reference_check, keep_work=True)
    prev[g] = (li, res, plans)
    return res


def run_task(task: Task) -> list[dict]:
    """Evaluate the points of ``task`` (in a worker); one result per point: ``key``,
    ``workload``, ``target``, ``config``, ``status`` (``ok``/``error``), ``record`` or
    ``error``, ``wall_s``."""
    from ..compile import compile_layer
    from ..energy import estimate
    from ..model import retime
    from .fpga import fpga_point
    t0 = time.perf_counter()
    points = task.points
    sums = [_Sum() for _ in points]
    failed: dict[int, str] = {}
    table = _tables(task)
    try:
        layers = load_layers(task.workload, points[0].config.weight_bits)
    except Exception as exc:               # a workload that cannot be loaded fails its points
        layers, failed = [], {i: f"{type(exc).__name__}: {exc}" for i in range(len(points))}
    chains = _chains(layers)
    prev: dict = {}                        # value group -> (layer index, its base result, its chain's plans)
    for li, wl in enumerate(layers):
        try:
            compiled = compile_layer(wl.layer, points[0].config, check=False)
        except Exception as exc:           # e.g. a codebook larger than 2**weight_bits
            failed.update({i: f"{wl.name}: {type(exc).__name__}: {exc}" for i in range(len(points)) if i not in failed})
            continue
        for g, group in enumerate(_value_groups(points)):
            base = None
            for i in group:
                if i in failed:
                    continue
                cfg = points[i].config
                try:
                    if base is None:
                        base = res = _base_run(dataclasses.replace(compiled, config=cfg), layers, li, chains, g,
                                               prev, task.reference_check)
                    else:
                        res = retime(base, cfg)
                    sums[i].add(wl.name, res, estimate(res.events, res.cycles, cfg, table(cfg)))
                except Exception as exc:   # stored with the point; the sweep goes on
                    failed[i] = f"{wl.name}: {type(exc).__name__}: {exc}"
    wall = (time.perf_counter() - t0) / len(points)
    out = []
    for i, p in enumerate(points):
        res = {"key": p.key, "workload": p.workload.name, "target": p.target, "config": p.config.to_dict(),
               "wall_s": wall}
        if i in failed:
            out.append({**res, "status": "error", "error": failed[i]})
            continue
        try:
            fpga = fpga_point(p.target, task.fpga[p.target], p.config) if p.target != ASIC else None
            out.append({**res, "status": "ok", "record": _record(p, sums[i], fpga)})
        except Exception as exc:           # pricing failed: the point fails, not the task
            out.append({**res, "status": "error", "error": f"{type(exc).__name__}: {exc}"})
    return out

