"""Where a batch's runs execute: ``submitit`` jobs, on Slurm or as local processes.

``python -m ltkit.batch RECIPE --executor slurm`` makes each run one Slurm job through
`submitit <https://github.com/facebookincubator/submitit>`_; ``--executor submitit-local``
runs the same jobs as local processes (what the tests use, and a way to check a recipe before
a cluster sees it). The default executor, ``threads``, runs them on threads of this process.

A job executes its run's notebook with papermill, exactly as the local batch does (``ltkit.batch.execute.run_one``),
so every promise of the batch holds: a complete run is skipped before it is submitted, a failing run is recorded with its error and the job's log file, a run
folder another process holds is reported as "running elsewhere". A job that reaches its time
limit or is pre-empted is requeued by submitit's checkpointing hook and continues from its run
folder's checkpoint, as any rerun does.

Resources (``ltkit.batch.resources``) come from the recipe's ``cluster`` mapping, overridden by
command-line flags. A run with ``gpus > 1`` gets that many GPUs in one job (one task); its
notebook starts torchrun inside the job as it does on a workstation. The job logs and submitit's files live under
``output_root/submitit/<job id>``.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import submitit

from .execute import STOP_GRACE_S, error_text, interrupt_kernels, result_row, run_one
from .recipe import RunSpec
from .resources import Resources

EXECUTORS = ("threads", "submitit-local", "slurm")


#: local jobs have no scheduler's limit; submitit's own default (2 minutes) would kill real runs
LOCAL_TIME_MIN = 7 * 24 * 60


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
        return submitit.AutoExecutor(
            folder=str(Path(folder) / "%j"), cluster="local" if kind == "submitit-local" else "slurm"
        )
    except RuntimeError as e:  # no srun / sbatch here
        raise ValueError(
            f"--executor {kind}: {e} (Slurm's sbatch and srun must be on PATH; "
            "--executor submitit-local runs the same jobs on this machine)"
        ) from None


def job_parameters(kind: str, res: Resources, name: str, gpus: int) -> Dict[str, Any]:
    """The submitit parameters of one run's job."""
    if res.gpus is not None:
        gpus = res.gpus
    params: Dict[str, Any] = dict(
        name=name,
        nodes=1,
        tasks_per_node=1,
        gpus_per_node=gpus,
        timeout_min=res.time_min or (LOCAL_TIME_MIN if kind == "submitit-local" else 60),
    )
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
    """One run as a submitit job: executes its notebook (``ltkit.batch.execute.run_one``) and returns the
    batch's row for it. Checkpointable: on a time limit or pre-emption submitit requeues the same
    call, which resumes the run from its folder."""

    def __init__(self, spec: Any, notebook: Path, kernel: str, root: Path):
        self.spec, self.notebook, self.kernel, self.root = spec, Path(notebook), kernel, Path(root)

    def __call__(self) -> Dict[str, Any]:
        return run_one(self.spec, self.notebook, self.kernel, self.root)


def submit(
    executor: submitit.Executor, kind: str, res: Resources, spec: Any, notebook: Path, kernel: str, root: Path
) -> submitit.Job:
    """Submit one run: ``run_one(spec, notebook, kernel, root)`` (``ltkit.batch.execute.run_one``) in a job."""
    executor.update_parameters(**job_parameters(kind, res, spec.name, run_gpus(spec.config)))
    return executor.submit(NotebookJob(spec, notebook, kernel, root))


def _log_path(job: submitit.Job) -> str:
    try:
        return str(job.paths.stderr)
    except Exception:  # noqa: BLE001 - a job without paths still gets a row
        return ""


def run_jobs(
    kind: str,
    specs: List[Any],
    notebook: Path,
    kernel: str,
    root: Path,
    folder: Path,
    res: Resources,
    limit: Optional[int],
    on_row: Callable[[Dict[str, Any]], None],
    *,
    poll_s: float = 2.0,
) -> None:
    """Submit ``specs`` as jobs (at most ``limit`` in flight; None: all at once), wait, and call
    ``on_row`` with each run's row as its job ends. On KeyboardInterrupt the jobs in flight are
    cancelled and reported ``interrupted``, the ones not submitted ``not started``; then it re-raises."""
    executor = make_executor(kind, folder)
    queue, inflight = list(specs), {}
    try:
        while queue or inflight:
            while queue and (limit is None or len(inflight) < limit):
                spec = queue.pop(0)
                inflight[submit(executor, kind, res, spec, notebook, kernel, root)] = (spec, time.perf_counter())
            for job in [j for j in inflight if j.done()]:
                spec, t0 = inflight.pop(job)
                try:
                    row = job.result()
                except Exception as e:  # noqa: BLE001 - the job itself died: record it, go on
                    row = result_row(spec, "failed", time.perf_counter() - t0, error_text(e), None)
                row["log"] = _log_path(job)
                on_row(row)
            if inflight:
                time.sleep(poll_s)
    except KeyboardInterrupt:
        for job, (spec, t0) in inflight.items():
            job.cancel(check=False)
            on_row(
                dict(result_row(spec, "interrupted", time.perf_counter() - t0, "interrupted", None), log=_log_path(job))
            )
        for spec in queue:
            on_row(result_row(spec, "not started", 0.0, "", None))
        raise


def run_threads(todo: List[RunSpec], notebook: Path, kernel: str, root: Path, jobs: int, on_row) -> None:
    """Run ``todo`` on ``jobs`` threads (one papermill kernel each). On KeyboardInterrupt: stop
    launching, interrupt the running kernels, give them ``STOP_GRACE_S`` to stop (their runs record
    themselves as interrupted), report the rest ``interrupted`` / ``not started``, re-raise (a
    thread still in its notebook then ends with the process, and its kernel with it)."""
    pool = ThreadPoolExecutor(max_workers=jobs)
    futures = {pool.submit(run_one, s, notebook, kernel, root): s for s in todo}
    reported = set()
    try:
        for fut in as_completed(futures):
            reported.add(fut)
            on_row(fut.result())
    except KeyboardInterrupt:
        for fut in futures:
            fut.cancel()  # the ones not started yet
        interrupt_kernels()
        deadline = time.monotonic() + STOP_GRACE_S
        while not all(f.done() for f in futures) and time.monotonic() < deadline:
            time.sleep(0.2)
        for f, spec in futures.items():
            if f.cancelled():
                on_row(result_row(spec, "not started", 0.0, "", None))
            elif not f.done():
                on_row(
                    result_row(
                        spec, "interrupted", 0.0, f"still stopping after {STOP_GRACE_S:g} s; ended with the batch", None
                    )
                )
            elif f not in reported:  # "interrupted" (its kernel's KeyboardInterrupt), or it had just finished
                on_row(f.result())
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
