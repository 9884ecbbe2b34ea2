"""PLL settings of the board builds (`pll`): ECP5 ``EHXPLLL`` and iCE40 ``SB_PLL40_PAD``.

Plain Python: :func:`ecp5_pll` and :func:`ice40_pll` search the dividers that bring an
oscillator's frequency closest to the one asked for, within the ranges of the vendors'
data sheets (the same searches as Project Trellis' ``ecppll`` and IceStorm's ``icepll``):

* ECP5 (FPGA-TN-02200, sysCLOCK PLL): ``f_pfd = f_in / CLKI_DIV`` in [3.125, 400] MHz,
  ``f_out = f_pfd * CLKFB_DIV`` (feedback from CLKOP), ``f_vco = f_out * CLKOP_DIV`` in
  [400, 800] MHz, dividers 1 .. 128 (feedback 1 .. 80), ``f_out`` in [3.125, 400] MHz.
* iCE40 (SB_PLL40, "SIMPLE" feedback): ``f_pfd = f_in / (DIVR + 1)`` in [10, 133] MHz,
  ``f_vco = f_pfd * (DIVF + 1)`` in [533, 1066] MHz, ``f_out = f_vco / 2**DIVQ`` in
  [16, 275] MHz, DIVR 0 .. 15, DIVF 0 .. 127, DIVQ 1 .. 6; the loop filter range follows
  from ``f_pfd``.

:mod:`eie.hdl.board` turns the result into the primitive's instance.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PLLSettings", "ecp5_pll", "ice40_pll"]


@dataclass(frozen=True)
class PLLSettings:
    """Dividers of one PLL and the frequencies they give (MHz)."""

    family: str
    f_in: float
    f_out: float                 # what the dividers give (may differ a little from the request)
    f_vco: float
    params: dict                 # the primitive's parameters


def _close(best, cand, target):
    return best is None or abs(cand - target) < abs(best - target) - 1e-9


def ecp5_pll(f_in: float, f_out: float) -> PLLSettings:
    """``EHXPLLL`` settings for ``f_out`` MHz from ``f_in`` MHz (closest reachable)."""
    if not 8 <= f_in <= 400:
        raise ValueError(f"the ECP5 PLL input must be in [8, 400] MHz, not {f_in!r}")
    if not 3.125 <= f_out <= 400:
        raise ValueError(f"the ECP5 PLL output must be in [3.125, 400] MHz, not {f_out!r}")
    best = None
    for ref in range(1, 129):
        pfd = f_in / ref
        if not 3.125 <= pfd <= 400:
            continue
        for fb in range(1, 81):
            out = pfd * fb
            if not 3.125 <= out <= 400:
                continue
            # the VCO divider that puts the VCO nearest the middle of its range
            od = min(128, max(1, round(600 / out)))
            vco = out * od
            if 400 <= vco <= 800 and _close(None if best is None else best[0], out, f_out):
                best = (out, vco, ref, fb, od)
    if best is None:
        raise ValueError(f"no ECP5 PLL setting reaches {f_out} MHz from {f_in} MHz")
    out, vco, ref, fb, od = best
    params = {"CLKI_DIV": ref, "CLKFB_DIV": fb, "CLKOP_DIV": od, "CLKOP_CPHASE": od // 2, "CLKOP_FPHASE": 0}
    return PLLSettings("ecp5", f_in, out, vco, params)


def _ice40_filter(pfd: float) -> int:
    for limit, rng in ((17, 1), (26, 2), (44, 3), (66, 4), (101, 5)):
        if pfd < limit:
            return rng
    return 6


def ice40_pll(f_in: float, f_out: float) -> PLLSettings:
    """``SB_PLL40_PAD``/``_CORE`` settings for ``f_out`` MHz from ``f_in`` MHz (closest reachable)."""
    if not 10 <= f_in <= 133:
        raise ValueError(f"the iCE40 PLL input must be in [10, 133] MHz, not {f_in!r}")
    if not 16 <= f_out <= 275:
        raise ValueError(f"the iCE40 PLL output must be in [16, 275] MHz, not {f_out!r}")
    best = None
    for divr in range(16):
        pfd = f_in / (divr + 1)
        if not 10 <= pfd <= 133:
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not 533 <= vco <= 1066:
                continue
            for divq in range(1, 7):
                out = vco / (1 << divq)
                if 16 <= out <= 275 and (best is None or _close(best[0], out, f_out)):
                    best = (out, vco, divr, divf, divq, pfd)
    if best is None:
        raise ValueError(f"no iCE40 PLL setting reaches {f_out} MHz from {f_in} MHz")
    out, vco, divr, divf, divq, pfd = best
    params = {"FEEDBACK_PATH": "SIMPLE", "DIVR": divr, "DIVF": divf, "DIVQ": divq, "FILTER_RANGE": _ice40_filter(pfd)}
    return PLLSettings("ice40", f_in, out, vco, params)
