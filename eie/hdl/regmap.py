"""The host register map of :class:`eie.hdl.top.EIETop` [arch §5.7]: one owner for every
address, control bit, status bit, latency and the version number.

Plain Python (no Amaranth import): the RTL (``top.py``, ``pe.py``) builds its decoders from
these names and the host driver (:mod:`eie.flow.host`) its bus cycles, so a driver for a
board needs neither Amaranth nor a simulator.  On a 32-bit bus (the Wishbone slave, the UART
bridge of the board builds) each host word is split into 32-bit words: :mod:`.busmap`.

Bus
---
``addr``, ``wdata`` (``data_bits`` = max(32, line_bits, acc_bits, ...) bits), ``we``,
``re`` are sampled every cycle; ``rdata`` is valid with ``rvalid`` :data:`READ_LATENCY`
cycles after ``re``.  One access per cycle; reads can be issued back to back.  A write
takes effect two cycles after it is on the bus, so a ``ctrl`` write right after memory
writes sees them.  PE memories and registers must not be accessed while ``busy``
(writes are dropped, reads return datapath traffic).  Outputs: ``busy`` (a pass or a
write-back is running) and ``done`` (high in the pass's last cycle c_done).

Address (LSB first; widths from :class:`~eie.hdl.params.HWConfig`)
-------------------------------------------------------------------
===================  ========  =============================================================
field                bits      meaning
===================  ========  =============================================================
offset               OB        word inside the memory / register number
mem                  3         :data:`MEM`: 0 ptr_even, 1 ptr_odd, 2 spmat (lines),
                               3 codebook, 4 act (source bank), 5 out (read: write-out of
                               the destination entry; write: preload the entry, see below),
                               6 act_next (the other bank), 7 counters (read, per PE, in
                               the order of :data:`PE_COUNTERS`)
pe                   PB        PE index (PB = ceil(log2 N) bits, 0 for N = 1); a read
                               of an index >= N returns 0
bcast                1         write every PE (reads return PE ``pe``)
global               1         the global registers :data:`GLOBAL_REGS` (offset = register)
===================  ========  =============================================================

``OB = max(4, address bits of spmat_lines, ptr_words, act_depth, dst_depth, weight_bits)``
(:attr:`~eie.hdl.params.HWConfig.offset_bits`).

Destination preload (a full-precision bias [arch §2]): a write to ``out`` entry r sets that
accumulator to the written ``acc_bits`` word (signed, the low bits of ``wdata``) and marks it
valid.  A start clears the destination file (every valid bit off: entries read as 0) unless
the ``ctrl`` word that starts it also has :data:`CTRL_KEEP_ACC`; then the pass accumulates
onto the file as it is, so the host writes every entry r < ``regfile_entries`` of every PE
before such a start (0 where the pass has no output: the write-back copies them all).

Global registers (:data:`GLOBAL_REGS`): ``ctrl`` (W: :data:`CTRL_START` starts a pass,
with :data:`CTRL_KEEP_ACC` keeping the preloaded destination file,
:data:`CTRL_WRITEBACK` copies the write-out into the next bank), ``status`` (R:
:data:`STATUS_BUSY`, :data:`STATUS_DONE` since the last start, :data:`STATUS_SRC_SEL`,
:data:`STATUS_FAULT`: a prefetch FIFO under- or overflowed, never expected), ``groups``
(G = Cp/N), ``bias_act`` (1 << fa), ``shift`` (fa+fw−fo), ``relu``, ``wb_base``,
``src_sel``, the counters :data:`GLOBAL_COUNTERS` (32 bits, cleared by a start), ``pes``,
``version`` (:data:`HW_VERSION`), ``ptr_base`` (pointer-bank word of the pass's
``p_0``/``p_1``), ``spmat_base`` (line of the pass's entry 0).
"""

from __future__ import annotations

from .params import COUNTER_BITS, PREROLL

__all__ = ["MEM", "PE_COUNTERS", "GLOBAL_REGS", "GLOBAL_COUNTERS", "CTRL_START", "CTRL_WRITEBACK", "CTRL_KEEP_ACC",
           "CTRL_BITS", "HOST_WRITTEN", "GLOBAL_SEL_BITS",
           "STATUS_BUSY", "STATUS_DONE", "STATUS_SRC_SEL", "STATUS_FAULT", "READ_LATENCY", "WRITE_LATENCY",
           "START_DELAY", "HW_VERSION", "COUNTER_BITS", "MEM_BITS", "HostMap"]

#: the ``mem`` field of a PE address
MEM = {"ptr_even": 0, "ptr_odd": 1, "spmat": 2, "codebook": 3, "act": 4, "out": 5, "act_next": 6,
       "counters": 7}
#: width of the ``mem`` field
MEM_BITS = 3
#: per-PE counters, in register order (``mem`` = counters, offset = the index here)
PE_COUNTERS = ("entries", "padding", "empty_columns", "line_reads", "pops", "bypasses")
#: global registers (``global`` = 1, offset = the number here)
GLOBAL_REGS = {"ctrl": 0, "status": 1, "groups": 2, "bias_act": 3, "shift": 4, "relu": 5, "wb_base": 6,
               "src_sel": 7, "cycles": 8, "broadcasts": 9, "stall_cycles": 10, "groups_scanned": 11,
               "pes": 12, "version": 13, "ptr_base": 14, "spmat_base": 15}
