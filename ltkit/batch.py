"""``python -m ltkit.batch RECIPE.yaml``: run a grid of parameterized notebooks with papermill.

A *recipe* (YAML) names a notebook and a set of parameter points; every point is one run,
executed headlessly with papermill into its own folder ``output_root/<name>/``, where the
executed notebook lives beside the run record (``run.json``) the notebook writes.

Recipe format (top-level keys; anything else is an error)::

    description: free text (optional, ignored)
    notebook: notebooks/train_classification.ipynb     # default; relative to the cwd (repo root)
    output_root: results/runs/smoke                    # required; run i goes to output_root/<name_i>
    kept: results/reproductions/cifar10_lt             # optional: the committed records; a run whose
                                                       # record is complete there is skipped too
    name: "{dataset}-r{imb_ratio:g}-{classifier}-s{seed}"   # a str.format over the run's parameters
    base:                                              # parameters common to every run
      dataset: synthetic_lt
      epochs: 3
    cases:                                             # optional: a list of parameter dicts
      - {preset: cifar10_lt_tde, data_root: data/cifar10}
      - {preset: cifar100_lt_tde, data_root: data/cifar100}
    grid:                                              # param -> list of values: the Cartesian product
      imb_ratio: [100, 50, 10]
      seed: [0, 1, 2]
    report: [notebooks/tables.ipynb, notebooks/figures.ipynb]   # default; [] for none

The runs are ``cases x grid``: every case is combined with every grid point (no ``cases``
means one empty case, no ``grid`` means one empty point), and the parameters of a run are
``base``, updated by its case, updated by its grid point. A parameter may not be set by both a
case and the grid (ambiguous). ``grid`` may also be a *list* of grids: the runs are then the
union of their products, which adds combinations outside one rectangular grid, e.g.
``grid: [{classifier: [linear, causal_norm], seed: [0, 1]}, {classifier: [tau_norm], seed: [0]}]``.

Which parameters a recipe takes is the notebook's *schema*, named by a ``schema:<name>`` tag on
its parameters cell (``ltkit.config.SCHEMAS``: ``classification`` -> ``RunConfig``, ``lvis`` ->
``LVISRunConfig``; a parameters cell without the tag is a classification notebook). Parameter
names must be the schema's fields (or ``preset``, for ``RunConfig``); every point is checked at
load time by building its schema object (``Schema.resolve``), so a bad name or value fails
before anything runs. ``name`` is formatted with the
run's *resolved* configuration (preset values included) plus ``preset`` ("" when none);
names must be unique and be a single folder name. The run folder field (``output_dir``;
``work_dir`` for LVIS) is set by the batch (``output_root/<name>``) and passed to the notebook
with the recipe's parameters; only the parameters the recipe sets are passed (the notebook's
own defaults apply to the rest).

Execution: a run whose ``run.json`` is complete (``ltkit.results.is_complete``) and whose
recorded parameters are this run's (``Schema.matches``, the rule the runner uses too) is
skipped, so a batch can simply be started again after a crash or a fix; a complete record
whose parameters differ from the recipe's is run again (the runner then re-evaluates, or
refuses with an error naming the difference). A failing run is
recorded with its error and the batch goes on. ``--jobs N`` runs N notebooks at once (one
kernel each). ``--devices 0,1`` pins the runs that execute, in recipe order, round-robin to
GPUs by setting their ``device`` parameter to ``cuda:0``, ``cuda:1``, ``cuda:0``, ... (this
overrides any ``device`` in the recipe; use ``--jobs`` = number of devices for one run per
GPU). At the end a summary (name, status ``done`` / ``skipped`` / ``failed``, seconds, error)
is printed and written to ``output_root/batch.json`` and ``output_root/batch.md``.

``--report`` then executes each report notebook with the parameter ``results_dir =
output_root`` into ``output_root/reports/<notebook name>``; a report notebook that has an
``output_dir`` parameter (tables.ipynb, figures.ipynb) also gets ``output_dir =
output_root/reports``, so a batch's tables and figures stay with it (a smoke batch never
overwrites ``results/tables``). A missing report notebook is a warning. ``--dry-run`` prints
the runs (and whether each would run or be skipped) and executes nothing.

LVIS recipes (``notebook: notebooks/train_lvis.ipynb``) take ``LVISRunConfig``'s fields
(config, data_root, gpus, alpha, eval_only, ...); ``name`` may also use ``{config_name}`` (the
config with ``/`` turned into ``-``). Its alpha, max_epochs and samples_per_gpu left unset
match whatever value a complete run recorded. Multi-GPU is the ``gpus`` parameter (torchrun),
not ``--devices``.

Exit status: 0 when every run (and report) succeeded, 1 when one failed, 2 for a bad recipe,
a missing file or a missing kernel.

Python API: ``load_recipe(path)``, ``expand(recipe)``, ``run_batch(recipe_path, jobs=1,
devices=None, report=False, kernel="ltkit", dry_run=False)``.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
import time
import weakref
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from .config import SCHEMAS, RunConfig
from .schema import Schema, key_values

DEFAULT_NOTEBOOK = "notebooks/train_classification.ipynb"
DEFAULT_REPORTS = ("notebooks/tables.ipynb", "notebooks/figures.ipynb")
DEFAULT_NAME = "{dataset}-r{imb_ratio:g}-{backbone}-{classifier}-{loss}-s{seed}"
DEFAULT_KERNEL = "ltkit"
RECIPE_KEYS = ("description", "notebook", "output_root", "kept", "name", "base", "cases", "grid", "report", "cluster")
#: seconds an interrupted batch gives its running notebooks to stop before it exits anyway
STOP_GRACE_S = 15.0

PathLike = Union[str, Path]


# ---------------------------------------------------------------------------- the recipe
@dataclass(frozen=True)
class RunSpec:
    """One run of a batch: its name, folder and the notebook parameters (``output_dir`` included)."""

    name: str
    output_dir: str
    parameters: Dict[str, Any]
    #: the resolved schema object (preset applied, run folder set), for skip checks and display
    config: Optional[Schema] = field(default=None, repr=False, compare=False)
    #: where this run's committed record would be (the recipe's ``kept`` folder / name), or None
    kept_dir: Optional[str] = None


@dataclass(frozen=True)
class Recipe:
    path: str
    notebook: str
    output_root: str
    name: str
    base: Dict[str, Any]
    cases: List[Dict[str, Any]]
    grids: List[Dict[str, List[Any]]]
    report: List[str]
    description: str = ""
    #: the ``cluster`` mapping (``ltkit.executors.parse_resources``): Slurm resources per job
    cluster: Dict[str, Any] = field(default_factory=dict)
    #: a folder of committed records (``kept``): a run complete there is not run again
    kept: str = ""


def notebook_schema(notebook: PathLike) -> type:
    """The schema of a parameterized notebook: the ``schema:<name>`` tag of its parameters cell
    (``ltkit.config.SCHEMAS``); ``RunConfig`` when the cell has none or the file is missing (a
    missing notebook is reported when the batch would execute it)."""
    import json

    path = Path(notebook)
    try:
        cells = json.loads(path.read_text()).get("cells", [])
    except FileNotFoundError:
        return RunConfig
    except (OSError, ValueError) as e:
        raise ValueError(f"notebook {notebook}: not readable as a notebook: {e}") from None
    for cell in cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "parameters" in tags:
            named = [t.split(":", 1)[1] for t in tags if t.startswith("schema:")]
            if not named:
                return RunConfig
            if named[0] not in SCHEMAS:
                raise ValueError(f"notebook {notebook}: its parameters cell names schema {named[0]!r}; known schemas: "
                                 f"{', '.join(SCHEMAS)}")
            return SCHEMAS[named[0]]
    return RunConfig


def _valid_parameters(schema: type) -> Tuple[str, ...]:
    return tuple(n for n in schema.field_names() if n != schema.FOLDER_FIELD) + schema.extra_parameters()


def _check_parameters(where: str, params: Dict[str, Any], recipe_path: PathLike, schema: type = RunConfig) -> None:
    valid = _valid_parameters(schema)
    for key in params:
        if key == schema.FOLDER_FIELD:
            raise ValueError(f"{recipe_path}: {where}: {key!r} is set by the batch (output_root/<name>); "
                             f"remove it from the recipe")
        if key not in valid:
            raise ValueError(f"{recipe_path}: {where}: unknown parameter {key!r}; valid parameters: "
                             f"{', '.join(valid)}")


def load_recipe(path: PathLike) -> Recipe:
    """Read and validate a recipe; every run point is checked (see the module docstring)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"recipe not found: {path}")
    with open(path) as f:
        try:
            raw = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise ValueError(f"{path}: not valid YAML: {e}") from e
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a recipe is a mapping of the keys {', '.join(RECIPE_KEYS)}; "
                         f"got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(RECIPE_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown recipe key(s) {unknown}; valid keys: {', '.join(RECIPE_KEYS)}")

    def _str(key: str, default: Optional[str]) -> str:
        v = raw.get(key, default)
        if v is None:
            raise ValueError(f"{path}: {key!r} is required")
        if not isinstance(v, str) or not v.strip():
            raise ValueError(f"{path}: {key}: expected a non-empty string, got {v!r}")
        return v

    notebook = _str("notebook", DEFAULT_NOTEBOOK)
    schema = notebook_schema(notebook)
    output_root = _str("output_root", None)
    kept = _str("kept", "") if raw.get("kept") is not None else ""
    name = _str("name", DEFAULT_NAME)
    description = raw.get("description") or ""

    base = raw.get("base") or {}
    if not isinstance(base, dict):
        raise ValueError(f"{path}: base: expected a mapping parameter -> value, got {base!r}")
    _check_parameters("base", base, path, schema)

    cases = raw.get("cases")
    if cases is None:
        cases = [{}]
    if not isinstance(cases, list) or not cases or not all(isinstance(c, dict) for c in cases):
        raise ValueError(f"{path}: cases: expected a non-empty list of mappings parameter -> value, got {cases!r}")
    for i, case in enumerate(cases):
        _check_parameters(f"cases[{i}]", case, path, schema)

    grid = raw.get("grid")
    grids = [grid] if isinstance(grid, dict) else ([{}] if grid is None else grid)
    if not isinstance(grids, list) or not grids or not all(isinstance(g, dict) for g in grids):
        raise ValueError(f"{path}: grid: expected a mapping parameter -> list of values, or a list of such "
                         f"mappings; got {grid!r}")
    for gi, g in enumerate(grids):
        where = "grid" if isinstance(grid, dict) else f"grid[{gi}]"
        _check_parameters(where, g, path, schema)
        for key, values in g.items():
            if not isinstance(values, list):
                raise ValueError(f"{path}: {where}.{key}: expected a list of values, got {values!r} "
                                 f"(put a single value under base)")
            if not values:
                raise ValueError(f"{path}: {where}.{key}: the list of values is empty")
        for i, case in enumerate(cases):
            both = sorted(set(case) & set(g))
            if both:
                raise ValueError(f"{path}: parameter(s) {both} set by both cases[{i}] and {where}; "
                                 f"set each parameter in one place")

    report = raw.get("report", list(DEFAULT_REPORTS))
    if report is None:
        report = []
    if isinstance(report, str):
        report = [report]
    if not isinstance(report, list) or not all(isinstance(r, str) and r for r in report):
        raise ValueError(f"{path}: report: expected a list of notebook paths, got {report!r}")
    stems = [Path(r).name for r in report]
    if len(set(stems)) != len(stems):
        raise ValueError(f"{path}: report: two report notebooks share a file name ({stems}); "
                         f"their executed copies would overwrite each other")

    cluster = raw.get("cluster") or {}
    from .executors import parse_resources

    parse_resources(cluster, f"{path}: cluster")
    recipe = Recipe(path=str(path), notebook=notebook, output_root=output_root, name=name, base=dict(base),
                    cases=[dict(c) for c in cases], grids=[dict(g) for g in grids], report=list(report),
                    description=str(description), cluster=dict(cluster), kept=kept)
    expand(recipe)  # validates every point, the names and their uniqueness
    return recipe


