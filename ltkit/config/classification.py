"""``RunConfig``: every parameter of one classification run (training and evaluation), typed and
validated on construction.

A notebook's ``parameters`` cell and the ``ltkit run`` flags map 1:1 onto its fields.
Constructing one checks names, types, ranges and combinations, so a bad value fails at once with
a ``ValueError`` that names the field and what it accepts. The paper's settings are presets
(``ltkit.config.presets``): ``RunConfig.preset("cifar100_lt_tde")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Dict, FrozenSet, Tuple, Union

from ..data.datasets import DATASETS as _DATASETS
from ..data.datasets import names as _dataset_names
from .schema import Schema, check, choice

SCHEDULES = ("warmup_multistep", "cosine")


#: how warmup_multistep's warm-up sets the lr: "epoch" = one value an epoch (the authors', from lr/3
#: up); "step" = a linear ramp over the warm-up's training steps, from lr / (its steps) up to lr
WARMUPS = ("epoch", "step")


MU_SCHEDULES = ("fixed", "lr_scaled")


#: where list-file (ImageNet-LT, Places-LT) JPEGs are decoded: "auto" = on the device when it is a GPU
JPEG_DECODES = ("auto", "workers", "device")


#: how in-memory datasets (CIFAR-LT, synthetic) are augmented: "batched" = ltkit's crop / flip /
#: normalize in tensor ops on the device; "torchvision" = the authors' pipeline (DataLoader workers,
#: PIL images, torchvision transforms per image), kept for A/B comparisons
PIPELINES = ("batched", "torchvision")


IN_MEMORY_DATASETS = _dataset_names(in_memory=True)


#: datasets with a labelled validation split apart from the test split (``alpha="val"``):
#: the synthetic one (500 a class), ImageNet-LT and Places-LT (20 a class, the published lists).
#: CIFAR-LT has none: the authors evaluate on the test set and call it "val" (docs/method.md 1.9)
VAL_DATASETS = _dataset_names(has_val=True)


#: what a run is for: "reproduction" runs fill the paper's tables; "analysis" runs (a gap study,
#: a one-setting-changed comparison) never do (ltkit.report.tables.compare_table)
STUDIES = ("reproduction", "analysis")


#: the dtype of the weights and the training arithmetic: float64 is for reference runs whose
#: numbers must hold on every CPU to 1e-9 (tests/test_golden.py), not for real training
DTYPES = ("float32", "float64")


#: where each dataset is looked for when ``data_root`` is empty (relative to the cwd)
DEFAULT_DATA_ROOTS = {name: d.default_root for name, d in _DATASETS.items()}


#: fields that say where and how a run executes, not what it computes: a complete run's
#: record is reused whatever their values (num_workers only under the batched pipeline:
#: ``RunConfig.execution_fields``)
EXECUTION_FIELDS = frozenset(
    {
        "device",
        "gpus",
        "jpeg_decode",
        "num_workers",
        "eval_batch_size",
        "progress",
        "output_dir",
        "data_root",
        "download",
        "study",
    }
)


#: fields a run may be resumed with different values of: the execution fields and the
#: evaluation-only settings (changing those re-evaluates the trained model)
RESUMABLE_FIELDS = EXECUTION_FIELDS | {"alpha", "tau_norm_p", "test_every"}


def registered(kind: str) -> Tuple[str, ...]:
    """The names a registry-backed field accepts: datasets, backbones, activations, classifiers,
    losses, samplers (imported when asked: the registries import torch)."""
    from ..data.samplers import SAMPLERS
    from ..losses import LOSSES
    from ..models import ACTIVATIONS, BACKBONES, CLASSIFIERS

    names = {
        "dataset": tuple(_DATASETS),
        "backbone": BACKBONES.names(),
        "activation": sorted(ACTIVATIONS),
        "classifier": CLASSIFIERS.names(),
        "loss": LOSSES.names(),
        "sampler": SAMPLERS,
    }[kind]
    return tuple(names)


@dataclass(frozen=True)
class RunConfig(Schema):
    """All parameters of one training + evaluation run. Defaults: the synthetic quickstart's
    causal-norm model; presets hold the paper's settings (``RunConfig.preset(name)``).
    ``ltkit.config.schema.Schema`` gives it construction checks, dict / flag / notebook round trips and
    the ``matches`` rule a complete run is skipped by."""

    KIND: ClassVar[str] = "RunConfig"
    EXECUTION_FIELDS: ClassVar[FrozenSet[str]] = EXECUTION_FIELDS
    FOLDER_FIELD: ClassVar[str] = "output_dir"
    NAME_TEMPLATE: ClassVar[str] = "{dataset}-r{imb_ratio:g}-{backbone}-{classifier}-{loss}-s{seed}"
    CLI: ClassVar[Tuple[str, ...]] = ("ltkit", "run")

    # --- data
    dataset: str = field(
        default="synthetic_lt",
        metadata={"help": "the dataset (ltkit.data.datasets)", "choices": partial(registered, "dataset")},
    )
    imb_ratio: float = field(
        default=100.0,
        metadata={"help": "imbalance ratio n_max / n_min of the long-tailed training profile (CIFAR-LT, synthetic)"},
    )
    data_root: str = field(
        default="",
        metadata={"help": "where the dataset is; '' = the dataset's default root (data/<name>, see data/README.md)"},
    )
    download: bool = field(default=False, metadata={"help": "CIFAR only: fetch through torchvision if missing"})
    pipeline: str = field(
        default="batched",
        metadata={
            "help": "CIFAR / synthetic augmentation: 'batched' (tensor ops on the device) or 'torchvision' (the authors' DataLoader + PIL pipeline; its random crops depend on num_workers, as in any DataLoader)",
            "choices": PIPELINES,
        },
    )
    # --- model
    backbone: str = field(
        default="resnet32", metadata={"help": "the feature extractor", "choices": partial(registered, "backbone")}
    )
    activation: str = field(
        default="relu",
        metadata={
            "help": "the backbone's nonlinearity: 'relu' (the paper's), or the smooth 'softplus' / 'silu', whose training does not amplify rounding differences (the quickstart; ltkit.models.backbones)",
            "choices": partial(registered, "activation"),
        },
    )
    classifier: str = field(
        default="causal_norm",
        metadata={
            "help": "the head: causal_norm is the paper's (De-confound); linear the plain baseline",
            "choices": partial(registered, "classifier"),
        },
    )
    num_head: int = field(default=2, metadata={"help": "causal-norm heads (the multi-head normalized classifier's K)"})
    tau: float = field(default=16.0, metadata={"help": "causal-norm temperature (the logit scale)"})
    gamma: float = field(default=1 / 32, metadata={"help": "causal-norm denominator offset: ||x|| + gamma"})
    bn_batch: int = field(
        default=0,
        metadata={
            "help": "> 0: BatchNorm normalises each slice of this many training images on its own (ghost batches), as nn.DataParallel did per GPU in the authors' runs (ltkit.models.ghost_bn); 0: the whole batch"
        },
    )
    alpha: Union[float, str, None] = field(
        default=None,
        metadata={
            "help": "TDE alpha: a number; None ('auto') -> ltkit.tde.suggest_alpha on the test features; 'val' -> the alpha with the best overall accuracy on the validation split (ltkit.evaluate.select_alpha)",
            "shown": "None (suggest_alpha); a number, 'auto' or 'val'",
        },
    )
    tau_norm_p: float = field(default=1.0, metadata={"help": "classifier='tau_norm': the exponent p of ||w||^p"})
    # --- loss and sampling
    loss: str = field(default="ce", metadata={"help": "the training loss", "choices": partial(registered, "loss")})
    focal_gamma: float = field(default=2.0, metadata={"help": "loss='focal': the focusing exponent"})
    cb_beta: float = field(default=0.9999, metadata={"help": "loss='class_balanced': the effective-number beta"})
    ldam_max_margin: float = field(default=0.5, metadata={"help": "loss='ldam': the largest class margin"})
    drw_epoch: int = field(default=0, metadata={"help": "LDAM deferred re-weighting from this epoch on (0 = off)"})
    la_tau: float = field(default=1.0, metadata={"help": "loss='logit_adjusted': the prior's exponent tau"})
    sampler: str = field(
        default="instance",
        metadata={
            "help": "the order of a training epoch: instance (every image once) or class_balanced",
            "choices": partial(registered, "sampler"),
        },
    )
    samples_per_class: int = field(
        default=4, metadata={"help": "sampler='class_balanced': images drawn per class in a row"}
    )
    # --- optimisation (docs/method.md 1.2)
    epochs: int = field(default=200, metadata={"help": "training epochs"})
    batch_size: int = field(default=256, metadata={"help": "global batch size (split over gpus)"})
    lr: float = field(default=0.2, metadata={"help": "base learning rate (SGD)"})
    momentum: float = field(default=0.9, metadata={"help": "SGD momentum"})
    weight_decay: float = field(default=5e-4, metadata={"help": "SGD weight decay"})
    schedule: str = field(
        default="warmup_multistep", metadata={"help": "the learning-rate schedule", "choices": SCHEDULES}
    )
    warmup_epochs: int = field(default=5, metadata={"help": "schedule='warmup_multistep': epochs of warm-up"})
    warmup: str = field(
        default="epoch",
        metadata={
            "help": "'epoch': the warm-up's lr changes once an epoch, as the authors'; 'step': it ramps linearly from about 0 to lr over the warm-up's steps (what the linear baselines need: see PRESETS)",
            "choices": WARMUPS,
        },
    )
    milestones: Tuple[int, ...] = field(
        default=(120, 160),
        metadata={"help": "schedule='warmup_multistep': epochs where the lr is multiplied by lr_factor"},
    )
    lr_factor: float = field(
        default=0.01, metadata={"help": "schedule='warmup_multistep': the factor at each milestone"}
    )
    mu: float = field(default=0.9, metadata={"help": "moving-average momentum"})
    mu_schedule: str = field(
        default="fixed",
        metadata={
            "help": "'lr_scaled': mu = 1 - 0.1 * min(50 * lr, 1) per epoch (ImageNet/Places)",
            "choices": MU_SCHEDULES,
        },
    )
    steps_per_epoch: int = field(default=0, metadata={"help": "0 -> floor(train size / batch size), as the authors"})
    # --- two-stage decoupling (cRT, LWS)
    init_from: str = field(
        default="", metadata={"help": "a stage-1 run folder: load its backbone (and linear weights)"}
    )
    freeze_backbone: bool = field(
        default=False, metadata={"help": "train the classifier only (LWS, cRT); needs init_from"}
    )
    # --- the synthetic dataset
    synthetic_classes: int = field(default=10, metadata={"help": "dataset='synthetic_lt': classes"})
    synthetic_n_max: int = field(
        default=500, metadata={"help": "dataset='synthetic_lt': training images of the largest class"}
    )
    synthetic_image_size: int = field(default=16, metadata={"help": "dataset='synthetic_lt': image side in pixels"})
    # --- run
    seed: int = field(
        default=0, metadata={"help": "the random seed (weights, data order, augmentation, the long-tailed subset)"}
    )
    device: str = field(default="auto", metadata={"help": "auto (CUDA if present, else CPU), cpu, cuda, cuda:N"})
    gpus: int = field(
        default=1,
        metadata={"help": "> 1: train on that many processes under torchrun (DDP); the batch size stays global"},
    )
    amp: bool = field(
        default=True,
        metadata={"help": "bf16 autocast of the backbone where the device has bf16 (CUDA; CPU: avx512_bf16 / AMX)"},
    )
    dtype: str = field(
        default="float32",
        metadata={
            "help": "'float64': weights, activations and features in double precision (needs amp=False): runs whose numbers agree across CPUs to rounding, for reference tests; 'float32' for everything else",
            "choices": DTYPES,
        },
    )
    compile: bool = field(
        default=False, metadata={"help": "torch.compile the model (same numbers, faster epochs where it works)"}
    )
    num_workers: int = field(
        default=4, metadata={"help": "DataLoader workers (list-file datasets, the torchvision pipeline)"}
    )
    jpeg_decode: str = field(
        default="auto",
        metadata={
            "help": "list-file datasets: 'workers' (PIL in DataLoader workers), 'device', 'auto'",
            "choices": JPEG_DECODES,
        },
    )
    eval_batch_size: int = field(default=1024, metadata={"help": "batch size of feature extraction at evaluation"})
    test_every: int = field(
        default=0,
        metadata={
            "help": "> 0: every this many epochs (and at the last) also measure overall test accuracy, plain and TDE at a numeric alpha, into history.csv (test_plain, test_tde): analysis only, e.g. of how an epoch picked by test accuracy would differ from the last epoch, which ltkit reports. Nothing selects on it, and it leaves training as it is (an evaluation-mode pass, no random numbers)."
        },
    )
    output_dir: str = field(default="", metadata={"help": "'' -> results/runs/<NAME_TEMPLATE filled in>"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar per epoch"})
    study: str = field(
        default="reproduction",
        metadata={
            "help": "'reproduction': the run may fill a paper table; 'analysis': it never does (STUDIES)",
            "choices": STUDIES,
        },
    )

    # ------------------------------------------------------------------ derived
    @property
    def run_name(self) -> str:
        """The run's name: its folder's, so that the record, the batch and the folder agree."""
        return Path(self.output_dir).name if self.output_dir else self.NAME_TEMPLATE.format(**self.name_values())

    @property
    def resolved_output_dir(self) -> str:
        return self.output_dir or f"results/runs/{self.run_name}"

    @property
    def resolved_data_root(self) -> str:
        return self.data_root or DEFAULT_DATA_ROOTS[self.dataset]

    def execution_fields(self) -> FrozenSet[str]:
        """``EXECUTION_FIELDS``, except that under ``pipeline="torchvision"`` the DataLoader's workers
        draw the random crops, so ``num_workers`` changes what is computed and defines the run."""
        return EXECUTION_FIELDS - {"num_workers"} if self.pipeline == "torchvision" else EXECUTION_FIELDS

    def resumable_fields(self) -> FrozenSet[str]:
        """The fields a run may be resumed with other values of (``RESUMABLE_FIELDS``, with the
        same ``num_workers`` rule as ``execution_fields``)."""
        return self.execution_fields() | (RESUMABLE_FIELDS - EXECUTION_FIELDS)

    def training_dict(self) -> Dict[str, Any]:
        """The fields that define training (what a resumed run must agree on)."""
        return {k: v for k, v in self.to_dict().items() if k not in self.resumable_fields()}

    def training_differences(self, saved: Dict[str, Any]) -> Dict[str, tuple]:
        """Field -> (saved, this) for the training fields a saved config (a checkpoint's) differs in.
        ``num_workers`` counts only when both ran the torchvision pipeline (a batched run's
        checkpoint does not hold it: there it defines nothing)."""
        ignore = self.resumable_fields()
        if self.with_defaults(saved).get("pipeline") != "torchvision":
            ignore = ignore | {"num_workers"}
        return self.differences(saved, ignore=ignore)

    # ------------------------------------------------------------------ checks
    def _validate(self) -> None:
        from ..data.samplers import SAMPLERS
        from ..losses import LOSSES, NEEDS_NORMALIZED_LOGITS, REBALANCING_LOSSES
        from ..models import ACTIVATIONS, BACKBONES, CLASSIFIERS, backbone_out_features

        choice("dataset", self.dataset, tuple(_DATASETS))
        choice("backbone", self.backbone, BACKBONES.names())
        choice("activation", self.activation, sorted(ACTIVATIONS))
        choice("classifier", self.classifier, CLASSIFIERS.names())
        choice("loss", self.loss, LOSSES.names())
        choice("sampler", self.sampler, SAMPLERS)
        choice("schedule", self.schedule, SCHEDULES)
        choice("warmup", self.warmup, WARMUPS)
        check(
            "warmup",
            self.warmup == "epoch" or self.schedule == "warmup_multistep",
            "'step' applies to schedule='warmup_multistep' (the cosine schedule has no warm-up)",
            self.warmup,
        )
        choice("jpeg_decode", self.jpeg_decode, JPEG_DECODES)
        choice("mu_schedule", self.mu_schedule, MU_SCHEDULES)
        choice("pipeline", self.pipeline, PIPELINES)
        choice("study", self.study, STUDIES)
        choice("dtype", self.dtype, DTYPES)
        check(
            "dtype",
            self.dtype == "float32" or not self.amp,
            "'float64' trains without autocast; set amp=False with it",
            self.dtype,
        )
        check(
            "pipeline",
            self.pipeline == "batched" or self.dataset in IN_MEMORY_DATASETS,
            f"'torchvision' applies to the in-memory datasets ({', '.join(IN_MEMORY_DATASETS)}); "
            f"{self.dataset} always reads its files in DataLoader workers (jpeg_decode says where JPEGs are decoded)",
            self.pipeline,
        )
        check(
            "batch_size",
            self.batch_size % self.gpus == 0,
            f"must split evenly over gpus={self.gpus} (it is the global batch)",
            self.batch_size,
        )
        check("bn_batch", self.bn_batch >= 0, "must be >= 0 (0: BatchNorm over the whole batch)", self.bn_batch)
        check(
            "imb_ratio",
            self.imb_ratio >= 1,
            "must be >= 1 (1 = balanced, 100 = head class 100x the tail)",
            self.imb_ratio,
        )
        for name in (
            "epochs",
            "batch_size",
            "num_head",
            "samples_per_class",
            "eval_batch_size",
            "synthetic_classes",
            "synthetic_n_max",
            "gpus",
        ):
            check(name, getattr(self, name) >= 1, "must be a positive integer", getattr(self, name))
        for name in ("lr", "tau"):
            check(name, getattr(self, name) > 0, "must be > 0", getattr(self, name))
        for name in (
            "weight_decay",
            "gamma",
            "warmup_epochs",
            "drw_epoch",
            "steps_per_epoch",
            "num_workers",
            "test_every",
            "focal_gamma",
            "ldam_max_margin",
            "la_tau",
            "tau_norm_p",
        ):
            check(name, getattr(self, name) >= 0, "must be >= 0", getattr(self, name))
        check("momentum", 0 <= self.momentum < 1, "must be in [0, 1)", self.momentum)
        check("mu", 0 <= self.mu <= 1, "must be in [0, 1]", self.mu)
        check("cb_beta", 0 <= self.cb_beta < 1, "must be in [0, 1)", self.cb_beta)
        check("lr_factor", 0 < self.lr_factor <= 1, "must be in (0, 1]", self.lr_factor)
        if isinstance(self.alpha, str):
            check(
                "alpha",
                self.alpha == "val",
                "must be a number >= 0, 'auto' (or None) for the suggest_alpha heuristic, or 'val' to choose it "
                "on the validation split",
                self.alpha,
            )
            check(
                "alpha",
                self.dataset in VAL_DATASETS,
                f"'val' chooses alpha on a validation split, and {self.dataset} has none (datasets with one: "
                f"{', '.join(VAL_DATASETS)}); give a number, or 'auto' for the suggest_alpha heuristic",
                self.alpha,
            )
        else:
            check(
                "alpha",
                self.alpha is None or self.alpha >= 0,
                "must be >= 0, 'auto' (or None) for the suggest_alpha heuristic, or 'val'",
                self.alpha,
            )
        check(
            "milestones",
            list(self.milestones) == sorted(self.milestones) and all(m >= 1 for m in self.milestones),
            "must be increasing positive epochs, e.g. 120,160",
            self.milestones,
        )
        check("drw_epoch", self.drw_epoch <= self.epochs, f"must be <= epochs ({self.epochs})", self.drw_epoch)
        check("synthetic_image_size", self.synthetic_image_size >= 8, "must be >= 8", self.synthetic_image_size)

        dim = backbone_out_features(self.backbone)
        if CLASSIFIERS.get(self.classifier).normalized and dim % self.num_head:
            divisors = [k for k in range(1, 9) if dim % k == 0]
            raise ValueError(
                f"num_head: {self.num_head} does not divide the {self.backbone} feature dimension {dim}; "
                f"use one of {divisors}"
            )
        if self.loss in NEEDS_NORMALIZED_LOGITS and not CLASSIFIERS.get(self.classifier).normalized:
            normalized = [n for n in CLASSIFIERS.names() if CLASSIFIERS.get(n).normalized]
            raise ValueError(
                f"loss: {self.loss!r} assumes scaled-cosine logits; use it with classifier one of {normalized}, "
                f"not {self.classifier!r}"
            )
        if self.sampler == "class_balanced" and self.loss in REBALANCING_LOSSES:
            raise ValueError(
                f"loss: {self.loss!r} already re-balances the classes; with sampler='class_balanced' the tail would "
                f"be corrected twice. Use loss='ce' with the class-balanced sampler, or sampler='instance'."
            )
        if self.classifier == "lws" and not self.init_from:
            raise ValueError(
                "init_from: classifier='lws' retrains only per-class scales; name the stage-1 run folder "
                "(a run with classifier='linear') to take the backbone and weights from"
            )
        if self.classifier == "lws" and not self.freeze_backbone:
            raise ValueError(
                "freeze_backbone: classifier='lws' learns only per-class scales on a frozen stage-1 model; "
                "set freeze_backbone=True"
            )
        if self.freeze_backbone and not self.init_from:
            raise ValueError(
                "freeze_backbone: a frozen random backbone learns nothing; set init_from to a stage-1 run folder"
            )
