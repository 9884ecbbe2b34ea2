"""The report's section 3: energy by component, EIE against weights from DRAM, the saving
decomposed, and speed and energy against the paper's platforms and this machine, as
tables, figures and sentences in a :class:`~eie.report.doc.Doc`.

The numbers come from :mod:`eie.report.energy_metrics`; :mod:`eie.report.paper` calls
these in the document's order, under its headings.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..energy import EnergyTable, fixed16_mac_pj
from .doc import Column, Doc, Figure, Table, span
from .energy_metrics import (
    ENERGY_PARTS,
    dram_rows,
    energy_efficiency_rows,
    energy_rows,
    implied_platform_w,
    machine_rows,
    machine_series,
    paper_saving_row,
    platform_layers,
    saving_geomeans,
    saving_rows,
    speedup_rows,
)
from .published import (
    HEADLINES,
    PAPER_CHIP_MW,
    PAPER_PES,
    PAPER_SAVING,
    PLATFORMS,
    TABLE2_PE_MW,
    TABLE2_SPMAT_MW,
)
from .runs import Runs

__all__ = ["breakdown", "dram", "saving", "platforms", "machine"]


def breakdown(doc: Doc, runs: Runs) -> dict:
    """Energy by component per layer; returns the rows by layer name."""
    rows = energy_rows(runs)
    cols = [Column("layer", "layer", "text")] + [Column(c, f"{c} µJ", "num", 3) for c in ENERGY_PARTS] + [
        Column("total_uj", "total µJ", "num", 3), Column("power_mw", "avg. power mW", "num", 1),
        Column("spmat_share_pct", "spmat share", "num", 1, " %")]
    doc.table(Table("energy_breakdown", "Energy per layer by component (64 PEs, queue depth 8)", cols, rows, notes=[
        "Per-event energies calibrated on EIE Table II at the event rates of the real FC8 layer (the 'fc8' "
        "table, docs/energy.md §3); idle cycles cost nothing (static = 0); ccu = broadcast + LNZD, not in "
        "Table II, priced 0."]))
    doc.figure(Figure("energy_breakdown_shares", "Energy per layer by component (share of the layer's total)", {
        "panels": [{"type": "bar", "stacked": True, "categories": [r["layer"] for r in rows],
                    "ylabel": "share of layer energy %",
                    "series": [{"label": c, "values": [100 * r[c] / r["total_uj"] for r in rows]}
                               for c in ENERGY_PARTS if any(r[c] for r in rows)]}],
        "width": 8.0}))
    mean_mw = sum(r["power_mw"] for r in rows) / len(rows)
    doc.para(f"Average power over the layers: {mean_mw:.0f} mW for 64 PEs (the paper: {PAPER_CHIP_MW:g} mW for "
             f"the chip; Table II, {TABLE2_PE_MW:g} mW per PE = {PAPER_PES * TABLE2_PE_MW:.0f} mW). The "
             f"sparse-matrix SRAM takes "
             f"{span((r['spmat_share_pct'] for r in rows), '.0f')} % of the "
             f"energy (Table II: {100 * TABLE2_SPMAT_MW / TABLE2_PE_MW:.0f} %). The table reproduces Table II's "
             f"modules exactly on the real FC8 layer (586 mW); a layer with other rates (more entries per line "
             f"read, fewer per column, idle PEs) shifts the shares (docs/energy.md §3); "
             f"layers with few entries per column spend relatively more on pointer reads.")
    return {r["layer"]: r for r in rows}


def dram(doc: Doc, runs: Runs) -> None:
    """EIE against the same layers with their weights from DRAM or dense from SRAM."""
    rows = dram_rows(runs)
    doc.table(Table("energy_dram", "EIE vs the same layer with its weights from DRAM (µJ per inference)", [
        Column("layer", "layer", "text"), Column("eie_uj", "EIE µJ", "num", 3),
        Column("compressed_dram_uj", "compressed, DRAM µJ", "num", 2),
        Column("dense_sram_uj", "dense, SRAM µJ", "num", 1), Column("dense_dram_uj", "dense, DRAM µJ", "num", 1),
        Column("compressed_dram_over_eie", "compressed DRAM / EIE", "num", 1, "x"),
        Column("dense_dram_over_eie", "dense DRAM / EIE", "num", 0, "x")], rows, notes=[
        "dense, DRAM: every 32-bit float weight read from DRAM (640 pJ) with a float multiply-add (4.6 pJ); "
        "compressed, DRAM: the compressed matrix (8-bit entries + pointers) streamed from DRAM plus the useful "
        "16-bit MACs; dense, SRAM: as dense with 5 pJ 32 KB SRAM reads (docs/energy.md §5)."]))
    doc.figure(Figure("energy_dram_bars", "Energy per inference: EIE vs weights from SRAM/DRAM (log scale)", {
        "panels": [{"type": "bar", "categories": [r["layer"] for r in rows], "yscale": "log",
                    "ylabel": "µJ per inference", "series": [
                        {"label": "EIE (model)", "values": [r["eie_uj"] for r in rows]},
                        {"label": "compressed, DRAM", "values": [r["compressed_dram_uj"] for r in rows]},
                        {"label": "dense, SRAM", "values": [r["dense_sram_uj"] for r in rows]},
                        {"label": "dense, DRAM", "values": [r["dense_dram_uj"] for r in rows]}]}],
        "width": 9.0}))


def _x(key: str) -> str:
    """A factor of :data:`~eie.report.published.PAPER_SAVING` as the paper prints it."""
    return f"{PAPER_SAVING[key]:g}x"


def _saving_method(doc: Doc, t: EnergyTable) -> None:
    doc.para(f"The paper attributes EIE's saving over dense weights from DRAM to four factors: {_x('dram_to_sram')} "
             f"DRAM → SRAM, {_x('sparsity')} sparsity, {_x('weight_sharing')} weight sharing (32-bit → 4-bit), "
             f"{_x('zero_activations')} skipping zero activations. We compute each factor "
             "per layer as a ratio of two energies built from the Table I primitives (DRAM read "
             f"d = {t.dram_read_32_pj:g} pJ, SRAM read s = {t.sram_read_32_pj:g} pJ per 32 bits, float "
             f"multiply-add m = {t.float_mult_32_pj + t.float_add_32_pj:g} pJ, 16-bit fixed multiply-add "
             f"f = {fixed16_mac_pj(t):.3f} pJ), so that the factors multiply exactly to the model's dense DRAM / "
             "EIE ratio. With D = in × out weights, Z = non-zero weights (bias included), U = useful MACs "
             "(the model's), b = 4 code bits:")
    doc.items([
        "E1 = D·(d + m): dense float weights from DRAM (`dense_dram_pj`)",
        "E2 = D·(s + m): the same from SRAM → **DRAM → SRAM** = E1 / E2",
        "E3 = Z·(s + m): only the non-zero weights → **sparsity** = E2 / E3 = D / Z",
        "E4 = Z·(s·b/32 + f): 4-bit shared weights, 16-bit fixed MACs → **weight sharing** = E3 / E4",
        "E5 = U·(s·b/32 + f): only columns of non-zero inputs → **zero activations** = E4 / E5 = Z / U",
        "E_EIE, the model's energy → **EIE overheads** = E5 / E_EIE (< 1: 4-bit indices, padding, pointers, "
        "the 128 KB SRAM's Table II energy per bit, register files, queues)",
    ])


def saving(doc: Doc, runs: Runs) -> None:
    """EIE's saving over dense weights from DRAM as the paper's four factors and the rest."""
    t = EnergyTable.default(runs.base)
    _saving_method(doc, t)
    rows = saving_rows(runs)
    doc.table(Table("energy_saving", "Energy saving over dense weights from DRAM, decomposed", [
        Column("layer", "layer", "text"), Column("dram_to_sram", "DRAM → SRAM", "num", 1, "x"),
        Column("sparsity", "sparsity", "num", 1, "x"), Column("weight_sharing", "weight sharing", "num", 2, "x"),
        Column("zero_activations", "zero activations", "num", 2, "x"),
        Column("overheads", "EIE overheads", "num", 3, "x"),
        Column("total", "total (dense DRAM / EIE)", "num", 0, "x"),
        Column("memory_only_sram", "DRAM → SRAM, reads only", "num", 0, "x"),
        Column("memory_only_sharing", "sharing, bits only", "num", 0, "x")],
        rows + [paper_saving_row()], notes=[
        f"'reads only' = d / s and 'bits only' = 32 / b, the memory-access ratios the paper's {_x('dram_to_sram')} "
        f"and {_x('weight_sharing')} describe; the columns before them include the arithmetic each step keeps."]))
    g = saving_geomeans(rows)
    doc.para(f"Geometric means over the layers: DRAM → SRAM {g['dram_to_sram']:.0f}x (reads alone "
             f"{t.dram_read_32_pj / t.sram_read_32_pj:.0f}x; paper {_x('dram_to_sram')}), sparsity "
             f"{g['sparsity']:.1f}x (paper {_x('sparsity')}), weight sharing {g['weight_sharing']:.1f}x (paper "
             f"{_x('weight_sharing')}), zero activations {g['zero_activations']:.1f}x (paper "
             f"{_x('zero_activations')}), EIE overheads {g['overheads']:.2f}x; total {g['total']:,.0f}x against the "
             f"paper's product {math.prod(PAPER_SAVING.values()):,.0f}x. The paper's factors are memory-access "
             f"ratios; the overhead factor is what an EIE PE spends beyond the ideal (4-bit indices double the bits "
             f"per weight, and Table II prices a 64-bit read of the 128 KB SRAM at "
             f"{t.spmat_line_read:.1f} pJ, {t.spmat_line_read / 2 / t.sram_read_32_pj:.1f}x Table I's 32 KB "
             f"read per bit).")


def _speedup_table(doc: Doc, rows: list[dict], mode: str) -> None:
    cols = [Column("layer", "layer", "text"), Column("eie_us", "EIE µs (ours)", "num", 2),
            Column("paper_eie_us", "EIE µs (paper)", "num", 1)]
    for p, label in PLATFORMS.items():
        cols += [Column(f"{p}_us", f"{label} µs", "num", 1), Column(f"{p}_ours", "speedup ours", "num", 0, "x"),
                 Column(f"{p}_paper", "speedup paper", "num", 0, "x")]
    heads = ", ".join(f"{HEADLINES[p][0]}x vs {PLATFORMS[p]}" for p in PLATFORMS)
    notes = [f"Paper headlines (dense): {heads}."] if mode == "dense" else []
    doc.table(Table(f"speedup_{mode}", f"Speedup over the paper's platforms running the {mode} layer", cols, rows,
                    notes))


def _efficiency_table(doc: Doc, rows: list[dict], implied_w: dict) -> None:
    doc.para("Energy efficiency = platform energy / EIE energy. The paper gives platform energies only through its "
             "headline ratios; dividing the energy headline by the speed headline gives the platform power the paper "
             f"implies (same geometric means, EIE at {PAPER_CHIP_MW:g} mW): "
             + ", ".join(f"{PLATFORMS[p]} {implied_w[p]:.1f} W" for p in PLATFORMS)
             + f". 'ours' prices EIE with the model's event energy, 'paper' with the paper's time × "
               f"{PAPER_CHIP_MW:g} mW.")
    cols = [Column("layer", "layer", "text"), Column("eie_uj", "EIE µJ (model)", "num", 3),
            Column("paper_eie_uj", f"EIE µJ (paper: µs × {PAPER_CHIP_MW:g} mW)", "num", 2)]
    for p, label in PLATFORMS.items():
        cols += [Column(f"{p}_uj", f"{label} µJ", "num", 0), Column(f"{p}_ours", "ours", "num", 0, "x"),
                 Column(f"{p}_paper", "paper", "num", 0, "x")]
    doc.table(Table("energy_efficiency_dense", "Energy efficiency over the paper's platforms running the dense layer",
                    cols, rows, ["Paper headlines: " + ", ".join(f"{HEADLINES[p][1]:,}x vs {PLATFORMS[p]}"
                                                                   for p in PLATFORMS) + "."]))


def platforms(doc: Doc, runs: Runs, t4: dict, energy_by_layer: dict) -> dict:
    """Speed and energy against the paper's CPU, GPU and mobile GPU; returns the platform
    powers (W) the paper's headlines imply."""
    implied_w = implied_platform_w()
    known = platform_layers(runs)
    if not known:
        doc.para("No layer of this run has published CPU/GPU figures (they exist for the nine Table III layers).")
        return implied_w
    doc.para("Speedup = platform time / EIE time, per layer, for the platform running the dense layer and the "
             "pruned (sparse) one (EIE Table IV, batch 1). 'ours' divides by the model's time, 'paper' by the "
             "paper's actual EIE time.")
    dense_rows = speedup_rows(t4, known, dense=True)
    _speedup_table(doc, dense_rows, "dense")
    _speedup_table(doc, speedup_rows(t4, known, dense=False), "sparse")
    rows = energy_efficiency_rows(t4, energy_by_layer, known, implied_w)
    _efficiency_table(doc, rows, implied_w)
    doc.figure(Figure("speedup_platforms", "EIE speedup over the paper's dense platforms and this machine (log)", {
        "panels": [{"type": "bar", "categories": known, "yscale": "log", "ylabel": "platform time / EIE model time",
                    "series": [{"label": f"{PLATFORMS[p]}", "values": [r[f"{p}_ours"] for r in dense_rows[:-1]]}
                               for p in PLATFORMS] + machine_series(runs, t4, known)}], "width": 9.5}))
    gm_s, gm_e = dense_rows[-1], rows[-1]
    doc.para("Geometric means, ours (paper table values) [paper headline]: "
             + "; ".join(f"{PLATFORMS[p]} {gm_s[f'{p}_ours']:.0f}x faster ({gm_s[f'{p}_paper']:.0f}x) "
                         f"[{HEADLINES[p][0]}x], {gm_e[f'{p}_ours']:,.0f}x less energy ({gm_e[f'{p}_paper']:,.0f}x) "
                         f"[{HEADLINES[p][1]:,}x]" for p in PLATFORMS) + ".")
    return implied_w