def _points(recipe: Recipe) -> List[Dict[str, Any]]:
    points = []
    for case in recipe.cases:
        for g in recipe.grids:
            keys = list(g)
            for values in itertools.product(*(g[k] for k in keys)):
                points.append({**recipe.base, **case, **dict(zip(keys, values))})
    return points


def _format_name(template: str, values: Dict[str, Any], recipe_path: str, point: Dict[str, Any]) -> str:
    try:
        name = template.format(**values)
    except KeyError as e:
        raise ValueError(f"{recipe_path}: name {template!r} uses {{{e.args[0]}}}, which is not a parameter; "
                         f"available: {', '.join(sorted(values))}") from None
    except (ValueError, IndexError, TypeError, AttributeError) as e:
        raise ValueError(f"{recipe_path}: name {template!r} does not format with the run {point}: {e}") from None
    bad = [c for c in ("/", "\\", "{", "}") if c in name]
    if not name.strip() or name in (".", "..") or bad:
        raise ValueError(f"{recipe_path}: name {template!r} gives {name!r} for the run {point}; "
                         f"a run name must be one folder name (no / \\ {{ }})")
    return name


def expand(recipe: Recipe) -> List[RunSpec]:
    """The runs of a recipe, in order (cases, then grids, then the grid product)."""
    schema = notebook_schema(recipe.notebook)
    folder = schema.FOLDER_FIELD
    specs: List[RunSpec] = []
    for point in _points(recipe):
        try:
            cfg = schema.resolve(point)
        except ValueError as e:
            raise ValueError(f"{recipe.path}: the run {point} is not a valid {schema.KIND}: {e}") from None
        values = {**cfg.name_values(), "preset": point.get("preset") or ""}
        name = _format_name(recipe.name, values, recipe.path, point)
        output_dir = str(Path(recipe.output_root) / name)
        specs.append(RunSpec(name=name, output_dir=output_dir, parameters={**point, folder: output_dir},
                             config=cfg.replace(**{folder: output_dir}),
                             kept_dir=str(Path(recipe.kept) / name) if recipe.kept else None))
    seen: Dict[str, int] = {}
    for s in specs:
        seen[s.name] = seen.get(s.name, 0) + 1
    dups = sorted(n for n, c in seen.items() if c > 1)
    if dups:
        raise ValueError(f"{recipe.path}: duplicate run name(s) {dups} from name {recipe.name!r}; "
                         f"add the parameters that differ between those runs to name")
    return specs


