"""A run's record: the files a run folder holds, written atomically and read back.

A run folder holds

* ``run.json``: ``ltkit_version``, ``status``, ``params`` (the full RunConfig), ``environment``
  (versions, device, git commit), ``data`` (which data, by content), ``timings``, ``metrics``
  (by evaluation name: ``overall``, ``many``, ``medium``, ``few`` in percent or null, plus
  ``alpha`` for TDE), ``train_counts``;
* ``history.csv``: per epoch lr, mu, loss, train accuracy, images/s, device;
* ``per_class.csv``: per class train count, shot group, and accuracy under each evaluation;
* ``outputs.npz`` (git-ignored): test features, labels, logits per evaluation, the classifier
  weight, the moving-average feature, the train class counts and the per-class mean train
  feature (``class_means``, for NCM), for post-hoc work;
* ``checkpoint.pt`` (git-ignored): the last finished epoch, to resume from.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Union

import numpy as np
import pandas as pd

from ..utils import atomic_write, write_json

RUN_JSON = "run.json"


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


def epoch_times(run_dirs: Iterable[Union[str, os.PathLike]]) -> pd.Series:
    """Every epoch's wall time in seconds (``history.csv``'s ``time_s``) of these runs, pooled."""
    times = [pd.read_csv(Path(d) / "history.csv").time_s for d in run_dirs if (Path(d) / "history.csv").is_file()]
    return pd.concat(times, ignore_index=True) if times else pd.Series(dtype=float)
