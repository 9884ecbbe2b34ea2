# amaranth: UnusedElaboratable=no
"""The Wishbone slave (eie.hdl.wishbone) in Amaranth's simulator: whole layers through a
Wishbone master against the model (classic and pipelined; one and two bus words per host
word), and the bus protocol itself: acknowledgement timing, the word map, back-to-back
pipelined reads, an abandoned cycle."""

import pytest
from amaranth.sim import Simulator
from test_hdl_top import CASES, assert_matches, hw_for, make_case

from eie.config import EIEConfig
from eie.flow.amsim import run_jobs_amaranth_wishbone
from eie.flow.host import layer_jobs
from eie.hdl.busmap import WishboneMap
from eie.hdl.params import HWConfig
from eie.hdl.regmap import READ_LATENCY, HostMap
from eie.hdl.wishbone import EIEWishbone, WishboneSignature


@pytest.mark.parametrize("pipelined", [False, True], ids=["classic", "pipelined"])
@pytest.mark.parametrize("name", ["n4_stall", "n3_pad_epl3", "n5_fanin3_passes"])
def test_layer_over_wishbone_matches_model(name, pipelined):
    cfg, n_out, n_in, dens, adens, relu = CASES[name]
    compiled, a_q, cb_q, plan, ref = make_case(cfg, n_out, n_in, dens, adens, seed=len(name), relu=relu)
    hw = hw_for(cfg)
    jobs = layer_jobs(hw, compiled, a_q, cb_q, plan.shift, relu, 1 << plan.fa)
    res = run_jobs_amaranth_wishbone(hw, jobs, compiled.n_out, pipelined=pipelined, max_cycles=5000)
    assert_matches(res, ref)


HW = HWConfig(EIEConfig(pes=2, queue_depth=2, regfile_entries=8), spmat_lines=32, ptr_words=16, act_depth=16)


def bus_trace(pipelined, requests, cycles=40):
    """Drive ``requests`` (per cycle: None or (adr, we, dat_w), stb for one cycle each, cyc
    high throughout unless a request is "drop") and record (cycle, ack, dat_r, stall)."""
    dut = EIEWishbone(HW, pipelined=pipelined)
    trace = []

    async def bench(ctx):
        bus = dut.bus
        for t in range(cycles):
            req = requests[t] if t < len(requests) else None
            ctx.set(bus.cyc, 0 if req == "drop" else 1)
            ctx.set(bus.sel, 0xF)
            if req and req != "drop":
                adr, we, dat = req
                ctx.set(bus.stb, 1)
                ctx.set(bus.adr, adr)
                ctx.set(bus.we, we)
                ctx.set(bus.dat_w, dat)
            else:
                ctx.set(bus.stb, 0)
                ctx.set(bus.we, 0)
            trace.append((t, ctx.get(bus.ack), ctx.get(bus.dat_r), ctx.get(bus.stall) if pipelined else 0))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return trace


def test_pipelined_timing_and_word_map():
    """Writes are acknowledged the next cycle; a line is written high word first; word-0 reads
    stream back to back, acknowledged READ_LATENCY cycles after they are taken; a latched
    word read waits (stall) until the word-0 read before it is acknowledged."""
    hm, wm = HostMap(HW), WishboneMap(HW)
    assert wm.words == 2 and wm.sub_bits == 1
    line = 0x1122_3344_5566_7788
    reqs = [(wm.adr(hm.pe(1, "spmat", 2), 1), 1, line >> 32), (wm.adr(hm.pe(1, "spmat", 2), 0), 1, line & 0xFFFF_FFFF),
            (wm.adr(hm.reg("groups")), 1, 3), (wm.adr(hm.reg("shift")), 1, 5),
            (wm.adr(hm.reg("groups")), 0, 0), (wm.adr(hm.reg("shift")), 0, 0), (wm.adr(hm.pe(1, "spmat", 2)), 0, 0),
            (wm.adr(hm.pe(1, "spmat", 2), 1), 0, 0)]
    trace = bus_trace(True, reqs + [reqs[-1]] * 12)
    acks = [(t, d) for t, a, d, _ in trace if a]
    assert [t for t, _ in acks[:4]] == [1, 2, 3, 4]                 # writes: the next cycle
    assert acks[4:7] == [(4 + READ_LATENCY, 3), (5 + READ_LATENCY, 5), (6 + READ_LATENCY, line & 0xFFFF_FFFF)]
    # the latched-word read is stalled while the reads are in flight, then served from the latch
    assert all(s for t, _, _, s in trace if 7 <= t <= 6 + READ_LATENCY)
    assert acks[7] == (8 + READ_LATENCY, line >> 32)


def test_classic_one_request_at_a_time():
    hm, wm = HostMap(HW), WishboneMap(HW)
    hold_read = (wm.adr(hm.reg("pes")), 0, 0)
    trace = bus_trace(False, [hold_read] * 20)         # a classic master holds stb until ack
    acks = [t for t, a, _, _ in trace if a]
    assert acks[:2] == [READ_LATENCY, 2 * READ_LATENCY + 1]
    assert all(d == HW.pes for t, a, d, _ in trace if a)


def test_dropped_cycle_abandons_its_reads():
    hm, wm = HostMap(HW), WishboneMap(HW)
    read = (wm.adr(hm.reg("version")), 0, 0)
    trace = bus_trace(True, [read, "drop", None, None])
    assert not any(a for _, a, _, _ in trace)


def test_signature_and_argument_errors():
    sig = WishboneSignature(addr_width=12, pipelined=True)
    assert set(sig.members) == {"adr", "dat_w", "sel", "cyc", "stb", "we", "dat_r", "ack", "stall"}
    assert sig == WishboneSignature(addr_width=12, pipelined=True) != WishboneSignature(addr_width=12)
    assert len(EIEWishbone(HW).bus.sel) == 4 and EIEWishbone(HW).bus.adr.shape().width == WishboneMap(HW).adr_bits
    with pytest.raises(TypeError, match="addr_width must be a positive integer, not 0"):
        WishboneSignature(addr_width=0)
    with pytest.raises(TypeError, match="hw must be an HWConfig, not dict"):
        EIEWishbone({})


@pytest.mark.parametrize("pipelined", [False, True], ids=["classic", "pipelined"])
def test_full_precision_bias_over_wishbone_matches_model(pipelined):
    """The bias preload (signed accumulator words written to the destination file, then a
    start with keep_acc) goes through the 32-bit word map like every other write; two passes,
    a negative and a large bias among them."""
    from eie.compress import synthetic_layer
    from eie.model import simulate
    from eie.prepare import prepare_layer
    cfg = EIEConfig(pes=4, queue_depth=2, regfile_entries=8)
    layer = synthetic_layer(40, 30, 0.3, bits=cfg.weight_bits, seed=9, act_density=0.5, bias_mode="full")
    assert layer.bias is not None and (layer.bias < 0).any()
    prep = prepare_layer(layer, cfg)
    ref = simulate(prep.compiled, prep.x, plan=prep.plan, check_reference=False, source=layer)
    hw = hw_for(cfg)
    jobs = layer_jobs(hw, prep.compiled, prep.a_q, prep.cb_q, prep.plan.shift, False, prep.bias_act,
                      bias_q=prep.bias_q)
    assert len(jobs) == 2
    res = run_jobs_amaranth_wishbone(hw, jobs, prep.compiled.n_out, pipelined=pipelined, max_cycles=5000)
    assert_matches(res, ref)
