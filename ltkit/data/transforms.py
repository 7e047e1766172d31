"""Batched CIFAR-style augmentation on uint8 image tensors, on whatever device they live on.

``augment_batch`` = torchvision's ``RandomCrop(H, padding=4)`` (zero padding) +
``RandomHorizontalFlip()`` + ``ToDtype(float32, scale=True)`` + ``Normalize(mean, std)``
(docs/method.md 1.8), applied to a whole batch with tensor ops: one gather does crop and flip.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F


def _check_images(images: torch.Tensor) -> None:
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise ValueError(f"images: must be a uint8 B x C x H x W tensor, got {images.dtype} {tuple(images.shape)}")


def _stats(values: Sequence[float], images: torch.Tensor, name: str) -> torch.Tensor:
    t = torch.as_tensor(values, dtype=torch.float32, device=images.device)
    if t.ndim != 1 or t.numel() != images.shape[1]:
        raise ValueError(f"{name}: needs one value per channel ({images.shape[1]}), got {values!r}")
    return t.view(1, -1, 1, 1)


def normalize_batch(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 B x C x H x W -> float32 ``(x / 255 - mean) / std``, on the same device (no augmentation)."""
    _check_images(images)
    x = images.float().mul_(1.0 / 255)  # same arithmetic as torchvision's ToDtype(float32, scale=True)
    return x.sub_(_stats(mean, images, "mean")).div_(_stats(std, images, "std"))


def _crop_flip(images: torch.Tensor, offsets_y: torch.Tensor, offsets_x: torch.Tensor, flips: torch.Tensor,
               padding: int = 4) -> torch.Tensor:
    """Zero-pad each image by ``padding``, take the H x W window at (offsets_y[b], offsets_x[b]) and
    mirror it left-right where ``flips[b]``; uint8 in, uint8 out, one gather for the whole batch."""
    b, c, h, w = images.shape
    dev = images.device
    padded = F.pad(images, (padding, padding, padding, padding)) if padding > 0 else images
    ar_h = torch.arange(h, device=dev)
    ar_w = torch.arange(w, device=dev)
    rows = offsets_y.to(dev).long().view(b, 1) + ar_h.view(1, h)  # (B, H)
    cols_fwd = ar_w.view(1, w).expand(b, w)
    cols = torch.where(flips.to(dev).bool().view(b, 1), (w - 1) - cols_fwd, cols_fwd) + offsets_x.to(dev).long().view(b, 1)
    bi = torch.arange(b, device=dev).view(b, 1, 1, 1)
    ci = torch.arange(c, device=dev).view(1, c, 1, 1)
    return padded[bi, ci, rows.view(b, 1, h, 1), cols.view(b, 1, 1, w)]


def augment_batch(images: torch.Tensor, generator: Optional[torch.Generator] = None, *, mean: Sequence[float],
                  std: Sequence[float], crop_padding: int = 4, flip: bool = True) -> torch.Tensor:
    """Random crop (zero padding ``crop_padding``, offsets uniform in 0..2*padding) and random
    horizontal flip (p = 0.5) per sample, then ``/ 255`` and normalize: uint8 B x C x H x W ->
    float32 B x C x H x W on ``images.device``.

    ``generator`` must live on ``images.device`` (``torch.Generator(device=...)``); ``None``
    uses the global RNG of that device.
    """
    _check_images(images)
    if crop_padding < 0:
        raise ValueError(f"crop_padding: must be >= 0, got {crop_padding}")
    b = images.shape[0]
    dev = images.device
    if crop_padding == 0 and not flip:
        return normalize_batch(images, mean, std)
    span = 2 * crop_padding + 1
    oy = torch.randint(0, span, (b,), generator=generator, device=dev)
    ox = torch.randint(0, span, (b,), generator=generator, device=dev)
    if flip:
        fl = torch.randint(0, 2, (b,), generator=generator, device=dev).bool()
    else:
        fl = torch.zeros(b, dtype=torch.bool, device=dev)
    return normalize_batch(_crop_flip(images, oy, ox, fl, crop_padding), mean, std)


class TorchvisionImages(torch.utils.data.Dataset):
    """An in-memory split served the way the authors' code serves CIFAR (``pipeline="torchvision"``):
    item ``i`` is ``(transform(PIL image i), label i)`` with :func:`torchvision_train_transform`,
    one image at a time in DataLoader workers. It exists to compare ltkit's batched pipeline with
    the standard one on equal terms (accuracy, ``benchmarks/experiments/cifar_pipeline_accuracy.py``; speed,
    ``benchmarks/speed/cifar_pipeline.py``).
    """

    def __init__(self, split, crop_padding: int = 4):
        self.images = split.images.permute(0, 2, 3, 1).contiguous().cpu().numpy()  # N x H x W x 3, uint8
        self.targets = split.targets
        self.num_classes = split.num_classes
        self.transform = torchvision_train_transform(split.mean, split.std, size=self.images.shape[1],
                                                     crop_padding=crop_padding)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i])), int(self.targets[i])


def torchvision_train_transform(mean: Sequence[float], std: Sequence[float], size: int = 32, crop_padding: int = 4):
    """The authors' CIFAR training transform: RandomCrop(size, padding) + RandomHorizontalFlip +
    ToTensor + Normalize (torchvision v1, PIL in, float32 C x H x W out), what :func:`augment_batch`
    computes for a whole batch."""
    import torchvision.transforms as T

    return T.Compose([T.RandomCrop(size, padding=crop_padding), T.RandomHorizontalFlip(), T.ToTensor(),
                      T.Normalize(mean, std)])
