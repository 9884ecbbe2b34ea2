"""A whole network on the accelerator's 16-bit fixed point, many images at once [arch §4, §8].

:func:`accelerator_outputs` computes, for a batch of images, exactly the integers the model
(:func:`eie.model.simulate` layer after layer, as :func:`eie.pipeline.run_network` runs a
network) computes for one image -- the same quantisation (:mod:`eie.fixed`), the same
per-product rounding shift, the same wrap-around accumulation and write-out, both kinds of
bias [arch §2] -- but without the cycle timing, which does not change the values.  It is the
one place the batched bit-exact evaluation lives (``eie eval``; :mod:`eie.train` imports it
from here); tests hold it equal to the per-image model image by image.

**Functions between layers** [arch §8].  Each layer names the function applied after it
(:data:`eie.network.FUNCTIONS`): ``relu`` is the array's write-out ReLU; ``none`` is nothing
(the saturated write-out goes on); ``sigmoid``, ``tanh`` and ``softmax`` are not in the
array: the host reads the layer's 16-bit outputs, dequantises them (``y_q / 2**fo``),
applies the function in float64 and quantises the result to the next layer's input with
``fa = act_bits - 2`` fraction bits (every value of these functions lies in [-1, 1], and 1.0
is exact).  After the last layer the function is applied in float64 on the host.

**Fraction bits** are chosen once per layer for the whole run (:func:`calibrate_plans`, from
the value ranges of a float run of the compressed network on a calibration set) and then
fixed, as an accelerator running many images holds them; images whose values exceed the
calibrated range saturate, as they would on the hardware.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .config import EIEConfig
from .errors import InputError
from .fixed import QuantPlan, plan_layer, quantize, round_shift, saturate, wrap
from .network import FUNCTIONS

__all__ = ["OFF_ARRAY", "AcceleratorRun", "apply_function", "default_functions", "check_functions", "next_fa",
           "float_outputs", "calibrate_plans", "accelerator_outputs", "accelerator_accuracy", "top1"]

#: the functions the host applies (the array applies relu, and none is nothing)
OFF_ARRAY = ("sigmoid", "tanh", "softmax")


def apply_function(name: str, y: np.ndarray) -> np.ndarray:
    """The function ``name`` on float values (rows are images; softmax runs along the last axis)."""
    y = np.asarray(y, dtype=np.float64)
    if name == "relu":
        return np.maximum(y, 0)
    if name == "none":
        return y
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * y))          # = 1 / (1 + exp(-y)), without overflow
    if name == "tanh":
        return np.tanh(y)
    if name == "softmax":
        e = np.exp(y - np.max(y, axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise InputError(f"function must be one of {', '.join(FUNCTIONS)}, not {name!r}")


def default_functions(n: int, relu_last: bool = False) -> list[str]:
    """ReLU between layers, none (or relu) after the last: a plain stack [arch §8]."""
    return ["relu"] * (n - 1) + ["relu" if relu_last else "none"]


def check_functions(functions, n: int) -> list[str]:
    functions = list(functions)
    if len(functions) != n:
        raise InputError(f"functions must name one function per layer ({n}), not {len(functions)}")
    for f in functions:
        if f not in FUNCTIONS:
            raise InputError(f"function must be one of {', '.join(FUNCTIONS)}, not {f!r}")
    return functions


def next_fa(function: str, fo: int, config: EIEConfig) -> int:
    """The next layer's input fraction bits after ``function`` [arch §8]: the previous layer's
    ``fo`` when the outputs stay on chip (relu, none), ``act_bits - 2`` after a host function."""
    return config.act_bits - 2 if function in OFF_ARRAY else fo


def _layer_arrays(layer) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``(codebook, codes, bias, bias_codes)`` of a :class:`~eie.layer.CompressedLayer`, a
    :class:`~eie.train.deep_compression.SharedLayer` or anything with those attributes
    (``bias``/``bias_codes`` may be absent or None)."""
    cb = np.asarray(layer.codebook, dtype=np.float64)
    codes = np.asarray(layer.codes)
    bias = getattr(layer, "bias", None)
    bias_codes = getattr(layer, "bias_codes", None)
    return (cb, codes, None if bias is None else np.asarray(bias, dtype=np.float64),
            None if bias_codes is None else np.asarray(bias_codes))


