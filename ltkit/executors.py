"""Where a batch's runs execute: ``submitit`` jobs, on Slurm or as local processes.

``python -m ltkit.batch RECIPE --executor slurm`` makes each run one Slurm job through
`submitit <https://github.com/facebookincubator/submitit>`_; ``--executor submitit-local``
runs the same jobs as local processes (what the tests use, and a way to check a recipe before
a cluster sees it). The default executor, ``threads``, lives in ``ltkit.batch``.

A job executes its run's notebook with papermill, exactly as the local batch does (the
batch hands in its ``_run_one``), so every promise of the batch holds: a complete run is skipped
before it is submitted, a failing run is recorded with its error and the job's log file, a run
folder another process holds is reported as "running elsewhere". A job that reaches its time
limit or is pre-empted is requeued by submitit's checkpointing hook and continues from its run
folder's checkpoint, as any rerun does.

Resources come from the recipe's ``cluster`` mapping, overridden by command-line flags::

    cluster:
      partition: gpu              # Slurm partition
      time: "12:00:00"            # time limit per job: minutes, "HH:MM:SS" or "D-HH:MM:SS" (default 60 min on Slurm)
      gpus: 1                     # GPUs per job; default: the run's own `gpus` (1 when it has none)
      cpus: 8                     # CPUs per job (cpus-per-task)
      mem_gb: 64
      sbatch: {account: lab, constraint: a100}   # any further sbatch option
      setup: ["module load cuda", "source ~/venvs/ltkit/bin/activate"]   # shell lines before the job

A run with ``gpus > 1`` gets that many GPUs in one job (one task); its notebook starts torchrun
inside the job as it does on a workstation. The job logs and submitit's files live under
``output_root/submitit/<job id>``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import submitit

EXECUTORS = ("threads", "submitit-local", "slurm")
CLUSTER_KEYS = ("partition", "time", "gpus", "cpus", "mem_gb", "sbatch", "setup")
#: local jobs have no scheduler's limit; submitit's own default (2 minutes) would kill real runs
LOCAL_TIME_MIN = 7 * 24 * 60


@dataclass
class Resources:
    partition: str = ""
    time_min: Optional[int] = None
    gpus: Optional[int] = None
    cpus: Optional[int] = None
    mem_gb: Optional[float] = None
    sbatch: Dict[str, Any] = field(default_factory=dict)
    setup: List[str] = field(default_factory=list)


def parse_time(value: Any, where: str = "time") -> int:
    """Minutes from an int, or Slurm's "MM", "HH:MM:SS", "D-HH:MM:SS" / "D-HH:MM"."""
    if isinstance(value, bool):
        raise ValueError(f"{where}: expected minutes or \"HH:MM:SS\", got {value!r}")
    if isinstance(value, (int, float)) and value > 0:
        return int(value)
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", str(value).strip())
    if not m:
        raise ValueError(f"{where}: expected minutes or \"HH:MM:SS\" / \"D-HH:MM:SS\", got {value!r}")
    days, a, b, c = (int(x) if x else None for x in m.groups())
    if days is None and b is None:  # plain minutes
        minutes = a
    elif c is None and days is None:  # MM:SS
        minutes = a + (b > 0)
    else:  # [D-]HH:MM[:SS]
        minutes = (days or 0) * 1440 + a * 60 + (b or 0) + ((c or 0) > 0)
    if minutes <= 0:
        raise ValueError(f"{where}: the time limit must be positive, got {value!r}")
    return minutes


