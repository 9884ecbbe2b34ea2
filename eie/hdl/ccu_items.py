"""The CCU's item FIFO (`ccu_items`): pre-scanner → broadcaster [arch §5.1].

The pre-scanner (:class:`~eie.hdl.lnzd.CCU`) pushes one *item* per search: an element (the
search found one; ``elem``) or a bubble (an empty group or the rest of a group), and marks
the bias element (``bias``).  The broadcaster pops them with the contract's timing.  The
FIFO decouples the two by up to ``ITEM_SLOTS`` items (see ``eie/hdl/README.md``,
Pipelining).
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .params import ITEM_SLOTS

__all__ = ["ItemFIFO", "ITEM_LAYOUT"]

#: one search's result: ``elem`` (an element was found, else a bubble), ``bias`` (it is the
#: bias element)
ITEM_LAYOUT = data.StructLayout({"elem": 1, "bias": 1})


class ItemFIFO(wiring.Component):
    """A collapsing register FIFO of search results: the head is slot 0, a register.

    Members
    -------
    arm : In(1)      empty the FIFO (the pass's first pre-roll cycle).
    push : In(stream.Signature(ITEM_LAYOUT))
                     an item is written when ``valid & ready``; ``ready`` is a register
                     ("not full"), so ``valid`` must not wait for it.  The item is at the
                     head (if the FIFO was empty) in the next cycle.
    pop : Out(stream.Signature(ITEM_LAYOUT))
                     ``valid`` and ``payload`` are registers (slot 0); the item is removed
                     when ``valid & ready``.  ``ready`` may arrive late in the cycle: every
                     slot's next value is precomputed for "popped" and "not popped".

    A push and a pop may happen in the same cycle.

    The valid bits are a thermometer code (slots 0 .. occupancy−1), so "the push lands in
    slot i" is "slot i is the last full one" after a pop and "the first empty one" without:
    both from registers, and the late pop only picks one.
    """

    def __init__(self, *, depth: int = ITEM_SLOTS):
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be a positive integer, not {depth!r}")
        self._depth = depth
        super().__init__({
            "arm": In(1),
            "push": In(stream.Signature(ITEM_LAYOUT)),
            "pop": Out(stream.Signature(ITEM_LAYOUT)),
        })

    def elaborate(self, platform):
        m = Module()
        depth = self._depth
        iv = [Signal(name=f"item_v{i}") for i in range(depth)]
        ie = [Signal(name=f"item_e{i}") for i in range(depth)]
        ib = [Signal(name=f"item_b{i}") for i in range(depth)]
        occ = Signal(range(depth + 1))
        full = Signal()
        push, pop = Signal(), Signal()
        occ_next = Signal.like(occ)
        m.d.comb += [
            push.eq(self.push.valid & self.push.ready),
            pop.eq(self.pop.valid & self.pop.ready),
            self.push.ready.eq(~full),
            self.pop.valid.eq(iv[0]),
            self.pop.payload.elem.eq(ie[0]),
            self.pop.payload.bias.eq(ib[0]),
            occ_next.eq(occ + push - pop),
        ]
        with m.If(self.arm):
            m.d.sync += [occ.eq(0), full.eq(0)] + [v.eq(0) for v in iv]
        with m.Else():
            m.d.sync += [occ.eq(occ_next), full.eq(occ_next == depth)]
            # slot i changes on a pop (it takes slot i+1, or the pushed item if slot i is the
            # last full one) or on a push into it without a pop (the first empty one): an
            # enable of one gate on pop, and a data choice with pop as its last select, so
            # the late pop passes one LUT on either path
            item = (1, self.push.payload.elem, self.push.payload.bias)
            for i in range(depth):
                last_full = iv[i] & ~iv[i + 1] if i + 1 < depth else iv[i]
                first_empty = ~iv[i] & iv[i - 1] if i > 0 else ~iv[i]
                slot = (iv[i], ie[i], ib[i])
                above = (iv[i + 1], ie[i + 1], ib[i + 1]) if i + 1 < depth else (0, 0, 0)
                shifted = [Mux(push & last_full, new, up) for new, up in zip(item, above, strict=True)]
                with m.If(pop | (push & first_empty)):
                    m.d.sync += [q.eq(Mux(pop, sh, new)) for q, sh, new in zip(slot, shifted, item, strict=True)]
        return m
