"""Deep Compression for one fully-connected layer: prune, share weights, account storage.

The pipeline of Han, Mao and Dally, "Deep Compression" (ICLR 2016), restricted to what EIE
consumes [arch §2, §3]:

1. :func:`prune` -- magnitude pruning to a target density;
2. :func:`kmeans_1d` / :func:`share_weights` -- weight sharing: the kept weights are
   clustered by 1-D k-means with linear initialisation and replaced by their centroid; a
   weight is then a ``bits``-bit code into a ``2**bits``-entry codebook whose entry 0 is
   the pruned weight 0.0;
3. :func:`compress_layer` -- both steps on a :class:`~eie.layer.DenseLayer`, giving a
   :class:`~eie.layer.CompressedLayer` and a :class:`StorageReport` (the storage
   accounting of Deep Compression Table 2, with Huffman coding from
   :func:`huffman_code_lengths`);
4. :func:`synthetic_layer` -- a seeded layer made the same way from a Gaussian matrix, for
   benchmarks of the paper's shapes (VGG-6 is 4096 x 25088 at 4 %).

A dense layer's bias is kept at full precision (``bias_mode="full"``, the accumulators start
from it) unless it is asked to be coded with the weight codebook (``"coded"``, the authors'
encoding) [arch §2].

Everything is deterministic; every random draw takes a seed.  The functions are written
for large layers: float32 stays float32, the pruning threshold comes from a partition (not
a full sort) and k-means runs on the kept values only, sorted once.

The storage report uses Deep Compression's *release* format (the flattened, row-major
matrix with 4-bit relative indices, as read by ``decode.py`` of the published compressed
AlexNet), not EIE's per-PE CSC layout, which the compiler builds [arch §3].
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .layer import CompressedLayer, DenseLayer, check_finite

__all__ = [
    "prune",
    "kmeans_1d",
    "share_weights",
    "compress_layer",
    "encode_relative",
    "huffman_code_lengths",
    "StorageReport",
    "BiasReport",
    "BIAS_MODES",
    "synthetic_layer",
]

#: how a dense layer's float bias is carried [arch §2]: ``"full"`` (full precision, the
#: accumulators start from it) or ``"coded"`` (codes into the weight codebook)
BIAS_MODES = ("full", "coded")

# Width of a float in the dense model and of a codebook entry in the release format.
FLOAT_BITS = 32

# Smallest synthetic activation: above the rounding threshold 2**-(f+1) of every
# activation fraction width f >= 10 that 16-bit activations of |N(0, 1)| magnitudes get.
_ACT_FLOOR = 2.0**-10


# ---- argument checks ------------------------------------------------------------------

def _check_density(name: str, value) -> float:
    """A density in (0, 1]; NaN, bools and non-numbers are refused with the value."""
    ok = (not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
          and 0.0 < float(value) <= 1.0)
    if not ok:
        raise InputError(f"{name} must be in (0, 1], not {value!r}")
    return float(value)


def _check_int(name: str, value, lo: int, hi: int | None = None) -> int:
    ok = not isinstance(value, bool) and isinstance(value, (int, np.integer))
    ok = ok and value >= lo and (hi is None or value <= hi)
    if not ok:
        rule = f"an integer in [{lo}, {hi}]" if hi is not None else f"an integer >= {lo}"
        raise InputError(f"{name} must be {rule}, not {value!r}")
    return int(value)


def _check_array(name: str, value, ndim: int | None = None) -> np.ndarray:
    """A finite, non-empty numeric array; float32 and float64 keep their dtype (no copy)."""
    a = np.asarray(value)
    if a.dtype.kind not in "fiu":
        raise InputError(f"{name} must be a numeric array, not dtype {a.dtype}")
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    if ndim is not None and a.ndim != ndim:
        raise InputError(f"{name} must be {ndim}-D, not shape {a.shape}")
    if a.size == 0:
        raise InputError(f"{name} must have at least one element, not shape {a.shape}")
    check_finite(name, a)
    return a


def _check_mask(mask, shape) -> np.ndarray:
    m = np.asarray(mask)
    if m.dtype != np.bool_:
        raise InputError(f"mask must be a boolean array, not dtype {m.dtype}")
    if m.shape != shape:
        raise InputError(f"mask must have the weight's shape {shape}, not {m.shape}")
    return m


# ---- 1. pruning -----------------------------------------------------------------------

def prune(weight, density: float | None) -> np.ndarray:
    """Magnitude pruning: the mask of the weights to keep.

    Parameters
    ----------
    weight : array_like
        Finite weights of any shape (a layer is ``n_out x n_in``).
    density : float in (0, 1], or None
        Fraction of weights to keep.  Exactly ``k = max(1, round(density * weight.size))``
        weights are kept (Python ``round``, half to even): the k largest by ``|w|``.  Among
        equal magnitudes at the threshold, the lower flat (row-major) index is kept, so the
        result is deterministic.  ``None`` keeps the existing non-zeros (``weight != 0``),
        for a layer that is already pruned.

    Returns
    -------
    numpy.ndarray of bool, the shape of ``weight``.

    Notes
    -----
    The threshold is found with ``np.partition`` (linear time), never with a full sort, on
    candidates collected in one streaming pass (float32 stays float32).  If ``density``
    asks for more weights than there are non-zeros, exact zeros are kept too;
    :func:`share_weights` codes them as pruned (0).
    """
    w = _check_array("weight", weight)
    if density is None:
        return w != 0
    density = _check_density("density", density)
    return _prune_mask(w, max(1, round(density * w.size)))


def _prune_mask(w: np.ndarray, k: int) -> np.ndarray:
    """The mask of the k largest ``|w|`` (lowest flat index first on ties); w is checked."""
    mask = np.zeros(w.shape, dtype=bool)
    mask.reshape(-1)[_top_k_indices(w, k)] = True
    return mask


def _top_k_indices(w: np.ndarray, k: int, chunk: int = 1 << 20, sample: int = 1 << 16) -> np.ndarray:
    """Ascending flat indices of the k largest ``|w|``, the lowest flat index first on ties.

    Exact, in one streaming pass for the usual case: a strided sample of ``|w|`` gives a
    magnitude ``lo`` that at least k weights reach with a wide margin (the sample quantile
    four standard errors below the target); the matrix is then read in chunks of ``chunk``
    weights through one small ``|w|`` buffer, keeping the candidates ``|w| >= lo`` with
    their indices, and the threshold is found among the candidates with ``np.partition``.
    Every weight at or above the true threshold is a candidate, so the result equals the
    full-array selection.  If the sample misjudged (fewer than k candidates, or more than
    ``max(4k, n/8)``, as with heavy ties) the full-array method runs instead.  Streaming
    avoids a weight-sized ``|w|`` copy and mask: on VGG-6 (10^8 float32 weights) it takes
    about a third of the time of partitioning the whole ``|w|`` and 0.25 GB less memory.
    """
    flat = np.ascontiguousarray(w).reshape(-1)
    n = flat.size
    if k >= n:
        return np.arange(n)
    step = max(1, n // sample)
    probe = np.abs(flat[::step])
    m = probe.size
    frac = k / n
    want = min(m, math.ceil(m * frac + 4.0 * math.sqrt(m * frac * (1.0 - frac)) + 1.0))
    lo = np.partition(probe, m - want)[m - want]
    limit = max(4 * k, n // 8)
    if want < m and lo > 0:
        buf = np.empty(min(chunk, n), dtype=flat.dtype)
        idx_parts, mag_parts, found = [], [], 0
        for start in range(0, n, chunk):
            part = flat[start:start + chunk]
            mags = np.abs(part, out=buf[:part.size])
            sel = np.flatnonzero(mags >= lo)
            found += sel.size
            if found > limit:
                break
            idx_parts.append(sel + start)
            mag_parts.append(mags[sel])
        else:
            if found >= k:
                return _select_top_k(np.concatenate(idx_parts), np.concatenate(mag_parts), k)
    # Full-array method: one |w| buffer, partitioned in place, then refilled to compare.
    mags = np.abs(flat)
    mags.partition(n - k)
    t = mags[n - k]
    np.abs(flat, out=mags)
    above = np.flatnonzero(mags > t)
    ties = np.flatnonzero(mags == t)[:k - above.size]
    return np.sort(np.concatenate((above, ties)))


def _select_top_k(idx: np.ndarray, mags: np.ndarray, k: int) -> np.ndarray:
    """The k of ``idx`` (ascending) with the largest ``mags``, lower index first on ties."""
    t = np.partition(mags, idx.size - k)[idx.size - k]
    keep = mags > t
    need = k - int(np.count_nonzero(keep))
    keep[np.flatnonzero(mags == t)[:need]] = True
    return idx[keep]


# ---- 2. weight sharing ----------------------------------------------------------------

def _assign(sorted_centroids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid of each value; a value exactly between two centroids
    goes to the lower one (the one a brute-force ``argmin`` finds first)."""
    mids = (sorted_centroids[:-1] + sorted_centroids[1:]) * 0.5
    return np.searchsorted(mids, values, side="left")


