"""Host interface of :class:`eie.hdl.top.EIETop`: address map, protocol and a driver that
runs compiled layers on any backend (Amaranth simulator, cocotb, a real board).

Bus
---
``addr``, ``wdata`` (``data_bits`` = max(32, line_bits, acc_bits, ...) bits), ``we``,
``re`` are sampled every cycle; ``rdata`` is valid with ``rvalid`` ``READ_LATENCY`` (7)
cycles after ``re``.  One access per cycle; reads can be issued back to back.  A write
takes effect two cycles after it is on the bus, so a ``CTRL`` write right after memory
writes sees them.  PE memories and registers must not be accessed while ``busy``
(writes are dropped, reads return datapath traffic).  Outputs: ``busy`` (a pass or a
write-back is running) and ``done`` (high in the pass's last cycle c_done).

Address (LSB first; widths from :class:`~eie.hdl.params.HWConfig`)
-------------------------------------------------------------------
===================  ========  =============================================================
field                bits      meaning
===================  ========  =============================================================
offset               OB        word inside the memory / register number
mem                  3         0 ptr_even, 1 ptr_odd, 2 spmat (lines), 3 codebook,
                               4 act (source bank), 5 out (read: write-out of the
                               destination entry), 6 act_next (the other bank),
                               7 counters (read, per PE: 0 entries, 1 padding,
                               2 empty_columns, 3 line_reads, 4 pops, 5 bypasses)
pe                   PB        PE index (PB = ceil(log2 N) bits, 0 for N = 1)
bcast                1         write every PE (reads return PE ``pe``)
global               1         the global registers below (offset = register)
===================  ========  =============================================================

``OB = max(4, address bits of spmat_lines, ptr_words, act_depth, dst_depth, weight_bits)``.

Global registers: 0 ``ctrl`` (W: bit0 start a pass, bit1 write-back), 1 ``status``
(R: bit0 busy, bit1 done since last start, bit2 src_sel, bit3 fault: a prefetch FIFO under-
or overflowed, never expected), 2 ``groups`` (G = Cp/N), 3 ``bias_act`` (1 << fa), 4 ``shift``
(fa+fw−fo), 5 ``relu``, 6 ``wb_base``, 7 ``src_sel``, 8 ``cycles``, 9 ``broadcasts``,
10 ``stall_cycles``, 11 ``groups_scanned``, 12 ``pes``, 13 ``version`` (2), 14 ``ptr_base``
(pointer-bank word where the pass's ``p_0``/``p_1`` are), 15 ``spmat_base`` (line where the
pass's entry 0 is).  Counters are 32 bits and cleared by ``start``.

Running a pass
--------------
1. write the pass's images: pointer banks, sparse-matrix lines, codebook (broadcast),
   source activations (input i → PE i mod N, address i div N; zeros up to Cp);
2. write ``groups``, ``bias_act``, ``shift``, ``relu`` (and the bases); write ``ctrl = 1``;
3. wait until ``busy`` falls; read ``cycles``, counters and the ``out`` words.
A start takes effect like any write, then the array spends one arm cycle and ``PREROLL``
pre-roll cycles prefetching (not part of the pass's cycles): the pass's cycle −1 is
``START_DELAY`` cycles after the cycle the ``ctrl`` write takes effect.
Resident passes: every pass's pointers and lines can stay loaded side by side (pass t at
``ptr_base``/``spmat_base`` offsets, :func:`resident_layout`); between passes only the
bases (and ``ctrl``) are written.
For on-chip layer chaining: ``ctrl = 2`` with ``wb_base = t·regfile_entries`` after pass t
copies the write-out into the next bank; then flip ``src_sel``.
"""

from __future__ import annotations

import numpy as np

from .params import PREROLL, HWConfig

__all__ = ["HostMap", "HostDriver", "LayerResult", "Timeout", "pass_image", "pass_writes", "layer_jobs", "to_signed",
           "resident_layout", "MEM", "PE_COUNTERS", "GLOBAL_REGS", "READ_LATENCY", "START_DELAY", "HW_VERSION",
           "STATUS_FAULT"]

