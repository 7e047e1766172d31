"""The index order of one training epoch: instance sampling or the class-aware sampler.

``epoch_indices`` returns all of an epoch's indices at once (vectorized NumPy), drawn from
the ``np.random.Generator`` it is given, so an epoch is a pure function of its seed.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

SAMPLERS = ("instance", "class_balanced")


def _cycled_permutations(n: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """The first ``length`` items of ``perm_1(0..n-1) ++ perm_2(0..n-1) ++ ...`` (fresh permutation per wrap)."""
    if length <= 0:
        return np.zeros(0, dtype=np.int64)
    rounds = -(-length // n)
    if rounds == 1:
        return rng.permutation(n)[:length].astype(np.int64, copy=False)
    perms = rng.permuted(np.broadcast_to(np.arange(n, dtype=np.int64), (rounds, n)), axis=1)
    return perms.reshape(-1)[:length]


def epoch_indices(labels: Sequence[int], num_samples: int, rng: np.random.Generator, sampler: str = "instance",
                  num_classes: Optional[int] = None, samples_per_class: int = 4) -> np.ndarray:
    """``num_samples`` dataset indices (int64) for one epoch.

    - ``'instance'``: a random permutation of all indices (several concatenated when
      ``num_samples`` exceeds the dataset), cut to ``num_samples``.
    - ``'class_balanced'``: Decoupling's ``ClassAwareSampler`` (docs/method.md 1.6). Classes are
      visited in a cycling order that is reshuffled at every wrap; each visit takes
      ``samples_per_class`` consecutive items from that class's own cycling index list, which
      is also reshuffled at every wrap. Classes without images are never visited.

    All randomness comes from ``rng``.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler: unknown value {sampler!r}; valid: {', '.join(repr(s) for s in SAMPLERS)}")
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels: must be 1-d, got shape {labels.shape}")
    num_samples = int(num_samples)
    if num_samples < 0:
        raise ValueError(f"num_samples: must be >= 0, got {num_samples}")
    n = labels.shape[0]
    if n == 0:
        if num_samples == 0:
            return np.zeros(0, dtype=np.int64)
        raise ValueError("labels: the dataset is empty")

    if sampler == "instance":
        return _cycled_permutations(n, num_samples, rng)

    spc = int(samples_per_class)
    if spc < 1:
        raise ValueError(f"samples_per_class: must be >= 1, got {samples_per_class}")
    if num_classes is None:
        num_classes = int(labels.max()) + 1
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels: values must lie in 0..{num_classes - 1}, got {labels.min()}..{labels.max()}")

    order = np.argsort(labels, kind="stable")  # indices grouped by class
    starts = np.searchsorted(labels[order], np.arange(num_classes + 1))
    sizes = np.diff(starts)
    present = np.flatnonzero(sizes > 0)

    visits = -(-num_samples // spc)
    class_seq = present[_cycled_permutations(len(present), visits, rng)]
    out = np.empty((visits, spc), dtype=np.int64)
    visits_per_class = np.bincount(class_seq, minlength=num_classes)
    # slots of each class's visits, grouped by class, in visiting order
    slots = np.argsort(class_seq, kind="stable")
    slot_starts = np.concatenate([[0], np.cumsum(visits_per_class)])
    for c in present:
        m = int(visits_per_class[c])
        if m == 0:
            continue
        members = order[starts[c]:starts[c + 1]]
        stream = members[_cycled_permutations(int(sizes[c]), m * spc, rng)]
        out[slots[slot_starts[c]:slot_starts[c + 1]]] = stream.reshape(m, spc)
    return out.reshape(-1)[:num_samples]
