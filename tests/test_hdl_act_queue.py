"""ActQueue [arch §5.2]: the contract's count against a deque with the visibility rule (a
broadcast in cycle c is poppable from c+1; room at the start of c counts every push and pop
of earlier cycles), the registered room flags as the CCU combines them, and the descriptor
FIFO (written ahead of the broadcasts) handing out descriptors in order."""

import collections
import random

import pytest
from amaranth.sim import Simulator

from eie.config import EIEConfig
from eie.hdl.act_queue import ActQueue
from eie.hdl.params import ITEM_SLOTS, HWConfig


def _hw(depth):
    cfg = EIEConfig(pes=2, queue_depth=depth, regfile_entries=4)
    return HWConfig(cfg, spmat_lines=64, ptr_words=4, act_depth=8)


@pytest.mark.parametrize("depth", [1, 2, 3, 8])
@pytest.mark.parametrize("seed", [0, 1])
def test_queue_matches_deque(depth, seed):
    rng = random.Random(seed)
    hw = _hw(depth)
    dut = ActQueue(hw)
    cycles = 400

    async def bench(ctx):
        ctx.set(dut.ctl.arm, 1)
        await ctx.tick()
        ctx.set(dut.ctl.arm, 0)
        ctx.set(dut.ctl.start, 1)
        await ctx.tick()
        ctx.set(dut.ctl.start, 0)
        ctx.set(dut.ctl.running, 1)
        ref = collections.deque()          # contract queue: descriptor ids
        announced = collections.deque()    # written descriptors not yet broadcast
        nxt_wr = nxt_bc = 0
        push_prev = False
        for _ in range(cycles):
            # the state at the start of the cycle
            room = ctx.get(dut.bc.room_push) if push_prev else ctx.get(dut.bc.room_nopush)
            assert room == (len(ref) < depth)
            assert ctx.get(dut.issue.nonempty) == (len(ref) > 0)
            if ref:
                assert ctx.get(dut.issue.head.line0) == ref[0] % 64
            # prefetch: descriptors are written ahead of the broadcasts (bounded lead)
            wr = len(announced) < ITEM_SLOTS and rng.random() < 0.7
            ctx.set(dut.wr.valid, wr)
            ctx.set(dut.wr.data, {"line0": nxt_wr % 64, "slot0": 0, "lm1": 0, "a": 0, "z": 0, "one": 0, "newline": 0})
            push = room and len(announced) > 0 and rng.random() < 0.6
            ready = rng.random() < 0.5
            pop = len(ref) > 0 and ready                  # the Issue's decision, and the queue's copy
            ctx.set(dut.bc.strobe, push)
            ctx.set(dut.issue.ready, ready)
            ctx.set(dut.issue.pop, pop)
            if pop:
                ref.popleft()
            if push:
                ref.append(announced.popleft())
                nxt_bc += 1
            if wr:
                announced.append(nxt_wr)
                nxt_wr += 1
            push_prev = push
            await ctx.tick()
            assert not ctx.get(dut.fault)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_fault_on_pop_without_descriptor():
    dut = ActQueue(_hw(2))

    async def bench(ctx):
        ctx.set(dut.ctl.arm, 1)
        await ctx.tick()
        ctx.set(dut.ctl.arm, 0)
        ctx.set(dut.issue.pop, 1)                               # a pop although nothing was broadcast
        await ctx.tick()
        ctx.set(dut.issue.pop, 0)
        await ctx.tick()
        assert ctx.get(dut.fault)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
