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
from .layer import CompressedLayer
from .model import SimResult, simulate, simulate_stack

__all__ = ["run_layer", "run_stack", "record_of"]


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
    result = simulate(compiled, layer.activations if x is None else x, relu=relu, fa=fa, fo=fo,
                      source=layer)
    t2 = time.perf_counter()
    record = record_of(layer, result, table)
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
    cycles = sum(r["cycles"] for r in records)
    summary = {
        "layers": len(records), "cycles": cycles, "time_us": cycles / config.clock_mhz,
        "useful_macs": sum(r["useful_macs"] for r in records),
        "energy_pj": {"total_pj": sum(r["energy_pj"]["total_pj"] for r in records)},
        "outputs_match_reference": all(r["outputs_match_reference"] for r in records),
        "fits": all(r["fits"] for r in records), "wall_s": wall,
    }
    summary["load_efficiency"] = summary["useful_macs"] / (cycles * config.pes) if cycles else 0.0
    return summary, records, results


def record_of(layer: CompressedLayer, result: SimResult, table: EnergyTable | None = None) -> dict:
    """One JSON-ready record of a run: model statistics, energy, DRAM baselines, capacity."""
    cfg = result.config
    table = table or EnergyTable.default(cfg)
    energy = estimate(result.events, result.cycles, cfg, table)
    nnz = int(np.count_nonzero(layer.codes)) + (0 if layer.bias_codes is None else int(np.count_nonzero(layer.bias_codes)))
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
        "clock_mhz": cfg.clock_mhz, "weight_nonzeros": nnz,
        "theoretical_us": result.useful_macs / (cfg.pes * cfg.clock_mhz),
        "energy_pj": energy.to_dict(), "dram_baselines": dram,
        "fits": not problems, "capacity_problems": problems,
    })
    return rec
