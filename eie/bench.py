"""The EIE Table III/IV benchmark suite: specs, synthetic layers and the run [arch §2-§7].

The built-in layer specs are ``eie/data/table3.toml`` (package data); ``--spec FILE`` reads
another file of the same layout.  Each layer's
weights are made the way Deep Compression makes them (magnitude pruning of a seeded Gaussian
matrix, 4-bit weight sharing) and its input has the published activation density.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass
from importlib import resources

from .config import EIEConfig, flag
from .errors import InputError
from .fileio import read_toml
from .layer import MAX_ELEMENTS

__all__ = ["LayerSpec", "load_specs", "make_layer", "run_bench", "format_bench", "paper_differences"]

_FIELDS = {"name": str, "n_in": int, "n_out": int, "weight_density": float, "act_density": float,
           "paper_actual_us": float, "paper_theoretical_us": float, "seed": int}


@dataclass(frozen=True)
class LayerSpec:
    name: str
    n_in: int
    n_out: int
    weight_density: float
    act_density: float
    paper_actual_us: float | None = None
    paper_theoretical_us: float | None = None
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise InputError(f"a layer's name must be a non-empty string, not {self.name!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"layer {self.name!r}: seed must be an integer >= 0, not {self.seed!r}")
        for f in ("n_in", "n_out"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"layer {self.name!r}: {f} must be an integer >= 1, not {v!r}")
        if self.n_out * self.n_in > MAX_ELEMENTS:
            raise InputError(f"layer {self.name!r}: n_out x n_in = {self.n_out} x {self.n_in} "
                             f"({self.n_out * self.n_in:,} weights) is more than the limit of {MAX_ELEMENTS:,} "
                             f"weights per layer (eie.layer.MAX_ELEMENTS): lower n_in or n_out")
        for f in ("weight_density", "act_density"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1:
                raise InputError(f"layer {self.name!r}: {f} must be in (0, 1], not {v!r}")
        for f in ("paper_actual_us", "paper_theoretical_us"):
            v = getattr(self, f)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf):
                raise InputError(f"layer {self.name!r}: {f} must be a time in microseconds > 0, not {v!r}")


def load_specs(path=None) -> list[LayerSpec]:
    """Read a spec file (``[[layer]]`` tables); default: the built-in Table III."""
    if path is None:
        data = tomllib.loads(resources.files("eie").joinpath("data/table3.toml").read_text(encoding="utf-8"))
        where = "built-in table3.toml"
    else:
        where = f"spec file {str(path)!r}"
        data = read_toml(path, where)
    unknown = sorted(set(data) - {"layer"})
    if unknown or not isinstance(data.get("layer"), list):
        raise InputError(f"{where} must hold [[layer]] tables only" + (f", not {unknown[0]!r}" if unknown else ""))
    specs = []
    for i, entry in enumerate(data["layer"]):
        if not isinstance(entry, dict):
            raise InputError(f"{where}: layer {i} must be a [[layer]] table of name, n_in, n_out, ..., not {entry!r}")
        bad = sorted(set(entry) - set(_FIELDS))
        if bad:
            raise InputError(f"{where}: layer {i}: unknown key {bad[0]!r}; known keys are {', '.join(_FIELDS)}")
        for req in ("name", "n_in", "n_out", "weight_density", "act_density"):
            if req not in entry:
                raise InputError(f"{where}: layer {i} needs {req!r}")
        if any(sp.name == entry["name"] for sp in specs):
            raise InputError(f"{where}: layer {i}: the name {entry['name']!r} is taken by an earlier layer; "
                             f"give each layer its own name (the results are keyed by it)")
        try:
            specs.append(LayerSpec(**entry))
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
    return specs


def make_layer(spec: LayerSpec, bits: int = 4):
    """The seeded synthetic layer of ``spec``.  Its bias stays *coded* (synthetic_layer's
    default, the authors' encoding the published comparison has always run): carried at full
    precision instead, the bias column would be empty and the cycles would drop by up to the
    coded bias's entries per PE at the end of a pass, so the Table IV numbers would move."""
    from .compress import synthetic_layer
    return synthetic_layer(spec.n_out, spec.n_in, spec.weight_density, bits=bits, seed=spec.seed, bias=True,
                           act_density=spec.act_density, name=spec.name)


def paper_differences(config: EIEConfig) -> list[str]:
    """The fields in which ``config`` differs from the paper's design point (``EIEConfig()``),
    as ``"--pes 16 (paper 64)"``; empty at the design point.

    The paper's Table IV times are for that one design point (64 PEs, 800 MHz, queue depth
    8, its SRAM sizes and widths): every field changes either the cycles (PEs, queue depth,
    widths, the activation SRAM through the passes) or the time (the clock), so a run
    elsewhere is not compared with them."""
    paper = EIEConfig()
    out = []
    for f in dataclasses.fields(EIEConfig):
        mine, theirs = getattr(config, f.name), getattr(paper, f.name)
        if mine != theirs:
            out.append(f"{flag(f.name)} {mine:g} (paper {theirs:g})")
    return out


def run_bench(config: EIEConfig, specs=None, fc8: str | None = None, table=None, progress=None) -> list[dict]:
    """Run every spec (and the real FC8 layer if a path is given) on ``config``.

    Each row keeps the paper's published times (``paper_actual_us``,
    ``paper_theoretical_us``); ``paper_comparable`` says whether ``config`` is the paper's
    design point, and only then is ``diff_vs_paper_pct`` given (:func:`paper_differences`)."""
    from .layer import CompressedLayer, load_layer
    from .pipeline import run_layer

    specs = load_specs() if specs is None else specs
    comparable = not paper_differences(config)
    rows = []
    jobs = [("spec", s) for s in specs] + ([("fc8", fc8)] if fc8 else [])
    for kind, item in jobs:
        if kind == "spec":
            layer = make_layer(item, bits=config.weight_bits)     # coded as the array decodes, as eie dse builds it
            paper = (item.paper_actual_us, item.paper_theoretical_us)
            name = item.name
        else:
            layer = load_layer(item)
            if not isinstance(layer, CompressedLayer) or layer.activations is None:
                raise InputError(f"--fc8 {item!r} must be a compressed layer with activations")
            paper, name = (9.9, 8.9), "Alex-8 (real FC8)"
        if progress:
            progress(name)
        rec, _ = run_layer(layer, config, table=table, check_capacity=False)
        rec["name"] = name
        rec["paper_actual_us"], rec["paper_theoretical_us"] = paper
        rec["paper_comparable"] = comparable
        if paper[0] and comparable:
            rec["diff_vs_paper_pct"] = 100.0 * (rec["time_us"] - paper[0]) / paper[0]
        rows.append(rec)
    return rows


def format_bench(rows: list[dict], config: EIEConfig, energy_table: str | None = None) -> str:
    """The benchmark table; the paper's times and the difference only at its design point.
    ``energy_table``: the ``--energy-table`` given (named in the heading; None: the default)."""
    differs = paper_differences(config)
    paper_cols = not differs
    table = f", energy table {energy_table}" if energy_table else ""
    head = (f"EIE benchmark: {config.pes} PEs, queue depth {config.queue_depth}, {config.clock_mhz:g} MHz{table}\n"
            f"{'layer':<18}{'cycles':>9}{'us':>8}"
            + (f"{'paper us':>10}{'diff':>8}" if paper_cols else "")
            + f"{'theo us':>9}{'load eff':>10}{'energy uJ':>11}{'DRAM uJ':>11}{'x less':>8}  fits\n")
    lines = []
    for r in rows:
        e = r["energy_pj"]["total_pj"] / 1e6
        d = r["dram_baselines"]["dense_dram_pj"] / 1e6
        paper = r.get("paper_actual_us")
        cols = ""
        if paper_cols:
            cols = (f"{(f'{paper:.1f}' if paper else '-'):>10}"
                    f"{(format(r['diff_vs_paper_pct'], '+.0f') + '%' if paper else '-'):>8}")
        lines.append(
            f"{r['name']:<18}{r['cycles']:>9}{r['time_us']:>8.2f}{cols}"
            f"{r['theoretical_us']:>9.2f}{r['load_efficiency']:>10.1%}{e:>11.2f}{d:>11.1f}"
            f"{d / e if e else 0:>8.0f}  {'yes' if r['fits'] else 'no'}")
    notes = [f"  {r['name']}: {r['capacity_problems'][0]}" for r in rows if not r["fits"]]
    tail = ("\nlayers that do not fit the SRAMs (simulated as if they did, as the paper does):\n" + "\n".join(notes)
            if notes else "")
    why = ("\nnot compared with the paper's Table IV: its times are for its design point, and this run differs in "
           + ", ".join(differs) if differs else "")
    return head + "\n".join(lines) + why + tail
