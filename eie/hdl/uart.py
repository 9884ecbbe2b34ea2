"""A UART (8N1) and the UART-to-Wishbone bridge of the board builds (`uart`):
:class:`UARTRx`, :class:`UARTTx`, :class:`UARTBridge`.

The frames the bridge understands are :mod:`.busmap` ("UART bridge frames"); the Wishbone
word map it addresses is :class:`~.busmap.WishboneMap`.

Timing
------
``divisor`` clock cycles per bit (``clk_hz / baud``, at least 4).  The receiver
synchronises ``rx`` through two flip-flops, finds the start bit's falling edge, samples
every bit in its middle and checks the stop bit (a byte with a low stop bit is dropped and
``frame_error`` pulses).  A byte is on ``data`` with ``valid`` for one cycle (no back
pressure: a byte nobody takes is lost) about 9.5 bits after its start edge.  The
transmitter takes a byte when ``data.ready`` and sends start bit, eight data bits (LSB
first) and stop bit, each ``divisor`` cycles, on a registered ``tx`` (two cycles after the
byte is taken); ``ready`` is high in the stop bit's last cycle, so bytes offered back to
back follow each other with no idle time.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .busmap import UART_ACK, UART_HALF, UART_HEADER_BYTES, UART_NAK, UART_READ, UART_WRITE, WB_DATA_BITS
from .wishbone import WishboneSignature

__all__ = ["UARTRx", "UARTTx", "UARTBridge", "check_divisor"]


def check_divisor(divisor) -> int:
    if isinstance(divisor, bool) or not isinstance(divisor, int) or divisor < 4:
        raise ValueError(f"divisor must be an integer >= 4 (clock cycles per bit), not {divisor!r}")
    return divisor


class UARTRx(wiring.Component):
    """8N1 receiver.

    Members
    -------
    rx : In(1, init=1)              the line (idle high).
    data : Out(stream.Signature(8)) a received byte (valid one cycle; ``ready`` is ignored).
    frame_error : Out(1)            pulse: a byte's stop bit was low (the byte is dropped).
    """

    def __init__(self, divisor: int):
        self._div = check_divisor(divisor)
        super().__init__({"rx": In(1, init=1), "data": Out(stream.Signature(8)), "frame_error": Out(1)})

    def elaborate(self, platform):
        m = Module()
        div = self._div
        sync = Signal(2, init=0b11)
        m.d.sync += sync.eq(Cat(self.rx, sync[0]))
        line = sync[1]
        timer = Signal(range(div + 1))
        bits = Signal(range(10))
        shift = Signal(8)
        m.d.sync += [self.data.valid.eq(0), self.frame_error.eq(0)]
        with m.FSM():
            with m.State("idle"), m.If(~line):
                m.d.sync += timer.eq(div // 2 - 1)
                m.next = "start"
            with m.State("start"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(line):                       # a glitch, not a start bit
                    m.next = "idle"
                with m.Else():
                    m.d.sync += [timer.eq(div - 1), bits.eq(0)]
                    m.next = "data"
            with m.State("data"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [timer.eq(div - 1), shift.eq(Cat(shift[1:], line)), bits.eq(bits + 1)]
                    with m.If(bits == 7):
                        m.next = "stop"
            with m.State("stop"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    with m.If(line):
                        m.d.sync += [self.data.payload.eq(shift), self.data.valid.eq(1)]
                    with m.Else():
                        m.d.sync += self.frame_error.eq(1)
                    m.next = "idle"
        return m


class UARTTx(wiring.Component):
    """8N1 transmitter.

    Members
    -------
    data : In(stream.Signature(8))  a byte to send, taken when ``ready`` (idle).
    tx : Out(1, init=1)             the line (registered, idle high).
    """

    def __init__(self, divisor: int):
        self._div = check_divisor(divisor)
        super().__init__({"data": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        div = self._div
        timer = Signal(range(div))
        shift = Signal(10, init=0x3FF)           # stop bit, 8 data bits, start bit (LSB first)
        left = Signal(range(11))
        # ready in the last cycle of the stop bit: back-to-back bytes have no idle bit between
        m.d.comb += self.data.ready.eq((left == 0) | ((left == 1) & (timer == 0)))
        m.d.sync += self.tx.eq(shift[0])
        with m.If(self.data.valid & self.data.ready):
            m.d.sync += [shift.eq(Cat(Const(0, 1), self.data.payload, Const(1, 1))), left.eq(10),
                         timer.eq(div - 1)]
        with m.Elif(left != 0):
            with m.If(timer != 0):
                m.d.sync += timer.eq(timer - 1)
            with m.Else():
                m.d.sync += [shift.eq(Cat(shift[1:], Const(1, 1))), left.eq(left - 1), timer.eq(div - 1)]
        return m


class UARTBridge(wiring.Component):
    """Frames on a UART → Wishbone B4 classic master (frames: :mod:`.busmap`).

    Parameters
    ----------
    divisor : clock cycles per bit.
    addr_width : width of the Wishbone address (``WishboneMap.adr_bits``).
    sub_bits : address bits of the word index inside a host word (``WishboneMap.sub_bits``).
    words : bus words per host word (``WishboneMap.words``): the widest item of a frame.
    resync : idle cycles after which a frame that stopped half-way is dropped (and after
        which the line is listened to again following a NAK).

    Members
    -------
    rx : In(1, init=1), tx : Out(1, init=1)   the serial lines.
    bus : Out(WishboneSignature)              the master port (classic: no ``stall``).
    frame_error : Out(1)                      the receiver's stop-bit error pulse.

    A write word goes out as soon as its last byte arrives; the slave acknowledges it
    within two cycles, long before the next byte (``divisor`` >= 4 gives 40 cycles).
    """

    def __init__(self, *, divisor: int, addr_width: int, sub_bits: int, words: int, resync: int):
        self._div = check_divisor(divisor)
        if not 1 <= words <= 15 or (words - 1).bit_length() != sub_bits:
            raise ValueError(f"words must be in [1, 15] with sub_bits = ceil(log2(words)), not {words!r}, "
                             f"{sub_bits!r}")
        if isinstance(resync, bool) or not isinstance(resync, int) or resync < 20 * divisor:
            raise ValueError(f"resync must be an integer >= 20 bit times ({20 * divisor} cycles), not {resync!r}")
        self._addr_width, self._sub_bits, self._words, self._resync = addr_width, sub_bits, words, resync
        super().__init__({
            "rx": In(1, init=1),
            "tx": Out(1, init=1),
            "bus": Out(WishboneSignature(addr_width=addr_width)),
            "frame_error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.urx = urx = UARTRx(self._div)
        m.submodules.utx = utx = UARTTx(self._div)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx), self.frame_error.eq(urx.frame_error)]
        bus, s = self.bus, self._sub_bits
        got = urx.data.valid
        byte = urx.data.payload

        # the header, bytes shifted in from the top: after eight, byte 0 is bits 7 .. 0
        hdr = Signal(UART_HEADER_BYTES * 8)
        nhdr = Signal(range(UART_HEADER_BYTES + 1))
        # the header's fields are the frame's state: the count and the address are counted
        # down and up in place (items left − 1, host address of the current item)
        cmd, width, left, addr = hdr[:8], hdr[8:12], hdr[16:32], hdr[32:64]
        word = Signal(4)                           # word of the item being moved
        nbyte = Signal(2)                          # byte of the word
        data = Signal(WB_DATA_BITS)
        half = width == UART_HALF
        last_byte = nbyte == Mux(half, 1, 3)
        idle = Signal(range(self._resync + 1))

        # resynchronisation: a frame (or a discarded line) quiet for `resync` cycles ends
        with m.If(got):
            m.d.sync += idle.eq(0)
        with m.Elif(idle != self._resync):
            m.d.sync += idle.eq(idle + 1)
        quiet = idle == self._resync

        m.d.comb += [bus.adr.eq(Cat(word[:s], addr) if s else addr), bus.sel.eq(0b1111),
                     bus.dat_w.eq(data)]
        send = Signal(8)
        with m.FSM():
            with m.State("idle"):
                m.d.sync += nhdr.eq(0)
                with m.If(got):
                    m.d.sync += [hdr.eq(Cat(hdr[8:], byte)), nhdr.eq(1)]
                    m.next = "header"
            with m.State("header"):
                with m.If(got):
                    m.d.sync += [hdr.eq(Cat(hdr[8:], byte)), nhdr.eq(nhdr + 1)]
                with m.If(quiet):
                    m.next = "idle"
                with m.If(nhdr == UART_HEADER_BYTES):
                    m.d.sync += [nbyte.eq(0), data.eq(0)]
                    ok = hdr[8:16] <= self._words          # the whole width byte
                    with m.If((cmd == UART_WRITE) & ok):
                        m.d.sync += word.eq(Mux(half, 0, width - 1))
                        m.next = "wdata"
                    with m.Elif((cmd == UART_READ) & ok):
                        m.d.sync += [word.eq(0), send.eq(UART_ACK)]
                        m.next = "rack"
                    with m.Else():
                        m.d.sync += send.eq(UART_NAK)
                        m.next = "nak"
            # ---- write: collect a word, write it, next word (high first) / next item
            with m.State("wdata"):
                with m.If(got):
                    m.d.sync += [data.eq(Cat(data[8:], byte)), nbyte.eq(nbyte + 1)]
                    with m.If(last_byte):
                        with m.If(half):
                            m.d.sync += data.eq(Cat(data[24:], byte))
                        m.next = "wbus"
                with m.If(quiet):
                    m.next = "idle"
            with m.State("wbus"):
                m.d.comb += [bus.cyc.eq(1), bus.stb.eq(1), bus.we.eq(1)]
                with m.If(bus.ack):
                    m.d.sync += [nbyte.eq(0), data.eq(0)]
                    with m.If(word != 0):
                        m.d.sync += word.eq(word - 1)
                        m.next = "wdata"
                    with m.Elif(left != 0):
                        m.d.sync += [left.eq(left - 1), addr.eq(addr + 1), word.eq(Mux(half, 0, width - 1))]
                        m.next = "wdata"
                    with m.Else():
                        m.d.sync += send.eq(UART_ACK)
                        m.next = "answer"
            # ---- read: read a word, send its bytes, next word (low first) / next item
            with m.State("rack"):
                m.d.comb += [utx.data.valid.eq(1), utx.data.payload.eq(send)]
                with m.If(utx.data.ready):
                    m.next = "rbus"
            with m.State("rbus"):
                m.d.comb += [bus.cyc.eq(1), bus.stb.eq(1)]
                with m.If(bus.ack):
                    m.d.sync += [data.eq(bus.dat_r), nbyte.eq(0)]
                    m.next = "rsend"
            with m.State("rsend"):
                m.d.comb += [utx.data.valid.eq(1), utx.data.payload.eq(data[:8])]
                with m.If(utx.data.ready):
                    m.d.sync += [data.eq(data >> 8), nbyte.eq(nbyte + 1)]
                    with m.If(last_byte):
                        with m.If(word + 1 < Mux(half, 1, width)):
                            m.d.sync += word.eq(word + 1)
                            m.next = "rbus"
                        with m.Elif(left != 0):
                            m.d.sync += [left.eq(left - 1), addr.eq(addr + 1), word.eq(0)]
                            m.next = "rbus"
                        with m.Else():
                            m.next = "idle"
            # ---- answers
            with m.State("answer"):
                m.d.comb += [utx.data.valid.eq(1), utx.data.payload.eq(send)]
                with m.If(utx.data.ready):
                    m.next = "idle"
            with m.State("nak"):
                m.d.comb += [utx.data.valid.eq(1), utx.data.payload.eq(send)]
                with m.If(utx.data.ready):
                    m.next = "discard"
            with m.State("discard"), m.If(quiet):
                m.next = "idle"
        return m
