"""Back-door loading of the array's memories in co-simulation (`backdoor`).

Loading a layer through the host port costs one simulated clock cycle (and one Python
round trip of the cocotb driver) per word: 397,917 cycles for AlexNet FC8 on 64 PEs, 317 s
of a 326 s Verilator run.  By back door the same run (``bench/rtl_fc8.py``) takes 5.9 s:
simulator start-up 1.0 s, load 0.7 s (14 cycles), the pass 3.5 s (7,913 cycles), read-back
0.6 s; bit-, cycle- and counter-exact (the 64-PE build, 28 minutes here, is excluded and
cached).  In simulation the memories can be written directly instead: the
co-simulated design is wrapped in a test-bench module (:func:`wrapper_text`, ``<top>_tb``,
same ports plus ``bd_load``) whose ``always @(posedge bd_load)`` block reads one
``$readmemh`` image per PE memory from a directory named by the plusarg
``+eie_backdoor=DIR`` — by hierarchical reference into the memories, in Verilator and Icarus
alike.  An image that does not exist leaves its memory as it is.

:func:`split_writes` turns the host-port writes of a pass (:func:`eie.flow.host.pass_writes`)
into those images (``@offset`` records, so resident passes and partial loads land where the
port would put them) plus the writes that still go through the port (the registers).  The
pass itself, its cycles and its counters are untouched: only how the words get into the
memories differs, and ``tests/test_rtl_backdoor.py`` checks that both ways give the same
result.  The testbench is :mod:`eie.flow.tb.tb_eie` (``load="backdoor"``).

The memories' hierarchical names are those Amaranth gives the units of ``eie/hdl``
(:data:`MEMORY_PATHS`); ``tests/test_rtl_backdoor.py`` checks that each is in the Verilog.
Only behavioural memories (``vendor="generic"`` or ``"ice40"``) can be loaded this way.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..hdl.params import HWConfig
from ..hdl.regmap import HostMap

__all__ = ["MEMORY_PATHS", "CORE_PATHS", "BACKDOOR_PORT", "PLUSARG", "module_ports", "wrapper_name", "wrapper_text",
           "memory_widths", "split_writes", "write_images"]

#: the input of the wrapper whose rising edge loads the images
BACKDOOR_PORT = "bd_load"
#: the plusarg naming the image directory
PLUSARG = "eie_backdoor"
#: per PE memory: its image name and the path below the PE instance (``act`` and
#: ``act_next`` are the two banks, picked by ``src_sel``)
#: per host interface of the top: the instance path of its :class:`~eie.hdl.top.EIETop`
CORE_PATHS = {"parallel": "", "wishbone": "core.", "wishbone-pipelined": "core.", "board": "array.core."}
MEMORY_PATHS = {"ptr_even": "ptr.even.mem", "ptr_odd": "ptr.odd.mem", "spmat": "spmat.mem.mem",
                "codebook": "arith.codebook", "bank0": "act.bank0.mem", "bank1": "act.bank1.mem"}

_PORT = re.compile(r"^\s*(input|output)\s+(?:\[(\d+):(\d+)\]\s+)?(\\?\S+?)\s*;", re.M)


def module_ports(text: str, top: str) -> list[tuple[str, int, str]]:
    """``(direction, width, name)`` of every port of module ``top`` in ``text``."""
    mo = re.search(rf"^module {re.escape(top)}\s*\(", text, re.M)
    if mo is None:
        raise ValueError(f"module {top!r} is not in the Verilog text")
    end = text.index("endmodule", mo.end())
    return [(d, int(hi) - int(lo) + 1 if hi else 1, name)
            for d, hi, lo, name in _PORT.findall(text[mo.end():end])]


def wrapper_name(top: str) -> str:
    return f"{top}_tb"


def wrapper_text(hw: HWConfig, text: str, top: str, core: str | None = "") -> str:
    """The test-bench wrapper of module ``top`` (see the module docstring); ``core`` is the
    instance path of the :class:`~eie.hdl.top.EIETop` below ``top`` (:data:`CORE_PATHS`), None
    for a wrapper without the loader (memories that are vendor primitives)."""
    ports = module_ports(text, top)
    names = [n for _, _, n in ports]
    decl = [f"  {d} {f'[{w - 1}:0] ' if w > 1 else ''}{n};" for d, w, n in ports]
    lines = [f"// test-bench wrapper of {top}: back-door memory loading (eie/flow/backdoor.py)",
             f"module {wrapper_name(top)}({', '.join(names + [BACKDOOR_PORT])});", *decl,
             f"  input {BACKDOOR_PORT};",
             f"  {top} dut ({', '.join(f'.{n}({n})' for n in names)});",
             "  string bd_dir;", "  string bd_file;", "  integer bd_fd;",
             f'  initial if (!$value$plusargs("{PLUSARG}=%s", bd_dir)) bd_dir = ".";',
             f"  always @(posedge {BACKDOOR_PORT}) begin"]
    for p in range(hw.pes if core is not None else 0):
        for image, path in MEMORY_PATHS.items():
            lines += [f'    bd_file = $sformatf("%s/pe{p}_{image}.hex", bd_dir);',
                      '    bd_fd = $fopen(bd_file, "r");',
                      f"    if (bd_fd != 0) begin $fclose(bd_fd); $readmemh(bd_file, dut.{core}pe{p}.{path}); end"]
    lines += ["  end", "endmodule", ""]
    return "\n".join(lines)


def memory_widths(hw: HWConfig) -> dict[str, int]:
    c = hw.config
    return {"ptr_even": c.ptr_bits, "ptr_odd": c.ptr_bits, "spmat": c.line_bits, "codebook": c.codebook_bits,
            "bank0": c.act_bits, "bank1": c.act_bits}


def split_writes(hw: HWConfig, ops, src_sel: int) -> tuple[dict[str, dict[int, int]], list[tuple[int, int]]]:
    """``(images, port_writes)``: the host-port writes ``ops`` as memory images
    ``{"pe<p>_<memory>": {offset: value}}`` (``src_sel``: which bank ``act`` is) and the writes
    that must still go through the port (registers, in order)."""
    hm = HostMap(hw)
    bank = {"act": f"bank{src_sel & 1}", "act_next": f"bank{(src_sel & 1) ^ 1}"}
    widths = memory_widths(hw)
    images: dict[str, dict[int, int]] = {}
    port = []
    for addr, value in ops:
        kind, pe, mem, offset = hm.decode(addr)
        if kind == "reg" or mem in ("out", "counters"):
            port.append((addr, value))
            continue
        image = bank.get(mem, mem)
        mask = (1 << widths[image]) - 1
        for p in (range(hw.pes) if kind == "bcast" else (pe,)):
            images.setdefault(f"pe{p}_{image}", {})[offset] = value & mask
    return images, port


def write_images(directory, images: dict[str, dict[int, int]], hw: HWConfig) -> list[Path]:
    """Write each image as a ``$readmemh`` file (``@offset`` wherever the offsets jump);
    earlier images in ``directory`` are removed first."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("pe*_*.hex"):
        old.unlink()
    widths = memory_widths(hw)
    files = []
    for name, words in images.items():
        digits = -(-widths[name.split("_", 1)[1]] // 4)
        out, nxt = [], None
        for off in sorted(words):
            if off != nxt:
                out.append(f"@{off:x}")
            out.append(f"{words[off]:0{digits}x}")
            nxt = off + 1
        path = directory / f"{name}.hex"
        path.write_text("\n".join(out) + "\n")
        files.append(path)
    return files
