"""The cluster resources of a batch's jobs: the recipe's ``cluster`` mapping, checked when the recipe loads.

Resources come from the recipe's ``cluster`` mapping, overridden by command-line flags::

    cluster:
      partition: gpu              # Slurm partition
      time: "12:00:00"            # time limit per job: minutes, "HH:MM:SS" or "D-HH:MM:SS" (default 60 min on Slurm)
      gpus: 1                     # GPUs per job; default: the run's own `gpus` (1 when it has none)
      cpus: 8                     # CPUs per job (cpus-per-task)
      mem_gb: 64
      sbatch: {account: lab, constraint: a100}   # any further sbatch option
      setup: ["module load cuda", "source ~/venvs/ltkit/bin/activate"]   # shell lines before the job
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

CLUSTER_KEYS = ("partition", "time", "gpus", "cpus", "mem_gb", "sbatch", "setup")


@dataclass
class Resources:
    partition: str = ""
    time_min: Optional[int] = None
    gpus: Optional[int] = None
    cpus: Optional[int] = None
    mem_gb: Optional[float] = None
    sbatch: Dict[str, Any] = field(default_factory=dict)
    setup: List[str] = field(default_factory=list)


def parse_time(value: Any, where: str = "time") -> int:
    """Minutes from an int, or Slurm's "MM", "HH:MM:SS", "D-HH:MM:SS" / "D-HH:MM"."""
    if isinstance(value, bool):
        raise ValueError(f'{where}: expected minutes or "HH:MM:SS", got {value!r}')
    if isinstance(value, (int, float)) and value > 0:
        return int(value)
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", str(value).strip())
    if not m:
        raise ValueError(f'{where}: expected minutes or "HH:MM:SS" / "D-HH:MM:SS", got {value!r}')
    days, a, b, c = (int(x) if x else None for x in m.groups())
    if days is None and b is None:  # plain minutes
        minutes = a
    elif c is None and days is None:  # MM:SS
        minutes = a + (b > 0)
    else:  # [D-]HH:MM[:SS]
        minutes = (days or 0) * 1440 + a * 60 + (b or 0) + ((c or 0) > 0)
    if minutes <= 0:
        raise ValueError(f"{where}: the time limit must be positive, got {value!r}")
    return minutes


def parse_resources(raw: Any, where: str = "cluster") -> Resources:
    """The recipe's ``cluster`` mapping (see the module docstring), checked."""
    if raw is None:
        return Resources()
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a mapping of {', '.join(CLUSTER_KEYS)}, got {raw!r}")
    unknown = sorted(set(raw) - set(CLUSTER_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; valid keys: {', '.join(CLUSTER_KEYS)}")
    res = Resources()
    if raw.get("partition") is not None:
        res.partition = str(raw["partition"])
    if raw.get("time") is not None:
        res.time_min = parse_time(raw["time"], f"{where}.time")
    for key in ("gpus", "cpus"):
        v = raw.get(key)
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if key == "gpus" else 1):
                raise ValueError(f"{where}.{key}: expected a whole number >= {0 if key == 'gpus' else 1}, got {v!r}")
            setattr(res, key, v)
    if raw.get("mem_gb") is not None:
        v = raw["mem_gb"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            raise ValueError(f"{where}.mem_gb: expected a positive number, got {v!r}")
        res.mem_gb = float(v)
    sbatch = raw.get("sbatch") or {}
    if not isinstance(sbatch, dict):
        raise ValueError(f"{where}.sbatch: expected a mapping option -> value (e.g. {{account: lab}}), got {sbatch!r}")
    res.sbatch = {str(k).lstrip("-").replace("-", "_"): v for k, v in sbatch.items()}
    setup = raw.get("setup") or []
    if isinstance(setup, str):
        setup = [setup]
    if not isinstance(setup, list) or not all(isinstance(s, str) for s in setup):
        raise ValueError(f"{where}.setup: expected a list of shell lines, got {setup!r}")
    res.setup = list(setup)
    return res
