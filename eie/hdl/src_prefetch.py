"""The CCU's source prefetch (`src_prefetch`): the PEs' source words into group slots
[arch §5.1].

The contract's scanner reads one group (N activations, one from each PE's source bank) at a
time.  Here the groups are read ahead into ``GROUP_SLOTS`` slots, so that the pre-scanner's
non-zero compares start from registers, never from a block RAM (see ``eie/hdl/README.md``,
Pipelining).
"""

from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .interfaces import SrcRead, original_attrs
from .params import GROUP_SLOTS, SRC_LATENCY, HWConfig, announce_groups

__all__ = ["SrcPrefetch"]


class SrcPrefetch(wiring.Component):
    """Group slots filled from the PEs' source banks, read in order by the pre-scanner.

    Members
    -------
    arm : In(1)        reset: no slot filled or requested, the head is slot 0.
    live : In(1)       the pre-scanner searches in the next cycle (its live flag's next
                       value): keep requesting groups while slots are free.
    advance : In(1)    the head group is consumed in this cycle; the next slot is the head
                       in the next cycle.
    src : Out(SrcRead)[N]
                       PE p: ``rd_en`` (registered, one copy per PE; each PE keeps its own
                       address counter) reads the next group's word, which arrives on
                       ``data`` ``SRC_LATENCY`` cycles later and fills the next slot.
    head_valid : Out(1)   registered: the head slot holds a group.
    head_nz : Out(N)      registered: the head group's non-zero flags (a register of its own,
                          not a multiplexer behind the head index).
    head_val : Out(act)[N]  the head group's activations (LUT RAM read at the registered
                          head index; with ``timing_registers`` one LUT RAM per announce
                          group of PEs (:func:`~.params.announce_groups`), each read at a
                          copy of the head index of its own: one index fanned out to the
                          N x 16 bits of LUT RAM was a critical path on the ECP5-85k).

    A group that arrives in cycle c is the head in c+1 at the earliest.  Reads are issued
    while slots are free, counting a consumption one cycle late (``GROUP_SLOTS`` >= 6
    sustains one group per cycle).
    """

    def __init__(self, hw: HWConfig):
        self._hw = hw
        c = hw.config
        n = c.pes
        super().__init__({
            "arm": In(1),
            "live": In(1),
            "advance": In(1),
            "src": Out(SrcRead(hw)).array(n),
            "head_valid": Out(1),
            "head_nz": Out(n),
            "head_val": Out(signed(c.act_bits)).array(n),
        })

    def elaborate(self, platform):
        m = Module()
        n = self._hw.pes
        ab = self._hw.config.act_bits
        slots = GROUP_SLOTS
        sb = (slots - 1).bit_length()
        src_data = [s.data for s in self.src]

        # ---- the slots: values in a LUT RAM, non-zero flags in registers --------------------
        inflight = [Signal(name=f"rd_d{i}") for i in range(1, SRC_LATENCY + 1)]
        cap = inflight[-1]                      # a group's words arrive in this cycle
        wp = Signal(sb)
        groups = announce_groups(n) if self._hw.timing_registers else [range(n)]
        split = len(groups) > 1
        hp = Signal(sb, attrs=original_attrs(self._hw) if split else {})
        hp1 = Signal(sb)                        # hp + 1, a register
        nz = Array(Signal(n, name=f"nz{i}") for i in range(slots))
        new_nz = Signal(n)
        m.d.comb += new_nz.eq(Cat(*[d != 0 for d in src_data]))
        hp_next = Mux(self.arm, 0, Mux(self.advance, hp1, hp))      # hp + 1, from its register
        m.d.sync += hp.eq(hp_next)
        for k, grp in enumerate(groups):
            # one LUT RAM per group of PEs, read at its own copy of the head index
            if split:
                addr = Signal(sb, name=f"hp_c{k}", attrs={"keep": 1})
                m.d.sync += addr.eq(hp_next)
            else:
                addr = hp
            m.submodules[f"vals{k}" if split else "vals"] = vals = Memory(
                shape=len(grp) * ab, depth=slots, init=[])
            vw, vr = vals.write_port(), vals.read_port(domain="comb")
            m.d.comb += [vw.addr.eq(wp), vw.data.eq(Cat(*[src_data[q] for q in grp])), vw.en.eq(cap),
                         vr.addr.eq(addr)]
            m.d.comb += [self.head_val[q].eq(vr.data[i * ab:(i + 1) * ab]) for i, q in enumerate(grp)]
        # a slot's flags are written whenever words arrive, in the arm cycle too (a read of
        # the previous pass still in flight): a slot is read only once this pass has filled
        # it, so that write is harmless, and ``arm`` stays out of the N x GROUP_SLOTS flags'
        # write enables (on the ECP5-85k a route across the die into them)
        with m.If(cap):
            m.d.sync += [nz[wp].eq(new_nz), wp.eq(wp + 1)]
        with m.If(self.arm):
            m.d.sync += wp.eq(0)

        # head_nz: loaded with slot hp+1's flags when the search advances, and with the
        # arriving group's flags when that group lands in the head slot
        with m.If(self.arm):
            m.d.sync += hp1.eq(1 % slots)
        with m.Elif(self.advance):
            m.d.sync += [hp1.eq(hp1 + 1), self.head_nz.eq(Mux(cap & (wp == hp1), new_nz, nz[hp1]))]
        with m.Elif(cap & (wp == hp)):
            m.d.sync += self.head_nz.eq(new_nz)

        # ---- requests and fill (a consumption is seen one cycle late by the requests) -------
        alloc = Signal(range(slots + 1))        # slots requested and not yet consumed
        fill = Signal(range(slots + 1))         # filled slots
        rd = Signal(attrs={"keep": 1})          # master copy of rd_en (keep: not merged into a copy)
        consume_r = Signal()
        alloc_next = Signal.like(alloc)
        fill_next = Signal.like(fill)
        rd_next = Signal()
        # the late ``advance`` (the end of the pre-scanner's search) is the last select of the
        # fill count and of head_valid: both values are computed from registers beside it
        fill_cap = Signal.like(fill, name="fill_cap")
        m.d.comb += fill_cap.eq(fill + cap)
        m.d.comb += [
            alloc_next.eq(Mux(self.arm, 0, alloc + rd - consume_r)),
            fill_next.eq(Mux(self.arm, 0, Mux(self.advance, fill_cap - 1, fill_cap))),
            rd_next.eq(self.live & (alloc_next < slots)),
        ]
        m.d.sync += [alloc.eq(alloc_next), fill.eq(fill_next), rd.eq(rd_next),
                     self.head_valid.eq(~self.arm & Mux(self.advance, fill_cap > 1, fill_cap != 0)),
                     consume_r.eq(Mux(self.arm, 0, self.advance))]
        prev = rd
        for s in inflight:
            m.d.sync += s.eq(Mux(self.arm, 0, prev))
            prev = s
        for p in range(n):
            copy = Signal(name=f"rd_en_{p}", attrs={"keep": 1})
            m.d.sync += copy.eq(rd_next)
            m.d.comb += self.src[p].rd_en.eq(copy)
        return m
