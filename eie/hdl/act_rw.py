"""Activation read/write (`act_rw`): source and destination register files of one PE [arch §5.6].

* Two activation banks of ``act_depth`` × ``act_bits`` (signed).  ``src_sel`` names the
  *source* bank (the one the LNZD reads); the other is the *next* bank that receives the
  write-out.  Input i of a layer sits in PE i mod N at address i div N.
* The destination register file: ``dst_depth`` × ``acc_bits``.  It is cleared at
  ``start`` by a valid bit per entry (one cycle for the whole file; an entry whose valid
  bit is off reads as 0 and the first write sets it), unless ``keep_acc``: then the pass
  accumulates onto the entries the host preloaded (a full-precision bias: each accumulator
  starts from ``q_acc(bias)`` [arch §2]).  A host write (``h_we_dst``) sets an entry and
  its valid bit.
* Write-out [arch §4]: ``y = clamp(acc, −2^(act_bits−1), 2^(act_bits−1) − 1)``, then
  ``max(y, 0)`` if ``relu``.
* Swap [arch §5.6]: ``wb.start`` copies the write-out of every destination entry r to
  address ``wb_base + r`` of the next bank (``regfile_entries`` + 3 cycles of ``wb.busy``; pass t
  of a multi-pass layer uses ``wb_base = t·regfile_entries``); the host then flips
  ``src_sel``.  Neither costs a cycle of the pass [arch §5.7].

Ports and timing
----------------
* Source prefetch (:mod:`.src_prefetch`): ``src.rd_en`` in cycle c reads the next group of
  the source bank (an address counter reset by ``arm``); the word is on ``src.data`` in c+3
  (block RAM with output register, then a register behind the bank multiplexer:
  ``SRC_LATENCY``).  Used while ``pf_active``; otherwise the banks read ``h_addr``.
* Accumulate port (from :class:`eie.hdl.arith.Arith`): ``acc.raddr``/``acc.ren`` in cycle
  c → ``acc.rdata`` in c+1 (read-before-write); ``acc.we`` writes at the end of the cycle
  (the file takes the write's enable and row a cycle early, ``acc.we_next``/``acc.waddr_next``;
  with ``timing_registers`` the word itself lands a cycle later still, from registers, and
  the datapath's read forwards it: see ``_dst_file``).
  The write-back and the host read the file through a second read port (``wb`` addresses
  or ``h_addr``), so neither address needs a multiplexer in front of the valid bits.
* Host: ``h_we_src``/``h_we_next`` write a bank (``h_wdata``); ``h_we_dst`` writes destination
  entry ``h_dst_addr`` (``h_wacc``; ``h_dst_addr`` is ``h_addr`` from a register of its own,
  for the write's address and valid-bit one-hot) through the accumulate port's write port,
  one cycle after the other host writes (registered first; the host writes only while no
  pass runs, so the two never meet); ``h_src``, ``h_next`` two cycles after
  ``h_addr``, ``h_out`` (write-out of the destination entry) three cycles after.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .bram import SyncBRAM
from .interfaces import AccPort, PassControl, SrcRead, WriteBack
from .params import HWConfig

__all__ = ["ActRW", "write_out", "write_out_ref"]


#: the valid-bit lookups' first step with ``timing_registers``: a 2^LOOKUP_PART_BITS : 1 choice
#: per part of the valid bits, registered; the choice among the parts is the next cycle's
LOOKUP_PART_BITS = 4


def split_lookup(m, bits, addr, *, name: str):
    """``bits[addr]`` (0 past the end) in two steps: the parts' choices at the low address
    bits, registered with the high bits at the end of this cycle; returns the next cycle's
    choice among them (combinational).  Bits that change in between are not seen, exactly as
    a one-step lookup registered at the end of this cycle would not see them."""
    lo = LOOKUP_PART_BITS
    if len(addr) <= lo:
        got = Signal(name=name)
        m.d.sync += got.eq(bits.bit_select(addr, 1))
        return got
    size = 1 << lo
    parts = [Signal(name=f"{name}_p{k}") for k in range(-(-len(bits) // size))]
    for k, part in enumerate(parts):
        word = bits[k * size:(k + 1) * size]
        if len(word) < size:
            word = Cat(word, Const(0, size - len(word)))
        m.d.sync += part.eq(word.bit_select(addr[:lo], 1))
    hi = Signal(len(addr) - lo, name=f"{name}_hi")
    m.d.sync += hi.eq(addr[lo:])
    return Array(parts)[hi]                  # an index past the parts reads 0 (Amaranth)


def write_out_ref(acc: int, act_bits: int, relu: bool) -> int:
    """The write-out rule on Python integers [arch §4]."""
    lo, hi = -(1 << (act_bits - 1)), (1 << (act_bits - 1)) - 1
    y = min(max(acc, lo), hi)
    return max(y, 0) if relu else y


def write_out(acc, act_bits: int, relu):
    """Amaranth expression of the write-out rule (``acc`` signed, ``relu`` a 1-bit value)."""
    lo, hi = -(1 << (act_bits - 1)), (1 << (act_bits - 1)) - 1
    y = Mux(acc < lo, lo, Mux(acc > hi, hi, acc))
    return Mux(relu & (acc < 0), 0, y)


class ActRW(wiring.Component):
    """Activation banks, destination register file, write-out and swap of one PE.

    Members
    -------
    ctl : In(PassControl)  ``arm`` resets the source prefetch address; ``start`` clears the
                       destination's valid bits (not with ``keep_acc``); ``pf_active``: the
                       source bank reads for the prefetch (else for the host).
    src_sel, relu, wb_base, keep_acc : In  the pass's static registers.
    src : In(SrcRead)  the CCU's source prefetch read (``data`` registered, ``SRC_LATENCY``).
    acc : In(AccPort)  the accumulate port (from :class:`eie.hdl.arith.Arith`).
    wb : In(WriteBack) the write-back command; ``busy``, ``busy_next``.
    h_* :              host port (see module docstring).
    """

    def __init__(self, hw: HWConfig, *, init_act=(), init_acc=()):
        self._hw = hw
        self._init_act = list(init_act)
        if len(self._init_act) > hw.act_depth:
            raise ValueError(f"init_act must have at most act_depth={hw.act_depth} values, not {len(self._init_act)}")
        # a preloaded destination file (valid from power-up; the first pass keeps it)
        self._init_acc = list(init_acc)
        if len(self._init_acc) > hw.dst_depth:
            raise ValueError(f"init_acc must have at most dst_depth={hw.dst_depth} values, not {len(self._init_acc)}")
        c = hw.config
        ab = max(1, hw.act_addr_bits)
        super().__init__({
            "ctl": In(PassControl()),
            "src_sel": In(1),
            "relu": In(1),
            "wb_base": In(ab),
            "keep_acc": In(1),
            "src": In(SrcRead(hw)),
            "acc": In(AccPort(hw)),
            "wb": In(WriteBack()),
            "h_addr": In(max(ab, hw.row_bits)),
            "h_dst_addr": In(max(ab, hw.row_bits)),
            "h_wdata": In(signed(c.act_bits)),
            "h_wacc": In(signed(c.acc_bits)),
            "h_we_src": In(1),
            "h_we_next": In(1),
            "h_we_dst": In(1),
            "h_src": Out(signed(c.act_bits)),
            "h_next": Out(signed(c.act_bits)),
            "h_out": Out(signed(c.act_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        wb_active, wb_cnt, wb_pend, wb_waddr = self._writeback(m)
        self._dst_file(m, wb_active, wb_cnt)
        # the write-back writes the registered write-out (h_out), so the destination file's
        # read, the valid bits and the clamp are a cycle apart from the bank's data pins
        self._banks(m, wb_pend, wb_waddr, self.h_out)
        return m

    def _writeback(self, m):
        """The write-back sequencer (the swap): entry ``wb_cnt`` of the destination file is
        read while ``wb_active`` and its registered write-out is written into the next bank
        three cycles later (``wb_pend``, at ``wb_waddr``)."""
        hw = self._hw
        n_wb = hw.config.regfile_entries         # one row pass worth of outputs
        wb_active = Signal()
        wb_pend = Signal()
        wb_pend_early = Signal()                 # the write-back's first pipeline stage
        wb_cnt = Signal(range(hw.dst_depth + 1))
        wb_waddr = Signal(len(self.wb_base))
        wb_pend_mid = Signal()                   # ... and its second
        m.d.comb += self.wb.busy.eq(wb_active | wb_pend | wb_pend_early | wb_pend_mid)
        wb_full = Signal(len(self.wb_base) + 1)
        m.d.comb += wb_full.eq(self.wb_base + wb_cnt)
        # registers: wb_full < act_depth (the entry lands in the bank) and wb_cnt is the
        # last, each computed a cycle early, so busy_next is a few gates of flip-flops
        in_range, last = Signal(), Signal()
        start = self.wb.start & ~self.wb.busy
        with m.If(start):
            m.d.sync += [wb_active.eq(1), wb_cnt.eq(0), in_range.eq(self.wb_base < hw.act_depth),
                         last.eq(n_wb == 1)]
        with m.Elif(wb_active):
            m.d.sync += [wb_cnt.eq(wb_cnt + 1), in_range.eq(wb_full + 1 < hw.act_depth),
                         last.eq(wb_cnt == n_wb - 2)]
            with m.If(last):
                m.d.sync += wb_active.eq(0)
        # entry wb_cnt is read two cycles later (registered address, then the file) and its
        # write-out registered in the third, so its write into the next bank waits three
        # cycles; addresses past the bank are dropped rather than wrapped onto its start
        waddr1, waddr2 = Signal.like(wb_waddr), Signal.like(wb_waddr)
        m.d.sync += [wb_pend_early.eq(wb_active & in_range), waddr1.eq(wb_full),
                     wb_pend_mid.eq(wb_pend_early), waddr2.eq(waddr1), wb_pend.eq(wb_pend_mid), wb_waddr.eq(waddr2)]
        # wb_busy of the next cycle (the top registers per-PE copies of busy from it)
        m.d.comb += self.wb.busy_next.eq(start | (wb_active & (~last | in_range)) | wb_pend_early | wb_pend_mid)
        return wb_active, wb_cnt, wb_pend, wb_waddr

    def _dst_file(self, m, wb_active, wb_cnt):
        """The destination register file with per-entry valid bits; its write-out port reads
        ``wb_cnt`` while ``wb_active``, else ``h_addr``, into the registered ``h_out``."""
        hw = self._hw
        c = hw.config
        m.submodules.dst = dst = Memory(shape=signed(c.acc_bits), depth=hw.dst_depth, init=self._init_acc)
        # two read ports, each addressed straight from its own registers: the accumulate
        # port (the datapath) and the write-out port (write-back and host reads).  With
        # timing_registers the datapath's write lands a cycle after its announced cycle, from
        # registers (see below), and the datapath's read is combinational into a register of
        # its own that forwards that late write.
        late_write = hw.timing_registers
        dst_w, wo_r = dst.write_port(), dst.read_port()
        dp_r = dst.read_port(domain="comb") if late_write else dst.read_port()
        # an entry preloaded with 0 may stay invalid (it reads as 0 either way), so the
        # generator may drop an all-zero initialiser (eie.flow.generate)
        valid = Signal(hw.dst_depth, init=sum(1 << r for r, v in enumerate(self._init_acc) if v))
        dp_valid, wo_valid = Signal(), Signal()
        # registered: no multiplexer before the valid bits; the valid-bit lookup has its own
        # copy (its 64:1 multiplexer and the file's read port each load one register)
        wo_next = Mux(wb_active, wb_cnt, self.h_addr)
        wo_addr = Signal(hw.row_bits, attrs={"keep": 1})
        wo_vaddr = Signal(hw.row_bits, attrs={"keep": 1})
        m.d.sync += [wo_addr.eq(wo_next), wo_vaddr.eq(wo_next)]
        # one write port: the accumulate port, or the host's preload (only while no pass
        # runs).  The host's write is registered first (it lands one cycle later than the
        # other memories' host writes, long before any pass can start), so the decode of
        # the host bus never sits in front of the file's write port and valid bits.
        h_we, h_wacc = Signal(), Signal(signed(c.acc_bits))
        # the write's enable and address are registers, loaded a cycle early from the host's
        # strobe and the datapath's we_next / waddr_next: the file's write-enable decoder
        # and address pins start from flip-flops (the enable behind two LUTs of the
        # datapath's and the host's strobes was a critical path)
        w_en_r, w_addr_r = Signal(), Signal(hw.row_bits)
        m.d.sync += [w_en_r.eq(self.acc.we_next | self.h_we_dst),
                     w_addr_r.eq(Mux(self.h_we_dst, self.h_dst_addr[:hw.row_bits], self.acc.waddr_next))]
        m.d.sync += [h_we.eq(self.h_we_dst), h_wacc.eq(self.h_wacc)]
        # the one-hots of the two write addresses, decoded a cycle before the write from
        # registers (the host's offset; the datapath's ``waddr_next``): set_q below is a choice between them, not a decoder behind a multiplexer
        # (without timing_registers: the one-hot decoded from the registered write address)
        onehot = Const(1, hw.dst_depth)
        if hw.timing_registers:
            h_oh, acc_oh = Signal(hw.dst_depth), Signal(hw.dst_depth)
            m.d.sync += [h_oh.eq(onehot << self.h_dst_addr[:hw.row_bits]), acc_oh.eq(onehot << self.acc.waddr_next)]
            set_next = Mux(w_en_r, Mux(h_we, h_oh, acc_oh), 0)
        else:
            set_next = Mux(w_en_r, onehot << w_addr_r, 0)
        # The write announced in cycle c (w_en_r, w_addr_r: what the valid bits below
        # follow).  A host write lands at the end of c, from registers.  A datapath write
        # (timing_registers) lands at the end of c+1: its data (the accumulate adder's output
        # in c) is registered first, so no route from the adder to the LUT RAM's write pins
        # sits in the accumulate loop.  The datapath's read captured at the end of c+1 takes
        # that data instead of the file's word when the rows match (a write-first port for
        # the late write); the read captured at the end of c does not see it either way (the
        # arithmetic unit's bypass gives that entry the value, as before).  The late write
        # never meets a host write: the host writes only while no pass runs.
        dp_data = Signal(signed(c.acc_bits))
        if late_write:
            d_we, d_addr, d_data = Signal(name="dst_d_we"), Signal(hw.row_bits, name="dst_d_addr"), \
                Signal(signed(c.acc_bits), name="dst_d_data")
            # the forwarding's row compare is made a cycle early, from the rows of the next
            # cycle (the late write's announced row; the read's raddr_next), so the read data
            # pass one LUT between the LUT RAM and their register
            fwd = Signal(name="dst_fwd")
            m.d.sync += [d_we.eq(w_en_r & ~h_we), d_addr.eq(w_addr_r), d_data.eq(self.acc.wdata),
                         fwd.eq(w_en_r & ~h_we & (w_addr_r == self.acc.raddr_next)),
                         dp_data.eq(Mux(fwd, d_data, dp_r.data))]
            m.d.comb += [dst_w.en.eq(h_we | d_we), dst_w.addr.eq(Mux(h_we, w_addr_r, d_addr)),
                         dst_w.data.eq(Mux(h_we, h_wacc, d_data))]
        else:
            m.d.comb += [dp_data.eq(dp_r.data), dst_w.en.eq(w_en_r), dst_w.addr.eq(w_addr_r),
                         dst_w.data.eq(Mux(h_we, h_wacc, self.acc.wdata))]
        m.d.comb += [dp_r.addr.eq(self.acc.raddr), wo_r.addr.eq(wo_addr)]
        # Valid bits: a write's bit is set a cycle late, from a registered one-hot of its
        # address (set_q), so no address multiplexer or decoder sits in front of the 64
        # clock enables.  The datapath's valid bit is looked up a cycle early at raddr_next
        # (the 64:1 multiplexer is a cycle of its own) and completed by compares with the
        # two writes the lagging bits do not hold yet.  A plain start clears everything, a
        # write in its cycle included: that write's one-hot is dropped a cycle later, by
        # clear_q, so the start is one LUT from the valid bits and never reaches the decoders.
        clear = self.ctl.start & ~self.keep_acc
        clear_q = Signal()
        set_q = Signal(hw.dst_depth)
        w_en_q, w_addr_q = Signal(), Signal(hw.row_bits)          # the write of the previous cycle
        w_set_q = Signal()
        pre_valid, pre_hit, wo_set = Signal(), Signal(), Signal()
        # The two 64:1 valid-bit lookups (at raddr_next, and at the write-out port's wo_vaddr)
        # were each a worst path of a PE; with timing_registers each is split (split_lookup):
        # the parts' 16:1 choices are registered where the one-step lookup was, and the 4:1
        # among them is made in the next cycle, in front of the compares (dp_valid) or as the
        # last step of the write-out (write_out(0) = 0, so a word that is not valid is zeroed
        # after the write-out rule, not before it)
        split = hw.timing_registers
        m.d.sync += [
            clear_q.eq(clear),
            set_q.eq(set_next),
            w_en_q.eq(w_en_r & ~clear), w_addr_q.eq(w_addr_r),
            # ... and whether it set a valid bit (an address past a file whose depth is not a
            # power of two sets none)
            w_set_q.eq(w_en_r & ~clear & (w_addr_r < hw.dst_depth if hw.dst_depth < 1 << hw.row_bits else 1)),
            *([] if split else [pre_valid.eq(valid.bit_select(self.acc.raddr_next, 1) & ~clear)]),
            pre_hit.eq(w_en_q & (w_addr_q == self.acc.raddr_next) & ~clear),
            dp_valid.eq(pre_valid | pre_hit | (w_en_q & (w_addr_q == self.acc.raddr))),
            # set_q holds the one-hot of the previous cycle's write (w_en_q, w_addr_q): its bit
            # at wo_addr, dropped by clear_q, is a compare of registers, not a 64:1 choice
            *([] if split else [wo_valid.eq(valid.bit_select(wo_vaddr, 1))]),
            wo_set.eq(w_set_q & (w_addr_q == wo_addr)),
            valid.eq(Mux(clear, 0, valid | Mux(clear_q, 0, set_q))),
        ]
        if split:
            m.d.comb += [pre_valid.eq(split_lookup(m, valid, self.acc.raddr_next, name="pre_valid") & ~clear_q),
                         wo_valid.eq(split_lookup(m, valid, wo_vaddr, name="wo_valid"))]
        m.d.comb += self.acc.rdata.eq(Mux(dp_valid, dp_data, 0))
        if split:
            out = Signal(signed(c.act_bits))
            m.d.comb += out.eq(Mux(wo_valid | wo_set, write_out(wo_r.data, c.act_bits, self.relu), 0))
        else:
            acc = Signal(signed(c.acc_bits))
            m.d.comb += acc.eq(Mux(wo_valid | wo_set, wo_r.data, 0))
            out = Signal(signed(c.act_bits))
            m.d.comb += out.eq(write_out(acc, c.act_bits, self.relu))
        m.d.sync += self.h_out.eq(out)               # three cycles after h_addr

    def _banks(self, m, wb_pend, wb_waddr, out):
        """The two activation banks: the source prefetch reads the source bank, the
        write-back writes ``out`` into the next one, the host reads and writes both."""
        hw = self._hw
        c = hw.config
        ra = Signal(max(1, hw.act_addr_bits), attrs={"keep": 1})     # source prefetch address
        with m.If(self.ctl.arm):
            m.d.sync += ra.eq(0)
        with m.Elif(self.src.rd_en):
            m.d.sync += ra.eq(ra + 1)
        banks = []
        for b in range(2):
            mem = SyncBRAM(width=c.act_bits, depth=hw.act_depth, vendor=hw.vendor,
                           init=[v & ((1 << c.act_bits) - 1) for v in self._init_act] if b == 0 else [])
            m.submodules[f"bank{b}"] = mem
            is_src = self.src_sel == b
            pf = self.ctl.pf_active & is_src
            m.d.comb += [
                mem.r_addr.eq(Mux(pf, ra, self.h_addr)),
                mem.r_en.eq(Mux(pf, self.src.rd_en, 1)),
                mem.w_addr.eq(Mux(wb_pend, wb_waddr, self.h_addr)),
                mem.w_data.eq(Mux(wb_pend, out, self.h_wdata)),
                mem.w_en.eq(Mux(is_src, self.h_we_src, self.h_we_next | wb_pend)),
            ]
            banks.append(mem.r_data.as_signed())
        m.d.sync += self.src.data.eq(Mux(self.src_sel, banks[1], banks[0]))       # registered
        m.d.comb += [
            self.h_src.eq(Mux(self.src_sel, banks[1], banks[0])),
            self.h_next.eq(Mux(self.src_sel, banks[0], banks[1])),
        ]
