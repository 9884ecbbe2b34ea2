"""Tests of eie.compress against independent references: numpy sorts, brute-force nearest
centroids, a plain Lloyd loop, hand-worked streams and the textbook Huffman example."""

import dataclasses
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eie.compress import (
    StorageReport,
    compress_layer,
    encode_relative,
    huffman_code_lengths,
    kmeans_1d,
    prune,
    share_weights,
    synthetic_layer,
)
from eie.errors import InputError
from eie.layer import CompressedLayer, DenseLayer

FEW = settings(max_examples=30, deadline=None)


@st.composite
def matrices(draw, max_side=12, levels=None):
    """A small matrix; with ``levels`` its entries come from a few values (ties, zeros)."""
    rows = draw(st.integers(1, max_side))
    cols = draw(st.integers(1, max_side))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if levels:
        return rng.integers(-levels, levels + 1, size=(rows, cols)).astype(np.float64)
    return rng.standard_normal((rows, cols))


def _message(text):
    return re.escape(text)


# ---- prune ----------------------------------------------------------------------------

def _top_k_reference(w, density):
    """The k largest |w|, lower flat index first on ties: a stable argsort."""
    k = max(1, round(density * w.size))
    order = np.argsort(-np.abs(w).ravel(), kind="stable")
    mask = np.zeros(w.size, dtype=bool)
    mask[order[:k]] = True
    return mask.reshape(w.shape)


@FEW
@given(matrices(levels=3), st.floats(0.001, 1.0))
def test_prune_keeps_top_k_with_ties_by_flat_index(w, density):
    mask = prune(w, density)
    assert mask.dtype == np.bool_ and mask.shape == w.shape
    assert np.array_equal(mask, _top_k_reference(w, density))


@FEW
@given(matrices(), st.floats(0.001, 1.0))
def test_prune_float32_matches_reference(w, density):
    w32 = w.astype(np.float32)
    assert np.array_equal(prune(w32, density), _top_k_reference(w32, density))


@FEW
@given(matrices(max_side=40, levels=None), st.floats(0.001, 1.0), st.integers(1, 64), st.integers(1, 64),
       st.booleans())
def test_top_k_streaming_matches_reference(w, density, chunk, sample, ties):
    # The streaming selection (small chunks and samples force every path: candidates,
    # too few candidates, too many) equals the full sort.
    from eie.compress import _top_k_indices
    if ties:
        w = np.round(w)
    k = max(1, round(density * w.size))
    ref = np.flatnonzero(_top_k_reference(w, density))
    assert np.array_equal(_top_k_indices(w, k, chunk=chunk, sample=sample), ref)
    assert np.array_equal(_top_k_indices(w.T, k, chunk=chunk, sample=sample),
                          np.flatnonzero(_top_k_reference(np.ascontiguousarray(w.T), density)))


def test_prune_exact_count_and_at_least_one():
    w = np.arange(1, 101, dtype=np.float64).reshape(10, 10)
    assert prune(w, 0.25).sum() == 25
    assert prune(w, 1e-9).sum() == 1
    assert prune(w, 1e-9)[9, 9]
    assert prune(w, 1.0).all()


def test_prune_none_keeps_existing_nonzeros():
    w = np.array([[0.0, 1.0, -2.0], [0.0, 0.0, 3.0]])
    assert np.array_equal(prune(w, None), w != 0)


@pytest.mark.parametrize("density", [0, 0.0, -0.5, 1.5, float("nan"), float("inf"), True, "0.5"])
def test_prune_bad_density(density):
    with pytest.raises(InputError, match=_message(f"density must be in (0, 1], not {density!r}")):
        prune(np.ones((2, 2)), density)


def test_prune_bad_weight():
    with pytest.raises(InputError, match="weight must be finite, not nan at index"):
        prune(np.array([[1.0, np.nan]]), 0.5)
    with pytest.raises(InputError, match="weight must be a numeric array, not dtype bool"):
        prune(np.ones((2, 2), dtype=bool), 0.5)


# ---- kmeans_1d ------------------------------------------------------------------------

