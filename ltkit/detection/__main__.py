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

from mmcv import DictAction


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m ltkit.detection", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("configs", help="list the shipped configs")
    r = sub.add_parser("run", help="train (or load a checkpoint), evaluate, write run.json")
    r.add_argument("config", help="a shipped config name (see `configs`) or a config file")
    r.add_argument("work_dir")
    r.add_argument("--data-root", default=None, help="LVIS root (default: data/LVIS/ or $LTKIT_LVIS_ROOT)")
    r.add_argument("--alpha", type=float, default=None, help="TDE alpha at test time (default: the config's)")
    r.add_argument("--eval-only", default=None, metavar="CHECKPOINT", help="skip training, evaluate this checkpoint")
    r.add_argument("--evaluations", nargs="+", default=None, help="plain, tde, tde_without_bg_exemption")
    r.add_argument("--max-epochs", type=int, default=None)
    r.add_argument("--samples-per-gpu", type=int, default=None)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--backend", default="lvis", choices=["lvis", "faster"], help="LVIS evaluator")
    r.add_argument("--tiny", action="store_true", help="shrink the model (CPU smoke runs, tests)")
    r.add_argument("--cfg-options", nargs="+", action=DictAction, default=None, help="mmcv config overrides key=value")
    s = sub.add_parser("synthetic", help="write a tiny synthetic LVIS v1.0-format dataset")
    s.add_argument("root")
    s.add_argument("--num-classes", type=int, default=6)
    s.add_argument("--version", default="v1", choices=["v1", "v0.5"], help="annotation file names (default v1)")
    args = p.parse_args(argv)

    from . import list_configs
    from .run import run_lvis
    from .synthetic import make_synthetic_lvis

    if args.command == "configs":
        print("\n".join(list_configs()))
        return 0
    if args.command == "synthetic":
        paths = make_synthetic_lvis(args.root, num_classes=args.num_classes, version=args.version)
        print(f"wrote {paths['train']} and {paths['val']}")
        return 0
    rec = run_lvis(args.config, args.work_dir, data_root=args.data_root, evaluations=args.evaluations,
                   alpha=args.alpha, eval_only=args.eval_only, tiny=args.tiny, max_epochs=args.max_epochs,
                   samples_per_gpu=args.samples_per_gpu, seed=args.seed, backend=args.backend,
                   options=args.cfg_options)
    if rec is not None:
        print(json.dumps(rec["metrics"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
