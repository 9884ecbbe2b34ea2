"""The compressed network on the accelerator's 16-bit fixed point, many images at once.

:func:`accelerator_outputs` computes, for a batch of images, exactly the integers
:func:`eie.model.simulate_stack` computes for one image [arch §4, §8] -- the same
quantisation (:mod:`eie.fixed`), the same per-product rounding shift, the same wrap-around
accumulation and write-out -- but without the cycle timing, which does not change the values.
It is the one place a batched bit-exact evaluation lives, so that a general batched
``eie eval`` can replace it; tests hold it equal to ``simulate_stack`` image by image.

One difference from ``simulate_stack`` is deliberate: the fraction bits are chosen once per
layer for the whole network (:func:`calibrate_plans`, from the value ranges of a
calibration set) and then fixed, as an accelerator running many images would hold them;
``simulate_stack`` calibrates on the one image it runs.  Images whose values exceed the
calibrated range saturate, as they would on the hardware.

The bias is a full-precision float bias [arch §2]: the accumulator of output i starts at
``q_acc(bias_i) = clamp(floor(bias_i * 2**fo + 1/2))`` to ``acc_bits`` bits, and the bias
column stays empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..config import EIEConfig
from ..errors import InputError
from ..fixed import QuantPlan, plan_layer, quantize, round_shift, saturate, wrap

__all__ = ["AcceleratorRun", "calibrate_plans", "accelerator_outputs", "accelerator_accuracy"]


@dataclass(eq=False)
class AcceleratorRun:
    """Fixed-point outputs of a batch and what happened on the way.

    ``outputs_q``: (images, n_out) int64 outputs of the last layer, ``plans[-1].fo``
    fraction bits.  Per layer: ``input_density`` (fraction of the quantised inputs that are
    non-zero: what the LNZD broadcasts [arch §4]), ``saturated_outputs`` (outputs clamped by
    the write-out) and ``saturated_inputs`` (first layer only: inputs clamped by the input
    quantisation; 0 for the others).
    """

    outputs_q: np.ndarray
    plans: list[QuantPlan]
    input_density: list[float]
    saturated_outputs: list[int]
    saturated_inputs: int

    @property
    def outputs(self) -> np.ndarray:
        return self.outputs_q / 2.0 ** self.plans[-1].fo

    def to_dict(self) -> dict:
        return {"plans": [p.to_dict() for p in self.plans], "input_density": self.input_density,
                "saturated_outputs": self.saturated_outputs, "saturated_inputs": self.saturated_inputs}


def _layer_arrays(layer) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(codebook, codes, bias)`` of a :class:`~eie.train.deep_compression.SharedLayer` or
    anything with those attributes (``bias`` may be absent or None)."""
    cb = np.asarray(layer.codebook, dtype=np.float64)
    codes = np.asarray(layer.codes)
    bias = getattr(layer, "bias", None)
    return cb, codes, None if bias is None else np.asarray(bias, dtype=np.float64)


def calibrate_plans(layers: Sequence, x_cal: np.ndarray, config: EIEConfig) -> list[QuantPlan]:
    """Fraction bits of every layer from a float run of the compressed network on the
    calibration images ``x_cal`` (rows), as :func:`eie.model.simulate_stack` chooses them for
    one image [arch §4, §8]: layer 0's ``fa`` from ``max|x|``, each ``fw`` from its codebook,
    each ``fo`` from the largest ``|W x + b|`` over the images (one bit of headroom), and
    layer l+1's ``fa`` = layer l's ``fo``.  ReLU between layers, none after the last."""
    h = np.asarray(x_cal, dtype=np.float64)
    plans = []
    fa = None
    for i, layer in enumerate(layers):
        cb, codes, bias = _layer_arrays(layer)
        y = h @ cb[codes].T
        if bias is not None:
            y += bias
        plan = plan_layer(cb, h, y, config, fa=fa)
        plans.append(plan)
        fa = plan.fo
        h = np.maximum(y, 0) if i < len(layers) - 1 else y
    return plans


def _gather_matrix(codes: np.ndarray, n_codes: int) -> sp.csr_matrix:
    """The 0/1 matrix ``M`` (``n_in * n_codes`` x ``n_out``) with ``M[j * n_codes + c, i] = 1``
    where ``codes[i, j] = c != 0``: row ``j * n_codes + c`` of a product table picks input j
    times codebook entry c for every output that uses it."""
    rows, cols = np.nonzero(codes)
    c = codes[rows, cols].astype(np.int64)
    n_out, n_in = codes.shape
    data = np.ones(rows.size, np.int64)
    return sp.csr_matrix((data, (cols * n_codes + c, rows)), shape=(n_in * n_codes, n_out))


