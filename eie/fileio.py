"""Output files shared by every command: the ``--force`` rule, atomic writes, JSON of numpy values.

* :func:`check_out` — an output path is refused (:class:`~eie.errors.InputError`, exit 2)
  when it exists and ``force`` is not given, or when its directory does not exist.
* :func:`write_text` — write to a temporary file and rename, so a reader never sees half a
  file; ``if_changed`` leaves an identical file untouched (its time stamp too).
* :func:`json_default` / :func:`dumps_json` / :func:`write_json` — JSON with numpy scalars and
  arrays turned into plain numbers and lists.
"""

from __future__ import annotations

import json
import os
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


def write_text(path: Path, text: str, if_changed: bool = False) -> bool:
    """Write ``text`` atomically (a temporary file of this process in the same directory,
    then rename); with ``if_changed``, not at all when the file already holds ``text``.
    Returns whether the file was written."""
    path = Path(path)
    if if_changed and path.exists() and path.read_text() == text:
        return False
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return True


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
