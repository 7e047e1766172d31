"""Runs set side by side: what one change of setting, data or machine did to the accuracy.

An analysis compares a run with another that differs in one thing. These functions read both
records, say what differs (from the records, so a comparison cannot claim one change and hide
another) and give the numbers, ready for a generated page:

* :func:`compare_runs` -- pairs of runs (or of groups of seeds) and their accuracy differences;
* :func:`tde_effect` -- what TDE adds over the plain evaluation of the same runs;
* :func:`best_epochs` -- a run tested every epoch: its best test epochs against its last.
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple, Union

import pandas as pd

from ..data.fingerprint import label as data_label
from .load import machine_name

#: a run folder, several run folders (seeds: their mean), or numbers read elsewhere, as a dict
#: with the keys :func:`numbers` returns
Source = Union[str, os.PathLike, Sequence[Union[str, os.PathLike]], Dict[str, Any]]

#: parameters that name where a run wrote or read, not what it trained: never a difference
NOT_A_SETTING = ("output_dir", "data_root", "progress", "study", "download", "num_workers", "eval_batch_size")


def _record(run_dir: Union[str, os.PathLike]) -> Dict[str, Any]:
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: a comparison takes complete run folders")
    rec = json.loads(path.read_text())
    if rec.get("status") != "complete":
        raise ValueError(f"{run_dir}: the run is {rec.get('status')!r}, not complete")
    return rec


def numbers(source: Source) -> Dict[str, Any]:
    """One side of a comparison: ``name``, ``n`` (runs), ``plain`` / ``tde`` (overall accuracy,
    mean over the runs) with ``plain_std`` / ``tde_std`` (None for one run), ``medium_plain`` /
    ``medium_tde`` (None where the runs have no medium-shot class, as CIFAR-10-LT at ratio 10),
    ``code`` ("ltkit"), ``data`` (label), ``machine``, ``precision``, ``commit`` and ``params``
    (the settings all runs share)."""
    if isinstance(source, dict):
        return source
    dirs = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if not dirs:
        raise ValueError("a comparison needs at least one run folder on each side")
    recs = [_record(d) for d in dirs]

    def values(evaluation: str, key: str) -> List[float]:
        return [r["metrics"][evaluation][key] for r in recs]

    def mean_std(v: List[float]) -> Tuple[float, Union[float, None]]:
        return statistics.mean(v), (statistics.stdev(v) if len(v) > 1 else None)

    def mean(v: List[Union[float, None]]) -> Union[float, None]:
        return None if any(x is None for x in v) else statistics.mean(v)

    shared = {k: v for k, v in recs[0]["params"].items() if all(r["params"].get(k) == v for r in recs)}
    plain, plain_std = mean_std(values("plain", "overall"))
    tde, tde_std = mean_std(values("tde", "overall")) if all("tde" in r["metrics"] for r in recs) else (None, None)
    name = Path(dirs[0]).name if len(dirs) == 1 else f"{Path(dirs[0]).name} and {len(dirs) - 1} more"
    return {
        "name": name,
        "n": len(recs),
        "plain": plain,
        "plain_std": plain_std,
        "tde": tde,
        "tde_std": tde_std,
        "medium_plain": mean(values("plain", "medium")),
        "medium_tde": mean(values("tde", "medium")) if tde is not None else None,
        "code": "ltkit",
        "data": ", ".join(dict.fromkeys(data_label(r.get("data")) for r in recs)),
        "machine": ", ".join(dict.fromkeys(machine_name(r.get("environment", {})) for r in recs)),
        "precision": ", ".join(dict.fromkeys(str(r.get("precision")) for r in recs)),
        "commit": ", ".join(dict.fromkeys(r["environment"]["git_commit"][:7] for r in recs)),
        "params": shared,
    }


def differences(run: Dict[str, Any], against: Dict[str, Any]) -> List[str]:
    """What differs between two sides of :func:`numbers`: code, data, machine, precision and every
    training parameter both records hold (not where a run wrote or read), as "name: theirs -> ours"."""
    out = []
    for key in ("code", "data", "machine", "precision"):
        if run.get(key) != against.get(key):
            out.append(f"{key}: {against.get(key)} -> {run.get(key)}")
    a, b = run.get("params", {}), against.get("params", {})
    for key in sorted(set(a) & set(b)):  # a field one record predates cannot be compared
        if key not in NOT_A_SETTING and a.get(key) != b.get(key):
            out.append(f"{key}: {b.get(key, '-')} -> {a.get(key, '-')}")
    return out


def compare_runs(pairs: Sequence[Tuple[str, Source, Source]]) -> pd.DataFrame:
    """One row per (label, run, against): both sides' De-confound and De-confound-TDE overall
    accuracy, the differences ``plain_diff`` / ``tde_diff`` (run - against), and ``changed``:
    :func:`differences`, from the records."""
    rows = []
    for label, run, against in pairs:
        a, b = numbers(run), numbers(against)
        rows.append(
            {
                "comparison": label,
                "run": a["name"],
                "against": b["name"],
                "changed": "; ".join(differences(a, b)) or "nothing",
                "plain": a["plain"],
                "plain_against": b["plain"],
                "plain_diff": a["plain"] - b["plain"],
                "tde": a["tde"],
                "tde_against": b["tde"],
                "tde_diff": None if a["tde"] is None or b["tde"] is None else a["tde"] - b["tde"],
                "run_n": a["n"],
                "against_n": b["n"],
            }
        )
    return pd.DataFrame(rows)


def _side(value, n) -> str:
    return "-" if value is None or pd.isna(value) else f"{value:.1f}" + (f" (mean of {n})" if n > 1 else "")


def compare_markdown(table: pd.DataFrame) -> str:
    """Render :func:`compare_runs`: each accuracy cell 'run vs against [difference]'."""
    lines = [
        "| | run | against | what differs (from the records) | De-confound | De-confound-TDE |",
        "|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        cells = []
        for ev in ("plain", "tde"):
            ours, theirs, diff = getattr(r, ev), getattr(r, f"{ev}_against"), getattr(r, f"{ev}_diff")
            shown = f"{_side(ours, r.run_n)} vs {_side(theirs, r.against_n)}"
            cells.append(shown + ("" if diff is None or pd.isna(diff) else f" [{diff:+.1f}]"))
        lines.append(f"| {r.comparison} | `{r.run}` | `{r.against}` | {r.changed} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def tde_effect(sources: Sequence[Tuple[str, Source, Union[float, None]]]) -> pd.DataFrame:
    """What TDE adds over the plain evaluation of the same runs: overall and medium-shot accuracy
    without and with TDE and their differences, one row per (label, source, the paper's overall
    gain or None); the medium-shot columns are None where the runs have no medium-shot class."""
    rows = []
    for label, source, paper in sources:
        s = numbers(source)
        medium = s["medium_plain"] is not None and s["medium_tde"] is not None
        rows.append(
            {
                "runs": label,
                "paper_gain": paper,
                "n": s["n"],
                "overall_plain": s["plain"],
                "overall_tde": s["tde"],
                "overall_gain": s["tde"] - s["plain"],
                "medium_plain": s["medium_plain"],
                "medium_tde": s["medium_tde"],
                "medium_gain": s["medium_tde"] - s["medium_plain"] if medium else None,
            }
        )
    return pd.DataFrame(rows)


def tde_effect_markdown(table: pd.DataFrame) -> str:
    lines = [
        "| runs | n | overall: De-confound -> TDE | the paper's gain | medium-shot: De-confound -> TDE |",
        "|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        paper = "-" if r.paper_gain is None or pd.isna(r.paper_gain) else f"{r.paper_gain:+.1f}"
        medium = (
            "no medium-shot class"
            if r.medium_gain is None or pd.isna(r.medium_gain)
            else f"{r.medium_plain:.1f} -> {r.medium_tde:.1f} [{r.medium_gain:+.1f}]"
        )
        lines.append(
            f"| {r.runs} | {r.n} | {r.overall_plain:.1f} -> {r.overall_tde:.1f} [{r.overall_gain:+.1f}] | {paper} | "
            f"{medium} |"
        )
    return "\n".join(lines)


def best_epochs(run_dir: Union[str, os.PathLike]) -> pd.DataFrame:
    """For a run tested every epoch (``test_every=1``: ``history.csv`` has ``test_plain`` and
    ``test_tde``): per evaluation, the last epoch's test accuracy, the best epoch and its accuracy,
    and what picking it on the test set would have added. Epochs with no test accuracy are skipped."""
    path = Path(run_dir) / "history.csv"
    hist = pd.read_csv(path)
    missing = [c for c in ("test_plain", "test_tde") if c not in hist]
    if missing:
        raise ValueError(f"{path} has no {', '.join(missing)}: the run was not tested every epoch (test_every=1)")
    last = hist.iloc[-1]
    rows = []
    for column, name in (("test_plain", "De-confound"), ("test_tde", "De-confound-TDE")):
        best = hist.loc[hist[column].idxmax()]
        rows.append(
            {
                "evaluation": name,
                "last_epoch": int(last.epoch),
                "last": float(last[column]),
                "best_epoch": int(best.epoch),
                "best": float(best[column]),
                "gain": float(best[column] - last[column]),
                "epochs_tested": int(hist[column].notna().sum()),
            }
        )
    return pd.DataFrame(rows)


def best_epochs_markdown(table: pd.DataFrame) -> str:
    lines = [
        "| evaluation | last epoch | best test epoch | picking it would add | epochs tested |",
        "|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        lines.append(
            f"| {r.evaluation} | {r.last:.1f} (epoch {r.last_epoch}) | {r.best:.1f} (epoch {r.best_epoch}) | "
            f"{r.gain:+.1f} | {r.epochs_tested} |"
        )
    return "\n".join(lines)
