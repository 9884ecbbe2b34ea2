"""Running a sweep: the points a database lacks, on a local process pool or a Dask cluster,
streamed into the database (docs/dse.md §3, §5).

* **Local** (default): ``workers`` spawned processes (default: every core), one BLAS thread
  each (:data:`eie.sweep.BLAS_ENV`); ``workers=0`` runs the tasks in this process, one
  after the other (debugging, tests).
* **Dask** (``scheduler="tcp://host:port"``): the same tasks on a ``distributed`` cluster;
  its workers need eie installed and the workload files at the same paths.

At most two tasks per worker are in flight, and every finished task is written to the
database at once, so memory does not grow with the number of points and an interrupted
sweep (Ctrl-C, a lost machine) resumes where it stopped.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass

from ..errors import InputError
from ..sweep import Progress, process_pool
from .evaluate import Point, make_tasks, run_task
from .spec import Spec
from .store import Store

__all__ = ["SweepCounts", "run_sweep", "check_scheduler", "Interrupted"]


@dataclass
class SweepCounts:
    """What a run did: points evaluated now (``computed``, of which ``failed`` failed), found
    in the database (``reused``)."""

    total: int
    computed: int = 0
    reused: int = 0
    failed: int = 0


class Interrupted(Exception):
    """The sweep was interrupted; what finished is in the database."""

    def __init__(self, counts: SweepCounts):
        super().__init__(f"interrupted after {counts.computed} of {counts.total - counts.reused} points")
        self.counts = counts


def check_scheduler(address: str) -> str:
    """A Dask scheduler address must be ``tcp://HOST:PORT``."""
    host, _, port = address.removeprefix("tcp://").rpartition(":")
    if not address.startswith("tcp://") or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--scheduler must be a Dask scheduler address tcp://HOST:PORT, not {address!r}")
    return address


def _run_local(tasks, workers: int, done) -> None:
    with process_pool(workers) as pool:
        todo = iter(tasks)
        pending = set()
        while True:
            while len(pending) < 2 * workers:
                task = next(todo, None)
                if task is None:
                    break
                pending.add(pool.submit(run_task, task))
            if not pending:
                return
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                done(fut.result())


def _run_dask(tasks, address: str, done) -> None:
    from distributed import Client, as_completed
    try:
        client = Client(address, timeout="20s", set_as_default=False)
    except OSError as exc:
        raise InputError(f"--scheduler {address}: no Dask scheduler answers there ({exc})") from None
    try:
        inflight = 2 * max(1, len(client.scheduler_info().get("workers", {})))
        todo = iter(tasks)
        first = [client.submit(run_task, task, pure=False) for task in itertools.islice(todo, inflight)]
        if not first:
            return
        queue = as_completed(first, loop=client.loop)
        for fut in queue:
            done(fut.result())
            fut.release()
            task = next(todo, None)
            if task is not None:
                queue.add(client.submit(run_task, task, pure=False))
    finally:
        client.close()


def run_sweep(spec: Spec, store: Store, points: list[Point], *, workers: int | None = None,
              scheduler: str | None = None, retry_failed: bool = False, progress: bool = True) -> SweepCounts:
    """Evaluate the points of ``spec`` that ``store`` lacks (and, with ``retry_failed``, those
    it holds as failed); returns the counts.  Raises :class:`Interrupted` on Ctrl-C."""
    counts = SweepCounts(total=len(points))
    status = store.status(p.key for p in points)
    todo, seen = [], set()
    for p in points:
        st = status.get(p.key)
        if st == "ok" or (st == "error" and not retry_failed) or p.key in seen:
            counts.reused += 1
            continue
        seen.add(p.key)
        todo.append(p)
    invalid = [p for p in todo if p.config is None]
    if invalid:
        store.put({"key": p.key, "workload": p.workload.name, "target": p.target,
                   "config": dict(p.axes), "status": "error", "error": p.error, "wall_s": 0.0} for p in invalid)
        counts.computed += len(invalid)
        counts.failed += len(invalid)
    tasks = make_tasks(spec, [p for p in todo if p.config is not None])
    bar = Progress(sum(len(t.points) for t in tasks), f"eie dse {spec.name}") if progress and tasks else None

    def done(results):
        store.put(results)
        counts.computed += len(results)
        counts.failed += sum(r["status"] == "error" for r in results)
        if bar:
            bar.advance(len(results), results[0]["workload"])

    try:
        if scheduler:
            _run_dask(tasks, scheduler, done)
        elif workers == 0:
            for task in tasks:
                done(run_task(task))
        elif tasks:
            _run_local(tasks, workers or os.cpu_count() or 1, done)
    except KeyboardInterrupt:
        raise Interrupted(counts) from None
    finally:
        if bar:
            bar.close()
    return counts
