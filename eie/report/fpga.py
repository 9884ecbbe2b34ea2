"""FPGA results as data: the ``eie synth --json`` records and their summary rows.

:func:`load_records` reads the records that ``python bench/synth.py --out DIR`` (or
``eie synth --json``) writes, :func:`summary_row` turns one into a table row (resources,
Fmax over the placement seeds, MAC rate) and :func:`markdown_summary` makes the table of
``reports/fpga/summary.md``.  Plain JSON logic with nothing from :mod:`eie.hdl`, so the
report reads FPGA results without importing the hardware flow: :mod:`eie.flow.synth`
(above the report) re-exports these names for its own users.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from ..fileio import read_text

__all__ = ["load_records", "summary_row", "markdown_summary", "RIPUP_MODES", "ripup_mode"]

#: a record's ``tmg_ripup``: how nextpnr's timing-driven rip-up was used (``eie synth
#: --tmg-ripup``, :func:`eie.flow.synth.close_timing`): ``off``, ``on`` (every run, at the
#: target), ``auto`` (a plain run, then climbing rip-up runs when the plain one misses).
#: Records written before ``auto`` existed hold ``true`` / ``false``.
RIPUP_MODES = ("off", "on", "auto")

# The keys every ``eie synth --json`` record has; a JSON file with ``fmax_mhz`` but not all of them is stale.
_RECORD_KEYS = ("target", "device", "part", "fmax_mhz", "resources", "config", "hw", "seeds")


def ripup_mode(value) -> str:
    """A record's (or an option's) ``tmg_ripup`` as one of :data:`RIPUP_MODES`."""
    if value is None or value is False:
        return "off"
    if value is True:
        return "on"
    if value in RIPUP_MODES:
        return value
    raise InputError(f"tmg_ripup must be one of {', '.join(RIPUP_MODES)}, not {value!r}")


#: how a user makes records, said by the errors (``bench/synth.py`` does it for every reference
#: in a checkout; an installed eie has the command)
_MAKE_RECORDS = ("make them with 'eie synth --target ecp5 --reference --seed 1 2 3 --json {d}/ecp5-25k.json' "
                 "(one record per file; in a checkout, 'python bench/synth.py --out {d}' makes every reference's)")


def load_records(directory) -> list[dict]:
    """The ``eie synth --json`` records in ``directory`` (``*.json`` with a ``fmax_mhz``),
    sorted by family, PE count and device; other JSON files there are ignored."""
    d = Path(directory)
    if not d.is_dir():
        raise InputError(f"FPGA results directory {str(d)!r} does not exist: {_MAKE_RECORDS.format(d=d)}")
    out = []
    for f in sorted(d.glob("*.json")):
        try:
            rec = json.loads(read_text(f, str(f)))
        except ValueError as exc:
            raise InputError(f"{f}: not a JSON file ({exc})") from None
        if not isinstance(rec, dict) or "fmax_mhz" not in rec:
            continue
        if rec.get("synth_only"):
            raise InputError(f"{f}: a synthesis-only record (eie synth --synth-only) has no Fmax for the FPGA "
                             f"summary: move it out of {d}, or run eie synth without --synth-only")
        missing = [k for k in _RECORD_KEYS if k not in rec]
        if missing:
            raise InputError(f"{f}: an 'eie synth --json' record needs {', '.join(missing)}: regenerate it: "
                             f"{_MAKE_RECORDS.format(d=d)}")
        try:
            ripup_mode(rec.get("tmg_ripup"))
        except InputError as exc:
            raise InputError(f"{f}: {exc}") from None
        rec["_file"] = f.name
        out.append(rec)
    if not out:
        raise InputError(f"FPGA results directory {str(d)!r} holds no 'eie synth --json' record: "
                         f"{_MAKE_RECORDS.format(d=d)}")
    return sorted(out, key=lambda r: (r["target"], r["config"]["pes"], r["device"], str(r.get("speed") or ""),
                                      RIPUP_MODES.index(ripup_mode(r.get("tmg_ripup")))))


def summary_row(rec: dict) -> dict:
    """One table row of a record: resources, Fmax over the seeds, MAC rate, critical path."""
    fm = sorted(s["fmax_mhz"] for s in rec["seeds"])
    r = rec["resources"]
    c, hw = rec["config"], rec["hw"]
    cp = rec.get("critical_path") or {}

    def used(key):
        return r[key]["used"] if key in r else None

    def pct(key):
        return r[key]["pct"] if key in r else None
    med = fm[len(fm) // 2] if len(fm) % 2 else 0.5 * (fm[len(fm) // 2 - 1] + fm[len(fm) // 2])
    return {
        # the speed grade when the record names it (eie synth --speed; older records: grade 6)
        "device": f"{rec['target'].upper() if rec['target'] == 'ecp5' else 'iCE40'} {rec['device']}"
                  + (f" (-{rec['speed']})" if rec.get("speed") else ""),
        "part": rec["part"], "pes": c["pes"],
        "memories": (f"{hw['spmat_lines']}x{c['line_bits']} b lines, 2x{hw['ptr_words']} ptr, "
                     f"2x{hw['act_depth']} act"),
        "luts": used("luts"), "luts_pct": pct("luts"), "ffs": used("ffs"), "brams": used("brams"),
        "brams_total": r["brams"]["total"] if "brams" in r else None, "dsps": used("dsps"),
        "fmax_best": fm[-1], "fmax_median": med, "fmax_worst": fm[0], "seeds": len(fm),
        "target_mhz": rec.get("freq_target_mhz"),
        # the clock nextpnr was given, and its timing-driven rip-up if used (the Fmax it
        # reaches then depends on that target: docs/fpga.md)
        "flow": (f"{rec['freq_target_mhz']:g} MHz" if rec.get("freq_target_mhz") else "–")
                + {"off": "", "on": ", tmg-ripup", "auto": ", tmg-ripup auto"}[ripup_mode(rec.get("tmg_ripup"))],
        "gmacs": c["pes"] * med / 1000.0,
        "critical_path": (f"seed {rec.get('seed')}: {cp.get('from')} -> {cp.get('to')} ({cp.get('total_ns', 0):.2f} ns, "
                          f"{cp.get('routing_ns')} ns routing)") if cp else None,
    }


def markdown_summary(records: list[dict]) -> str:
    """A Markdown table of :func:`summary_row` for reports/fpga/."""
    head = ("| device | PEs | memories per PE | LUT4 | FF | block RAM | DSP | nextpnr target | Fmax median (worst-best) | "
            "MAC rate at the median | critical path (the seed named) |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
    rows = []
    for rec in records:
        s = summary_row(rec)
        bram = f"{s['brams']}/{s['brams_total']}" if s["brams"] is not None else "–"
        rows.append(f"| {s['device']} | {s['pes']} | {s['memories']} | {s['luts']} ({s['luts_pct']} %) | "
                    f"{s['ffs']} | {bram} | {s['dsps'] if s['dsps'] is not None else '–'} | {s['flow']} | "
                    f"{s['fmax_median']:.1f} MHz ({s['fmax_worst']:.1f}-{s['fmax_best']:.1f}, {s['seeds']} seeds) | "
                    f"{s['gmacs']:.2f} GMAC/s | {s['critical_path'] or '–'} |")
    return head + "\n".join(rows) + "\n"
