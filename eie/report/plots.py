"""Draw a report :class:`~eie.report.doc.Figure` from its data (matplotlib, Agg backend).

A figure's data is a list of ``panels``, each a line or bar chart described completely
by the JSON (labels, scales, series), so the PNG can be redrawn from ``data/<name>.json``:

* ``{"type": "line", "x": [...], "series": [{"label", "y"}], "xlabel", "ylabel", "title",
  "xscale": "linear" | "log2", "yscale": "linear" | "log", "ideal": [...] (optional)}``
* ``{"type": "bar", "categories": [...], "series": [{"label", "values"}], "ylabel", "title",
  "yscale", "stacked": bool}``
* ``{"type": "scatter", "series": [{"label", "x": [...], "y": [...], "line": bool}], "xlabel",
  "ylabel", "title", "xscale", "yscale": "linear" | "log"}`` (``line``: join the points in
  order, e.g. a Pareto front)

Series of all panels share one legend below the figure (a label appears once).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["draw", "DPI"]

#: Modest resolution keeps the PNGs in git small.
DPI = 100


def _line(ax, panel):
    x = panel["x"]
    for i, s in enumerate(panel["series"]):
        ys = [float("nan") if v is None else v for v in s["y"]]
        ax.plot(x, ys, marker="o", markersize=3, linewidth=1.4, label=s["label"], color=f"C{i % 10}",
                linestyle="-" if i < 10 else "--")
    if panel.get("ideal"):
        ax.plot(x, panel["ideal"], color="black", linestyle=":", linewidth=1, label="ideal (linear)")
    if panel.get("xscale") == "log2":
        ax.set_xscale("log", base=2)
        ax.set_xticks(x)
        ax.set_xticklabels([str(v) for v in x])
        ax.minorticks_off()
    if panel.get("yscale") == "log":
        ax.set_yscale("log")
    if panel.get("ylim"):
        ax.set_ylim(*panel["ylim"])


def _bar(ax, panel):
    import numpy as np
    cats = panel["categories"]
    series = panel["series"]
    x = np.arange(len(cats))
    if panel.get("stacked"):
        bottom = np.zeros(len(cats))
        for i, s in enumerate(series):
            vals = np.array([0.0 if v is None else v for v in s["values"]])
            ax.bar(x, vals, 0.7, bottom=bottom, label=s["label"], color=f"C{i % 10}")
            bottom += vals
    else:
        width = 0.8 / max(1, len(series))
        for i, s in enumerate(series):
            vals = [float("nan") if v is None else v for v in s["values"]]
            ax.bar(x - 0.4 + width * (i + 0.5), vals, width, label=s["label"], color=f"C{i % 10}")
    ax.set_xticks(x)
    ax.set_xticklabels(cats, rotation=30, ha="right")
    if panel.get("yscale") == "log":
        ax.set_yscale("log")


def _scatter(ax, panel):
    from matplotlib.ticker import FuncFormatter
    for i, s in enumerate(panel["series"]):
        # the first series is the cloud (grey), the next ones are highlighted on top of it
        style = ({"marker": "o", "markersize": 3, "color": "0.6", "alpha": 0.7} if i == 0 else
                 {"marker": "D", "markersize": 5, "color": f"C{(i + 2) % 10}"})
        ax.plot(s["x"], s["y"], linestyle="-" if s.get("line") else "none", label=s["label"], **style)
    plain = FuncFormatter(lambda v, _pos: f"{v:g}")
    for axis in ("x", "y"):
        if panel.get(f"{axis}scale") == "log":
            getattr(ax, f"set_{axis}scale")("log")
            getattr(ax, f"{axis}axis").set_major_formatter(plain)
            getattr(ax, f"{axis}axis").set_minor_formatter(plain)


_PANELS = {"line": _line, "bar": _bar, "scatter": _scatter}


def draw(fig, path: Path) -> None:
    """Write ``fig`` (a :class:`~eie.report.doc.Figure`) as a PNG at ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = fig.data["panels"]
    n = len(panels)
    width = fig.data.get("width", 7.0 if n == 1 else 12.0)
    height = fig.data.get("height", 4.8)
    f, axes = plt.subplots(1, n, figsize=(width, height), squeeze=False)
    try:
        handles, labels = [], []
        for ax, panel in zip(axes[0], panels, strict=True):
            _PANELS[panel["type"]](ax, panel)
            ax.set_xlabel(panel.get("xlabel", ""))
            ax.set_ylabel(panel.get("ylabel", ""))
            if panel.get("title"):
                ax.set_title(panel["title"], fontsize=10)
            ax.grid(True, which="major", alpha=0.3)
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
        # one legend for the whole figure, below the panels, so no series is hidden under it
        rows = -(-len(labels) // 5)
        if labels:
            f.legend(handles, labels, loc="lower center", ncol=min(5, len(labels)), fontsize=8, frameon=False)
        f.tight_layout(rect=(0, 0.045 * rows + 0.01, 1, 1))
        f.savefig(path, dpi=DPI)
    finally:
        plt.close(f)
