"""cocotb testbench: the board top (:class:`eie.hdl.board.BoardCore`: UART bridge, Wishbone
slave, array) behind a pseudo-terminal, so that a host program (``eie run-board --port``)
talks to the simulated board through the same serial API it uses for a real one
(:mod:`eie.flow.board_sim` starts it).

Bytes the host writes to the terminal become 8N1 levels on ``rx`` (``$EIE_DIVISOR`` clock
cycles per bit); a monitor samples ``tx`` in the middle of every bit and writes the bytes
back.  The terminal's name goes to ``$EIE_PTY_FILE``; the run ends when ``$EIE_STOP_FILE``
exists (or after ``$EIE_BOARD_WALL`` seconds).  When neither side has anything to do, the
simulator waits on the terminal instead of spinning.
"""

import os
import select
import time
import tty
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, Timer

PERIOD_NS = 10


class Line:
    def __init__(self, dut, fd, div):
        self.dut, self.fd, self.div = dut, fd, div
        self.activity = 0
        self.frame_errors = 0

    async def send(self, data: bytes):
        bit = self.div * PERIOD_NS
        for byte in data:
            for level in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
                self.dut.rx.value = level
                await Timer(bit, unit="ns")
            self.activity += 1

    async def monitor(self):
        bit = self.div * PERIOD_NS
        while True:
            await FallingEdge(self.dut.tx)
            await Timer(bit + bit // 2, unit="ns")          # the middle of data bit 0
            byte = 0
            for i in range(8):
                byte |= int(self.dut.tx.value) << i
                await Timer(bit, unit="ns")
            if int(self.dut.tx.value):                       # stop bit
                os.write(self.fd, bytes([byte]))
            else:
                self.frame_errors += 1
            self.activity += 1


@cocotb.test()
async def serve(dut):
    div = int(os.environ["EIE_DIVISOR"])
    stop = Path(os.environ["EIE_STOP_FILE"])
    deadline = time.monotonic() + float(os.environ.get("EIE_BOARD_WALL", "900"))
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    Path(os.environ["EIE_PTY_FILE"]).write_text(os.ttyname(slave))
    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    dut.rx.value = 1
    dut.bd_load.value = 0
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    line = Line(dut, master, div)
    cocotb.start_soon(line.monitor())
    seen, quiet = 0, 0
    while not stop.exists() and time.monotonic() < deadline:
        try:
            data = os.read(master, 4096)
        except (BlockingIOError, OSError):
            data = b""
        if data:
            await line.send(data)
            quiet = 0
            continue
        # let the design answer or finish a pass; once nothing moves, wait for the host
        await Timer(20 * div * PERIOD_NS, unit="ns")
        busy = int(dut.busy.value) or int(dut.tx.value) == 0
        if line.activity != seen or busy:
            seen, quiet = line.activity, 0
        else:
            quiet += 1
        if quiet > 20:
            select.select([master], [], [], 0.005)
    os.close(slave)
    os.close(master)
    assert line.frame_errors == 0, f"{line.frame_errors} bytes from the board had a low stop bit"
