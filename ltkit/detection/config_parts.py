"""Pieces the shipped LVIS configs share, so that each setting is written once.

The configs import these (mmcv keeps only plain values in a config, not the functions). The
causal-norm settings are the authors' (docs/method.md 2.2): K = 2, tau = 16, gamma = 1/32,
alpha = 1.5, background-exempted inference; ``mu`` is 0.9998 for LVIS v1.0 (their constant
1 - 0.1 x 0.002) and 0.9 for v0.5 (``lvis_old``).
"""

from __future__ import annotations

from typing import Optional

__all__ = ["causal_box_head", "htc_bbox_heads", "htc_mask_heads"]

#: HTC's three stages' box-regression target stds (docs/method.md 2.5)
HTC_TARGET_STDS = ([0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1], [0.033, 0.033, 0.067, 0.067])


def causal_box_head(*, mu: float, tde: bool) -> dict:
    """The keys that turn a Shared2FC box head into the De-confound(-TDE) one (``tde``: TDE at test)."""
    return dict(
        type="TDEShared2FCBBoxHead",
        classifier="causal_norm",
        num_head=2,
        tau=16.0,
        gamma=1 / 32,
        mu=mu,
        alpha=1.5,
        tde=tde,
        background_exempted=True,
    )


def htc_bbox_heads(num_classes: int, *, mu: Optional[float] = None, tde: bool = False) -> list:
    """HTC's three class-agnostic Shared2FC box heads; with ``mu``, causal-norm ones (:func:`causal_box_head`)."""
    heads = []
    for stds in HTC_TARGET_STDS:
        head = dict(
            type="Shared2FCBBoxHead",
            in_channels=256,
            fc_out_channels=1024,
            roi_feat_size=7,
            num_classes=num_classes,
            bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0, 0.0, 0.0, 0.0], target_stds=list(stds)),
            reg_class_agnostic=True,
            loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type="SmoothL1Loss", beta=1.0, loss_weight=1.0),
        )
        if mu is not None:
            head.update(causal_box_head(mu=mu, tde=tde))
        heads.append(head)
    return heads


def htc_mask_heads(num_classes: int) -> list:
    """HTC's three mask heads (4 convs of 256; the first without the residual from the previous stage)."""
    return [
        dict(
            type="HTCMaskHead",
            with_conv_res=i > 0,
            num_convs=4,
            in_channels=256,
            conv_out_channels=256,
            num_classes=num_classes,
            loss_mask=dict(type="CrossEntropyLoss", use_mask=True, loss_weight=1.0),
        )
        for i in range(3)
    ]
