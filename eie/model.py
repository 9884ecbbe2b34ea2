"""The cycle-accurate model of the PE array [arch §5].

The model does not step every cycle.  It evaluates the contract's event recurrence over
the K+1 broadcasts of a pass (K non-zero inputs plus the bias column), vectorised across
PEs:

* LNZD/CCU (:func:`lnzd_gaps`, :func:`ccu_broadcast_and_queue_pop`; RTL ``eie/hdl/lnzd.py``,
  §5.1): find cycle ``f_k = b_{k-1} + gap_k``; broadcast ``b_k = max(f_k, 1 + max_p P[p, k-D])``
  (the stall on full queues).
* activation queue + pointer read (:func:`ccu_broadcast_and_queue_pop`, :func:`ptr_read_slots`;
  RTL ``act_queue.py``, ``ptr_read.py``, §5.2-5.3): pop
  ``P[p,k] = max(b_k + 1, P[p,k-1] + max(L[p,k-1], 1))``; entries issue in P+1..P+L.
* sparse-matrix read (:func:`spmat_read_lines`; RTL ``spmat_read.py``, §5.4): distinct lines of
  the issued entries.
* arithmetic (:func:`arith_accumulate`, :func:`arith_bypasses`, :func:`arith_pass_end`; RTL
  ``arith.py``, §5.5): six stages, write at t+5; bypass across column boundaries.
* activation R/W (:func:`act_rw_preload`, :func:`act_rw_write_out`; RTL ``act_rw.py``, §2,
  §5.6): the accumulators start from a full-precision bias, ``q_acc(bias)`` (else 0); write-out
  saturates, ReLU.
* end of pass (§5.7): ``cycles = 2 + max(P + (L > 0) * (L + 5))``.

Values do not depend on timing (bypass makes the pipeline equal to in-order
accumulation), so outputs are computed from the memory images in one vectorised pass:
products rounded to the output format and summed with wrap-around [arch §4].
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from .compile import CompiledLayer, PassImage, capacity_report, compile_layer
from .config import EIEConfig
from .errors import InputError
from .fixed import (
    QuantPlan,
    acc_preload,
    plan_layer,
    quantize,
    round_shift,
    saturate,
    saturated_count,
    saturated_mask,
    wrap,
)
from .layer import CompressedLayer, check_activations
from .reference import error_bound, float_forward, outputs_match, sparse_weight

__all__ = ["PassTiming", "PassWork", "SimResult", "simulate", "simulate_fixed", "simulate_stack", "retime",
           "pass_timing", "pass_work", "ARITH_DRAIN", "RETIME_FIELDS", "CCU_BLOCK_MIN_DEPTH", "lnzd_gaps",
           "ptr_read_slots", "ccu_broadcast_and_queue_pop", "arith_pass_end", "spmat_read_lines",
           "arith_accumulate", "arith_same_row", "arith_bypasses", "act_rw_preload", "act_rw_write_out"]

#: EIEConfig fields :func:`retime` may change: they change neither the memory images nor
#: the values [arch §1-§4], only timing (queue depth), line reads (line width), time (clock)
#: and the capacity check (SRAM sizes, pointer width); the LNZD tree takes one cycle
#: whatever its fan-in (§5.1)
RETIME_FIELDS = ("queue_depth", "clock_mhz", "line_bits", "lnzd_fanin", "spmat_kb", "ptr_kb", "ptr_bits",
                 "act_sram_kb")

#: cycles between the issue of an entry and its accumulator write [arch §5.5]
ARITH_DRAIN = 5

#: :func:`ccu_broadcast_and_queue_pop` evaluates D broadcasts at a time when the queue depth
#: D is at least this and at least N / 8 (measured on FC8 at 1, 64 and 256 PEs: below that,
#: one block costs more than D single steps)
CCU_BLOCK_MIN_DEPTH = 8

PE_STATS = ("entries", "padding", "useful", "empty_columns", "starved", "line_reads", "ptr_reads",
            "pops", "bypasses", "busy")


@dataclass(eq=False)
class PassTiming:
    """Per-broadcast timing of one pass: columns, find, broadcast and pop cycles."""

    columns: np.ndarray   # (K1,) column index of each broadcast (bias last)
    found: np.ndarray     # (K1,) f_k
    broadcast: np.ndarray  # (K1,) b_k
    pop: np.ndarray       # (N, K1) P[p, k]
    lengths: np.ndarray   # (N, K1) L[p, k]
    cycles: int


def lnzd_gaps(columns: np.ndarray, pes: int) -> np.ndarray:
    """LNZD/CCU scanner [arch §5.1]: cycles from one broadcast's find to the next one's.

    Within a group of N (one local row across the PEs) the next non-zero is found one cycle
    later; moving on costs the groups skipped, plus one unless the last element found sat
    in PE N-1.  A virtual element in group -1, PE N-1 starts the scan."""
    n = pes
    g = columns // n
    q = columns % n
    g_prev = np.concatenate([[-1], g[:-1]])
    q_prev = np.concatenate([[n - 1], q[:-1]])
    return np.where(g == g_prev, 1, (g - g_prev) + (q_prev != n - 1))


def ptr_read_slots(lengths: np.ndarray) -> np.ndarray:
    """Pointer read [arch §5.3]: cycles a column holds a PE's issue slot (an empty column
    costs its one bubble cycle)."""
    return np.maximum(lengths, 1)


def ccu_broadcast_and_queue_pop(gaps: np.ndarray, slots: np.ndarray, queue_depth: int):
    """CCU broadcast and activation-queue pop [arch §5.1-§5.3]: ``(found, broadcast, pop)``.

    ``b_k = max(f_k, 1 + max_p P[p, k-D])`` stalls the broadcast while a queue is full
    (a pop in cycle c frees the slot for the broadcast of cycle c+1);
    ``P[p,k] = max(b_k + 1, P[p,k-1] + slots[p,k-1])`` pops a column when it has arrived
    and the PE's previous column has issued.

    Evaluation (the values are those of the recurrence as written): with ``S[p,k]`` the
    slots of PE p before column k, ``P[p,k] - S[p,k]`` is the running maximum of
    ``b_m + 1 - S[p,m]`` over m <= k, and broadcast k's stall depends only on pops D
    broadcasts earlier, so D broadcasts at a time are a few array operations across PEs
    and columns.  For shallow queues (:data:`CCU_BLOCK_MIN_DEPTH`) the per-block overhead
    outweighs the blocks and the recurrence is stepped one broadcast at a time.
    """
    n, k1 = slots.shape
    if queue_depth < CCU_BLOCK_MIN_DEPTH or 8 * queue_depth < n:
        return _ccu_stepped(gaps, slots, queue_depth)
    return _ccu_blocks(gaps, slots, queue_depth)


def _ccu_stepped(gaps: np.ndarray, slots: np.ndarray, d: int):
    """:func:`ccu_broadcast_and_queue_pop` one broadcast at a time."""
    n, k1 = slots.shape
    found = np.empty(k1, np.int64)
    bcast = np.empty(k1, np.int64)
    pop = np.empty((n, k1), np.int64)
    maxpop = np.empty(k1, np.int64)
    b = -1
    prev = None
    for k in range(k1):
        f = b + int(gaps[k])
        found[k] = f
        if k >= d:
            f = max(f, 1 + int(maxpop[k - d]))
        b = f
        bcast[k] = b
        if prev is None:
            cur = np.full(n, b + 1, np.int64)
        else:
            cur = np.maximum(prev + slots[:, k - 1], b + 1)
        pop[:, k] = cur
        maxpop[k] = cur.max()
        prev = cur
    return found, bcast, pop


def _ccu_blocks(gaps: np.ndarray, slots: np.ndarray, d: int):
    """:func:`ccu_broadcast_and_queue_pop` D broadcasts at a time (see its docstring)."""
    n, k1 = slots.shape
    pop = np.empty((n, k1), np.int64)
    before = np.full((n, k1), -1, np.int64)           # S[p, k] - 1
    np.cumsum(slots[:, :-1], axis=1, out=before[:, 1:])
    before[:, 1:] -= 1
    gap = gaps.tolist()
    found, bcast, maxpop = [0] * k1, [0] * k1, []
    b = -1
    run = np.full((n, 1), -(1 << 62), np.int64)       # running maximum of b_m + 1 - S[p, m]
    for t in range(0, k1, d):
        u = min(t + d, k1)
        for k in range(t, u):
            f = b + gap[k]
            found[k] = f
            b = max(f, 1 + maxpop[k - d]) if k >= d else f
            bcast[k] = b
        s_blk = before[:, t:u]
        x = np.array(bcast[t:u], np.int64) - s_blk
        np.maximum.accumulate(x, axis=1, out=x)
        np.maximum(x, run, out=x)
        run = x[:, -1:]
        blk = pop[:, t:u]
        np.add(x, s_blk, out=blk)
        blk += 1
        maxpop.extend(blk.max(axis=0).tolist())
    return np.array(found, np.int64), np.array(bcast, np.int64), pop


def arith_pass_end(pop: np.ndarray, lengths: np.ndarray) -> int:
    """Arithmetic drain and end of pass [arch §5.5, §5.7]: a PE is busy through
    ``P + L + ARITH_DRAIN`` for a non-empty column; ``cycles = 2 + max`` of that."""
    end = pop + np.where(lengths > 0, lengths + ARITH_DRAIN, 0)
    return int(end.max()) + 2


def pass_timing(lengths_full: np.ndarray, columns: np.ndarray, pes: int, queue_depth: int) -> PassTiming:
    """Evaluate the contract's recurrence for one pass [arch §5.1-§5.3, §5.7].

    ``lengths_full`` is (N, Cp+1) entries per column per PE; ``columns`` the broadcast
    columns in order (ascending, the bias column last).
    """
    cols = np.asarray(columns, dtype=np.int64)
    lengths = lengths_full[:, cols]
    found, bcast, pop = ccu_broadcast_and_queue_pop(lnzd_gaps(cols, pes), ptr_read_slots(lengths), queue_depth)
    return PassTiming(cols, found, bcast, pop, lengths, arith_pass_end(pop, lengths))


@dataclass(eq=False)
class SimResult:
    """Outputs and statistics of one layer run."""

    config: EIEConfig
    name: str
    cycles: int
    outputs_q: np.ndarray          # int64 (n_out,), fo fraction bits
    plan: QuantPlan
    relu: bool
    pe: dict                       # per-PE statistics, arrays of length N (summed over passes)
    totals: dict                   # global statistics
    events: dict                   # event counts for the energy model [arch §7]
    timings: list = field(default_factory=list)
    reference: dict = field(default_factory=dict)
    capacity_problems: list = field(default_factory=list)   # [] when the layer fits the SRAMs
    compiled: CompiledLayer | None = field(default=None, repr=False)   # what ran (keep_work: for retime)
    work: list = field(default_factory=list, repr=False)   # PassWork of each pass (keep_work: for retime)
    # per output: its exact sum (preload + every rounded product) left the acc_bits range, so
    # the accumulator wrapped [arch §4]; what the reference check counts as wrapped
    wrapped: np.ndarray | None = field(default=None, repr=False)

    @property
    def outputs(self) -> np.ndarray:
        return self.outputs_q / 2.0 ** self.plan.fo

    @property
    def time_us(self) -> float:
        return self.cycles / self.config.clock_mhz

    @property
    def useful_macs(self) -> int:
        return int(self.totals["useful_macs"])

    @property
    def load_efficiency(self) -> float:
        return self.totals["load_efficiency"]

    def summary(self) -> dict:
        """JSON-ready scalars (per-PE arrays as lists)."""
        out = {"name": self.name, "cycles": self.cycles, "time_us": self.time_us,
               "useful_macs": self.useful_macs, "load_efficiency": self.load_efficiency,
               "fraction_bits": self.plan.to_dict(), "relu": self.relu}
        out.update({k: v for k, v in self.totals.items() if k not in out})
        out["events"] = {k: int(v) for k, v in self.events.items()}
        out["per_pe"] = {k: [int(x) for x in v] for k, v in self.pe.items()}
        if self.reference:
            out.update({k: v for k, v in self.reference.items()})
        return out


def spmat_read_lines(ptr: np.ndarray, cols: np.ndarray, lengths: np.ndarray, epl: int) -> np.ndarray:
    """Distinct SRAM lines holding the issued entries, per PE [arch §5.4]."""
    start = ptr[:, cols]
    nonempty = lengths > 0
    first = start // epl
    last = (start + lengths - 1) // epl
    prev_last = np.where(nonempty, last, -1)
    prev_last = np.maximum.accumulate(prev_last, axis=1)
    prev_last = np.concatenate([np.full((ptr.shape[0], 1), -1), prev_last[:, :-1]], axis=1)
    reads = (last - first + 1) - (first == prev_last)
    return np.where(nonempty, reads, 0).sum(axis=1)


def arith_accumulate(ps, act_col: np.ndarray, cb_q: np.ndarray, shift: int, pes: int, n_out: int) -> np.ndarray:
    """Arithmetic unit [arch §4, §5.5]: every real entry of a broadcast column, codebook
    decode, multiply, round-shift and wrap-around accumulate, in one vectorised step (with
    the bypass the pipeline equals in-order accumulation).

    Each (column value, codebook value) product is rounded once, in a table of
    ``(Cp+1) x codebook`` products, and each entry picks its own; the columns that are not
    broadcast (value 0), code 0 and padding entries pick a 0, which adds nothing."""
    prods = round_shift(act_col[:, None] * cb_q[None, :], shift)
    acc = np.zeros(n_out, np.int64)
    if len(ps.v):
        index = ps.col * len(cb_q)
        index += ps.v
        r = prods.ravel()[index]
        rows = ps.out_rows
        if float(np.abs(prods).max()) * len(r) < 2.0 ** 52:
            acc += np.rint(np.bincount(rows, weights=r, minlength=n_out)).astype(np.int64)
        else:
            np.add.at(acc, rows, r)
    return acc


def arith_same_row(ps, cols: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(N, K1-1): broadcast column k+1's first entry writes the row that column k's last
    entry wrote, in PE p (a bypass if the two are issued back to back) [arch §5.5]."""
    nonempty = lengths > 0
    fr = ps.first_row[:, cols[1:]]
    lr = ps.last_row[:, cols[:-1]]
    return nonempty[:, :-1] & nonempty[:, 1:] & (fr >= 0) & (fr == lr)


