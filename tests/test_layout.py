"""The package's dependencies point one way (docs/architecture.md, "Package layout").

The import graph of ``eie/`` is read from the source (every ``import`` and ``from ... import``,
function-level ones included) and checked against the floors below: a module imports only
its own floor or lower ones, there is no cycle, and nothing but ``eie.cli`` (and ``python
-m eie``) imports the CLI.  The hardware (``eie.hdl``) imports neither its flow nor Amaranth's
simulator, and the register map imports no Amaranth at all.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "eie"

#: the floors, bottom first; a module's floor is that of its longest listed prefix
FLOORS = [
    ("eie.errors", "eie.config", "eie.fileio", "eie.layer", "eie.network"),
    ("eie.compress", "eie.fixed", "eie.reference", "eie.compile", "eie.model", "eie.energy", "eie.area", "eie.prepare"),
    ("eie.pipeline", "eie.evaluate", "eie.lstm", "eie.bench", "eie.sweep", "eie.report", "eie.importers", "eie.dse",
     "eie.train"),
    ("eie.hdl",),
    ("eie.flow",),
    ("eie.cli", "eie.__main__"),
]


def modules() -> dict[str, Path]:
    out = {}
    for f in ROOT.rglob("*.py"):
        parts = list(f.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


MODS = modules()


def resolve(name: str) -> str | None:
    while name and name not in MODS:
        name = name.rpartition(".")[0]
    return name or None


def imports(mod: str) -> dict[str, int]:
    """``{imported eie module: line}`` of one module."""
    f = MODS[mod]
    pkg = mod if f.name == "__init__.py" else mod.rpartition(".")[0]
    out = {}
    for node in ast.walk(ast.parse(f.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        for n in names:
            r = resolve(n)
            if r and r != mod and r.startswith("eie") and r != "eie":
                out.setdefault(r, node.lineno)
            elif n.split(".")[0] in ("amaranth", "cocotb"):
                out.setdefault(n, node.lineno)
    return out


GRAPH = {m: imports(m) for m in MODS}


def floor(mod: str) -> int:
    best, level = -1, None
    for i, names in enumerate(FLOORS):
        for n in names:
            if (mod == n or mod.startswith(n + ".")) and len(n) > best:
                best, level = len(n), i
    return level


def test_every_module_has_a_floor():
    missing = [m for m in MODS if m != "eie" and floor(m) is None]
    assert not missing, f"modules without a floor (add them to FLOORS and the docs): {missing}"


def test_imports_point_down():
    bad = []
    for m, targets in GRAPH.items():
        if m == "eie":
            continue
        for t, line in targets.items():
            if t.startswith("eie") and floor(t) > floor(m):
                bad.append(f"{MODS[m]}:{line}: {m} (floor {floor(m)}) imports {t} (floor {floor(t)})")
    assert not bad, "\n".join(bad)


def test_no_import_cycle():
    edges = {m: {t for t in ts if t in MODS} for m, ts in GRAPH.items()}
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            # a package importing its own submodules (its __init__) is not a cycle
            if len(comp) > 1 and not all(x == min(comp) or x.startswith(min(comp) + ".") for x in comp):
                cycles.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_nothing_below_the_cli_imports_it():
    bad = [f"{m} imports {t}" for m, ts in GRAPH.items() for t in ts
           if t.startswith("eie.cli") and not (m.startswith("eie.cli") or m == "eie.__main__")]
    assert not bad, bad


@pytest.mark.parametrize("mod", ["eie.hdl.regmap", "eie.hdl.params", "eie.hdl.busmap", "eie.hdl.pll", "eie.flow.host",
                                 "eie.flow.simulators", "eie.flow.board_host"])
def test_driver_side_needs_no_amaranth(mod):
    """A host driver for a board runs without Amaranth: the register map, the hardware
    parameters and the driver import none of it (nor anything that does)."""
    seen, todo = set(), [mod]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        for t in GRAPH.get(m, {}):
            assert not t.startswith(("amaranth", "cocotb")), f"{m} imports {t} (reached from {mod})"
            if t in MODS and t != "eie.hdl":
                todo.append(t)
    # and for real, parent packages' __init__ included: with amaranth and cocotb unimportable
    code = ("import sys; sys.modules['amaranth'] = None; sys.modules['cocotb'] = None; "
            f"import {mod}; print('ok')")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT.parent, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]


def test_the_checker_sees_a_violation(monkeypatch):
    """The floor check can fail: an import of the flow from the hardware is flagged."""
    fake = dict(GRAPH)
    fake["eie.hdl.top"] = {**GRAPH["eie.hdl.top"], "eie.flow.host": 1}
    monkeypatch.setitem(globals(), "GRAPH", fake)
    with pytest.raises(AssertionError, match="eie.hdl.top .floor 3. imports eie.flow.host"):
        test_imports_point_down()
