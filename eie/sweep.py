"""Design-space sweeps: many (layer, configuration) points on a pool of worker processes.

A sweep **point** is one layer on one :class:`~eie.config.EIEConfig` (the base design
point plus some field changes).  Its record comes from the same path as ``eie simulate``
and ``eie bench``: :func:`eie.compile.compile_layer` → :func:`eie.model.simulate` →
:func:`eie.pipeline.record_of`; nothing here models timing or energy.

Work is grouped so that each worker pays for a layer once:

* a layer (a Table III spec made by :func:`eie.bench.make_layer`, or a layer file) is
  built once per worker and kept (VGG-6 takes seconds to compress);
* points that differ only in fields the memory images do not depend on
  (:data:`IMAGE_FREE_FIELDS`: queue depth, line width, clock) share one compiled layer.
  The images depend on the PE count, the code and index widths and the register-file
  size [arch §2-§3]; the line width only groups entries into lines, which the model
  (line reads, §5.4) and the capacity check take from the configuration.

Workers are started with the ``spawn`` method and single-threaded BLAS
(``OPENBLAS_NUM_THREADS=1`` and friends in their environment), so two workers use two
cores and the mat-vec timings of :func:`time_matvec` measure one core.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass

from .bench import LayerSpec, make_layer
from .config import EIEConfig
from .errors import InputError

__all__ = ["LayerRef", "Point", "Progress", "IMAGE_FREE_FIELDS", "BLAS_ENV", "worker_env", "process_pool", "count_distinct", "group_points",
           "run_points", "run_tasks", "simulate_points", "time_matvec"]

#: EIEConfig fields the compiled memory images do not depend on [arch §3, §5].
IMAGE_FREE_FIELDS = ("queue_depth", "line_bits", "clock_mhz")

#: Environment of the worker processes: one BLAS/OpenMP thread each.
BLAS_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

#: Records keep these keys out: per-PE arrays make sweep JSON large and no figure uses them.
_DROP = ("per_pe", "wall_s")


@dataclass(frozen=True)
class LayerRef:
    """Where a layer comes from: a benchmark spec (seeded synthetic layer) or a layer file."""

    name: str
    spec: LayerSpec | None = None
    path: str | None = None

    def __post_init__(self):
        if (self.spec is None) == (self.path is None):
            raise InputError(f"layer {self.name!r}: give exactly one of spec and path")

    @classmethod
    def of_spec(cls, spec: LayerSpec) -> LayerRef:
        return cls(spec.name, spec=spec)

    @classmethod
    def of_file(cls, path, name: str | None = None) -> LayerRef:
        return cls(name or os.path.basename(str(path)), path=str(path))

    def load(self, weight_bits: int | None = None):
        """The compressed layer, with its input activations (a benchmark spec's synthetic
        layer coded in ``weight_bits``, as eie bench and eie dse build it; None: make_layer's
        default)."""
        if self.spec is not None:
            return make_layer(self.spec) if weight_bits is None else make_layer(self.spec, bits=weight_bits)
        from .layer import CompressedLayer, load_layer
        layer = load_layer(self.path)
        if not isinstance(layer, CompressedLayer) or layer.activations is None:
            raise InputError(f"layer file {self.path!r} must be a compressed layer ('codebook', 'codes') "
                             f"with 'activations'")
        return layer

    @property
    def size(self) -> float:
        """Rough work estimate (non-zero weights) used to order tasks, largest first."""
        if self.spec is not None:
            return self.spec.n_in * self.spec.n_out * self.spec.weight_density
        return 1e6


@dataclass(frozen=True)
class Point:
    """One layer on the base configuration with ``changes`` applied (sorted field pairs)."""

    layer: LayerRef
    changes: tuple = ()

    @classmethod
    def make(cls, layer: LayerRef, **changes) -> Point:
        return cls(layer, tuple(sorted(changes.items())))

    def config(self, base: EIEConfig) -> EIEConfig:
        return base.replace(**dict(self.changes)) if self.changes else base

    def image_key(self, base: EIEConfig):
        """Points with equal keys share one compiled layer."""
        cfg = self.config(base)
        ref = EIEConfig()
        return self.layer, cfg.replace(**{f: getattr(ref, f) for f in IMAGE_FREE_FIELDS})


# ---- worker side -----------------------------------------------------------------------
_LAYERS: dict = {}
_IMAGES: OrderedDict = OrderedDict()
_IMAGES_KEPT = 2          # compiled layers kept per worker (VGG-6 at 64 PEs is ~100 MB)


def _layer(ref: LayerRef, weight_bits: int | None = None):
    layer = _LAYERS.get((ref, weight_bits))
    if layer is None:
        layer = _LAYERS[ref, weight_bits] = ref.load(weight_bits)
    return layer


def _compiled(ref: LayerRef, layer, cfg: EIEConfig):
    from .compile import compile_layer
    key = (ref, cfg.replace(**{f: getattr(EIEConfig(), f) for f in IMAGE_FREE_FIELDS}))
    compiled = _IMAGES.get(key)
    if compiled is None:
        compiled = compile_layer(layer, cfg, check=False)
        _IMAGES[key] = compiled
        while len(_IMAGES) > _IMAGES_KEPT:
            _IMAGES.popitem(last=False)
    else:
        _IMAGES.move_to_end(key)
    return compiled if compiled.config == cfg else dataclasses.replace(compiled, config=cfg)


def simulate_points(points: Sequence[Point], base: EIEConfig) -> list[dict]:
    """Simulate points (in a worker) that share a layer and its memory images; one record each.

    The first point is simulated; the others differ from it only in fields that change
    neither the images nor the values (:data:`IMAGE_FREE_FIELDS`, all in
    :data:`eie.model.RETIME_FIELDS`), so its result is moved to them with
    :func:`eie.model.retime` (equal to simulating them, reference check included)."""
    from .model import retime, simulate
    from .pipeline import record_of
    out = []
    first = None
    for pt in points:
        cfg = pt.config(base)
        layer = _layer(pt.layer, cfg.weight_bits)
        t0 = time.perf_counter()
        if first is not None and first.compiled is not None and _same_images(first.config, cfg):
            result = retime(first, cfg)
        else:
            result = first = simulate(_compiled(pt.layer, layer, cfg), layer.activations, source=layer,
                                      keep_work=True)
        rec = record_of(layer, result)
        for key in _DROP:
            rec.pop(key, None)
        rec["name"] = pt.layer.name
        rec["changes"] = dict(pt.changes)
        rec["wall_s"] = time.perf_counter() - t0
        out.append(rec)
    return out


def _same_images(a: EIEConfig, b: EIEConfig) -> bool:
    ref = EIEConfig()
    free = {f: getattr(ref, f) for f in IMAGE_FREE_FIELDS}
    return a.replace(**free) == b.replace(**free)


def time_matvec(ref: LayerRef, min_reps: int = 5, max_reps: int = 200, budget_s: float = 1.0) -> dict:
    """Best-of-N wall time (µs) of the layer's mat-vec on this machine's CPU.

    ``numpy_dense_us``: the decoded weights as a dense float32 matrix, ``W @ x`` (BLAS
    sgemv).  ``scipy_csr_us``: the non-zero weights as a float32 ``scipy.sparse`` CSR
    matrix, ``W @ x`` (every column, zero inputs included, like the paper's CPU/GPU
    sparse baselines).  Each is repeated at least ``min_reps`` times and until
    ``budget_s`` has passed (at most ``max_reps``), after one warm-up; the minimum counts.
    """
    import numpy as np
    import scipy.sparse as sp
    layer = _layer(ref)
    x = layer.activations.astype(np.float32)
    cb = layer.codebook.astype(np.float32)
    out = {"name": ref.name, "threads_env": {k: os.environ.get(k) for k in BLAS_ENV}}
    rows, cols = np.nonzero(layer.codes)
    csr = sp.csr_array((cb[layer.codes[rows, cols]], (rows, cols)), shape=layer.codes.shape)
    del rows, cols
    dense = cb[layer.codes]
    for key, fn in (("numpy_dense", lambda: dense @ x), ("scipy_csr", lambda: csr @ x)):
        fn()
        best, reps, start = math.inf, 0, time.perf_counter()
        while reps < min_reps or (reps < max_reps and time.perf_counter() - start < budget_s):
            t = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t)
            reps += 1
        out[f"{key}_us"] = best * 1e6
        out[f"{key}_reps"] = reps
    out["nnz"] = int(csr.nnz)
    return out


# ---- parent side -----------------------------------------------------------------------
class Progress:
    """A plain-text progress bar on a stream (stderr): redrawn in place on a terminal,
    one line per tenth of the work otherwise (logs stay short)."""

    def __init__(self, total: int, label: str, stream=None, width: int = 28):
        self.total, self.label, self.width = max(1, total), label, width
        self.stream = sys.stderr if stream is None else stream
        self.done = 0
        self.start = time.perf_counter()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_tenth = -1
        self._draw("")

    def advance(self, n: int = 1, what: str = "") -> None:
        self.done = min(self.total, self.done + n)
        self._draw(what)

    def _draw(self, what: str) -> None:
        frac = self.done / self.total
        elapsed = time.perf_counter() - self.start
        fill = int(round(frac * self.width))
        text = (f"{self.label} [{'#' * fill}{'.' * (self.width - fill)}] {self.done}/{self.total} "
                f"{frac:4.0%} {int(elapsed) // 60}:{int(elapsed) % 60:02d}")
        if self._tty:
            self.stream.write(f"\r{text} {what}"[:118].ljust(118))
        else:
            tenth = int(frac * 10)
            if tenth == self._last_tenth:
                return
            self._last_tenth = tenth
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()


@contextmanager
def worker_env():
    """Set :data:`BLAS_ENV` while workers are spawned (they copy the environment)."""
    saved = {k: os.environ.get(k) for k in BLAS_ENV}
    os.environ.update(BLAS_ENV)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _ignore_sigint() -> None:
    """A worker's initializer: Ctrl-C reaches the whole process group, and only the parent
    decides what it means (:func:`process_pool`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def process_pool(jobs: int):
    """A pool of ``jobs`` spawned workers (:func:`worker_env` while it is open), for a ``with``
    block.  When the block ends with an exception (an error, Ctrl-C) the workers are
    terminated at once, further Ctrl-Cs ignored until they are gone: waiting for their
    running tasks took seconds, and a second Ctrl-C in that wait (``timeout -s INT`` sends
    two) left the pool's threads deadlocked at exit, so ``eie dse`` hung for ever."""
    with worker_env():
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_ignore_sigint)
        try:
            yield pool
        except BaseException:
            main = threading.current_thread() is threading.main_thread()
            old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
            try:
                procs = list((getattr(pool, "_processes", None) or {}).values())   # no public handle before 3.14
                pool.shutdown(wait=False, cancel_futures=True)
                for proc in procs:
                    proc.terminate()
                for proc in procs:
                    proc.join(timeout=10)
            finally:
                if main:
                    signal.signal(signal.SIGINT, old)
            raise
        pool.shutdown(wait=True)


