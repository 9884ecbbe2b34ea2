"""The interfaces between the units (`interfaces`) [arch §5]: every wire that crosses a unit
boundary, as an Amaranth ``wiring.Signature``.

Each signature is written from the side that drives most of it (its ``Out`` members); the
other side takes it flipped (``In(...)``), and :func:`amaranth.lib.wiring.connect` joins
the two.  Every flow here is *valid-only*: the contract's timing is fixed, so no unit ever
holds back another one (no ``ready``).  Stalls are the contract's own (the room flags of
:class:`Broadcast`).  The one handshake of the array, the CCU's item FIFO, is an
``amaranth.lib.stream`` (:mod:`.ccu_items`).

==================== =================================== ====================================
signature            from → to                           carries
==================== =================================== ====================================
:class:`PassControl` sequencer → CCU, PE, each PE unit   arm, start (cycle −1), running,
                                                         prefetch active
:class:`PassRegs`    host registers → PE                 the pass's static registers
:class:`WriteBack`   top → PE → :class:`~.act_rw.ActRW`  write-back command and busy
:class:`CCULink`     CCU → one PE                        :class:`Announce`, :class:`Broadcast`,
                                                         :class:`SrcRead`
:class:`DescWrite`   ``PtrPrefetch`` → ``ActQueue``      a column descriptor
:class:`QueueIssue`  ``ActQueue`` ↔ ``Issue``            FIFO head, count; pop
:class:`IssueEntry`  ``Issue`` → ``SpmatRead``           entry issued, line look-ahead
:class:`Entry`       ``SpmatRead`` → ``Arith``           entry selected from its line
:class:`AccPort`     ``Arith`` ↔ ``ActRW``               accumulate port of the register file
:class:`PEHost`      top → PE                            this PE's copy of the host bus
==================== =================================== ====================================
"""

from amaranth.hdl import Array, Cat, Signal, Value, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .params import HWConfig
from .regmap import MEM_BITS

__all__ = ["slot_bits", "desc_layout", "bit_slices", "original_attrs", "SHIFT_BITS", "PassControl", "PassRegs", "WriteBack", "Announce",
           "Broadcast", "SrcRead", "CCULink", "DescWrite", "QueueIssue", "IssueEntry", "Entry", "AccPort",
           "PEHost", "registered_copy", "register_copies", "sliced_choice"]

#: width of the ``shift`` register (``fa + fw − fo``, at most 63)
SHIFT_BITS = 6


def slot_bits(hw: HWConfig) -> int:
    """Width of a slot number inside a line (0 .. epl−1)."""
    return max(1, (hw.config.entries_per_line - 1).bit_length())


def desc_layout(hw: HWConfig) -> data.StructLayout:
    """A column descriptor: everything the issue logic needs at the pop, precomputed."""
    lb = unsigned(max(1, hw.line_addr_bits))
    return data.StructLayout({
        "line0": lb,                                        # line of the first entry (spmat_base added)
        "line1": lb,                                        # ... of the second entry (if any)
        "line2": lb,                                        # ... of the third entry (if any)
        "slot0": unsigned(slot_bits(hw)),                   # slot of the first entry
        "slot2": unsigned(slot_bits(hw)),                   # slot of the third entry
        "wrap0": unsigned(1),                               # line changes from entry 0 to 1
        "wrap1": unsigned(1),                               # line changes from entry 1 to 2
        "lm1": unsigned(hw.config.ptr_bits),                # L − 1 (entries, padding included)
        "a": signed(hw.config.act_bits),                    # the column's activation
        "z": unsigned(1),                                   # L == 0 (an empty column)
        "one": unsigned(1),                                 # L == 1
        "two": unsigned(1),                                 # L == 2
        "ge3": unsigned(1),                                 # L >= 3
        "ge4": unsigned(1),                                 # L >= 4
        "newline": unsigned(1),                             # the first entry needs a line read
    })


