"""`HWConfig`: an `EIEConfig` plus the memory depths of one bitstream [arch §1].

The contract sizes every SRAM in KiB (`spmat_kb`, `ptr_kb`, `act_sram_kb`); an FPGA build
usually wants smaller memories than the paper's ASIC.  `HWConfig` keeps the `EIEConfig`
(widths, N, queue depth, LNZD fan-in: everything that changes behaviour) and adds the
depths of the per-PE memories, which only bound what fits.  Every RTL unit takes one.

This module imports nothing from Amaranth so that host drivers can use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config import EIEConfig
from ..errors import ConfigError

__all__ = ["HWConfig", "bits_for", "DEPTHS", "COUNTER_BITS", "VENDORS", "DESC_FIFOS", "DESC_FIFO_DEFAULT", "BRAM_LATENCY",
           "GROUP_SLOTS", "LEAD", "ITEM_SLOTS", "PREROLL", "SELECT_COPIES", "POP_COPIES", "SHIFT_COPIES", "announce_groups"]

#: the memory depths of one build (per PE), each an :class:`HWConfig` field, with its unit
DEPTHS = {"spmat_lines": "sparse-matrix lines (of line_bits bits)",
          "ptr_words": "words of each pointer bank (of ptr_bits bits)",
          "act_depth": "activations in each of the two activation banks",
          "dst_depth": "destination register-file entries"}

#: width of every statistics counter (per PE and global)
COUNTER_BITS = 32
#: copies of the select register of each wide read multiplexer of the host port (the PE's
#: word choice, the array's PE and global-or-PE choices): each copy drives one slice of the
#: data_bits-wide word, so no flip-flop fans out to every bit (on the ECP5 reference the
#: 64-bit choice behind one select register was a critical path: 8.4 ns of routing)
SELECT_COPIES = 4
#: copies of a PE's pop decision, each moving one slice of the descriptor FIFO's head and
#: next registers (~70 bits each; one pop LUT driving all of them was a critical path)
POP_COPIES = 4
#: copies of the static ``shift`` in each PE's arithmetic, each driving the round-shift of
#: a slice of the accumulator's addend (one register fanned out to the whole barrel shifter
#: was a critical path)
SHIFT_COPIES = 3

#: memory primitives the RTL can instantiate: ``generic`` (behavioural Amaranth ``Memory``,
#: what simulation and every other flow use), ``ecp5`` (DP16KD with ``REGMODE=OUTREG``),
#: ``ice40`` (behavioural; yosys infers SB_RAM40_4K plus a fabric output register)
VENDORS = ("generic", "ecp5", "ice40")

#: how each PE's column-descriptor FIFO (:mod:`eie.hdl.act_queue`) is built: ``lutram`` (a
#: combinational read at a registered address: distributed RAM on ECP5, the fastest form) or
#: ``bram`` (a synchronous, write-transparent read addressed one cycle early, forced into
#: block RAM: SB_RAM40_4K on iCE40, which has no LUT RAM).  Same behaviour, other netlist.
DESC_FIFOS = ("lutram", "bram")
#: the descriptor FIFO of each vendor when :attr:`HWConfig.desc_fifo` is not given
DESC_FIFO_DEFAULT = {"generic": "lutram", "ecp5": "lutram", "ice40": "bram"}

# ---- front-end prefetch (see eie/hdl/README.md, "Pipelining") -------------------------------
#: every block RAM read: address in cycle c, data in cycle c+2 (array latch + output register)
BRAM_LATENCY = 2
#: source prefetch: ``rd_en`` in cycle c, the PE's source word registered on ``data`` in
#: c+3 (block RAM, then the bank multiplexer into a register: no compare behind a block RAM)
SRC_LATENCY = BRAM_LATENCY + 1
#: group slots of the CCU's source prefetch buffer (a power of two; >= 6 sustains a group/cycle)
GROUP_SLOTS = 8
#: cycles the pre-scanner runs ahead of the broadcaster (the element lead): >= 10 is needed
#: for a column's pointer descriptor to be at the PE's (registered) FIFO head the cycle before
#: the column can first be popped (the line-memory look-ahead reads it then): the announce
#: register, its group copy (:func:`announce_groups`), the PE's copy, then the pointer
#: pipeline; one spare
LEAD = 11
#: items (one per search: an element or a bubble) the pre-scanner may run ahead
ITEM_SLOTS = LEAD + 2
#: cycles from the ``arm`` cycle (the host's start takes effect) to the pass's cycle −1:
#: the source prefetch needs 4 before the pre-scanner's first search, then the lead
PREROLL = 1 + SRC_LATENCY + LEAD


def announce_groups(pes: int) -> list[range]:
    """The announce bus's fan-out tree: the CCU's announce register feeds one registered copy
    per group of ``ceil(sqrt(pes))`` consecutive PEs, and each group copy feeds its PEs'
    own copies, so no announce net drives more than about sqrt(N) far-apart flip-flops
    (on an ECP5-85k with 16 PEs the single register driving every PE was the critical
    path).  Consecutive PEs share a group because a floorplan puts them side by side."""
    if isinstance(pes, bool) or not isinstance(pes, int) or pes < 1:
        raise ValueError(f"pes must be a positive integer, not {pes!r}")
    size = math.isqrt(pes - 1) + 1 if pes > 1 else 1
    return [range(g, min(g + size, pes)) for g in range(0, pes, size)]


def bits_for(n: int) -> int:
    """Bits of an unsigned signal that holds every value in ``0 .. n`` (at least 1)."""
    return max(1, int(n).bit_length())


def _addr_bits(depth: int) -> int:
    """Address bits of a memory of ``depth`` words (0 for a single word)."""
    return max(0, (depth - 1).bit_length())


@dataclass(frozen=True)
class HWConfig:
    """The hardware parameters of one EIE array bitstream.

    Parameters
    ----------
    config : the array (widths, PEs, queue depth, LNZD fan-in) [arch §1].
    spmat_lines : sparse-matrix lines per PE (default: ``config.spmat_lines``).
    ptr_words : words of *each* pointer bank per PE (default: half of ``config.ptr_capacity``,
        rounded up).  A pass with ``Cp`` columns needs ``(Cp + 1) // 2 + 1`` words
        (with the bias column, ``Cp + 1`` columns have ``Cp + 2`` pointers, even ones in one
        bank; :func:`eie.compile.memory_needs`).
    act_depth : activations per PE in each of the two activation banks (default:
        ``config.act_sram_entries``).  Holds ``G = Cp / N`` groups, so ``Cp <= act_depth * N``.
    dst_depth : destination register-file entries per PE (default: ``config.regfile_entries``).
        The row passes of the compiler use ``config.regfile_entries``; ``dst_depth`` must
        not be smaller.
    vendor : memory primitives (:data:`VENDORS`); changes the netlist, never the behaviour.
    desc_fifo : how the column-descriptor FIFOs are built (:data:`DESC_FIFOS`; default, and
        ``None``: the vendor's, :data:`DESC_FIFO_DEFAULT`); changes the netlist, never the
        behaviour.  Stored as ``None`` when it is the vendor's default (so equal hardware
        compares equal, and ``dataclasses.replace(hw, vendor=...)`` takes the new vendor's);
        :attr:`desc_fifo_ram` is the form used.
    """

    config: EIEConfig
    spmat_lines: int | None = None
    ptr_words: int | None = None
    act_depth: int | None = None
    dst_depth: int | None = None
    vendor: str = "generic"
    desc_fifo: str | None = None

    def __post_init__(self):
        if not isinstance(self.config, EIEConfig):
            raise ConfigError(f"config must be an EIEConfig, not {type(self.config).__name__}")
        cfg = self.config
        defaults = {"spmat_lines": cfg.spmat_lines, "ptr_words": -(-cfg.ptr_capacity // 2),
                    "act_depth": cfg.act_sram_entries, "dst_depth": cfg.regfile_entries}
        for name, default in defaults.items():
            value = getattr(self, name)
            if value is None:
                object.__setattr__(self, name, default)
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= (1 << 24):
                raise ConfigError(f"{name} must be an integer in [1, {1 << 24}], not {value!r}")
        if self.vendor not in VENDORS:
            raise ConfigError(f"vendor must be one of {', '.join(VENDORS)}, not {self.vendor!r}")
        if self.desc_fifo is not None and self.desc_fifo not in DESC_FIFOS:
            raise ConfigError(f"desc_fifo must be one of {', '.join(DESC_FIFOS)}, not {self.desc_fifo!r}")
        if self.desc_fifo == DESC_FIFO_DEFAULT[self.vendor]:
            object.__setattr__(self, "desc_fifo", None)
        if self.dst_depth < cfg.regfile_entries:
            raise ConfigError(
                f"dst_depth must be at least regfile_entries={cfg.regfile_entries} (a row pass fills "
                f"that many outputs per PE), not {self.dst_depth!r}")

    # ---- widths -------------------------------------------------------------------
    @property
    def pes(self) -> int:
        return self.config.pes

    @property
    def max_groups(self) -> int:
        """Largest G (the bias group's index) a pass may have."""
        return self.act_depth

    @property
    def group_bits(self) -> int:
        return bits_for(self.max_groups)

    @property
    def col_bits(self) -> int:
        """Width of a column index j (0 .. Cp, the bias column included)."""
        return bits_for(self.max_groups * self.pes)

    @property
    def pos_bits(self) -> int:
        """Width of a position q inside a group (0 .. N-1), and of q+1."""
        return bits_for(self.pes)

    @property
    def line_addr_bits(self) -> int:
        return _addr_bits(self.spmat_lines)

    @property
    def ptr_addr_bits(self) -> int:
        return _addr_bits(self.ptr_words)

    @property
    def act_addr_bits(self) -> int:
        return _addr_bits(self.act_depth)

    @property
    def timing_registers(self) -> bool:
        """Fan-out copies and early decodes (``SELECT_COPIES``, ``POP_COPIES``,
        ``SHIFT_COPIES``, the destination file's one-hots, the two-step global register read)
        are built: they shorten routes on ECP5 (and in the generic netlist, which the
        co-simulation checks); on iCE40, a single PE at a few tens of MHz where every
        flip-flop costs a logic cell, they are left out (the iCEBreaker's UP5K filled to
        90.4 % with them).  Changes the netlist, never the behaviour."""
        return self.vendor != "ice40"

    def copies(self, n: int) -> int:
        """``n`` fan-out copies, or one without :attr:`timing_registers`."""
        return n if self.timing_registers else 1

    @property
    def row_bits(self) -> int:
        return max(1, _addr_bits(self.dst_depth))

    @property
    def product_bits(self) -> int:
        return self.config.act_bits + self.config.codebook_bits

    @property
    def data_bits(self) -> int:
        """Width of the host data bus: the widest word any memory or register holds."""
        c = self.config
        return max(32, c.line_bits, c.acc_bits, c.ptr_bits, c.codebook_bits, c.act_bits, COUNTER_BITS)

    @property
    def offset_bits(self) -> int:
        """Host address bits of the offset inside one memory (the deepest one, or 16 registers)."""
        c = self.config
        return max(4, _addr_bits(self.spmat_lines), _addr_bits(self.ptr_words), _addr_bits(self.act_depth),
                   _addr_bits(self.dst_depth), c.weight_bits)

    @property
    def desc_depth(self) -> int:
        """Column descriptors a PE holds (announced, not yet popped): the pre-scanner's items
        plus a full queue (one spare)."""
        return ITEM_SLOTS + self.config.queue_depth + 1

    @property
    def desc_fifo_ram(self) -> str:
        """The descriptor FIFO's form (:data:`DESC_FIFOS`): ``desc_fifo`` or the vendor's default."""
        return self.desc_fifo or DESC_FIFO_DEFAULT[self.vendor]

    @property
    def pe_bits(self) -> int:
        return _addr_bits(self.pes)

    @property
    def host_addr_bits(self) -> int:
        return self.offset_bits + 3 + self.pe_bits + 2

    def to_dict(self) -> dict:
        """JSON-ready fields (:meth:`from_dict` reads them back)."""
        return {"config": self.config.to_dict(), "spmat_lines": self.spmat_lines, "ptr_words": self.ptr_words,
                "act_depth": self.act_depth, "dst_depth": self.dst_depth, "vendor": self.vendor,
                "desc_fifo": self.desc_fifo_ram}

    @classmethod
    def from_dict(cls, d: dict) -> HWConfig:
        return cls(EIEConfig.from_dict(d["config"]), d["spmat_lines"], d["ptr_words"], d["act_depth"],
                   d["dst_depth"], d.get("vendor", "generic"), d.get("desc_fifo"))

    def key(self) -> str:
        """A stable text that names this hardware: everything the netlist depends on (for build
        caches).  The clock and the SRAM sizes in KiB are left out: the clock only scales time,
        and the KiB only give the depths' defaults, which are in the key themselves."""
        fields = self.config.to_dict()
        for name in ("clock_mhz", "spmat_kb", "ptr_kb", "act_sram_kb"):
            fields.pop(name)
        fields.update(spmat_lines=self.spmat_lines, ptr_words=self.ptr_words, act_depth=self.act_depth,
                      dst_depth=self.dst_depth)
        if self.vendor != "generic":
            fields["vendor"] = self.vendor
        if self.desc_fifo is not None:                  # not the vendor's default
            fields["desc_fifo"] = self.desc_fifo
        return ",".join(f"{k}={fields[k]}" for k in sorted(fields))