def assign_devices(specs: Sequence[RunSpec], devices: Optional[Sequence[Union[int, str]]]) -> List[RunSpec]:
    """Set ``device`` to ``cuda:K`` round-robin over ``devices`` (in the order of ``specs``)."""
    if not devices:
        return list(specs)
    if any(not isinstance(s.config, RunConfig) for s in specs):
        raise ValueError("--devices pins classification runs to one GPU each; LVIS runs take the `gpus` "
                         "parameter (torchrun) instead")
    multi = [s.name for s in specs if s.config.gpus > 1]
    if multi:
        raise ValueError(f"--devices pins each run to one GPU, but {multi} ask for gpus > 1 (torchrun uses "
                         "GPUs 0..gpus-1 of what CUDA_VISIBLE_DEVICES shows); drop --devices for those runs")
    out = []
    for i, s in enumerate(specs):
        dev = f"cuda:{devices[i % len(devices)]}"
        out.append(dataclasses.replace(s, parameters={**s.parameters, "device": dev}, config=s.config.replace(device=dev)))
    return out


def parse_devices(text: Union[str, Sequence[Union[int, str]], None]) -> Optional[List[int]]:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",")] if isinstance(text, str) else [str(t).strip() for t in text]
    items = [t[5:] if t.startswith("cuda:") else t for t in items if t]
    if not items or not all(t.isdigit() for t in items):
        raise ValueError(f"--devices: expected GPU indices like 0,1, got {text!r}")
    return [int(t) for t in items]


