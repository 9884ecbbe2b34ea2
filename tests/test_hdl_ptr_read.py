"""PtrRead [arch §3, §5.3]: pointer banks give p_j, p_{j+1}; pops and issues follow
P_k = max(b_k + 1, P_{k-1} + max(L_{k-1}, 1))."""

import random

import pytest
from amaranth.sim import Simulator

from eie.config import EIEConfig
from eie.hdl.params import HWConfig
from eie.hdl.ptr_read import PtrRead, pop_ref


def test_pop_ref_examples():
    # columns of 3, 0, 1 entries all visible from cycle 1: pops 1, 4, 5; issues 2..4 and 6
    assert pop_ref([1, 1, 1], [3, 0, 1]) == ([1, 4, 5], [2, 3, 4, 6])
    # a late column waits for its broadcast
    assert pop_ref([1, 10], [2, 2]) == ([1, 10], [2, 3, 11, 12])


@pytest.mark.parametrize("seed", range(6))
def test_ptr_read_matches_contract(seed):
    rng = random.Random(seed)
    n_cols = rng.randrange(2, 30)
    cfg = EIEConfig(pes=1, regfile_entries=4, ptr_bits=10)
    hw = HWConfig(cfg, spmat_lines=4, ptr_words=(n_cols + 2) // 2 + 1, act_depth=64)
    lengths_all = [rng.choice([0, 0, 1, 1, 2, 3, 7]) for _ in range(n_cols)]
    ptr = [0]
    for ln in lengths_all:
        ptr.append(ptr[-1] + ln)
    # broadcast a random increasing subset of the columns, at random cycles
    cols = sorted(rng.sample(range(n_cols), rng.randrange(1, n_cols + 1)))
    avail, c = [], 0
    for _ in cols:
        c += rng.choice([1, 1, 1, 2, 5])
        avail.append(c)
    acts = [rng.randrange(-99, 100) for _ in cols]
    lengths = [lengths_all[j] for j in cols]
    pops_ref, issues_ref = pop_ref(avail, lengths)
    entries_ref = [e for j in cols for e in range(ptr[j], ptr[j + 1])]
    firsts_ref = [e == ptr[j] for j in cols for e in range(ptr[j], ptr[j + 1])]
    acts_ref = [a for j, a in zip(cols, acts, strict=True) for _ in range(ptr[j], ptr[j + 1])]

    dut = PtrRead(hw, init_even=ptr[0::2], init_odd=ptr[1::2])

    async def bench(ctx):
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        ctx.set(dut.running, 1)
        k = 0
        pops, issues, entries, firsts, iacts, empties = [], [], [], [], [], 0
        last = max(issues_ref + pops_ref)
        for c in range(last + 4):
            visible = k < len(cols) and avail[k] <= c
            ctx.set(dut.col.valid, visible)
            if visible:
                ctx.set(dut.col.payload, {"j": cols[k], "a": acts[k]})
            if visible and ctx.get(dut.col.ready):
                pops.append(c)
                k += 1
            if ctx.get(dut.issue_valid):
                issues.append(c)
                entries.append(ctx.get(dut.issue_e))
                firsts.append(bool(ctx.get(dut.issue_first)))
                iacts.append(ctx.get(dut.issue_a))
            empties += ctx.get(dut.ev_empty)
            await ctx.tick()
        assert pops == pops_ref
        assert issues == issues_ref
        assert entries == entries_ref
        assert firsts == firsts_ref
        assert iacts == acts_ref
        assert empties == lengths.count(0)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_bank_addressing():
    """p_j/p_{j+1} for even and odd j come from even[j/2], odd[j/2] / odd[(j-1)/2], even[(j+1)/2]."""
    cfg = EIEConfig(pes=1, regfile_entries=4)
    hw = HWConfig(cfg, spmat_lines=4, ptr_words=8, act_depth=16)
    ptr = [0, 3, 3, 4, 9, 9, 10, 12, 13, 20]
    dut = PtrRead(hw, init_even=ptr[0::2], init_odd=ptr[1::2])

    async def bench(ctx):
        for m in range(5):
            ctx.set(dut.h_addr, m)
            await ctx.tick()
            assert ctx.get(dut.h_even) == ptr[2 * m]
            if 2 * m + 1 < len(ptr):
                assert ctx.get(dut.h_odd) == ptr[2 * m + 1]

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
