"""The straight pipeline: compressed layer → compile → simulate → energy → one record.

The CLI, the benchmark and (later) design-space sweeps all go through :func:`run_layer`, so
every figure anywhere comes from the same path.
"""

from __future__ import annotations

import time

import numpy as np

from .compile import capacity_report, compile_layer
from .config import EIEConfig
from .energy import EnergyTable, dram_baselines, estimate
from .layer import CompressedLayer
from .model import SimResult, simulate

__all__ = ["run_layer", "record_of"]


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
    record = record_of(layer, compiled, result, table)
    record["wall_s"] = {"compile": t1 - t0, "simulate": t2 - t1}
    return record, result


def record_of(layer: CompressedLayer, compiled, result: SimResult, table: EnergyTable | None = None) -> dict:
    cfg = compiled.config
    table = table or EnergyTable.default(cfg)
    energy = estimate(result.events, result.cycles, cfg, table)
    nnz = int(np.count_nonzero(layer.codes)) + (0 if layer.bias_codes is None else int(np.count_nonzero(layer.bias_codes)))
    dram = dram_baselines(layer.n_out, layer.n_in, nnz, result.totals["nonzero_inputs"], cfg, table,
                          eie_total_pj=energy.total_pj)
    rec = result.summary()
    problems = capacity_report(compiled)
    rec.update({
        "n_in": layer.n_in, "n_out": layer.n_out, "pes": cfg.pes, "queue_depth": cfg.queue_depth,
        "clock_mhz": cfg.clock_mhz, "weight_nonzeros": nnz,
        "theoretical_us": result.useful_macs / (cfg.pes * cfg.clock_mhz),
        "energy_pj": energy.to_dict(), "dram_baselines": dram,
        "fits": not problems, "capacity_problems": problems,
    })
    return rec