# ---------------------------------------------------------------------------- state of a run
def run_state(spec: RunSpec) -> str:
    """``"complete"`` (would be skipped), ``"stale"`` (a complete record with other training
    parameters: runs again) or ``"pending"``."""
    from .results import is_complete, read_run

    if not is_complete(spec.output_dir):
        if spec.kept_dir and is_complete(spec.kept_dir) and spec.config is not None \
                and spec.config.matches(read_run(spec.kept_dir).get("params") or {}):
            return "complete"  # its record is committed already (the recipe's kept folder)
        return "pending"
    saved = read_run(spec.output_dir).get("params")
    if not isinstance(saved, dict) or spec.config is None:
        return "complete"
    return "complete" if spec.config.matches(saved) else "stale"


def _error_text(e: BaseException) -> str:
    ename = getattr(e, "ename", None)
    evalue = getattr(e, "evalue", None)
    if ename is not None:  # papermill.PapermillExecutionError: the notebook's exception
        kind, msg = str(ename), str(evalue or "")
    else:
        kind, msg = type(e).__name__, str(e)
    lines = [ln.strip() for ln in msg.strip().splitlines() if ln.strip()]
    return f"{kind}: {lines[-1]}" if lines else kind


#: the kernel managers of this process's notebooks, so that an interrupted batch can stop them
_KERNELS: "weakref.WeakSet" = weakref.WeakSet()


