"""The paper's tables with ltkit's numbers beside them, and the summary tables, as frames,
markdown and LaTeX.

Only runs whose record says ``study: reproduction`` fill a paper table; a method gets one row
per data its runs trained on, so runs on different data are never pooled into one cell.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Union

import pandas as pd

from ..data.datasets import names as dataset_names
from ..data.fingerprint import NO_BLOCK as NO_DATA_BLOCK
from ..runs.record import epoch_times
from .load import DETECTION_COLUMNS, benchmark_name, full_length, method_name

#: the LVIS metrics a detection run records (mask AP unless prefixed; APbbox = box AP), percent


#: the paper's detector for Tables 4 and 5 (HTC without semantic, R101-FPN; docs/method.md 2.5)
PAPER_DETECTOR = "htc_without_semantic_r101_fpn_20e"


#: the paper's numbers, package data (ltkit/paper/README.md says what each column means)
PAPER_NUMBERS = Path(__file__).resolve().parents[1] / "paper" / "numbers.csv"


def paper_numbers(path: Union[str, os.PathLike, None] = None) -> pd.DataFrame:
    """The paper's reported numbers (``ltkit/paper/numbers.csv``): table, benchmark, method,
    source (proposed / paper / reimplemented / quoted), metric, value."""
    p = Path(path) if path is not None else PAPER_NUMBERS
    if not p.is_file():
        raise FileNotFoundError(
            f"the paper's numbers are not at {p}; they ship inside the package as "
            "ltkit/paper/numbers.csv (reinstall ltkit, or pass path= to read another copy)"
        )
    return pd.read_csv(p)


def _paper_columns() -> Dict[str, List[str]]:
    """The columns of each paper table, in the paper's order, read from its numbers: the
    benchmarks where the table prints one metric (Table 3: overall accuracy per dataset and
    ratio), else the metrics (Table 2: shot groups; Tables 4 and 5: AP kinds)."""
    columns = {}
    for table, rows in paper_numbers().groupby("table", sort=False):
        metrics = list(dict.fromkeys(rows.metric))
        columns[table] = list(dict.fromkeys(rows.benchmark)) if len(metrics) == 1 else metrics
    return columns


#: the columns of each paper table, in the paper's order (from ``ltkit/paper/numbers.csv``)
TABLE_COLUMNS = _paper_columns()


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


def _compare_row(
    method: str,
    column: str,
    ours: pd.DataFrame,
    paper: pd.DataFrame,
    value: str = "overall",
    data: Union[str, None] = None,
) -> Dict[str, Any]:
    """One cell of a paper table: ltkit's runs ``ours`` (their ``value``: mean, std, n; all on the
    data labelled ``data``) beside the paper's row(s) ``paper``. ``mixed``: some run trained on more
    than one machine or precision (:func:`trained_on_several`)."""
    values = ours[value] if value in ours else pd.Series(dtype=float)
    mixed = bool(ours["mixed_machines"].fillna(False).astype(bool).any()) if "mixed_machines" in ours else False
    return {
        "method": method,
        "data": data,
        "column": column,
        **_cell(values),
        "mixed": mixed,
        "paper": paper.value.iloc[0] if len(paper) else None,
        "source": paper.source.iloc[0] if len(paper) else "ltkit",
    }


def _compare_frame(rows: List[Dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows).rename(columns={"mean": "ours_mean", "std": "ours_std"})
    df["diff"] = [
        None if (m is None or p is None or pd.isna(m) or pd.isna(p)) else m - p for m, p in zip(df.ours_mean, df.paper)
    ]
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


def _reproductions(named: pd.DataFrame) -> pd.DataFrame:
    """The rows of a named ``load_runs`` frame that may fill Tables 2 and 3: the paper's schedule,
    and runs meant to reproduce it (not a gap analysis)."""
    if not len(named):
        return named
    study = named.get("study", pd.Series("reproduction", index=named.index)).fillna("reproduction")
    return named[full_length(named) & study.eq("reproduction")]


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
    ours = _reproductions(ours)
    if table == "table2":  # columns: shot groups of the ImageNet-LT runs
        mine = (
            ours[ours.get("dataset", pd.Series(dtype=str)).isin(dataset_names(paper_table=table))]
            if len(ours)
            else ours
        )
        cells = [(col, col, None) for col in TABLE_COLUMNS[table]]  # (column, value shown, benchmark)
    else:  # columns: benchmarks, overall accuracy
        mine = ours[ours.benchmark.isin(TABLE_COLUMNS[table])] if len(ours) else ours
        cells = [(col, "overall", col) for col in TABLE_COLUMNS[table]]
    for method in dict.fromkeys(list(paper.method) + list(mine.get("method", []))):
        own = mine[mine.method == method] if len(mine) else mine
        # one row per data the method's runs trained on: runs on different data are never pooled
        for data in list(dict.fromkeys(own.data)) if len(own) else [None]:
            on_data = own[own.data == data] if len(own) else own
            for col, value, bench in cells:
                sel = on_data[on_data.benchmark == bench] if bench and len(on_data) else on_data
                p = paper[(paper.method == method) & ((paper.benchmark == bench) if bench else (paper.metric == col))]
                rows.append(_compare_row(method, col, sel, p, value=value, data=data))
    return _compare_frame(rows)


_TABLE5_NAMES = {
    "De-confound": "De-confound (no TDE)",
    "De-confound-TDE": "De-confound-TDE, BG-exempted True",
    "De-confound-TDE, BG-exempted False": "De-confound-TDE, BG-exempted False",
}


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

    keys = list(
        dict.fromkeys(
            [(m, b) for m, b in zip(paper.method, paper.benchmark)]
            + ([(m, b) for m, b in zip(ours.method, ours.benchmark)] if len(ours) else [])
        )
    )
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
        ours = (
            f"{r.ours_mean:.1f}"
            + (f" ± {r.ours_std:.1f}" if r.ours_std is not None and not pd.isna(r.ours_std) else "")
            + f" (n={r.n})"
        )
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
    legend = ["Cell: ltkit mean ± std over seeds (n runs) / the paper's number [ltkit - paper]."]
    sources = set(cmp.source) if "source" in cmp else set()
    if "quoted" in sources:
        legend.append("^q: quoted by the paper from other papers.")
    if "reimplemented" in sources:
        legend.append("^r: re-implemented by the paper's authors.")
    lines += ["", " ".join(legend + _table_notes(cmp))]
    return "\n".join(lines)


def far_cells(cmp: pd.DataFrame, points: float = 1.0) -> pd.DataFrame:
    """The measured cells of a ``compare_table`` more than ``points`` from the paper."""
    diff = pd.to_numeric(cmp["diff"], errors="coerce")
    return cmp[(cmp.n > 0) & (diff.abs() > points)]


def far_cells_markdown(cmp: pd.DataFrame, points: float = 1.0) -> str:
    """One sentence naming the cells more than ``points`` from the paper, e.g. "De-confound at
    cifar10_lt-r50 (-1.3)"; a page that shows the table explains each of them beside it."""
    far = far_cells(cmp, points)
    unit = f"{points:.1f} point" + ("" if points == 1 else "s")
    if far.empty:
        return f"No cell is more than {unit} from the paper."
    named = "; ".join(f"{r.method} at {r.column} ({r.diff:+.1f})" for r in far.itertuples())
    return f"More than {unit} from the paper: {named}."


