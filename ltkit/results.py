"""Run records: what a run writes, and reading them back into pandas.

A run folder holds

* ``run.json``: ``ltkit_version``, ``status``, ``params`` (the full RunConfig), ``environment``
  (versions, device, git commit), ``timings``, ``metrics`` (by evaluation name: ``overall``,
  ``many``, ``medium``, ``few`` in percent or null, plus ``alpha`` for TDE), ``train_counts``;
* ``history.csv``: per epoch lr, mu, loss, train accuracy, images/s;
* ``per_class.csv``: per class train count, shot group, and accuracy under each evaluation;
* ``outputs.npz`` (git-ignored): test features, labels, logits per evaluation, the classifier
  weight, the moving-average feature, the train class counts and the per-class mean train
  feature (``class_means``, for NCM), for post-hoc work;
* ``checkpoint.pt`` (git-ignored): the last finished epoch, to resume from.

Every file is written atomically (temp file + rename).
"""

from __future__ import annotations

import io
import json
import os
import platform
from pathlib import Path
from typing import Any, Dict, Iterable, List, Union

import numpy as np
import pandas as pd
import torch

from .data.datasets import DATASETS
from .data.datasets import names as dataset_names
from .data.fingerprint import NO_BLOCK as NO_DATA_BLOCK
from .data.fingerprint import label as data_label
from .models.classifiers import classifier_type, tde_classifiers
from .runfolder import LOCK_FILE, is_locked
from .utils import atomic_write, write_json

RUN_JSON = "run.json"


def environment(device: torch.device) -> Dict[str, Any]:
    """Versions, device, machine and git commit of the code that produced a run
    (``ltkit.records``: the same facts the benchmark records carry)."""
    from ._version import __version__
    from .records import cpu, git_state

    c, git = cpu(), git_state()
    env: Dict[str, Any] = {
        "ltkit": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else c["model"],
        "cpu": c["model"],
        "cpu_cores": c["cores"],
        "cpu_flags": c["flags"],
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "num_threads": torch.get_num_threads(),
        "git_commit": git_commit(git),
        "git_dirty": git["dirty"],
    }
    return env


