"""Evaluation: top-1, many / medium / few, per-class accuracy, and the cached outputs.

A test pass extracts features once; every evaluation (plain, TDE, tau-norm, ...) is then a
few matrix products on those features (``Classifier.evaluation_logits``).

Shot groups come from the *training* class counts (REFERENCE 1.9): many n > 100, few n < 20,
medium otherwise. A group's score is the unweighted mean of its classes' accuracies, over the
classes present in the test labels. Unlike the authors' code (which prints 0), a group with no
class is reported as ``None`` (null in JSON): CIFAR-10-LT has no few-shot class.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np
import torch

from .data import normalize_batch, shot_groups
from .data.base import TensorImages
from .tde import suggest_alpha
from .utils import channels_last

GROUPS = ("many", "medium", "few")


@torch.no_grad()
def extract_features(model, split, device: torch.device, *, batch_size: int = 1024, num_workers: int = 0,
                     amp: bool = True, progress: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
    """Backbone features (N, D) float32 and labels (N,) of a whole split, in order, on the CPU."""
    from tqdm.auto import tqdm

    model.eval()
    feats, labels = [], []
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda")
    if isinstance(split, TensorImages):
        images = split.images.to(device)
        batches = ((normalize_batch(images[i:i + batch_size], split.mean, split.std), split.labels[i:i + batch_size])
                   for i in range(0, len(split), batch_size))
        total = -(-len(split) // batch_size)
    else:
        batches = torch.utils.data.DataLoader(split, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                                              pin_memory=device.type == "cuda")
        total = len(batches)
    for x, y in tqdm(batches, total=total, disable=not progress, leave=False, desc="evaluate"):
        x = x.to(device, non_blocking=True)
        if channels_last(device):
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast:
            f = model.backbone(x)
        feats.append(f.float())
        labels.append(y)
    return torch.cat(feats).cpu(), torch.cat(labels).long().cpu()


def per_class_accuracy(preds: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Accuracy (%) of each class; NaN for a class absent from ``labels``."""
    preds, labels = np.asarray(preds), np.asarray(labels)
    total = np.bincount(labels, minlength=num_classes).astype(float)
    hit = np.bincount(labels[preds == labels], minlength=num_classes).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 100.0 * hit / total, np.nan)


def shot_accuracy(preds, labels, train_counts, *, many: int = 100, few: int = 20) -> Dict[str, Optional[float]]:
    """{"overall": micro top-1 %, "many" / "medium" / "few": mean per-class % or None}."""
    preds, labels = np.asarray(preds), np.asarray(labels)
    counts = np.asarray(train_counts)
    acc = per_class_accuracy(preds, labels, len(counts))
    groups = shot_groups(counts, many=many, few=few)
    out: Dict[str, Optional[float]] = {"overall": float(100.0 * (preds == labels).mean())}
    present = ~np.isnan(acc)
    for g in GROUPS:
        sel = (groups == g) & present
        out[g] = float(acc[sel].mean()) if sel.any() else None
    return out


@torch.no_grad()
def evaluate_features(classifier, features: torch.Tensor, labels: torch.Tensor, train_counts, *,
                      mean_feature: Optional[torch.Tensor] = None, alpha: Optional[float] = None,
                      chunk: int = 8192) -> Tuple[Dict[str, dict], Dict[str, np.ndarray]]:
    """Run every evaluation the classifier supports on cached features.

    ``alpha=None`` with a TDE-capable classifier uses ``suggest_alpha`` on these features.
    Returns (metrics by evaluation name, logits by evaluation name as float32 arrays).
    """
    classifier = classifier.eval()
    dev = next(classifier.parameters()).device
    tde_alpha = None
    if getattr(classifier, "supports_tde", False) and mean_feature is not None:
        num_head = classifier.num_head
        tde_alpha = float(alpha) if alpha is not None else suggest_alpha(features, mean_feature.cpu(), num_head=num_head)
        mean_feature = mean_feature.to(dev)
    parts: Dict[str, list] = {}
    for i in range(0, len(features), chunk):
        out = classifier.evaluation_logits(features[i:i + chunk].to(dev), mean_feature=mean_feature, alpha=tde_alpha)
        for k, v in out.items():
            parts.setdefault(k, []).append(v.float().cpu())
    logits = {k: torch.cat(v).numpy() for k, v in parts.items()}
    y = labels.numpy()
    metrics: Dict[str, dict] = {}
    for name, lg in logits.items():
        m = shot_accuracy(lg.argmax(1), y, train_counts)
        if name == "tde":
            m["alpha"] = tde_alpha
            m["alpha_source"] = "config" if alpha is not None else "suggest_alpha"
        metrics[name] = m
    return metrics, logits
