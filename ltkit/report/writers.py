"""The report writers: tables, figures and post-hoc analyses written from run records.

These load runs (``ltkit.report``), aggregate and sweep (``ltkit.report.posthoc``), draw
(``ltkit.report.figures``, which only draws) and write files atomically; the notebooks ``tables.ipynb``,
``figures.ipynb`` and ``posthoc.ipynb`` call them. Figures are made on Figures that pyplot does
not manage (``figures.figure``), so writing a report opens no window and changes no global
matplotlib state.

* :func:`write_tables` -- ``results/tables``: the summary tables and the paper's Tables 2-5
  with ltkit's numbers beside the paper's.
* :func:`write_figures` -- ``results/figures``: per benchmark, accuracy by shot group, per-class
  accuracy, and for TDE runs the alpha sweep and the cosine distribution; LVIS AP by class
  frequency.
* :func:`write_posthoc` -- one run's sweeps (TDE alpha, tau-norm, logit adjustment) and NCM.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Union

import numpy as np
import pandas as pd
import torch

from ..runs.record import write_csv
from ..tde import head_cosines
from ..utils import write_text
from . import figures, posthoc
from .load import benchmark_name, load_runs, method_name
from .tables import (
    TABLE_COLUMNS,
    compare_table,
    detection_summary_markdown,
    detection_summary_table,
    far_cells_markdown,
    measured_rows,
    runs_markdown,
    runs_table,
    shown_method,
    summary_table,
    summary_table_markdown,
    table_latex,
    table_markdown,
)

__all__ = ["write_tables", "write_figures", "write_posthoc", "per_class_of_runs"]


def write_tables(
    results_dir: Union[str, os.PathLike] = "results/reproductions",
    output_dir: Union[str, os.PathLike] = "results/tables",
) -> Dict[str, Path]:
    """Regenerate the tables from every complete run under ``results_dir``.

    Writes ``summary.md`` / ``summary.csv`` (classification runs), ``lvis_summary.md`` /
    ``.csv`` (detection runs), and for the paper's Table 2 (ImageNet-LT), Table 3 (CIFAR-LT),
    Table 4 (LVIS) and Table 5 (background exemption) ``tableN.md`` / ``.tex`` / ``.csv`` with
    ours beside the paper's numbers, plus ``table3_cifar10.md`` (the CIFAR-10-LT columns of Table 3
    for the methods ltkit has runs for, and the cells more than a point from the paper: the
    README's block) with ``table3_cifar10_runs.md`` (the runs behind it: seeds, commits,
    machines, time per run). Returns the written paths by name.
    """
    out = Path(output_dir)
    runs = load_runs(results_dir)
    written: Dict[str, Path] = {}
    summary = summary_table(runs)
    written["summary.md"] = write_text(out / "summary.md", summary_table_markdown(summary) + "\n")
    written["summary.csv"] = write_csv(out / "summary.csv", summary)
    lvis = detection_summary_table(runs)
    written["lvis_summary.md"] = write_text(out / "lvis_summary.md", detection_summary_markdown(lvis) + "\n")
    written["lvis_summary.csv"] = write_csv(out / "lvis_summary.csv", lvis)
    titles = {
        "table2": "Table 2: ImageNet-LT, ResNeXt-50, top-1 by shot group",
        "table3": "Table 3: CIFAR-LT, ResNet-32, top-1",
        "table4": "Table 4: LVIS val, HTC without semantic (the paper's Cascade Mask R-CNN) R101-FPN; "
        "mask AP, APbbox = box AP",
        "table5": "Table 5: background-exempted inference, LVIS v0.5, same detector",
    }
    for table, title in titles.items():
        cmp = compare_table(runs, table)
        written[f"{table}.md"] = write_text(out / f"{table}.md", table_markdown(cmp, title) + "\n")
        written[f"{table}.tex"] = write_text(out / f"{table}.tex", table_latex(cmp, title) + "\n")
        written[f"{table}.csv"] = write_csv(out / f"{table}.csv", cmp)
        if table == "table3":  # the README's block: the CIFAR-10-LT columns, the methods ltkit ran
            half = measured_rows(cmp, [c for c in TABLE_COLUMNS[table] if c.startswith("cifar10_lt")])
            title = "Table 3, CIFAR-10-LT: the methods ltkit has runs for"
            written["table3_cifar10.md"] = write_text(
                out / "table3_cifar10.md", table_markdown(half, title) + "\n\n" + far_cells_markdown(half) + "\n"
            )
            behind = runs_table(runs, columns=[c for c in TABLE_COLUMNS[table] if c.startswith("cifar10_lt")])
            written["table3_cifar10_runs.md"] = write_text(
                out / "table3_cifar10_runs.md", runs_markdown(behind, "The runs behind it") + "\n"
            )
    return written


def write_figures(results_dir="results/reproductions", output_dir="results/figures", *, pdf: bool = True) -> dict:
    """Regenerate the figures from every complete run under ``results_dir``.

    Per benchmark (dataset and ratio): ``<benchmark>_shot_groups.png`` (grouped bars, mean over
    seeds, one hue per method), ``<benchmark>_per_class.png`` (per-class accuracy against the
    class's training count, log scale), and for runs with TDE ``<benchmark>_alpha_sweep.png`` and
    ``<benchmark>_cosine.png`` (the distribution of each test sample's cosine to the
    moving-average feature, the quantity the alpha heuristic inverts). For LVIS runs, per
    version and detector: ``<benchmark>_<detector>_ap.png`` (AP on rare / common / frequent
    classes, overall, and box AP, one hue per method). Returns {name: path}.
    """
    out = Path(output_dir)
    runs = load_runs(results_dir)
    written = {}
    if runs.empty:
        return written
    runs["method"] = [method_name(r) for r in runs.to_dict("records")]
    runs["benchmark"] = [benchmark_name(r) for r in runs.to_dict("records")]
    summary = summary_table(runs.drop(columns=["method", "benchmark"]))
    lvis = detection_summary_table(runs.drop(columns=["method", "benchmark"]))
    # runs on different data, or analysis runs beside reproductions, get bars and curves of their own
    summary["method"] = shown_method(summary)
    runs["method"] = shown_method(runs)
    for (bench, fw), g in lvis.groupby(["benchmark", "framework"]):
        fig, ax = figures.figure(figsize=(8, 4))
        figures.shot_bars(
            g,
            ax=ax,
            groups=figures.LVIS_GROUPS,
            ylabel="AP (%)",
            title=f"{bench}, {fw}: AP by class frequency (mean over runs)",
        )
        written[f"{bench}_{fw}_ap.png"] = figures.save(fig, out / f"{bench}_{fw}_ap.png", pdf=pdf)
    for bench, g in summary.groupby("benchmark"):
        fig, ax = figures.figure(figsize=(8, 4))
        figures.shot_bars(g, ax=ax, title=f"{bench}: accuracy by shot group (mean over runs)")
        written[f"{bench}_shot_groups.png"] = figures.save(fig, out / f"{bench}_shot_groups.png", pdf=pdf)

        rows = []
        for r in runs[runs.benchmark == bench].itertuples():
            pc = pd.read_csv(Path(r.run_dir) / "per_class.csv")
            col = f"acc_{r.evaluation}"
            if col in pc:
                rows.append(pc[["class", "train_count"]].assign(acc=pc[col], method=r.method))
        if rows:
            pcs = pd.concat(rows).groupby(["method", "class", "train_count"], as_index=False).acc.mean()
            wide = pcs.pivot(index=["class", "train_count"], columns="method", values="acc").reset_index()
            methods = [m for m in g.method if m in wide]
            fig, ax = figures.figure(figsize=(8, 4))
            figures.per_class_curve(wide, columns=methods, ax=ax, title=f"{bench}: per-class accuracy")
            written[f"{bench}_per_class.png"] = figures.save(fig, out / f"{bench}_per_class.png", pdf=pdf)

        tde_runs = runs[(runs.benchmark == bench) & (runs.evaluation == "tde")]
        # outputs.npz is git-ignored: only runs made on this machine have it; at most 3 per plot
        outputs = [Path(d) for d in tde_runs.run_dir if (Path(d) / "outputs.npz").is_file()][:3]
        if outputs:
            fig, axes = figures.figure(1, len(outputs), figsize=(6 * len(outputs), 4), squeeze=False, sharey=True)
            cos_rows = []
            for d, ax in zip(outputs, axes[0]):
                cached = posthoc.load_outputs(d)
                sweep = posthoc.tde_alpha_sweep(cached)
                figures.alpha_sweep(
                    sweep,
                    ax=ax,
                    suggested=sweep.attrs.get("suggested_alpha"),
                    used=tde_runs[tde_runs.run_dir == str(d)].alpha.iloc[0],
                )
                with figures.style():
                    ax.set_title(d.name, fontsize=10)
                cos = head_cosines(
                    torch.as_tensor(np.asarray(cached.features)),
                    torch.as_tensor(np.asarray(cached.mean_feature)),
                    num_head=int(cached.params.get("num_head", 2)),
                )
                cos_rows.append(pd.DataFrame({"cosine": cos.flatten().numpy(), "run": d.name}))
            with figures.style():
                fig.suptitle(f"{bench}: TDE alpha sweep (test set; for analysis, not selection)")
                fig.tight_layout()
            written[f"{bench}_alpha_sweep.png"] = figures.save(fig, out / f"{bench}_alpha_sweep.png", pdf=pdf)
            fig, ax = figures.figure(figsize=(8, 4))
            figures.cosine_histogram(
                pd.concat(cos_rows),
                ax=ax,
                title=f"{bench}: cosine of test features to the moving-average feature (per head)",
            )
            written[f"{bench}_cosine.png"] = figures.save(fig, out / f"{bench}_cosine.png", pdf=pdf)
    return written


def per_class_of_runs(runs: Dict[str, Union[str, os.PathLike]]) -> Dict[str, pd.DataFrame]:
    """{label: run folder} -> {label: its per_class.csv}, for :func:`ltkit.figures.per_class_comparison`.

    The runs must share their classes and training counts (the same imbalance), else a
    class-by-class comparison would set classes of different sizes side by side. Counts cannot
    tell two subsets of one imbalance apart (another seed draws other images with the same
    counts): that the runs trained on the same images is for the caller to know, e.g. one recipe
    on differently stored copies of the same images in the same order."""
    out: Dict[str, pd.DataFrame] = {}
    for label, folder in runs.items():
        path = Path(folder) / "per_class.csv"
        if not path.is_file():
            raise FileNotFoundError(f"{label}: {path} not found (a finished run folder holds per_class.csv)")
        out[label] = pd.read_csv(path)
    labels = list(out)
    for label in labels[1:]:
        a, b = out[labels[0]], out[label]
        if a[["class", "train_count"]].values.tolist() != b[["class", "train_count"]].values.tolist():
            raise ValueError(
                f"{label!r} and {labels[0]!r} trained on different class counts: "
                f"{b.train_count.tolist()} vs {a.train_count.tolist()}"
            )
    return out


def write_posthoc(out: posthoc.CachedOutputs, folder: Union[str, Path]) -> Dict[str, Path]:
    """Every analysis that applies to this run, written to ``folder``; returns {name: path}.

    ``tde_alpha_sweep.csv/.png`` (TDE-capable classifiers; the ``suggest_alpha`` choice and
    the run's alpha marked), ``tau_norm_sweep.csv/.png`` (linear classifiers),
    ``logit_adjustment_sweep.csv/.png`` (any), ``ncm.csv`` (when class means are cached).
    """
    folder = Path(folder)
    written: Dict[str, Path] = {}
    sweeps = []
    if out.classifier in posthoc.TDE_CLASSIFIERS:
        df = posthoc.tde_alpha_sweep(out)
        sweeps.append(("tde_alpha_sweep", df, "alpha", df.attrs.get("suggested_alpha"), df.attrs.get("run_alpha")))
    if out.classifier in posthoc.LINEAR_CLASSIFIERS:
        sweeps.append(("tau_norm_sweep", posthoc.tau_norm_sweep(out), "tau", None, None))
    sweeps.append(("logit_adjustment_sweep", posthoc.logit_adjustment_sweep(out), "tau", None, None))
    for name, df, x, suggested, used in sweeps:
        written[f"{name}.csv"] = write_csv(folder / f"{name}.csv", df)
        fig, ax = figures.figure(figsize=(8, 4))
        figures.alpha_sweep(df.rename(columns={x: "alpha"}), ax=ax, suggested=suggested, used=used)
        with figures.style():
            ax.set_xlabel(x)
            ax.set_title(f"{name.replace('_', ' ')} (test set: for analysis, not selection)")
        written[f"{name}.png"] = figures.save(fig, folder / f"{name}.png")
    if out.class_means is not None:
        written["ncm.csv"] = write_csv(folder / "ncm.csv", pd.DataFrame([posthoc.ncm(out)]))
    return written