def kmeans_1d(values, n_clusters: int, iters: int = 300, tol: float = 1e-9) -> np.ndarray:
    """1-D k-means (Lloyd) with linear initialisation: the sorted centroids.

    Parameters
    ----------
    values : array_like, 1-D
        Finite values to cluster (at least one).
    n_clusters : int >= 1
        Number of centroids returned (always exactly this many).
    iters : int >= 0
        Most Lloyd iterations.
    tol : float >= 0
        Stop when no centroid moved by more than ``tol * (max - min)``.  The iteration also
        stops as soon as the assignment is unchanged (an exact fixed point).

    Returns
    -------
    numpy.ndarray, float64, shape ``(n_clusters,)``, sorted ascending.

    Notes
    -----
    *Initialisation* is linear over ``[min, max]`` (``np.linspace``), Deep Compression's
    choice: unlike random or density-based seeds it keeps centroids at the rare large
    weights, which matter most.  It makes the result deterministic.

    *Assignment* is nearest centroid, a tie going to the lower centroid.  In 1-D the
    clusters of sorted centroids are contiguous ranges of the sorted values, split at the
    midpoints between neighbouring centroids, so the values are sorted once and each
    iteration is one ``np.searchsorted`` of the k-1 midpoints into them plus prefix sums
    for the cluster means: O(n log n) once, then O(k log n) per iteration.

    *Few distinct values*: if there are at most ``n_clusters`` distinct values, Lloyd is
    skipped and the centroids are the distinct values themselves (zero error, the global
    optimum, so re-compressing an already shared layer is lossless); the spare centroids
    repeat the largest value.

    *Empty clusters* during Lloyd (a centroid whose range holds no value; with linear
    initialisation this happens in the gap magnitude pruning leaves around zero) keep their
    position.  Order is preserved (an empty centroid lies between its neighbours' ranges),
    so the result is sorted, never NaN, and has exactly ``n_clusters`` entries, some
    possibly unused.
    """
    x = _check_array("values", values, ndim=1).astype(np.float64)
    k = _check_int("n_clusters", n_clusters, 1)
    iters = _check_int("iters", iters, 0)
    if (isinstance(tol, bool) or not isinstance(tol, (int, float, np.integer, np.floating))
            or not math.isfinite(tol) or tol < 0):
        raise InputError(f"tol must be a finite number >= 0, not {tol!r}")
    xs = np.sort(x)
    lo, hi = float(xs[0]), float(xs[-1])
    if k == 1:
        return np.array([xs.mean()])
    distinct = xs[np.concatenate(([True], xs[1:] != xs[:-1]))]
    if distinct.size <= k:
        # Every value can have its own centroid: the exact (zero-error) optimum, which Lloyd
        # from a linear start need not find.  Spare centroids repeat the largest value.
        return np.concatenate((distinct, np.full(k - distinct.size, hi)))
    centroids = np.linspace(lo, hi, k)
    prefix = np.concatenate(([0.0], np.cumsum(xs)))
    step = tol * (hi - lo)
    bounds = None
    for _ in range(iters):
        # Cluster i holds the sorted values xs[b[i]:b[i+1]], those with
        # mid[i-1] < v <= mid[i] (a value on a midpoint goes to the lower centroid).
        mids = (centroids[:-1] + centroids[1:]) * 0.5
        new_bounds = np.concatenate(([0], np.searchsorted(xs, mids, side="right"), [xs.size]))
        if bounds is not None and np.array_equal(new_bounds, bounds):
            break
        bounds = new_bounds
        counts = np.diff(bounds)
        sums = prefix[bounds[1:]] - prefix[bounds[:-1]]
        full = counts > 0
        moved = np.where(full, sums / np.maximum(counts, 1), centroids)
        # Prefix-sum rounding may put a mean a hair outside its range; clip to keep order.
        moved = np.clip(moved, lo, hi)
        shift = float(np.max(np.abs(moved - centroids)))
        centroids = np.maximum.accumulate(moved)
        if shift <= step:
            break
    return centroids