def _lloyd_reference(values, k, iters=1000):
    """Plain Lloyd: linear init, nearest centroid by the midpoints between neighbouring
    centroids (a value on a midpoint goes to the lower centroid: the documented tie rule),
    empty clusters keep their position, stop when the assignment repeats.

    The midpoints, not |x - c| compares: with a linear start that is not exact in binary
    (e.g. linspace(-1, 7, 4) = [-1, 5/3, 13/3, 7]) a value on an exact tie (3) has two
    float distances that differ in the last bit, and argmin would break the tie by
    rounding rather than by the rule."""
    x = np.asarray(values, dtype=np.float64)
    distinct = np.unique(x)
    if k == 1:
        return np.array([x.mean()])
    if distinct.size <= k:  # the documented shortcut: each distinct value is a centroid
        return np.concatenate((distinct, np.full(k - distinct.size, x.max())))
    c = np.linspace(x.min(), x.max(), k)
    prev = None
    for _ in range(iters):
        mids = (c[:-1] + c[1:]) / 2
        assign = (x[:, None] > mids[None, :]).sum(axis=1)
        if prev is not None and np.array_equal(assign, prev):
            break
        prev = assign
        c = np.array([x[assign == i].sum() / np.count_nonzero(assign == i) if np.any(assign == i) else c[i]
                      for i in range(k)])
    return c


def test_kmeans_hand_worked():
    # linspace(0.9, 9.2, 3) = [0.9, 5.05, 9.2]; midpoints 2.975 and 7.125 split the values
    # into {0.9, 1.0, 1.1}, {4.9, 5.0, 5.1}, {9.0, 9.2}: means 1.0, 5.0, 9.1, then stable.
    values = [5.1, 0.9, 9.2, 1.0, 4.9, 1.1, 9.0, 5.0]
    assert kmeans_1d(values, 3) == pytest.approx([1.0, 5.0, 9.1], abs=1e-12)


def test_kmeans_hand_worked_reassignment():
    # init [0, 10], midpoint 5: {0, 1, 2, 5}, {9, 10}: means 2 and 9.5, midpoint 5.75:
    # unchanged.  Then with 5 -> 6: {0, 1, 2}, {6, 9, 10} -> 1 and 8.333..; midpoint 4.67:
    # unchanged.  With k = 3: init [0, 5, 10], midpoints 2.5, 7.5 -> {0, 1, 2}, {5}, {9, 10}.
    assert kmeans_1d([0, 1, 2, 5, 9, 10], 2) == pytest.approx([2.0, 9.5])
    assert kmeans_1d([0, 1, 2, 6, 9, 10], 2) == pytest.approx([1.0, 25 / 3])
    assert kmeans_1d([0, 1, 2, 5, 9, 10], 3) == pytest.approx([1.0, 5.0, 9.5])


def test_kmeans_linear_init_is_deterministic():
    rng = np.random.default_rng(3)
    v = rng.standard_normal(1000)
    assert np.array_equal(kmeans_1d(v, 7, iters=0), np.linspace(v.min(), v.max(), 7))
    assert np.array_equal(kmeans_1d(v, 7), kmeans_1d(v.copy(), 7))
    assert np.array_equal(kmeans_1d(v, 7), kmeans_1d(v[::-1], 7))  # order of values is irrelevant


@FEW
@given(st.lists(st.integers(-20, 20), min_size=1, max_size=40), st.integers(1, 9))
def test_kmeans_matches_plain_lloyd_on_integers(values, k):
    # Integer values keep every sum exact, so both implementations take the same steps.
    got = kmeans_1d(np.array(values, dtype=np.float64), k, iters=1000, tol=0.0)
    assert got == pytest.approx(_lloyd_reference(values, k), abs=1e-12)


@FEW
@given(st.integers(0, 2**32 - 1), st.integers(2, 16))
def test_kmeans_converged_assignment_is_brute_force_nearest(seed, k):
    rng = np.random.default_rng(seed)
    v = np.concatenate([rng.normal(-1, 0.2, 300), rng.normal(1.5, 0.3, 200)])
    c = kmeans_1d(v, k, iters=1000, tol=0.0)
    assert np.all(np.diff(c) >= 0) and np.all(np.isfinite(c))
    nearest = np.abs(v[:, None] - c[None, :]).argmin(axis=1)
    # A fixed point of Lloyd: each used centroid is the mean of the values nearest to it.
    for i in np.unique(nearest):
        assert c[i] == pytest.approx(v[nearest == i].mean(), rel=1e-9, abs=1e-12)


