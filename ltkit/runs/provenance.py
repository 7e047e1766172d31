"""Provenance for every number the kit publishes: which command, code, date and machine made it.

Run records (``run.json``'s ``environment``) and benchmark records (``results/benchmarks/*.txt``,
written by the scripts in ``benchmarks/`` themselves through :func:`write_record`) carry the
same facts, taken here in one place:

* the command line, the git commit of the ltkit checkout and whether its tracked files had
  uncommitted changes (``dirty``);
* the date (UTC);
* the machine (``ltkit.machine``): CPU model, core count, the instruction-set flags that change
  which kernels run, torch's CPU capability and thread count, and the GPU if any.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import torch

from ..machine import RELEVANT_CPU_FLAGS, cpu, machine

#: changes under these folders of the checkout do not make it dirty: they hold records (data a
#: run or benchmark wrote), not code, and a script that writes one must not mark the next one dirty
RECORD_DIRS = ("results/",)


def git_state(path: Union[str, Path, None] = None) -> Dict[str, Any]:
    """{"commit": sha or None, "dirty": whether tracked files outside ``RECORD_DIRS`` differ from
    it} of the checkout holding ``path`` (default: this package)."""
    here = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return {"commit": None, "dirty": None}
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
        )
        changed = [line[3:] for line in status.stdout.splitlines() if line.strip()]
        return {"commit": sha.stdout.strip(), "dirty": any(not p.startswith(RECORD_DIRS) for p in changed)}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def command_line(argv: Optional[Sequence[str]] = None) -> str:
    """The command as typed: ``python <script relative to the cwd> <args>``."""
    argv = list(sys.argv if argv is None else argv)
    if argv:
        try:
            argv[0] = os.path.relpath(argv[0])
        except ValueError:
            pass
    return "python " + " ".join(shlex.quote(a) for a in argv)


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def header_lines(command: Optional[str] = None) -> List[str]:
    """The provenance header of a benchmark record, one ``# key: value`` line each."""
    git, m = git_state(), machine()
    commit = git["commit"] or "unknown (not a git checkout)"
    if git["dirty"]:
        commit += " (dirty: uncommitted changes to tracked files)"
    elif git["dirty"] is False:
        commit += " (clean)"
    c = m["cpu"]
    lines = [
        f"# command: {command or command_line()}",
        f"# git commit: {commit}",
        f"# date: {utc_now()}",
        f"# cpu: {c['model']}, {c['cores']} cores, flags: {' '.join(c['flags']) or 'none of ' + ' '.join(RELEVANT_CPU_FLAGS)}",
        f"# torch: {m['torch']} (CPU capability {m['torch_cpu_capability']}), {m['threads']} threads; "
        f"python {m['python']}" + (f"; gpu: {m['gpu']}" if "gpu" in m else ""),
    ]
    return lines


def write_record(
    path: Union[str, Path], body: str, *, command: Optional[str] = None, header: Optional[List[str]] = None
) -> Path:
    """Write a benchmark record atomically: the provenance header (``header``, else taken now),
    then ``body`` (the table the script printed). Returns the path."""
    from ..utils import write_text

    text = "\n".join(header or header_lines(command)) + "\n" + body.rstrip("\n") + "\n"
    return write_text(Path(path), text)


class Report:
    """Collects what a benchmark prints, so the same text goes to the console and into its record.

    The provenance header is taken when the Report is made, so a script makes it before it
    measures: the record names the code that ran, even if the checkout changes while it runs.

    >>> out = Report()                # at the start: commit, clean or not, date, machine
    >>> out("pipeline  images/s")   # printed now, kept for the record
    >>> out.write("results/benchmarks/x.txt")
    """

    def __init__(self, command: Optional[str] = None) -> None:
        self.lines: List[str] = []
        self.header = header_lines(command)

    def __call__(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def write(self, path: Union[str, Path, None]) -> Optional[Path]:
        """Write the record (nothing when ``path`` is empty or ``-``); says where it went."""
        if not path or str(path) == "-":
            return None
        written = write_record(path, self.text, header=self.header)
        print(f"record written to {written}")
        return written


def environment(device: torch.device) -> Dict[str, Any]:
    """Versions, device, machine and git commit of the code that produced a run
    (``ltkit.runs.provenance``: the same facts the benchmark records carry)."""
    from .._version import __version__
    from .provenance import git_state

    c, git = cpu(), git_state()
    env: Dict[str, Any] = {
        "ltkit": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else c["model"],
        "cpu": c["model"],
        "cpu_cores": c["cores"],
        "cpu_flags": c["flags"],
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "num_threads": torch.get_num_threads(),
        "git_commit": git_commit(git),
        "git_dirty": git["dirty"],
    }
    return env


def git_commit(state: Union[Dict[str, Any], None] = None) -> Union[str, None]:
    """The commit of the ltkit checkout (with ``+dirty`` if it has uncommitted changes), or None."""
    from .provenance import git_state

    state = state or git_state()
    if state["commit"] is None:
        return None
    return state["commit"] + ("+dirty" if state["dirty"] else "")