def git_commit(state: Union[Dict[str, Any], None] = None) -> Union[str, None]:
    """The commit of the ltkit checkout (with ``+dirty`` if it has uncommitted changes), or None."""
    from .records import git_state

    state = state or git_state()
    if state["commit"] is None:
        return None
    return state["commit"] + ("+dirty" if state["dirty"] else "")


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
    process holds the run folder's lock, ``ltkit.runfolder``), "stopped" (no process does: run it
    again to resume from its checkpoint), "interrupted" (stopped by Ctrl-C or an interrupted batch;
    resumes the same way), "running?" (a record from before the lock, written on another host) or
    "unreadable"."""
    rows = []
    for run_dir in find_runs(path):
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
        row.update(state=state, epoch=prog.get("epoch", 0), epochs=epochs, loss=prog.get("loss"),
                   images_per_s=prog.get("images_per_s"),
                   eta_s=prog.get("eta_s") if state in ("running", "running?") else (0.0 if state == "complete" else None),
                   precision=rec.get("precision"), updated=prog.get("updated"))
        rows.append(row)
    return pd.DataFrame(rows, columns=["run", "state", "epoch", "epochs", "loss", "images_per_s", "eta_s",
                                       "precision", "updated"])


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

    width = max(len("run"), *(len(r) for r in status.run))
    lines = [f"{'run':<{width}}  {'state':<10} {'epoch':>9} {'loss':>8} {'img/s':>7} {'left':>7}  precision"]
    for r in status.itertuples():
        epoch = f"{num(r.epoch, '.0f')}/{num(r.epochs, '.0f')}"
        lines.append(f"{r.run:<{width}}  {r.state:<10} {epoch:>9} {num(r.loss, '.4f'):>8} "
                     f"{num(r.images_per_s, '.0f'):>7} {left(r.eta_s):>7}  {r.precision or '-'}")
    return "\n".join(lines)


def trained_on_several(run_dir: Union[str, os.PathLike]) -> bool:
    """Whether a run's epochs ran on more than one device or precision (a run resumed elsewhere):
    from ``history.csv``'s per-epoch ``device_name`` and ``precision`` columns (runs recorded
    before ``device_name`` existed show only a change of precision)."""
    path = Path(run_dir) / "history.csv"
    if not path.is_file():
        return False
    hist = pd.read_csv(path)
    return any(c in hist and hist[c].dropna().nunique() > 1 for c in ("device_name", "precision"))


def load_runs(path: Union[str, os.PathLike, Iterable]) -> pd.DataFrame:
    """One row per (run, evaluation): run_dir, evaluation, overall/many/medium/few, alpha, every
    run parameter as a column, ``study`` (reproduction / analysis), ``data`` (the data's label,
    ``ltkit.data.fingerprint.label``: "data unknown" for a record without a data block),
    ``data_fingerprint`` and ``mixed_machines`` (:func:`trained_on_several`). Incomplete runs
    are left out."""
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
            row["git_commit"] = rec.get("environment", {}).get("git_commit")
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


# ----------------------------------------------------------------------------- paper tables
#: the LVIS metrics a detection run records (mask AP unless prefixed; APbbox = box AP), percent
DETECTION_COLUMNS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "APr", "APc", "APf", "APbbox")
#: the paper's detector for Tables 4 and 5 (HTC without semantic, R101-FPN; docs/method.md 2.5)
PAPER_DETECTOR = "htc_without_semantic_r101_fpn_20e"
#: the paper's numbers, package data (ltkit/paper/README.md says what each column means)
PAPER_NUMBERS = Path(__file__).resolve().parent / "paper" / "numbers.csv"

#: benchmark columns of each paper table, in the paper's order
TABLE_COLUMNS = {
    "table2": ["many", "medium", "few", "overall"],
    "table4": ["AP", "AP50", "AP75", "APr", "APc", "APf", "APbbox"],
    "table5": ["AP", "AP50", "AP75", "APr", "APc", "APf", "APbbox"],
    "table3": ["cifar100_lt-r100", "cifar100_lt-r50", "cifar100_lt-r10",
               "cifar10_lt-r100", "cifar10_lt-r50", "cifar10_lt-r10"],
}


def paper_numbers(path: Union[str, os.PathLike, None] = None) -> pd.DataFrame:
    """The paper's reported numbers (``ltkit/paper/numbers.csv``): table, benchmark, method,
    source (proposed / paper / reimplemented / quoted), metric, value."""
    p = Path(path) if path is not None else PAPER_NUMBERS
    if not p.is_file():
        raise FileNotFoundError(f"the paper's numbers are not at {p}; they ship inside the package as "
                                "ltkit/paper/numbers.csv (reinstall ltkit, or pass path= to read another copy)")
    return pd.read_csv(p)


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
        return {"ce": "Baseline", "focal": "Focal Loss", "class_balanced": "Class-balanced Loss",
                "balanced_softmax": "Balanced Softmax", "logit_adjusted": "Logit Adjustment"}.get(loss, f"linear + {loss}")
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


def _cell(values: pd.Series) -> Dict[str, Any]:
    v = values.dropna().astype(float)
    return {"mean": v.mean() if len(v) else None, "std": v.std(ddof=1) if len(v) > 1 else None, "n": int(len(v))}


def _named(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with the paper's ``method`` and ``benchmark`` names of each row added, and ``data``
    ("data unknown" where a frame has none, e.g. one built by hand)."""
    df = runs.copy()
    if len(df):
        records = df.to_dict("records")
        df["method"] = [method_name(r) for r in records]
        df["benchmark"] = [benchmark_name(r) for r in records]
        df["data"] = df["data"].fillna(NO_DATA_BLOCK) if "data" in df else NO_DATA_BLOCK
    return df


def _compare_row(method: str, column: str, ours: pd.DataFrame, paper: pd.DataFrame, value: str = "overall",
                 data: Union[str, None] = None) -> Dict[str, Any]:
    """One cell of a paper table: ltkit's runs ``ours`` (their ``value``: mean, std, n; all on the
    data labelled ``data``) beside the paper's row(s) ``paper``. ``mixed``: some run trained on more
    than one machine or precision (:func:`trained_on_several`)."""
    values = ours[value] if value in ours else pd.Series(dtype=float)
    mixed = bool(ours["mixed_machines"].fillna(False).astype(bool).any()) if "mixed_machines" in ours else False
    return {"method": method, "data": data, "column": column, **_cell(values), "mixed": mixed,
            "paper": paper.value.iloc[0] if len(paper) else None,
            "source": paper.source.iloc[0] if len(paper) else "ltkit"}


