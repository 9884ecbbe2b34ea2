"""Sparse-matrix read (`spmat_read`): line memory, last-line buffer, entry select [arch §3, §5.4].

Storage [arch §3]: entry e lives in line ``e div epl``, slot ``e mod epl``; slot s is bits
``[s·E + E−1 : s·E]`` of the line; inside an entry ``v`` is the low ``weight_bits`` and
``z`` the ``index_bits`` above.

Timing [arch §5.4, §5.5]
------------------------
* Cycle t (issue of entry e): if no line has been read since ``start`` or ``e div epl``
  differs from the last line read, the line memory is read (registered read, ``ev_line``);
  otherwise its output register keeps the last line (the read port's enable is off, so
  the BRAM output latch *is* the last-line buffer).  Lines are never read for empty
  columns (nothing is issued).
* Cycle t+1: ``out_valid``, ``out_first``, ``out_a`` (registered) and ``out_v``/``out_z``
  (selected combinationally from the line by the registered slot).

``e div epl`` uses a multiply by a reciprocal when ``epl`` is not a power of two
(:func:`divmod_const`, exact for every ``ptr_bits``-bit e).

Host port: ``h_we`` writes line ``h_addr``; when not ``running`` the memory reads
``h_addr`` (``h_rdata``, one cycle later).
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

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
    """Sparse-matrix SRAM of one PE with its last-line buffer and entry select."""

    def __init__(self, hw: HWConfig, *, init_lines=()):
        self._hw = hw
        self._init = list(init_lines)
        if len(self._init) > hw.spmat_lines:
            raise ValueError(f"init_lines must have at most spmat_lines={hw.spmat_lines} lines, not {len(self._init)}")
        c = hw.config
        super().__init__({
            "start": In(1),
            "running": In(1),
            "issue_valid": In(1),
            "issue_e": In(c.ptr_bits),
            "issue_first": In(1),
            "issue_a": In(signed(c.act_bits)),
            "out_valid": Out(1),
            "out_first": Out(1),
            "out_a": Out(signed(c.act_bits)),
            "out_v": Out(c.weight_bits),
            "out_z": Out(c.index_bits),
            "ev_line": Out(1),
            "h_addr": In(max(1, hw.line_addr_bits)),
            "h_wdata": In(c.line_bits),
            "h_we": In(1),
            "h_rdata": Out(c.line_bits),
        })

    def elaborate(self, platform):
        m = Module()
        hw = self._hw
        c = hw.config
        epl, eb = c.entries_per_line, c.entry_bits
        m.submodules.mem = mem = Memory(shape=unsigned(c.line_bits), depth=hw.spmat_lines, init=self._init)
        wp, rp = mem.write_port(), mem.read_port()
        m.d.comb += [wp.addr.eq(self.h_addr), wp.data.eq(self.h_wdata), wp.en.eq(self.h_we),
                     self.h_rdata.eq(rp.data)]

        line_q, slot_q = divmod_const(self.issue_e, c.ptr_bits, epl)
        line = Signal(c.ptr_bits)
        slot = Signal(range(epl) if epl > 1 else unsigned(1))
        m.d.comb += [line.eq(line_q), slot.eq(slot_q)]
        last_line = Signal(c.ptr_bits)
        have_line = Signal()
        need = self.issue_valid & (~have_line | (line != last_line))
        m.d.comb += [
            rp.addr.eq(Mux(self.running, line, self.h_addr)),
            rp.en.eq(need | ~self.running),
            self.ev_line.eq(need),
        ]
        with m.If(self.start):
            m.d.sync += have_line.eq(0)
        with m.Elif(need):
            m.d.sync += [have_line.eq(1), last_line.eq(line)]

        s_slot = Signal.like(slot)
        m.d.sync += [
            self.out_valid.eq(self.issue_valid & ~self.start),
            self.out_first.eq(self.issue_first),
            self.out_a.eq(self.issue_a),
            s_slot.eq(slot),
        ]
        entry = rp.data.word_select(s_slot, eb) if epl > 1 else rp.data[:eb]
        m.d.comb += [self.out_v.eq(entry[:c.weight_bits]), self.out_z.eq(entry[c.weight_bits:eb])]
        return m
