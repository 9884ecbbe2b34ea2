"""Arithmetic unit (`arith`): codebook, row address accumulation, multiply, round-shift,
wrap-around accumulate with bypass [arch §3, §4, §5.5].

An entry issued in cycle t (its line read in t by :mod:`.spmat_read`) flows:

====== ==================================================================================
cycle  work (register at the end of the cycle)
====== ==================================================================================
t+1    entry select (``entry.v``, ``entry.z``)                                  → s2
t+2    codebook value w (LUT RAM read at v); multiplier inputs a, w registered; row = ``z``
       for a column's first entry, else ``row_prev + z + 1``                    → s3
t+3    product ``P = a·w`` (``act_bits + codebook_bits`` bits, exact), registered in the
       fabric                                                                   → s4
t+4    ``X = (2·P) >>> s`` (arithmetic, low ``acc_bits + 1`` bits kept); accumulator
       read of row; early bypass compare with the entry in s5                  → s5
t+5    ``acc[row] ← old + (X >> 1) + X[0]`` (``acc_bits``, wrap-around); old = the value
       written in t+4 on a bypass, else the register-file read; padding (v = 0) writes
       nothing
====== ==================================================================================

The product register is a fabric flip-flop, not the multiplier's output register: on ECP5
the multiplier tiles sit in fixed rows away from the PE's logic, and the flip-flop placed
next to the tile keeps the route out of it and the barrel shifter in different cycles.
The row address accumulation runs in t+2 from registers (no block-RAM output in front of
its adder).

The round-shift ``r = (P + 2^(s−1)) >> s`` (``r = P`` for s = 0) is split so that no stage
holds a wide adder behind the barrel shifter: with ``X = (2P) >>> s = P >>> (s−1)``,
``X >> 1 = floor(P / 2^s)`` and ``X[0]`` is bit s−1 of P, the rounding bit, so
``r = (X >> 1) + X[0]`` (for s = 0, ``X = 2P`` is even and ``r = P``); the ``+ X[0]`` is the
carry-in of the accumulate adder.  Only the low ``acc_bits + 1`` bits of X matter because
the accumulator wraps.

Bypass: the entry issued in t+1 reads the register file in t+5 while the entry issued in
t writes it at the end of t+5 (a read-before-write BRAM), so when both are real and have
the same row, the t+1 entry takes the value written in t+5.  Entries two or more cycles
apart see each other's writes in the memory.

With ``vendor="ecp5"`` the multiplier is a MULT18X18D with its input registers (s3); its
output is registered in the fabric (s4).

Pre-scaled multiply (``vendor="ecp5"``, when ``act_bits + 2`` and ``codebook_bits + 1`` fit
the tile's 18-bit inputs): the multiplier takes ``a·2^(k & 2)`` and ``w·2^(k & 1)`` with
``k = (−s) mod 4``, so the product is ``P' = P·2^k`` and ``X = (2P') >>> (s + k)``, which is
``(2P) >>> s`` exactly; ``s + k`` is a multiple of 4, so each bit of X chooses among about
10 bits of ``2P'`` (shifts 0, 4, .., 32, then only sign bits) instead of about 34: one LUT
level less behind the shift copies (the round-shift had been one PE's worst path).  The
pre-scale bits and ``ceil(s / 4)`` are registered from the static shift a cycle late
(settled long before a pass's first entry, as the shift copies are); the two 2:1 choices
sit in front of the tile's input registers.  The tile's spare bits make it free; elsewhere
(iCE40's soft multiplier) it would widen the multiplier, so it is not built.

Strobes (in the cycle noted): ``ev_entry``/``ev_padding`` (t+2), ``ev_bypass`` (t+5).
``busy`` is high while any of stages t+2 .. t+5 holds an entry; ``busy_next``: one will
in the next cycle (an entry now in t+1 .. t+4).
"""

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .interfaces import SHIFT_BITS, AccPort, Entry, PassControl, bit_slices, original_attrs, register_copies
from .params import SHIFT_COPIES, HWConfig

__all__ = ["Arith", "round_shift_ref"]

#: the pre-scaled multiply's extra operand bits: a is shifted by 0 or 2, w by 0 or 1
PRESCALE_A, PRESCALE_W = 2, 1


def round_shift_ref(p: int, s: int) -> int:
    """The contract's rounding shift on Python integers [arch §4]."""
    return p if s == 0 else (p + (1 << (s - 1))) >> s


