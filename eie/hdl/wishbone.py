"""A Wishbone B4 slave in front of the array (`wishbone`): :class:`EIEWishbone`, so that the
array drops into a LiteX or Amaranth SoC; the parallel host port (:class:`~.top.EIETop`)
stays the array's own interface.

The word map (32-bit data, wide host words split into 32-bit words, commit on word 0) is
:mod:`.busmap`; the registers behind it are :mod:`.regmap`.

Timing
------
A request is *accepted* in the cycle it is on the bus and the slave takes it (classic:
``cyc & stb`` and nothing outstanding; pipelined: ``cyc & stb & ~stall``).  In that cycle
the array sees it on its parallel port, exactly as if the host had driven the port itself,
so a start written over Wishbone begins a pass with the same timing (and the same pass
cycles) as one written on the parallel port.

* write, or read of a latched word ``j > 0``: ``ack`` in the next cycle (registered);
* read of word 0: ``ack`` with ``dat_r`` :data:`~.regmap.READ_LATENCY` cycles after
  acceptance (the array's read pipeline).

Classic mode: one request at a time (a write every 2 cycles, a word-0 read every
``READ_LATENCY + 1``).  Pipelined mode (``pipelined=True``, adds ``stall``): one request per
cycle; acknowledgements come in order, so a request that would be acknowledged before an
earlier word-0 read (a write, a latched-word read) is stalled until that read is
acknowledged.  Word-0 reads stream back to back.  A master that drops ``cyc`` abandons the
reads in flight: their acknowledgements are suppressed.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .busmap import WB_DATA_BITS, WishboneMap
from .params import HWConfig
from .regmap import READ_LATENCY
from .top import EIETop

__all__ = ["WishboneSignature", "EIEWishbone"]


class WishboneSignature(wiring.Signature):
    """A Wishbone B4 bus, from the master's side (a slave takes it ``In``).

    Members: ``adr`` (word address), ``dat_w``, ``sel``, ``cyc``, ``stb``, ``we`` out;
    ``dat_r``, ``ack`` in; ``stall`` in (pipelined mode only).
    """

    def __init__(self, *, addr_width: int, data_width: int = WB_DATA_BITS, pipelined: bool = False):
        if not isinstance(addr_width, int) or addr_width < 1:
            raise TypeError(f"addr_width must be a positive integer, not {addr_width!r}")
        if data_width % 8:
            raise ValueError(f"data_width must be a multiple of 8, not {data_width!r}")
        self.addr_width, self.data_width, self.pipelined = addr_width, data_width, bool(pipelined)
        members = {"adr": Out(addr_width), "dat_w": Out(data_width), "sel": Out(data_width // 8),
                   "cyc": Out(1), "stb": Out(1), "we": Out(1), "dat_r": In(data_width), "ack": In(1)}
        if pipelined:
            members["stall"] = In(1)
        super().__init__(members)

    def __eq__(self, other):
        return (isinstance(other, WishboneSignature) and self.addr_width == other.addr_width
                and self.data_width == other.data_width and self.pipelined == other.pipelined)

    def __repr__(self):
        return (f"WishboneSignature(addr_width={self.addr_width}, data_width={self.data_width}, "
                f"pipelined={self.pipelined})")


class EIEWishbone(wiring.Component):
    """:class:`~.top.EIETop` behind a Wishbone B4 slave (see the module docstring).

    Parameters
    ----------
    hw : HWConfig
    pipelined : add ``stall`` and accept one request per cycle (default: classic).

    Members
    -------
    bus : In(WishboneSignature)  the slave port (``adr`` of :class:`~.busmap.WishboneMap`).
    busy, done : Out(1)          the array's (an SoC may wire ``done`` to an interrupt).
    """

    def __init__(self, hw: HWConfig, *, pipelined: bool = False):
        if not isinstance(hw, HWConfig):
            raise TypeError(f"hw must be an HWConfig, not {type(hw).__name__}")
        self._hw = hw
        self._map = WishboneMap(hw)
        self._pipelined = bool(pipelined)
        super().__init__({
            "bus": In(WishboneSignature(addr_width=self._map.adr_bits, pipelined=pipelined)),
            "busy": Out(1),
            "done": Out(1),
        })

    @property
    def map(self) -> WishboneMap:
        return self._map

    def elaborate(self, platform):
        m = Module()
        hw, wmap, bus = self._hw, self._map, self.bus
        m.submodules.core = core = EIETop(hw)
        k, s = wmap.words, wmap.sub_bits
        word = bus.adr[:s] if s else 0
        first = (word == 0) if s else 1

        # reads of word 0 in flight, one bit per cycle of the array's read pipeline: the
        # last one is the acknowledgement (cleared when the master drops cyc)
        live = Signal(READ_LATENCY, name="reads_in_flight")
        short_ack = Signal()                     # a write or latched-word read, acknowledged
        req = bus.cyc & bus.stb
        array_read = Signal()
        accept = Signal()
        m.d.comb += array_read.eq(req & ~bus.we & first)
        if self._pipelined:
            # acknowledgements stay in order: only word-0 reads may follow a word-0 read
            m.d.comb += [bus.stall.eq(live.any() & ~array_read), accept.eq(req & ~bus.stall)]
        else:
            # a classic master holds its request until the acknowledgement
            m.d.comb += accept.eq(req & ~live.any() & ~short_ack)
        m.d.sync += [live.eq(Mux(bus.cyc, Cat(accept & array_read, live[:-1]), 0)),
                     short_ack.eq(accept & ~array_read & bus.cyc)]

        # writes: words j > 0 are staged, word 0 commits the whole host word
        stage = Signal(max(1, (k - 1) * WB_DATA_BITS))
        commit = accept & bus.we & first
        m.d.comb += [core.addr.eq(bus.adr[s:]), core.wdata.eq(Cat(bus.dat_w, stage)), core.we.eq(commit),
                     core.re.eq(accept & array_read)]
        if k > 1:
            with m.If(commit):
                m.d.sync += stage.eq(0)
            with m.Elif(accept & bus.we):
                for j in range(1, k):
                    with m.If(word == j):
                        m.d.sync += stage.word_select(j - 1, WB_DATA_BITS).eq(bus.dat_w)

        # reads: word 0 from the array (latched whole), words j > 0 from the latch
        latch = Signal(k * WB_DATA_BITS)
        latched_word = Signal(WB_DATA_BITS)
        with m.If(core.rvalid):
            m.d.sync += latch.eq(core.rdata)
        if k > 1:
            m.d.sync += latched_word.eq(latch.word_select(word, WB_DATA_BITS))
        m.d.comb += [
            bus.ack.eq(bus.cyc & (short_ack | live[-1])),
            bus.dat_r.eq(Mux(live[-1], core.rdata[:WB_DATA_BITS], latched_word)),
            self.busy.eq(core.busy), self.done.eq(core.done),
        ]
        return m
