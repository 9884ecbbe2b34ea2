"""``eie dse``: design-space exploration on the user's own workloads (docs/dse.md)."""

from __future__ import annotations

import math
import sqlite3
import sys
from pathlib import Path

from ..errors import EIEError, InputError
from ..fileio import check_distinct, check_not_inputs, check_out, check_outside, write_stream
from .options import human_stream, require_extra

__all__ = ["register", "cmd_dse"]


def _limit(flag: str, value):
    if value is not None and not (math.isfinite(value) and value > 0):
        raise InputError(f"{flag} must be a number > 0, not {value!r}")
    return value


def _outputs(args, db: Path):
    """Every output checked before any work (the --force rule, directories exist)."""
    from ..report import check_out_dir as check_report_dir
    # the same file twice first: "exists: use --force" for a --json naming the (default)
    # database was advice that then failed
    check_distinct(**{"--json": args.json, "--csv": args.csv, "--db": db})
    js = check_out(args.json, args.force, "JSON file", stdout_ok=True)
    csv = check_out(args.csv, args.force, "CSV file")
    report = check_report_dir(args.report, args.force, "--report") if args.report else None
    if args.workers is not None and args.workers < 0:
        raise InputError(f"--workers must be an integer >= 0 (0: in this process), not {args.workers}")
    if args.workers is not None and args.scheduler:
        raise InputError("--workers and --scheduler exclude each other: the cluster has its own workers")
    limits = {"area mm²": _limit("--max-area", args.max_area), "power mW": _limit("--max-power", args.max_power),
              "latency µs": _limit("--max-latency", args.max_latency)}
    if args.scheduler:
        from ..dse import check_scheduler
        check_scheduler(args.scheduler)
        require_extra("dask", "eie dse --scheduler")
    return js, csv, report, limits


def _table(designs) -> list[str]:
    labels = [d.label for d in designs]
    w = min(72, max([len("design"), *map(len, labels)]) + 2)
    lines = [f"  {'design':<{w}}{'energy uJ':>11}{'latency us':>12}{'area mm2':>10}{'power mW':>10}"]
    for d, label in zip(designs, labels, strict=True):
        lines.append(f"  {label[:w - 2]:<{w}}{d.energy_pj / 1e6:>11.3f}{d.time_us:>12.3f}{d.area_mm2:>10.3f}"
                     f"{d.power_mw:>10.1f}")
    return lines


def _summary(spec, counts, db, designs, fr, best, limits, sens) -> str:
    lines = [f"eie dse {spec.name}: {spec.n_designs:,} designs x {len(spec.workloads)} workloads = "
             f"{spec.n_points:,} points: {counts.computed:,} computed ({counts.failed:,} failed), "
             f"{counts.reused:,} reused; database {db}"]
    fr, fitted = fr
    if fitted:
        lines.append(f"Pareto front (energy, latency, area over all workloads): {len(fr)} of "
                     f"{sum(d.complete and d.fits for d in designs)} designs that fit their memories")
    else:
        lines.append(f"no design fits its memories with every workload: the Pareto front of all "
                     f"{sum(d.complete for d in designs)} complete designs with the memory sizes ignored "
                     f"({len(fr)} on it)")
    lines += _table(fr[:20]) + ([f"  ... {len(fr) - 20} more (--report, --json)"] if len(fr) > 20 else [])
    failed = [(d, w, e) for d in designs for w, e in d.errors.items()]
    if failed:
        d0, w0, e0 = failed[0]
        lines.append(f"{len(failed):,} of the {spec.n_points:,} points failed (stored: --retry-failed evaluates them "
                     f"again; every failure in --report or --json); the first: {w0} on {d0.label}: {e0}")
    d, n_ok = best
    given = ", ".join(f"{k.split()[0]} <= {v:g} {k.split()[1]}" for k, v in limits.items() if v is not None)
    if d is None:
        lines.append(f"best: no design that fits meets {given}" if given and fitted else
                     "best: none (no design fits its memories with every workload)" if any(x.complete for x in designs)
                     else "best: none (no design completed every workload: see the failures above)")
    else:
        lines.append(f"best (lowest {spec.objective}{', ' + given if given else ''}; {n_ok:,} qualify): {d.label}: "
                     f"{d.energy_pj / 1e6:.3f} uJ, "
                     f"{d.time_us:.3f} us, {d.area_mm2:.2f} mm2, {d.power_mw:.1f} mW")
    moved = []
    for m in ("energy", "latency", "area", "power"):
        top = max((r for r in sens if r[m] is not None), key=lambda r: r[m], default=None)
        if top is not None:
            moved.append(f"{m}: {top['axis']} (x{top[m]:.2f})")
    if moved:
        lines.append("moves most: " + "; ".join(moved))
    return "\n".join(lines)


