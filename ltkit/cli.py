"""``ltkit`` (also ``python -m ltkit``): the command line.

``ltkit run --preset cifar10_lt_tde --data-root data/cifar10``: every RunConfig field is a flag
(underscores become dashes); a preset starts from a paper setting and flags given explicitly
override it. ``ltkit presets`` lists the settings, ``ltkit quickstart`` runs the embedded
default, ``ltkit status`` shows the runs in progress, ``ltkit batch RECIPE`` runs a recipe
(``python -m ltkit.batch``) and ``ltkit lvis ...`` an LVIS run (``python -m ltkit.detection``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from .config import PRESET_DESCRIPTIONS, PRESETS, RunConfig

#: subcommands that hand their arguments to another module's command line
DELEGATED = {
    "batch": "run a recipe's grid of notebooks (ltkit batch --help: the options and the recipe format)",
    "lvis": "LVIS runs and configs through mmdetection (ltkit lvis --help)",
}


def build_parser() -> argparse.ArgumentParser:
    from .models import ACTIVATIONS

    parser = argparse.ArgumentParser(prog="ltkit", description="Long-tailed recognition with De-confound-TDE.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p_run = sub.add_parser(
        "run",
        help="train and evaluate one configuration",
        description="Train and evaluate one configuration. Name a paper setting with --preset (ltkit presets "
        "lists them) or at least the dataset; any other flag overrides the preset.",
    )
    p_run.add_argument("--preset", metavar="NAME", help="start from a setting: " + ", ".join(sorted(PRESETS)))
    RunConfig.add_flags(p_run)  # every RunConfig field; RunConfig converts and checks the values

    p_q = sub.add_parser("quickstart", help="baseline vs De-confound-TDE on the synthetic dataset (minutes on a CPU)")
    p_q.add_argument("--output-dir", default="results/quickstart", help="(default: results/quickstart)")
    p_q.add_argument("--epochs", type=int, default=None, help="override the quickstart's epochs")
    p_q.add_argument("--seed", type=int, default=0, help="(default: 0)")
    p_q.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (default: auto)")
    p_q.add_argument(
        "--activation",
        default=None,
        choices=sorted(ACTIVATIONS),
        help="override the quickstart's SiLU backbone activation (relu: the paper's, whose short runs are chaotic)",
    )

    sub.add_parser("presets", help="the paper's settings and the quickstart's, one line each")

    p_s = sub.add_parser("status", help="the runs under a folder: state, epoch / total, last loss, images/s, time left")
    p_s.add_argument(
        "path", nargs="?", default="results/runs", help="a run folder or a tree of them (default: results/runs)"
    )
    for name, text in DELEGATED.items():
        sub.add_parser(name, help=text, add_help=False)
    return parser


def presets_table() -> str:
    """The presets as a fixed-width table: name, dataset, classifier, epochs, what it is for."""
    rows = [("preset", "dataset", "classifier", "epochs", "what it is for")]
    for name in PRESETS:
        values = {**RunConfig.defaults(), **PRESETS[name]}  # unchecked: an LWS preset needs init_from
        rows.append((name, values["dataset"], values["classifier"], str(values["epochs"]), PRESET_DESCRIPTIONS[name]))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4] for r in rows]
    return (
        "\n".join(lines[:1] + ["-" * len(lines[0])] + lines[1:])
        + "\n\nevery value of a preset: ltkit.config.PRESETS[NAME] (ltkit run flags override them)"
    )


def _delegate(command: str, argv: List[str]) -> int:
    if command == "batch":
        from .batch.cli import main as batch_main

        return batch_main(argv, prog="ltkit batch")
    from .detection.__main__ import main as lvis_main

    return lvis_main(argv, prog="ltkit lvis")


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DELEGATED:
        return _delegate(argv[0], argv[1:])
    args = build_parser().parse_args(argv)
    try:
        if args.command == "presets":
            print(presets_table())
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
        if not args.preset and args.dataset is None:
            raise ValueError(
                "name a setting with --preset NAME, or at least --dataset; the presets: "
                + ", ".join(PRESETS)
                + " (ltkit presets describes them; ltkit quickstart runs the embedded default)"
            )
        cfg = RunConfig.from_flags(args, preset=args.preset or "")
        from .runs.runner import run

        run(cfg)
        return 0
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
