"""A layer ready for the array: loaded (compressed first if it is dense), compiled, and its
fixed-point plan and quantised arrays made [arch §4].

Every consumer of "a layer file plus an input" (``eie compile``, ``eie rtl``, ``eie verify``,
the co-simulation tests, the benchmarks) goes through :func:`prepare_layer`, so the layer is
compiled once and quantised by one rule.

Why here and not in :mod:`eie.layer`: ``eie.layer`` is the bottom floor (data and file I/O)
and :mod:`eie.compress` builds on it, so "compress a dense layer when asked" sits one floor
above both (docs/architecture.md, "Package layout").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .compile import CompiledLayer, compile_layer
from .compress import compress_layer
from .config import EIEConfig
from .errors import InputError
from .fixed import QuantPlan, acc_preload, choose_frac_bits, plan_layer, quantize
from .layer import CompressedLayer, DenseLayer, load_layer
from .reference import float_forward

__all__ = ["DEFAULT_BITS", "load_compressed", "PreparedLayer", "prepare_layer"]

#: weight-code bits of a dense layer compressed on the way in (the paper's 4 bits)
DEFAULT_BITS = 4


def load_compressed(path, *, density: float | None = None, bits: int | None = None,
                    bias_mode: str | None = None) -> CompressedLayer:
    """Load a layer file; a dense layer is pruned to ``density`` and shared with ``bits``-bit
    codes (default :data:`DEFAULT_BITS`) first, its bias carried as ``bias_mode`` (default
    ``"full"``, :func:`eie.compress.compress_layer`).  ``density``/``bits``/``bias_mode``
    given for a layer that is already compressed is an error (they would be ignored)."""
    layer = load_layer(path)
    if isinstance(layer, DenseLayer):
        layer, _ = compress_layer(layer, density=density, bits=DEFAULT_BITS if bits is None else bits,
                                  bias_mode="full" if bias_mode is None else bias_mode)
        return layer
    given = [flag for flag, v in (("--density", density), ("--bits", bits), ("--bias", bias_mode))
             if v is not None]
    if given:
        raise InputError(f"{str(path)!r} is already compressed (codebook + codes): {given[0]} applies only to a "
                         f"dense layer; drop it")
    return layer


@dataclass(frozen=True, eq=False)
class PreparedLayer:
    """A compiled layer and, when an input is known, its fixed-point plan and quantised input.

    ``bias_q``: the accumulator preload ``q_acc(bias)`` of a full-precision bias
    (:func:`eie.fixed.acc_preload`, ``fo`` fraction bits), else None.
    ``x`` None (no input): ``plan``, ``a_q`` and ``bias_q`` are None and ``fw`` is chosen
    from the codebook alone, so memory images can still be written.
    """

    layer: CompressedLayer
    compiled: CompiledLayer
    x: np.ndarray | None
    plan: QuantPlan | None
    fw: int
    cb_q: np.ndarray
    a_q: np.ndarray | None
    bias_q: np.ndarray | None = None

    @property
    def config(self) -> EIEConfig:
        return self.compiled.config

    @property
    def bias_act(self) -> int:
        """The bias column's activation, 1.0 in ``fa`` fraction bits [arch §4]."""
        return 1 << self.plan.fa


def prepare_layer(layer: CompressedLayer, config: EIEConfig, x=None, *, plan: QuantPlan | None = None,
                  need_input: bool = False) -> PreparedLayer:
    """Compile ``layer`` for ``config`` and quantise it (input, codebook, full-precision bias) for
    input ``x`` (default: the layer's own ``activations``) with the fraction bits of ``plan``
    (default: :func:`eie.fixed.plan_layer` from the float result).  ``need_input``: no input at all is an error naming ``--input``."""
    compiled = compile_layer(layer, config)
    if x is None:
        x = layer.activations
    if x is None:
        if need_input:
            raise InputError(f"layer {layer.name!r} has no 'activations' array: give the input with --input ACT.npy")
        fw = choose_frac_bits(float(abs(layer.codebook).max(initial=0.0)), config.codebook_bits)
        return PreparedLayer(layer, compiled, None, None, fw, quantize(layer.codebook, fw, config.codebook_bits), None)
    if plan is None:
        plan = plan_layer(layer.codebook, x, float_forward(layer, x), config, bias=layer.bias)
    return PreparedLayer(layer, compiled, x, plan, plan.fw, quantize(layer.codebook, plan.fw, config.codebook_bits),
                         quantize(x, plan.fa, config.act_bits), acc_preload(layer.bias, plan.fo, config.acc_bits))
