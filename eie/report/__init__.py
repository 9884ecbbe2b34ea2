"""Reports generated from the model: ``eie report paper`` reproduces the EIE paper.

:func:`run_paper_report` runs the sweeps (:mod:`eie.report.runs` over :mod:`eie.sweep`),
builds the document (:mod:`eie.report.paper`: published numbers in
:mod:`eie.report.published`, the numbers computed from the runs in
:mod:`eie.report.metrics` and :mod:`eie.report.energy_metrics`, the text in
:mod:`eie.report.performance_text` and :mod:`eie.report.energy_text`; FPGA records in
:mod:`eie.report.fpga`), draws the figures (:mod:`eie.report.plots`) and writes

* ``report.md`` and ``report.html`` (self-contained; figures by relative path),
* one ``<figure>.png`` per figure,
* ``data/<name>.json`` per table and figure, and ``data/manifest.json`` (every file
  written, the run's wall time and settings).

Output is built in a temporary directory beside ``out`` and moved into place only when
complete, file by file (each move atomic), so a failed run leaves ``out`` as it was.  An
existing non-empty ``out`` is only written with ``force``; files a previous report listed
in its manifest and this one does not make are removed, anything else is left alone.
``out`` and every file of the report follow the output rules of :mod:`eie.fileio`
(:func:`~eie.fileio.check_out_dir`, :func:`~eie.fileio.check_files`): a symbolic link or a
directory where ``out`` or one of its files goes is refused, even with ``force``, before
anything is written (the fixed files before the runs, the figures once they are known).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ..errors import InputError
from ..fileio import check_files, probe_writable
from ..fileio import check_out_dir as check_dir
from .doc import Column, Doc, Figure, Table
from .paper import build_paper_report
from .runs import PaperSweeps

__all__ = ["run_paper_report", "check_out_dir", "report_files", "write_report", "PaperSweeps", "Doc", "Table", "Figure",
           "Column"]

MANIFEST = "data/manifest.json"


def report_files(doc: Doc | None = None) -> list[str]:
    """The files a report writes, relative to its directory: those of ``doc`` (its data
    files and figures), or, without ``doc``, the ones every report has."""
    names = ["report.md", "report.html", MANIFEST]
    if doc is not None:
        names += [*doc.data_files(), *(f.png for f in doc.figures)]
    return sorted(set(names))


def check_out_dir(out, force: bool, what: str = "--out", doc: Doc | None = None) -> Path:
    """The output directory (option ``what``), checked before any work: an output directory
    of :func:`eie.fileio.check_out_dir` (absent or a directory, not a link; its parent
    exists), empty or absent unless ``force``, and each of its :func:`report_files` (of
    ``doc`` when given) absent or a regular file (:func:`eie.fileio.check_files`)."""
    out = check_dir(out, f"{what} directory")
    # the report is built in a temporary directory beside ``out`` and moved in: its parent too
    probe_writable(out.parent / f".{out.name}.probe", f"{what} {str(out)!r} (its parent)")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InputError(f"{what} {str(out)!r} exists and is not empty: use --force to overwrite the report in it")
    check_files(out, report_files(doc), force=force, what=f"{what} directory")
    if doc is None and out.is_dir():
        # before the document exists its figures' and data files' names are not known, but
        # they are PNGs at the top and files under data/: refuse now, not after the work, a
        # link or a directory where one of them may go
        data = out / "data"
        names = [p.name for p in out.glob("*.png")]
        if data.is_dir() and not data.is_symlink():     # its JSON and CSV tables: a user's other entries stay
            names += [f"data/{n}" for n in sorted(os.listdir(data)) if Path(n).suffix in (".json", ".csv")]
        elif os.path.lexists(data):
            names.append("data/report.json")          # only for the check that data is a directory
        check_files(out, names, force=force, what=f"{what} directory")
    return out


def write_report(doc: Doc, meta: dict, out, force: bool = False, before_text=None, what: str = "--out") -> list[str]:
    """Draw the figures and write every file of ``doc`` into ``out``; returns the paths
    written (relative to ``out``).  ``before_text(doc)``, if given, runs after the figures
    are drawn and before the text is rendered (to state the total time).  ``what``: the
    option that named ``out``, for the messages."""
    from .plots import draw
    out = check_out_dir(out, force, what, doc)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as exc:
        raise InputError(f"{what} {str(out)!r}: its parent {str(out.parent)!r} cannot be written "
                         f"({exc.strerror or exc}): choose a writable place") from None
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)           # mkdtemp makes it private; it may become ``out`` itself
    try:
        (tmp / "data").mkdir()
        for fig in doc.figures:
            draw(fig, tmp / fig.png)
        if before_text is not None:
            before_text(doc)
        files = {"report.md": doc.markdown(), "report.html": doc.html(), **doc.data_files()}
        for rel, text in files.items():
            (tmp / rel).write_text(text, encoding="utf-8")
        written = report_files(doc)
        manifest = {**meta, "files": written, "tables": [t.name for t in doc.tables],
                    "figures": [f.png for f in doc.figures]}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str) + "\n", encoding="utf-8")
        old = _old_manifest(out)
        check_files(out, written, force=force, what=f"{what} directory")     # again: the text is final
        if not out.exists():
            tmp.rename(out)
            tmp = None
        else:
            (out / "data").mkdir(exist_ok=True)
            for rel in written:
                os.replace(tmp / rel, out / rel)
            for rel in old:
                if rel not in written and (out / rel).is_file() and _inside(out, out / rel):
                    (out / rel).unlink()
        return written
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _old_manifest(out: Path) -> list[str]:
    try:
        files = json.loads((out / MANIFEST).read_text(encoding="utf-8")).get("files", [])
        return [f for f in files if isinstance(f, str)]
    except (OSError, ValueError, AttributeError):
        return []


def _inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def run_paper_report(out, specs, fc8: str | None = None, sweeps: PaperSweeps | None = None, jobs: int = 2,
                     force: bool = False, timing: bool = True, stream=None, command: str | None = None,
                     fpga: list | None = None) -> dict:
    """Reproduce the paper into directory ``out``; returns the manifest (with ``wall_s``).
    ``fpga``: ``eie synth --json`` records (:func:`eie.report.fpga.load_records`) to report."""
    t0 = time.perf_counter()
    check_out_dir(out, force)
    stream = sys.stderr if stream is None else stream
    doc, meta, add_method = build_paper_report(specs, fc8=fc8, sweeps=sweeps, jobs=jobs, timing=timing,
                                               stream=stream, command=command, fpga=fpga)

    def before_text(doc):
        meta["wall_s"] = time.perf_counter() - t0
        add_method(doc, meta["wall_s"])

    written = write_report(doc, meta, out, force, before_text)
    meta["files"] = written
    return meta
