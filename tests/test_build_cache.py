"""The co-simulation build cache stays under its limit: least recently used builds go first,
recent or kept builds stay, the generated-Verilog index is never touched, and a bad
``$EIE_CACHE_MAX_GB`` is one clear error (exit 2)."""

import os
import time

import pytest

from eie.cli import main
from eie.errors import ConfigError
from eie.flow.simulators import BUILD_STAMP, CACHE_MAX_GB, cache_builds, cache_limit, cache_size, prune_cache

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
