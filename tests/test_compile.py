"""Compiler: the paper's worked examples, encoding rules, round trips, capacity errors."""

import numpy as np
import pytest
from cycle_ref import encode_column
from hypothesis import given, settings
from hypothesis import strategies as st

from eie.compile import compile_layer, decode, export_hex
from eie.config import EIEConfig
from eie.errors import CapacityError, InputError
from eie.layer import CompressedLayer

CB = np.linspace(0, 1.5, 16)


def layer_of(codes, bias=None):
    return CompressedLayer(CB, np.asarray(codes), bias)


def test_paper_fig2_fig3_pe0():
    # EIE Fig 2/3: 16x8 matrix on 4 PEs; the non-zeros (row, column) of the example.
    nz = {0: [0, 8, 12], 1: [4], 2: [0, 12], 4: [0, 4], 5: [0, 12], 6: [0], 7: [8, 12]}
    codes = np.zeros((16, 8), int)
    for j, rows in nz.items():
        for i in rows:
            codes[i, j] = 1 + (i + j) % 15
    c = compile_layer(layer_of(codes), EIEConfig(pes=4))
    ps = c.passes[0]
    v, z = ps.pe_entries(0)
    # virtual weights W0,0 W8,0 W12,0 W4,1 W0,2 W12,2 W0,4 W4,4 W0,5 W12,5 W0,6 W8,7 W12,7
    order = [(0, 0), (8, 0), (12, 0), (4, 1), (0, 2), (12, 2), (0, 4), (4, 4), (0, 5), (12, 5), (0, 6), (8, 7), (12, 7)]
    assert v.tolist() == [codes[i, j] for i, j in order]
    assert z.tolist() == [0, 1, 0, 1, 0, 2, 0, 0, 0, 2, 0, 2, 0]
    assert ps.ptr[0, :9].tolist() == [0, 3, 4, 6, 6, 8, 10, 11, 13]


def test_paper_padding_example():
    col = [0, 0, 1, 2] + [0] * 18 + [3]
    c = compile_layer(layer_of(np.array(col)[:, None]), EIEConfig(pes=1))
    v, z = c.passes[0].pe_entries(0)
    assert v.tolist() == [1, 2, 0, 3]
    assert z.tolist() == [2, 0, 15, 2]


@pytest.mark.parametrize("gap,npad,zlast", [(15, 0, 15), (16, 1, 0), (31, 1, 15), (32, 2, 0), (47, 2, 15)])
def test_padding_counts(gap, npad, zlast):
    col = [0] * gap + [5]
    c = compile_layer(layer_of(np.array(col)[:, None]), EIEConfig(pes=1))
    v, z = c.passes[0].pe_entries(0)
    assert v.tolist() == [0] * npad + [5]
    assert z.tolist() == [15] * npad + [zlast]


def test_index_bits_change_padding():
    col = [0] * 9 + [5]
    c = compile_layer(layer_of(np.array(col)[:, None]), EIEConfig(pes=1, index_bits=3, line_bits=56))
    v, z = c.passes[0].pe_entries(0)
    assert v.tolist() == [0, 5] and z.tolist() == [7, 1]