def _kernel_manager_class():
    from jupyter_client.manager import AsyncKernelManager

    class TrackedKernelManager(AsyncKernelManager):
        """nbclient's kernel manager, remembered while its kernel lives (``_interrupt_kernels``)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            _KERNELS.add(self)

    return TrackedKernelManager


def _interrupt_kernels() -> int:
    """Send SIGINT to the kernels of the notebooks running in this process (a KeyboardInterrupt in
    the cell they execute: the runner records the run as interrupted); returns how many."""
    import os
    import signal

    n = 0
    for km in list(_KERNELS):
        proc = getattr(getattr(km, "provisioner", None), "process", None)
        if proc is None or proc.poll() is not None:
            continue
        try:
            os.killpg(proc.pid, signal.SIGINT)  # the kernel leads its own session (jupyter_client)
        except OSError:
            try:
                os.kill(proc.pid, signal.SIGINT)
            except OSError:
                continue
        n += 1
    return n


def _execute(notebook: Path, out: Path, parameters: Dict[str, Any], kernel: str, root: Path) -> None:
    import papermill

    out.parent.mkdir(parents=True, exist_ok=True)
    # every call uses the same cwd (the process's own): papermill's chdir is process-wide, so
    # differing cwds would race between the threads of --jobs
    papermill.execute_notebook(str(notebook), str(out), parameters=parameters, kernel_name=kernel,
                               progress_bar=False, cwd=str(root), kernel_manager_class=_kernel_manager_class())


def _run_one(spec: RunSpec, notebook: Path, kernel: str, root: Path) -> Dict[str, Any]:
    from .runfolder import describe_holder, holder

    out_dir = Path(spec.output_dir)
    if not out_dir.is_absolute():
        out_dir = root / out_dir
    who = holder(out_dir)
    if who is not None:  # a notebook, another batch, a job: it trains there now; leave it alone
        return _row(spec, "running elsewhere", 0.0, f"held by {describe_holder(who)}", None)
    executed = out_dir / notebook.name
    t0 = time.perf_counter()
    error = ""
    try:
        _execute(notebook, executed, spec.parameters, kernel, root)
        status = "done"
    except Exception as e:  # noqa: BLE001 - any failure is recorded; the batch goes on
        status, error = "failed", _error_text(e)
        ename = str(getattr(e, "ename", ""))
        if ename == "RunFolderLocked":  # it was taken between the check above and the run
            status = "running elsewhere"
        elif ename == "KeyboardInterrupt":  # the batch was interrupted and stopped its kernel
            status = "interrupted"
    return _row(spec, status, time.perf_counter() - t0, error, executed)


def _row(spec: RunSpec, status: str, seconds: float, error: str, executed: Optional[Path]) -> Dict[str, Any]:
    return {"name": spec.name, "status": status, "seconds": round(seconds, 1), "error": error,
            "output_dir": spec.output_dir, "notebook": str(executed) if executed else "",
            "device": spec.parameters.get("device", "")}


def _check_kernel(kernel: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(kernel)
    except NoSuchKernel:
        raise ValueError(
            f"kernel {kernel!r} is not installed; register it with: "
            f"{Path(sys.executable).name} -m ipykernel install --user --name {kernel}"
        ) from None


# ---------------------------------------------------------------------------- summaries
def _cell(v: Any) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def format_summary(rows: Sequence[Dict[str, Any]], title: str = "") -> str:
    """A markdown table: name, status, seconds, error (and the counts of each status)."""
    counts = {s: sum(r["status"] == s for r in rows) for s in dict.fromkeys(r["status"] for r in rows)}
    lines = [f"# {title}", ""] if title else []
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items()) or "no runs")
    lines += ["", "| name | status | seconds | error |", "|---|---|---|---|"]
    lines += [f"| {_cell(r['name'])} | {r['status']} | {r['seconds']:.1f} | {_cell(r.get('error', ''))} |" for r in rows]
    return "\n".join(lines) + "\n"


def _write_summary(output_root: Path, rows: List[Dict[str, Any]], title: str) -> None:
    from .utils import write_json, write_text

    write_json(output_root / "batch.json", rows)
    write_text(output_root / "batch.md", format_summary(rows, title))


# ---------------------------------------------------------------------------- the batch
def _print_dry_run(recipe: Recipe, specs: List[RunSpec], states: Dict[str, str], root: Path) -> List[Dict[str, Any]]:
    word = {"pending": "run", "stale": "run (record has other parameters)", "complete": "skip (complete)"}
    nb = root / recipe.notebook
    print(f"{recipe.path}: {len(specs)} run(s) of {recipe.notebook} -> {recipe.output_root}"
          + ("" if nb.is_file() else f"  [warning: notebook not found: {recipe.notebook}]"))
    rows = []
    for s in specs:
        params = ", ".join(f"{k}={v!r}" for k, v in s.parameters.items() if k != type(s.config).FOLDER_FIELD)
        shown = word[states[s.name]]
        if states[s.name] == "complete" and s.kept_dir and not Path(s.output_dir, "run.json").is_file():
            shown = f"skip (kept in {s.kept_dir})"
        print(f"  {s.name}: {shown}  {s.output_dir}  {params}")
        rows.append({"name": s.name, "status": "would skip" if states[s.name] == "complete" else "would run",
                     "output_dir": s.output_dir, "parameters": dict(s.parameters)})
    if recipe.report:
        print(f"  report notebooks (with --report): {', '.join(recipe.report)}")
    return rows


class BatchInterrupted(KeyboardInterrupt):
    """The batch stopped on Ctrl-C or SIGTERM; ``signum`` says which (the exit status is 128 + it)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _threads(todo: List[RunSpec], notebook: Path, kernel: str, root: Path, jobs: int, on_row) -> None:
    """Run ``todo`` on ``jobs`` threads (one papermill kernel each). On KeyboardInterrupt: stop
    launching, interrupt the running kernels, give them ``STOP_GRACE_S`` to stop (their runs record
    themselves as interrupted), report the rest ``interrupted`` / ``not started``, re-raise (a
    thread still in its notebook then ends with the process, and its kernel with it)."""
    pool = ThreadPoolExecutor(max_workers=jobs)
    futures = {pool.submit(_run_one, s, notebook, kernel, root): s for s in todo}
    reported = set()
    try:
        for fut in as_completed(futures):
            reported.add(fut)
            on_row(fut.result())
    except KeyboardInterrupt:
        for fut in futures:
            fut.cancel()  # the ones not started yet
        _interrupt_kernels()
        deadline = time.monotonic() + STOP_GRACE_S
        while not all(f.done() for f in futures) and time.monotonic() < deadline:
            time.sleep(0.2)
        for f, spec in futures.items():
            if f.cancelled():
                on_row(_row(spec, "not started", 0.0, "", None))
            elif not f.done():
                on_row(_row(spec, "interrupted", 0.0, f"still stopping after {STOP_GRACE_S:g} s; ended with the batch", None))
            elif f not in reported:  # "interrupted" (its kernel's KeyboardInterrupt), or it had just finished
                on_row(f.result())
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _batch(recipe_path: PathLike, jobs: Optional[int] = None, devices=None, report: bool = False,
           kernel: str = DEFAULT_KERNEL, dry_run: bool = False, executor: str = "threads",
           cluster: Optional[Dict[str, Any]] = None) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    from .executors import EXECUTORS, parse_resources

    if executor not in EXECUTORS:
        raise ValueError(f"--executor: {executor!r} is not one; choose from {', '.join(EXECUTORS)}")
    if jobs is not None and jobs < 1:
        raise ValueError(f"--jobs: must be >= 1, got {jobs}")
    if devices is not None and executor != "threads":
        raise ValueError("--devices pins runs to this machine's GPUs; with a submitit executor each job gets its "
                         "own GPUs (cluster: gpus, or the run's gpus)")
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
        _check_kernel(kernel)

    from tqdm.auto import tqdm

    rows: Dict[str, Dict[str, Any]] = {}
    for s in specs:
        if states[s.name] == "complete":
            rows[s.name] = _row(s, "skipped", 0.0, "", Path(s.output_dir) / notebook.name)
    bar = tqdm(total=len(specs), initial=len(rows), desc=Path(recipe.path).stem, unit="run", file=sys.stderr)
    counts = {"failed": 0}
    out_root = _abs(recipe.output_root, root)

    def on_row(row: Dict[str, Any]) -> None:
        rows[row["name"]] = row
        counts["failed"] += row["status"] == "failed"
        bar.set_postfix(failed=counts["failed"])
        bar.update(1)

    try:
        with _signals_as_interrupt():
            if executor == "threads":
                _threads(todo, notebook, kernel, root, jobs or 1, on_row)
            else:
                from .executors import run_jobs

                run_jobs(executor, todo, notebook, kernel, root, out_root / "submitit", resources,
                         jobs if jobs is not None else (1 if executor == "submitit-local" else None), on_row,
                         run_one=_run_one, row_for=_row, error_text=_error_text)
    except KeyboardInterrupt:
        bar.close()
        ordered = [rows.get(s.name) or _row(s, "not started", 0.0, "", None) for s in specs]
        _write_summary(out_root, ordered, f"batch {recipe.path} (interrupted)")
        print(format_summary(ordered, f"batch {recipe.path} -> {recipe.output_root} (interrupted; run it again "
                                      "to resume)"), flush=True)
        raise
    bar.close()
    ordered = [rows[s.name] for s in specs]
    _write_summary(out_root, ordered, f"batch {recipe.path}")
    print(format_summary(ordered, f"batch {recipe.path} -> {recipe.output_root}"))

    report_rows: List[Dict[str, Any]] = []
    if report:
        report_rows = run_reports(recipe, kernel=kernel, root=root)
    return ordered, report_rows


