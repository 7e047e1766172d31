"""Run records read back into pandas: one row per run, with the names tables and figures show."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, Iterable, Union

import pandas as pd

from ..data.datasets import DATASETS
from ..data.fingerprint import label as data_label
from ..models.classifiers import classifier_type, tde_classifiers
from ..runs.record import find_runs, read_run

#: the LVIS metrics a detection record carries (``ltkit.detection.evaluation``)
DETECTION_COLUMNS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "APr", "APc", "APf", "APbbox")


def trained_on_several(run_dir: Union[str, os.PathLike]) -> bool:
    """Whether a run's epochs ran on more than one device or precision (a run resumed elsewhere):
    from ``history.csv``'s per-epoch ``device_name`` and ``precision`` columns (runs recorded
    before ``device_name`` existed show only a change of precision)."""
    path = Path(run_dir) / "history.csv"
    if not path.is_file():
        return False
    hist = pd.read_csv(path)
    return any(c in hist and hist[c].dropna().nunique() > 1 for c in ("device_name", "precision"))


def machine_name(environment: Dict[str, Any]) -> str:
    """Where a run trained, from its record's ``environment``: "AMD EPYC (2 cores)" on a CPU,
    the GPU's name (times the count) on GPUs."""
    device = environment.get("device", "cpu")
    if device == "cpu":
        name, cores = environment.get("cpu") or "unknown CPU", environment.get("cpu_cores")
        return f"{name} ({cores} cores)" if cores else name
    name, count = environment.get("device_name") or device, environment.get("world_size") or 1
    return f"{count} x {name}" if count > 1 else name


def load_runs(path: Union[str, os.PathLike, Iterable]) -> pd.DataFrame:
    """One row per (run, evaluation): run_dir, evaluation, overall/many/medium/few, alpha, every
    run parameter as a column, ``study`` (reproduction / analysis), ``data`` (the data's label,
    ``ltkit.data.fingerprint.label``: "data unknown" for a record without a data block),
    ``data_fingerprint``, ``mixed_machines`` (:func:`trained_on_several`), and where the run
    trained: ``machine`` (the CPU or GPU model and core count), ``precision``,
    ``git_commit`` and ``git_dirty``. Incomplete runs are left out."""
    rows = []
    for run_dir in find_runs(path):
        try:
            rec = read_run(run_dir)
        except (FileNotFoundError, json.JSONDecodeError):
            continue
        if rec.get("status") != "complete":
            continue
        params = rec.get("params", {})
        mixed = trained_on_several(run_dir)
        for name, m in rec.get("metrics", {}).items():
            row = {"run_dir": str(run_dir), "run_name": Path(run_dir).name, "evaluation": name}
            row.update({k: (tuple(v) if isinstance(v, list) else v) for k, v in params.items()})
            # the metrics' alpha (the one used; None without TDE) wins over the config's
            row.update({k: m.get(k) for k in ("overall", "many", "medium", "few", "alpha")})
            row["task"] = rec.get("task", "classification")
            if row["task"] == "detection":  # LVIS runs: AP, AP50, ..., APr/APc/APf, APbbox, bbox_*
                row.update({k: v for k, v in m.items() if k != "alpha"})
            row["train_s"] = rec.get("timings", {}).get("train_s")
            env = rec.get("environment", {})
            row["git_commit"] = env.get("git_commit")
            row["git_dirty"] = env.get("git_dirty")
            row["machine"] = machine_name(env)
            row["precision"] = rec.get("precision")
            row["study"] = params.get("study") or "reproduction"  # records from before the field: Table 3's
            row["data"] = data_label(rec.get("data"))
            row["data_fingerprint"] = (rec.get("data") or {}).get("fingerprint")
            row["mixed_machines"] = mixed
            rows.append(row)
    cols = ["run_dir", "run_name", "evaluation", "overall", "many", "medium", "few", "alpha"]
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=cols)
    for c in ("overall", "many", "medium", "few", "alpha") + DETECTION_COLUMNS:
        if c in df:
            df[c] = pd.to_numeric(df[c], errors="coerce")
    return df


def method_name(row: Dict[str, Any]) -> str:
    """The paper's name for a (run parameters, evaluation) row of ``load_runs``."""
    clf, ev, loss = row.get("classifier"), row.get("evaluation"), row.get("loss", "ce")
    tde_capable = clf in tde_classifiers()
    if row.get("task") == "detection":
        if not tde_capable:
            return "Baseline"
        base = classifier_type(clf).paper_name
        return {"tde": f"{base}-TDE", "tde_without_bg_exemption": f"{base}-TDE, BG-exempted False"}.get(ev, base)
    if tde_capable:
        name = classifier_type(clf).paper_name + ("-TDE" if ev == "tde" else "")
        return name if loss == "ce" else f"{name} + {loss}"
    if clf == "lws":
        return classifier_type(clf).paper_name
    if clf == "tau_norm" and ev == "tau_norm":
        return "Decouple-tau-norm"
    if clf in ("linear", "tau_norm"):
        if row.get("init_from") and row.get("freeze_backbone"):
            return "Decouple-cRT"
        return {
            "ce": "Baseline",
            "focal": "Focal Loss",
            "class_balanced": "Class-balanced Loss",
            "balanced_softmax": "Balanced Softmax",
            "logit_adjusted": "Logit Adjustment",
        }.get(loss, f"linear + {loss}")
    return f"{clf} ({ev})"


def benchmark_name(row: Dict[str, Any]) -> str:
    """A table column: ``cifar10_lt-r100`` for a dataset built at a ratio, else the dataset."""
    ds = row.get("dataset")
    return DATASETS[ds].benchmark(row.get("imb_ratio")) if ds in DATASETS else str(ds)


#: the paper's training length per dataset (docs/method.md 1.3): only runs this long fill Tables 2 and 3
PAPER_EPOCHS = {name: d.paper_epochs for name, d in DATASETS.items() if d.paper_epochs}


def full_length(runs: pd.DataFrame) -> pd.Series:
    """Which rows of ``load_runs`` trained for the paper's schedule: ``PAPER_EPOCHS`` epochs of
    every step (``steps_per_epoch`` 0). A second-stage run (``init_from`` set: cRT, LWS) counts
    at its own length. Shortened runs (smoke tests, quick comparisons) stay out of the tables."""
    if not len(runs):
        return pd.Series(dtype=bool)

    def col(name: str, default: Any) -> pd.Series:
        return runs[name] if name in runs else pd.Series(default, index=runs.index)

    wanted = col("dataset", "").map(PAPER_EPOCHS)
    epochs = pd.to_numeric(col("epochs", None), errors="coerce")
    every_step = pd.to_numeric(col("steps_per_epoch", 0), errors="coerce").fillna(0).eq(0)
    second_stage = col("init_from", "").fillna("").astype(str).ne("")
    return every_step & (epochs.eq(wanted) | second_stage)