def test_kmeans_fewer_distinct_values_than_clusters():
    # At most k distinct values: each is a centroid, spares repeat the largest.
    assert np.array_equal(kmeans_1d([2.0, 1.0, 1.0], 5), [1.0, 2.0, 2.0, 2.0, 2.0])
    assert np.array_equal(kmeans_1d([3.0, 3.0, 3.0], 4), [3.0] * 4)
    # Plain Lloyd from [-2, 0, 2] would stop at [-1.5, 0, 2] (the middle cluster empty).
    assert np.array_equal(kmeans_1d([2.0, -1.0, -2.0], 3), [-2.0, -1.0, 2.0])
    assert kmeans_1d([2.0, 4.0], 1) == pytest.approx([3.0])


def test_kmeans_empty_cluster_keeps_its_position():
    # init [-3, -1.5, 0, 1.5, 3]; midpoints -2.25, -0.75, 0.75, 2.25 split the values into
    # {-3, -2.5, -2.4}, {}, {}, {2}, {2.5, 3}: the two middle centroids stay at -1.5 and 0.
    values = [-3.0, -2.5, -2.4, 2.0, 2.5, 3.0]
    assert kmeans_1d(values, 5, iters=1) == pytest.approx([-7.9 / 3, -1.5, 0.0, 2.0, 2.75])
    assert kmeans_1d(values, 5) == pytest.approx([-7.9 / 3, -1.5, 0.0, 2.0, 2.75])


@pytest.mark.parametrize(("args", "message"), [
    (([], 2), "values must have at least one element, not shape (0,)"),
    (([1.0, np.nan], 2), "values must be finite, not nan at index (1,)"),
    (([[1.0]], 2), "values must be 1-D, not shape (1, 1)"),
    (([1.0], 0), "n_clusters must be an integer >= 1, not 0"),
    (([1.0], 2.0), "n_clusters must be an integer >= 1, not 2.0"),
    (([1.0], 2, -1), "iters must be an integer >= 0, not -1"),
    (([1.0], 2, 5, -1e-3), "tol must be a finite number >= 0, not -0.001"),
])
def test_kmeans_bad_arguments(args, message):
    with pytest.raises(InputError, match=_message(message)):
        kmeans_1d(*args)


# ---- share_weights --------------------------------------------------------------------

def _check_shared(w, mask, bits, codebook, codes):
    assert codebook.dtype == np.float64 and codebook.shape == (2**bits,)
    assert codebook[0] == 0.0
    assert np.all(codebook[1:] != 0) and np.all(np.diff(codebook[1:]) >= 0)
    assert np.array_equal(codebook, codebook.astype(np.float32))  # exact as a float32 codebook
    assert codes.dtype == np.uint8 and codes.shape == w.shape
    kept = mask & (w != 0)
    assert np.array_equal(codes != 0, kept)
    # Each kept weight decodes to its nearest entry among codebook[1:] (brute force).
    v = w[kept]
    dist = np.abs(v[:, None] - codebook[None, 1:])
    got = np.abs(v - codebook[codes[kept]])
    assert np.all(got <= dist.min(axis=1) + 1e-12)


@FEW
@given(matrices(levels=None), st.floats(0.01, 1.0), st.integers(1, 5))
def test_share_weights_properties(w, density, bits):
    mask = prune(w, density)
    codebook, codes = share_weights(w, mask, bits)
    _check_shared(w, mask, bits, codebook, codes)


@FEW
@given(matrices(levels=2), st.integers(1, 4))
def test_share_weights_few_distinct_values(w, bits):
    mask = np.ones(w.shape, dtype=bool)
    if not np.any(w):
        w[0, 0] = 1.0
    codebook, codes = share_weights(w, mask, bits)
    _check_shared(w, mask, bits, codebook, codes)
    # With at most 4 distinct values and enough centroids, sharing is lossless.
    if 2**bits - 1 >= len(np.unique(w[w != 0])):
        assert np.array_equal(codebook[codes], w)


