"""Backbones: ``forward(images) -> pooled, post-ReLU features (B, out_features)``.

* ``resnet32``: the BBN ResNet-32 of the authors' CIFAR configs (REFERENCE 1.7): a 3x3 stem
  (16 ch), three stages of 5 / 5 / **4** BasicBlocks (16 / 32 / 64 ch), then two parallel
  BasicBlocks ``cb_block`` and ``rb_block`` on the stage-3 output, concatenated (cb first) to
  128 channels and average-pooled: D = 128, so with 2 heads each head is one branch. Option-A
  shortcuts (subsample + zero-padded channels, no parameters); kaiming-normal (fan-in) init
  on every conv and linear weight, BN weight 1 / bias 0.
* ``resnext50_32x4d``, ``resnet50``, ``resnet152``: torchvision's definitions without the fc
  (D = 2048). torchvision's ResNeXt-50 puts the stride on the 3x3 grouped conv and uses
  fan-out kaiming init with BN 1 / 0, as the authors' ``ResNext50Feature``. It pools
  adaptively, so unlike the authors' ``AvgPool2d(7)`` it also runs on 32 x 32 CIFAR inputs
  (their ResNeXt CIFAR configs crash). No pretrained weights are loaded.
"""

from __future__ import annotations

from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..registry import Registry

BACKBONES = Registry("backbone")


class _ShortcutA(nn.Module):
    """Option-A shortcut: x[:, :, ::2, ::2] and planes // 4 zero channels on each side."""

    def __init__(self, planes: int, stride: int):
        super().__init__()
        self.pad = planes // 4
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad, self.pad))


class BasicBlock(nn.Module):
    """conv3x3 - BN - ReLU - conv3x3 - BN, + shortcut, ReLU."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = _ShortcutA(planes, stride) if (stride != 1 or in_planes != planes) else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet32(nn.Module):
    """The BBN-style ResNet-32 feature extractor (128-d)."""

    def __init__(self, blocks: List[int] = (5, 5, 4)):
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
                nn.init.kaiming_normal_(m.weight)
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
        x = torch.cat([self.cb_block(x), self.rb_block(x)], dim=1)
        return self.pool(x).flatten(1)


@BACKBONES.register("resnet32")
def resnet32() -> nn.Module:
    return ResNet32()


def _torchvision(name: str) -> nn.Module:
    import torchvision

    model = getattr(torchvision.models, name)(weights=None)
    model.out_features = model.fc.in_features
    model.fc = nn.Identity()
    return model


@BACKBONES.register("resnext50_32x4d")
def resnext50_32x4d() -> nn.Module:
    return _torchvision("resnext50_32x4d")


@BACKBONES.register("resnet50")
def resnet50() -> nn.Module:
    return _torchvision("resnet50")


@BACKBONES.register("resnet152")
def resnet152() -> nn.Module:
    return _torchvision("resnet152")


def create_backbone(name: str, **kwargs) -> nn.Module:
    return BACKBONES.create(name, **kwargs)


def list_backbones() -> List[str]:
    return BACKBONES.names()
