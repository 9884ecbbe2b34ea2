"""LNZD tree and CCU scanner (`lnzd`) [arch §5.1].

* :class:`LNZDNode` — one leading-non-zero-detection node of fan-in ``f``: of ``f``
  children (each: found flag, position inside the child, value) it passes up the lowest
  child that found something.
* :class:`LNZDTree` — nodes of fan-in ``lnzd_fanin`` over N positions, level by level until
  one node (the CCU's root) remains; combinational, one group per cycle.
* :class:`CCU` — the scanner state machine: ``(g, q_last)`` plus the bias group, the stall
  and the broadcast.

CCU timing (cycle numbers as in the contract; ``start`` is in cycle −1)
-----------------------------------------------------------------------
* ``src_addr`` is the group the CCU will search in the *next* cycle (``g`` after this
  cycle's update; 0 in the start cycle).  The PEs' source banks register it, so the
  activations of group g are at ``acts`` in the cycle that searches g.
* In a cycle that searches group g with ``q_from = q_last + 1``: eligible positions are
  ``q >= q_from`` with a non-zero activation; the lowest one is found.  Group ``G``
  (``groups``) is the bias group: position 0 with value ``bias_act`` is always found.
* Found and every PE has ``room`` (registered, [arch §5.2]): broadcast this cycle
  (``bcast.valid``); the state becomes ``(g+1, 0)`` if ``q = N−1`` else ``(g, q+1)``.
  Found and some PE is full: stall.  The state is left as it is, so the next cycle finds
  the same element again: this is the contract's *held* element (the source banks do not
  change during a pass), and ``held`` marks such a repeat so that it is not counted as a
  search.
* Nothing found: the state becomes ``(g+1, 0)``.
* After the bias element is broadcast (``bias_sent``) the CCU stops.

Statistics strobes: ``ev_search`` (an LNZD search that is not a repeat of a held element:
``groups_scanned``), ``ev_stall`` (an element waits: ``stall_cycles = Σ b_k − f_k``),
``bcast.valid`` (``broadcasts``).
"""

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .params import HWConfig, bits_for

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
    """Central control unit: LNZD scanner, stall and broadcast [arch §5.1].

    Members
    -------
    start : In(1)      cycle −1 of a pass: state ``(0, q_from=0)``, nothing sent.
    running : In(1)    the pass is running (cycles 0 .. c_done).
    groups : In        G = Cp / N; group G is the bias group.
    bias_act : In      the bias activation (1.0 with ``fa`` fraction bits).
    acts : In(act)[N]  activations of the searched group (from the PEs' source banks).
    room : In(1)       every PE's queue has room (AND of the registered room flags).
    src_addr : Out     group to read for the next cycle.
    bcast_valid, bcast_j, bcast_a : Out   the broadcast of this cycle.
    bias_sent : Out(1) registered: the bias element has been broadcast.
    ev_search, ev_stall : Out(1)  statistics strobes.
    """

    def __init__(self, hw: HWConfig):
        self._hw = hw
        c = hw.config
        super().__init__({
            "start": In(1),
            "running": In(1),
            "groups": In(hw.group_bits),
            "bias_act": In(signed(c.act_bits)),
            "acts": In(signed(c.act_bits)).array(c.pes),
            "room": In(1),
            "src_addr": Out(hw.group_bits),
            "bcast_valid": Out(1),
            "bcast_j": Out(hw.col_bits),
            "bcast_a": Out(signed(c.act_bits)),
            "bias_sent": Out(1),
            "ev_search": Out(1),
            "ev_stall": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        hw = self._hw
        n = hw.pes
        m.submodules.tree = tree = LNZDTree(n=n, fanin=hw.config.lnzd_fanin, value_shape=signed(hw.config.act_bits))

        g = Signal(hw.group_bits)
        q_from = Signal(hw.pos_bits)          # q_last + 1
        jbase = Signal(hw.col_bits)           # g·N, kept incrementally (no multiplier)
        held = Signal()                       # this cycle repeats a stalled find
        g_next = Signal(hw.group_bits)

        for q in range(n):
            m.d.comb += [
                tree.found[q].eq((self.acts[q] != 0) & (q_from <= q)),
                tree.val[q].eq(self.acts[q]),
            ]
        is_bias = g == self.groups
        found = Signal()
        q = Signal(range(n) if n > 1 else unsigned(1))
        a = Signal(signed(hw.config.act_bits))
        m.d.comb += [
            found.eq(is_bias | tree.o_found),
            q.eq(Mux(is_bias, 0, tree.o_pos)),
            a.eq(Mux(is_bias, self.bias_act, tree.o_val)),
        ]
        search = self.running & ~self.bias_sent
        m.d.comb += [
            self.bcast_valid.eq(search & found & self.room),
            self.bcast_j.eq(jbase + q),
            self.bcast_a.eq(a),
            self.ev_search.eq(search & ~held),
            self.ev_stall.eq(search & found & ~self.room),
            g_next.eq(g),
            self.src_addr.eq(g_next),
        ]
        next_group = Signal()
        with m.If(self.start):
            m.d.comb += g_next.eq(0)
            m.d.sync += [g.eq(0), q_from.eq(0), jbase.eq(0), self.bias_sent.eq(0), held.eq(0)]
        with m.Elif(search):
            with m.If(found & ~self.room):
                m.d.sync += held.eq(1)
            with m.Elif(found):
                m.d.sync += held.eq(0)
                with m.If(is_bias):
                    m.d.sync += self.bias_sent.eq(1)
                with m.If(q == n - 1):
                    m.d.comb += next_group.eq(1)
                with m.Else():
                    m.d.sync += q_from.eq(q + 1)
            with m.Else():
                m.d.sync += held.eq(0)
                m.d.comb += next_group.eq(1)
        with m.If(next_group):
            m.d.comb += g_next.eq(g + 1)
            m.d.sync += [g.eq(g + 1), q_from.eq(0), jbase.eq(jbase + n)]
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