def test_share_weights_zero_centroid_moves_to_smallest_kept_weight():
    # bits=2, 3 centroids: init [-3, 0, 3], midpoints -1.5 and 1.5: {-3}, {-1, 1}, {3};
    # the middle mean is exactly 0, replaced by the smallest |w| (1.0: positive on a tie).
    w = np.array([[-3.0, -1.0, 1.0, 3.0]])
    codebook, codes = share_weights(w, np.ones(w.shape, dtype=bool), 2)
    assert np.array_equal(codebook, [0.0, -3.0, 1.0, 3.0])
    # -1 is 2 away from both -3 and 1: the lower entry wins.
    assert np.array_equal(codes, [[1, 1, 2, 3]])
    # One centroid for {-1, 1}: its mean 0 becomes 1.0.
    codebook, codes = share_weights(np.array([[-1.0, 1.0]]), np.ones((1, 2), dtype=bool), 1)
    assert np.array_equal(codebook, [0.0, 1.0]) and np.array_equal(codes, [[1, 1]])
    # The negative weight is the stand-in when it alone has the smallest magnitude.
    # (mean of {-0.5, 0.75, -0.25} is exactly 0).
    codebook, _ = share_weights(np.array([[-0.5, 0.75, -0.25]]), np.ones((1, 3), dtype=bool), 1)
    assert np.array_equal(codebook, [0.0, -0.25])


def test_share_weights_kept_zero_is_coded_as_pruned():
    w = np.array([[0.0, 2.0], [0.0, -2.0]])
    codebook, codes = share_weights(w, np.ones(w.shape, dtype=bool), 2)
    assert np.array_equal(codes == 0, w == 0)


@pytest.mark.parametrize(("args", "message"), [
    ((np.zeros((2, 2)), np.ones((2, 2), dtype=bool), 4), "mask must keep at least one non-zero weight, not 0 of 4"),
    ((np.ones((2, 2)), np.ones((2, 3), dtype=bool), 4), "mask must have the weight's shape (2, 2), not (2, 3)"),
    ((np.ones((2, 2)), np.ones((2, 2)), 4), "mask must be a boolean array, not dtype float64"),
    ((np.ones((2, 2)), np.ones((2, 2), dtype=bool), 0), "bits must be an integer in [1, 8], not 0"),
    ((np.ones((2, 2)), np.ones((2, 2), dtype=bool), 9), "bits must be an integer in [1, 8], not 9"),
    ((np.full((1, 1), 1e300), np.ones((1, 1), dtype=bool), 4), "weight must fit a float32 codebook"),
])
def test_share_weights_bad_arguments(args, message):
    with pytest.raises(InputError, match=_message(message)):
        share_weights(*args)


# ---- Huffman --------------------------------------------------------------------------

def test_huffman_clrs_example():
    freqs = {"a": 45, "b": 13, "c": 12, "d": 16, "e": 9, "f": 5}
    lengths = huffman_code_lengths(freqs)
    assert sum(freqs[s] * lengths[s] for s in freqs) == 224  # CLRS 3rd ed., Fig. 16.4
    assert lengths["a"] == 1
    assert sum(2.0 ** -n for n in lengths.values()) == 1.0


def _huffman_cost_reference(freqs):
    """Cost of an optimal prefix code: the sum of the weights of all merges."""
    pool = sorted(f for f in freqs if f > 0)
    cost = 0
    while len(pool) > 1:
        a, b = pool[0], pool[1]
        pool = sorted(pool[2:] + [a + b])
        cost += a + b
    return cost


@FEW
@given(st.lists(st.integers(0, 1000), min_size=2, max_size=40).filter(lambda f: sum(x > 0 for x in f) >= 2))
def test_huffman_kraft_and_optimal_cost(freqs):
    lengths = huffman_code_lengths(np.array(freqs))
    assert lengths.dtype == np.int64
    f = np.array(freqs)
    assert np.all(lengths[f == 0] == 0) and np.all(lengths[f > 0] >= 1)
    assert math.fsum(2.0 ** -int(n) for n in lengths[f > 0]) == 1.0
    assert int(np.dot(lengths, f)) == _huffman_cost_reference(freqs)
    assert np.array_equal(lengths, huffman_code_lengths(freqs))  # deterministic


def test_huffman_single_symbol_and_zeros():
    assert huffman_code_lengths({"x": 7}) == {"x": 1}
    assert list(huffman_code_lengths([0, 5, 0])) == [0, 1, 0]
    assert huffman_code_lengths({"a": 1, "b": 1}) == {"a": 1, "b": 1}


