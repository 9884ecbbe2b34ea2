"""ActRW [arch §4, §5.6]: write-out (saturate, ReLU), destination cleared at start,
write-back into the next bank and the swap."""

import random

import pytest
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
        ctx.set(dut.acc.waddr_next, 0)                     # each write's row, a cycle early
        ctx.set(dut.acc.we_next, 1)
        await ctx.tick()
        for r, v in enumerate(vals):
            ctx.set(dut.acc.waddr_next, r + 1)
            ctx.set(dut.acc.we_next, int(r + 1 < len(vals)))
            ctx.set(dut.acc.wdata, v)
            await ctx.tick()
        ctx.set(dut.ctl.running, 0)
        ctx.set(dut.relu, 1)
        # write-back to next-bank addresses 3 ..
        ctx.set(dut.wb_base, 3)
        # wb_busy_next must equal the next cycle's wb_busy in every cycle (the top registers
        # the per-PE host write enables, gated by busy, from it); a start while busy is ignored
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
        assert busy_cycles == cfg.regfile_entries + 3      # active for each entry, three pending stages
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
            ctx.set(dut.acc.raddr_next, r)              # the row is announced a cycle early
            await ctx.tick()
            ctx.set(dut.acc.raddr, r)
            await ctx.tick()
            assert ctx.get(dut.acc.rdata) == 0
            await ctx.tick()
            assert ctx.get(dut.h_out) == 0

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


async def read_entry(ctx, dut, r):
    """Entry r of the destination file through both read ports: ``(accumulate-port read,
    write-out read)`` (the row announced a cycle early, ``h_out`` three cycles after ``h_addr``)."""
    ctx.set(dut.h_addr, r)
    ctx.set(dut.acc.raddr_next, r)
    await ctx.tick()
    ctx.set(dut.acc.raddr, r)
    await ctx.tick()
    acc = ctx.get(dut.acc.rdata)
    await ctx.tick()
    return acc, ctx.get(dut.h_out)


