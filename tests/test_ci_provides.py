"""Under CI (`CI=true`, which .ci/run sets) what .ci/run installs or CI lays beside the
clone must be there: without it the tests that need it would only skip.  Outside CI these
checks skip."""

import pytest
from conftest import TORCH_INSTALL, fc8_file, in_ci

from eie.importers.torch_state import torch_installed

pytestmark = pytest.mark.skipif(not in_ci(), reason="checks of the CI machine (CI=true)")


def test_pytorch_is_installed():
    """The PyTorch training path and the reader's tests against PyTorch need it."""
    assert torch_installed(), f"PyTorch is missing: .ci/run runs {TORCH_INSTALL}"


def test_the_real_fc8_layer_is_beside_the_clone():
    """The comparison with the authors' simulator (7,926 cycles) needs it."""
    path = fc8_file()
    assert path.is_file(), f"{path} is missing: CI lays shared/ beside the clone (or set EIE_SHARED)"
