"""Results that last: one SQLite file (stdlib ``sqlite3``) of sweep points (docs/dse.md §3).

A point is stored under its key (:func:`eie.dse.evaluate.point_key`: a hash of its
configuration, its workload's content, the energy table, the eie version and the record
layout), with its status (``ok`` or ``error``), its record (JSON) or error message, and the
wall time it took.  Results are written as they arrive, a transaction per task, so an
interrupted sweep keeps everything it finished and the next run skips it; nothing of a
sweep is held in memory but the keys of its points.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import InputError
from ..fileio import probe_writable

__all__ = ["Store", "SCHEMA_VERSION"]

#: layout of the database (a different layout is refused, not migrated)
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS points (
    key TEXT PRIMARY KEY,
    workload TEXT NOT NULL,
    target TEXT NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    record TEXT,
    error TEXT,
    eie_version TEXT NOT NULL,
    wall_s REAL,
    created REAL NOT NULL
);
"""
_CHUNK = 500


def _schema_db() -> sqlite3.Connection:
    """An in-memory database of :data:`_SCHEMA`: what eie's tables look like."""
    db = sqlite3.connect(":memory:")
    db.executescript(_SCHEMA)
    return db


def _columns(db: sqlite3.Connection, tables) -> dict:
    """The column names of ``tables`` in ``db`` (a table it lacks: none)."""
    return {t: [c[1] for c in db.execute("SELECT * FROM pragma_table_info(?)", (t,))] for t in sorted(tables)}


class Store:
    """The points of one database file (created if absent)."""

    def __init__(self, path):
        self.path = Path(path)
        where = f"--db {str(self.path)!r}"
        if self.path.is_symlink():
            # the database is written in place: a link (dangling or not) would write elsewhere
            raise InputError(f"{where} is a symbolic link: give the path of the SQLite file itself")
        if self.path.exists() and not self.path.is_file():
            raise InputError(f"{where} is not a regular file: give the path of a SQLite file")
        if not self.path.parent.is_dir():
            raise InputError(f"{where}: directory {str(self.path.parent)!r} does not exist (create it first)")
        if not self.path.exists():
            probe_writable(self.path, where)       # a read-only place: said so, not "not an eie database"
        self.db = None
        try:
            self.db = sqlite3.connect(self.path, timeout=30)
            tables = {name for (name,) in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            row = None
            if "meta" in tables:
                row = self.db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
            if row is None and tables and _columns(self.db, tables) != _columns(_schema_db(), tables):
                # a database of another program: eie never adds its tables to it
                names = sorted(tables)
                held = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
                raise InputError(f"{where} is a SQLite database but not an eie sweep database (its tables: {held}; "
                                 f"no eie schema): eie does not add its tables to it; give another --db")
            if row is not None and row[0] != str(SCHEMA_VERSION):
                raise InputError(f"{where} was written by another eie (schema {row[0]}, this one reads "
                                 f"{SCHEMA_VERSION}): give another --db")
            if row is not None:
                # damage past the first page is found only when a query reaches it: look now,
                # before any work (quick_check reads every page once: a second per ~100 MB)
                bad = [" ".join(r[0].split()) for r in self.db.execute("PRAGMA quick_check(2)")]
                if bad != ["ok"]:
                    raise sqlite3.DatabaseError("; ".join(bad))
            self.db.executescript(_SCHEMA)
            if row is None:
                self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                self.db.commit()
        except (InputError, sqlite3.DatabaseError) as exc:
            if self.db is not None:
                self.db.close()
            if isinstance(exc, InputError):
                raise
            raise InputError(f"{where} is not an eie sweep database, or a damaged one ({exc}): give another --db "
                             f"(a damaged one: remove it and run again; the sweep recomputes its points)") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def status(self, keys: Iterable[str]) -> dict[str, str]:
        """``{key: status}`` of the stored ones among ``keys``."""
        keys = list(keys)
        out = {}
        for i in range(0, len(keys), _CHUNK):
            part = keys[i:i + _CHUNK]
            marks = ",".join("?" * len(part))
            out.update(self.db.execute(f"SELECT key, status FROM points WHERE key IN ({marks})", part).fetchall())
        return out

    def put(self, results: Iterable[dict]) -> int:
        """Store results (``key``, ``workload``, ``target``, ``config``, ``status``, ``record`` or
        ``error``, ``wall_s``), replacing earlier ones of the same key; one transaction."""
        from .. import __version__
        now = time.time()
        rows = [(r["key"], r["workload"], r["target"], json.dumps(r["config"], sort_keys=True), r["status"],
                 None if r.get("record") is None else json.dumps(r["record"]), r.get("error"), __version__,
                 r.get("wall_s"), now) for r in results]
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO points VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        return len(rows)

    def rows(self, keys: Iterable[str]) -> Iterator[dict]:
        """The stored points of ``keys``, in that order (missing keys are skipped): ``key``,
        ``workload``, ``target``, ``status``, ``record`` (a dict) or ``error``, ``wall_s``."""
        keys = list(keys)
        for i in range(0, len(keys), _CHUNK):
            part = keys[i:i + _CHUNK]
            marks = ",".join("?" * len(part))
            got = {r[0]: r for r in self.db.execute(
                f"SELECT key, workload, target, status, record, error, wall_s FROM points WHERE key IN ({marks})",
                part)}
            for k in part:
                if k in got:
                    key, workload, target, status, record, error, wall = got[k]
                    yield {"key": key, "workload": workload, "target": target, "status": status,
                           "record": None if record is None else json.loads(record), "error": error, "wall_s": wall}

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM points").fetchone()[0]
