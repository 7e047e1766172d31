"""Containers shared by every dataset loader."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Tuple

import numpy as np
import torch

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class TensorImages:
    """A split held in memory as uint8 images (N x 3 x H x W) and int64 labels (N,).

    CIFAR-LT and the synthetic dataset use this: the whole split fits on the device and is
    augmented there in batches (``ltkit.data.transforms``).
    """

    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    mean: Tuple[float, float, float]
    std: Tuple[float, float, float]
    class_names: List[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4 or self.images.shape[1] != 3:
            raise ValueError(f"images must be uint8 N x 3 x H x W, got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError("labels must be a 1-d tensor with one label per image")
        self.labels = self.labels.long()

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def targets(self) -> np.ndarray:
        return self.labels.cpu().numpy()

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.targets, minlength=self.num_classes)


@dataclass
class LTData:
    """What a training run needs from a dataset: the train and evaluation splits.

    ``train`` / ``test`` are either :class:`TensorImages` (in memory) or a
    ``torch.utils.data.Dataset`` of files with a ``targets`` numpy array and
    ``num_classes`` (ImageNet-LT, Places-LT). ``val`` is a labelled held-out split of the
    same kind for choosing test-time settings (the TDE alpha with ``alpha="val"``), or
    ``None`` for a dataset without one (CIFAR-LT: the authors' "val" is the test set).
    """

    name: str
    train: Any
    test: Any
    num_classes: int
    info: dict = field(default_factory=dict)
    val: Any = None

    @property
    def train_counts(self) -> np.ndarray:
        return np.bincount(np.asarray(self.train.targets), minlength=self.num_classes)

    @property
    def in_memory(self) -> bool:
        return isinstance(self.train, TensorImages)
