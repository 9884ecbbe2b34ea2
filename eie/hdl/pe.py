"""One processing element (`pe`) [arch §5.2-§5.6].

CCU announce → ``PtrPrefetch`` (pointer banks → column descriptor) → ``ActQueue``
(descriptor FIFO + the contract's queue count) → ``Issue`` (pop, entry issue) →
``SpmatRead`` (line, entry select) → ``Arith`` (row, codebook, multiply, round-shift,
accumulate) ↔ ``ActRW`` (register files, source prefetch reads), plus the PE's statistics
counters and its slice of the host port.

``idle`` is the PE's part of the end-of-pass rule [arch §5.7]: the queue is empty at the
start of the cycle, no entry is issued in the cycle and no entry issued earlier is still in
the pipeline.  A PE that popped an empty column in cycle P is idle in P+1; one whose last
entry issued in t is busy through t+5.  ``idle`` is a *register*: computed in the previous
cycle on the assumption that no broadcast arrives in it.  That is exact where it is used —
once the bias element has been broadcast (before the previous cycle) no broadcast follows —
and it keeps the array-wide AND of the end-of-pass test free of PE logic.

Host port (:class:`~eie.hdl.interfaces.PEHost`, already registered once by the top level;
see :mod:`eie.hdl.regmap` for the map): ``sel`` (this PE is addressed), ``mem``, ``off``,
``wdata``, ``we``.  ``rdata`` holds the word addressed five cycles earlier (the line memory
reads in three cycles, every other source is delayed to match, then a two-step 8:1 choice;
reads have no side effect), or 0 if that read did not name this PE (``rsel``: the top ORs
the PEs' words).  Signed quantities (activations, codebook values, outputs) are
sign-extended to ``data_bits``.
"""

from amaranth.hdl import Array, Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out, connect, flipped

from .act_queue import ActQueue
from .act_rw import ActRW
from .arith import Arith
from .interfaces import (
    CCULink,
    PassControl,
    PassRegs,
    PEHost,
    WriteBack,
    bit_slices,
    register_copies,
    registered_copy,
    sliced_choice,
)
from .params import COUNTER_BITS, SELECT_COPIES, HWConfig
from .ptr_read import Issue, PtrPrefetch
from .regmap import MEM, MEM_BITS, PE_COUNTERS
from .spmat_read import SpmatRead

__all__ = ["PE"]

#: cycles from ``host.off`` to the word of each source at the read multiplexer: the line
#: memory reads in three (registered address), the other block RAMs in two plus a register,
#: the codebook and the counters in one plus two
HOST_READ_STAGES = 3


