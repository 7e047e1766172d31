"""Losses by name: ``create_loss(name, class_counts=..., **options)``.

Every loss is an ``nn.Module`` mapping (logits B x C, target B long) to a scalar (batch mean)
and has ``set_epoch(epoch)`` (1-based; the training loop calls it at each epoch start; only
LDAM-DRW uses it). Each constructor takes ``class_counts`` (the per-class train counts) first,
even when it ignores it, so one call builds any loss; options of other losses are left out, and an
option no loss takes raises ``ValueError``.

* ``ce``: plain cross-entropy (the authors' SoftmaxLoss, docs/method.md 1.6).
* ``focal``: -(1 - p_t)^gamma log p_t, the factor (1 - p_t)^gamma computed from a **detached**
  p_t exactly as the authors' FocalLoss (docs/method.md 1.6): the focal factor gets no gradient.
* ``class_balanced``: CE weighted by Cui et al.'s (2019) effective-number weights
  w_c = (1 - beta) / (1 - beta^n_c), normalized so that sum_c w_c = C.
* ``ldam``: LDAM (Cao et al. 2019) with optional deferred re-weighting (DRW). Margins
  m_c proportional to n_c^(-1/4), the largest equal to ``ldam_max_margin``. The logits are
  assumed to be ``logit_scale`` x cosine (a normalized classifier), so the target logit is
  lowered by ``logit_scale * m_y``. From epoch ``drw_epoch`` on (if > 0) the class-balanced
  weights apply.
* ``balanced_softmax`` / ``logit_adjusted``: CE on logits + tau * log(prior), prior = n_c / N
  (Ren et al. 2020 / Menon et al. 2021); balanced softmax is tau = 1.

Weighted CE (``class_balanced``, LDAM after DRW) uses PyTorch's ``cross_entropy(weight=w)``,
i.e. sum_i w_{y_i} l_i / sum_i w_{y_i} (the reduction of the LDAM-DRW reference code), not
the plain batch mean of w_{y_i} l_i.

Two name sets are exported for config validation:

* ``NEEDS_NORMALIZED_LOGITS``: losses whose margin is in cosine units and therefore only
  meaningful when the classifier's logits are ``logit_scale * cosine``; with an unbounded
  linear classifier the margin would be arbitrary relative to the logit scale.
* ``REBALANCING_LOSSES``: losses that already correct the label imbalance (by re-weighting or by
  shifting logits with the prior); combined with a class-balanced sampler the tail would be
  corrected twice, so the config rejects that combination.
"""

from __future__ import annotations

from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .registry import Registry

LOSSES = Registry("loss")

#: losses that assume scaled-cosine logits (``logit_scale * cos``): their margin is in cosine
#: units, so they are valid only with a normalized (cosine-type) classifier
NEEDS_NORMALIZED_LOGITS = frozenset({"ldam"})
#: losses that already re-balance the classes (re-weighting or prior-shifted logits); combining
#: them with a class-balanced sampler would correct the tail twice, so the config rejects that
REBALANCING_LOSSES = frozenset({"class_balanced", "ldam", "balanced_softmax", "logit_adjusted"})


def _counts(class_counts: Sequence[int]) -> torch.Tensor:
    """Per-class counts as a float64 tensor; every class must have at least one sample."""
    c = torch.as_tensor([float(v) for v in class_counts], dtype=torch.float64)
    if c.ndim != 1 or len(c) < 1:
        raise ValueError("class_counts must be a non-empty sequence of per-class train counts")
    bad = (c <= 0).nonzero().flatten().tolist()
    if bad:
        more = f" (also classes {bad[1:]})" if len(bad) > 1 else ""
        raise ValueError(
            f"class_counts: class {bad[0]} has no training sample (count {c[bad[0]].item():g}){more}; "
            "this loss takes logs / powers of the counts and needs every class present"
        )
    return c


def effective_number_weights(class_counts: Sequence[int], beta: float) -> torch.Tensor:
    """Cui et al.'s class-balanced weights (1 - beta) / (1 - beta^n_c), normalized to sum to C (float32)."""
    n = _counts(class_counts)
    w = (1.0 - beta) / (1.0 - torch.pow(torch.tensor(beta, dtype=torch.float64), n))
    return (w / w.sum() * len(n)).float()


class _Loss(nn.Module):
    def set_epoch(self, epoch: int) -> None:
        """Called at the start of each (1-based) epoch; a no-op unless the loss has a schedule."""


