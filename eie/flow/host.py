"""Host protocol of :class:`eie.hdl.top.EIETop`: images of a compiled layer, the bus writes
that load them, and a driver that runs layers on any backend (Amaranth simulator, cocotb,
a real board).

The bus, the address map and every register are defined in :mod:`eie.hdl.regmap`.

Running a pass
--------------
1. write the pass's images: pointer banks, sparse-matrix lines, codebook (broadcast),
   source activations (input i → PE i mod N, address i div N; zeros up to Cp);
2. write ``groups``, ``bias_act``, ``shift``, ``relu`` (and the bases); for a layer with a
   full-precision bias [arch §2] write every destination entry r < ``regfile_entries`` of
   every PE (``out`` words: ``q_acc`` of the bias of the pass's output at that entry, 0 where
   the pass has no output) and start with ``ctrl = start | keep_acc`` (5), else
   ``ctrl = start`` (1), which clears the destination file;
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

from ..compile import memory_needs
from ..hdl.params import HWConfig
from ..hdl.regmap import (
    CTRL_BITS,
    GLOBAL_COUNTERS,
    PE_COUNTERS,
    READ_LATENCY,
    START_DELAY,
    STATUS_FAULT,
    HostMap,
)

__all__ = ["HostDriver", "LayerResult", "Timeout", "pass_image", "pass_writes", "layer_jobs", "to_signed",
           "resident_layout", "check_pass_fits", "prepared_jobs", "start_ctrl"]


def to_signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def check_pass_fits(hw: HWConfig, compiled, t: int) -> None:
    """Raise :class:`ValueError` naming the depth that pass ``t`` of ``compiled`` needs beyond ``hw``
    (the needs are :func:`eie.compile.memory_needs`)."""
    if compiled.config != hw.config:
        raise ValueError("the layer was compiled for another EIEConfig than the hardware's")
    need = memory_needs(compiled)
    for name, value in (("act_depth", need.act_groups), ("ptr_words", need.ptr_words),
                        ("spmat_lines", need.pass_lines[t])):
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


def _check_bias_q(compiled, bias_q):
    """``bias_q`` as int64 (``n_out``), present exactly when the layer has a full-precision bias."""
    if compiled.bias is None:
        if bias_q is not None:
            raise ValueError(f"layer {compiled.name!r} has no full-precision bias: bias_q must be None")
        return None
    if bias_q is None:
        raise ValueError(f"layer {compiled.name!r} has a full-precision bias: give bias_q, its accumulator preload "
                         f"q_acc(bias) (eie.fixed.acc_preload(bias, fo, acc_bits))")
    bias_q = np.asarray(bias_q, np.int64)
    if bias_q.shape != (compiled.n_out,):
        raise ValueError(f"bias_q must have one value per output ({compiled.n_out}), not shape {bias_q.shape}")
    return bias_q


def start_ctrl(image: dict) -> int:
    """The ``ctrl`` word that starts the pass of ``image``: ``start``, plus ``keep_acc`` when
    the image preloads the destination file (a full-precision bias, ``"bias"`` words)."""
    return CTRL_BITS["start"] | (CTRL_BITS["keep_acc"] if "bias" in image["pes"][0] else 0)


def pass_image(hw: HWConfig, compiled, t: int, a_q, cb_q, shift: int, relu: bool, bias_act: int,
               bias_q=None) -> dict:
    """Memory and register contents for pass ``t`` (``EIETop(image=...)`` or :func:`pass_writes`).

    ``bias_q`` (``q_acc(bias)`` of the whole layer, :func:`eie.fixed.acc_preload`; required
    exactly when the layer has a full-precision bias) gives each PE's ``"bias"`` words: the
    destination file before the pass, ``regfile_entries`` words, entry r = output
    ``t·R + r·N + p`` (:meth:`eie.compile.PassImage.preload_words`) [arch §2]."""
    check_pass_fits(hw, compiled, t)
    bias_q = _check_bias_q(compiled, bias_q)
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
        if bias_q is not None:
            pes[-1]["bias"] = [int(x) for x in ps.preload_words(p, bias_q, cfg.regfile_entries)]
    return {"pes": pes, "regs": {"groups": groups, "bias_act": int(bias_act), "shift": int(shift),
                                 "relu": int(bool(relu))}}


def pass_writes(hw: HWConfig, image: dict, load_act: bool = True, ptr_base: int = 0, spmat_base: int = 0,
                memories: bool = True, regs: bool = True) -> list[tuple[int, int]]:
    """Bus writes ``(addr, data)`` that load an image made by :func:`pass_image`.

    The pointer words go to bank words ``ptr_base ..`` and the lines to ``spmat_base ..``;
    ``regs`` also writes the pass's registers and both bases, and the destination preload
    (``"bias"`` words: the pass consumes them, so they belong with the registers).
    ``memories=False`` writes only those (a resident pass whose memories are already loaded).
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
        for p, pe in enumerate(pes):
            ops += [(hm.pe(p, "out", r), v & mask) for r, v in enumerate(pe.get("bias", ()))]
        ops += [(hm.reg(k), v & mask) for k, v in image["regs"].items()]
        ops += [(hm.reg("ptr_base"), ptr_base), (hm.reg("spmat_base"), spmat_base)]
    return ops


