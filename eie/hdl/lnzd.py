"""LNZD tree and CCU (`lnzd`) [arch §5.1].

* :class:`LNZDNode` — one leading-non-zero-detection node of fan-in ``f``: of ``f``
  children (each: found flag, position inside the child, value) it passes up the lowest
  child that found something.
* :class:`LNZDTree` — nodes of fan-in ``lnzd_fanin`` over N positions, level by level until
  one node (the CCU's root) remains; combinational, one group per cycle.
* :class:`CCU` — the scanner (pre-scanner) and the broadcaster, with two units of its own:
  the source prefetch (:class:`~eie.hdl.src_prefetch.SrcPrefetch`) and the item FIFO
  between the two halves (:class:`~eie.hdl.ccu_items.ItemFIFO`).

The contract's scanner runs as two decoupled halves (see ``eie/hdl/README.md``, Pipelining):

**Pre-scanner** (from the ``arm`` cycle on, ``LEAD`` cycles ahead).  The sequence the
contract's scanner produces — one *item* per search: the element found, or nothing (a
*bubble*: an empty group or the rest of a group) — does not depend on stalls, only on the
activations.  The pre-scanner runs exactly the contract's search [arch §5.1] on groups
prefetched from the PEs' source banks (``GROUP_SLOTS`` slots, non-zero flags in registers),
one search per cycle with no stall, and pushes each item into a small FIFO (``ITEM_SLOTS``).
Each element is also *announced* (the registered :class:`~eie.hdl.interfaces.Announce`
bus: column j, activation a) to every PE, which prefetches that column's pointers long before it is broadcast.  Group G is the
bias group: the bias element is the last item.

**Broadcaster** (the contract's timing, cycles 0 .. c_done).  Each running cycle it takes
the FIFO head: a bubble is dropped (that cycle's search found nothing); an element is
broadcast if ``room`` is high, else it is held (the search pauses) — the contract's stall
rule.  So broadcast cycles are exactly those of the contract; ``bcast`` is a 1-bit strobe
("the next announced element is in your queue now").  ``room`` comes from two registered
flags per PE (room in the cycle after next if the next cycle's push is / is not counted,
[arch §5.2], :mod:`.act_queue`), ANDed over the PEs into two CCU registers a cycle before
they are used, and selected by the registered strobe of the previous cycle: no comparator,
no PE logic and no wire from a PE on this path.

Source prefetch (:mod:`.src_prefetch`): ``rd_en`` (registered, one copy per PE) makes every
PE read the next group of its source bank (each PE keeps its own address counter); the data
arrives ``SRC_LATENCY`` cycles later and fills a slot.  Reads are issued while slots are free.

Statistics strobes: ``ev_search`` (an item taken that is not a held element's repeat:
``groups_scanned``), ``ev_stall`` (``stall_cycles``), ``bcast`` (``broadcasts``).
``fault`` (sticky) is set if the broadcaster ever finds the FIFO empty while running — it
cannot happen with the sizes in :mod:`.params`, the tests check it.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out, connect, flipped

from .ccu_items import ItemFIFO
from .interfaces import Announce, CCULink, PassControl, original_attrs, registered_copy
from .params import ITEM_SLOTS, HWConfig, announce_groups, bits_for
from .src_prefetch import SrcPrefetch

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
    ctl : In(PassControl)  ``arm``: reset the prefetch and the pre-scanner (``groups`` and
                       ``bias_act`` must not change from here to the end); ``start`` (cycle
                       −1): reset the broadcaster; ``running``: cycles 0 .. c_done.
    arm_pf, arm_ps : In(1)  ``ctl.arm`` again, for the source prefetch and the pre-scanner:
                       in the array registers of their own (``timing_registers``; the CCU's
                       units spread across a large die, and one ``arm`` flip-flop reached
                       both); they must equal ``ctl.arm`` in every cycle.
    groups : In        G = Cp / N; group G is the bias group.
    bias_act : In      the bias activation (1.0 with ``fa`` fraction bits).
    pes : Out(CCULink)[N]  to PE p: the announce bus (registered, the same for every PE),
                       the broadcast strobe and PE p's room flags, PE p's source read.
    bcast : Out(1)     the broadcast strobe of this cycle (as on every ``pes[p].bc.strobe``).
    bias_sent : Out(1) registered: the bias element has been broadcast.
    ev_search, ev_stall : Out(1)  statistics strobes.
    fault : Out(1)     sticky: the broadcaster ran out of items (never expected).

    Units: :class:`~.src_prefetch.SrcPrefetch` (group slots), :class:`LNZDTree`, the
    pre-scanner (here), :class:`~.ccu_items.ItemFIFO`, the broadcaster (here).
    """

    def __init__(self, hw: HWConfig):
        self._hw = hw
        c = hw.config
        super().__init__({
            "ctl": In(PassControl()),
            "arm_pf": In(1),
            "arm_ps": In(1),
            "groups": In(hw.group_bits),
            "bias_act": In(signed(c.act_bits)),
            "pes": Out(CCULink(hw)).array(c.pes),
            "bcast": Out(1),
            "bias_sent": Out(1),
            "ev_search": Out(1),
            "ev_stall": Out(1),
            "fault": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        hw = self._hw
        n = hw.pes
        m.submodules.prefetch = pf = SrcPrefetch(hw)
        m.submodules.tree = tree = LNZDTree(n=n, fanin=hw.config.lnzd_fanin, value_shape=signed(hw.config.act_bits))
        m.submodules.items = items = ItemFIFO(depth=ITEM_SLOTS)
        m.d.comb += [pf.arm.eq(self.arm_pf), items.arm.eq(self.ctl.arm)]
        for p in range(n):
            connect(m, pf.src[p], flipped(self.pes[p].src))
        ann = self._prescan(m, pf, tree, items.push)
        # the announce bus's fan-out tree: one registered copy per group of PEs
        for g, group in enumerate(announce_groups(n)):
            copy = registered_copy(m, Announce(hw), ann, name=f"ann_g{g}")
            connect(m, copy, *[flipped(self.pes[p].ann) for p in group])
        self._broadcast(m, items.pop)
        return m

    def _prescan(self, m, pf, tree, push):
        """The contract's search [arch §5.1] on the head group, one per cycle while the item
        FIFO has room: each search pushes an item, and an element is also announced (the
        returned :class:`Announce`, registered)."""
        hw = self._hw
        n = hw.pes
        arm = self.arm_ps
        ann = Announce(hw).create(path=("ann",))
        ps_live = Signal()
        at_bias = Signal()
        # registers beside ps_live/at_bias so the search's end (``advance``) and the next
        # at_bias need no compare or adder: ``srch`` = ps_live & ~at_bias; ``rem`` = groups
        # after the head group (counts down); ``last1``/``last2`` = rem is 0 / 1
        srch = Signal(name="ps_search")
        rem = Signal(hw.group_bits, name="groups_left")
        last1, last2 = Signal(name="last_group"), Signal(name="last_group2")
        jbase = Signal(hw.col_bits)
        mask = Signal(n, init=(1 << n) - 1)
        elig = Signal(n)                        # head group's non-zero flags not searched yet
        active = Signal()                       # a search in this cycle
        advance = Signal()                      # ... that ends the head group
        m.d.comb += elig.eq(pf.head_nz & mask)
        m.d.comb += [tree.found[q].eq(elig[q]) for q in range(n)]
        m.d.comb += [tree.val[q].eq(pf.head_val[q]) for q in range(n)]
        low_any = elig[:n - 1].any() if n > 1 else Const(0, 1)
        m.d.comb += [
            push.valid.eq(ps_live & (at_bias | pf.head_valid)),
            push.payload.elem.eq(at_bias | tree.o_found),
            push.payload.bias.eq(at_bias),
            active.eq(push.valid & push.ready),
            advance.eq(srch & pf.head_valid & push.ready & ~low_any),     # = active & ~at_bias & ~low_any
            pf.advance.eq(advance),
            pf.live.eq(Mux(arm, 1, ps_live & ~(active & at_bias))),
        ]
        # positions above the lowest eligible one: an eligible position strictly below
        above = []
        acc = Const(0, 1)
        for q in range(n):
            above.append(acc)
            acc = acc | elig[q]
        with m.If(arm):
            m.d.sync += [ps_live.eq(1), jbase.eq(0), at_bias.eq(self.groups == 0), mask.eq((1 << n) - 1),
                         ann.valid.eq(0), srch.eq(self.groups != 0), rem.eq(self.groups - 1),
                         last1.eq(self.groups == 1), last2.eq(self.groups == 2)]
        with m.Else():
            m.d.sync += ann.valid.eq(active & push.payload.elem)
            with m.If(active):
                m.d.sync += [
                    ann.j.eq(jbase + Mux(at_bias, 0, tree.o_pos)),
                    ann.a.eq(Mux(at_bias, self.bias_act, tree.o_val)),
                ]
                with m.If(at_bias):
                    m.d.sync += ps_live.eq(0)
                with m.Elif(advance):
                    m.d.sync += [rem.eq(rem - 1), jbase.eq(jbase + n), at_bias.eq(last1), srch.eq(~last1),
                                 last1.eq(last2), last2.eq(rem == 2), mask.eq((1 << n) - 1)]
                with m.Else():
                    m.d.sync += mask.eq(Cat(*above))
        return ann

    def _broadcast(self, m, head):
        """The contract's broadcast timing on the item FIFO's ``head``: a bubble costs its
        cycle; an element is broadcast when every queue has room, else held (a stall)."""
        ctl = self.ctl
        push_r = Signal(attrs=original_attrs(self._hw))     # a broadcast in the previous cycle
        held = Signal()
        room = Signal()
        # every PE's flags of cycle c say whether its queue has room at the start of c+1 with /
        # without the push of c; their AND is registered here (the gather is a cycle of its
        # own) and picked in c+1 by push_r.  In cycle 0 every queue is empty (start sets both).
        all_push = Cat(*[link.bc.room_push for link in self.pes]).all()
        all_nopush = Cat(*[link.bc.room_nopush for link in self.pes]).all()

        def room_regs(suffix, attrs):
            regs = (Signal(name=f"room_all_push{suffix}", init=1, attrs=attrs),
                    Signal(name=f"room_all_nopush{suffix}", init=1, attrs=attrs))
            m.d.sync += [regs[0].eq(ctl.start | all_push), regs[1].eq(ctl.start | all_nopush)]
            return regs

        room_push, room_nopush = room_regs("", original_attrs(self._hw))
        m.d.comb += room.eq(Mux(push_r, room_push, room_nopush))
        # the item FIFO's pop has its own copies of push_r and of the room registers, and so
        # of room: the broadcast strobe (to every queue, the counters, push_r) and the FIFO's
        # slots are two loads of a signal that comes late in the cycle (timing_registers only)
        if self._hw.timing_registers:
            push_r_fifo = Signal(name="push_r_fifo", attrs={"keep": 1})
            room_fifo = Signal(name="room_fifo")
            m.d.comb += room_fifo.eq(Mux(push_r_fifo, *room_regs("_fifo", {"keep": 1})))
        else:
            push_r_fifo, room_fifo = push_r, room
        # live = running & ~bias_sent, as a register of its own near the broadcaster (``running``
        # is the top's, fanned out to everything): within a pass running(t) = start(t−1) |
        # running(t−1) for as long as the bias has not been sent (done needs it sent)
        live = Signal()
        bias_next = Signal()
        m.d.comb += bias_next.eq(Mux(ctl.start, 0, self.bias_sent | (self.bcast & head.payload.bias)))
        m.d.sync += live.eq((ctl.start | ctl.running) & ~bias_next)
        elem = head.payload.elem
        m.d.comb += [
            self.bcast.eq(live & head.valid & elem & room),
            head.ready.eq(live & (~elem | room_fifo)),
            self.ev_stall.eq(live & head.valid & elem & ~room),
            self.ev_search.eq(live & head.valid & ~held),
        ]
        m.d.comb += [link.bc.strobe.eq(self.bcast) for link in self.pes]
        m.d.sync += self.bias_sent.eq(bias_next)
        with m.If(ctl.start):
            m.d.sync += [push_r.eq(0), held.eq(0)]
        with m.Else():
            m.d.sync += [push_r.eq(self.bcast), held.eq(self.ev_stall)]
        if push_r_fifo is not push_r:
            m.d.sync += push_r_fifo.eq(Mux(ctl.start, 0, self.bcast))
        with m.If(ctl.arm):
            m.d.sync += self.fault.eq(0)
        with m.Elif(live & ~head.valid):
            m.d.sync += self.fault.eq(1)


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
