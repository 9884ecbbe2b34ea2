"""Pointer read (`ptr_read`): pointer banks, column prefetch, pop and issue [arch §3, §5.3].

Storage [arch §3]: even bank word m holds ``p_{2m}``, odd bank word m holds ``p_{2m+1}``
(plus ``ptr_base`` words: several passes stay resident).  For column j the two pointers
``p_j`` and ``p_{j+1}`` are in different banks: even address ``(j+1) >> 1``, odd address
``j >> 1``; ``p_j`` is the even word for even j and the odd word for odd j.

:class:`PtrPrefetch` — reads the pointers of every *announced* column (the CCU announces
elements in scan order, ``LEAD`` cycles or more before their broadcast, see :mod:`.lnzd`)
and turns them into a descriptor for the PE's FIFO (:func:`~eie.hdl.interfaces.desc_layout`):
``L = p_{j+1} − p_j``, the line and slot of the first entry, and whether that line must be
read (it differs from the line of the last entry of the previous non-empty column: the
contract's last-line buffer [arch §5.4], tracked here in scan order, which is issue order).
Pipeline: X0 announce copy → X1 bank addresses (registers, one per bank) → X3 bank data
(block RAM with output register) → X4 L, p_j, p_{j+1} − 1 → X5 line/slot → descriptor.

:class:`Issue` — the contract's pop and issue, cycle for cycle [arch §5.3]:

* cycle P (pop): the queue is not empty at the start of P and the PE is *ready*: nothing is
  issued in P, or the entry issued in P is its column's last;
* entries ``p_j .. p_{j+1}−1`` are issued in cycles P+1 .. P+L (``entry.valid``,
  ``entry.first``, ``entry.slot``, ``entry.a``); an empty column costs its pop cycle:
  ``P_k = max(b_k + 1, P_{k−1} + max(L_{k−1}, 1))``.

Everything the decision needs is a register or the FIFO head, so "ready" is one LUT level.
Because the sparse-matrix memory has a two-cycle read, ``next_line``/``next_need`` give the
line of the entry issued in the *next* cycle (the memory is read one cycle before the
contract's "line read in t", and its data is there for the entry select in t+1).

Strobes: ``pop`` (= pointer-pair read), ``ev_empty`` (an empty column popped).
Host port: ``h_addr``/``h_wdata``/``h_we_even``/``h_we_odd`` write the banks at any time;
when not ``pf_active`` both banks read ``h_addr`` (``h_even``/``h_odd``, two cycles later).
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bram import SyncBRAM
from .interfaces import Announce, DescWrite, IssueEntry, PassControl, QueueIssue, slot_bits
from .params import HWConfig
from .spmat_read import divmod_const

__all__ = ["PtrPrefetch", "Issue", "pop_ref"]


class PtrPrefetch(wiring.Component):
    """Even/odd pointer banks of one PE and the column-descriptor pipeline.

    Members
    -------
    ctl : In(PassControl)  ``arm`` empties the pipeline; ``pf_active``: the banks' read
                       ports belong to the prefetch (else to the host).
    ann : In(Announce)     the CCU's announce bus (registered again here, X0).
    ptr_base, spmat_base : In  the pass's static registers.
    desc : Out(DescWrite)  the column's descriptor, five cycles after its announce (X5).
    h_* :              host port (see module docstring).
    """

    def __init__(self, hw: HWConfig, *, init_even=(), init_odd=()):
        self._hw = hw
        self._init_even, self._init_odd = list(init_even), list(init_odd)
        for name, init in (("init_even", self._init_even), ("init_odd", self._init_odd)):
            if len(init) > hw.ptr_words:
                raise ValueError(f"{name} must have at most ptr_words={hw.ptr_words} words, not {len(init)}")
        c = hw.config
        super().__init__({
            "ctl": In(PassControl()),
            "ann": In(Announce(hw)),
            "ptr_base": In(max(1, hw.ptr_addr_bits)),
            "spmat_base": In(max(1, hw.line_addr_bits)),
            "desc": Out(DescWrite(hw)),
            "h_addr": In(max(1, hw.ptr_addr_bits)),
            "h_wdata": In(c.ptr_bits),
            "h_we_even": In(1),
            "h_we_odd": In(1),
            "h_even": Out(c.ptr_bits),
            "h_odd": Out(c.ptr_bits),
        })

    def elaborate(self, platform):
        m = Module()
        hw = self._hw
        c = hw.config
        pb = c.ptr_bits
        ab = max(1, hw.ptr_addr_bits)
        epl = c.entries_per_line
        arm = self.ctl.arm

        def stage(name, shape=1, keep=False):
            return Signal(shape, name=name, attrs={"keep": 1} if keep else {})

        # X0: this PE's copy of the announce bus
        v0, j0, a0 = stage("x0_v", keep=True), stage("x0_j", hw.col_bits, True), stage("x0_a", signed(c.act_bits), True)
        # X1: bank addresses
        v1, a1, par1 = stage("x1_v"), stage("x1_a", signed(c.act_bits)), stage("x1_par")
        ea1, oa1 = stage("x1_even_addr", ab, True), stage("x1_odd_addr", ab, True)
        # X2, X3: the banks' two-cycle read
        v2, a2, par2 = stage("x2_v"), stage("x2_a", signed(c.act_bits)), stage("x2_par")
        v3, a3, par3 = stage("x3_v"), stage("x3_a", signed(c.act_bits)), stage("x3_par")
        # X4: pointers (and the addresses of the column's second and third entries)
        v4, a4 = stage("x4_v"), stage("x4_a", signed(c.act_bits))
        lo4, lo4_1, lo4_2 = stage("x4_lo", pb), stage("x4_lo1", pb), stage("x4_lo2", pb)
        len4, hm1_4 = stage("x4_len", pb), stage("x4_hm1", pb)
        # X5: lines, slots, flags
        v5, a5 = stage("x5_v"), stage("x5_a", signed(c.act_bits))
        last5 = stage("x5_lastline", pb)
        slot5, slot5_2 = stage("x5_slot", slot_bits(hw)), stage("x5_slot2", slot_bits(hw))
        lm1_5, nz5, one5, two5, ge3_5, ge4_5 = (stage("x5_lm1", pb), stage("x5_nz"), stage("x5_one"), stage("x5_two"),
                                                 stage("x5_ge3"), stage("x5_ge4"))
        have = Signal()
        prev_last = Signal(pb)

        half = j0 >> 1
        m.d.sync += [
            v0.eq(self.ann.valid & ~arm), j0.eq(self.ann.j), a0.eq(self.ann.a),
            v1.eq(v0 & ~arm), a1.eq(a0), par1.eq(j0[0]),
            ea1.eq(self.ptr_base + half + j0[0]), oa1.eq(self.ptr_base + half),
            v2.eq(v1 & ~arm), a2.eq(a1), par2.eq(par1),
            v3.eq(v2 & ~arm), a3.eq(a2), par3.eq(par2),
        ]
        even, odd = self._banks(m, ea1, oa1, v1)
        lo = Mux(par3, odd, even)
        hi = Mux(par3, even, odd)
        m.d.sync += [v4.eq(v3 & ~arm), a4.eq(a3), lo4.eq(lo), lo4_1.eq(lo + 1), lo4_2.eq(lo + 2),
                     len4.eq(hi - lo), hm1_4.eq(hi - 1)]

        line_lo, slot_lo = divmod_const(lo4, pb, epl)
        line_lo1, _ = divmod_const(lo4_1, pb, epl)
        line_lo2, slot_lo2 = divmod_const(lo4_2, pb, epl)
        line_hm1, _ = divmod_const(hm1_4, pb, epl)
        # X5 holds the descriptor's fields ready to write: the lines with the base added,
        # the wrap flags, and the compare of newline -- against prev_last as it will be in
        # X5 (this cycle's X5 entry may update it) -- so the FIFO's write data leave
        # registers through at most a gate (the compares behind X5 were a critical path)
        lb = len(self.desc.data.line0)
        line5_b, line5_1b, line5_2b = stage("x5_line", lb), stage("x5_line1", lb), stage("x5_line2", lb)
        wrap0_5, wrap1_5, ne5 = stage("x5_wrap0"), stage("x5_wrap1"), stage("x5_ne_last")
        prev_last_next = Mux(v5 & nz5, last5, prev_last)
        m.d.sync += [
            v5.eq(v4 & ~arm), a5.eq(a4),
            line5_b.eq(self.spmat_base + line_lo), line5_1b.eq(self.spmat_base + line_lo1),
            line5_2b.eq(self.spmat_base + line_lo2),
            wrap0_5.eq(line_lo1 != line_lo), wrap1_5.eq(line_lo2 != line_lo1), ne5.eq(line_lo != prev_last_next),
            slot5.eq(slot_lo), slot5_2.eq(slot_lo2), last5.eq(line_hm1),
            lm1_5.eq(len4 - 1), nz5.eq(len4 != 0), one5.eq(len4 == 1), two5.eq(len4 == 2), ge3_5.eq(len4 >= 3),
            ge4_5.eq(len4 >= 4),
        ]

        newline = nz5 & (~have | ne5)
        with m.If(arm):
            m.d.sync += have.eq(0)
        with m.Elif(v5 & nz5):
            m.d.sync += [have.eq(1), prev_last.eq(last5)]
        d = self.desc.data
        m.d.comb += [
            self.desc.valid.eq(v5),
            d.line0.eq(line5_b), d.line1.eq(line5_1b),
            d.line2.eq(line5_2b), d.slot0.eq(slot5), d.slot2.eq(slot5_2),
            d.wrap0.eq(wrap0_5), d.wrap1.eq(wrap1_5),
            d.lm1.eq(lm1_5), d.a.eq(a5), d.z.eq(~nz5), d.one.eq(one5), d.two.eq(two5), d.ge3.eq(ge3_5),
            d.ge4.eq(ge4_5), d.newline.eq(newline),
        ]
        return m

    def _banks(self, m, even_addr, odd_addr, en):
        """The two pointer banks: read at ``even_addr``/``odd_addr`` when ``en`` while
        ``pf_active``, else at ``h_addr``; written by the host.  Returns their data (two
        cycles after the address)."""
        hw = self._hw
        pb = hw.config.ptr_bits
        pf_active = self.ctl.pf_active
        m.submodules.even = even = SyncBRAM(width=pb, depth=hw.ptr_words, init=self._init_even, vendor=hw.vendor)
        m.submodules.odd = odd = SyncBRAM(width=pb, depth=hw.ptr_words, init=self._init_odd, vendor=hw.vendor)
        m.d.comb += [
            even.w_addr.eq(self.h_addr), even.w_data.eq(self.h_wdata), even.w_en.eq(self.h_we_even),
            odd.w_addr.eq(self.h_addr), odd.w_data.eq(self.h_wdata), odd.w_en.eq(self.h_we_odd),
            self.h_even.eq(even.r_data), self.h_odd.eq(odd.r_data),
            even.r_addr.eq(Mux(pf_active, even_addr, self.h_addr)),
            odd.r_addr.eq(Mux(pf_active, odd_addr, self.h_addr)),
            even.r_en.eq(Mux(pf_active, en, 1)),
            odd.r_en.eq(Mux(pf_active, en, 1)),
        ]
        return even.r_data, odd.r_data


class Issue(wiring.Component):
    """The contract's pop / issue state machine, plus the line-memory look-ahead.

    The registers describe the entry issued in this cycle (``entry.*``).  ``spec_line`` /
    ``spec_ce`` are the line memory's read for the *next* cycle, i.e. the line of the entry
    issued in the cycle after (registered in the memory, one copy per block RAM, see
    :mod:`.spmat_read`).  That entry is known now except in one case: when the PE will be
    ready next cycle, the entry is the head column's first if the column is popped then,
    which depends on a broadcast not yet seen.  The read is then made speculatively for the
    head column — and only if its ``newline`` flag says its first line will be read anyway,
    so a read that turns out early leaves in the memory's output register exactly the line
    that entry will need, and no other entry is issued in between.  ``ev_line`` counts the
    contract's line reads (an entry whose line differs from the last one read), not the
    speculative ones.

    Members
    -------
    ctl : In(PassControl)  ``start`` (cycle −1) resets the state; ``running``.
    queue : In(QueueIssue)  the activation queue's head; ``pop`` (Out here) is the contract's
                        pop; ``ready`` (Out here) a second register of "ready" (nothing
                        issued, or the column's last entry issued, in this cycle) for the
                        queue's own copy of the pop decision.
    entry : Out(IssueEntry)  registered: the entry issued in this cycle; the look-ahead
                        ``spec_line``/``spec_ce`` (see above).
    issue_next : Out(1) an entry is issued in the next cycle.
    ev_empty, ev_line : Out(1)  statistics strobes (an empty column popped; a line read).

    ``fault`` (sticky): a column was popped whose descriptor was not in the FIFO in the
    previous cycle (the look-ahead needs it; ``LEAD`` guarantees it).
    """

    def __init__(self, hw: HWConfig):
        self._hw = hw
        super().__init__({
            "ctl": In(PassControl()),
            "queue": In(QueueIssue(hw)),
            "entry": Out(IssueEntry(hw)),
            "issue_next": Out(1),
            "ev_empty": Out(1),
            "ev_line": Out(1),
            "fault": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        hw = self._hw
        c = hw.config
        epl = c.entries_per_line
        q = self.queue
        h, nx = q.head, q.next
        lb = len(self.entry.spec_line)
        sb = len(self.entry.slot)

        def wrap_inc(slot):
            return Mux(slot == epl - 1, 0, slot + 1)

        # the entry issued in this cycle (step 0) and the next two of its column (steps 1, 2):
        # every value the next state or the look-ahead needs is a register or a descriptor
        # field, so no adder sits behind a multiplexer
        cur_last = Signal()                  # step 0 is its column's last
        cur_rem = Signal(c.ptr_bits)         # entries after step 0
        cur_line = Signal(lb)
        cur_slot = self.entry.slot
        l1, w1 = Signal(lb), Signal()        # step 1: line, line change from step 0
        s1 = Signal(sb)
        l2, w2, s2 = Signal(lb), Signal(), Signal(sb)   # step 2: line, line change from step 1, slot
        rem_eq1, rem_ge2, rem_ge3 = Signal(), Signal(), Signal()
        ahead_ok = Signal()

        # "ready" (nothing issued, or a column's last entry issued, in this cycle) is a
        # register of its own, so the pop is one 3-input LUT (a non-empty queue implies a
        # running pass: broadcasts only happen then and the count is cleared at start)
        ready = Signal(init=1, attrs={"keep": 1})
        cont = Signal()
        new = Signal()
        m.d.comb += [
            q.pop.eq(q.nonempty & ready),
            cont.eq(self.entry.valid & ~cur_last),
            new.eq(q.pop & ~h.z),
            self.issue_next.eq(cont | new),
            self.ev_empty.eq(q.pop & h.z),
            self.ev_line.eq(self.ctl.running & Mux(cont, w1, new & h.newline)),
        ]
        # the line read next cycle, for the entry issued the cycle after: both alternatives
        # (a pop now or not; a pop implies the current column has ended) are made from
        # registers and FIFO reads, and the pop picks one
        head_spec = h.newline & ~h.z & q.head_ok
        np_line, np_ce = Signal(lb), Signal()            # no pop in this cycle
        p_line, p_ce = Signal(lb), Signal()              # the head column is popped now
        # while no pass runs nothing is popped or continued (the queue is empty, no entry is
        # in flight), so the innermost choice also carries the host's read: the line memory's
        # address pins see one multiplexer chain, not a host multiplexer behind it
        m.d.comb += [
            np_line.eq(Mux(cont & rem_ge2, l2, Mux(self.ctl.running, h.line0, self.entry.h_line))),
            np_ce.eq(Mux(cont & rem_ge2, w2, Mux(self.ctl.running, head_spec, 1))),
            p_line.eq(Mux(h.z | h.one, nx.line0, h.line1)),
            p_ce.eq(Mux(h.z | h.one, nx.newline & ~nx.z & q.next_ok, h.wrap0)),
            self.entry.spec_line.eq(Mux(q.pop, p_line, np_line)),
            self.entry.spec_ce.eq(Mux(q.pop, p_ce, np_ce)),
        ]

        m.d.sync += ahead_ok.eq(Mux(q.pop, q.next_ok, q.head_ok))
        # a second register of "ready" for the queue's own copy of the pop decision
        ready_q = Signal(name="ready_copy_q", attrs={"keep": 1})
        m.d.comb += q.ready.eq(ready_q)
        ready_next = Signal()
        m.d.comb += [ready_next.eq(~(cont | new) | Mux(cont, rem_eq1, h.one)), q.ready_next.eq(ready_next)]
        with m.If(self.ctl.start):
            m.d.sync += [ready_q.eq(1), ready.eq(1)]
        with m.Else():
            m.d.sync += [ready_q.eq(ready_next), ready.eq(ready_next)]
        with m.If(self.ctl.start):
            m.d.sync += [self.entry.valid.eq(0), self.fault.eq(0)]
        with m.Else():
            m.d.sync += self.entry.valid.eq(cont | new)
            with m.If(q.pop & ~ahead_ok):
                m.d.sync += self.fault.eq(1)
        with m.If(cont):                     # advance one entry in the column
            w3 = s2 == epl - 1
            m.d.sync += [
                cur_line.eq(l1), cur_slot.eq(s1), cur_rem.eq(cur_rem - 1), cur_last.eq(rem_eq1),
                l1.eq(l2), w1.eq(w2), s1.eq(s2), l2.eq(l2 + w3), w2.eq(w3), s2.eq(wrap_inc(s2)),
                rem_eq1.eq(cur_rem == 2), rem_ge2.eq(rem_ge3), rem_ge3.eq(cur_rem >= 4),
                self.entry.first.eq(0),
            ]
        with m.Else():                       # the head column's first entry (if popped)
            m.d.sync += [
                cur_line.eq(h.line0), cur_slot.eq(h.slot0), cur_rem.eq(h.lm1), cur_last.eq(h.one),
                l1.eq(h.line1), w1.eq(h.wrap0), s1.eq(wrap_inc(h.slot0)), l2.eq(h.line2), w2.eq(h.wrap1),
                s2.eq(h.slot2),
                rem_eq1.eq(h.two), rem_ge2.eq(h.ge3), rem_ge3.eq(h.ge4),
                self.entry.first.eq(1), self.entry.a.eq(h.a),
            ]
        return m


def pop_ref(avail, lengths):
    """Pop cycles of [arch §5.3]: ``P_k = max(avail_k, P_{k−1} + max(L_{k−1}, 1))``.

    ``avail[k]`` is the first cycle column k is visible in the queue (``b_k + 1``).
    Returns the pop cycles and the issue cycles ``P_k+1 .. P_k+L_k`` of every entry in order.
    """
    pops, issues = [], []
    prev = None
    for k, (a, ln) in enumerate(zip(avail, lengths, strict=True)):
        p = a if prev is None else max(a, prev + max(lengths[k - 1], 1))
        pops.append(p)
        issues += [p + 1 + i for i in range(ln)]
        prev = p
    return pops, issues
