"""Hardware configurations and layer cases shared by the Verilog co-simulation tests
(tests/test_rtl_corners.py, tests/test_rtl_cli.py).

Every configuration here is one Verilator (and one Icarus) build, cached across runs, so the
set is kept small; each one exercises several rules at once (see the comments).  A case is
a layer + input whose model run is the reference; :func:`job` turns it into host-port jobs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eie.compile import compile_layer
from eie.compress import synthetic_layer
from eie.config import EIEConfig
from eie.fixed import QuantPlan, acc_preload, plan_layer, quantize
from eie.flow.host import layer_jobs, prepared_jobs
from eie.flow.simulators import available_simulators
from eie.hdl.params import HWConfig
from eie.layer import CompressedLayer
from eie.model import simulate
from eie.prepare import prepare_layer
from eie.reference import float_forward

# N = 3 (not a power of two, rows and inputs that N does not divide), queue depth 1 (a full
# queue stalls the broadcast at once), LNZD fan-in 3, 2-bit relative indices (gaps > 3 pad),
# epl = 60 / 6 = 10 (not a power of two), 8 accumulators per PE (24 rows per pass).
N3 = HWConfig(EIEConfig(pes=3, queue_depth=1, lnzd_fanin=3, index_bits=2, line_bits=60, regfile_entries=8),
              spmat_lines=64, ptr_words=64, act_depth=32)
# One PE, queue depth 2, narrow datapath: 8-bit activations, 6-bit codebook, 9-bit
# accumulators (partial sums wrap, outputs saturate), 3-bit codes and indices, epl = 5.
N1 = HWConfig(EIEConfig(pes=1, queue_depth=2, act_bits=8, codebook_bits=6, acc_bits=9, weight_bits=3,
                        index_bits=3, line_bits=30, regfile_entries=32),
              spmat_lines=512, ptr_words=64, act_depth=128)

# every usable Verilog simulator; none at all gives "none", which fails (never skips)
SIMS = available_simulators() or ["none"]


@dataclass
class Case:
    name: str
    layer: CompressedLayer
    x: np.ndarray
    relu: bool = False
    plan: QuantPlan | None = None       # forced fraction bits (default: plan_layer)


def codebook(bits: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([[0.0], np.sort(rng.normal(0, 0.5, (1 << bits) - 1))])


def relu_input(n: int, density: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.zeros(n)
    k = max(1, round(density * n))
    x[rng.choice(n, k, replace=False)] = 0.05 + rng.random(k)
    return x


def from_codes(name, codes, bits, x, seed, bias=True, relu=False) -> Case:
    rng = np.random.default_rng(seed + 1000)
    bias_codes = rng.integers(0, 1 << bits, codes.shape[0]) if bias else None
    return Case(name, CompressedLayer(codebook(bits, seed), codes, bias_codes, None, name), x, relu)


def random_case(hw: HWConfig, seed: int) -> Case:
    """A random shape (rows and inputs that N need not divide, possibly several passes),
    weight and input densities from 5 % to 100 %."""
    rng = np.random.default_rng(seed)
    cfg = hw.config
    n_in = int(rng.integers(1, min(hw.act_depth * cfg.pes, 60)))
    n_out = int(rng.integers(1, 3 * cfg.rows_per_pass + 2))
    layer = synthetic_layer(n_out, n_in, float(rng.uniform(0.05, 1.0)), bits=cfg.weight_bits, seed=seed,
                            act_density=float(rng.uniform(0.05, 1.0)), name=f"random{seed}")
    return Case(f"random{seed}", layer, layer.activations, relu=bool(seed % 2))


def corner_cases(hw: HWConfig) -> list[Case]:
    """The named corners of the contract for one configuration (each asserted to occur in
    the model run by tests/test_rtl_corners.py)."""
    cfg = hw.config
    n, bits = cfg.pes, cfg.weight_bits
    top = (1 << bits) - 1
    rng = np.random.default_rng(n)
    cases = []
    # all-zero input: only the bias column is broadcast
    base = synthetic_layer(2 * n + 1, 3 * n + 2, 0.4, bits=bits, seed=1, name="zeros")
    cases.append(Case("all_zero_input", base, np.zeros(base.n_in)))
    # empty columns: whole columns pruned, and one PE with no rows at all
    codes = rng.integers(1, top + 1, (4 * n + 1, 5 * n)) * (rng.random((4 * n + 1, 5 * n)) < 0.5)
    codes[:, ::3] = 0
    if n > 1:
        codes[1::n, :] = 0
    cases.append(from_codes("empty_columns", codes, bits, relu_input(5 * n, 0.8, 2), 2))
    # padding: single entries at the bottom of each PE's rows (gaps above 2**index_bits - 1)
    codes = np.zeros((cfg.rows_per_pass, 6), np.int64)
    for j in range(6):
        local = cfg.regfile_entries - 1 - (j // n) % 2
        codes[local * n + j % n, j] = 1 + j % top
    codes[0, 5] = top                  # a real entry before a padded one in the same column
    cases.append(from_codes("padding", codes, bits, relu_input(6, 1.0, 3), 3))
    # bypass: column k holds PE 0's local rows k and k+1, so the last entry of a column
    # and the first of the next update the same accumulator in adjacent cycles (two
    # entries per column keep them adjacent even when a depth-1 queue spaces the
    # broadcasts); every input is non-zero
    cols = bypass_columns(cfg)
    codes = np.zeros((cols * n + 1, cols), np.int64)
    for k in range(cols):
        codes[k * n, k], codes[(k + 1) * n, k] = 1 + k % top, top - k % top
    cases.append(from_codes("bypass", codes, bits, relu_input(cols, 1.0, 4), 4))
    # full queues and broadcast stalls: PE 0 holds dense rows, the others almost nothing
    codes = np.zeros((3 * n, 4 * n + 1), np.int64)
    codes[0::n, :] = rng.integers(1, top + 1, codes[0::n, :].shape)
    codes[-1, 0] = 1
    cases.append(from_codes("skewed_stalls", codes, bits, relu_input(4 * n + 1, 1.0, 5), 5))
    # rows and inputs that N does not divide, several row passes, ReLU
    lay = synthetic_layer(2 * cfg.rows_per_pass + n // 2 + 1, 4 * n + 1 + (n > 1), 0.5, bits=bits, seed=6,
                          act_density=0.7, name="ragged_passes")
    cases.append(Case("ragged_passes", lay, lay.activations, relu=True))
    return cases


def with_bias(layer: CompressedLayer, bias, name: str) -> CompressedLayer:
    """``layer`` with the full-precision bias ``bias`` [arch §2] instead of its own."""
    return CompressedLayer(layer.codebook, layer.codes, None, layer.activations, name, bias=bias)


def bias_cases(hw: HWConfig) -> list[Case]:
    """Full-precision biases [arch §2]: the host preloads the destination file before every
    pass and starts with ``keep_acc``.  Several passes (each preloads its own rows, zeros
    past the last row), all-negative biases, biases that clamp to the accumulator at the
    preload and outputs that saturate, an all-zero input (the outputs are the bias), and
    last a layer with no bias at all: its plain start must clear what the preloads left."""
    cfg = hw.config
    n, bits, r = cfg.pes, cfg.weight_bits, cfg.rows_per_pass
    cases = []
    lay = synthetic_layer(2 * r + n // 2 + 1, 3 * n + 2, 0.4, bits=bits, seed=21, act_density=0.6,
                          bias_mode="full", name="bias_passes")
    cases.append(Case("bias_passes", lay, lay.activations, relu=True))
    lay = synthetic_layer(r + 1, 2 * n + 1, 0.5, bits=bits, seed=22, act_density=0.3, bias_mode="full")
    cases.append(Case("bias_negative", with_bias(lay, -4 * np.abs(lay.bias) - 0.01, "bias_negative"), lay.activations))
    # saturation: the plan of the layer with small biases, then biases of 3x the accumulator
    # range at that fo on every third row (both signs)
    lay = synthetic_layer(r - 1, 2 * n, 0.6, bits=bits, seed=23, act_density=0.8, bias_mode="full")
    plan = plan_layer(lay.codebook, lay.activations, float_forward(lay, lay.activations), cfg, bias=lay.bias)
    big = lay.bias.copy()
    big[::3] = 3.0 * 2.0 ** (cfg.acc_bits - 1 - plan.fo) * np.where(np.arange(len(big))[::3] % 2, -1, 1)
    cases.append(Case("bias_saturate", with_bias(lay, big, "bias_saturate"), lay.activations, plan=plan))
    lay = synthetic_layer(n + 2, 2 * n + 1, 0.5, bits=bits, seed=24, bias_mode="full", name="bias_zero_input")
    cases.append(Case("bias_zero_input", lay, np.zeros(lay.n_in)))
    lay = synthetic_layer(r - 1, 3 * n, 0.5, bits=bits, seed=25, act_density=0.5, bias=False, name="no_bias")
    cases.append(Case("no_bias", lay, lay.activations))
    return cases


def bypass_columns(cfg) -> int:
    """Columns of the bypass case: local rows k, k+1 must fit one pass and need no padding."""
    return min(4 * cfg.pes, cfg.regfile_entries - 1, cfg.max_gap + 1)


def wrap_case(hw: HWConfig) -> Case:
    """Shift 0 and large codebook values: partial sums wrap in acc_bits, outputs saturate."""
    cfg = hw.config
    lay = synthetic_layer(cfg.rows_per_pass - 3, 12, 0.9, bits=cfg.weight_bits, seed=3, act_density=1.0,
                          name="wrap_saturate")
    plan = plan_layer(lay.codebook, lay.activations, float_forward(lay, lay.activations), cfg)
    return Case("wrap_saturate", lay, lay.activations, plan=QuantPlan(plan.fa, plan.fw, plan.fa + plan.fw))


def shift_residue_cases(hw: HWConfig) -> list[Case]:
    """One small layer under four plans whose shifts ``fa + fw − fo`` cover every residue
    mod 4 (the ECP5 multiplier's pre-scale ``k = (−s) mod 4`` takes each of its four forms;
    eie/hdl/arith.py): the layer's own plan with ``fo`` lowered by 0 .. 3."""
    cfg = hw.config
    lay = synthetic_layer(2 * cfg.pes + 3, 3 * cfg.pes, 0.5, bits=cfg.weight_bits, seed=31, act_density=0.6,
                          name="shift_residue")
    plan = plan_layer(lay.codebook, lay.activations, float_forward(lay, lay.activations), cfg)
    return [Case(f"shift_residue{d}", lay, lay.activations, plan=QuantPlan(plan.fa, plan.fw, plan.fo - d))
            for d in range(4)]