class PassControl(wiring.Signature):
    """The pass sequencer's control (see :mod:`.top`), each bit high in its cycle.

    arm        the pass's first pre-roll cycle: prefetches and the pre-scanner reset and start.
    start      cycle −1: the broadcaster, queue counts, issue state, counters and destination
               valid bits reset.
    running    cycles 0 .. c_done.
    pf_active  arm .. c_done: the prefetch owns the pointer and activation banks' read ports
               (else the host does).
    start_next ``start`` of the next cycle (cycle −2): a PE gives each of its units a
               register of its own loaded from it, the unit's copy of ``start`` (the start
               clears registers all over a PE; one copy driving them all was a critical path).

    A unit takes the whole signature and uses the bits it needs.
    """

    def __init__(self):
        super().__init__({"arm": Out(1), "start": Out(1), "running": Out(1), "pf_active": Out(1),
                          "start_next": Out(1)})


class PassRegs(wiring.Signature):
    """The pass's static registers (written by the host before a start, unchanged during a
    pass): ``src_sel`` (the source bank), ``relu``, ``shift``, ``ptr_base`` (pointer-bank word
    of ``p_0``/``p_1``), ``spmat_base`` (line of entry 0), ``wb_base`` (write-back address),
    ``keep_acc`` (the start's ``ctrl`` bit: keep the preloaded destination file)."""

    def __init__(self, hw: HWConfig):
        super().__init__({
            "src_sel": Out(1),
            "relu": Out(1),
            "shift": Out(SHIFT_BITS),
            "ptr_base": Out(max(1, hw.ptr_addr_bits)),
            "spmat_base": Out(max(1, hw.line_addr_bits)),
            "wb_base": Out(max(1, hw.act_addr_bits)),
            "keep_acc": Out(1),
        })


class WriteBack(wiring.Signature):
    """The write-back (swap) command [arch §5.6]: ``start`` (one cycle; ignored while busy)
    → ``busy`` (the copy runs), ``busy_next`` (``busy`` of the next cycle, for registered
    copies)."""

    def __init__(self):
        super().__init__({"start": Out(1), "busy": In(1), "busy_next": In(1)})


class Announce(wiring.Signature):
    """The CCU's announce bus (registered): ``valid`` — element ``(j, a)`` is the next one in
    scan order, ``LEAD`` cycles or more before its broadcast; each PE prefetches column j's
    pointers on it."""

    def __init__(self, hw: HWConfig):
        super().__init__({"valid": Out(1), "j": Out(hw.col_bits), "a": Out(signed(hw.config.act_bits))})


class Broadcast(wiring.Signature):
    """The broadcast and the stall [arch §5.1, §5.2].

    strobe       this cycle's broadcast: the next announced element enters every queue.
    room_push    registered at the end of c: the queue has room at the start of c+2 if the
                 CCU's push of c+1 counts,
    room_nopush  ... and if it does not.  The CCU registers the AND of every PE's flags in
                 c+1 and picks one in c+2 with its own registered strobe of c+1: the gather
                 from the PEs is a cycle of its own, the broadcast decision uses registers.
    """

    def __init__(self, hw: HWConfig):
        d = hw.config.queue_depth
        super().__init__({"strobe": Out(1), "room_push": In(1, init=int(d > 1)), "room_nopush": In(1, init=1)})


class SrcRead(wiring.Signature):
    """The CCU's source prefetch read of one PE: ``rd_en`` in cycle c (registered) reads the
    next group's word of the PE's source bank; it is on ``data`` in c + ``SRC_LATENCY``."""

    def __init__(self, hw: HWConfig):
        super().__init__({"rd_en": Out(1), "data": In(signed(hw.config.act_bits))})


class CCULink(wiring.Signature):
    """Everything between the CCU and one PE: ``ann`` (:class:`Announce`, shared by every PE),
    ``bc`` (:class:`Broadcast`), ``src`` (:class:`SrcRead`)."""

    def __init__(self, hw: HWConfig):
        super().__init__({"ann": Out(Announce(hw)), "bc": Out(Broadcast(hw)), "src": Out(SrcRead(hw))})


