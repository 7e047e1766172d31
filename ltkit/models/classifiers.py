"""Classifier heads: ``forward(features) -> logits`` plus the evaluations each one supports.

Every classifier is built as ``cls(in_features, num_classes, **options)`` and answers
``evaluation_logits(features, mean_feature=..., alpha=...) -> {name: logits}``: the plain
logits always (``"plain"``), and for the normalized heads also the TDE logits (``"tde"``),
for ``tau_norm`` the re-normalized ones (``"tau_norm"``). A paper row is a (classifier,
evaluation) pair: De-confound = (causal_norm, plain), De-confound-TDE = (causal_norm, tde).

Decisions where the authors' code is silent or buggy (docs/method.md 1.3, 1.6):

* ``cosine`` / ``capsule`` have no config in the authors' code. Here they are the same
  multi-head normalized classifier with gamma = 0 (cosine), and with the capsule squashing
  ||x|| / (1 + ||x||) of each feature chunk instead of its L2 normalization (capsule); class
  weights are L2-normalized. Both support TDE with the same formula.
* ``lws``: the authors' TauNormClassifier keeps a frozen Linear *with a randomly initialised
  bias* (the stage-1 checkpoint has none). Here LWS has no bias: logits = (x W^T) * s with W
  frozen from stage 1 and the per-class scales s learnt (init 1).
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Tuple, Union

import torch
import torch.nn as nn

from ..registry import Registry
from ..tde import causal_norm_logits, tde_logits

CLASSIFIERS = Registry("classifier")


class Classifier(nn.Module):
    """Base class: a (C, D) ``weight`` and the evaluations of docs/method.md 1.3's paper rows."""

    #: evaluation names ``evaluation_logits`` returns, in order
    evaluations = ("plain",)
    #: whether ``tde_logits`` exists (TDE needs a normalized classifier)
    supports_tde = False
    #: whether logits are scaled cosines in [-tau, tau] (what LDAM assumes)
    normalized = False
    #: whether ``weight`` is a plain linear W (logits x W^T up to per-class scales): tau-norm and
    #: the post-hoc tau-norm sweep apply
    linear_weight = False
    #: whether the plain logits are a function of ``weight`` alone (rebuildable from cached weights)
    logits_from_weight = True
    #: the paper's name for the plain evaluation of this head ("" where it depends on the loss)
    paper_name = ""

    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        if in_features < 1 or num_classes < 1:
            raise ValueError(f"in_features and num_classes must be positive, got {in_features}, {num_classes}")
        self.in_features = in_features
        self.num_classes = num_classes

    def evaluation_logits(
        self, x: torch.Tensor, *, mean_feature: Optional[torch.Tensor] = None, alpha: Optional[float] = None
    ) -> Dict[str, torch.Tensor]:
        return {"plain": self(x)}


@CLASSIFIERS.register("linear")
class LinearClassifier(Classifier):
    """Dot-product classifier, Linear(D -> C) without bias (the authors' DotProductClassifier)."""

    linear_weight = True

    def __init__(self, in_features: int, num_classes: int):
        super().__init__(in_features, num_classes)
        self.fc = nn.Linear(in_features, num_classes, bias=False)

    @property
    def weight(self) -> torch.Tensor:
        return self.fc.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


@CLASSIFIERS.register("tau_norm")
class TauNormClassifier(LinearClassifier):
    """A linear classifier trained as usual, also evaluated with tau-normalized weights.

    Decoupling's tau-norm: logits = x (W / ||W_i||^p)^T with p = ``tau_norm_p`` (per class
    row). p = 0 is the plain classifier, p = 1 the fully normalized one.
    """

    evaluations = ("plain", "tau_norm")

    def __init__(self, in_features: int, num_classes: int, tau_norm_p: float = 1.0):
        super().__init__(in_features, num_classes)
        self.tau_norm_p = float(tau_norm_p)

    def tau_norm_logits(self, x: torch.Tensor, p: Optional[float] = None) -> torch.Tensor:
        p = self.tau_norm_p if p is None else p
        w = self.fc.weight
        return x @ (w / w.norm(dim=1, keepdim=True).clamp_min(1e-12).pow(p)).t()

    def evaluation_logits(self, x, *, mean_feature=None, alpha=None):
        return {"plain": self(x), "tau_norm": self.tau_norm_logits(x)}


