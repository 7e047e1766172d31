"""Run records: what a run writes, and reading them back into pandas.

A run folder holds

* ``run.json``: ``ltkit_version``, ``status``, ``params`` (the full RunConfig), ``environment``
  (versions, device, git commit), ``timings``, ``metrics`` (by evaluation name: ``overall``,
  ``many``, ``medium``, ``few`` in percent or null, plus ``alpha`` for TDE), ``train_counts``;
* ``history.csv``: per epoch lr, mu, loss, train accuracy, images/s;
* ``per_class.csv``: per class train count, shot group, and accuracy under each evaluation;
* ``outputs.npz`` (git-ignored): test features, labels, logits per evaluation, the classifier
  weight, the moving-average feature and the train class counts, for post-hoc work;
* ``checkpoint.pt`` (git-ignored): the last finished epoch, to resume from.

Every file is written atomically (temp file + rename).
"""

from __future__ import annotations

import io
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any, Dict, Iterable, List, Union

import numpy as np
import pandas as pd
import torch

from .utils import atomic_write, write_json

RUN_JSON = "run.json"


def environment(device: torch.device) -> Dict[str, Any]:
    """Versions, device and git commit of the code that produced a run."""
    from . import __version__

    env: Dict[str, Any] = {
        "ltkit": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "num_threads": torch.get_num_threads(),
        "git_commit": git_commit(),
    }
    return env


def git_commit() -> Union[str, None]:
    """The commit of the ltkit checkout (with ``+dirty`` if it has uncommitted changes), or None."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5)
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def write_csv(path: Union[str, os.PathLike], df: pd.DataFrame) -> Path:
    return atomic_write(path, lambda f: df.to_csv(f, index=False))


def write_npz(path: Union[str, os.PathLike], **arrays: np.ndarray) -> Path:
    def write(f):
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        f.write(buf.getvalue())

    return atomic_write(path, write, mode="wb")


def write_run_json(run_dir: Union[str, os.PathLike], record: Dict[str, Any]) -> Path:
    return write_json(Path(run_dir) / RUN_JSON, record)


def read_run(run_dir: Union[str, os.PathLike]) -> Dict[str, Any]:
    path = Path(run_dir) / RUN_JSON
    if not path.is_file():
        raise FileNotFoundError(f"no {RUN_JSON} in {run_dir}")
    with open(path) as f:
        return json.load(f)


def is_complete(run_dir: Union[str, os.PathLike]) -> bool:
    try:
        return read_run(run_dir).get("status") == "complete"
    except (FileNotFoundError, json.JSONDecodeError):
        return False


def find_runs(path: Union[str, os.PathLike, Iterable]) -> List[Path]:
    """Run folders under ``path`` (a run folder, a tree of them, or a list of either)."""
    if isinstance(path, (list, tuple)):
        return [r for p in path for r in find_runs(p)]
    p = Path(path)
    if (p / RUN_JSON).is_file():
        return [p]
    return sorted(f.parent for f in p.rglob(RUN_JSON))


def load_runs(path: Union[str, os.PathLike, Iterable]) -> pd.DataFrame:
    """One row per (run, evaluation): run_dir, evaluation, overall/many/medium/few, alpha, and
    every run parameter as a column. Incomplete runs are left out."""
    rows = []
    for run_dir in find_runs(path):
        try:
            rec = read_run(run_dir)
        except (FileNotFoundError, json.JSONDecodeError):
            continue
        if rec.get("status") != "complete":
            continue
        params = rec.get("params", {})
        for name, m in rec.get("metrics", {}).items():
            row = {"run_dir": str(run_dir), "run_name": Path(run_dir).name, "evaluation": name}
            row.update({k: (tuple(v) if isinstance(v, list) else v) for k, v in params.items()})
            # the metrics' alpha (the one used; None without TDE) wins over the config's
            row.update({k: m.get(k) for k in ("overall", "many", "medium", "few", "alpha")})
            row["train_s"] = rec.get("timings", {}).get("train_s")
            row["git_commit"] = rec.get("environment", {}).get("git_commit")
            rows.append(row)
    cols = ["run_dir", "run_name", "evaluation", "overall", "many", "medium", "few", "alpha"]
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=cols)
    for c in ("overall", "many", "medium", "few", "alpha"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df
