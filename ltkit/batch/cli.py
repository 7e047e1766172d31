"""``python -m ltkit.batch RECIPE.yaml``: the command line of a batch."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from ..config.schema import key_values
from .execute import DEFAULT_KERNEL, BatchInterrupted
from .run import run_recipe


def build_parser(prog: str = "python -m ltkit.batch") -> argparse.ArgumentParser:
    from . import recipe
    from .executors import EXECUTORS

    p = argparse.ArgumentParser(
        prog=prog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a recipe's grid of parameterized notebooks with papermill (the recipe format follows "
        "the options).",
        epilog=recipe.__doc__,
    )
    p.add_argument("recipe", help="the recipe YAML, e.g. notebooks/recipes/smoke.yaml")
    p.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="threads",
        help="threads: here (default); submitit-local: local processes through submitit; slurm: one "
        "Slurm job per run (resources: the recipe's cluster mapping and the flags below)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="runs at once (threads and submitit-local: default 1; slurm: jobs in flight, default all)",
    )
    p.add_argument(
        "--devices",
        default=None,
        help="GPU indices, e.g. 0,1: runs get device=cuda:K round-robin (overrides the recipe's device; threads only)",
    )
    p.add_argument(
        "--report",
        action="store_true",
        help="afterwards, execute the recipe's report notebooks with results_dir=output_root",
    )
    p.add_argument("--dry-run", action="store_true", help="print the runs, execute nothing")
    p.add_argument("--kernel", default=DEFAULT_KERNEL, help=f"Jupyter kernel name (default {DEFAULT_KERNEL})")
    g = p.add_argument_group("Slurm resources (override the recipe's cluster mapping)")
    g.add_argument("--partition", help="Slurm partition")
    g.add_argument("--time", help='time limit per job: minutes, "HH:MM:SS" or "D-HH:MM:SS"')
    g.add_argument("--gpus-per-job", type=int, dest="gpus", help="GPUs per job (default: the run's gpus)")
    g.add_argument("--cpus-per-job", type=int, dest="cpus", help="CPUs per job")
    g.add_argument("--mem-gb", type=float, dest="mem_gb", help="memory per job, GB")
    g.add_argument(
        "--sbatch",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="further sbatch options, values read as YAML, e.g. --sbatch account=lab constraint=a100",
    )
    return p


def main(argv: Optional[List[str]] = None, prog: str = "python -m ltkit.batch") -> int:
    args = build_parser(prog).parse_args(argv)
    cluster = {
        k: getattr(args, k) for k in ("partition", "time", "gpus", "cpus", "mem_gb") if getattr(args, k) is not None
    }
    try:
        if args.sbatch:  # the KEY=VALUE rule of every mapping flag (ltkit.config.schema.key_values)
            cluster["sbatch"] = key_values("--sbatch", args.sbatch)
        rows, report_rows = run_recipe(
            args.recipe,
            jobs=args.jobs,
            devices=args.devices,
            report=args.report,
            kernel=args.kernel,
            dry_run=args.dry_run,
            executor=args.executor,
            cluster=cluster,
        )
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BatchInterrupted as e:
        sys.stdout.flush()
        sys.stderr.flush()
        import os

        os._exit(128 + e.signum)  # threads still stuck in a notebook must not hold the exit up
    failed = any(r["status"] == "failed" for r in rows) or any(r["status"] == "failed" for r in report_rows)
    return 1 if failed else 0
