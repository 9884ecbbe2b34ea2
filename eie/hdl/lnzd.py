"""LNZD tree and CCU (`lnzd`) [arch §5.1].

* :class:`LNZDNode` — one leading-non-zero-detection node of fan-in ``f``: of ``f``
  children (each: found flag, position inside the child, value) it passes up the lowest
  child that found something.
* :class:`LNZDTree` — nodes of fan-in ``lnzd_fanin`` over N positions, level by level until
  one node (the CCU's root) remains; combinational, one group per cycle.
* :class:`CCU` — source prefetch, the scanner (pre-scanner) and the broadcaster.

The contract's scanner runs as two decoupled halves (see ``eie/hdl/README.md``, Pipelining):

**Pre-scanner** (from the ``arm`` cycle on, ``LEAD`` cycles ahead).  The sequence the
contract's scanner produces — one *item* per search: the element found, or nothing (a
*bubble*: an empty group or the rest of a group) — does not depend on stalls, only on the
activations.  The pre-scanner runs exactly the contract's search [arch §5.1] on groups
prefetched from the PEs' source banks (``GROUP_SLOTS`` slots, non-zero flags in registers),
one search per cycle with no stall, and pushes each item into a small FIFO (``ITEM_SLOTS``).
Each element is also *announced* (registered ``ann_*``: column j, activation a) to every
PE, which prefetches that column's pointers long before it is broadcast.  Group G is the
bias group: the bias element is the last item.

**Broadcaster** (the contract's timing, cycles 0 .. c_done).  Each running cycle it takes
the FIFO head: a bubble is dropped (that cycle's search found nothing); an element is
broadcast if ``room`` is high, else it is held (the search pauses) — the contract's stall
rule.  So broadcast cycles are exactly those of the contract; ``bcast`` is a 1-bit strobe
("the next announced element is in your queue now").  ``room`` comes from two registered
flags per PE (room if this cycle's push is / is not counted, [arch §5.2]) selected by the
registered strobe of the previous cycle: no comparator and no PE logic on this path.

Source prefetch: ``rd_en`` (registered, one copy per PE) makes every PE read the next group
of its source bank (each PE keeps its own address counter); the data (``src_data``) arrives
``SRC_LATENCY`` cycles later and fills a slot.  Reads are issued while slots are free.

Statistics strobes: ``ev_search`` (an item taken that is not a held element's repeat:
``groups_scanned``), ``ev_stall`` (``stall_cycles``), ``bcast`` (``broadcasts``).
``fault`` (sticky) is set if the broadcaster ever finds the FIFO empty while running — it
cannot happen with the sizes in :mod:`.params`, the tests check it.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .params import GROUP_SLOTS, ITEM_SLOTS, SRC_LATENCY, HWConfig, bits_for

__all__ = ["LNZDNode", "LNZDTree", "CCU", "lnzd_levels", "scan_ref"]


def lnzd_levels(n: int, fanin: int) -> list[int]:
    """Node count of each tree level, leaves first (``Σ = EIEConfig.lnzd_nodes``)."""
    levels = []
    while True:
        n = -(-n // fanin)
        levels.append(n)
        if n == 1:
            return levels


class LNZDNode(wiring.Component):
    """A leading-non-zero-detection node: the lowest of ``fanin`` children that found one.

    Child k covers positions ``k·span .. k·span+span−1``; the output position is
    ``k·span + pos[k]`` of the lowest k with ``found[k]``.  Combinational.
    """

    def __init__(self, *, fanin: int, span: int, pos_bits: int, value_shape):
        if not isinstance(fanin, int) or fanin < 1:
            raise ValueError(f"fanin must be a positive integer, not {fanin!r}")
        self._fanin, self._span = fanin, span
        self._out_bits = bits_for(fanin * span - 1)
        super().__init__({
            "found": In(1).array(fanin),
            "pos": In(max(0, pos_bits)).array(fanin),
            "val": In(value_shape).array(fanin),
            "o_found": Out(1),
            "o_pos": Out(self._out_bits),
            "o_val": Out(value_shape),
        })

    def elaborate(self, platform):
        m = Module()
        # highest-numbered child first so that the lowest found child wins
        for k in reversed(range(self._fanin)):
            with m.If(self.found[k]):
                m.d.comb += [
                    self.o_pos.eq(self.pos[k] + k * self._span),
                    self.o_val.eq(self.val[k]),
                ]
        m.d.comb += self.o_found.eq(Const(0, 1) if not self._fanin else
                                    _any(self.found))
        return m


def _any(signals):
    out = signals[0]
    for s in signals[1:]:
        out = out | s
    return out


class LNZDTree(wiring.Component):
    """LNZD over ``n`` positions with nodes of fan-in ``fanin`` (combinational).

    ``found[q]``/``val[q]`` per position; ``o_found``, ``o_pos`` (lowest q) and its ``o_val``.
    """

    def __init__(self, *, n: int, fanin: int, value_shape):
        self._n, self._fanin, self._shape = n, fanin, value_shape
        super().__init__({
            "found": In(1).array(n),
            "val": In(value_shape).array(n),
            "o_found": Out(1),
            "o_pos": Out(bits_for(max(0, n - 1))),
            "o_val": Out(value_shape),
        })

    def elaborate(self, platform):
        m = Module()
        f = self._fanin
        # current level: list of (found, pos, val, span)
        level = [(self.found[q], None, self.val[q]) for q in range(self._n)]
        span = 1
        depth = 0
        while True:
            nxt = []
            for i in range(0, len(level), f):
                kids = level[i:i + f]
                node = LNZDNode(fanin=len(kids), span=span, pos_bits=bits_for(span - 1) if span > 1 else 0,
                                value_shape=self._shape)
                m.submodules[f"node_l{depth}_{i // f}"] = node
                for k, (fd, pos, val) in enumerate(kids):
                    m.d.comb += [node.found[k].eq(fd), node.val[k].eq(val)]
                    if pos is not None:
                        m.d.comb += node.pos[k].eq(pos)
                nxt.append((node.o_found, node.o_pos, node.o_val))
            level = nxt
            span *= f
            depth += 1
            if len(level) == 1:
                break
        fd, pos, val = level[0]
        m.d.comb += [self.o_found.eq(fd), self.o_pos.eq(pos), self.o_val.eq(val)]
        return m


class CCU(wiring.Component):
    """Central control unit: source prefetch, pre-scanner, broadcaster [arch §5.1].

    Members
    -------
    arm : In(1)        the pass's first pre-roll cycle: reset the prefetch and the pre-scanner
                       (``groups`` and ``bias_act`` must not change from here to the end).
    start : In(1)      cycle −1: reset the broadcaster.
    running : In(1)    cycles 0 .. c_done.
    groups : In        G = Cp / N; group G is the bias group.
    bias_act : In      the bias activation (1.0 with ``fa`` fraction bits).
    rd_en : Out(1)[N]  registered copies: PE p reads the next group of its source bank.
    src_data : In(act)[N]  PE p's source word, ``SRC_LATENCY`` cycles after ``rd_en``.
    room_push, room_nopush : In(1)[N]  PE p's registered room flags [arch §5.2].
    ann_valid, ann_j, ann_a : Out  registered: the next element in scan order.
    bcast : Out(1)     the broadcast strobe of this cycle.
    bias_sent : Out(1) registered: the bias element has been broadcast.
    ev_search, ev_stall : Out(1)  statistics strobes.
    fault : Out(1)     sticky: the broadcaster ran out of items (never expected).
    """

    def __init__(self, hw: HWConfig):
        self._hw = hw
        c = hw.config
        n = c.pes
        super().__init__({
            "arm": In(1),
            "start": In(1),
            "running": In(1),
            "groups": In(hw.group_bits),
            "bias_act": In(signed(c.act_bits)),
            "rd_en": Out(1).array(n),
            "src_data": In(signed(c.act_bits)).array(n),
            "room_push": In(1).array(n),
            "room_nopush": In(1).array(n),
            "ann_valid": Out(1),
            "ann_j": Out(hw.col_bits),
            "ann_a": Out(signed(c.act_bits)),
            "bcast": Out(1),
            "bias_sent": Out(1),
            "ev_search": Out(1),
            "ev_stall": Out(1),
            "fault": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        hw = self._hw
        c = hw.config
        n = hw.pes
        ab = c.act_bits
        slots = GROUP_SLOTS
        sb = (slots - 1).bit_length()
        m.submodules.tree = tree = LNZDTree(n=n, fanin=c.lnzd_fanin, value_shape=signed(ab))

        # ---- source prefetch: read requests and the group slots ---------------------------
        alloc = Signal(range(slots + 1))        # slots requested and not yet consumed
        rd = Signal()                           # master copy of rd_en
        inflight = [Signal(name=f"rd_d{i}") for i in range(1, SRC_LATENCY + 1)]
        consume_r = Signal()
        wp = Signal(sb)
        hp = Signal(sb)
        fill = Signal(range(slots + 1))         # filled slots
        h_valid = Signal()                      # registered fill != 0
        nz = Array(Signal(n, name=f"nz{i}") for i in range(slots))
        vals = Memory(shape=len(Cat(*self.src_data)), depth=slots, init=[])
        m.submodules.vals = vals
        vw, vr = vals.write_port(), vals.read_port(domain="comb")
        cap = inflight[-1]
        m.d.comb += [
            vw.addr.eq(wp), vw.data.eq(Cat(*self.src_data)), vw.en.eq(cap),
            vr.addr.eq(hp),
        ]
        new_nz = Signal(n)
        m.d.comb += new_nz.eq(Cat(*[d != 0 for d in self.src_data]))
        with m.If(cap & ~self.arm):
            m.d.sync += [nz[wp].eq(new_nz), wp.eq(wp + 1)]

        # ---- pre-scanner --------------------------------------------------------------------
        ps_live = Signal()
        items_full = Signal()
        at_bias = Signal()
        g = Signal(hw.group_bits)
        jbase = Signal(hw.col_bits)
        mask = Signal(n, init=(1 << n) - 1)
        head_nz = Signal(n)
        elig = Signal(n)
        # head_nz: the non-zero flags of slot hp, a register of its own (not an 8:1 multiplexer
        # behind hp): loaded with slot hp+1's flags when the search advances, and with the
        # arriving group's flags when that group lands in the head slot
        hp1 = Signal(sb)                        # hp + 1, a register
        m.d.comb += elig.eq(head_nz & mask)
        cap_hp = Signal()
        cap_hp1 = Signal()
        m.d.comb += [cap_hp.eq(cap & (wp == hp)), cap_hp1.eq(cap & (wp == hp1))]
        for q in range(n):
            m.d.comb += [tree.found[q].eq(elig[q]), tree.val[q].eq(vr.data[q * ab:(q + 1) * ab])]
        active = Signal()
        advance = Signal()
        item_elem = Signal()
        low_any = elig[:n - 1].any() if n > 1 else Const(0, 1)
        m.d.comb += [
            active.eq(ps_live & ~items_full & (at_bias | h_valid)),
            item_elem.eq(at_bias | tree.o_found),
            advance.eq(active & ~at_bias & ~low_any),
        ]
        with m.If(self.arm):
            m.d.sync += hp1.eq(1 % slots)
        with m.Elif(advance):
            m.d.sync += [hp1.eq(hp1 + 1), head_nz.eq(Mux(cap_hp1, new_nz, nz[hp1]))]
        with m.Elif(cap_hp):
            m.d.sync += head_nz.eq(new_nz)
        # positions above the lowest eligible one: an eligible position strictly below
        above = []
        acc = Const(0, 1)
        for q in range(n):
            above.append(acc)
            acc = acc | elig[q]
        last_group = Signal()
        m.d.comb += last_group.eq(g + 1 == self.groups)

        with m.If(self.arm):
            m.d.sync += [ps_live.eq(1), g.eq(0), jbase.eq(0), at_bias.eq(self.groups == 0), mask.eq((1 << n) - 1),
                         hp.eq(0), wp.eq(0), consume_r.eq(0),
                         self.ann_valid.eq(0)]
        with m.Else():
            m.d.sync += [consume_r.eq(advance), self.ann_valid.eq(active & item_elem)]
            with m.If(active):
                m.d.sync += [
                    self.ann_j.eq(jbase + Mux(at_bias, 0, tree.o_pos)),
                    self.ann_a.eq(Mux(at_bias, self.bias_act, tree.o_val)),
                ]
                with m.If(at_bias):
                    m.d.sync += ps_live.eq(0)
                with m.Elif(advance):
                    m.d.sync += [hp.eq(hp + 1), g.eq(g + 1), jbase.eq(jbase + n), at_bias.eq(last_group),
                                 mask.eq((1 << n) - 1)]
                with m.Else():
                    m.d.sync += mask.eq(Cat(*above))

        # request / fill bookkeeping (consumption is seen one cycle late by the requests)
        alloc_next = Signal.like(alloc)
        fill_next = Signal.like(fill)
        ps_live_next = Signal()
        m.d.comb += [
            ps_live_next.eq(Mux(self.arm, 1, ps_live & ~(active & at_bias))),
            alloc_next.eq(Mux(self.arm, 0, alloc + rd - consume_r)),
            fill_next.eq(Mux(self.arm, 0, fill + cap - advance)),
        ]
        rd_next = Signal()
        m.d.comb += rd_next.eq(ps_live_next & (alloc_next < slots))
        m.d.sync += [alloc.eq(alloc_next), fill.eq(fill_next), h_valid.eq(fill_next != 0), rd.eq(rd_next)]
        prev = rd
        for s in inflight:
            m.d.sync += s.eq(Mux(self.arm, 0, prev))
            prev = s
        for p in range(n):
            copy = Signal(name=f"rd_en_{p}", attrs={"keep": 1})
            m.d.sync += copy.eq(rd_next)
            m.d.comb += self.rd_en[p].eq(copy)

        # ---- item FIFO (collapsing: the head is slot 0, registered) ---------------------------
        F = ITEM_SLOTS
        iv = [Signal(name=f"item_v{i}") for i in range(F)]
        ie = [Signal(name=f"item_e{i}") for i in range(F)]
        ib = [Signal(name=f"item_b{i}") for i in range(F)]
        occ = Signal(range(F + 1))
        pop_item = Signal()
        push_item = Signal()
        m.d.comb += push_item.eq(active)
        occ_next = Signal.like(occ)
        m.d.comb += occ_next.eq(occ + push_item - pop_item)
        with m.If(self.arm):
            m.d.sync += [occ.eq(0), items_full.eq(0)] + [v.eq(0) for v in iv]
        with m.Else():
            m.d.sync += [occ.eq(occ_next), items_full.eq(occ_next == F)]
            for i in range(F):
                nv = Mux(pop_item, iv[i + 1] if i + 1 < F else 0, iv[i])
                ne = Mux(pop_item, ie[i + 1] if i + 1 < F else 0, ie[i])
                nb = Mux(pop_item, ib[i + 1] if i + 1 < F else 0, ib[i])
                # the valid bits are a thermometer code (slots 0 .. occ−1), so "the push lands in
                # slot i" (target == i) is "slot i is the last full one" after a pop and "the
                # first empty one" without: both from registers, the late pop only picks one
                last_full = iv[i] & ~iv[i + 1] if i + 1 < F else iv[i]
                first_empty = ~iv[i] & iv[i - 1] if i > 0 else ~iv[i]
                with m.If(push_item & Mux(pop_item, last_full, first_empty)):
                    m.d.sync += [iv[i].eq(1), ie[i].eq(item_elem), ib[i].eq(at_bias)]
                with m.Else():
                    m.d.sync += [iv[i].eq(nv), ie[i].eq(ne), ib[i].eq(nb)]

        # ---- broadcaster (contract timing) ---------------------------------------------------
        push_r = Signal()
        held = Signal()
        room = Signal()
        m.d.comb += room.eq(Mux(push_r, Cat(*self.room_push).all(), Cat(*self.room_nopush).all()))
        # live = running & ~bias_sent, as a register of its own near the broadcaster (``running``
        # is the top's, fanned out to everything): within a pass running(t) = start(t−1) |
        # running(t−1) for as long as the bias has not been sent (done needs it sent)
        live = Signal()
        bias_next = Signal()
        m.d.comb += bias_next.eq(Mux(self.start, 0, self.bias_sent | (self.bcast & ib[0])))
        m.d.sync += live.eq((self.start | self.running) & ~bias_next)
        m.d.comb += [
            self.bcast.eq(live & iv[0] & ie[0] & room),
            pop_item.eq(live & iv[0] & (~ie[0] | room)),
            self.ev_stall.eq(live & iv[0] & ie[0] & ~room),
            self.ev_search.eq(live & iv[0] & ~held),
        ]
        m.d.sync += self.bias_sent.eq(bias_next)
        with m.If(self.start):
            m.d.sync += [push_r.eq(0), held.eq(0)]
        with m.Else():
            m.d.sync += [push_r.eq(self.bcast), held.eq(self.ev_stall)]
        with m.If(self.arm):
            m.d.sync += self.fault.eq(0)
        with m.Elif(live & ~iv[0]):
            m.d.sync += self.fault.eq(1)
        return m


def scan_ref(acts, n: int, groups: int, bias_act: int, room=lambda c: True, max_cycles: int = 1_000_000):
    """The CCU of [arch §5.1], cycle by cycle, in plain Python (the RTL's reference).

    ``acts`` holds ``groups·n`` activations (input ``g·n+q`` at index ``g·n+q``); ``room(c)``
    says whether every queue has room at the start of cycle c.  Returns
    ``(broadcasts, found, searches, stalls)``: ``broadcasts`` a list of ``(b_k, j_k, a_k)``,
    ``found`` the find cycles ``f_k``.
    """
    g, q_last, held = 0, -1, None
    out, found, searches, stalls = [], [], 0, 0
    for c in range(max_cycles):
        if held is None:
            searches += 1
            if g == groups:
                held = (g * n, bias_act, True)
                found.append(c)
            else:
                q = next((q for q in range(q_last + 1, n) if acts[g * n + q] != 0), None)
                if q is None:
                    g, q_last = g + 1, -1
                else:
                    held = (g * n + q, acts[g * n + q], False)
                    found.append(c)
                    g, q_last = (g + 1, -1) if q == n - 1 else (g, q)
        if held is not None:
            if room(c):
                out.append((c, held[0], held[1]))
                if held[2]:
                    return out, found, searches, stalls
                held = None
            else:
                stalls += 1
    raise AssertionError(f"scan_ref: no bias broadcast within {max_cycles} cycles")
