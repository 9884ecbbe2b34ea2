"""The whole array in Amaranth's simulator against the cycle-accurate model [arch §5]:
every output bit, the total cycles (also as seen at the ``done`` port) and every counter."""

import numpy as np
import pytest

from eie.compress import synthetic_layer
from eie.config import EIEConfig
from eie.flow.amsim import run_jobs_amaranth, run_layer_amaranth
from eie.flow.host import layer_jobs, resident_layout
from eie.hdl.params import HWConfig
from eie.hdl.regmap import PE_COUNTERS
from eie.model import simulate
from eie.prepare import prepare_layer

COUNTERS = PE_COUNTERS            # every counter the hardware has (a new one is checked too)


def make_case(cfg, n_out, n_in, density, act_density, seed, relu=False):
    layer = synthetic_layer(n_out, n_in, density, bits=cfg.weight_bits, seed=seed, act_density=act_density)
    prep = prepare_layer(layer, cfg)
    ref = simulate(prep.compiled, prep.x, plan=prep.plan, relu=relu, check_reference=False, source=layer)
    return prep.compiled, prep.a_q, prep.cb_q, prep.plan, ref


def assert_matches(res, ref):
    np.testing.assert_array_equal(res.outputs_q, ref.outputs_q)
    assert res.cycles == ref.cycles
    assert sum(res.done_cycles) == ref.cycles                # the done port agrees with the counter
    for k in COUNTERS:
        np.testing.assert_array_equal(res.pe[k], ref.pe[k], err_msg=k)
    for k in ("broadcasts", "stall_cycles", "groups_scanned"):
        assert res.totals[k] == ref.totals[k], k


def hw_for(cfg, **depths):
    base = {"spmat_lines": 64, "ptr_words": 32, "act_depth": 32}
    base.update(depths)
    return HWConfig(cfg, **base)


