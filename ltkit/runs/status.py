"""Live status of run folders: which run trains now, where, and how far it got."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Union

import pandas as pd

from ..config.schema import same_value
from .folder import LOCK_FILE, is_locked
from .record import epoch_times, find_runs, read_run


def _process_alive(process: Dict[str, Any]) -> Union[bool, None]:
    """Whether the process that wrote a record still runs: None when it ran on another host."""
    import socket

    if not process or process.get("host") != socket.gethostname():
        return None
    try:
        os.kill(int(process["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    return True


def run_status(path: Union[str, os.PathLike, Iterable]) -> pd.DataFrame:
    """One row per run folder under ``path``: run, state, epoch, epochs, loss, images_per_s,
    eta_s (seconds of training left), precision, updated. ``state`` is "complete", "running" (a
    process holds the run folder's lock, ``ltkit.runs.folder``), "stopped" (no process does: run it
    again to resume from its checkpoint), "interrupted" (stopped by Ctrl-C or an interrupted batch;
    resumes the same way), "running?" (a record from before the lock, written on another host) or
    "unreadable". A folder holding a batch's ``batch.json`` (``ltkit.batch``) also gets a row
    for each of the batch's runs that has no record there: "pending" (not run yet), "failed"
    (before it wrote one) or "kept" (skipped: complete in the recipe's ``kept`` folder). A
    pending run's ``eta_s`` is an estimate (:func:`estimate_s`), None where there is none yet."""
    rows = []
    found = find_runs(path)
    for run_dir in found:
        row: Dict[str, Any] = {"run": str(run_dir)}
        try:
            rec = read_run(run_dir)
        except (FileNotFoundError, json.JSONDecodeError):
            rows.append(dict(row, state="unreadable"))
            continue
        prog = rec.get("progress") or {}
        state = rec.get("status", "unreadable")
        if state == "running":
            if (run_dir / LOCK_FILE).exists():  # the lock decides: held while the run's process lives
                state = "running" if is_locked(run_dir) else "stopped"
            else:  # a record from before the lock: the recorded process, where it can be checked
                alive = _process_alive(rec.get("process") or {})
                state = {True: "running", False: "stopped", None: "running?"}[alive]
        epochs = prog.get("epochs", rec.get("params", {}).get("epochs"))
        timings = rec.get("timings", {})
        if state == "complete" and not prog:  # a record from before progress was written
            prog = {"epoch": epochs, "images_per_s": timings.get("train_images_per_s")}
        row.update(
            state=state,
            epoch=prog.get("epoch", 0),
            epochs=epochs,
            loss=prog.get("loss"),
            images_per_s=prog.get("images_per_s"),
            eta_s=prog.get("eta_s") if state in ("running", "running?") else (0.0 if state == "complete" else None),
            precision=rec.get("precision"),
            updated=prog.get("updated"),
        )
        rows.append(row)
    rows += _pending(path, found)
    return pd.DataFrame(
        rows, columns=["run", "state", "epoch", "epochs", "loss", "images_per_s", "eta_s", "precision", "updated"]
    )


def _pending(path, found) -> List[Dict[str, Any]]:
    """The runs a batch summary under ``path`` lists that have no record yet (not started, or
    failed before writing one), in the batch's order; a pending one with an estimate of its time."""
    if isinstance(path, (list, tuple)):
        return [row for p in path for row in _pending(p, found)]
    summary = Path(path) / "batch.json"
    if not summary.is_file():
        return []
    try:
        batch = json.loads(summary.read_text())
    except (OSError, json.JSONDecodeError):
        return []
    if not isinstance(batch, list):
        return []
    batch = [r for r in batch if isinstance(r, dict) and r.get("name")]
    have = {Path(r).resolve() for r in found}
    timed = [*found, *(Path(r["kept_dir"]) for r in batch if r.get("kept_dir"))]
    rows = []
    for r in batch:
        folder = Path(path) / str(r["name"])
        if folder.resolve() not in have:
            # skipped with no folder here: complete in the recipe's kept folder
            state = {"failed": "failed", "skipped": "kept"}.get(r.get("status"), "pending")
            row: Dict[str, Any] = {"run": str(folder), "state": state}
            config = r.get("config") or {}
            if state == "pending" and config.get("epochs"):
                row.update(epochs=config["epochs"], eta_s=estimate_s(config, timed))
            rows.append(row)
    return rows


def estimate_s(config: Dict[str, Any], run_dirs: Iterable) -> Union[float, None]:
    """Seconds a run with these run-defining fields will train: the median epoch of the runs
    among ``run_dirs`` that differ from it only in ``seed`` (fields a record lacks are not
    compared), times its epochs; None when no such run has trained an epoch."""
    like = []
    for run_dir in run_dirs:
        try:
            params = read_run(run_dir).get("params") or {}
        except (FileNotFoundError, json.JSONDecodeError):
            continue
        if all(same_value(params[k], v) for k, v in config.items() if k != "seed" and k in params):
            like.append(run_dir)
    times = epoch_times(like)
    return float(times.median()) * config["epochs"] if len(times) else None


def format_status(status: pd.DataFrame) -> str:
    """``run_status`` as the fixed-width table ``python -m ltkit status`` prints."""
    if status.empty:
        return "no runs (no run.json) there"

    def left(s):
        if s is None or pd.isna(s):
            return "-"
        s = int(round(s))
        return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"

    def num(v, fmt):
        return "-" if v is None or pd.isna(v) else format(v, fmt)

    def about(s):
        return "-" if s is None or pd.isna(s) else "~" + left(s)

    width = max(len("run"), *(len(r) for r in status.run))
    lines = [f"{'run':<{width}}  {'state':<10} {'epoch':>9} {'loss':>8} {'img/s':>7} {'left':>7}  precision"]
    for r in status.itertuples():
        epoch = f"{num(r.epoch, '.0f')}/{num(r.epochs, '.0f')}"
        eta = about(r.eta_s) if r.state == "pending" else left(r.eta_s)
        lines.append(
            f"{r.run:<{width}}  {r.state:<10} {epoch:>9} {num(r.loss, '.4f'):>8} "
            f"{num(r.images_per_s, '.0f'):>7} {eta:>7}  {'-' if pd.isna(r.precision) else r.precision}"
        )
    pending = status[status.state == "pending"]
    if len(pending):
        to_go = status[status.state.isin(["running", "running?", "pending"])]
        unknown = int(pending.eta_s.isna().sum())
        line = f"left in all: {about(to_go.eta_s.sum()) if to_go.eta_s.notna().any() else '-'}"
        if unknown:
            line += f", and {unknown} pending run{'s' * (unknown > 1)} with no estimate yet"
        lines.append(line + " (pending: the median epoch of runs that differ only in seed)")
    return "\n".join(lines)
