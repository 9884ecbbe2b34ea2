"""Activation read/write (`act_rw`): source and destination register files of one PE [arch §5.6].

* Two activation banks of ``act_depth`` × ``act_bits`` (signed).  ``src_sel`` names the
  *source* bank (the one the LNZD reads); the other is the *next* bank that receives the
  write-out.  Input i of a layer sits in PE i mod N at address i div N.
* The destination register file: ``dst_depth`` × ``acc_bits``.  It is cleared at
  ``start`` by a valid bit per entry (one cycle for the whole file; an entry whose valid
  bit is off reads as 0 and the first write sets it).
* Write-out [arch §4]: ``y = clamp(acc, −2^(act_bits−1), 2^(act_bits−1) − 1)``, then
  ``max(y, 0)`` if ``relu``.
* Swap [arch §5.6]: ``wb_start`` copies the write-out of every destination entry r to
  address ``wb_base + r`` of the next bank (``dst_depth`` + 1 cycles, ``wb_busy``; pass t
  of a multi-pass layer uses ``wb_base = t·regfile_entries``); the host then flips
  ``src_sel``.  Neither costs a cycle of the pass [arch §5.7].

Ports and timing
----------------
* ``src_addr`` → ``src_data``: one-cycle registered read of the source bank (the LNZD).
  Used while ``lnzd_run``; otherwise the banks read ``h_addr``.
* Accumulate port (from :class:`eie.hdl.arith.Arith`): ``acc_raddr``/``acc_ren`` in cycle
  c → ``acc_rdata`` in c+1 (read-before-write); ``acc_we`` writes at the end of the cycle.
  While not ``running`` the file reads ``wb`` addresses or ``h_addr``.
* Host: ``h_we_src``/``h_we_next`` write a bank; ``h_src``, ``h_next``, ``h_out``
  (write-out of the destination entry) one cycle after ``h_addr``.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .params import HWConfig

__all__ = ["ActRW", "write_out", "write_out_ref"]


def write_out_ref(acc: int, act_bits: int, relu: bool) -> int:
    """The write-out rule on Python integers [arch §4]."""
    lo, hi = -(1 << (act_bits - 1)), (1 << (act_bits - 1)) - 1
    y = min(max(acc, lo), hi)
    return max(y, 0) if relu else y


def write_out(acc, act_bits: int, relu):
    """Amaranth expression of the write-out rule (``acc`` signed, ``relu`` a 1-bit value)."""
    lo, hi = -(1 << (act_bits - 1)), (1 << (act_bits - 1)) - 1
    y = Mux(acc < lo, lo, Mux(acc > hi, hi, acc))
    return Mux(relu & (acc < 0), 0, y)


class ActRW(wiring.Component):
    """Activation banks, destination register file, write-out and swap of one PE."""

    def __init__(self, hw: HWConfig, *, init_act=()):
        self._hw = hw
        self._init_act = list(init_act)
        if len(self._init_act) > hw.act_depth:
            raise ValueError(f"init_act must have at most act_depth={hw.act_depth} values, not {len(self._init_act)}")
        c = hw.config
        ab = max(1, hw.act_addr_bits)
        super().__init__({
            "start": In(1),
            "running": In(1),
            "lnzd_run": In(1),
            "src_sel": In(1),
            "relu": In(1),
            "src_addr": In(hw.group_bits),
            "src_data": Out(signed(c.act_bits)),
            "acc_raddr": In(hw.row_bits),
            "acc_ren": In(1),
            "acc_rdata": Out(signed(c.acc_bits)),
            "acc_waddr": In(hw.row_bits),
            "acc_wdata": In(signed(c.acc_bits)),
            "acc_we": In(1),
            "wb_start": In(1),
            "wb_base": In(ab),
            "wb_busy": Out(1),
            "h_addr": In(max(ab, hw.row_bits)),
            "h_wdata": In(signed(c.act_bits)),
            "h_we_src": In(1),
            "h_we_next": In(1),
            "h_src": Out(signed(c.act_bits)),
            "h_next": Out(signed(c.act_bits)),
            "h_out": Out(signed(c.act_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        hw = self._hw
        c = hw.config
        # ---- destination register file with per-entry valid bits ---------------------
        m.submodules.dst = dst = Memory(shape=signed(c.acc_bits), depth=hw.dst_depth, init=[])
        dst_w, dst_r = dst.write_port(), dst.read_port()
        valid = Signal(hw.dst_depth)
        valid_q = Signal()

        wb_active = Signal()
        wb_pend = Signal()
        wb_cnt = Signal(range(hw.dst_depth + 1))
        wb_waddr = Signal(len(self.wb_base))
        m.d.comb += self.wb_busy.eq(wb_active | wb_pend)

        raddr = Signal(hw.row_bits)
        m.d.comb += raddr.eq(Mux(self.running, self.acc_raddr, Mux(wb_active, wb_cnt, self.h_addr)))
        m.d.comb += [
            dst_r.addr.eq(raddr),
            dst_w.addr.eq(self.acc_waddr), dst_w.data.eq(self.acc_wdata), dst_w.en.eq(self.acc_we),
        ]
        m.d.sync += valid_q.eq(valid.bit_select(raddr, 1))
        with m.If(self.start):
            m.d.sync += valid.eq(0)
        with m.Elif(self.acc_we):
            m.d.sync += valid.bit_select(self.acc_waddr, 1).eq(1)
        acc = Signal(signed(c.acc_bits))
        m.d.comb += [acc.eq(Mux(valid_q, dst_r.data, 0)), self.acc_rdata.eq(acc)]
        out = Signal(signed(c.act_bits))
        m.d.comb += [out.eq(write_out(acc, c.act_bits, self.relu)), self.h_out.eq(out)]

        # ---- write-back sequencer (the swap) ---------------------------------------------
        n_wb = c.regfile_entries                 # one row pass worth of outputs
        wb_full = Signal(len(self.wb_base) + 1)
        m.d.comb += wb_full.eq(self.wb_base + wb_cnt)
        with m.If(self.wb_start & ~self.wb_busy):
            m.d.sync += [wb_active.eq(1), wb_cnt.eq(0)]
        with m.Elif(wb_active):
            m.d.sync += [wb_cnt.eq(wb_cnt + 1), wb_waddr.eq(wb_full)]
            with m.If(wb_cnt == n_wb - 1):
                m.d.sync += wb_active.eq(0)
        # addresses past the bank are dropped rather than wrapped onto its start
        m.d.sync += wb_pend.eq(wb_active & (wb_full < hw.act_depth))

        # ---- activation banks -------------------------------------------------------------
        banks = []
        for b in range(2):
            mem = Memory(shape=signed(c.act_bits), depth=hw.act_depth, init=self._init_act if b == 0 else [])
            m.submodules[f"bank{b}"] = mem
            w, r = mem.write_port(), mem.read_port()
            is_src = self.src_sel == b
            m.d.comb += [
                r.addr.eq(Mux(self.lnzd_run & is_src, self.src_addr, self.h_addr)),
                w.addr.eq(Mux(wb_pend, wb_waddr, self.h_addr)),
                w.data.eq(Mux(wb_pend, out, self.h_wdata)),
                w.en.eq(Mux(is_src, self.h_we_src, self.h_we_next | wb_pend)),
            ]
            banks.append(r.data)
        m.d.comb += [
            self.src_data.eq(Mux(self.src_sel, banks[1], banks[0])),
            self.h_src.eq(Mux(self.src_sel, banks[1], banks[0])),
            self.h_next.eq(Mux(self.src_sel, banks[0], banks[1])),
        ]
        return m
