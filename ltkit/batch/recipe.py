"""The recipe: a YAML file that names a notebook and the parameter points to run it at.

A *recipe* (YAML) names a notebook and a set of parameter points; every point is one run,
executed headlessly with papermill into its own folder ``output_root/<name>/``, where the
executed notebook lives beside the run record (``run.json``) the notebook writes.

Recipe format (top-level keys; anything else is an error)::

    description: free text (optional, ignored)
    notebook: notebooks/train_classification.ipynb     # default; relative to the cwd (repo root)
    output_root: results/runs/smoke                    # required; run i goes to output_root/<name_i>
    kept: results/reproductions/cifar10_lt             # optional: the committed records; a run whose
                                                       # record is complete there is skipped too
    name: "{dataset}-r{imb_ratio:g}-{classifier}-s{seed}"   # a str.format over the run's parameters;
                                                       # default: the schema's NAME_TEMPLATE
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
    cluster: {partition: gpu, time: "12:00:00"}        # optional: job resources for --executor slurm
                                                       # (keys and meaning: ltkit.batch.resources)

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

LVIS recipes (``notebook: notebooks/train_lvis.ipynb``) take ``LVISRunConfig``'s fields
(config, data_root, gpus, alpha, eval_only, ...); ``name`` may also use ``{config_name}`` (the
config with ``/`` turned into ``-``). Its alpha, max_epochs and samples_per_gpu left unset
match whatever value a complete run recorded. Multi-GPU is the ``gpus`` parameter (torchrun),
not ``--devices``.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from ..config import SCHEMAS, RunConfig
from ..config.schema import Schema

DEFAULT_NOTEBOOK = "notebooks/train_classification.ipynb"


DEFAULT_REPORTS = ("notebooks/tables.ipynb", "notebooks/figures.ipynb")


RECIPE_KEYS = ("description", "notebook", "output_root", "kept", "name", "base", "cases", "grid", "report", "cluster")


PathLike = Union[str, Path]


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
    #: the ``cluster`` mapping (``ltkit.batch.executors.parse_resources``): Slurm resources per job
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
                raise ValueError(
                    f"notebook {notebook}: its parameters cell names schema {named[0]!r}; known schemas: "
                    f"{', '.join(SCHEMAS)}"
                )
            return SCHEMAS[named[0]]
    return RunConfig


def _valid_parameters(schema: type) -> Tuple[str, ...]:
    return tuple(n for n in schema.field_names() if n != schema.FOLDER_FIELD) + schema.extra_parameters()


def _check_parameters(where: str, params: Dict[str, Any], recipe_path: PathLike, schema: type = RunConfig) -> None:
    valid = _valid_parameters(schema)
    for key in params:
        if key == schema.FOLDER_FIELD:
            raise ValueError(
                f"{recipe_path}: {where}: {key!r} is set by the batch (output_root/<name>); remove it from the recipe"
            )
        if key not in valid:
            raise ValueError(f"{recipe_path}: {where}: unknown parameter {key!r}; valid parameters: {', '.join(valid)}")


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
        raise ValueError(
            f"{path}: a recipe is a mapping of the keys {', '.join(RECIPE_KEYS)}; got {type(raw).__name__}"
        )
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
    name = _str("name", schema.NAME_TEMPLATE)
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
        raise ValueError(
            f"{path}: grid: expected a mapping parameter -> list of values, or a list of such mappings; got {grid!r}"
        )
    for gi, g in enumerate(grids):
        where = "grid" if isinstance(grid, dict) else f"grid[{gi}]"
        _check_parameters(where, g, path, schema)
        for key, values in g.items():
            if not isinstance(values, list):
                raise ValueError(
                    f"{path}: {where}.{key}: expected a list of values, got {values!r} (put a single value under base)"
                )
            if not values:
                raise ValueError(f"{path}: {where}.{key}: the list of values is empty")
        for i, case in enumerate(cases):
            both = sorted(set(case) & set(g))
            if both:
                raise ValueError(
                    f"{path}: parameter(s) {both} set by both cases[{i}] and {where}; set each parameter in one place"
                )

    report = raw.get("report", list(DEFAULT_REPORTS))
    if report is None:
        report = []
    if isinstance(report, str):
        report = [report]
    if not isinstance(report, list) or not all(isinstance(r, str) and r for r in report):
        raise ValueError(f"{path}: report: expected a list of notebook paths, got {report!r}")
    stems = [Path(r).name for r in report]
    if len(set(stems)) != len(stems):
        raise ValueError(
            f"{path}: report: two report notebooks share a file name ({stems}); "
            f"their executed copies would overwrite each other"
        )

    cluster = raw.get("cluster") or {}
    from .resources import parse_resources

    parse_resources(cluster, f"{path}: cluster")
    recipe = Recipe(
        path=str(path),
        notebook=notebook,
        output_root=output_root,
        name=name,
        base=dict(base),
        cases=[dict(c) for c in cases],
        grids=[dict(g) for g in grids],
        report=list(report),
        description=str(description),
        cluster=dict(cluster),
        kept=kept,
    )
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
        raise ValueError(
            f"{recipe_path}: name {template!r} uses {{{e.args[0]}}}, which is not a parameter; "
            f"available: {', '.join(sorted(values))}"
        ) from None
    except (ValueError, IndexError, TypeError, AttributeError) as e:
        raise ValueError(f"{recipe_path}: name {template!r} does not format with the run {point}: {e}") from None
    bad = [c for c in ("/", "\\", "{", "}") if c in name]
    if not name.strip() or name in (".", "..") or bad:
        raise ValueError(
            f"{recipe_path}: name {template!r} gives {name!r} for the run {point}; "
            f"a run name must be one folder name (no / \\ {{ }})"
        )
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
        specs.append(
            RunSpec(
                name=name,
                output_dir=output_dir,
                parameters={**point, folder: output_dir},
                config=cfg.replace(**{folder: output_dir}),
                kept_dir=str(Path(recipe.kept) / name) if recipe.kept else None,
            )
        )
    seen: Dict[str, int] = {}
    for s in specs:
        seen[s.name] = seen.get(s.name, 0) + 1
    dups = sorted(n for n, c in seen.items() if c > 1)
    if dups:
        raise ValueError(
            f"{recipe.path}: duplicate run name(s) {dups} from name {recipe.name!r}; "
            f"add the parameters that differ between those runs to name"
        )
    return specs


def assign_devices(specs: Sequence[RunSpec], devices: Optional[Sequence[Union[int, str]]]) -> List[RunSpec]:
    """Set ``device`` to ``cuda:K`` round-robin over ``devices`` (in the order of ``specs``)."""
    if not devices:
        return list(specs)
    if any(not isinstance(s.config, RunConfig) for s in specs):
        raise ValueError(
            "--devices pins classification runs to one GPU each; LVIS runs take the `gpus` parameter (torchrun) instead"
        )
    multi = [s.name for s in specs if s.config.gpus > 1]
    if multi:
        raise ValueError(
            f"--devices pins each run to one GPU, but {multi} ask for gpus > 1 (torchrun uses "
            "GPUs 0..gpus-1 of what CUDA_VISIBLE_DEVICES shows); drop --devices for those runs"
        )
    out = []
    for i, s in enumerate(specs):
        dev = f"cuda:{devices[i % len(devices)]}"
        out.append(
            dataclasses.replace(s, parameters={**s.parameters, "device": dev}, config=s.config.replace(device=dev))
        )
    return out


def parse_devices(text: Union[str, Sequence[Union[int, str]], None]) -> Optional[List[int]]:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",")] if isinstance(text, str) else [str(t).strip() for t in text]
    items = [t[5:] if t.startswith("cuda:") else t for t in items if t]
    if not items or not all(t.isdigit() for t in items):
        raise ValueError(f"--devices: expected GPU indices like 0,1, got {text!r}")
    return [int(t) for t in items]
