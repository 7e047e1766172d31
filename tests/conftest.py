"""Shared pytest setup: the ``slow`` marker and the real CIFAR-10 from ../shared."""

import subprocess
import sys
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
CIFAR10_ZIP = SHARED / "data" / "cifar10-jpeg.zip"
CIFAR10_TOOL = SHARED / "tools" / "cifar10_jpeg_to_batches.py"

requires_shared_cifar10 = pytest.mark.skipif(
    not (CIFAR10_ZIP.is_file() and CIFAR10_TOOL.is_file()),
    reason=f"real CIFAR-10 not available: needs {CIFAR10_ZIP} and {CIFAR10_TOOL} (the repo's sibling ../shared)",
)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long or real-data tests (deselect with -m 'not slow')")


@pytest.fixture(scope="session")
def cifar10_root(tmp_path_factory):
    """A temp folder holding cifar-10-batches-py/, made once per session from the shared zip."""
    root = tmp_path_factory.mktemp("cifar10_real")
    subprocess.run([sys.executable, str(CIFAR10_TOOL), str(root)], check=True, capture_output=True, timeout=600)
    assert (root / "cifar-10-batches-py" / "test_batch").is_file()
    return root
