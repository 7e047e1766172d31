"""CIFAR-10-LT / CIFAR-100-LT, read straight from the standard "python version" pickles.

docs/method.md 1.8: train = a long-tailed subset of the 50k train images (exponential profile,
n_max = 50000 / C, class 0 the head); test = the full balanced 10k test set. The subset is
seeded (``seed``) where the authors' code used the unseeded global NumPy RNG.

The pickles are read directly (not through ``torchvision.datasets.CIFAR10``), because
torchvision checks the official md5 sums and refuses re-encoded copies such as the one
``../shared/tools/cifar10_jpeg_to_batches.py`` writes. torchvision is used only to download.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import List, Tuple, Union

import numpy as np
import torch

from .base import CIFAR_MEAN, CIFAR_STD, LTData, TensorImages
from .fingerprint import data_block, fingerprint
from .profiles import long_tail_counts, lt_subset_indices

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"

# num_classes -> (folder, train files, test files, meta file, label key, names key, get_data name)
_LAYOUT = {
    10: ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], "batches.meta",
         b"labels", b"label_names", "cifar10"),
    100: ("cifar-100-python", ["train"], ["test"], "meta", b"fine_labels", b"fine_label_names", "cifar100"),
}


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as f:
        return pickle.load(f, encoding="bytes")


def _get(d: dict, key: bytes):
    """Value of ``key`` in a CIFAR pickle, whether it was written with bytes or str keys."""
    if key in d:
        return d[key]
    return d[key.decode()]


def read_split(folder: Path, files: List[str], label_key: bytes) -> Tuple[np.ndarray, np.ndarray]:
    """The images (N, 3, 32, 32) uint8 and labels (N,) int64 of pickle ``files`` in ``folder``, in file order."""
    data, labels = [], []
    for name in files:
        d = _unpickle(folder / name)
        x = np.asarray(_get(d, b"data"), dtype=np.uint8)
        data.append(x.reshape(-1, 3, 32, 32))
        labels.append(np.asarray(_get(d, label_key), dtype=np.int64))
    return np.concatenate(data), np.concatenate(labels)


def _missing_message(path: Path, root: Path, num_classes: int, get_name: str) -> str:
    return (
        f"CIFAR-{num_classes} not found: looked for {path} (the 'python version' pickles). "
        f"To get it: pass download=True (CLI: --download), or run "
        f"`python data/get_data.py {get_name} --root {root}`, or download 'CIFAR-{num_classes} python version' "
        f"from {CIFAR_URL} and extract it so that {path} exists (the archive's folder goes directly under {root})."
    )


def cifar_folder(root: Union[str, os.PathLike], num_classes: int = 10) -> Path:
    """Where the pickles of CIFAR-``num_classes`` live under ``root``."""
    if num_classes not in _LAYOUT:
        raise ValueError(f"num_classes: CIFAR has 10 or 100 classes, got {num_classes!r}")
    return Path(root) / _LAYOUT[num_classes][0]


def download_cifar(root: Union[str, os.PathLike], num_classes: int = 10) -> Path:
    """Fetch and extract CIFAR-``num_classes`` into ``root`` with torchvision; return the pickle folder."""
    from torchvision import datasets

    cls = datasets.CIFAR10 if num_classes == 10 else datasets.CIFAR100
    Path(root).mkdir(parents=True, exist_ok=True)
    cls(str(root), train=True, download=True)
    return cifar_folder(root, num_classes)


def load_cifar_lt(root: Union[str, os.PathLike], num_classes: int = 10, imb_ratio: float = 100,
                  seed: int = 0, download: bool = False) -> LTData:
    """CIFAR-10-LT or CIFAR-100-LT as in-memory uint8 :class:`TensorImages`.

    ``root`` holds ``cifar-10-batches-py/`` (10 classes) or ``cifar-100-python/`` (100
    classes). Train: ``long_tail_counts(50000 / C, C, imb_ratio)`` images per class, chosen by
    ``lt_subset_indices(labels, counts, seed)``. Test: the full balanced 10,000-image test set.
    ``download=True`` fetches the archive with torchvision first if the folder is missing.
    """
    folder = cifar_folder(root, num_classes)
    _, train_files, test_files, meta_file, label_key, names_key, get_name = _LAYOUT[num_classes]
    root_p = Path(root)
    needed = [folder / f for f in train_files + test_files]
    if not all(p.is_file() for p in needed):
        if download:
            download_cifar(root_p, num_classes)
        missing = [p for p in needed if not p.is_file()]
        if missing:
            path = folder if not folder.is_dir() else missing[0]
            raise FileNotFoundError(_missing_message(path, root_p, num_classes, get_name))

    train_x, train_y = read_split(folder, train_files, label_key)
    test_x, test_y = read_split(folder, test_files, label_key)
    meta_path = folder / meta_file
    if meta_path.is_file():
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in _get(_unpickle(meta_path), names_key)]
    else:
        names = [str(c) for c in range(num_classes)]

    # the largest class: 50000 / C on the real (balanced) data. Taking it from the files lets
    # small fixtures work, and a folder that already holds a long-tailed subset (its head class
    # whole, e.g. a bundle carried to a GPU machine) yields the same counts and the same images
    n_max = int(np.bincount(train_y, minlength=num_classes).max())
    counts = long_tail_counts(n_max, num_classes, imb_ratio)
    idx = lt_subset_indices(train_y, counts, seed)

    def split(x: np.ndarray, y: np.ndarray) -> TensorImages:
        return TensorImages(images=torch.from_numpy(np.ascontiguousarray(x)), labels=torch.from_numpy(y),
                            num_classes=num_classes, mean=CIFAR_MEAN, std=CIFAR_STD, class_names=list(names))

    train = split(train_x[idx], train_y[idx])
    test = split(test_x, test_y)
    info = {
        "root": str(root_p),
        "folder": str(folder),
        "imb_ratio": float(imb_ratio),
        "seed": int(seed),
        "n_max": n_max,
        "train_counts": [int(c) for c in counts],
        "train_size": int(len(train)),
        "test_size": int(len(test)),
        "test_counts": [int(c) for c in np.bincount(test_y, minlength=num_classes)],
    }
    name = "cifar10_lt" if num_classes == 10 else "cifar100_lt"
    # what was decoded, in file order: the same pixels give the same fingerprint whatever files held them
    fp = fingerprint([("train_images", train_x), ("train_labels", train_y),
                      ("test_images", test_x), ("test_labels", test_y)])
    info["data"] = data_block(name, str(root_p), fp, counts, idx)
    return LTData(name=name, train=train, test=test, num_classes=num_classes, info=info)
