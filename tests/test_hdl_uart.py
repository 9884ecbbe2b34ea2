# amaranth: UnusedElaboratable=no
"""The UART (eie.hdl.uart) against a bit-level reference (tests/uart_ref.py), and the UART
bridge's frames (eie.hdl.busmap) on the Wishbone array, in Amaranth's simulator."""

import asyncio
import random

import pytest
from amaranth.sim import Simulator
from uart_ref import UARTDecoder, uart_levels

from eie.config import EIEConfig
from eie.flow.board_host import BridgeError, ByteLink, UARTDriver, read_frame, write_frame
from eie.hdl.board import BoardCore
from eie.hdl.busmap import UART_ACK, UART_HALF, UART_NAK, WishboneMap
from eie.hdl.params import HWConfig
from eie.hdl.regmap import HostMap
from eie.hdl.uart import UARTBridge, UARTRx, UARTTx

DIV = 5


def run(dut, bench, cycles_guard=200_000):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_tx_matches_reference():
    """Bytes pushed back to back come out as the reference waveform, cycle for cycle."""
    data = bytes([0x00, 0xFF, 0x55, 0xA3, 0x01, 0x80])
    dut = UARTTx(DIV)
    line = []

    async def bench(ctx):
        i = 0
        for _ in range(len(data) * 10 * DIV + 20):
            if i < len(data):
                ctx.set(dut.data.valid, 1)
                ctx.set(dut.data.payload, data[i])
                if ctx.get(dut.data.ready):
                    i += 1
            else:
                ctx.set(dut.data.valid, 0)
            await ctx.tick()
            line.append(ctx.get(dut.tx))

    run(dut, bench)
    start = line.index(0)
    assert all(v == 1 for v in line[:start])
    expect = uart_levels(data, DIV)
    assert line[start:start + len(expect)] == expect
    assert all(v == 1 for v in line[start + len(expect):])


@pytest.mark.parametrize("skew", [1.0, 0.97, 1.03])
def test_rx_decodes_reference(skew):
    """Random bytes with random gaps, from a transmitter up to 3 % off the baud rate."""
    rnd = random.Random(int(skew * 100))
    data = bytes(rnd.randrange(256) for _ in range(40))
    levels = [1] * 7
    for b in data:
        levels += uart_levels(bytes([b]), DIV * skew, gap=rnd.choice([0, 0, 1, 3, 17]))
    dut = UARTRx(DIV)
    got, errors = bytearray(), []

    async def bench(ctx):
        for v in levels + [1] * 30:
            ctx.set(dut.rx, v)
            await ctx.tick()
            if ctx.get(dut.data.valid):
                got.append(ctx.get(dut.data.payload))
            errors.append(ctx.get(dut.frame_error))

    run(dut, bench)
    assert bytes(got) == data and not any(errors)


def test_rx_drops_a_byte_with_a_low_stop_bit():
    levels = [1] * 5 + uart_levels(b"\x5a", DIV)
    bad = [1] * 5 + [0] * (10 * DIV) + [1] * DIV            # a break: stop bit low
    dut = UARTRx(DIV)
    got, errors = bytearray(), 0

    async def bench(ctx):
        nonlocal errors
        for v in bad + levels + [1] * 20:
            ctx.set(dut.rx, v)
            await ctx.tick()
            if ctx.get(dut.data.valid):
                got.append(ctx.get(dut.data.payload))
            errors += ctx.get(dut.frame_error)

    run(dut, bench)
    assert bytes(got) == b"\x5a" and errors == 1


def test_divisor_is_checked():
    with pytest.raises(ValueError, match="divisor must be an integer >= 4"):
        UARTTx(3)
    with pytest.raises(ValueError, match="resync must be an integer >= 20 bit times"):
        UARTBridge(divisor=8, addr_width=12, sub_bits=0, words=1, resync=10)


# ---- the bridge on the array ----------------------------------------------------------------------
# two PEs, 64-bit lines: two bus words per host word (sub_bits 1)
HW = HWConfig(EIEConfig(pes=2, queue_depth=2, regfile_entries=8), spmat_lines=32, ptr_words=16, act_depth=16)
RESYNC = 400


class SimLink(ByteLink):
    """The serial line of :class:`BoardCore` in the Amaranth simulator: bytes become levels on
    ``rx`` (the reference waveform); ``tx`` is decoded by the reference decoder."""

    def __init__(self, ctx, dut, gap=0):
        self.ctx, self.dut, self.gap = ctx, dut, gap
        self.dec = UARTDecoder(DIV)
        self.taken = 0

    async def _tick(self, rx=1):
        self.ctx.set(self.dut.rx, rx)
        await self.ctx.tick()
        self.dec.step(self.ctx.get(self.dut.tx))

    async def send(self, data):
        for v in uart_levels(data, DIV, gap=self.gap):
            await self._tick(v)

    async def idle(self, cycles):
        for _ in range(cycles):
            await self._tick()

    async def recv(self, n):
        guard = 12 * DIV * n + 400
        while len(self.dec.bytes) - self.taken < n:
            await self._tick()
            guard -= 1
            if guard < 0:
                raise BridgeError(f"no answer: {len(self.dec.bytes) - self.taken} of {n} bytes")
        out = bytes(self.dec.bytes[self.taken:self.taken + n])
        self.taken += n
        return out


