"""A bit-level UART reference (8N1) for the tests: the line levels of bytes, and a decoder that
samples a line the way a receiver on the other end of the cable would.  Independent of
eie.hdl.uart (no Amaranth), so the gateware is checked against it."""

from __future__ import annotations


def uart_levels(data: bytes, bit_cycles: float, gap: int = 0) -> list[int]:
    """Line level per clock cycle for ``data``: per byte a start bit (0), eight data bits
    LSB first and a stop bit (1), each ``bit_cycles`` long (a real number: a transmitter
    whose baud rate is a little off), then ``gap`` idle cycles."""
    out: list[int] = []
    for byte in data:
        bits = [0] + [(byte >> i) & 1 for i in range(8)] + [1]
        t0 = len(out)
        for k, b in enumerate(bits):
            end = t0 + round((k + 1) * bit_cycles)
            out += [b] * (end - len(out))
        out += [1] * gap
    return out


class UARTDecoder:
    """Streaming 8N1 decoder: feed one level per cycle with :meth:`step`; complete bytes
    collect in :attr:`bytes`; a byte whose stop bit is low goes to :attr:`errors`."""

    def __init__(self, divisor: int):
        self.div = divisor
        self.bytes = bytearray()
        self.errors = 0
        self._t = None                 # cycles since the start edge
        self._prev = 1
        self._bits: list[int] = []

    def step(self, level: int) -> None:
        if self._t is None:
            if self._prev == 1 and level == 0:
                self._t, self._bits = 0, []
        else:
            self._t += 1
            k, r = divmod(self._t, self.div)
            if r == self.div // 2 and 1 <= k <= 9:
                self._bits.append(level)
                if k == 9:
                    if level:
                        self.bytes.append(sum(b << i for i, b in enumerate(self._bits[:8])))
                    else:
                        self.errors += 1
                    self._t = None
        self._prev = level

    def feed(self, levels) -> None:
        for v in levels:
            self.step(v)
