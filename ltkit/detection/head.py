"""The De-confound-TDE box head for mmdetection 2.x (docs/method.md 2.2-2.4).

``TDEConvFCBBoxHead`` is mmdet's ``ConvFCBBoxHead`` whose ``fc_cls`` is replaced by a
:class:`TDEClassifier`: an ``ltkit`` multi-head normalized classifier over C + 1 columns
(foreground classes, then background, mmdet 2.x's order) plus the moving-average feature. The
rest of the head (shared convs/fcs, regression, targets, losses) is mmdet's, untouched.

What differs from the authors' port, each on purpose:

* Every TDE setting is a config key of the head (``num_head, tau, gamma, alpha, mu, tde,
  background_exempted, background``), not a class constant shared by every ConvFC head.
* The moving average is taken over **foreground** RoIs (label < num_classes). The authors'
  mmdet 2.x port kept ``label > 0``, which in mmdet 2.x takes every background RoI and drops
  foreground class 0 (docs/method.md 2.3). It is averaged over all ranks' foreground RoIs under
  distributed training, so every rank holds the same one; a step with no foreground RoI on
  any rank leaves it unchanged.
* Test time with background exemption outputs probabilities, and :meth:`get_bboxes` hands
  them to NMS as they are: no second softmax (docs/method.md 2.4 step 4). Cascade/HTC average the
  stages' probabilities first, as the authors' code does.
* Norms are clamped at 1e-12 (``ltkit.tde``) instead of adding 1e-9; for any non-zero vector
  the two differ by about 1e-9 relative.

The RoI labels reach the head through the RoI heads in :mod:`ltkit.detection.roi_heads`;
training a TDE head under a stock RoI head raises an error that says so.
"""

from __future__ import annotations

import inspect
import math
from contextlib import contextmanager
from typing import Iterable, Optional

import torch
import torch.nn as nn
from mmdet.models.builder import HEADS
from mmdet.models.roi_heads.bbox_heads import ConvFCBBoxHead

from ..models.classifiers import tde_classifiers, tde_settings
from ..tde import MovingAverageFeature, background_exempted, causal_norm_logits, tde_logits

__all__ = [
    "TDEClassifier",
    "head_default",
    "TDEConvFCBBoxHead",
    "TDEShared2FCBBoxHead",
    "set_tde",
    "tde_heads",
    "roi_labels",
]

#: the classifiers the box head accepts (TDE needs a normalized one): ``ltkit.models``' registry decides
TDE_CLASSIFIERS = tde_classifiers()


#: the box head's config keys that configure its TDEClassifier
TDE_KEYS = ("classifier", "num_head", "tau", "gamma", "alpha", "mu", "tde", "background_exempted", "background")


def head_default(key: str):
    """``TDEClassifier``'s default for one of ``TDE_KEYS`` (where the box head's defaults live)."""
    if key not in TDE_KEYS:
        raise ValueError(f"{key!r} is not a TDE box-head setting; those are: {', '.join(TDE_KEYS)}")
    return inspect.signature(TDEClassifier.__init__).parameters[key].default


