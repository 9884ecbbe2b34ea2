"""ActQueue [arch §5.2]: the contract's count against a deque with the visibility rule (a
broadcast in cycle c is poppable from c+1; room at the start of c counts every push and pop
of earlier cycles), the registered room flags as the CCU combines them (the flags of cycle c
say whether there is room at the start of c+1 with / without the push of c: the AND the
CCU registers in c, picked in c+1 by its strobe of c), and the descriptor
FIFO (written ahead of the broadcasts) handing out descriptors in order, in both of its forms
(``HWConfig.desc_fifo``: a combinational LUT-RAM read, or a synchronous block-RAM read
addressed one cycle early)."""

import collections
import dataclasses
import random

import pytest
from amaranth.sim import Simulator

from eie.config import EIEConfig
from eie.errors import ConfigError
from eie.hdl.act_queue import ActQueue
from eie.hdl.params import DESC_FIFOS, ITEM_SLOTS, HWConfig


def _hw(depth, desc_fifo=None):
    cfg = EIEConfig(pes=2, queue_depth=depth, regfile_entries=4)
    return HWConfig(cfg, spmat_lines=64, ptr_words=4, act_depth=8, desc_fifo=desc_fifo)


@pytest.mark.parametrize("desc_fifo", DESC_FIFOS)
@pytest.mark.parametrize("depth", [1, 2, 3, 8])
@pytest.mark.parametrize("seed", [0, 1])
def test_queue_matches_deque(depth, seed, desc_fifo):
    rng = random.Random(seed)
    hw = _hw(depth, desc_fifo)
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
        predicted = None                   # room now, as the flags of the previous cycle said
        ready = rng.random() < 0.5         # the Issue's "ready" of this cycle (its ready_next before)
        for _ in range(cycles):
            # the state at the start of the cycle
            room = len(ref) < depth
            if predicted is not None:
                assert predicted == room
            assert ctx.get(dut.issue.nonempty) == (len(ref) > 0)
            if ref:
                assert ctx.get(dut.issue.head.line0) == ref[0] % 64
            # prefetch: descriptors are written ahead of the broadcasts (bounded lead)
            wr = len(announced) < ITEM_SLOTS and rng.random() < 0.7
            ctx.set(dut.wr.valid, wr)
            ctx.set(dut.wr.data, {"line0": nxt_wr % 64, "slot0": 0, "lm1": 0, "a": 0, "z": 0, "one": 0, "newline": 0})
            push = room and len(announced) > 0 and rng.random() < 0.6
            ready_next = rng.random() < 0.5
            pop = len(ref) > 0 and ready                  # the Issue's decision, and the queue's copy
            ctx.set(dut.bc.strobe, push)
            ctx.set(dut.issue.ready, ready)
            ctx.set(dut.issue.ready_next, ready_next)
            ctx.set(dut.issue.pop, pop)
            predicted = ctx.get(dut.bc.room_push) if push else ctx.get(dut.bc.room_nopush)
            if pop:
                ref.popleft()
            if push:
                ref.append(announced.popleft())
                nxt_bc += 1
            if wr:
                announced.append(nxt_wr)
                nxt_wr += 1
            ready = ready_next
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
        await ctx.tick()                                        # the FIFO resets a cycle after arm
        ctx.set(dut.issue.pop, 1)                               # a pop although nothing was broadcast
        await ctx.tick()
        ctx.set(dut.issue.pop, 0)
        await ctx.tick()
        assert ctx.get(dut.fault)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


# (write, broadcast, ready) probabilities of the phases of a pass: fill the FIFO to the brim,
# drain it, mixed, everything every cycle, writes slower than the pops (the FIFO near empty:
# a descriptor popped soon after its write)
PHASES = [(0.95, 0.1, 0.1), (0.05, 0.9, 0.9), (0.7, 0.6, 0.5), (1.0, 1.0, 1.0), (0.3, 1.0, 1.0),
          (0.5, 0.9, 0.3), (0.5, 1.0, 1.0)]