def job(hw: HWConfig, case: Case):
    """``({"jobs", "n_out"}, model result)`` of one case on ``hw``."""
    prep = prepare_layer(case.layer, hw.config, case.x, plan=case.plan)
    # the model on exactly the quantised input the hardware gets
    ref = simulate(prep.compiled, prep.a_q / 2.0 ** prep.plan.fa, plan=prep.plan, relu=case.relu, keep_timing=True,
                   check_reference=False, source=case.layer)
    return {"jobs": prepared_jobs(hw, prep, case.relu), "n_out": prep.compiled.n_out}, ref


def chain_cases(hw: HWConfig, seed: int = 11, bias_mode: str = "coded"):
    """Three layers chained on chip (write-back of every row pass, register-file swap):
    ``([layer dicts], [model results])``; layer 1 needs several passes.  ``bias_mode="full"``:
    every layer has a full-precision bias (the write-back copies the preloaded file, zeros
    past the last row included)."""
    cfg = hw.config
    sizes = [5 * cfg.pes + 2, 2 * cfg.rows_per_pass + 1, cfg.rows_per_pass + 2, 7]
    layers = [synthetic_layer(sizes[i + 1], sizes[i], 0.45, bits=cfg.weight_bits, seed=seed + i,
                              act_density=0.8 if i == 0 else None, name=f"chain{i}", bias_mode=bias_mode)
              for i in range(3)]
    x = layers[0].activations
    dicts, refs, fa = [], [], None
    a_q = None
    for i, lay in enumerate(layers):
        last = i == len(layers) - 1
        xf = x if i == 0 else refs[-1].outputs_q / 2.0 ** fa
        plan = plan_layer(lay.codebook, xf, float_forward(lay, xf), cfg, fa=fa, bias=lay.bias)
        compiled = compile_layer(lay, cfg)
        a_q = quantize(xf, plan.fa, cfg.act_bits)
        ref = simulate(compiled, a_q / 2.0 ** plan.fa, plan=plan, relu=not last, keep_timing=True,
                       check_reference=False, source=lay)
        cb_q = quantize(lay.codebook, plan.fw, cfg.codebook_bits)
        jobs = layer_jobs(hw, compiled, a_q if i == 0 else np.zeros(lay.n_in, np.int64), cb_q, plan.shift,
                          not last, 1 << plan.fa, acc_preload(lay.bias, plan.fo, cfg.acc_bits))
        dicts.append({"jobs": jobs, "n_out": lay.n_out, "chain": not last, "load_act": i == 0})
        refs.append(ref)
        fa = plan.fo
    return dicts, refs


def cycle_guard(refs) -> int:
    return 2 * max(t.cycles for r in refs for t in r.timings) + 1000
