"""The run schemas: what a run is, as a flat, typed, validated dataclass.

* ``schema``: the machinery every schema shares (typed frozen dataclasses, validation, the
  command-line flags and the notebook parameters built from the fields);
* ``classification``: ``RunConfig``, one classification run;
* ``presets``: the paper's settings and the quickstart's, by name;
* ``lvis``: ``LVISRunConfig``, one LVIS run, and the shipped mmdetection configs.

Nothing here imports mmdetection, so configs can be listed and checked anywhere.
"""

from .classification import (
    DEFAULT_DATA_ROOTS,
    DTYPES,
    EXECUTION_FIELDS,
    IN_MEMORY_DATASETS,
    JPEG_DECODES,
    MU_SCHEDULES,
    PIPELINES,
    RESUMABLE_FIELDS,
    SCHEDULES,
    STUDIES,
    VAL_DATASETS,
    WARMUPS,
    RunConfig,
)
from .lvis import (
    LVIS_BACKENDS,
    LVIS_CONFIG_DIR,
    LVIS_EVALUATIONS,
    LVISRunConfig,
    lvis_config_path,
    lvis_configs,
)
from .presets import PRESET_DESCRIPTIONS, PRESETS
from .schema import Schema

#: the schema a notebook's parameters cell names with a ``schema:<name>`` tag (``ltkit.batch``);
#: a parameters cell without one is a classification notebook
SCHEMAS = {"classification": RunConfig, "lvis": LVISRunConfig}

__all__ = [
    "DEFAULT_DATA_ROOTS",
    "DTYPES",
    "EXECUTION_FIELDS",
    "IN_MEMORY_DATASETS",
    "JPEG_DECODES",
    "LVIS_BACKENDS",
    "LVIS_CONFIG_DIR",
    "LVIS_EVALUATIONS",
    "LVISRunConfig",
    "MU_SCHEDULES",
    "PIPELINES",
    "PRESETS",
    "PRESET_DESCRIPTIONS",
    "RESUMABLE_FIELDS",
    "RunConfig",
    "SCHEDULES",
    "SCHEMAS",
    "STUDIES",
    "Schema",
    "VAL_DATASETS",
    "WARMUPS",
    "lvis_config_path",
    "lvis_configs",
]
