"""One processing element (`pe`) [arch §5.2-§5.6].

``ActQueue`` → ``PtrRead`` (pop, pointer pair, issue) → ``SpmatRead`` (line, entry select)
→ ``Arith`` (row, codebook, multiply, round-shift, accumulate) ↔ ``ActRW`` (register
files), plus the PE's statistics counters and its slice of the host port.

``idle`` (combinational) is the PE's part of the end-of-pass rule [arch §5.7]: the queue
is empty at the start of the cycle, no entry is issued in the cycle and no entry issued
earlier is still in the pipeline.  A PE that popped an empty column in cycle P is idle in
P+1; one whose last entry issued in t is busy through t+5.

Host port (already registered once by the top level; see :mod:`eie.hdl.host` for the map):
``h_sel`` (this PE is addressed), ``h_mem``, ``h_off``, ``h_wdata``, ``h_we``.
``h_rdata`` holds the word addressed two cycles earlier (reads have no side effect).  Signed quantities
(activations, codebook values, outputs) are sign-extended to ``data_bits``.
"""

from amaranth.hdl import Array, Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .act_queue import ActQueue
from .act_rw import ActRW
from .arith import Arith
from .host import MEM, PE_COUNTERS
from .params import COUNTER_BITS, HWConfig
from .ptr_read import PtrRead
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
            "start": In(1),
            "running": In(1),
            "lnzd_run": In(1),
            "src_sel": In(1),
            "relu": In(1),
            "shift": In(6),
            "wb_start": In(1),
            "wb_base": In(max(1, hw.act_addr_bits)),
            "wb_busy": Out(1),
            "bcast_valid": In(1),
            "bcast_j": In(hw.col_bits),
            "bcast_a": In(signed(c.act_bits)),
            "room": Out(1),
            "src_addr": In(hw.group_bits),
            "src_data": Out(signed(c.act_bits)),
            "idle": Out(1),
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
        m.submodules.ptr = ptr = PtrRead(hw, init_even=init.get("ptr_even", ()), init_odd=init.get("ptr_odd", ()))
        m.submodules.spmat = spmat = SpmatRead(hw, init_lines=init.get("lines", ()))
        m.submodules.arith = arith = Arith(hw, init_codebook=init.get("codebook", ()))
        m.submodules.act = act = ActRW(hw, init_act=init.get("act", ()))

        for unit in (ptr, spmat, arith, act):
            m.d.comb += [unit.start.eq(self.start), unit.running.eq(self.running)]
        # broadcast → queue → pointer read
        m.d.comb += [
            queue.push.valid.eq(self.bcast_valid),
            queue.push.payload.j.eq(self.bcast_j),
            queue.push.payload.a.eq(self.bcast_a),
            self.room.eq(queue.room),
        ]
        wiring.connect(m, queue.pop, ptr.col)
        m.d.comb += [
            spmat.issue_valid.eq(ptr.issue_valid), spmat.issue_e.eq(ptr.issue_e),
            spmat.issue_first.eq(ptr.issue_first), spmat.issue_a.eq(ptr.issue_a),
            arith.in_valid.eq(spmat.out_valid), arith.in_first.eq(spmat.out_first), arith.in_a.eq(spmat.out_a),
            arith.in_v.eq(spmat.out_v), arith.in_z.eq(spmat.out_z), arith.shift.eq(self.shift),
            act.acc_raddr.eq(arith.acc_raddr), act.acc_ren.eq(arith.acc_ren), arith.acc_rdata.eq(act.acc_rdata),
            act.acc_waddr.eq(arith.acc_waddr), act.acc_wdata.eq(arith.acc_wdata), act.acc_we.eq(arith.acc_we),
            act.lnzd_run.eq(self.lnzd_run), act.src_sel.eq(self.src_sel), act.relu.eq(self.relu),
            act.src_addr.eq(self.src_addr), self.src_data.eq(act.src_data),
            act.wb_start.eq(self.wb_start), act.wb_base.eq(self.wb_base), self.wb_busy.eq(act.wb_busy),
            self.idle.eq(queue.empty & ~ptr.issuing & ~spmat.out_valid & ~arith.busy),
        ]

        # ---- statistics [arch §6] -----------------------------------------------------------
        events = {"entries": arith.ev_entry, "padding": arith.ev_padding, "empty_columns": ptr.ev_empty,
                  "line_reads": spmat.ev_line, "pops": ptr.ev_pop, "bypasses": arith.ev_bypass}
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
        mem_q = Signal(3)
        cnt_q = Signal(COUNTER_BITS)
        counter_sel = Array(counters + [0] * (8 - len(counters)))
        m.d.sync += [mem_q.eq(mem), cnt_q.eq(counter_sel[self.h_off[:3]])]
        sources = Array([ptr.h_even, ptr.h_odd, spmat.h_rdata, arith.h_rdata, act.h_src, act.h_out, act.h_next,
                         cnt_q])
        m.d.sync += self.h_rdata.eq(sources[mem_q])
        return m
