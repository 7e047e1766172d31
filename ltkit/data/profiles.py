"""Long-tail class-count profiles, shot groups and seeded long-tailed subsets.

docs/method.md 1.8 (the exponential CIFAR-LT profile of BBN/LDAM) and 1.9 (shot groups).
"""

from __future__ import annotations

from typing import List, Sequence

import numpy as np

SHOT_GROUPS = ("many", "medium", "few")


def long_tail_counts(n_max: float, num_classes: int, imb_ratio: float) -> List[int]:
    """Per-class image counts of the exponential long-tail profile, class 0 the head.

    ``n_i = int(n_max * (1 / imb_ratio) ** (i / (num_classes - 1)))`` for ``i = 0 .. C-1``,
    exactly as the authors' ``ImbalanceCIFAR`` computes it (``n_max`` may be a float, e.g.
    ``50000 / 10``). CIFAR-10-LT ratio 100 gives 5000, 2997, 1796, 1077, 645, 387, 232, 139,
    83, 50. With one class the profile is just ``[int(n_max)]``.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"num_classes: must be an integer >= 1, got {num_classes!r}")
    try:
        n_max_f = float(n_max)
        ratio = float(imb_ratio)
    except (TypeError, ValueError) as e:
        raise ValueError(f"n_max / imb_ratio: must be numbers, got {n_max!r} / {imb_ratio!r}") from e
    if not np.isfinite(n_max_f) or n_max_f <= 0:
        raise ValueError(f"n_max: must be a positive number (images in the head class), got {n_max!r}")
    if not np.isfinite(ratio) or ratio < 1:
        raise ValueError(f"imb_ratio: must be >= 1 (n_max / n_min; 1 = balanced), got {imb_ratio!r}")
    num_classes = int(num_classes)
    if num_classes == 1:
        return [int(n_max)]
    factor = 1.0 / ratio
    return [int(n_max * factor ** (i / (num_classes - 1.0))) for i in range(num_classes)]


#: the shot groups' thresholds on a class's training images, the same for every dataset of the
#: paper (docs/method.md 1.9): many > MANY_SHOT, few < FEW_SHOT, medium in between (both included)
MANY_SHOT, FEW_SHOT = 100, 20


def shot_groups(train_counts: Sequence[int], many: int = MANY_SHOT, few: int = FEW_SHOT) -> np.ndarray:
    """'many' / 'medium' / 'few' for each class from its number of training images.

    many: n > ``many``; few: n < ``few``; medium: ``few`` <= n <= ``many`` (both thresholds
    fall into medium, docs/method.md 1.9).
    """
    counts = np.asarray(train_counts)
    if counts.ndim != 1:
        raise ValueError(f"train_counts: must be 1-d (one count per class), got shape {counts.shape}")
    if few > many:
        raise ValueError(f"few: must be <= many, got few={few}, many={many}")
    out = np.full(counts.shape, "medium", dtype="<U6")
    out[counts > many] = "many"
    out[counts < few] = "few"
    return out


def lt_subset_indices(labels: Sequence[int], counts: Sequence[int], seed: int) -> np.ndarray:
    """Indices of a long-tailed subset: ``counts[c]`` random images of each class ``c``.

    One ``np.random.default_rng(seed)`` shuffles each class's indices in turn (classes in
    order 0, 1, ...); the first ``counts[c]`` are kept. The result is concatenated in class
    order. The authors used the unseeded global NumPy RNG here (a different subset per run);
    ltkit seeds it, so a seed names one subset.
    """
    labels = np.asarray(labels)
    counts = [int(c) for c in counts]
    if labels.ndim != 1:
        raise ValueError(f"labels: must be 1-d, got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= len(counts)):
        raise ValueError(f"labels: values must lie in 0..{len(counts) - 1} (one count per class), "
                         f"got {labels.min()}..{labels.max()}")
    rng = np.random.default_rng(seed)
    order = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[order], np.arange(len(counts) + 1))
    parts = []
    for c, n in enumerate(counts):
        idx = order[starts[c]:starts[c + 1]].copy()
        if n < 0:
            raise ValueError(f"counts: class {c} has a negative count {n}")
        if n > idx.size:
            raise ValueError(f"counts: class {c} asks for {n} images but only {idx.size} exist")
        rng.shuffle(idx)
        parts.append(idx[:n])
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)
