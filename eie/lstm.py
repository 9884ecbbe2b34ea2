"""An LSTM layer on the array, as EIE maps NeuralTalk's [arch §8, "LSTM layers"].

The input and recurrent weights are one stacked matrix ``[W | R]`` of shape 4H x (X+H) (bias
``Wb + Rb``, a full-precision bias preloaded into the accumulators, [arch §2]).  Per step t the
array computes the 4H pre-activations ``[W | R] @ [x_t ; h_{t-1}] + b`` with
:func:`eie.model.simulate` (bit-exact 16-bit fixed point, [arch §4]); the gates and the cell
update run **off the array, on the host, in float32** on the dequantised pre-activations:

    i, f, o = sigmoid(.)   g = tanh(.)   c_t = f * c_{t-1} + i * g   h_t = o * tanh(c_t)

and ``h_t`` is quantised to ``act_bits`` with the layer's input fraction bits ``fa``: that is
both the layer's output and the next step's input (what the host writes back into the
source activations).  ``c`` stays in float32 on the host and never visits the array.

Fraction bits are chosen **once per layer** (never per step) from a float calibration run of
the same compressed weights over the whole sequence: ``fa`` from ``max |[x_t ; h_{t-1}]|``,
``fo`` from ``max |pre-activation|`` (one bit of headroom, capped by the bias), ``fw`` from the
codebook: :func:`eie.fixed.plan_layer` on the calibration run's stacked inputs and outputs.

The row blocks are in the order ``net_layer.gates`` (letters i, f, g, o: the ONNX importer
writes ``iofg``, PyTorch ``ifgo``).  ``direction = "reverse"`` steps t = T-1 .. 0; hidden
states are returned in input order (``h[t]`` belongs to ``xs[t]``, as ONNX's ``Y``), steps in
the order they ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .compile import compile_layer
from .config import EIEConfig
from .energy import EnergyTable, estimate
from .errors import InputError
from .fixed import QuantPlan, plan_layer, quantize, saturated_count
from .layer import MAX_ELEMENTS, CompressedLayer, DenseLayer
from .model import simulate
from .network import GATES, NetworkLayer

__all__ = ["LSTMStep", "LSTMResult", "run_lstm_layer", "float_lstm", "check_lstm", "sigmoid"]


def sigmoid(x):
    """The logistic function (numerically safe for large |x|)."""
    x = np.asarray(x)
    return np.exp(-np.logaddexp(0, -x)).astype(x.dtype, copy=False)


@dataclass(frozen=True)
class LSTMStep:
    """One step of the sequence on the array: timing, energy and the error of its ``h``."""

    t: int                     # index into xs
    cycles: int
    time_us: float
    energy_pj: float
    load_efficiency: float
    useful_macs: int
    nonzero_inputs: int        # non-zero entries of the quantised [x_t ; h_{t-1}] (broadcasts - 1)
    preacts_match_reference: bool   # the array's 4H outputs within the [arch §4] bound of W z + b
    max_abs_error: float       # |h_t - h_t(float LSTM, same compressed weights)|
    mean_abs_error: float
    max_abs_error_dense: float | None = None   # against the float LSTM of the original dense weights
    mean_abs_error_dense: float | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(eq=False)
class LSTMResult:
    """A run of one LSTM layer over a sequence (see the module docstring)."""

    name: str
    hidden: int
    input: int
    gates: str
    direction: str
    config: EIEConfig
    plan: QuantPlan
    steps: list                # LSTMStep, in the order they ran
    h: np.ndarray              # (T, H) the layer's output h_t (quantised, fa fraction bits), input order
    c: np.ndarray              # (T, H) cell states (float32 on the host), input order
    preacts_q: np.ndarray      # (T, 4H) int64 array outputs (fo fraction bits), input order
    h_float: np.ndarray        # (T, H) the float LSTM on the same compressed weights
    h_dense: np.ndarray | None = None   # (T, H) the float LSTM on the original dense weights
    weight_nonzeros: int = 0
    totals: dict = field(default_factory=dict)

    @property
    def cycles(self) -> int:
        return sum(s.cycles for s in self.steps)

    def to_dict(self) -> dict:
        return {"name": self.name, "hidden": self.hidden, "input": self.input, "gates": self.gates,
                "direction": self.direction, "pes": self.config.pes, "clock_mhz": self.config.clock_mhz,
                "fraction_bits": self.plan.to_dict(), "weight_nonzeros": self.weight_nonzeros,
                "totals": self.totals, "steps": [s.to_dict() for s in self.steps],
                "h": self.h.tolist()}


def check_lstm(shape, net_layer: NetworkLayer) -> tuple[int, int, str, str]:
    """``(H, X, gates, direction)`` of ``net_layer``, checked against a matrix of ``shape``."""
    hidden, x_in = net_layer.hidden, net_layer.input
    for key, v in (("hidden", hidden), ("input", x_in)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise InputError(f"LSTM layer {net_layer.name!r}: {key} must be an integer >= 1, not {v!r}")
    gates = GATES if net_layer.gates is None else net_layer.gates
    if not isinstance(gates, str) or sorted(gates) != sorted(GATES):
        raise InputError(f"LSTM layer {net_layer.name!r}: gates must be an order of the letters i, f, g, o "
                         f"(e.g. 'ifgo'), not {gates!r}")
    direction = net_layer.direction or "forward"
    if direction not in ("forward", "reverse"):
        raise InputError(f"LSTM layer {net_layer.name!r}: direction must be forward or reverse, not {direction!r}")
    want = (4 * hidden, x_in + hidden)
    if tuple(shape) != want:
        raise InputError(f"LSTM layer {net_layer.name!r}: the stacked matrix [W | R] must be 4H x (X+H) = "
                         f"{want[0]} x {want[1]} for H={hidden}, X={x_in}, not {shape[0]} x {shape[1]}")
    return int(hidden), int(x_in), gates, direction


def max_steps(hidden: int, x_in: int) -> int:
    """The longest sequence a layer of ``hidden`` cells and ``x_in`` inputs may run: its
    per-step arrays (the gates' pre-activations, 4H wide, and the array's inputs, X+H wide)
    stacked over T steps stay within :data:`eie.layer.MAX_ELEMENTS` elements each."""
    return MAX_ELEMENTS // max(4 * hidden, x_in + hidden)


def _sequence(xs, x_in: int) -> np.ndarray:
    a = np.asarray(xs)
    if a.dtype.kind not in "fiu" or a.dtype.kind == "b":
        raise InputError(f"the input sequence must be numeric, not dtype {a.dtype}")
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] != x_in:
        raise InputError(f"the input sequence must be T x X = T x {x_in} (T >= 1), not shape {a.shape}")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise InputError("the input sequence must be finite")
    return a


def _state(v, hidden: int, name: str) -> np.ndarray:
    if v is None:
        return np.zeros(hidden)
    a = np.asarray(v, dtype=np.float64)
    if a.shape != (hidden,) or not np.all(np.isfinite(a)):
        raise InputError(f"{name} must be {hidden} finite values, not shape {a.shape}")
    return a


def _blocks(pre, hidden: int, gates: str) -> dict:
    return {letter: pre[..., k * hidden:(k + 1) * hidden] for k, letter in enumerate(gates)}


def _cell(pre, c, hidden: int, gates: str, dtype):
    """Gates and cell update in ``dtype``: returns (h, c)."""
    b = _blocks(np.asarray(pre, dtype=dtype), hidden, gates)
    i, f, o = sigmoid(b["i"]), sigmoid(b["f"]), sigmoid(b["o"])
    g = np.tanh(b["g"])
    c = f * np.asarray(c, dtype=dtype) + i * g
    return o * np.tanh(c), c


def float_lstm(weight, bias, xs, hidden: int, gates: str = GATES, direction: str = "forward",
               h0=None, c0=None, *, return_inputs: bool = False):
    """The float64 LSTM of a stacked matrix ``weight`` (4H x (X+H)) and ``bias`` (4H or None):
    ``(h, c)`` of shape (T, H) in input order; with ``return_inputs`` also the stacked inputs
    ``[x_t ; h_{t-1}]`` and pre-activations of every step (in input order)."""
    xs = np.asarray(xs, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    b = np.zeros(w.shape[0]) if bias is None else np.asarray(bias, dtype=np.float64)
    T = xs.shape[0]
    h = np.zeros(hidden) if h0 is None else np.asarray(h0, dtype=np.float64)
    c = np.zeros(hidden) if c0 is None else np.asarray(c0, dtype=np.float64)
    hs, cs = np.zeros((T, hidden)), np.zeros((T, hidden))
    zs, pres = np.zeros((T, w.shape[1])), np.zeros((T, w.shape[0]))
    order = range(T - 1, -1, -1) if direction == "reverse" else range(T)
    for t in order:
        z = np.concatenate([xs[t], h])
        pre = w @ z + b
        h, c = _cell(pre, c, hidden, gates, np.float64)
        hs[t], cs[t], zs[t], pres[t] = h, c, z, pre
    return (hs, cs, zs, pres) if return_inputs else (hs, cs)


def run_lstm_layer(layer: CompressedLayer, net_layer: NetworkLayer, xs, config: EIEConfig, *, h0=None, c0=None,
                   table: EnergyTable | None = None, dense: DenseLayer | None = None) -> LSTMResult:
    """Run an LSTM layer over the sequence ``xs`` (T x X) on the array (see the module docstring).

    ``layer``: the compressed stacked matrix and bias; ``net_layer``: its hidden, input, gates
    and direction; ``dense``: the original dense layer (the same stacked matrix before pruning
    and sharing), to report the error against it too.  Energy per step from
    :func:`eie.energy.estimate` with ``table`` (default: the configuration's default table).
    """
    if not isinstance(layer, CompressedLayer):
        raise InputError(f"layer must be a CompressedLayer, not {type(layer).__name__}")
    hidden, x_in, gates, direction = check_lstm(layer.shape, net_layer)
    xs = _sequence(xs, x_in)
    if xs.shape[0] > max_steps(hidden, x_in):
        raise InputError(f"the input sequence has {xs.shape[0]:,} steps; with H={hidden}, X={x_in} at most "
                         f"{max_steps(hidden, x_in):,} fit (4H x T values per sequence, eie.layer.MAX_ELEMENTS)")
    h0, c0 = _state(h0, hidden, "h0"), _state(c0, hidden, "c0")
    if dense is not None and dense.weight.shape != layer.shape:
        raise InputError(f"the dense layer is {dense.weight.shape}, the compressed one {layer.shape}")
    cfg = config
    table = table or EnergyTable.default(cfg)
    T = xs.shape[0]
    bias = layer.bias_values()
    w = layer.dense_weight()
    # float calibration run on the compressed weights: the reference, and the fraction bits
    h_float, _, zs, pres = float_lstm(w, bias, xs, hidden, gates, direction, h0, c0, return_inputs=True)
    plan = plan_layer(layer.codebook, zs, pres, cfg, bias=layer.bias)
    h_dense = None
    if dense is not None:
        h_dense, _ = float_lstm(dense.weight, dense.bias, xs, hidden, gates, direction, h0, c0)
    compiled = compile_layer(layer, cfg)
    scale = 2.0 ** -plan.fa
    h_q = quantize(h0, plan.fa, cfg.act_bits)          # the host writes h0 as the first step's input
    c = c0.astype(np.float32)
    hs, cs = np.zeros((T, hidden)), np.zeros((T, hidden))
    pre_q = np.zeros((T, 4 * hidden), np.int64)
    steps = []
    order = range(T - 1, -1, -1) if direction == "reverse" else range(T)
    saturated = 0
    for t in order:
        z = np.concatenate([xs[t], h_q * scale])
        saturated += saturated_count(xs[t], plan.fa, cfg.act_bits)    # h_q is in range by construction
        res = simulate(compiled, z, plan=plan, source=layer)
        pre_q[t] = res.outputs_q
        h, c = _cell(res.outputs, c, hidden, gates, np.float32)
        h_q = quantize(h, plan.fa, cfg.act_bits)
        hs[t], cs[t] = h_q * scale, c
        err = np.abs(hs[t] - h_float[t])
        derr = None if h_dense is None else np.abs(hs[t] - h_dense[t])
        steps.append(LSTMStep(
            t=t, cycles=res.cycles, time_us=res.time_us,
            energy_pj=estimate(res.events, res.cycles, cfg, table).total_pj,
            load_efficiency=res.load_efficiency, useful_macs=res.useful_macs, nonzero_inputs=int(res.totals["nonzero_inputs"]),
            preacts_match_reference=bool(res.reference.get("outputs_match_reference", True)),
            max_abs_error=float(err.max()), mean_abs_error=float(err.mean()),
            max_abs_error_dense=None if derr is None else float(derr.max()),
            mean_abs_error_dense=None if derr is None else float(derr.mean())))
    cycles = sum(s.cycles for s in steps)
    useful = sum(s.useful_macs for s in steps)
    totals = {
        "steps": T, "cycles": cycles, "time_us": cycles / cfg.clock_mhz,
        "energy_pj": sum(s.energy_pj for s in steps),
        "cycles_per_step": cycles / T, "time_us_per_step": cycles / cfg.clock_mhz / T,
        "energy_pj_per_step": sum(s.energy_pj for s in steps) / T,
        "load_efficiency": useful / (cycles * cfg.pes) if cycles else 0.0,
        "preacts_match_reference": all(s.preacts_match_reference for s in steps),
        "max_abs_error": max(s.max_abs_error for s in steps),
        "mean_abs_error": float(np.mean(np.abs(hs - h_float))),
        "saturated_inputs": saturated, "max_abs_input": float(np.max(np.abs(xs), initial=0.0)),
    }
    if h_dense is not None:
        totals["max_abs_error_dense"] = float(np.max(np.abs(hs - h_dense)))
        totals["mean_abs_error_dense"] = float(np.mean(np.abs(hs - h_dense)))
        totals["max_abs_error_compression"] = float(np.max(np.abs(h_float - h_dense)))
    return LSTMResult(layer.name, hidden, x_in, gates, direction, cfg, plan, steps, hs, cs, pre_q, h_float,
                      h_dense, int(np.count_nonzero(layer.codes)), totals)
