"""The README's promises hold: its Python snippet runs as written, its two commands are the
ones .ci/run and a new user run, and every folder it describes exists."""

import re
import subprocess
import sys

from conftest import REPO

README = (REPO / "README.md").read_text()


def test_python_snippet_runs_as_written(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert blocks, "the README has a Python snippet"
    for code in blocks:
        p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        cycles, eff, energy = p.stdout.split()
        assert int(cycles) > 0 and 0 < float(eff) <= 1 and float(energy) > 0


def test_the_two_commands():
    main = "python3 -m venv .venv && .venv/bin/pip install -q . && .venv/bin/eie bench"
    tests = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[all,test]' && .venv/bin/python -m pytest"
    assert main in README and tests in README
    assert tests in (REPO / ".ci" / "run").read_text()


def test_every_top_level_folder_has_a_role():
    rows = dict(re.findall(r"^\| `([a-z]+)/` \| (.+) \|$", README, re.M))
    for d in ("eie", "hdl", "sim", "tests", "models", "reports", "bench", "docs"):
        assert d in rows and (REPO / d).is_dir(), d
