"""Figures in one consistent style (seaborn on matplotlib). Drawing only: the writers that load
runs and save a set of figures are in ``ltkit.report.writers``.

Every function draws inside :func:`style` (``matplotlib.rc_context`` with seaborn's whitegrid /
notebook settings and the colorblind palette) and changes no global state: not the backend,
not ``rcParams``, not seaborn's theme. Given no ``ax``, a function makes a pyplot figure (so it
shows in a notebook); :func:`figure` makes one that pyplot does not manage (for writers: it
never opens a window and needs no backend).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Optional, Sequence

import pandas as pd

GROUP_ORDER = ("many", "medium", "few", "overall")


@contextlib.contextmanager
def style():
    """The kit's plot style for the duration of a ``with`` block (nothing global is changed)."""
    import matplotlib
    import seaborn as sns
    from cycler import cycler

    rc = {
        **sns.axes_style("whitegrid"),
        **sns.plotting_context("notebook"),
        "axes.prop_cycle": cycler(color=sns.color_palette("colorblind")),
    }
    with matplotlib.rc_context(rc):
        yield


def figure(nrows: int = 1, ncols: int = 1, *, figsize=(7, 4), **subplots_kw):
    """``(fig, axes)`` like ``plt.subplots``, in the kit's style, on a Figure pyplot does not manage."""
    from matplotlib.figure import Figure

    with style():
        fig = Figure(figsize=figsize)
        return fig, fig.subplots(nrows, ncols, **subplots_kw)


def _axes(ax, figsize=(7, 4)):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)[1]


def shot_bars(
    df: pd.DataFrame,
    *,
    method: str = "method",
    ax=None,
    title: Optional[str] = None,
    groups: Sequence[str] = GROUP_ORDER,
    ylabel: str = "top-1 accuracy (%)",
):
    """Grouped bars: accuracy per shot group (x) for each method (hue).

    ``df`` has one row per method with columns ``method`` and the groups (percent; NaN/None
    for an empty group, which is left out).
    """
    import seaborn as sns

    long = df.melt(
        id_vars=[method], value_vars=[g for g in groups if g in df], var_name="group", value_name="accuracy"
    ).dropna(subset=["accuracy"])
    with style():
        ax = _axes(ax)
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


def per_class_curve(
    per_class: pd.DataFrame,
    *,
    columns: Sequence[str],
    labels: Optional[Sequence[str]] = None,
    ax=None,
    title: Optional[str] = None,
):
    """Per-class accuracy (y) against training count (x, log scale), one line per column."""
    pc = per_class.sort_values("train_count", ascending=False)
    with style():
        ax = _axes(ax)
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


#: per_class.csv columns of a run and the evaluation each holds (a causal-norm run's plain one is De-confound)
PER_CLASS_EVALUATIONS = {"acc_plain": "plain", "acc_tde": "TDE"}


def per_class_comparison(
    per_class,
    *,
    columns: Sequence[str] = tuple(PER_CLASS_EVALUATIONS),
    titles: Optional[Sequence[str]] = None,
    suptitle: Optional[str] = None,
):
    """Runs side by side, class by class: one panel per evaluation column, one line per run.

    ``per_class``: {label: a run's per_class.csv frame}, runs with the same training counts per
    class (``ltkit.report.writers.per_class_of_runs`` loads them and checks that). Returns the figure."""
    import matplotlib.pyplot as plt

    if not per_class:
        raise ValueError("per_class: no runs to compare")
    labels = list(per_class)
    first = per_class[labels[0]]
    with style():
        fig, axes = plt.subplots(1, len(columns), figsize=(6.5 * len(columns), 4.2), squeeze=False)
        for ax, col, title in zip(axes[0], columns, titles or [PER_CLASS_EVALUATIONS.get(c, c) for c in columns]):
            merged = first[["class", "train_count"]].copy()
            for lab in labels:
                merged[lab] = per_class[lab].set_index("class").loc[merged["class"], col].to_numpy()
            per_class_curve(merged, columns=labels, ax=ax, title=title)
        if suptitle:
            fig.suptitle(suptitle)
        fig.tight_layout()
    return fig


LVIS_GROUPS = ("APr", "APc", "APf", "AP", "APbbox")