def test_host_preload_kept_by_keep_acc_start_cleared_by_plain_start():
    """A host write to the destination file sets the accumulator and its valid bit [arch §2];
    a start with ``keep_acc`` keeps the preloaded file (the datapath reads and accumulates onto
    it), a plain start clears it; a preloaded init image is valid from power-up."""
    cfg = EIEConfig(pes=1, act_bits=8, acc_bits=12, regfile_entries=6)
    hw = HWConfig(cfg, spmat_lines=4, ptr_words=4, act_depth=16, dst_depth=8)
    pre = [2047, -2048, 5, -7, 0, 300]                     # 12-bit words; write-out saturates to 8 bits
    dut = ActRW(hw, init_acc=[0, 9, 0, -3])

    async def read_dst(ctx):
        """(accumulate-port reads, write-out reads) of every entry."""
        reads = [await read_entry(ctx, dut, r) for r in range(hw.dst_depth)]
        return [a for a, _ in reads], [o for _, o in reads]

    async def host_write(ctx, words):
        for r, v in enumerate(words + [None]):
            if v is None:
                ctx.set(dut.h_we_dst, 0)
            else:
                ctx.set(dut.h_addr, r)
                ctx.set(dut.h_dst_addr, r)
                ctx.set(dut.h_wacc, v)
                ctx.set(dut.h_we_dst, 1)
            await ctx.tick()

    async def start(ctx, keep):
        ctx.set(dut.keep_acc, keep)
        ctx.set(dut.ctl.start, 1)
        await ctx.tick()
        ctx.set(dut.ctl.start, 0)

    async def bench(ctx):
        acc, _ = await read_dst(ctx)
        assert acc == [0, 9, 0, -3, 0, 0, 0, 0]            # the init image, valid from power-up
        await host_write(ctx, pre)
        await start(ctx, keep=1)
        acc, out = await read_dst(ctx)
        assert acc == pre + [0, 0]                          # entries 6, 7 never written: still 0
        assert out == [write_out_ref(v, cfg.act_bits, False) for v in pre + [0, 0]]
        assert out[:2] == [127, -128]
        # the datapath accumulates onto a preloaded entry (read-before-write, then write)
        ctx.set(dut.ctl.running, 1)
        ctx.set(dut.acc.raddr_next, 2)
        await ctx.tick()
        ctx.set(dut.acc.raddr, 2)
        ctx.set(dut.acc.waddr_next, 2)
        ctx.set(dut.acc.we_next, 1)
        await ctx.tick()
        assert ctx.get(dut.acc.rdata) == 5
        ctx.set(dut.acc.wdata, 5 + 100)
        ctx.set(dut.acc.we_next, 0)
        await ctx.tick()
        ctx.set(dut.ctl.running, 0)
        acc, _ = await read_dst(ctx)
        assert acc == [2047, -2048, 105, -7, 0, 300, 0, 0]
        # relu applies to the write-out of a preloaded entry too
        ctx.set(dut.relu, 1)
        _, out = await read_dst(ctx)
        assert out == [127, 0, 105, 0, 0, 127, 0, 0]
        ctx.set(dut.relu, 0)
        # a plain start clears everything, a keep_acc start afterwards keeps the cleared file
        await start(ctx, keep=0)
        assert (await read_dst(ctx))[0] == [0] * hw.dst_depth
        await host_write(ctx, [1, 2])
        await start(ctx, keep=1)
        assert (await read_dst(ctx))[0] == [1, 2] + [0] * (hw.dst_depth - 2)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_valid_bit_looked_up_early_sees_the_write_of_that_cycle():
    """The datapath's valid bit is looked up a cycle before the read (at ``raddr_next``):
    a write to the same entry in that cycle -- an entry issued two cycles earlier, with the
    same row -- must still be seen, and a plain start in that cycle must still clear it."""
    cfg = EIEConfig(pes=1, act_bits=8, acc_bits=12, regfile_entries=6)
    hw = HWConfig(cfg, spmat_lines=4, ptr_words=4, act_depth=16, dst_depth=8)
    dut = ActRW(hw)

    async def bench(ctx):
        ctx.set(dut.ctl.start, 1)                          # cleared: every entry reads 0
        ctx.set(dut.acc.waddr_next, 3)                     # the write below, a cycle early
        ctx.set(dut.acc.we_next, 1)
        await ctx.tick()
        ctx.set(dut.ctl.start, 0)
        ctx.set(dut.ctl.running, 1)
        # cycle c: entry 3 written (first write: its valid bit is off until the end of c)
        # while the lookup for the read in c+1 of entry 3 happens
        ctx.set(dut.acc.wdata, -77)
        ctx.set(dut.acc.we_next, 0)
        ctx.set(dut.acc.raddr_next, 3)
        await ctx.tick()
        ctx.set(dut.acc.raddr, 3)
        ctx.set(dut.acc.raddr_next, 4)
        await ctx.tick()
        assert ctx.get(dut.acc.rdata) == -77
        ctx.set(dut.acc.raddr, 4)                          # never written: 0
        ctx.set(dut.acc.raddr_next, 3)
        ctx.set(dut.acc.waddr_next, 5)
        ctx.set(dut.acc.we_next, 1)
        await ctx.tick()
        assert ctx.get(dut.acc.rdata) == 0
        # entry 5 written in c, looked up in c+1, read in c+2 (the valid bits lag a cycle)
        ctx.set(dut.acc.wdata, 123)
        ctx.set(dut.acc.we_next, 0)
        await ctx.tick()
        ctx.set(dut.acc.raddr_next, 5)
        await ctx.tick()
        ctx.set(dut.acc.raddr, 5)
        ctx.set(dut.acc.raddr_next, 3)
        await ctx.tick()
        assert ctx.get(dut.acc.rdata) == 123
        # a plain start in the lookup's cycle: the read after it sees the cleared file
        ctx.set(dut.ctl.start, 1)
        await ctx.tick()
        ctx.set(dut.ctl.start, 0)
        ctx.set(dut.acc.raddr, 3)
        await ctx.tick()
        assert ctx.get(dut.acc.rdata) == 0

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_write_in_a_clearing_starts_cycle_is_dropped():
    """A plain start clears the whole file, a write in the start's own cycle included: the
    entry reads 0 afterwards through both read ports (the datapath's and the write-out's),
    while the same write one cycle after the start is kept."""
    cfg = EIEConfig(pes=1, act_bits=8, acc_bits=12, regfile_entries=6)
    hw = HWConfig(cfg, spmat_lines=4, ptr_words=4, act_depth=16, dst_depth=8)
    dut = ActRW(hw)

    async def write(ctx, r, v, start):
        ctx.set(dut.acc.waddr_next, r)                     # the row, a cycle early
        ctx.set(dut.acc.we_next, 1)
        await ctx.tick()
        ctx.set(dut.acc.wdata, v)
        ctx.set(dut.acc.we_next, 0)
        ctx.set(dut.ctl.start, start)
        await ctx.tick()
        ctx.set(dut.ctl.start, 0)

    async def bench(ctx):
        await write(ctx, 2, 55, start=0)
        assert await read_entry(ctx, dut, 2) == (55, 55)
        # the write meets the clearing start, while the write-out port already looks at its
        # entry: in none of the next cycles may it see the write (the lagging one-hot)
        ctx.set(dut.h_addr, 4)
        for _ in range(3):                                 # h_out: three cycles after h_addr
            await ctx.tick()
        assert ctx.get(dut.h_out) == 0
        await write(ctx, 4, 66, start=1)
        for _ in range(4):
            assert ctx.get(dut.h_out) == 0
            await ctx.tick()
        assert await read_entry(ctx, dut, 4) == (0, 0)
        assert await read_entry(ctx, dut, 2) == (0, 0)               # cleared by the start
        await write(ctx, 4, 66, start=0)
        assert await read_entry(ctx, dut, 4) == (66, 66)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_host_write_lands_its_value_whatever_the_datapath_port_holds():
    """The host's preload shares the file's write port with the datapath: neither the
    datapath's (stale) write data nor the word at the port's stale read address may leak
    into it, whatever those hold."""
    cfg = EIEConfig(pes=1, act_bits=8, acc_bits=12, regfile_entries=6)
    hw = HWConfig(cfg, spmat_lines=4, ptr_words=4, act_depth=16, dst_depth=8)
    dut = ActRW(hw, init_acc=[0, 0x555, -1, 0x2AA])
    writes = {0: -2048, 4: 0x0F0, 5: 1, 6: -1366}

    async def bench(ctx):
        for stale in (1, 2, 3):                    # the datapath port left at a valid entry
            ctx.set(dut.acc.raddr_next, stale)
            ctx.set(dut.acc.raddr, stale)
            await ctx.tick()
            ctx.set(dut.acc.wdata, 0x7FF - stale)          # a datapath word left on the port
            for r, v in list(writes.items()) + [(None, None)]:
                ctx.set(dut.h_we_dst, int(r is not None))
                if r is not None:
                    ctx.set(dut.h_dst_addr, r)
                    ctx.set(dut.h_wacc, v)
                await ctx.tick()
            for r, v in writes.items():
                assert (await read_entry(ctx, dut, r)) == (v, write_out_ref(v, cfg.act_bits, False)), (stale, r)
            # the stale entry itself is untouched
            want = [0, 0x555, -1, 0x2AA][stale]
            assert (await read_entry(ctx, dut, stale))[0] == want

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("dst_depth", [8, 40, 64])
def test_every_row_against_a_reference_file(dst_depth):
    """Random host and datapath writes, plain and keep_acc starts, and reads of every row
    (rows past a depth that is not a power of two included: they read 0) through both read
    ports, against a Python dict of the file.  Depths 40 and 64 have six row bits: the
    valid-bit lookups are split in two steps there (``split_lookup``), and rows in every part
    of the valid bits are written, cleared and read."""
    rng = random.Random(dst_depth)
    cfg = EIEConfig(pes=1, act_bits=8, acc_bits=12, regfile_entries=6)
    hw = HWConfig(cfg, spmat_lines=4, ptr_words=4, act_depth=16, dst_depth=dst_depth)
    rows = 1 << hw.row_bits
    dut = ActRW(hw)
    ref = {}

    async def dp_write(ctx, r, v):
        ctx.set(dut.ctl.running, 1)
        ctx.set(dut.acc.waddr_next, r)
        ctx.set(dut.acc.we_next, 1)
        await ctx.tick()
        ctx.set(dut.acc.we_next, 0)
        ctx.set(dut.acc.wdata, v)
        await ctx.tick()
        ctx.set(dut.ctl.running, 0)
        await ctx.tick()

    async def host_write(ctx, r, v):
        ctx.set(dut.h_addr, r)
        ctx.set(dut.h_dst_addr, r)
        ctx.set(dut.h_wacc, v)
        ctx.set(dut.h_we_dst, 1)
        await ctx.tick()
        ctx.set(dut.h_we_dst, 0)
        await ctx.tick()

    async def bench(ctx):
        for step in range(4):
            relu = rng.randrange(2)
            ctx.set(dut.relu, relu)
            for _ in range(3 * dst_depth // 2):
                r, v = rng.randrange(dst_depth), rng.randrange(-2048, 2048)
                await (host_write if rng.randrange(3) == 0 else dp_write)(ctx, r, v)
                ref[r] = v
            for r in rng.sample(range(rows), rows):
                acc, out = await read_entry(ctx, dut, r)
                want = ref.get(r, 0)
                assert (acc, out) == (want, write_out_ref(want, cfg.act_bits, relu)), (step, r)
            keep = step % 2
            ctx.set(dut.keep_acc, keep)
            ctx.set(dut.ctl.start, 1)
            await ctx.tick()
            ctx.set(dut.ctl.start, 0)
            if not keep:
                ref.clear()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("width, abits", [(40, 6), (64, 6), (16, 4), (20, 7)])
def test_split_lookup_is_bit_at_address_a_cycle_late(width, abits):
    """``split_lookup(bits, addr)`` in cycle c+1 is ``bits[addr]`` of cycle c (0 past the
    end): every address, random bit patterns, the bits changing every cycle."""
    from amaranth.hdl import Module, Signal

    from eie.hdl.act_rw import split_lookup
    rng = random.Random(width)
    m = Module()
    bits, addr = Signal(width), Signal(abits)
    got = Signal()
    m.d.comb += got.eq(split_lookup(m, bits, addr, name="t"))

    async def bench(ctx):
        prev = None
        for _ in range(6):
            for a in range(1 << abits):
                b = rng.getrandbits(width)
                ctx.set(bits, b)
                ctx.set(addr, a)
                await ctx.tick()
                ctx.set(bits, rng.getrandbits(width))         # what the lookup must not see
                want = (b >> a) & 1 if a < width else 0
                assert ctx.get(got) == want, (a, prev)
                prev = a

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
