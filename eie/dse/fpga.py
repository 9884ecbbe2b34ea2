"""FPGA targets of a sweep: a point's resources scaled from an ``eie synth --json`` record
(docs/dse.md §4).

A record (reports/fpga/*.json, :func:`eie.report.fpga.load_records`) holds what one build
used on its device: LUTs, flip-flops, block RAMs (with the blocks of each memory per PE),
DSPs, and the post-route Fmax of each seed.  A point on that target is the same design
with other parameters, priced by proportion:

* LUTs, flip-flops and DSPs ∝ PEs (the CCU and the host port are shared out per PE: a
  slight over-estimate for more PEs);
* block RAMs per PE: each memory's blocks in the record times the ratio of its bits
  (sparse matrix ``spmat_kb``, each pointer bank ``ptr_kb / 2``, each activation bank
  ``act_sram_kb``; on iCE40 also the codebook and the destination register file), rounded
  up; times the PEs.  The record's block shapes are kept, so a memory that grows in depth
  inside blocks the record filled only partly (a 64-bit line memory in 16-bit-wide iCE40
  EBRs) is over-estimated, up to 2x; ``eie synth`` counts exactly.  A memory whose size no
  configuration field sets (the iCE40 column-descriptor FIFO: a dozen descriptors more than
  the queue holds, far below one block's depth) keeps the record's blocks per PE;
* Fmax: the median over the record's seeds; the point fits its device when every
  resource is within the device's totals.
"""

from __future__ import annotations

import math

from ..config import EIEConfig
from ..report.fpga import summary_row

__all__ = ["fpga_point", "fpga_clock_mhz"]


def _memory_bits(cfg: dict) -> dict:
    return {"spmat": cfg["spmat_kb"] * 8192, "ptr_even": cfg["ptr_kb"] * 4096, "ptr_odd": cfg["ptr_kb"] * 4096,
            "act0": cfg["act_sram_kb"] * 8192, "act1": cfg["act_sram_kb"] * 8192,
            "codebook": (1 << cfg["weight_bits"]) * cfg["codebook_bits"],
            "dst": cfg["regfile_entries"] * cfg["acc_bits"]}


def fpga_clock_mhz(record: dict) -> float:
    """The clock a point on ``record``'s device runs at: the median post-route Fmax."""
    return float(summary_row(record)["fmax_median"])


#: the resources a point on a device needs (``need``; block RAMs last, scaled per memory)
RESOURCES = ("luts", "ffs", "dsps", "brams")
#: a point's verdicts besides them (the CSV's ``fpga_*`` columns)
VERDICTS = ("fits_device", "fmax_mhz", "clock_ok")


def fpga_point(name: str, record: dict, config: EIEConfig) -> dict:
    """The resources of ``config`` on the device of ``record`` (see the module docstring)."""
    rc = record["config"]
    ratio = config.pes / rc["pes"]
    res = record["resources"]
    need = {key: math.ceil(res[key]["used"] * ratio) for key in RESOURCES[:-1] if key in res}
    mine, theirs = _memory_bits(config.to_dict()), _memory_bits(rc)
    per_pe = sum(math.ceil(blocks * mine[m] / theirs[m]) if m in mine else blocks
                 for m, blocks in record["bram_estimate"]["per_memory"].items())
    need["brams"] = per_pe * config.pes
    totals = {key: res[key]["total"] for key in need if key in res}
    problems = [f"{key} {need[key]:,} of {totals[key]:,} on {record['part']}" for key in need
                if key in totals and need[key] > totals[key]]
    fmax = fpga_clock_mhz(record)
    return {"target": name, "device": f"{record['target']} {record['device']}", "part": record["part"],
            "need": need, "totals": totals, "brams_per_pe": per_pe,
            "utilisation": {k: need[k] / totals[k] for k in totals if totals[k]},
            "fits_device": not problems, "device_problems": problems, "fmax_mhz": fmax,
            "clock_ok": config.clock_mhz <= fmax}
