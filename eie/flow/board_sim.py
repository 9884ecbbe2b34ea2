"""A simulated board behind a pseudo-terminal: the board top (:class:`eie.hdl.board.BoardCore`)
under cocotb (Verilator or Icarus), its serial line on a pseudo-terminal, so that
``eie run-board --port <pty>`` drives it exactly as it drives a board on a USB serial port
(CI has no board; the bytes on the wire are still exercised).

    with SimulatedBoard(hw, divisor=8) as board:
        main(["run-board", "layer.npz", "--port", board.port, "--build", board.build_dir])

:func:`write_manifest` writes the ``board.json`` that ``eie run-board --build`` reads, for a
design that exists only in simulation.  The testbench is ``eie/flow/tb/tb_board.py``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..hdl.params import HWConfig
from .board import BOARD_JSON
from .simulators import TB_DIR, lock_build, pick_simulator
from .verify import RTLRunError, build

__all__ = ["board_core_text", "write_manifest", "SimulatedBoard", "BOARD_TOP"]

#: module name of the simulated board top
BOARD_TOP = "eie_board"


def board_core_text(hw: HWConfig, divisor: int, resync: int) -> str:
    """The Verilog of ``BoardCore(hw, divisor=, resync=)`` (module :data:`BOARD_TOP`)."""
    from amaranth.back import verilog

    from ..hdl.board import BoardCore
    return verilog.convert(BoardCore(hw, divisor=divisor, resync=resync), name=BOARD_TOP, emit_src=False)


def write_manifest(directory, hw: HWConfig, *, baud: int, divisor: int, title: str = "simulated board") -> Path:
    """A ``board.json`` for a board that exists only in simulation (no bitstream)."""
    path = Path(directory) / BOARD_JSON
    path.write_text(json.dumps({"board": "simulated", "title": title, "bitstream": None, "hw": hw.to_dict(),
                                "pes": hw.pes, "uart": {"baud": baud, "divisor": divisor}}, indent=1) + "\n")
    return path


class SimulatedBoard:
    """Build (cached) and run the board top behind a pseudo-terminal (a context manager).

    ``port``: the terminal to open; ``build_dir``: a directory with its ``board.json``
    (``baud`` is only recorded: a pseudo-terminal ignores it).  On exit the simulation is
    told to stop and joined; a failure in it raises :class:`~eie.flow.verify.RTLRunError`.
    """

    def __init__(self, hw: HWConfig, *, divisor: int = 8, resync: int | None = None, sim: str | None = None,
                 baud: int = 115_200, wall_s: float = 900.0, progress=None):
        self.hw, self.divisor, self.baud = hw, divisor, baud
        self.resync = resync if resync is not None else 64 * 10 * divisor
        self.sim = pick_simulator(sim)
        self.wall_s = wall_s
        self.progress = progress
        self.port: str | None = None
        self.build_dir: str | None = None

    def __enter__(self):
        text = board_core_text(self.hw, self.divisor, self.resync)
        self._build = build(self.hw, self.sim, top=BOARD_TOP, verilog=text, bus="board", progress=self.progress)
        self._tmp = tempfile.TemporaryDirectory(prefix="eie-board-")
        tmp = Path(self._tmp.name)
        self.build_dir = str(tmp)
        write_manifest(tmp, self.hw, baud=self.baud, divisor=self.divisor)
        self._pty_file, self._stop = tmp / "pty", tmp / "stop"
        self._error = None
        env = {"EIE_DIVISOR": str(self.divisor), "EIE_PTY_FILE": str(self._pty_file),
               "EIE_STOP_FILE": str(self._stop), "EIE_BOARD_WALL": str(self.wall_s)}
        self._xml = tmp / "results.xml"

        def target():
            added = str(TB_DIR) not in sys.path
            if added:
                sys.path.insert(0, str(TB_DIR))
            try:
                b = self._build
                with lock_build(b.directory, shared=True):      # in use: never evicted under the run
                    b.runner.test(hdl_toplevel=b.toplevel, test_module="tb_board", build_dir=b.directory,
                                  test_dir=tmp, extra_env=env, results_xml=str(self._xml), log_file=tmp / "sim.log")
            except BaseException as exc:                 # reported by __exit__
                self._error = exc
            finally:
                if added:
                    sys.path.remove(str(TB_DIR))

        self._thread = threading.Thread(target=target, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 120
        while not self._pty_file.exists():
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._stop.write_text("stop\n")
                raise RTLRunError(f"the simulated board did not start; see {tmp / 'sim.log'}")
            time.sleep(0.05)
        self.port = self._pty_file.read_text().strip()
        return self

    def __exit__(self, *exc):
        self._stop.write_text("stop\n")
        self._thread.join(timeout=120)
        failed = self._xml.exists() and "<failure" in self._xml.read_text()
        log = Path(self.build_dir) / "sim.log"
        detail = log.read_text()[-2000:] if log.exists() else ""
        self._tmp.cleanup()
        if exc[0] is None and (failed or (self._error is not None and not isinstance(self._error, SystemExit))):
            raise RTLRunError(f"the simulated board failed: {self._error!r}\n{detail}")
        return False
