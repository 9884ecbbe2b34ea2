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
the fan-out to N PEs is one flip-flop per PE (``eie/hdl/README.md``, Fan-out).

The host interface is described in :mod:`eie.hdl.regmap` (address map, protocol; the
driver is :mod:`eie.flow.host`).  Bus timing: ``addr``/``wdata``/``we``/``re`` are registered once at the top (cycle c0 →
c1) and once more per PE; a write takes effect at the end of c1; read data is on
``rdata`` with ``rvalid`` in cycle ``c0 + READ_LATENCY``.  Host accesses to PE memories
while ``busy`` are not allowed (the memories' ports belong to the datapath then).
"""

from types import SimpleNamespace

from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out, connect

from .interfaces import (
    SHIFT_BITS,
    PassControl,
    PassRegs,
    PEHost,
    bit_slices,
    original_attrs,
    register_copies,
    registered_copy,
    sliced_choice,
)
from .lnzd import CCU
from .params import COUNTER_BITS, PREROLL, SELECT_COPIES, HWConfig, announce_groups
from .pe import PE
from .regmap import (
    CTRL_KEEP_ACC,
    CTRL_START,
    CTRL_WRITEBACK,
    GLOBAL_REGS,
    GLOBAL_SEL_BITS,
    HOST_WRITTEN,
    HW_VERSION,
    MEM_BITS,
    READ_LATENCY,
    STATUS_BUSY,
    STATUS_DONE,
    STATUS_FAULT,
    STATUS_SRC_SEL,
    HostMap,
)

__all__ = ["EIETop", "PassSequencer", "SerialTop"]

#: the global registers the image may preset
IMAGE_REGS = ("groups", "bias_act", "shift", "relu")


class PassSequencer(wiring.Component):
    """arm → pre-roll → start (cycle −1) → running → done [arch §5.7].

    Members
    -------
    cmd_start : In(1)  the host's ``ctrl`` start write takes effect in this cycle (ignored
                       while ``busy``); the next cycle is the arm cycle.
    wb_busy : In(1)    a write-back runs.
    bias_sent : In(1)  the CCU's register: the bias element has been broadcast.
    pes_idle : In(1)   every PE's registered ``idle`` flag.
    busy : Out(1)      a pass (arm .. c_done) or a write-back runs.
    ctl : Out(PassControl)       registered: ``arm`` (one cycle), ``start`` (``PREROLL``
                       cycles after arm), ``running`` (from the cycle after start to
                       c_done), ``pf_active`` (arm .. c_done), ``start_next`` (the cycle
                       before start).
    ctl_next : Out(PassControl)  ``ctl`` of the next cycle (the CCU's copy loads it).
    ctl_pe_next : Out(PassControl)  what the per-PE copies load: ``ctl_next``, except that
                       ``running`` and ``pf_active`` fall one cycle late (in c_done + 2, not
                       c_done + 1), so no PE's copy depends on ``done`` -- the AND of every
                       PE's idle flag, an array-wide gather -- in the same cycle: both are
                       ORs of registers here (``start | running``, ``arm | pf_active``).  A
                       PE is idle then and no host access reaches it before c_done + 2 (a
                       read or write on the bus in c_done + 1, the first cycle without
                       ``busy``, is in the PE's copy of the bus in c_done + 2); a write on the
                       bus in c_done itself (still ``busy``) is dropped.
    done : Out(1)      c_done: running, the bias was broadcast before the previous cycle
                       and every PE is idle.

    The PEs' idle flags are registers computed last cycle assuming no broadcast; that holds
    when the bias had already been broadcast last cycle (a bias broadcast in the previous
    cycle fills every queue in this one), which ``done`` requires anyway.
    """

    def __init__(self):
        super().__init__({
            "cmd_start": In(1),
            "wb_busy": In(1),
            "bias_sent": In(1),
            "pes_idle": In(1),
            "busy": Out(1),
            "ctl": Out(PassControl()),
            "ctl_next": Out(PassControl()),
            "ctl_pe_next": Out(PassControl()),
            "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        ctl, nxt = self.ctl, self.ctl_next
        pre = Signal(range(PREROLL + 1))
        bias_prev = Signal()
        m.d.comb += [
            self.busy.eq(ctl.pf_active | self.wb_busy),
            nxt.arm.eq(self.cmd_start & ~self.busy),
            nxt.start.eq(pre == 1),
            nxt.start_next.eq(pre == 2),          # start two cycles ahead (PREROLL >= 2)
            nxt.running.eq(ctl.start | (ctl.running & ~self.done)),
            nxt.pf_active.eq(nxt.arm | (ctl.pf_active & ~(ctl.running & self.done))),
            self.done.eq(ctl.running & bias_prev & self.pes_idle),
        ]
        pe_next = self.ctl_pe_next
        m.d.comb += [pe_next.arm.eq(nxt.arm), pe_next.start.eq(nxt.start), pe_next.start_next.eq(nxt.start_next),
                     pe_next.running.eq(ctl.start | ctl.running), pe_next.pf_active.eq(nxt.arm | ctl.pf_active)]
        assert PREROLL >= 2, "start_next is decoded from the pre-roll count"
        m.d.sync += [ctl.arm.eq(nxt.arm), ctl.start.eq(nxt.start), ctl.running.eq(nxt.running),
                     ctl.pf_active.eq(nxt.pf_active), ctl.start_next.eq(nxt.start_next),
                     pre.eq(Mux(nxt.arm, PREROLL, Mux(pre != 0, pre - 1, 0))),
                     bias_prev.eq(self.bias_sent & ~ctl.start)]
        return m


class EIETop(wiring.Component):
    """N PEs, the CCU and the host port.

    Parameters
    ----------
    hw : HWConfig
    image : optional initial contents: ``{"pes": [per-PE init dicts, see PE], "regs": {name: value}}``
        (registers ``groups``, ``bias_act``, ``shift``, ``relu``).  :func:`eie.flow.host.pass_image`
        makes one from a compiled layer.

    Units: :class:`PassSequencer`, :class:`~eie.hdl.lnzd.CCU`, N :class:`~eie.hdl.pe.PE`;
    here the host register file (:meth:`_bus`, :meth:`_global_regs`), the per-PE copies
    (:meth:`_pe_host`), the pass statistics (:meth:`_statistics`) and the read path
    (:meth:`_read_path`).
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
        unknown = set(self._reg_init) - set(IMAGE_REGS)
        if unknown:
            raise ValueError(f"image['regs'] may set {', '.join(IMAGE_REGS)}; not {sorted(unknown)!r}")
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
        m.submodules.seq = seq = PassSequencer()
        m.submodules.ccu = ccu = CCU(hw)
        pes = []
        for p in range(hw.pes):
            m.submodules[f"pe{p}"] = pe = PE(hw, init=self._pe_init[p])
            pes.append(pe)
        wb = pes[0].wb                            # the PEs write back in lockstep

        bus = self._bus(m)
        regs = self._global_regs(m, bus, seq.busy, seq.ctl_next.arm)
        ctrl = bus.ctrl_w                         # a write of ctrl, decoded from the pins
        m.d.comb += [
            seq.cmd_start.eq(ctrl & bus.wdata[CTRL_START]), seq.wb_busy.eq(wb.busy),
            seq.bias_sent.eq(ccu.bias_sent), seq.pes_idle.eq(Cat(*[pe.idle for pe in pes]).all()),
        ]
        # the write-back command: with timing_registers each PE's own (_pe_commands),
        # otherwise one for every PE from the bus register and the array's busy
        if not hw.timing_registers:
            wb_start = Signal()
            m.d.comb += wb_start.eq(ctrl & bus.wdata[CTRL_WRITEBACK] & ~seq.busy)
            wb_starts = [wb_start] * hw.pes
        m.d.comb += [
            self.busy.eq(seq.busy), self.done.eq(seq.done),
            ccu.groups.eq(regs["groups"]), ccu.bias_act.eq(regs["bias_act"]),
        ]
        # the CCU's own copy of the control (timing_registers): the sequencer's registers
        # (merged by yosys with PE 0's like-loaded copy) had driven the CCU's prefetch too
        # and the prefetch's and the pre-scanner's own copies of its arm
        if hw.timing_registers:
            connect(m, registered_copy(m, PassControl(), seq.ctl_next, name="ctl_ccu"), ccu.ctl)
            arm_pf, arm_ps = register_copies(m, seq.ctl_next.arm, 2, name="ctl_ccu_arm")
            m.d.comb += [ccu.arm_pf.eq(arm_pf), ccu.arm_ps.eq(arm_ps)]
        else:
            connect(m, seq.ctl, ccu.ctl)
            m.d.comb += [ccu.arm_pf.eq(seq.ctl.arm), ccu.arm_ps.eq(seq.ctl.arm)]

        # busy as PE p sees it (timing_registers): the pass's pf_active and PE p's own
        # write-back busy -- the PEs write back in lockstep, so this is the array's busy --
        # rather than PE 0's fanned out across the die; otherwise the array's busy
        pe_busy = []
        for p, pe in enumerate(pes if hw.timing_registers else []):
            pe_busy.append(Signal(name=f"busy_pe{p}"))
            m.d.comb += pe_busy[p].eq(seq.ctl.pf_active | pe.wb.busy)

        def busy_at(p):
            return pe_busy[p] if pe_busy else seq.busy

        if hw.timing_registers:
            wb_starts, pe_nexts = self._pe_commands(m, bus, busy_at, seq)
        else:
            pe_nexts = [seq.ctl_pe_next] * hw.pes
        # every PE: the pass registers (a PE registers its own copies), a registered copy of
        # the control and of the host bus (the fan-out to N PEs is one flip-flop per PE)
        for group, pass_regs in self._pass_regs(m, bus, busy_at, regs, seq.ctl_next.arm):
            connect(m, pass_regs, *[pes[p].regs for p in group])
        for p, pe in enumerate(pes):
            ctl_copy = registered_copy(m, PassControl(), pe_nexts[p], name=f"ctl_{p}")
            connect(m, ctl_copy, pe.ctl)
            if hw.timing_registers:
                # ctl_pe_next.running = start | running of the sequencer, with PE p's own copy of
                # start (equal to the sequencer's): one LUT per PE, not one shared by all
                m.d.comb += pe_nexts[p].running.eq(ctl_copy.start | seq.ctl.running)
            connect(m, ccu.pes[p], pe.ccu)
            # busy of the next cycle from PE p's own write-back (the PEs write back in
            # lockstep), not PE 0's fanned out across the die; the pass's part from
            # registers (ctl_pe_next: no array-wide done in it)
            connect(m, self._pe_host(m, p, pe_nexts[p].pf_active | pe.wb.busy_next), pe.host)
            m.d.comb += pe.wb.start.eq(wb_starts[p])

        stats = self._statistics(m, seq, ccu, pes)
        status = Signal(max(STATUS_BUSY, STATUS_DONE, STATUS_SRC_SEL, STATUS_FAULT) + 1)
        m.d.comb += status.eq((seq.busy << STATUS_BUSY) | (stats["done_flag"] << STATUS_DONE)
                              | (regs["src_sel"] << STATUS_SRC_SEL) | (stats["fault"] << STATUS_FAULT))
        readable = {**regs, **stats, "status": status, "pes": hw.pes, "version": HW_VERSION}
        self._read_path(m, bus, {name: readable[name] for name in GLOBAL_REGS if name != "ctrl"}, pes)
        return m

    def _bus(self, m):
        """The host bus, registered once (cycle c0 → c1): its fields (``off``,
        ``glob``), ``wdata``, ``re``, ``ctrl_w`` (a write of ``ctrl``; ``ctrl_pins``: the same
        decode on the pins, unregistered), ``gw`` (one write
        strobe per host-written global register) and ``gsel`` (the global register a read
        names).  The strobes are decoded before their registers, from the pins, and ``gsel``
        is a register of its own (``keep``: not merged with PE 0's copy of the offset), so
        neither the write decode nor the read multiplexer's fan-out sits behind the bus
        register that every other use of the offset shares."""
        hw = self._hw
        amap = HostMap(hw)
        # (the PEs' host copies below are copies of these)
        keep = original_attrs(hw)
        addr = Signal(hw.host_addr_bits, name="bus_addr", attrs=keep)
        wdata = Signal(hw.data_bits, name="bus_wdata", attrs=keep)
        we, re = Signal(), Signal()
        glob_w = self.we & self.addr[amap.global_bit]

        def on_pins(name):                       # a write of global register ``name``, in c0
            return glob_w & (self.addr[:amap.ob] == GLOBAL_REGS[name])

        def decoded(name):
            strobe = Signal(name=f"{name}_w")
            m.d.sync += strobe.eq(on_pins(name))
            return strobe

        # a write of ctrl: the sequencer's start (and without timing_registers the write-back
        # and every PE's busy-gated write enable) from one flip-flop; each PE's own command
        # copies are decoded from ctrl_pins (_pe_commands)
        ctrl_w = decoded("ctrl")
        gw = {name: decoded(name) for name in HOST_WRITTEN}
        gsel = Signal(GLOBAL_SEL_BITS, name="gsel", attrs={"keep": 1})
        m.d.sync += [addr.eq(self.addr), wdata.eq(self.wdata), we.eq(self.we), re.eq(self.re),
                     gsel.eq(self.addr[:GLOBAL_SEL_BITS])]
        # copies of gsel's low two bits, each choosing a slice of the read's first step
        gsel_lo = register_copies(m, self.addr[:2], SELECT_COPIES if hw.timing_registers else 0, name="gsel_lo")
        glob = addr[amap.global_bit]
        return SimpleNamespace(off=addr[:amap.ob], glob=glob,
                               wdata=wdata, re=re, gw=gw, gsel=gsel, gsel_lo=gsel_lo, ctrl_w=ctrl_w,
                               ctrl_pins=on_pins("ctrl"))

    def _pe_commands(self, m, bus, busy_at, seq):
        """With ``timing_registers``, each PE's commands from flip-flops of its own (decoded
        from the pins as ``ctrl_w`` is), each taken unless PE p sees busy (``busy_at``, the
        array's busy): ``(wb_starts, pe_nexts)``, PE p's write-back start (``ctrl`` bit
        ``writeback``) and the control its copy loads, ``seq.ctl_pe_next`` with ``arm`` and
        ``pf_active`` from PE p's start command (``ctrl`` bit ``start``; ``running`` is set in
        :meth:`elaborate`, from PE p's copy of ``start``).  One start from
        ``ctrl_w`` and the array's busy had been PE 0's write-back state reaching every
        other PE's write-back counter, control copy and host write enable in the same cycle:
        a gather and a scatter across the die (4-PE ECP5 worst paths)."""
        hw = self._hw
        wb_cmds = register_copies(m, bus.ctrl_pins & self.wdata[CTRL_WRITEBACK], hw.pes, name="wb_cmd")
        start_cmds = register_copies(m, bus.ctrl_pins & self.wdata[CTRL_START], hw.pes, name="start_cmd")
        wb_starts, pe_nexts = [], []
        for p in range(hw.pes):
            wb_starts.append(wb_cmds[p] & ~busy_at(p))
            nxt = PassControl().create(path=(f"ctl_next_{p}",))
            arm = start_cmds[p] & ~busy_at(p)    # = seq.ctl_next.arm
            m.d.comb += [nxt.arm.eq(arm), nxt.pf_active.eq(arm | seq.ctl.pf_active),
                         nxt.start.eq(seq.ctl_pe_next.start), nxt.start_next.eq(seq.ctl_pe_next.start_next)]
            # (nxt.running: in elaborate, from PE p's copy of start)
            pe_nexts.append(nxt)
        return wb_starts, pe_nexts

    @staticmethod
    def _write_reg(m, bus, busy, arm_next, name, reg):
        """How global register ``name`` is written (the top's register and its group copies,
        :meth:`_pass_regs`, alike): a host write takes effect at the end of c1
        (``WRITE_LATENCY`` after the bus), ignored while ``busy``; ``keep_acc``, not
        addressable, is loaded from the ``ctrl`` word of a start in the arm cycle and held for
        the pass (the PEs' destination files look at it at cycle −1, START_DELAY cycles later)."""
        if name == "keep_acc":
            with m.If(arm_next):
                m.d.sync += reg.eq(bus.wdata[CTRL_KEEP_ACC])
        else:
            with m.If(bus.gw[name] & ~busy):
                m.d.sync += reg.eq(bus.wdata)

    def _global_regs(self, m, bus, busy, arm_next):
        """The host-written global registers (:data:`~.regmap.HOST_WRITTEN`) and ``keep_acc``,
        each written by :meth:`_write_reg`."""
        hw = self._hw
        ri = self._reg_init
        # the pass registers are originals of group copies loaded alike (:meth:`_pass_regs`)
        orig = {name: original_attrs(hw) for name in PassRegs(hw).members}
        regs = {
            "groups": Signal(hw.group_bits, init=ri.get("groups", 0), name="groups"),
            "bias_act": Signal(signed(hw.config.act_bits), init=ri.get("bias_act", 0), name="bias_act"),
            "shift": Signal(SHIFT_BITS, init=ri.get("shift", 0), name="shift", attrs=orig["shift"]),
            "relu": Signal(1, init=int(bool(ri.get("relu", 0))), name="relu", attrs=orig["relu"]),
            "wb_base": Signal(max(1, hw.act_addr_bits), name="wb_base", attrs=orig["wb_base"]),
            "src_sel": Signal(name="src_sel", attrs=orig["src_sel"]),
            "ptr_base": Signal(max(1, hw.ptr_addr_bits), name="ptr_base", attrs=orig["ptr_base"]),
            "spmat_base": Signal(max(1, hw.line_addr_bits), name="spmat_base", attrs=orig["spmat_base"]),
        }
        regs["keep_acc"] = Signal(name="keep_acc", attrs=orig["keep_acc"])
        for name, sig in regs.items():
            self._write_reg(m, bus, busy, arm_next, name, sig)
        return regs

    def _pass_regs(self, m, bus, busy_at, regs, arm_next):
        """The pass's static registers for the PEs (each PE registers them again): ``(group,
        PassRegs)`` pairs.  With ``timing_registers``, one copy of every register per group of
        PEs (:func:`~.params.announce_groups`), written by the same write as the top's register
        (:meth:`_write_reg`), not loaded from it: a second level of the fan-out tree that costs no cycle, so the PEs
        still see a write in the cycle after the top does (a start may follow it at once).
        One top register driving every PE's copy was the ECP5-85k's worst path on a seed
        (11.2 ns of routing across the die).  A group's copies drop writes by the busy its first
        PE sees (``busy_at``: the pass's and that PE's write-back, the same as the array's).
        Without ``timing_registers``: the top's."""
        hw = self._hw
        members = PassRegs(hw).members
        if not hw.timing_registers:
            pass_regs = PassRegs(hw).create(path=("pass_regs",))
            m.d.comb += [getattr(pass_regs, name).eq(regs[name]) for name in members]
            return [(range(hw.pes), pass_regs)]
        out = []
        for g, group in enumerate(announce_groups(hw.pes)):
            pass_regs = PassRegs(hw).create(path=(f"pass_regs_g{g}",))
            for name in members:
                reg = Signal(regs[name].shape(), init=regs[name].init, name=f"{name}_g{g}", attrs={"keep": 1})
                self._write_reg(m, bus, busy_at(group[0]), arm_next, name, reg)
                m.d.comb += getattr(pass_regs, name).eq(reg)
            out.append((group, pass_regs))
        return out

    def _pe_host(self, m, p, busy_next):
        """PE p's copy of the host bus (a :class:`~.interfaces.PEHost`): registered straight
        from the pins, in parallel with the top's own bus register, so it is in the PE in c1
        too.  The write enable is gated by busy on its way into PE p's copy (the register is
        loaded with the pins' write and not the next cycle's busy), so host writes never reach
        a block RAM the datapath owns, and the PE's write enables start from that flip-flop
        (a copy of busy ANDed in the PE had been an array-wide critical path on the 85k)."""
        hw = self._hw
        amap = HostMap(hw)

        def keep(name, shape=1):
            return Signal(shape, name=f"h_{name}_{p}", attrs={"keep": 1})

        sel, rsel, hmem, hoff, hdat, hwe = (keep("sel"), keep("rsel"), keep("mem", MEM_BITS), keep("off", amap.ob),
                                            keep("wdata", hw.data_bits), keep("we"))
        hoff_line = keep("off_line", amap.ob)
        # the destination file's write address: a copy of its own (not without timing_registers)
        hoff_dst = keep("off_dst", amap.ob) if hw.timing_registers else hoff
        addr_pe = self.addr[amap.pe_lsb:amap.pe_lsb + amap.pb]
        m.d.sync += [
            sel.eq(~self.addr[amap.global_bit] & (self.addr[amap.bcast_bit] | (addr_pe == p))),
            rsel.eq(~self.addr[amap.global_bit] & (addr_pe == p)),
            hmem.eq(self.addr[amap.mem_lsb:amap.mem_lsb + MEM_BITS]), hoff.eq(self.addr[:amap.ob]),
            hoff_line.eq(self.addr[:amap.ob]),
            hdat.eq(self.wdata), hwe.eq(self.we & ~busy_next),
        ]
        if hoff_dst is not hoff:
            m.d.sync += hoff_dst.eq(self.addr[:amap.ob])
        host = PEHost(hw).create(path=(f"host_{p}",))
        m.d.comb += [host.sel.eq(sel), host.rsel.eq(rsel), host.mem.eq(hmem), host.off.eq(hoff), host.off_line.eq(hoff_line),
                     host.off_dst.eq(hoff_dst),
                     host.wdata.eq(hdat),
                     host.we.eq(hwe)]
        return host

    def _statistics(self, m, seq, ccu, pes):
        """The pass's counters (cleared at start, counted while running), ``cycles``
        (c_done + 1), ``done_flag`` (done since start) and the sticky ``fault``.

        The CCU's event strobes are registered first and counted a cycle later (a count
        enable from a flip-flop, not the broadcaster's late ``room`` at an adder's input):
        the last event of a pass, in c_done, is counted at the end of c_done + 1, before
        any read the host can make after seeing ``done``."""
        cyc = Signal(COUNTER_BITS)
        stats = {name: Signal(COUNTER_BITS, name=name) for name in ("cycles", "broadcasts", "stall_cycles",
                                                                    "groups_scanned")}
        stats["done_flag"], stats["fault"] = Signal(name="done_flag"), Signal(name="fault")
        events = {"broadcasts": ccu.bcast, "stall_cycles": ccu.ev_stall, "groups_scanned": ccu.ev_search}
        ctl = seq.ctl
        ev_q = {name: Signal(name=f"ev_{name}") for name in events}
        m.d.sync += [ev_q[name].eq(ev & ctl.running) for name, ev in events.items()]
        with m.If(ctl.start):
            m.d.sync += [stats["done_flag"].eq(0), cyc.eq(0)] + [stats[name].eq(0) for name in events]
        with m.Else():
            for name in events:
                with m.If(ev_q[name]):
                    m.d.sync += stats[name].eq(stats[name] + 1)
        with m.If(~ctl.start & ctl.running):
            m.d.sync += cyc.eq(cyc + 1)
            with m.If(seq.done):
                m.d.sync += [stats["done_flag"].eq(1), stats["cycles"].eq(cyc + 1)]
        with m.If(ctl.arm):
            m.d.sync += stats["fault"].eq(0)
        with m.Elif(ccu.fault | Cat(*[pe.fault for pe in pes]).any()):
            m.d.sync += stats["fault"].eq(1)
        return stats

    def _read_path(self, m, bus, gregs, pes):
        """c1 → PE (``host.rdata``, five cycles) or the global register → ``rdata`` with
        ``rvalid`` in c0 + ``READ_LATENCY``."""
        hw = self._hw
        table = [0] * (1 << GLOBAL_SEL_BITS)
        for name, value in gregs.items():
            table[GLOBAL_REGS[name]] = value
        lat = READ_LATENCY - 2                   # register stages between c1 and rdata
        # the global register's word in two registered steps (the low select bits choose
        # within each group of four, then the group), so no select register drives a 16:1
        # multiplexer of every bit (one step without timing_registers); then delayed to meet
        # the PEs' words
        if hw.timing_registers:
            lo = 2
            groups = [Signal(hw.data_bits, name=f"g_grp{k}") for k in range(len(table) >> lo)]
            hi_q = Signal(GLOBAL_SEL_BITS - lo, name="gsel_hi")
            assert len(bus.gsel_lo[0]) == lo
            wide = [Signal(hw.data_bits, name=f"g_ext{k}") for k in range(len(table))]
            m.d.comb += [w.eq(v) for w, v in zip(wide, table, strict=True)]     # by its own signedness
            m.d.sync += [grp.eq(sliced_choice(wide[k << lo:(k + 1) << lo], bus.gsel_lo)) for k, grp in enumerate(groups)]
            m.d.sync += hi_q.eq(bus.gsel[lo:])
            first = Array(groups)[hi_q]
        else:
            g_word = Signal(hw.data_bits, name="g_word")
            m.d.sync += g_word.eq(Array(table)[bus.gsel])
            first = g_word
        g = [Signal(hw.data_bits, name=f"g{i}") for i in range(1, lat)]
        gl = [Signal(name=f"glob{i}") for i in range(lat - 1)]
        rq = [Signal(name=f"re_q{i}") for i in range(lat)]
        m.d.sync += [g[0].eq(first), gl[0].eq(bus.glob), rq[0].eq(bus.re)]
        for i in range(1, lat):
            m.d.sync += rq[i].eq(rq[i - 1])
        for i in range(1, lat - 2):
            m.d.sync += [g[i].eq(g[i - 1]), gl[i].eq(gl[i - 1])]
        # the last stage of the global word is 0 unless the read is global (gl runs a cycle
        # ahead of g): like every PE's word (0 unless the read named that PE, PEHost.rsel),
        # so the answer is the OR of them all and no select is fanned out over the die.  The
        # PEs' words (there in the cycle of stage lat-2) are ORed in groups into registers
        # of their own (``pe_or{k}``, at most four groups), then with the global word.
        m.d.sync += [gl[-1].eq(gl[-2]), g[-1].eq(Mux(gl[-1], g[-2], 0))]
        words = [pe.host.rdata for pe in pes]
        size = max(4, -(-len(words) // 4))
        groups = [Signal(hw.data_bits, name=f"pe_or{k}") for k in range(-(-len(words) // size))]
        for k, grp in enumerate(groups):
            m.d.sync += grp.eq(or_all(words[k * size:(k + 1) * size]))
        m.d.sync += [self.rdata.eq(or_all([*groups, g[-1]])), self.rvalid.eq(rq[-1])]


def or_all(values):
    """The bitwise OR of equally wide ``values``."""
    out = values[0]
    for v in values[1:]:
        out = out | v
    return out


class SerialTop(wiring.Component):
    """:class:`EIETop` behind an 8-pin serial host port, for small FPGA packages.

    ``sin``/``sen``: while ``sen`` is high, one bit per cycle shifts into the command
    register ``{re, we, wdata, addr}`` (``addr`` bit 0 first) and the result register
    shifts out on ``sout`` (bit 0 first).  ``go``: apply the command to the array's bus for
    one cycle.  ``rdata`` is captured into the result register in the cycle after
    ``rvalid`` (``READ_LATENCY`` + 2 cycles after the ``go`` cycle).
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
        # rdata and rvalid registered once more, rvalid in copies, each loading a slice of
        # the result (one rvalid driving the enables of every bit was a critical path)
        rv = register_copies(m, core.rvalid, hw.copies(SELECT_COPIES), name="rvalid")
        rd_q = Signal(db, name="rdata_q")
        m.d.sync += rd_q.eq(core.rdata)
        for sl, v in zip(bit_slices(db, len(rv)), rv, strict=False):
            with m.If(v):
                m.d.sync += res[sl].eq(rd_q[sl])
        a, d, we, re = Signal(ab), Signal(db), Signal(), Signal()
        m.d.sync += [a.eq(cmd[:ab]), d.eq(cmd[ab:ab + db]), we.eq(self.go & cmd[ab + db]),
                     re.eq(self.go & cmd[ab + db + 1])]
        done = Signal()
        m.d.sync += done.eq(core.done)
        m.d.comb += [core.addr.eq(a), core.wdata.eq(d), core.we.eq(we), core.re.eq(re),
                     self.sout.eq(res[0]), self.busy.eq(core.busy), self.done.eq(done)]
        return m
