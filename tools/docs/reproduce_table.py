"""Write results/tables/reproduce.md: for each paper table, its recipe, how many of the recipe's
runs have a committed record, and how long a run took, from those records.

The README and docs/reproduce.md show the file as a generated block (tools/docs/blocks.py); a
test checks that the file is what this script writes from the recipes and records now.

    python tools/docs/reproduce_table.py [OUT]   # default results/tables/reproduce.md
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from ltkit.batch.recipe import expand, load_recipe  # noqa: E402
from ltkit.report.load import load_runs  # noqa: E402
from ltkit.runs.record import epoch_times  # noqa: E402
from ltkit.utils import write_text  # noqa: E402

#: (paper table, recipe, the dataset of the recipe's runs that the row counts, its data, where it runs)
ROWS = [
    (
        "3, CIFAR-10-LT",
        "notebooks/recipes/table3_cifar10_lt.yaml",
        "cifar10_lt",
        "CIFAR-10 release at `data/cifar10`",
        "CPU or GPU",
    ),
    (
        "3, CIFAR-100-LT",
        "notebooks/recipes/table3_cifar_lt.yaml",
        "cifar100_lt",
        "CIFAR-100 at `data/cifar100`",
        "CPU or GPU",
    ),
    (
        "2, ImageNet-LT",
        "notebooks/recipes/table2_imagenet_lt.yaml",
        "imagenet_lt",
        "ImageNet-LT lists and images",
        "GPUs",
    ),
    ("4 and 5, LVIS v1.0", "notebooks/recipes/table4_lvis.yaml", None, "LVIS v1.0 at `data/LVIS`", "GPUs"),
]
DEFAULT_OUT = ROOT / "results" / "tables" / "reproduce.md"


def _row(table: str, recipe_path: str, dataset, data: str, where: str) -> str:
    specs = [
        s
        for s in expand(load_recipe(ROOT / recipe_path))
        if dataset is None or getattr(s.config, "dataset", None) == dataset
    ]
    kept = [Path(ROOT / s.kept_dir) for s in specs if s.kept_dir and (ROOT / s.kept_dir / "run.json").is_file()]
    runs = load_runs(kept) if kept else pd.DataFrame()
    done = runs.drop_duplicates("run_dir") if len(runs) else runs
    if len(done):
        times = epoch_times(done.run_dir)
        epochs = int(done.epochs.median())
        machines = ", ".join(dict.fromkeys(done.machine))
        time = f"{times.median() * epochs / 60:.0f} min on {machines}"
        status = f"{len(done)} of {len(specs)} runs kept"
    else:
        time, status = "not measured", f"0 of {len(specs)} runs"
    recipe = f"`{Path(recipe_path).name}`"
    return f"| {table} | {recipe} | {data} | {where} | {time} | {status} |"


def markdown() -> str:
    lines = [
        "| paper table | recipe (`notebooks/recipes/`) | data | runs on | time per run | status |",
        "|---|---|---|---|---|---|",
    ]
    lines += [_row(*row) for row in ROWS]
    lines += [
        "",
        "Time per run: the median epoch of the committed records times their epochs. Status: how many "
        "of the recipe's runs have a committed record (the recipe's `kept` folder).",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else DEFAULT_OUT
    write_text(out, markdown())
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
