"""The one training loop: schedules, moving-average feature, checkpoint/resume.

Schedules reproduce the authors' per-epoch learning rates (docs/method.md 1.2): their scheduler
steps at the *start* of each epoch, so 1-based epoch e trains at the rate the scheduler gives
for ``last_epoch = e`` (cosine: the last epoch runs at lr 0).

Every epoch ends with an atomic checkpoint (``checkpoint.pt``: model incl. the moving-average
buffer, optimizer, finished epoch, history, config). Each epoch's data order and augmentation
come from generators seeded by (seed, epoch), so a run killed after epoch k and resumed gives
the same weights as one that never stopped (under ``pipeline="torchvision"`` the DataLoader
workers' seeds come from the same generator: the same holds for the same ``num_workers``).

Under ``torchrun`` (``ltkit.distributed``) every rank draws the same global batches and trains
on its share of each, in ``DistributedDataParallel`` with synchronized BatchNorm and the
moving average all-reduced; rank 0 writes the checkpoints.
"""

from __future__ import annotations

import bisect
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn

from . import distributed
from .checkpoint import load_checkpoint, save_checkpoint
from .data import LTData, augment_batch, epoch_indices
from .data.base import TensorImages
from .data.transforms import TorchvisionImages
from .losses import create_loss
from .machine import cpu
from .models import create_backbone, create_classifier
from .models.classifiers import LWSClassifier
from .models.ghost_bn import use_ghost_batch_norm
from .tde import MovingAverageFeature, mu_from_lr
from .utils import channels_last, precision

if TYPE_CHECKING:  # the schema sits above the method; the loop only reads its fields
    from .config import RunConfig

CHECKPOINT = "checkpoint.pt"


# ----------------------------------------------------------------------------- schedules
def warmup_multistep_lr(
    epoch: int, lr: float, *, warmup_epochs: int = 5, milestones=(120, 160), factor: float = 0.01
) -> float:
    """lr0 * w_e * factor ** bisect_right(milestones, e), w_e = 1/3 (1 - e/W) + e/W for e < W."""
    w = 1.0
    if epoch < warmup_epochs:
        t = epoch / warmup_epochs
        w = (1 / 3) * (1 - t) + t
    return lr * w * factor ** bisect.bisect_right(list(milestones), epoch)


def cosine_lr(epoch: int, lr: float, *, epochs: int, eta_min: float = 0.0) -> float:
    """eta_min + (lr0 - eta_min) (1 + cos(pi e / E)) / 2: epoch 1 is already below lr0, epoch E is 0."""
    return eta_min + 0.5 * (lr - eta_min) * (1 + math.cos(math.pi * epoch / epochs))


def lr_at_epoch(cfg: RunConfig, epoch: int) -> float:
    """The learning rate of 1-based ``epoch`` under ``cfg``'s schedule (the authors' order)."""
    if cfg.schedule == "cosine":
        return cosine_lr(epoch, cfg.lr, epochs=cfg.epochs)
    return warmup_multistep_lr(
        epoch, cfg.lr, warmup_epochs=cfg.warmup_epochs, milestones=cfg.milestones, factor=cfg.lr_factor
    )


def per_step_warmup(cfg: RunConfig, epoch: int) -> bool:
    """Whether ``epoch``'s lr changes every step: it lies in a ``warmup="step"`` warm-up."""
    return cfg.warmup == "step" and cfg.schedule == "warmup_multistep" and epoch <= cfg.warmup_epochs


def lr_at_step(cfg: RunConfig, epoch: int, step: int, steps: int) -> float:
    """The learning rate of 0-based ``step`` (of ``steps``) in 1-based ``epoch``: the epoch's
    (:func:`lr_at_epoch`), except in a ``warmup="step"`` warm-up, where it ramps linearly over the
    warm-up's steps, from lr / (warm-up steps) at the first to lr at the last (the milestone factor
    applied as in the per-epoch schedule)."""
    if not per_step_warmup(cfg, epoch):
        return lr_at_epoch(cfg, epoch)
    done = (epoch - 1) * steps + step + 1
    return (
        cfg.lr * done / (cfg.warmup_epochs * steps) * cfg.lr_factor ** bisect.bisect_right(list(cfg.milestones), epoch)
    )


def mu_at_epoch(cfg: RunConfig, lr: float) -> float:
    """Moving-average momentum for an epoch trained at ``lr`` (docs/method.md 1.5)."""
    return mu_from_lr(lr) if cfg.mu_schedule == "lr_scaled" else cfg.mu


