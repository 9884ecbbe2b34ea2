"""The EIE array (`top`): CCU/LNZD + N PEs + host interface [arch §5].

Pass timing (exactly the contract's, [arch §5.1-§5.7]):

* The host's ``CTRL.start`` write takes effect in cycle c1 (as every write); the next cycle
  is the pass's **arm** cycle A: the source prefetch, the pre-scanner and the PEs' pointer
  prefetch are reset and start (see :mod:`eie.hdl.lnzd` and ``eie/hdl/README.md``).
* The **pre-roll** runs ``PREROLL`` cycles; cycle ``A + PREROLL`` is the contract's cycle
  −1 (``start``): the broadcaster, the PEs' queue counts, issue state, counters and
  destination valid bits are cleared.  Cycle 0 is the next one.  The pre-roll is outside
  the pass's cycles, like cycle −1 and the write-back.
* Broadcast: the CCU's element goes to every PE's queue in the cycle it is found unless
  some PE's room flag is low [arch §5.1].
* ``done`` is high in cycle ``c_done``: the bias element was broadcast before this cycle,
  and every PE is ``idle`` [arch §5.7].  ``CYCLES`` then reads ``c_done + 1``.

Global control (arm, start, running, the prefetch-active flag) is registered once per PE
(``keep`` copies), as are the host bus fields, the announce bus and the broadcast strobe:
the fan-out to N PEs is one flip-flop per PE [FPGA-NOTES].

The host interface is described in :mod:`eie.hdl.host` (address map, protocol, driver).
Bus timing: ``addr``/``wdata``/``we``/``re`` are registered once at the top (cycle c0 →
c1) and once more per PE; a write takes effect at the end of c1; read data is on
``rdata`` with ``rvalid`` in cycle ``c0 + READ_LATENCY``.  Host accesses to PE memories
while ``busy`` are not allowed (the memories' ports belong to the datapath then).
"""

from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .lnzd import CCU
from .params import COUNTER_BITS, PREROLL, HWConfig
from .pe import PE
from .regmap import (
    CTRL_START,
    CTRL_WRITEBACK,
    GLOBAL_REGS,
    HW_VERSION,
    READ_LATENCY,
    STATUS_DONE,
    STATUS_FAULT,
    STATUS_SRC_SEL,
)

__all__ = ["EIETop", "SerialTop"]


