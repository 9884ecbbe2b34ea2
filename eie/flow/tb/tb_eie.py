"""cocotb testbench: run host-port jobs on the generated EIE array (``eie verify``, the
co-simulation tests, ``bench/rtl_fc8.py``; see :func:`eie.flow.verify.run`).

The case file (``$EIE_CASE``, JSON) holds the hardware configuration and a list of layers
(jobs made by :func:`eie.flow.host.layer_jobs`, run in order in one simulation).  The same
protocol code as the Amaranth-simulator backend drives the bus
(:class:`eie.flow.host.HostDriver`), so a difference between them is a difference of the
simulated hardware, not of the test.  Every pass has a max-cycles guard.  The result
also holds what a benchmark needs: the wall time and the clock cycles spent
in each phase (``load`` = writing images through the host port, ``compute`` = start to end
of a pass, ``readback`` = counters and outputs, ``writeback`` = on-chip chaining), and an
error message in the result instead of a missing file when the run fails (a hang caught by
the max-cycles guard, a fault flag).  Result (``$EIE_RESULT``, JSON):
``{"layers": [LayerResult.to_dict()], "wall": {phase: s}, "cycles": {phase: n}, "error": str|None}``.

The case also names the bus (``"bus"``: ``parallel``, or ``wishbone``/``wishbone-pipelined``
for :class:`eie.hdl.wishbone.EIEWishbone`, driven by :mod:`wishbone_master`) and how the
memories are loaded (``"load"``: ``port``, or ``backdoor``: ``$readmemh`` images through
the wrapper's ``bd_load``, :mod:`eie.flow.backdoor`, directory ``$EIE_BACKDOOR_DIR``).
``eie verify`` and the tests simulate the test-bench wrapper of
:func:`eie.flow.backdoor.wrapper_text`; sim/Makefile drives the committed design itself (no
back door there).
"""

import json
import os
import time
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge
from wishbone_master import CocotbWishboneDriver

from eie.flow.backdoor import BACKDOOR_PORT, split_writes, write_images
from eie.flow.host import HostDriver
from eie.hdl.params import HWConfig
from eie.hdl.regmap import CTRL_BITS

PHASES = ("reset", "load", "compute", "readback", "writeback", "other")


class CocotbDriver(HostDriver):
    """The :class:`~eie.flow.host.HostDriver` backend inside cocotb: inputs change at the
    falling edge, outputs are sampled in the read-only phase after the rising edge."""

    def __init__(self, hw, dut):
        super().__init__(hw)
        self.dut = dut

    async def cycle(self, addr=0, wdata=0, we=0, re=0):
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


class Phases:
    """Mixin: books the wall time (and, on the parallel port, every clock cycle) to a phase."""

    def __init__(self, hw, dut):
        super().__init__(hw, dut)
        self.phase = "other"
        self.layer = None
        self.wall = dict.fromkeys(PHASES, 0.0)
        self.cycles = dict.fromkeys(PHASES, 0)

    async def cycle(self, addr=0, wdata=0, we=0, re=0):
        self.cycles[self.phase] += 1
        return await super().cycle(addr, wdata, we, re)

    async def _in(self, phase, coro):
        outer, self.phase = self.phase, phase
        t0 = time.perf_counter()
        try:
            return await coro
        finally:
            self.wall[phase] += time.perf_counter() - t0
            self.phase = outer

    async def write_all(self, ops):
        return await self._in("load", super().write_all(ops))

    async def start_pass(self, max_cycles, ctrl=CTRL_BITS["start"]):
        return await self._in("compute", super().start_pass(max_cycles, ctrl))

    async def read_pass(self, row_start, n_rows):
        return await self._in("readback", super().read_pass(row_start, n_rows))

    async def write_back(self, t, max_cycles=100_000):
        return await self._in("writeback", super().write_back(t, max_cycles))


class PhaseDriver(Phases, CocotbDriver):
    """The parallel port, phases booked."""


class WishbonePhaseDriver(Phases, CocotbWishboneDriver):
    """The Wishbone slave, phases booked (wall time only)."""


class BackdoorDriver(PhaseDriver):
    """The parallel port, but the memory words of every load go in by back door: written as
    ``$readmemh`` images, loaded by one pulse of the wrapper's ``bd_load`` (two clock cycles);
    the registers still go through the port."""

    def __init__(self, hw, dut, directory):
        super().__init__(hw, dut)
        self.directory = directory

    async def _backdoor(self, ops):
        ops = list(ops)
        mems = [self.map.decode(a)[2] for a, _ in ops]
        src_sel = 0
        if any(m in ("act", "act_next") for m in mems):
            src_sel = (await self.read(self.map.reg("src_sel"))) & 1
        images, port = split_writes(self.hw, ops, src_sel)
        if images:
            write_images(self.directory, images, self.hw)
            bd = getattr(self.dut, BACKDOOR_PORT)
            await FallingEdge(self.dut.clk)
            bd.value = 1
            await RisingEdge(self.dut.clk)
            await FallingEdge(self.dut.clk)
            bd.value = 0
            self.cycles[self.phase] += 1
        await CocotbDriver.write_all(self, port)

    async def write_all(self, ops):
        return await self._in("load", self._backdoor(ops))


@cocotb.test()
async def run_case(dut):
    case = json.loads(Path(os.environ["EIE_CASE"]).read_text())
    hw = HWConfig.from_dict(case["hw"])
    bus, load = case.get("bus", "parallel"), case.get("load", "port")
    if bus != "parallel":
        drv = WishbonePhaseDriver(hw, dut)
    elif load == "backdoor":
        drv = BackdoorDriver(hw, dut, os.environ["EIE_BACKDOOR_DIR"])
    else:
        drv = PhaseDriver(hw, dut)
    results, error = [], None
    t0 = time.perf_counter()
    try:
        Clock(dut.clk, 10, unit="ns").start()
        if bus == "parallel":
            dut.addr.value = 0
            dut.wdata.value = 0
            dut.we.value = 0
            dut.re.value = 0
        else:
            drv.master.idle()
        bd = getattr(dut, BACKDOOR_PORT, None)          # absent when a design is driven without the wrapper
        if bd is not None:
            bd.value = 0
        dut.rst.value = 1
        for _ in range(3):
            await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        dut.rst.value = 0
        drv.wall["reset"] = time.perf_counter() - t0
        for i, layer in enumerate(case["layers"]):
            drv.layer = i
            res = await drv.run_jobs(layer["jobs"], layer["n_out"], max_cycles=case["max_cycles"],
                                     preloaded=bool(case.get("preload")) and i == 0,
                                     load_act=layer.get("load_act", True), chain=layer.get("chain", False),
                                     resident=layer.get("resident", False))
            results.append(res.to_dict())
    except Exception as exc:          # reported in the result, then the test fails
        error = f"layer {drv.layer} (of 0..{len(case['layers']) - 1}): {type(exc).__name__}: {exc}"
        raise
    finally:
        wall = dict(drv.wall)
        wall["total"] = time.perf_counter() - t0
        with open(os.environ["EIE_RESULT"], "w") as f:
            json.dump({"layers": results, "wall": wall, "cycles": drv.cycles, "error": error}, f)
