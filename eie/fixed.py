"""Fixed-point rules of the datapath [arch §4].

Everything here is plain integer numpy so that the rules can be read next to the contract.
Values are two's-complement integers with a per-layer number of fraction bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .config import EIEConfig
from .errors import InputError

__all__ = ["max_value", "quantize", "saturated_mask", "saturated_count", "choose_frac_bits", "round_shift", "wrap", "saturate", "acc_preload",
           "QuantPlan", "plan_layer", "MAX_FRAC_BITS"]

MAX_FRAC_BITS = 40


def _rounded(x, frac: int) -> np.ndarray:
    """``floor(x * 2**frac + 1/2)`` as float64, before any clamp (round half up)."""
    return np.floor(np.asarray(x, dtype=np.float64) * float(2.0 ** frac) + 0.5)


def quantize(x, frac: int, bits: int) -> np.ndarray:
    """``clamp(floor(x * 2**frac + 1/2), -2**(bits-1), 2**(bits-1) - 1)`` as int64 (round half up)."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return np.clip(_rounded(x, frac), lo, hi).astype(np.int64)


def saturated_mask(x, frac: int, bits: int) -> np.ndarray:
    """Which values of ``x`` :func:`quantize` clamps to the ``bits``-bit range."""
    q = _rounded(x, frac)
    return (q < -(1 << (bits - 1))) | (q > (1 << (bits - 1)) - 1)


def saturated_count(x, frac: int, bits: int) -> int:
    """How many values of ``x`` :func:`quantize` clamps to the ``bits``-bit range."""
    return int(np.count_nonzero(saturated_mask(x, frac, bits)))


def choose_frac_bits(max_abs: float, bits: int, headroom: int = 0, cap: int = MAX_FRAC_BITS) -> int:
    """Largest f with ``max_abs * 2**f <= (2**(bits-1) - 1) / 2**headroom``, in ``[0, cap]``.

    An all-zero input gets ``cap``; one beyond float64 (``inf``: a forward pass of huge
    inputs overflowed) gets 0, where everything above the range saturates, and the callers
    count and report the saturated values.
    """
    limit = ((1 << (bits - 1)) - 1) / float(1 << headroom)
    if not max_abs > 0:
        return cap
    if not math.isfinite(max_abs):
        return 0
    f = math.floor(math.log2(limit / max_abs))
    # guard the floating log against an off-by-one at exact powers of two
    while f > 0 and max_abs * 2.0 ** f > limit:
        f -= 1
    while f + 1 <= cap and max_abs * 2.0 ** (f + 1) <= limit:
        f += 1
    return max(0, min(cap, f))


def round_shift(p, s: int) -> np.ndarray:
    """``(p + 2**(s-1)) >> s`` (arithmetic shift, round half up); ``p`` when ``s == 0``."""
    p = np.asarray(p, dtype=np.int64)
    if s == 0:
        return p
    return (p + (np.int64(1) << np.int64(s - 1))) >> np.int64(s)


def wrap(x, bits: int) -> np.ndarray:
    """Two's-complement wrap-around of int64 values to ``bits`` bits."""
    x = np.asarray(x, dtype=np.int64)
    if bits >= 64:
        return x
    m = np.int64(1) << np.int64(bits)
    h = np.int64(1) << np.int64(bits - 1)
    return ((x + h) & (m - 1)) - h


def max_value(bits: int, frac: int) -> float:
    """The largest value a ``bits``-wide two's-complement number with ``frac`` fraction bits
    holds, ``(2**(bits-1) - 1) / 2**frac`` (what a saturation warning names as the bound)."""
    return ((1 << (bits - 1)) - 1) / 2.0 ** frac


def saturate(x, bits: int) -> np.ndarray:
    return np.clip(np.asarray(x, dtype=np.int64), -(1 << (bits - 1)), (1 << (bits - 1)) - 1)


