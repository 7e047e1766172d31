"""Running a recipe: skip what is complete, execute the rest, write the summary, then the reports.

Execution: a run whose ``run.json`` is complete (``ltkit.runs.record.is_complete``) and whose
recorded parameters are this run's (``Schema.matches``, the rule the runner uses too) is
skipped, so a batch can simply be started again after a crash or a fix; a complete record
whose parameters differ from the recipe's is run again (the runner then re-evaluates, or
refuses with an error naming the difference). A failing run is
recorded with its error and the batch goes on. ``--jobs N`` runs N notebooks at once (one
kernel each). ``--devices 0,1`` pins the runs that execute, in recipe order, round-robin to
GPUs by setting their ``device`` parameter to ``cuda:0``, ``cuda:1``, ``cuda:0``, ... (this
overrides any ``device`` in the recipe; use ``--jobs`` = number of devices for one run per
GPU). At the end a summary (name, status ``done`` / ``skipped`` / ``failed``, seconds, error)
is printed and written to ``output_root/batch.json`` and ``output_root/batch.md``. While the
batch runs, those files hold the summary so far (the runs still to finish ``pending``), written
at the start and after each run: a batch killed outright leaves them saying how far it got.

``--report`` then executes each report notebook with the parameter ``results_dir =
output_root`` into ``output_root/reports/<notebook name>``; a report notebook that has an
``output_dir`` parameter (tables.ipynb, figures.ipynb) also gets ``output_dir =
output_root/reports``, so a batch's tables and figures stay with it (a smoke batch never
overwrites ``results/tables``). A missing report notebook is a warning. ``--dry-run`` prints
the runs (and whether each would run or be skipped) and executes nothing.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from .execute import (
    DEFAULT_KERNEL,
    check_kernel,
    declared_parameters,
    error_text,
    execute_notebook,
    result_row,
    run_state,
    signals_as_interrupt,
)
from .recipe import (
    PathLike,
    Recipe,
    RunSpec,
    assign_devices,
    expand,
    load_recipe,
    parse_devices,
)
from .summary import format_summary, write_summary


def _print_dry_run(recipe: Recipe, specs: List[RunSpec], states: Dict[str, str], root: Path) -> List[Dict[str, Any]]:
    word = {"pending": "run", "stale": "run (record has other parameters)", "complete": "skip (complete)"}
    nb = root / recipe.notebook
    print(
        f"{recipe.path}: {len(specs)} run(s) of {recipe.notebook} -> {recipe.output_root}"
        + ("" if nb.is_file() else f"  [warning: notebook not found: {recipe.notebook}]")
    )
    rows = []
    for s in specs:
        params = ", ".join(f"{k}={v!r}" for k, v in s.parameters.items() if k != type(s.config).FOLDER_FIELD)
        shown = word[states[s.name]]
        if states[s.name] == "complete" and s.kept_dir and not Path(s.output_dir, "run.json").is_file():
            shown = f"skip (kept in {s.kept_dir})"
        print(f"  {s.name}: {shown}  {s.output_dir}  {params}")
        rows.append(
            {
                "name": s.name,
                "status": "would skip" if states[s.name] == "complete" else "would run",
                "output_dir": s.output_dir,
                "parameters": dict(s.parameters),
            }
        )
    if recipe.report:
        print(f"  report notebooks (with --report): {', '.join(recipe.report)}")
    return rows


#: seconds between two looks at the running runs' progress (the bar's epoch, loss and time left)
PROGRESS_S = 10.0


def running_text(specs: List[RunSpec], done: Dict[str, Any], root: Path) -> List[str]:
    """One short line per run of ``specs`` not in ``done`` that trains now: its name, epoch, last
    loss and time left, from the ``progress`` its runner writes into ``run.json`` every epoch."""
    from ..runs.record import read_run

    lines = []
    for spec in specs:
        folder = _abs(spec.output_dir, root)
        if spec.name in done or not (folder / "run.json").is_file():
            continue
        try:
            rec = read_run(folder)
        except (OSError, ValueError):  # being replaced right now: next time
            continue
        prog = rec.get("progress") or {}
        if rec.get("status") != "running" or not prog.get("epoch"):
            continue
        text = f"{spec.name} epoch {prog['epoch']}/{prog.get('epochs', '?')}"
        if prog.get("loss") is not None:
            text += f" loss {prog['loss']:.3f}"
        if prog.get("eta_s") is not None:
            text += f" {prog['eta_s'] / 60:.0f} min left"
        lines.append(text)
    return lines


class _Every:
    """Within the block, call ``fn`` every ``seconds`` on a daemon thread."""

    def __init__(self, seconds: float, fn) -> None:
        self.seconds, self.fn, self.stop = seconds, fn, threading.Event()

    def _loop(self) -> None:
        while not self.stop.wait(self.seconds):
            try:
                self.fn()
            except Exception:  # noqa: BLE001 - a progress line must never stop a batch
                pass

    def __enter__(self):
        threading.Thread(target=self._loop, daemon=True).start()
        return self

    def __exit__(self, *exc) -> bool:
        self.stop.set()
        return False


def run_recipe(
    recipe_path: PathLike,
    jobs: Optional[int] = None,
    devices=None,
    report: bool = False,
    kernel: str = DEFAULT_KERNEL,
    dry_run: bool = False,
    executor: str = "threads",
    cluster: Optional[Dict[str, Any]] = None,
) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    from .executors import EXECUTORS, run_jobs, run_threads
    from .resources import parse_resources

    if executor not in EXECUTORS:
        raise ValueError(f"--executor: {executor!r} is not one; choose from {', '.join(EXECUTORS)}")
    if jobs is not None and jobs < 1:
        raise ValueError(f"--jobs: must be >= 1, got {jobs}")
    if devices is not None and executor != "threads":
        raise ValueError(
            "--devices pins runs to this machine's GPUs; with a submitit executor each job gets its "
            "own GPUs (cluster: gpus, or the run's gpus)"
        )
    devices = parse_devices(devices)
    root = Path.cwd()
    recipe = load_recipe(recipe_path)
    cluster = dict(cluster or {})
    if "sbatch" in cluster:  # flags add to the recipe's sbatch options
        cluster["sbatch"] = {**(recipe.cluster.get("sbatch") or {}), **cluster["sbatch"]}
    resources = parse_resources({**recipe.cluster, **cluster}, f"{recipe.path}: cluster")
    specs = expand(recipe)
    states = {s.name: run_state(s) for s in specs}
    todo = assign_devices([s for s in specs if states[s.name] != "complete"], devices)
    by_name = {s.name: s for s in todo}
    specs = [by_name.get(s.name, s) for s in specs]
    if dry_run:
        return _print_dry_run(recipe, specs, states, root), []

    notebook = root / recipe.notebook
    if todo and not notebook.is_file():
        raise FileNotFoundError(f"notebook not found: {recipe.notebook} (recipe {recipe.path}, cwd {root})")
    if todo or (report and recipe.report):
        check_kernel(kernel)

    from tqdm.auto import tqdm

    rows: Dict[str, Dict[str, Any]] = {}
    for s in specs:
        if states[s.name] == "complete":
            rows[s.name] = result_row(s, "skipped", 0.0, "", Path(s.output_dir) / notebook.name)
    bar = tqdm(total=len(specs), initial=len(rows), desc=Path(recipe.path).stem, unit="run", file=sys.stderr)
    counts = {"failed": 0}
    out_root = _abs(recipe.output_root, root)

    def postfix() -> str:
        return f"failed={counts['failed']}" + "".join(f"; {text}" for text in running_text(todo, rows, root))

    since = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())

    def so_far(missing: str) -> List[Dict[str, Any]]:
        """One row per run in recipe order; a run with no result yet has the status ``missing``."""
        return [rows.get(s.name) or result_row(s, missing, 0.0, "", None) for s in specs]

    def write_progress() -> None:
        """The summary so far, so that batch.md is current even after a batch that was killed outright."""
        title = f"batch {recipe.path} (in progress since {since}; each run's epoch: ltkit status {recipe.output_root})"
        write_summary(out_root, so_far("pending"), title)

    def on_row(row: Dict[str, Any]) -> None:
        rows[row["name"]] = row
        counts["failed"] += row["status"] == "failed"
        bar.set_postfix_str(postfix())
        bar.update(1)
        write_progress()

    watch = _Every(PROGRESS_S, lambda: bar.set_postfix_str(postfix()))
    if todo:
        write_progress()
    try:
        with signals_as_interrupt(), watch:
            if executor == "threads":
                run_threads(todo, notebook, kernel, root, jobs or 1, on_row)
            else:
                run_jobs(
                    executor,
                    todo,
                    notebook,
                    kernel,
                    root,
                    out_root / "submitit",
                    resources,
                    jobs if jobs is not None else (1 if executor == "submitit-local" else None),
                    on_row,
                )
    except KeyboardInterrupt:
        bar.close()
        ordered = so_far("not started")
        write_summary(out_root, ordered, f"batch {recipe.path} (interrupted)")
        print(
            format_summary(
                ordered, f"batch {recipe.path} -> {recipe.output_root} (interrupted; run it again to resume)"
            ),
            flush=True,
        )
        raise
    bar.close()
    ordered = [rows[s.name] for s in specs]
    write_summary(out_root, ordered, f"batch {recipe.path}")
    print(format_summary(ordered, f"batch {recipe.path} -> {recipe.output_root}"))

    report_rows: List[Dict[str, Any]] = []
    if report:
        report_rows = run_reports(recipe, kernel=kernel, root=root)
    return ordered, report_rows


def _abs(p: str, root: Path) -> Path:
    p = Path(p)
    return p if p.is_absolute() else root / p


def run_reports(recipe: Recipe, kernel: str = DEFAULT_KERNEL, root: Optional[Path] = None) -> List[Dict[str, Any]]:
    """Execute the recipe's report notebooks with ``results_dir = output_root`` (and, when the
    notebook has an ``output_dir`` parameter, ``output_dir = output_root/reports``) into
    ``output_root/reports/``; a missing notebook is a warning (status ``missing``)."""
    root = root or Path.cwd()
    out = _abs(recipe.output_root, root) / "reports"
    rows = []
    for rel in recipe.report:
        nb = _abs(rel, root)
        row = {"name": rel, "status": "done", "seconds": 0.0, "error": "", "notebook": str(out / nb.name)}
        if not nb.is_file():
            print(f"warning: report notebook not found: {rel}; skipped", file=sys.stderr)
            row.update(status="missing", error=f"not found: {rel}", notebook="")
            rows.append(row)
            continue
        t0 = time.perf_counter()
        try:
            params = {"results_dir": recipe.output_root}
            if "output_dir" in declared_parameters(nb):  # keep the batch's tables/figures with it
                params["output_dir"] = str(Path(recipe.output_root) / "reports")
            execute_notebook(nb, out / nb.name, params, kernel, root)
        except Exception as e:  # noqa: BLE001 - reported, the others still run
            row.update(status="failed", error=error_text(e))
        row["seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
    print(format_summary(rows, "reports"))
    return rows


def run_batch(
    recipe_path: PathLike,
    jobs: Optional[int] = None,
    devices=None,
    report: bool = False,
    kernel: str = DEFAULT_KERNEL,
    dry_run: bool = False,
    executor: str = "threads",
    cluster: Optional[Dict[str, Any]] = None,
) -> List[Dict[str, Any]]:
    """Run a recipe; returns one dict per run (``name``, ``status`` done / skipped / failed /
    running elsewhere, ``seconds``, ``error``, ``output_dir``, ``notebook`` (the executed copy),
    ``device``; ``log``: the job's log file with a submitit executor).

    ``executor``: ``threads`` (here, ``jobs`` at once, default 1), ``submitit-local`` (local
    processes through submitit, ``jobs`` at once, default 1) or ``slurm`` (one Slurm job per run,
    ``jobs`` in flight, default all; ``cluster`` overrides the recipe's ``cluster`` resources).
    ``devices``: GPU indices (``[0, 1]`` or ``"0,1"``) to pin the runs to, round-robin (threads
    only). With ``dry_run`` nothing executes; the dicts then hold ``name``, ``status`` (``would run``
    / ``would skip``), ``output_dir`` and ``parameters``. Paths are relative to the cwd. Ctrl-C or
    SIGTERM raises :class:`BatchInterrupted` after the summary is written.
    """
    rows, _ = run_recipe(
        recipe_path,
        jobs=jobs,
        devices=devices,
        report=report,
        kernel=kernel,
        dry_run=dry_run,
        executor=executor,
        cluster=cluster,
    )
    return rows
