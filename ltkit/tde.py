"""De-confound-TDE: the method as plain tensor functions, and the moving-average feature.

Notation follows ``docs/method.md`` 1.4 / 1.5 / 2.4: K heads (``num_head``), tau, gamma, alpha,
feature dimension D, C classes. A vector v in R^D is split into K consecutive equal chunks
v^(k) (no permutation).

* Multi-head normalized ("causal-norm") logits, docs/method.md 1.4::

      z_i = (tau / K) * sum_k < x^(k) / ||x^(k)||,  w_i^(k) / (||w_i^(k)|| + gamma) >

* Total direct effect (TDE) logits, with the moving-average feature c::

      cos_k = < x^(k)/||x^(k)||, c^(k)/||c^(k)|| >
      TDE_i = (tau / K) * sum_k < x_hat^(k) - alpha * cos_k * c_hat^(k),  w_hat_i^(k) >
            = z_i - alpha * (tau / K) * sum_k cos_k * < c_hat^(k), w_hat_i^(k) >

* Background-exempted probabilities (detection, docs/method.md 2.4 step 2)::

      out_bg = p_bg,  out_i = (1 - p_bg) * q_i / (1 - q_bg)    p = softmax(z), q = softmax(TDE)

One deliberate difference from the authors' classification code: norms are clamped at a tiny
epsilon (``1e-12``). For every non-zero vector the numbers are identical; an all-zero head
chunk (or a moving average that was never updated) gives 0 instead of NaN, so TDE with a zero
mean feature reduces to the plain logits.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

EPS = 1e-12
FEATURE_NORMS = ("l2", "squash")

__all__ = [
    "normalize_heads",
    "head_cosines",
    "causal_norm_logits",
    "tde_logits",
    "counterfactual_terms",
    "alpha_from_cosines",
    "background_exempted",
    "suggest_alpha",
    "mu_from_lr",
    "MovingAverageFeature",
    "FEATURE_NORMS",
]


def _split_heads(t: torch.Tensor, num_head: int) -> torch.Tensor:
    """(..., D) -> (..., K, D/K), chunks taken in order."""
    if num_head < 1:
        raise ValueError(f"num_head must be >= 1, got {num_head}")
    d = t.shape[-1]
    if d % num_head:
        raise ValueError(f"num_head={num_head} does not divide the feature dimension {d}")
    return t.reshape(*t.shape[:-1], num_head, d // num_head)


def normalize_heads(t: torch.Tensor, num_head: int, gamma: float = 0.0, *, feature_norm: str = "l2") -> torch.Tensor:
    """Normalize each head chunk of ``t`` (..., D); returns (..., K, D/K).

    ``feature_norm="l2"``: v / (||v|| + gamma) (gamma = 0 for features, the causal-norm gamma
    for class weights). ``"squash"``: the capsule squashing ||v|| / (1 + ||v||) * v / ||v||.
    """
    v = _split_heads(t, num_head)
    norm = v.norm(dim=-1, keepdim=True).clamp_min(EPS)
    if feature_norm == "l2":
        return v / (norm + gamma)
    if feature_norm == "squash":
        return (norm / (1.0 + norm)) * (v / norm)
    raise ValueError(f"feature_norm must be one of {FEATURE_NORMS}, got {feature_norm!r}")


def head_cosines(x: torch.Tensor, mean_feature: torch.Tensor, *, num_head: int = 2) -> torch.Tensor:
    """cos_k between each sample's head chunk and the mean feature's: (B, D), (D,) -> (B, K)."""
    xh = F.normalize(_split_heads(x, num_head), dim=-1, eps=EPS)
    ch = F.normalize(_split_heads(mean_feature.reshape(-1).to(x), num_head), dim=-1, eps=EPS)
    return (xh * ch).sum(-1)


def causal_norm_logits(
    x: torch.Tensor,
    weight: torch.Tensor,
    *,
    num_head: int = 2,
    tau: float = 16.0,
    gamma: float = 1 / 32,
    feature_norm: str = "l2",
) -> torch.Tensor:
    """Multi-head normalized logits z (B, C) for features ``x`` (B, D) and weights (C, D).

    ``gamma=0`` is the cosine classifier; ``feature_norm="squash"`` the capsule one.
    """
    xh = normalize_heads(x, num_head, feature_norm=feature_norm).flatten(-2)
    wh = normalize_heads(weight, num_head, gamma).flatten(-2)
    return (tau / num_head) * xh @ wh.t()


def tde_logits(
    x: torch.Tensor,
    weight: torch.Tensor,
    mean_feature: torch.Tensor,
    *,
    alpha: float,
    num_head: int = 2,
    tau: float = 16.0,
    gamma: float = 1 / 32,
    feature_norm: str = "l2",
) -> torch.Tensor:
    """Counterfactual TDE logits z - alpha * (tau/K) * sum_k cos_k <c_hat^(k), w_hat^(k)>.

    ``mean_feature`` is the moving-average feature c (D,). alpha = 0 gives the plain logits.
    """
    z = causal_norm_logits(x, weight, num_head=num_head, tau=tau, gamma=gamma, feature_norm=feature_norm)
    cos, proj = counterfactual_terms(x, weight, mean_feature, num_head=num_head, gamma=gamma)
    return z - (alpha * tau / num_head) * cos @ proj


def counterfactual_terms(
    x: torch.Tensor, weight: torch.Tensor, mean_feature: torch.Tensor, *, num_head: int = 2, gamma: float = 1 / 32
) -> Tuple[torch.Tensor, torch.Tensor]:
    """The two factors of the term of the TDE logits that alpha scales.

    Returns ``cos`` (B, K), the cos_k of each sample with the mean feature, and ``proj`` (K, C)
    = <c_hat^(k), w_hat_i^(k)>, so that ``tde_logits = z - (alpha * tau / K) * cos @ proj``.
    Neither depends on alpha: an alpha sweep computes them once.
    """
    cos = head_cosines(x, mean_feature, num_head=num_head)  # (B, K)
    ch = normalize_heads(mean_feature.reshape(-1).to(x), num_head)  # (K, d)
    wh = normalize_heads(weight, num_head, gamma)  # (C, K, d)
    return cos, torch.einsum("kd,ckd->kc", ch, wh)


def background_exempted(logits: torch.Tensor, tde_logits: torch.Tensor, *, background: int) -> torch.Tensor:
    """Background-exempted TDE probabilities (docs/method.md 2.4 step 2). Returns probabilities.

    The background column keeps p_bg from ``softmax(logits)``; every foreground column i gets
    (1 - p_bg) * q_i / (1 - q_bg) with q = ``softmax(tde_logits)``. Computed in log space:
    q_i / (1 - q_bg) is the softmax of the TDE logits over the foreground columns alone, and
    1 - p_bg is the softmax mass of the foreground columns of ``logits``, so nothing cancels
    catastrophically when q_bg is close to 1. (The authors add 1e-10 to numerator and
    denominator; that shifts each value by about 1e-10 / (1 - q_bg), nothing more.)
    ``background`` is a column index; negative values count from the end.
    """
    if logits.shape != tde_logits.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and tde_logits {tuple(tde_logits.shape)} differ in shape")
    n = logits.shape[-1]
    if not -n <= background < n:
        raise ValueError(f"background column {background} is out of range for {n} columns")
    bg = background % n
    fg = torch.ones(n, dtype=torch.bool, device=logits.device)
    fg[bg] = False
    log_p = logits.log_softmax(-1)
    log_fg_mass = torch.logsumexp(log_p[..., fg], dim=-1, keepdim=True)  # log(1 - p_bg)
    out = torch.empty_like(log_p)
    out[..., fg] = (log_fg_mass + tde_logits[..., fg].log_softmax(-1)).exp()
    out[..., bg] = log_p[..., bg].exp()
    return out


def suggest_alpha(x: torch.Tensor, mean_feature: torch.Tensor, *, num_head: int = 2) -> float:
    """The README's alpha heuristic: alpha such that alpha * cos_k averages 1.

    alpha = 1 / mean over samples and heads of cos_k (docs/method.md 1.4, "alpha trick"). Needs no
    labels, so it can be computed on the test features themselves.
    """
    return alpha_from_cosines(head_cosines(x, mean_feature, num_head=num_head))


def alpha_from_cosines(cos: torch.Tensor) -> float:
    """``suggest_alpha`` from cosines already computed (``head_cosines``, ``counterfactual_terms``):
    1 / their mean. ValueError when the mean is not positive (no samples, or a zero moving average)."""
    mean_cos = cos.mean().item() if cos.numel() else 0.0
    if not mean_cos > 0:
        raise ValueError("the features have no positive cosine with the mean feature; is the moving average zero?")
    return 1.0 / mean_cos


def mu_from_lr(lr: float, *, base: float = 0.1, scale: float = 50.0) -> float:
    """The authors' learning-rate-scaled momentum: mu = 1 - base * min(scale * lr, 1) (docs/method.md 1.5)."""
    return 1.0 - base * min(scale * lr, 1.0)


