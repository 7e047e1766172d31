"""Checkpoints that survive a write cut short.

:func:`save_checkpoint` writes the new file beside the old one, flushes it to disk, keeps the
old one as ``<name>.prev.pt`` and only then renames the new one into place, so at every moment
one complete checkpoint exists. :func:`load_checkpoint` resumes from the newest one that loads,
says which it skipped and why, and when none loads stops with :class:`CheckpointError`, which
names the files and what to do. :func:`checkpoint_intact` is the cheap check (a torch checkpoint
is a zip archive whose directory sits at its end, so a file cut short does not open) used where
loading every candidate would be slow (LVIS).
"""

from __future__ import annotations

import os
import signal
import threading
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

PathLike = Union[str, os.PathLike]

PREVIOUS_SUFFIX = ".prev.pt"


class CheckpointError(RuntimeError):
    """No checkpoint of a run folder can be read."""


def previous_path(path: PathLike) -> Path:
    path = Path(path)
    return path.with_name(path.stem + PREVIOUS_SUFFIX)


def checkpoint_intact(path: PathLike) -> Optional[str]:
    """None when ``path`` looks like a whole torch checkpoint, else why not (cheap: reads the
    zip directory at the end of the file, not the tensors)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except FileNotFoundError:
        return "missing"
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        return f"not a whole checkpoint ({type(e).__name__}: {e}; cut short?)"
    if not any(n.endswith("data.pkl") for n in names):
        return "a zip archive without torch's data.pkl"
    return None


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) that arrives while the block runs and deliver it when the block
    ends. torch.save turns a KeyboardInterrupt raised inside its writer into a RuntimeError
    ("unexpected pos ..."), so an interrupted run would be recorded as failed; the few hundred
    milliseconds a checkpoint takes are worth finishing. Outside the main thread (where Python
    delivers no signals, and cannot set handlers) the block just runs."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous is None:
        yield  # None: a handler set outside Python, which could not be put back
        return
    caught: List[Any] = []
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            if callable(previous):  # Python's default handler (or ipykernel's) raises KeyboardInterrupt
                previous(signal.SIGINT, caught[-1])
            elif previous != signal.SIG_IGN:
                raise KeyboardInterrupt


def save_checkpoint(path: PathLike, obj: Any) -> Path:
    """Write ``obj`` to ``path`` (torch.save) keeping the checkpoint it replaces as
    ``<stem>.prev.pt`` until the new one is completely on disk. A Ctrl-C during the write is
    delivered once the new checkpoint is in place (:func:`interrupts_deferred`)."""
    import torch

    from .utils import atomic_write

    path = Path(path)

    def write(f) -> None:  # atomic_write then flushes, fsyncs and renames the new file into place
        torch.save(obj, f)
        if path.is_file():  # the old one stays, as .prev.pt, beside the new one
            tmp = path.with_name(f".{path.name}.prev.tmp")
            tmp.unlink(missing_ok=True)
            os.link(path, tmp)
            os.replace(tmp, previous_path(path))

    with interrupts_deferred():
        return atomic_write(path, write, mode="wb")


def load_checkpoint(
    path: PathLike, *, map_location: Any = "cpu", log: Optional[Callable[[str], None]] = None
) -> Optional[Tuple[Dict[str, Any], Path]]:
    """The newest readable of ``path`` and its ``.prev.pt`` as (checkpoint, file), None when
    neither exists; :class:`CheckpointError` when they exist and none loads."""
    import torch

    candidates = [p for p in (Path(path), previous_path(path)) if p.is_file()]
    if not candidates:
        return None
    failures: List[str] = []
    for p in candidates:
        why = checkpoint_intact(p)
        if why is None:
            try:
                ckpt = torch.load(p, map_location=map_location, weights_only=True)
            except Exception as e:  # noqa: BLE001 - any unreadable file: try the older one
                why = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
            else:
                if failures and log is not None:
                    log(f"warning: {'; '.join(failures)}; resuming from {p.name} instead")
                return ckpt, p
        failures.append(f"{p} cannot be read: {why}")
    raise CheckpointError(
        "; ".join(failures) + f". Restore a good copy, or delete {' and '.join(p.name for p in candidates)} to "
        f"train this run again from the start (the other files in {Path(path).parent} can stay)"
    )