def arith_bypasses(ps, t: PassTiming, same_row: np.ndarray | None = None) -> np.ndarray:
    """Arithmetic bypass [arch §5.5], per PE: a column's first entry writes the row its
    previous column's last entry wrote, issued back to back (``same_row``: the
    :func:`arith_same_row` of the pass, if already known)."""
    if same_row is None:
        same_row = arith_same_row(ps, t.columns, t.lengths)
    adj = t.pop[:, 1:] == t.pop[:, :-1] + t.lengths[:, :-1]
    return (adj & same_row).sum(axis=1)


@dataclass(eq=False)
class PassWork:
    """What one pass does with one input whatever the queue depth [arch §5.3-§5.5]: the
    broadcast columns and the entries each PE issues for them, the products they add up
    and the per-PE counts that do not depend on timing.  :func:`retime` times it again
    for another queue depth or line width without touching the values."""

    image: PassImage
    columns: np.ndarray    # (K1,) broadcast columns (the bias column last)
    gaps: np.ndarray       # (K1,) LNZD cycles from one find to the next
    lengths: np.ndarray    # (N, K1) entries (padding included) of each broadcast column per PE
    slots: np.ndarray      # (N, K1) issue-slot cycles of each column (an empty one costs 1)
    same_row: np.ndarray   # (N, K1-1) bypass candidates (arith_same_row)
    acc: np.ndarray        # (n_out,) int64 products of this pass, before wrap-around
    stats: dict            # per-PE entries, padding, useful, empty_columns, ptr_reads, pops
    line_reads: dict = field(default_factory=dict)   # entries per line -> per-PE line reads