@pytest.mark.parametrize(("freqs", "message"), [
    ([1, -1], "freqs must be finite and non-negative, not -1.0"),
    ([0, 0], "freqs must have at least one positive frequency, not none"),
    ({}, "freqs must have at least one positive frequency, not none"),
    ([[1, 2]], "freqs must be a 1-D numeric array or a mapping"),
    ({"a": "x"}, "freqs must be a 1-D numeric array or a mapping, not <U1"),
])
def test_huffman_bad_frequencies(freqs, message):
    with pytest.raises(InputError, match=_message(message)):
        huffman_code_lengths(freqs)


# ---- relative-index encoding and the storage report -----------------------------------

def _decode_relative(v, z, size):
    """decode.py of the released compressed AlexNet: position = cumsum(z + 1) - 1."""
    out = np.zeros(size, dtype=np.int64)
    pos = np.cumsum(z.astype(np.int64) + 1) - 1
    out[pos] = v
    return out


def test_encode_relative_paper_example():
    # EIE Sec III-B: [0,0,1,2, eighteen 0s, 3] -> v = [1,2,0,3], z = [2,0,15,2].
    codes = np.array([[0, 0, 1, 2] + [0] * 18 + [3]])
    v, z = encode_relative(codes, 4)
    assert v.tolist() == [1, 2, 0, 3] and z.tolist() == [2, 0, 15, 2]


@FEW
@given(matrices(max_side=30, levels=3), st.integers(1, 5))
def test_encode_relative_round_trip(w, index_bits):
    codes = (np.abs(w) == 3).astype(np.uint8) * np.uint8(2)  # sparse, long zero runs
    v, z = encode_relative(codes, index_bits)
    assert np.all(z <= 2**index_bits - 1)
    if v.size:
        assert np.array_equal(_decode_relative(v, z, codes.size), codes.ravel())
    if codes.any():
        report = StorageReport.from_codes(codes, 2, index_bits)
        assert report.entries == v.size
        assert report.fillers == int(np.count_nonzero(v == 0))
        assert report.nonzeros == int(np.count_nonzero(codes))


# Hand-worked: 2 x 10, bits = 2, index_bits = 2 (z <= 3, a filler stands for 4 positions).
#   flat:   pos 0 code 1 | pos 2 code 2 | pos 9 code 3 | pos 19 code 1
#   gaps:   0            | 1            | 6 -> 1 filler, z=2 | 9 -> 2 fillers, z=1
#   v = [1, 2, 0, 3, 0, 0, 1], z = [0, 1, 3, 2, 3, 3, 1]: 4 non-zeros + 3 fillers = 7
#   weight symbols {0: 3, 1: 2, 2: 1, 3: 1} -> lengths 1, 2, 3, 3 -> 3 + 4 + 3 + 3 = 13 bits
#   index symbols  {0: 1, 1: 2, 2: 1, 3: 3} -> lengths 3, 2, 3, 1 -> 3 + 4 + 3 + 3 = 13 bits
#   codebook 4 * 32 = 128; dense 20 * 32 = 640
#   compressed 7 * (2 + 2) + 128 = 156 bits (20 B); Huffman 13 + 13 + 128 = 154 bits (20 B)
HAND = np.array([[1, 0, 2, 0, 0, 0, 0, 0, 0, 3],
                 [0, 0, 0, 0, 0, 0, 0, 0, 0, 1]])


def test_storage_report_hand_worked():
    v, z = encode_relative(HAND, 2)
    assert v.tolist() == [1, 2, 0, 3, 0, 0, 1]
    assert z.tolist() == [0, 1, 3, 2, 3, 3, 1]
    r = StorageReport.from_codes(HAND, bits=2, index_bits=2, name="hand")
    assert (r.weights, r.nonzeros, r.fillers, r.entries) == (20, 4, 3, 7)
    assert r.density == 0.2
    assert (r.weight_bits, r.index_bits) == (2, 2)
    assert r.weight_bits_huffman == pytest.approx(13 / 7)
    assert r.index_bits_huffman == pytest.approx(13 / 7)
    assert (r.codebook_bits, r.dense_bits) == (128, 640)
    assert (r.compressed_bits, r.compressed_bits_huffman) == (156, 154)
    assert (r.dense_bytes, r.compressed_bytes, r.compressed_bytes_huffman) == (80, 20, 20)
    assert r.compression_rate == pytest.approx(640 / 156)
    assert r.compression_rate_huffman == pytest.approx(640 / 154)


