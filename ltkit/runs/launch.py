"""Start one run in its folder: the lock, rank 0, the torchrun relaunch and its device check.

The classification runner (``ltkit.runs.runner``) and the LVIS runner (``ltkit.detection.run``)
both start a run through :func:`run_in_folder`, so a run folder has one process tree whatever
trains in it:

* outside torchrun, this process takes the folder's lock (``ltkit.runs.folder``); with more
  than one GPU it checks that they are visible, starts torchrun under its lock and waits;
* under torchrun, rank 0 of a torchrun started by hand takes the lock; the other ranks, and
  every rank of a torchrun this module started, run under the lock their launcher holds.
"""

from __future__ import annotations

import os
import subprocess
from typing import Callable, List, TypeVar

import torch

from .. import distributed
from .folder import PathLike, child_env, hold

T = TypeVar("T")


def check_gpus(gpus: int) -> None:
    """Refuse ``gpus`` processes when fewer CUDA devices are visible."""
    if torch.cuda.device_count() < gpus:
        raise ValueError(f"gpus: {gpus} requested, {torch.cuda.device_count()} CUDA device(s) visible")


def run_in_folder(
    folder: PathLike,
    *,
    gpus: int,
    here: Callable[[], T],
    command: Callable[[], List[str]],
    relaunched: Callable[[], T],
    cuda: bool = True,
    log: Callable[[str], None] = print,
) -> T:
    """Run ``here()`` as the one process tree of ``folder``.

    With ``gpus > 1`` outside torchrun, ``command()`` (a torchrun command line) runs instead, under
    this process's lock, and ``relaunched()`` gives the result (``cuda``: check the GPUs first; a
    CPU run starts gloo processes). Raises ``RunFolderLocked`` when another process holds the folder.
    """
    if distributed.under_torchrun() and int(os.environ.get("RANK", "0")) != 0:
        return here()  # rank 0 (or the process that started torchrun) holds the lock
    with hold(folder):
        if gpus > 1 and not distributed.under_torchrun():
            if cuda:
                check_gpus(gpus)
            log(f"launching {gpus} processes under torchrun")
            subprocess.run(command(), check=True, env=child_env(folder))  # they run under our lock
            return relaunched()
        return here()