def layer_jobs(hw: HWConfig, compiled, a_q, cb_q, shift: int, relu: bool, bias_act: int,
               bias_q=None) -> list[dict]:
    """One job per row pass: ``{"image", "row_start", "n_rows"}`` (plain ints: JSON-ready);
    ``bias_q`` as in :func:`pass_image` (pass t preloads rows ``t·R ..``)."""
    return [{"image": pass_image(hw, compiled, t, a_q, cb_q, shift, relu, bias_act, bias_q),
             "row_start": int(ps.row_start), "n_rows": int(ps.n_rows)}
            for t, ps in enumerate(compiled.passes)]


def prepared_jobs(hw: HWConfig, prepared, relu: bool = False) -> list[dict]:
    """:func:`layer_jobs` of a :class:`eie.prepare.PreparedLayer` (it must have an input)."""
    if prepared.a_q is None:
        raise ValueError(f"layer {prepared.layer.name!r} has no input: the jobs need its activations")
    return layer_jobs(hw, prepared.compiled, prepared.a_q, prepared.cb_q, prepared.plan.shift, relu, prepared.bias_act,
                      prepared.bias_q)


async def watch_pass(busy: int, done: int, max_cycles: int, step) -> int:
    """Follow a pass from the cycle after its start write to its end; returns ``c_done + 1``
    as seen at the ``done`` port.  ``busy``/``done`` are the outputs right after the start
    write's edge; ``step()`` lets one more clock edge pass and returns them again.  The arm
    cycle and the pre-roll (``START_DELAY``) come before the pass's cycle 0; ``done`` must rise
    exactly once and ``busy`` fall after it, within ``max_cycles`` (else :class:`Timeout`)."""
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
        busy, done = await step()
        cycle += 1
    if done_at is None:
        raise AssertionError("busy fell without done")
    return done_at + 1


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

    async def start_pass(self, max_cycles: int, ctrl: int = CTRL_BITS["start"]) -> int:
        """Write ``ctrl`` (a start; :func:`start_ctrl` of the pass's image) and wait for the end
        of the pass; returns ``c_done + 1`` measured at the ``done`` port (cycle 0 = the cycle
        after the start cycle)."""
        _, _, busy, done = await self.write_and_sample(self.map.reg("ctrl"), ctrl)
        # after that edge the write sits in the top's bus register (it takes effect in this
        # cycle); the arm cycle and the pre-roll follow, then cycle −1
        async def step():
            _, _, b, d = await self.cycle()
            return b, d

        return await watch_pass(busy, done, max_cycles, step)

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
        await self.write(self.map.reg("ctrl"), CTRL_BITS["writeback"])
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
        if chain and -(-n_out // self.hw.pes) > self.hw.act_depth:
            # the write-back drops addresses past the bank: the next layer would read zeros
            raise ValueError(f"chaining a layer of {n_out} outputs needs act_depth >= {-(-n_out // self.hw.pes)}, "
                             f"the hardware has {self.hw.act_depth}")
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
            out.done_cycles.append(await self.start_pass(max_cycles, start_ctrl(job["image"])))
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
                        max_cycles: int = 1_000_000, preloaded: bool = False, resident: bool = False,
                        bias_q=None) -> LayerResult:
        jobs = layer_jobs(self.hw, compiled, a_q, cb_q, shift, relu, bias_act, bias_q)
        return await self.run_jobs(jobs, compiled.n_out, max_cycles, preloaded, resident=resident)


# ---- 32-bit word buses: Wishbone, the UART bridge ----------------------------------------------------
#: memories whose words are signed (read back sign-extended to data_bits) [eie/hdl/README.md]
SIGNED_MEMS = ("codebook", "act", "out", "act_next")


