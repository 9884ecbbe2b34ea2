"""Activation queue (`act_queue`) of one PE [arch §5.2].

A FIFO of ``D = queue_depth`` entries ``(j, a)``: the column index and the activation of a
broadcast.

Timing
------
* A push in cycle c is written at the end of c; a pop can take it from cycle c+1 on
  (``pop.valid`` is the registered "count > 0").
* Push and pop may happen in the same cycle (also on a full queue: the pop frees the slot
  only for the next cycle, see below).
* ``room`` is the *registered* "count < D" at the start of the cycle: it includes every
  push and pop of earlier cycles and none of this cycle.  The CCU broadcasts only when
  every PE's ``room`` is high [arch §5.1 stall rule], so a pop in cycle c frees a slot for
  a broadcast in cycle c+1.  ``room`` is a flip-flop of its own (computed from the next
  count), so the stall decision starts from flip-flops, not from a comparator.
* The head ``pop.payload`` is read combinationally (a LUT RAM on FPGAs), because the
  pointer read addresses its memories with ``j`` in the pop cycle itself [arch §5.3].
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .params import HWConfig

__all__ = ["ActQueue", "queue_entry_layout"]


def queue_entry_layout(hw: HWConfig) -> data.StructLayout:
    """``(j, a)``: column index and signed activation."""
    from amaranth.hdl import signed, unsigned
    return data.StructLayout({"j": unsigned(hw.col_bits), "a": signed(hw.config.act_bits)})


class ActQueue(wiring.Component):
    """FIFO of ``queue_depth`` broadcasts.

    Members
    -------
    push : In(stream)  ``ready`` is the registered ``room``; a push is ``valid & ready``.
    pop  : Out(stream) ``valid`` is the registered "not empty"; a pop is ``valid & ready``.
    room : Out(1)      registered ``count < D`` (same as ``push.ready``).
    empty : Out(1)     registered ``count == 0``.
    count : Out(range(D+1)) registered fill level.
    """

    def __init__(self, hw: HWConfig):
        if not isinstance(hw, HWConfig):
            raise TypeError(f"hw must be an HWConfig, not {type(hw).__name__}")
        self._hw = hw
        self._depth = hw.config.queue_depth
        layout = queue_entry_layout(hw)
        super().__init__({
            "push": In(stream.Signature(layout)),
            "pop": Out(stream.Signature(layout)),
            "room": Out(1, init=1),
            "empty": Out(1, init=1),
            "count": Out(range(self._depth + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        d = self._depth
        m.submodules.mem = mem = Memory(shape=queue_entry_layout(self._hw), depth=d, init=[])
        wp = mem.write_port()
        rp = mem.read_port(domain="comb")

        wptr = Signal(range(d))
        rptr = Signal(range(d))

        def advance(ptr):
            return Mux(ptr == d - 1, 0, ptr + 1)

        do_push = self.push.valid & self.push.ready
        do_pop = self.pop.valid & self.pop.ready

        m.d.comb += [
            wp.addr.eq(wptr), wp.data.eq(self.push.payload), wp.en.eq(do_push),
            rp.addr.eq(rptr), self.pop.payload.eq(rp.data),
            self.push.ready.eq(self.room),
            self.pop.valid.eq(~self.empty),
        ]
        count_next = Signal(range(d + 1))
        m.d.comb += count_next.eq(self.count + do_push - do_pop)
        m.d.sync += [
            self.count.eq(count_next),
            self.room.eq(count_next < d),
            self.empty.eq(count_next == 0),
        ]
        with m.If(do_push):
            m.d.sync += wptr.eq(advance(wptr))
        with m.If(do_pop):
            m.d.sync += rptr.eq(advance(rptr))
        return m
