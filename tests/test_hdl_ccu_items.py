# amaranth: UnusedElaboratable=no

"""The CCU's item FIFO [arch §5.1] against a bounded deque: ``push.ready`` (registered
"not full"), the head (``pop.valid``/``pop.payload``), pushes and pops in the same cycle,
and ``arm`` emptying it."""

import collections
import random

import pytest
from amaranth.sim import Simulator

from eie.hdl.ccu_items import ItemFIFO
from eie.hdl.params import ITEM_SLOTS


@pytest.mark.parametrize("depth,seed", [(1, 0), (2, 1), (ITEM_SLOTS, 2), (ITEM_SLOTS, 3)])
def test_item_fifo_matches_deque(depth, seed):
    rng = random.Random(seed)
    dut = ItemFIFO(depth=depth)

    async def bench(ctx):
        ctx.set(dut.arm, 1)
        await ctx.tick()
        ctx.set(dut.arm, 0)
        ref = collections.deque()
        p_push, p_pop = 0.5, 0.5
        for c in range(1500):
            if c % 300 == 0:                              # phases: filling, draining, balanced
                p_push, p_pop = rng.choice([(0.9, 0.2), (0.2, 0.9), (0.6, 0.6), (1.0, 1.0)])
            if c == 1000:                                 # arm empties it
                ctx.set(dut.arm, 1)
                await ctx.tick()
                ctx.set(dut.arm, 0)
                ref.clear()
            item = {"elem": rng.randrange(2), "bias": rng.randrange(2)}
            push, pop = rng.random() < p_push, rng.random() < p_pop
            ctx.set(dut.push.valid, push)
            ctx.set(dut.push.payload, item)
            ctx.set(dut.pop.ready, pop)
            room = len(ref) < depth                       # at the start of the cycle
            assert ctx.get(dut.push.ready) == room, c
            assert ctx.get(dut.pop.valid) == bool(ref), c
            if ref:
                head = ctx.get(dut.pop.payload)
                assert (head.elem, head.bias) == ref[0], c
                if pop:
                    ref.popleft()
            if push and room:
                ref.append((item["elem"], item["bias"]))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_item_fifo_depth_error():
    with pytest.raises(ValueError, match=r"depth must be a positive integer, not 0"):
        ItemFIFO(depth=0)
