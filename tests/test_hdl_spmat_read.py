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
    """Entries issued in increasing order (with gaps and idle cycles): the line of the entry
    issued in t is presented in t-2 (registered, read in t-1, only when it changes), the
    entry comes out in t+1."""
    rng = random.Random(wb * 7 + ib + line_bits)
    cfg = EIEConfig(pes=1, weight_bits=wb, index_bits=ib, line_bits=line_bits, regfile_entries=4)
    epl = cfg.entries_per_line
    n = 60
    entries = [(rng.randrange(1 << wb), rng.randrange(1 << ib)) for _ in range(n)]
    lines = _lines(entries, cfg)
    hw = HWConfig(cfg, spmat_lines=len(lines), ptr_words=4, act_depth=4)
    # issue runs of increasing entry addresses with gaps and idle cycles, as columns do
    seq, e = [None, None], 0             # idle first: entry lines are presented two cycles early
    while e < n:
        run = rng.randrange(1, 6)
        seq += list(range(e, min(n, e + run)))
        seq += [None] * rng.choice([0, 0, 1, 3])
        e += run + rng.choice([0, 0, 1, 9])
    issued = [x for x in seq if x is not None]
    dut = SpmatRead(hw, init_lines=lines)

    async def bench(ctx):
        ctx.set(dut.ctl.start, 1)
        await ctx.tick()
        ctx.set(dut.ctl.start, 0)
        ctx.set(dut.ctl.running, 1)
        got, reads, last = [], 0, None
        for c in range(len(seq) + 4):
            cur = seq[c] if c < len(seq) else None
            nxt = seq[c + 2] if c + 2 < len(seq) else None
            ctx.set(dut.issue.valid, cur is not None)
            if cur is not None:
                ctx.set(dut.issue.slot, cur % epl)
                ctx.set(dut.issue.first, c % 2)
                ctx.set(dut.issue.a, c)
            need = nxt is not None and nxt // epl != last
            ctx.set(dut.issue.spec_line, 0 if nxt is None else nxt // epl)
            ctx.set(dut.issue.spec_ce, need)
            if need:
                last = nxt // epl
                reads += 1
            if ctx.get(dut.entry.valid):
                got.append((ctx.get(dut.entry.v), ctx.get(dut.entry.z), ctx.get(dut.entry.first), ctx.get(dut.entry.a)))
                assert seq[c - 1] is not None and ctx.get(dut.entry.a) == c - 1
            await ctx.tick()
        want = [(*entries[x], c % 2, c) for c, x in enumerate(seq) if x is not None]
        assert got == want
        assert reads == len({x // epl for x in issued})

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