class WordDriver(HostDriver):
    """:class:`HostDriver` over the 32-bit word map (:mod:`eie.hdl.busmap`): the same protocol
    code (:meth:`run_jobs`, :meth:`read_pass`, :meth:`write_back` ...) with bursts of host
    words instead of bus cycles.

    A transport implements :meth:`write_items` and :meth:`read_items` (consecutive host
    addresses, ``width`` bus words per item or ``UART_HALF``); :meth:`wait_done` may be
    replaced by one that watches the ``done`` pin.  Host words go out as narrow as their
    memory allows: a pointer, activation or codebook word that fits 16 bits as a half-word,
    a sparse-matrix line, or any value wider than 32 bits (a destination preload of ``acc_bits``
    > 32), as all its bus words, everything else as word 0.  Reads take word 0
    (sign-extended for the signed memories), lines all their words.
    """

    def __init__(self, hw: HWConfig):
        super().__init__(hw)
        from ..hdl.busmap import WishboneMap
        self.wmap = WishboneMap(hw)
        c = hw.config
        self._mem_bits = {"ptr_even": c.ptr_bits, "ptr_odd": c.ptr_bits, "codebook": c.codebook_bits,
                          "act": c.act_bits, "act_next": c.act_bits}

    async def cycle(self, addr: int = 0, wdata: int = 0, we: int = 0, re: int = 0):
        raise TypeError("a word-bus driver has no host-port cycle: use its bursts")

    async def write_items(self, addr: int, width: int, items: list[int]):
        raise NotImplementedError

    async def read_items(self, addr: int, width: int, count: int) -> list[int]:
        raise NotImplementedError

    def _kind(self, addr: int) -> tuple[str, int | None]:
        """``(memory name or "reg", its bits or None)`` of a host address."""
        kind, _, mem, _ = self.map.decode(addr)
        return ("reg", None) if kind == "reg" else (mem, self._mem_bits.get(mem))

    def _width(self, mem: str, bits, values) -> int:
        from ..hdl.busmap import UART_HALF
        if mem == "spmat":
            return self.wmap.words
        if bits is not None and bits <= 16 and all(0 <= v < 1 << 16 for v in values):
            return UART_HALF
        if any(v >> 32 for v in values):
            # wider than a bus word: an `out` preload of a negative bias with acc_bits > 32 (word 0
            # alone had reached the array zero-extended: -113 as 4294967183)
            return self.wmap.words
        return 1

    def _runs(self, addrs):
        """Consecutive host addresses of one memory, as ``(start index, length, mem, bits)``."""
        from ..hdl.busmap import UART_MAX_COUNT
        i = 0
        while i < len(addrs):
            mem, bits = self._kind(addrs[i])
            j = i + 1
            while (j < len(addrs) and j - i < UART_MAX_COUNT and addrs[j] == addrs[j - 1] + 1
                   and self._kind(addrs[j])[0] == mem):
                j += 1
            yield i, j - i, mem, bits
            i = j

    async def write(self, addr: int, data: int):
        await self.write_all([(addr, data)])

    async def write_all(self, ops):
        ops = list(ops)
        addrs = [a for a, _ in ops]
        for i, n, mem, bits in self._runs(addrs):
            vals = [d & self._mask for _, d in ops[i:i + n]]
            if bits is not None:                 # the memory keeps only its own bits
                vals = [v & ((1 << bits) - 1) for v in vals]
            await self.write_items(addrs[i], self._width(mem, bits, vals), vals)

    async def read_many(self, addrs) -> list[int]:
        addrs = list(addrs)
        out: list[int] = []
        for i, n, mem, _ in self._runs(addrs):
            width = self.wmap.words if mem == "spmat" else 1
            vals = await self.read_items(addrs[i], width, n)
            if mem in SIGNED_MEMS:
                vals = [to_signed(v, 32) & self._mask for v in vals]
            out += vals
        return out

    async def wait_done(self, max_cycles: int) -> int:
        """Wait for the end of the pass just started; returns ``c_done + 1``.  Here: poll
        ``status`` until ``busy`` is low and read the ``cycles`` register (a serial link
        cannot see the ``done`` pin's cycle)."""
        from ..hdl.regmap import STATUS_BUSY, STATUS_DONE
        for _ in range(max_cycles + 1):          # a poll takes more than one cycle
            status = await self.read(self.map.reg("status"))
            if not (status >> STATUS_BUSY) & 1:
                if not (status >> STATUS_DONE) & 1:
                    raise AssertionError("busy fell without done")
                return await self.read(self.map.reg("cycles"))
        raise Timeout(f"pass did not finish within {max_cycles} cycles")

    async def start_pass(self, max_cycles: int, ctrl: int = CTRL_BITS["start"]) -> int:
        await self.write(self.map.reg("ctrl"), ctrl)
        return await self.wait_done(max_cycles)

    async def wait_idle(self, max_cycles: int) -> int:
        from ..hdl.regmap import STATUS_BUSY
        for n in range(max_cycles):
            if not (await self.read(self.map.reg("status")) >> STATUS_BUSY) & 1:
                return n
        raise Timeout(f"still busy after {max_cycles} polls")


__all__ += ["WordDriver", "SIGNED_MEMS"]
