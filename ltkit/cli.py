"""``python -m ltkit``: run, quickstart, presets, status.

``python -m ltkit run --dataset cifar10_lt --imb-ratio 100 ...``: every RunConfig field is a
flag (underscores become dashes). ``--preset NAME`` starts from a paper setting; flags given
explicitly override it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from .config import PRESETS, RunConfig


def build_parser() -> argparse.ArgumentParser:
    from .models import ACTIVATIONS

    parser = argparse.ArgumentParser(
        prog="python -m ltkit", description="Long-tailed recognition with De-confound-TDE."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p_run = sub.add_parser("run", help="train and evaluate one configuration")
    p_run.add_argument("--preset", choices=sorted(PRESETS), help="start from a paper setting")
    RunConfig.add_flags(p_run)  # every RunConfig field; RunConfig converts and checks the values

    p_q = sub.add_parser("quickstart", help="baseline vs De-confound-TDE on the synthetic dataset (minutes on a CPU)")
    p_q.add_argument("--output-dir", default="results/quickstart")
    p_q.add_argument("--epochs", type=int, default=None, help="override the quickstart's epochs")
    p_q.add_argument("--seed", type=int, default=0)
    p_q.add_argument("--device", default="auto")
    p_q.add_argument(
        "--activation",
        default=None,
        choices=sorted(ACTIVATIONS),
        help="override the quickstart's SiLU backbone activation (relu: the paper's, whose short runs are chaotic)",
    )

    sub.add_parser("presets", help="list the presets and their values")

    p_s = sub.add_parser("status", help="the runs under a folder: state, epoch / total, last loss, images/s, time left")
    p_s.add_argument(
        "path", nargs="?", default="results/runs", help="a run folder or a tree of them (default: results/runs)"
    )
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "presets":
            for name in sorted(PRESETS):
                print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in PRESETS[name].items()))
            return 0
        if args.command == "status":
            from .runs.status import format_status, run_status

            if not Path(args.path).exists():
                raise FileNotFoundError(f"{args.path}: no such folder")
            print(format_status(run_status(args.path)))
            return 0
        if args.command == "quickstart":
            from .quickstart import quickstart

            quickstart(
                output_dir=args.output_dir,
                epochs=args.epochs,
                seed=args.seed,
                device=args.device,
                activation=args.activation,
            )
            return 0
        cfg = RunConfig.from_flags(args, preset=args.preset or "")
        from .runs.runner import run

        run(cfg)
        return 0
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
