"""Losses by name: ``create_loss(name, class_counts=..., **options)``.

Every loss maps (logits B x C, target B) to a scalar (batch mean) and has ``set_epoch(e)``
(1-based; the loop calls it at each epoch start, LDAM-DRW uses it).

* ``ce``: cross-entropy (the authors' SoftmaxLoss).
* ``focal``: -(1 - p_t)^gamma log p_t with the factor computed from a **detached** p_t, as the
  authors' FocalLoss (REFERENCE 1.6): the focal factor gets no gradient.
* ``class_balanced``: CE weighted by Cui et al.'s effective numbers, w_c = (1 - beta) /
  (1 - beta^n_c), normalized to sum to C.
* ``ldam``: LDAM (Cao et al. 2019) with optional deferred re-weighting (DRW). Margins
  m_c proportional to n_c^(-1/4), the largest ``ldam_max_margin``; the logits are assumed to be
  ``logit_scale`` x cosine (a normalized classifier), so the margin is subtracted as
  ``logit_scale * m_y``. From epoch ``drw_epoch`` on (if > 0), the class-balanced weights apply.
* ``balanced_softmax`` / ``logit_adjusted``: CE on logits + tau * log(prior) (Ren et al. 2020 /
  Menon et al. 2021); balanced softmax is tau = 1.
"""

from __future__ import annotations

from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .registry import Registry

LOSSES = Registry("loss")

#: losses that assume scaled-cosine logits (valid only with a normalized classifier)
NEEDS_NORMALIZED_LOGITS = frozenset({"ldam"})
#: losses that already re-balance the classes; combining them with a class-balanced sampler
#: would correct the tail twice, so the config rejects that combination
REBALANCING_LOSSES = frozenset({"class_balanced", "ldam", "balanced_softmax", "logit_adjusted"})


def _counts(class_counts: Sequence[int]) -> torch.Tensor:
    c = torch.as_tensor(list(class_counts), dtype=torch.float64)
    if c.ndim != 1 or len(c) < 1:
        raise ValueError("class_counts must be a non-empty sequence of per-class train counts")
    zero = (c <= 0).nonzero().flatten().tolist()
    if zero:
        raise ValueError(f"class_counts: class {zero[0]} has no training sample; this loss needs every class present")
    return c


def effective_number_weights(class_counts: Sequence[int], beta: float) -> torch.Tensor:
    """Cui et al.'s class-balanced weights (1 - beta) / (1 - beta^n), normalized to sum to C."""
    n = _counts(class_counts)
    w = (1.0 - beta) / (1.0 - torch.pow(beta, n))
    return (w / w.sum() * len(n)).float()


class _Loss(nn.Module):
    def set_epoch(self, epoch: int) -> None:  # noqa: D401 - hook
        """Called at the start of each (1-based) epoch."""


@LOSSES.register("ce")
class CrossEntropy(_Loss):
    def __init__(self, class_counts: Sequence[int]):
        super().__init__()

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target)


@LOSSES.register("focal")
class FocalLoss(_Loss):
    def __init__(self, class_counts: Sequence[int], focal_gamma: float = 2.0):
        super().__init__()
        self.gamma = float(focal_gamma)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logp_t = logits.log_softmax(-1).gather(1, target[:, None]).squeeze(1)
        factor = (1.0 - logp_t.detach().exp()).pow(self.gamma)
        return -(factor * logp_t).mean()


@LOSSES.register("class_balanced")
class ClassBalancedCE(_Loss):
    def __init__(self, class_counts: Sequence[int], cb_beta: float = 0.9999):
        super().__init__()
        self.register_buffer("weight", effective_number_weights(class_counts, cb_beta))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target, weight=self.weight.to(logits.dtype))


@LOSSES.register("ldam")
class LDAMLoss(_Loss):
    def __init__(self, class_counts: Sequence[int], ldam_max_margin: float = 0.5, logit_scale: float = 16.0,
                 drw_epoch: int = 0, cb_beta: float = 0.9999):
        super().__init__()
        n = _counts(class_counts)
        m = n.pow(-0.25)
        self.register_buffer("margins", (m * (ldam_max_margin / m.max())).float())
        self.register_buffer("drw_weight", effective_number_weights(class_counts, cb_beta))
        self.logit_scale = float(logit_scale)
        self.drw_epoch = int(drw_epoch)
        self.reweight = False

    def set_epoch(self, epoch: int) -> None:
        self.reweight = self.drw_epoch > 0 and epoch >= self.drw_epoch

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        shifted = logits - F.one_hot(target, logits.shape[1]).to(logits) * (self.logit_scale * self.margins[target])[:, None]
        return F.cross_entropy(shifted, target, weight=self.drw_weight.to(logits.dtype) if self.reweight else None)


@LOSSES.register("logit_adjusted")
class LogitAdjustedCE(_Loss):
    def __init__(self, class_counts: Sequence[int], la_tau: float = 1.0):
        super().__init__()
        n = _counts(class_counts)
        self.register_buffer("log_prior", (n / n.sum()).log().float())
        self.tau = float(la_tau)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits + self.tau * self.log_prior, target)


@LOSSES.register("balanced_softmax")
class BalancedSoftmaxCE(LogitAdjustedCE):
    def __init__(self, class_counts: Sequence[int]):
        super().__init__(class_counts, la_tau=1.0)


def create_loss(name: str, *, class_counts: Sequence[int], **options) -> nn.Module:
    """Build a registered loss; options it does not take are ignored."""
    return LOSSES.create_from(name, class_counts=class_counts, options=options)


def list_losses() -> List[str]:
    return LOSSES.names()