# ----------------------------------------------------------------------------- model
class LTModel(nn.Module):
    """Backbone + classifier + the moving-average feature (a buffer in the state dict)."""

    def __init__(self, backbone: nn.Module, classifier: nn.Module, mu: float = 0.9):
        super().__init__()
        self.backbone = backbone
        self.classifier = classifier
        self.moving_average = MovingAverageFeature(backbone.out_features, mu)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.backbone(x))


def build_model(cfg: RunConfig, num_classes: int) -> LTModel:
    backbone = create_backbone(cfg.backbone, activation=cfg.activation)
    if cfg.bn_batch:
        use_ghost_batch_norm(backbone, cfg.bn_batch)
    classifier = create_classifier(
        cfg.classifier,
        backbone.out_features,
        num_classes,
        num_head=cfg.num_head,
        tau=cfg.tau,
        gamma=cfg.gamma,
        tau_norm_p=cfg.tau_norm_p,
    )
    model = LTModel(backbone, classifier, cfg.mu)
    return model.to(torch.float64) if cfg.dtype == "float64" else model


def load_stage1(model: LTModel, cfg: RunConfig) -> None:
    """Two-stage decoupling: copy a stage-1 run's backbone into ``model``, and for LWS also its
    linear classifier weights (LWS only re-scales them). Any other classifier starts from its
    fresh initialisation, which is cRT (classifier re-training). ``cfg.init_from`` is a run folder or a
    checkpoint file."""
    p = Path(cfg.init_from)
    ckpt_path = p / CHECKPOINT if p.is_dir() else p
    if not ckpt_path.is_file():
        raise FileNotFoundError(f"init_from: no checkpoint at {ckpt_path}; point it at a finished stage-1 run folder")
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    state = ckpt["model"]
    # the weights of a ReLU backbone under softplus (or back) would load, and mean something else
    theirs, ours = (
        type(cfg).with_defaults(ckpt.get("config", {})).get("activation"),
        getattr(model.backbone, "activation", None),
    )
    if theirs != ours:
        raise ValueError(
            f"init_from: {ckpt_path} was trained with activation={theirs!r}, this run has activation={ours!r}"
        )
    backbone = {k[len("backbone.") :]: v for k, v in state.items() if k.startswith("backbone.")}
    model.backbone.load_state_dict(backbone)
    if isinstance(model.classifier, LWSClassifier):
        w = state.get("classifier.fc.weight")
        if w is None or w.shape != model.classifier.fc.weight.shape:
            raise ValueError(
                f"init_from: {ckpt_path} has no linear classifier weight of shape "
                f"{tuple(model.classifier.fc.weight.shape)}; LWS needs a stage-1 run with classifier='linear'"
            )
        with torch.no_grad():
            model.classifier.fc.weight.copy_(w)


# ----------------------------------------------------------------------------- data
def epoch_generators(seed: int, epoch: int, device: torch.device) -> Tuple[np.random.Generator, torch.Generator]:
    """The sampler RNG and the augmentation generator of one epoch: a function of (seed, epoch)."""
    rng = np.random.default_rng([seed, epoch])
    gen = torch.Generator(device=device)
    gen.manual_seed(int(rng.integers(2**62)))
    return rng, gen


def steps_per_epoch(cfg: RunConfig, train_size: int) -> int:
    full = train_size // cfg.batch_size
    if full < 1:
        raise ValueError(f"batch_size: {cfg.batch_size} is larger than the training set ({train_size} images)")
    return min(full, cfg.steps_per_epoch) if cfg.steps_per_epoch else full


