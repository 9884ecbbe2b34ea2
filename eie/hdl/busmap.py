"""The host register map on 32-bit buses: the Wishbone word map of
:class:`eie.hdl.wishbone.EIEWishbone` and the frames of the UART bridge
(:class:`eie.hdl.uart.UARTBridge`).

Plain Python (no Amaranth import), like :mod:`.regmap`: the RTL builds its decoders from
these names and the host drivers (:mod:`eie.flow.host`, :mod:`eie.flow.board_host`) their
bus cycles and frames, so a board driver needs neither Amaranth nor a simulator.

Wishbone word map
-----------------
Wishbone B4, 32-bit data, word addressed (``adr`` counts 32-bit words), ``sel`` 4 bits of
byte granularity so that a LiteX or Amaranth SoC bus attaches as it is; the array's words
are written whole (``sel`` is ignored: no byte writes).  A host word (``data_bits`` wide,
:mod:`.regmap`) takes ``K = ceil(data_bits / 32)`` bus words::

    adr = (host_addr << S) | j        S = ceil(log2 K), word j = bits 32j .. 32j+31

* **Write**: a write of word ``j > 0`` only *stages* it; a write of word 0 writes
  ``{staged words, dat_w}`` to the array at once and clears the staged words.  So a wide
  word (a sparse-matrix line wider than 32 bits, or a destination preload of an ``acc_bits``
  > 32 value: a negative one has bits above 31) is written high word first, word 0 last;
  every register, pointer, activation and codebook value (and a preload that fits 32 bits) is
  one write of word 0, whose missing upper words are zeros.
* **Read**: a read of word 0 reads the array (``READ_LATENCY`` cycles) and latches the
  whole word; a read of word ``j > 0`` returns bits of the latched word (one cycle).  So a
  wide word is read word 0 first.  Signed words read back sign-extended to ``data_bits``.

UART bridge frames (8N1, little-endian)
---------------------------------------
Host → board, a frame::

    byte 0      command  :data:`UART_WRITE` ('W') or :data:`UART_READ` ('R')
    byte 1      width    32-bit words per item, 1 .. K; 0 (:data:`UART_HALF`): one 16-bit
                         half-word per item (written zero-extended; read: bits 15 .. 0)
    bytes 2-3   count−1  items in the burst (1 .. 65,536)
    bytes 4-7   address  host address (:class:`~.regmap.HostMap`) of the first item;
                         item i is at host address ``address + i``
    write only: the items' data, per item its words high first (word width−1 .. word 0:
                the commit order of the Wishbone map), each 4 bytes (half: 2 bytes)

Board → host: after a write frame, one byte :data:`UART_ACK` once its last word is written;
after a read frame, :data:`UART_ACK` and then the items' words, per item word 0 first, 4 bytes
each (half: 2).  An
unknown command or width is answered with :data:`UART_NAK`; the bridge then ignores the
line until it has been idle for its resynchronisation time (:data:`UART_RESYNC_S`), so a
host recovers by waiting that long.  A frame that stops half-way for that long ends
without an answer (the words it completed are written).  Rules for the host: write
frames may follow each other without waiting for their ACKs (the bridge writes a word in
two cycles, long before the next byte arrives); after a read frame, wait for its whole
answer before sending anything (the bridge does not receive while it answers).
"""

from __future__ import annotations

from ..errors import ConfigError

__all__ = ["WB_DATA_BITS", "WB_SEL_BITS", "WishboneMap", "UART_WRITE", "UART_READ", "UART_HALF", "UART_ACK",
           "UART_NAK", "UART_RESYNC_S", "UART_HEADER_BYTES", "UART_MAX_COUNT", "UART_MAX_WIDTH", "frame_bytes"]

#: data width of the Wishbone port
WB_DATA_BITS = 32
#: ``sel`` lines (byte granularity)
WB_SEL_BITS = WB_DATA_BITS // 8

#: UART frame commands and answers
UART_WRITE = 0x57
UART_READ = 0x52
UART_ACK = 0x06
UART_NAK = 0x15
#: the width byte of a frame of 16-bit half-words
UART_HALF = 0
#: bytes of a frame header (command, width, count−1, address)
UART_HEADER_BYTES = 8
#: a frame quiet for this long (seconds) is dropped by the bridge (USB-serial adapters
#: pause a few milliseconds between packets, never this long)
UART_RESYNC_S = 0.02
#: most items in one frame
UART_MAX_COUNT = 1 << 16
#: widest item (the width field's four bits)
UART_MAX_WIDTH = 15


class WishboneMap:
    """The Wishbone word map of one :class:`~eie.hdl.params.HWConfig` (module docstring)."""

    def __init__(self, hw):
        self.hw = hw
        #: bus words per host word
        self.words = -(-hw.data_bits // WB_DATA_BITS)
        #: address bits of the word index inside a host word
        self.sub_bits = (self.words - 1).bit_length()
        #: width of ``adr``
        self.adr_bits = hw.host_addr_bits + self.sub_bits
        if self.words > UART_MAX_WIDTH:
            raise ConfigError(f"the host word (data_bits, the widest of line_bits, acc_bits and the others) must be "
                              f"at most {UART_MAX_WIDTH * WB_DATA_BITS} bits for the 32-bit bus, not {hw.data_bits}: "
                              f"use --line-bits of at most {UART_MAX_WIDTH * WB_DATA_BITS}")

    def adr(self, host_addr: int, j: int = 0) -> int:
        """Bus address of word ``j`` of host word ``host_addr``."""
        if not 0 <= j < self.words:
            raise ValueError(f"word index must be in [0, {self.words - 1}], not {j!r}")
        return (host_addr << self.sub_bits) | j

    def split(self, value: int) -> list[int]:
        """The bus words of a host word, word 0 first."""
        value &= (1 << self.hw.data_bits) - 1
        return [(value >> (WB_DATA_BITS * j)) & 0xFFFF_FFFF for j in range(self.words)]

    def join(self, words) -> int:
        """The host word of its bus words (word 0 first)."""
        return sum((w & 0xFFFF_FFFF) << (WB_DATA_BITS * j) for j, w in enumerate(words))


def frame_bytes(width: int, count: int, write: bool) -> tuple[int, int]:
    """``(host → board, board → host)`` bytes of one frame of ``count`` items of ``width``
    (:data:`UART_HALF` or 1 .. K words)."""
    item = 2 if width == UART_HALF else 4 * width
    if write:
        return UART_HEADER_BYTES + item * count, 1
    return UART_HEADER_BYTES, 1 + item * count
