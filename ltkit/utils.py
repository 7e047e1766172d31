"""Small helpers: atomic file writes, device choice, seeding."""

from __future__ import annotations

import functools
import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any, Callable, Tuple, Union

import numpy as np
import torch

PathLike = Union[str, os.PathLike]


def atomic_write(path: PathLike, write: Callable[[Any], None], mode: str = "w") -> Path:
    """Write ``path`` through a temp file in the same folder, then rename it into place.

    ``write`` receives the open temp file. A crash mid-write leaves the old file (or none),
    never a half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: PathLike, obj: Any) -> Path:
    return atomic_write(
        path, lambda f: json.dump(obj, f, indent=2, sort_keys=False, default=_json_default) or f.write("\n")
    )


def write_text(path: PathLike, text: str) -> Path:
    return atomic_write(path, lambda f: f.write(text))


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, (set, tuple)):
        return list(o)
    raise TypeError(f"cannot write {type(o).__name__} to JSON")


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA if available, else MPS, else CPU; anything else is passed to torch."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        return torch.device(device)
    except RuntimeError as e:
        raise ValueError(f"device: {device!r} is not a torch device ('auto', 'cpu', 'cuda', 'cuda:1', ...)") from e


def channels_last(device: torch.device) -> bool:
    """Whether convolutions run in channels-last layout on ``device``: on CUDA (tensor cores) and
    on the CPU (oneDNN), where it and the batched data path together make ltkit's training
    throughput gain over the standard pipeline (``benchmarks/speed/cifar_pipeline.py``,
    ``results/benchmarks/``); not on MPS."""
    return device.type in ("cuda", "cpu")


@functools.lru_cache(maxsize=None)
def bf16_unsupported(device: torch.device) -> str:
    """Why ``device`` cannot run bf16 autocast at full speed; "" when it can.

    CUDA: a GPU with native bf16 (Ampere and later). CPU: an instruction set with bf16 dot
    products, avx512_bf16 or AMX; without one, oneDNN emulates bf16 and is slower than fp32.
    MPS: not used."""
    if device.type == "cuda":
        return "" if torch.cuda.is_bf16_supported() else "this GPU has no native bf16"
    if device.type == "cpu":
        cpu = getattr(torch, "cpu", None)
        checks = [getattr(cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
        if any(check is not None and check() for check in checks):
            return ""
        return "this CPU has neither avx512_bf16 nor AMX"
    return f"bf16 autocast is not used on {device.type}"


def precision(amp: bool, device: torch.device) -> Tuple[str, str]:
    """The precision a run with ``amp`` trains and extracts features in on ``device``, and why:
    ("bf16", "") or ("fp32", reason). bf16 means autocast over the backbone; the classifier, the
    loss, the moving average and the optimizer's state stay fp32 either way."""
    if not amp:
        return "fp32", "amp is off"
    why = bf16_unsupported(device)
    return ("fp32", why) if why else ("bf16", "")


def autocast(amp: bool, device: torch.device):
    """bf16 autocast where :func:`precision` says bf16, otherwise a context that changes nothing."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=precision(amp, device)[0] == "bf16")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
