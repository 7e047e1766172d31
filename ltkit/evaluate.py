"""Evaluation: top-1, many / medium / few, per-class accuracy, and the cached outputs.

A test pass extracts features once; every evaluation (plain, TDE, tau-norm, ...) is then a
few matrix products on those features (``Classifier.evaluation_logits``).

Shot groups come from the *training* class counts (docs/method.md 1.9): many n > 100, few n < 20,
medium otherwise (``ltkit.data.profiles.MANY_SHOT`` / ``FEW_SHOT``). A group's score is the
unweighted mean of its classes' accuracies, over the classes present in the test labels. Unlike
the authors' code (which prints 0), a group with no class is reported as ``None`` (null in JSON):
CIFAR-10-LT has no few-shot class.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from .data import normalize_batch, shot_groups
from .data.base import TensorImages
from .data.profiles import FEW_SHOT, MANY_SHOT
from .tde import suggest_alpha
from .utils import autocast as bf16_autocast
from .utils import channels_last

GROUPS = ("many", "medium", "few")


@torch.no_grad()
def extract_features(
    model,
    split,
    device: torch.device,
    *,
    batch_size: int = 1024,
    num_workers: int = 0,
    amp: bool = True,
    progress: bool = False,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Backbone features (N, D) float32 (float64 for a float64 model) and labels (N,) of a whole
    split, in order, on the CPU."""
    from tqdm.auto import tqdm

    model.eval()
    feats, labels = [], []
    autocast = bf16_autocast(amp, device)  # bf16 where the training step used it (utils.precision)
    if isinstance(split, TensorImages):
        images = split.images.to(device)
        batches = (
            (normalize_batch(images[i : i + batch_size], split.mean, split.std), split.labels[i : i + batch_size])
            for i in range(0, len(split), batch_size)
        )
        total = -(-len(split) // batch_size)
    else:
        batches = torch.utils.data.DataLoader(
            split, batch_size=batch_size, shuffle=False, num_workers=num_workers, pin_memory=device.type == "cuda"
        )
        total = len(batches)
    float64 = next(model.parameters()).dtype == torch.float64  # a dtype="float64" run
    for x, y in tqdm(batches, total=total, disable=not progress, leave=False, desc="evaluate"):
        x = x.to(device, non_blocking=True)
        if float64:
            x = x.double()
        if channels_last(device):
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast:
            f = model.backbone(x)
        feats.append(f if float64 else f.float())
        labels.append(y)
    return torch.cat(feats).cpu(), torch.cat(labels).long().cpu()


def per_class_accuracy(preds: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Accuracy (%) of each class; NaN for a class absent from ``labels``."""
    preds, labels = np.asarray(preds), np.asarray(labels)
    total = np.bincount(labels, minlength=num_classes).astype(float)
    hit = np.bincount(labels[preds == labels], minlength=num_classes).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 100.0 * hit / total, np.nan)


def shot_accuracy(
    preds, labels, train_counts, *, many: int = MANY_SHOT, few: int = FEW_SHOT
) -> Dict[str, Optional[float]]:
    """{"overall": micro top-1 %, "many" / "medium" / "few": mean per-class % or None}."""
    m = shot_accuracy_many(np.asarray(preds)[None], labels, train_counts, many=many, few=few)
    return {k: (None if np.isnan(v[0]) else float(v[0])) for k, v in m.items()}


def shot_accuracy_many(
    preds: np.ndarray, labels: np.ndarray, train_counts, *, many: int = MANY_SHOT, few: int = FEW_SHOT
) -> Dict[str, np.ndarray]:
    """``shot_accuracy`` for S predictions of the same samples at once: preds (S, N) ->
    {"overall" / "many" / "medium" / "few": (S,) arrays}, NaN for an empty group."""
    preds, labels = np.asarray(preds), np.asarray(labels)
    s = preds.shape[0]
    c = len(train_counts)
    correct = preds == labels[None, :]
    out: Dict[str, np.ndarray] = {"overall": 100.0 * correct.mean(axis=1) if labels.size else np.full(s, np.nan)}
    total = np.bincount(labels, minlength=c).astype(float)
    rows = np.broadcast_to(np.arange(s)[:, None], correct.shape)
    hits = np.bincount((rows * c + labels[None, :])[correct], minlength=s * c).reshape(s, c).astype(float)
    present = total > 0
    acc = 100.0 * hits[:, present] / total[present]
    groups = shot_groups(np.asarray(train_counts), many=many, few=few)[present]
    for g in GROUPS:
        sel = groups == g
        out[g] = acc[:, sel].mean(axis=1) if sel.any() else np.full(s, np.nan)
    return out


#: the alphas ``select_alpha`` (``alpha="val"``) tries: 0 to 5 in steps of 0.05 (0 = plain logits)
VAL_ALPHAS = np.round(np.arange(0.0, 5.0 + 1e-9, 0.05), 2)
#: what ``select_alpha`` maximises, as written into the run record
VAL_CRITERION = (
    "overall top-1 accuracy on the validation split, over the alphas 0, 0.05, ..., 5; "
    "ties go to the median of the tied alphas"
)


@torch.no_grad()
def select_alpha(
    classifier,
    features: torch.Tensor,
    labels: torch.Tensor,
    train_counts,
    *,
    mean_feature: torch.Tensor,
    alphas=VAL_ALPHAS,
    chunk: int = 8192,
) -> Tuple[float, List[Dict[str, Any]]]:
    """Choose the TDE alpha on a labelled held-out split (never the test split): the alpha of
    ``alphas`` with the best overall accuracy on ``features`` / ``labels``; ties go to the
    median of the tied alphas (the lower one of the two middle ones), so a flat optimum gives
    its centre, not its edge.

    The TDE logits are affine in alpha (``ltkit.tde.tde_logits``: z - alpha * b), so the
    classifier is evaluated twice, at alpha 0 and 1, and every alpha of the grid costs one
    subtraction and an argmax. Returns (chosen alpha, the sweep: one dict per alpha with
    overall / many / medium / few in percent, None for an empty group).
    """
    if not getattr(classifier, "supports_tde", False):
        raise ValueError(
            f"{type(classifier).__name__} has no TDE logits; alpha selection needs a causal-norm-type classifier"
        )
    grid = np.asarray(alphas, dtype=float)
    if grid.ndim != 1 or grid.size == 0 or (grid < 0).any():
        raise ValueError(f"alphas: need a non-empty list of alphas >= 0, got {alphas!r}")
    classifier = classifier.eval()
    dev = next(classifier.parameters()).device
    mean_feature = mean_feature.to(dev)
    z_parts, b_parts = [], []
    for i in range(0, len(features), chunk):
        x = features[i : i + chunk].to(dev)
        z = classifier(x).float()
        b = z - classifier.evaluation_logits(x, mean_feature=mean_feature, alpha=1.0)["tde"].float()
        z_parts.append(z.cpu())
        b_parts.append(b.cpu())
    z, b = torch.cat(z_parts).numpy(), torch.cat(b_parts).numpy()
    preds = np.stack([(z - np.float32(a) * b).argmax(1) for a in grid.tolist()])
    m = shot_accuracy_many(preds, labels.numpy(), train_counts)
    best = m["overall"].max()
    tied = grid[np.flatnonzero(m["overall"] == best)]
    chosen = float(tied[(len(tied) - 1) // 2])
    sweep = [
        {"alpha": float(a), **{k: (None if np.isnan(m[k][j]) else float(m[k][j])) for k in ("overall",) + GROUPS}}
        for j, a in enumerate(grid.tolist())
    ]
    return chosen, sweep


@torch.no_grad()
def evaluate_features(
    classifier,
    features: torch.Tensor,
    labels: torch.Tensor,
    train_counts,
    *,
    mean_feature: Optional[torch.Tensor] = None,
    alpha: Optional[float] = None,
    alpha_source: Optional[str] = None,
    chunk: int = 8192,
) -> Tuple[Dict[str, dict], Dict[str, np.ndarray]]:
    """Run every evaluation the classifier supports on cached features.

    ``alpha=None`` with a TDE-capable classifier uses ``suggest_alpha`` on these features.
    ``alpha_source`` names where a given alpha came from in the metrics ("config" by default;
    the runner passes "val" for an alpha chosen by :func:`select_alpha`).
    Returns (metrics by evaluation name, logits by evaluation name as float32 arrays).
    """
    classifier = classifier.eval()
    dev = next(classifier.parameters()).device
    tde_alpha = None
    if getattr(classifier, "supports_tde", False) and mean_feature is not None:
        num_head = classifier.num_head
        tde_alpha = (
            float(alpha) if alpha is not None else suggest_alpha(features, mean_feature.cpu(), num_head=num_head)
        )
        mean_feature = mean_feature.to(dev)
    parts: Dict[str, list] = {}
    for i in range(0, len(features), chunk):
        out = classifier.evaluation_logits(features[i : i + chunk].to(dev), mean_feature=mean_feature, alpha=tde_alpha)
        for k, v in out.items():
            parts.setdefault(k, []).append(v.float().cpu())
    logits = {k: torch.cat(v).numpy() for k, v in parts.items()}
    y = labels.numpy()
    metrics: Dict[str, dict] = {}
    for name, lg in logits.items():
        m = shot_accuracy(lg.argmax(1), y, train_counts)
        if name == "tde":
            m["alpha"] = tde_alpha
            m["alpha_source"] = (alpha_source or "config") if alpha is not None else "suggest_alpha"
        metrics[name] = m
    return metrics, logits
