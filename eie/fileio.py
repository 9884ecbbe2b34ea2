"""Output files shared by every command: the ``--force`` rule, atomic writes, JSON of numpy values;
and the reading of text input files (:func:`read_text`, :func:`read_toml`).

The rules (every command follows them; docs/cli.md "Output files"):

* An output is refused (:class:`~eie.errors.InputError`, exit 2, nothing written) when it
  exists and ``--force`` is not given; when it exists and is not a regular file (a
  directory, a symbolic link, a device: eie never replaces anything but a regular file,
  with or without ``--force``); when its directory does not exist (eie does not create
  parent directories: create them first); and when two outputs of one command name the same
  file (:func:`check_distinct`).
* ``-`` as a JSON output (``--json -``) writes to standard output.
* Files are written to a temporary file of this process in the same directory and renamed,
  so a reader never sees half a file and a failed write leaves nothing behind; a place that
  cannot be written is one clear error, not a traceback.
* An output *directory* (``--out DIR``) is created when its parent exists; ``-`` is not a
  directory (:func:`check_out_dir`).  All its files are checked before the first is written
  (:func:`check_files`, :class:`OutputPlan`); with ``--force`` the files
  that an earlier run listed in its ``manifest.json`` and this run does not write again are
  removed, so the directory holds one run's files.

A text input file (a configuration, a spec, an energy table) that cannot be read, is not
UTF-8 or (:func:`read_toml`) is not valid TOML is one error naming the file, never a
traceback.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import sys
import tomllib
from pathlib import Path

from .errors import EIEError, InputError

__all__ = ["STDOUT", "check_out", "check_out_dir", "check_files", "check_distinct", "check_not_inputs", "protect_inputs", "check_outside", "probe_writable", "write_text", "write_bytes",
           "write_stream", "json_default", "dumps_json", "write_json", "OutputPlan", "read_text", "read_toml"]

#: the path that means standard output (``--json -``)
STDOUT = "-"


def _kind(path: Path) -> str | None:
    """None for a missing path or a regular file, else what it is."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"not accessible ({exc.strerror})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


