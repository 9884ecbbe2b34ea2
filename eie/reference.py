"""Independent float reference for a compressed layer and the documented error bound [arch §4].

Nothing here uses the compiler or the model: it works from the code matrix directly, with
scipy sparse matrices so that the largest benchmark layers stay in memory.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .fixed import max_value
from .layer import CompressedLayer, check_activations

__all__ = ["sparse_weight", "float_forward", "error_bound", "outputs_match"]


def sparse_weight(layer: CompressedLayer) -> sp.csr_matrix:
    """The decoded weights as a CSR matrix (float64), built straight from the non-zero codes
    in row-major order (what ``scipy.sparse.csr_matrix(codes)`` builds, without its COO
    detour)."""
    codes = layer.codes
    n_out, n_in = codes.shape
    flat = np.flatnonzero(codes.ravel() != 0)
    row_starts = np.arange(0, (n_out + 1) * n_in, n_in, dtype=np.int64)
    indptr = np.searchsorted(flat, row_starts)
    cols = flat - np.repeat(row_starts[:-1], np.diff(indptr))
    index = np.int32 if len(flat) < 2**31 and n_in < 2**31 else np.int64
    m = sp.csr_matrix((layer.codebook[codes.ravel()[flat]], cols.astype(index), indptr.astype(index)),
                      shape=(n_out, n_in))
    m.has_sorted_indices = True
    if np.any(layer.codebook[1:] == 0.0):
        m.eliminate_zeros()      # codes whose codebook value is 0.0 are not weights
    return m


def float_forward(layer: CompressedLayer, x, w: sp.csr_matrix | None = None) -> np.ndarray:
    """``W @ x + b`` in float64 (``b``: the full-precision or the decoded coded bias)."""
    x = check_activations(x, layer.n_in)
    w = sparse_weight(layer) if w is None else w
    return w @ x + layer.bias_values()


def error_bound(layer: CompressedLayer, x, fa: int, fw: int, fo: int, w: sp.csr_matrix | None = None) -> np.ndarray:
    """Per-output bound on ``|y_fixed - y_float|`` when nothing saturates [arch §4].

    ``Σ_j (|c_ij| εa + |x_j| εw + εa εw) + n_i 2^-(fo+1) + 2^-(fo+1)`` over the non-zero
    weights of row i (a coded bias with x = 1 and εa = 0); a full-precision bias adds the
    rounding of its preload ``q_acc(bias_i)``, ``2^-(fo+1)`` (on the rows whose bias is not 0:
    a zero bias is preloaded exactly).
    """
    x = check_activations(x, layer.n_in)
    w = sparse_weight(layer) if w is None else w
    ea, ew, eo = 2.0 ** -(fa + 1), 2.0 ** -(fw + 1), 2.0 ** -(fo + 1)
    absw = abs(w)
    mask = absw.copy()
    mask.data[:] = 1.0
    n_i = np.asarray(mask.sum(axis=1)).ravel()
    bound = ea * np.asarray(absw.sum(axis=1)).ravel() + ew * (mask @ np.abs(x)) + ea * ew * n_i + n_i * eo + eo
    if layer.bias_codes is not None:
        has_b = layer.bias_codes != 0
        bound = bound + has_b * (ew + eo)
    if layer.bias is not None:
        bound = bound + (layer.bias != 0) * eo
    return bound


def outputs_match(y_fixed_float, y_float, bound, act_bits: int, fo: int, relu: bool = False) -> np.ndarray:
    """Per-output verdict.  The float result is saturated to the output range (and ReLU'd)
    before comparing, so an honest saturation is not a mismatch."""
    hi = max_value(act_bits, fo)
    lo = -(1 << (act_bits - 1)) / 2.0 ** fo
    ref = np.clip(y_float, lo, hi)
    if relu:
        ref = np.maximum(ref, 0.0)
    return np.abs(np.asarray(y_fixed_float) - ref) <= bound * (1 + 1e-12) + 1e-300
