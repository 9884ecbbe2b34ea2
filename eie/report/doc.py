"""A report as data: headings, paragraphs, lists, tables and figures, rendered twice.

Every table is a :class:`Table` whose rows are the numbers it shows (in the units it
shows them, unrounded) and every figure a :class:`Figure` drawn from its own data; both
are written as JSON next to the report (``data/<name>.json``), so a reader (and
``tests/test_report.py``) can check each printed number against the data behind it.
:meth:`Doc.markdown` and :meth:`Doc.html` render the same blocks; the HTML is one
self-contained file that references the PNG figures by relative path.

Inline markup in text: ``code`` and **bold** only.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import asdict, dataclass, field

from ..fileio import dumps_json

__all__ = ["Column", "Table", "Figure", "Doc", "format_cell", "span"]


@dataclass(frozen=True)
class Column:
    """One table column: ``key`` into the rows, its header and how a value prints.

    ``kind``: ``text`` (as is), ``int`` (thousands separators), ``num`` (``decimals``
    places), ``signed`` (``num`` with a sign), ``bool`` (yes/no).  ``suffix`` follows the
    number (``%``, ``x``).  A missing value (``None``) prints as ``–``.
    """

    key: str
    header: str
    kind: str = "num"
    decimals: int = 2
    suffix: str = ""

    def __post_init__(self):
        if self.kind not in ("text", "int", "num", "signed", "bool"):
            raise ValueError(f"column kind must be text, int, num, signed or bool, not {self.kind!r}")


def format_cell(col: Column, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if col.kind == "text":
        return str(value)
    if col.kind == "bool":
        return "yes" if value else "no"
    if col.kind == "int":
        return f"{int(round(value)):,}{col.suffix}"
    if col.kind == "signed":
        return f"{value:+,.{col.decimals}f}{col.suffix}"
    return f"{value:,.{col.decimals}f}{col.suffix}"


@dataclass
class Table:
    """A table and the JSON behind it (``data/<name>.json``)."""

    name: str
    title: str
    columns: list[Column]
    rows: list[dict]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"table": self.name, "title": self.title, "columns": [asdict(c) for c in self.columns],
                "rows": self.rows, "notes": self.notes}

    def cells(self) -> list[list[str]]:
        return [[format_cell(c, row.get(c.key)) for c in self.columns] for row in self.rows]


@dataclass
class Figure:
    """A PNG figure (``<name>.png``) and the JSON it was drawn from (``data/<name>.json``)."""

    name: str
    caption: str
    data: dict

    @property
    def png(self) -> str:
        return f"{self.name}.png"

    def to_json(self) -> dict:
        return {"figure": self.name, "png": self.png, "caption": self.caption, **self.data}


def _inline_html(text: str) -> str:
    out = []
    for i, part in enumerate(re.split(r"`([^`]*)`", text)):
        if i % 2:
            out.append(f"<code>{html.escape(part)}</code>")
        else:
            esc = html.escape(part)
            out.append(re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", esc))
    return "".join(out)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.45; color: #222; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #bbb; padding: 0.2rem 0.5rem; }
th { background: #eee; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 0.3rem; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9rem; color: #444; }
code { background: #f4f4f4; padding: 0 0.2rem; }
pre { background: #f4f4f4; padding: 0.5rem; overflow-x: auto; }
p.note { font-size: 0.85rem; color: #555; }
"""


