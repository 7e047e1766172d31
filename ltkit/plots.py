"""Figures in one consistent style (seaborn on matplotlib, headless-safe)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import pandas as pd

GROUP_ORDER = ("many", "medium", "few", "overall")


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("module://matplotlib_inline.backend_inline", "nbagg", "widget"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    return plt, sns


def shot_bars(df: pd.DataFrame, *, method: str = "method", ax=None, title: Optional[str] = None,
              groups: Sequence[str] = GROUP_ORDER, ylabel: str = "top-1 accuracy (%)"):
    """Grouped bars: accuracy per shot group (x) for each method (hue).

    ``df`` has one row per method with columns ``method`` and the groups (percent; NaN/None
    for an empty group, which is left out).
    """
    plt, sns = _plt()
    long = df.melt(id_vars=[method], value_vars=[g for g in groups if g in df], var_name="group",
                   value_name="accuracy").dropna(subset=["accuracy"])
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    sns.barplot(data=long, x="group", y="accuracy", hue=method, ax=ax)
    for container in ax.containers:
        ax.bar_label(container, fmt="%.1f", fontsize=8, padding=2)
    ax.set_xlabel("")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 100)
    ax.legend(title="", loc="upper right", fontsize=9)
    if title:
        ax.set_title(title)
    return ax


def per_class_curve(per_class: pd.DataFrame, *, columns: Sequence[str], labels: Optional[Sequence[str]] = None,
                    ax=None, title: Optional[str] = None):
    """Per-class accuracy (y) against training count (x, log scale), one line per column."""
    plt, sns = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    pc = per_class.sort_values("train_count", ascending=False)
    for col, lab in zip(columns, labels or columns):
        ax.plot(pc["train_count"], pc[col], marker="o", ms=4, label=lab)
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("training images of the class (log scale, head on the left)")
    ax.set_ylabel("class accuracy (%)")
    ax.set_ylim(-2, 102)
    ax.legend(fontsize=9)
    if title:
        ax.set_title(title)
    return ax


LVIS_GROUPS = ("APr", "APc", "APf", "AP", "APbbox")


def lvis_bars(record: dict, *, ax=None, title: Optional[str] = None):
    """An LVIS run's mask AP on rare / common / frequent classes, overall, and box AP, one bar
    colour per evaluation (plain, TDE, TDE without background exemption)."""
    from .results import method_name

    params = record.get("params", {})
    rows = []
    for ev, m in record["metrics"].items():
        name = method_name({"task": "detection", "classifier": params.get("classifier"), "evaluation": ev})
        rows.append({"method": name, **{g: m.get(g) for g in LVIS_GROUPS}})
    df = pd.DataFrame(rows)
    for g in LVIS_GROUPS:
        df[g] = pd.to_numeric(df[g], errors="coerce")
    title = title or f"{params.get('config', '')} ({params.get('dataset', '')})"
    return shot_bars(df, ax=ax, title=title, groups=LVIS_GROUPS, ylabel="AP (%)")


def save(fig, path, *, pdf: bool = False) -> Path:
    """Save a figure as PNG (and PDF) atomically; closes it."""
    from .utils import atomic_write

    plt, _ = _plt()
    path = Path(path)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120, bbox_inches="tight"), mode="wb")
    if pdf:
        atomic_write(path.with_suffix(".pdf"), lambda f: fig.savefig(f, format="pdf", bbox_inches="tight"), mode="wb")
    plt.close(fig)
    return path


def run_overview(run_dir):
    """Two panels for one run: training loss / accuracy per epoch, and accuracy by shot group
    for each evaluation. Returns the figure."""
    from .results import read_run

    plt, sns = _plt()
    run_dir = Path(run_dir)
    rec = read_run(run_dir)
    hist = pd.read_csv(run_dir / "history.csv")
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4))
    a1.plot(hist.epoch, hist.loss, label="train loss")
    a1.set_xlabel("epoch")
    a1.set_ylabel("loss")
    ax_acc = a1.twinx()
    ax_acc.plot(hist.epoch, hist.train_acc, color="C1", label="train accuracy (%)")
    ax_acc.set_ylabel("train accuracy (%)")
    ax_acc.grid(False)
    a1.set_title("training")
    metrics = pd.DataFrame([{"method": name, **{g: m.get(g) for g in GROUP_ORDER}}
                            for name, m in rec["metrics"].items()])
    shot_bars(metrics, ax=a2, title=f"{rec['run_name']}: test accuracy")
    fig.tight_layout()
    return fig


def write_figures(results_dir="results", output_dir="results/figures", *, pdf: bool = True) -> dict:
    """Regenerate the figures from every complete run under ``results_dir``.

    Per benchmark (dataset and ratio): ``<benchmark>_shot_groups.png`` (grouped bars, mean over
    seeds, one hue per method), ``<benchmark>_per_class.png`` (per-class accuracy against the
    class's training count, log scale), and for runs with TDE ``<benchmark>_alpha_sweep.png`` and
    ``<benchmark>_cosine.png`` (the distribution of each test sample's cosine to the
    moving-average feature, the quantity the alpha heuristic inverts). For LVIS runs, per
    version and detector: ``<benchmark>_<detector>_ap.png`` (AP on rare / common / frequent
    classes, overall, and box AP, one hue per method). Returns {name: path}.
    """
    import numpy as np

    from .results import benchmark_name, detection_summary_table, load_runs, method_name, summary_table

    plt, sns = _plt()
    out = Path(output_dir)
    runs = load_runs(results_dir)
    written = {}
    if runs.empty:
        return written
    runs["method"] = [method_name(r) for r in runs.to_dict("records")]
    runs["benchmark"] = [benchmark_name(r) for r in runs.to_dict("records")]
    summary = summary_table(runs.drop(columns=["method", "benchmark"]))
    lvis = detection_summary_table(runs.drop(columns=["method", "benchmark"]))
    for (bench, fw), g in lvis.groupby(["benchmark", "framework"]):
        fig, ax = plt.subplots(figsize=(8, 4))
        shot_bars(g, ax=ax, groups=LVIS_GROUPS, ylabel="AP (%)",
                  title=f"{bench}, {fw}: AP by class frequency (mean over runs)")
        written[f"{bench}_{fw}_ap.png"] = save(fig, out / f"{bench}_{fw}_ap.png", pdf=pdf)
    for bench, g in summary.groupby("benchmark"):
        fig, ax = plt.subplots(figsize=(8, 4))
        shot_bars(g, ax=ax, title=f"{bench}: accuracy by shot group (mean over runs)")
        written[f"{bench}_shot_groups.png"] = save(fig, out / f"{bench}_shot_groups.png", pdf=pdf)

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
            fig, ax = plt.subplots(figsize=(8, 4))
            per_class_curve(wide, columns=methods, ax=ax, title=f"{bench}: per-class accuracy")
            written[f"{bench}_per_class.png"] = save(fig, out / f"{bench}_per_class.png", pdf=pdf)

        tde_runs = runs[(runs.benchmark == bench) & (runs.evaluation == "tde")]
        # outputs.npz is git-ignored: only runs made on this machine have it; at most 3 per plot
        outputs = [Path(d) for d in tde_runs.run_dir if (Path(d) / "outputs.npz").is_file()][:3]
        if outputs:
            import torch

            from . import posthoc
            from .tde import head_cosines

            fig, axes = plt.subplots(1, len(outputs), figsize=(6 * len(outputs), 4), squeeze=False, sharey=True)
            cos_rows = []
            for d, ax in zip(outputs, axes[0]):
                cached = posthoc.load_outputs(d)
                sweep = posthoc.tde_alpha_sweep(cached)
                alpha_sweep(sweep, ax=ax, suggested=sweep.attrs.get("suggested_alpha"),
                            used=tde_runs[tde_runs.run_dir == str(d)].alpha.iloc[0])
                ax.set_title(d.name, fontsize=10)
                cos = head_cosines(torch.as_tensor(np.asarray(cached.features)),
                                   torch.as_tensor(np.asarray(cached.mean_feature)),
                                   num_head=int(cached.params.get("num_head", 2)))
                cos_rows.append(pd.DataFrame({"cosine": cos.flatten().numpy(), "run": d.name}))
            fig.suptitle(f"{bench}: TDE alpha sweep (test set; for analysis, not selection)")
            fig.tight_layout()
            written[f"{bench}_alpha_sweep.png"] = save(fig, out / f"{bench}_alpha_sweep.png", pdf=pdf)
            fig, ax = plt.subplots(figsize=(8, 4))
            sns.histplot(pd.concat(cos_rows), x="cosine", hue="run" if len(cos_rows) > 1 else None, bins=40,
                         element="step", stat="density", common_norm=False, ax=ax)
            ax.set_title(f"{bench}: cosine of test features to the moving-average feature (per head)")
            written[f"{bench}_cosine.png"] = save(fig, out / f"{bench}_cosine.png", pdf=pdf)
    return written


def alpha_sweep(sweep: pd.DataFrame, *, ax=None, suggested=None, used=None, validation: Optional[pd.DataFrame] = None):
    """Accuracy (overall / many / medium / few) against alpha, with the heuristic's suggestion
    and the alpha the run used marked; ``validation`` (columns alpha, overall) adds the overall
    accuracy on the validation split, the curve ``alpha="val"`` maximises."""
    plt, sns = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    for i, g in enumerate(("overall", "many", "medium", "few")):
        if g in sweep and sweep[g].notna().any():
            ax.plot(sweep.alpha, sweep[g], marker=".", color=f"C{i}", label=g)
    if validation is not None:
        ax.plot(validation.alpha, validation.overall, ls="--", color="black", lw=1.2, label="overall (validation)")
    if suggested is not None:
        ax.axvline(suggested, ls="--", color="grey", lw=1)
        ax.text(suggested, ax.get_ylim()[1], " suggest_alpha", va="top", fontsize=8, color="grey")
    if used is not None and not pd.isna(used):
        ax.axvline(used, ls=":", color="black", lw=1)
        ax.text(used, ax.get_ylim()[0], " used", va="bottom", fontsize=8)
    ax.set_xlabel("alpha")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.legend(fontsize=8, ncol=2)
    return ax
