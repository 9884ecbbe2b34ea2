"""`EIEConfig`: the one description of an EIE array [arch §1].

The same object parameterises the compiler, the cycle-accurate model, the RTL and the
energy model.  It is frozen and checks every field on construction, so an invalid
configuration can never reach a simulator.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from .errors import ConfigError, first_repeat
from .fileio import read_text

__all__ = ["EIEConfig", "FIELD_DOCS", "to_toml", "flag"]

#: what each field means, its unit and whether it is per PE (the CLI's help text, ``eie config``)
FIELD_DOCS = {
    "pes": "processing elements N (row i lives in PE i mod N)",
    "clock_mhz": "clock in MHz (turns cycles into time and energy into power)",
    "weight_bits": "bits of a weight code; the codebook has 2**weight_bits entries",
    "index_bits": "bits of the relative row index z; longer gaps are padded",
    "act_bits": "bits of an activation (two's complement)",
    "codebook_bits": "bits of a decoded codebook value",
    "acc_bits": "bits of an accumulator (destination register-file entry), >= act_bits",
    "ptr_bits": "bits of a column pointer",
    "line_bits": "bits of a sparse-matrix SRAM line (a multiple of weight_bits+index_bits)",
    "spmat_kb": "KiB of sparse-matrix SRAM per PE",
    "ptr_kb": "KiB of pointer SRAM per PE (both banks together)",
    "regfile_entries": "entries of the source and of the destination register file, per PE",
    "act_sram_kb": "KiB of activation SRAM per PE",
    "queue_depth": "entries the activation queue of each PE holds",
    "lnzd_fanin": "fan-in of a leading-non-zero-detection node",
}


def _check_int(name, value, lo, hi, extra=""):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer in [{lo}, {hi}]{extra}, not {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be an integer in [{lo}, {hi}]{extra}, not {value!r}")


def _check_positive(name, value, top: float, bottom: float = 0.0):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be a finite number > 0, not {value!r}")
    if value < bottom:
        raise ConfigError(f"{name} must be at least {bottom:g}, not {value!r}")
    if value > top:
        raise ConfigError(f"{name} must be at most {top:,}, not {value!r}")


#: the largest clock (MHz) and SRAM per PE (KiB) a configuration may name: far beyond any
#: design (the paper's: 800 MHz, 128 KiB), short of the infinities they made (power inf mW,
#: an energy table scaled past its limits)
MAX_CLOCK_MHZ, MAX_SRAM_KB = 100_000, 1 << 20
#: the smallest clock (MHz): 1 kHz; below it a layer's time overflows the float range
#: (``--clock-mhz 1e-320`` made the energy model's static energy NaN)
MIN_CLOCK_MHZ = 1e-3


def _no_duplicates(pairs: list) -> dict:
    """A JSON object whose keys are each given once (TOML refuses a duplicate by itself; JSON
    had kept the last of ``{"pes": 32, "pes": 16}`` without a word)."""
    dup = first_repeat(k for k, _ in pairs)
    if dup is not None:
        raise ValueError(f"key {dup!r} is given twice")
    return dict(pairs)


@dataclass(frozen=True)
class EIEConfig:
    """An EIE processing-element array.  Defaults are the paper's design point (ISCA 2016).

    Parameters
    ----------
    pes : number of processing elements N (row i lives in PE i mod N).
    clock_mhz : clock frequency used to turn cycles into time.
    weight_bits : width of a weight code; the codebook has ``2**weight_bits`` entries.
    index_bits : width of the relative row index z; gaps above ``2**index_bits - 1`` pad.
    act_bits : activation width (two's complement).
    codebook_bits : width of a decoded codebook value.
    acc_bits : width of an accumulator (destination register-file entry).
    ptr_bits : width of a column pointer.
    line_bits : sparse-matrix SRAM line width (a multiple of the entry width).
    spmat_kb, ptr_kb, act_sram_kb : SRAM per PE in KiB (sparse matrix, both pointer banks,
        activations).
    regfile_entries : entries of the source and of the destination register file per PE.
    queue_depth : activation-queue capacity (entries it holds) per PE.
    lnzd_fanin : fan-in of a leading-non-zero-detection node.
    """

    pes: int = 64
    clock_mhz: float = 800.0
    weight_bits: int = 4
    index_bits: int = 4
    act_bits: int = 16
    codebook_bits: int = 16
    acc_bits: int = 16
    ptr_bits: int = 16
    line_bits: int = 64
    spmat_kb: float = 128
    ptr_kb: float = 32
    regfile_entries: int = 64
    act_sram_kb: float = 2
    queue_depth: int = 8
    lnzd_fanin: int = 4

    def __post_init__(self):
        _check_int("pes", self.pes, 1, 4096)
        _check_positive("clock_mhz", self.clock_mhz, MAX_CLOCK_MHZ, MIN_CLOCK_MHZ)
        _check_int("weight_bits", self.weight_bits, 1, 8)
        _check_int("index_bits", self.index_bits, 1, 8)
        _check_int("act_bits", self.act_bits, 4, 32)
        _check_int("codebook_bits", self.codebook_bits, 4, 32)
        _check_int("acc_bits", self.acc_bits, self.act_bits, 48, " (at least act_bits)")
        _check_int("ptr_bits", self.ptr_bits, 8, 32)
        _check_int("line_bits", self.line_bits, 8, 1024)
        if self.line_bits % self.entry_bits:
            raise ConfigError(
                f"line_bits must be a multiple of the entry width weight_bits+index_bits="
                f"{self.entry_bits}, not {self.line_bits!r}")
        for name in ("spmat_kb", "ptr_kb", "act_sram_kb"):
            _check_positive(name, getattr(self, name), MAX_SRAM_KB)
        _check_int("regfile_entries", self.regfile_entries, 1, 1 << 16)
        _check_int("queue_depth", self.queue_depth, 1, 4096)
        _check_int("lnzd_fanin", self.lnzd_fanin, 2, 16)
        if self.spmat_lines < 1:
            raise ConfigError(f"spmat_kb must hold at least one {self.line_bits}-bit line, not {self.spmat_kb!r}")
        if self.ptr_capacity < 2:
            raise ConfigError(f"ptr_kb must hold at least two {self.ptr_bits}-bit pointers, not {self.ptr_kb!r}")

    # ---- derived quantities [arch §1] ------------------------------------------------
    @property
    def entry_bits(self) -> int:
        """Bits of one sparse-matrix entry (code + relative index)."""
        return self.weight_bits + self.index_bits

    @property
    def entries_per_line(self) -> int:
        return self.line_bits // self.entry_bits

    @property
    def codebook_size(self) -> int:
        return 1 << self.weight_bits

    @property
    def max_gap(self) -> int:
        """Largest z a real entry can carry; longer gaps need padding entries."""
        return (1 << self.index_bits) - 1

    @property
    def spmat_lines(self) -> int:
        return int(self.spmat_kb * 8192) // self.line_bits

    @property
    def spmat_capacity(self) -> int:
        """Entries the sparse-matrix SRAM of one PE holds."""
        return self.spmat_lines * self.entries_per_line

    @property
    def ptr_capacity(self) -> int:
        """Pointers the two pointer banks of one PE hold together."""
        return int(self.ptr_kb * 8192) // self.ptr_bits

    @property
    def max_pointer(self) -> int:
        return (1 << self.ptr_bits) - 1

    @property
    def act_sram_entries(self) -> int:
        """Activations one PE's activation SRAM holds."""
        return int(self.act_sram_kb * 8192) // self.act_bits

    @property
    def rows_per_pass(self) -> int:
        """Outputs one pass computes: the destination register files of all PEs."""
        return self.regfile_entries * self.pes

    @property
    def lnzd_nodes(self) -> int:
        """LNZD nodes in the tree (the root belongs to the CCU)."""
        n, total = self.pes, 0
        while True:
            n = -(-n // self.lnzd_fanin)
            total += n
            if n == 1:
                return total

    @property
    def cycle_ns(self) -> float:
        return 1e3 / self.clock_mhz

    # ---- construction -----------------------------------------------------------------
    def replace(self, **changes) -> EIEConfig:
        """A copy with some fields changed (checked like any other construction)."""
        self._check_keys(changes, "EIEConfig.replace")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def _check_keys(cls, data, where):
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"{where}: unknown configuration key {unknown[0]!r}; known keys are "
                f"{', '.join(sorted(known))}")

    @classmethod
    def from_dict(cls, data: dict, where: str = "configuration", base: EIEConfig | None = None) -> EIEConfig:
        """The configuration ``data`` names; the fields it omits are ``base``'s (default: the
        paper's design point)."""
        if not isinstance(data, dict):
            raise ConfigError(f"{where} must be a table of configuration keys, not {type(data).__name__}")
        cls._check_keys(data, where)
        try:
            return cls(**data) if base is None else base.replace(**data)
        except ConfigError as exc:
            if where == "configuration":
                raise
            raise ConfigError(f"{where}: {exc}") from None     # name the file the bad field came from

    @classmethod
    def from_file(cls, path, base: EIEConfig | None = None) -> EIEConfig:
        """Load a TOML (``.toml``) or JSON (``.json``) file of fields; unknown keys are errors.
        The fields it omits are ``base``'s (default: the paper's design point; a hardware
        command passes its own starting point, e.g. ``eie rtl`` the 4-PE FPGA reference).

        A TOML file may put the fields at top level or under an ``[eie]`` table.
        """
        path = Path(path)
        return cls.from_dict(cls.file_fields(path), where=f"config file {str(path)!r}", base=base)

    @classmethod
    def file_fields(cls, path) -> dict:
        """The fields a config file names (its table, not yet checked as a configuration)."""
        path = Path(path)
        where = f"config file {str(path)!r}"
        text = read_text(path, where, ConfigError)
        try:
            if path.suffix.lower() == ".json":
                data = json.loads(text, object_pairs_hook=_no_duplicates)
            else:
                data = tomllib.loads(text)
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{where} is not valid {path.suffix[1:] or 'TOML'}: {exc}") from None
        if isinstance(data, dict) and isinstance(data.get("eie"), dict):
            others = sorted(set(data) - {"eie"})
            if others:
                known = {f.name for f in fields(cls)}
                what = ("configuration key" if others[0] in known else "unknown key or table")
                raise ConfigError(f"{where}: {what} {others[0]!r} next to [eie]: a config file holds the fields "
                                  f"either all under [eie] or all at top level, and nothing else")
            data = data["eie"]
        return data


def to_toml(config: EIEConfig) -> str:
    """``config`` as a TOML file that :meth:`EIEConfig.from_file` reads back, one commented
    line per field."""
    lines = ["# EIE array configuration (eie --config FILE); the defaults are the paper's design point", "[eie]"]
    for f in fields(EIEConfig):
        v = getattr(config, f.name)
        lines.append(f"{f.name} = {v!r}  # {FIELD_DOCS[f.name]}")
    return "\n".join(lines) + "\n"


def flag(field: str) -> str:
    """The command-line flag of a configuration field or memory depth: ``spmat_kb`` -> ``--spmat-kb``
    (the one spelling the CLI and every message that names an option use)."""
    return "--" + field.replace("_", "-")