class EIETop(wiring.Component):
    """N PEs, the CCU and the host port.

    Parameters
    ----------
    hw : HWConfig
    image : optional initial contents: ``{"pes": [per-PE init dicts, see PE], "regs": {name: value}}``
        (registers ``groups``, ``bias_act``, ``shift``, ``relu``).  :func:`eie.hdl.host.pass_image`
        makes one from a compiled layer.
    """

    def __init__(self, hw: HWConfig, *, image=None):
        if not isinstance(hw, HWConfig):
            raise TypeError(f"hw must be an HWConfig, not {type(hw).__name__}")
        self._hw = hw
        image = image or {}
        self._pe_init = list(image.get("pes", [])) or [None] * hw.pes
        if len(self._pe_init) != hw.pes:
            raise ValueError(f"image['pes'] must have one entry per PE ({hw.pes}), not {len(self._pe_init)}")
        self._reg_init = dict(image.get("regs", {}))
        unknown = set(self._reg_init) - {"groups", "bias_act", "shift", "relu"}
        if unknown:
            raise ValueError(f"image['regs'] may set groups, bias_act, shift, relu; not {sorted(unknown)!r}")
        super().__init__({
            "addr": In(hw.host_addr_bits),
            "wdata": In(hw.data_bits),
            "we": In(1),
            "re": In(1),
            "rdata": Out(hw.data_bits),
            "rvalid": Out(1),
            "busy": Out(1),
            "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        hw = self._hw
        c = hw.config
        n = hw.pes
        ob, pb = hw.offset_bits, hw.pe_bits

        # ---- bus registers ----------------------------------------------------------------
        a_q = Signal(hw.host_addr_bits)
        d_q = Signal(hw.data_bits)
        we_q, re_q = Signal(), Signal()
        m.d.sync += [a_q.eq(self.addr), d_q.eq(self.wdata), we_q.eq(self.we), re_q.eq(self.re)]
        off = a_q[:ob]
        pe_idx = a_q[ob + 3:ob + 3 + pb]
        glob = a_q[ob + 4 + pb]

        # ---- global registers ---------------------------------------------------------------
        ri = self._reg_init
        groups = Signal(hw.group_bits, init=ri.get("groups", 0))
        bias_act = Signal(signed(c.act_bits), init=ri.get("bias_act", 0))
        shift = Signal(6, init=ri.get("shift", 0))
        relu = Signal(1, init=int(bool(ri.get("relu", 0))))
        wb_base = Signal(max(1, hw.act_addr_bits))
        ptr_base = Signal(max(1, hw.ptr_addr_bits))
        spmat_base = Signal(max(1, hw.line_addr_bits))
        src_sel = Signal()
        done_flag = Signal()
        fault = Signal()
        cyc = Signal(COUNTER_BITS)
        cycles = Signal(COUNTER_BITS)
        n_bcast, n_stall, n_search = (Signal(COUNTER_BITS, name=x) for x in ("n_bcast", "n_stall", "n_search"))

        m.submodules.ccu = ccu = CCU(hw)
        pes = []
        for p in range(n):
            pe = PE(hw, init=self._pe_init[p])
            m.submodules[f"pe{p}"] = pe
            pes.append(pe)
        wb_busy = pes[0].wb_busy                 # the PEs write back in lockstep

        # ---- pass sequencer: arm → pre-roll → start (cycle −1) → running ------------------------
        arm, start, running, pf_active = Signal(), Signal(), Signal(), Signal()
        pre = Signal(range(PREROLL + 1))
        gw = we_q & glob
        busy = Signal()
        m.d.comb += [busy.eq(pf_active | wb_busy), self.busy.eq(busy)]
        arm_next, start_next, running_next, pf_next = Signal(), Signal(), Signal(), Signal()
        wb_start = Signal()
        done = Signal()
        m.d.comb += [
            arm_next.eq(gw & (off == GLOBAL_REGS["ctrl"]) & d_q[CTRL_START] & ~busy),
            wb_start.eq(gw & (off == GLOBAL_REGS["ctrl"]) & d_q[CTRL_WRITEBACK] & ~busy),
            start_next.eq(pre == 1),
            running_next.eq(start | (running & ~done)),
            pf_next.eq(arm_next | (pf_active & ~(running & done))),
        ]
        m.d.sync += [arm.eq(arm_next), start.eq(start_next), running.eq(running_next), pf_active.eq(pf_next),
                     pre.eq(Mux(arm_next, PREROLL, Mux(pre != 0, pre - 1, 0)))]
        with m.If(gw & ~busy), m.Switch(off):
            for name, sig in (("groups", groups), ("bias_act", bias_act), ("shift", shift), ("relu", relu),
                              ("wb_base", wb_base), ("src_sel", src_sel), ("ptr_base", ptr_base),
                              ("spmat_base", spmat_base)):
                with m.Case(GLOBAL_REGS[name]):
                    m.d.sync += sig.eq(d_q)

        # ---- CCU and the per-PE copies -----------------------------------------------------------
        m.d.comb += [
            ccu.arm.eq(arm), ccu.start.eq(start), ccu.running.eq(running), ccu.groups.eq(groups),
            ccu.bias_act.eq(bias_act),
        ]
        for p, pe in enumerate(pes):
            ctl = {}
            for name, nxt in (("arm", arm_next), ("start", start_next), ("running", running_next),
                              ("pf_active", pf_next)):
                ctl[name] = Signal(name=f"{name}_{p}", attrs={"keep": 1})
                m.d.sync += ctl[name].eq(nxt)
            m.d.comb += [
                ccu.src_data[p].eq(pe.src_data), ccu.room_push[p].eq(pe.room_push),
                ccu.room_nopush[p].eq(pe.room_nopush),
                pe.arm.eq(ctl["arm"]), pe.start.eq(ctl["start"]), pe.running.eq(ctl["running"]),
                pe.pf_active.eq(ctl["pf_active"]),
                pe.src_sel.eq(src_sel), pe.relu.eq(relu), pe.shift.eq(shift),
                pe.ptr_base.eq(ptr_base), pe.spmat_base.eq(spmat_base),
                pe.wb_start.eq(wb_start), pe.wb_base.eq(wb_base),
                pe.ann_valid.eq(ccu.ann_valid), pe.ann_j.eq(ccu.ann_j), pe.ann_a.eq(ccu.ann_a),
                pe.bcast.eq(ccu.bcast), pe.rd_en.eq(ccu.rd_en[p]),
            ]

        # ---- end of pass [arch §5.7] and counters ------------------------------------------
        # c_done: bias broadcast before this cycle and every PE idle [arch §5.7].  The PEs'
        # idle flags are registers computed last cycle assuming no broadcast; that holds when
        # the bias had already been broadcast last cycle (bias_prev), which done requires
        # anyway (a bias broadcast in the previous cycle fills every queue in this one)
        bias_prev = Signal()
        m.d.sync += bias_prev.eq(ccu.bias_sent & ~start)
        m.d.comb += [done.eq(running & bias_prev & _all([pe.idle for pe in pes])), self.done.eq(done)]
        with m.If(start):
            m.d.sync += [done_flag.eq(0), cyc.eq(0), n_bcast.eq(0), n_stall.eq(0), n_search.eq(0)]
        with m.Elif(running):
            m.d.sync += [cyc.eq(cyc + 1), n_bcast.eq(n_bcast + ccu.bcast), n_stall.eq(n_stall + ccu.ev_stall),
                         n_search.eq(n_search + ccu.ev_search)]
            with m.If(done):
                m.d.sync += [done_flag.eq(1), cycles.eq(cyc + 1)]
        with m.If(arm):
            m.d.sync += fault.eq(0)
        with m.Elif(ccu.fault | _any([pe.fault for pe in pes])):
            m.d.sync += fault.eq(1)

        # ---- per-PE host bus copies -------------------------------------------------------------
        for p, pe in enumerate(pes):
            sel = Signal(name=f"h_sel_{p}", attrs={"keep": 1})
            hmem = Signal(3, name=f"h_mem_{p}", attrs={"keep": 1})
            hoff = Signal(ob, name=f"h_off_{p}", attrs={"keep": 1})
            hdat = Signal(hw.data_bits, name=f"h_wdata_{p}", attrs={"keep": 1})
            hwe = Signal(name=f"h_we_{p}", attrs={"keep": 1})
            # this PE's copy of busy (a register loaded with the next cycle's busy): the host
            # writes it gates reach every block RAM's write enable
            pbusy = Signal(name=f"busy_{p}", attrs={"keep": 1})
            m.d.sync += pbusy.eq(pf_next | pes[0].wb_busy_next)
            addr_pe = self.addr[ob + 3:ob + 3 + pb]
            m.d.sync += [
                sel.eq(~self.addr[ob + 4 + pb] & (self.addr[ob + 3 + pb] | (addr_pe == p))),
                hmem.eq(self.addr[ob:ob + 3]), hoff.eq(self.addr[:ob]), hdat.eq(self.wdata),
                hwe.eq(self.we),
            ]
            m.d.comb += [pe.h_sel.eq(sel), pe.h_mem.eq(hmem), pe.h_off.eq(hoff), pe.h_wdata.eq(hdat),
                         pe.h_we.eq(hwe & ~pbusy)]

        # ---- read path: c1 → PE (three cycles) → PE h_rdata → top rdata, valid in c0 + READ_LATENCY ---
        status = Signal(4)
        m.d.comb += status.eq(busy | (done_flag << STATUS_DONE) | (src_sel << STATUS_SRC_SEL)
                                | (fault << STATUS_FAULT))   # busy is bit STATUS_BUSY = 0
        gregs = {"status": status, "groups": groups, "bias_act": bias_act, "shift": shift, "relu": relu,
                 "wb_base": wb_base, "src_sel": src_sel, "cycles": cycles, "broadcasts": n_bcast,
                 "stall_cycles": n_stall, "groups_scanned": n_search, "pes": n, "version": HW_VERSION,
                 "ptr_base": ptr_base, "spmat_base": spmat_base}
        table = [0] * 16
        for name, value in gregs.items():
            table[GLOBAL_REGS[name]] = value
        lat = READ_LATENCY - 2                   # register stages between c1 and rdata
        g = [Signal(hw.data_bits, name=f"g{i}") for i in range(lat)]
        gl = [Signal(name=f"glob{i}") for i in range(lat)]
        pq = [Signal(max(1, pb), name=f"pe_q{i}") for i in range(lat)]
        rq = [Signal(name=f"re_q{i}") for i in range(lat)]
        m.d.sync += [g[0].eq(Array(table)[off[:4]]), gl[0].eq(glob), pq[0].eq(pe_idx), rq[0].eq(re_q)]
        for i in range(1, lat):
            m.d.sync += [g[i].eq(g[i - 1]), gl[i].eq(gl[i - 1]), pq[i].eq(pq[i - 1]), rq[i].eq(rq[i - 1])]
        pe_data = Array([pe.h_rdata for pe in pes])
        m.d.sync += [self.rdata.eq(Mux(gl[-1], g[-1], pe_data[pq[-1]])), self.rvalid.eq(rq[-1])]
        return m


def _any(signals):
    out = signals[0]
    for s in signals[1:]:
        out = out | s
    return out


def _all(signals):
    out = signals[0]
    for s in signals[1:]:
        out = out & s
    return out


class SerialTop(wiring.Component):
    """:class:`EIETop` behind an 8-pin serial host port, for small FPGA packages.

    ``sin``/``sen``: while ``sen`` is high, one bit per cycle shifts into the command
    register ``{re, we, wdata, addr}`` (``addr`` bit 0 first) and the result register
    shifts out on ``sout`` (bit 0 first).  ``go``: apply the command to the array's bus for
    one cycle.  ``rdata`` is captured into the result register when ``rvalid`` comes.
    ``busy`` and ``done`` are the array's.  Used by ``eie synth --io serial``; the array and
    its timing are unchanged (every added path starts and ends at a flip-flop).
    """

    def __init__(self, hw: HWConfig):
        self._hw = hw
        super().__init__({
            "sin": In(1), "sen": In(1), "go": In(1),
            "sout": Out(1), "busy": Out(1), "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        hw = self._hw
        m.submodules.core = core = EIETop(hw)
        ab, db = hw.host_addr_bits, hw.data_bits
        cmd = Signal(ab + db + 2)
        res = Signal(db)
        with m.If(self.sen):
            m.d.sync += [cmd.eq(Cat(cmd[1:], self.sin)), res.eq(res >> 1)]
        with m.If(core.rvalid):
            m.d.sync += res.eq(core.rdata)
        a, d, we, re = Signal(ab), Signal(db), Signal(), Signal()
        m.d.sync += [a.eq(cmd[:ab]), d.eq(cmd[ab:ab + db]), we.eq(self.go & cmd[ab + db]),
                     re.eq(self.go & cmd[ab + db + 1])]
        done = Signal()
        m.d.sync += done.eq(core.done)
        m.d.comb += [core.addr.eq(a), core.wdata.eq(d), core.we.eq(we), core.re.eq(re),
                     self.sout.eq(res[0]), self.busy.eq(core.busy), self.done.eq(done)]
        return m