class DescWrite(wiring.Signature):
    """A column descriptor (:func:`desc_layout`) into the PE's FIFO: ``data`` when ``valid``."""

    def __init__(self, hw: HWConfig):
        super().__init__({"valid": Out(1), "data": Out(desc_layout(hw))})


class QueueIssue(wiring.Signature):
    """The activation queue as the issue logic sees it [arch §5.2, §5.3].

    nonempty           the contract queue is not empty at the start of this cycle.
    head, next         registered: the FIFO head and the descriptor behind it.
    head_ok, next_ok   registered: they are present.
    pop (In)           the head column is popped this cycle.
    ready (In)         registered copy of "ready" (nothing issued, or a column's last entry
                       issued, in this cycle): the queue recomputes the pop from its own copies.
    ready_next (In)    "ready" in the next cycle (what ``ready`` is loaded with; 1 after
                       ``start``): the queue's room flags look two cycles ahead with it.
    """

    def __init__(self, hw: HWConfig):
        layout = desc_layout(hw)
        super().__init__({
            "nonempty": Out(1),
            "head": Out(layout),
            "next": Out(layout),
            "head_ok": Out(1),
            "next_ok": Out(1),
            "pop": In(1),
            "ready": In(1),
            "ready_next": In(1),
        })


class IssueEntry(wiring.Signature):
    """The entry issued in cycle t [arch §5.3] and the line memory's look-ahead.

    valid, first, slot, a   the entry issued in this cycle: first of its column, slot in its
                            line, the column's activation.
    spec_line, spec_ce      the line memory's read for the *next* cycle (the line of the entry
                            issued in the cycle after): address and enable; while no pass
                            runs, the host's read (``h_line``, enabled).
    h_line                  (In) the host's line address.
    """

    def __init__(self, hw: HWConfig):
        super().__init__({
            "spec_line": Out(max(1, hw.line_addr_bits)),
            "spec_ce": Out(1),
            "h_line": In(max(1, hw.line_addr_bits)),
            "valid": Out(1),
            "first": Out(1),
            "slot": Out(slot_bits(hw)),
            "a": Out(signed(hw.config.act_bits)),
        })


class Entry(wiring.Signature):
    """The entry selected from its line in t+1 [arch §5.4]: ``v`` (codebook index), ``z``
    (zero run), ``a``, ``first`` (of its column), when ``valid``."""

    def __init__(self, hw: HWConfig):
        c = hw.config
        super().__init__({
            "valid": Out(1),
            "first": Out(1),
            "a": Out(signed(c.act_bits)),
            "v": Out(c.weight_bits),
            "z": Out(c.index_bits),
        })


class AccPort(wiring.Signature):
    """The destination register file's accumulate port [arch §5.5]: ``raddr``/``ren`` in
    cycle c → ``rdata`` (In) in c+1 (read-before-write); ``raddr_next`` is the row read in
    the next cycle (the file looks up its valid bit a cycle early).  A write is announced a
    cycle early, ``we_next``/``waddr_next`` in c (the file registers its write enable and
    address, and decodes its valid-bit one-hot, from them), and its ``wdata`` comes in c+1,
    written at the end of that cycle as far as every read through this port is concerned
    (the file may store it later and forward it, :class:`eie.hdl.act_rw.ActRW`)."""

    def __init__(self, hw: HWConfig):
        super().__init__({
            "raddr_next": Out(hw.row_bits),
            "raddr": Out(hw.row_bits),
            "ren": Out(1),
            "rdata": In(signed(hw.config.acc_bits)),
            "we_next": Out(1),
            "waddr_next": Out(hw.row_bits),
            "wdata": Out(signed(hw.config.acc_bits)),
        })