def cmd_dse(args) -> int:
    from .. import __version__
    from ..dse import (
        Interrupted,
        Store,
        best_under,
        collect,
        csv_chunks,
        fitting_front,
        joined,
        json_chunks,
        load_spec,
        make_points,
        run_sweep,
        sensitivity,
    )
    spec = load_spec(args.spec)
    db = Path(args.db) if args.db else Path(f"{spec.name}.db")
    js, csv, report, limits = _outputs(args, db)
    check_not_inputs(dict(spec.inputs), **{"--json": js, "--csv": csv, "--db": db})
    # the default database (SPEC.db in the working directory) may sit in the report directory:
    # no report file ends in .db, so the report never writes or removes it
    check_outside(report, "--report", **{"--json": js, "--csv": csv, "--db": db if args.db else None})
    say = human_stream(js)
    points = make_points(spec)
    new_db = not db.exists()
    with Store(db) as store:
        try:
            counts = run_sweep(spec, store, points, workers=args.workers, scheduler=args.scheduler,
                               retry_failed=args.retry_failed)
        except Interrupted as exc:
            print(f"eie dse: {exc}; the database {db} keeps every finished point: run the same command again "
                  f"to resume", file=sys.stderr)
            return 130
        except EIEError:
            if new_db and store.count() == 0:     # e.g. the scheduler could not be reached: leave nothing
                store.close()
                db.unlink(missing_ok=True)
            raise
        except sqlite3.DatabaseError as exc:
            raise InputError(f"--db {str(db)!r} failed during the sweep ({exc}): the points stored before it are "
                             f"kept; if it is damaged, remove it and run again") from None
        designs = collect(joined(store, points))
        fr = fitting_front(designs)
        area, power, latency = limits.values()
        best = best_under(designs, spec.objective, area, power, latency)
        sens = sensitivity(designs, list(spec.axis_names))
        failures = [{"workload": w, "design": d.label, "error": e} for d in designs for w, e in d.errors.items()]
        print(_summary(spec, counts, db, designs, fr, best, limits, sens), file=say)
        header = {"spec": spec.name, "spec_file": str(spec.path), "eie_version": __version__, "database": str(db),
                  "computed": counts.computed, "reused": counts.reused, "failed": counts.failed,
                  "failed_points": len(failures),
                  "axes": {a.name: list(a.values) for a in spec.axes},
                  "workloads": [w.to_dict() for w in spec.workloads], "energy_table": spec.energy_table,
                  "objective": spec.objective}
        trailer = {"pareto": [d.summary() for d in fr[0]], "pareto_requires_fit": fr[1],
                   "best": None if best[0] is None else {**best[0].summary(), "qualifying": best[1],
                                                         "limits": limits},
                   "sensitivity": sens}
        doc = None
        if report:                         # every file of the report checked before any output is written
            from ..dse.report import build_report
            from ..report import check_out_dir as check_report_dir
            doc = build_report(spec, designs, counts, best, limits, sens, failures)
            check_report_dir(report, args.force, "--report", doc)
        if js:
            write_stream(js, json_chunks(header, joined(store, points), trailer))
            if str(js) != "-":
                print(f"wrote {js}", file=say)
        if csv:
            write_stream(csv, csv_chunks(list(spec.axis_names), joined(store, points)))
            print(f"wrote {csv}", file=say)
    if report:
        from ..report import write_report
        written = write_report(doc, {**header, "command": "eie dse"}, report, args.force, what="--report")
        print(f"wrote {len(written)} files to {report}/ (report.md, report.html)", file=say)
    return 0


def register(sub) -> None:
    p = sub.add_parser("dse", help="design-space exploration on your own workloads: axes x workloads, resumable "
                                   "SQLite results, Pareto fronts (docs/dse.md)")
    p.add_argument("spec", help="spec TOML: [axes] (EIEConfig fields, target), [workloads] layers = [...] "
                                "(benchmark names, layer files, network directories), optional [dse], [fpga]")
    p.add_argument("--db", metavar="FILE", help="SQLite file of results, reused and extended (default: "
                                                "<spec name>.db in the current directory)")
    p.add_argument("--json", metavar="OUT", help="write every point, the Pareto front, the best design and the "
                                                 "sensitivity as JSON ('-': standard output)")
    p.add_argument("--csv", metavar="OUT", help="write one row per point as CSV")
    p.add_argument("--report", metavar="DIR", help="write report.md, report.html, plots and data/*.json into DIR")
    p.add_argument("--workers", type=int, default=None, help="local worker processes (default: every core; 0: run in this process)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on the Dask cluster at tcp://HOST:PORT (needs the "
                                                          "'dask' extra; workers need eie and the files)")
    p.add_argument("--max-area", type=float, metavar="MM2", help="best design: chip area at most MM2 mm²")
    p.add_argument("--max-power", type=float, metavar="MW", help="best design: every workload's average power at "
                                                                 "most MW mW")
    p.add_argument("--max-latency", type=float, metavar="US", help="best design: every workload's time at most US µs")
    p.add_argument("--retry-failed", action="store_true", help="evaluate again the points stored as failed")
    p.add_argument("--force", action="store_true", help="overwrite existing --json/--csv files and --report files")
    p.set_defaults(func=cmd_dse)
