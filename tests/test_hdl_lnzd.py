"""LNZD tree and CCU scanner [arch §5.1] against the contract's scanner and the f_k/gap
recurrence."""

import random

import pytest
from amaranth.hdl import signed
from amaranth.sim import Simulator

from eie.config import EIEConfig
from eie.hdl.lnzd import CCU, LNZDTree, lnzd_levels, scan_ref
from eie.hdl.params import PREROLL, SRC_LATENCY, HWConfig, announce_groups


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


def run_ccu(hw, acts, groups, bias_act, room, max_cycles=3000):
    """Drive the CCU as the array does: source banks with a two-cycle read behind ``rd_en``,
    arm, PREROLL cycles, start (cycle −1), running.  Returns ``(broadcasts, searches,
    stalls)`` with broadcasts ``(b_k, j_k, a_k)``: the strobe cycles paired in order with the
    announced elements."""
    n = hw.pes
    dut = CCU(hw)
    box = {}

    async def bench(ctx):
        ctx.set(dut.groups, groups)
        ctx.set(dut.bias_act, bias_act)
        for arm in (dut.ctl.arm, dut.arm_pf, dut.arm_ps):       # the array's copies of arm
            ctx.set(arm, 1)
        ra = [0] * n
        pipe = [[0] * n for _ in range(SRC_LATENCY)]  # words read 1 .. SRC_LATENCY cycles ago
        anns, strobes, searches, stalls = [], [], 0, 0
        c = -PREROLL - 1                              # the arm cycle
        while True:
            for p in range(n):
                ctx.set(dut.pes[p].src.data, pipe[-1][p])
                # the PEs' flags of cycle c: room at the start of c+1 (the CCU registers
                # their AND; it assumes room in cycle 0, where every queue is empty)
                ctx.set(dut.pes[p].bc.room_push, room(c + 1) if c >= 0 else 0)
                ctx.set(dut.pes[p].bc.room_nopush, room(c + 1) if c >= 0 else 0)
            new = []
            for p in range(n):
                if ctx.get(dut.pes[p].src.rd_en):
                    g = ra[p]
                    new.append(acts[g * n + p] if g < groups else 0)
                    ra[p] += 1
                else:
                    new.append(pipe[0][p])            # the array latch holds
            if ctx.get(dut.pes[0].ann.valid):
                anns.append((ctx.get(dut.pes[0].ann.j), ctx.get(dut.pes[0].ann.a)))
            if ctx.get(dut.bcast):
                strobes.append(c)
            for link in dut.pes:                      # every PE sees the same bus and strobe
                assert ctx.get(link.bc.strobe) == ctx.get(dut.bcast)
                for field in ("valid", "j", "a"):       # (through the announce fan-out tree)
                    assert ctx.get(getattr(link.ann, field)) == ctx.get(getattr(dut.pes[0].ann, field))
            searches += ctx.get(dut.ev_search)
            stalls += ctx.get(dut.ev_stall)
            assert not ctx.get(dut.fault), f"CCU fault in cycle {c}"
            await ctx.tick()
            pipe = [new] + pipe[:-1]
            c += 1
            for arm in (dut.ctl.arm, dut.arm_pf, dut.arm_ps):
                ctx.set(arm, 0)
            ctx.set(dut.ctl.start, c == -1)
            ctx.set(dut.ctl.running, c >= 0)
            if ctx.get(dut.bias_sent):
                break
            assert c < max_cycles, "CCU never sent the bias element"
        assert len(anns) >= len(strobes)
        box["out"] = ([(b, j, a) for b, (j, a) in zip(strobes, anns, strict=False)], searches, stalls)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return box["out"]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 9, 10, 16, 17, 64, 100])
def test_announce_groups_cover_every_pe_once(n):
    """The announce tree: consecutive groups, every PE in exactly one, no copy drives more
    than ceil(sqrt(N)) PEs and the announce register no more than ceil(sqrt(N)) copies."""
    groups = announce_groups(n)
    flat = [p for g in groups for p in g]
    assert flat == list(range(n))
    bound = -(-n ** 0.5 // 1)                     # ceil(sqrt(n)), computed apart from isqrt
    assert all(1 <= len(g) <= bound for g in groups)
    assert len(groups) <= bound


def test_announce_groups_rejects_bad_counts():
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError):
            announce_groups(bad)


@pytest.mark.parametrize("n,fanin,seed", [(1, 2, 0), (4, 4, 1), (5, 3, 2), (8, 2, 3)])
def test_ccu_matches_scan_ref(n, fanin, seed):
    """Broadcast cycles, elements, searches and stalls equal the contract's scanner, with
    random stalls, long runs of empty groups and the bias group."""
    rng = random.Random(seed)
    cfg = EIEConfig(pes=n, lnzd_fanin=fanin, regfile_entries=4)
    hw = HWConfig(cfg, spmat_lines=4, ptr_words=8, act_depth=32)
    for trial in range(5):
        groups = rng.randrange(1, 24)
        dens = rng.choice([0.0, 0.1, 0.5, 1.0])
        acts = [rng.randrange(-300, 300) if rng.random() < dens else 0 for _ in range(groups * n)]
        stall_p = 0.0 if trial == 0 else rng.choice([0.2, 0.6, 0.9])
        # cycle 0 always has room (every queue is empty at the start of a pass)
        room_l = [True] + [rng.random() >= stall_p for _ in range(3001)]
        bc_ref, _, searches_ref, stalls_ref = scan_ref(acts, n, groups, 1 << 10, room=room_l.__getitem__)
        got = run_ccu(hw, acts, groups, 1 << 10, room_l.__getitem__)
        assert got == (bc_ref, searches_ref, stalls_ref)
