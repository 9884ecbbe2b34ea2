"""The board commands: ``board`` (a bitstream for a real board) and ``run-board`` (run a
layer on it over the serial port and compare with the model).

Thin shells over :mod:`eie.flow.board` and :mod:`eie.flow.board_host`; each checks its
optional extra first (``eie[fpga]``) and says what to install.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import time
from pathlib import Path

from ..errors import CapacityError, InputError
from ..fileio import check_out, check_outside, read_text, write_json
from .options import (
    add_config_options,
    add_dense_options,
    add_ripup_options,
    config_from,
    human_stream,
    require_extra,
)

__all__ = ["register", "cmd_board", "cmd_run_board"]

#: run-board's --timeout range (seconds: a read answers within it, or the run stops) and the
#: fastest UART a USB-serial bridge offers (12 Mbaud; the builds run at 115,200 to 3 M)
MIN_TIMEOUT_S, MAX_TIMEOUT_S, MAX_BAUD = 0.001, 3600.0, 12_000_000


def _progress(msg: str) -> None:
    print(f"  {msg}", file=sys.stderr, flush=True)


# ---- eie board --------------------------------------------------------------------------------
def cmd_board(args) -> int:
    from ..config import EIEConfig
    from ..flow.board import BOARDS, build_board
    from ..hdl.params import HWConfig
    require_extra("fpga", "eie board")
    if args.target not in BOARDS:
        raise InputError(f"TARGET must be one of {', '.join(BOARDS)}, not {args.target!r}")
    board = BOARDS[args.target]
    js = check_out(args.json, args.force, "JSON file", stdout_ok=True)
    check_outside(args.out, "--out", **{"--json": js})
    base = EIEConfig(**board.config)
    if args.config:                            # the fields the file omits keep the board's values
        base = EIEConfig.from_file(args.config, base=base)
    cfg = config_from(args, base, origin=f"the {args.target} board's")
    if not 1 <= cfg.clock_mhz <= 500:
        src = ("--clock-mhz" if args.cfg_clock_mhz is not None else
               f"clock_mhz of --config {str(args.config)!r}")
        raise InputError(f"{src} must be in [1, 500] MHz for a board, not {cfg.clock_mhz!r}: give --clock-mhz "
                         f"(the board's own clock is {board.clock_mhz:g} MHz)")
    hw = HWConfig(cfg, vendor=board.family)
    from ..hdl.busmap import WishboneMap
    WishboneMap(hw)                         # the bridge's bus carries its words: checked before elaborating
    res = build_board(args.target, hw, args.out, clock_mhz=cfg.clock_mhz, baud=args.baud, seed=args.seed,
                      tmg_ripup=args.tmg_ripup, force=args.force, progress=_progress, floorplan=args.floorplan)
    print(res.format(), file=human_stream(js))
    if js:
        write_json(js, res.to_dict())
    return 0


# ---- eie run-board ----------------------------------------------------------------------------
def _read_build(directory):
    """``(record, HWConfig)`` of the ``board.json`` of an `eie board` build, every field
    run-board reads (``title``, ``uart.baud``, ``hw``) checked before anything is done."""
    from ..errors import EIEError
    from ..flow.board import BOARD_JSON
    from ..hdl.params import HWConfig
    path = Path(directory) / BOARD_JSON
    try:
        rec = json.loads(read_text(path, str(path)))
    except (EIEError, ValueError):
        rec = None
    if not isinstance(rec, dict):
        raise InputError(f"--build {str(directory)!r} holds no readable {BOARD_JSON}: give the --out directory "
                         f"of `eie board`")
    where = f"--build {str(directory)!r}: {BOARD_JSON}"
    fix = "rebuild with `eie board`"

    def field(name, ok, rule):
        value = rec
        for part in name.split("."):
            if not isinstance(value, dict) or part not in value:
                raise InputError(f"{where} has no field {name}: {fix}")
            value = value[part]
        if not ok(value):
            raise InputError(f"{where} field {name} must be {rule}, not {value!r}: {fix}")
        return value

    field("title", lambda v: isinstance(v, str), "a string")
    field("uart.baud", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "a positive integer")
    field("hw.config", lambda v: isinstance(v, dict), "a table of configuration fields")
    for name in ("spmat_lines", "ptr_words", "act_depth", "dst_depth"):
        field(f"hw.{name}", lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer")
    try:
        hw = HWConfig.from_dict(rec["hw"])
    except (EIEError, TypeError) as exc:
        raise InputError(f"{where} field hw: {exc}: {fix}") from None
    return rec, hw


def cmd_run_board(args) -> int:
    """Exit code 0: the board == the model; 1: any difference; 2: bad input or no answer."""
    import asyncio

    from ..flow.board_host import SerialLink, UARTDriver, check_board, load_traffic
    from ..flow.host import prepared_jobs
    from ..flow.verify import compare, format_report
    from ..layer import load_activations
    from ..model import simulate
    from ..prepare import load_compressed, prepare_layer
    if importlib.util.find_spec("serial") is None:
        raise InputError("eie run-board needs pyserial (module 'serial' is missing): pip install 'eie[fpga]'")
    js = check_out(args.json, args.force, "JSON file", stdout_ok=True)
    if not math.isfinite(args.timeout) or not MIN_TIMEOUT_S <= args.timeout <= MAX_TIMEOUT_S:
        raise InputError(f"--timeout must be a number of seconds in [{MIN_TIMEOUT_S:g}, {MAX_TIMEOUT_S:g}], "
                         f"not {args.timeout!r}")
    if args.baud is not None and not 1 <= args.baud <= MAX_BAUD:
        raise InputError(f"--baud must be a positive integer of at most {MAX_BAUD:,} (bits per second), "
                         f"not {args.baud}")
    rec, hw = _read_build(args.build)
    baud = rec["uart"]["baud"] if args.baud is None else args.baud
    layer = load_compressed(args.layer, density=args.density, bits=args.bits)
    x = load_activations(args.input, layer.n_in) if args.input else None
    hint = f" (the board's build {str(args.build)!r} fixes the array: rebuild it with `eie board` and larger memories)"
    try:
        prep = prepare_layer(layer, hw.config, x, need_input=True)
        jobs = prepared_jobs(hw, prep, args.relu)
    except CapacityError as exc:
        raise CapacityError(f"{exc}{hint}") from None
    except ValueError as exc:
        raise CapacityError(f"{exc}{hint}") from None
    t0 = time.perf_counter()
    ref = simulate(prep.compiled, prep.x, plan=prep.plan, relu=args.relu, keep_timing=True, source=layer)
    model_s = time.perf_counter() - t0
    guard = 2 * max(t.cycles for t in ref.timings) + 1000
    traffic = load_traffic(hw, jobs, baud)
    say = human_stream(js)
    link = SerialLink(args.port, baud, timeout=args.timeout)     # a port that does not open: one error line
    print(f"  loading {traffic.words} words in {traffic.frames} frames: {traffic.bytes_out} bytes, "
          f"{traffic.seconds:.2f} s at {baud} baud", file=sys.stderr, flush=True)

    async def session():
        drv = UARTDriver(hw, link)
        await check_board(drv, hw)
        res = await drv.run_jobs(jobs, prep.compiled.n_out, max_cycles=guard)
        return res, drv

    t1 = time.perf_counter()
    try:
        res, drv = asyncio.run(session())
    except AssertionError as exc:          # the board's protocol failed (a pass that never ends, busy without done)
        print(f"eie run-board: the board run failed: {exc}\nRESULT: MISMATCH (the run did not complete)",
              file=sys.stderr)
        return 1
    finally:
        link.close()
    board_s = time.perf_counter() - t1
    rep = compare(res, ref)
    c = hw.config
    rep.update({
        "rtl_error": None, "sim": f"board {rec['title']} on {args.port}", "waves": None, "max_cycles_per_pass": guard,
        "layer": {"name": layer.name, "n_out": prep.compiled.n_out, "n_in": prep.compiled.n_in,
                  "passes": len(prep.compiled.passes), "nonzero_inputs": int(ref.totals["nonzero_inputs"]),
                  "relu": bool(args.relu), "fraction_bits": prep.plan.to_dict()},
        "hardware": {"pes": hw.pes, "queue_depth": c.queue_depth, "lnzd_fanin": c.lnzd_fanin,
                     "spmat_lines": hw.spmat_lines, "ptr_words": hw.ptr_words, "act_depth": hw.act_depth,
                     "dst_depth": hw.dst_depth, "config": c.to_dict()},
        "model_matches_reference": ref.reference.get("outputs_match_reference"),
        "wall_s": {"model": model_s, "rtl": board_s},
        "uart": {"baud": baud, "bytes_sent": drv.sent, "bytes_received": drv.received, "load": traffic.to_dict()},
    })
    print(format_report(rep), file=say)
    print(f"  uart      {drv.sent} bytes sent, {drv.received} received ({baud} baud: "
          f"{(drv.sent * 10) / baud:.2f} s of line time); the pass cycles are the board's cycles register",
          file=say)
    if js:
        write_json(js, rep)
    return 0 if rep["equal"] else 1


def register(sub) -> None:
    from ..flow.board import BOARD_JSON, BOARDS
    from ..flow.floorplan import MODES as FLOORPLANS
    from ..flow.synth import RIPUP_MODES, TMG_RIPUP
    p = sub.add_parser("board", help="build a bitstream for a real board: the array behind a UART-to-Wishbone "
                                     "bridge (yowasp yosys + nextpnr + pack)")
    p.add_argument("target", metavar="TARGET",
                   help="the board: " + "; ".join(f"{k} = {b.title}" for k, b in BOARDS.items()))
    p.add_argument("-o", "--out", required=True, metavar="DIR",
                   help="build directory (design files, logs, bitstream, board.json for eie run-board)")
    p.add_argument("--baud", type=int, default=None, help="UART baud rate in bits per second (default: "
                   + ", ".join(f"{k} {b.baud}" for k, b in BOARDS.items()) + ")")
    p.add_argument("--seed", type=int, nargs="+", default=[1], metavar="S",
                   help="nextpnr placement seed(s), tried in order until one places and meets the board clock "
                        "(default 1)")
    add_ripup_options(p, RIPUP_MODES, TMG_RIPUP,
                      f"nextpnr's timing-driven rip-up (default {TMG_RIPUP}): off, on (the bare flag: every run), "
                      f"auto (a plain run, then a rip-up run at the board clock when it misses)")
    p.add_argument("--floorplan", choices=list(FLOORPLANS), default="auto",
                   help="ECP5: fix each PE's block RAMs to a cluster of neighbouring sites, as eie synth "
                        "(auto: when they fit two bands of block-RAM rows; on: always; none: never)")
    p.add_argument("--json", metavar="FILE", help="also write the result as JSON ('-': standard output)")
    p.add_argument("--force", action="store_true", help="build into a non-empty directory; overwrite the JSON file")
    add_config_options(p, "the board's default array and clock: " + "; ".join(
        f"{k} {b.config.get('pes')} PE(s) at {b.clock_mhz:g} MHz" for k, b in BOARDS.items())
        + "; --clock-mhz is the design clock: the oscillator's, or a PLL output; a build's whole "
        "configuration is in its board.json", field_defaults=False)
    p.set_defaults(func=cmd_board)

    p = sub.add_parser("run-board", help="run a layer on a board built by `eie board` (over its serial port) and "
                                         "compare outputs, cycles and counters with the model")
    p.add_argument("layer", help="layer .npz (compressed, or dense: compressed first)")
    p.add_argument("--port", required=True, metavar="SERIAL", help="the board's serial port (e.g. /dev/ttyUSB0)")
    p.add_argument("--build", required=True, metavar="DIR", help="the `eie board --out` directory of the bitstream "
                                                                   "on the board (its board.json)")
    p.add_argument("--baud", type=int, default=None, help="baud rate in bits per second (default: the build's)")
    p.add_argument("--input", metavar="ACT.npy", help="input activations (default: the layer's 'activations')")
    p.add_argument("--relu", action="store_true", help="apply ReLU to the outputs")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for an answer (default 5)")
    p.add_argument("--json", metavar="OUT", help="write the report as JSON ('-': standard output)")
    p.add_argument("--force", action="store_true", help="overwrite an existing JSON file")
    add_dense_options(p)
    # the build's manifest is read: an input the CLI's output check counts (eie.cli.OUTPUT_DESTS)
    p.set_defaults(func=cmd_run_board, inputs_in={"build": BOARD_JSON})
