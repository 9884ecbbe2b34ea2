"""ActQueue [arch §5.2] against a deque with the contract's visibility rule."""

import collections
import random

import pytest
from amaranth.sim import Simulator

from eie.config import EIEConfig
from eie.hdl.act_queue import ActQueue
from eie.hdl.params import HWConfig


def _hw(depth):
    cfg = EIEConfig(pes=2, queue_depth=depth, regfile_entries=4)
    return HWConfig(cfg, spmat_lines=4, ptr_words=4, act_depth=8)


@pytest.mark.parametrize("depth", [1, 2, 3, 8])
@pytest.mark.parametrize("seed", [0, 1])
def test_queue_matches_deque(depth, seed):
    rng = random.Random(seed)
    dut = ActQueue(_hw(depth))
    cycles = 300

    async def bench(ctx):
        ref = collections.deque()
        nxt = 0
        for _ in range(cycles):
            # state at the start of the cycle (registered)
            assert ctx.get(dut.count) == len(ref)
            assert ctx.get(dut.room) == (len(ref) < depth)
            assert ctx.get(dut.empty) == (len(ref) == 0)
            assert ctx.get(dut.pop.valid) == (len(ref) > 0)
            if ref:
                head = ctx.get(dut.pop.payload)
                assert (head.j, head.a) == ref[0]
            push = rng.random() < 0.6
            pop = rng.random() < 0.5
            item = (nxt % 16, rng.randrange(-1000, 1000))
            ctx.set(dut.push.valid, push)
            ctx.set(dut.push.payload, {"j": item[0], "a": item[1]})
            ctx.set(dut.pop.ready, pop)
            # contract: a pop sees only entries pushed in earlier cycles; a push needs room
            # at the start of the cycle (a pop in this cycle frees it for the next one)
            popped = pop and len(ref) > 0
            pushed = push and len(ref) < depth
            if popped:
                ref.popleft()
            if pushed:
                ref.append(item)
                nxt += 1
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
