"""One run folder, one process.

While a run trains or evaluates, its process holds an OS-level lock (``filelock``: ``flock`` on
``<run folder>/.lock``) on the folder. A second process that starts a run there (a batch and a
notebook, two batches) fails within seconds with :class:`RunFolderLocked`, whose message names
the folder and the holder (host, pid, command, since when). The operating system drops the lock
when its process ends, however it ends, so a lock left by a killed run never blocks the next one.
Under torchrun the launching process holds the lock and tells its ranks so
(``LTKIT_HELD_RUN_FOLDER``); a torchrun started by hand locks on rank 0. On a shared file system
the lock needs working ``flock`` (NFS has it; Lustre needs the ``flock`` mount option).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Union

PathLike = Union[str, os.PathLike]

LOCK_FILE = ".lock"


#: set for the processes a lock holder starts (torchrun ranks): they run under its lock
HELD_ENV = "LTKIT_HELD_RUN_FOLDER"


class RunFolderLocked(RuntimeError):
    """Another process holds the run folder."""

    def __init__(self, folder: Path, holder_info: Optional[Dict[str, Any]]):
        self.folder, self.holder = Path(folder), holder_info or {}
        who = describe_holder(self.holder)
        super().__init__(
            f"run folder {folder} is in use by {who}; two processes must not write one run. Wait for it to "
            f"finish (python -m ltkit status {folder}), stop it, or use another output folder"
        )


def describe_holder(info: Dict[str, Any]) -> str:
    if not info:
        return "another process (it has not said which yet)"
    cmd = info.get("command", "")
    return f"pid {info.get('pid')} on {info.get('host')} since {info.get('since')}" + (f" ({cmd})" if cmd else "")


def _key(folder: PathLike) -> str:
    return os.path.realpath(folder)


def _write_holder(fd: int) -> None:
    """Write who holds the lock into the lock file, for the error another process shows."""
    info = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:300] if sys.argv else "",
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)


def _lock(folder: Path, timeout: float, *, name_holder: bool = True):
    from filelock import FileLock

    return FileLock(
        folder / LOCK_FILE, timeout=timeout, thread_local=False, on_acquired=_write_holder if name_holder else None
    )


def holder(folder: PathLike) -> Optional[Dict[str, Any]]:
    """Who holds ``folder`` now ({} when the holder has not written its name yet), None when free."""
    from filelock import Timeout

    folder = Path(folder)
    if not (folder / LOCK_FILE).is_file():
        return None
    probe = _lock(folder, timeout=0, name_holder=False)
    try:
        with probe:
            return None
    except Timeout:
        try:
            return json.loads((folder / LOCK_FILE).read_text() or "{}")
        except (OSError, ValueError):
            return {}


def is_locked(folder: PathLike) -> bool:
    return holder(folder) is not None


#: the run folders this process holds now (a nested ``hold`` of one of them is a no-op)
_held: set = set()


@contextmanager
def hold(folder: PathLike, *, timeout: float = 2.0) -> Iterator[None]:
    """Hold the lock on ``folder`` (created if missing) for the ``with`` block, or raise
    :class:`RunFolderLocked` after ``timeout`` seconds. Re-entrant in the process that holds it
    and a no-op in the processes it started with ``HELD_ENV`` set to this folder."""
    from filelock import Timeout

    folder = Path(folder)
    key = _key(folder)
    if os.environ.get(HELD_ENV) == key or key in _held:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    lock = _lock(folder, timeout)
    try:
        lock.acquire()
    except Timeout:
        raise RunFolderLocked(folder, holder(folder)) from None
    _held.add(key)
    try:
        yield
    finally:
        _held.discard(key)
        lock.release()


def child_env(folder: PathLike) -> Dict[str, str]:
    """The environment for a process that runs under this process's lock on ``folder``."""
    return {**os.environ, HELD_ENV: _key(folder)}