def _check_jobs(jobs) -> int:
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise InputError(f"jobs must be an integer >= 1, not {jobs!r}")
    return jobs


def run_tasks(tasks: Iterable[tuple[Callable, tuple, int, str]], jobs: int = 2, progress: Progress | None = None,
              sequential: Iterable[tuple[Callable, tuple, int, str]] = ()) -> tuple[list, list]:
    """Run ``(function, args, weight, label)`` tasks on ``jobs`` spawned workers.

    ``tasks`` run concurrently (largest first is the caller's business); ``sequential``
    tasks run afterwards one at a time, with nothing else of ours running (timings).
    Returns the two result lists in task order.  ``weight`` is what a finished task adds
    to ``progress``.  An error in a task is raised here, the other tasks are cancelled.
    """
    jobs = _check_jobs(jobs)
    tasks, sequential = list(tasks), list(sequential)
    results: list = [None] * len(tasks)
    seq_results: list = []
    with process_pool(jobs) as pool:
        pending = {pool.submit(fn, *args): (i, weight, label)
                   for i, (fn, args, weight, label) in enumerate(tasks)}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i, weight, label = pending.pop(fut)
                results[i] = fut.result()
                if progress:
                    progress.advance(weight, label)
        for fn, args, weight, label in sequential:
            seq_results.append(pool.submit(fn, *args).result())
            if progress:
                progress.advance(weight, label)
    return results, seq_results


