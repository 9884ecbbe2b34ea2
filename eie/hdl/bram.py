"""Block RAM with a registered output: one write port, one read port, read latency 2.

Every large memory of the array (pointer banks, sparse-matrix lines, activation banks) is a
:class:`SyncBRAM`:

* write: ``w_addr``/``w_data``/``w_en`` in cycle c, the word is stored at the end of c;
* read: ``r_addr`` with ``r_en`` in cycle c → ``r_data`` in cycle c+2 and held until the
  cycle after the next enabled read (``r_en`` low keeps the array latch, and the output
  register keeps copying it).  A read and a write of the same address in one cycle return
  the old word.
* ``addr_reg=True``: ``r_addr``/``r_en`` are registered first, one copy per primitive
  (``keep``), so every block's address and enable pins are driven straight from a
  flip-flop next to it: ``r_addr`` in cycle c−1 reads in c, data in c+1.

The second cycle is the block RAM's own output register: on ECP5 (``vendor="ecp5"``) the
memory is built from ``DP16KD`` primitives with ``REGMODE_B="OUTREG"`` (0.97 ns clock-to-out
instead of 5.6 ns for the unregistered array output, docs/fpga.md); yosys 0.70 only infers
``NOREG``.  Elsewhere (``generic``, ``ice40``) it is an Amaranth ``Memory`` with a fabric
register behind its read port, which is exactly the behaviour of the primitive and what
simulation uses.  ``eie/flow/tb/ecp5_cells.v`` models the subset of ``DP16KD`` used here so the
ECP5 netlist can be co-simulated too.
"""

from __future__ import annotations

from amaranth.hdl import ClockSignal, Const, Instance, Module, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["SyncBRAM", "dp16kd_plan", "DP16KD_MODES", "SB_RAM40_MODES"]

#: (width, depth) aspect ratios of an ECP5 DP16KD block RAM (18 Kbit)
DP16KD_MODES = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024))
#: (width, depth) aspect ratios of an iCE40 SB_RAM40_4K block RAM (4 Kbit)
SB_RAM40_MODES = ((16, 256), (8, 512), (4, 1024), (2, 2048))
#: lowest address bit used by each width (ADx[13:s] is the word address)
_ADDR_SHIFT = {1: 0, 2: 1, 4: 2, 9: 3, 18: 4}


def dp16kd_plan(width: int, depth: int):
    """``(mode_width, blocks)``: DP16KD aspect ratio and count for a ``depth`` x ``width``
    memory without depth cascading (``None`` if deeper than 16 K words)."""
    best = None
    for w, d in DP16KD_MODES:
        if d >= depth:
            n = -(-width // w)
            if best is None or n < best[1]:
                best = (w, n)
    return best


class SyncBRAM(wiring.Component):
    """``depth`` x ``width`` block RAM, read latency 2 (see module docstring)."""

    def __init__(self, *, width: int, depth: int, init=(), vendor: str = "generic", attrs=None,
                 addr_reg: bool = False):
        self._addr_reg = addr_reg
        self._width, self._depth = width, depth
        self._init = list(init)
        self._vendor = vendor
        self._attrs = dict(attrs or {})
        abits = max(1, (depth - 1).bit_length())
        super().__init__({
            "w_addr": In(abits),
            "w_data": In(width),
            "w_en": In(1),
            "r_addr": In(abits),
            "r_en": In(1),
            "r_data": Out(width),
        })

    def primitive_plan(self):
        """The DP16KD plan used for ``vendor="ecp5"`` (``None``: behavioural memory)."""
        if self._vendor != "ecp5" or self._init:
            return None
        return dp16kd_plan(self._width, self._depth)

    def elaborate(self, platform):
        m = Module()
        plan = self.primitive_plan()

        def read_addr(tag):
            """This block's read address and enable (registered copies with ``addr_reg``)."""
            if not self._addr_reg:
                return self.r_addr, self.r_en
            a = Signal.like(self.r_addr, name=f"r_addr_{tag}", attrs={"keep": 1})
            e = Signal(name=f"r_en_{tag}", attrs={"keep": 1})
            m.d.sync += [a.eq(self.r_addr), e.eq(self.r_en)]
            return a, e

        if plan is None:
            mem = Memory(shape=unsigned(self._width), depth=self._depth, init=self._init, attrs=self._attrs)
            m.submodules.mem = mem
            wp, rp = mem.write_port(), mem.read_port()
            ra, re = read_addr("q")
            m.d.comb += [wp.addr.eq(self.w_addr), wp.data.eq(self.w_data), wp.en.eq(self.w_en),
                         rp.addr.eq(ra), rp.en.eq(re)]
            m.d.sync += self.r_data.eq(rp.data)
            return m

        mw, blocks = plan
        shift = _ADDR_SHIFT[mw]
        abits = 14 - shift
        wa = Signal(abits)
        m.d.comb += wa.eq(self.w_addr)
        for b in range(blocks):
            ra_b, re_b = read_addr(b)
            ra = Signal(abits, name=f"ra{b}")
            m.d.comb += ra.eq(ra_b)
            lo = b * mw
            hi = min(self._width, lo + mw)
            din = Signal(18, name=f"din{b}")
            dout = Signal(18, name=f"dout{b}")
            m.d.comb += [din.eq(self.w_data[lo:hi]), self.r_data[lo:hi].eq(dout[:hi - lo])]
            ports = {}
            for k in range(14):
                if k >= shift:
                    a_bit, b_bit = wa[k - shift], ra[k - shift]
                elif mw == 18 and k < 2:             # x18: AD[1:0] are the byte write enables
                    a_bit, b_bit = Const(1, 1), Const(0, 1)
                else:
                    a_bit = b_bit = Const(0, 1)
                ports[f"i_ADA{k}"] = a_bit
                ports[f"i_ADB{k}"] = b_bit
            for k in range(18):
                ports[f"i_DIA{k}"] = din[k]
                ports[f"i_DIB{k}"] = Const(0, 1)
                ports[f"o_DOB{k}"] = dout[k]
            for k in range(3):
                ports[f"i_CSA{k}"] = Const(0, 1)
                ports[f"i_CSB{k}"] = Const(0, 1)
            m.submodules[f"bram{b}"] = Instance(
                "DP16KD",
                p_DATA_WIDTH_A=mw, p_DATA_WIDTH_B=mw,
                p_REGMODE_A="NOREG", p_REGMODE_B="OUTREG",
                p_RESETMODE="SYNC", p_ASYNC_RESET_RELEASE="SYNC",
                p_CSDECODE_A="0b000", p_CSDECODE_B="0b000",
                p_WRITEMODE_A="NORMAL", p_WRITEMODE_B="NORMAL",
                p_GSR="DISABLED",
                i_CLKA=ClockSignal("sync"), i_CLKB=ClockSignal("sync"),
                i_CEA=self.w_en, i_WEA=self.w_en, i_OCEA=Const(1, 1), i_RSTA=Const(0, 1),
                i_CEB=re_b, i_WEB=Const(0, 1), i_OCEB=Const(1, 1), i_RSTB=Const(0, 1),
                **ports,
            )
        return m
