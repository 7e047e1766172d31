"""``python -m ltkit.batch RECIPE.yaml``: run a grid of parameterized
notebooks with papermill, each run in its own folder beside its record.

* ``recipe``: the recipe format (its docstring, which ``--help`` prints), loading and expanding it;
* ``execute``: one run's notebook, executed; stopping the running ones on a signal;
* ``executors``: where the runs execute: threads here, or submitit jobs (local or Slurm);
* ``summary``: the summary table of a batch;
* ``run``: a whole batch: skip the complete runs, execute the rest, write the summary and reports;
* ``cli``: the command line.

Exit status of the command: 0 when every run (and report) succeeded, 1 when one failed, 2 for a
bad recipe, a missing file or a missing kernel.
"""

from .execute import BatchInterrupted
from .recipe import Recipe, RunSpec, expand, load_recipe
from .run import run_batch, run_reports
from .summary import format_summary

__all__ = [
    "BatchInterrupted",
    "Recipe",
    "RunSpec",
    "expand",
    "format_summary",
    "load_recipe",
    "run_batch",
    "run_reports",
]
