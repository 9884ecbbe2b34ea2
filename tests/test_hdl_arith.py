"""Arith + the destination register file [arch §3, §4, §5.5] against the integer formula:
row accumulation with padding, round-shift, wrap-around accumulate, bypass on back-to-back
same-row writes across a column boundary."""

import random

import pytest
from amaranth.hdl import Elaboratable, Module
from amaranth.lib.wiring import connect
from amaranth.sim import Simulator

from eie.config import EIEConfig
from eie.hdl.act_rw import ActRW, write_out_ref
from eie.hdl.arith import Arith, round_shift_ref
from eie.hdl.params import HWConfig


class ArithWithRF(Elaboratable):
    def __init__(self, hw, codebook, prescale=None):
        self.arith = Arith(hw, init_codebook=codebook, prescale=prescale)
        self.act = ActRW(hw)

    def elaborate(self, platform):
        m = Module()
        m.submodules.arith, m.submodules.act = a, r = self.arith, self.act
        connect(m, a.acc, r.acc)
        m.d.comb += [r.ctl.start.eq(a.ctl.start), r.ctl.running.eq(a.ctl.running)]
        return m


def encode_column(rows, codes, max_gap):
    """(v, z) entries of one column [arch §3]: padding (0, max_gap) for long gaps."""
    out, prev = [], -1
    span = max_gap + 1
    for r, v in zip(rows, codes, strict=True):
        gap = r - prev - 1
        out += [(0, max_gap)] * (gap // span)
        out.append((v, gap % span))
        prev = r
    return out


def wrap(x, bits):
    x &= (1 << bits) - 1
    return x - (1 << bits) if x >> (bits - 1) else x


# every residue of s mod 4 (the pre-scaled multiply's k = (-s) mod 4), both ends of the
# range, and shifts past the product's width (all sign)
SHIFTS = [(0, 0), (1, 1), (2, 5), (3, 9), (4, 20), (5, 62), (6, 3), (7, 14), (8, 17), (9, 61)]


@pytest.mark.parametrize("prescale", [False, True], ids=["plain", "prescaled"])
@pytest.mark.parametrize("seed,shift", SHIFTS)
def test_arith_matches_formula(seed, shift, prescale):
    rng = random.Random(seed)
    cfg = EIEConfig(pes=1, act_bits=8, codebook_bits=8, acc_bits=10, index_bits=2, weight_bits=3,
                    line_bits=10, regfile_entries=24)
    hw = HWConfig(cfg, spmat_lines=4, ptr_words=4, act_depth=4)
    codebook = [0] + [rng.randrange(-128, 128) for _ in range(7)]
    codebook[1] = -128
    depth = hw.dst_depth
    # columns: random rows; sometimes start on the previous column's last row (bypass)
    columns = []
    last_row = None
    for _ in range(40):
        k = rng.randrange(1, 5)
        rows = sorted(rng.sample(range(depth), k))
        if last_row is not None and rng.random() < 0.4:
            rows = sorted(set([last_row] + rows[1:]))
            if rows[0] != last_row:
                rows = [last_row] + [r for r in rows if r > last_row]
        codes = [rng.randrange(1, 8) for _ in rows]
        a = rng.choice([-128, 127, rng.randrange(-128, 128)])
        columns.append((a, rows, codes))
        last_row = rows[-1]
    # issue schedule: back to back, or with 1-2 idle cycles between columns
    sched = []
    for a, rows, codes in columns:
        ents = encode_column(rows, codes, cfg.max_gap)
        for i, (v, z) in enumerate(ents):
            sched.append((a, v, z, i == 0))
        sched += [None] * rng.choice([0, 0, 0, 1, 2])
    # reference: in-order accumulation and the bypass count of back-to-back entries
    acc = [0] * depth
    for a, rows, codes in columns:
        for r, v in zip(rows, codes, strict=True):
            acc[r] = wrap(acc[r] + round_shift_ref(a * codebook[v], shift), cfg.acc_bits)
    bypass_ref, prev, row = 0, None, None
    for s in sched:
        if s is None:
            prev = None
            continue
        a, v, z, first = s
        row = z if first else row + z + 1
        if prev is not None and v and prev[0] and prev[1] == row:
            bypass_ref += 1
        prev = (v, row)

    dut = ArithWithRF(hw, codebook, prescale=prescale)
    ar, rf = dut.arith, dut.act

    async def bench(ctx):
        ctx.set(ar.ctl.start, 1)
        await ctx.tick()
        ctx.set(ar.ctl.start, 0)
        ctx.set(ar.ctl.running, 1)
        ctx.set(ar.shift, shift)
        bypasses = entries = padding = 0
        for c in range(len(sched) + 8):
            s = sched[c] if c < len(sched) else None
            ctx.set(ar.entry.valid, s is not None)
            if s is not None:
                a, v, z, first = s
                ctx.set(ar.entry.a, a)
                ctx.set(ar.entry.v, v)
                ctx.set(ar.entry.z, z)
                ctx.set(ar.entry.first, first)
            bypasses += ctx.get(ar.ev_bypass)
            entries += ctx.get(ar.ev_entry)
            padding += ctx.get(ar.ev_padding)
            await ctx.tick()
        assert not ctx.get(ar.busy)
        assert entries == sum(s is not None for s in sched)
        assert padding == sum(s is not None and s[1] == 0 for s in sched)
        assert bypasses == bypass_ref
        ctx.set(ar.ctl.running, 0)
        for relu in (0, 1):
            ctx.set(rf.relu, relu)
            for r in range(depth):
                ctx.set(rf.h_addr, r)
                await ctx.tick()
                await ctx.tick()
                await ctx.tick()                         # the host's write-out: three cycles
                assert ctx.get(rf.h_out) == write_out_ref(acc[r], cfg.act_bits, bool(relu)), f"row {r}"

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_round_shift_ref_matches_fixed():
    from eie.fixed import round_shift
    rng = random.Random(0)
    for _ in range(2000):
        p, s = rng.randrange(-(1 << 40), 1 << 40), rng.randrange(0, 63)
        assert round_shift_ref(p, s) == int(round_shift(p, s))