def test_storage_report_deep_compression_rate_formula():
    # A matrix with no zero has no filler and no gap; without the index stream the rate is
    # Deep Compression's r = n b / (n log2 k + k b), k = 2**bits clusters, b = 32.
    n, bits = 1000, 4
    codes = (np.arange(n) % 15 + 1).reshape(25, 40)
    r = StorageReport.from_codes(codes, bits, index_bits=4)
    assert r.fillers == 0 and r.entries == n
    k, b = 2**bits, 32
    assert r.dense_bits / (r.compressed_bits - r.entries * r.index_bits) == pytest.approx(
        n * b / (n * math.log2(k) + k * b))
    assert r.index_bits_huffman == 1.0  # one index symbol (z = 0): one bit each


def test_storage_report_dict_table_and_frozen():
    r = StorageReport.from_codes(HAND, 2, 2, name="fc-hand")
    d = r.to_dict()
    assert d["fillers"] == 3 and d["name"] == "fc-hand"
    assert all(isinstance(x, (int, float, str)) for x in d.values())
    table = r.format_table()
    for column in ("Layer", "#Weights", "Weights% (P)", "Weight bits (P+Q+H)", "Index bits (P+Q)",
                   "Compress rate (P+Q+H)", "fc-hand", "20.00%", "1.86", "4.1x"):
        assert column in table
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.nonzeros = 0


@pytest.mark.parametrize(("args", "message"), [
    ((np.zeros((2, 2), dtype=np.uint8), 4), "codes must have at least one non-zero code, not none"),
    ((np.full((2, 2), 16), 4), "codes must be in [0, 15] for bits=4, not 16"),
    ((np.ones((2, 2)), 4), "codes must be an integer array, not dtype float64"),
    ((np.ones((2, 2), dtype=np.uint8), 4, 0), "index_bits must be an integer in [1, 8], not 0"),
])
def test_storage_report_bad_arguments(args, message):
    with pytest.raises(InputError, match=_message(message)):
        StorageReport.from_codes(*args)


# ---- compress_layer -------------------------------------------------------------------

def test_compress_layer_pipeline():
    rng = np.random.default_rng(7)
    w = rng.standard_normal((16, 24))
    b = rng.standard_normal(16) * 0.1
    acts = np.maximum(rng.standard_normal(24), 0)
    layer, report = compress_layer(DenseLayer(w, b, acts, name="fc"), density=0.25, bits=3, index_bits=2)
    assert isinstance(layer, CompressedLayer) and layer.name == "fc"
    assert np.count_nonzero(layer.codes) == round(0.25 * w.size)
    assert np.array_equal(layer.codes != 0, prune(w, 0.25))
    assert layer.codebook.shape == (8,)
    # The bias is kept at full precision by default [arch §2] ...
    assert layer.bias_kind == "full" and layer.bias_codes is None and np.array_equal(layer.bias, b)
    # ... or, coded, takes the nearest codebook entry, 0 included.
    coded, _ = compress_layer(DenseLayer(w, b, acts, name="fc"), density=0.25, bits=3, bias_mode="coded")
    assert coded.bias_kind == "coded" and coded.bias is None
    assert np.array_equal(coded.codes, layer.codes) and np.array_equal(coded.codebook, layer.codebook)
    assert np.array_equal(coded.codebook[coded.bias_codes],
                          coded.codebook[np.abs(b[:, None] - coded.codebook).argmin(axis=1)])
    assert np.array_equal(layer.activations, acts)
    assert report == StorageReport.from_codes(layer.codes, 3, 2, "fc")
    assert compress_layer(DenseLayer(w), density=0.25, name="other")[0].name == "other"


def test_compress_layer_density_none_keeps_nonzeros():
    w = np.array([[0.0, 0.5, 0.0], [-0.25, 0.0, 1.0]])
    layer, report = compress_layer(DenseLayer(w), bits=2)
    assert np.array_equal(layer.dense_weight(), w)  # 3 distinct values, 3 centroids: lossless
    assert layer.bias_codes is None and report.nonzeros == 3