def train_batches(
    cfg: RunConfig, data: LTData, device: torch.device, epoch: int, steps: int, images_on_device: Optional[torch.Tensor]
) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
    """(x, y) batches of one epoch on ``device``, augmented."""
    rng, gen = epoch_generators(cfg.seed, epoch, device)
    labels = np.asarray(data.train.targets)
    idx = epoch_indices(
        labels,
        steps * cfg.batch_size,
        rng,
        sampler=cfg.sampler,
        num_classes=data.num_classes,
        samples_per_class=cfg.samples_per_class,
    )
    if isinstance(data.train, TensorImages) and cfg.pipeline == "batched":
        assert images_on_device is not None
        all_idx = torch.from_numpy(idx).to(device)
        all_y = data.train.labels.to(device)[all_idx]
        for s in range(steps):
            b = all_idx[s * cfg.batch_size : (s + 1) * cfg.batch_size]
            x = augment_batch(images_on_device[b], gen, mean=data.train.mean, std=data.train.std)
            # distributed: every rank augments the same global batch and keeps its share of it
            yield distributed.shard(x), distributed.shard(all_y[s * cfg.batch_size : (s + 1) * cfg.batch_size])
        return
    # file-backed datasets, and in-memory ones under pipeline="torchvision": DataLoader workers
    # decode and augment (each rank its share of a batch), or, with jpeg_decode "device" ("auto" on
    # a GPU), workers only read the files and the batch is decoded (nvJPEG on CUDA) and augmented
    # on the device
    dataset = TorchvisionImages(data.train) if isinstance(data.train, TensorImages) else data.train
    torch.manual_seed(int(rng.integers(2**62)) + distributed.rank())  # worker seeds derive from this RNG
    batches = [
        distributed.shard(torch.from_numpy(idx[s * cfg.batch_size : (s + 1) * cfg.batch_size])).tolist()
        for s in range(steps)
    ]
    if dataset is data.train and decode_on_device(cfg, device):
        from .data.listfile import EncodedImages, collate_encoded, decode_and_transform

        loader = torch.utils.data.DataLoader(
            EncodedImages(data.train), batch_sampler=batches, num_workers=cfg.num_workers, collate_fn=collate_encoded
        )
        for encoded, y in loader:
            yield decode_and_transform(encoded, device, data.train.transform), y.to(device, non_blocking=True)
        return
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=batches,
        num_workers=cfg.num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=False,
    )
    for x, y in loader:
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def decode_on_device(cfg: RunConfig, device: torch.device) -> bool:
    """Whether list-file JPEGs are decoded on the training device (``jpeg_decode``; "auto": on a GPU)."""
    return cfg.jpeg_decode == "device" or (cfg.jpeg_decode == "auto" and device.type == "cuda")


# ----------------------------------------------------------------------------- loop
def train(
    cfg: RunConfig,
    data: LTData,
    model: LTModel,
    run_dir: Path,
    device: torch.device,
    *,
    log=print,
    on_epoch: Optional[Callable[[List[Dict[str, Any]]], None]] = None,
    epoch_metrics: Optional[Callable[[int], Dict[str, Any]]] = None,
) -> List[Dict[str, Any]]:
    """Train ``model`` for ``cfg.epochs`` epochs, resuming from ``run_dir/checkpoint.pt``.

    Returns the history (one dict per epoch). The model ends in its trained state, on ``device``.
    ``epoch_metrics(epoch)`` (main process) adds columns to an epoch's history row before its
    checkpoint is written, so a run stopped at any moment resumes with every finished epoch's
    row whole (the runner's ``test_every`` accuracies). ``on_epoch(history)`` is called on the
    main process after each epoch's checkpoint is written (the runner writes ``history.csv`` and
    the progress in ``run.json`` there).
    """
    from tqdm.auto import tqdm

    world, main = distributed.world_size(), distributed.is_main()
    if cfg.batch_size % world:
        raise ValueError(
            f"batch_size: {cfg.batch_size} (the global batch) does not split evenly over {world} processes"
        )
    model.to(device)
    distributed.sync_batchnorm(model, device)  # BatchNorm over the global batch (no-op on one process)
    if channels_last(device):
        model.to(memory_format=torch.channels_last)
    if cfg.freeze_backbone:
        for p in model.backbone.parameters():
            p.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    criterion = create_loss(
        cfg.loss,
        class_counts=data.train_counts.tolist(),
        focal_gamma=cfg.focal_gamma,
        cb_beta=cfg.cb_beta,
        ldam_max_margin=cfg.ldam_max_margin,
        drw_epoch=cfg.drw_epoch,
        la_tau=cfg.la_tau,
        logit_scale=cfg.tau,
    ).to(device)

    history: List[Dict[str, float]] = []
    start = 1
    ckpt_path = run_dir / CHECKPOINT
    found = load_checkpoint(ckpt_path, map_location=device, log=log)  # the newest that loads
    if found is not None:
        ckpt = found[0]
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        history = list(ckpt["history"])
        start = int(ckpt["epoch"]) + 1
        if start <= cfg.epochs:
            log(f"resuming {run_dir} after epoch {start - 1}/{cfg.epochs}")

    steps = steps_per_epoch(cfg, len(data.train))
    images = (
        data.train.images.to(device) if isinstance(data.train, TensorImages) and cfg.pipeline == "batched" else None
    )
    forward = distributed.wrap_ddp(TrainForward(model, cfg.freeze_backbone), device)
    eager_step = make_step(cfg, model, forward, optimizer, criterion, device)
    used_precision = "fp64" if cfg.dtype == "float64" else precision(cfg.amp, device)[0]
    # per epoch, so that a run resumed on another machine shows it in history.csv
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu()["model"]
    # compiled, the step holds the lr as a constant: a new lr recompiles it (once an epoch at most
    # here). A per-step warm-up changes the lr every step, so its epochs run the step uncompiled.
    step_fn = torch.compile(eager_step) if cfg.compile else eager_step

    epochs_bar = (
        tqdm(
            range(start, cfg.epochs + 1),
            initial=start - 1,
            total=cfg.epochs,
            disable=not cfg.progress,
            desc=cfg.run_name,
            unit="epoch",
            dynamic_ncols=True,
        )
        if main
        else range(start, cfg.epochs + 1)
    )
    for epoch in epochs_bar:
        lr = lr_at_epoch(cfg, epoch)
        mu = mu_at_epoch(cfg, lr)
        for g in optimizer.param_groups:
            g["lr"] = lr
        model.moving_average.mu = mu
        if hasattr(criterion, "set_epoch"):
            criterion.set_epoch(epoch)
        model.train()
        if cfg.freeze_backbone:
            model.backbone.eval()  # frozen means frozen: BN statistics stay those of stage 1
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        seen = 0
        t0 = time.perf_counter()
        batches = train_batches(cfg, data, device, epoch, steps, images)
        if steps >= 20 and main:  # a bar inside the epoch only where an epoch takes a while
            batches = tqdm(
                batches, total=steps, leave=False, disable=not cfg.progress, desc=f"epoch {epoch}", dynamic_ncols=True
            )
        per_step = per_step_warmup(cfg, epoch)
        for i, (x, y) in enumerate(batches):
            if per_step:
                lr = lr_at_step(cfg, epoch, i, steps)
                for g in optimizer.param_groups:
                    g["lr"] = lr
            loss, n_correct = (eager_step if per_step else step_fn)(x, y)
            loss_sum += loss.detach() * y.shape[0]
            correct += n_correct
            seen += y.shape[0]
        if world > 1:  # the epoch's metrics over every rank's share
            totals = distributed.all_reduce_sum(
                torch.stack([loss_sum.double(), correct.double(), torch.tensor(float(seen), device=device).double()])
            )
            loss_sum, correct, seen = totals[0], totals[1], int(totals[2].item())
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        elapsed = time.perf_counter() - t0
        row = {  # lr: the epoch's last step's
            "epoch": epoch,
            "lr": lr,
            "mu": mu,
            "loss": loss_sum.item() / seen,
            "train_acc": 100.0 * correct.item() / seen,
            "images_per_s": seen / elapsed,
            "time_s": elapsed,
            "precision": used_precision,
            "device_name": device_name,
        }
        if not math.isfinite(row["loss"]):
            raise FloatingPointError(f"training diverged at epoch {epoch} (loss {row['loss']}); lower lr")
        history.append(row)
        if main:
            if epoch_metrics is not None:
                row.update(epoch_metrics(epoch))
            save_checkpoint(
                ckpt_path,
                {
                    "epoch": epoch,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "history": history,
                    "config": cfg.training_dict(),
                },
            )
            epochs_bar.set_postfix(
                lr=f"{lr:.4g}",
                loss=f"{row['loss']:.3f}",
                acc=f"{row['train_acc']:.1f}%",
                img_s=f"{row['images_per_s']:.0f}",
            )
            if on_epoch is not None:
                on_epoch(history)
        distributed.barrier()  # no rank runs ahead of the checkpoint it would resume from
    if main:
        epochs_bar.close()
    return history


