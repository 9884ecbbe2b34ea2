"""Compiler: a compressed layer + `EIEConfig` → per-PE memory images [arch §2, §3].

Row i goes to PE i mod N (local row i div N).  Each PE stores its slice of every column in
CSC form as 8-bit entries (4-bit code v, 4-bit relative row index z), padding entries for
gaps longer than 15, column pointers split over even/odd banks and entries packed into
64-bit SRAM lines.  The bias is an extra input column at index ``Cp = ceil(n_in/N)*N``:
it holds a coded bias, and is empty (but still broadcast) for a full-precision bias, which
the accumulators start from instead [arch §2].

The whole compile is vectorised: the code matrix of a pass is viewed as
``(local_row, pe, column)``, transposed to ``(pe, column, local_row)`` so that
``np.nonzero`` yields the entries already in storage order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from .config import EIEConfig
from .errors import CapacityError, InputError
from .fileio import OutputPlan
from .layer import CompressedLayer

__all__ = ["PassImage", "CompiledLayer", "compile_layer", "decode", "MemoryNeeds", "memory_needs", "capacity_report",
           "hex_lines", "hex_images", "export_hex", "hex_plan"]


@dataclass(eq=False)
class PassImage:
    """Memory images of one row pass, all PEs.

    ``ptr[p]`` are the ``Cp + 2`` column pointers of PE p; the entries of PE p are
    ``v[off[p]:off[p+1]]`` / ``z[...]`` (``off = pe_offsets``).  Derived per-entry arrays
    (``col``, ``row``) and per-column summaries used by the model are filled by the compiler.
    """

    row_start: int
    n_rows: int
    ptr: np.ndarray            # (N, Cp+2) int64
    v: np.ndarray              # (M,) uint8, all PEs concatenated
    z: np.ndarray              # (M,) uint8
    pe_offsets: np.ndarray     # (N+1,) int64
    col: np.ndarray            # (M,) int64 column of each entry (bias column = Cp)
    row: np.ndarray            # (M,) int64 local row of each entry (padding: the row it advances to)
    first_row: np.ndarray      # (N, Cp+1) local row of a column's first entry, -1 if empty or padding
    last_row: np.ndarray       # (N, Cp+1) local row of a column's last entry, -1 if empty
    padding_per_col: np.ndarray  # (N, Cp+1) padding entries per column

    @property
    def pes(self) -> int:
        return self.ptr.shape[0]

    @property
    def lengths(self) -> np.ndarray:
        """(N, Cp+1) entries per column per PE, padding included."""
        return np.diff(self.ptr, axis=1)

    def entries_per_pe(self) -> np.ndarray:
        return np.diff(self.pe_offsets)

    @cached_property
    def out_rows(self) -> np.ndarray:
        """(M,) output row of each entry, ``row_start + row * N + pe`` [arch §2] (padding: of
        the row it advances to); computed once per image, for the model's arithmetic."""
        pe = np.repeat(np.arange(self.pes, dtype=np.int64), self.entries_per_pe())
        return self.row_start + self.row * self.pes + pe

    def pe_entries(self, p: int):
        s = slice(int(self.pe_offsets[p]), int(self.pe_offsets[p + 1]))
        return self.v[s], self.z[s]

    def lines(self, p: int, config: EIEConfig) -> list[int]:
        """SRAM line words of PE p (slot 0 in the least significant bits) [arch §3]."""
        v, z = self.pe_entries(p)
        epl, eb = config.entries_per_line, config.entry_bits
        ent = (v.astype(np.int64) | (z.astype(np.int64) << config.weight_bits))
        n_lines = -(-len(ent) // epl)
        ent = np.concatenate([ent, np.zeros(n_lines * epl - len(ent), np.int64)]).reshape(n_lines, epl)
        words = []
        for line in ent.tolist():
            w = 0
            for s, e in enumerate(line):
                w |= e << (s * eb)
            words.append(w)
        return words

    def ptr_banks(self, p: int):
        """(even, odd) pointer banks of PE p: even[m] = p_{2m}, odd[m] = p_{2m+1}."""
        return self.ptr[p, 0::2].copy(), self.ptr[p, 1::2].copy()

    def preload_words(self, p: int, bias_q, entries: int) -> np.ndarray:
        """The destination-file preload of PE p in this pass [arch §2]: entry r (``r <
        entries``) holds ``bias_q`` of output ``row_start + r·N + p`` (``bias_q``: the whole
        layer's ``q_acc(bias)``, :func:`eie.fixed.acc_preload`), 0 past the pass's rows."""
        rows = self.row_start + np.arange(entries, dtype=np.int64) * self.pes + p
        words = np.zeros(entries, np.int64)
        inside = rows < self.row_start + self.n_rows
        words[inside] = np.asarray(bias_q, np.int64)[rows[inside]]
        return words


@dataclass(eq=False)
class CompiledLayer:
    """The memory images of a layer, every row pass.

    ``has_bias``: the layer has a coded bias (entries in the bias column); ``bias``: its
    full-precision bias (float64, ``n_out``; the bias column is then empty and the
    accumulators start from ``q_acc(bias)``, which needs ``fo``: :func:`eie.fixed.acc_preload`)
    [arch §2].
    """

    config: EIEConfig
    n_in: int
    n_out: int
    cp: int
    codebook: np.ndarray
    passes: list[PassImage]
    name: str = "layer"
    has_bias: bool = False
    meta: dict = field(default_factory=dict)
    bias: np.ndarray | None = None

    @property
    def bias_column(self) -> int:
        return self.cp

    def load_stats(self) -> dict:
        """Per-PE load over all passes: entries, padding, real entries, lines, pointers
        (lines and pointers as :func:`memory_needs` counts them)."""
        need = memory_needs(self)
        n = self.config.pes
        entries = need.entries
        padding = np.zeros(n, np.int64)
        for ps in self.passes:
            padding += ps.padding_per_col.sum(axis=1)
        real = entries - padding
        return {
            "entries": entries, "padding": padding, "nonzeros": real, "lines": need.lines,
            "pointers": np.full(n, need.pointers, np.int64),
            "max_entries": int(entries.max()), "mean_entries": float(entries.mean()),
            "padding_fraction": float(padding.sum() / max(1, entries.sum())),
            "balance": float(entries.mean() / entries.max()) if entries.max() else 1.0,
        }


@dataclass(frozen=True, eq=False)
class MemoryNeeds:
    """What a compiled layer needs of each per-PE memory [arch §3]: the one owner of these
    numbers (the capacity check, the RTL's memory depths and the host driver's fit check).

    ``lines`` / ``pointers`` count every pass resident at once (the contract's SRAM
    capacity); ``pass_lines`` / ``ptr_words`` are what one pass needs loaded (an RTL build
    loads one pass at a time).
    """

    entries: np.ndarray          # per PE, every pass (padding included)
    lines: np.ndarray            # per PE, every pass resident
    pass_lines: tuple            # per pass: the most lines of any PE
    pointers: int                # per PE, every pass resident: passes x (Cp + 2)
    ptr_words: int               # words of each pointer bank one pass needs: (Cp + 1) // 2 + 1
    max_pointer: int             # largest pointer value of any pass
    max_pointer_pe: int          # the PE that holds it
    act_groups: int              # source words per PE: G = Cp / N
    in_per_pe: int               # input activations per PE: ceil(n_in / N)
    out_per_pe: int              # output activations per PE: ceil(n_out / N)
    regfile_entries: int         # destination entries a pass fills per PE

    @property
    def max_lines(self) -> int:
        """The most lines one pass needs in any PE."""
        return max(self.pass_lines)


def memory_needs(compiled: CompiledLayer) -> MemoryNeeds:
    """The memory needs of ``compiled`` (see :class:`MemoryNeeds`)."""
    cfg = compiled.config
    n, epl = cfg.pes, cfg.entries_per_line
    entries = np.zeros(n, np.int64)
    lines = np.zeros(n, np.int64)
    pass_lines = []
    for ps in compiled.passes:
        e = ps.entries_per_pe()
        entries += e
        lines += -(-e // epl)
        pass_lines.append(int(-(-e.max() // epl)))
    last = np.max([ps.ptr[:, -1] for ps in compiled.passes], axis=0)
    return MemoryNeeds(entries=entries, lines=lines, pass_lines=tuple(pass_lines),
                       pointers=len(compiled.passes) * (compiled.cp + 2), ptr_words=(compiled.cp + 1) // 2 + 1,
                       max_pointer=int(last.max()), max_pointer_pe=int(np.argmax(last)),
                       act_groups=compiled.cp // n, in_per_pe=-(-compiled.n_in // n),
                       out_per_pe=-(-compiled.n_out // n), regfile_entries=cfg.regfile_entries)


def capacity_report(compiled: CompiledLayer) -> list[str]:
    """Every capacity violation as a message naming the PE, the memory, need and have, and the
    option that raises it."""
    cfg = compiled.config
    need = memory_needs(compiled)
    problems = []
    p = int(np.argmax(need.lines))
    if need.lines[p] > cfg.spmat_lines:
        problems.append(
            f"sparse-matrix SRAM of PE {p} needs {int(need.lines[p])} lines of {cfg.line_bits} bits "
            f"({int(need.entries[p])} entries, {need.lines[p] * cfg.line_bits / 8192:.1f} KiB) but has "
            f"{cfg.spmat_lines} ({cfg.spmat_kb:g} KiB): raise --spmat-kb or --pes")
    if need.pointers > cfg.ptr_capacity:
        problems.append(
            f"pointer SRAM of PE 0 (every PE alike) needs {need.pointers} pointers of {cfg.ptr_bits} bits "
            f"({need.pointers * cfg.ptr_bits / 8192:.1f} KiB) but has {cfg.ptr_capacity} ({cfg.ptr_kb:g} KiB): "
            f"raise --ptr-kb")
    if need.max_pointer > cfg.max_pointer:
        problems.append(
            f"column pointers of PE {need.max_pointer_pe} reach {need.max_pointer} entries but {cfg.ptr_bits}-bit "
            f"pointers address at most {cfg.max_pointer}: raise --ptr-bits")
    for what, per_pe in (("input", need.in_per_pe), ("output", need.out_per_pe)):
        if per_pe > cfg.act_sram_entries:
            problems.append(
                f"activation SRAM of PE 0 needs {per_pe} {what} activations but holds "
                f"{cfg.act_sram_entries} ({cfg.act_sram_kb:g} KiB): raise --act-sram-kb or --pes")
    return problems


def _compile_pass(codes_pass: np.ndarray, bias_pass: np.ndarray | None, config: EIEConfig, cp: int,
                  row_start: int) -> PassImage:
    n = config.pes
    n_rows, n_in = codes_pass.shape
    ncol = cp + 1                            # columns incl. the (possibly empty) gap and bias column
    rloc = -(-n_rows // n)                   # local rows of the pass in each PE
    # the pass as a (pe, column, local row) grid, the bias as column Cp: a flat scan of the
    # grid meets the entries in storage order [arch §3], with no sort
    grid = np.zeros((n, ncol, rloc), np.uint8)
    full, rest = divmod(n_rows, n)           # complete local rows, rows of the last one
    grid[:, :n_in, :full] = codes_pass[:full * n].reshape(full, n, n_in).transpose(1, 2, 0)
    if rest:
        grid[:rest, :n_in, full] = codes_pass[full * n:]
    if bias_pass is not None:
        grid[:, cp, :full] = bias_pass[:full * n].reshape(full, n).T
        if rest:
            grid[:rest, cp, full] = bias_pass[full * n:]
    flat = np.flatnonzero(grid.ravel() != 0)
    vals = grid.ravel()[flat]
    del grid
    if rloc & (rloc - 1):
        key, r = np.divmod(flat, rloc)       # key = pe * ncol + column; r = local row
    else:
        r = flat & (rloc - 1)
        flat >>= rloc.bit_length() - 1
        key = flat
    del flat
    nnz = len(r)
    counts = np.bincount(key, minlength=n * ncol)
    col = np.repeat(np.arange(0, n * ncol, ncol, dtype=np.int64), counts.reshape(n, ncol).sum(axis=1))
    np.subtract(key, col, out=col)
    # first and last entry of each non-empty (pe, column); the zeros before each entry
    # since the previous one of its (pe, column), or since local row 0 for the first
    filled = np.flatnonzero(counts)          # keys of the non-empty (pe, column)s
    ends = np.cumsum(counts[filled]) - 1
    starts = ends - counts[filled] + 1
    gap = np.empty(nnz, np.int64)
    np.subtract(r[1:], r[:-1], out=gap[1:])
    gap -= 1
    gap[starts] = r[starts]
    span = 1 << config.index_bits
    padding_per_col = np.zeros(n * ncol, np.int64)
    if rloc <= span:
        # no gap reaches 2**index_bits: no padding entry, the entries are the non-zeros
        m = nnz
        v, z = vals, gap.astype(np.uint8)
        ent_col, ent_row = col, r
        first = r[starts]
    else:
        npad = gap // span
        z_real = gap % span
        # entry positions: each real entry is preceded by its padding entries
        pos = np.arange(nnz, dtype=np.int64) + np.cumsum(npad)
        m = nnz + int(npad.sum())
        v = np.zeros(m, np.uint8)
        z = np.full(m, span - 1, np.uint8)
        v[pos] = vals
        z[pos] = z_real
        ent_col = np.repeat(col, 1 + npad)
        ent_row = np.empty(m, np.int64)
        ent_row[pos] = r
        if m > nnz:
            # padding rows: walk back from the real entry they precede
            pad_idx = np.nonzero(v == 0)[0]
            owner = np.searchsorted(pos, pad_idx)          # the real entry this padding precedes
            k_before = pos[owner] - pad_idx               # 1.. npad
            ent_row[pad_idx] = r[owner] - z_real[owner] - 1 - (k_before - 1) * span
            padding_per_col = np.bincount(key, weights=npad, minlength=n * ncol).astype(np.int64)
            counts = counts + padding_per_col
        first = np.where(npad[starts] > 0, -1, r[starts])
    ptr = np.zeros((n, ncol + 1), np.int64)
    np.cumsum(counts.reshape(n, ncol), axis=1, out=ptr[:, 1:])
    pe_offsets = np.zeros(n + 1, np.int64)
    np.cumsum(ptr[:, -1], out=pe_offsets[1:])
    first_row = np.full(n * ncol, -1, np.int64)
    last_row = np.full(n * ncol, -1, np.int64)
    first_row[filled] = first
    last_row[filled] = r[ends]
    return PassImage(row_start, n_rows, ptr, v, z, pe_offsets, ent_col, ent_row, first_row.reshape(n, ncol),
                     last_row.reshape(n, ncol), padding_per_col.reshape(n, ncol))


def compile_layer(layer: CompressedLayer, config: EIEConfig, check: bool = True) -> CompiledLayer:
    """Map a compressed layer onto ``config.pes`` PEs [arch §2-§3].

    A coded bias fills the bias column; a full-precision bias leaves it empty (it is kept
    as ``CompiledLayer.bias`` for the accumulator preload).

    Raises :class:`CapacityError` (when ``check``) if the layer does not fit the SRAMs.
    """
    if not isinstance(layer, CompressedLayer):
        raise InputError(f"compile_layer needs a CompressedLayer, not {type(layer).__name__}: compress it first")
    if layer.codebook.size > config.codebook_size:
        raise InputError(
            f"codebook must have at most 2**weight_bits = {config.codebook_size} entries, not "
            f"{layer.codebook.size}: recompress it with {config.weight_bits}-bit codes (--bits {config.weight_bits}) or "
            f"raise weight_bits (--weight-bits {max(1, (layer.codebook.size - 1).bit_length())})")
    n = config.pes
    cp = -(-layer.n_in // n) * n
    r = config.rows_per_pass
    passes = []
    for start in range(0, layer.n_out, r):
        stop = min(layer.n_out, start + r)
        bias = None if layer.bias_codes is None else layer.bias_codes[start:stop]
        passes.append(_compile_pass(layer.codes[start:stop], bias, config, cp, start))
    compiled = CompiledLayer(config, layer.n_in, layer.n_out, cp, layer.codebook.copy(), passes, layer.name,
                             layer.bias_codes is not None,
                             bias=None if layer.bias is None else layer.bias.copy())
    if check:
        problems = capacity_report(compiled)
        if problems:
            raise CapacityError(f"layer {layer.name!r} ({layer.n_out}x{layer.n_in}) does not fit: "
                                + "; ".join(problems))
    return compiled


def decode(compiled: CompiledLayer):
    """Rebuild ``(codes, bias_codes)`` from the memory images alone (pointers, v, z).

    Uses only the stored fields and the address-accumulation rule of [arch §3], not the
    compiler's derived arrays, so that it checks the encoding independently.
    """
    n, cp = compiled.config.pes, compiled.cp
    codes = np.zeros((compiled.n_out, compiled.n_in), np.uint8)
    bias = np.zeros(compiled.n_out, np.uint8)
    for ps in compiled.passes:
        for p in range(n):
            v, z = ps.pe_entries(p)
            lengths = np.diff(ps.ptr[p])
            col = np.repeat(np.arange(cp + 1), lengths)
            step = z.astype(np.int64) + 1
            csum = np.cumsum(step)
            excl = csum - step                       # row position before each entry
            firsts = ps.ptr[p, :-1][lengths > 0]
            col_start = np.repeat(excl[firsts], lengths[lengths > 0])
            local = csum - col_start - 1
            real = v != 0
            rows = ps.row_start + local[real] * n + p
            cols = col[real]
            if len(rows) and rows.max() >= ps.row_start + ps.n_rows:
                raise InputError(f"decoded row {int(rows.max())} outside pass of PE {p}")
            main = cols < compiled.n_in
            codes[rows[main], cols[main]] = v[real][main]
            bias[rows[cols == cp]] = v[real][cols == cp]
    return codes, (bias if compiled.has_bias else None)


def hex_lines(values, width_bits: int) -> str:
    digits = -(-width_bits // 4)
    return "".join(f"{int(x) & ((1 << width_bits) - 1):0{digits}x}\n" for x in values)


#: the kind of run of ``eie compile``'s output directory (:class:`eie.fileio.OutputPlan`),
#: which its text manifest names itself
COMPILE_KIND = "compile"


def hex_images(compiled: CompiledLayer, codebook_q=None, act_q=None, bias_q=None) -> dict[str, str]:
    """``{file name: text}`` of the ``$readmemh`` images: per pass and PE the sparse-matrix
    lines and both pointer banks, the quantised codebook and (if given) the quantised input
    placement per PE, plus ``manifest.json`` describing them.

    A layer with a full-precision bias also gets, per pass and PE, the destination-file
    preload (``pass<t>_pe<p>_bias.hex``: ``regfile_entries`` words of ``acc_bits``,
    :meth:`PassImage.preload_words`) when ``bias_q`` (``q_acc(bias)``, which needs ``fo``:
    the input) is given."""
    cfg = compiled.config
    if bias_q is not None and compiled.bias is None:
        raise InputError(f"layer {compiled.name!r} has no full-precision bias: bias_q must be None")
    files: dict[str, str] = {}
    manifest = {"name": compiled.name, "pes": cfg.pes, "n_in": compiled.n_in, "n_out": compiled.n_out,
                "cp": compiled.cp, "line_bits": cfg.line_bits, "ptr_bits": cfg.ptr_bits, "acc_bits": cfg.acc_bits,
                "bias": "full" if compiled.bias is not None else "coded" if compiled.has_bias else None,
                "passes": [], "config": cfg.to_dict()}
    for t, ps in enumerate(compiled.passes):
        entry = {"row_start": ps.row_start, "n_rows": ps.n_rows, "pes": []}
        for p in range(cfg.pes):
            even, odd = ps.ptr_banks(p)
            names = {"spmat": f"pass{t}_pe{p}_spmat.hex", "ptr_even": f"pass{t}_pe{p}_ptr_even.hex",
                     "ptr_odd": f"pass{t}_pe{p}_ptr_odd.hex"}
            files[names["spmat"]] = hex_lines(ps.lines(p, cfg), cfg.line_bits)
            files[names["ptr_even"]] = hex_lines(even, cfg.ptr_bits)
            files[names["ptr_odd"]] = hex_lines(odd, cfg.ptr_bits)
            if bias_q is not None:
                names["bias"] = f"pass{t}_pe{p}_bias.hex"
                files[names["bias"]] = hex_lines(ps.preload_words(p, bias_q, cfg.regfile_entries), cfg.acc_bits)
            entry["pes"].append({**names, "entries": int(ps.pe_offsets[p + 1] - ps.pe_offsets[p])})
        manifest["passes"].append(entry)
    if codebook_q is not None:
        files["codebook.hex"] = hex_lines(codebook_q, cfg.codebook_bits)
        manifest["codebook"] = "codebook.hex"
    if act_q is not None:
        act_q = np.asarray(act_q)
        per_pe = -(-compiled.n_in // cfg.pes)
        padded = np.zeros(per_pe * cfg.pes, np.int64)
        padded[:len(act_q)] = act_q
        grid = padded.reshape(per_pe, cfg.pes)
        manifest["activations"] = []
        for p in range(cfg.pes):
            name = f"pe{p}_act.hex"
            files[name] = hex_lines(grid[:, p], cfg.act_bits)
            manifest["activations"].append(name)
    manifest["files"] = sorted([*files, "manifest.json"])
    manifest["written_by"] = f"eie {COMPILE_KIND}"     # what eie.fileio.OutputPlan(kind=COMPILE_KIND) compares
    files["manifest.json"] = json.dumps(manifest, indent=1) + "\n"
    return files


def export_hex(compiled: CompiledLayer, outdir, codebook_q=None, act_q=None, force: bool = False,
               bias_q=None) -> list[Path]:
    """Write :func:`hex_images` into ``outdir`` (:class:`eie.fileio.OutputPlan`: every file
    checked before any is written; existing files only replaced with ``force``, and then the
    files of an earlier run that this one does not write are removed)."""
    return hex_plan(compiled, outdir, codebook_q, act_q, force, bias_q).commit()


def hex_plan(compiled: CompiledLayer, outdir, codebook_q=None, act_q=None, force: bool = False,
             bias_q=None) -> OutputPlan:
    """The :class:`eie.fileio.OutputPlan` of :func:`export_hex`, not yet written: ``check()``
    it before saying anything, ``commit()`` it to write."""
    plan = OutputPlan(outdir, force=force, kind=COMPILE_KIND, what="output directory")
    for name, text in hex_images(compiled, codebook_q, act_q, bias_q).items():
        plan.add(name, text)
    return plan
