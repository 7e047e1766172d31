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
              groups: Sequence[str] = GROUP_ORDER):
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
    ax.set_ylabel("top-1 accuracy (%)")
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