def group_points(points: Iterable[Point], base: EIEConfig) -> list[list[Point]]:
    """Distinct points (one per layer and configuration: ``queue_depth=8`` on the default
    base is the base point) grouped by shared memory images, the largest groups first."""
    distinct = {}
    for pt in points:
        distinct.setdefault((pt.layer, pt.config(base)), pt)
    groups: dict = {}
    for pt in distinct.values():
        groups.setdefault(pt.image_key(base), []).append(pt)
    # Fewer PEs mean longer runs (more passes); the estimate only orders the queue.
    def cost(key):
        ref, cfg = key
        return ref.size * (len(groups[key]) + 1) * (1 + 8 / cfg.pes)
    return [groups[k] for k in sorted(groups, key=cost, reverse=True)]


def count_distinct(points: Iterable[Point], base: EIEConfig | None = None) -> int:
    """How many simulations :func:`run_points` will run for ``points``."""
    base = EIEConfig() if base is None else base
    return len({(pt.layer, pt.config(base)) for pt in points})


def run_points(points: Iterable[Point], base: EIEConfig | None = None, jobs: int = 2,
               progress: Progress | None = None, sequential=()) -> tuple[dict[Point, dict], list]:
    """Simulate every distinct point on ``jobs`` workers, then run the ``sequential``
    tasks (see :func:`run_tasks`).  Returns ``({point: record}, sequential results)``;
    points with equal configurations share one record."""
    base = EIEConfig() if base is None else base
    points = list(points)
    groups = group_points(points, base)
    tasks = [(simulate_points, (g, base), len(g), f"{g[0].layer.name} pes={g[0].config(base).pes}")
             for g in groups]
    results, seq = run_tasks(tasks, jobs, progress, sequential)
    by_config = {(pt.layer, pt.config(base)): rec
                 for g, recs in zip(groups, results, strict=True) for pt, rec in zip(g, recs, strict=True)}
    return {pt: by_config[(pt.layer, pt.config(base))] for pt in points}, seq
