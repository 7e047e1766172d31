"""The embedded default: baseline vs De-confound(-TDE) on the synthetic long-tailed dataset.

Two runs from the presets ``synthetic_baseline`` (linear classifier) and ``synthetic_tde``
(causal-norm classifier, evaluated without and with TDE, alpha chosen on the validation
split), a summary table (``summary.csv`` / ``summary.md``), the TDE alpha on record
(``alpha_sweep.csv``: validation and test accuracy for every alpha of the validation grid;
``alpha_choices.csv`` / ``.md``: the alpha each way of choosing it gives and its test
accuracy) and three figures (``shot_accuracy.png``: many / medium / few / overall bars;
``per_class.png``: class accuracy against class size; ``alpha_sweep.png``). A few minutes on
two CPU cores.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Optional

import pandas as pd
import torch

from .config import RunConfig
from .report.load import load_runs
from .report.posthoc import best_row, load_outputs, tde_alpha_sweep
from .runs.record import write_csv
from .runs.runner import VAL_SWEEP_CSV, run
from .utils import write_text

#: (preset, evaluation) -> the paper's row name
METHODS = {
    ("synthetic_baseline", "plain"): "Baseline (linear)",
    ("synthetic_tde", "plain"): "De-confound",
    ("synthetic_tde", "tde"): "De-confound-TDE",
}


def quickstart(
    output_dir: str = "results/quickstart",
    *,
    epochs: Optional[int] = None,
    seed: int = 0,
    device: str = "auto",
    progress: bool = True,
    activation: Optional[str] = None,
    log=print,
) -> pd.DataFrame:
    """Run the quickstart; returns the summary table (one row per method). ``activation``
    overrides the presets' SiLU (``"relu"`` gives the earlier, chaotic recipe: the spread benchmark)."""
    out = Path(output_dir)
    overrides = dict(seed=seed, device=device, progress=progress)
    if epochs is not None:
        overrides["epochs"] = epochs
    if activation is not None:
        overrides["activation"] = activation
    run_dirs = {}
    for preset in ("synthetic_baseline", "synthetic_tde"):
        cfg = RunConfig.preset(preset, output_dir=str(out / preset), **overrides)
        if epochs is not None:  # keep the schedule's shape: milestones at 60% and 80% of training
            cfg = cfg.replace(
                milestones=(max(1, int(0.6 * epochs)), max(1, int(0.8 * epochs))),
                warmup_epochs=min(cfg.warmup_epochs, max(0, epochs - 1)),
            )
        run_dirs[preset] = run(cfg, log=log)

    runs = load_runs([run_dirs[p] for p in ("synthetic_baseline", "synthetic_tde")])
    rows = []
    for (preset, evaluation), method in METHODS.items():
        r = runs[(runs.run_dir == str(run_dirs[preset])) & (runs.evaluation == evaluation)].iloc[0]
        rows.append(
            {
                "method": method,
                "many": r.many,
                "medium": r.medium,
                "few": r.few,
                "overall": r.overall,
                "alpha": r.alpha,
                "run": Path(r.run_dir).name,
            }
        )
    summary = pd.DataFrame(rows)
    write_csv(out / "summary.csv", summary)
    text = summary_markdown(summary)
    write_text(out / "summary.md", text + "\n")
    sweep, choices = alpha_record(run_dirs["synthetic_tde"])
    write_csv(out / "alpha_sweep.csv", sweep)
    write_csv(out / "alpha_choices.csv", choices)
    write_text(out / "alpha_choices.md", choices_markdown(choices) + "\n")
    _figures(summary, run_dirs, out, sweep, choices)
    log("\n" + text)
    log(f"\nfigures: {out / 'shot_accuracy.png'}, {out / 'per_class.png'}, {out / 'alpha_sweep.png'}")
    return summary


def alpha_record(tde_run: Path):
    """The TDE alpha of the causal-norm run, on record.

    Returns (sweep, choices). ``sweep``: for every alpha of the validation grid
    (``ltkit.evaluate.VAL_ALPHAS``), the overall accuracy on the validation split (what
    ``alpha="val"`` maximised) and the test accuracies (overall / many / medium / few), which are
    analysis: nothing is chosen on them. ``choices``: one row per way of choosing alpha, with the
    alpha and its test accuracies: the validation choice (what the run reports), the authors'
    README heuristic ``suggest_alpha`` (1 / mean cosine to the moving average, no labels), and
    the best test overall accuracy of the grid (an oracle: an upper bound, not a result).
    """
    cached = load_outputs(tde_run)
    val = pd.read_csv(Path(tde_run) / VAL_SWEEP_CSV)
    test = tde_alpha_sweep(cached, val.alpha.to_numpy())
    sweep = pd.DataFrame(
        {
            "alpha": val.alpha,
            "val_overall": val.overall,
            **{f"test_{k}": test[k] for k in ("overall", "many", "medium", "few")},
        }
    )
    groups = ("overall", "many", "medium", "few")
    reported = load_runs([tde_run]).set_index("evaluation").loc["tde"]  # what the run's record says
    rows = [
        {
            "choice": "validation split (the run's choice)",
            "alpha": float(reported.alpha),
            **{k: reported[k] for k in groups},
        }
    ]
    suggested = test.attrs["suggested_alpha"]
    r = tde_alpha_sweep(cached, [suggested]).iloc[0]
    rows.append(
        {"choice": "suggest_alpha heuristic (authors' README)", "alpha": suggested, **{k: r[k] for k in groups}}
    )
    best = best_row(test)
    rows.append(
        {
            "choice": "best test overall (oracle, analysis only)",
            "alpha": float(best.alpha),
            **{k: best[k] for k in groups},
        }
    )
    return sweep, pd.DataFrame(rows)


