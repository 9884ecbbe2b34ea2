"""Activation queue (`act_queue`) of one PE [arch §5.2].

The contract's queue holds the broadcasts ``(j, a)`` a PE has not popped yet, at most
``D = queue_depth``.  Here it is split in two:

* the **descriptor FIFO** holds, for every element the CCU has *announced* (in scan order,
  up to ``ITEM_SLOTS`` elements ahead of the broadcast, see :mod:`.lnzd`) and the PE has not
  popped, the column's prefetched descriptor (:func:`desc_layout`: first line and slot,
  length − 1, activation, flags) written by :class:`~eie.hdl.ptr_read.PtrPrefetch`;
* the **count** is the contract's queue: broadcasts received minus pops.  Only the count
  decides anything; the FIFO head is always the next column to pop.

Timing (exactly the contract's)
-------------------------------
* The CCU's strobe ``bc.strobe`` of cycle c is registered here (``bc_r``, one copy per PE); the
  element is poppable from cycle c+1 on: ``nonempty = cnt_nz | bc_r`` (both registered).
* ``room_nopush`` / ``room_push`` (registered at the end of c): the count at the start of
  c+2 without / with the CCU's push of cycle c+1 is below D -- two cycles ahead, with this
  cycle's strobe and the pop of c+1 (the Issue's ``ready_next`` and the count) folded in.
  The CCU registers the AND of every PE's flags in c+1 and picks one in c+2 with its own
  registered strobe of c+1, so "room at the start of c+2" [arch §5.1] is a register there:
  the gather from the PEs and the broadcast decision are in different cycles.
* ``count`` here excludes the push of the previous cycle (it is in ``bc_r``).

Memory
------
The FIFO's head and the descriptor behind it are registers; the memory is read at one
address, the entry after them.  ``HWConfig.desc_fifo`` picks the memory's form, never its
behaviour: ``lutram`` (ECP5, generic) reads it combinationally at a registered address
(distributed RAM); ``bram`` (the default on iCE40, which has no LUT RAM: there the ~80-bit
descriptors became flip-flops and multiplexers) reads it synchronously, transparent for the
write port, at the address one cycle early, forced into block RAM (``ram_style``).

``fault`` (sticky): a pop found no descriptor, a descriptor found the FIFO full, or this
unit's copy of the pop decision differed from the Issue's (none can happen; the tests
check).
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .interfaces import (
    Broadcast,
    DescWrite,
    PassControl,
    QueueIssue,
    bit_slices,
    desc_layout,
    original_attrs,
    register_copies,
    slot_bits,
)
from .params import POP_COPIES, HWConfig

__all__ = ["ActQueue", "desc_layout", "slot_bits"]   # the layout lives in .interfaces


class ActQueue(wiring.Component):
    """Contract queue count with registered room flags, plus the descriptor FIFO.

    Members
    -------
    ctl : In(PassControl)  ``arm`` resets the descriptor FIFO (the pass's first pre-roll
                        cycle) in the cycle after it, from a register of this unit's own
                        (``arm_q``: the PE's copy of ``arm`` reaches the whole PE), so no
                        descriptor may be written or popped in the arm cycle or the next
                        (in the array the first is written several cycles after the
                        pass's first announce); ``start`` resets the count (cycle −1).
    bc : In(Broadcast)  the CCU's broadcast strobe (registered here); the registered room
                        flags ``room_nopush``, ``room_push`` (see module docstring).
    wr : In(DescWrite)  a descriptor from the prefetcher.
    issue : Out(QueueIssue)  to the PE's issue logic: ``head``, ``next`` (registered: the FIFO
                        head and the descriptor behind it; a descriptor is visible here from
                        the second cycle after its write), ``head_ok``, ``next_ok``
                        (registered: they are present), ``nonempty`` (the contract queue is
                        not empty at the start of this cycle); ``pop`` (In: the head column
                        is popped this cycle), ``ready`` (In: the issue logic is ready, a
                        registered copy of its state: the count recomputes the pop from its
                        own copies, so the pop's fan-out is split between the two units).
    quiet_next : Out(1) if no broadcast arrives in this cycle, the queue will be empty at
                        the start of the next one and no column's first entry is issued in
                        this one (a pop of a non-empty column): the queue's part of the
                        registered end-of-pass test (:mod:`.pe`).  Written as a choice by
                        the registered strobe ``bc_r`` between two values of registers, so
                        the strobe is one LUT from the PE's ``idle`` flip-flop.
    fault : Out(1)      sticky FIFO under/overflow.
    """

    def __init__(self, hw: HWConfig):
        if not isinstance(hw, HWConfig):
            raise TypeError(f"hw must be an HWConfig, not {type(hw).__name__}")
        self._hw = hw
        self._depth = hw.config.queue_depth
        super().__init__({
            "ctl": In(PassControl()),
            "bc": In(Broadcast(hw)),
            "wr": In(DescWrite(hw)),
            "issue": Out(QueueIssue(hw)),
            "quiet_next": Out(1),
            "fault": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        hw = self._hw
        d = self._depth
        depth = hw.desc_depth
        # The head and the descriptor behind it are registers (``head``, ``next``) holding
        # entries rptr0 and rptr1 as a combinational read saw them in the previous cycle (a
        # descriptor is visible there from the second cycle after its write).  The LUT RAM is
        # read at one registered address only, rptr2 (the entry that moves into ``next`` on
        # a pop); an entry written in the previous cycle at rptr0 or rptr1 is taken from the
        # registered write data (``fresh`` flags, compares of registers).  So the pop -- the
        # PE's latest signal -- only picks between registers and a RAM output: one 2:1 LUT,
        # no RAM address multiplexer (yosys's resource sharing would turn two read ports
        # behind a pop multiplexer into exactly that).
        #
        # ``hw.desc_fifo_ram == "bram"`` (iCE40, which has no LUT RAM): the same FIFO in block
        # RAM.  A block RAM reads synchronously, so the read port is addressed one cycle early
        # with the value rptr2 will have in the next cycle, and is transparent for the write
        # port: its data in cycle c is entry rptr2(c) with every write up to the end of c−1,
        # exactly what the combinational read at rptr2 sees in c.  The pop then reaches the
        # block RAM's read address (a 2:1 choice behind it), where the LUT-RAM form keeps it off
        # any address: fine at iCE40 clock rates, and the LUT-RAM form stays on ECP5.
        lay = desc_layout(hw)
        bram = hw.desc_fifo_ram == "bram"
        attrs = {"ram_style": "block"} if bram else {}      # small: yosys would map it to logic by cost
        # the LUT-RAM form is one memory per slice of head/next (the pops' slices), each read
        # at a copy of rptr2 of its own (one rptr2 fanned out to every LUT RAM of the ~70-bit
        # descriptors was a critical path of its own)
        width = lay.size
        slices = [slice(0, width)] if bram else bit_slices(width, hw.copies(POP_COPIES))
        split = len(slices) > 1
        wptr = Signal(range(depth))
        rptr = [Signal(range(depth), name=f"rptr{i}", attrs=original_attrs(hw) if split and i == 2 else {})
                for i in range(3)]                                                  # head index + 0, 1, 2
        if split:
            wr_v = self.wr.data.as_value()
            parts = []
            for k, sl in enumerate(slices):
                m.submodules[f"mem{k}"] = mem_k = Memory(shape=sl.stop - sl.start, depth=depth, init=[])
                wp_k, rp_k = mem_k.write_port(), mem_k.read_port(domain="comb")
                m.d.comb += [wp_k.addr.eq(wptr), wp_k.data.eq(wr_v[sl]), wp_k.en.eq(self.wr.valid)]
                parts.append((rp_k, sl))
        else:
            m.submodules.mem = mem = Memory(shape=lay, depth=depth, init=[], attrs=attrs)
            wp = mem.write_port()
            rp2 = mem.read_port(transparent_for=(wp,)) if bram else mem.read_port(domain="comb")
        sc = Signal(range(depth + 1))           # descriptors written before this cycle, not popped
        pop = Signal()                          # this unit's copy of the pop decision (see below)
        wq = Signal(lay)                        # last cycle's write data
        fresh0, fresh1 = Signal(), Signal()     # entry rptr0 / rptr1 was written last cycle
        nxt = Signal(lay)

        # copies of the contract count's "not empty" flag, one per slice of head/next, each
        # giving its own copy of the pop (the same decision: see the count below)
        cnt_nz_c = [Signal(name=f"cnt_nz_c{k}", attrs={"keep": 1}) for k in range(hw.copies(POP_COPIES))]
        bc_r = Signal(attrs={"keep": 1})
        pops = [(c | bc_r) & self.issue.ready for c in cnt_nz_c]

        def inc(ptr):
            return Mux(ptr == depth - 1, 0, ptr + 1)

        x0 = Mux(fresh0, wq.as_value(), self.issue.head.as_value())
        x1 = Mux(fresh1, wq.as_value(), nxt.as_value())
        # the read pointers of the next cycle: arm resets them, a pop advances them (the block
        # RAM is addressed with rptr2's, one cycle early)
        arm_q = Signal(name="arm_q")            # the FIFO's reset, a cycle after arm
        m.d.sync += arm_q.eq(self.ctl.arm)
        rptr_next = [Mux(arm_q, i % depth, Mux(pop, inc(r), r)) for i, r in enumerate(rptr)]
        m.d.sync += [r.eq(n) for r, n in zip(rptr, rptr_next, strict=True)]
        m.d.comb += self.issue.next.eq(nxt)
        if split:
            raddr = register_copies(m, rptr_next[2], len(slices), name="rptr2")     # each = rptr2
            m.d.comb += [rp_k.addr.eq(a) for (rp_k, _), a in zip(parts, raddr, strict=True)]
            rd_v = Cat(*[rp_k.data for rp_k, _ in parts])
        else:
            m.d.comb += [wp.addr.eq(wptr), wp.data.eq(self.wr.data), wp.en.eq(self.wr.valid),
                         rp2.addr.eq(rptr_next[2] if bram else rptr[2])]
            rd_v = rp2.data.as_value()
        # head and next move on a pop: ~2 x 70 flip-flops.  Each slice of them takes its own
        # copy of the pop (from its own copy of cnt_nz, below), so no one LUT drives them all
        assert width == len(nxt.as_value())
        head_v, nxt_v = self.issue.head.as_value(), nxt.as_value()
        for k, sl in enumerate(bit_slices(width, len(pops))):
            m.d.sync += [head_v[sl].eq(Mux(pops[k], x1[sl], x0[sl])), nxt_v[sl].eq(Mux(pops[k], rd_v[sl], x1[sl]))]
        m.d.sync += [wq.eq(self.wr.data),
                     fresh0.eq(self.wr.valid & Mux(pop, wptr == rptr[1], wptr == rptr[0])),
                     fresh1.eq(self.wr.valid & Mux(pop, wptr == rptr[2], wptr == rptr[1]))]
        with m.If(arm_q):
            m.d.sync += [wptr.eq(0), sc.eq(0), self.fault.eq(0), self.issue.head_ok.eq(0), self.issue.next_ok.eq(0)]
        with m.Else():
            m.d.sync += [
                wptr.eq(Mux(self.wr.valid, inc(wptr), wptr)),
                sc.eq(sc + self.wr.valid - pop),
                self.issue.head_ok.eq(Mux(pop, sc >= 2, sc >= 1)),
                self.issue.next_ok.eq(Mux(pop, sc >= 3, sc >= 2)),
            ]
            issue_pop = self.issue.pop
            with m.If((issue_pop & ~self.issue.head_ok) | (self.wr.valid & ~issue_pop & (sc == depth))
                      | (pop != issue_pop)):
                m.d.sync += self.fault.eq(1)

        # ---- the contract's count -------------------------------------------------------
        # base = the count at the start of this cycle (cnt excludes last cycle's push, bc_r);
        # every flag is precomputed for "popped" and "not popped" from registers, and this
        # unit's own pop (the same decision as the Issue's) only picks one.
        cnt = Signal(range(d + 1))
        cnt_nz = Signal()
        base = Signal(range(d + 2))
        m.d.comb += [
            base.eq(cnt + bc_r),
            self.issue.nonempty.eq(cnt_nz | bc_r),
            pop.eq((cnt_nz | bc_r) & self.issue.ready),
        ]
        # quiet_next = empty_next & ~(pop & ~head.z), empty_next = Mux(pop, base < 2, base < 1):
        # with bc_r set, pop = ready and base = cnt + 1; without, pop = cnt_nz & ready, base = cnt
        z0, z1, hz = cnt == 0, cnt == 1, self.issue.head.z
        ready = self.issue.ready
        m.d.comb += self.quiet_next.eq(Mux(bc_r, ready & z0 & hz, Mux(cnt_nz & ready, (z0 | z1) & hz, z0)))
        # The room flags look two cycles ahead (registered at the end of c: room at the start of
        # c+2 with / without the CCU's push of c+1).  n1 = the count at the start of c+1 =
        # base − pop + strobe; the pop of c+1 = (n1 > 0) & ready(c+1), and ready(c+1) is the
        # Issue's ``ready_next``.  Every term but the strobe (the CCU's, arriving late) is
        # precomputed from registers and this cycle's pop, so the strobe picks between two
        # values: ``kD`` = base − pop + k < D (the count never exceeds D).
        nz_nopush = Mux(pop, base >= 2, base >= 1)          # n1 > 0 without a push in c
        lt0 = pop | (base < d)
        lt1 = Mux(pop, base < d, base + 1 < d)
        lt2 = Mux(pop, base + 1 < d, base + 2 < d)
        r1 = self.issue.ready_next
        pop1_s, pop1_n = r1, nz_nopush & r1                # the pop of c+1 with / without the push of c
        with m.If(self.ctl.start):
            m.d.sync += [bc_r.eq(0), cnt.eq(0), cnt_nz.eq(0), self.bc.room_nopush.eq(1), self.bc.room_push.eq(int(d > 1))]
            m.d.sync += [c.eq(0) for c in cnt_nz_c]
        with m.Else():
            strobe = self.bc.strobe
            m.d.sync += [
                bc_r.eq(strobe),
                cnt.eq(base - pop),
                cnt_nz.eq(nz_nopush),
                *[c.eq(nz_nopush) for c in cnt_nz_c],
                self.bc.room_nopush.eq(Mux(strobe, pop1_s | lt1, pop1_n | lt0)),
                self.bc.room_push.eq(Mux(strobe, Mux(pop1_s, lt1, lt2), Mux(pop1_n, lt0, lt1))),
            ]
        return m