def _tmp_name(path: Path) -> Path:
    """This process's temporary file for ``path`` (same directory, hidden, removed on failure)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _open_tmp(tmp: Path, text: bool):
    """Create the temporary file ``tmp`` new (``O_EXCL``, and ``O_NOFOLLOW``: never through a
    link planted at its predictable name; a leftover of an earlier process with the same PID,
    file or link, is removed first, the link itself and not what it names)."""
    if tmp.is_symlink() or tmp.is_file():
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
    return os.fdopen(fd, "w", encoding="utf-8", newline="") if text else os.fdopen(fd, "wb")


def probe_writable(path: Path, label: str) -> None:
    """Create and remove the temporary file of ``path``: a place that cannot be written is
    refused before any work (``/proc``, a read-only mount, a full disk's inode table)."""
    tmp = _tmp_name(path)
    try:
        _open_tmp(tmp, text=False).close()
    except OSError as exc:
        raise InputError(f"{label} cannot be written ({exc.strerror or exc}): "
                         f"choose a writable directory") from None
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def check_out(path, force: bool, what: str, *, stdout_ok: bool = False) -> Path | None:
    """``Path(path)`` if it may be written (``None`` stays ``None``; ``-`` with ``stdout_ok``
    stays ``Path('-')``, standard output).  Checked here, before any work: the ``--force``
    rule, regular files only, the directory exists, and the place can be written."""
    if path is None:
        return None
    if str(path) == STDOUT:
        if stdout_ok:
            return Path(STDOUT)
        raise InputError(f"{what} '-' (standard output) is only possible for JSON: give a file name")
    path = Path(path)
    kind = _kind(path)
    if kind:
        raise InputError(f"{what} {str(path)!r} is {kind}: eie only replaces regular files; give a file path")
    if path.exists() and not force:
        raise InputError(f"{what} {str(path)!r} exists: use --force to overwrite it")
    parent = path.parent
    if not parent.is_dir():
        raise InputError(f"{what} {str(path)!r}: directory {str(parent)!r} does not exist (create it first)")
    probe_writable(path, f"{what} {str(path)!r}")
    return path


def check_out_dir(path, what: str = "output directory") -> Path:
    """``Path(path)`` if it may be an output directory: absent (it will be created) or a
    directory (not a symbolic link to one), and its parent exists; ``-`` is refused (a
    directory cannot be standard output); the place can be written (probed in the directory,
    or in its parent where it will be created: a read-only mount or ``/proc`` is refused
    before any work, not after it).  The files in it are checked by :func:`check_files`."""
    if str(path) == STDOUT:
        raise InputError(f"{what} cannot be '-' (standard output): give a directory name")
    d = Path(path)
    kind = _kind(d)
    if kind is None and d.exists():
        kind = "a regular file"
    if kind and kind != "a directory":
        raise InputError(f"{what} {str(d)!r} is not a directory (it is {kind}): give a directory; eie never "
                         f"replaces a file by a directory")
    if not d.parent.is_dir():
        raise InputError(f"{what} {str(d)!r}: its parent {str(d.parent)!r} does not exist (create it first)")
    where = d if kind == "a directory" else d.parent
    probe_writable(where / f".{d.name}.probe", f"{what} {str(d)!r}")
    return d


def check_files(directory, names, *, force: bool, what: str = "output directory") -> None:
    """Refuse, before any is written, to write the files ``names`` (paths relative to
    ``directory``, an output directory of :func:`check_out_dir`): every subdirectory they need
    is absent or a directory, and every file absent or a regular file (an existing one only
    with ``force``).  A symbolic link or a directory where a file goes is refused even with
    ``force``: eie never writes through a link nor replaces anything but a regular file."""
    d = Path(directory)
    subs = {p for n in names for p in Path(n).parents if str(p) != "."}
    for sub in sorted(subs, key=lambda p: len(p.parts)):            # outermost first
        kind = _kind(d / sub) or ("a regular file" if os.path.lexists(d / sub) else None)
        if kind and kind != "a directory":
            raise InputError(f"{str(d / sub)!r} is {kind}: it must be a directory")
    for name in names:
        path = d / name
        kind = _kind(path)
        if kind:
            raise InputError(f"{str(path)!r} is {kind}: eie only replaces regular files")
        if path.exists() and not force:
            raise InputError(f"{what} {str(d)!r} already holds {name!r}: use --force to overwrite")


def check_distinct(**outputs) -> None:
    """Refuse two outputs (``name=path``; None ignored) that are the same file."""
    seen: dict[str, str] = {}
    for name, path in outputs.items():
        if path is None or str(path) == STDOUT:
            continue
        key = os.path.realpath(path)
        if key in seen:
            raise InputError(f"{seen[key]} and {name} name the same file {str(path)!r}: give each output its own file")
        seen[key] = name


def _file_key(path):
    """What makes two paths one file: its device and inode when it exists (a hard link or a
    symbolic one is the same file), else its real path."""
    try:
        st = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    return (st.st_dev, st.st_ino)


def check_not_inputs(inputs: dict, **outputs) -> None:
    """Refuse an output (``name=path``; None and ``-`` ignored) that is one of the run's input
    files (``inputs``: what -> path, e.g. ``{"layer file": "l.npz"}``): ``eie simulate l.npz -o
    l.npz --force`` replaced the layer by its output activations."""
    given = {_file_key(p): what for what, p in inputs.items() if p is not None and str(p) != STDOUT}
    for name, path in outputs.items():
        if path is None or str(path) == STDOUT:
            continue
        what = given.get(_file_key(path))
        if what is not None:
            raise InputError(f"{name} {str(path)!r} is the {what}: eie never writes over its input; give {name} "
                             f"another file")


#: the current command's input files (:func:`_file_key` -> what), set by the CLI for each command
#: (:func:`protect_inputs`): an :class:`OutputPlan` neither writes over nor removes them
_PROTECTED: dict = {}


def protect_inputs(inputs: dict) -> None:
    """Make ``inputs`` (what -> path) the files no :class:`OutputPlan` of this command may
    write over or remove as stale (``eie import s/fc.npz -o s --force`` had replaced the model
    file with its own output; ``eie compile net/fc1.npz -o net --force`` had removed it as a file
    of an earlier run).  Replaces the previous command's set."""
    _PROTECTED.clear()
    _PROTECTED.update({_file_key(p): what for what, p in inputs.items() if p is not None and str(p) != STDOUT})


def check_outside(directory, what: str, **outputs) -> None:
    """Refuse an output file (``name=path``; None and ``-`` ignored) inside the output
    directory ``directory`` of the same run (``what`` names its option, e.g. ``"--out"``): the
    command writes and, with ``--force``, replaces that directory's files, so ``--json
    DIR/codebook.hex`` would overwrite one (or be removed as stale by the next run)."""
    if directory is None:
        return
    root = os.path.realpath(directory)
    for name, path in outputs.items():
        if path is None or str(path) == STDOUT:
            continue
        p = os.path.realpath(path)
        if p == root or p.startswith(root.rstrip(os.sep) + os.sep):
            raise InputError(f"{name} {str(path)!r} is inside {what} {str(directory)!r}, whose files the command "
                             f"writes and replaces: give {name} a path outside it")


def _atomic(path: Path, data: bytes) -> None:
    tmp = _tmp_name(path)
    try:
        with _open_tmp(tmp, text=False) as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException as exc:            # an interrupt too: never leave the temporary file
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise InputError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
        raise


def write_bytes(path, data: bytes) -> None:
    """Write ``data`` atomically (see the module docstring); ``-`` is standard output."""
    if str(path) == STDOUT:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    path = Path(path)
    kind = _kind(path)
    if kind:
        raise InputError(f"{str(path)!r} is {kind}: eie only replaces regular files")
    _atomic(path, data)


def write_stream(path, chunks) -> None:
    """Write the text ``chunks`` one after the other, atomically like :func:`write_bytes`
    (a temporary file renamed into place; ``-`` is standard output), without holding the
    whole text in memory."""
    if str(path) == STDOUT:
        for chunk in chunks:
            sys.stdout.write(chunk)
        sys.stdout.flush()
        return
    path = Path(path)
    kind = _kind(path)
    if kind:
        raise InputError(f"{str(path)!r} is {kind}: eie only replaces regular files")
    tmp = _tmp_name(path)
    try:
        with _open_tmp(tmp, text=True) as fh:
            for chunk in chunks:
                fh.write(chunk)
        os.replace(tmp, path)
    except BaseException as exc:            # an interrupt too: never leave the temporary file
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise InputError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
        raise


def write_text(path, text: str, if_changed: bool = False) -> bool:
    """Write ``text`` atomically; with ``if_changed``, not at all when the file already holds
    ``text`` (its time stamp stays).  Returns whether the file was written."""
    if if_changed and str(path) != STDOUT:
        p = Path(path)
        try:
            if p.is_file() and not p.is_symlink() and p.read_text() == text:
                return False
        except (OSError, UnicodeDecodeError):
            pass
    write_bytes(path, text.encode())
    return True


#: the largest text input eie reads (configurations, specs, tables, prototxt: kilobytes)
MAX_TEXT_BYTES = 64 << 20


def read_text(path, where: str, error: type[EIEError] = InputError) -> str:
    """The text of the UTF-8 file ``path``; a file that cannot be read, is not a regular file
    (a device or a FIFO would be read forever), is larger than :data:`MAX_TEXT_BYTES` or is not
    UTF-8 raises ``error`` (an :class:`~eie.errors.EIEError` class) naming it as ``where``
    (e.g. ``"config file 'x.toml'"``)."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{where} is not a regular file: give the path of a text file")
        if st.st_size > MAX_TEXT_BYTES:
            raise error(f"{where} holds {st.st_size:,} bytes, more than the {MAX_TEXT_BYTES >> 20} MiB a text "
                        f"input may: is it the right file?")
        with open(path, "rb") as fh:
            data = fh.read(MAX_TEXT_BYTES + 1)
        if len(data) > MAX_TEXT_BYTES:
            raise error(f"{where} grew past {MAX_TEXT_BYTES >> 20} MiB while it was read")
        return data.decode("utf-8")
    except OSError as exc:
        raise error(f"{where} cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{where} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}): "
                    f"save it as UTF-8") from None


def read_toml(path, where: str, error: type[EIEError] = InputError) -> dict:
    """The tables of the TOML file ``path`` (:func:`read_text`, then parsed); invalid TOML
    raises ``error`` naming the file as ``where``."""
    text = read_text(path, where, error)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{where} is not valid TOML: {exc}") from None


def json_default(o):
    """``json.dumps(default=...)`` hook: numpy integers, floats and arrays."""
    import numpy as np
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _finite(o):
    """``o`` with every float that is not finite as None (JSON has no NaN or Infinity)."""
    import numpy as np
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    if isinstance(o, np.ndarray):
        return _finite(o.tolist())
    if isinstance(o, (float, np.floating)):
        return float(o) if math.isfinite(o) else None
    return o


def dumps_json(obj) -> str:
    """``obj`` as JSON (indented, numpy values converted); a float that is not finite (a
    power of ``inf`` mW, a ratio over 0) is written as ``null``: standard JSON has neither NaN
    nor Infinity, and other readers refuse them."""
    try:
        return json.dumps(obj, indent=1, default=json_default, allow_nan=False) + "\n"
    except ValueError:
        return json.dumps(_finite(obj), indent=1, default=json_default, allow_nan=False) + "\n"


def write_json(path, obj) -> None:
    """Write ``obj`` as JSON (atomically; ``-`` is standard output)."""
    write_text(path, dumps_json(obj))


class OutputPlan:
    """The files of one output directory, checked together and then written.

    ``add(name, content)`` (text, bytes, or a JSON-ready dict for ``*.json``) collects;
    :meth:`commit` checks everything first (the directory, every existing file, the
    ``--force`` rule) and only then writes.  The manifest (``manifest`` name, a dict) gets a
    ``files`` list of every file of the run and ``written_by`` (``"eie <kind>"``); with
    ``force``, the files that the previous manifest lists and this run does not write are
    removed, if that manifest was written by the same kind of run (a plan without a ``kind``
    removes none; manifests of eie before ``written_by`` neither) (``eie compile -o NET
    --force`` into an imported network directory had removed its ``network.toml`` and layer
    files, listed by ``eie import``'s manifest).  A directory whose manifest another kind of
    run wrote is refused, ``force`` or not (:meth:`_other_run`: replacing that record left the
    other run's next ``--force`` blind to its own stale files).  A text manifest
    (``manifest.json`` written as a string) must carry both keys itself.
    """

    def __init__(self, directory, *, force: bool, kind: str | None = None, what: str = "output directory",
                 manifest: str = "manifest.json"):
        self.directory = Path(directory)
        self.force = force
        self.kind = kind
        self.what = what
        self.manifest = manifest
        self._files: dict[str, object] = {}

    def add(self, name: str, content) -> None:
        rel = Path(name)
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"file name must be relative inside the directory, not {name!r}")
        self._files[rel.as_posix()] = content

    @property
    def written_by(self) -> str | None:
        """``"eie <kind>"``; None for a plan without a kind, which removes no stale file."""
        return None if self.kind is None else f"eie {self.kind}"

    def _previous(self) -> list[str]:
        """Files the previous run's manifest lists (relative, inside the directory), if that
        run was of this plan's kind."""
        try:
            old = json.loads((self.directory / self.manifest).read_text())
        except (OSError, ValueError):
            return []
        names = old.get("files") if isinstance(old, dict) else None
        if not isinstance(names, list) or self.written_by is None or old.get("written_by") != self.written_by:
            return []
        out = []
        for n in names:
            if isinstance(n, str) and not Path(n).is_absolute() and ".." not in Path(n).parts:
                out.append(n)
        return out

    def check(self) -> None:
        d = check_out_dir(self.directory, self.what)         # probes the place it will write in
        other = self._other_run(d)
        if other is not None:
            raise InputError(f"{self.what} {str(d)!r} holds the files of an '{other}' run (its {self.manifest} "
                             f"says so); this '{self.written_by}' run would replace that record, and a later "
                             f"'{other} --force' could no longer tell its own files: give another directory "
                             f"(e.g. {str(d / self.kind)!r})")
        check_files(d, self._files, force=self.force, what=self.what)
        for name in self._files:
            what = _PROTECTED.get(_file_key(d / name))
            if what is not None:
                raise InputError(f"{self.what} {str(d)!r}: this run writes {name!r}, which is the {what}: eie "
                                 f"never writes over its input; give another directory")

    def _other_run(self, d: Path) -> str | None:
        """The ``written_by`` of the directory's manifest when another kind of run wrote it and
        this plan would replace it (``eie compile -o NET`` replaced ``eie import``'s record)."""
        if self.written_by is None or self.manifest not in self._files:
            return None
        try:
            old = json.loads((d / self.manifest).read_text())
        except (OSError, ValueError):
            return None
        by = old.get("written_by") if isinstance(old, dict) else None
        return by if isinstance(by, str) and by.startswith("eie ") and by != self.written_by else None

    def commit(self) -> list[Path]:
        """Check, then write every file (the manifest last); returns the paths written."""
        self.check()
        d = self.directory
        names = list(self._files)
        if self.manifest in self._files and isinstance(self._files[self.manifest], dict):
            self._files[self.manifest]["files"] = sorted(names)      # the caller's dict sees it too
            if self.written_by is not None:
                self._files[self.manifest]["written_by"] = self.written_by
        stale = [n for n in self._previous() if n not in self._files] if self.force else []
        try:
            d.mkdir(exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create {self.what} {str(d)!r}: {exc.strerror or exc}") from None
        written = []
        order = [n for n in names if n != self.manifest] + ([self.manifest] if self.manifest in self._files else [])
        for name in order:
            path = d / name
            if not path.parent.is_dir():
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise InputError(f"cannot create {str(path.parent)!r}: {exc.strerror or exc}") from None
            content = self._files[name]
            if isinstance(content, dict):
                content = dumps_json(content)
            write_bytes(path, content.encode() if isinstance(content, str) else content)
            written.append(path)
        for name in stale:
            # only a regular file reached through real subdirectories of d: a symbolic link on
            # the way (images/ -> elsewhere) would make this remove files outside the directory
            path = d / name
            parents = [d / p for p in reversed(Path(name).parents) if str(p) != "."]
            if (all(_kind(p) == "a directory" for p in parents) and _kind(path) is None and path.exists()
                    and _file_key(path) not in _PROTECTED):      # an input of this run stays
                path.unlink()
        return written