# Kept here (not imported from the Amaranth modules) so that a driver needs no Amaranth.
MEM = {"ptr_even": 0, "ptr_odd": 1, "spmat": 2, "codebook": 3, "act": 4, "out": 5, "act_next": 6,
       "counters": 7}
PE_COUNTERS = ("entries", "padding", "empty_columns", "line_reads", "pops", "bypasses")
GLOBAL_REGS = {"ctrl": 0, "status": 1, "groups": 2, "bias_act": 3, "shift": 4, "relu": 5, "wb_base": 6,
               "src_sel": 7, "cycles": 8, "broadcasts": 9, "stall_cycles": 10, "groups_scanned": 11,
               "pes": 12, "version": 13, "ptr_base": 14, "spmat_base": 15}
READ_LATENCY = 7
#: cycles from the cycle a ``ctrl = start`` write takes effect to the pass's cycle −1
START_DELAY = 1 + PREROLL
#: value of the ``version`` register (bump when the host protocol changes)
HW_VERSION = 3
#: ``status`` bit of the sticky prefetch fault
STATUS_FAULT = 3
GLOBAL_COUNTERS = ("cycles", "broadcasts", "stall_cycles", "groups_scanned")


def to_signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


class HostMap:
    """Addresses of :class:`EIETop`'s host port for one :class:`HWConfig`."""

    def __init__(self, hw: HWConfig):
        self.hw = hw
        self.ob = hw.offset_bits
        self.pb = hw.pe_bits

    def pe(self, p: int, mem: str, offset: int) -> int:
        if not 0 <= p < self.hw.pes:
            raise ValueError(f"PE index must be in [0, {self.hw.pes - 1}], not {p!r}")
        if not 0 <= offset < (1 << self.ob):
            raise ValueError(f"offset must be in [0, {(1 << self.ob) - 1}], not {offset!r}")
        return offset | (MEM[mem] << self.ob) | (p << (self.ob + 3))

    def bcast(self, mem: str, offset: int) -> int:
        return offset | (MEM[mem] << self.ob) | (1 << (self.ob + 3 + self.pb))

    def reg(self, name: str) -> int:
        return GLOBAL_REGS[name] | (1 << (self.ob + 4 + self.pb))