CASES = {
    # name: (config, n_out, n_in, weight density, act density, relu)
    "n4_stall": (EIEConfig(pes=4, queue_depth=2, regfile_entries=8), 30, 40, 0.3, 0.5, False),
    "n3_pad_epl3": (EIEConfig(pes=3, queue_depth=1, lnzd_fanin=2, index_bits=2, line_bits=24,
                              regfile_entries=16), 40, 20, 0.15, 0.6, True),
    "n1": (EIEConfig(pes=1, queue_depth=4, regfile_entries=24), 20, 12, 0.4, 0.7, False),
    "n5_fanin3_passes": (EIEConfig(pes=5, queue_depth=3, lnzd_fanin=3, regfile_entries=2), 24, 26, 0.35, 0.4,
                         True),
    "n4_narrow_wrap": (EIEConfig(pes=4, queue_depth=8, act_bits=8, codebook_bits=6, acc_bits=9,
                                 weight_bits=3, index_bits=3, line_bits=36, regfile_entries=8), 28, 32, 0.5, 0.8,
                       False),
    "n2_dense": (EIEConfig(pes=2, queue_depth=2, regfile_entries=8), 16, 16, 1.0, 1.0, False),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_array_matches_model(name):
    cfg, n_out, n_in, dens, adens, relu = CASES[name]
    compiled, a_q, cb_q, plan, ref = make_case(cfg, n_out, n_in, dens, adens, seed=len(name), relu=relu)
    res = run_layer_amaranth(hw_for(cfg), compiled, a_q, cb_q, plan.shift, relu, 1 << plan.fa, max_cycles=5000)
    assert_matches(res, ref)


@pytest.mark.parametrize("name", ["n4_stall", "n3_pad_epl3"])
def test_array_without_timing_registers_matches_model(name):
    """The iCE40 netlist (no fan-out copies or early decodes: HWConfig.timing_registers off,
    the descriptor FIFO in block RAM) computes the same outputs, cycles and counters."""
    cfg, n_out, n_in, dens, adens, relu = CASES[name]
    hw = HWConfig(cfg, spmat_lines=64, ptr_words=32, act_depth=32, vendor="ice40")
    assert not hw.timing_registers and hw.copies(4) == 1 and hw_for(cfg).copies(4) == 4
    compiled, a_q, cb_q, plan, ref = make_case(cfg, n_out, n_in, dens, adens, seed=len(name), relu=relu)
    res = run_layer_amaranth(hw, compiled, a_q, cb_q, plan.shift, relu, 1 << plan.fa, max_cycles=5000)
    assert_matches(res, ref)


def test_wrapping_accumulator_saturates_at_write_out():
    """Large products: partial sums wrap in acc_bits; the model and the RTL agree bit for bit."""
    cfg = EIEConfig(pes=2, queue_depth=2, act_bits=8, codebook_bits=8, acc_bits=8, regfile_entries=8)
    compiled, a_q, cb_q, plan, ref = make_case(cfg, 12, 16, 0.9, 1.0, seed=3)
    from eie.fixed import QuantPlan
    plan = QuantPlan(plan.fa, plan.fw, plan.fa + plan.fw)        # shift 0: products straight into 8 bits
    ref = simulate(compiled, a_q / 2.0 ** plan.fa, plan=plan, check_reference=False)
    res = run_layer_amaranth(hw_for(cfg), compiled, a_q, cb_q, plan.shift, False, 1 << plan.fa, max_cycles=5000)
    assert_matches(res, ref)


def test_preloaded_image_runs_without_loading():
    cfg, n_out, n_in, dens, adens, relu = CASES["n4_stall"]
    compiled, a_q, cb_q, plan, ref = make_case(cfg, n_out, n_in, dens, adens, seed=11)
    res = run_layer_amaranth(hw_for(cfg), compiled, a_q, cb_q, plan.shift, relu, 1 << plan.fa, max_cycles=5000,
                             preload=True)
    assert_matches(res, ref)


def test_empty_input_broadcasts_only_the_bias():
    cfg = EIEConfig(pes=4, queue_depth=2, regfile_entries=8)
    compiled, a_q, cb_q, plan, _ = make_case(cfg, 16, 16, 0.5, 0.5, seed=4)
    a_q = np.zeros_like(a_q)
    ref = simulate(compiled, a_q.astype(float), plan=plan, check_reference=False)
    res = run_layer_amaranth(hw_for(cfg), compiled, a_q, cb_q, plan.shift, False, 1 << plan.fa, max_cycles=5000)
    assert_matches(res, ref)
    assert res.totals["broadcasts"] == 1


def run_layers_amaranth(hw, layers, refs):
    """Layer dicts (``{"jobs", "n_out"}`` [+ ``chain``, ``load_act``, ``resident``]) in order, in
    one simulation of ``EIETop(hw)``, as the cocotb testbench runs them."""
    from amaranth.sim import Simulator
    from rtl_cases import cycle_guard

    from eie.flow.amsim import AmaranthDriver
    from eie.hdl.top import EIETop
    dut = EIETop(hw)
    got = []

    async def bench(ctx):
        drv = AmaranthDriver(hw, dut, ctx)
        for lay in layers:
            got.append(await drv.run_jobs(lay["jobs"], lay["n_out"], max_cycles=cycle_guard(refs),
                                          chain=lay.get("chain", False), load_act=lay.get("load_act", True),
                                          resident=lay.get("resident", False)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return got


def test_full_precision_bias_preloads_the_destination_file():
    """Full-precision biases [arch §2] (tests/rtl_cases.bias_cases: several passes, negative,
    saturating at the preload, zero input, then a layer without a bias), one of them with its
    passes resident, and a chain of three layers with full-precision biases: the host
    preloads every pass's accumulators and starts with keep_acc; outputs, cycles and
    counters equal the model's."""
    from rtl_cases import bias_cases, chain_cases, job
    cfg = EIEConfig(pes=3, queue_depth=2, regfile_entries=4)
    hw = hw_for(cfg, spmat_lines=128, ptr_words=64)
    pairs = [job(hw, c) for c in bias_cases(hw)]
    layers = [p[0] for p in pairs] + [dict(pairs[0][0], resident=True)]
    refs = [p[1] for p in pairs] + [pairs[0][1]]
    assert len(layers[0]["jobs"]) > 1 and "bias" in layers[0]["jobs"][1]["image"]["pes"][0]
    chain, chain_refs = chain_cases(hw, seed=31, bias_mode="full")
    got = run_layers_amaranth(hw, layers + chain, refs + chain_refs)
    for res, ref in zip(got, refs + chain_refs, strict=True):
        assert_matches(res, ref)


def test_preloaded_image_with_a_full_precision_bias():
    """The bitstream's init values hold pass 0 with its destination preload (valid from
    power-up); the next passes are loaded through the port."""
    cfg = EIEConfig(pes=4, queue_depth=2, regfile_entries=4)
    layer = synthetic_layer(21, 18, 0.4, bits=cfg.weight_bits, seed=8, act_density=0.6, bias_mode="full")
    prep = prepare_layer(layer, cfg)
    ref = simulate(prep.compiled, prep.x, plan=prep.plan, check_reference=False, source=layer)
    assert len(prep.compiled.passes) > 1
    res = run_layer_amaranth(hw_for(cfg), prep.compiled, prep.a_q, prep.cb_q, prep.plan.shift, False, prep.bias_act,
                             max_cycles=5000, preload=True, bias_q=prep.bias_q)
    assert_matches(res, ref)


def test_layers_chained_on_chip():
    """Three layers chained on chip on Amaranth's simulator (tests/rtl_cases.chain_cases, as
    the Verilator/Icarus corner tests run them): every row pass of a layer is written back into
    the next bank, the banks swap, the next layer reads them without a host load."""
    from rtl_cases import chain_cases

    cfg = EIEConfig(pes=3, queue_depth=2, regfile_entries=4)
    hw = hw_for(cfg)
    layers, refs = chain_cases(hw)
    assert len(layers[0]["jobs"]) > 1                    # layer 1 needs several row passes
    got = run_layers_amaranth(hw, layers, refs)
    for res, ref in zip(got, refs, strict=True):
        assert_matches(res, ref)


RESIDENT = {
    "n5_fanin3_passes": CASES["n5_fanin3_passes"],
    "n3_pad_epl4_passes": (EIEConfig(pes=3, queue_depth=2, lnzd_fanin=2, index_bits=2, line_bits=24,
                                     regfile_entries=4), 40, 20, 0.15, 0.6, True),
}


@pytest.mark.parametrize("name", sorted(RESIDENT))
def test_resident_passes(name):
    """All row passes loaded once side by side; between passes only ptr_base/spmat_base and
    the pass registers are written.  Same outputs, cycles and counters as the model."""
    cfg, n_out, n_in, dens, adens, relu = RESIDENT[name]
    compiled, a_q, cb_q, plan, ref = make_case(cfg, n_out, n_in, dens, adens, seed=len(name), relu=relu)
    assert len(compiled.passes) > 1
    hw = hw_for(cfg, spmat_lines=256, ptr_words=128)
    jobs = layer_jobs(hw, compiled, a_q, cb_q, plan.shift, relu, 1 << plan.fa)
    bases = resident_layout(hw, jobs)
    assert bases[-1]["ptr_base"] > 0 and bases[-1]["spmat_base"] > 0
    res = run_jobs_amaranth(hw, jobs, compiled.n_out, max_cycles=5000, resident=True)
    assert_matches(res, ref)


def test_resident_layout_checks_capacity():
    cfg, n_out, n_in, dens, adens, relu = CASES["n5_fanin3_passes"]
    compiled, a_q, cb_q, plan, _ = make_case(cfg, n_out, n_in, dens, adens, seed=1, relu=relu)
    hw = hw_for(cfg, spmat_lines=256, ptr_words=20)
    jobs = layer_jobs(hw, compiled, a_q, cb_q, plan.shift, relu, 1 << plan.fa)
    with pytest.raises(ValueError, match="resident passes need ptr_words >="):
        resident_layout(hw, jobs)


def test_pass_image_rejects_too_small_hardware():
    cfg = EIEConfig(pes=2, regfile_entries=8)
    compiled, a_q, cb_q, plan, _ = make_case(cfg, 8, 40, 0.5, 0.5, seed=0)
    with pytest.raises(ValueError, match="needs act_depth >= 20"):
        layer_jobs(HWConfig(cfg, spmat_lines=64, ptr_words=64, act_depth=16), compiled, a_q, cb_q, 0, False, 1)


def test_run_jobs_guard_catches_a_hang():
    """A pass that cannot finish in max_cycles fails (it is never silently cut short)."""
    from eie.flow.host import Timeout
    cfg = EIEConfig(pes=2, queue_depth=2, regfile_entries=8)
    compiled, a_q, cb_q, plan, _ = make_case(cfg, 8, 8, 0.5, 1.0, seed=0)
    jobs = layer_jobs(hw_for(cfg), compiled, a_q, cb_q, plan.shift, False, 1 << plan.fa)
    with pytest.raises(Timeout):
        run_jobs_amaranth(hw_for(cfg), jobs, compiled.n_out, max_cycles=3)


def test_cases_cover_the_corners():
    """The named cases above exercise padding, stalls, bypass, several passes and saturation."""
    seen = {"padding": 0, "stall_cycles": 0, "bypasses": 0, "passes": 0, "empty_columns": 0}
    for name, (cfg, n_out, n_in, dens, adens, relu) in CASES.items():
        compiled, _, _, _, ref = make_case(cfg, n_out, n_in, dens, adens, seed=len(name), relu=relu)
        seen["padding"] += int(ref.pe["padding"].sum())
        seen["bypasses"] += int(ref.pe["bypasses"].sum())
        seen["empty_columns"] += int(ref.pe["empty_columns"].sum())
        seen["stall_cycles"] += ref.totals["stall_cycles"]
        seen["passes"] = max(seen["passes"], len(compiled.passes))
    assert all(seen[k] > 0 for k in seen) and seen["passes"] > 1, seen


def test_host_port_reads_back_every_memory():
    """Every memory and register the host can write reads back through the port (all read
    sources are aligned to READ_LATENCY), also with a pass's bases and ptr/spmat offsets."""
    import random

    from amaranth.sim import Simulator

    from eie.flow.amsim import AmaranthDriver
    from eie.flow.host import to_signed
    from eie.hdl.regmap import HW_VERSION, HostMap
    from eie.hdl.top import EIETop
    cfg = EIEConfig(pes=3, queue_depth=2, regfile_entries=8, line_bits=48)
    hw = hw_for(cfg, spmat_lines=40, ptr_words=20, act_depth=16)
    hm = HostMap(hw)
    rng = random.Random(5)
    dut = EIETop(hw)
    words = []
    for p in range(hw.pes):
        for mem, depth, bits, signed in (("ptr_even", 20, 16, False), ("ptr_odd", 20, 16, False),
                                         ("spmat", 40, 48, False), ("act", 16, 16, True), ("act_next", 16, 16, True)):
            for i in rng.sample(range(depth), 5):
                v = rng.randrange(1 << bits)
                words.append((hm.pe(p, mem, i), v, to_signed(v, bits) if signed else v))
    cb = [rng.randrange(-(1 << 15), 1 << 15) for _ in range(cfg.codebook_size)]
    regs = {"groups": 5, "bias_act": 1 << 9, "shift": 7, "relu": 1, "wb_base": 3, "ptr_base": 4, "spmat_base": 9}

    async def bench(ctx):
        drv = AmaranthDriver(hw, dut, ctx)
        mask = (1 << hw.data_bits) - 1
        await drv.write_all([(a, v) for a, v, _ in words])
        await drv.write_all([(hm.bcast("codebook", i), v & mask) for i, v in enumerate(cb)])
        await drv.write_all([(hm.reg(k), v) for k, v in regs.items()])
        got = await drv.read_many([a for a, _, _ in words])
        # unsigned words read back as written, signed ones sign-extended to data_bits
        assert got == [w & mask for _, _, w in words]
        for p in range(hw.pes):
            got = await drv.read_many([hm.pe(p, "codebook", i) for i in range(len(cb))])
            assert [to_signed(g, hw.data_bits) for g in got] == cb
        got = await drv.read_many([hm.reg(k) for k in regs] + [hm.reg("version"), hm.reg("pes")])
        assert got == list(regs.values()) + [HW_VERSION, hw.pes]
        # back to back, global and PE words interleaved: each read returns its own word
        # (every source is 0 unless named, and the answer is their OR)
        mixed = [x for (a, _, w), k in zip(words[::7], list(regs) * 5, strict=False)
                 for x in ((a, w & mask), (hm.reg(k), regs[k]))]
        assert await drv.read_many([a for a, _ in mixed]) == [w for _, w in mixed]
        # the bcast bit on a read is ignored: PE p's word, not a combination of the PEs'
        a, _, w = words[0]
        assert await drv.read_many([a | (1 << hm.bcast_bit)]) == [w & mask]
        # a PE index beyond the array (pes = 3, two index bits) reads 0
        assert await drv.read_many([(a & ~(((1 << hm.pb) - 1) << hm.pe_lsb)) | (3 << hm.pe_lsb)]) == [0]

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_host_writes_while_busy_are_dropped():
    """A host write to a PE memory while the array is busy (here a write-back) never lands
    (the PEs' write enables are gated by busy on their way in); the same writes once busy
    is low do."""
    from amaranth.sim import Simulator

    from eie.flow.amsim import AmaranthDriver
    from eie.hdl.regmap import CTRL_BITS, HostMap
    from eie.hdl.top import EIETop
    cfg = EIEConfig(pes=3, queue_depth=2, regfile_entries=8, line_bits=48)
    hw = hw_for(cfg, spmat_lines=40, ptr_words=20, act_depth=16)
    hm = HostMap(hw)
    addrs = [hm.pe(1, "ptr_even", 3), hm.pe(2, "ptr_odd", 7), hm.pe(0, "spmat", 11), hm.pe(2, "codebook", 5)]
    first, second = [0x1234, 0x0BCD, 0x5A5A5A, 0x0321], [0x4321, 0x0DCB, 0xA5A5A5, 0x0123]

    async def bench(ctx):
        drv = AmaranthDriver(hw, dut, ctx)
        await drv.write_all(list(zip(addrs, first, strict=True)))
        await drv.cycle(hm.reg("ctrl"), CTRL_BITS["writeback"], we=1)
        busy = False
        while not busy:                                   # the write-back has begun
            _, _, busy, _ = await drv.cycle()
        seen = []
        for a, v in zip(addrs, second, strict=True):      # each lands well inside the busy span
            seen.append((await drv.cycle(a, v, we=1))[2])
        for _ in range(2):
            seen.append((await drv.cycle())[2])
        assert all(seen)
        while busy:
            _, _, busy, _ = await drv.cycle()
        assert await drv.read_many(addrs) == first
        await drv.write_all(list(zip(addrs, second, strict=True)))
        assert await drv.read_many(addrs) == second

    dut = EIETop(hw)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_chained_layer_whose_outputs_do_not_fit_is_refused():
    """The write-back drops outputs past the next bank (act_depth); a chained layer that
    needs more is refused before anything runs instead of feeding the next layer zeros."""
    import asyncio

    from eie.flow.host import HostDriver
    hw = HWConfig(EIEConfig(pes=2, queue_depth=2, regfile_entries=8), spmat_lines=64, ptr_words=32, act_depth=4)

    class NoBus(HostDriver):
        async def cycle(self, addr=0, wdata=0, we=0, re=0):
            raise AssertionError("no bus cycle may happen")

    with pytest.raises(ValueError, match="act_depth >= 5"):
        asyncio.run(NoBus(hw).run_jobs([], n_out=10, chain=True))


def test_sequencer_start_next_announces_start_one_cycle_ahead():
    """``start_next`` (the PEs' units load their copies of ``start`` from it) is high exactly
    in the cycle before ``start``, which comes ``PREROLL`` cycles after the arm cycle; a
    second start command during the pass is ignored."""
    from amaranth.sim import Simulator

    from eie.hdl.params import PREROLL
    from eie.hdl.top import PassSequencer

    dut = PassSequencer()
    trace = []

    async def bench(ctx):
        ctx.set(dut.pes_idle, 1)
        for cycle in range(3 * PREROLL):
            ctx.set(dut.cmd_start, int(cycle in (2, 6)))            # 6: while busy, ignored
            ctx.set(dut.bias_sent, int(cycle > PREROLL + 8))
            trace.append((ctx.get(dut.ctl.arm), ctx.get(dut.ctl.start), ctx.get(dut.ctl.start_next)))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    arms = [c for c, (a, _, _) in enumerate(trace) if a]
    starts = [c for c, (_, s, _) in enumerate(trace) if s]
    nexts = [c for c, (_, _, n) in enumerate(trace) if n]
    assert arms == [3] and starts == [3 + PREROLL] and nexts == [2 + PREROLL]


def test_serial_top_writes_and_reads_back_through_the_shift_registers():
    """``SerialTop`` (the 8-pin wrapper of ``eie synth --io serial``): a command shifted in
    bit by bit and applied with ``go`` writes a global register and a PE memory; a read
    command's word arrives in the result register ``READ_LATENCY`` + 2 cycles after its
    ``go`` (not a cycle earlier) and shifts out on ``sout`` bit 0 first -- the written
    values, the hardware version and the PE count."""
    from amaranth.sim import Simulator

    from eie.hdl.regmap import HW_VERSION, READ_LATENCY, HostMap
    from eie.hdl.top import SerialTop
    cfg = EIEConfig(pes=2, queue_depth=2, regfile_entries=8)
    hw = hw_for(cfg, spmat_lines=16, ptr_words=8, act_depth=8)
    hm = HostMap(hw)
    ab, db = hw.host_addr_bits, hw.data_bits
    dut = SerialTop(hw)

    def bits(value, n):
        return [(value >> i) & 1 for i in range(n)]

    async def command(ctx, addr, wdata=0, we=0, re=0):
        for b in bits(addr, ab) + bits(wdata, db) + [we, re]:
            ctx.set(dut.sen, 1)
            ctx.set(dut.sin, b)
            await ctx.tick()
        ctx.set(dut.sen, 0)
        ctx.set(dut.go, 1)
        await ctx.tick()
        ctx.set(dut.go, 0)

    async def shift_out(ctx):
        word = 0
        for i in range(db):
            word |= ctx.get(dut.sout) << i
            ctx.set(dut.sen, 1)
            await ctx.tick()
        ctx.set(dut.sen, 0)
        return word

    async def read(ctx, addr, wait):
        await command(ctx, addr, re=1)
        await ctx.tick().repeat(wait)
        return await shift_out(ctx)

    async def bench(ctx):
        await command(ctx, hm.reg("groups"), 11, we=1)
        await command(ctx, hm.pe(1, "ptr_odd", 5), 0xBEEF, we=1)
        await ctx.tick().repeat(4)
        wait = READ_LATENCY + 2              # cycles after the go cycle
        assert await read(ctx, hm.reg("version"), wait) == HW_VERSION
        assert await read(ctx, hm.reg("pes"), wait) == hw.pes
        assert await read(ctx, hm.reg("groups"), wait) == 11
        assert await read(ctx, hm.pe(1, "ptr_odd", 5), wait) == 0xBEEF
        # a cycle less and the word lands during the first shift: it comes out one bit late
        assert await read(ctx, hm.reg("groups"), wait - 1) == (11 << 1) | (0xBEEF >> 63)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_host_accesses_in_the_first_cycle_after_a_pass():
    """The first bus cycle without ``busy`` after a pass may read and write PE memories: the
    PEs' copies of ``running``/``pf_active`` fall a cycle after the array's (they do not wait
    on the array-wide ``done``, ``PassSequencer.ctl_pe_next``), which must not be visible.
    Right after each pass, from that first cycle on, the driver reads a word of every memory
    whose read port the pass owned (pointers, lines, codebook, source activations), writes a
    pointer word and reads every output; each read returns the image's word or the model's
    output."""

    from eie.flow.amsim import AmaranthDriver
    from eie.flow.host import to_signed
    from eie.hdl.regmap import HostMap
    cfg, n_out, n_in, dens, adens, relu = CASES["n5_fanin3_passes"]       # several passes
    compiled, a_q, cb_q, plan, ref = make_case(cfg, n_out, n_in, dens, adens, seed=3, relu=relu)
    hw = hw_for(cfg)
    hm = HostMap(hw)
    jobs = layer_jobs(hw, compiled, a_q, cb_q, plan.shift, relu, 1 << plan.fa)
    mask = (1 << hw.data_bits) - 1
    early = {}

    class Eager(AmaranthDriver):
        async def start_pass(self, max_cycles, ctrl):
            cycles = await super().start_pass(max_cycles, ctrl)     # returns in the first cycle busy is low
            n, t = hw.pes, len(early)
            job, im = jobs[t], jobs[t]["image"]["pes"]
            p = t % n
            probe = hm.pe(p, "ptr_odd", 5)
            mems = [(hm.pe(p, "ptr_even", 1), im[p]["ptr_even"][1]), (hm.pe(p, "spmat", 0), im[p]["lines"][0]),
                    (hm.pe(p, "codebook", 3), to_signed(im[p]["codebook"][3], 16)),
                    (hm.pe(p, "act", 2), im[p]["act"][2]), (probe, None)]
            outs = [hm.pe(r % n, "out", r // n) for r in range(job["n_rows"])]
            reqs = [(a, 0, 0, 1) for a, _ in mems[:-1]] + [(probe, 0x2A5 + t, 1, 0), (probe, 0, 0, 1)]
            reqs += [(a, 0, 0, 1) for a in outs] + [(0, 0, 0, 0)] * 12
            got = []
            for a, d, we, re in reqs:
                rvalid, rdata, _, _ = await self.cycle(a, d, we, re)
                if rvalid:
                    got.append(rdata)
            early[t] = (got, [w & mask for _, w in mems[:-1]] + [0x2A5 + t])
            return cycles

    assert_matches(run_jobs_amaranth(hw, jobs, compiled.n_out, max_cycles=5000, driver=Eager), ref)
    assert len(early) == len(jobs) >= 2
    for t, job in enumerate(jobs):
        got, want = early[t]
        r0 = job["row_start"]
        assert got == want + [int(v) & mask for v in ref.outputs_q[r0:r0 + job["n_rows"]]], t


def test_register_writes_during_a_pass_are_ignored():
    """Writes of every host-written register while a pass runs (from the cycle after the
    start write on) change nothing: each PE's copies of the pass registers (the group copies
    of ``EIETop._pass_regs``, written by the same writes as the top's registers) and the
    CCU's registers drop them like the top's; outputs and counters stay the model's, and the
    registers read back as written before the start."""

    from eie.flow.amsim import AmaranthDriver
    from eie.flow.host import watch_pass
    from eie.hdl.regmap import HOST_WRITTEN, HostMap
    cfg, n_out, n_in, dens, adens, relu = CASES["n5_fanin3_passes"]
    compiled, a_q, cb_q, plan, ref = make_case(cfg, n_out, n_in, dens, adens, seed=4, relu=relu)
    hw = hw_for(cfg)
    hm = HostMap(hw)
    jobs = layer_jobs(hw, compiled, a_q, cb_q, plan.shift, relu, 1 << plan.fa)
    junk = {"groups": 1, "bias_act": 3, "shift": plan.shift + 3, "relu": int(not relu), "wb_base": 3,
            "src_sel": 1, "ptr_base": 7, "spmat_base": 5}
    assert set(junk) == set(HOST_WRITTEN)
    before = []

    class Meddler(AmaranthDriver):
        async def start_pass(self, max_cycles, ctrl):
            before.append(await self.read_many([hm.reg(k) for k in junk]))
            _, _, busy, done = await self.write_and_sample(hm.reg("ctrl"), ctrl)
            writes = iter([(hm.reg(k), v) for k, v in junk.items()] * 2)

            async def step():
                a, v = next(writes, (0, None))
                _, _, b, d = await (self.cycle() if v is None else self.cycle(a, v, we=1))
                return b, d

            cycles = await watch_pass(busy, done, max_cycles, step)
            assert await self.read_many([hm.reg(k) for k in junk]) == before[-1]
            return cycles

    assert_matches(run_jobs_amaranth(hw, jobs, compiled.n_out, max_cycles=5000, driver=Meddler), ref)
    assert len(before) == len(jobs) >= 2


@pytest.mark.parametrize("vendor", ["generic", "ice40"])
def test_write_back_commands_wait_for_busy(vendor):
    """A write-back command (``ctrl`` bit ``writeback``) is ignored while busy: during a pass
    (commands from the arm cycle on change nothing) and during a write-back; a command on the
    bus in c_done -- it takes effect in c_done + 1, the first cycle without busy -- starts
    one, which copies the write-out of every destination entry r of every PE to address
    ``wb_base + r`` of the next bank in ``regfile_entries + 3`` cycles of busy.  Checked
    against the model's outputs and a pattern preloaded into the next bank, with and without
    ``timing_registers`` (with them each PE decodes the command into a register of its own
    and drops it while the pass runs or its own write-back does)."""
    from amaranth.sim import Simulator

    from eie.flow.amsim import AmaranthDriver
    from eie.flow.host import pass_writes, start_ctrl, watch_pass
    from eie.hdl.regmap import CTRL_BITS, HostMap
    from eie.hdl.top import EIETop
    cfg = EIEConfig(pes=3, queue_depth=2, regfile_entries=4)
    compiled, a_q, cb_q, plan, ref = make_case(cfg, 30, 20, 0.4, 0.6, seed=7)
    hw = HWConfig(cfg, spmat_lines=64, ptr_words=32, act_depth=16, vendor=vendor)
    assert hw.timing_registers == (vendor == "generic")
    hm, n, depth, entries = HostMap(hw), hw.pes, hw.act_depth, cfg.regfile_entries
    jobs = layer_jobs(hw, compiled, a_q, cb_q, plan.shift, False, 1 << plan.fa)
    job = jobs[1]                                 # a pass past the first (its rows start at r0)
    r0, n_rows = job["row_start"], job["n_rows"]
    assert len(jobs) > 2 and n_rows == entries * n
    wb_base = depth - entries                     # the copy ends at the bank's last word
    mask = (1 << hw.data_bits) - 1
    where = [(p, a) for p in range(n) for a in range(depth)]
    pattern = {(p, a): (0x155 + 37 * p + 11 * a) & 0x7FFF for p, a in where}
    wb_cmd = (hm.reg("ctrl"), CTRL_BITS["writeback"])
    log = {}

    class Meddler(AmaranthDriver):
        async def start_pass(self, max_cycles, ctrl, until_done=True):
            # after the start write a write-back command in every cycle: through c_done (the
            # cycle after the one whose outputs show done) or for the first 6 cycles only
            _, _, busy, done = await self.write_and_sample(hm.reg("ctrl"), ctrl)
            st = {"k": 0, "done_k": None}

            async def step():
                k, dk = st["k"], st["done_k"]
                send = (dk is None or k == dk + 1) if until_done else k < 6
                _, _, b, d = await (self.cycle(*wb_cmd, we=1) if send else self.cycle())
                if d:
                    st["done_k"] = k
                st["k"] += 1
                return b, d

            return await watch_pass(busy, done, max_cycles, step)

    async def bench(ctx):
        drv = Meddler(hw, dut, ctx)
        for until_done in (False, True):
            await drv.write_all([(hm.pe(p, "act_next", a), v) for (p, a), v in pattern.items()])
            await drv.write_all(pass_writes(hw, job["image"]) + [(hm.reg("wb_base"), wb_base)])
            cycles = await drv.start_pass(5000, start_ctrl(job["image"]), until_done=until_done)
            # busy of the following cycles (c_done + 2 on); after the write-back's start a command
            # on the bus in every cycle whose write takes effect inside it (k = 1 .. entries + 2:
            # in c_done + 2 + k)
            trace = []
            for k in range(entries + 8):
                meddle = until_done and 1 <= k <= entries + 2
                _, _, b, _ = await (drv.cycle(*wb_cmd, we=1) if meddle else drv.cycle())
                trace.append(b)
            res = await drv.read_pass(r0, n_rows)
            nxt = await drv.read_many([hm.pe(p, "act_next", a) for p, a in where])
            log[until_done] = cycles, trace, res, dict(zip(where, nxt, strict=True))

    dut = EIETop(hw)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()

    outputs = [int(v) for v in ref.outputs_q[r0:r0 + n_rows]]
    expected = dict(pattern)
    for i, v in enumerate(outputs):             # row i of the pass: PE i mod N, entry i div N
        expected[(i % n, wb_base + i // n)] = v & mask
    assert expected != pattern
    assert log[False][0] == log[True][0] == log[True][2]["cycles"]
    for until_done, (_, trace, res, nxt) in log.items():
        assert res["outputs"] == outputs
        if until_done:      # the command in c_done started the one write-back; later ones did nothing
            assert trace == [1] * (entries + 3) + [0] * 5, trace
            assert nxt == expected
        else:               # the commands in the arm cycle and the pre-roll were dropped
            assert trace == [0] * (entries + 8), trace
            assert nxt == pattern


def test_every_pe_control_copy_follows_the_sequencer():
    """With ``timing_registers`` each PE takes the start and write-back commands from
    flip-flops of its own and gates them by the busy it sees (``EIETop._pe_commands``), not by
    the sequencer's.  Under a random stream of ``ctrl`` writes (start, write-back, both, at
    random cycles, many while a pass or a write-back runs), every PE's control copy must be the
    sequencer's ``ctl_pe_next`` a cycle late in every cycle, read here from the CCU's copy of
    the sequencer's own control (``ctl_ccu_*``, loaded from ``ctl_next``): ``arm``, ``start``,
    ``start_next`` equal; ``running``/``pf_active`` fall a cycle later (``start | running`` and
    ``arm | pf_active`` of the previous cycle)."""
    import random

    from amaranth.hdl import Fragment
    from amaranth.sim import Simulator

    from eie.flow.amsim import AmaranthDriver
    from eie.flow.host import pass_writes
    from eie.hdl.regmap import CTRL_BITS, HostMap
    from eie.hdl.top import EIETop
    cfg = EIEConfig(pes=3, queue_depth=2, regfile_entries=4)
    compiled, a_q, cb_q, plan, ref = make_case(cfg, 12, 20, 0.4, 0.6, seed=5)
    hw = HWConfig(cfg, spmat_lines=64, ptr_words=32, act_depth=16)
    assert hw.timing_registers
    hm = HostMap(hw)
    job = layer_jobs(hw, compiled, a_q, cb_q, plan.shift, False, 1 << plan.fa)[0]
    dut = EIETop(hw)
    frag = Fragment.get(dut, None)          # elaborated once: its inner signals are the simulated ones
    found = {}

    def collect(f):
        # every signal a statement assigns, by name (Statement._lhs_signals: Amaranth 0.5's own
        # helper, private; amaranth is pinned in pyproject.toml)
        for stmts in f.statements.values():
            for st in stmts:
                for sig in st._lhs_signals():
                    found.setdefault(sig.name, {})[id(sig)] = sig
        for sub, *_ in f.subfragments:
            collect(sub)

    collect(frag)
    fields = ("arm", "start", "start_next", "running", "pf_active")

    def one(name):
        assert len(found.get(name, ())) == 1, name
        return next(iter(found[name].values()))

    ccu = {k: one(f"ctl_ccu_{k}") for k in fields}
    pes = [{k: one(f"ctl_{p}_{k}") for k in fields} for p in range(hw.pes)]
    rng = random.Random(11)
    cmds = [CTRL_BITS["start"], CTRL_BITS["writeback"], CTRL_BITS["start"] | CTRL_BITS["writeback"]]
    seen = {"arms": 0, "cycles": 0, "sent": 0, "busy_sent": 0}

    async def bench(ctx):
        drv = AmaranthDriver(hw, dut, ctx)
        await drv.write_all(pass_writes(hw, job["image"]))
        prev = None
        for _ in range(1500):
            cmd = rng.choice(cmds) if rng.random() < 0.08 else 0
            # the returned busy is that of the cycle the command takes effect in
            _, _, busy, _ = await (drv.cycle(hm.reg("ctrl"), cmd, we=1) if cmd else drv.cycle())
            now = {k: ctx.get(s) for k, s in ccu.items()}
            for p, sigs in enumerate(pes):
                got = {k: ctx.get(s) for k, s in sigs.items()}
                if prev is not None:
                    want = {"arm": now["arm"], "start": now["start"], "start_next": now["start_next"],
                            "running": prev["start"] | prev["running"], "pf_active": now["arm"] | prev["pf_active"]}
                    assert got == want, (seen["cycles"], p, got, want)
            seen["arms"] += now["arm"]
            seen["sent"] += bool(cmd)
            seen["busy_sent"] += bool(cmd) and busy
            seen["cycles"] += 1
            prev = now

    sim = Simulator(frag)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert seen["arms"] >= 3 and seen["busy_sent"] >= 10 and seen["sent"] - seen["busy_sent"] >= 3, seen