def pass_work(ps, cols: np.ndarray, act_col: np.ndarray, cb_q: np.ndarray, shift: int, n_out: int) -> PassWork:
    """The queue-independent part of one pass (see :class:`PassWork`)."""
    n = ps.pes
    lengths = np.ascontiguousarray(ps.lengths[:, cols])
    entries = lengths.sum(axis=1)
    padding = ps.padding_per_col[:, cols].sum(axis=1)
    empty = (lengths == 0).sum(axis=1)
    stats = {"entries": entries, "padding": padding, "useful": entries - padding, "empty_columns": empty,
             "ptr_reads": np.full(n, len(cols)), "pops": np.full(n, len(cols))}
    return PassWork(ps, cols, lnzd_gaps(cols, n), lengths, ptr_read_slots(lengths),
                    arith_same_row(ps, cols, lengths), arith_accumulate(ps, act_col, cb_q, shift, n, n_out), stats)


def _pass_time(w: PassWork, cfg: EIEConfig):
    """Time one pass's work on ``cfg`` (queue depth, line width) [arch §5.1-§5.4, §5.7]."""
    found, bcast, pop = ccu_broadcast_and_queue_pop(w.gaps, w.slots, cfg.queue_depth)
    t = PassTiming(w.columns, found, bcast, pop, w.lengths, arith_pass_end(pop, w.lengths))
    epl = cfg.entries_per_line
    if epl not in w.line_reads:
        w.line_reads[epl] = spmat_read_lines(w.image.ptr, w.columns, w.lengths, epl)
    st = w.stats
    # --- per-PE statistics [arch §6] -----------------------------------------------------
    stats = {
        "entries": st["entries"], "padding": st["padding"], "useful": st["useful"],
        "empty_columns": st["empty_columns"], "starved": t.cycles - st["entries"] - st["empty_columns"],
        "line_reads": w.line_reads[epl], "ptr_reads": st["ptr_reads"], "pops": st["pops"],
        "bypasses": arith_bypasses(w.image, t, w.same_row), "busy": st["entries"] + st["empty_columns"],
    }
    totals = {"stall_cycles": int((t.broadcast - t.found).sum()),
              "groups_scanned": int(t.found[-1] - (t.broadcast[:-1] - t.found[:-1]).sum() + 1),
              "broadcasts": len(w.columns)}
    return t, stats, totals


