"""Pointer read (`ptr_read`): even/odd pointer banks, pop and entry issue [arch §3, §5.3].

Storage [arch §3]: even bank word m holds ``p_{2m}``, odd bank word m holds ``p_{2m+1}``.
For column j the two pointers ``p_j`` and ``p_{j+1}`` are in different banks:
even bank address ``(j+1) >> 1``, odd bank address ``j >> 1``; ``p_j`` is the even word for
even j and the odd word for odd j.

Timing [arch §5.3]
------------------
* Cycle P (pop): the queue head ``(j, a)`` is taken when the queue is not empty and the
  PE is *ready*; both banks are read (registered read: the pointers are at the bank
  outputs in cycle P+1).
* Cycle P+1: ``L = p_{j+1} − p_j``.  Entries ``p_j .. p_{j+1}−1`` are issued in cycles
  P+1 .. P+L, one per cycle (``issue_valid``, ``issue_e``, ``issue_first`` for the first
  entry of the column, ``issue_a`` the column's activation).
* Ready in cycle c: nothing is issued in c, or the entry issued in c is the column's
  last.  So an empty column popped in P lets the next pop happen in P+1, and a column of
  L ≥ 1 entries lets it happen in P+L:  ``P_k = max(b_k + 1, P_{k−1} + max(L_{k−1}, 1))``.
  In P+1 "ready" depends on the bank outputs (a comparator after the BRAM read): this is
  the contract's timing, and the longest path of the PE front end.

Strobes: ``ev_pop`` (= pointer-pair read), ``ev_empty`` (an empty column, in P+1).
Host port: ``h_addr``/``h_wdata``/``h_we_even``/``h_we_odd`` write the banks at any time;
when not ``running`` both banks read ``h_addr`` (``h_even``/``h_odd``, one cycle later).
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .act_queue import queue_entry_layout
from .params import HWConfig

__all__ = ["PtrRead", "pop_ref"]


class PtrRead(wiring.Component):
    """Even/odd pointer banks of one PE plus the pop/issue state machine."""

    def __init__(self, hw: HWConfig, *, init_even=(), init_odd=()):
        self._hw = hw
        self._init_even, self._init_odd = list(init_even), list(init_odd)
        for name, init in (("init_even", self._init_even), ("init_odd", self._init_odd)):
            if len(init) > hw.ptr_words:
                raise ValueError(f"{name} must have at most ptr_words={hw.ptr_words} words, not {len(init)}")
        c = hw.config
        super().__init__({
            "start": In(1),
            "running": In(1),
            "col": In(stream.Signature(queue_entry_layout(hw))),
            "issue_valid": Out(1),
            "issue_e": Out(c.ptr_bits),
            "issue_first": Out(1),
            "issue_a": Out(signed(c.act_bits)),
            "issuing": Out(1),
            "ev_pop": Out(1),
            "ev_empty": Out(1),
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
        pb = hw.config.ptr_bits
        m.submodules.even = even = Memory(shape=unsigned(pb), depth=hw.ptr_words, init=self._init_even)
        m.submodules.odd = odd = Memory(shape=unsigned(pb), depth=hw.ptr_words, init=self._init_odd)
        even_w, odd_w = even.write_port(), odd.write_port()
        even_r, odd_r = even.read_port(), odd.read_port()
        m.d.comb += [
            even_w.addr.eq(self.h_addr), even_w.data.eq(self.h_wdata), even_w.en.eq(self.h_we_even),
            odd_w.addr.eq(self.h_addr), odd_w.data.eq(self.h_wdata), odd_w.en.eq(self.h_we_odd),
            self.h_even.eq(even_r.data), self.h_odd.eq(odd_r.data),
        ]

        first = Signal()              # a column was popped last cycle: pointers at the bank outputs
        odd_col = Signal()            # parity of that column's j
        col_a = Signal(signed(hw.config.act_bits))
        cur = Signal(pb)              # next entry to issue (after the first cycle)
        end = Signal(pb)              # p_{j+1}

        lo = Mux(odd_col, odd_r.data, even_r.data)     # p_j
        hi = Mux(odd_col, even_r.data, odd_r.data)     # p_{j+1}
        e_now = Signal(pb)
        end_now = Signal(pb)
        m.d.comb += [
            e_now.eq(Mux(first, lo, cur)),
            end_now.eq(Mux(first, hi, end)),
            self.issuing.eq(e_now < end_now),
        ]
        last = self.issuing & (e_now + 1 == end_now)
        ready = ~self.issuing | last
        pop = self.col.valid & ready
        j = self.col.payload.j
        m.d.comb += [
            self.col.ready.eq(ready),
            even_r.addr.eq(Mux(self.running, (j + 1) >> 1, self.h_addr)),
            odd_r.addr.eq(Mux(self.running, j >> 1, self.h_addr)),
            self.issue_valid.eq(self.issuing),
            self.issue_e.eq(e_now),
            self.issue_first.eq(first),
            self.issue_a.eq(col_a),
            self.ev_pop.eq(pop),
            self.ev_empty.eq(first & ~self.issuing),
        ]
        with m.If(self.start):
            m.d.sync += [first.eq(0), cur.eq(0), end.eq(0)]
        with m.Else():
            m.d.sync += first.eq(pop)
            with m.If(pop):
                m.d.sync += [odd_col.eq(j[0]), col_a.eq(self.col.payload.a)]
            with m.If(first | self.issuing):
                m.d.sync += [cur.eq(e_now + self.issuing), end.eq(end_now)]
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
