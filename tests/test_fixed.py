"""Fixed-point rules [arch §4], checked on hand-worked values."""

import numpy as np
import pytest

from eie.config import EIEConfig
from eie.errors import InputError
from eie.fixed import QuantPlan, choose_frac_bits, plan_layer, quantize, round_shift, saturate, wrap


def test_quantize_rounds_half_up_and_saturates():
    assert quantize([0.5, 1.5, -0.5, -1.5, 2.4999], 0, 16).tolist() == [1, 2, 0, -1, 2]
    assert quantize([0.125, 0.1], 3, 8).tolist() == [1, 1]          # 0.8 rounds to 1
    assert quantize([1000.0, -1000.0], 0, 8).tolist() == [127, -128]


def test_round_shift():
    assert round_shift([5, 6, 7, -5, -6, -7], 2).tolist() == [1, 2, 2, -1, -1, -2]   # /4 rounded half up
    assert round_shift([5], 0).tolist() == [5]


def test_wrap_and_saturate():
    assert wrap([32767 + 1, -32768 - 1, 70000], 16).tolist() == [-32768, 32767, 70000 - 65536]
    assert saturate([40000, -40000, 5], 16).tolist() == [32767, -32768, 5]


def test_choose_frac_bits():
    # 10.56 * 2^11 = 21627 <= 32767 but * 2^12 overflows
    assert choose_frac_bits(10.56, 16) == 11
    assert choose_frac_bits(10.56, 16, headroom=1) == 10
    assert choose_frac_bits(1.0, 16) == 14          # 16384 fits, 32768 does not
    assert choose_frac_bits(0.0, 16, cap=9) == 9
    assert choose_frac_bits(0.0416, 16) == 19        # the FC8 codebook
    assert choose_frac_bits(float("inf"), 16) == 0   # an overflowed forward pass: saturate, no log2(0)
    assert choose_frac_bits(1e300, 16) == 0


def test_plan_caps_fa_so_bias_one_fits():
    plan = plan_layer(np.array([0.0, 0.01]), np.array([0.001]), np.array([0.5]), EIEConfig())
    assert plan.fa == 14
    with pytest.raises(InputError, match="fa must be <= act_bits-2 = 14"):
        QuantPlan(15, 10, 5).check(EIEConfig())
    with pytest.raises(InputError, match="0 <= fa\\+fw-fo <= 62"):
        QuantPlan(2, 2, 10).check(EIEConfig())
