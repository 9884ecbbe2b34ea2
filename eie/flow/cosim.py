"""Co-simulation in a few calls: the helpers the tests and benchmarks use to run layers on
the generated Verilog (:mod:`eie.flow.verify` does the work).

* :func:`build` — :func:`eie.flow.verify.build` on a usable simulator (the first one when
  none is named), optionally with a pass's memory image as init values.
* :func:`run_layers` / :func:`run_jobs` / :func:`run_layer` — :func:`eie.flow.verify.run`
  (the packaged cocotb testbench) on jobs made by :func:`eie.flow.host.layer_jobs`; they
  return :class:`~eie.flow.host.LayerResult` and raise ``AssertionError`` when the RTL run
  fails (a hang caught by the cycle guard, a fault flag).
"""

from __future__ import annotations

from ..hdl.params import HWConfig
from .generate import TOPLEVEL, verilog_text
from .host import LayerResult, layer_jobs
from .simulators import pick_simulator
from .verify import RTLRunError
from .verify import build as verify_build
from .verify import run as verify_run

__all__ = ["build", "run_layers", "run_jobs", "run_layer"]


def build(hw: HWConfig, sim: str | None = None, image=None):
    """Generate and build the design (cached, see :func:`eie.flow.verify.build`); ``image``
    (a pass's memory image) becomes the memories' init values.  Returns the
    :class:`eie.flow.verify.Build`."""
    sim = pick_simulator(sim)
    return verify_build(hw, sim, verilog=verilog_text(hw, top=TOPLEVEL, image=image) if image is not None else None)


def run_layers(hw: HWConfig, layers, sim: str | None = None, max_cycles: int = 1_000_000, preload: bool = False,
               name: str = "case") -> list[LayerResult]:
    """Run several layers in one simulation, in order, on the built Verilog.

    ``layers`` is a list of dicts ``{"jobs", "n_out"}`` (jobs from
    :func:`eie.flow.host.layer_jobs`) with optional ``"chain": True`` (write the outputs
    back and swap banks after the layer), ``"load_act": False`` (keep the source bank) and
    ``"resident": True`` (load every pass once, then run them by setting the bases).
    ``preload`` builds the bitstream with the first job's image as memory init values.
    """
    layers = [dict(layer) for layer in layers]
    b = build(hw, sim, image=layers[0]["jobs"][0]["image"] if preload else None)
    try:
        return verify_run(b, layers, max_cycles=max_cycles, name=name, preload=preload).results
    except RTLRunError as exc:
        raise AssertionError(str(exc)) from None


def run_jobs(hw: HWConfig, jobs, n_out: int, sim: str | None = None, max_cycles: int = 1_000_000,
             preload: bool = False, name: str = "case") -> LayerResult:
    """Run the passes of one layer (:func:`eie.flow.host.layer_jobs`) through cocotb."""
    return run_layers(hw, [{"jobs": jobs, "n_out": n_out}], sim, max_cycles, preload, name)[0]


def run_layer(hw: HWConfig, compiled, a_q, cb_q, shift: int, relu: bool, bias_act: int, sim: str | None = None,
              max_cycles: int = 1_000_000, preload: bool = False, bias_q=None) -> LayerResult:
    """Run a compiled layer with quantised inputs (see :func:`eie.flow.host.layer_jobs`)."""
    jobs = layer_jobs(hw, compiled, a_q, cb_q, shift, relu, bias_act, bias_q)
    return run_jobs(hw, jobs, compiled.n_out, sim, max_cycles, preload, name=compiled.name)
