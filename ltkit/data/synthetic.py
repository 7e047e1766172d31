"""A synthetic long-tailed image dataset: the embedded default, generated from a seed in seconds.

Each class has a prototype image: a random texture, the sum of a few coloured sinusoidal
gratings at low spatial frequency. A sample is its class prototype, circularly shifted by a few
pixels, with random contrast, mixed with a random "nuisance" texture drawn from a pool shared by
all classes, plus pixel noise. ``separation`` scales the prototypes against the nuisance and
noise: smaller is harder.

Class counts follow the same exponential profile as CIFAR-LT (``long_tail_counts``), class 0
is the head; the validation and test splits are balanced, drawn from the same prototypes
and nuisance pool as the training split, each from its own random stream (so the size of
one split never changes the images of another). With the defaults (10 classes, 500 images in the
head, ratio 100, 16 x 16) there are many-, medium- and few-shot classes (4 / 3 / 3), and the
whole dataset is built in well under a second. A ResNet-32 trained on it (the quickstart) shows
the head bias of the paper: many-shot accuracy far above few-shot, and a moving-average
feature whose direction is closest to the head classes' weights, which TDE then removes.
"""

from __future__ import annotations

import numpy as np
import torch

from .base import LTData, TensorImages
from .fingerprint import data_block, fingerprint
from .profiles import long_tail_counts

SYNTHETIC_MEAN = (0.5, 0.5, 0.5)
SYNTHETIC_STD = (0.25, 0.25, 0.25)


def _textures(rng: np.random.Generator, n: int, size: int, components: int, max_freq: float) -> np.ndarray:
    """n random RGB textures (n, 3, size, size) with zero mean and unit RMS."""
    yy, xx = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    out = np.zeros((n, 3, size, size))
    for _ in range(components):
        theta = rng.uniform(0, np.pi, n)
        freq = rng.uniform(0.5, max_freq, n) * 2 * np.pi / size
        phase = rng.uniform(0, 2 * np.pi, n)
        color = rng.normal(size=(n, 3))
        arg = freq[:, None, None] * (np.cos(theta)[:, None, None] * xx + np.sin(theta)[:, None, None] * yy)
        wave = np.sin(arg + phase[:, None, None])
        out += color[:, :, None, None] * wave[:, None]
    out -= out.mean(axis=(1, 2, 3), keepdims=True)
    out /= out.std(axis=(1, 2, 3), keepdims=True) + 1e-8
    return out


def _draw(
    rng: np.random.Generator,
    labels: np.ndarray,
    prototypes: np.ndarray,
    nuisance_pool: np.ndarray,
    *,
    max_shift: int,
    nuisance: float,
    noise: float,
) -> np.ndarray:
    n, size = len(labels), prototypes.shape[-1]
    img = prototypes[labels] * rng.uniform(0.6, 1.4, (n, 1, 1, 1))
    # circular shift per sample, vectorised through index arithmetic
    dy = rng.integers(-max_shift, max_shift + 1, n)
    dx = rng.integers(-max_shift, max_shift + 1, n)
    rows = (np.arange(size)[None, :] - dy[:, None]) % size
    cols = (np.arange(size)[None, :] - dx[:, None]) % size
    img = img[np.arange(n)[:, None, None, None], np.arange(3)[None, :, None, None], rows[:, None, :, None], cols[:, None, None, :]]
    img = img + nuisance * nuisance_pool[rng.integers(0, len(nuisance_pool), n)] * rng.uniform(0.5, 1.5, (n, 1, 1, 1))
    img = img + noise * rng.normal(size=img.shape)
    return np.clip(np.round(127.5 + 40.0 * img), 0, 255).astype(np.uint8)


def make_synthetic_lt(
    *,
    num_classes: int = 10,
    n_max: int = 500,
    imb_ratio: float = 100.0,
    test_per_class: int = 500,
    val_per_class: int = 500,
    image_size: int = 16,
    separation: float = 1.0,
    nuisance: float = 1.0,
    noise: float = 0.6,
    max_shift: int = 2,
    seed: int = 0,
) -> LTData:
    """Build the synthetic long-tailed dataset (train: exponential profile; val and test: balanced).

    The same arguments always give the same bytes. ``seed`` draws everything: prototypes,
    nuisance pool and samples (the train, test and val samples come from separate streams).
    """
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    if n_max < 1 or test_per_class < 1 or val_per_class < 1:
        raise ValueError("n_max, test_per_class and val_per_class must be positive")
    if image_size < 8:
        raise ValueError(f"image_size must be >= 8, got {image_size}")
    counts = long_tail_counts(n_max, num_classes, imb_ratio)
    if min(counts) < 1:
        raise ValueError(f"imb_ratio {imb_ratio} with n_max {n_max} leaves a class with no image; lower the ratio")
    root = np.random.SeedSequence([seed, 0x17D])
    # spawn(4)'s first three children are spawn(3)'s: the val stream did not move train / test
    proto_rng, train_rng, test_rng, val_rng = (np.random.default_rng(s) for s in root.spawn(4))
    prototypes = separation * _textures(proto_rng, num_classes, image_size, components=3, max_freq=3.0)
    pool = _textures(proto_rng, 64, image_size, components=3, max_freq=3.0)
    kw = dict(max_shift=max_shift, nuisance=nuisance, noise=noise)

    train_labels = np.repeat(np.arange(num_classes), counts)
    test_labels = np.repeat(np.arange(num_classes), test_per_class)
    train_x = _draw(train_rng, train_labels, prototypes, pool, **kw)
    test_x = _draw(test_rng, test_labels, prototypes, pool, **kw)
    val_labels = np.repeat(np.arange(num_classes), val_per_class)
    val_x = _draw(val_rng, val_labels, prototypes, pool, **kw)
    names = [f"class_{i}" for i in range(num_classes)]

    def split(x: np.ndarray, y: np.ndarray) -> TensorImages:
        return TensorImages(torch.from_numpy(x), torch.from_numpy(y), num_classes, SYNTHETIC_MEAN, SYNTHETIC_STD, names)

    # the data is the generator and its settings; each seed draws its own images from it, as a seed
    # draws its own subset of CIFAR-10, so the seed is not part of the fingerprint (runs of several
    # seeds pool in a table) and the images of this seed are the subset's hash
    settings = np.array([num_classes, n_max, imb_ratio, test_per_class, val_per_class, image_size, separation,
                         nuisance, noise, max_shift], dtype=np.float64)
    fp = fingerprint([("synthetic_lt settings", settings)])
    block = data_block("synthetic_lt", "(generated)", fp, counts, None, content="generated by ltkit.data.synthetic")
    block["subset"]["images_sha256"] = fingerprint([("train_images", train_x), ("train_labels", train_labels)])
    return LTData(
        name="synthetic_lt",
        train=split(train_x, train_labels),
        test=split(test_x, test_labels),
        val=split(val_x, val_labels),
        num_classes=num_classes,
        info={"train_counts": counts, "image_size": image_size, "separation": separation, "seed": seed,
              "data": block},
    )