def runs_table(runs: pd.DataFrame, columns=None) -> pd.DataFrame:
    """The runs behind the cells of Tables 2 and 3 (``columns``: the benchmarks to take, default
    all), one row per benchmark, data and run kind (the methods one run gives, e.g. De-confound
    and De-confound-TDE): ``seeds``, ``commits`` (short), ``machines``, ``precisions``,
    ``compiled``, ``mixed`` (some run trained on several machines or precisions), ``epochs``,
    ``median_epoch_s`` (over every epoch of the group's runs, ``history.csv``),
    ``run_medians_s`` (each run's own median) and ``minutes_per_run`` (the pooled median times
    the epochs)."""
    named = _reproductions(_named(runs[runs.task != "detection"] if "task" in runs else runs))
    if columns is not None and len(named):
        named = named[named.benchmark.isin(list(columns))]
    out = []
    if not len(named):
        return pd.DataFrame(out)
    kinds = named.groupby("run_dir").method.agg(lambda m: ", ".join(dict.fromkeys(m)))
    first = named.drop_duplicates("run_dir").set_index("run_dir").assign(kind=kinds)
    for (bench, data, kind), g in first.groupby(["benchmark", "data", "kind"], sort=False):
        times = epoch_times(g.index)
        epochs = sorted(set(int(e) for e in g.epochs))
        out.append(
            {
                "benchmark": bench,
                "data": data,
                "methods": kind,
                "n": len(g),
                "seeds": ", ".join(str(s) for s in sorted(g.seed)),
                "commits": ", ".join(
                    dict.fromkeys(
                        str(c)[:7] + ("" if d is False else " (dirty)" if d else " (unknown state)")
                        for c, d in zip(g.git_commit, g.get("git_dirty", pd.Series(None, index=g.index)))
                    )
                ),
                "machines": ", ".join(dict.fromkeys(g.machine)),
                "precisions": ", ".join(dict.fromkeys(str(p) for p in g.precision)),
                "compiled": bool(g.get("compile", pd.Series(False, index=g.index)).fillna(False).astype(bool).all()),
                "mixed": bool(g.mixed_machines.fillna(False).astype(bool).any()),
                "epochs": epochs[0] if len(epochs) == 1 else None,
                "median_epoch_s": float(times.median()) if len(times) else None,
                "run_medians_s": [float(epoch_times([d]).median()) for d in g.index if len(epoch_times([d]))],
            }
        )
    df = pd.DataFrame(out)
    df["minutes_per_run"] = [
        None if (t is None or pd.isna(t) or e is None or pd.isna(e)) else t * e / 60
        for t, e in zip(df.median_epoch_s, df.epochs)
    ]
    order = {c: i for i, c in enumerate(columns or dict.fromkeys(df.benchmark))}
    return df.sort_values("benchmark", key=lambda b: b.map(order), kind="stable").reset_index(drop=True)


