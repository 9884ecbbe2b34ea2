"""An independent, cycle-stepping reference of the array, written from the prose of
docs/architecture.md §3-§5 (not from eie.model's recurrence).  Slow: for small layers only.

It works from the plain code matrix, builds each PE's column slices itself, and steps
every unit one cycle at a time.
"""

from collections import deque


def encode_column(col_codes, index_bits):
    """One PE's slice of one column → list of (v, z) with padding [arch §3]."""
    span = 1 << index_bits
    out, gap = [], 0
    for c in col_codes:
        if c == 0:
            gap += 1
            continue
        while gap >= span:
            out.append((0, span - 1))
            gap -= span
        out.append((int(c), gap))
        gap = 0
    return out


def rshift_round(p, s):
    return p if s == 0 else (p + (1 << (s - 1))) >> s


def wrap(x, bits):
    m = 1 << bits
    x %= m
    return x - m if x >= m >> 1 else x


def step_simulate(codes, bias_codes, a_q, cb_q, shift, n_pes, depth, index_bits=4, epl=8, acc_bits=16,
                  act_bits=16, fa=11, relu=False, max_cycles=10**6, acc_init=None):
    """Return (cycles, outputs, stats) for one pass (n_out <= regfile capacity).

    ``acc_init``: the destination register file before the pass (a full-precision bias
    preloaded as q_acc(bias) [arch §2]); zeros when None."""
    n_out, n_in = len(codes), len(codes[0])
    cp = -(-n_in // n_pes) * n_pes
    # per-PE column slices, entries laid out column after column
    cols = {}
    for p in range(n_pes):
        rows = list(range(p, n_out, n_pes))
        addr = 0
        for j in range(cp + 1):
            if j < n_in:
                col = [codes[i][j] for i in rows]
            elif j == cp and bias_codes is not None:
                col = [bias_codes[i] for i in rows]
            else:
                col = []
            ent = encode_column(col, index_bits)
            cols[p, j] = (addr, ent)
            addr += len(ent)
    act = {j: a_q[j] for j in range(n_in) if a_q[j] != 0}
    act[cp] = 1 << fa
    n_groups = cp // n_pes
    # scanner state
    g, qlast, held, finished = 0, -1, None, False
    queues = [deque() for _ in range(n_pes)]
    rem = [[] for _ in range(n_pes)]          # entries still to issue: (addr, v, z)
    row_acc = [0] * n_pes                     # address accumulator of the current column
    col_cur = [None] * n_pes
    last_write = [-1] * n_pes
    last_line = [None] * n_pes
    last_issue = [(-10, None)] * n_pes
    acc = [0] * n_out if acc_init is None else [int(v) for v in acc_init]
    st = {"line_reads": [0] * n_pes, "bypasses": [0] * n_pes, "entries": [0] * n_pes, "padding": [0] * n_pes,
          "empty_columns": [0] * n_pes, "pops": [0] * n_pes, "stall_cycles": 0, "broadcasts": 0}
    c = 0
    while True:
        if c > max_cycles:
            raise RuntimeError("reference did not finish")
        if finished and all(not q for q in queues) and all(not r and lw < c for r, lw in zip(rem, last_write, strict=True)):
            break
        counts = [len(q) for q in queues]
        stall = any(n >= depth for n in counts)
        # --- LNZD / CCU --------------------------------------------------------------
        cand = held
        if cand is None and not finished:
            if g < n_groups:
                found = [q for q in range(qlast + 1, n_pes) if g * n_pes + q in act]
            else:                                   # bias group: position 0 only
                found = [0] if qlast < 0 else []
            if found:
                cand = (g, found[0])
                if found[0] == n_pes - 1:
                    g, qlast = g + 1, -1
                else:
                    qlast = found[0]
            else:
                g, qlast = g + 1, -1
        push = None
        if cand is not None:
            if stall:
                held = cand
                st["stall_cycles"] += 1
            else:
                held = None
                j = cand[0] * n_pes + cand[1]
                push = (j, act[j])
                st["broadcasts"] += 1
                if j == cp:
                    finished = True
        # --- PEs ------------------------------------------------------------------------
        for p in range(n_pes):
            ready = True
            if rem[p]:
                e_addr, v, z = rem[p].pop(0)
                ready = not rem[p]
                line = e_addr // epl
                if line != last_line[p]:
                    st["line_reads"][p] += 1
                    last_line[p] = line
                row_acc[p] += z + 1
                local = row_acc[p] - 1
                st["entries"][p] += 1
                if v == 0:
                    st["padding"][p] += 1
                else:
                    i = local * n_pes + p
                    j, a = col_cur[p]
                    acc[i] = wrap(acc[i] + rshift_round(a * cb_q[v], shift), acc_bits)
                    t_prev, r_prev = last_issue[p]
                    if t_prev == c - 1 and r_prev == i:
                        st["bypasses"][p] += 1
                    last_issue[p] = (c, i)
                    last_write[p] = c + 5
            if ready and queues[p]:
                j, a = queues[p].popleft()
                st["pops"][p] += 1
                base, ent = cols[p, j]
                rem[p] = [(base + k, v, z) for k, (v, z) in enumerate(ent)]
                row_acc[p] = 0
                col_cur[p] = (j, a)
                if not ent:
                    st["empty_columns"][p] += 1
        if push is not None:
            for q in queues:
                q.append(push)
        c += 1
    lo, hi = -(1 << (act_bits - 1)), (1 << (act_bits - 1)) - 1
    out = [min(hi, max(lo, x)) for x in acc]
    if relu:
        out = [max(0, x) for x in out]
    return c + 1, out, st