def simulate(layer, x=None, config: EIEConfig | None = None, relu: bool = False, plan: QuantPlan | None = None,
             fa: int | None = None, fo: int | None = None, keep_timing: bool = False,
             check_reference: bool = True, source: CompressedLayer | None = None, *,
             keep_work: bool = False) -> SimResult:
    """Run one layer through the model.

    ``layer`` is a :class:`CompiledLayer` or a :class:`CompressedLayer` (compiled here with
    ``config``).  ``x`` are float inputs (default: the layer's own ``activations``); they are
    quantised with ``fa`` fraction bits.  Returns bit-exact fixed-point outputs and statistics.
    ``source`` is the compressed layer a :class:`CompiledLayer` came from (for the float
    reference; without it the images are decoded).  ``keep_work``: the result keeps the
    compiled layer and each pass's :class:`PassWork`, so that :func:`retime` can move it
    to another queue depth, clock, line width or SRAM size.
    """
    if isinstance(layer, CompressedLayer):
        src = layer
        compiled = compile_layer(layer, config or EIEConfig())
    elif isinstance(layer, CompiledLayer):
        compiled, src = layer, source
    else:
        raise InputError(f"layer must be a CompressedLayer or CompiledLayer, not {type(layer).__name__}")
    cfg = compiled.config
    if config is not None and config != cfg:
        raise InputError("config differs from the configuration the layer was compiled for: recompile it")
    if x is None:
        if src is None or src.activations is None:
            raise InputError("activations are needed: pass x or give the layer an 'activations' array")
        x = src.activations
    x = check_activations(x, compiled.n_in)
    if plan is None or check_reference:
        # the float result sets the output's fraction bits and is the reference [arch §4]
        if src is None:
            from .compile import decode
            codes, bias = decode(compiled)
            src = CompressedLayer(compiled.codebook, codes, bias, None, compiled.name, bias=compiled.bias)
        w = sparse_weight(src)
        y_float = float_forward(src, x, w)
    if plan is None:
        plan = plan_layer(compiled.codebook, x, y_float, cfg, fa=fa, fo=fo, bias=compiled.bias)
    plan.check(cfg)
    a_q = quantize(x, plan.fa, cfg.act_bits)
    cb_q = quantize(compiled.codebook, plan.fw, cfg.codebook_bits)
    result = _simulate_q(compiled, a_q, cb_q, plan, relu, keep_timing, keep_work)
    result.capacity_problems = capacity_report(compiled)
    result.reference["lost_nonzeros"] = int(((x != 0) & (a_q == 0)).sum())
    if check_reference:
        _check_reference(result, src, x, y_float, w)
    return result


