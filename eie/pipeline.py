"""The straight pipeline: compressed layer → compile → simulate → energy → one record.

The CLI, the benchmark and (later) design-space sweeps all go through :func:`run_layer`, so
every figure anywhere comes from the same path.
"""

from __future__ import annotations

import time

import numpy as np

from .compile import compile_layer
from .config import EIEConfig
from .energy import EnergyTable, dram_baselines, estimate
from .errors import InputError
from .evaluate import OFF_ARRAY, apply_function, calibrate_plans, check_functions
from .fixed import QuantPlan, max_value, quantize, saturated_count
from .layer import CompressedLayer
from .model import SimResult, simulate, simulate_stack
from .reference import float_forward

__all__ = ["run_layer", "run_stack", "run_network", "next_input", "record_of", "input_saturation"]


def run_layer(layer: CompressedLayer, config: EIEConfig, x=None, relu: bool = False,
              table: EnergyTable | None = None, check_capacity: bool = True,
              fa: int | None = None, fo: int | None = None):
    """Compile and simulate one layer and price it.  Returns ``(record, result)``.

    With ``check_capacity=False`` a layer larger than the SRAMs is still simulated (the
    timing model does not depend on memory sizes) and the record says it does not fit.
    """
    t0 = time.perf_counter()
    compiled = compile_layer(layer, config, check=check_capacity)
    t1 = time.perf_counter()
    x = layer.activations if x is None else x
    result = simulate(compiled, x, relu=relu, fa=fa, fo=fo, source=layer)
    t2 = time.perf_counter()
    record = record_of(layer, result, table)
    record.update(input_saturation(layer, x, result.plan.fa, config.act_bits))
    record["wall_s"] = {"compile": t1 - t0, "simulate": t2 - t1}
    return record, result


def run_stack(layers, config: EIEConfig, x, relu_last: bool = False, table: EnergyTable | None = None,
              check_capacity: bool = True):
    """Simulate FC layers back to back (ReLU between them) and price each.

    Returns ``(summary, records, results)``: the summary adds cycles, time and energy over
    the layers and says whether every layer matched its reference.
    """
    t0 = time.perf_counter()
    results = simulate_stack(layers, x, config, relu_last=relu_last, check_capacity=check_capacity)
    wall = time.perf_counter() - t0
    records = [record_of(layer, res, table) for layer, res in zip(layers, results, strict=True)]
    records[0].update(input_saturation(layers[0], x, results[0].plan.fa, config.act_bits))
    for rec, prev in zip(records[1:], results, strict=False):
        # a later layer's input is the previous layer's fixed-point output: nothing to clamp
        rec.update(saturated_inputs=0, input_scale=1, max_abs_input=float(np.max(np.abs(prev.outputs), initial=0.0)))
    cycles = sum(r["cycles"] for r in records)
    summary = {
        "layers": len(records), "cycles": cycles, "time_us": cycles / config.clock_mhz,
        "useful_macs": sum(r["useful_macs"] for r in records),
        "energy_pj": {"total_pj": sum(r["energy_pj"]["total_pj"] for r in records)},
        "outputs_match_reference": all(r["outputs_match_reference"] for r in records),
        "saturated_inputs": records[0]["saturated_inputs"], "input_scale": records[0]["input_scale"],
        "fits": all(r["fits"] for r in records), "wall_s": wall,
    }
    summary["load_efficiency"] = summary["useful_macs"] / (cycles * config.pes) if cycles else 0.0
    return summary, records, results


def next_input(res: SimResult, function: str, next_plan: QuantPlan | None, config: EIEConfig) -> np.ndarray:
    """What the next layer of a network receives from ``res`` [arch §8]: its outputs (the
    write-out, ReLU'd on the array for ``relu``), or for a host function (sigmoid, tanh,
    softmax) the function of them, back onto the chip in ``next_plan.fa`` fraction bits
    (exactly what :func:`~eie.model.simulate` quantises again, so it sees these integers;
    ``next_plan`` None: the last layer, the float result).  One owner for ``run_network``
    and the design-space sweep's network chains (:mod:`eie.dse.evaluate`)."""
    y = res.outputs
    if function in OFF_ARRAY:
        y = apply_function(function, y)
        if next_plan is not None:
            y = quantize(y, next_plan.fa, config.act_bits) / 2.0 ** next_plan.fa
    return y


