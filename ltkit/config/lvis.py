"""``LVISRunConfig``: every parameter of one LVIS run, and the shipped mmdetection configs it names.

Listing and validating needs no mmdetection: this module imports none of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Dict, FrozenSet, Optional, Tuple, Union

from .schema import Schema, check, choice

#: the test-time variants of an LVIS run: name -> (TDE on, background-exempted)
LVIS_EVALUATIONS: Dict[str, Tuple[bool, Union[bool, None]]] = {
    "plain": (False, None),  # the box head's plain output: Baseline, or "De-confound" for a causal-norm head
    "tde": (True, True),  # De-confound-TDE with background-exempted probabilities
    "tde_without_bg_exemption": (True, False),  # TDE logits, softmax over every column (Table 5)
}


#: the LVIS evaluators: the official LVIS API, or faster-coco-eval (the same numbers, faster)
LVIS_BACKENDS = ("lvis", "faster")


#: the shipped mmdet configs, ``<lvis version>/<name>.py`` (read without importing mmdet)
LVIS_CONFIG_DIR = Path(__file__).resolve().parents[1] / "detection" / "configs"


def lvis_configs() -> list:
    """The shipped LVIS configs, as ``<lvis version>/<name>`` without ``.py``."""
    return sorted(
        str(p.relative_to(LVIS_CONFIG_DIR).with_suffix(""))
        for p in LVIS_CONFIG_DIR.glob("*/*.py")
        if not p.parent.name.startswith("_")
    )


def lvis_config_path(config: str) -> Path:
    """A shipped config by name (``lvis_v1/mask_rcnn_r50_fpn_1x_tde``), or any existing ``.py`` file."""
    p = Path(config)
    if p.suffix == ".py" and p.is_file():
        return p
    shipped = (LVIS_CONFIG_DIR / (config[:-3] if config.endswith(".py") else config)).with_suffix(".py")
    if shipped.is_file():
        return shipped
    raise ValueError(f"config: {config!r} is neither a file nor a shipped config; shipped: {', '.join(lvis_configs())}")


@dataclass(frozen=True)
class LVISRunConfig(Schema):
    """The parameters of one LVIS run (``notebooks/train_lvis.ipynb``, ``python -m ltkit.detection
    run``, ``ltkit.detection.run.run_lvis``): one mmdet config trained once (or a checkpoint,
    ``eval_only``), then evaluated under each test-time variant. Imports nothing from mmdet, so a
    notebook refuses a bad value before mmdet loads."""

    KIND: ClassVar[str] = "LVISRunConfig"
    #: how a run executes, not what it computes (the record lists what was evaluated)
    EXECUTION_FIELDS: ClassVar[FrozenSet[str]] = frozenset({"work_dir", "gpus", "synthetic", "evaluations"})
    #: unset = the config's value; the record holds the value used
    RESOLVED_FIELDS: ClassVar[FrozenSet[str]] = frozenset({"alpha", "max_epochs", "samples_per_gpu"})
    FOLDER_FIELD: ClassVar[str] = "work_dir"
    NAME_TEMPLATE: ClassVar[str] = "{config_name}"
    CLI: ClassVar[Tuple[str, ...]] = ("ltkit.detection", "run")
    CLI_POSITIONAL: ClassVar[Tuple[str, ...]] = ("config", "work_dir")

    config: str = field(
        default="lvis_v1/htc_without_semantic_r101_fpn_20e_tde",
        metadata={"help": "a shipped config (ltkit lvis configs lists them) or a config file"},
    )
    work_dir: str = field(
        default="",
        metadata={"help": "the run folder; '' = results/runs/lvis/<config_name> (the LVIS version and the config)"},
    )
    data_root: str = field(default="", metadata={"help": "'' = data/LVIS/ (or $LTKIT_LVIS_ROOT); see data/README.md"})
    gpus: int = field(default=1, metadata={"help": "> 1 runs under torchrun (DDP training, multi-GPU testing)"})
    alpha: Optional[float] = field(
        default=None,
        metadata={
            "help": "TDE alpha at test time; None = the config's box head (ltkit.detection.TDEClassifier's default)"
        },
    )
    eval_only: str = field(default="", metadata={"help": "a checkpoint: skip training, evaluate it"})
    evaluations: Optional[Tuple[str, ...]] = field(
        default=None,
        metadata={"help": "some of plain, tde, tde_without_bg_exemption; None = all that apply to the box head"},
    )
    max_epochs: Optional[int] = field(
        default=None, metadata={"help": "shorten the schedule (decay steps kept inside it)"}
    )
    samples_per_gpu: Optional[int] = field(default=None, metadata={"help": "images per GPU; None = the config's"})
    seed: int = field(default=0, metadata={"help": "the random seed of training (mmdet's set_random_seed)"})
    backend: str = field(default="lvis", metadata={"help": "lvis (the official LVIS API) or faster (faster-coco-eval)"})
    tiny: bool = field(default=False, metadata={"help": "shrink the model to run on a CPU in seconds (smoke runs)"})
    synthetic: bool = field(
        default=False,
        metadata={"help": "first write a tiny synthetic LVIS-format dataset at data_root (pair it with tiny)"},
    )
    cfg_options: Optional[Dict[str, Any]] = field(default=None, metadata={"help": "mmcv config overrides, key=value"})

    @property
    def config_name(self) -> str:
        """The config as one folder name (``lvis_v1-htc_..._tde``), for recipe run names."""
        return self.config.removesuffix(".py").replace("/", "-").replace("\\", "-")

    @property
    def resolved_work_dir(self) -> str:
        if self.work_dir:
            return self.work_dir
        own_file = Path(self.config).suffix == ".py" and Path(self.config).is_file()
        return str(
            Path("results/runs/lvis")
            / (Path(self.config).stem if own_file else self.NAME_TEMPLATE.format(**self.name_values()))
        )

    def name_values(self) -> Dict[str, Any]:
        return {**self.to_dict(), "config_name": self.config_name}

    def _validate(self) -> None:
        lvis_config_path(self.config)  # an unknown config fails here, listing the shipped ones
        check("gpus", self.gpus >= 1, "must be a positive integer", self.gpus)
        choice("backend", self.backend, LVIS_BACKENDS)
        check(
            "alpha",
            self.alpha is None or self.alpha >= 0,
            "must be a number >= 0, or None for the config's",
            self.alpha,
        )
        for name in ("max_epochs", "samples_per_gpu"):
            value = getattr(self, name)
            check(name, value is None or value >= 1, "must be a positive integer, or None for the config's", value)
        for e in self.evaluations or ():
            choice("evaluations", e, LVIS_EVALUATIONS)
        check(
            "evaluations",
            self.evaluations is None or len(self.evaluations) > 0,
            "name at least one evaluation, or None for all that apply",
            self.evaluations,
        )
        check(
            "data_root",
            not self.synthetic or bool(self.data_root),
            "synthetic=True writes a synthetic dataset there, so it must be given",
            self.data_root,
        )