def simulate_fixed(compiled: CompiledLayer, a_q, plan: QuantPlan, relu: bool = False,
                   keep_timing: bool = False) -> SimResult:
    """The model on integer inputs ``a_q`` (``plan.fa`` fraction bits), as the hardware sees
    them: no float quantisation and no reference check.  What a co-simulation compares with.
    A full-precision bias (``compiled.bias``) is preloaded as ``q_acc(bias)`` with ``plan.fo``."""
    cfg = compiled.config
    plan.check(cfg)
    a_q = np.asarray(a_q)
    if a_q.shape != (compiled.n_in,) or a_q.dtype.kind not in "iu":
        raise InputError(f"a_q must be an integer vector of length {compiled.n_in}, not {a_q.dtype} {a_q.shape}")
    cb_q = quantize(compiled.codebook, plan.fw, cfg.codebook_bits)
    result = _simulate_q(compiled, a_q.astype(np.int64), cb_q, plan, relu, keep_timing)
    result.capacity_problems = capacity_report(compiled)
    return result


def _check_reference(result: SimResult, src: CompressedLayer, x, y_float, w) -> None:
    """Hold the fixed-point outputs to the float result within the error bound [arch §4]."""
    plan, cfg = result.plan, result.config
    bound = error_bound(src, x, plan.fa, plan.fw, plan.fo, w)
    ok = outputs_match(result.outputs, y_float, bound, cfg.act_bits, plan.fo, result.relu)
    # the bound holds only when nothing wrapped and no codebook value clamped [arch §4]
    wrapped = np.zeros(len(ok), bool) if result.wrapped is None else result.wrapped
    cb = np.asarray(src.codebook, np.float64)
    clamped = saturated_mask(cb, plan.fw, cfg.codebook_bits)
    hit = np.zeros(len(ok), bool)
    if clamped.any():
        used = quantize(x, plan.fa, cfg.act_bits) != 0          # the inputs the array broadcasts
        hit = (clamped[src.codes] & used[None, :]).any(axis=1)
        if src.bias_codes is not None:
            hit |= clamped[src.bias_codes]
    # nor when an input the row uses was clamped to the activations' range: the bound's
    # |x| * eps_w term then grew with the lost part of x and had passed such outputs
    sat_in = saturated_mask(np.asarray(x, np.float64), plan.fa, cfg.act_bits)
    used_sat = np.zeros(len(ok), bool)
    if sat_in.any():
        used_sat = (np.asarray(src.codes)[:, sat_in] != 0).any(axis=1)
    ok &= ~wrapped & ~hit & ~used_sat
    ref = np.maximum(y_float, 0) if result.relu else y_float
    result.reference.update({
        "outputs_match_reference": bool(ok.all()), "mismatches": int((~ok).sum()),
        "max_abs_error": float(np.max(np.abs(result.outputs - ref), initial=0.0)),
        "max_error_bound": float(bound.max(initial=0.0)),
        "wrapped_outputs": int(wrapped.sum()), "saturated_codebook": int(clamped.sum()),
        "saturated_inputs": int(sat_in.sum()),
        "max_abs_codebook": float(np.max(np.abs(cb), initial=0.0)),
    })


