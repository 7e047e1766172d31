"""What machine this is: the CPU model, its cores and the instruction-set flags that decide
which float kernels torch uses (and so the rounding of a run), and the GPU if any.

Run records (``run.json``'s ``environment``, ``history.csv``'s ``device_name``) and benchmark
records (``ltkit.runs.provenance``) take these facts from here.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any, Dict

#: CPU flags that decide which float kernels torch / oneDNN use (and so the rounding of a run)
RELEVANT_CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16")


def _cpuinfo() -> Dict[str, str]:
    """The first processor's block of /proc/cpuinfo (empty off Linux)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    info: Dict[str, str] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(":")
        info[key.strip()] = value.strip()
    return info


def cpu() -> Dict[str, Any]:
    """{"model": ..., "cores": n, "flags": [the RELEVANT_CPU_FLAGS present]}."""
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    return {
        "model": info.get("model name") or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "flags": [f for f in RELEVANT_CPU_FLAGS if f in flags],
    }


def machine() -> Dict[str, Any]:
    """The machine facts a record keeps: CPU, torch's CPU capability and threads, GPU, Python."""
    import torch

    out: Dict[str, Any] = {
        "cpu": cpu(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
    return out
