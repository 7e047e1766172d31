"""CIFAR-10-LT from the real CIFAR-10 images in ../shared (skipped where that folder is absent)."""

import numpy as np
import pytest
import torch
from conftest import requires_shared_cifar10

from ltkit.data import load_cifar_lt

pytestmark = [pytest.mark.slow, requires_shared_cifar10]


def test_cifar10_lt_r100_real_counts(cifar10_root):
    data = load_cifar_lt(cifar10_root, num_classes=10, imb_ratio=100, seed=0)
    assert data.name == "cifar10_lt"
    assert data.train_counts.tolist() == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    assert len(data.train) == 12_406
    assert len(data.test) == 10_000 and data.test.class_counts().tolist() == [1000] * 10
    assert data.train.images.shape == (12_406, 3, 32, 32) and data.train.images.dtype == torch.uint8
    assert data.train.class_names == [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ]
    # real photos, not noise: neighbouring pixels are strongly correlated
    x = data.test.images[:500].float()
    assert torch.corrcoef(torch.stack([x[..., :-1].flatten(), x[..., 1:].flatten()]))[0, 1] > 0.8


def test_cifar10_lt_real_seeds_differ(cifar10_root):
    a = load_cifar_lt(cifar10_root, num_classes=10, imb_ratio=100, seed=0)
    b = load_cifar_lt(cifar10_root, num_classes=10, imb_ratio=100, seed=1)
    assert a.train_counts.tolist() == b.train_counts.tolist()
    assert not torch.equal(a.train.images, b.train.images)
    # the tail class (50 images) is a different subset, as image content
    tail_a = a.train.images[a.train.labels == 9].flatten(1).numpy()
    tail_b = b.train.images[b.train.labels == 9].flatten(1).numpy()
    shared_rows = {r.tobytes() for r in tail_a} & {r.tobytes() for r in tail_b}
    assert len(shared_rows) < 50
    np.testing.assert_array_equal(a.test.targets, b.test.targets)