class Arith(wiring.Component):
    """Arithmetic pipeline of one PE, with its codebook memory.

    Members
    -------
    ctl : In(PassControl)  ``start`` (cycle −1) drops entries in flight; ``running``: the
                       codebook's read port belongs to the datapath (else to the host).
    shift : In         the pass's ``shift`` (fa + fw − fo).
    entry : In(Entry)  the entry selected in t+1 (:class:`~eie.hdl.spmat_read.SpmatRead`).
    acc : Out(AccPort) the destination register file's accumulate port (the file lives in
                       :class:`eie.hdl.act_rw.ActRW`): ``raddr``/``ren`` in t+4, ``rdata``
                       in t+5, ``we_next``/``waddr_next`` in t+4, ``wdata`` in t+5.
    busy, busy_next, ev_* : Out(1)  see module docstring.
    h_* :              host port: the codebook (``h_rdata`` one cycle after ``h_addr``).
    """

    def __init__(self, hw: HWConfig, *, init_codebook=(), prescale: bool | None = None):
        self._hw = hw
        # the pre-scaled multiply (module docstring): by default where the multiplier has the
        # spare bits (ECP5); the unit tests also run it on the behavioural multiplier
        self._prescale = self.prescaled(hw) if prescale is None else prescale
        c = hw.config
        self._init = list(init_codebook)
        if len(self._init) > c.codebook_size:
            raise ValueError(f"init_codebook must have at most {c.codebook_size} values, not {len(self._init)}")
        super().__init__({
            "ctl": In(PassControl()),
            "shift": In(SHIFT_BITS),
            "entry": In(Entry(hw)),
            "acc": Out(AccPort(hw)),
            "busy": Out(1),
            "busy_next": Out(1),
            "ev_entry": Out(1),
            "ev_padding": Out(1),
            "ev_bypass": Out(1),
            "h_addr": In(c.weight_bits),
            "h_wdata": In(signed(c.codebook_bits)),
            "h_we": In(1),
            "h_rdata": Out(signed(c.codebook_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        hw = self._hw
        c = hw.config
        rb = hw.row_bits
        m.submodules.codebook = cb = Memory(shape=signed(c.codebook_bits), depth=c.codebook_size, init=self._init)
        # On ECP5 two LUT-RAM copies: the datapath's (no multiplexer in front of its address)
        # and the host's.  Elsewhere one read port shared by the two (on iCE40 the codebook
        # is a block RAM, and a second port would cost a second one).
        host_copy = hw.vendor == "ecp5"
        cb_w, cb_r = cb.write_port(), cb.read_port(domain="comb")
        cb_h = cb.read_port(domain="comb") if host_copy else cb_r
        h_cb = Signal(signed(c.codebook_bits))
        m.d.comb += [cb_w.addr.eq(self.h_addr), cb_w.data.eq(self.h_wdata), cb_w.en.eq(self.h_we)]
        if host_copy:
            m.d.comb += cb_h.addr.eq(self.h_addr)
        m.d.sync += h_cb.eq(cb_h.data)
        m.d.comb += self.h_rdata.eq(h_cb)

        # ---- t+1: the selected entry registered ------------------------------------------
        s2_valid, s2_real, s2_first = Signal(), Signal(), Signal()
        s2_z, s2_v, s2_a = Signal(len(self.entry.z)), Signal(c.weight_bits), Signal(signed(c.act_bits))
        m.d.sync += [s2_valid.eq(self.entry.valid & ~self.ctl.start), s2_real.eq(self.entry.v != 0),
                     s2_first.eq(self.entry.first), s2_z.eq(self.entry.z), s2_v.eq(self.entry.v),
                     s2_a.eq(self.entry.a)]

        # ---- t+2: codebook value, multiplier inputs; row address accumulation ---------------
        # row = z for a column's first entry, else row_prev + z + 1 (row_prev + 1 kept in a
        # register, so one adder from registers)
        m.d.comb += cb_r.addr.eq(s2_v if host_copy else Mux(self.ctl.running, s2_v, self.h_addr))
        row_next = Signal(rb)                    # row_prev + 1
        row = Signal(rb)
        m.d.comb += row.eq(Mux(s2_first, s2_z, row_next + s2_z))
        with m.If(s2_valid):
            m.d.sync += row_next.eq(row + 1)
        keep = original_attrs(hw)                # s3_row and s4_row have copies below
        s3_valid, s3_real, s3_row = Signal(), Signal(), Signal(rb, name="s3_row", attrs=keep)
        m.d.sync += [s3_valid.eq(s2_valid & ~self.ctl.start), s3_real.eq(s2_real), s3_row.eq(row)]
        # the row announced to the register file (its valid-bit lookup, a 64:1 choice, and a
        # compare): a copy of its own (timing_registers), apart from the pipeline's row
        if hw.timing_registers:
            s3_vrow = Signal(rb, name="s3_vrow", attrs={"keep": 1})
            m.d.sync += s3_vrow.eq(row)
        else:
            s3_vrow = s3_row
        m.d.comb += [self.ev_entry.eq(s2_valid), self.ev_padding.eq(s2_valid & ~s2_real)]

        # ---- t+3: product, registered in the fabric -----------------------------------------
        s4_valid, s4_real, s4_row = Signal(), Signal(), Signal(rb, name="s4_row", attrs=keep)
        # the product in SHIFT_COPIES copies (timing_registers), one per slice of the
        # round-shift below: each product bit feeds up to acc_bits + 1 of the shifter's
        # multiplexers, too many loads for one flip-flop
        n_p = hw.copies(SHIFT_COPIES)
        prescale = self._prescale       # the pre-scaled multiply (module docstring)
        p_bits = hw.product_bits + (PRESCALE_A + PRESCALE_W if prescale else 0)
        s4_p = [Signal(signed(p_bits), name=f"s4_p_c{k}" if n_p > 1 else "s4_p",
                       attrs={"keep": 1} if n_p > 1 else {}) for k in range(n_p)]
        # a copy of the row for the register file's one-hot decoder (waddr_next): the decoder's
        # 64 flip-flops are a load of their own, apart from the file's read address
        s4_wrow = Signal(rb, name="s4_wrow", attrs=keep)
        m.d.sync += [s4_valid.eq(s3_valid & ~self.ctl.start), s4_real.eq(s3_real), s4_row.eq(s3_row),
                     s4_wrow.eq(s3_row)]
        if prescale:
            # P' = P·2^k with k = (−s) mod 4 (a·2^(k & 2) times w·2^(k & 1)), so that the
            # shift below, s + k, is a multiple of 4: the pre-scale bits are set from the
            # pass's static shift a cycle late (settled long before the first entry)
            pre_a, pre_w = Signal(name="pre_a"), Signal(name="pre_w")
            m.d.sync += [pre_w.eq(self.shift[0]), pre_a.eq(self.shift[1] ^ self.shift[0])]
            a_in = Mux(pre_a, s2_a.shift_left(PRESCALE_A), s2_a)
            w_in = Mux(pre_w, cb_r.data.shift_left(PRESCALE_W), cb_r.data)
        else:
            a_in, w_in = s2_a, cb_r.data
        self._multiply(m, a_in, w_in, s4_p)

        # ---- t+4: round-shift (see module docstring), accumulator read, early bypass compare
        x = Signal(c.acc_bits + 1)
        # the shift amount is static during a pass (written before the start, used from the
        # pass's cycle 0 on, at least PREROLL cycles after the arm cycle), so copies of it a
        # cycle late are settled: each copy drives the shifter of one slice of x, so no
        # register fans out to every bit's multiplexer tree
        # pre-scaled: (2P')>>>(s + k) = (2P)>>>s exactly; the copies hold (s + k) / 4 = ceil(s / 4)
        shift_q = register_copies(m, (self.shift + 3) >> 2 if prescale else self.shift, hw.copies(SHIFT_COPIES),
                                  name="shift_q")
        amounts = [Cat(Const(0, 2), sq) for sq in shift_q] if prescale else shift_q
        for sl, amount, p in zip(bit_slices(len(x), len(shift_q)), amounts, s4_p, strict=False):
            twice = Signal(signed(p_bits + 1), name=f"twice_{sl.start}")
            shifted = twice >> amount
            if len(x) > p_bits + 1:
                # acc_bits above the product's width: x's top bits are the shifted product's
                # sign (a slice past a value's end is cut short and zero-filled: a negative
                # product had read as a large positive one).  Not built where the product is
                # at least as wide as x (every reference configuration), so their Verilog stays
                wide = Signal(signed(len(x)), name=f"twice_ext_{sl.start}")
                m.d.comb += wide.eq(shifted)
                shifted = wide
            m.d.comb += [twice.eq(p << 1), x[sl].eq(shifted[sl])]
        s5_valid, s5_real, s5_row, s5_bypass = Signal(), Signal(), Signal(rb), Signal()
        s5_x = Signal(c.acc_bits + 1)
        m.d.comb += [self.acc.raddr_next.eq(s3_vrow), self.acc.raddr.eq(s4_row), self.acc.ren.eq(s4_valid),
                     self.acc.waddr_next.eq(s4_wrow),               # s5_row in the next cycle
                     self.acc.we_next.eq(s4_valid & s4_real & ~self.ctl.start)]   # acc.we, next cycle
        m.d.sync += [
            s5_valid.eq(s4_valid & ~self.ctl.start), s5_real.eq(s4_real), s5_row.eq(s4_row), s5_x.eq(x),
            s5_bypass.eq(s4_valid & s4_real & s5_valid & s5_real & (s4_row == s5_row)),
        ]

        # ---- t+5: add and write ----------------------------------------------------------
        last_val = Signal(signed(c.acc_bits))      # the value written in the previous cycle
        old = Mux(s5_bypass, last_val, self.acc.rdata)
        new = Signal(signed(c.acc_bits))
        m.d.comb += [
            # old + (X >> 1) + X[0] as one adder: (2·old + 1) + X, the low bit dropped
            new.eq((Cat(Const(1, 1), old) + s5_x)[1:]),
            self.acc.wdata.eq(new),
            self.ev_bypass.eq(s5_valid & s5_bypass),
            self.busy.eq(s2_valid | s3_valid | s4_valid | s5_valid),
            self.busy_next.eq(self.entry.valid | s2_valid | s3_valid | s4_valid),
        ]
        m.d.sync += last_val.eq(new)
        return m

    @staticmethod
    def prescaled(hw: HWConfig) -> bool:
        """Whether the multiplier takes the pre-scaled operands (module docstring): on ECP5,
        where the MULT18X18D has the spare input bits, when the operands still fit 18 bits."""
        c = hw.config
        return (hw.vendor == "ecp5" and c.act_bits + PRESCALE_A <= 18
                and c.codebook_bits + PRESCALE_W <= 18)

    def _multiply(self, m, a, w, ps):
        """``p = a·w`` with two registers: the inputs (end of t+2) and the product (end of
        t+3), into every register of ``ps`` (copies).  On ECP5 a MULT18X18D with its input
        registers (yosys 0.70 infers none) and the product in fabric flip-flops, else
        behavioural."""
        hw = self._hw
        if not (hw.vendor == "ecp5" and len(a) <= 18 and len(w) <= 18):
            a_q = Signal(signed(len(a)), name="s3_a")
            w_q = Signal(signed(len(w)), name="s3_w")
            prod = Signal(signed(len(ps[0])), name="s3_prod")
            m.d.comb += prod.eq(a_q * w_q)
            m.d.sync += [a_q.eq(a), w_q.eq(w)] + [p.eq(prod) for p in ps]
            return
        a18, b18, p36 = Signal(signed(18)), Signal(signed(18)), Signal(36)
        m.d.comb += [a18.eq(a), b18.eq(w)]
        m.d.sync += [p.eq(p36[:len(p)]) for p in ps]     # the fabric registers behind the tile
        ports = {}
        for k in range(18):
            ports[f"i_A{k}"] = a18[k]
            ports[f"i_B{k}"] = b18[k]
            ports[f"i_C{k}"] = Const(0, 1)
        for k in range(36):
            ports[f"o_P{k}"] = p36[k]
        # unused clocks, enables and resets stay unconnected (as in yosys's own mapping)
        ports.update(i_CLK0=ClockSignal("sync"), i_CE0=Const(1, 1), i_RST0=Const(0, 1))
        m.submodules.mult = Instance(
            "MULT18X18D",
            p_REG_INPUTA_CLK="CLK0", p_REG_INPUTA_CE="CE0", p_REG_INPUTA_RST="RST0",
            p_REG_INPUTB_CLK="CLK0", p_REG_INPUTB_CE="CE0", p_REG_INPUTB_RST="RST0",
            p_REG_INPUTC_CLK="NONE", p_REG_PIPELINE_CLK="NONE",
            p_REG_OUTPUT_CLK="NONE",
            p_CLK0_DIV="ENABLED", p_CLK1_DIV="ENABLED", p_CLK2_DIV="ENABLED", p_CLK3_DIV="ENABLED",
            p_HIGHSPEED_CLK="NONE", p_GSR="DISABLED", p_CAS_MATCH_REG="FALSE", p_SOURCEB_MODE="B_SHIFT",
            p_MULT_BYPASS="DISABLED", p_RESETMODE="SYNC",
            i_SIGNEDA=Const(1, 1), i_SIGNEDB=Const(1, 1), i_SOURCEA=Const(0, 1), i_SOURCEB=Const(0, 1),
            **ports,
        )
