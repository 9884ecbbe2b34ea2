"""A sweep's points out of the database: JSON and CSV, streamed (docs/dse.md §3).

Both list the spec's points in spec order (workloads outermost), each with its key and
status; an ``ok`` point carries its record, a failed one its error.  JSON::

    {"spec": ..., "eie_version": ..., "database": ..., "computed": N, "reused": N, "failed": N,
     "failed_points": N,
     "points": [{"key", "status", "workload", "design", "target", "axes", "config", "cycles",
                 "time_us", "energy_pj", "power_mw", "area_mm2", "edp", "fits", ...}, ...],
     "pareto": [...], "best": {...}, "sensitivity": [...]}

CSV: one row per point, the scalar fields, the axes, energy and area by component.
"""

from __future__ import annotations

import csv
import io
import json

from ..fileio import json_default
from .evaluate import design_label
from .fpga import RESOURCES, VERDICTS

__all__ = ["joined", "flat_point", "json_chunks", "csv_chunks", "CSV_FIELDS"]

#: scalar record fields of the CSV, after key, status, workload, design, target and the axes
CSV_FIELDS = ("cycles", "time_us", "energy_pj", "power_mw", "area_mm2", "pe_area_mm2", "edp", "load_efficiency",
              "useful_macs", "fits", "fit_problems", "outputs_match_reference", "error", "wall_s")
_ENERGY = ("spmat_read", "ptr_read", "arith", "act_rw", "act_queue", "ccu", "static")
_AREA = ("spmat_read", "ptr_read", "act_rw", "arith", "act_queue", "filler", "ccu")


def joined(store, points):
    """``(point, stored row or None)`` for every point, in order, read in chunks."""
    for i in range(0, len(points), 500):
        part = points[i:i + 500]
        rows = {r["key"]: r for r in store.rows(p.key for p in part)}
        for p in part:
            yield p, rows.get(p.key)


def _named(rec: dict, name: str) -> dict:
    """A stored record as the workload ``name`` it is read for.  Points are keyed by the
    workload's content, so a layer file copied under another name reuses the first one's
    record, whose layer (named after the file) and fit problems (``"w: ..."``) carry the old
    name."""
    old = rec.get("workload")
    if old is None or old == name:
        return rec
    rec["fit_problems"] = [f"{name}: {p[len(old) + 2:]}" if p.startswith(f"{old}: ") else p
                           for p in rec.get("fit_problems") or []]
    rec["layers"] = [{**layer, "name": name} if layer.get("name") == old else layer for layer in rec.get("layers") or []]
    rec["workload"] = name
    return rec


def flat_point(point, row) -> dict:
    """One point as exported: key, status, workload, design, target, axes, then the record's
    fields (``ok``) or the error."""
    out = {"key": point.key, "status": row["status"] if row else "missing", "workload": point.workload.name,
           "design": design_label(point.axes), "target": point.target, "axes": dict(point.axes)}
    if row is None:
        out["error"] = "not evaluated (run the sweep again)"
    elif row["status"] == "ok":
        rec = _named(dict(row["record"]), point.workload.name)
        for k in ("workload", "design", "target", "axes"):
            rec.pop(k, None)
        out.update(rec)
        out["wall_s"] = row["wall_s"]
    else:
        out["error"] = row["error"]
        out["wall_s"] = row["wall_s"]
    return out


def json_chunks(header: dict, pairs, trailer: dict):
    """The JSON document as text chunks: ``header``'s keys, ``points`` from ``pairs``, then
    ``trailer``'s keys."""
    head = json.dumps(header, indent=1, default=json_default)
    yield head[:-2] + ',\n "points": [\n' if header else '{\n "points": [\n'
    first = True
    for point, row in pairs:
        yield ("" if first else ",\n") + "  " + json.dumps(flat_point(point, row), default=json_default)
        first = False
    tail = json.dumps(trailer, indent=1, default=json_default)
    yield "\n ]" + ("," + tail[1:] if trailer else "\n}") + "\n"


#: FPGA columns of the CSV (empty for the ASIC target): resources needed, then the verdicts
_FPGA = (*(f"fpga_{r}_need" for r in RESOURCES), *(f"fpga_{v}" for v in VERDICTS))


def csv_chunks(axes: list[str], pairs):
    """The CSV as text chunks (a header row, then one row per point)."""
    axes = [a for a in axes if a != "target"]           # its own column already (it was written twice)
    cols = (["key", "status", "workload", "design", "target", *axes, *CSV_FIELDS]
            + [f"energy_{c}_pj" for c in _ENERGY] + [f"area_{c}_mm2" for c in _AREA]
            + list(_FPGA))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, cols, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for n, (point, row) in enumerate(pairs, 1):
        p = flat_point(point, row)
        flat = {k: p.get(k) for k in ("key", "status", "workload", "design", "target", *CSV_FIELDS)}
        flat.update(p["axes"])
        if isinstance(flat.get("fit_problems"), list):
            flat["fit_problems"] = "; ".join(flat["fit_problems"])
        for c, v in (p.get("energy_by_component_pj") or {}).items():
            flat[f"energy_{c}_pj"] = v
        for c, v in (p.get("area_by_component_mm2") or {}).items():
            flat[f"area_{c}_mm2"] = v
        fpga = p.get("fpga") or {}     # an FPGA target's resources (§4): what the device needs, and fits
        flat.update({f"fpga_{r}_need": (fpga.get("need") or {}).get(r) for r in RESOURCES})
        flat.update({f"fpga_{v}": fpga.get(v) for v in VERDICTS})
        writer.writerow(flat)
        if n % 200 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()