def _float_layer(layer, h: np.ndarray) -> np.ndarray:
    cb, codes, bias, bias_codes = _layer_arrays(layer)
    y = h @ cb[codes].T
    if bias is not None:
        y = y + bias
    if bias_codes is not None:
        y = y + np.where(bias_codes != 0, cb[bias_codes], 0.0)
    return y


def float_outputs(layers: Sequence, x: np.ndarray, functions: Sequence[str] | None = None) -> np.ndarray:
    """The compressed network in float64 (codebook values, both bias kinds, the functions)."""
    layers = list(layers)
    functions = check_functions(functions or default_functions(len(layers)), len(layers))
    h = np.asarray(x, dtype=np.float64)
    for layer, f in zip(layers, functions, strict=True):
        h = apply_function(f, _float_layer(layer, h))
    return h


def calibrate_plans(layers: Sequence, x_cal: np.ndarray, config: EIEConfig,
                    functions: Sequence[str] | None = None) -> list[QuantPlan]:
    """Fraction bits of every layer from a float run of the compressed network on the
    calibration images ``x_cal`` (rows), as the model chooses them for one image [arch §4,
    §8]: layer 0's ``fa`` from ``max|x|``, each ``fw`` from its codebook, each ``fo`` from the
    largest ``|W x + b|`` over the images (one bit of headroom; capped so that a
    full-precision bias preload does not clamp, and at ``act_bits - 2`` when the outputs are
    the next layer's inputs), and layer l+1's ``fa`` = :func:`next_fa`."""
    layers = list(layers)
    functions = check_functions(functions or default_functions(len(layers)), len(layers))
    h = np.asarray(x_cal, dtype=np.float64)
    plans = []
    fa = None
    for i, (layer, f) in enumerate(zip(layers, functions, strict=True)):
        cb, _, bias, _ = _layer_arrays(layer)
        y = _float_layer(layer, h)
        plan = plan_layer(cb, h, y, config, fa=fa, bias=bias,
                          feeds_next=i < len(layers) - 1 and f not in OFF_ARRAY)
        plans.append(plan)
        fa = next_fa(f, plan.fo, config)
        h = apply_function(f, y)
    return plans