class TDEClassifier(nn.Module):
    """Causal-norm logits in training (updating the moving average), TDE at test.

    The weight is (C + 1, D), background last; the logits are ``ltkit.tde.causal_norm_logits``
    and ``ltkit.tde.tde_logits`` with the named classifier's settings (cosine: gamma = 0;
    capsule: gamma = 0 and squashed features), as ``ltkit.models.classifiers`` defines them.

    ``forward(x)`` in training mode returns the normalized logits z (C + 1 columns) and
    updates the moving-average feature with the foreground rows of ``x``, which needs
    ``roi_labels`` set by the RoI head for this forward. In eval mode it returns z when
    ``tde`` is off, the TDE logits when ``tde`` is on without background exemption, and the
    background-exempted probabilities when both are on (``outputs_probabilities``).
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        classifier: str = "causal_norm",
        num_head: int = 2,
        tau: float = 16.0,
        gamma: float = 1 / 32,
        alpha: float = 1.5,
        mu: float = 0.9998,
        tde: bool = True,
        background_exempted: bool = True,
        background: int = -1,
    ):
        super().__init__()
        if classifier not in TDE_CLASSIFIERS:
            known = ", ".join(TDE_CLASSIFIERS)
            raise ValueError(f"classifier: {classifier!r} has no TDE; the box head takes one of {known}")
        if not 0.0 <= mu <= 1.0:
            raise ValueError(f"mu: must be in [0, 1], got {mu}")
        if num_head < 1 or in_features % num_head:
            raise ValueError(f"num_head: {num_head} must be a positive divisor of the feature dimension {in_features}")
        self.num_classes = int(num_classes)  # foreground classes; the weight has one more row (background)
        self.classifier = classifier
        settings = tde_settings(classifier, num_head=num_head, tau=tau, gamma=gamma)
        self.feature_norm = settings["feature_norm"]
        self.num_head, self.tau, self.gamma = settings["num_head"], settings["tau"], settings["gamma"]
        bound = 1.0 / math.sqrt(in_features)  # the authors' U(+-1/sqrt(D)) (docs/method.md 2.2)
        self.weight = nn.Parameter(torch.empty(num_classes + 1, in_features).uniform_(-bound, bound))
        self.moving_average = MovingAverageFeature(in_features, mu=mu)
        self.alpha = float(alpha)
        self.tde = bool(tde)
        self.background_exempted = bool(background_exempted)
        self.background = int(background)
        if not -(num_classes + 1) <= self.background <= num_classes:
            raise ValueError(f"background: column {background} is out of range for {num_classes + 1} columns")
        self.roi_labels: Optional[torch.Tensor] = None

    def _kw(self) -> dict:
        return dict(num_head=self.num_head, tau=self.tau, gamma=self.gamma, feature_norm=self.feature_norm)

    @property
    def outputs_probabilities(self) -> bool:
        return not self.training and self.tde and self.background_exempted

    def _foreground(self, labels: torch.Tensor) -> torch.Tensor:
        bg = self.background % (self.num_classes + 1)
        return (labels >= 0) & (labels <= self.num_classes) & (labels != bg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = causal_norm_logits(x, self.weight, **self._kw())
        if self.training:
            labels, self.roi_labels = self.roi_labels, None
            if labels is None:
                raise RuntimeError(
                    "the TDE box head trains only under an RoI head that passes it the RoI labels: "
                    "use TDEStandardRoIHead, TDECascadeRoIHead or TDEHybridTaskCascadeRoIHead "
                    "(ltkit.detection.roi_heads) as the roi_head type"
                )
            if labels.shape[0] != x.shape[0]:
                raise RuntimeError(f"{labels.shape[0]} RoI labels for {x.shape[0]} RoI features")
            self.moving_average.update(x, mask=self._foreground(labels))
            return z
        if not self.tde:
            return z
        t = tde_logits(x, self.weight, self.moving_average.mean, alpha=self.alpha, **self._kw())
        if not self.background_exempted:
            return t
        return background_exempted(z, t, background=self.background)

    def extra_repr(self) -> str:
        return (
            f"{self.weight.shape[1]} -> {self.weight.shape[0]}, {self.classifier}, num_head={self.num_head}, "
            f"tau={self.tau}, gamma={self.gamma}, alpha={self.alpha}, tde={self.tde}, background_exempted={self.background_exempted}, "
            f"background={self.background}"
        )


@HEADS.register_module()
class TDEConvFCBBoxHead(ConvFCBBoxHead):
    """``ConvFCBBoxHead`` with the De-confound(-TDE) classifier as ``fc_cls``.

    Extra config keys (defaults = the authors' LVIS v1.0 constants, docs/method.md 2.2):
    ``classifier`` ("causal_norm"; "cosine" and "capsule" give the paper's Cosine-TDE and
    Capsule-TDE rows), ``num_head`` 2, ``tau`` 16, ``gamma`` 1/32, ``alpha`` 1.5, ``mu``
    0.9998, ``tde`` True (TDE at test; False is the "De-confound" row), ``background_exempted``
    True, ``background`` -1 (the last column, mmdet 2.x's background).
    """

    def __init__(self, *args, **kwargs):
        # the TDE keys go to TDEClassifier (their defaults live there), the rest to mmdet's head
        tde_settings = {k: kwargs.pop(k) for k in TDE_KEYS if k in kwargs}
        super().__init__(*args, **kwargs)
        if not self.with_cls:
            raise ValueError("TDEConvFCBBoxHead needs with_cls=True")
        if self.custom_cls_channels:
            raise ValueError("TDEConvFCBBoxHead needs a softmax classification loss (C + 1 columns)")
        self.fc_cls = TDEClassifier(self.cls_last_dim, self.num_classes, **tde_settings)
        # keep the classifier's own U(+-1/sqrt(D)) init: drop mmdet's Normal(0.01) for fc_cls
        # (the authors skip it for the causal head too, docs/method.md 2.1)
        if isinstance(self.init_cfg, list):
            self.init_cfg = [c for c in self.init_cfg if not _overrides(c, "fc_cls")]

    def get_bboxes(self, rois, cls_score, bbox_pred, img_shape, scale_factor, rescale=False, cfg=None):
        """mmdet's ``get_bboxes``; background-exempted probabilities pass through unchanged.

        mmdet applies a softmax to ``cls_score``. When it already holds probabilities (rows
        summing to 1), it receives their logarithm instead, and softmax(log p) = p: the scores
        NMS sees are the background-exempted probabilities themselves, not the authors'
        doubly-softmaxed ones.
        """
        if cls_score is not None and self.fc_cls.outputs_probabilities:
            cls_score = cls_score.clamp_min(torch.finfo(cls_score.dtype).tiny).log()
        return super().get_bboxes(rois, cls_score, bbox_pred, img_shape, scale_factor, rescale=rescale, cfg=cfg)


@HEADS.register_module()
class TDEShared2FCBBoxHead(TDEConvFCBBoxHead):
    """Two shared fcs (the LVIS configs' box head) with the TDE classifier."""

    def __init__(self, fc_out_channels: int = 1024, *args, **kwargs):
        super().__init__(
            num_shared_convs=0,
            num_shared_fcs=2,
            num_cls_convs=0,
            num_cls_fcs=0,
            num_reg_convs=0,
            num_reg_fcs=0,
            fc_out_channels=fc_out_channels,
            *args,
            **kwargs,
        )


def _overrides(init: dict, name: str) -> bool:
    override = init.get("override") if isinstance(init, dict) else None
    if isinstance(override, dict):
        override = [override]
    return any(isinstance(o, dict) and o.get("name") == name for o in override or [])


def tde_heads(model: nn.Module) -> list:
    """Every :class:`TDEClassifier` in ``model`` (one per cascade stage)."""
    return [m for m in model.modules() if isinstance(m, TDEClassifier)]


def set_tde(
    model: nn.Module,
    *,
    alpha: Optional[float] = None,
    tde: Optional[bool] = None,
    background_exempted: Optional[bool] = None,
) -> int:
    """Change the test-time TDE settings of every TDE box head in ``model``; returns how many.

    No retraining: alpha, TDE on/off and background exemption act only at inference.
    """
    heads = tde_heads(model)
    if not heads:
        raise ValueError(
            "the model has no TDE box head (roi_head.bbox_head type TDEShared2FCBBoxHead / TDEConvFCBBoxHead)"
        )
    for h in heads:
        if alpha is not None:
            h.alpha = float(alpha)
        if tde is not None:
            h.tde = bool(tde)
        if background_exempted is not None:
            h.background_exempted = bool(background_exempted)
    return len(heads)


def roi_labels(sampling_results: Iterable, num_classes: int) -> torch.Tensor:
    """The label of every sampled RoI, in ``bbox2roi`` order: per image positives, then negatives.

    Negatives get ``num_classes`` (mmdet 2.x's background label), as ``get_targets`` gives them.
    """
    parts = []
    for res in sampling_results:
        parts.append(res.pos_gt_labels)
        parts.append(res.pos_gt_labels.new_full((res.neg_bboxes.shape[0],), num_classes))
    return torch.cat(parts)


@contextmanager
def passing_roi_labels(bbox_head: nn.Module, sampling_results: Iterable):
    """Hand the sampled RoIs' labels to ``bbox_head``'s TDE classifier for one forward."""
    layer = getattr(bbox_head, "fc_cls", None)
    if not isinstance(layer, TDEClassifier):
        yield
        return
    layer.roi_labels = roi_labels(sampling_results, bbox_head.num_classes)
    try:
        yield
    finally:
        layer.roi_labels = None
