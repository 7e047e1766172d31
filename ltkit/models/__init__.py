"""Backbones and classifier heads behind small registries (``create_*`` / ``list_*``)."""

from __future__ import annotations

import functools

import torch

from .backbones import ACTIVATIONS, BACKBONES, create_backbone, list_backbones
from .classifiers import (
    CLASSIFIERS,
    Classifier,
    NormalizedClassifier,
    classifier_type,
    create_classifier,
    linear_classifiers,
    list_classifiers,
    tde_classifiers,
    tde_settings,
)


@functools.lru_cache(maxsize=None)
def backbone_out_features(name: str) -> int:
    """The feature dimension D of a registered backbone, without allocating its weights."""
    with torch.device("meta"):
        return int(create_backbone(name).out_features)


__all__ = [
    "ACTIVATIONS",
    "BACKBONES",
    "CLASSIFIERS",
    "Classifier",
    "NormalizedClassifier",
    "backbone_out_features",
    "classifier_type",
    "create_backbone",
    "create_classifier",
    "list_backbones",
    "linear_classifiers",
    "list_classifiers",
    "tde_classifiers",
    "tde_settings",
]