def runs_markdown(table: pd.DataFrame, title: str = "") -> str:
    """Render ``runs_table`` as markdown: which runs fill each column, from which commits, on which
    machines, and how long a run took."""
    if table.empty:
        return "\n".join(([f"**{title}**", ""] if title else []) + ["No runs yet."])
    several = table.data.nunique() > 1
    head = ["column"] + (["data"] if several else []) + ["methods", "seeds", "commits", "machine", "training"]
    head += ["median epoch", "per run"]
    lines = ([f"**{title}**", ""] if title else []) + ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for r in table.itertuples():
        training = r.precisions + (", compiled" if r.compiled else "") + ("†" if r.mixed else "")
        epoch = "-" if r.median_epoch_s is None or pd.isna(r.median_epoch_s) else f"{r.median_epoch_s:.1f} s"
        if len(r.run_medians_s) > 1:
            epoch += f" ({min(r.run_medians_s):.1f}-{max(r.run_medians_s):.1f})"
        per_run = "-" if r.minutes_per_run is None or pd.isna(r.minutes_per_run) else f"{r.minutes_per_run:.0f} min"
        cells = [r.benchmark] + ([r.data] if several else []) + [r.methods, r.seeds, r.commits, r.machines]
        lines.append("| " + " | ".join(cells + [training, epoch, per_run]) + " |")
    notes = [
        "Median epoch: over every epoch of the row's runs (`history.csv`, checkpoints and records included;"
        " in brackets the lowest and highest run's own median); per run: that median times the epochs."
    ]
    if not several:
        notes.append(f"Data: {table.data.iloc[0]}.")
    if table.mixed.any():
        notes.append("†: some run trained on more than one machine or precision.")
    return "\n".join(lines + ["", " ".join(notes)])


def table_latex(cmp: pd.DataFrame, caption: str = "") -> str:
    """Render ``compare_table`` as a LaTeX tabular (booktabs)."""
    cols = list(dict.fromkeys(cmp.column))

    def esc(s: str) -> str:
        return s.replace("_", r"\_").replace("%", r"\%")

    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\begin{tabular}{l" + "c" * len(cols) + "}",
        r"\toprule",
        "Method & " + " & ".join(esc(c) for c in cols) + r" \\",
        r"\midrule",
    ]
    for label, g in _table_rows(cmp):
        cells = {
            r.column: esc(_fmt_cell(r))
            .replace("±", r"$\pm$")
            .replace("^q", r"$^q$")
            .replace("^r", r"$^r$")
            .replace("†", r"$^\dagger$")
            for r in g.itertuples()
        }
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
    (reproduction / analysis) are never pooled. Benchmarks come in the paper's order (r100, r50,
    r10), others after them."""
    if "task" in runs:
        runs = runs[runs.task != "detection"]
    if runs.empty:
        return pd.DataFrame(columns=["benchmark", "data", "study", "method", "n"])
    df = _named(runs)
    for key, default in (("data", NO_DATA_BLOCK), ("study", "reproduction")):
        df[key] = df[key].fillna(default) if key in df else default
    out = _mean_std(df, ["benchmark", "data", "study", "method"], ("many", "medium", "few", "overall"))
    order = {b: i for i, b in enumerate(dict.fromkeys(paper_numbers().benchmark))}
    return out.sort_values("benchmark", key=lambda b: b.map(lambda x: order.get(x, len(order))), kind="stable")


def shown_method(df: pd.DataFrame) -> pd.Series:
    """A plot legend's name for each row of a ``summary_table`` or named ``load_runs`` frame: the
    method, with its data and ``analysis`` added where its benchmark holds runs of more than one
    data or study (so two data never share a bar or a curve)."""
    if df.empty:
        return pd.Series(dtype=str)
    data = df["data"].fillna(NO_DATA_BLOCK) if "data" in df else pd.Series(NO_DATA_BLOCK, index=df.index)
    study = df["study"].fillna("reproduction") if "study" in df else pd.Series("reproduction", index=df.index)
    kinds = (data + "|" + study).groupby(df["benchmark"]).transform("nunique")
    extra = [f" ({d}{', analysis' if s == 'analysis' else ''})" if k > 1 else "" for d, s, k in zip(data, study, kinds)]
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


def detection_summary_markdown(
    summary: pd.DataFrame, columns=("AP", "AP50", "AP75", "APr", "APc", "APf", "APbbox")
) -> str:
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
        lines.append(
            f"| {r['benchmark']} | {r['data']} | {r['study']} | {r['method']} | {r['n']} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)
