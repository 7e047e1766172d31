"""From run records to what a paper shows: tables, figures and post-hoc analyses.

* ``load``: run records read back into pandas, one row per run;
* ``tables``: the paper's tables with ltkit's numbers beside them, and the summary tables;
* ``figures``: the figures, drawing only, in one style;
* ``compare``: runs side by side: what one change of setting, data or machine did;
* ``posthoc``: sweeps and baselines from a run's cached test outputs, without retraining;
* ``writers``: write the tables, figures and post-hoc results to files (the notebooks call these).
"""

from .load import load_runs
from .tables import compare_table, summary_table, table_latex, table_markdown
from .writers import write_figures, write_posthoc, write_tables

__all__ = [
    "compare_table",
    "load_runs",
    "summary_table",
    "table_latex",
    "table_markdown",
    "write_figures",
    "write_posthoc",
    "write_tables",
]
