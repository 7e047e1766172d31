"""Glue for the parameterized notebooks (kept here so that the tests reach it).

A notebook's ``parameters`` cell sets every ``RunConfig`` field to ``None`` ("not given"),
plus ``preset = ""``, and ends with ``_before_injection = set(globals())``. papermill injects
the ``-p`` values in a cell right after it. :func:`run_config` then builds the config: the
preset (or RunConfig's defaults), overridden by every parameter that is not ``None``; any
injected name that is not a parameter is an error naming it. Use ``alpha="auto"`` to ask for
the ``suggest_alpha`` heuristic explicitly, ``alpha="val"`` to choose alpha on the validation
split.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Optional

from .config import PRESETS, RunConfig

#: the names a notebook's parameters cell defines besides the RunConfig fields
EXTRA_PARAMETERS = ("preset",)


_DATA = (str, int, float, bool, list, dict, tuple, type(None))


def unknown_parameters(namespace: Dict[str, Any], before_injection: Iterable[str]) -> list:
    """Names papermill injected that the parameters cell does not define: new data values
    (papermill injects only strings, numbers, booleans, lists, dicts and None; the modules and
    functions a cell imports are not parameters)."""
    new = set(namespace) - set(before_injection)
    return sorted(n for n in new if not n.startswith("_") and isinstance(namespace[n], _DATA))


def run_config(namespace: Dict[str, Any], before_injection: Optional[Iterable[str]] = None) -> RunConfig:
    """The RunConfig a notebook's parameters describe (see the module docstring)."""
    if before_injection is not None:
        unknown = unknown_parameters(namespace, before_injection)
        if unknown:
            valid = ", ".join(EXTRA_PARAMETERS + RunConfig.field_names())
            raise ValueError(f"unknown parameter(s) {unknown}; valid parameters: {valid}")
    preset = namespace.get("preset") or ""
    given = {k: namespace[k] for k in RunConfig.field_names() if namespace.get(k) is not None}
    if preset:
        if preset not in PRESETS:
            raise ValueError(f"preset: unknown value {preset!r}; choose one of: {', '.join(sorted(PRESETS))}")
        return RunConfig.preset(preset, **given)
    return RunConfig.from_dict(given)


def parameters_source() -> str:
    """The text of a parameters cell for ``RunConfig`` (what train_classification.ipynb holds)."""
    import dataclasses

    lines = ['preset = ""  # a paper setting, e.g. "cifar10_lt_tde" (python -m ltkit presets lists them)']
    for f in dataclasses.fields(RunConfig):
        default = f.default
        shown = "None (suggest_alpha); a number, 'auto' or 'val'" if f.name == "alpha" else repr(list(default) if isinstance(default, tuple) else default)
        lines.append(f"{f.name} = None  # default {shown}")
    lines.append("_before_injection = set(globals())")
    return "\n".join(lines)


#: train_lvis.ipynb's parameters and their defaults (``ltkit.detection.run.run_from_parameters``)
LVIS_PARAMETERS: Dict[str, Any] = dict(
    config="lvis_v1/htc_without_semantic_r101_fpn_20e_tde", work_dir="", data_root="", gpus=1, alpha=None,
    eval_only="", evaluations=None, max_epochs=None, samples_per_gpu=None, seed=0, backend="lvis", tiny=False,
    synthetic=False, cfg_options=None,
)
#: the LVIS parameters a finished run must match to be skipped by a batch (the rest only say how it ran)
LVIS_RUN_DEFINING = ("config", "data_root", "alpha", "eval_only", "evaluations", "max_epochs", "seed", "backend",
                     "tiny", "samples_per_gpu")
