"""The EIE array (`top`): CCU/LNZD + N PEs + host interface [arch §5].

Pass timing (exactly the contract's, [arch §5.1-§5.7]):

* Cycle −1 is the cycle in which the host's ``CTRL.start`` write takes effect: the CCU
  state is reset, the PEs' counters and destination valid bits are cleared and group 0
  of the source banks is read.  Cycle 0 is the next one.
* Broadcast: the CCU's element goes to every PE's queue in the cycle it is found unless
  some PE's registered ``room`` is low [arch §5.1].
* ``done`` is high (combinationally) in cycle ``c_done``: the bias element was broadcast
  before this cycle, and every PE is ``idle`` [arch §5.7].  ``CYCLES`` then reads
  ``c_done + 1``.

The host interface is described in :mod:`eie.hdl.host` (address map, protocol, driver).
Bus timing: ``addr``/``wdata``/``we``/``re`` are registered once at the top (cycle c0 →
c1) and once more per PE (kept copies, so the fan-out to N PEs is one flip-flop per PE,
[FPGA-NOTES]); a write takes effect at the end of c1; read data is on ``rdata`` with
``rvalid`` in cycle ``c0 + READ_LATENCY``.  Host accesses to PE memories while ``busy``
are not allowed (the memories' ports belong to the datapath then).
"""

from amaranth.hdl import Array, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .host import GLOBAL_REGS, READ_LATENCY
from .lnzd import CCU
from .params import COUNTER_BITS, HWConfig
from .pe import PE

__all__ = ["EIETop", "READ_LATENCY", "GLOBAL_REGS", "CTRL_START", "CTRL_WRITEBACK", "HW_VERSION"]