def act_rw_preload(compiled: CompiledLayer, fo: int) -> np.ndarray:
    """Activation R/W, destination register file before a pass [arch §2, §4, §5.6]: every
    accumulator starts from ``q_acc(bias_i)`` (``fo`` fraction bits, saturated to
    ``acc_bits``) for a layer with a full-precision bias, else from 0."""
    pre = acc_preload(compiled.bias, fo, compiled.config.acc_bits)
    return np.zeros(compiled.n_out, np.int64) if pre is None else pre


def act_rw_write_out(acc: np.ndarray, act_bits: int, relu: bool) -> np.ndarray:
    """Activation R/W write-out [arch §4, §5.6]: saturate the accumulators to the activation
    width, then ReLU if the layer has one."""
    y = saturate(acc, act_bits)
    return np.maximum(y, 0) if relu else y


def _simulate_q(compiled: CompiledLayer, a_q: np.ndarray, cb_q: np.ndarray, plan: QuantPlan, relu: bool,
                keep_timing: bool = False, keep_work: bool = False) -> SimResult:
    """The model on already-quantised inputs (int64, ``plan.fa`` fraction bits)."""
    cfg = compiled.config
    nz = np.nonzero(a_q)[0].astype(np.int64)
    cols = np.concatenate([nz, [compiled.cp]])
    act_col = np.zeros(compiled.cp + 1, np.int64)
    act_col[nz] = a_q[nz]
    act_col[compiled.cp] = 1 << plan.fa           # the bias activation 1.0
    works = [pass_work(ps, cols, act_col, cb_q, plan.shift, compiled.n_out) for ps in compiled.passes]
    exact = act_rw_preload(compiled, plan.fo)
    for w in works:
        exact += w.acc
    acc = wrap(exact, cfg.acc_bits)
    y = act_rw_write_out(acc, cfg.act_bits, relu)
    values = {"nonzero_inputs": len(nz), "saturated_outputs": int((acc != saturate(acc, cfg.act_bits)).sum()),
              # full-precision bias: accumulators preloaded, and those whose q_acc(bias) clamped
              "preloaded_accumulators": compiled.n_out if compiled.bias is not None else 0,
              "saturated_bias": 0 if compiled.bias is None else saturated_count(compiled.bias, plan.fo,
                                                                                cfg.acc_bits)}
    result = _timed(compiled, works, y, plan, relu, values, keep_timing, keep_work)
    result.wrapped = acc != exact
    return result


