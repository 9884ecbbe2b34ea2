"""A Wishbone B4 master for cocotb (cocotb has none), and the host driver built on it.

:class:`WishboneMaster` drives ``<prefix>adr, dat_w, sel, cyc, stb, we`` at the falling edge
and samples ``ack``, ``stall`` and ``dat_r`` in the read-only phase that follows (their
values at the next rising edge).  Classic mode holds each request until its
acknowledgement; pipelined mode (the slave has ``stall``) issues one request per cycle while
``stall`` is low and collects the acknowledgements in order.

:class:`CocotbWishboneDriver` is the :class:`eie.flow.host.WordDriver` on it: the same
protocol code as every other backend, and a :meth:`~CocotbWishboneDriver.start_pass` that
watches the ``busy``/``done`` pins cycle by cycle (the array sees a request in the cycle it
is accepted, so the pass's cycles are measured exactly as on the parallel port).
"""

from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from eie.flow.host import Timeout, WordDriver, watch_pass
from eie.hdl.busmap import UART_HALF
from eie.hdl.regmap import CTRL_BITS, READ_LATENCY

__all__ = ["WishboneMaster", "CocotbWishboneDriver"]


class WishboneMaster:
    def __init__(self, dut, prefix: str = "bus__"):
        self.dut = dut
        self.sig = {n: getattr(dut, prefix + n) for n in ("adr", "dat_w", "sel", "cyc", "stb", "we", "dat_r", "ack")}
        self.stall = getattr(dut, prefix + "stall", None)
        self.pipelined = self.stall is not None
        self.cycles = 0

    def idle(self, keep_cyc: bool = False):
        s = self.sig
        s["stb"].value = 0
        s["we"].value = 0
        if not keep_cyc:
            s["cyc"].value = 0

    def present(self, adr: int, we: int, dat: int):
        s = self.sig
        s["cyc"].value = 1
        s["stb"].value = 1
        s["sel"].value = 0xF
        s["adr"].value = adr
        s["we"].value = we
        s["dat_w"].value = dat

    async def transfers(self, reqs) -> list[int]:
        """Requests ``(adr, we, dat_w)`` in order; returns ``dat_r`` of each (in order)."""
        clk, s = self.dut.clk, self.sig
        out, issued, acked = [], 0, 0
        guard = 4 * len(reqs) * (READ_LATENCY + 2) + 100
        while acked < len(reqs):
            await FallingEdge(clk)
            presenting = issued < len(reqs) and (self.pipelined or issued == acked)
            if presenting:
                self.present(*reqs[issued])
            else:
                self.idle(keep_cyc=True)
            await ReadOnly()
            taken = presenting and not (self.pipelined and int(self.stall.value))
            ack = int(s["ack"].value)
            if ack:
                out.append(s["dat_r"].value.to_unsigned())
                acked += 1
            if taken and (self.pipelined or ack):
                issued += 1
            self.cycles += 1
            await RisingEdge(clk)
            guard -= 1
            if guard < 0:
                raise Timeout("the Wishbone slave stopped acknowledging")
        await FallingEdge(clk)
        self.idle()
        return out


class CocotbWishboneDriver(WordDriver):
    """:class:`~eie.flow.host.WordDriver` over :class:`WishboneMaster` (module docstring)."""

    def __init__(self, hw, dut):
        super().__init__(hw)
        self.dut = dut
        self.master = WishboneMaster(dut)

    async def write_items(self, addr, width, items):
        reqs = []
        for i, value in enumerate(items):
            words = [value & 0xFFFF] if width == UART_HALF else self.wmap.split(value)[:width]
            for j in reversed(range(len(words))):       # high words first, word 0 commits
                reqs.append((self.wmap.adr(addr + i, j), 1, words[j]))
        await self.master.transfers(reqs)

    async def read_items(self, addr, width, count):
        words = await self.master.transfers([(self.wmap.adr(addr + i, j), 0, 0)
                                             for i in range(count) for j in range(width)])
        return [self.wmap.join(words[i * width:(i + 1) * width]) for i in range(count)]

    async def start_pass(self, max_cycles: int, ctrl: int = CTRL_BITS["start"]) -> int:
        dut, m = self.dut, self.master
        clk = dut.clk
        await FallingEdge(clk)
        m.present(self.wmap.adr(self.map.reg("ctrl")), 1, ctrl)
        await ReadOnly()
        if m.pipelined and int(m.stall.value):
            raise AssertionError("the start write was stalled (a read still in flight)")
        await RisingEdge(clk)                    # accepted: the array saw the write in that cycle
        await FallingEdge(clk)
        if m.pipelined:
            m.idle(keep_cyc=True)                # taken; cyc stays up until the acknowledgement
        await ReadOnly()
        if not int(m.sig["ack"].value):
            raise AssertionError("the start write was not accepted in its first cycle")
        busy, done = int(dut.busy.value), int(dut.done.value)

        async def step():
            await RisingEdge(clk)                # classic: the request stays up through its ack cycle
            await FallingEdge(clk)
            m.idle()
            await ReadOnly()
            return int(dut.busy.value), int(dut.done.value)

        return await watch_pass(busy, done, max_cycles, step)
