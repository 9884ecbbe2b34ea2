"""The co-simulation build cache stays under its limit: least recently used builds go first,
recent or kept builds stay, the generated-Verilog index is never touched, and a bad
``$EIE_CACHE_MAX_GB`` is one clear error (exit 2).

Several processes share one cache (two ``eie verify`` at once, the test suite on several
cores): builders of one design take turns on its lock, and neither eviction nor ``--clear``
removes a build another process holds.  Those tests race real processes (``_worker``) on
tiny fake builds; each would fail, or time out, without the lock."""

import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO

from eie.cli import main
from eie.errors import ConfigError
from eie.flow.simulators import (
    BUILD_LOCK,
    BUILD_STAMP,
    CACHE_MAX_GB,
    BuildGone,
    cache_builds,
    cache_limit,
    cache_size,
    clear_cache,
    lock_build,
    prune_cache,
)

HOUR = 3600.0


def _build(root, name, size, used, *, stamp=True):
    """A fake build directory of ``size`` bytes (in two files, one in a subdirectory, as a
    real build has obj_dir/) last used at ``used``."""
    d = root / name
    (d / "obj_dir").mkdir(parents=True)
    (d / "obj_dir" / "model.o").write_bytes(b"x" * (size // 2))
    (d / "top.v").write_bytes(b"y" * (size - size // 2 - (len("ok\n") if stamp else 0)))
    if stamp:
        (d / BUILD_STAMP).write_text("ok\n")
        os.utime(d / BUILD_STAMP, (used, used))
    os.utime(d, (used, used))
    return d


@pytest.fixture
def cache(tmp_path):
    now = time.time()
    root = tmp_path / "cache"
    b = {
        "a": _build(root, "rtl-verilator-n4-aaaa-111111", 1000, now - 10 * HOUR),
        "b": _build(root, "rtl-icarus-n4-bbbb-111111", 2000, now - 9 * HOUR),
        "c": _build(root, "rtl-verilator-n64-cccc-111111", 3000, now - 8 * HOUR, stamp=False),  # never finished
        "d": _build(root, "rtl-verilator-trace-n2-dddd-111111", 4000, now - 7 * HOUR),
    }
    # the generated-Verilog index and a stray file: not builds, never evicted
    (root / "rtl-src").mkdir()
    (root / "rtl-src" / "k").write_text("digest\n")
    (root / "rtl-verilog").mkdir()
    (root / "rtl-verilog" / "digest.v").write_bytes(b"z" * 5000)
    (root / "notes.txt").write_text("mine\n")
    return root, b, now


def test_builds_are_listed_least_recently_used_first(cache):
    root, b, _ = cache
    got = cache_builds(root)
    assert [d for d, _, _ in got] == [b["a"], b["b"], b["c"], b["d"]]
    assert [size for _, _, size in got] == [1000, 2000, 3000, 4000]
    size, builds = cache_size(root)
    assert builds == 4 and size == 10000 + len("digest\n") + 5000       # eie's entries: not notes.txt
    (root / "mine").mkdir()                                        # the user's own files are not eie's
    (root / "mine" / "big.bin").write_bytes(b"u" * 100_000)
    assert cache_size(root) == (size, 4)


def test_prune_evicts_the_oldest_until_the_builds_fit(cache):
    root, b, now = cache
    gone = prune_cache(root, limit=7000, now=now)
    # 10,000 bytes of builds: without a (1,000) 9,000 > 7,000; without b too, 7,000 fits
    assert gone == [b["a"], b["b"]]
    assert not b["a"].exists() and not b["b"].exists() and b["c"].is_dir() and b["d"].is_dir()
    assert (root / "rtl-src" / "k").exists() and (root / "rtl-verilog" / "digest.v").exists()
    assert (root / "notes.txt").exists()
    assert prune_cache(root, limit=7000, now=now) == []          # already under the limit


def test_prune_spares_kept_and_recently_used_builds(cache):
    root, b, now = cache
    os.utime(b["b"] / BUILD_STAMP, (now - 60, now - 60))        # b was used a minute ago
    gone = prune_cache(root, limit=0, keep=[b["d"]], now=now)
    assert gone == [b["a"], b["c"]]                              # b: in use; d: kept
    assert b["b"].is_dir() and b["d"].is_dir()
    # with no grace period only the kept build stays
    assert prune_cache(root, limit=0, keep=[b["d"]], grace_s=0, now=now) == [b["b"]]
    assert [d for d, _, _ in cache_builds(root)] == [b["d"]]


def test_the_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("EIE_CACHE_MAX_GB", raising=False)
    assert cache_limit() == int(CACHE_MAX_GB * 1e9)
    monkeypatch.setenv("EIE_CACHE_MAX_GB", "0.5")
    assert cache_limit() == 500_000_000
    for bad in ("0", "-2", "abc", "nan", "inf"):
        monkeypatch.setenv("EIE_CACHE_MAX_GB", bad)
        with pytest.raises(ConfigError, match="EIE_CACHE_MAX_GB"):
            cache_limit()


def test_eie_cache_prune_and_a_bad_limit(cache, monkeypatch, capsys):
    root, b, now = cache
    monkeypatch.setenv("EIE_CACHE", str(root))
    monkeypatch.setenv("EIE_CACHE_MAX_GB", "0.000007")            # 7,000 bytes
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert "4 simulator builds" in out and "limit 7e-06 GB" in out
    assert main(["cache", "--prune"]) == 0
    assert "evicted 2 builds" in capsys.readouterr().out
    assert not b["a"].exists() and not b["b"].exists() and b["c"].is_dir()
    monkeypatch.setenv("EIE_CACHE_MAX_GB", "lots")
    assert main(["cache", "--prune"]) == 2
    err = capsys.readouterr().err
    assert "EIE_CACHE_MAX_GB" in err and "'lots'" in err
    assert b["c"].is_dir() and b["d"].is_dir()                   # nothing removed on the error
    assert main(["cache", "--clear"]) == 0                      # clearing needs no limit
    assert "cleared" in capsys.readouterr().out
    assert sorted(p.name for p in root.iterdir()) == ["notes.txt"]    # only eie's entries went


def test_eie_cache_clear_removes_only_what_eie_made(cache, tmp_path, monkeypatch, capsys):
    """``$EIE_CACHE`` may name a directory with the user's own files in it, or a symbolic
    link to one: ``eie cache --clear`` removes the builds and the Verilog index and nothing
    else (not the root, not a link named like a build, not what a link points to)."""
    root, b, _ = cache
    (root / "sub").mkdir()
    (root / "sub" / "mine.txt").write_text("precious\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("keep\n")
    (root / "rtl-verilator-n4-eeee-111111").symlink_to(elsewhere)    # named like a build: not eie's
    link = tmp_path / "link"
    link.symlink_to(root)
    monkeypatch.setenv("EIE_CACHE", str(link))
    assert main(["cache", "--clear"]) == 0
    out = capsys.readouterr().out
    assert "4 builds" in out and "3 other entries" in out
    assert link.is_symlink() and root.is_dir()
    assert sorted(p.name for p in root.iterdir()) == ["notes.txt", "rtl-verilator-n4-eeee-111111", "sub"]
    assert (root / "notes.txt").read_text() == "mine\n" and (root / "sub" / "mine.txt").read_text() == "precious\n"
    assert (elsewhere / "keep.txt").read_text() == "keep\n"
    assert not any(d.exists() for d in b.values())
    assert main(["cache", "--clear"]) == 0                      # again: nothing of eie's left, nothing else goes
    assert "0 builds" in capsys.readouterr().out and len(list(root.iterdir())) == 3


def test_eie_cache_prune_and_clear_exclude_each_other(cache, monkeypatch, capsys):
    root, b, _ = cache
    monkeypatch.setenv("EIE_CACHE", str(root))
    before = sorted(str(p) for p in root.rglob("*"))
    assert main(["cache", "--prune", "--clear"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("eie: error: --prune and --clear exclude each other")
    assert sorted(str(p) for p in root.rglob("*")) == before


# ---- several processes, one cache ----------------------------------------------------------
#: a second process: ``hold`` takes the build's lock shared until told to release it (a run);
#: ``build`` takes it exclusively, saying when it has to wait and what it holds once it has it;
#: ``race`` makes the build ``ROUNDS`` times, each time checking that nobody else is making it
_WORKER = r"""
import os, sys, time
from pathlib import Path
from eie.flow.simulators import lock_build
d, mode, sig = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])

def wait_for(p):
    deadline = time.monotonic() + 60
    while not p.exists():
        assert time.monotonic() < deadline, f"no {p.name}"
        time.sleep(0.01)

if mode == "hold":
    with lock_build(d, shared=True):
        (sig / "holding").touch()
        wait_for(sig / "release")
elif mode == "build":
    with lock_build(d, progress=lambda msg: (sig / "waiting").write_text(msg)):
        (sig / "got").write_text(f"{d.is_dir()} {sorted(p.name for p in d.iterdir())}")
elif mode == "race":
    (sig / f"ready-{os.getpid()}").touch()
    wait_for(sig / "go")
    for _ in range(int(sys.argv[4])):
        with lock_build(d):
            making = d / "making"
            if making.exists():
                (sig / f"overlap-{os.getpid()}").touch()
            making.touch()
            time.sleep(0.005)
            making.unlink(missing_ok=True)
"""


def _worker(d, mode, sig, *extra):
    """Start a second Python process running :data:`_WORKER` on build directory ``d`` (this
    checkout's eie first on its path); ``sig``: the directory of its signal files."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", _WORKER, str(d), mode, str(sig), *map(str, extra)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(path: Path, proc) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"the worker ended before {path.name}: {proc.stdout.read()}")
        assert time.monotonic() < deadline, f"no {path.name} after 60 s"
        time.sleep(0.01)


def _join(proc) -> None:
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out


def test_two_processes_never_make_one_build_at_once(tmp_path):
    """Two processes building the same design take turns: neither ever finds the other
    inside (the marker a builder makes and removes again), over 40 rounds each."""
    d, sig = tmp_path / "cache" / "rtl-verilator-n4-aaaa-111111", tmp_path / "sig"
    sig.mkdir()
    procs = [_worker(d, "race", sig, 40) for _ in range(2)]
    deadline = time.monotonic() + 60
    while len(list(sig.glob("ready-*"))) < 2:           # both started: they race from one moment
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.01)
    (sig / "go").touch()
    for p in procs:
        _join(p)
    assert not list(sig.glob("overlap-*"))
    assert sorted(p.name for p in d.iterdir()) == [BUILD_LOCK]


def test_a_second_builder_waits_for_the_first(tmp_path):
    d, sig = tmp_path / "rtl-verilator-n4-aaaa-111111", tmp_path / "sig"
    sig.mkdir()
    with lock_build(d):                                  # this process is building it
        proc = _worker(d, "build", sig)
        _wait_for(sig / "waiting", proc)                  # the other one found the lock held ...
        time.sleep(0.2)
        assert not (sig / "got").exists()                 # ... and waits
        assert "waiting for another process using rtl-verilator-n4-aaaa-111111" in (sig / "waiting").read_text()
        (d / BUILD_STAMP).write_text("ok\n")
    _join(proc)
    assert (sig / "got").read_text() == f"True {[BUILD_LOCK, BUILD_STAMP]}"     # it then finds the build done


def test_a_builder_that_waited_on_an_eviction_starts_afresh(tmp_path):
    """Eviction holds the lock while it removes the build (lock file included): a builder
    that was waiting for that lock must not go on with the removed directory's lock, but
    make the directory again and hold the new lock file."""
    now = time.time()
    root, sig = tmp_path / "cache", tmp_path / "sig"
    sig.mkdir()
    d = _build(root, "rtl-verilator-n4-aaaa-111111", 1000, now - 10 * HOUR)
    fd = os.open(d / BUILD_LOCK, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)                    # an eviction has begun ...
        proc = _worker(d, "build", sig)
        _wait_for(sig / "waiting", proc)
        shutil.rmtree(d)                                  # ... and removes the build
    finally:
        os.close(fd)
    _join(proc)
    assert (sig / "got").read_text() == f"True {[BUILD_LOCK]}"       # a new, empty directory, locked


def test_eviction_and_clear_spare_a_build_in_use(tmp_path, monkeypatch, capsys):
    """A build another process is running (its lock held shared) stays through ``prune``
    and ``eie cache --clear``, even past the grace period; once released it goes.  Its lock
    file is part of it: counted with it, removed with it."""
    now = time.time()
    root, sig = tmp_path / "cache", tmp_path / "sig"
    sig.mkdir()
    old = _build(root, "rtl-verilator-n4-aaaa-111111", 1000, now - 10 * HOUR)
    busy = _build(root, "rtl-icarus-n4-bbbb-111111", 2000, now - 9 * HOUR)
    (root / "notes.txt").write_text("mine\n")
    proc = _worker(busy, "hold", sig)
    try:
        _wait_for(sig / "holding", proc)
        assert cache_size(root) == (3000, 2)              # the lock file: an empty file inside the build
        assert prune_cache(root, limit=0, grace_s=0) == [old]
        assert busy.is_dir() and (busy / BUILD_STAMP).is_file()
        monkeypatch.setenv("EIE_CACHE", str(root))
        assert main(["cache", "--clear"]) == 0
        out = capsys.readouterr().out
        assert "0 builds); 1 builds in use by another process stay; 1 other entries in it stay" in out
        assert sorted(p.name for p in root.iterdir()) == ["notes.txt", busy.name]
    finally:
        (sig / "release").touch()
        _join(proc)
    assert clear_cache(root) == [busy]
    assert sorted(p.name for p in root.iterdir()) == ["notes.txt"]


def test_a_run_of_a_removed_build_is_an_error(tmp_path):
    d = tmp_path / "rtl-verilator-n4-aaaa-111111"
    with pytest.raises(BuildGone, match="is gone"), lock_build(d, shared=True):
        pass
    d.mkdir()                                             # a directory without a finished build
    with pytest.raises(BuildGone, match="is gone"), lock_build(d, shared=True):
        pass
    (d / BUILD_STAMP).write_text("ok\n")
    with lock_build(d, shared=True), lock_build(d, shared=True):      # runs share it
        pass


def test_eie_cache_list_says_what_each_build_is(cache, monkeypatch, capsys):
    """``eie cache --list``: one line per build, most recently used first, with its
    simulator, PEs and how its C++ was compiled, read from the build's own makefile (as
    Verilator writes it: ``VM_USER_CFLAGS = \\`` then one flag per line)."""
    root, b, now = cache
    (b["a"] / "Vtop.mk").write_text("VM_USER_CFLAGS = \\\n  -O0 \\\n\n# User LDLIBS\nVM_USER_LDLIBS = \\\n")
    (b["d"] / "Vtop.mk").write_text("VM_USER_CFLAGS = \\\n\n# User LDLIBS\nVM_USER_LDLIBS = \\\n  -O0 \\\n")
    monkeypatch.setenv("EIE_CACHE", str(root))
    assert main(["cache", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [ln.split() for ln in lines[1:-1]]
    unfinished = [r[-1] == "(unfinished)" for r in rows]
    rows = [r[:-1] if u else r for r, u in zip(rows, unfinished, strict=True)]
    # last use (date, time), MB, simulator [trace], PEs, C++, name
    assert [(r[3:-1], r[-1]) for r in rows] == [
        (["verilator", "trace", "2", "default"], b["d"].name),      # -O0 only in LDLIBS: not the C++ flags
        (["verilator", "64", "?"], b["c"].name),                     # never finished: no makefile
        (["icarus", "4", "-"], b["b"].name),
        (["verilator", "4", "quick"], b["a"].name)]
    assert unfinished == [False, True, False, False] and rows[0][2] == f"{(4000 + len(b['d'].joinpath('Vtop.mk').read_text())) / 1e6:.1f}"
    assert lines[-1].startswith("4 builds")
    assert main(["cache", "--list", "--clear"]) == 2
    assert "--list and --clear exclude each other" in capsys.readouterr().err
    assert all(d.is_dir() for d in b.values())


def test_only_names_of_eie_builds_are_eies(tmp_path, monkeypatch, capsys):
    """A directory ``rtl-mynotes`` in the cache is the user's: not listed, not removed (the
    cache had recognised its builds by the ``rtl-`` prefix alone); ``EIE_CACHE`` naming a
    regular file is refused (it had reported an empty cache, exit 0)."""
    root = tmp_path / "c"
    (root / "rtl-mynotes").mkdir(parents=True)
    (root / "rtl-mynotes" / "notes.txt").write_text("important\n")
    build = _build(root, "rtl-verilator-n4-aaaa-111111", 1000, time.time() - 10 * HOUR)
    monkeypatch.setenv("EIE_CACHE", str(root))
    assert main(["cache", "--list"]) == 0
    out = capsys.readouterr().out
    assert "rtl-verilator-n4-aaaa-111111" in out and "rtl-mynotes" not in out and "1 builds" in out
    assert main(["cache", "--clear"]) == 0
    assert "1 other entries in it stay" in capsys.readouterr().out
    assert not build.exists() and (root / "rtl-mynotes" / "notes.txt").read_text() == "important\n"
    (tmp_path / "f").write_text("x\n")
    monkeypatch.setenv("EIE_CACHE", str(tmp_path / "f"))
    for flag in ("--list", "--clear"):
        assert main(["cache", flag]) == 2
        assert capsys.readouterr().err == (f"eie: error: EIE_CACHE must name a directory (made if absent), not "
                                           f"{str(tmp_path / 'f')!r}, which is not one; point it at a directory or "
                                           f"unset it for the default ~/.cache/eie\n")
    assert (tmp_path / "f").read_text() == "x\n"