class MovingAverageFeature(nn.Module):
    """The moving-average feature c (docs/method.md 1.5): c <- mu * c + batch mean of the features.

    It is an un-normalized decayed sum (no (1 - mu) factor), as in the authors' code: only its
    per-head direction is used. ``update`` is called once per training step with the detached
    training-mode features. Under ``torch.distributed`` the batch means are averaged over
    ranks first, so every rank holds the same c (the authors' DataParallel saw the gathered
    batch; with equal per-rank batches the two are the same). ``mean`` is a registered buffer,
    so it is saved in every ``state_dict``.
    """

    def __init__(self, dim: int, mu: float = 0.9):
        super().__init__()
        self.mu = float(mu)
        self.register_buffer("mean", torch.zeros(dim))

    @torch.no_grad()
    def update(
        self, features: torch.Tensor, mu: Optional[float] = None, *, mask: Optional[torch.Tensor] = None
    ) -> None:
        """c <- mu * c + mean of ``features`` (B, D); with ``mask`` (B,) bool, of the selected rows only.

        Without a mask the per-rank batch means are averaged over ranks. With a mask the mean
        is over the selected rows of all ranks together (their sums and counts are
        all-reduced), and when no rank selects a row the step leaves c unchanged on every rank
        (the detection head's case: an iteration whose sampled RoIs are all background).
        """
        dist = torch.distributed
        world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
        f = features.detach()
        if f.dtype in (torch.float16, torch.bfloat16):
            f = f.float()
        if mask is None:
            m = f.mean(0)
            if world > 1:
                dist.all_reduce(m)
                m /= world
        else:
            if mask.shape != f.shape[:1]:
                raise ValueError(f"mask has shape {tuple(mask.shape)}, expected ({f.shape[0]},)")
            sum_count = torch.cat([f[mask].sum(0), mask.sum().reshape(1).to(f)])
            if world > 1:
                dist.all_reduce(sum_count)
            count = sum_count[-1].item()
            if count == 0:
                return
            m = sum_count[:-1] / count
        self.mean.mul_(self.mu if mu is None else mu).add_(m.to(self.mean))

    def extra_repr(self) -> str:
        return f"dim={self.mean.numel()}, mu={self.mu}"