def share_weights(weight, mask, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Weight sharing: a ``2**bits``-entry codebook and a code per weight.

    Parameters
    ----------
    weight : array_like
        Finite weights (any shape).
    mask : array_like of bool, the shape of ``weight``
        Weights to keep (from :func:`prune`).  A kept weight that is exactly 0.0 is coded
        as pruned (code 0): it is already represented exactly, and a non-zero code must
        decode to a non-zero value.
    bits : int in [1, 8]
        Width of a code.

    Returns
    -------
    codebook : numpy.ndarray, float64, shape ``(2**bits,)``
        ``codebook[0] = 0.0`` (pruned weights, also EIE's padding code); entries
        ``1 .. 2**bits - 1`` are the sorted centroids of :func:`kmeans_1d` over the kept
        non-zero weights, rounded to float32 (the width of the released codebook, so the
        32-bit codebook the :class:`StorageReport` counts is exact).  With fewer distinct
        kept values than centroids some entries are unused or repeated; the length is
        always ``2**bits``.
    codes : numpy.ndarray, uint8, the shape of ``weight``
        0 exactly where the weight is pruned (or zero); otherwise ``1 .. 2**bits - 1``,
        the nearest entry of the final codebook (a tie goes to the lower entry).

    Notes
    -----
    *Zero rule*: a centroid that comes out exactly 0.0 (a cluster balanced around zero, or
    an empty cluster initialised at zero) is replaced by the kept weight of smallest
    magnitude (the positive one on a tie; rounded to float32, at least float32's smallest
    subnormal).  So every entry ``1 .. 2**bits - 1`` is non-zero, and ``code != 0`` always
    means ``value != 0``.  The codes are assigned after this step, so each kept weight
    decodes to its nearest entry among ``codebook[1:]``.

    Raises
    ------
    InputError
        If the mask keeps no non-zero weight (there is nothing to cluster).
    """
    w = _check_array("weight", weight)
    m = _check_mask(mask, w.shape)
    bits = _check_int("bits", bits, 1, 8)
    return _share(w, np.flatnonzero(m), bits)


def _share(w: np.ndarray, kept: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`share_weights` on checked input, the kept weights given by flat index."""
    values = w.reshape(-1)[kept]
    nonzero = values != 0
    if not nonzero.all():
        kept, values = kept[nonzero], values[nonzero]
    if kept.size == 0:
        raise InputError(f"mask must keep at least one non-zero weight, not 0 of {w.size}")
    values = values.astype(np.float64)
    big, limit = float(np.abs(values).max()), float(np.finfo(np.float32).max)
    if big > limit:
        raise InputError(f"weight must fit a float32 codebook (|w| <= {limit:.4g}), not {big!r}")
    centroids = kmeans_1d(values, (1 << bits) - 1)
    centroids = centroids.astype(np.float32).astype(np.float64)
    if np.any(centroids == 0.0):
        smallest = float(np.abs(values).min())
        # On a tie in magnitude the positive weight is taken.  A magnitude below float32's
        # range becomes its smallest subnormal, so the stand-in is never 0.
        sign = 1.0 if np.any(values == smallest) else -1.0
        stand_in = max(float(np.float32(smallest)), float(np.finfo(np.float32).smallest_subnormal))
        centroids[centroids == 0.0] = sign * stand_in
        centroids.sort()
    codebook = np.concatenate(([0.0], centroids))
    codes = np.zeros(w.shape, dtype=np.uint8)
    codes.reshape(-1)[kept] = (_assign(centroids, values) + 1).astype(np.uint8)
    return codebook, codes


def _nearest_code(codebook: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Nearest codebook entry, code 0 included (how a float bias is coded [arch §2])."""
    return np.abs(values[:, None] - codebook[None, :]).argmin(axis=1).astype(np.uint8)


def _check_bias_mode(value) -> str:
    if value not in BIAS_MODES:
        raise InputError(f"bias_mode must be one of {', '.join(map(repr, BIAS_MODES))}, not {value!r}")
    return value


def _with_bias(codebook, codes, bias, mode: str, activations, name: str) -> CompressedLayer:
    """The compressed layer with ``bias`` (float or None) carried as ``mode`` [arch §2]."""
    if bias is None:
        return CompressedLayer(codebook, codes, None, activations, name)
    if mode == "coded":
        return CompressedLayer(codebook, codes, _nearest_code(codebook, bias), activations, name)
    return CompressedLayer(codebook, codes, None, activations, name, bias=bias)


# ---- 3. storage accounting ------------------------------------------------------------

def encode_relative(codes, index_bits: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Deep Compression's relative-index encoding of a code matrix: the two streams.

    The matrix is flattened row-major.  Each non-zero code emits one entry ``(v, z)``: v is
    its code and z the number of zero codes since the previous entry (since position 0 for
    the first).  A run of ``g`` zeros with ``g > 2**index_bits - 1`` first emits
    ``g // 2**index_bits`` filler entries ``(0, 2**index_bits - 1)``, each standing for
    ``2**index_bits`` positions, then the entry with ``z = g % 2**index_bits``.  Trailing
    zeros emit nothing.  This is the format ``decode.py`` of the released compressed AlexNet
    reads back with ``position = cumsum(z + 1) - 1; matrix[position] = v``.

    Returns
    -------
    v, z : numpy.ndarray, uint8, one entry each per stored entry (fillers included).
    """
    c = np.asarray(codes)
    if c.dtype.kind not in "iu":
        raise InputError(f"codes must be an integer array, not dtype {c.dtype}")
    ib = _check_int("index_bits", index_bits, 1, 8)
    flat = c.ravel()
    pos = np.flatnonzero(flat)
    gaps = np.diff(pos, prepend=-1) - 1
    fillers = gaps >> ib
    z_real = gaps & ((1 << ib) - 1)
    # A real entry k lands after all fillers of entries 0..k.
    slot = np.arange(pos.size) + np.cumsum(fillers)
    total = pos.size + int(fillers.sum())
    v = np.zeros(total, dtype=np.uint8)
    z = np.full(total, (1 << ib) - 1, dtype=np.uint8)
    v[slot] = flat[pos]
    z[slot] = z_real
    return v, z


def huffman_code_lengths(freqs):
    """Code lengths of a Huffman code for the given symbol frequencies.

    Parameters
    ----------
    freqs : mapping symbol -> frequency, or 1-D array_like of frequencies
        Finite, non-negative; at least one positive.

    Returns
    -------
    dict symbol -> int for a mapping, numpy.ndarray of int64 for an array
        Bits of each symbol's code word.  A symbol of frequency 0 gets no code (length 0).
        A single used symbol gets length 1 (one bit per symbol is still sent).

    Notes
    -----
    The classic construction with a binary heap: repeatedly merge the two lightest trees.
    Ties in weight are broken by age: symbols in input order (a mapping's iteration order)
    come before merged trees, and merged trees in the order they were made; so the result
    is deterministic.  For two or more used symbols the lengths satisfy Kraft's equality
    ``sum(2**-l) == 1`` and ``sum(f * l)`` is minimal.
    """
    keys = list(freqs) if isinstance(freqs, Mapping) else None
    f = np.asarray([freqs[key] for key in keys] if keys is not None else freqs)
    if f.dtype.kind not in "fiu" or f.ndim != 1:
        raise InputError(f"freqs must be a 1-D numeric array or a mapping, not {f.dtype} of shape {f.shape}")
    f = f.astype(np.float64)
    if not np.all(np.isfinite(f)) or np.any(f < 0):
        bad = f[~(np.isfinite(f) & (f >= 0))][0].item()
        raise InputError(f"freqs must be finite and non-negative, not {bad!r}")
    used = np.flatnonzero(f > 0)
    if used.size == 0:
        raise InputError("freqs must have at least one positive frequency, not none")
    lengths = np.zeros(f.size, dtype=np.int64)
    if used.size == 1:
        lengths[used[0]] = 1
    else:
        # Node ids: leaves 0..n-1 (in input order), merged trees n, n+1, ... (in order made);
        # the id is also the tie-breaker.
        n = used.size
        heap = [(f[s], i) for i, s in enumerate(used)]
        heapq.heapify(heap)
        parent = np.zeros(2 * n - 1, dtype=np.int64)
        node = n
        while len(heap) > 1:
            fa, a = heapq.heappop(heap)
            fb, b = heapq.heappop(heap)
            parent[a] = parent[b] = node
            heapq.heappush(heap, (fa + fb, node))
            node += 1
        depth = np.zeros(2 * n - 1, dtype=np.int64)
        # Parents are made after their children: walk from the root down.
        for i in range(2 * n - 3, -1, -1):
            depth[i] = depth[parent[i]] + 1
        lengths[used] = depth[:n]
    if keys is None:
        return lengths
    return {key: int(length) for key, length in zip(keys, lengths, strict=True)}


def _huffman_bits(counts: np.ndarray) -> int:
    """Bits of a stream Huffman-coded with the code built from its own symbol counts."""
    return int(np.dot(huffman_code_lengths(counts), counts.astype(np.int64)))


@dataclass(frozen=True)
class StorageReport:
    """Storage of one compressed layer, in the layout of Deep Compression Table 2.

    What is counted (all counts exact integers; "bits" fields are per entry):

    - ``weights``: all weights of the matrix (``n_out * n_in``); the bias is not counted
      (Table 2 counts weights only).
    - ``nonzeros``: weights with a non-zero code; ``density = nonzeros / weights``.
    - ``entries``: stored entries = ``nonzeros + fillers``, where ``fillers`` are the
      filler entries of the relative-index encoding (:func:`encode_relative`: the matrix
      flattened row-major, a zero run of g > ``2**index_bits - 1`` adds
      ``g // 2**index_bits`` fillers).  Both streams have one symbol per entry: the weight
      stream a code (0 for a filler), the index stream a gap z (``2**index_bits - 1`` for a
      filler).
    - ``weight_bits`` (= ``bits``) and ``index_bits``: bits per entry before Huffman.
    - ``weight_bits_huffman`` / ``index_bits_huffman``: bits per entry after Huffman coding
      each stream with the code :func:`huffman_code_lengths` builds from that stream's own
      symbol counts (fillers included), i.e. ``sum(count * length) / entries``.  The code
      tables themselves are not counted.
    - ``codebook_bits``: ``2**bits * 32`` (a float32 codebook, as released).
    - ``dense_bits``: ``weights * 32`` (the float32 matrix).
    - ``compressed_bits``: ``entries * (weight_bits + index_bits) + codebook_bits``;
      ``compressed_bits_huffman``: the two Huffman-coded streams + ``codebook_bits``.
    - ``*_bytes``: the bit counts rounded up to whole bytes.
    - ``compression_rate = dense_bits / compressed_bits`` and
      ``compression_rate_huffman = dense_bits / compressed_bits_huffman`` ("x" factors;
      Table 2 prints the inverse as a percentage).

    Without the index stream, ``dense_bits / (compressed_bits - entries * index_bits)`` of
    a matrix with no zero is Deep Compression's ``r = n b / (n log2 k + k b)`` with
    ``k = 2**bits`` and ``b = 32``.
    """

    name: str
    weights: int
    nonzeros: int
    density: float
    entries: int
    fillers: int
    weight_bits: int
    weight_bits_huffman: float
    index_bits: int
    index_bits_huffman: float
    codebook_bits: int
    dense_bits: int
    compressed_bits: int
    compressed_bits_huffman: int
    dense_bytes: int
    compressed_bytes: int
    compressed_bytes_huffman: int
    compression_rate: float
    compression_rate_huffman: float

    @classmethod
    def from_codes(cls, codes, bits: int, index_bits: int = 4, name: str = "layer") -> StorageReport:
        """The report of a code matrix (codes in ``[0, 2**bits - 1]``, 0 = pruned)."""
        c = np.asarray(codes)
        if c.dtype.kind not in "iu":
            raise InputError(f"codes must be an integer array, not dtype {c.dtype}")
        bits = _check_int("bits", bits, 1, 8)
        ib = _check_int("index_bits", index_bits, 1, 8)
        if c.size == 0:
            raise InputError(f"codes must have at least one element, not shape {c.shape}")
        if c.min() < 0 or c.max() >= (1 << bits):
            bad = int(c.min()) if c.min() < 0 else int(c.max())
            raise InputError(f"codes must be in [0, {(1 << bits) - 1}] for bits={bits}, not {bad}")
        flat = c.ravel()
        pos = np.flatnonzero(flat)
        if pos.size == 0:
            raise InputError("codes must have at least one non-zero code, not none")
        gaps = np.diff(pos, prepend=-1) - 1
        fill = gaps >> ib
        fillers = int(fill.sum())
        nonzeros = int(pos.size)
        entries = nonzeros + fillers
        weight_counts = np.bincount(flat[pos], minlength=1 << bits).astype(np.int64)
        weight_counts[0] += fillers
        index_counts = np.bincount(gaps & ((1 << ib) - 1), minlength=1 << ib).astype(np.int64)
        index_counts[(1 << ib) - 1] += fillers
        w_huff = _huffman_bits(weight_counts)
        i_huff = _huffman_bits(index_counts)
        weights = int(c.size)
        codebook_bits = (1 << bits) * FLOAT_BITS
        dense_bits = weights * FLOAT_BITS
        compressed = entries * (bits + ib) + codebook_bits
        compressed_h = w_huff + i_huff + codebook_bits
        return cls(
            name=str(name), weights=weights, nonzeros=nonzeros, density=nonzeros / weights,
            entries=entries, fillers=fillers,
            weight_bits=bits, weight_bits_huffman=w_huff / entries,
            index_bits=ib, index_bits_huffman=i_huff / entries,
            codebook_bits=codebook_bits, dense_bits=dense_bits,
            compressed_bits=compressed, compressed_bits_huffman=compressed_h,
            dense_bytes=-(-dense_bits // 8), compressed_bytes=-(-compressed // 8),
            compressed_bytes_huffman=-(-compressed_h // 8),
            compression_rate=dense_bits / compressed,
            compression_rate_huffman=dense_bits / compressed_h)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def format_table(self) -> str:
        """Plain-text table in the columns of Deep Compression Table 2, plus byte totals."""
        header = ["Layer", "#Weights", "Weights% (P)", "Weight bits (P+Q)", "Weight bits (P+Q+H)",
                  "Index bits (P+Q)", "Index bits (P+Q+H)", "Compress rate (P+Q)",
                  "Compress rate (P+Q+H)"]
        row = [self.name, f"{self.weights:,}", f"{100 * self.density:.2f}%", f"{self.weight_bits}",
               f"{self.weight_bits_huffman:.2f}", f"{self.index_bits}", f"{self.index_bits_huffman:.2f}",
               f"{self.compression_rate:.1f}x", f"{self.compression_rate_huffman:.1f}x"]
        widths = [max(len(h), len(r)) for h, r in zip(header, row, strict=True)]
        lines = ["  ".join(s.ljust(wd) for s, wd in zip(line, widths, strict=True)).rstrip()
                 for line in (header, row)]
        lines.append(
            f"{self.nonzeros:,} non-zeros + {self.fillers:,} fillers = {self.entries:,} entries; "
            f"dense {self.dense_bytes:,} B, compressed {self.compressed_bytes:,} B (P+Q), "
            f"{self.compressed_bytes_huffman:,} B (P+Q+H), codebook {self.codebook_bits // 8:,} B")
        return "\n".join(lines)


@dataclass(frozen=True)
class BiasReport:
    """How far a float bias moved when it was coded with the weight codebook [arch §2].

    With ``bias_mode="coded"`` the bias is stored as codes into the *weight* codebook (the
    authors' encoding), so each value becomes its nearest codebook entry, code 0 (the value
    0.0) included.  A bias much smaller than the kept weights (a trained layer's usual case)
    mostly becomes 0 (the reason the default is ``"full"``).

    - ``values``: bias values (``n_out``); ``nonzero``: those that are not 0.0.
    - ``max_abs_change`` / ``mean_abs_change``: ``|coded - bias|`` over all values.
    - ``max_abs_bias``: the largest ``|bias|``, the scale to read the changes against.
    - ``zeroed``: non-zero values coded as 0.0; ``zeroed_fraction = zeroed / nonzero``
      (0.0 when no value is non-zero).
    """

    values: int
    nonzero: int
    max_abs_bias: float
    max_abs_change: float
    mean_abs_change: float
    zeroed: int
    zeroed_fraction: float

    @classmethod
    def of(cls, bias, coded) -> BiasReport:
        """The report of a float ``bias`` and its decoded ``coded`` values (same length)."""
        b = np.asarray(bias, dtype=np.float64)
        c = np.asarray(coded, dtype=np.float64)
        if b.shape != c.shape or b.ndim != 1 or b.size == 0:
            raise InputError(f"bias and coded bias must be 1-D of one length, not shapes {b.shape} and {c.shape}")
        change = np.abs(c - b)
        nonzero = b != 0
        zeroed = int(np.count_nonzero(nonzero & (c == 0)))
        n_nz = int(np.count_nonzero(nonzero))
        return cls(values=int(b.size), nonzero=n_nz, max_abs_bias=float(np.abs(b).max()),
                   max_abs_change=float(change.max()), mean_abs_change=float(change.mean()),
                   zeroed=zeroed, zeroed_fraction=zeroed / n_nz if n_nz else 0.0)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def format_line(self) -> str:
        return (f"bias coded with the weight codebook: max |change| {self.max_abs_change:.3g} "
                f"(largest |bias| {self.max_abs_bias:.3g}), mean |change| {self.mean_abs_change:.3g}; "
                f"{self.zeroed:,} of {self.nonzero:,} non-zero bias values became 0 "
                f"({self.zeroed_fraction:.0%})")


# ---- 4. the pipeline ------------------------------------------------------------------

def compress_layer(dense: DenseLayer, density: float | None = None, bits: int = 4, index_bits: int = 4,
                   name: str | None = None, bias_mode: str = "full") -> tuple[CompressedLayer, StorageReport]:
    """Prune, share weights and account storage for one dense layer.

    Parameters
    ----------
    dense : DenseLayer
    density : float in (0, 1], or None
        Fraction of weights kept by :func:`prune`; ``None`` keeps the existing non-zeros.
    bits : int in [1, 8]
        Weight-code width; the codebook has ``2**bits`` entries (:func:`share_weights`).
    index_bits : int in [1, 8]
        Relative-index width used by the :class:`StorageReport` (the EIE compiler takes its
        own ``index_bits`` from :class:`~eie.config.EIEConfig`).
    name : str, optional
        Name of the result; defaults to ``dense.name``.
    bias_mode : ``"full"`` (default) or ``"coded"``
        How the bias, if any, is carried [arch §2]: ``"full"`` keeps it at full precision
        (``CompressedLayer.bias``: the accumulators start from it); ``"coded"`` codes it with
        the layer's weight codebook as its nearest entry, code 0 included (``bias_codes``,
        the authors' encoding; :class:`BiasReport` says how far it moved).

    Returns
    -------
    (CompressedLayer, StorageReport)
        ``activations`` are kept.
    """
    if not isinstance(dense, DenseLayer):
        raise InputError(f"dense must be a DenseLayer, not {type(dense).__name__}")
    bits = _check_int("bits", bits, 1, 8)
    index_bits = _check_int("index_bits", index_bits, 1, 8)
    bias_mode = _check_bias_mode(bias_mode)
    name = dense.name if name is None else name
    mask = prune(dense.weight, density)
    codebook, codes = share_weights(dense.weight, mask, bits)
    layer = _with_bias(codebook, codes, dense.bias, bias_mode, dense.activations, name)
    return layer, StorageReport.from_codes(codes, bits, index_bits, name)


def synthetic_layer(n_out: int, n_in: int, weight_density: float, bits: int = 4, seed: int = 0,
                    bias: bool = True, act_density: float | None = None,
                    name: str = "layer", bias_mode: str = "coded") -> CompressedLayer:
    """A seeded compressed layer made the way Deep Compression makes one.

    A dense float32 Gaussian matrix with He scale ``sqrt(2 / n_in)`` (the scale of a
    trained ReLU layer) is magnitude-pruned to ``weight_density`` (:func:`prune`) and
    shared to ``bits`` (:func:`share_weights`).

    Parameters
    ----------
    n_out, n_in : int >= 1
        Shape of the weight matrix.
    weight_density : float in (0, 1]
        Exactly ``max(1, round(weight_density * (n_out * n_in)))`` non-zero codes.
    bits : int in [1, 8]
    seed : int
        Seeds everything.  Three independent streams are spawned from
        ``np.random.SeedSequence(seed)``: weights, bias, activations; so the weights do not
        change with ``bias`` or ``act_density``.
    bias : bool
        Draw a bias ``N(0, (sqrt(2 / n_in))**2)`` (float64, the weights' scale, so it is
        small next to the kept weights).
    bias_mode : ``"coded"`` (default) or ``"full"``
        ``"coded"`` codes the bias with the codebook (nearest entry, code 0 included: the
        authors' encoding, what the benchmarks and the paper report have always run, so
        their published-comparison numbers stay put); ``"full"`` keeps it at full
        precision [arch §2].  The cycles are the same either way (the bias column is
        broadcast in both); a coded bias adds its non-zero codes as entries.
    act_density : float in (0, 1], optional
        Attach ``activations``: ReLU-like, exactly ``max(1, round(act_density * n_in))``
        non-zeros at seeded random positions, half-normal magnitudes ``|N(0, 1)|``.  A
        magnitude below ``2**-10`` is raised to ``2**-10`` (about 1 draw in 1,250) so the
        non-zero count survives 16-bit fixed-point quantisation [arch §4] and the
        activation density the benchmark asks for is the one the array sees.

    Notes
    -----
    Written for the paper's largest FC layer (VGG-6, 4096 x 25088 at 4 %): the matrix is
    drawn and scaled in float32, the threshold comes from a partition of the candidates of
    one streaming pass, k-means sees only the kept values.  Peak memory is the float32
    matrix plus two byte-per-weight code arrays (about 0.7 GB peak RSS for VGG-6).  A drawn weight that is exactly 0.0
    stays pruned (:func:`share_weights`), which can matter only at a density of about 1.
    """
    n_out = _check_int("n_out", n_out, 1)
    n_in = _check_int("n_in", n_in, 1)
    weight_density = _check_density("weight_density", weight_density)
    bits = _check_int("bits", bits, 1, 8)
    if act_density is not None:
        act_density = _check_density("act_density", act_density)
    bias_mode = _check_bias_mode(bias_mode)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be an integer >= 0, not {seed!r}")
    rng_w, rng_b, rng_a = (np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(3))
    scale = np.float32(math.sqrt(2.0 / n_in))
    w = rng_w.standard_normal((n_out, n_in), dtype=np.float32)
    w *= scale
    # A Gaussian draw is finite: skip the public functions' full-matrix checks.
    kept = _top_k_indices(w, max(1, round(weight_density * w.size)))
    codebook, codes = _share(w, kept, bits)
    del w, kept
    b = rng_b.standard_normal(n_out) * float(scale) if bias else None
    acts = None
    if act_density is not None:
        n_act = max(1, round(act_density * n_in))
        acts = np.zeros(n_in)
        where = rng_a.choice(n_in, size=n_act, replace=False)
        acts[where] = np.maximum(np.abs(rng_a.standard_normal(n_act)), _ACT_FLOOR)
    return _with_bias(codebook, codes, b, bias_mode, acts, name)
