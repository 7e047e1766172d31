"""Backbones: ``forward(images B x 3 x H x W) -> pooled, post-ReLU features (B, out_features)``.

Every backbone is registered in ``BACKBONES`` under a name, holds no classifier, and has an
int ``out_features`` (the feature dimension D). The features are non-negative (they come after
a ReLU), so the causal classifier's cosines to the moving-average feature lie in [0, 1]
(docs/method.md 1.4). Nothing is ever downloaded: every backbone starts from random weights.

``resnet32`` is the BBN ResNet-32 used by the authors' CIFAR configs (``ResNet32Feature.py``,
docs/method.md 1.7), layer for layer: a 3x3 stem (3 -> 16, stride 1, no bias) + BN + ReLU; three
stages of 5 / 5 / **4** BasicBlocks with 16 / 32 / 64 channels (the first block of stages 2
and 3 has stride 2); then two parallel BasicBlocks ``cb_block`` and ``rb_block`` (64 -> 64),
both applied to the stage-3 output and concatenated, cb first, to 128 channels; adaptive
average pooling gives D = 128. With 2 heads each head is therefore exactly one BBN branch.
Shortcuts are option A (subsample ``[::2, ::2]`` and zero-pad ``planes // 4`` channels on
each side, no parameters). Init: ``kaiming_normal_`` (fan-in, ReLU gain) on every Conv2d and
Linear weight, BN weight 1 / bias 0. Any input of at least 8 x 8 works (16 x 16 synthetic
images, 32 x 32 CIFAR).

``resnext50_32x4d`` is torchvision's ResNeXt-50 32x4d with ``fc`` replaced by ``nn.Identity``
(D = 2048). It matches the authors' ``ResNext50Feature`` (docs/method.md 1.7): [3, 4, 6, 3]
bottlenecks, groups 32, width 4, the stride on the 3x3 grouped conv, 1x1-conv + BN downsample,
fan-out kaiming conv init, BN 1 / 0, final ReLU kept. The one deliberate difference is the
pooling: torchvision pools adaptively, where the authors use ``AvgPool2d(7)``, which crashes on
32 x 32 CIFAR inputs (layer4 is 1 x 1 there), so their ResNeXt CIFAR configs cannot run.

``resnet50`` and ``resnet152`` are torchvision's ResNet-50 / ResNet-152 without ``fc``
(D = 2048): the plain ResNet variants the authors' code defines but no config uses
(docs/method.md 1.7, "other variants"), again with adaptive pooling instead of ``AvgPool2d(7)``.
"""

from __future__ import annotations

from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..registry import Registry

BACKBONES = Registry("backbone")


class _ShortcutA(nn.Module):
    """Option-A shortcut: ``x[:, :, ::stride, ::stride]`` plus ``planes // 4`` zero channels on each side.

    It has no parameters. With ``in_planes = planes / 2`` (16 -> 32, 32 -> 64) the output has
    exactly ``planes`` channels, as in BBN's ``LambdaLayer``.
    """

    def __init__(self, planes: int, stride: int):
        super().__init__()
        self.pad = planes // 4
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad, self.pad))


class BasicBlock(nn.Module):
    """conv3x3 -> BN -> ReLU -> conv3x3 -> BN, + shortcut, -> ReLU (option-A shortcut when shapes change).

    The ReLUs and the residual add write into the BN outputs (BN's backward does not need its
    output): the same values as out-of-place, two fewer activation tensors per block.
    """

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride != 1 or in_planes != planes:
            self.shortcut: nn.Module = _ShortcutA(planes, stride)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out, inplace=True)


class ResNet32(nn.Module):
    """The BBN-style ResNet-32 feature extractor: ``(B, 3, H, W) -> (B, 128)`` (see the module docstring)."""

    def __init__(self, blocks: Sequence[int] = (5, 5, 4)):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.in_planes = 16
        self.layer1 = self._layer(16, blocks[0], 1)
        self.layer2 = self._layer(32, blocks[1], 2)
        self.layer3 = self._layer(64, blocks[2], 2)
        self.cb_block = BasicBlock(64, 64, 1)
        self.rb_block = BasicBlock(64, 64, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out_features = 128
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _layer(self, planes: int, n: int, stride: int) -> nn.Sequential:
        layers = []
        for s in [stride] + [1] * (n - 1):
            layers.append(BasicBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = torch.cat([self.cb_block(x), self.rb_block(x)], dim=1)  # cb first: head 0 = cb, head 1 = rb
        return self.pool(x).flatten(1)


@BACKBONES.register("resnet32")
def resnet32() -> nn.Module:
    """BBN ResNet-32 (docs/method.md 1.7): 128-d features = [cb_block 64 | rb_block 64]."""
    return ResNet32()


def _torchvision(name: str) -> nn.Module:
    import torchvision

    model = getattr(torchvision.models, name)(weights=None)  # random init, nothing downloaded
    model.out_features = int(model.fc.in_features)
    model.fc = nn.Identity()  # forward now ends at the adaptive average pool + flatten
    return model


@BACKBONES.register("resnext50_32x4d")
def resnext50_32x4d() -> nn.Module:
    """torchvision ResNeXt-50 32x4d without fc (2048-d), the authors' ImageNet-LT / Places-LT backbone.

    Adaptive average pooling replaces the authors' ``AvgPool2d(7)``, which fixes their crash
    on 32 x 32 CIFAR inputs ("output size too small"); on 224 x 224 inputs the two are equal.
    """
    return _torchvision("resnext50_32x4d")


@BACKBONES.register("resnet50")
def resnet50() -> nn.Module:
    """torchvision ResNet-50 without fc (2048-d), random init, adaptive pooling."""
    return _torchvision("resnet50")


@BACKBONES.register("resnet152")
def resnet152() -> nn.Module:
    """torchvision ResNet-152 without fc (2048-d), random init, adaptive pooling."""
    return _torchvision("resnet152")


def create_backbone(name: str, **kwargs) -> nn.Module:
    """Build the registered backbone ``name``; an unknown name raises ValueError listing the valid ones."""
    return BACKBONES.create(name, **kwargs)


def list_backbones() -> List[str]:
    """The registered backbone names, sorted."""
    return BACKBONES.names()
