"""Analytical area model of an EIE array at 45 nm, calibrated on EIE Table II (docs/area.md).

One law per Table II module, each a function of the :class:`~eie.config.EIEConfig` fields
the module is built from, with coefficients fitted so that the paper's design point
reproduces Table II exactly (per PE 638,024 µm²) and the 64-PE chip its 40.8 mm²:

* SRAM macro (sparse matrix, pointer banks, activation SRAM):
  ``a · bits + b · sqrt(bits · width)``, a cell term and a periphery term, ``a`` and ``b``
  solved from SpmatRead (128 KiB read 64 bits wide) and PtrRead (two 16 KiB banks, 16 bits);
* ActRW: the activation SRAM plus register-file bits (source ``act_bits``, destination
  ``acc_bits`` wide);
* ArithmUnit: cells of a multiplier (``act_bits x codebook_bits``), adder and rounding
  shifter (``acc_bits``), pipeline registers, the codebook and the row-address accumulator;
* activation queue: ``queue_depth`` entries of an activation and a column index;
* filler: a fixed fraction of the placed cells;
* CCU: the LNZD nodes (``lnzd_nodes``, fan-in ``lnzd_fanin``) outside the PEs.

Areas in µm² per PE unless said otherwise; the chip in mm².
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from .config import EIEConfig

__all__ = ["TABLE2_UM2", "TABLE2_PE_UM2", "TABLE2_BY_TYPE_UM2", "PAPER_CHIP_MM2", "PE_COMPONENTS", "AreaModel",
           "AreaReport", "calibrate_area", "sram_um2", "arith_cells", "queue_entry_bits", "lnzd_node_cells",
           "estimate_area"]

#: EIE Table II: area of one PE by module, 45 nm (µm²).
TABLE2_UM2 = {"spmat_read": 469_412, "ptr_read": 121_849, "act_rw": 18_934, "arith": 3_110, "act_queue": 758,
              "filler": 23_961}
#: Table II's total per PE (the modules add up to it exactly).
TABLE2_PE_UM2 = 638_024
#: Table II by type (µm²): memory, clock network, registers, combinational; with the filler
#: they add up to the total.
TABLE2_BY_TYPE_UM2 = {"memory": 594_786, "clock": 866, "registers": 9_465, "combinational": 8_946}
#: EIE Sec V: the 64-PE chip.
PAPER_CHIP_MM2 = 40.8

#: Per-PE components of :class:`AreaReport`, in Table II's order.
PE_COMPONENTS = ("spmat_read", "ptr_read", "act_rw", "arith", "act_queue", "filler")

_REF = EIEConfig()


def sram_bits(kb: float) -> float:
    return kb * 8192


def sram_um2(bits: float, width: float, model: AreaModel) -> float:
    """One SRAM macro of ``bits`` bits read ``width`` bits at a time:
    ``a · bits + b · sqrt(bits · width)`` (cells, plus periphery: decoders and word-line
    drivers along the rows, sense amplifiers and I/O along the read width)."""
    return model.sram_bit_um2 * bits + model.sram_periphery_um2 * math.sqrt(bits * width)


def arith_cells(config: EIEConfig) -> dict:
    """Cells of the arithmetic unit (one cell ~ a full adder or a flip-flop), by part:
    the multiplier array ``act_bits x codebook_bits``, the accumulate adder and the rounding
    shifter (``acc_bits`` each), the pipeline registers (activation, codebook value, product,
    sum), the codebook (``2**weight_bits x codebook_bits``) and the row-address accumulator
    (``index_bits`` + bits of a destination address)."""
    a, c, acc = config.act_bits, config.codebook_bits, config.acc_bits
    return {
        "multiplier": a * c,
        "adder_shifter": 2 * acc,
        "pipeline_registers": a + c + (a + c) + acc,
        "codebook": config.codebook_size * c,
        "address": config.index_bits + max(1, math.ceil(math.log2(config.regfile_entries))),
    }


def queue_entry_bits(config: EIEConfig) -> int:
    """Bits of one activation-queue entry: the activation and its column index (any column
    the activation SRAMs hold, plus the bias column)."""
    columns = config.act_sram_entries * config.pes + 1
    return config.act_bits + max(1, math.ceil(math.log2(columns)))


def lnzd_node_cells(config: EIEConfig) -> int:
    """Cells of one LNZD node: a ``lnzd_fanin``-way selection of an activation and its
    non-zero flag."""
    return config.lnzd_fanin * (config.act_bits + 1)


@dataclass(frozen=True)
class AreaModel:
    """The fitted coefficients (µm²), from :func:`calibrate_area`."""

    sram_bit_um2: float          # SRAM cell term, per bit
    sram_periphery_um2: float    # SRAM periphery term, per sqrt(bit x read width)
    regfile_bit_um2: float       # ActRW register files, per bit
    cell_um2: float              # one arithmetic cell (also the LNZD's)
    queue_bit_um2: float         # activation queue, per entry bit
    filler_fraction: float       # filler / placed cells

    def to_dict(self) -> dict:
        return {k: float(v) for k, v in self.__dict__.items()}


@cache
def calibrate_area() -> AreaModel:
    """Fit the coefficients to Table II at the paper's design point (docs/area.md):

    - ``a``, ``b``: the two equations SpmatRead = sram(1,048,576 bits, 64 wide) and PtrRead
      = 2 x sram(131,072 bits, 16 wide), solved exactly;
    - register-file bit: what ActRW leaves after its 2 KiB activation SRAM, over its
      2 x 64 x 16 register-file bits;
    - cell: ArithmUnit over :func:`arith_cells` (634 at the design point);
    - queue bit: the activation queue over 8 x :func:`queue_entry_bits` (33) bits;
    - filler fraction: filler over the other modules (23,961 / 614,063).
    """
    c = _REF
    b1, w1 = sram_bits(c.spmat_kb), c.line_bits
    b2, w2 = sram_bits(c.ptr_kb) / 2, c.ptr_bits
    # a*b1 + b*sqrt(b1 w1) = S;  2 a*b2 + 2 b*sqrt(b2 w2) = P  (Cramer's rule)
    s, p = TABLE2_UM2["spmat_read"], TABLE2_UM2["ptr_read"]
    m11, m12, m21, m22 = b1, math.sqrt(b1 * w1), 2 * b2, 2 * math.sqrt(b2 * w2)
    det = m11 * m22 - m12 * m21
    a = (s * m22 - m12 * p) / det
    b = (m11 * p - m21 * s) / det
    partial = AreaModel(a, b, 0.0, 0.0, 0.0, 0.0)
    act_sram = sram_um2(sram_bits(c.act_sram_kb), c.act_bits, partial)
    rf_bits = c.regfile_entries * (c.act_bits + c.acc_bits)
    placed = TABLE2_PE_UM2 - TABLE2_UM2["filler"]
    return AreaModel(
        sram_bit_um2=a, sram_periphery_um2=b,
        regfile_bit_um2=(TABLE2_UM2["act_rw"] - act_sram) / rf_bits,
        cell_um2=TABLE2_UM2["arith"] / sum(arith_cells(c).values()),
        queue_bit_um2=TABLE2_UM2["act_queue"] / (c.queue_depth * queue_entry_bits(c)),
        filler_fraction=TABLE2_UM2["filler"] / placed,
    )


@dataclass(frozen=True)
class AreaReport:
    """Area of one configuration: per PE by component (µm²), the LNZD tree outside the PEs
    (µm²), the chip (mm²) and the SRAM share of a PE."""

    spmat_read: float
    ptr_read: float
    act_rw: float
    arith: float
    act_queue: float
    filler: float
    pe_um2: float
    sram_um2: float          # the SRAM macros of a PE (sparse matrix, pointers, activations)
    lnzd_um2: float          # the LNZD nodes of the whole array
    chip_mm2: float
    pes: int

    @property
    def by_component_um2(self) -> dict:
        """Per PE, Table II's modules."""
        return {name: getattr(self, name) for name in PE_COMPONENTS}

    @property
    def chip_by_component_mm2(self) -> dict:
        """The chip: each PE module times the PEs, plus the LNZD tree (``ccu``)."""
        out = {name: getattr(self, name) * self.pes * 1e-6 for name in PE_COMPONENTS}
        out["ccu"] = self.lnzd_um2 * 1e-6
        return out

    @property
    def sram_share(self) -> float:
        return self.sram_um2 / self.pe_um2

    def to_dict(self) -> dict:
        return {"pe_um2": float(self.pe_um2), "by_component_um2": {k: float(v) for k, v in self.by_component_um2.items()},
                "chip_mm2": float(self.chip_mm2),
                "chip_by_component_mm2": {k: float(v) for k, v in self.chip_by_component_mm2.items()},
                "lnzd_um2": float(self.lnzd_um2), "sram_share": float(self.sram_share), "pes": int(self.pes)}

    def format_table(self) -> str:
        rows = [f"{'component':<12}{'per PE (um2)':>15}{'share':>9}{'chip (mm2)':>13}"]
        chip = self.chip_by_component_mm2
        for name in PE_COMPONENTS:
            v = getattr(self, name)
            rows.append(f"{name:<12}{v:>15,.0f}{v / self.pe_um2:>9.1%}{chip[name]:>13.3f}")
        rows.append(f"{'ccu (LNZD)':<12}{'':>15}{'':>9}{chip['ccu']:>13.4f}")
        rows.append(f"{'total':<12}{self.pe_um2:>15,.0f}{1:>9.1%}{self.chip_mm2:>13.3f}")
        rows.append(f"{self.pes} PEs of {self.pe_um2 / 1e6:.4g} mm2 (SRAM {self.sram_share:.1%}); "
                    f"chip {self.chip_mm2:.4g} mm2 at 45 nm")
        return "\n".join(rows)


def estimate_area(config: EIEConfig, model: AreaModel | None = None) -> AreaReport:
    """Area of ``config`` by the laws of docs/area.md (``model`` default: :func:`calibrate_area`)."""
    m = calibrate_area() if model is None else model
    c = config
    spmat = sram_um2(sram_bits(c.spmat_kb), c.line_bits, m)
    ptr = 2 * sram_um2(sram_bits(c.ptr_kb) / 2, c.ptr_bits, m)
    act_sram = sram_um2(sram_bits(c.act_sram_kb), c.act_bits, m)
    act_rw = act_sram + m.regfile_bit_um2 * c.regfile_entries * (c.act_bits + c.acc_bits)
    arith = m.cell_um2 * sum(arith_cells(c).values())
    queue = m.queue_bit_um2 * c.queue_depth * queue_entry_bits(c)
    placed = spmat + ptr + act_rw + arith + queue
    filler = m.filler_fraction * placed
    pe = placed + filler
    lnzd = c.lnzd_nodes * lnzd_node_cells(c) * m.cell_um2
    return AreaReport(spmat, ptr, act_rw, arith, queue, filler, pe, spmat + ptr + act_sram, lnzd,
                      (c.pes * pe + lnzd) * 1e-6, c.pes)