def _check_fits(hw: HWConfig, compiled, t: int):
    cfg = hw.config
    if compiled.config != cfg:
        raise ValueError("the layer was compiled for another EIEConfig than the hardware's")
    ps = compiled.passes[t]
    groups = compiled.cp // cfg.pes
    need = {"act_depth": groups, "ptr_words": (compiled.cp + 1) // 2 + 1,
            "spmat_lines": int(-(-ps.entries_per_pe().max() // cfg.entries_per_line))}
    for name, value in need.items():
        if value > getattr(hw, name):
            raise ValueError(f"pass {t} of layer {compiled.name!r} needs {name} >= {value}, the hardware has "
                             f"{getattr(hw, name)}")


def _image_sizes(image: dict) -> tuple[int, int]:
    """(pointer words per bank, lines) an image occupies (the most of any PE)."""
    words = max(max(len(pe["ptr_even"]), len(pe["ptr_odd"])) for pe in image["pes"])
    lines = max(len(pe["lines"]) for pe in image["pes"])
    return words, lines


def resident_layout(hw: HWConfig, jobs) -> list[dict]:
    """Bases that keep every pass of ``jobs`` loaded at once: ``[{"ptr_base", "spmat_base"}]``.

    Pass t's pointers start at bank word ``Σ_{t'<t}`` (its pointer words) and its lines at
    ``Σ_{t'<t}`` (its lines).  Raises :class:`ValueError` naming the memory that overflows.
    """
    out, pw, ln = [], 0, 0
    for job in jobs:
        out.append({"ptr_base": pw, "spmat_base": ln})
        words, lines = _image_sizes(job["image"])
        pw += words
        ln += lines
    for name, need in (("ptr_words", pw), ("spmat_lines", ln)):
        if need > getattr(hw, name):
            raise ValueError(f"resident passes need {name} >= {need}, the hardware has {getattr(hw, name)}")
    return out


def pass_image(hw: HWConfig, compiled, t: int, a_q, cb_q, shift: int, relu: bool, bias_act: int) -> dict:
    """Memory and register contents for pass ``t`` (``EIETop(image=...)`` or :func:`pass_writes`)."""
    _check_fits(hw, compiled, t)
    cfg = hw.config
    n = cfg.pes
    ps = compiled.passes[t]
    groups = compiled.cp // n
    acts = np.zeros(groups * n, np.int64)
    acts[:len(a_q)] = np.asarray(a_q, np.int64)
    grid = acts.reshape(groups, n)
    pes = []
    for p in range(n):
        even, odd = ps.ptr_banks(p)
        pes.append({"ptr_even": [int(x) for x in even], "ptr_odd": [int(x) for x in odd],
                    "lines": [int(x) for x in ps.lines(p, cfg)], "codebook": [int(x) for x in cb_q],
                    "act": [int(x) for x in grid[:, p]]})
    return {"pes": pes, "regs": {"groups": groups, "bias_act": int(bias_act), "shift": int(shift),
                                 "relu": int(bool(relu))}}


def pass_writes(hw: HWConfig, image: dict, load_act: bool = True, ptr_base: int = 0, spmat_base: int = 0,
                memories: bool = True, regs: bool = True) -> list[tuple[int, int]]:
    """Bus writes ``(addr, data)`` that load an image made by :func:`pass_image`.

    The pointer words go to bank words ``ptr_base ..`` and the lines to ``spmat_base ..``;
    ``regs`` also writes the pass's registers and both bases.  ``memories=False`` writes
    only the registers (a resident pass whose memories are already loaded).
    """
    hm = HostMap(hw)
    ops = []
    pes = image["pes"]
    mask = (1 << hw.data_bits) - 1
    if memories:
        same_cb = all(pe["codebook"] == pes[0]["codebook"] for pe in pes)
        if same_cb:
            ops += [(hm.bcast("codebook", i), v & mask) for i, v in enumerate(pes[0]["codebook"])]
        for p, pe in enumerate(pes):
            ops += [(hm.pe(p, "ptr_even", ptr_base + i), v) for i, v in enumerate(pe["ptr_even"])]
            ops += [(hm.pe(p, "ptr_odd", ptr_base + i), v) for i, v in enumerate(pe["ptr_odd"])]
            ops += [(hm.pe(p, "spmat", spmat_base + i), v) for i, v in enumerate(pe["lines"])]
            if not same_cb:
                ops += [(hm.pe(p, "codebook", i), v & mask) for i, v in enumerate(pe["codebook"])]
            if load_act:
                ops += [(hm.pe(p, "act", i), v & mask) for i, v in enumerate(pe["act"])]
    if regs:
        ops += [(hm.reg(k), v & mask) for k, v in image["regs"].items()]
        ops += [(hm.reg("ptr_base"), ptr_base), (hm.reg("spmat_base"), spmat_base)]
    return ops


def layer_jobs(hw: HWConfig, compiled, a_q, cb_q, shift: int, relu: bool, bias_act: int) -> list[dict]:
    """One job per row pass: ``{"image", "row_start", "n_rows"}`` (plain ints: JSON-ready)."""
    return [{"image": pass_image(hw, compiled, t, a_q, cb_q, shift, relu, bias_act),
             "row_start": int(ps.row_start), "n_rows": int(ps.n_rows)}
            for t, ps in enumerate(compiled.passes)]


class LayerResult:
    """Outputs (int64, ``fo`` fraction bits) and statistics of a layer, summed over passes.

    ``passes`` keeps each pass's raw counters; ``done_cycles`` is ``c_done + 1`` of each pass
    as seen at the ``done`` port (cross-checks the ``cycles`` register).
    """

    def __init__(self, n_out: int, pes: int):
        self.outputs_q = np.zeros(n_out, np.int64)
        self.cycles = 0
        self.totals = {k: 0 for k in GLOBAL_COUNTERS}
        self.pe = {k: np.zeros(pes, np.int64) for k in PE_COUNTERS}
        self.passes: list[dict] = []
        self.done_cycles: list[int] = []

    def to_dict(self) -> dict:
        return {"outputs_q": [int(x) for x in self.outputs_q], "cycles": self.cycles, "totals": self.totals,
                "pe": {k: [int(x) for x in v] for k, v in self.pe.items()}, "passes": self.passes,
                "done_cycles": self.done_cycles}

    @classmethod
    def from_dict(cls, d: dict) -> LayerResult:
        pes = len(next(iter(d["pe"].values())))
        out = cls(len(d["outputs_q"]), pes)
        out.outputs_q = np.asarray(d["outputs_q"], np.int64)
        out.cycles = d["cycles"]
        out.totals = dict(d["totals"])
        out.pe = {k: np.asarray(v, np.int64) for k, v in d["pe"].items()}
        out.passes = list(d["passes"])
        out.done_cycles = list(d["done_cycles"])
        return out


class Timeout(AssertionError):
    """The design did not answer within its cycle guard."""


class HostDriver:
    """Runs compiled layers through the host port of an :class:`EIETop`.

    A backend implements one coroutine, :meth:`cycle`: drive the bus inputs for one clock
    cycle, let the clock edge pass, and return the outputs ``(rvalid, rdata, busy, done)``
    as they are right after that edge (i.e. in the next cycle).  Everything else (writes,
    pipelined reads, start and wait with a cycle guard, running layers) is built on it, so
    the Amaranth simulator, cocotb and a board run the same protocol code.
    """

    def __init__(self, hw: HWConfig):
        self.hw = hw
        self.map = HostMap(hw)
        self._mask = (1 << hw.data_bits) - 1

    async def cycle(self, addr: int = 0, wdata: int = 0, we: int = 0, re: int = 0):
        raise NotImplementedError

    # ---- protocol -----------------------------------------------------------------------
    async def write(self, addr: int, data: int):
        await self.cycle(addr=addr, wdata=data & self._mask, we=1)

    async def write_all(self, ops):
        for addr, data in ops:
            await self.write(addr, data)

    async def read_many(self, addrs) -> list[int]:
        addrs = list(addrs)
        out: list[int] = []
        i = 0
        guard = len(addrs) + 4 * READ_LATENCY
        while len(out) < len(addrs):
            if i < len(addrs):
                rvalid, rdata, _, _ = await self.cycle(addr=addrs[i], re=1)
                i += 1
            else:
                rvalid, rdata, _, _ = await self.cycle()
            if rvalid:
                out.append(rdata)
            guard -= 1
            if guard < 0:
                raise Timeout("read data never came back (rvalid stuck low)")
        return out

    async def read(self, addr: int) -> int:
        return (await self.read_many([addr]))[0]

    async def start_pass(self, max_cycles: int) -> int:
        """Write ``ctrl = start`` and wait for the end of the pass; returns ``c_done + 1``
        measured at the ``done`` port (cycle 0 = the cycle after the start cycle)."""
        _, _, busy, done = await self.write_and_sample(self.map.reg("ctrl"), 1)
        # after that edge the write sits in the top's bus register (it takes effect in this
        # cycle); the arm cycle and the pre-roll follow, then cycle −1
        cycle, done_at = -1 - START_DELAY, None
        while True:
            if done:
                if done_at is not None:
                    raise AssertionError(f"done raised twice (cycles {done_at} and {cycle})")
                done_at = cycle
            if cycle >= 0 and not busy:
                break
            if cycle > max_cycles:
                raise Timeout(f"pass did not finish within {max_cycles} cycles")
            _, _, busy, done = await self.cycle()
            cycle += 1
        if done_at is None:
            raise AssertionError("busy fell without done")
        return done_at + 1

    async def write_and_sample(self, addr, data):
        return await self.cycle(addr=addr, wdata=data & self._mask, we=1)

    async def wait_idle(self, max_cycles: int) -> int:
        """Wait until ``busy`` is low (e.g. after a write-back); returns the cycles waited."""
        for n in range(max_cycles):
            _, _, busy, _ = await self.cycle()
            if n >= 2 and not busy:
                return n
        raise Timeout(f"still busy after {max_cycles} cycles")

    async def read_pass(self, row_start: int, n_rows: int) -> dict:
        hm, n = self.map, self.hw.pes
        res: dict = {}
        vals = await self.read_many([hm.reg(k) for k in GLOBAL_COUNTERS + ("status",)])
        if (vals[-1] >> STATUS_FAULT) & 1:
            raise AssertionError("the array flagged a prefetch fault (status bit 3): a FIFO under- or overflowed")
        res.update(zip(GLOBAL_COUNTERS, vals[:-1], strict=True))
        addrs = [hm.pe(p, "counters", i) for p in range(n) for i in range(len(PE_COUNTERS))]
        vals = await self.read_many(addrs)
        for i, k in enumerate(PE_COUNTERS):
            res[k] = [vals[p * len(PE_COUNTERS) + i] for p in range(n)]
        rows = range(n_rows)
        vals = await self.read_many([hm.pe(r % n, "out", r // n) for r in rows])
        res["outputs"] = [to_signed(v, self.hw.data_bits) for v in vals]
        return res

    async def write_back(self, t: int, max_cycles: int = 100_000):
        """Copy the write-out of pass ``t`` into the next bank (its rows' input addresses)."""
        await self.write(self.map.reg("wb_base"), t * self.hw.config.regfile_entries)
        await self.write(self.map.reg("ctrl"), 2)
        await self.wait_idle(max_cycles)

    async def swap(self):
        """Make the next bank the source bank [arch §5.6]."""
        src_sel = (await self.read(self.map.reg("src_sel"))) & 1
        await self.write(self.map.reg("src_sel"), src_sel ^ 1)

    async def run_jobs(self, jobs, n_out: int, max_cycles: int = 1_000_000, preloaded: bool = False,
                       load_act: bool = True, chain: bool = False, resident: bool = False) -> LayerResult:
        """Run the passes of a layer (:func:`layer_jobs`).

        ``preloaded``: the bitstream was built with job 0's image, so it is not loaded
        through the port.  ``load_act=False`` keeps the source bank (a chained layer).
        ``chain``: write every pass's outputs back and swap the banks at the end, so that
        the next layer finds its input on chip [arch §5.6, §8].
        ``resident``: load every pass's pointers and lines once, side by side
        (:func:`resident_layout`), then run the passes writing only registers and bases.
        """
        out = LayerResult(n_out, self.hw.pes)
        if resident:
            if preloaded:
                raise ValueError("resident=True loads every pass itself: it cannot be combined with preloaded")
            bases = resident_layout(self.hw, jobs)
            for t, job in enumerate(jobs):
                await self.write_all(pass_writes(self.hw, job["image"], load_act=load_act and t == 0, regs=False,
                                                 **bases[t]))
        for t, job in enumerate(jobs):
            if resident:
                await self.write_all(pass_writes(self.hw, job["image"], memories=False, **bases[t]))
            elif not (preloaded and t == 0):
                await self.write_all(pass_writes(self.hw, job["image"], load_act=load_act))
            out.done_cycles.append(await self.start_pass(max_cycles))
            if chain:
                await self.write_back(t)
            res = await self.read_pass(job["row_start"], job["n_rows"])
            out.passes.append(res)
            r0 = job["row_start"]
            out.outputs_q[r0:r0 + job["n_rows"]] = res["outputs"]
            out.cycles += res["cycles"]
            for k in GLOBAL_COUNTERS:
                out.totals[k] += res[k]
            for k in PE_COUNTERS:
                out.pe[k] += np.asarray(res[k], np.int64)
        if chain:
            await self.swap()
        return out

    async def run_layer(self, compiled, a_q, cb_q, shift: int, relu: bool, bias_act: int,
                        max_cycles: int = 1_000_000, preloaded: bool = False, resident: bool = False) -> LayerResult:
        jobs = layer_jobs(self.hw, compiled, a_q, cb_q, shift, relu, bias_act)
        return await self.run_jobs(jobs, compiled.n_out, max_cycles, preloaded, resident=resident)
