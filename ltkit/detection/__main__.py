"""``python -m ltkit.detection``: LVIS runs and configs from the command line.

python -m ltkit.detection configs
python -m ltkit.detection run CONFIG WORK_DIR [--data-root D] [--alpha A] [--eval-only CKPT] ...
torchrun --nproc_per_node 8 -m ltkit.detection run CONFIG WORK_DIR ...   (multi-GPU)
python -m ltkit.detection synthetic ROOT                                 (a tiny LVIS-format set)
"""

from __future__ import annotations

import argparse
import json
import sys

from ..config import LVISRunConfig


def main(argv=None, prog: str = "python -m ltkit.detection") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("configs", help="list the shipped configs")
    r = sub.add_parser("run", help="train (or load a checkpoint), evaluate, write run.json")
    r.add_argument("config", help="a shipped config name (see `configs`) or a config file")
    r.add_argument("work_dir")
    LVISRunConfig.add_flags(r, skip=LVISRunConfig.CLI_POSITIONAL)  # every other LVISRunConfig field
    s = sub.add_parser("synthetic", help="write a tiny synthetic LVIS v1.0-format dataset")
    s.add_argument("root")
    s.add_argument("--num-classes", type=int, default=6)
    s.add_argument("--version", default="v1", choices=["v1", "v0.5"], help="annotation file names (default v1)")
    args = p.parse_args(argv)

    try:
        if args.command == "configs":
            from ..config import lvis_configs

            print("\n".join(lvis_configs()))
            return 0
        if args.command == "synthetic":
            from .synthetic import make_synthetic_lvis

            paths = make_synthetic_lvis(args.root, num_classes=args.num_classes, version=args.version)
            print(f"wrote {paths['train']} and {paths['val']}")
            return 0
        cfg = LVISRunConfig.from_flags(args, config=args.config, work_dir=args.work_dir)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from . import _MISSING

    if _MISSING:
        print(f"error: {_MISSING}", file=sys.stderr)
        return 2
    from .run import run

    rec = run(cfg)
    if rec is not None:
        print(json.dumps(rec["metrics"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