def run_network(layers, functions, config: EIEConfig, x, plans=None, table: EnergyTable | None = None,
                check_capacity: bool = True, names=None):
    """Run a network's FC layers one image at a time on the model, the function named after
    each layer applied between layers [arch §8], and price each layer.

    ``relu`` is the array's write-out ReLU and ``none`` leaves the write-out as it is: the
    outputs stay on chip as the next layer's input (``fa`` = the previous ``fo``).  A host
    function (sigmoid, tanh, softmax) dequantises the 16-bit outputs, runs in float64 and is
    quantised to the next layer's ``fa = act_bits - 2`` (:mod:`eie.evaluate`).  ``plans``:
    the fraction bits of every layer (default: :func:`eie.evaluate.calibrate_plans` on this
    one image).  Each layer is held to the float result of the input it actually received.

    Returns ``(summary, records, results, outputs)``: ``outputs`` are the network's float
    outputs (after the last function).
    """
    layers = list(layers)
    if not layers:
        raise InputError("a network needs at least one layer")
    functions = check_functions(functions, len(layers))
    names = list(names) if names is not None else [layer.name for layer in layers]
    for i in range(1, len(layers)):
        if layers[i].n_in != layers[i - 1].n_out:
            raise InputError(f"layer {names[i]!r} has {layers[i].n_in} inputs but {names[i - 1]!r} has "
                             f"{layers[i - 1].n_out} outputs: the layers must chain")
    x = np.asarray(x, dtype=np.float64)
    if plans is None:
        plans = calibrate_plans(layers, x[None, :], config, functions)
    t0 = time.perf_counter()
    results, records = [], []
    h = x
    for i, (layer, plan, f) in enumerate(zip(layers, plans, functions, strict=True)):
        compiled = compile_layer(layer, config, check=check_capacity)
        res = simulate(compiled, h, plan=plan, relu=f == "relu", source=layer)
        rec = record_of(layer, res, table)
        if i == 0:
            rec.update(input_saturation(layer, h, plan.fa, config.act_bits))
        else:
            rec.update(saturated_inputs=0, input_scale=1, max_abs_input=float(np.max(np.abs(h), initial=0.0)))
        rec.update(function=f, function_on="host" if f in OFF_ARRAY else "array")
        results.append(res)
        records.append(rec)
        h = next_input(res, f, plans[i + 1] if i < len(layers) - 1 else None, config)
    wall = time.perf_counter() - t0
    cycles = sum(r["cycles"] for r in records)
    useful = sum(r["useful_macs"] for r in records)
    summary = {
        "layers": len(records), "cycles": cycles, "time_us": cycles / config.clock_mhz, "useful_macs": useful,
        "energy_pj": sum(r["energy_pj"]["total_pj"] for r in records),
        "load_efficiency": useful / (cycles * config.pes) if cycles else 0.0,
        "outputs_match_reference": all(r["outputs_match_reference"] for r in records),
        "saturated_inputs": records[0]["saturated_inputs"], "fits": all(r["fits"] for r in records),
        "wall_s": wall,
    }
    return summary, records, results, h


def record_of(layer: CompressedLayer, result: SimResult, table: EnergyTable | None = None) -> dict:
    """One JSON-ready record of a run: model statistics, energy, DRAM baselines, capacity."""
    cfg = result.config
    table = table or EnergyTable.default(cfg)
    energy = estimate(result.events, result.cycles, cfg, table)
    # a coded bias is the extra column of the matrix in the SRAMs [arch §3], not a weight: the
    # density and the DRAM baselines count the n_out x n_in weights only (a full-precision
    # bias is preloaded into the accumulators and stored nowhere in the matrix [arch §2])
    nnz = int(np.count_nonzero(layer.codes))
    bias_nnz = 0 if layer.bias_codes is None else int(np.count_nonzero(layer.bias_codes))
    # the compressed baseline fetches exactly what the SRAMs hold: entries (padding
    # included) and column pointers
    stored_bits = (result.totals["stored_entries"] * cfg.entry_bits
                   + result.totals["stored_pointers"] * cfg.ptr_bits)
    dram = dram_baselines(layer.n_out, layer.n_in, nnz, result.totals["nonzero_inputs"], cfg, table,
                          compressed_bits=stored_bits, useful_macs=result.useful_macs,
                          eie_total_pj=energy.total_pj)
    rec = result.summary()
    problems = result.capacity_problems
    rec.update({
        "n_in": layer.n_in, "n_out": layer.n_out, "pes": cfg.pes, "queue_depth": cfg.queue_depth,
        "clock_mhz": cfg.clock_mhz, "weight_nonzeros": nnz, "bias_nonzeros": bias_nnz,
        "bias_kind": layer.bias_kind,
        "theoretical_us": result.useful_macs / (cfg.pes * cfg.clock_mhz),
        "energy_pj": energy.to_dict(), "dram_baselines": dram,
        "fits": not problems, "capacity_problems": problems,
        # what made the figures: every configuration field and the per-event energies (pJ)
        "config": cfg.to_dict(), "energy_table": table.to_dict(),
    })
    return rec


def input_saturation(layer: CompressedLayer, x, fa: int, act_bits: int) -> dict:
    """How the input fits the activations [arch §4].

    ``saturated_inputs``: the inputs that quantising to ``fa`` fraction bits clamps to the
    ``act_bits``-bit range (the fixed-point result then differs from the float one);
    ``max_abs_input``: the largest ``|x|``; ``input_scale``: 1 when nothing saturates, else
    the smallest power of two K such that ``x / K`` fits the activations *and* the float
    outputs ``W x / K + b`` keep the output's bit of headroom (plan_layer's rule), so
    that dividing the input by K is a fix and not a move of the overflow to the outputs.
    """
    x = np.asarray(x, dtype=np.float64)
    top = float(np.max(np.abs(x), initial=0.0))
    n = saturated_count(x, fa, act_bits)
    k = 1
    if n:
        limit = max_value(act_bits, fa)
        bias = float(np.max(np.abs(layer.bias_values()), initial=0.0))
        wx = float(np.max(np.abs(float_forward(layer, x) - layer.bias_values()), initial=0.0))
        out_limit = ((1 << (act_bits - 1)) - 1) / 2.0

        def fits(k):
            return top / k <= limit and (bias >= out_limit or wx / k + bias <= out_limit)
        while not fits(k) and k < 1 << 1023:       # a Python int: 2^62 had been too small for |x| ~ 1e30
            k *= 2
    return {"saturated_inputs": n, "input_scale": k, "max_abs_input": top}
