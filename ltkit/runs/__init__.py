"""Running one config: the runner, its run folder and lock, the record it writes and where that
record comes from, and the live status of the runs in progress.

* ``runner``: ``run(cfg)`` trains, evaluates and writes the record;
* ``folder``: one process per run folder (an OS-level lock);
* ``record``: the files of a run folder, written atomically and read back;
* ``provenance``: the command, commit, date and machine behind every published number;
* ``status``: which runs train now, and how far they got.
"""

from .folder import RunFolderLocked, hold
from .record import find_runs, is_complete, read_run
from .runner import run
from .status import format_status, run_status

__all__ = ["RunFolderLocked", "find_runs", "format_status", "hold", "is_complete", "read_run", "run", "run_status"]