def acc_preload(bias, fo: int, acc_bits: int) -> np.ndarray | None:
    """The accumulators' start values of a full-precision bias [arch §2, §4]:
    ``q_acc(bias_i) = clamp(floor(bias_i * 2**fo + 1/2), -2**(acc_bits-1), 2**(acc_bits-1) - 1)``
    (int64, ``fo`` fraction bits); None without a bias.  What the host loads into the
    destination register file before a pass, and where the model's accumulators start."""
    if bias is None:
        return None
    return quantize(bias, fo, acc_bits)


@dataclass(frozen=True)
class QuantPlan:
    """Fraction bits of one layer: input ``fa``, codebook ``fw``, output ``fo`` [arch §4]."""

    fa: int
    fw: int
    fo: int

    @property
    def shift(self) -> int:
        return self.fa + self.fw - self.fo

    def to_dict(self) -> dict:
        return {"fa": self.fa, "fw": self.fw, "fo": self.fo, "shift": self.shift}

    def check(self, config: EIEConfig) -> None:
        for name in ("fa", "fw", "fo"):      # forced through the API: fa=-1 had been a raw ValueError
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v <= MAX_FRAC_BITS:
                raise InputError(f"{name} must be an integer in [0, {MAX_FRAC_BITS}] (fraction bits), not {v!r}")
        if not 0 <= self.shift <= 62:
            raise InputError(f"fraction bits must give 0 <= fa+fw-fo <= 62, not fa={self.fa} fw={self.fw} fo={self.fo}")
        if self.fa > config.act_bits - 2:
            raise InputError(f"fa must be <= act_bits-2 = {config.act_bits - 2} so that the bias activation 1.0 "
                             f"is representable, not {self.fa}")


def plan_layer(codebook, x, y_float, config: EIEConfig, fa: int | None = None, fo: int | None = None,
               bias=None, feeds_next: bool = False) -> QuantPlan:
    """Choose fraction bits from the value ranges [arch §4].

    ``fa`` from ``max|x|`` (capped at ``act_bits - 2``), ``fw`` from ``max|codebook|``,
    ``fo`` from ``max|y_float|`` with one bit of headroom; with a full-precision ``bias``
    [arch §2] ``fo`` is also capped so that its preload ``q_acc(bias)`` does not saturate
    (``max|bias| * 2**fo <= 2**(acc_bits-1) - 1``: a saturated start value, unlike a
    wrapped partial sum, would not come back); then clamped so that the shift
    ``fa + fw - fo`` is at least 0.  ``fa``/``fo`` may be forced (a stack passes the previous
    layer's ``fo`` as this layer's ``fa``); a forced ``fo`` is not capped by ``feeds_next`` or the bias,
    but every ``fo`` is at most ``fa + fw`` (the shift is never negative).  ``feeds_next``:
    the outputs stay on chip as the next layer's inputs [arch §8], so ``fo`` is also capped
    at that layer's ``fa`` limit, ``act_bits - 2`` (small or all-zero outputs would choose more).
    """
    for name, v in (("fa", fa), ("fo", fo)):     # forced ones: whole numbers, not truncated (2.5 had been 2)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer))):
            raise InputError(f"{name} must be an integer in [0, {MAX_FRAC_BITS}] (fraction bits), not {v!r}")
    if fa is None:
        fa = choose_frac_bits(float(np.max(np.abs(x), initial=0.0)), config.act_bits, cap=config.act_bits - 2)
    fw = choose_frac_bits(float(np.max(np.abs(codebook), initial=0.0)), config.codebook_bits)
    if fo is None:
        fo = choose_frac_bits(float(np.max(np.abs(y_float), initial=0.0)), config.act_bits, headroom=1)
        if bias is not None:
            fo = min(fo, choose_frac_bits(float(np.max(np.abs(bias), initial=0.0)), config.acc_bits))
        if feeds_next:
            fo = min(fo, config.act_bits - 2)
    fo = min(fo, fa + fw)
    plan = QuantPlan(int(fa), int(fw), int(fo))
    plan.check(config)
    return plan
