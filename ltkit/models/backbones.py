"""Backbones: ``forward(images B x 3 x H x W) -> pooled, post-activation features (B, out_features)``.

Every backbone is registered in ``BACKBONES`` under a name, holds no classifier, and has an
int ``out_features`` (the feature dimension D). With ReLU (or softplus) the features are
non-negative, so the causal classifier's cosines to the moving-average feature lie in [0, 1]
(docs/method.md 1.4); SiLU's outputs reach down to -0.28, so the cosines can dip a little below 0.
Nothing is ever downloaded: every backbone starts from random weights.

``activation`` (every backbone takes it) replaces each ReLU of the network: ``"relu"`` (the
paper's, the default), ``"softplus"`` or ``"silu"``. Why a smooth one exists: ReLU's derivative
jumps at 0, so a change of one rounding step in a pre-activation that sits near 0 switches that
unit's gradient on or off. On a short run this makes training chaotic: a 1e-6 change of the
initial weights, another thread count or another CPU's kernels move two quickstart runs apart by
more than tenfold within their first 9 steps, and their accuracy cells by up to 10 points at the
end. With softplus or SiLU the gradient is a smooth function of the weights and the same
perturbations stay at their own size through training (``tests/test_backbones.py`` checks the
first 9 steps; ``benchmarks/experiments/quickstart_spread.py`` measures the table's cells). The
quickstart uses SiLU for that reason (on the CPU it costs less than softplus, whose outputs,
unlike SiLU's, stay positive); the paper's presets keep ReLU.

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

#: name -> module factory for the ``activation`` every backbone takes (see the module docstring);
#: ReLU is in place, as the blocks apply it to a BatchNorm output, whose backward does not need it
ACTIVATIONS = {
    "relu": lambda: nn.ReLU(inplace=True),
    "softplus": nn.Softplus,
    "silu": nn.SiLU,
}


def activation_module(name: str) -> nn.Module:
    """A new module for the activation ``name``; an unknown name raises ValueError listing the valid ones."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of: {', '.join(sorted(ACTIVATIONS))}")
    return ACTIVATIONS[name]()


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
    ``activation`` replaces both ReLUs (``ACTIVATIONS``).
    """

    def __init__(self, in_planes: int, planes: int, stride: int = 1, activation: str = "relu"):
        super().__init__()
        self.act1 = activation_module(activation)
        self.act2 = activation_module(activation)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride != 1 or in_planes != planes:
            self.shortcut: nn.Module = _ShortcutA(planes, stride)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return self.act2(out)


class ResNet32(nn.Module):
    """The BBN-style ResNet-32 feature extractor: ``(B, 3, H, W) -> (B, 128)`` (see the module docstring)."""

    def __init__(self, blocks: Sequence[int] = (5, 5, 4), activation: str = "relu"):
        super().__init__()
        self.activation = activation
        self.conv1 = nn.Conv2d(3, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.act = activation_module(activation)
        self.in_planes = 16
        self.layer1 = self._layer(16, blocks[0], 1)
        self.layer2 = self._layer(32, blocks[1], 2)
        self.layer3 = self._layer(64, blocks[2], 2)
        self.cb_block = BasicBlock(64, 64, 1, activation)
        self.rb_block = BasicBlock(64, 64, 1, activation)
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
            layers.append(BasicBlock(self.in_planes, planes, s, self.activation))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = torch.cat([self.cb_block(x), self.rb_block(x)], dim=1)  # cb first: head 0 = cb, head 1 = rb
        return self.pool(x).flatten(1)


@BACKBONES.register("resnet32")
def resnet32(activation: str = "relu") -> nn.Module:
    """BBN ResNet-32 (docs/method.md 1.7): 128-d features = [cb_block 64 | rb_block 64]."""
    return ResNet32(activation=activation)


def _torchvision(name: str, activation: str = "relu") -> nn.Module:
    import torchvision

    act = activation_module(activation)  # an unknown name fails before the weights are built
    model = getattr(torchvision.models, name)(weights=None)  # random init, nothing downloaded
    model.out_features = int(model.fc.in_features)
    model.fc = nn.Identity()  # forward now ends at the adaptive average pool + flatten
    model.activation = activation
    if activation != "relu":  # torchvision's blocks hold nn.ReLU modules (each may be used twice)
        for parent in list(model.modules()):
            for child_name, child in parent.named_children():
                if isinstance(child, nn.ReLU):
                    setattr(parent, child_name, type(act)())
    return model


@BACKBONES.register("resnext50_32x4d")
def resnext50_32x4d(activation: str = "relu") -> nn.Module:
    """torchvision ResNeXt-50 32x4d without fc (2048-d), the authors' ImageNet-LT / Places-LT backbone.

    Adaptive average pooling replaces the authors' ``AvgPool2d(7)``, which fixes their crash
    on 32 x 32 CIFAR inputs ("output size too small"); on 224 x 224 inputs the two are equal.
    """
    return _torchvision("resnext50_32x4d", activation)


@BACKBONES.register("resnet50")
def resnet50(activation: str = "relu") -> nn.Module:
    """torchvision ResNet-50 without fc (2048-d), random init, adaptive pooling."""
    return _torchvision("resnet50", activation)


@BACKBONES.register("resnet152")
def resnet152(activation: str = "relu") -> nn.Module:
    """torchvision ResNet-152 without fc (2048-d), random init, adaptive pooling."""
    return _torchvision("resnet152", activation)


def create_backbone(name: str, **kwargs) -> nn.Module:
    """Build the registered backbone ``name``; an unknown name raises ValueError listing the valid ones."""
    return BACKBONES.create(name, **kwargs)


def list_backbones() -> List[str]:
    """The registered backbone names, sorted."""
    return BACKBONES.names()