def at_least_fp32(t: torch.Tensor) -> torch.Tensor:
    """float16 / bfloat16 (autocast) -> float32; float32 and float64 stay as they are."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


class TrainForward(nn.Module):
    """One training forward, features and logits: the module ``DistributedDataParallel`` wraps."""

    def __init__(self, model: LTModel, freeze_backbone: bool = False):
        super().__init__()
        self.model = model
        self.freeze_backbone = freeze_backbone

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if self.freeze_backbone:
            with torch.no_grad():
                feats = self.model.backbone(x)
        else:
            feats = self.model.backbone(x)
        with torch.autocast(feats.device.type, enabled=False):  # the head in fp32, as the loss
            logits = self.model.classifier(at_least_fp32(feats))
        return feats, logits


def make_step(cfg: RunConfig, model: LTModel, forward: nn.Module, optimizer, criterion, device):
    """One training step ``step(x, y) -> (loss, correct)``: forward (bf16 autocast where the run
    uses it), moving-average update, loss, backward and optimizer step. The loop compiles it
    with ``compile=True``; the benchmarks time it alone."""
    bf16 = precision(cfg.amp, device)[0] == "bf16"

    def step(x: torch.Tensor, y: torch.Tensor):
        if cfg.dtype == "float64":  # the batch comes as float32 (the same values, exactly)
            x = x.double()
        if channels_last(device):
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
            feats, logits = forward(x)
        model.moving_average.update(at_least_fp32(feats))  # all-reduced over ranks
        loss = criterion(logits, y)  # fp32: the head ran outside autocast
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach(), (logits.argmax(1) == y).sum()

    return step