def choices_markdown(choices: pd.DataFrame) -> str:
    lines = ["| alpha chosen by | alpha | many | medium | few | overall |", "|---|---|---|---|---|---|"]
    for r in choices.itertuples():
        cells = ["-" if pd.isna(v) else f"{v:.1f}" for v in (r.many, r.medium, r.few, r.overall)]
        lines.append(f"| {r.choice} | {r.alpha:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_markdown(summary: pd.DataFrame) -> str:
    lines = ["| method | many | medium | few | overall |", "|---|---|---|---|---|"]
    for r in summary.itertuples():
        cells = ["-" if pd.isna(v) else f"{v:.1f}" for v in (r.many, r.medium, r.few, r.overall)]
        name = r.method + (f" (alpha {r.alpha:.2f})" if not pd.isna(r.alpha) else "")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _figures(summary: pd.DataFrame, run_dirs, out: Path, sweep: pd.DataFrame, choices: pd.DataFrame) -> None:
    from .report import figures

    fig, ax = figures.figure(figsize=(7, 4))
    figures.shot_bars(summary, ax=ax, title="Synthetic-LT (ratio 100), ResNet-32: accuracy by shot group")
    figures.save(fig, out / "shot_accuracy.png")

    base = pd.read_csv(run_dirs["synthetic_baseline"] / "per_class.csv")
    tde = pd.read_csv(run_dirs["synthetic_tde"] / "per_class.csv")
    pc = tde[["class", "train_count", "acc_plain", "acc_tde"]].merge(
        base[["class", "acc_plain"]].rename(columns={"acc_plain": "acc_baseline"}), on="class"
    )
    fig, ax = figures.figure(figsize=(7, 4))
    figures.per_class_curve(
        pc,
        columns=["acc_baseline", "acc_plain", "acc_tde"],
        labels=[m for m in METHODS.values()],
        ax=ax,
        title="Per-class accuracy against class size",
    )
    figures.save(fig, out / "per_class.png")

    test = sweep.rename(columns=lambda c: c[len("test_") :] if c.startswith("test_") else c)
    validation = sweep[["alpha", "val_overall"]].rename(columns={"val_overall": "overall"})
    fig, ax = figures.figure(figsize=(7, 4))
    figures.alpha_sweep(test, ax=ax, suggested=choices.alpha.iloc[1], used=choices.alpha.iloc[0], validation=validation)
    with figures.style():
        ax.set_title("TDE alpha: test accuracy by group, validation overall (chosen on validation)")
    figures.save(fig, out / "alpha_sweep.png")


# ------------------------------------------------------------------ the spread checks (tests, benchmarks)
@contextlib.contextmanager
def perturbed_initial_weights(scale: float = 1e-6, seed: int = 12345):
    """Inside the block, every model ``ltkit.run`` builds starts from its usual initial weights
    plus ``scale`` * N(0, 1) noise (drawn from ``seed``): the stability check of the quickstart."""
    from .runs import runner

    build = runner.build_model

    def perturbed(cfg, num_classes):
        model = build(cfg, num_classes)
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(scale * torch.randn(p.shape, generator=g))
        return model

    runner.build_model = perturbed
    try:
        yield
    finally:
        runner.build_model = build


@contextlib.contextmanager
def other_thread_count():
    """Inside the block torch uses 1 thread if it used more, else 2 (the other rounding order)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1 if threads > 1 else 2)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(threads)


def cell_differences(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """|a - b| for every (method, group) cell of two quickstart summaries (NaN where both are empty)."""
    a, b = a.set_index("method"), b.set_index("method")
    if list(a.index) != list(b.index):
        raise ValueError(f"the summaries list other methods: {list(a.index)} vs {list(b.index)}")
    cols = ["many", "medium", "few", "overall"]
    return (a[cols] - b[cols]).abs()
