"""Amaranth-simulator backend of :class:`eie.flow.host.HostDriver`.

Runs :class:`eie.hdl.top.EIETop` in Amaranth's own Python simulator: no external tool,
slow (a few thousand cycles per second for a 4-PE array), meant for small layers in tests.
"""

from __future__ import annotations

from amaranth.sim import Simulator

from ..hdl.params import HWConfig
from ..hdl.top import EIETop
from .host import HostDriver, LayerResult, layer_jobs

__all__ = ["AmaranthDriver", "run_jobs_amaranth", "run_layer_amaranth"]


class AmaranthDriver(HostDriver):
    """Drives the bus of ``dut`` from an Amaranth testbench context ``ctx``."""

    def __init__(self, hw: HWConfig, dut: EIETop, ctx):
        super().__init__(hw)
        self.dut, self.ctx = dut, ctx

    async def cycle(self, addr=0, wdata=0, we=0, re=0):
        ctx, dut = self.ctx, self.dut
        ctx.set(dut.addr, addr)
        ctx.set(dut.wdata, wdata)
        ctx.set(dut.we, we)
        ctx.set(dut.re, re)
        await ctx.tick()
        return ctx.get(dut.rvalid), ctx.get(dut.rdata), ctx.get(dut.busy), ctx.get(dut.done)


def run_jobs_amaranth(hw: HWConfig, jobs, n_out: int, max_cycles: int = 200_000, preload: bool = False,
                      vcd: str | None = None, resident: bool = False) -> LayerResult:
    """Build ``EIETop(hw)`` (with job 0's image as init values if ``preload``) and run the
    jobs (:func:`eie.flow.host.layer_jobs`) through the host port (``resident``: every pass
    loaded once, see :meth:`~eie.flow.host.HostDriver.run_jobs`)."""
    dut = EIETop(hw, image=jobs[0]["image"] if preload else None)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    box = {}

    async def bench(ctx):
        drv = AmaranthDriver(hw, dut, ctx)
        box["result"] = await drv.run_jobs(jobs, n_out, max_cycles=max_cycles, preloaded=preload,
                                           resident=resident)

    sim.add_testbench(bench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return box["result"]


def run_layer_amaranth(hw: HWConfig, compiled, a_q, cb_q, shift: int, relu: bool, bias_act: int,
                       max_cycles: int = 200_000, preload: bool = False, vcd: str | None = None,
                       resident: bool = False, bias_q=None) -> LayerResult:
    """:func:`run_jobs_amaranth` of :func:`eie.flow.host.layer_jobs` (``bias_q``: the preload of a
    full-precision bias)."""
    jobs = layer_jobs(hw, compiled, a_q, cb_q, shift, relu, bias_act, bias_q)
    return run_jobs_amaranth(hw, jobs, compiled.n_out, max_cycles, preload, vcd, resident)
