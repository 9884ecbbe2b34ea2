"""Design-space exploration on the user's own workloads: ``eie dse SPEC.toml`` (docs/dse.md).

:mod:`~eie.dse.spec` reads and checks the spec (axes, workloads, options);
:mod:`~eie.dse.workload` resolves and hashes the workloads and loads them in the workers;
:mod:`~eie.dse.evaluate` makes the points, their keys and the tasks, and evaluates a task
(compile once per image, simulate once per set of values, :func:`eie.model.retime` for the
rest, price with :mod:`eie.energy` and :mod:`eie.area`); :mod:`~eie.dse.store` keeps the
results in SQLite; :mod:`~eie.dse.run` runs the missing points on a process pool or a Dask
cluster; :mod:`~eie.dse.analysis` turns them into designs, Pareto fronts, the best design
under limits and a sensitivity table; :mod:`~eie.dse.export` (JSON, CSV) and
:mod:`~eie.dse.report` (Markdown + HTML) write them out.
"""

from .analysis import Design, best_under, collect, fitting_front, front, pareto_mask, sensitivity
from .evaluate import Point, Task, make_points, make_tasks, point_key, run_task
from .export import csv_chunks, joined, json_chunks
from .run import Interrupted, SweepCounts, check_scheduler, run_sweep
from .spec import Spec, load_spec
from .store import Store

__all__ = ["Spec", "load_spec", "Point", "Task", "make_points", "make_tasks", "point_key", "run_task", "Store",
           "run_sweep", "SweepCounts", "Interrupted", "check_scheduler", "Design", "collect", "front", "fitting_front", "pareto_mask",
           "best_under", "sensitivity", "joined", "json_chunks", "csv_chunks"]