#: value of the ``VERSION`` register (bump when the host protocol changes)
HW_VERSION = 1
CTRL_START = 1
CTRL_WRITEBACK = 2


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
        a_q[ob:ob + 3]
        pe_idx = a_q[ob + 3:ob + 3 + pb]
        a_q[ob + 3 + pb]
        glob = a_q[ob + 4 + pb]

        # ---- global registers ---------------------------------------------------------------
        ri = self._reg_init
        groups = Signal(hw.group_bits, init=ri.get("groups", 0))
        bias_act = Signal(signed(c.act_bits), init=ri.get("bias_act", 0))
        shift = Signal(6, init=ri.get("shift", 0))
        relu = Signal(1, init=int(bool(ri.get("relu", 0))))
        wb_base = Signal(max(1, hw.act_addr_bits))
        src_sel = Signal()
        running = Signal()
        done_flag = Signal()
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
        m.d.comb += self.busy.eq(running | wb_busy)

        gw = we_q & glob
        start = Signal()
        wb_start = Signal()
        m.d.comb += [
            start.eq(gw & (off == GLOBAL_REGS["ctrl"]) & d_q[0] & ~self.busy),
            wb_start.eq(gw & (off == GLOBAL_REGS["ctrl"]) & d_q[1] & ~self.busy),
        ]
        with m.If(gw & ~self.busy), m.Switch(off):
            for name, sig in (("groups", groups), ("bias_act", bias_act), ("shift", shift), ("relu", relu),
                              ("wb_base", wb_base), ("src_sel", src_sel)):
                with m.Case(GLOBAL_REGS[name]):
                    m.d.sync += sig.eq(d_q)

        # ---- CCU and broadcast ----------------------------------------------------------------
        room = Signal()
        idle = Signal()
        m.d.comb += [
            room.eq(_all([pe.room for pe in pes])),
            idle.eq(_all([pe.idle for pe in pes])),
            ccu.start.eq(start), ccu.running.eq(running), ccu.groups.eq(groups), ccu.bias_act.eq(bias_act),
            ccu.room.eq(room),
        ]
        for p, pe in enumerate(pes):
            m.d.comb += [
                ccu.acts[p].eq(pe.src_data),
                pe.start.eq(start), pe.running.eq(running), pe.lnzd_run.eq(running | start),
                pe.src_sel.eq(src_sel), pe.relu.eq(relu), pe.shift.eq(shift),
                pe.wb_start.eq(wb_start), pe.wb_base.eq(wb_base),
                pe.bcast_valid.eq(ccu.bcast_valid), pe.bcast_j.eq(ccu.bcast_j), pe.bcast_a.eq(ccu.bcast_a),
                pe.src_addr.eq(ccu.src_addr),
            ]

        # ---- end of pass [arch §5.7] and counters ------------------------------------------
        done = Signal()
        m.d.comb += [done.eq(running & ccu.bias_sent & idle), self.done.eq(done)]
        with m.If(start):
            m.d.sync += [running.eq(1), done_flag.eq(0), cyc.eq(0), n_bcast.eq(0), n_stall.eq(0), n_search.eq(0)]
        with m.Elif(running):
            m.d.sync += [cyc.eq(cyc + 1), n_bcast.eq(n_bcast + ccu.bcast_valid), n_stall.eq(n_stall + ccu.ev_stall),
                         n_search.eq(n_search + ccu.ev_search)]
            with m.If(done):
                m.d.sync += [running.eq(0), done_flag.eq(1), cycles.eq(cyc + 1)]

        # ---- per-PE host bus copies -------------------------------------------------------------
        for p, pe in enumerate(pes):
            sel = Signal(name=f"h_sel_{p}", attrs={"keep": 1})
            hmem = Signal(3, name=f"h_mem_{p}", attrs={"keep": 1})
            hoff = Signal(ob, name=f"h_off_{p}", attrs={"keep": 1})
            hdat = Signal(hw.data_bits, name=f"h_wdata_{p}", attrs={"keep": 1})
            hwe = Signal(name=f"h_we_{p}", attrs={"keep": 1})
            addr_pe = self.addr[ob + 3:ob + 3 + pb]
            m.d.sync += [
                sel.eq(~self.addr[ob + 4 + pb] & (self.addr[ob + 3 + pb] | (addr_pe == p))),
                hmem.eq(self.addr[ob:ob + 3]), hoff.eq(self.addr[:ob]), hdat.eq(self.wdata),
                hwe.eq(self.we),
            ]
            m.d.comb += [pe.h_sel.eq(sel), pe.h_mem.eq(hmem), pe.h_off.eq(hoff), pe.h_wdata.eq(hdat),
                         pe.h_we.eq(hwe & ~self.busy)]

        # ---- read path -----------------------------------------------------------------------------
        status = Signal(3)
        m.d.comb += status.eq(self.busy | (done_flag << 1) | (src_sel << 2))
        gregs = {"status": status, "groups": groups, "bias_act": bias_act, "shift": shift, "relu": relu,
                 "wb_base": wb_base, "src_sel": src_sel, "cycles": cycles, "broadcasts": n_bcast,
                 "stall_cycles": n_stall, "groups_scanned": n_search, "pes": n, "version": HW_VERSION}
        table = [0] * 16
        for name, value in gregs.items():
            table[GLOBAL_REGS[name]] = value
        g1 = Signal(hw.data_bits)
        g2 = Signal(hw.data_bits)
        m.d.sync += [g1.eq(Array(table)[off[:4]]), g2.eq(g1)]
        glob1, glob2 = Signal(), Signal()
        pe1, pe2 = Signal(max(1, pb)), Signal(max(1, pb))
        re1, re2 = Signal(), Signal()
        m.d.sync += [glob1.eq(glob), glob2.eq(glob1), pe1.eq(pe_idx), pe2.eq(pe1),
                     re1.eq(re_q), re2.eq(re1), self.rvalid.eq(re2)]
        pe_data = Array([pe.h_rdata for pe in pes])
        m.d.sync += self.rdata.eq(Mux(glob2, g2, pe_data[pe2]))
        return m


def _all(signals):
    out = signals[0]
    for s in signals[1:]:
        out = out & s
    return out