def accelerator_outputs(layers: Sequence, x: np.ndarray, plans: Sequence[QuantPlan], config: EIEConfig,
                        relu_last: bool = False, batch: int = 256) -> AcceleratorRun:
    """Bit-exact fixed-point outputs of the stack ``layers`` for every row of ``x``.

    Per layer, as the model computes it [arch §4]: inputs ``a = q(x, fa)`` (layer 0) or the
    previous layer's outputs; codebook ``c = q(codebook, fw)``; every product ``a_j *
    c[codes_ij]`` is shifted with rounding by ``s = fa + fw - fo``; the accumulator starts at
    ``q_acc(bias_i)`` (0 without a bias) and sums the shifted products with wrap-around to
    ``acc_bits``; the write-out saturates to ``act_bits`` and applies ReLU (every layer but
    the last; the last too with ``relu_last``).

    Because a shifted product depends only on the input value and the code, each batch
    builds the table ``round_shift(a_j * c_k, s)`` for every input j and code k and adds the
    entries each output uses with one sparse product, in int64 throughout (with 16-bit
    activations and codebook values a shifted product is below 2**30 in magnitude, so no sum
    over the inputs of a layer eie accepts comes near 2**63 before the wrap to ``acc_bits``).
    """
    layers = list(layers)
    plans = list(plans)
    if len(plans) != len(layers) or not layers:
        raise InputError(f"plans must give one QuantPlan per layer ({len(layers)}), not {len(plans)}")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise InputError(f"x must be 2-D (images x inputs), not shape {x.shape}")
    prepared = []
    for i, (layer, plan) in enumerate(zip(layers, plans, strict=True)):
        plan.check(config)
        if i and plan.fa != plans[i - 1].fo:
            raise InputError(f"layer {i}: fa must equal the previous layer's fo ({plans[i - 1].fo}), not {plan.fa}")
        cb, codes, bias = _layer_arrays(layer)
        if codes.shape[1] != (x.shape[1] if i == 0 else prepared[-1][1].shape[1]):
            raise InputError(f"layer {i} has {codes.shape[1]} inputs, which do not chain")
        cb_q = quantize(cb, plan.fw, config.codebook_bits)
        acc0 = (np.zeros(codes.shape[0], np.int64) if bias is None
                else quantize(bias, plan.fo, config.acc_bits))
        prepared.append((cb_q, _gather_matrix(codes, cb.size), acc0))
    a0 = quantize(x, plans[0].fa, config.act_bits)
    sat_in = int(np.count_nonzero(a0 != np.floor(x * 2.0 ** plans[0].fa + 0.5)))
    nonzero = np.zeros(len(layers), np.int64)
    saturated = np.zeros(len(layers), np.int64)
    outs = []
    for start in range(0, len(x), batch):
        a = a0[start:start + batch]
        for i, ((cb_q, gather, acc0), plan) in enumerate(zip(prepared, plans, strict=True)):
            nonzero[i] += np.count_nonzero(a)
            table = round_shift(a[:, :, None] * cb_q[None, None, :], plan.shift)
            acc = np.asarray((gather.T @ table.reshape(len(a), -1).T).T) + acc0
            acc = wrap(acc, config.acc_bits)
            y = saturate(acc, config.act_bits)
            saturated[i] += np.count_nonzero(y != acc)
            if i < len(layers) - 1 or relu_last:
                y = np.maximum(y, 0)
            a = y
        outs.append(a)
    sizes = [np.asarray(layer.codes).shape[1] for layer in layers]
    return AcceleratorRun(np.concatenate(outs) if outs else np.zeros((0, sizes[-1]), np.int64), plans,
                          [float(nonzero[i] / max(1, len(x) * sizes[i])) for i in range(len(layers))],
                          [int(s) for s in saturated], sat_in)


def accelerator_accuracy(run: AcceleratorRun, y: np.ndarray) -> float:
    """Top-1 accuracy of the fixed-point outputs (argmax; a tie goes to the lower class)."""
    return float(np.mean(run.outputs_q.argmax(axis=1) == np.asarray(y)))
