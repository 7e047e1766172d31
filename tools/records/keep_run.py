#!/usr/bin/env python3
"""Copy the small records of a finished run into the repository (``results/...``) to commit them.

A run folder holds its records (``run.json``, ``history.csv``, ``per_class.csv``, with
``alpha="val"`` also ``alpha_sweep_val.csv``, and the executed notebook when papermill ran it)
beside large git-ignored files (``checkpoint*.pt``, ``outputs.npz``). This copies the records,
and the notebook with its image outputs replaced by a one-line note (the figures are redrawn by
``figures.ipynb`` from the records), into ``DEST/<run folder name>/``. It refuses a run that is
not complete, or whose record says it was trained from a dirty checkout or an unknown commit:
every committed number must name the clean commit that made it; and it never writes over a
record that is there already.

    python tools/records/keep_run.py /work/train/results/runs/table3_cifar10_lt/cifar10_lt-r50-causal_norm-s1 \\
        results/reproductions/cifar10_lt
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

RECORDS = ("run.json", "history.csv", "per_class.csv", "alpha_sweep_val.csv")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "application/pdf")


def strip_images(notebook: dict) -> int:
    """Replace every image output of ``notebook`` (nbformat 4 JSON) by a text note; returns how many."""
    n = 0
    for cell in notebook.get("cells", []):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            kinds = [k for k in IMAGE_TYPES if k in data]
            if kinds:
                n += len(kinds)
                for k in kinds:
                    del data[k]
                data["text/plain"] = ["[figure left out of the committed record; figures.ipynb redraws it]"]
    return n


def keep(run_dir: Path, dest_root: Path) -> Path:
    rec_path = run_dir / "run.json"
    if not rec_path.is_file():
        raise SystemExit(f"{run_dir}: no run.json; is this a run folder?")
    rec = json.loads(rec_path.read_text())
    if rec.get("status") != "complete":
        raise SystemExit(f"{run_dir}: status {rec.get('status')!r}; only complete runs are kept")
    env = rec.get("environment", {})
    if not env.get("git_commit") or env.get("git_dirty") is not False:
        raise SystemExit(
            f"{run_dir}: trained from commit {env.get('git_commit')!r} with dirty={env.get('git_dirty')!r}; "
            "only runs from a clean commit are kept"
        )
    dest = dest_root / run_dir.name
    if (dest / "run.json").exists():  # a committed record is never overwritten
        raise SystemExit(f"{dest} holds a record already; nothing copied (remove it first if it is to be replaced)")
    dest.mkdir(parents=True, exist_ok=True)
    for name in RECORDS:
        if (run_dir / name).is_file():
            shutil.copyfile(run_dir / name, dest / name)
    for nb_path in run_dir.glob("*.ipynb"):
        nb = json.loads(nb_path.read_text())
        strip_images(nb)
        (dest / nb_path.name).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return dest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dirs", nargs="+", type=Path, help="finished run folders")
    ap.add_argument("dest", type=Path, help="where the copies go (one folder per run inside it)")
    args = ap.parse_args(argv)
    for run_dir in args.run_dirs:
        print(f"kept {run_dir} -> {keep(run_dir, args.dest)}")
    print("next: make tables (the tables, the generated pages and the README's blocks from the records)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