@LOSSES.register("ce")
class CrossEntropy(_Loss):
    """Plain softmax cross-entropy (``class_counts`` is ignored)."""

    def __init__(self, class_counts: Sequence[int]):
        super().__init__()

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target)


@LOSSES.register("focal")
class FocalLoss(_Loss):
    """Focal loss, mean over the batch of -(1 - p_t)^gamma log p_t.

    As in the authors' FocalLoss (docs/method.md 1.6), (1 - p_t)^gamma is computed from a
    **detached** p_t, so the focal factor is a per-sample constant for autograd: the gradient
    is the CE gradient of each sample scaled by its factor. gamma = 0 is plain CE.
    """

    def __init__(self, class_counts: Sequence[int], focal_gamma: float = 2.0):
        super().__init__()
        self.gamma = float(focal_gamma)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logp_t = logits.log_softmax(-1).gather(1, target[:, None]).squeeze(1)
        factor = (1.0 - logp_t.detach().exp()).pow(self.gamma)
        return -(factor * logp_t).mean()


@LOSSES.register("class_balanced")
class ClassBalancedCE(_Loss):
    """Softmax CE with Cui et al.'s effective-number class weights (sum to C), option ``cb_beta``."""

    def __init__(self, class_counts: Sequence[int], cb_beta: float = 0.9999):
        super().__init__()
        self.register_buffer("weight", effective_number_weights(class_counts, cb_beta))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target, weight=self.weight.to(logits.dtype))


@LOSSES.register("ldam")
class LDAMLoss(_Loss):
    """LDAM with optional DRW: CE(logits - logit_scale * m_y * onehot(y)), m_c ∝ n_c^(-1/4), max ``ldam_max_margin``.

    The logits must be ``logit_scale * cosine`` (a normalized classifier with the same scale),
    so the margin is subtracted in cosine units. With ``drw_epoch > 0`` the CE is unweighted
    before that epoch and uses the class-balanced weights (beta ``cb_beta``) from it on;
    ``set_epoch`` switches. Before any ``set_epoch`` call the state is that of epoch 1.
    """

    def __init__(
        self,
        class_counts: Sequence[int],
        ldam_max_margin: float = 0.5,
        logit_scale: float = 16.0,
        drw_epoch: int = 0,
        cb_beta: float = 0.9999,
    ):
        super().__init__()
        n = _counts(class_counts)
        m = n.pow(-0.25)
        self.register_buffer("margins", (m * (ldam_max_margin / m.max())).float())
        self.register_buffer("drw_weight", effective_number_weights(class_counts, cb_beta))
        self.logit_scale = float(logit_scale)
        self.drw_epoch = int(drw_epoch)
        self.reweight = False
        self.set_epoch(1)

    def set_epoch(self, epoch: int) -> None:
        self.reweight = self.drw_epoch > 0 and epoch >= self.drw_epoch

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        margin = (self.logit_scale * self.margins.to(logits.dtype))[target]  # B
        shifted = logits - F.one_hot(target, logits.shape[1]).to(logits.dtype) * margin[:, None]
        weight = self.drw_weight.to(logits.dtype) if self.reweight else None
        return F.cross_entropy(shifted, target, weight=weight)


@LOSSES.register("logit_adjusted")
class LogitAdjustedCE(_Loss):
    """Logit-adjusted CE (Menon et al.): CE(logits + la_tau * log(prior)), prior = n_c / sum n."""

    def __init__(self, class_counts: Sequence[int], la_tau: float = 1.0):
        super().__init__()
        n = _counts(class_counts)
        self.register_buffer("log_prior", (n / n.sum()).log().float())
        self.tau = float(la_tau)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits + self.tau * self.log_prior.to(logits.dtype), target)


@LOSSES.register("balanced_softmax")
class BalancedSoftmaxCE(LogitAdjustedCE):
    """Balanced softmax (Ren et al.): CE(logits + log(prior)), i.e. ``logit_adjusted`` with la_tau = 1."""

    def __init__(self, class_counts: Sequence[int]):
        super().__init__(class_counts, la_tau=1.0)


def create_loss(name: str, *, class_counts: Sequence[int], **options) -> nn.Module:
    """Build the registered loss ``name``. Options of other losses that this one does not take are
    left out (``focal_gamma`` for ``ce``); an option no loss takes (a typo) raises ``ValueError``."""
    return LOSSES.create_from(name, class_counts=class_counts, options=options)


def list_losses() -> List[str]:
    """The registered loss names, sorted."""
    return LOSSES.names()