@dataclass(eq=False)
class AcceleratorRun:
    """Fixed-point outputs of a batch and what happened on the way.

    ``outputs_q``: (images, n_out) int64 write-out of the last layer, ``plans[-1].fo``
    fraction bits (ReLU'd if its function is relu; before any host function).  ``outputs``:
    the network's outputs in float (the last host function applied).  Per layer:
    ``input_density`` (fraction of the quantised inputs that are non-zero: what the LNZD
    broadcasts [arch §4]), ``saturated_outputs`` (outputs clamped by the write-out) and
    ``saturated_inputs`` (first layer only: inputs clamped by the input quantisation).
    """

    outputs_q: np.ndarray
    plans: list[QuantPlan]
    input_density: list[float]
    saturated_outputs: list[int]
    saturated_inputs: int
    functions: list[str] | None = None

    @property
    def outputs(self) -> np.ndarray:
        y = self.outputs_q / 2.0 ** self.plans[-1].fo
        last = self.functions[-1] if self.functions else "none"
        return y if last in ("relu", "none") else apply_function(last, y)

    def to_dict(self) -> dict:
        return {"plans": [p.to_dict() for p in self.plans], "functions": self.functions,
                "input_density": self.input_density, "saturated_outputs": self.saturated_outputs,
                "saturated_inputs": self.saturated_inputs}


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
                        relu_last: bool = False, batch: int | None = None,
                        functions: Sequence[str] | None = None) -> AcceleratorRun:
    """Bit-exact fixed-point outputs of the network ``layers`` for every row of ``x``.

    Per layer, as the model computes it [arch §2, §4]: inputs ``a = q(x, fa)`` (layer 0) or
    the previous layer's outputs; codebook ``c = q(codebook, fw)``; every product ``a_j *
    c[codes_ij]`` is shifted with rounding by ``s = fa + fw - fo``; the accumulator starts at
    ``q_acc(bias_i)`` for a full-precision bias (else 0), a coded bias adds the bias column's
    product ``round_shift(2**fa * c[bias_codes_i], s)``; the sum wraps to ``acc_bits``; the
    write-out saturates to ``act_bits`` and applies ReLU when the layer's function is relu.
    A host function (sigmoid/tanh/softmax) between layers runs in float64 on the dequantised
    outputs and is quantised to the next layer's ``fa`` (module docstring).
    ``functions``: one per layer (default: relu between layers, none after the last, or
    relu with ``relu_last``).

    Because a shifted product depends only on the input value and the code, each batch
    builds the table ``round_shift(a_j * c_k, s)`` for every input j and code k and adds the
    entries each output uses with one sparse product (integer arithmetic throughout: int64
    wraps modulo 2**64, which the final wrap to ``acc_bits`` does not see).
    """
    layers = list(layers)
    plans = list(plans)
    if len(plans) != len(layers) or not layers:
        raise InputError(f"plans must give one QuantPlan per layer ({len(layers)}), not {len(plans)}")
    functions = check_functions(functions or default_functions(len(layers), relu_last), len(layers))
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise InputError(f"x must be 2-D (images x inputs), not shape {x.shape}")
    prepared = []
    width = x.shape[1]
    for i, (layer, plan) in enumerate(zip(layers, plans, strict=True)):
        plan.check(config)
        if i and plan.fa != next_fa(functions[i - 1], plans[i - 1].fo, config):
            want = next_fa(functions[i - 1], plans[i - 1].fo, config)
            rule = ("fa must equal the previous layer's fo" if functions[i - 1] not in OFF_ARRAY
                    else f"fa must be act_bits - 2 after {functions[i - 1]}")
            raise InputError(f"layer {i}: {rule} ({want}), not {plan.fa}")
        cb, codes, bias, bias_codes = _layer_arrays(layer)
        if codes.shape[1] != width:
            raise InputError(f"layer {i} has {codes.shape[1]} inputs but gets {width}: the layers do not chain")
        width = codes.shape[0]
        cb_q = quantize(cb, plan.fw, config.codebook_bits)
        acc0 = (np.zeros(codes.shape[0], np.int64) if bias is None
                else quantize(bias, plan.fo, config.acc_bits))
        if bias_codes is not None:
            coded = round_shift((np.int64(1) << np.int64(plan.fa)) * cb_q[bias_codes.astype(np.int64)], plan.shift)
            acc0 = acc0 + np.where(bias_codes != 0, coded, 0)
        prepared.append((cb_q, _gather_matrix(codes, cb.size), acc0))
    if batch is None:
        # keep a product table near 4 M entries (32 MB)
        biggest = max(np.asarray(layer.codes).shape[1] * np.asarray(layer.codebook).size for layer in layers)
        batch = int(max(1, min(1024, (1 << 22) // max(1, biggest))))
    a0 = quantize(x, plans[0].fa, config.act_bits)
    sat_in = int(np.count_nonzero(a0 != np.floor(x * 2.0 ** plans[0].fa + 0.5)))
    nonzero = np.zeros(len(layers), np.int64)
    saturated = np.zeros(len(layers), np.int64)
    outs = []
    for start in range(0, len(x), batch):
        a = a0[start:start + batch]
        for i, ((cb_q, gather, acc0), plan, f) in enumerate(zip(prepared, plans, functions, strict=True)):
            nonzero[i] += np.count_nonzero(a)
            table = round_shift(a[:, :, None] * cb_q[None, None, :], plan.shift)
            acc = np.asarray((gather.T @ table.reshape(len(a), -1).T).T) + acc0
            acc = wrap(acc, config.acc_bits)
            y = saturate(acc, config.act_bits)
            saturated[i] += np.count_nonzero(y != acc)
            if f == "relu":
                y = np.maximum(y, 0)
            if i < len(layers) - 1 and f in OFF_ARRAY:
                # the host: dequantise, the function in float64, quantise to the next fa
                y = quantize(apply_function(f, y / 2.0 ** plan.fo), plans[i + 1].fa, config.act_bits)
            a = y
        outs.append(a)
    sizes = [np.asarray(layer.codes).shape[1] for layer in layers]
    n_last = np.asarray(layers[-1].codes).shape[0]
    return AcceleratorRun(np.concatenate(outs) if outs else np.zeros((0, n_last), np.int64), plans,
                          [float(nonzero[i] / max(1, len(x) * sizes[i])) for i in range(len(layers))],
                          [int(s) for s in saturated], sat_in, functions)


def top1(scores: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of ``scores`` (argmax; a tie goes to the lower class)."""
    y = np.asarray(y)
    if len(y) == 0:
        return float("nan")
    return float(np.mean(np.asarray(scores).argmax(axis=1) == y))


def accelerator_accuracy(run: AcceleratorRun, y: np.ndarray) -> float:
    """Top-1 accuracy of the fixed-point outputs (argmax of the integer write-out; the host
    functions after the last layer keep the order, ties going to the lower class)."""
    return top1(run.outputs_q, y)


# ---- network directories ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class LoadedLayer:
    """One layer of a network directory as the commands run it: ``compressed`` (an fc layer,
    compressed on the way in if its file is dense; None for conv and lstm layers until they
    run) and ``dense`` (the float dense layer when the file is dense, else None)."""

    spec: object                    # eie.network.NetworkLayer
    compressed: object | None       # eie.layer.CompressedLayer
    dense: object | None            # eie.layer.DenseLayer


def load_network_layers(directory, *, density: float | None = None, bits: int | None = None,
                        bias_mode: str | None = None):
    """``(network, [LoadedLayer])`` of a network directory (:func:`eie.network.load_network`
    checks the layers chain); fc and lstm layer files are loaded, dense ones compressed with
    ``density``/``bits``/``bias_mode`` (:func:`eie.prepare.load_compressed`).  Dense options
    given when no layer file is dense are an error (they would be ignored)."""
    from .compress import compress_layer
    from .layer import DenseLayer, load_layer
    from .network import load_network
    from .prepare import DEFAULT_BITS
    net = load_network(directory)
    out = []
    any_dense = False
    for spec in net.layers:
        if spec.kind == "conv":
            out.append(LoadedLayer(spec, None, None))
            continue
        layer = load_layer(net.path(spec))
        dense = None
        if isinstance(layer, DenseLayer):
            any_dense = True
            dense = layer
            try:
                layer, _ = compress_layer(layer, density=density, bits=DEFAULT_BITS if bits is None else bits,
                                          bias_mode="full" if bias_mode is None else bias_mode)
            except InputError as exc:           # name the layer and its file
                raise InputError(f"layer {spec.name!r} ({net.path(spec)}): {exc}") from None
        out.append(LoadedLayer(spec, layer, dense))
    given = [flag for flag, v in (("--density", density), ("--bits", bits), ("--bias", bias_mode)) if v is not None]
    if given and not any_dense:
        raise InputError(f"every layer of {str(directory)!r} is already compressed: {given[0]} applies only to a "
                         f"dense layer file; drop it")
    return net, out


def dense_outputs(layers: Sequence, x: np.ndarray, functions: Sequence[str]) -> np.ndarray:
    """The float dense network (``weight``, ``bias`` of :class:`~eie.layer.DenseLayer` s)."""
    h = np.asarray(x, dtype=np.float64)
    for layer, f in zip(layers, check_functions(functions, len(layers)), strict=True):
        y = h @ np.asarray(layer.weight, dtype=np.float64).T
        if layer.bias is not None:
            y = y + layer.bias
        h = apply_function(f, y)
    return h
