"""ECP5 floorplan: each PE's block RAMs in one compact cluster of sites (``eie synth``).

Left to itself, nextpnr's placer scatters a PE's dozen DP16KD block RAMs over both block-RAM
rows of an ECP5-25k (on the 4-PE reference, PE 2's activation banks sat 30 columns away from
its line memory), so the PE's logic is pulled across the die and its address and data nets
are long.  A floorplan fixes every PE's block RAMs to a cluster of neighbouring sites, so the
placer puts the PE's logic next to them.

* :func:`probe_sites` asks nextpnr for the device's block-RAM sites: it places a design of
  one DP16KD per site (``--no-route``) and reads the sites back.  The chip database stays the
  one owner of the geometry; nothing here restates it.
* :func:`plan` cuts the site rows into bands of ``h`` rows; each PE gets a window of ``w``
  consecutive sites in every row of a band (``h·w`` ≥ its block RAMs).  ``h`` is chosen so
  that the cluster is as compact as possible (its x and y extents in tiles) among the
  shapes that fit every PE.  As few bands as hold the PEs are used, those nearest the
  middle of the die; in a band the windows sit side by side, centred; the bands are walked
  in a snake so consecutive PEs are neighbours (the announce tree groups consecutive PEs,
  :func:`eie.hdl.params.announce_groups`).  Inside a cluster the line memory takes the
  central sites, then the pointer banks, the descriptor FIFO and the activation banks.
* :func:`apply` writes the sites as ``BEL`` attributes into the netlist JSON (nextpnr binds
  such cells before placing the rest).

``--floorplan auto`` (the default) plans only arrays that fit two bands (:data:`AUTO_MAX_BANDS`,
with the measurements behind it); ``on`` plans any array; ``none`` none.

A design whose block RAMs cannot be clustered (more per PE than the shapes allow, or block
RAMs outside any PE) gets no floorplan, and the reason is returned instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

__all__ = ["Site", "Floorplan", "probe_sites", "pe_brams", "plan", "apply", "check_mode", "UNIT_ORDER", "MODES",
           "AUTO_MAX_BANDS"]

#: ``--floorplan``: ``auto`` plans only arrays whose clusters fit :data:`AUTO_MAX_BANDS` bands
#: of block-RAM rows, ``on`` plans any array, ``none`` leaves placement to nextpnr
MODES = ("auto", "on", "none")
#: bands ``auto`` allows: those where a gain was measured.  One band: the ECP5-25k 4-PE
#: reference, +3.6 % mean Fmax over six seeds (HW version 6 as of step 12; within the seed
#: spread on step 19's netlist).  Two: the ECP5-85k 16-PE reference (both bands of its four
#: block-RAM rows, the whole die) on the step-19 netlist, 101.5 / 104.1 / 80.5 MHz on seeds
#: 1-3 against 92.5 / 95.7 / 89.4 without (median +9.7 %, mean +3.1 %; nextpnr in about half
#: the time); on the ULX3S-85F board build of the same array 62.8 / 70.3 against 74.6 / 69.4
#: (seeds 1 / 2; its worst path a host copy's shared input LUT either way), in half the build
#: time.  Step 12's netlist had given 66.3 against 64.2 on seed 2 and no conclusion; three or
#: more bands were never built (docs/fpga.md)
AUTO_MAX_BANDS = 2

#: inside a PE's cluster, the memories in order of how central their sites are: the line
#: memory's blocks (the widest fan-out: address copies and the entry select), then the
#: pointer banks, the descriptor FIFO (when it is block RAM) and the activation banks
UNIT_ORDER = ("spmat", "ptr", "queue", "act")


@dataclass(frozen=True, order=True)
class Site:
    """A DP16KD site: tile column ``x``, row ``y``, slot ``z`` (the ``EBR<z>`` of the BEL name)."""

    y: int
    x: int
    z: int

    @property
    def bel(self) -> str:
        return f"X{self.x}/Y{self.y}/EBR{self.z}"

    @classmethod
    def parse(cls, bel: str) -> Site:
        m = re.fullmatch(r"X(\d+)/Y(\d+)/EBR(\d+)", bel)
        if m is None:
            raise ValueError(f"not a DP16KD site: {bel!r}")
        return cls(y=int(m[2]), x=int(m[1]), z=int(m[3]))


@dataclass(frozen=True)
class Floorplan:
    """A plan: ``cells`` maps a DP16KD cell name to its site; ``rows``/``width``: the cluster
    shape (rows of a band, sites per row); ``bands``: bands used; ``reason``: why there is no
    plan (``cells`` empty)."""

    cells: dict
    rows: int = 0
    width: int = 0
    bands: int = 0
    reason: str = ""

    def summary(self) -> dict:
        if not self.cells:
            return {"applied": False, "reason": self.reason}
        return {"applied": True, "brams": len(self.cells), "rows_per_pe": self.rows, "sites_per_row": self.width,
                "bands": self.bands}


_PROBE_BRAM = ('DP16KD #(.DATA_WIDTH_A(9), .DATA_WIDTH_B(9), .REGMODE_B("OUTREG")) b{i} (.CLKA(clk), .CLKB(clk), '
               ".CEA(we), .WEA(we), .OCEA(1'b1), .RSTA(1'b0), .CEB(1'b1), .WEB(1'b0), .OCEB(1'b1), .RSTB(1'b0), "
               "{ports});")


def _probe_verilog(brams: int) -> str:
    lines = ["module eie_site_probe(input clk, input [10:0] a, input [8:0] d, input we, output reg o);",
             f"wire [{9 * brams - 1}:0] q;"]
    zero = "1'b0"
    for i in range(brams):
        ports = [f".AD{p}{k}({f'a[{k - 3}]' if k >= 3 else zero})" for p in "AB" for k in range(14)]
        ports += [f".DIA{k}({f'd[{k}]' if k < 9 else zero})" for k in range(18)]
        ports += [f".DOB{k}(q[{9 * i + k}])" for k in range(9)]
        lines.append(_PROBE_BRAM.format(i=i, ports=", ".join(ports)))
    lines += ["always @(posedge clk) o <= ^q;", "endmodule", ""]
    return "\n".join(lines)


#: the site probe's directory in a flow's working directory, and the files it writes there
PROBE_DIR = "site-probe"
PROBE_FILES = ("probe.v", "probe.json", "probe_yosys.log", "probe_placed.json", "probe_pnr.log")


def probe_sites(dev, workdir: Path, *, yosys: str, nextpnr: str, run) -> list[Site]:
    """The DP16KD sites of ``dev`` (an ECP5 :class:`~eie.flow.synth.Device`), as nextpnr
    places a design that uses every one of them (a few seconds; 13 s for the 85k).

    ``yosys``/``nextpnr``: the tools; ``run(cmd, cwd, what, log)`` runs one and raises on
    failure (:func:`eie.flow.synth` passes its own).  Raises ``ValueError`` if the probe does
    not come back with ``dev.brams`` distinct sites."""
    if dev.target != "ecp5":
        raise ValueError(f"floorplans are for ECP5, not {dev.target}")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "probe.v").write_text(_probe_verilog(dev.brams))
    run([yosys, "-q", "-l", "probe_yosys.log", "-p", "read_verilog probe.v; synth_ecp5 -top eie_site_probe -json probe.json"],
        workdir, "yosys (site probe)", workdir / "probe_yosys.log")
    run([nextpnr, *dev.nextpnr_args, "--package", dev.package, "--json", "probe.json", "--no-route",
         "--write", "probe_placed.json", "-q", "-l", "probe_pnr.log"],
        workdir, "nextpnr (site probe)", workdir / "probe_pnr.log")
    placed = json.loads((workdir / "probe_placed.json").read_text())
    sites = sorted(Site.parse(c["attributes"]["NEXTPNR_BEL"])
                   for mod in placed["modules"].values() for c in mod["cells"].values() if c["type"] == "DP16KD")
    if len(sites) != dev.brams or len(set(sites)) != len(sites):
        raise ValueError(f"the site probe placed {len(set(sites))} distinct DP16KD, the device has {dev.brams}")
    return sites


#: a cell of PE p: ``pe<p>.<unit>...``, at the top or under a wrapper's hierarchy (a board)
_PE_CELL = re.compile(r"(?:^|\.)pe(\d+)\.(\w+)")


def check_mode(mode: str, target: str | None = None) -> None:
    """Raise :class:`~eie.errors.InputError` unless ``mode`` is one of :data:`MODES`, and for
    ``on`` on a family without a floorplan (``target`` other than ECP5): asked for, it would
    silently do nothing."""
    if mode not in MODES:
        raise InputError(f"--floorplan must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "on" and target is not None and target != "ecp5":
        raise InputError(f"--floorplan on places ECP5 block RAMs; {target} has no floorplan: drop it")


def pe_brams(netlist: dict) -> tuple[dict, list[str]]:
    """DP16KD cells of a yosys netlist by PE: ``({pe: [cell names]}, [cells outside any PE])``."""
    by_pe, other = {}, []
    for mod in netlist["modules"].values():
        for name, cell in mod.get("cells", {}).items():
            if cell["type"] != "DP16KD":
                continue
            m = _PE_CELL.search(name)
            if m is None:
                other.append(name)
            else:
                by_pe.setdefault(int(m[1]), []).append(name)
    return by_pe, other


def _unit_rank(name: str) -> tuple:
    m = _PE_CELL.search(name)
    unit = m[2] if m else ""
    rank = UNIT_ORDER.index(unit) if unit in UNIT_ORDER else len(UNIT_ORDER)
    # blocks of one memory in their own order (bram0, bram1, ...; numbers compared as numbers)
    return (rank, [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)])


def plan(sites: list[Site], by_pe: dict, other=(), max_bands: int | None = None) -> Floorplan:
    """Assign every PE's block RAMs (``by_pe``: PE number → cell names) to a cluster of
    ``sites`` (see the module docstring); ``max_bands``: no plan if the PEs need more bands."""
    if other:
        return Floorplan({}, reason=f"{len(other)} block RAM(s) outside the PEs ({sorted(other)[0]}, ...)")
    if not by_pe:
        return Floorplan({}, reason="no block RAMs in the PEs")
    pes = sorted(by_pe)
    need = max(len(v) for v in by_pe.values())
    rows = {}
    for s in sites:
        rows.setdefault(s.y, []).append(s)
    ys = sorted(rows)
    for y in ys:
        rows[y].sort()
    best = None
    for h in range(1, len(ys) + 1):
        w = -(-need // h)
        bands = [ys[i:i + h] for i in range(0, len(ys) - h + 1, h)]
        per_band = [min(len(rows[y]) for y in band) // w for band in bands]
        if sum(per_band) < len(pes):
            continue
        # the cluster's extent in tiles: its x span (widest window) and its y span
        xspan = max(rows[y][i + w - 1].x - rows[y][i].x for y in ys for i in range(len(rows[y]) - w + 1))
        yspan = max(band[-1] - band[0] for band in bands)
        cost = (max(xspan, yspan), xspan + yspan)
        if best is None or cost < best[0]:
            best = (cost, h, w, bands, per_band)
    if best is None:
        return Floorplan({}, reason=f"{need} block RAMs per PE do not fit {len(pes)} clusters of the device's "
                                    f"{len(sites)} sites")
    _, h, w, bands, per_band = best
    # as few bands as hold every PE, the ones nearest the middle of the die (the CCU sits
    # between the PEs: a small array on a large device stays compact)
    mid = (ys[0] + ys[-1]) / 2
    by_centre = sorted(range(len(bands)), key=lambda i: (abs((bands[i][0] + bands[i][-1]) / 2 - mid), i))
    used, cap = [], 0
    for i in by_centre:
        if cap >= len(pes):
            break
        used.append(i)
        cap += per_band[i]
    used.sort()
    if max_bands is not None and len(used) > max_bands:
        return Floorplan({}, reason=f"{len(pes)} PEs need {len(used)} bands of block-RAM rows; --floorplan auto "
                                    f"plans at most {max_bands} (a gain was measured only there, docs/fpga.md), "
                                    f"--floorplan on forces it")
    # PEs per band: as even as the capacities allow
    left, counts = len(pes), []
    for k, i in enumerate(used):
        counts.append(min(per_band[i], -(-left // (len(used) - k))))
        left -= counts[-1]
    for k, i in enumerate(used):               # a later band was short: fill the earlier ones
        extra = min(per_band[i] - counts[k], left)
        counts[k] += extra
        left -= extra
    cells, order = {}, iter(pes)
    for k, (i, count) in enumerate(zip(used, counts, strict=True)):
        band = bands[i]
        row_len = min(len(rows[y]) for y in band)
        first = (row_len - count * w) // 2   # side by side, centred in the band
        starts = [first + j * w for j in range(count)]
        if k % 2:                               # snake: consecutive PEs stay neighbours
            starts.reverse()
        for start in starts:
            pe = next(order)
            cluster = [rows[y][start + j] for y in band for j in range(w)]
            cx = sum(s.x for s in cluster) / len(cluster)
            cy = sum(s.y for s in cluster) / len(cluster)
            cluster.sort(key=lambda s: (abs(s.x - cx) + abs(s.y - cy), s))
            for name, site in zip(sorted(by_pe[pe], key=_unit_rank), cluster, strict=False):
                cells[name] = site
    return Floorplan(cells, rows=h, width=w, bands=len(used))


def apply(netlist: dict, fp: Floorplan) -> int:
    """Write ``fp``'s sites into ``netlist`` as ``BEL`` attributes; returns how many."""
    done = 0
    for mod in netlist["modules"].values():
        for name, cell in mod.get("cells", {}).items():
            site = fp.cells.get(name)
            if site is not None:
                cell.setdefault("attributes", {})["BEL"] = site.bel
                done += 1
    return done
