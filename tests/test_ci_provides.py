"""Under CI (`CI=true`, which .ci/run sets) what .ci/run installs or CI lays beside the
clone must be there: without it the tests that need it would only skip.  Outside CI these
checks skip."""

import importlib.util

import pytest
from conftest import TORCH_INSTALL, in_ci, shared_dir

pytestmark = pytest.mark.skipif(not in_ci(), reason="checks of the CI machine (CI=true)")


def test_pytorch_is_installed():
    """The PyTorch training path and the reader's tests against PyTorch need it."""
    assert importlib.util.find_spec("torch") is not None, f"PyTorch is missing: .ci/run runs {TORCH_INSTALL}"


def test_the_real_fc8_layer_is_beside_the_clone():
    """The comparison with the authors' simulator (7,926 cycles) needs it."""
    path = shared_dir() / "data" / "alexnet-fc8" / "alexnet_fc8.npz"
    assert path.is_file(), f"{path} is missing: CI lays shared/ beside the clone (or set EIE_SHARED)"