def test_compress_layer_bad_arguments():
    with pytest.raises(InputError, match=_message("dense must be a DenseLayer, not ndarray")):
        compress_layer(np.ones((2, 2)))
    with pytest.raises(InputError, match=_message("index_bits must be an integer in [1, 8], not 9")):
        compress_layer(DenseLayer(np.ones((2, 2))), index_bits=9)
    with pytest.raises(InputError, match=_message("bias_mode must be one of 'full', 'coded', not 'exact'")):
        compress_layer(DenseLayer(np.ones((2, 2))), bias_mode="exact")
    with pytest.raises(InputError, match=_message("bias_mode must be one of 'full', 'coded', not 'float'")):
        synthetic_layer(2, 2, 0.5, bias_mode="float")


# ---- synthetic_layer ------------------------------------------------------------------

@FEW
@given(st.integers(1, 40), st.integers(1, 60), st.floats(0.01, 1.0), st.floats(0.01, 1.0), st.integers(1, 6))
def test_synthetic_layer_densities_exact(n_out, n_in, wd, ad, bits):
    layer = synthetic_layer(n_out, n_in, wd, bits=bits, seed=1, act_density=ad)
    assert layer.codes.shape == (n_out, n_in) and layer.codebook.shape == (2**bits,)
    # the density is of the matrix's size, k = round(wd * size): (wd * n_out) * n_in rounds
    # the other way at a half (0.7 x 15 x 3: 31.5, where 0.7 x 45 is 31.4999...)
    assert np.count_nonzero(layer.codes) == max(1, round(wd * (n_out * n_in)))
    assert np.count_nonzero(layer.activations) == max(1, round(ad * n_in))
    assert np.all(layer.activations >= 0)
    assert layer.bias_codes.shape == (n_out,)


def test_synthetic_layer_deterministic_per_seed():
    a = synthetic_layer(64, 96, 0.1, seed=5, act_density=0.3, name="x")
    b = synthetic_layer(64, 96, 0.1, seed=5, act_density=0.3, name="x")
    c = synthetic_layer(64, 96, 0.1, seed=6, act_density=0.3, name="x")
    for field in ("codebook", "codes", "bias_codes", "activations"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.codes, c.codes)
    assert not np.array_equal(a.codebook, c.codebook)
    assert not np.array_equal(a.activations, c.activations)
    # The weights do not depend on the bias or activation options.
    d = synthetic_layer(64, 96, 0.1, seed=5, bias=False)
    assert np.array_equal(a.codes, d.codes) and np.array_equal(a.codebook, d.codebook)
    assert d.bias_codes is None and d.activations is None and a.name == "x"
    # bias_mode="full" keeps the very bias that "coded" (the default) codes
    f = synthetic_layer(64, 96, 0.1, seed=5, act_density=0.3, name="x", bias_mode="full")
    assert a.bias_kind == "coded" and f.bias_kind == "full" and f.bias_codes is None
    assert np.array_equal(a.codes, f.codes) and np.array_equal(a.activations, f.activations)
    assert np.array_equal(a.bias_codes, np.abs(f.bias[:, None] - a.codebook).argmin(axis=1))


def test_synthetic_layer_is_magnitude_pruned_gaussian():
    layer = synthetic_layer(200, 300, 0.05, seed=0, bias=False)
    w = layer.dense_weight()
    kept = np.abs(w[w != 0])
    # Kept weights of a 5 % magnitude prune of N(0, 2/n_in) lie beyond ~1.96 sigma.
    sigma = math.sqrt(2 / 300)
    assert kept.min() > 1.5 * sigma
    _check_shared(w, layer.codes != 0, 4, layer.codebook, layer.codes)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n_out": 0}, "n_out must be an integer >= 1, not 0"),
    ({"n_in": 2.5}, "n_in must be an integer >= 1, not 2.5"),
    ({"weight_density": 0}, "weight_density must be in (0, 1], not 0"),
    ({"act_density": 1.5}, "act_density must be in (0, 1], not 1.5"),
    ({"bits": 0}, "bits must be an integer in [1, 8], not 0"),
    ({"seed": -1}, "seed must be an integer >= 0, not -1"),
])
def test_synthetic_layer_bad_arguments(kwargs, message):
    args = {"n_out": 4, "n_in": 4, "weight_density": 0.5} | kwargs
    with pytest.raises(InputError, match=_message(message)):
        synthetic_layer(**args)
