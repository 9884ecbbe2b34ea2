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

Host port (already registered once by the top level; see :mod:`eie.hdl.host` for the map):
``h_sel`` (this PE is addressed), ``h_mem``, ``h_off``, ``h_wdata``, ``h_we``.
``h_rdata`` holds the word addressed five cycles earlier (the line memory reads in three
cycles, every other source is delayed to match, then a two-step 8:1 choice; reads have no
side effect).  Signed quantities
(activations, codebook values, outputs) are sign-extended to ``data_bits``.
"""

from amaranth.hdl import Array, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .act_queue import ActQueue
from .act_rw import ActRW
from .arith import Arith
from .params import COUNTER_BITS, HWConfig
from .ptr_read import Issue, PtrPrefetch
from .regmap import MEM, PE_COUNTERS
from .spmat_read import SpmatRead

__all__ = ["PE"]


class PE(wiring.Component):
    """A processing element.  ``init`` optionally gives initial memory contents:
    a dict with any of ``ptr_even``, ``ptr_odd``, ``lines``, ``codebook``, ``act``."""

    def __init__(self, hw: HWConfig, *, init=None):
        self._hw = hw
        init = dict(init or {})
        unknown = set(init) - {"ptr_even", "ptr_odd", "lines", "codebook", "act"}
        if unknown:
            raise ValueError(f"init keys must be ptr_even, ptr_odd, lines, codebook, act; not {sorted(unknown)!r}")
        self._init = init
        c = hw.config
        super().__init__({
            "arm": In(1),
            "start": In(1),
            "running": In(1),
            "pf_active": In(1),
            "src_sel": In(1),
            "relu": In(1),
            "shift": In(6),
            "ptr_base": In(max(1, hw.ptr_addr_bits)),
            "spmat_base": In(max(1, hw.line_addr_bits)),
            "wb_start": In(1),
            "wb_base": In(max(1, hw.act_addr_bits)),
            "wb_busy": Out(1),
            "wb_busy_next": Out(1),
            "ann_valid": In(1),
            "ann_j": In(hw.col_bits),
            "ann_a": In(signed(c.act_bits)),
            "bcast": In(1),
            "room_push": Out(1),
            "room_nopush": Out(1),
            "rd_en": In(1),
            "src_data": Out(signed(c.act_bits)),
            "idle": Out(1),
            "fault": Out(1),
            "h_sel": In(1),
            "h_mem": In(3),
            "h_off": In(hw.offset_bits),
            "h_wdata": In(hw.data_bits),
            "h_we": In(1),
            "h_rdata": Out(hw.data_bits),
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
        m.submodules.act = act = ActRW(hw, init_act=init.get("act", ()))

        for unit in (issue, spmat, arith, act):
            m.d.comb += [unit.start.eq(self.start), unit.running.eq(self.running)]
        idle_next = Signal()
        m.d.sync += self.idle.eq(idle_next)
        # this PE's copies of the static pass registers (written by the host before a start,
        # so a copy one cycle late is settled long before the arm cycle)
        stat = {}
        for name in ("src_sel", "relu", "shift", "ptr_base", "spmat_base", "wb_base"):
            port = getattr(self, name)
            stat[name] = Signal.like(port, name=f"{name}_q", attrs={"keep": 1})
            m.d.sync += stat[name].eq(port)
        # announce → descriptor → queue → issue
        m.d.comb += [
            ptr.arm.eq(self.arm), ptr.pf_active.eq(self.pf_active),
            ptr.ann_valid.eq(self.ann_valid), ptr.ann_j.eq(self.ann_j), ptr.ann_a.eq(self.ann_a),
            ptr.ptr_base.eq(stat["ptr_base"]), ptr.spmat_base.eq(stat["spmat_base"]),
            queue.arm.eq(self.arm), queue.start.eq(self.start), queue.bcast.eq(self.bcast),
            queue.wr_valid.eq(ptr.desc_valid), queue.wr.eq(ptr.desc),
            self.room_push.eq(queue.room_push), self.room_nopush.eq(queue.room_nopush),
            issue.nonempty.eq(queue.nonempty), issue.head.eq(queue.head), queue.pop.eq(issue.pop),
            queue.running.eq(self.running), queue.ready.eq(issue.ready_copy),
            issue.next.eq(queue.next), issue.head_ok.eq(queue.head_ok), issue.next_ok.eq(queue.next_ok),
            spmat.spec_line.eq(issue.spec_line), spmat.spec_ce.eq(issue.spec_ce),
            spmat.issue_valid.eq(issue.issue_valid), spmat.issue_first.eq(issue.issue_first),
            spmat.issue_slot.eq(issue.issue_slot), spmat.issue_a.eq(issue.issue_a),
            arith.in_valid.eq(spmat.out_valid), arith.in_first.eq(spmat.out_first), arith.in_a.eq(spmat.out_a),
            arith.in_v.eq(spmat.out_v), arith.in_z.eq(spmat.out_z), arith.shift.eq(stat["shift"]),
            act.acc_raddr.eq(arith.acc_raddr), act.acc_ren.eq(arith.acc_ren), arith.acc_rdata.eq(act.acc_rdata),
            act.acc_waddr.eq(arith.acc_waddr), act.acc_wdata.eq(arith.acc_wdata), act.acc_we.eq(arith.acc_we),
            act.arm.eq(self.arm), act.pf_active.eq(self.pf_active), act.rd_en.eq(self.rd_en),
            act.src_sel.eq(stat["src_sel"]), act.relu.eq(stat["relu"]), self.src_data.eq(act.src_data),
            act.wb_start.eq(self.wb_start), act.wb_base.eq(stat["wb_base"]), self.wb_busy.eq(act.wb_busy),
            self.wb_busy_next.eq(act.wb_busy_next),
            # idle in the next cycle if no broadcast arrives now: registered, see module docstring
            idle_next.eq(queue.empty_next & ~issue.issue_next & ~issue.issue_valid & ~arith.busy_next),
            self.fault.eq(queue.fault | issue.fault),
        ]

        # ---- statistics [arch §6] -----------------------------------------------------------
        events = {"entries": arith.ev_entry, "padding": arith.ev_padding, "empty_columns": issue.ev_empty,
                  "line_reads": issue.ev_line, "pops": issue.pop, "bypasses": arith.ev_bypass}
        counters = []
        for name in PE_COUNTERS:
            cnt = Signal(COUNTER_BITS, name=f"cnt_{name}")
            with m.If(self.start):
                m.d.sync += cnt.eq(0)
            with m.Elif(events[name]):
                m.d.sync += cnt.eq(cnt + 1)
            counters.append(cnt)

        # ---- host port -------------------------------------------------------------------
        mem = self.h_mem
        we = self.h_we & self.h_sel
        m.d.comb += [
            ptr.h_addr.eq(self.h_off), ptr.h_wdata.eq(self.h_wdata),
            ptr.h_we_even.eq(we & (mem == MEM["ptr_even"])), ptr.h_we_odd.eq(we & (mem == MEM["ptr_odd"])),
            spmat.h_addr.eq(self.h_off), spmat.h_wdata.eq(self.h_wdata), spmat.h_we.eq(we & (mem == MEM["spmat"])),
            arith.h_addr.eq(self.h_off), arith.h_wdata.eq(self.h_wdata),
            arith.h_we.eq(we & (mem == MEM["codebook"])),
            act.h_addr.eq(self.h_off), act.h_wdata.eq(self.h_wdata),
            act.h_we_src.eq(we & (mem == MEM["act"])), act.h_we_next.eq(we & (mem == MEM["act_next"])),
        ]
        # every source is presented three cycles after h_off: the line memory reads in three
        # (registered address), the other block RAMs in two plus a register, the codebook
        # and the counters in one plus two
        lat = 3
        mem_q = [Signal(3, name=f"mem_q{i}") for i in range(lat)]
        cnt_q = [Signal(COUNTER_BITS, name=f"cnt_q{i}") for i in range(lat)]
        counter_sel = Array(counters + [0] * (8 - len(counters)))
        m.d.sync += [mem_q[0].eq(mem), cnt_q[0].eq(counter_sel[self.h_off[:3]])]
        for i in range(1, lat):
            m.d.sync += [mem_q[i].eq(mem_q[i - 1]), cnt_q[i].eq(cnt_q[i - 1])]

        def later(sig, n, tag):
            for i in range(n):
                q = Signal.like(sig, name=f"{tag}_d{i}")
                m.d.sync += q.eq(sig)
                sig = q
            return sig

        srcs = [later(ptr.h_even, 1, "h_even"), later(ptr.h_odd, 1, "h_odd"), spmat.h_rdata,
                later(arith.h_rdata, 2, "h_cb"), later(act.h_src, 1, "h_src"), act.h_out,
                later(act.h_next, 1, "h_next"), cnt_q[-1]]
        # each source extended to data_bits by its own signedness (signed: sign-extended)
        ext = []
        for i, src in enumerate(srcs):
            e = Signal(hw.data_bits, name=f"h_src{i}_ext")
            m.d.comb += e.eq(src)
            ext.append(e)
        # an 8:1 choice of data_bits-wide words in two registered steps (4:1 then 2:1): one
        # select register fanned out to every bit behind two LUT levels was a critical path
        half = [Signal(hw.data_bits, name=f"h_half{i}") for i in range(2)]
        hsel = Signal()
        m.d.sync += [half[0].eq(Array(ext[:4])[mem_q[-1][:2]]), half[1].eq(Array(ext[4:])[mem_q[-1][:2]]),
                     hsel.eq(mem_q[-1][2]), self.h_rdata.eq(Mux(hsel, half[1], half[0]))]
        return m
