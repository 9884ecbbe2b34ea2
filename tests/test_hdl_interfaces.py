"""Fan-out helpers of the RTL: register copies, the slices they drive and the sliced wide
choice (:func:`eie.hdl.interfaces.register_copies`, :func:`~eie.hdl.interfaces.bit_slices`,
:func:`~eie.hdl.interfaces.sliced_choice`), checked in the Amaranth simulator against a plain
list index."""

import random

import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from eie.hdl.interfaces import bit_slices, register_copies, sliced_choice


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


@pytest.mark.parametrize("width, n", [(64, 4), (17, 4), (5, 8), (1, 1), (10, 3), (6, 4)])
def test_bit_slices_cover_every_bit_once_in_order_in_at_most_n_equal_slices(width, n):
    sl = bit_slices(width, n)
    bits = [b for s in sl for b in range(width)[s]]
    assert bits == list(range(width))                     # every bit once, in order
    assert 1 <= len(sl) <= n
    sizes = [s.stop - s.start for s in sl]
    assert len(set(sizes[:-1])) <= 1 and sizes[-1] <= sizes[0]
    # as few slices as the ceiling division allows (each copy drives ceil(width / n) bits)
    assert sizes[0] == -(-width // n)


def test_bit_slices_refuses_an_empty_width_or_no_copies():
    for width, n in ((0, 4), (8, 0)):
        with pytest.raises(ValueError, match="bit_slices"):
            bit_slices(width, n)