class PEHost(wiring.Signature):
    """One PE's copy of the host bus (registered once at the top, see :mod:`.top`).

    sel     this PE is addressed (its index, or the ``bcast`` bit; not ``global``).
    rsel    this PE is the one a read names (its index, not ``global``; ``bcast`` ignored):
            ``rdata`` is 0 unless the read five cycles earlier had it, so the top combines
            the PEs' words by OR, with no select fanned out across the die (:mod:`.top`).
    mem     the ``mem`` field (:data:`~.regmap.MEM`).
    off     the ``offset`` field.
    off_line  a copy of ``off`` of its own: the line memory's host read address (it passes
            through the Issue's look-ahead multiplexers, :class:`IssueEntry`).
    off_dst   another copy: the destination file's host write (its address register and
            valid-bit one-hot decoder, :mod:`.act_rw`).
    wdata   write data.
    we      write (already gated by busy: a register loaded with the write and not the next cycle's ``busy``).
    rdata   (In) the word addressed five cycles earlier, sign-extended (see :mod:`.pe`), or 0
            if that read did not name this PE (``rsel``).
    """

    def __init__(self, hw: HWConfig):
        super().__init__({
            "sel": Out(1),
            "rsel": Out(1),
            "mem": Out(MEM_BITS),
            "off": Out(hw.offset_bits),
            "off_line": Out(hw.offset_bits),
            "off_dst": Out(hw.offset_bits),
            "wdata": Out(hw.data_bits),
            "we": Out(1),
            "rdata": In(hw.data_bits),
        })


def registered_copy(m, signature: wiring.Signature, source, *, name: str):
    """An interface object of a flat, all-``Out`` ``signature`` whose ports are registers
    loaded every cycle from the like-named ports of ``source`` (one cycle late).

    Each register is marked ``keep``: these are fan-out copies (one per PE), and merging
    them would undo the point (``eie synth`` moves the attribute onto the flip-flops).
    """
    copy = signature.create(path=(name,))
    for member_name, member in signature.members.items():
        if not (member.is_port and member.flow == Out):
            raise TypeError(f"registered_copy needs a flat signature of Out ports, not {member!r} "
                            f"at {member_name!r}")
        reg = Signal(member.shape, init=member.init, name=f"{name}_{member_name}", attrs={"keep": 1})
        m.d.sync += reg.eq(getattr(source, member_name))
        setattr(copy, member_name, reg)
    return copy


def original_attrs(hw: HWConfig) -> dict:
    """Attributes of a register that has fan-out copies: ``keep`` with
    :attr:`~.params.HWConfig.timing_registers`.  yosys merges an *unmarked* flip-flop into a
    marked one with the same input, so a copy exists only if its original is marked too
    (``tests/test_hdl_synth.py`` checks the netlist)."""
    return {"keep": 1} if hw.timing_registers else {}


def register_copies(m, value, n: int, *, name: str) -> list:
    """``n`` registers loaded every cycle with ``value`` (one cycle late), each marked
    ``keep``: copies of a select signal, each driving a slice of a wide multiplexer, so no
    one flip-flop fans out to every bit (merging them would undo the point)."""
    copies = [Signal(len(value), name=f"{name}_c{k}", attrs={"keep": 1}) for k in range(n)]
    m.d.sync += [c.eq(value) for c in copies]
    return copies


def bit_slices(width: int, n: int) -> list:
    """``width`` bits cut into at most ``n`` contiguous slices of equal size (the last may be
    shorter): the bits each of ``n`` register copies drives (:func:`register_copies`)."""
    if width < 1 or n < 1:
        raise ValueError(f"bit_slices needs width >= 1 and n >= 1, not {width}, {n}")
    step = -(-width // n)
    return [slice(lo, min(width, lo + step)) for lo in range(0, width, step)]


def sliced_choice(choices, sels) -> Value:
    """``Array(choices)[sel]`` for equally wide ``choices``, bit slice k chosen by
    ``sels[k]`` (copies of one select value, :func:`register_copies`): the same word, each
    copy driving ``1 / len(sels)`` of the bits."""
    width = len(choices[0])
    if any(len(c) != width for c in choices):
        raise ValueError("sliced_choice needs choices of one width")
    return Cat(*[Array([c[sl] for c in choices])[sel]
                 for sl, sel in zip(bit_slices(width, len(sels)), sels, strict=False)])
