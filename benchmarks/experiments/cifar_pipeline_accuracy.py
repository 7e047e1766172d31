"""Accuracy: ltkit's batched pipeline against the standard DataLoader + PIL pipeline.

Issue 4 asks that the fast pipeline match the standard one's accuracy "within seed-to-seed
spread". This script trains the same configuration with ``pipeline="batched"`` (crop / flip /
normalize in tensor ops on the device) and ``pipeline="torchvision"`` (what the authors' code
does: DataLoader workers, PIL images, torchvision's RandomCrop + RandomHorizontalFlip + ToTensor +
Normalize per image) for several seeds, through ``ltkit.run``, and prints the accuracies of each
pipeline (mean and sample standard deviation over seeds) and the difference of the means.

Both pipelines draw the same examples in the same order for a given (seed, epoch); they differ in
the crop and flip draws and in the layout of the work. Everything else is ``ltkit.run``:
the preset's model, loss, evaluation (De-confound and De-confound-TDE) and run record.

The schedule is the preset's, shrunk to ``--epochs`` (milestones at 60 % and 80 %, warm-up
5/200 of the run, at least one epoch), so the comparison fits on a CPU; on a GPU pass
``--epochs 200`` for the paper's schedule. Runs go to ``--runs-dir`` and resume after a kill
(finished ones are skipped), so the script can be re-run to add seeds.

    python benchmarks/experiments/cifar_pipeline_accuracy.py --epochs 12 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import ltkit
from ltkit.runs.provenance import Report
from ltkit.utils import resolve_device

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "speed"))
from cifar_pipeline import cifar_root  # noqa: E402  (the throughput benchmark's shared-CIFAR fallback)

GROUPS = ("overall", "many", "medium", "few")
RESULTS = Path(__file__).resolve().parents[2] / "results" / "benchmarks"


def short_schedule(epochs: int) -> dict:
    """The CIFAR preset's warm-up multistep schedule scaled from 200 epochs to ``epochs``."""
    m1, m2 = max(1, round(0.6 * epochs)), max(1, round(0.8 * epochs))
    return dict(epochs=epochs, warmup_epochs=max(1, round(5 * epochs / 200)), milestones=(m1, max(m1, m2)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-root", default="", help="folder holding cifar-10-batches-py/ (default: the shared zip)")
    p.add_argument("--preset", default="cifar10_lt_tde")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers of the torchvision pipeline")
    p.add_argument("--device", default="auto")
    p.add_argument("--runs-dir", default=str(Path(tempfile.gettempdir()) / "ltkit-pipeline-accuracy"))
    p.add_argument(
        "--output",
        default=None,
        help="the record to write (default results/benchmarks/cifar_pipeline_accuracy_<cpu|cuda>.txt; '-': print only)",
    )
    args = p.parse_args()
    out = Report()  # the provenance (commit, date, machine) of the code as it starts

    root = cifar_root(args.data_root)
    device = resolve_device(args.device)
    rows = []
    for pipeline in ("batched", "torchvision"):
        for seed in args.seeds:
            cfg = ltkit.RunConfig.preset(
                args.preset,
                **short_schedule(args.epochs),
                seed=seed,
                pipeline=pipeline,
                data_root=str(root),
                num_workers=args.workers,
                device=str(device),
                progress=False,
                output_dir=str(Path(args.runs_dir) / f"{args.preset}-e{args.epochs}-{pipeline}-s{seed}"),
            )
            run_dir = ltkit.run(cfg, log=lambda m: print(m, flush=True))
            rec = json.loads((run_dir / "run.json").read_text())
            hist = pd.read_csv(run_dir / "history.csv")
            row = {
                "pipeline": pipeline,
                "seed": seed,
                "images_per_s": float(hist.images_per_s.median()),
                "trained_at": rec.get("environment", {}).get("git_commit"),
            }
            for ev, metrics in rec["metrics"].items():
                for g in GROUPS:
                    row[f"{ev}_{g}"] = metrics[g]
            rows.append(row)
            print(f"{pipeline} seed {seed}: plain {row['plain_overall']:.2f}, tde {row['tde_overall']:.2f}", flush=True)

    df = pd.DataFrame(rows)
    cfg = ltkit.RunConfig.preset(args.preset, **short_schedule(args.epochs))
    out(
        f"# {args.preset}: {cfg.dataset} r{cfg.imb_ratio:g}, {cfg.backbone} + {cfg.classifier}, batch {cfg.batch_size}, "
        f"{args.epochs} epochs (milestones {list(cfg.milestones)}, warm-up {cfg.warmup_epochs}), alpha {cfg.alpha}"
    )
    out(f"# device {device}, seeds {args.seeds}, {args.workers} DataLoader workers for the torchvision pipeline")
    out(
        f"# runs trained at commit(s): {', '.join(sorted(set(map(str, df.trained_at))))} (their run.json); "
        f"a run already complete in --runs-dir is reused, not retrained"
    )
    out("# accuracy (%) on the balanced test set: mean ± sample std over seeds")
    # a shot group with no class (CIFAR-10-LT has no few-shot class) has no column
    cols = [c for c in (f"{ev}_{g}" for ev in ("plain", "tde") for g in GROUPS) if df[c].notna().any()]
    out(f"{'pipeline':<14}" + "".join(f"{c:>15}" for c in cols) + f"{'train img/s':>13}")
    stats = {}
    for pipeline, g in df.groupby("pipeline", sort=False):
        stats[pipeline] = g
        cells = "".join(f"{g[c].mean():>8.2f} ± {g[c].std(ddof=1) if len(g) > 1 else float('nan'):<4.2f}" for c in cols)
        out(f"{pipeline:<14}{cells}{g.images_per_s.median():>13.0f}")
    a, b = stats["batched"], stats["torchvision"]
    diffs = "".join(f"{a[c].mean() - b[c].mean():>+15.2f}" for c in cols)
    out(f"{'difference':<14}{diffs}")
    spread = "".join(f"{np.sqrt((a[c].var(ddof=1) + b[c].var(ddof=1)) / 2):>15.2f}" for c in cols) if len(a) > 1 else ""
    if spread:
        out(f"{'seed std':<14}{spread}   (pooled over both pipelines)")
    out("per run:")
    out(df[["pipeline", "seed", "images_per_s", *cols]].round(2).to_string(index=False))
    out.write(args.output if args.output is not None else RESULTS / f"cifar_pipeline_accuracy_{device.type}.txt")


if __name__ == "__main__":
    main()
