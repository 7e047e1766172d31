#!/usr/bin/env python3
"""Add the ``data`` block to run records written before runs named their data.

A run writes ``run.json``'s ``data`` block itself (``ltkit.data.fingerprint``): the content
fingerprint of what it read, whether that is a known release, and the long-tailed subset its
seed drew. For an older record this recomputes the block from the data and the record's own
parameters (the subset is a function of the seed, the ratio and the data), checks that the
subset's per-class counts are the record's ``train_counts``, and writes the record back
atomically with the block and a ``data_added`` note (tool, data folder, commit, date). A record
that has a block already is left as it is if the block is the same, and refused if it is not.

    python tools/records/data_block.py results/reproductions/cifar10_lt/cifar10_lt-r100-causal_norm-s0 \\
        --data-root data/cifar10-lossless
    python tools/records/data_block.py RUN --data-root data/cifar10-jpeg --study analysis   # also sets params.study
    python tools/records/data_block.py --fingerprint data/cifar10-lossless                  # print a folder's block

``--data-root`` is where that data lies on this machine (the record keeps the root it trained from).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from ltkit.config import STUDIES, RunConfig  # noqa: E402
from ltkit.data import load_dataset  # noqa: E402
from ltkit.runs.provenance import git_state  # noqa: E402
from ltkit.runs.record import read_run, write_run_json  # noqa: E402


def block_for(params: Dict[str, Any], data_root: str) -> Dict[str, Any]:
    """The data block a run with ``params`` would have written, from the data at ``data_root``."""
    saved = RunConfig.with_defaults(params)
    cfg = RunConfig.from_dict({**saved, "data_root": data_root, "download": False})
    block = dict(load_dataset(cfg).info["data"])
    if block["root"] == str(Path(data_root)):  # where the run itself read it (the synthetic set has none)
        block["root"] = str(Path(RunConfig.from_dict(saved).resolved_data_root))
    return block


def add_block(run_dir: Path, data_root: str, study: Optional[str] = None) -> str:
    """Add the data block (and ``study``) to ``run_dir/run.json``; returns what was done."""
    rec = read_run(run_dir)
    if rec.get("status") != "complete":
        raise SystemExit(
            f"{run_dir}: status {rec.get('status')!r}; only complete records get a data block here "
            "(a running one writes its own)"
        )
    block = block_for(rec.get("params", {}), data_root)
    if block["subset"]["counts"] != rec.get("train_counts"):
        raise SystemExit(
            f"{run_dir}: the subset drawn from {data_root} has counts {block['subset']['counts']}, the "
            f"record trained on {rec.get('train_counts')}: not this run's data"
        )
    params = dict(rec.get("params", {}))
    if study is not None and params.get("study", study) != study:
        raise SystemExit(f"{run_dir}: its params say study={params['study']!r}, not {study!r}; nothing written")
    old = rec.get("data")
    if old is not None:
        if old != block:
            raise SystemExit(
                f"{run_dir}: has a data block that differs from the one {data_root} gives "
                f"({old.get('fingerprint')} vs {block['fingerprint']}); nothing written"
            )
        if study is None or params.get("study") == study:
            return f"{run_dir}: data block already there and the same"
    rec["data"] = block
    if study is not None:
        params["study"] = study
        rec["params"] = params
    if old is None:
        git = git_state()
        rec["data_added"] = {
            "by": "tools/records/data_block.py",
            "from": data_root,
            "commit": git["commit"] + (" (dirty)" if git["dirty"] else "") if git["commit"] else None,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    write_run_json(run_dir, rec)
    return f"{run_dir}: {block['content']} ({block['fingerprint'][:19]}...)" + (f", study={study}" if study else "")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("runs", nargs="*", type=Path, help="run folders (each holding a complete run.json)")
    p.add_argument("--data-root", help='where the runs\' data lies on this machine ("" for the synthetic set)')
    p.add_argument("--study", choices=STUDIES, help="also record what the runs were for (params.study)")
    p.add_argument("--fingerprint", metavar="DATA_ROOT", help="print the CIFAR-10 data block of a folder and exit")
    p.add_argument("--dataset", default="cifar10_lt", help="with --fingerprint (default cifar10_lt)")
    args = p.parse_args(argv)
    if args.fingerprint:
        import json

        print(json.dumps(block_for({"dataset": args.dataset}, args.fingerprint), indent=1))
        return 0
    if not args.runs or args.data_root is None:
        p.error("give run folders and --data-root (or --fingerprint DATA_ROOT)")
    for run_dir in args.runs:
        print(add_block(run_dir, args.data_root, args.study))
    return 0


if __name__ == "__main__":
    sys.exit(main())
