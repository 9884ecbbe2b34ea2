"""Pointer read [arch §3, §5.3]: the prefetcher turns announced columns into descriptors
(L, first line/slot, line-read flag); the issue logic pops and issues on the contract's
cycles P_k = max(b_k + 1, P_{k-1} + max(L_{k-1}, 1)), presenting each entry's line one
cycle early for the two-cycle line memory."""

import random

import pytest
from amaranth.sim import Simulator

from eie.config import EIEConfig
from eie.hdl.params import HWConfig
from eie.hdl.ptr_read import Issue, PtrPrefetch, pop_ref


def test_pop_ref_examples():
    # columns of 3, 0, 1 entries all visible from cycle 1: pops 1, 4, 5; issues 2..4 and 6
    assert pop_ref([1, 1, 1], [3, 0, 1]) == ([1, 4, 5], [2, 3, 4, 6])
    # a late column waits for its broadcast
    assert pop_ref([1, 10], [2, 2]) == ([1, 10], [2, 3, 11, 12])


def descriptors(ptr, cols, acts, epl, spmat_base=0):
    """Expected descriptors of the columns ``cols`` (in order) [arch §3, §5.4]."""
    out, last = [], None
    for j, a in zip(cols, acts, strict=True):
        lo, hi = ptr[j], ptr[j + 1]
        ln = hi - lo
        newline = ln > 0 and (last is None or lo // epl != last)
        if ln > 0:
            last = (hi - 1) // epl
        out.append({"line0": spmat_base + lo // epl, "line1": spmat_base + (lo + 1) // epl,
                    "line2": spmat_base + (lo + 2) // epl, "slot0": lo % epl, "slot2": (lo + 2) % epl,
                    "wrap0": int((lo + 1) // epl != lo // epl), "wrap1": int((lo + 2) // epl != (lo + 1) // epl),
                    "lm1": (ln - 1) & 0xFFFF, "a": a, "z": int(ln == 0), "one": int(ln == 1), "two": int(ln == 2),
                    "ge3": int(ln >= 3), "ge4": int(ln >= 4), "newline": int(newline)})
    return out


@pytest.mark.parametrize("seed", range(8))
def test_issue_matches_contract(seed):
    """Pop and issue cycles, slots, first flags and activations follow the contract; the line
    memory (reads registered from spec_line/spec_ce, one cycle early) holds each entry's line
    when the entry is selected; ev_line counts the contract's line reads."""
    rng = random.Random(seed)
    cfg = EIEConfig(pes=1, regfile_entries=4, line_bits=rng.choice([64, 24, 8]))
    epl = cfg.entries_per_line
    hw = HWConfig(cfg, spmat_lines=256, ptr_words=64, act_depth=64)
    n_cols = rng.randrange(2, 30)
    lengths_all = [rng.choice([0, 0, 1, 1, 2, 3, 7, 12]) for _ in range(n_cols)]
    ptr = [0]
    for ln in lengths_all:
        ptr.append(ptr[-1] + ln)
    cols = sorted(rng.sample(range(n_cols), rng.randrange(1, n_cols + 1)))
    avail, c = [], 0
    for _ in cols:
        c += rng.choice([1, 1, 1, 2, 5])
        avail.append(c)
    acts = [rng.randrange(-99, 100) for _ in cols]
    desc = descriptors(ptr, cols, acts, epl)
    lengths = [lengths_all[j] for j in cols]
    pops_ref, issues_ref = pop_ref(avail, lengths)
    entries_ref = [e for j in cols for e in range(ptr[j], ptr[j + 1])]
    firsts_ref = [e == ptr[j] for j in cols for e in range(ptr[j], ptr[j + 1])]
    acts_ref = [a for j, a in zip(cols, acts, strict=True) for _ in range(ptr[j], ptr[j + 1])]
    dut = Issue(hw)

    async def bench(ctx):
        ctx.set(dut.ctl.start, 1)
        await ctx.tick()
        ctx.set(dut.ctl.start, 0)
        ctx.set(dut.ctl.running, 1)
        k = 0
        pops, issues, slots, firsts, iacts, empties, line_reads = [], [], [], [], [], 0, 0
        latch = {}                  # cycle -> line in the memory's output register after reading in it
        cur, pending = None, None
        last = max(issues_ref + pops_ref)
        for c in range(last + 4):
            # descriptors are all in the FIFO (written well ahead, as the prefetch does)
            ctx.set(dut.queue.nonempty, k < len(cols) and avail[k] <= c)
            ctx.set(dut.queue.head_ok, k < len(cols))
            ctx.set(dut.queue.next_ok, k + 1 < len(cols))
            if k < len(cols):
                ctx.set(dut.queue.head, desc[k])
            if k + 1 < len(cols):
                ctx.set(dut.queue.next, desc[k + 1])
            if pending is not None:                   # the registered read happens in this cycle
                cur = pending
            latch[c] = cur
            if ctx.get(dut.queue.pop):
                pops.append(c)
                k += 1
            if ctx.get(dut.entry.valid):
                issues.append(c)
                slots.append(ctx.get(dut.entry.slot))
                firsts.append(bool(ctx.get(dut.entry.first)))
                iacts.append(ctx.get(dut.entry.a))
            pending = ctx.get(dut.entry.spec_line) if ctx.get(dut.entry.spec_ce) else None
            line_reads += ctx.get(dut.ev_line)
            empties += ctx.get(dut.ev_empty)
            assert not ctx.get(dut.fault)
            await ctx.tick()
        assert pops == pops_ref
        assert issues == issues_ref
        assert slots == [e % epl for e in entries_ref]
        # the line read up to cycle t-1 is the entry's line when it is selected in t+1
        assert [latch[t - 1] for t in issues] == [e // epl for e in entries_ref]
        assert firsts == firsts_ref
        assert iacts == acts_ref
        assert empties == lengths.count(0)
        lines = [e // epl for e in entries_ref]
        assert line_reads == sum(1 for i, ln in enumerate(lines) if i == 0 or ln != lines[i - 1])

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("seed", range(4))
def test_prefetch_descriptors(seed):
    """Announced columns (scan order, at most one per cycle, with a pass at bank offset
    ``ptr_base`` and line offset ``spmat_base``) come out as the expected descriptors."""
    rng = random.Random(seed)
    cfg = EIEConfig(pes=1, regfile_entries=4, line_bits=rng.choice([56, 42, 7]), index_bits=3, weight_bits=4)
    epl = cfg.entries_per_line
    n_cols = rng.randrange(3, 40)
    ptr = [0]
    for _ in range(n_cols):
        ptr.append(ptr[-1] + rng.choice([0, 0, 1, 2, 3, 9]))
    ptr.append(ptr[-1])
    ptr_base, spmat_base = rng.randrange(0, 8), rng.randrange(0, 16)
    even = [0] * ptr_base + ptr[0::2]
    odd = [0] * ptr_base + ptr[1::2]
    hw = HWConfig(cfg, spmat_lines=256, ptr_words=len(even) + 2, act_depth=64)
    cols = sorted(rng.sample(range(n_cols + 1), rng.randrange(1, n_cols + 2)))
    acts = [rng.randrange(-99, 100) for _ in cols]
    want = descriptors(ptr, cols, acts, epl, spmat_base)
    dut = PtrPrefetch(hw, init_even=even, init_odd=odd)

    async def bench(ctx):
        ctx.set(dut.ptr_base, ptr_base)
        ctx.set(dut.spmat_base, spmat_base)
        ctx.set(dut.ctl.pf_active, 1)
        ctx.set(dut.ctl.arm, 1)
        await ctx.tick()
        ctx.set(dut.ctl.arm, 0)
        got, k = [], 0
        for _ in range(4 * len(cols) + 20):
            send = k < len(cols) and rng.random() < 0.6
            ctx.set(dut.ann.valid, send)
            if send:
                ctx.set(dut.ann.j, cols[k])
                ctx.set(dut.ann.a, acts[k])
                k += 1
            if ctx.get(dut.desc.valid):
                d = ctx.get(dut.desc.data)
                got.append({f: int(getattr(d, f)) for f in want[0]})

            await ctx.tick()
        assert got == want

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_bank_addressing():
    """Host reads: p_{2m} from the even bank, p_{2m+1} from the odd bank, two cycles later."""
    cfg = EIEConfig(pes=1, regfile_entries=4)
    hw = HWConfig(cfg, spmat_lines=4, ptr_words=8, act_depth=16)
    ptr = [0, 3, 3, 4, 9, 9, 10, 12, 13, 20]
    dut = PtrPrefetch(hw, init_even=ptr[0::2], init_odd=ptr[1::2])

    async def bench(ctx):
        for m in range(5):
            ctx.set(dut.h_addr, m)
            await ctx.tick()
            ctx.set(dut.h_addr, 7)
            await ctx.tick()
            assert ctx.get(dut.h_even) == ptr[2 * m]
            if 2 * m + 1 < len(ptr):
                assert ctx.get(dut.h_odd) == ptr[2 * m + 1]

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
