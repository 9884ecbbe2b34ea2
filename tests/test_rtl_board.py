"""`eie run-board` against the simulated board: the board top (UART bridge, Wishbone slave,
array; eie.hdl.board.BoardCore) under cocotb, its serial line on a pseudo-terminal
(eie.flow.board_sim), the CLI talking to it through pyserial exactly as to a board.  The
board's configuration is the iCEBreaker build's (eie.flow.board.BOARDS).  No simulator is a
failure, never a skip."""

import json

import numpy as np
import pytest

from eie import cli
from eie.compress import synthetic_layer
from eie.config import EIEConfig
from eie.flow.board import BOARDS
from eie.flow.board_host import load_traffic
from eie.flow.board_sim import SimulatedBoard
from eie.flow.host import prepared_jobs
from eie.hdl.params import HWConfig
from eie.prepare import prepare_layer

HW = HWConfig(EIEConfig(**BOARDS["icebreaker"].config), vendor="ice40")


def _save(path, n_out, n_in, density, seed):
    lay = synthetic_layer(n_out, n_in, density, bits=HW.config.weight_bits, seed=seed, act_density=0.6)
    np.savez(path, codebook=lay.codebook, codes=lay.codes, bias_codes=lay.bias_codes, activations=lay.activations)
    return path, lay


def test_run_board_over_a_pseudo_terminal(tmp_path, capsys, monkeypatch):
    """A two-pass layer: exit 0 and every comparison equal; the bytes sent are the load's
    frames plus the runs' register writes and reads.  Then the same run with a model that
    disagrees (one output changed): exit 1."""
    rows = HW.config.rows_per_pass + 3                     # two row passes on the board's array
    path, lay = _save(tmp_path / "l.npz", rows, 24, 0.3, 7)
    prep = prepare_layer(lay, HW.config, need_input=True)
    jobs = prepared_jobs(HW, prep)
    assert len(jobs) == 2
    with SimulatedBoard(HW, divisor=8) as board:
        args = ["run-board", str(path), "--port", board.port, "--build", board.build_dir, "--timeout", "120"]
        code = cli.main(args + ["--json", str(tmp_path / "r.json")])
        out, err = capsys.readouterr()
        assert code == 0, out + err
        rep = json.loads((tmp_path / "r.json").read_text())
        assert rep["equal"] and rep["outputs_equal"] and rep["cycles_equal"] and rep["counters_equal"]
        assert "RESULT: RTL == model" in out
        assert rep["uart"]["bytes_sent"] > load_traffic(HW, jobs, 115_200).bytes_out

        import eie.model
        real = eie.model.simulate

        def wrong(*a, **k):
            res = real(*a, **k)
            res.outputs_q[3] += 1
            return res

        monkeypatch.setattr(eie.model, "simulate", wrong)
        code = cli.main(args)
        out, err = capsys.readouterr()
        assert code == 1 and "MISMATCH (outputs)" in out


def test_run_board_errors(tmp_path, capsys):
    path, _ = _save(tmp_path / "l.npz", 12, 24, 0.3, 7)
    code = cli.main(["run-board", str(path), "--port", "/dev/null", "--build", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("eie: error: --build") and "board.json" in err
    big, _ = _save(tmp_path / "big.npz", 8, 400, 0.3, 1)
    (tmp_path / "b").mkdir()
    from eie.flow.board_sim import write_manifest
    write_manifest(tmp_path / "b", HW, baud=115_200, divisor=8)
    code = cli.main(["run-board", str(big), "--port", "/dev/null", "--build", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert code == 2 and "does not fit" in err and "rebuild it with `eie board`" in err and err.count("\n") == 1
    code = cli.main(["run-board", str(path), "--port", str(tmp_path / "nope"), "--build", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot open serial port" in err
    # --json over the build's manifest (the run's input) is refused, with --force too
    manifest = (tmp_path / "b" / "board.json").read_bytes()
    code = cli.main(["run-board", str(path), "--port", "/dev/null", "--build", str(tmp_path / "b"), "--json",
                     str(tmp_path / "b" / "board.json"), "--force"])
    err = capsys.readouterr().err
    assert code == 2 and "is the board.json of --build: eie never writes over its input" in err, err
    assert (tmp_path / "b" / "board.json").read_bytes() == manifest


@pytest.mark.parametrize("extra, needle", [(["--timeout", "0"], "--timeout must be a number of seconds in"),
                                           (["--timeout", "-1"], "--timeout must be a number of seconds in"),
                                           (["--timeout", "1e300"], "--timeout must be a number of seconds in"),
                                           (["--timeout", "1e-300"], "--timeout must be a number of seconds in"),
                                           (["--baud", "999999999999999"], "--baud must be a positive integer of at most")])
def test_run_board_timeout_and_baud_in_range(tmp_path, capsys, extra, needle):
    """--timeout 1e300 (OverflowError in pyserial's write), 1e-300 (an uncaught write timeout) and
    a baud rate no port has (OverflowError at open) were tracebacks."""
    path, _ = _save(tmp_path / "l.npz", 4, 4, 0.5, 1)
    code = cli.main(["run-board", str(path), "--port", "x", "--build", str(tmp_path), *extra])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and err.count("\n") == 1


def test_a_port_that_stops_taking_bytes_is_one_error(tmp_path):
    """A write that times out (a stalled line) or a port that fails was an uncaught pyserial
    exception: it is a BridgeError naming what happened (run-board prints it as one line)."""
    import asyncio
    import os
    import pty

    import serial

    from eie.flow.board_host import BridgeError, SerialLink
    master, slave = pty.openpty()
    try:
        link = SerialLink(os.ttyname(slave), 115_200, timeout=0.05)

        class Stalled:
            def write(self, data):
                raise serial.SerialTimeoutException("Write timeout")

            def flush(self):
                raise OSError(5, "Input/output error")

            def close(self):
                pass
        link.serial.close()
        link.serial = Stalled()
        with pytest.raises(BridgeError, match="took no more bytes within 0.05 s"):
            asyncio.run(link.send(b"x"))
        with pytest.raises(BridgeError, match="failed while receiving"):
            asyncio.run(link.recv(1))
    finally:
        os.close(master)
        os.close(slave)


def test_a_board_run_that_does_not_finish_is_a_failed_run(tmp_path, capsys, monkeypatch):
    """A pass that never ends (the driver's Timeout) or busy falling without done had escaped
    as a traceback: it is a failed run, exit 1, said in one line and the verdict."""
    from eie.flow import board_host, host
    path, _ = _save(tmp_path / "l.npz", 12, 24, 0.3, 7)
    (tmp_path / "b").mkdir()
    from eie.flow.board_sim import write_manifest
    write_manifest(tmp_path / "b", HW, baud=115_200, divisor=8)

    class Link:
        def __init__(self, *a, **k):
            pass

        def close(self):
            pass

    async def nothing(*a, **k):
        return None

    async def never(self, *a, **k):
        raise host.Timeout("pass did not finish within 1000 cycles")
    monkeypatch.setattr(board_host, "SerialLink", Link)
    monkeypatch.setattr(board_host, "check_board", nothing)
    monkeypatch.setattr(board_host.UARTDriver, "run_jobs", never)
    code = cli.main(["run-board", str(path), "--port", "x", "--build", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines()[-2:] == ["eie run-board: the board run failed: pass did not finish within 1000 cycles",
                                     "RESULT: MISMATCH (the run did not complete)"]