def run_board(bench_body, gap=0):
    dut = BoardCore(HW, divisor=DIV, resync=RESYNC)
    box = {}

    async def bench(ctx):
        link = SimLink(ctx, dut, gap)
        await link.idle(5)
        box["out"] = await bench_body(link)

    run(dut, bench)
    return box["out"]


def test_bridge_frames_reach_every_kind_of_word():
    """Register words, full-width lines (two bus words, high first), half-words; reads back."""
    hm, wmap = HostMap(HW), WishboneMap(HW)
    lines = [0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210, 0x8000_0000_0000_0001]

    async def body(link):
        await link.send(write_frame(hm.reg("groups"), 1, [5], wmap.split))
        await link.send(write_frame(hm.pe(1, "spmat", 3), 2, lines, wmap.split))
        await link.send(write_frame(hm.pe(0, "ptr_odd", 0), UART_HALF, [7, 0xFFFF, 300], wmap.split))
        acks = await link.recv(3)
        await link.send(read_frame(hm.reg("groups"), 1, 1))
        groups = await link.recv(5)
        await link.send(read_frame(hm.pe(1, "spmat", 3), 2, 3))
        got_lines = await link.recv(1 + 3 * 8)
        await link.send(read_frame(hm.pe(0, "ptr_odd", 0), UART_HALF, 3))
        ptrs = await link.recv(1 + 6)
        return acks, groups, got_lines, ptrs

    acks, groups, got_lines, ptrs = run_board(body)
    assert acks == bytes([UART_ACK] * 3)
    assert groups[0] == got_lines[0] == ptrs[0] == UART_ACK          # a read answer starts with ACK
    groups, got_lines, ptrs = groups[1:], got_lines[1:], ptrs[1:]
    assert int.from_bytes(groups, "little") == 5
    assert [int.from_bytes(got_lines[8 * i:8 * i + 8], "little") for i in range(3)] == lines
    assert [int.from_bytes(ptrs[2 * i:2 * i + 2], "little") for i in range(3)] == [7, 0xFFFF, 300]


def test_bridge_nak_and_resynchronisation():
    """An unknown command or width is NAKed and the rest of its frame ignored; a frame that stops
    half-way is dropped after the idle time; the next frame is served."""
    hm, wmap = HostMap(HW), WishboneMap(HW)

    async def body(link):
        await link.send(b"\x99" + bytes(7))
        nak = await link.recv(1)
        await link.idle(RESYNC + 10)
        await link.send(bytes([0x52, 0x12]) + bytes(6))                 # width 0x12: more than K = 2
        nak += await link.recv(1)
        await link.idle(RESYNC + 10)
        await link.send(write_frame(hm.reg("shift"), 1, [9], wmap.split)[:6])      # cut short
        await link.idle(RESYNC + 10)
        await link.send(write_frame(hm.reg("relu"), 1, [1], wmap.split))
        ack = await link.recv(1)
        await link.send(read_frame(hm.reg("shift"), 1, 2))
        regs = await link.recv(9)
        return nak, ack, regs[1:]

    nak, ack, regs = run_board(body)
    assert nak == bytes([UART_NAK] * 2) and ack == bytes([UART_ACK])
    assert int.from_bytes(regs[:4], "little") == 0          # the cut frame wrote nothing
    assert int.from_bytes(regs[4:], "little") == 1


def test_driver_over_the_bridge_reads_what_it_wrote():
    """UARTDriver (the board driver) through the simulated line: bursts of every width,
    signed words sign-extended like the parallel port returns them."""
    hm = HostMap(HW)
    ops = ([(hm.pe(0, "spmat", i), (i * 0x1111_2222_3333) & (2**64 - 1)) for i in range(5)]
           + [(hm.pe(1, "ptr_even", i), 1000 + i) for i in range(4)]
           + [(hm.bcast("codebook", i), (-3 + i) & (2**64 - 1)) for i in range(4)]
           + [(hm.reg("bias_act"), 256)])

    async def body(link):
        drv = UARTDriver(HW, link)
        await drv.write_all(ops)
        back = await drv.read_many([a for a, _ in ops[:-5]] + [hm.pe(1, "codebook", i) for i in range(4)])
        return back, drv.sent, drv.received

    back, sent, received = run_board(body, gap=2)
    assert back[:9] == [v for _, v in ops[:9]]
    assert back[9:] == [(-3 + i) & (2**64 - 1) for i in range(4)]
    assert sent > 0 and received > 0


def test_driver_raises_on_a_nak():
    class NakLink(ByteLink):
        async def send(self, data):
            pass

        async def recv(self, n):
            return bytes([UART_NAK] * n)

    drv = UARTDriver(HW, NakLink())
    with pytest.raises(BridgeError, match="NAK"):
        asyncio.run(drv.read_many([HostMap(HW).reg("status")]))