@CLASSIFIERS.register("lws")
class LWSClassifier(LinearClassifier):
    """Learnable weight scaling (Decoupling's LWS): logits = (x W^T) * s, W frozen, s learnt.

    Load W from a stage-1 linear classifier (``load_stage1``); only ``scales`` trains.
    """

    logits_from_weight = False  # the learnt scales are not in ``weight``
    paper_name = "Decouple-LWS"

    def __init__(self, in_features: int, num_classes: int):
        super().__init__(in_features, num_classes)
        self.fc.weight.requires_grad_(False)
        self.scales = nn.Parameter(torch.ones(num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) * self.scales


class NormalizedClassifier(Classifier):
    """Multi-head normalized classifier with optional TDE (``ltkit.tde``).

    Weight (C, D), no bias, init U(-1/sqrt(D), 1/sqrt(D)) as the authors'. ``forward`` gives
    the plain normalized logits (training and the "De-confound" row); ``tde_logits`` the
    counterfactual ones given the moving-average feature.
    """

    evaluations = ("plain", "tde")
    supports_tde = True
    normalized = True
    #: how each feature chunk is normalized: "l2" or "squash" (capsule)
    feature_norm = "l2"
    #: a gamma the head always uses whatever the config says (cosine, capsule: 0), else None
    fixed_gamma: Optional[float] = None

    def __init__(self, in_features: int, num_classes: int, num_head: int = 2, tau: float = 16.0, gamma: float = 1 / 32):
        super().__init__(in_features, num_classes)
        if num_head < 1 or in_features % num_head:
            raise ValueError(f"num_head: {num_head} must be a positive divisor of the feature dimension {in_features}")
        if tau <= 0:
            raise ValueError(f"tau: must be > 0, got {tau}")
        if gamma < 0:
            raise ValueError(f"gamma: must be >= 0, got {gamma}")
        self.num_head, self.tau, self.gamma = int(num_head), float(tau), float(gamma)
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(num_classes, in_features).uniform_(-bound, bound))

    def _kw(self) -> dict:
        return tde_settings(type(self), num_head=self.num_head, tau=self.tau, gamma=self.gamma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return causal_norm_logits(x, self.weight, **self._kw())

    def tde_logits(self, x: torch.Tensor, mean_feature: torch.Tensor, alpha: float) -> torch.Tensor:
        return tde_logits(x, self.weight, mean_feature, alpha=alpha, **self._kw())

    def evaluation_logits(self, x, *, mean_feature=None, alpha=None):
        out = {"plain": self(x)}
        if mean_feature is not None and alpha is not None:
            out["tde"] = self.tde_logits(x, mean_feature, alpha)
        return out

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.num_classes}, num_head={self.num_head}, tau={self.tau}, gamma={self.gamma}"


@CLASSIFIERS.register("causal_norm")
class CausalNormClassifier(NormalizedClassifier):
    """The paper's "De-confound" classifier: K heads, weights w / (||w|| + gamma)."""

    paper_name = "De-confound"


@CLASSIFIERS.register("cosine")
class CosineClassifier(NormalizedClassifier):
    """Multi-head cosine classifier: the causal-norm head with gamma = 0."""

    fixed_gamma = 0.0
    paper_name = "Cosine"

    def __init__(self, in_features: int, num_classes: int, num_head: int = 2, tau: float = 16.0):
        super().__init__(in_features, num_classes, num_head=num_head, tau=tau, gamma=0.0)


@CLASSIFIERS.register("capsule")
class CapsuleClassifier(NormalizedClassifier):
    """Multi-head capsule classifier: features squashed ||x|| / (1 + ||x||) * x / ||x||, gamma = 0."""

    feature_norm = "squash"
    fixed_gamma = 0.0
    paper_name = "Capsule"

    def __init__(self, in_features: int, num_classes: int, num_head: int = 2, tau: float = 16.0):
        super().__init__(in_features, num_classes, num_head=num_head, tau=tau, gamma=0.0)


def create_classifier(name: str, in_features: int, num_classes: int, **options) -> Classifier:
    """Build a registered classifier. Options of other classifiers that this one does not take are
    left out (``tau`` for ``linear``); an option no classifier takes raises ``ValueError``."""
    return CLASSIFIERS.create_from(name, in_features, num_classes, options=options)


def list_classifiers():
    return CLASSIFIERS.names()


# Each trait is written once, on the classes above; these read it off the registry.
def classifier_type(name: str) -> type:
    """The registered class ``name`` (its traits: ``supports_tde``, ``normalized``, ``feature_norm``,
    ``fixed_gamma``, ``linear_weight``, ``logits_from_weight``, ``paper_name``). ValueError lists the names."""
    return CLASSIFIERS.get(name)


def tde_classifiers() -> Tuple[str, ...]:
    """The registered classifiers with TDE logits (the normalized multi-head ones)."""
    return tuple(n for n in CLASSIFIERS.names() if getattr(CLASSIFIERS.get(n), "supports_tde", False))


def linear_classifiers() -> Tuple[str, ...]:
    """The registered classifiers whose ``weight`` is a plain linear W."""
    return tuple(n for n in CLASSIFIERS.names() if getattr(CLASSIFIERS.get(n), "linear_weight", False))


def tde_settings(classifier: Union[str, type], *, num_head: int, tau: float, gamma: float) -> Dict[str, Any]:
    """The keyword arguments of ``ltkit.tde.causal_norm_logits`` / ``tde_logits`` for a TDE
    classifier (by name or class): its feature normalization, and gamma unless the head fixes it."""
    cls = CLASSIFIERS.get(classifier) if isinstance(classifier, str) else classifier
    if not getattr(cls, "supports_tde", False):
        raise ValueError(
            f"classifier {classifier!r} has no TDE logits; the classifiers with TDE are: {', '.join(tde_classifiers())}"
        )
    return dict(
        num_head=int(num_head),
        tau=float(tau),
        gamma=float(gamma if cls.fixed_gamma is None else cls.fixed_gamma),
        feature_norm=cls.feature_norm,
    )