def lvis_bars(record: dict, *, ax=None, title: Optional[str] = None):
    """An LVIS run's mask AP on rare / common / frequent classes, overall, and box AP, one bar
    colour per evaluation (plain, TDE, TDE without background exemption)."""
    from .load import method_name

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
    """Save a figure as PNG (and PDF) atomically; a pyplot figure is closed afterwards."""
    from ..utils import atomic_write

    path = Path(path)
    with style():
        atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120, bbox_inches="tight"), mode="wb")
        if pdf:
            atomic_write(
                path.with_suffix(".pdf"), lambda f: fig.savefig(f, format="pdf", bbox_inches="tight"), mode="wb"
            )
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)  # a no-op for a Figure pyplot does not manage
    return path


#: history.csv columns a ``test_every`` run writes, and their labels in :func:`run_overview`
TEST_CURVES = {"test_plain": "plain", "test_tde": "TDE"}


def run_overview(run_dir):
    """Panels for one run: training loss / accuracy per epoch, and accuracy by shot group for
    each evaluation. A run with ``test_every`` (test accuracy in ``history.csv``) gets a third
    panel between them: the test accuracy per epoch of each evaluation, its best epoch marked.
    Returns the figure."""
    import matplotlib.pyplot as plt

    from ..runs.record import read_run

    run_dir = Path(run_dir)
    rec = read_run(run_dir)
    hist = pd.read_csv(run_dir / "history.csv")
    metrics = pd.DataFrame(
        [{"method": name, **{g: m.get(g) for g in GROUP_ORDER}} for name, m in rec["metrics"].items()]
    )
    curves = [c for c in TEST_CURVES if c in hist and hist[c].notna().any()]
    with style():
        fig, axes = plt.subplots(1, 3 if curves else 2, figsize=(18 if curves else 12, 4))
        a1, a2 = axes[0], axes[-1]
        if curves:
            accuracy_per_epoch(hist, ax=axes[1])
        a1.plot(hist.epoch, hist.loss, label="train loss")
        a1.set_xlabel("epoch")
        a1.set_ylabel("loss")
        ax_acc = a1.twinx()
        ax_acc.plot(hist.epoch, hist.train_acc, color="C1", label="train accuracy (%)")
        ax_acc.set_ylabel("train accuracy (%)")
        ax_acc.grid(False)
        a1.set_title("training")
        shot_bars(metrics, ax=a2, title=f"{rec['run_name']}: test accuracy")
        fig.tight_layout()
    return fig


def accuracy_per_epoch(hist: pd.DataFrame, *, ax=None, title: str = "test accuracy per epoch"):
    """Test accuracy per epoch from a ``test_every`` run's history (``test_plain``, ``test_tde``;
    epochs without a test pass are skipped), each curve's best epoch marked. Analysis only: the
    run reports its last epoch."""
    with style():
        ax = _axes(ax)
        for i, (column, label) in enumerate(TEST_CURVES.items()):
            if column not in hist:
                continue
            h = hist[["epoch", column]].dropna()
            if h.empty:
                continue
            ax.plot(h.epoch, h[column], color=f"C{i}", label=label)
            best = h.loc[h[column].idxmax()]
            ax.plot(
                [best.epoch],
                [best[column]],
                "o",
                color=f"C{i}",
                label=f"{label} best: {best[column]:.1f} at epoch {int(best.epoch)}",
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(title)
        ax.legend(loc="lower right")
    return ax


def alpha_sweep(sweep: pd.DataFrame, *, ax=None, suggested=None, used=None, validation: Optional[pd.DataFrame] = None):
    """Accuracy (overall / many / medium / few) against alpha, with the heuristic's suggestion
    and the alpha the run used marked; ``validation`` (columns alpha, overall) adds the overall
    accuracy on the validation split, the curve ``alpha="val"`` maximises."""
    with style():
        ax = _axes(ax, figsize=(8, 4))
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


def cosine_histogram(cosines: pd.DataFrame, *, ax=None, title: Optional[str] = None):
    """The distribution of each test sample's per-head cosine to the moving-average feature
    (``cosines``: columns ``cosine`` and ``run``), one step curve per run."""
    import seaborn as sns

    with style():
        ax = _axes(ax, figsize=(8, 4))
        sns.histplot(
            cosines,
            x="cosine",
            hue="run" if cosines["run"].nunique() > 1 else None,
            bins=40,
            element="step",
            stat="density",
            common_norm=False,
            ax=ax,
        )
        if title:
            ax.set_title(title)
    return ax