def _timed(compiled: CompiledLayer, works: list, y: np.ndarray, plan: QuantPlan, relu: bool, values: dict,
           keep_timing: bool, keep_work: bool) -> SimResult:
    """Time the passes' work on ``compiled.config`` and count statistics and events [arch §6, §7]."""
    cfg = compiled.config
    n = cfg.pes
    pe = {k: np.zeros(n, np.int64) for k in PE_STATS}
    totals = {"stall_cycles": 0, "groups_scanned": 0, "broadcasts": 0}
    cycles = 0
    timings = []
    for w in works:
        t, stats, tot = _pass_time(w, cfg)
        for k in PE_STATS:
            pe[k] += stats[k]
        for k in totals:
            totals[k] += tot[k]
        cycles += t.cycles
        if keep_timing:
            timings.append(t)
    useful = int(pe["useful"].sum())
    busy_slots = pe["entries"] + pe["empty_columns"]
    groups = compiled.cp // n
    totals.update({
        "cycles": cycles, "passes": len(compiled.passes), "nonzero_inputs": values["nonzero_inputs"],
        "useful_macs": useful, "padding_entries": int(pe["padding"].sum()),
        "load_efficiency": useful / (cycles * n) if cycles else 0.0,
        "load_balance": float(busy_slots.mean() / busy_slots.max()) if busy_slots.max() else 1.0,
        "saturated_outputs": values["saturated_outputs"],
        "preloaded_accumulators": values["preloaded_accumulators"],
        "saturated_bias": values["saturated_bias"],
        # what the layer occupies in the SRAMs (all passes, all PEs), for storage-based baselines
        "stored_entries": int(sum(len(ps.v) for ps in compiled.passes)),
        "stored_pointers": int(len(compiled.passes) * (compiled.cp + 2) * n),
    })
    events = {
        "spmat_line_read": int(pe["line_reads"].sum()), "ptr_read": int(pe["ptr_reads"].sum()),
        "codebook_read": int(pe["entries"].sum()), "mac": useful,
        # the preload of a full-precision bias is one destination write per output [arch §7]
        "dst_rf_read": useful - int(pe["bypasses"].sum()), "dst_rf_write": useful + values["preloaded_accumulators"],
        "src_rf_read": groups * n * len(compiled.passes), "queue_push": totals["broadcasts"] * n,
        "queue_pop": int(pe["pops"].sum()), "broadcast": totals["broadcasts"],
        "lnzd_search": totals["groups_scanned"],
    }
    return SimResult(cfg, compiled.name, cycles, y, plan, relu, pe, totals, events, timings,
                     compiled=compiled if keep_work else None, work=works if keep_work else [])