@pytest.mark.parametrize("desc_fifo", DESC_FIFOS)
@pytest.mark.parametrize("depth", [1, 2, 4])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_descriptor_fifo_matches_reference(desc_fifo, depth, seed):
    """The FIFO head and the descriptor behind it (``head``/``next``, ``head_ok``/``next_ok``)
    against a plain list of the written descriptors: random full-width descriptors, random
    writes, broadcasts and pops in phases that fill the FIFO to ``desc_depth`` and drain it,
    five passes (``arm`` mid-stream).  A descriptor written in cycle w is visible from w+2;
    the test asserts that such earliest reads happened at ``next`` behind a pop (the entry the
    memory read of the previous cycle returned: block RAM write-through), at ``head``, and
    across the pointers' wrap-around."""
    rng = random.Random(100 + seed)
    hw = _hw(depth, desc_fifo)
    assert hw.desc_fifo_ram == desc_fifo
    dut = ActQueue(hw)
    size = hw.desc_depth
    width = len(dut.wr.data.as_value())
    seen = collections.Counter()

    async def bench(ctx):
        cyc = 0

        async def tick():
            nonlocal cyc
            await ctx.tick()
            cyc += 1

        for _ in range(5):                                    # passes
            ctx.set(dut.ctl.running, 0)
            ctx.set(dut.wr.valid, 0)
            ctx.set(dut.bc.strobe, 0)
            ctx.set(dut.issue.pop, 0)
            ctx.set(dut.issue.ready, 0)
            ctx.set(dut.ctl.arm, 1)
            await tick()
            ctx.set(dut.ctl.arm, 0)
            await tick()                  # the FIFO resets in the cycle after arm: no write there
            descs, wcyc = [], []          # descriptors written since arm, and their cycles
            pops = 0
            pop_cycles = set()
            ref = collections.deque()     # contract queue: descriptor indices
            bcast = 0                     # descriptors broadcast
            predicted = None              # room now, as the flags of the previous cycle said
            ready = False                 # the Issue's "ready" of this cycle (its ready_next before)
            preroll = rng.randrange(0, 6)
            for t in range(preroll + 1 + 400):
                start = t == preroll
                running = t > preroll
                ctx.set(dut.ctl.start, start)
                ctx.set(dut.ctl.running, running)
                pw, pb, pr = PHASES[(t // 40 + seed) % len(PHASES)] if running else (0.8, 0, 0)
                # the state at the start of the cycle against the reference
                old = sum(1 for w in wcyc if w <= cyc - 2) - pops
                assert ctx.get(dut.issue.head_ok) == (old >= 1)
                assert ctx.get(dut.issue.next_ok) == (old >= 2)
                if old >= 1:
                    assert ctx.get(dut.issue.head.as_value()) == descs[pops], f"head, cycle {t}"
                    seen["head_early"] += wcyc[pops] == cyc - 2
                if old >= 2:
                    assert ctx.get(dut.issue.next.as_value()) == descs[pops + 1], f"next, cycle {t}"
                    if wcyc[pops + 1] == cyc - 2 and cyc - 1 in pop_cycles:
                        seen["next_early_after_pop"] += 1
                        seen["wrapped"] += pops + 1 >= size
                room = len(ref) < depth
                if running:
                    if predicted is not None:
                        assert predicted == room, f"room, cycle {t}"
                        seen["stall_predicted"] += not room
                    assert ctx.get(dut.issue.nonempty) == (len(ref) > 0)
                # this cycle's inputs
                ready_next = t + 1 > preroll and rng.random() < pr
                pop = ready and len(ref) > 0
                if pop:
                    assert old >= 1                           # the head is there when popped
                push = (running and not start and room and bcast < len(descs) and wcyc[bcast] < cyc
                        and rng.random() < pb)
                wr = len(descs) + 1 - (pops + pop) <= size and rng.random() < pw
                seen["full"] += len(descs) + wr - (pops + pop) == size
                value = rng.getrandbits(width)
                ctx.set(dut.issue.ready, ready)
                ctx.set(dut.issue.ready_next, ready_next)
                ctx.set(dut.issue.pop, pop)
                ctx.set(dut.bc.strobe, push)
                if running:
                    predicted = ctx.get(dut.bc.room_push) if push else ctx.get(dut.bc.room_nopush)
                ctx.set(dut.wr.valid, wr)
                ctx.set(dut.wr.data.as_value(), value)
                if pop:
                    ref.popleft()
                    pops += 1
                    pop_cycles.add(cyc)
                if push:
                    ref.append(bcast)
                    bcast += 1
                if wr:
                    descs.append(value)
                    wcyc.append(cyc)
                ready = ready_next
                await tick()
                assert not ctx.get(dut.fault), f"fault after cycle {t}"

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert seen["head_early"] and seen["next_early_after_pop"] and seen["wrapped"] and seen["full"], seen
    assert seen["stall_predicted"], seen


def test_desc_fifo_form_defaults_from_the_vendor():
    cfg = EIEConfig(pes=2, queue_depth=2, regfile_entries=4)
    assert HWConfig(cfg).desc_fifo_ram == "lutram"
    assert HWConfig(cfg, vendor="ecp5").desc_fifo_ram == "lutram"
    assert HWConfig(cfg, vendor="ice40").desc_fifo_ram == "bram"
    assert HWConfig(cfg, desc_fifo="bram").desc_fifo_ram == "bram"
    assert HWConfig(cfg, vendor="ice40", desc_fifo="lutram").desc_fifo_ram == "lutram"
    # the vendor's default is stored as None: the same hardware compares and keys equal
    assert HWConfig(cfg, vendor="ice40", desc_fifo="bram") == HWConfig(cfg, vendor="ice40")
    assert HWConfig(cfg, desc_fifo="lutram").key() == HWConfig(cfg).key()
    assert "desc_fifo=bram" in HWConfig(cfg, desc_fifo="bram").key() and "desc_fifo" not in HWConfig(cfg).key()
    assert dataclasses.replace(HWConfig(cfg), vendor="ice40").desc_fifo_ram == "bram"
    for hw in (HWConfig(cfg, desc_fifo="bram"), HWConfig(cfg, vendor="ice40", desc_fifo="lutram")):
        assert HWConfig.from_dict(hw.to_dict()) == hw
    with pytest.raises(ConfigError, match="desc_fifo must be one of lutram, bram"):
        HWConfig(cfg, desc_fifo="ff")
