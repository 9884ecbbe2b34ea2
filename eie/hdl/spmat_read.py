"""Sparse-matrix read (`spmat_read`): line memory, last-line buffer, entry select [arch §3, §5.4].

Storage [arch §3]: entry e lives in line ``e div epl``, slot ``e mod epl``; slot s is bits
``[s·E + E−1 : s·E]`` of the line; inside an entry ``v`` is the low ``weight_bits`` and
``z`` the ``index_bits`` above.  A pass's lines start at line ``spmat_base`` (added when the
column descriptor is made, :mod:`.ptr_read`).

Timing [arch §5.4, §5.5]
------------------------
* The entry issued in cycle t needs its line if it differs from the last line read (or
  none was read since the pass started): the contract's line read in t, counted by
  :class:`~eie.hdl.ptr_read.Issue` (``ev_line``).  Otherwise the memory is not enabled and
  its output register keeps the last line: the last-line buffer.
* The memory is a block RAM with an output register (two-cycle read), so the line is read
  one cycle early, in t−1; its address and enable come from registers, one copy per block
  RAM (``addr_reg``), loaded in t−2 with the Issue's look-ahead (``spec_line``,
  ``spec_ce``).  Every address and enable pin is driven by a flip-flop next to it.
* Cycle t+1: ``entry.valid``, ``entry.first``, ``entry.a`` (registered) and ``entry.v``/``entry.z``
  (selected from the line by the registered slot) — the contract's entry select.

``e div epl`` uses a multiply by a reciprocal when ``epl`` is not a power of two
(:func:`divmod_const`, exact for every ``ptr_bits``-bit e); it is only used off the
issue path, when descriptors are made.

Host port: ``h_we`` writes line ``h_addr``; when not ``running`` the memory reads
``h_raddr`` (the same offset, a register of its own; ``h_rdata``, three cycles later): the
Issue's look-ahead carries it then (``IssueEntry.h_line``), so the address pins have no
host multiplexer of their own.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bram import SyncBRAM
from .interfaces import Entry, IssueEntry, PassControl
from .params import HWConfig

__all__ = ["SpmatRead", "divmod_const", "divmod_const_params"]


def divmod_const_params(width: int, d: int) -> tuple[int, int]:
    """``(M, s)`` with ``x // d == (x * M) >> s`` for every ``0 <= x < 2**width``.

    With ``s = width + ceil(log2 d)`` and ``M = floor(2**s / d) + 1`` the error term
    ``x·(M·d − 2^s)/(d·2^s)`` stays below ``1/d``, so the floor is exact.
    """
    if d < 1:
        raise ValueError(f"divisor must be >= 1, not {d!r}")
    s = width + (d - 1).bit_length()
    return (1 << s) // d + 1, s


def divmod_const(x, width: int, d: int):
    """``(x // d, x % d)`` for an unsigned ``width``-bit value and a constant ``d`` (Amaranth)."""
    if d & (d - 1) == 0:
        k = d.bit_length() - 1
        return x >> k, x & (d - 1)
    mult, s = divmod_const_params(width, d)
    q = (x * mult) >> s
    return q, x - q * d


class SpmatRead(wiring.Component):
    """Sparse-matrix SRAM of one PE with its last-line buffer and entry select.

    Members
    -------
    ctl : In(PassControl)  ``start`` (cycle −1) drops an entry in flight; ``running``: the
                       memory's read port belongs to the issue logic (else to the host).
    issue : In(IssueEntry)  the entry issued in t and the look-ahead read for t+1.
    entry : Out(Entry)  the entry selected in t+1 (``valid``, ``first``, ``a``
                       registered; ``v``, ``z`` from the line by the registered slot).
    busy : Out(1)      an entry is selected in this cycle.
    h_* :              host port (see module docstring).
    """

    def __init__(self, hw: HWConfig, *, init_lines=()):
        self._hw = hw
        self._init = list(init_lines)
        if len(self._init) > hw.spmat_lines:
            raise ValueError(f"init_lines must have at most spmat_lines={hw.spmat_lines} lines, not {len(self._init)}")
        c = hw.config
        super().__init__({
            "ctl": In(PassControl()),
            "issue": In(IssueEntry(hw)),
            "entry": Out(Entry(hw)),
            "busy": Out(1),
            "h_addr": In(max(1, hw.line_addr_bits)),
            "h_raddr": In(max(1, hw.line_addr_bits)),
            "h_wdata": In(c.line_bits),
            "h_we": In(1),
            "h_rdata": Out(c.line_bits),
        })

    def elaborate(self, platform):
        m = Module()
        hw = self._hw
        c = hw.config
        epl, eb = c.entries_per_line, c.entry_bits
        m.submodules.mem = mem = SyncBRAM(width=c.line_bits, depth=hw.spmat_lines, init=self._init,
                                          vendor=hw.vendor, addr_reg=True)
        m.d.comb += [
            mem.w_addr.eq(self.h_addr), mem.w_data.eq(self.h_wdata), mem.w_en.eq(self.h_we),
            self.h_rdata.eq(mem.r_data),
            # the Issue's look-ahead, which is the host's read while no pass runs
            self.issue.h_line.eq(self.h_raddr),
            mem.r_addr.eq(self.issue.spec_line), mem.r_en.eq(self.issue.spec_ce),
        ]
        s_slot = Signal.like(self.issue.slot)
        m.d.sync += [
            self.entry.valid.eq(self.issue.valid & ~self.ctl.start), self.entry.first.eq(self.issue.first),
            self.entry.a.eq(self.issue.a), s_slot.eq(self.issue.slot),
        ]
        m.d.comb += self.busy.eq(self.entry.valid)
        entry = mem.r_data.word_select(s_slot, eb) if epl > 1 else mem.r_data[:eb]
        m.d.comb += [self.entry.v.eq(entry[:c.weight_bits]), self.entry.z.eq(entry[c.weight_bits:eb])]
        return m