#: the array's counters among the global registers
GLOBAL_COUNTERS = ("cycles", "broadcasts", "stall_cycles", "groups_scanned")
#: the global registers the host writes and reads back (``ctrl`` is a command, the rest read only)
HOST_WRITTEN = ("groups", "bias_act", "shift", "relu", "wb_base", "src_sel", "ptr_base", "spmat_base")
#: the offset bits that choose a global register on a read (higher bits are ignored there;
#: a write compares the whole offset)
GLOBAL_SEL_BITS = (max(GLOBAL_REGS.values())).bit_length()

# ---- ctrl (write) ---------------------------------------------------------------------------
#: ``ctrl`` bit 0: start a pass (ignored while busy)
CTRL_START = 0
#: ``ctrl`` bit 1: write-back, copy the destination file's write-out into the next bank
CTRL_WRITEBACK = 1
#: ``ctrl`` bit 2, with a start: keep the destination file (the accumulators start from what
#: the host preloaded through ``out``, a full-precision bias) instead of clearing it
CTRL_KEEP_ACC = 2
#: the value of each control action, ``ctrl = CTRL_BITS[name]`` (``start | keep_acc`` starts a
#: pass on a preloaded destination file)
CTRL_BITS = {"start": 1 << CTRL_START, "writeback": 1 << CTRL_WRITEBACK, "keep_acc": 1 << CTRL_KEEP_ACC}

# ---- status (read) --------------------------------------------------------------------------
STATUS_BUSY = 0
STATUS_DONE = 1
STATUS_SRC_SEL = 2
#: sticky prefetch fault (a FIFO under- or overflowed; never expected)
STATUS_FAULT = 3

# ---- timing of the port -------------------------------------------------------------------
#: cycles from a read on the bus to ``rdata`` with ``rvalid`` (8 since version 5: the choice
#: among the PEs' words has a cycle of its own)
READ_LATENCY = 8
#: cycles from a write on the bus to its effect (a ``ctrl`` write sees the writes before it;
#: an ``out`` write lands a cycle later inside the PE, which no host access can observe: a
#: read issued after it returns it, and a pass starts ``START_DELAY`` cycles after its ``ctrl``)
WRITE_LATENCY = 2
#: cycles from the cycle a ``ctrl`` start takes effect to the pass's cycle −1: one arm
#: cycle, then the pre-roll (``PREROLL``: the source prefetch and the pre-scanner's lead)
START_DELAY = 1 + PREROLL
#: value of the ``version`` register (bump when the host protocol changes; 4: ``out`` writes
#: preload the destination file, ``ctrl`` bit :data:`CTRL_KEEP_ACC`; 5: ``READ_LATENCY`` 8;
#: 6: ``START_DELAY`` 16, the announce bus's fan-out tree)
HW_VERSION = 6


class HostMap:
    """Addresses of the host port for one :class:`~eie.hdl.params.HWConfig`.

    The fields' positions (the RTL's decoders use them too): ``offset`` is bits
    ``0 .. ob−1``, ``mem`` starts at :attr:`mem_lsb`, ``pe`` at :attr:`pe_lsb` (``pb`` bits),
    then the :attr:`bcast_bit` and the :attr:`global_bit`.
    """

    def __init__(self, hw):
        self.hw = hw
        self.ob = hw.offset_bits
        self.pb = hw.pe_bits
        self.mem_lsb = self.ob
        self.pe_lsb = self.mem_lsb + MEM_BITS
        self.bcast_bit = self.pe_lsb + self.pb
        self.global_bit = self.bcast_bit + 1

    def pe(self, p: int, mem: str, offset: int) -> int:
        """Word ``offset`` of memory ``mem`` of PE ``p``."""
        if not 0 <= p < self.hw.pes:
            raise ValueError(f"PE index must be in [0, {self.hw.pes - 1}], not {p!r}")
        if not 0 <= offset < (1 << self.ob):
            raise ValueError(f"offset must be in [0, {(1 << self.ob) - 1}], not {offset!r}")
        return offset | (MEM[mem] << self.mem_lsb) | (p << self.pe_lsb)

    def bcast(self, mem: str, offset: int) -> int:
        """Word ``offset`` of memory ``mem`` of every PE (writes only)."""
        return offset | (MEM[mem] << self.mem_lsb) | (1 << self.bcast_bit)

    def reg(self, name: str) -> int:
        """Global register ``name`` (:data:`GLOBAL_REGS`)."""
        return GLOBAL_REGS[name] | (1 << self.global_bit)

    def decode(self, addr: int) -> tuple[str, int | None, str | None, int]:
        """``(kind, pe, mem, offset)`` of a host address: kind ``"reg"`` (mem is the
        register's name), ``"pe"`` or ``"bcast"`` (pe None)."""
        offset = addr & ((1 << self.ob) - 1)
        if (addr >> self.global_bit) & 1:
            return "reg", None, _REG_NAMES.get(offset), offset
        mem = _MEM_NAMES[(addr >> self.mem_lsb) & ((1 << MEM_BITS) - 1)]
        if (addr >> self.bcast_bit) & 1:
            return "bcast", None, mem, offset
        return "pe", (addr >> self.pe_lsb) & ((1 << self.pb) - 1), mem, offset


_MEM_NAMES = {v: k for k, v in MEM.items()}
_REG_NAMES = {v: k for k, v in GLOBAL_REGS.items()}
