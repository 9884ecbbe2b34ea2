"""Amaranth-simulator backend of :class:`eie.flow.host.HostDriver`.

Runs :class:`eie.hdl.top.EIETop` in Amaranth's own Python simulator: no external tool,
slow (a few thousand cycles per second for a 4-PE array), meant for small layers in tests.
"""

from __future__ import annotations

from amaranth.sim import Simulator

from ..hdl.params import HWConfig
from ..hdl.regmap import CTRL_BITS, READ_LATENCY
from ..hdl.top import EIETop
from .host import HostDriver, LayerResult, Timeout, WordDriver, layer_jobs, watch_pass

__all__ = ["AmaranthDriver", "run_jobs_amaranth", "run_layer_amaranth", "AmaranthWishboneDriver",
           "run_jobs_amaranth_wishbone"]


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
                      vcd: str | None = None, resident: bool = False, driver=None) -> LayerResult:
    """Build ``EIETop(hw)`` (with job 0's image as init values if ``preload``) and run the
    jobs (:func:`eie.flow.host.layer_jobs`) through the host port (``resident``: every pass
    loaded once, see :meth:`~eie.flow.host.HostDriver.run_jobs`) with ``driver`` (default
    :class:`AmaranthDriver`; a subclass may do more around each pass)."""
    driver = AmaranthDriver if driver is None else driver
    dut = EIETop(hw, image=jobs[0]["image"] if preload else None)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    box = {}

    async def bench(ctx):
        drv = driver(hw, dut, ctx)
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


# ---- the Wishbone slave (eie.hdl.wishbone) in the Amaranth simulator ------------------------------
class AmaranthWishboneDriver(WordDriver):
    """A Wishbone B4 master (classic, or pipelined when the slave is) on
    :class:`eie.hdl.wishbone.EIEWishbone`, from an Amaranth testbench context.

    :meth:`start_pass` watches the slave's ``busy`` and ``done`` pins cycle by cycle, like
    :meth:`HostDriver.start_pass` on the parallel port (the array sees a request in the
    cycle it is accepted), so ``done_cycles`` is measured, not read back.
    """

    def __init__(self, hw: HWConfig, dut, ctx):
        super().__init__(hw)
        self.dut, self.ctx = dut, ctx
        self.pipelined = hasattr(dut.bus, "stall")

    def _idle(self):
        for name in ("cyc", "stb", "we"):
            self.ctx.set(getattr(self.dut.bus, name), 0)

    async def _transfers(self, reqs) -> list[int]:
        """Bus requests ``(adr, we, dat_w)`` in order; returns the read data of every request
        (in order).  Classic: one at a time; pipelined: one per cycle while not stalled."""
        ctx, bus = self.ctx, self.dut.bus
        out, issued, acked = [], 0, 0
        guard = 4 * len(reqs) * (READ_LATENCY + 2) + 100
        ctx.set(bus.cyc, 1)
        ctx.set(bus.sel, 0xF)
        while acked < len(reqs):
            presenting = issued < len(reqs) and (self.pipelined or issued == acked)
            if presenting:
                adr, we, dat = reqs[issued]
                ctx.set(bus.stb, 1)
                ctx.set(bus.adr, adr)
                ctx.set(bus.we, we)
                ctx.set(bus.dat_w, dat)
            else:
                ctx.set(bus.stb, 0)
            taken = presenting and not (self.pipelined and ctx.get(bus.stall))
            ack, dat_r = ctx.get(bus.ack), ctx.get(bus.dat_r)
            await ctx.tick()
            if ack:
                out.append(dat_r)
                acked += 1
            if taken and (self.pipelined or ack):
                issued += 1              # classic: the request is done when it is acknowledged
            guard -= 1
            if guard < 0:
                raise Timeout("the Wishbone slave stopped acknowledging")
        self._idle()
        return out

    def _item_requests(self, addr, width, items):
        from ..hdl.busmap import UART_HALF
        reqs = []
        for i, value in enumerate(items):
            words = [value & 0xFFFF] if width == UART_HALF else self.wmap.split(value)[:width]
            for j in reversed(range(len(words))):           # high words first, word 0 commits
                reqs.append((self.wmap.adr(addr + i, j), 1, words[j]))
        return reqs

    async def write_items(self, addr, width, items):
        await self._transfers(self._item_requests(addr, width, items))

    async def read_items(self, addr, width, count):
        reqs = [(self.wmap.adr(addr + i, j), 0, 0) for i in range(count) for j in range(width)]
        words = await self._transfers(reqs)
        return [self.wmap.join(words[i * width:(i + 1) * width]) for i in range(count)]

    async def start_pass(self, max_cycles: int, ctrl: int = CTRL_BITS["start"]) -> int:
        ctx, bus, dut = self.ctx, self.dut.bus, self.dut
        ctx.set(bus.cyc, 1)
        ctx.set(bus.stb, 1)
        ctx.set(bus.we, 1)
        ctx.set(bus.sel, 0xF)
        ctx.set(bus.adr, self.wmap.adr(self.map.reg("ctrl")))
        ctx.set(bus.dat_w, ctrl)
        if self.pipelined and ctx.get(bus.stall):
            raise AssertionError("the start write was stalled (a read still in flight)")
        await ctx.tick()                 # accepted in that cycle: the array saw the write
        busy, done = ctx.get(dut.busy), ctx.get(dut.done)
        ack = ctx.get(bus.ack)
        if not ack:
            raise AssertionError("the start write was not accepted in its first cycle")
        if self.pipelined:
            ctx.set(bus.stb, 0)          # taken; cyc stays up until the acknowledgement

        async def step():
            await ctx.tick()             # classic: the request stays up through its ack cycle
            self._idle()
            return ctx.get(dut.busy), ctx.get(dut.done)

        return await watch_pass(busy, done, max_cycles, step)


def run_jobs_amaranth_wishbone(hw: HWConfig, jobs, n_out: int, *, pipelined: bool = False,
                               max_cycles: int = 200_000, **options) -> LayerResult:
    """Run jobs through :class:`eie.hdl.wishbone.EIEWishbone` in the Amaranth simulator
    (``options``: :meth:`HostDriver.run_jobs`'s ``resident``, ``chain``, ``load_act``)."""
    from ..hdl.wishbone import EIEWishbone
    dut = EIEWishbone(hw, pipelined=pipelined)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    box = {}

    async def bench(ctx):
        drv = AmaranthWishboneDriver(hw, dut, ctx)
        box["result"] = await drv.run_jobs(jobs, n_out, max_cycles=max_cycles, **options)

    sim.add_testbench(bench)
    sim.run()
    return box["result"]
