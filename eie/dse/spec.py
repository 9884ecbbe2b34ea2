"""The design-space spec: axes, workloads and options, checked up front (docs/dse.md §1).

A spec is a TOML file::

    [dse]                       # optional
    name = "example"            # default: the file's stem
    base = "../paper.toml"      # EIEConfig file the axes change (default: the paper's design point)
    energy_table = "fc8"        # fc8 | steady | a TOML file of energies (docs/energy.md)
    reference_check = false     # hold every point's outputs to the float reference
    objective = "edp"           # what "best" minimises: edp | energy | latency | area | power

    [axes]                      # any EIEConfig field, and target
    pes = {start = 16, stop = 64, step = "x2"}    # 16, 32, 64 (geometric)
    clock_mhz = {start = 400, stop = 800, step = 200}   # 400, 600, 800 (arithmetic)
    queue_depth = [4, 8]        # a list

    [workloads]
    layers = ["Alex-7", "layers/fc.npz", "nets/lenet"]   # benchmark names, layer files, network dirs
    spec = "layers.toml"        # optional: the benchmark names' specs (eie bench --spec's layout;
                                # default: the built-in Table III)

    [fpga]                      # optional: the records `target` values name
    records = "../../reports/fpga"

Paths are relative to the spec file (or absolute).  Every problem is an
:class:`~eie.errors.InputError` naming the spec, the field and the fix, raised before any
work.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import numbers
from dataclasses import dataclass
from pathlib import Path

from ..bench import load_specs
from ..config import EIEConfig
from ..errors import EIEError, InputError, first_repeat
from ..fileio import read_toml
from .workload import Workload, resolve_workload

__all__ = ["OBJECTIVES", "TARGET_AXIS", "ASIC", "MAX_POINTS", "Axis", "Spec", "load_spec", "axis_values"]

#: what ``objective`` may name: the aggregated metric the best design minimises
OBJECTIVES = ("edp", "energy", "latency", "area", "power")
#: the axis that picks the implementation: ``asic`` (the 45 nm models) or an FPGA record
TARGET_AXIS = "target"
ASIC = "asic"
#: most points one spec may ask for (workloads x axis combinations)
MAX_POINTS = 1_000_000
_MAX_AXIS_VALUES = 10_000
_TABLES = {"dse": dict, "axes": dict, "workloads": dict, "fpga": dict}
_DSE_KEYS = ("name", "base", "energy_table", "reference_check", "objective")


@dataclass(frozen=True)
class Axis:
    """One swept field and its values, in the order given."""

    name: str
    values: tuple


@dataclass(frozen=True)
class Spec:
    """A checked spec (see the module docstring)."""

    path: Path
    name: str
    base: EIEConfig
    axes: tuple[Axis, ...]
    workloads: tuple[Workload, ...]
    energy_table: str             # a calibration name or an absolute path
    reference_check: bool
    objective: str
    fpga: dict                    # record name -> eie synth --json record (empty: no FPGA targets)
    inputs: tuple = ()            # (what, absolute path) of every file the sweep reads: no output may be one

    @property
    def axis_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.axes)

    @property
    def n_designs(self) -> int:
        return math.prod(len(a.values) for a in self.axes)

    @property
    def n_points(self) -> int:
        return self.n_designs * len(self.workloads)

    def designs(self):
        """Every combination of axis values, as ``{axis: value}``, in spec order (the last
        axis varies fastest)."""
        for combo in itertools.product(*(a.values for a in self.axes)):
            yield dict(zip(self.axis_names, combo, strict=True))


def _where(spec_path: Path) -> str:
    return f"spec {str(spec_path)!r}"


def _number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def axis_values(name: str, raw, where: str) -> tuple:
    """The values of one axis: a non-empty list, or a range table ``{start, stop, step}``
    (``step`` a number > 0: arithmetic; ``"xK"`` with K > 1: geometric; ``stop`` included
    when reached)."""
    field = f"{where}: axes.{name}"
    if isinstance(raw, list):
        if not raw:
            raise InputError(f"{field} must list at least one value, not []")
        bad = next((v for v in raw if not isinstance(v, (str, int, float))), None)
        if bad is not None:
            raise InputError(f"{field} must list numbers (or target names), not {bad!r}")
        values = tuple(raw)
    elif isinstance(raw, dict):
        unknown = sorted(set(raw) - {"start", "stop", "step"})
        missing = [k for k in ("start", "stop", "step") if k not in raw]
        if unknown or missing:
            raise InputError(f"{field}: a range is {{start = A, stop = B, step = S or \"xK\"}}, "
                             + (f"not key {unknown[0]!r}" if unknown else f"missing {missing[0]!r}"))
        start, stop, step = raw["start"], raw["stop"], raw["step"]
        if not (_number(start) and _number(stop)) or stop < start:
            raise InputError(f"{field}: start and stop must be numbers with start <= stop, not {start!r} and {stop!r}")
        values = _range(field, start, stop, step)
    else:
        raise InputError(f"{field} must be a list of values or a range table {{start, stop, step}}, not {raw!r}")
    if len(values) > _MAX_AXIS_VALUES:
        raise InputError(f"{field} has {len(values)} values, more than {_MAX_AXIS_VALUES}: use a coarser step")
    dup = first_repeat(values)
    if dup is not None:
        raise InputError(f"{field} lists {dup!r} twice: give each value once")
    return values


def _range(field: str, start, stop, step) -> tuple:
    exact = all(isinstance(v, int) for v in (start, stop))
    if isinstance(step, str):
        factor = step[1:] if step[:1] in ("x", "*") else None
        try:
            k = float(factor) if factor is not None else None
        except ValueError:
            k = None
        if k is None or not math.isfinite(k) or k <= 1:
            raise InputError(f"{field}: step must be a number > 0 or \"xK\" with K > 1 (e.g. \"x2\"), not {step!r}")
        if start <= 0:
            raise InputError(f"{field}: a geometric range (step {step!r}) needs start > 0, not {start!r}")
        steps = (math.log(stop) - math.log(start)) / math.log(k)      # logs: stop / start may overflow
        if steps + 1 > _MAX_AXIS_VALUES:
            raise InputError(f"{field} has more than {_MAX_AXIS_VALUES} values: use a larger factor")
        out, v = [], start
        while v <= stop * (1 + 1e-12) and len(out) <= _MAX_AXIS_VALUES:
            out.append(int(round(v)) if exact and float(k).is_integer() else v)
            v = v * k
        return tuple(out)
    if not _number(step) or step <= 0:
        raise InputError(f"{field}: step must be a number > 0 or \"xK\" with K > 1 (e.g. \"x2\"), not {step!r}")
    exact = exact and isinstance(step, int)
    span = (stop - start) / step
    if not math.isfinite(span) or span > _MAX_AXIS_VALUES:
        raise InputError(f"{field} has more than {_MAX_AXIS_VALUES} values: use a coarser step")
    n = int(math.floor(span + 1e-9)) + 1
    if n > _MAX_AXIS_VALUES:
        raise InputError(f"{field} has {n} values, more than {_MAX_AXIS_VALUES}: use a coarser step")
    return tuple(start + i * step if exact else round(start + i * step, 12) for i in range(n))


def _check_axis(name: str, values: tuple, base: EIEConfig, where: str, fpga: dict, others: dict) -> tuple:
    """Each value must make a valid configuration with the base, or with some combination of
    the other axes' values (``weight_bits = 3`` needs a line width from another axis); a
    combination that does not is a failed point, not a spec error."""
    if name == TARGET_AXIS:
        known = (ASIC, *sorted(fpga))
        for v in values:
            if v not in known:
                hint = ("add [fpga] records = DIR (the eie synth --json records, e.g. reports/fpga)" if not fpga
                        else f"choose from {', '.join(known)}")
                raise InputError(f"{where}: axes.target: {v!r} is not a target: {hint}")
        return values
    fields = {f.name: f for f in dataclasses.fields(EIEConfig)}
    if name not in fields:
        raise InputError(f"{where}: axes.{name} is not a configuration field; axes are target and the "
                         f"EIEConfig fields: {', '.join(fields)}")
    rest = {k: v for k, v in others.items() if k != name and k in fields}
    out = []
    for v in values:
        if fields[name].type in ("int", int) and _number(v) and float(v).is_integer() and not isinstance(v, int):
            v = int(v)
        try:
            base.replace(**{name: v})
        except EIEError as exc:
            if not _valid_with_others(base, name, v, rest):
                raise InputError(f"{where}: axes.{name} = {v!r}: {exc}; fix the axis") from None
        out.append(v)
    return tuple(out)


def _valid_with_others(base: EIEConfig, name: str, value, others: dict, limit: int = 4096) -> bool:
    combos = itertools.islice(itertools.product(*others.values()), limit)
    for combo in combos:
        try:
            base.replace(**dict(zip(others, combo, strict=True)), **{name: value})
            return True
        except (EIEError, TypeError):
            continue
    return False


def _read(path: Path) -> dict:
    where = _where(path)
    data = read_toml(path, where)
    for key, value in data.items():
        if key not in _TABLES:
            raise InputError(f"{where}: unknown table [{key}]; a spec has [dse], [axes], [workloads] and [fpga]")
        if not isinstance(value, dict):
            raise InputError(f"{where}: {key} must be a table [{key}], not {type(value).__name__}")
    return data


def _options(data: dict, path: Path) -> dict:
    where = _where(path)
    dse = data.get("dse", {})
    unknown = sorted(set(dse) - set(_DSE_KEYS))
    if unknown:
        raise InputError(f"{where}: dse.{unknown[0]} is not a spec option; [dse] takes {', '.join(_DSE_KEYS)}")
    name = dse.get("name", path.stem)
    if not isinstance(name, str) or not name:
        raise InputError(f"{where}: dse.name must be a non-empty string, not {name!r}")
    if any(c in name for c in "/\\\0"):
        raise InputError(f"{where}: dse.name must be a plain name without '/' or '\\' (the default database is "
                         f"<name>.db in the current directory), not {name!r}: give --db FILE to keep the database "
                         f"elsewhere")
    base = EIEConfig()
    if "base" in dse:
        if not isinstance(dse["base"], str):
            raise InputError(f"{where}: dse.base must be the path of an EIEConfig file, not {dse['base']!r}")
        try:
            base = EIEConfig.from_file(path.parent / dse["base"])
        except EIEError as exc:
            raise InputError(f"{where}: dse.base: {exc}") from None
    table = dse.get("energy_table", "fc8")
    if not isinstance(table, str) or not table:
        raise InputError(f"{where}: dse.energy_table must be fc8, steady or a TOML file, not {table!r}")
    if table not in ("fc8", "steady"):
        from ..energy import EnergyTable
        table = str((path.parent / table).resolve())
        try:
            EnergyTable.from_toml(table)
        except EIEError as exc:
            raise InputError(f"{where}: dse.energy_table: {exc}") from None
    check = dse.get("reference_check", False)
    if not isinstance(check, bool):
        raise InputError(f"{where}: dse.reference_check must be true or false, not {check!r}")
    objective = dse.get("objective", "edp")
    if objective not in OBJECTIVES:
        raise InputError(f"{where}: dse.objective must be one of {', '.join(OBJECTIVES)}, not {objective!r}")
    return {"name": name, "base": base, "energy_table": table, "reference_check": check, "objective": objective}


def _fpga(data: dict, path: Path) -> dict:
    where = _where(path)
    section = data.get("fpga", {})
    unknown = sorted(set(section) - {"records"})
    if unknown:
        raise InputError(f"{where}: fpga.{unknown[0]} is not an option; [fpga] takes records = DIR")
    if "records" not in section:
        return {}
    if not isinstance(section["records"], str):
        raise InputError(f"{where}: fpga.records must be a directory of eie synth --json records, not "
                         f"{section['records']!r}")
    from ..report.fpga import load_records
    try:
        records = load_records(path.parent / section["records"])
    except EIEError as exc:
        raise InputError(f"{where}: fpga.records: {exc}") from None
    return {Path(r["_file"]).stem: r for r in records}


def _workloads(data: dict, path: Path) -> tuple:
    where = _where(path)
    wl = data.get("workloads")
    if not isinstance(wl, dict) or "layers" not in wl:
        raise InputError(f"{where} needs [workloads] layers = [...]: benchmark layer names (e.g. \"Alex-7\"), "
                         f"layer files or network directories")
    unknown = sorted(set(wl) - {"layers", "spec"})
    if unknown:
        raise InputError(f"{where}: workloads.{unknown[0]} is not an option; [workloads] takes layers = [...] "
                         f"and spec = \"FILE\"")
    layers = wl["layers"]
    if not isinstance(layers, list) or not layers or not all(isinstance(x, str) and x for x in layers):
        raise InputError(f"{where}: workloads.layers must be a non-empty list of names and paths, not {layers!r}")
    specs = None
    if "spec" in wl:
        if not isinstance(wl["spec"], str) or not wl["spec"]:
            raise InputError(f"{where}: workloads.spec must be the path of a layer spec file "
                             f"(eie bench --spec's layout), not {wl['spec']!r}")
        try:
            specs = {s.name: s for s in load_specs(path.parent / wl["spec"])}
        except InputError as exc:
            raise InputError(f"{where}: workloads.spec: {exc}") from None
    out = [resolve_workload(x, path.parent, f"{where}: workloads.layers[{i}]", specs) for i, x in enumerate(layers)]
    names = [w.name for w in out]
    dup = first_repeat(names)
    if dup:
        raise InputError(f"{where}: workloads.layers names {dup!r} twice: give each workload once")
    return tuple(out)


def _inputs(data: dict, path: Path, workloads: tuple, fpga: dict) -> tuple:
    """Every file the sweep reads, as (what, absolute path): the spec, its base
    configuration, energy table, layer spec file and FPGA records, and each workload's files
    (``eie dse s.toml --json lenet.toml --force`` had replaced the workloads' spec file)."""
    dse = data.get("dse", {})
    out = [("spec file", path)]
    if "base" in dse:
        out.append(("dse.base file", path.parent / dse["base"]))
    if dse.get("energy_table", "fc8") not in ("fc8", "steady"):
        out.append(("dse.energy_table file", path.parent / dse["energy_table"]))
    if "spec" in data.get("workloads", {}):
        out.append(("workloads.spec file", path.parent / data["workloads"]["spec"]))
    if fpga:
        records = path.parent / data["fpga"]["records"]
        out += [(f"FPGA record {name!r}", records / rec["_file"]) for name, rec in fpga.items()]
    for w in workloads:
        out += [(f"file {Path(f).name!r} of workload {w.name!r}", Path(f)) for f in w.files]
    return tuple((what, str(Path(f).resolve())) for what, f in out)


def load_spec(path) -> Spec:
    """Read and check a spec file (see the module docstring)."""
    path = Path(path)
    data = _read(path)
    where = _where(path)
    opts = _options(data, path)
    fpga = _fpga(data, path)
    raw_axes = data.get("axes")
    if not isinstance(raw_axes, dict) or not raw_axes:
        raise InputError(f"{where} needs [axes] with at least one axis, e.g. pes = [16, 32, 64]")
    values = {name: axis_values(name, raw, where) for name, raw in raw_axes.items()}
    axes = tuple(Axis(name, _check_axis(name, vals, opts["base"], where, fpga, values)) for name, vals in values.items())
    workloads = _workloads(data, path)
    spec = Spec(path.resolve(), opts["name"], opts["base"], axes, workloads, opts["energy_table"],
                opts["reference_check"], opts["objective"], fpga, _inputs(data, path, workloads, fpga))
    if spec.n_points > MAX_POINTS:
        raise InputError(f"{where} asks for {spec.n_points:,} points ({spec.n_designs:,} designs x "
                         f"{len(workloads)} workloads), more than {MAX_POINTS:,}: use fewer axis values")
    return spec