class PE(wiring.Component):
    """A processing element.

    Parameters
    ----------
    hw : HWConfig
    init : optional initial memory contents: a dict with any of ``ptr_even``, ``ptr_odd``,
        ``lines``, ``codebook``, ``act``, ``bias`` (the destination file, preloaded and valid).

    Members
    -------
    ctl : In(PassControl)  the pass sequencer's control (this PE's registered copy).
    regs : In(PassRegs)    the pass's static registers (registered again here).
    wb : In(WriteBack)     the write-back command; ``busy``/``busy_next`` of this PE's copy.
    ccu : In(CCULink)      announce, broadcast and room flags, source prefetch reads.
    host : In(PEHost)      this PE's copy of the host bus; ``rdata``.
    idle : Out(1)          registered: the PE is idle in this cycle if no broadcast arrived
                           in the previous one (see module docstring).
    fault : Out(1)         sticky: a prefetch FIFO under- or overflowed (never expected).
    """

    def __init__(self, hw: HWConfig, *, init=None):
        self._hw = hw
        init = dict(init or {})
        unknown = set(init) - {"ptr_even", "ptr_odd", "lines", "codebook", "act", "bias"}
        if unknown:
            raise ValueError(f"init keys must be ptr_even, ptr_odd, lines, codebook, act, bias; not {sorted(unknown)!r}")
        self._init = init
        super().__init__({
            "ctl": In(PassControl()),
            "regs": In(PassRegs(hw)),
            "wb": In(WriteBack()),
            "ccu": In(CCULink(hw)),
            "host": In(PEHost(hw)),
            "idle": Out(1),
            "fault": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        hw = self._hw
        init = self._init
        m.submodules.queue = queue = ActQueue(hw)
        m.submodules.ptr = ptr = PtrPrefetch(hw, init_even=init.get("ptr_even", ()), init_odd=init.get("ptr_odd", ()))
        m.submodules.issue = issue = Issue(hw)
        m.submodules.spmat = spmat = SpmatRead(hw, init_lines=init.get("lines", ()))
        m.submodules.arith = arith = Arith(hw, init_codebook=init.get("codebook", ()))
        m.submodules.act = act = ActRW(hw, init_act=init.get("act", ()), init_acc=init.get("bias", ()))

        # announce → descriptor → queue → issue → line → arithmetic ↔ register file
        # each unit's control: the PE's copy, except ``start``, a register of the unit's own
        # loaded from ``start_next`` (the start clears registers all over the PE)
        for name, unit in {"ptr": ptr, "queue": queue, "issue": issue, "spmat": spmat, "arith": arith,
                           "act": act}.items():
            m.d.comb += [getattr(unit.ctl, k).eq(getattr(self.ctl, k)) for k in ("arm", "running", "pf_active",
                                                                                 "start_next")]
            m.d.comb += unit.ctl.start.eq(self._start_copy(m, name))
        connect(m, flipped(self.ccu.ann), ptr.ann)
        connect(m, flipped(self.ccu.bc), queue.bc)
        connect(m, flipped(self.ccu.src), act.src)
        connect(m, ptr.desc, queue.wr)
        connect(m, queue.issue, issue.queue)
        connect(m, issue.entry, spmat.issue)
        connect(m, spmat.entry, arith.entry)
        connect(m, arith.acc, act.acc)
        connect(m, flipped(self.wb), act.wb)
        # this PE's copies of the static pass registers (written by the host before a start,
        # so a copy one cycle late is settled long before the arm cycle)
        regs = registered_copy(m, PassRegs(hw), self.regs, name="regs_q")
        m.d.comb += [
            ptr.ptr_base.eq(regs.ptr_base), ptr.spmat_base.eq(regs.spmat_base), arith.shift.eq(regs.shift),
            act.src_sel.eq(regs.src_sel), act.relu.eq(regs.relu), act.wb_base.eq(regs.wb_base),
            act.keep_acc.eq(regs.keep_acc),
        ]
        # idle in the next cycle if no broadcast arrives now: registered, see module docstring
        # (an entry issued now, of a column in flight, is ~entry.valid's part; a new column's
        # first entry is the queue's, quiet_next)
        m.d.sync += self.idle.eq(queue.quiet_next & ~issue.entry.valid & ~arith.busy_next)
        m.d.comb += self.fault.eq(queue.fault | issue.fault)

        events = {"entries": arith.ev_entry, "padding": arith.ev_padding, "empty_columns": issue.ev_empty,
                  "line_reads": issue.ev_line, "pops": issue.queue.pop, "bypasses": arith.ev_bypass}
        counters = self._counters(m, events)
        self._host_writes(m, ptr, spmat, arith, act)
        self._host_reads(m, ptr, spmat, arith, act, counters)
        return m

    def _start_copy(self, m, name):
        """A register equal to ``ctl.start`` in every cycle (loaded from ``ctl.start_next``)."""
        start = Signal(name=f"start_{name}", attrs={"keep": 1})
        m.d.sync += start.eq(self.ctl.start_next)
        return start

    def _counters(self, m, events):
        """The PE's statistics counters [arch §6], in :data:`~.regmap.PE_COUNTERS` order:
        cleared at start, one count per event strobe."""
        counters = []
        start = self._start_copy(m, "counters")
        for name in PE_COUNTERS:
            cnt = Signal(COUNTER_BITS, name=f"cnt_{name}")
            with m.If(start):
                m.d.sync += cnt.eq(0)
            with m.Elif(events[name]):
                m.d.sync += cnt.eq(cnt + 1)
            counters.append(cnt)
        return counters

    def _host_writes(self, m, ptr, spmat, arith, act):
        """Every memory takes the host's offset and data; its write enable is its ``mem``."""
        host = self.host
        we = host.we & host.sel

        def we_mem(name):
            return we & (host.mem == MEM[name])

        m.d.comb += [
            ptr.h_addr.eq(host.off), ptr.h_wdata.eq(host.wdata),
            ptr.h_we_even.eq(we_mem("ptr_even")), ptr.h_we_odd.eq(we_mem("ptr_odd")),
            spmat.h_addr.eq(host.off), spmat.h_raddr.eq(host.off_line), spmat.h_wdata.eq(host.wdata),
            spmat.h_we.eq(we_mem("spmat")),
            arith.h_addr.eq(host.off), arith.h_wdata.eq(host.wdata), arith.h_we.eq(we_mem("codebook")),
            act.h_addr.eq(host.off), act.h_dst_addr.eq(host.off_dst), act.h_wdata.eq(host.wdata),
            act.h_wacc.eq(host.wdata),
            act.h_we_src.eq(we_mem("act")), act.h_we_next.eq(we_mem("act_next")), act.h_we_dst.eq(we_mem("out")),
        ]

    def _host_reads(self, m, ptr, spmat, arith, act, counters):
        """``host.rdata``: the word of memory ``mem`` at ``off``, five cycles later (every
        source delayed to ``HOST_READ_STAGES``, then a registered two-step choice)."""
        hw = self._hw
        host = self.host
        lat = HOST_READ_STAGES
        mem_q = [Signal(MEM_BITS, name=f"mem_q{i}") for i in range(lat - 1)]
        cnt_bits = (len(PE_COUNTERS) - 1).bit_length()          # the counter's number in ``off``
        padded = counters + [0] * ((1 << cnt_bits) - len(counters))
        # the counter's number is registered here first (a PE-local copy next to the
        # counters), then the choice is made from it: the route from the top's host register
        # and the multiplexer are in different cycles
        cnt_num = Signal(cnt_bits, name="cnt_num")
        # rs_q: "the read names this PE" beside mem_q; it zeroes the word at the last step
        rs_q = [Signal(name=f"rsel_q{i}") for i in range(lat - 1)]
        m.d.sync += [mem_q[0].eq(host.mem), rs_q[0].eq(host.rsel), cnt_num.eq(host.off[:cnt_bits])]
        # cnt_q{i}: the chosen counter in read stage i, up to lat - 1
        two_step = hw.timing_registers and cnt_bits > 2 and lat > 2
        cnt_q = {i: Signal(COUNTER_BITS, name=f"cnt_q{i}") for i in range(2 if two_step else 1, lat)}
        if two_step:
            # in two registered steps (within four, then the group), both inside the read's
            # latency: the counters are still sampled in stage 1
            groups = [Signal(COUNTER_BITS, name=f"cnt_grp{k}") for k in range(1 << (cnt_bits - 2))]
            hi_q = Signal(cnt_bits - 2, name="cnt_hi")
            m.d.sync += [grp.eq(Array(padded[4 * k:4 * k + 4])[cnt_num[:2]]) for k, grp in enumerate(groups)]
            m.d.sync += [hi_q.eq(cnt_num[2:]), cnt_q[2].eq(Array(groups)[hi_q])]
        else:
            m.d.sync += cnt_q[1].eq(Array(padded)[cnt_num])
        for i in range(1, lat - 1):
            m.d.sync += [mem_q[i].eq(mem_q[i - 1]), rs_q[i].eq(rs_q[i - 1])]
        # the last stage of mem as copies, each choosing a slice of the word's bits
        sel = register_copies(m, mem_q[-1], hw.copies(SELECT_COPIES), name="mem_sel")
        first = min(cnt_q)
        for i in range(first + 1, lat):
            m.d.sync += cnt_q[i].eq(cnt_q[i - 1])

        def later(sig, n, tag):
            for i in range(n):
                q = Signal.like(sig, name=f"{tag}_d{i}")
                m.d.sync += q.eq(sig)
                sig = q
            return sig

        srcs = {"ptr_even": later(ptr.h_even, 1, "h_even"), "ptr_odd": later(ptr.h_odd, 1, "h_odd"),
                "spmat": spmat.h_rdata, "codebook": later(arith.h_rdata, 2, "h_cb"),
                "act": later(act.h_src, 1, "h_src"), "out": act.h_out, "act_next": later(act.h_next, 1, "h_next"),
                "counters": cnt_q[lat - 1]}
        # each source extended to data_bits by its own signedness (signed: sign-extended),
        # in ``mem`` order
        ext = [Signal(hw.data_bits, name=f"h_src{i}_ext") for i in range(1 << MEM_BITS)]
        for name, src in srcs.items():
            m.d.comb += ext[MEM[name]].eq(src)
        # an 8:1 choice of data_bits-wide words in two registered steps (4:1 then 2:1): one
        # select register fanned out to every bit behind two LUT levels was a critical path,
        # and so was one copy of it driving every bit (the copies: SELECT_COPIES)
        lo_bits = MEM_BITS - 1
        half = [Signal(hw.data_bits, name=f"h_half{i}") for i in range(2)]
        hsel = register_copies(m, sel[0][lo_bits], len(sel), name="hsel")
        # the word is 0 unless the read named this PE (rsel), at the 2:1 step (one LUT4 a
        # bit with its select copy): the top ORs the PEs' words (see :mod:`.top`)
        rs_sel = Signal(name="rsel_s")
        m.d.sync += rs_sel.eq(rs_q[-1])
        hrs = register_copies(m, rs_sel, len(sel), name="hrsel")
        word = sliced_choice(half, hsel)
        m.d.sync += [half[0].eq(sliced_choice(ext[:1 << lo_bits], [s[:lo_bits] for s in sel])),
                     half[1].eq(sliced_choice(ext[1 << lo_bits:], [s[:lo_bits] for s in sel])),
                     host.rdata.eq(Cat(*[word[sl] & sl_rs.replicate(sl.stop - sl.start)
                                         for sl, sl_rs in zip(bit_slices(hw.data_bits, len(hrs)), hrs, strict=False)]))]
