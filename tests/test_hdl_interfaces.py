"""Fan-out helpers of the RTL: register copies and the sliced wide choice
(:func:`eie.hdl.interfaces.register_copies`, :func:`~eie.hdl.interfaces.sliced_choice`),
checked in the Amaranth simulator against a plain list index."""

import random

import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from eie.hdl.interfaces import register_copies, sliced_choice


@pytest.mark.parametrize("n_choices, width, copies", [(8, 64, 4), (3, 17, 4), (2, 64, 1), (1, 5, 2), (4, 6, 8)])
def test_sliced_choice_is_the_indexed_word_one_cycle_after_the_select(n_choices, width, copies):
    m = Module()
    words = [Signal(width, name=f"w{i}") for i in range(n_choices)]
    sel = Signal(range(max(2, n_choices)))
    copies_ = register_copies(m, sel, copies, name="sel")
    out = Signal(width)
    m.d.comb += out.eq(sliced_choice(words, copies_))
    assert len(copies_) == copies and all(c.attrs.get("keep") == 1 for c in copies_)
    rng = random.Random(n_choices * 1000 + width)
    sim = Simulator(m)
    sim.add_clock(1e-6)

    async def bench(ctx):
        for _ in range(40):
            values = [rng.randrange(1 << width) for _ in words]
            k = rng.randrange(n_choices)
            for w, v in zip(words, values, strict=True):
                ctx.set(w, v)
            ctx.set(sel, k)
            await ctx.tick()
            # the copies hold k now: every slice of the output is word k's
            assert ctx.get(out) == values[k]
            assert all(ctx.get(c) == k for c in copies_)

    sim.add_testbench(bench)
    sim.run()


def test_sliced_choice_refuses_words_of_different_widths():
    with pytest.raises(ValueError, match="one width"):
        sliced_choice([Signal(8), Signal(9)], [Signal(), Signal()])