def retime(result: SimResult, config: EIEConfig, keep_timing: bool = False) -> SimResult:
    """``result``'s run on ``config`` without computing the values again.

    ``config`` may differ from ``result.config`` only in :data:`RETIME_FIELDS` (queue depth,
    clock, line width, LNZD fan-in, SRAM sizes, pointer width): these change neither the
    memory images nor the values, only the timing, the line reads and the capacity check.
    The result equals ``simulate`` on ``config`` (outputs, cycles, every statistic and
    event); the reference check, if the first run made one, is carried over.
    """
    if not isinstance(result, SimResult) or result.compiled is None:
        raise InputError("retime needs a SimResult of simulate or simulate_stack run with keep_work=True")
    if not isinstance(config, EIEConfig):
        raise InputError(f"config must be an EIEConfig, not {type(config).__name__}")
    old = result.config
    changed = [f.name for f in dataclasses.fields(EIEConfig)
               if f.name not in RETIME_FIELDS and getattr(old, f.name) != getattr(config, f.name)]
    if changed:
        raise InputError(f"retime cannot change {changed[0]} ({getattr(old, changed[0])!r} -> "
                         f"{getattr(config, changed[0])!r}): it changes the memory images or the values; "
                         f"compile and simulate again")
    compiled = result.compiled
    if compiled.config != config:
        compiled = dataclasses.replace(compiled, config=config)
    values = {k: result.totals[k] for k in ("nonzero_inputs", "saturated_outputs", "preloaded_accumulators",
                                            "saturated_bias")}
    out = _timed(compiled, result.work, result.outputs_q, result.plan, result.relu, values, keep_timing, True)
    out.wrapped = result.wrapped
    out.capacity_problems = capacity_report(compiled)
    out.reference = dict(result.reference)
    return out


def simulate_stack(layers, x, config: EIEConfig, relu_last: bool = False, keep_timing: bool = False,
                   check_capacity: bool = True, check_reference: bool = True, *, keep_work: bool = False):
    """Run FC layers back to back with ReLU between them; activations stay on chip [arch §8].

    Layer L's quantised (ReLU'd) output is layer L+1's quantised input; ``fo`` of layer L
    is ``fa`` of layer L+1.  Fraction bits come from a float calibration run of the stack.
    Each layer is held to the float result *of the input it actually received* (the
    previous layer's fixed-point output), within that layer's error bound.
    Returns the list of per-layer :class:`SimResult`.
    """
    layers = list(layers)
    if not layers:
        raise InputError("a stack needs at least one layer")
    compressed = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, CompressedLayer):
            raise InputError(f"layer {i} must be a CompressedLayer, not {type(layer).__name__}")
        if i and layer.n_in != layers[i - 1].n_out:
            raise InputError(f"layer {i} has {layer.n_in} inputs but layer {i - 1} has {layers[i - 1].n_out} outputs")
        compressed.append(layer)
    x = check_activations(x, layers[0].n_in)
    # float calibration pass: value ranges of every layer's output
    xs, ys = [x], []
    for i, layer in enumerate(compressed):
        y = float_forward(layer, xs[-1])
        ys.append(y)
        last = i == len(compressed) - 1
        xs.append(np.maximum(y, 0) if (not last or relu_last) else y)
    results = []
    a_q = None
    fa = None
    for i, layer in enumerate(compressed):
        compiled = compile_layer(layer, config, check=check_capacity)
        last = i == len(compressed) - 1
        relu = relu_last if last else True
        plan = plan_layer(layer.codebook, xs[i], ys[i], config, fa=fa, bias=layer.bias, feeds_next=not last)
        if a_q is None:
            a_q = quantize(xs[0], plan.fa, config.act_bits)
        cb_q = quantize(layer.codebook, plan.fw, config.codebook_bits)
        res = _simulate_q(compiled, a_q, cb_q, plan, relu, keep_timing, keep_work)
        res.capacity_problems = capacity_report(compiled)
        if check_reference:
            x_in = a_q / 2.0 ** plan.fa
            w = sparse_weight(layer)
            _check_reference(res, layer, x_in, float_forward(layer, x_in, w), w)
        results.append(res)
        a_q = res.outputs_q
        fa = plan.fo
    return results
