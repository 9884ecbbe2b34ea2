import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("EIE_SHARED", REPO.parent / "shared"))


@pytest.fixture
def fc8_path():
    path = shared_dir() / "data" / "alexnet-fc8" / "alexnet_fc8.npz"
    if not path.exists():
        pytest.skip(f"real FC8 layer not found at {path} (set EIE_SHARED)")
    return path


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
