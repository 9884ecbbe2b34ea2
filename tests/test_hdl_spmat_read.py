"""SpmatRead [arch §3, §5.4]: entry select from lines, last-line buffer, line-read count."""

import random

import pytest
from amaranth.sim import Simulator

from eie.config import EIEConfig
from eie.hdl.params import HWConfig
from eie.hdl.spmat_read import SpmatRead, divmod_const_params


@pytest.mark.parametrize("d", [3, 5, 6, 7, 9, 10, 12, 13, 17, 100, 127])
def test_divmod_const_exact(d):
    width = 16
    mult, s = divmod_const_params(width, d)
    for x in range(1 << width):
        assert (x * mult) >> s == x // d
    # and the largest widths a config allows, at the edges
    mult, s = divmod_const_params(32, d)
    for x in [0, 1, d - 1, d, (1 << 32) - 1, (1 << 32) - d, 123456789]:
        assert (x * mult) >> s == x // d


def _lines(entries, cfg):
    epl, eb = cfg.entries_per_line, cfg.entry_bits
    words = []
    for i in range(0, len(entries), epl):
        w = 0
        for s, (v, z) in enumerate(entries[i:i + epl]):
            w |= (v | (z << cfg.weight_bits)) << (s * eb)
        words.append(w)
    return words


@pytest.mark.parametrize("wb,ib,line_bits", [(4, 4, 64), (4, 4, 8), (3, 2, 40), (2, 3, 30)])
def test_spmat_read_entries_and_line_reads(wb, ib, line_bits):
    rng = random.Random(wb * 7 + ib + line_bits)
    cfg = EIEConfig(pes=1, weight_bits=wb, index_bits=ib, line_bits=line_bits, regfile_entries=4)
    epl = cfg.entries_per_line
    n = 60
    entries = [(rng.randrange(1 << wb), rng.randrange(1 << ib)) for _ in range(n)]
    lines = _lines(entries, cfg)
    hw = HWConfig(cfg, spmat_lines=len(lines), ptr_words=4, act_depth=4)
    # issue runs of increasing entry addresses with gaps, as columns do
    seq, e = [], 0
    while e < n:
        run = rng.randrange(1, 6)
        seq += list(range(e, min(n, e + run)))
        e += run + rng.choice([0, 0, 1, 9])
    dut = SpmatRead(hw, init_lines=lines)

    async def bench(ctx):
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        ctx.set(dut.running, 1)
        got, reads = [], 0
        for c in range(len(seq) + 3):
            if c < len(seq):
                ctx.set(dut.issue_valid, 1)
                ctx.set(dut.issue_e, seq[c])
                ctx.set(dut.issue_first, c % 2)
                ctx.set(dut.issue_a, c)
            else:
                ctx.set(dut.issue_valid, 0)
            reads += ctx.get(dut.ev_line)
            if ctx.get(dut.out_valid):
                got.append((ctx.get(dut.out_v), ctx.get(dut.out_z), ctx.get(dut.out_first), ctx.get(dut.out_a)))
            await ctx.tick()
        assert got == [(*entries[e], i % 2, i) for i, e in enumerate(seq)]
        # line reads = distinct lines holding issued entries (issued in increasing order)
        assert reads == len({e // epl for e in seq})

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
