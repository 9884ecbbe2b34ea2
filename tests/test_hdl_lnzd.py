"""LNZD tree and CCU scanner [arch §5.1] against the contract's scanner and the f_k/gap
recurrence."""

import random

import pytest
from amaranth.hdl import signed
from amaranth.sim import Simulator

from eie.config import EIEConfig
from eie.hdl.lnzd import CCU, LNZDTree, lnzd_levels, scan_ref
from eie.hdl.params import HWConfig


@pytest.mark.parametrize("n,fanin", [(1, 2), (4, 4), (5, 2), (7, 3), (16, 4), (64, 4), (9, 16)])
def test_tree_finds_lowest_nonzero(n, fanin):
    rng = random.Random(n * 100 + fanin)
    dut = LNZDTree(n=n, fanin=fanin, value_shape=signed(8))

    async def bench(ctx):
        cases = [[0] * n, [1] * n] + [[rng.choice([0, 0, 0, rng.randrange(-128, 128)]) for _ in range(n)]
                                      for _ in range(60)]
        for vals in cases:
            for q, v in enumerate(vals):
                ctx.set(dut.found[q], v != 0)
                ctx.set(dut.val[q], v)
            await ctx.delay(1e-9)
            first = next((q for q, v in enumerate(vals) if v != 0), None)
            assert ctx.get(dut.o_found) == (first is not None)
            if first is not None:
                assert ctx.get(dut.o_pos) == first
                assert ctx.get(dut.o_val) == vals[first]

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


def test_node_count_matches_config():
    for n, f in [(64, 4), (5, 2), (1, 2), (4096, 16)]:
        assert sum(lnzd_levels(n, f)) == EIEConfig(pes=n, lnzd_fanin=f).lnzd_nodes


def _gap_recurrence(cols, n):
    """f_k = b_{k-1} + gap_k with no stall (b = f) [arch §5.1]."""
    b, g_prev, q_prev, out = -1, -1, n - 1, []
    for j in cols:
        g, q = divmod(j, n)
        gap = 1 if g == g_prev else (g - g_prev) + (q_prev != n - 1)
        b += gap
        out.append(b)
        g_prev, q_prev = g, q
    return out


def test_scan_ref_matches_gap_recurrence():
    rng = random.Random(5)
    for _ in range(200):
        n = rng.randrange(1, 9)
        groups = rng.randrange(1, 6)
        acts = [rng.choice([0, 0, rng.randrange(1, 50)]) for _ in range(n * groups)]
        bc, found, _, stalls = scan_ref(acts, n, groups, 7)
        assert stalls == 0 and [c for c, _, _ in bc] == found
        assert found == _gap_recurrence([j for _, j, _ in bc], n)
        assert [j for _, j, _ in bc] == [j for j, a in enumerate(acts) if a] + [groups * n]


@pytest.mark.parametrize("n,fanin,seed", [(1, 2, 0), (4, 4, 1), (5, 3, 2), (8, 2, 3)])
def test_ccu_matches_scan_ref(n, fanin, seed):
    rng = random.Random(seed)
    cfg = EIEConfig(pes=n, lnzd_fanin=fanin, regfile_entries=4)
    hw = HWConfig(cfg, spmat_lines=4, ptr_words=8, act_depth=8)
    for trial in range(6):
        groups = rng.randrange(1, 8)
        acts = [rng.choice([0, 0, rng.randrange(-300, 300)]) for _ in range(groups * n)]
        stall_p = 0.0 if trial == 0 else 0.4
        room = [rng.random() >= stall_p for _ in range(2000)]
        bc_ref, _, searches_ref, stalls_ref = scan_ref(acts, n, groups, 1 << 10, room=room.__getitem__)
        dut = CCU(hw)

        async def bench(ctx, dut=dut, acts=acts, groups=groups, room=room, bc_ref=bc_ref,
                        searches_ref=searches_ref, stalls_ref=stalls_ref):
            ctx.set(dut.groups, groups)
            ctx.set(dut.bias_act, 1 << 10)
            ctx.set(dut.start, 1)
            mem = {g: acts[g * n:(g + 1) * n] for g in range(groups)}
            addr = ctx.get(dut.src_addr)
            await ctx.tick()                                  # end of the start cycle (−1)
            ctx.set(dut.start, 0)
            ctx.set(dut.running, 1)
            got, searches, stalls = [], 0, 0
            for c in range(2000):
                for q in range(n):                            # a registered read of last cycle's address
                    ctx.set(dut.acts[q], mem.get(addr, [0] * n)[q])
                ctx.set(dut.room, room[c])
                if ctx.get(dut.bcast_valid):
                    got.append((c, ctx.get(dut.bcast_j), ctx.get(dut.bcast_a)))
                searches += ctx.get(dut.ev_search)
                stalls += ctx.get(dut.ev_stall)
                addr = ctx.get(dut.src_addr)
                await ctx.tick()
                if ctx.get(dut.bias_sent):
                    break
            else:
                raise AssertionError("CCU never sent the bias element")
            assert got == bc_ref
            assert (searches, stalls) == (searches_ref, stalls_ref)

        sim = Simulator(dut)
        sim.add_clock(1e-8)
        sim.add_testbench(bench)
        sim.run()