def _compare_frame(rows: List[Dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows).rename(columns={"mean": "ours_mean", "std": "ours_std"})
    df["diff"] = [None if (m is None or p is None or pd.isna(m) or pd.isna(p)) else m - p
                  for m, p in zip(df.ours_mean, df.paper)]
    return df


def _mean_std(df: pd.DataFrame, keys: List[str], columns) -> pd.DataFrame:
    """One row per group of ``keys``: n, and each of ``columns`` as mean and ``<column>_std`` over the group."""
    rows = []
    for values, g in df.groupby(keys, sort=True):
        row = {**dict(zip(keys, values)), "n": len(g)}
        for c in columns:
            cell = _cell(g[c]) if c in g else {"mean": None, "std": None}
            row[c], row[f"{c}_std"] = cell["mean"], cell["std"]
        rows.append(row)
    return pd.DataFrame(rows)


def compare_table(runs: pd.DataFrame, table: str) -> pd.DataFrame:
    """Our results next to the paper's for ``table`` ("table2", "table3", "table4", "table5").

    Tables 2 and 3 take only runs of the paper's length (:func:`full_length`); Tables 4 and 5
    (LVIS) take only runs of the paper's detector (``PAPER_DETECTOR`` configs,
    not shrunk with ``tiny``);
    Table 4's method names carry the LVIS version, e.g. "De-confound-TDE (v1.0)".

    Tables 2 and 3 take only ``study="reproduction"`` runs (a gap analysis never enters them)
    and never pool runs on different data: a method gets one row per ``data`` label of its runs
    (``ltkit.data.fingerprint.label``; records without a data block are "data unknown").

    One row per (method, data, column): ``ours_mean``, ``ours_std`` (over seeds; None for n < 2),
    ``n``, ``mixed`` (some pooled run trained on several machines or precisions), ``paper`` (None
    where the paper has no such row), ``diff`` = ours_mean - paper, and ``source`` of the paper's
    row (proposed / paper / reimplemented / quoted; "ltkit" for a method the paper does not
    report). Paper rows we have no runs for are kept with n = 0 and data None.
    """
    if table not in TABLE_COLUMNS:
        raise ValueError(f"table: unknown value {table!r}; choose one of: {', '.join(TABLE_COLUMNS)}")
    paper = paper_numbers()
    paper = paper[paper.table == table]
    ours = _named(runs)
    rows = []
    if table in ("table4", "table5"):
        return _compare_detection(ours, paper, table)
    if len(ours):  # the paper's schedule, and runs meant to reproduce it (not a gap analysis)
        ours = ours[full_length(ours) & ours.get("study", pd.Series("reproduction", index=ours.index))
                    .fillna("reproduction").eq("reproduction")]
    if table == "table2":  # columns: shot groups of the ImageNet-LT runs
        mine = ours[ours.get("dataset", pd.Series(dtype=str)).isin(dataset_names(paper_table=table))] if len(ours) else ours
        cells = [(col, col, None) for col in TABLE_COLUMNS[table]]  # (column, value shown, benchmark)
    else:  # columns: benchmarks, overall accuracy
        mine = ours[ours.benchmark.isin(TABLE_COLUMNS[table])] if len(ours) else ours
        cells = [(col, "overall", col) for col in TABLE_COLUMNS[table]]
    for method in dict.fromkeys(list(paper.method) + list(mine.get("method", []))):
        own = mine[mine.method == method] if len(mine) else mine
        # one row per data the method's runs trained on: runs on different data are never pooled
        for data in (list(dict.fromkeys(own.data)) if len(own) else [None]):
            on_data = own[own.data == data] if len(own) else own
            for col, value, bench in cells:
                sel = on_data[on_data.benchmark == bench] if bench and len(on_data) else on_data
                p = paper[(paper.method == method) & ((paper.benchmark == bench) if bench else (paper.metric == col))]
                rows.append(_compare_row(method, col, sel, p, value=value, data=data))
    return _compare_frame(rows)


_TABLE5_NAMES = {"De-confound": "De-confound (no TDE)", "De-confound-TDE": "De-confound-TDE, BG-exempted True",
                 "De-confound-TDE, BG-exempted False": "De-confound-TDE, BG-exempted False"}


def _compare_detection(ours: pd.DataFrame, paper: pd.DataFrame, table: str) -> pd.DataFrame:
    cols = TABLE_COLUMNS[table]
    if len(ours) and "task" in ours:
        ours = ours[(ours.task == "detection") & ours.get("framework", pd.Series(dtype=str)).eq(PAPER_DETECTOR)]
        if "tiny" in ours:  # shrunken smoke-test models are not the paper's detector
            ours = ours[ours.tiny.ne(True)]
    else:
        ours = ours.iloc[0:0]
    if table == "table5":
        ours = ours[ours.benchmark == "lvis_v0.5"] if len(ours) else ours
        ours = ours.assign(method=[_TABLE5_NAMES.get(m) for m in ours.method]) if len(ours) else ours
        ours = ours[ours.method.notna()] if len(ours) else ours

    def label(method, bench):
        return method if table == "table5" else f"{method} ({bench.replace('lvis_', '')})"

    keys = list(dict.fromkeys([(m, b) for m, b in zip(paper.method, paper.benchmark)]
                              + ([(m, b) for m, b in zip(ours.method, ours.benchmark)] if len(ours) else [])))
    rows = []
    for method, bench in keys:
        for col in cols:
            sel = ours[(ours.method == method) & (ours.benchmark == bench)] if len(ours) else ours
            p = paper[(paper.method == method) & (paper.benchmark == bench) & (paper.metric == col)]
            rows.append(_compare_row(label(method, bench), col, sel, p, value=col))
    return _compare_frame(rows)


def measured_rows(cmp: pd.DataFrame, columns=None) -> pd.DataFrame:
    """The methods of a ``compare_table`` that ltkit has runs for (n > 0 in some cell), in
    ``columns`` only (default all): the half of a paper table that holds ltkit numbers."""
    sel = cmp if columns is None else cmp[cmp.column.isin(list(columns))]
    measured = set(sel[sel.n > 0].method)
    return sel[sel.method.isin(measured)]


def _fmt_cell(r) -> str:
    if r.n == 0 or r.ours_mean is None or pd.isna(r.ours_mean):
        ours = "-"
    else:
        ours = f"{r.ours_mean:.1f}" + (f" ± {r.ours_std:.1f}" if r.ours_std is not None and not pd.isna(r.ours_std) else "") + f" (n={r.n})"
        if getattr(r, "mixed", False) is True:
            ours += "†"
    paper = "-" if r.paper is None or pd.isna(r.paper) else f"{r.paper:.1f}"
    mark = {"quoted": "^q", "reimplemented": "^r"}.get(r.source, "")
    diff = "" if r.diff is None or pd.isna(r.diff) else f" [{r.diff:+.1f}]"
    return f"{ours} / {paper}{mark}{diff}"


def table_data(cmp: pd.DataFrame) -> List[str]:
    """The data labels of the measured cells of a ``compare_table``, in order of appearance."""
    if "data" not in cmp:
        return []
    return [d for d in dict.fromkeys(cmp[cmp.n > 0].data) if d is not None and not pd.isna(d)]


def _table_rows(cmp: pd.DataFrame):
    """(row label, cells) per (method, data) of a ``compare_table``: the label names the data
    where the table holds runs on more than one."""
    several = len(table_data(cmp)) > 1
    keys = ["method", "data"] if "data" in cmp else ["method"]
    for key, g in cmp.groupby(keys, sort=False, dropna=False):
        method, data = (key[0], key[1]) if len(keys) == 2 else (key[0] if isinstance(key, tuple) else key, None)
        shown = data is not None and not pd.isna(data) and several
        yield (f"{method} ({data})" if shown else method), g


def _table_notes(cmp: pd.DataFrame) -> List[str]:
    datas = table_data(cmp)
    notes = []
    if len(datas) == 1:
        notes.append(f"Data: {datas[0]}.")
    if "mixed" in cmp and cmp.mixed.fillna(False).astype(bool).any():
        notes.append("†: some of the cell's runs trained on more than one machine or precision (history.csv).")
    return notes


def table_markdown(cmp: pd.DataFrame, title: str = "") -> str:
    """Render ``compare_table`` as markdown: each cell 'ours mean ± std (n) / paper [diff]'; rows
    name their data where the table holds more than one."""
    cols = list(dict.fromkeys(cmp.column))
    lines = [f"**{title}**", ""] if title else []
    lines += ["| method | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for label, g in _table_rows(cmp):
        cells = {r.column: _fmt_cell(r) for r in g.itertuples()}
        lines.append(f"| {label} | " + " | ".join(cells[c] for c in cols) + " |")
    lines += ["", " ".join(["Cell: ltkit mean ± std over seeds (n runs) / the paper's number [ltkit - paper]. "
                            "^q: quoted by the paper from other papers; ^r: re-implemented by the paper's authors."]
                           + _table_notes(cmp))]
    return "\n".join(lines)


def table_latex(cmp: pd.DataFrame, caption: str = "") -> str:
    """Render ``compare_table`` as a LaTeX tabular (booktabs)."""
    cols = list(dict.fromkeys(cmp.column))

    def esc(s: str) -> str:
        return s.replace("_", r"\_").replace("%", r"\%")

    lines = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{l" + "c" * len(cols) + "}", r"\toprule",
             "Method & " + " & ".join(esc(c) for c in cols) + r" \\", r"\midrule"]
    for label, g in _table_rows(cmp):
        cells = {r.column: esc(_fmt_cell(r)).replace("±", r"$\pm$").replace("^q", r"$^q$").replace("^r", r"$^r$")
                 .replace("†", r"$^\dagger$") for r in g.itertuples()}
        lines.append(esc(label) + " & " + " & ".join(cells[c] for c in cols) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    caption = " ".join([caption] + _table_notes(cmp)).strip()
    if caption:
        lines.append(r"\caption{" + esc(caption) + "}")
    lines.append(r"\end{table}")
    return "\n".join(lines)


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Every (benchmark, data, study, method) of ``load_runs`` output: many / medium / few /
    overall as mean, std over runs (seeds) and n. Runs on different data or for another study
    (reproduction / analysis) are never pooled."""
    if "task" in runs:
        runs = runs[runs.task != "detection"]
    if runs.empty:
        return pd.DataFrame(columns=["benchmark", "data", "study", "method", "n"])
    df = _named(runs)
    for key, default in (("data", NO_DATA_BLOCK), ("study", "reproduction")):
        df[key] = df[key].fillna(default) if key in df else default
    return _mean_std(df, ["benchmark", "data", "study", "method"], ("many", "medium", "few", "overall"))


def shown_method(df: pd.DataFrame) -> pd.Series:
    """A plot legend's name for each row of a ``summary_table`` or named ``load_runs`` frame: the
    method, with its data and ``analysis`` added where its benchmark holds runs of more than one
    data or study (so two data never share a bar or a curve)."""
    if df.empty:
        return pd.Series(dtype=str)
    data = df["data"].fillna(NO_DATA_BLOCK) if "data" in df else pd.Series(NO_DATA_BLOCK, index=df.index)
    study = df["study"].fillna("reproduction") if "study" in df else pd.Series("reproduction", index=df.index)
    kinds = (data + "|" + study).groupby(df["benchmark"]).transform("nunique")
    extra = [f" ({d}{', analysis' if s == 'analysis' else ''})" if k > 1 else ""
             for d, s, k in zip(data, study, kinds)]
    return df["method"].astype(str) + pd.Series(extra, index=df.index)


def detection_summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Every (LVIS version, detector config family, method) of the detection runs: the
    ``DETECTION_COLUMNS`` as mean, std over runs and n."""
    df = runs[runs.task == "detection"] if "task" in runs else runs.iloc[0:0]
    if df.empty:
        return pd.DataFrame(columns=["benchmark", "framework", "method", "n"])
    return _mean_std(_named(df), ["benchmark", "framework", "method"], DETECTION_COLUMNS)


def _mean_pm_std(m, s) -> str:
    if m is None or pd.isna(m):
        return "-"
    return f"{m:.1f}" + ("" if s is None or pd.isna(s) else f" ± {s:.1f}")


def detection_summary_markdown(summary: pd.DataFrame, columns=("AP", "AP50", "AP75", "APr", "APc", "APf", "APbbox")) -> str:
    """Render ``detection_summary_table`` as markdown (mask AP unless APbbox; percent)."""
    f = _mean_pm_std
    lines = ["| LVIS | detector | method | n | " + " | ".join(columns) + " |", "|---" * (4 + len(columns)) + "|"]
    for r in summary.to_dict("records"):
        cells = [f(r[c], r[f"{c}_std"]) for c in columns]
        lines.append(f"| {r['benchmark']} | {r['framework']} | {r['method']} | {r['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_table_markdown(summary: pd.DataFrame) -> str:
    """Render ``summary_table`` as markdown: each cell mean ± std over runs."""
    f = _mean_pm_std
    lines = ["| benchmark | data | study | method | n | many | medium | few | overall |", "|---" * 9 + "|"]
    for r in summary.to_dict("records"):
        cells = [f(r[c], r[f"{c}_std"]) for c in ("many", "medium", "few", "overall")]
        lines.append(f"| {r['benchmark']} | {r['data']} | {r['study']} | {r['method']} | {r['n']} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)