def test_line_packing_and_pointer_banks():
    rng = np.random.default_rng(3)
    codes = (rng.random((6, 5)) < 0.8) * rng.integers(1, 16, (6, 5))
    cfg = EIEConfig(pes=2)
    c = compile_layer(layer_of(codes, rng.integers(0, 16, 6)), cfg)
    ps = c.passes[0]
    for p in range(2):
        v, z = ps.pe_entries(p)
        words = ps.lines(p, cfg)
        assert len(words) == -(-len(v) // 8)
        for e in range(len(v)):
            byte = (words[e // 8] >> (8 * (e % 8))) & 0xFF
            assert byte == int(v[e]) | (int(z[e]) << 4)
        even, odd = ps.ptr_banks(p)
        ptr = ps.ptr[p]
        for j in range(len(ptr) - 1):
            pj, pj1 = (even[j // 2], odd[j // 2]) if j % 2 == 0 else (odd[(j - 1) // 2], even[(j + 1) // 2])
            assert (pj, pj1) == (ptr[j], ptr[j + 1])


def test_bias_column_and_gap_columns():
    codes = np.array([[1, 0, 2], [0, 3, 0], [4, 0, 0]])   # 3 inputs on 2 PEs: Cp = 4
    c = compile_layer(layer_of(codes, np.array([5, 0, 6])), EIEConfig(pes=2))
    assert c.cp == 4
    ps = c.passes[0]
    assert ps.ptr.shape == (2, 6)
    assert ps.lengths[:, 3].tolist() == [0, 0]                # column 3 does not exist
    assert ps.lengths[:, 4].tolist() == [2, 0]                # bias rows 0 and 2 live in PE 0


def test_matches_independent_encoder(rng):
    codes = (rng.random((23, 17)) < 0.3) * rng.integers(1, 16, (23, 17))
    bias = rng.integers(0, 16, 23)
    for n in (1, 2, 5, 8):
        c = compile_layer(layer_of(codes, bias), EIEConfig(pes=n))
        ps = c.passes[0]
        cp = c.cp
        for p in range(n):
            v, z = ps.pe_entries(p)
            expect = []
            for j in range(cp + 1):
                col = codes[p::n, j] if j < 17 else (bias[p::n] if j == cp else [])
                expect += encode_column(list(col), 4)
            assert list(zip(v.tolist(), z.tolist(), strict=True)) == expect


@settings(max_examples=60, deadline=None)
@given(n_out=st.integers(1, 70), n_in=st.integers(1, 50), pes=st.integers(1, 9), density=st.floats(0.0, 1.0),
       seed=st.integers(0, 2**32 - 1), regfile=st.sampled_from([1, 2, 64]), bias=st.booleans())
def test_round_trip(n_out, n_in, pes, density, seed, regfile, bias):
    rng = np.random.default_rng(seed)
    codes = (rng.random((n_out, n_in)) < density) * rng.integers(1, 16, (n_out, n_in))
    b = rng.integers(0, 16, n_out) if bias else None
    c = compile_layer(layer_of(codes, b), EIEConfig(pes=pes, regfile_entries=regfile), check=False)
    assert len(c.passes) == -(-n_out // (regfile * pes))
    got, got_b = decode(c)
    assert np.array_equal(got, codes)
    if bias:
        assert np.array_equal(got_b, b)
    # real entries = non-zeros; every z fits the index width
    assert sum(int((ps.v != 0).sum()) for ps in c.passes) == np.count_nonzero(codes) + (
        np.count_nonzero(b) if bias else 0)
    assert all(int(ps.z.max(initial=0)) <= 15 for ps in c.passes)


def test_capacity_error_names_pe_and_memory():
    codes = np.ones((8, 300), int)
    cfg = EIEConfig(pes=2, spmat_kb=0.125)         # 16 lines of 8 entries per PE
    with pytest.raises(CapacityError, match=r"sparse-matrix SRAM of PE 0 needs 150 lines .* but has 16"):
        compile_layer(layer_of(codes), cfg)
    with pytest.raises(CapacityError, match=r"pointer SRAM .* needs 302 pointers .* has 256"):
        compile_layer(layer_of(codes), EIEConfig(pes=2, ptr_kb=0.5))
    big = np.ones((2, 70000), np.uint8)
    with pytest.raises(CapacityError, match="16-bit pointers address at most 65535"):
        compile_layer(layer_of(big), EIEConfig(pes=1, spmat_kb=1024, ptr_kb=1024, act_sram_kb=1024))


def test_codebook_too_large_for_weight_bits():
    layer = CompressedLayer(np.linspace(0, 1, 32), np.ones((2, 2), int) * 20)
    with pytest.raises(InputError, match="codebook must have at most 2\\*\\*weight_bits = 16 entries, not 32"):
        compile_layer(layer, EIEConfig(pes=2))


def test_export_hex_readmemh_and_force(tmp_path, rng):
    codes = (rng.random((9, 7)) < 0.5) * rng.integers(1, 16, (9, 7))
    cfg = EIEConfig(pes=2)
    c = compile_layer(layer_of(codes), cfg)
    files = export_hex(c, tmp_path / "img", codebook_q=np.arange(16) - 8, act_q=np.arange(7))
    spm = (tmp_path / "img" / "pass0_pe1_spmat.hex").read_text().split()
    assert [int(w, 16) for w in spm] == c.passes[0].lines(1, cfg)
    assert all(len(w) == 16 for w in spm)
    cbhex = (tmp_path / "img" / "codebook.hex").read_text().split()
    assert cbhex[0] == "fff8" and cbhex[15] == "0007"          # two's complement, 16 bits
    assert (tmp_path / "img" / "pe1_act.hex").read_text().split() == ["0001", "0003", "0005", "0000"]
    with pytest.raises(InputError, match="--force"):
        export_hex(c, tmp_path / "img")
    assert len(export_hex(c, tmp_path / "img", force=True)) == len(files) - 3
