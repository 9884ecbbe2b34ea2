"""The array on a board (`board`): :class:`BoardCore` (UART bridge → Wishbone → array, the
part that is simulated) and :class:`BoardTop` (the core with the board's clock, PLL, reset,
UART pins and LEDs, for an ``amaranth-boards`` platform; :mod:`eie.flow.board` builds it).

::

    rx ─▶ UARTBridge ─Wishbone (classic)─▶ EIEWishbone ─▶ EIETop
    tx ◀─┘                                               busy, done ─▶ LEDs
"""

from amaranth.hdl import ClockDomain, ClockSignal, Elaboratable, Instance, Module, ResetSignal, Signal
from amaranth.lib import io, wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.wiring import In, Out, connect

from .params import HWConfig
from .pll import PLLSettings
from .uart import UARTBridge
from .wishbone import EIEWishbone

__all__ = ["BoardCore", "BoardTop"]


class BoardCore(wiring.Component):
    """:class:`~.uart.UARTBridge` driving :class:`~.wishbone.EIEWishbone` (classic).

    Parameters
    ----------
    hw : HWConfig
    divisor : clock cycles per UART bit (``clk_hz / baud``).
    resync : idle cycles after which the bridge drops a half-received frame.

    Members
    -------
    rx : In(1, init=1), tx : Out(1, init=1)  the serial lines (8N1).
    busy, done : Out(1)                      the array's.
    frame_error : Out(1)                     a byte with a low stop bit arrived (pulse).
    """

    def __init__(self, hw: HWConfig, *, divisor: int, resync: int):
        self._hw, self._divisor, self._resync = hw, divisor, resync
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "busy": Out(1), "done": Out(1),
                          "frame_error": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.array = array = EIEWishbone(self._hw)
        wmap = array.map
        m.submodules.bridge = bridge = UARTBridge(divisor=self._divisor, addr_width=wmap.adr_bits,
                                                  sub_bits=wmap.sub_bits, words=wmap.words, resync=self._resync)
        connect(m, bridge.bus, array.bus)
        m.d.comb += [bridge.rx.eq(self.rx), self.tx.eq(bridge.tx), self.busy.eq(array.busy),
                     self.done.eq(array.done), self.frame_error.eq(bridge.frame_error)]
        return m


class BoardTop(Elaboratable):
    """:class:`BoardCore` on a board: the ``sync`` clock is the board's oscillator, or a PLL's
    output when ``pll`` is given (ECP5 ``EHXPLLL``; iCE40 ``SB_PLL40_PAD`` on the clock pad, or
    ``SB_PLL40_CORE`` behind the clock pin's buffer when ``pll_pad`` is False); reset is held
    until the PLL locks (and for the synchroniser's stages after power-up); on ECP5 the
    synchronised reset reaches the flip-flops through a ``DCCA`` on a primary clock network.
    LED 0 shows ``busy``, LED 1 toggles at every ``done``.
    """

    def __init__(self, hw: HWConfig, *, divisor: int, resync: int, pll: PLLSettings | None = None,
                 pll_pad: bool = True):
        self._hw, self._divisor, self._resync, self._pll = hw, divisor, resync, pll
        self._pll_pad = pll_pad

    def elaborate(self, platform):
        m = Module()
        pll = self._pll
        # the iCE40 PLL takes the oscillator straight from its pad (SB_PLL40_PAD): on the
        # iCEBreaker the clock pin is the PLL's own input and cannot also feed an SB_IO
        pad = pll is not None and pll.family == "ice40" and self._pll_pad
        clk = platform.request(platform.default_clk, 0, dir="-")
        clk_in = None
        if not pad:
            m.submodules.clk_buf = clk_buf = io.Buffer("i", clk)
            clk_in = clk_buf.i
        m.domains.sync = ClockDomain("sync")
        locked = Signal(init=1)
        if pll is None:
            m.d.comb += ClockSignal("sync").eq(clk_in)
        else:
            clk_out = Signal()
            locked = Signal()
            if pll.family == "ecp5":
                p = pll.params
                m.submodules.pll = Instance(
                    "EHXPLLL",
                    a_FREQUENCY_PIN_CLKI=f"{pll.f_in:g}", a_FREQUENCY_PIN_CLKOP=f"{pll.f_out:g}",
                    a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
                    p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                    p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
                    p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD", p_CLKI_DIV=p["CLKI_DIV"],
                    p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=p["CLKOP_DIV"], p_CLKOP_CPHASE=p["CLKOP_CPHASE"],
                    p_CLKOP_FPHASE=p["CLKOP_FPHASE"], p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=p["CLKFB_DIV"],
                    i_RST=0, i_STDBY=0, i_CLKI=clk_in, o_CLKOP=clk_out, i_CLKFB=clk_out, i_PHASESEL0=0,
                    i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1, i_PLLWAKESYNC=0,
                    i_ENCLKOP=0, o_LOCK=locked)
            else:
                p = pll.params
                m.submodules.pll = Instance(
                    "SB_PLL40_PAD" if pad else "SB_PLL40_CORE",
                    p_FEEDBACK_PATH=p["FEEDBACK_PATH"], p_DIVR=p["DIVR"], p_DIVF=p["DIVF"], p_DIVQ=p["DIVQ"],
                    p_FILTER_RANGE=p["FILTER_RANGE"],
                    **({"i_PACKAGEPIN": clk.io} if pad else {"i_REFERENCECLK": clk_in}),
                    o_PLLOUTGLOBAL=clk_out, i_RESETB=1, i_BYPASS=0, o_LOCK=locked)
            m.d.comb += ClockSignal("sync").eq(clk_out)
            platform.add_clock_constraint(clk_out, pll.f_out * 1e6)
        if self._hw.vendor == "ecp5":
            # the reset reaches every flip-flop of the array (~2,500 per PE): as a fabric net
            # it was the board's worst path (the 4-PE ULX3S-25F: the synchroniser -> a PE's
            # LSR pin, 16.2 ns of routing, 58.3 MHz).  Synchronised in a domain of its own on
            # the same clock, then through a DCCA onto a primary clock network, which nextpnr
            # routes to the slices' LSR pins
            m.domains.rst_sync = ClockDomain("rst_sync")
            m.d.comb += ClockSignal("rst_sync").eq(ClockSignal("sync"))
            m.submodules.reset = ResetSynchronizer(~locked, domain="rst_sync")
            m.submodules.reset_buf = Instance("DCCA", i_CLKI=ResetSignal("rst_sync"), i_CE=1,
                                              o_CLKO=ResetSignal("sync"))
        else:
            m.submodules.reset = ResetSynchronizer(~locked, domain="sync")

        m.submodules.core = core = BoardCore(self._hw, divisor=self._divisor, resync=self._resync)
        # every line of the board's UART resource is requested raw (some have rts/dtr too);
        # only rx and tx are used
        lines = [sub.name for sub in platform.lookup("uart", 0).ios if hasattr(sub, "name")]
        uart = platform.request("uart", 0, dir=dict.fromkeys(lines, "-"))
        m.submodules.rx_buf = rx = io.Buffer("i", uart.rx)
        m.submodules.tx_buf = tx = io.Buffer("o", uart.tx)
        m.d.comb += [core.rx.eq(rx.i), tx.o.eq(core.tx)]
        toggle = Signal()
        with m.If(core.done):
            m.d.sync += toggle.eq(~toggle)
        for i, sig in enumerate((core.busy, toggle)):
            m.submodules[f"led{i}"] = led = io.Buffer("o", platform.request("led", i, dir="-"))
            m.d.comb += led.o.eq(sig)
        return m
