"""ActRW [arch §4, §5.6]: write-out (saturate, ReLU), destination cleared at start,
write-back into the next bank and the swap."""

import random

from amaranth.sim import Simulator

from eie.config import EIEConfig
from eie.hdl.act_rw import ActRW, write_out_ref
from eie.hdl.params import HWConfig


def test_write_out_ref():
    assert write_out_ref(40000, 16, False) == 32767
    assert write_out_ref(-40000, 16, False) == -32768
    assert write_out_ref(-5, 16, True) == 0
    assert write_out_ref(5, 16, True) == 5


def test_clear_writeback_swap():
    rng = random.Random(1)
    cfg = EIEConfig(pes=1, act_bits=8, acc_bits=12, regfile_entries=6)
    hw = HWConfig(cfg, spmat_lines=4, ptr_words=4, act_depth=16, dst_depth=8)
    vals = [rng.randrange(-2048, 2048) for _ in range(cfg.regfile_entries)]
    vals[0], vals[1] = 2047, -2048
    dut = ActRW(hw, init_act=list(range(1, 17)))

    async def bench(ctx):
        # fill the destination through the accumulate port
        ctx.set(dut.ctl.running, 1)
        for r, v in enumerate(vals):
            ctx.set(dut.acc.waddr, r)
            ctx.set(dut.acc.wdata, v)
            ctx.set(dut.acc.we, 1)
            await ctx.tick()
        ctx.set(dut.acc.we, 0)
        ctx.set(dut.ctl.running, 0)
        ctx.set(dut.relu, 1)
        # write-back to next-bank addresses 3 ..
        ctx.set(dut.wb_base, 3)
        # wb_busy_next must equal the next cycle's wb_busy in every cycle (the top registers
        # its per-PE busy copies from it); a start while busy is ignored
        assert not ctx.get(dut.wb.busy) and not ctx.get(dut.wb.busy_next)
        busy_cycles = 0
        for i in range(40):
            ctx.set(dut.wb.start, int(i in (0, 3)))
            nxt, busy = ctx.get(dut.wb.busy_next), ctx.get(dut.wb.busy)
            await ctx.tick()
            assert ctx.get(dut.wb.busy) == nxt, i
            busy_cycles += busy
            if i > 0 and not busy:
                break
        else:
            raise AssertionError("write-back never ended")
        ctx.set(dut.wb.start, 0)
        assert busy_cycles == cfg.regfile_entries + 2      # active for each entry, two pending stages
        for r, v in enumerate(vals):                     # host reads: two cycles
            ctx.set(dut.h_addr, 3 + r)
            await ctx.tick()
            ctx.set(dut.h_addr, 0)
            await ctx.tick()
            assert ctx.get(dut.h_next) == write_out_ref(v, cfg.act_bits, True)
            assert ctx.get(dut.h_src) == 4 + r              # the source bank is untouched
        # swap: the written bank becomes the source; the prefetch reads it from address 0
        ctx.set(dut.src_sel, 1)
        ctx.set(dut.ctl.pf_active, 1)
        ctx.set(dut.ctl.arm, 1)
        await ctx.tick()
        ctx.set(dut.ctl.arm, 0)
        got = []
        for c in range(8):
            ctx.set(dut.src.rd_en, c < 5)
            if c >= 3:                                  # SRC_LATENCY
                got.append(ctx.get(dut.src.data))
            await ctx.tick()
        assert got[:5] == [0, 0, 0] + [write_out_ref(v, cfg.act_bits, True) for v in vals[:2]]
        ctx.set(dut.ctl.pf_active, 0)
        # start clears the destination file in one cycle
        ctx.set(dut.ctl.start, 1)
        await ctx.tick()
        ctx.set(dut.ctl.start, 0)
        for r in range(hw.dst_depth):
            ctx.set(dut.h_addr, r)
            ctx.set(dut.acc.raddr, r)
            await ctx.tick()
            assert ctx.get(dut.acc.rdata) == 0
            await ctx.tick()
            await ctx.tick()
            assert ctx.get(dut.h_out) == 0

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