def parse_resources(raw: Any, where: str = "cluster") -> Resources:
    """The recipe's ``cluster`` mapping (see the module docstring), checked."""
    if raw is None:
        return Resources()
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a mapping of {', '.join(CLUSTER_KEYS)}, got {raw!r}")
    unknown = sorted(set(raw) - set(CLUSTER_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; valid keys: {', '.join(CLUSTER_KEYS)}")
    res = Resources()
    if raw.get("partition") is not None:
        res.partition = str(raw["partition"])
    if raw.get("time") is not None:
        res.time_min = parse_time(raw["time"], f"{where}.time")
    for key in ("gpus", "cpus"):
        v = raw.get(key)
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if key == "gpus" else 1):
                raise ValueError(f"{where}.{key}: expected a whole number >= {0 if key == 'gpus' else 1}, got {v!r}")
            setattr(res, key, v)
    if raw.get("mem_gb") is not None:
        v = raw["mem_gb"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            raise ValueError(f"{where}.mem_gb: expected a positive number, got {v!r}")
        res.mem_gb = float(v)
    sbatch = raw.get("sbatch") or {}
    if not isinstance(sbatch, dict):
        raise ValueError(f"{where}.sbatch: expected a mapping option -> value (e.g. {{account: lab}}), got {sbatch!r}")
    res.sbatch = {str(k).lstrip("-").replace("-", "_"): v for k, v in sbatch.items()}
    setup = raw.get("setup") or []
    if isinstance(setup, str):
        setup = [setup]
    if not isinstance(setup, list) or not all(isinstance(s, str) for s in setup):
        raise ValueError(f"{where}.setup: expected a list of shell lines, got {setup!r}")
    res.setup = list(setup)
    return res


def run_gpus(config: Any) -> int:
    """GPUs one run needs: its ``gpus`` (torchrun inside the job when > 1); 0 for a CPU run."""
    device = str(getattr(config, "device", "auto"))
    if device == "cpu":
        return 0
    return int(getattr(config, "gpus", 1) or 1)


def make_executor(kind: str, folder: Path) -> submitit.Executor:
    if kind not in ("submitit-local", "slurm"):
        raise ValueError(f"executor: {kind!r} is not a submitit executor; choose from {', '.join(EXECUTORS)}")
    try:
        return submitit.AutoExecutor(folder=str(Path(folder) / "%j"),
                                     cluster="local" if kind == "submitit-local" else "slurm")
    except RuntimeError as e:  # no srun / sbatch here
        raise ValueError(f"--executor {kind}: {e} (Slurm's sbatch and srun must be on PATH; "
                         "--executor submitit-local runs the same jobs on this machine)") from None


def job_parameters(kind: str, res: Resources, name: str, gpus: int) -> Dict[str, Any]:
    """The submitit parameters of one run's job."""
    if res.gpus is not None:
        gpus = res.gpus
    params: Dict[str, Any] = dict(name=name, nodes=1, tasks_per_node=1, gpus_per_node=gpus,
                                  timeout_min=res.time_min or (LOCAL_TIME_MIN if kind == "submitit-local" else 60))
    if kind == "slurm":
        if res.cpus:
            params["cpus_per_task"] = res.cpus
        if res.mem_gb:
            params["mem_gb"] = res.mem_gb
        if res.partition:
            params["slurm_partition"] = res.partition
        if res.sbatch:
            params["slurm_additional_parameters"] = dict(res.sbatch)
        if res.setup:
            params["slurm_setup"] = list(res.setup)
    elif res.setup:
        params["local_setup"] = list(res.setup)
    return params


class NotebookJob(submitit.helpers.Checkpointable):
    """One run as a submitit job: executes its notebook (``ltkit.batch._run_one``) and returns the
    batch's row for it. Checkpointable: on a time limit or pre-emption submitit requeues the same
    call, which resumes the run from its folder."""

    def __init__(self, run_one: Callable[..., Dict[str, Any]], spec: Any, notebook: Path, kernel: str, root: Path):
        self.run_one, self.spec, self.notebook, self.kernel, self.root = run_one, spec, Path(notebook), kernel, Path(root)

    def __call__(self) -> Dict[str, Any]:
        return self.run_one(self.spec, self.notebook, self.kernel, self.root)


def submit(executor: submitit.Executor, kind: str, res: Resources, spec: Any, notebook: Path, kernel: str,
           root: Path, run_one: Callable[..., Dict[str, Any]]) -> submitit.Job:
    """Submit one run: ``run_one(spec, notebook, kernel, root)`` (``ltkit.batch._run_one``) in a job."""
    executor.update_parameters(**job_parameters(kind, res, spec.name, run_gpus(spec.config)))
    return executor.submit(NotebookJob(run_one, spec, notebook, kernel, root))


def _log_path(job: submitit.Job) -> str:
    try:
        return str(job.paths.stderr)
    except Exception:  # noqa: BLE001 - a job without paths still gets a row
        return ""


def run_jobs(kind: str, specs: List[Any], notebook: Path, kernel: str, root: Path, folder: Path, res: Resources,
             limit: Optional[int], on_row: Callable[[Dict[str, Any]], None], *,
             run_one: Callable[..., Dict[str, Any]], row_for: Callable[..., Dict[str, Any]],
             error_text: Callable[[BaseException], str], poll_s: float = 2.0) -> None:
    """Submit ``specs`` as jobs (at most ``limit`` in flight; None: all at once), wait, and call
    ``on_row`` with each run's row as its job ends. On KeyboardInterrupt the jobs in flight are
    cancelled and reported ``interrupted``, the ones not submitted ``not started``; then it re-raises."""
    executor = make_executor(kind, folder)
    queue, inflight = list(specs), {}
    try:
        while queue or inflight:
            while queue and (limit is None or len(inflight) < limit):
                spec = queue.pop(0)
                inflight[submit(executor, kind, res, spec, notebook, kernel, root, run_one)] = (spec, time.perf_counter())
            for job in [j for j in inflight if j.done()]:
                spec, t0 = inflight.pop(job)
                try:
                    row = job.result()
                except Exception as e:  # noqa: BLE001 - the job itself died: record it, go on
                    row = row_for(spec, "failed", time.perf_counter() - t0, error_text(e), None)
                row["log"] = _log_path(job)
                on_row(row)
            if inflight:
                time.sleep(poll_s)
    except KeyboardInterrupt:
        for job, (spec, t0) in inflight.items():
            job.cancel(check=False)
            on_row(dict(row_for(spec, "interrupted", time.perf_counter() - t0, "interrupted", None), log=_log_path(job)))
        for spec in queue:
            on_row(row_for(spec, "not started", 0.0, "", None))
        raise
