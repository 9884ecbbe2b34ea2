"""Output files shared by every command: the ``--force`` rule, atomic writes, JSON of numpy values.

* :func:`check_out` — an output path is refused (:class:`~eie.errors.InputError`, exit 2)
  when it exists and ``force`` is not given, or when its directory does not exist.
* :func:`write_text` — write to ``<name>.tmp`` and rename, so a reader never sees half a file.
* :func:`json_default` / :func:`dumps_json` / :func:`write_json` — JSON with numpy scalars and
  arrays turned into plain numbers and lists.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import InputError

__all__ = ["check_out", "write_text", "json_default", "dumps_json", "write_json"]


def check_out(path, force: bool, what: str) -> Path | None:
    """``Path(path)`` if it may be written (``None`` stays ``None``)."""
    if path is None:
        return None
    path = Path(path)
    if path.exists() and not force:
        raise InputError(f"{what} {str(path)!r} exists: use --force to overwrite it")
    if not path.parent.exists():
        raise InputError(f"{what} {str(path)!r}: directory {str(path.parent)!r} does not exist")
    return path


def write_text(path: Path, text: str) -> None:
    """Write ``text`` atomically (temporary file in the same directory, then rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def json_default(o):
    """``json.dumps(default=...)`` hook: numpy integers, floats and arrays."""
    import numpy as np
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def dumps_json(obj) -> str:
    return json.dumps(obj, indent=1, default=json_default) + "\n"


def write_json(path: Path, obj) -> None:
    write_text(path, dumps_json(obj))
