"""The CCU's source prefetch [arch §5.1]: groups read from the PEs' source banks (a model
of the banks behind ``rd_en``, ``SRC_LATENCY`` cycles) reach the head in order, with their
values and non-zero flags, whatever the consumer's pace; one group per cycle is sustained."""

import random

import pytest
from amaranth.sim import Simulator

from eie.config import EIEConfig
from eie.hdl.params import SRC_LATENCY, HWConfig
from eie.hdl.src_prefetch import SrcPrefetch


def run_prefetch(n, groups, acts, take, max_cycles=2000, vendor="generic"):
    """Drive ``SrcPrefetch`` with bank models; ``take(c)`` says whether the consumer takes
    the head group in cycle c (when there is one).  Returns the groups taken (values) and
    the cycles in which the head was valid.  ``vendor`` "ice40" builds the netlist without
    ``timing_registers`` (one LUT RAM for every PE's word, not one per announce group)."""
    hw = HWConfig(EIEConfig(pes=n, regfile_entries=4), spmat_lines=4, ptr_words=4, act_depth=64, vendor=vendor)
    dut = SrcPrefetch(hw)
    box = {}

    async def bench(ctx):
        ctx.set(dut.arm, 1)
        ctx.set(dut.live, 1)
        ra = [0] * n
        pipe = [[0] * n for _ in range(SRC_LATENCY)]  # words read 1 .. SRC_LATENCY cycles ago
        taken, valid_cycles = [], []
        c = 0
        while len(taken) < groups:
            for p in range(n):
                ctx.set(dut.src[p].data, pipe[-1][p])
            new = []
            for p in range(n):
                if ctx.get(dut.src[p].rd_en):
                    new.append(acts[ra[p] * n + p] if ra[p] < groups else 0)
                    ra[p] += 1
                else:
                    new.append(pipe[0][p])            # the array latch holds
            adv = False
            if c > 0 and ctx.get(dut.head_valid):
                valid_cycles.append(c)
                vals = [ctx.get(dut.head_val[q]) for q in range(n)]
                nz = ctx.get(dut.head_nz)
                assert nz == sum(1 << q for q, v in enumerate(vals) if v != 0), c
                adv = take(c)
                if adv:
                    taken.append(vals)
            ctx.set(dut.advance, adv)
            await ctx.tick()
            ctx.set(dut.arm, 0)
            pipe = [new] + pipe[:-1]
            c += 1
            assert c < max_cycles, "the prefetch stopped delivering groups"
        box["out"] = taken, valid_cycles

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return box["out"]


@pytest.mark.parametrize("vendor", ["generic", "ice40"])
@pytest.mark.parametrize("n,seed", [(1, 0), (3, 1), (4, 2), (8, 3), (16, 4)])
def test_groups_in_order(n, seed, vendor):
    assert HWConfig(EIEConfig(pes=n), vendor=vendor).timing_registers == (vendor != "ice40")
    rng = random.Random(seed)
    groups = rng.randrange(20, 60)
    acts = [rng.choice([0, 0, rng.randrange(-500, 500)]) for _ in range(groups * n)]
    pace = rng.choice([0.3, 0.7])
    taken, _ = run_prefetch(n, groups, acts, lambda c: rng.random() < pace, vendor=vendor)
    assert taken == [acts[g * n:(g + 1) * n] for g in range(groups)]


@pytest.mark.parametrize("vendor", ["generic", "ice40"])
def test_one_group_per_cycle(vendor):
    """Taking the head every cycle: once the first group is there, the head stays valid."""
    n, groups = 4, 50
    acts = [(i % 7) - 3 for i in range(groups * n)]
    taken, valid = run_prefetch(n, groups, acts, lambda c: True, vendor=vendor)
    assert taken == [acts[g * n:(g + 1) * n] for g in range(groups)]
    assert valid == list(range(valid[0], valid[0] + groups))
