"""The embedded default: baseline vs De-confound(-TDE) on the synthetic long-tailed dataset.

Two runs from the presets ``synthetic_baseline`` (linear classifier) and ``synthetic_tde``
(causal-norm classifier, evaluated without and with TDE), a summary table
(``summary.csv`` / ``summary.md``) and two figures (``shot_accuracy.png``: many / medium /
few / overall bars; ``per_class.png``: class accuracy against class size). A few minutes on
two CPU cores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd

from .config import RunConfig
from .results import load_runs, write_csv
from .runner import run
from .utils import write_text

#: (preset, evaluation) -> the paper's row name
METHODS = {
    ("synthetic_baseline", "plain"): "Baseline (linear)",
    ("synthetic_tde", "plain"): "De-confound",
    ("synthetic_tde", "tde"): "De-confound-TDE",
}


def quickstart(output_dir: str = "results/quickstart", *, epochs: Optional[int] = None, seed: int = 0,
               device: str = "auto", progress: bool = True, log=print) -> pd.DataFrame:
    """Run the quickstart; returns the summary table (one row per method)."""
    out = Path(output_dir)
    overrides = dict(seed=seed, device=device, progress=progress)
    if epochs is not None:
        overrides["epochs"] = epochs
    run_dirs = {}
    for preset in ("synthetic_baseline", "synthetic_tde"):
        cfg = RunConfig.preset(preset, output_dir=str(out / preset), **overrides)
        if epochs is not None:  # keep the schedule's shape: milestones at 60% and 80% of training
            cfg = cfg.replace(milestones=(max(1, int(0.6 * epochs)), max(1, int(0.8 * epochs))),
                              warmup_epochs=min(cfg.warmup_epochs, max(0, epochs - 1)))
        run_dirs[preset] = run(cfg, log=log)

    runs = load_runs([run_dirs[p] for p in ("synthetic_baseline", "synthetic_tde")])
    rows = []
    for (preset, evaluation), method in METHODS.items():
        r = runs[(runs.run_dir == str(run_dirs[preset])) & (runs.evaluation == evaluation)].iloc[0]
        rows.append({"method": method, "many": r.many, "medium": r.medium, "few": r.few, "overall": r.overall,
                     "alpha": r.alpha, "run": Path(r.run_dir).name})
    summary = pd.DataFrame(rows)
    write_csv(out / "summary.csv", summary)
    text = summary_markdown(summary)
    write_text(out / "summary.md", text + "\n")
    _figures(summary, run_dirs, out)
    log("\n" + text)
    log(f"\nfigures: {out / 'shot_accuracy.png'}, {out / 'per_class.png'}")
    return summary


def summary_markdown(summary: pd.DataFrame) -> str:
    lines = ["| method | many | medium | few | overall |", "|---|---|---|---|---|"]
    for r in summary.itertuples():
        cells = ["-" if pd.isna(v) else f"{v:.1f}" for v in (r.many, r.medium, r.few, r.overall)]
        name = r.method + (f" (alpha {r.alpha:.2f})" if not pd.isna(r.alpha) else "")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _figures(summary: pd.DataFrame, run_dirs, out: Path) -> None:
    from . import plots

    plt, _ = plots._plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    plots.shot_bars(summary, ax=ax, title="Synthetic-LT (ratio 100), ResNet-32: accuracy by shot group")
    plots.save(fig, out / "shot_accuracy.png")

    base = pd.read_csv(run_dirs["synthetic_baseline"] / "per_class.csv")
    tde = pd.read_csv(run_dirs["synthetic_tde"] / "per_class.csv")
    pc = tde[["class", "train_count", "acc_plain", "acc_tde"]].merge(
        base[["class", "acc_plain"]].rename(columns={"acc_plain": "acc_baseline"}), on="class")
    fig, ax = plt.subplots(figsize=(7, 4))
    plots.per_class_curve(pc, columns=["acc_baseline", "acc_plain", "acc_tde"],
                          labels=[m for m in METHODS.values()], ax=ax, title="Per-class accuracy against class size")
    plots.save(fig, out / "per_class.png")