class Doc:
    """An ordered list of blocks with the tables and figures they contain."""

    def __init__(self, title: str):
        self.title = title
        self.blocks: list[tuple] = []
        self.tables: list[Table] = []
        self.figures: list[Figure] = []

    # ---- building ----------------------------------------------------------------------
    def heading(self, level: int, text: str) -> None:
        self.blocks.append(("h", level, text))

    def para(self, text: str) -> None:
        self.blocks.append(("p", text))

    def items(self, items: list[str]) -> None:
        self.blocks.append(("ul", list(items)))

    def code(self, text: str) -> None:
        self.blocks.append(("pre", text))

    def _check_name(self, name: str) -> None:
        # tables and figures share data/<name>.json
        if any(x.name == name for x in (*self.tables, *self.figures)):
            raise ValueError(f"table or figure name {name!r} is used twice")

    def table(self, table: Table) -> None:
        self._check_name(table.name)
        self.tables.append(table)
        self.blocks.append(("table", table))

    def figure(self, fig: Figure) -> None:
        self._check_name(fig.name)
        self.figures.append(fig)
        self.blocks.append(("fig", fig))

    # ---- rendering ---------------------------------------------------------------------
    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                out += ["#" * (block[1] + 1) + " " + block[2], ""]
            elif kind == "p":
                out += [block[1], ""]
            elif kind == "ul":
                out += [f"- {item}" for item in block[1]] + [""]
            elif kind == "pre":
                out += ["```", block[1], "```", ""]
            elif kind == "table":
                t = block[1]
                out += [f"<!-- data: data/{t.name}.json -->", f"**{t.title}**", ""]
                out.append("| " + " | ".join(c.header for c in t.columns) + " |")
                out.append("|" + "|".join("---" if c.kind == "text" else "---:" for c in t.columns) + "|")
                out += ["| " + " | ".join(cells) + " |" for cells in t.cells()]
                out.append("")
                out += [f"*{note}*" for note in t.notes] + ([""] if t.notes else [])
            elif kind == "fig":
                f = block[1]
                out += [f"![{f.caption}]({f.png})", "", f"*{f.caption}* (data: `data/{f.name}.json`)", ""]
        return "\n".join(out).rstrip() + "\n"

    def html(self) -> str:
        body = [f"<h1>{_inline_html(self.title)}</h1>"]
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                lvl = min(6, block[1] + 1)
                body.append(f'<h{lvl} id="{_slug(block[2])}">{_inline_html(block[2])}</h{lvl}>')
            elif kind == "p":
                body.append(f"<p>{_inline_html(block[1])}</p>")
            elif kind == "ul":
                body.append("<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in block[1]) + "</ul>")
            elif kind == "pre":
                body.append(f"<pre>{html.escape(block[1])}</pre>")
            elif kind == "table":
                t = block[1]
                head = "".join(f"<th>{html.escape(c.header)}</th>" for c in t.columns)
                rows = []
                for cells in t.cells():
                    tds = "".join(f'<td{"" if c.kind == "text" else " class=n"}>{html.escape(v)}</td>'
                                  for c, v in zip(t.columns, cells, strict=True))
                    rows.append(f"<tr>{tds}</tr>")
                body.append(f'<table id="table-{t.name}" data-json="data/{t.name}.json">'
                            f"<caption>{_inline_html(t.title)}</caption><thead><tr>{head}</tr></thead>"
                            f"<tbody>{''.join(rows)}</tbody></table>")
                body += [f'<p class="note">{_inline_html(n)}</p>' for n in t.notes]
            elif kind == "fig":
                f = block[1]
                img = f'<img src="{html.escape(f.png)}" alt="{html.escape(f.caption)}">'
                body.append(f'<figure id="fig-{f.name}">{img}'
                            f"<figcaption>{_inline_html(f.caption)} (data: <code>data/{f.name}.json</code>)"
                            f"</figcaption></figure>")
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head><body>\n"
                + "\n".join(body) + "\n</body></html>\n")

    def data_files(self) -> dict[str, str]:
        """``data/<name>.json`` → text, for every table and figure."""
        files = {}
        for t in self.tables:
            files[f"data/{t.name}.json"] = dumps_json(t.to_json())
        for f in self.figures:
            files[f"data/{f.name}.json"] = dumps_json(f.to_json())
        return files


def span(values, spec: str) -> str:
    """``"lo–hi"`` of ``values`` formatted with ``spec`` (``".0f"``), or the one value when
    both ends print the same ("21–21 %" had read as a range)."""
    vals = list(values)
    lo, hi = format(min(vals), spec), format(max(vals), spec)
    return lo if lo == hi else f"{lo}–{hi}"
