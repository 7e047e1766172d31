"""The run schemas: ``RunConfig`` (classification) and ``LVISRunConfig`` (LVIS), flat, typed and
validated on construction (the shared machinery is ``ltkit.schema``).

A notebook's ``parameters`` cell and the ``python -m ltkit run`` flags map 1:1 onto
``RunConfig``'s fields, train_lvis.ipynb's and ``python -m ltkit.detection run``'s onto
``LVISRunConfig``'s. Constructing a ``RunConfig`` checks names, types, ranges and combinations, so a bad
value fails at once with a ``ValueError`` that names the field and what it accepts.

The paper's settings (docs/method.md 1.3) are presets: ``RunConfig.preset("cifar100_lt_tde")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Dict, FrozenSet, Optional, Tuple, Union

from .data.datasets import DATASETS as _DATASETS
from .data.datasets import names as _dataset_names
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
#: a one-setting-changed comparison) never do (ltkit.results.compare_table)
STUDIES = ("reproduction", "analysis")
#: the dtype of the weights and the training arithmetic: float64 is for reference runs whose
#: numbers must hold on every CPU to 1e-9 (tests/test_golden.py), not for real training
DTYPES = ("float32", "float64")

#: where each dataset is looked for when ``data_root`` is empty (relative to the cwd)
DEFAULT_DATA_ROOTS = {name: d.default_root for name, d in _DATASETS.items()}

#: fields that say where and how a run executes, not what it computes: a complete run's
#: record is reused whatever their values (num_workers only under the batched pipeline:
#: ``RunConfig.execution_fields``)
EXECUTION_FIELDS = frozenset({"device", "gpus", "jpeg_decode", "num_workers", "eval_batch_size", "progress", "output_dir",
                              "data_root", "download", "study"})
#: fields a run may be resumed with different values of: the execution fields and the
#: evaluation-only settings (changing those re-evaluates the trained model)
RESUMABLE_FIELDS = EXECUTION_FIELDS | {"alpha", "tau_norm_p", "test_every"}


@dataclass(frozen=True)
class RunConfig(Schema):
    """All parameters of one training + evaluation run. Defaults: the synthetic quickstart's
    causal-norm model; presets hold the paper's settings (``RunConfig.preset(name)``).
    ``ltkit.schema.Schema`` gives it construction checks, dict / flag / notebook round trips and
    the ``matches`` rule a complete run is skipped by."""

    KIND: ClassVar[str] = "RunConfig"
    EXECUTION_FIELDS: ClassVar[FrozenSet[str]] = EXECUTION_FIELDS
    FOLDER_FIELD: ClassVar[str] = "output_dir"
    CLI: ClassVar[Tuple[str, ...]] = ("ltkit", "run")

    # --- data
    dataset: str = "synthetic_lt"
    imb_ratio: float = 100.0
    data_root: str = ""  # "" -> DEFAULT_DATA_ROOTS[dataset]
    download: bool = False  # CIFAR only: fetch through torchvision if missing
    # CIFAR / synthetic augmentation: "batched" (tensor ops on the device) or "torchvision" (the
    # authors' DataLoader + PIL pipeline; its random crops depend on num_workers, as in any DataLoader)
    pipeline: str = "batched"
    # --- model
    backbone: str = "resnet32"
    # the backbone's nonlinearity: "relu" (the paper's), or the smooth "softplus" / "silu", whose
    # training does not amplify rounding differences (the quickstart; ltkit.models.backbones)
    activation: str = "relu"
    classifier: str = "causal_norm"
    num_head: int = 2
    tau: float = 16.0
    gamma: float = 1 / 32
    # > 0: BatchNorm normalises each slice of this many training images on its own (ghost batches),
    # as nn.DataParallel did per GPU in the authors' runs (ltkit.models.ghost_bn); 0: the whole batch
    bn_batch: int = 0
    # TDE alpha: a number; None ("auto") -> ltkit.tde.suggest_alpha on the test features; "val" ->
    # the alpha with the best overall accuracy on the validation split (ltkit.evaluate.select_alpha)
    alpha: Union[float, str, None] = field(default=None, metadata={"shown": "None (suggest_alpha); a number, 'auto' or 'val'"})
    tau_norm_p: float = 1.0  # classifier="tau_norm": the exponent p of ||w||^p
    # --- loss and sampling
    loss: str = "ce"
    focal_gamma: float = 2.0
    cb_beta: float = 0.9999
    ldam_max_margin: float = 0.5
    drw_epoch: int = 0  # LDAM deferred re-weighting from this epoch on (0 = off)
    la_tau: float = 1.0
    sampler: str = "instance"
    samples_per_class: int = 4
    # --- optimisation (docs/method.md 1.2)
    epochs: int = 200
    batch_size: int = 256
    lr: float = 0.2
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "warmup_multistep"
    warmup_epochs: int = 5
    # "epoch": the warm-up's lr changes once an epoch, as the authors'; "step": it ramps linearly
    # from about 0 to lr over the warm-up's steps (what the linear baselines need: see PRESETS)
    warmup: str = "epoch"
    milestones: Tuple[int, ...] = (120, 160)
    lr_factor: float = 0.01
    mu: float = 0.9  # moving-average momentum
    mu_schedule: str = "fixed"  # "lr_scaled": mu = 1 - 0.1 * min(50 * lr, 1) per epoch (ImageNet/Places)
    steps_per_epoch: int = 0  # 0 -> floor(train size / batch size), as the authors
    # --- two-stage decoupling (cRT, LWS)
    init_from: str = ""  # a stage-1 run folder: load its backbone (and linear weights)
    freeze_backbone: bool = False
    # --- the synthetic dataset
    synthetic_classes: int = 10
    synthetic_n_max: int = 500
    synthetic_image_size: int = 16
    # --- run
    seed: int = 0
    device: str = "auto"
    gpus: int = 1  # > 1: train on that many processes under torchrun (DDP); the batch size stays global
    amp: bool = True  # bf16 autocast of the backbone where the device has bf16 (CUDA; CPU: avx512_bf16 / AMX)
    # "float64": weights, activations and features in double precision (needs amp=False): runs
    # whose numbers agree across CPUs to rounding, for reference tests; "float32" for everything else
    dtype: str = "float32"
    compile: bool = False
    num_workers: int = 4
    jpeg_decode: str = "auto"  # list-file datasets: "workers" (PIL in DataLoader workers), "device", "auto"
    eval_batch_size: int = 1024
    # > 0: every this many epochs (and at the last) also measure overall test accuracy, plain and
    # TDE at a numeric alpha, into history.csv (test_plain, test_tde): analysis only, e.g. of how an
    # epoch picked by test accuracy would differ from the last epoch, which ltkit reports. Nothing
    # selects on it, and it leaves training as it is (an evaluation-mode pass, no random numbers).
    test_every: int = 0
    output_dir: str = ""  # "" -> results/runs/<run_name>
    progress: bool = True
    # "reproduction": the run may fill a paper table; "analysis": it never does (STUDIES)
    study: str = "reproduction"

    # ------------------------------------------------------------------ derived
    @property
    def run_name(self) -> str:
        return f"{self.dataset}-r{self.imb_ratio:g}-{self.backbone}-{self.classifier}-{self.loss}-s{self.seed}"

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
        from .data.samplers import SAMPLERS
        from .losses import LOSSES, NEEDS_NORMALIZED_LOGITS, REBALANCING_LOSSES
        from .models import ACTIVATIONS, BACKBONES, CLASSIFIERS, backbone_out_features

        choice("dataset", self.dataset, tuple(_DATASETS))
        choice("backbone", self.backbone, BACKBONES.names())
        choice("activation", self.activation, sorted(ACTIVATIONS))
        choice("classifier", self.classifier, CLASSIFIERS.names())
        choice("loss", self.loss, LOSSES.names())
        choice("sampler", self.sampler, SAMPLERS)
        choice("schedule", self.schedule, SCHEDULES)
        choice("warmup", self.warmup, WARMUPS)
        check("warmup", self.warmup == "epoch" or self.schedule == "warmup_multistep",
              "'step' applies to schedule='warmup_multistep' (the cosine schedule has no warm-up)", self.warmup)
        choice("jpeg_decode", self.jpeg_decode, JPEG_DECODES)
        choice("mu_schedule", self.mu_schedule, MU_SCHEDULES)
        choice("pipeline", self.pipeline, PIPELINES)
        choice("study", self.study, STUDIES)
        choice("dtype", self.dtype, DTYPES)
        check("dtype", self.dtype == "float32" or not self.amp,
              "'float64' trains without autocast; set amp=False with it", self.dtype)
        check("pipeline", self.pipeline == "batched" or self.dataset in IN_MEMORY_DATASETS,
               f"'torchvision' applies to the in-memory datasets ({', '.join(IN_MEMORY_DATASETS)}); "
               f"{self.dataset} always reads its files in DataLoader workers (jpeg_decode says where JPEGs are decoded)",
               self.pipeline)
        check("batch_size", self.batch_size % self.gpus == 0,
               f"must split evenly over gpus={self.gpus} (it is the global batch)", self.batch_size)
        check("bn_batch", self.bn_batch >= 0, "must be >= 0 (0: BatchNorm over the whole batch)", self.bn_batch)
        check("imb_ratio", self.imb_ratio >= 1, "must be >= 1 (1 = balanced, 100 = head class 100x the tail)", self.imb_ratio)
        for name in ("epochs", "batch_size", "num_head", "samples_per_class", "eval_batch_size",
                     "synthetic_classes", "synthetic_n_max", "gpus"):
            check(name, getattr(self, name) >= 1, "must be a positive integer", getattr(self, name))
        for name in ("lr", "tau"):
            check(name, getattr(self, name) > 0, "must be > 0", getattr(self, name))
        for name in ("weight_decay", "gamma", "warmup_epochs", "drw_epoch", "steps_per_epoch", "num_workers", "test_every",
                     "focal_gamma", "ldam_max_margin", "la_tau", "tau_norm_p"):
            check(name, getattr(self, name) >= 0, "must be >= 0", getattr(self, name))
        check("momentum", 0 <= self.momentum < 1, "must be in [0, 1)", self.momentum)
        check("mu", 0 <= self.mu <= 1, "must be in [0, 1]", self.mu)
        check("cb_beta", 0 <= self.cb_beta < 1, "must be in [0, 1)", self.cb_beta)
        check("lr_factor", 0 < self.lr_factor <= 1, "must be in (0, 1]", self.lr_factor)
        if isinstance(self.alpha, str):
            check("alpha", self.alpha == "val",
                   "must be a number >= 0, 'auto' (or None) for the suggest_alpha heuristic, or 'val' to choose it "
                   "on the validation split", self.alpha)
            check("alpha", self.dataset in VAL_DATASETS,
                   f"'val' chooses alpha on a validation split, and {self.dataset} has none (datasets with one: "
                   f"{', '.join(VAL_DATASETS)}); give a number, or 'auto' for the suggest_alpha heuristic", self.alpha)
        else:
            check("alpha", self.alpha is None or self.alpha >= 0,
                   "must be >= 0, 'auto' (or None) for the suggest_alpha heuristic, or 'val'", self.alpha)
        check("milestones", list(self.milestones) == sorted(self.milestones) and all(m >= 1 for m in self.milestones),
               "must be increasing positive epochs, e.g. 120,160", self.milestones)
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
            raise ValueError("init_from: classifier='lws' retrains only per-class scales; name the stage-1 run folder "
                             "(a run with classifier='linear') to take the backbone and weights from")
        if self.classifier == "lws" and not self.freeze_backbone:
            raise ValueError("freeze_backbone: classifier='lws' learns only per-class scales on a frozen stage-1 model; "
                             "set freeze_backbone=True")
        if self.freeze_backbone and not self.init_from:
            raise ValueError("freeze_backbone: a frozen random backbone learns nothing; set init_from to a stage-1 run folder")


# ---------------------------------------------------------------------------- presets
_CIFAR = dict(
    backbone="resnet32", classifier="causal_norm", num_head=2, tau=16.0, gamma=1 / 32,
    batch_size=256, epochs=200, lr=0.2, weight_decay=5e-4, momentum=0.9,
    schedule="warmup_multistep", warmup_epochs=5, milestones=(120, 160), lr_factor=0.01,
    mu=0.9, mu_schedule="fixed", imb_ratio=100.0,
)
_LARGE = dict(
    backbone="resnext50_32x4d", classifier="causal_norm", num_head=2, tau=16.0, gamma=1 / 32, alpha=3.0,
    batch_size=512, epochs=90, lr=0.2, weight_decay=5e-4, momentum=0.9, schedule="cosine",
    mu=0.9, mu_schedule="lr_scaled", imb_ratio=1.0,  # the split files fix the profile
)
_DECOUPLE_STAGE1 = dict(
    backbone="resnet32", classifier="linear", batch_size=512, epochs=90, lr=0.2, weight_decay=1e-4,
    momentum=0.9, schedule="cosine", imb_ratio=100.0,
)
_LWS = dict(
    backbone="resnet32", classifier="lws", batch_size=512, epochs=5, lr=0.2, weight_decay=1e-4, momentum=0.9,
    schedule="cosine", sampler="class_balanced", samples_per_class=4, freeze_backbone=True, imb_ratio=100.0,
)

#: the quickstart: the CIFAR recipe shrunk to a few minutes on two CPU cores; alpha is chosen
#: on the synthetic validation split. The backbone is ResNet-32 with SiLU in place of ReLU: ReLU's
#: kink makes a short run chaotic (a rounding difference from another thread count or CPU, or a
#: 1e-6 change of the initial weights, switches some units' gradients on or off and the runs part
#: within the first epoch, moving few-shot cells by up to 10 points); with SiLU the same
#: perturbations stay at their size and the table is the same to the printed decimal
#: (ltkit.models.backbones; benchmarks/experiments/quickstart_spread.py). lr 0.02, not the CIFAR 0.2: with 9
#: steps an epoch the bias-free linear head overshoots at lr 0.1 (first-epoch losses of 5-7
#: against ln 10 = 2.3); at 0.02 both heads start below ln C. fp32 (amp off): bf16 runs only where
#: the CPU has bf16, and the quickstart's table is to be the same on every machine
_SYNTHETIC = dict(amp=False,
    dataset="synthetic_lt", imb_ratio=100.0, backbone="resnet32", activation="silu", num_head=2, tau=16.0, gamma=1 / 32, alpha="val",
    batch_size=128, epochs=40, lr=0.02, weight_decay=5e-4, momentum=0.9, schedule="warmup_multistep",
    warmup_epochs=2, milestones=(24, 32), lr_factor=0.1, mu=0.9, mu_schedule="fixed",
)

#: The paper's settings (docs/method.md 1.3). ``*_tde`` train the causal-norm classifier once; a run
#: reports both its "plain" (De-confound) and "tde" (De-confound-TDE) evaluations.
#: ``*_baseline`` for CIFAR uses the same schedule with a plain linear classifier (no
#: authors' config; it is the natural baseline for Table 3's comparison), with one change: its
#: warm-up ramps per step. At the authors' per-epoch warm-up (lr 0.093 from the first step) the
#: bias-free linear head on unnormalised post-ReLU features overshoots: the loss went from 2.7 to
#: 12.1 within three steps and the first epoch's mean was 2.84, above ln 10. (The causal-norm head,
#: whose logits tau bounds, rises less, from 2.9 to 5.0, and its first epoch averages 1.97: the
#: paper presets keep the authors' warm-up.) Ramping from about 0 keeps every step of the baseline
#: under the first one's loss (results/benchmarks/first_epochs_cifar10_lt_baseline.txt); after the
#: warm-up's five epochs the schedule is the causal-norm presets' exactly. ``*_stage1`` / ``*_lws``
#: are the authors' Decoupling configs (``feat_unifrom`` / ``cls_lws``); ``*_lws`` needs
#: ``init_from`` (the stage-1 run folder). ``synthetic_*`` are the quickstart's settings.
PRESETS: Dict[str, Dict[str, Any]] = {
    "cifar10_lt_tde": dict(_CIFAR, dataset="cifar10_lt", alpha=1.0),
    "cifar100_lt_tde": dict(_CIFAR, dataset="cifar100_lt", alpha=1.5),
    "cifar10_lt_baseline": dict(_CIFAR, dataset="cifar10_lt", classifier="linear", warmup="step"),
    "cifar100_lt_baseline": dict(_CIFAR, dataset="cifar100_lt", classifier="linear", warmup="step"),
    "cifar10_lt_stage1": dict(_DECOUPLE_STAGE1, dataset="cifar10_lt"),
    "cifar100_lt_stage1": dict(_DECOUPLE_STAGE1, dataset="cifar100_lt"),
    "cifar10_lt_lws": dict(_LWS, dataset="cifar10_lt"),
    "cifar100_lt_lws": dict(_LWS, dataset="cifar100_lt"),
    "imagenet_lt_tde": dict(_LARGE, dataset="imagenet_lt"),
    "imagenet_lt_baseline": dict(_LARGE, dataset="imagenet_lt", classifier="linear", alpha=None),
    "places_lt_tde": dict(_LARGE, dataset="places_lt"),
    "synthetic_baseline": dict(_SYNTHETIC, classifier="linear"),
    "synthetic_tde": dict(_SYNTHETIC, classifier="causal_norm"),
}
RunConfig.PRESETS = PRESETS


# ---------------------------------------------------------------------------- LVIS
#: the test-time variants of an LVIS run: name -> (TDE on, background-exempted)
LVIS_EVALUATIONS: Dict[str, Tuple[bool, Union[bool, None]]] = {
    "plain": (False, None),  # the box head's plain output: Baseline, or "De-confound" for a causal-norm head
    "tde": (True, True),  # De-confound-TDE with background-exempted probabilities
    "tde_without_bg_exemption": (True, False),  # TDE logits, softmax over every column (Table 5)
}
#: the LVIS evaluators: the official LVIS API, or faster-coco-eval (the same numbers, faster)
LVIS_BACKENDS = ("lvis", "faster")
#: the shipped mmdet configs, ``<lvis version>/<name>.py`` (read without importing mmdet)
LVIS_CONFIG_DIR = Path(__file__).parent / "detection" / "configs"


def lvis_configs() -> list:
    """The shipped LVIS configs, as ``<lvis version>/<name>`` without ``.py``."""
    return sorted(str(p.relative_to(LVIS_CONFIG_DIR).with_suffix("")) for p in LVIS_CONFIG_DIR.glob("*/*.py")
                  if not p.parent.name.startswith("_"))


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
    CLI: ClassVar[Tuple[str, ...]] = ("ltkit.detection", "run")
    CLI_POSITIONAL: ClassVar[Tuple[str, ...]] = ("config", "work_dir")

    config: str = field(default="lvis_v1/htc_without_semantic_r101_fpn_20e_tde", metadata={
        "help": "a shipped config (python -m ltkit.detection configs lists them) or a config file"})
    work_dir: str = field(default="", metadata={
        "help": "the run folder; '' = results/runs/lvis/<config_name> (the LVIS version and the config)"})
    data_root: str = field(default="", metadata={"help": "'' = data/LVIS/ (or $LTKIT_LVIS_ROOT); see data/README.md"})
    gpus: int = field(default=1, metadata={"help": "> 1 runs under torchrun (DDP training, multi-GPU testing)"})
    alpha: Optional[float] = field(default=None, metadata={
        "help": "TDE alpha at test time; None = the config's box head (ltkit.detection.TDEClassifier's default)"})
    eval_only: str = field(default="", metadata={"help": "a checkpoint: skip training, evaluate it"})
    evaluations: Optional[Tuple[str, ...]] = field(default=None, metadata={
        "help": "some of plain, tde, tde_without_bg_exemption; None = all that apply to the box head"})
    max_epochs: Optional[int] = field(default=None, metadata={"help": "shorten the schedule (decay steps kept inside it)"})
    samples_per_gpu: Optional[int] = field(default=None, metadata={"help": "images per GPU; None = the config's"})
    seed: int = 0
    backend: str = field(default="lvis", metadata={"help": "lvis (the official LVIS API) or faster (faster-coco-eval)"})
    tiny: bool = field(default=False, metadata={"help": "shrink the model to run on a CPU in seconds (smoke runs)"})
    synthetic: bool = field(default=False, metadata={
        "help": "first write a tiny synthetic LVIS-format dataset at data_root (pair it with tiny)"})
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
        return str(Path("results/runs/lvis") / (Path(self.config).stem if own_file else self.config_name))

    def name_values(self) -> Dict[str, Any]:
        return {**self.to_dict(), "config_name": self.config_name}

    def _validate(self) -> None:
        lvis_config_path(self.config)  # an unknown config fails here, listing the shipped ones
        check("gpus", self.gpus >= 1, "must be a positive integer", self.gpus)
        choice("backend", self.backend, LVIS_BACKENDS)
        check("alpha", self.alpha is None or self.alpha >= 0, "must be a number >= 0, or None for the config's", self.alpha)
        for name in ("max_epochs", "samples_per_gpu"):
            value = getattr(self, name)
            check(name, value is None or value >= 1, "must be a positive integer, or None for the config's", value)
        for e in self.evaluations or ():
            choice("evaluations", e, LVIS_EVALUATIONS)
        check("evaluations", self.evaluations is None or len(self.evaluations) > 0,
              "name at least one evaluation, or None for all that apply", self.evaluations)
        check("data_root", not self.synthetic or bool(self.data_root),
              "synthetic=True writes a synthetic dataset there, so it must be given", self.data_root)


#: the schema a notebook's parameters cell names with a ``schema:<name>`` tag (``ltkit.batch``);
#: a parameters cell without one is a classification notebook
SCHEMAS = {"classification": RunConfig, "lvis": LVISRunConfig}