def _blas_name() -> str:
    try:
        import numpy as np
        cfg = np.show_config(mode="dicts")
        b = cfg["Build Dependencies"]["blas"]
        return f"{b.get('name')} {b.get('version', '')}".strip()
    except Exception:       # numpy's config layout is not an API; the name is only informative
        return "numpy's BLAS"


def machine(doc: Doc, runs: Runs, t4: dict, energy_by_layer: dict, implied_w: dict) -> None:
    """EIE (the model) against this machine's CPU, one core, batch 1 (unless ``--no-timing``)."""
    if not runs.timings:
        doc.para("Timing of this machine was skipped (`--no-timing`).")
        return
    cpu_w = implied_w["cpu"]
    rows = machine_rows(runs, t4, energy_by_layer, cpu_w)
    env = runs.timings[runs.refs[0].name]["threads_env"]
    power = ("this container exposes no power counters (no /sys/class/powercap)"
             if not Path("/sys/class/powercap").exists() else "its power was not measured")
    doc.table(Table("this_machine", "EIE (model) against this machine's CPU: one core, batch 1", [
        Column("layer", "layer", "text"), Column("numpy_dense_us", "numpy dense µs", "num", 1),
        Column("scipy_csr_us", "scipy CSR µs", "num", 1),
        Column("paper_cpu_dense_us", "paper CPU dense µs", "num", 1),
        Column("paper_cpu_sparse_us", "paper CPU sparse µs", "num", 1), Column("eie_us", "EIE µs", "num", 2),
        Column("speedup_numpy", "speedup vs numpy", "num", 0, "x"),
        Column("speedup_scipy", "speedup vs scipy", "num", 0, "x"),
        Column("energy_numpy", f"energy ratio vs numpy at {cpu_w:.0f} W", "num", 0, "x"),
        Column("energy_scipy", f"energy ratio vs scipy at {cpu_w:.0f} W", "num", 0, "x")], rows, notes=[
        "numpy dense: the decoded weights as a dense float32 matrix, `W @ x` (BLAS sgemv, " + _blas_name() + "); "
        "scipy CSR: the non-zero weights as a float32 `scipy.sparse` CSR matrix, `W @ x` (all inputs, as the "
        "paper's sparse baselines). Best of N ≥ 5 runs after a warm-up, in a worker process with "
        + ", ".join(f"{k}={v}" for k, v in env.items()) + " (one thread), nothing else of ours running. "
        f"Energy ratios assume the CPU draws the paper's implied i7-5930K power ({cpu_w:.1f} W) while it runs: "
        + power + "."]))
    g = rows[-1]
    doc.para(f"On this machine's single core the model's EIE is {g['speedup_numpy']:.0f}x faster than numpy's dense "
             f"mat-vec and {g['speedup_scipy']:.0f}x faster than scipy's sparse one (geometric means); the paper's "
             f"i7-5930K figures (MKL, batch 1) are in the table for comparison.")