class _signals_as_interrupt:
    """Within the block, SIGTERM (a scheduler, ``kill``) and SIGINT (Ctrl-C) raise
    :class:`BatchInterrupted` in the main thread; elsewhere (a thread) nothing changes."""

    def __enter__(self):
        import signal
        import threading

        self.old = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.old[sig] = signal.signal(sig, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        import signal

        for sig in (signal.SIGINT, signal.SIGTERM):  # a second signal must not break the orderly stop
            signal.signal(sig, signal.SIG_IGN)
        raise BatchInterrupted(signum)

    def __exit__(self, *exc):
        import signal

        for sig, handler in self.old.items():
            signal.signal(sig, handler)
        return False


def _abs(p: str, root: Path) -> Path:
    p = Path(p)
    return p if p.is_absolute() else root / p


def _declared_parameters(notebook: Path) -> Dict[str, Any]:
    import papermill

    try:
        return papermill.inspect_notebook(str(notebook))
    except Exception:  # noqa: BLE001 - an unreadable notebook fails (and is reported) when executed
        return {}


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
            if "output_dir" in _declared_parameters(nb):  # keep the batch's tables/figures with it
                params["output_dir"] = str(Path(recipe.output_root) / "reports")
            _execute(nb, out / nb.name, params, kernel, root)
        except Exception as e:  # noqa: BLE001 - reported, the others still run
            row.update(status="failed", error=_error_text(e))
        row["seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
    print(format_summary(rows, "reports"))
    return rows


def run_batch(recipe_path: PathLike, jobs: Optional[int] = None, devices=None, report: bool = False,
              kernel: str = DEFAULT_KERNEL, dry_run: bool = False, executor: str = "threads",
              cluster: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
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
    rows, _ = _batch(recipe_path, jobs=jobs, devices=devices, report=report, kernel=kernel, dry_run=dry_run,
                     executor=executor, cluster=cluster)
    return rows


# ---------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    from .executors import EXECUTORS

    p = argparse.ArgumentParser(
        prog="python -m ltkit.batch",
        description="Run a recipe's grid of parameterized notebooks with papermill (see the module docstring "
                    "of ltkit.batch for the recipe format).")
    p.add_argument("recipe", help="the recipe YAML, e.g. notebooks/recipes/smoke.yaml")
    p.add_argument("--executor", choices=EXECUTORS, default="threads",
                   help="threads: here (default); submitit-local: local processes through submitit; slurm: one "
                        "Slurm job per run (resources: the recipe's cluster mapping and the flags below)")
    p.add_argument("--jobs", type=int, default=None,
                   help="runs at once (threads and submitit-local: default 1; slurm: jobs in flight, default all)")
    p.add_argument("--devices", default=None,
                   help="GPU indices, e.g. 0,1: runs get device=cuda:K round-robin (overrides the recipe's device; "
                        "threads only)")
    p.add_argument("--report", action="store_true",
                   help="afterwards, execute the recipe's report notebooks with results_dir=output_root")
    p.add_argument("--dry-run", action="store_true", help="print the runs, execute nothing")
    p.add_argument("--kernel", default=DEFAULT_KERNEL, help=f"Jupyter kernel name (default {DEFAULT_KERNEL})")
    g = p.add_argument_group("Slurm resources (override the recipe's cluster mapping)")
    g.add_argument("--partition", help="Slurm partition")
    g.add_argument("--time", help='time limit per job: minutes, "HH:MM:SS" or "D-HH:MM:SS"')
    g.add_argument("--gpus-per-job", type=int, dest="gpus", help="GPUs per job (default: the run's gpus)")
    g.add_argument("--cpus-per-job", type=int, dest="cpus", help="CPUs per job")
    g.add_argument("--mem-gb", type=float, dest="mem_gb", help="memory per job, GB")
    g.add_argument("--sbatch", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="further sbatch options, values read as YAML, e.g. --sbatch account=lab constraint=a100")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    cluster = {k: getattr(args, k) for k in ("partition", "time", "gpus", "cpus", "mem_gb") if getattr(args, k) is not None}
    try:
        if args.sbatch:  # the KEY=VALUE rule of every mapping flag (ltkit.schema.key_values)
            cluster["sbatch"] = key_values("--sbatch", args.sbatch)
        rows, report_rows = _batch(args.recipe, jobs=args.jobs, devices=args.devices, report=args.report,
                                   kernel=args.kernel, dry_run=args.dry_run, executor=args.executor, cluster=cluster)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
