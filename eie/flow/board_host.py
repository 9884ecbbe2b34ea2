"""The host side of a board build: frames of the UART bridge (:mod:`eie.hdl.busmap`), a
:class:`~eie.flow.host.WordDriver` over any byte link (:class:`UARTDriver`), a link over a
serial port (:class:`SerialLink`, pyserial), and the bytes and seconds a load takes
(:func:`load_traffic`).

No Amaranth and no simulator here: ``eie run-board`` needs only pyserial.  The same driver
runs against the simulated board top (the tests put a pseudo-terminal where the cable
would be), so the bytes on the wire are the ones a board sees.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import EIEError
from ..hdl.busmap import (
    UART_ACK,
    UART_HALF,
    UART_MAX_COUNT,
    UART_NAK,
    UART_READ,
    UART_WRITE,
    frame_bytes,
)
from ..hdl.params import HWConfig
from .host import WordDriver, pass_writes, resident_layout

__all__ = ["BridgeError", "write_frame", "read_frame", "decode_words", "ByteLink", "SerialLink", "UARTDriver",
           "CountingDriver", "LoadTraffic", "load_traffic", "check_board", "BITS_PER_BYTE"]

#: bits on the line per byte (8N1: start, 8 data, stop)
BITS_PER_BYTE = 10


class BridgeError(EIEError):
    """The board answered something the protocol does not allow (NAK, a wrong byte, silence)."""


def _item_bytes(width: int) -> int:
    return 2 if width == UART_HALF else 4 * width


def _check(width: int, count: int):
    if not (width == UART_HALF or 1 <= width <= 15):
        raise ValueError(f"width must be {UART_HALF} (half-words) or 1 .. 15 words, not {width!r}")
    if not 1 <= count <= UART_MAX_COUNT:
        raise ValueError(f"count must be in [1, {UART_MAX_COUNT}], not {count!r}")


def _header(cmd: int, addr: int, width: int, count: int) -> bytes:
    _check(width, count)
    return struct.pack("<BBHI", cmd, width, count - 1, addr)


def write_frame(addr: int, width: int, items, split) -> bytes:
    """A write frame of host words ``items`` from host address ``addr``; ``split`` turns a
    host word into its bus words (word 0 first, :meth:`WishboneMap.split`)."""
    items = list(items)
    out = bytearray(_header(UART_WRITE, addr, width, len(items)))
    for value in items:
        if width == UART_HALF:
            out += struct.pack("<H", value & 0xFFFF)
        else:
            words = split(value)[:width]
            for w in reversed(words):            # high words first: word 0 commits
                out += struct.pack("<I", w)
    return bytes(out)


def read_frame(addr: int, width: int, count: int) -> bytes:
    return _header(UART_READ, addr, width, count)


def decode_words(data: bytes, width: int, count: int, join) -> list[int]:
    """The host words of a read answer (``join``: :meth:`WishboneMap.join`)."""
    if width == UART_HALF:
        return list(struct.unpack(f"<{count}H", data))
    words = struct.unpack(f"<{count * width}I", data)
    return [join(words[i * width:(i + 1) * width]) for i in range(count)]


class ByteLink:
    """A byte stream to the bridge: :meth:`send` and :meth:`recv` (exactly ``n`` bytes)."""

    async def send(self, data: bytes) -> None:
        raise NotImplementedError

    async def recv(self, n: int) -> bytes:
        raise NotImplementedError


class SerialLink(ByteLink):
    """A serial port (pyserial; ``port`` may be a pseudo-terminal).  ``timeout``: seconds
    to wait for an answer before :class:`BridgeError`."""

    def __init__(self, port: str, baud: int, timeout: float = 5.0):
        import serial
        try:
            self.serial = serial.Serial(port, baudrate=baud, timeout=timeout, write_timeout=timeout)
        except (serial.SerialException, ValueError, OverflowError, OSError) as exc:
            raise BridgeError(f"cannot open serial port {port!r} at {baud} baud: {exc}") from None
        self.timeout = timeout
        self._timeout_error = serial.SerialTimeoutException

    async def send(self, data: bytes) -> None:
        try:
            self.serial.write(data)
        except self._timeout_error:
            raise BridgeError(f"the port took no more bytes within {self.timeout:g} s (a stalled line, or a "
                              f"wrong port?)") from None
        except OSError as exc:
            raise BridgeError(f"the port failed while sending: {exc}") from None

    async def recv(self, n: int) -> bytes:
        try:
            self.serial.flush()
            data = self.serial.read(n)
        except OSError as exc:
            raise BridgeError(f"the port failed while receiving: {exc}") from None
        if len(data) != n:
            raise BridgeError(f"the board answered {len(data)} of {n} bytes within {self.timeout:g} s "
                              f"(wrong port or baud rate, or no EIE bitstream loaded?)")
        return data

    def close(self):
        self.serial.close()


class UARTDriver(WordDriver):
    """:class:`~eie.flow.host.WordDriver` over the UART bridge's frames on a :class:`ByteLink`.

    Write frames go out back to back; their ACK bytes are collected before the next read
    (the protocol allows that), so a load streams at the line rate.  ``sent`` and
    ``received`` count the bytes on the wire.
    """

    def __init__(self, hw: HWConfig, link: ByteLink):
        super().__init__(hw)
        self.link = link
        self.pending_acks = 0
        self.sent = 0
        self.received = 0

    async def _send(self, data: bytes):
        self.sent += len(data)
        await self.link.send(data)

    async def _recv(self, n: int) -> bytes:
        data = await self.link.recv(n)
        self.received += len(data)
        return data

    async def flush(self):
        """Collect the ACKs of the write frames sent so far."""
        if self.pending_acks:
            n, self.pending_acks = self.pending_acks, 0
            answer = await self._recv(n)
            bad = [b for b in answer if b != UART_ACK]
            if bad:
                what = "NAK (a frame the bridge did not accept)" if bad[0] == UART_NAK else f"byte {bad[0]:#04x}"
                raise BridgeError(f"the board answered a frame with {what} instead of ACK")

    async def write_items(self, addr: int, width: int, items: list[int]):
        await self._send(write_frame(addr, width, items, self.wmap.split))
        self.pending_acks += 1

    async def read_items(self, addr: int, width: int, count: int) -> list[int]:
        await self.flush()
        await self._send(read_frame(addr, width, count))
        self.pending_acks = 1
        await self.flush()
        data = await self._recv(_item_bytes(width) * count)
        return decode_words(data, width, count, self.wmap.join)


class CountingDriver(WordDriver):
    """A :class:`WordDriver` with no board: it counts the bytes each direction would carry."""

    def __init__(self, hw: HWConfig):
        super().__init__(hw)
        self.sent = 0
        self.received = 0
        self.frames = 0

    async def write_items(self, addr, width, items):
        out, back = frame_bytes(width, len(items), True)
        self.sent += out
        self.received += back
        self.frames += 1

    async def read_items(self, addr, width, count):
        out, back = frame_bytes(width, count, False)
        self.sent += out
        self.received += back
        self.frames += 1
        return [0] * count


@dataclass(frozen=True)
class LoadTraffic:
    """What loading a layer costs on the UART: frames, bytes each way, seconds at ``baud``."""

    words: int                 # host words written
    frames: int
    bytes_out: int             # host → board
    bytes_back: int            # board → host (ACKs)
    baud: int

    @property
    def seconds(self) -> float:
        """Line time of the host → board bytes (8N1; the ACKs travel the other way meanwhile)."""
        return self.bytes_out * BITS_PER_BYTE / self.baud

    def to_dict(self) -> dict:
        return {"words": self.words, "frames": self.frames, "bytes_out": self.bytes_out,
                "bytes_back": self.bytes_back, "baud": self.baud, "seconds": self.seconds}


def load_traffic(hw: HWConfig, jobs, baud: int, *, resident: bool = False) -> LoadTraffic:
    """The UART traffic of loading every pass of ``jobs`` (:func:`eie.flow.host.layer_jobs`)
    the way :meth:`~eie.flow.host.HostDriver.run_jobs` does (``resident``: all passes once)."""
    import asyncio
    drv = CountingDriver(hw)
    if resident:
        bases = resident_layout(hw, jobs)
        ops = [op for t, job in enumerate(jobs)
               for op in pass_writes(hw, job["image"], load_act=t == 0, regs=False, **bases[t])]
    else:
        ops = [op for job in jobs for op in pass_writes(hw, job["image"])]
    asyncio.run(drv.write_all(ops))
    return LoadTraffic(len(ops), drv.frames, drv.sent, drv.received, baud)


async def check_board(drv: WordDriver, hw: HWConfig) -> None:
    """Read ``version`` and ``pes`` from the board and compare them with ``hw``."""
    from ..hdl.regmap import HW_VERSION
    version, pes = await drv.read_many([drv.map.reg("version"), drv.map.reg("pes")])
    if version != HW_VERSION:
        raise BridgeError(f"the board reports register-map version {version}, this eie speaks {HW_VERSION} "
                          f"(rebuild the bitstream with this eie)")
    if pes != hw.pes:
        raise BridgeError(f"the board has {pes} PEs, the build directory describes {hw.pes}")
