"""pytest set-up: the package from the source tree (python/), the library from the build
(BACKTUNE_LIBRARY, set by ctest), small problems on every thread asked for."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
os.environ.setdefault("BACKTUNE_THREAD_MIN_FLOPS", "0")

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
