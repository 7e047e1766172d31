"""Shared pytest setup: the ``slow`` marker, the real CIFAR-10 and the real split lists from ../shared."""

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

#: tests/browser (JupyterLab in headless Chromium) runs under `make test-browser` only
collect_ignore = [] if os.environ.get("LTKIT_BROWSER_TESTS") else ["browser"]

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def load_script(relative_path: str, name: str = ""):
    """A script of the repository (``tools/*.py``, ``data/get_data.py``) imported as a module."""
    import importlib.util

    path = REPO / relative_path
    spec = importlib.util.spec_from_file_location(name or path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


CIFAR10_ZIP = SHARED / "data" / "cifar10-jpeg.zip"
CIFAR10_TOOL = SHARED / "tools" / "cifar10_jpeg_to_batches.py"

requires_shared_cifar10 = pytest.mark.skipif(
    not (CIFAR10_ZIP.is_file() and CIFAR10_TOOL.is_file()),
    reason=f"real CIFAR-10 not available: needs {CIFAR10_ZIP} and {CIFAR10_TOOL} (the repo's sibling ../shared)",
)

LT_SPLITS_ZIP = SHARED / "data" / "lt-splits.zip"
requires_shared_splits = pytest.mark.skipif(
    not LT_SPLITS_ZIP.is_file(),
    reason=f"the published Places-LT / ImageNet-LT split lists are not available: needs {LT_SPLITS_ZIP}",
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


@pytest.fixture(scope="session")
def lt_splits(tmp_path_factory):
    """A temp folder with the shared zip's Places_LT/ and ImageNet_LT/ split files."""
    import zipfile

    root = tmp_path_factory.mktemp("lt_splits")
    with zipfile.ZipFile(LT_SPLITS_ZIP) as z:
        z.extractall(root)
    return root


@contextlib.contextmanager
def gloo_group(rank: int, world: int, init_file: str):
    """The gloo process group of one worker of a multi-process test (``mp.spawn``).

    When the block succeeds, every rank meets at a barrier and the process leaves with
    ``os._exit(0)`` without tearing gloo down: that teardown now and then aborted a worker
    ("terminate called without an active exception", SIGABRT) after its results were on disk,
    failing tests whose results were right. When the block raises, the group is destroyed and
    the error goes on to ``mp.spawn``, which reports it.
    """
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        yield
    except BaseException:
        dist.destroy_process_group()
        raise
    dist.barrier()  # every rank's results are written before any process goes
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
