"""ImageNet-LT and Places-LT: image files listed in the authors' split files (docs/method.md 1.8).

Each line of a split file is ``<relative path> <int label>``; the path is joined to the image
root. The split files come from the OLTR / Decoupling / De-confound-TDE releases
(``python data/get_data.py imagenet_lt --root DIR``); the images themselves come from the
ImageNet (ILSVRC 2012) and Places365 sites and must be downloaded by the user.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Tuple, Union

import numpy as np
import torch
from PIL import Image

from .base import IMAGENET_MEAN, IMAGENET_STD, LTData
from .fingerprint import data_block, lines_fingerprint

PathLike = Union[str, os.PathLike]

SPLIT_FILES: Dict[str, Dict[str, str]] = {
    "imagenet_lt": {"train": "ImageNet_LT_train.txt", "val": "ImageNet_LT_val.txt", "test": "ImageNet_LT_test.txt"},
    "places_lt": {"train": "Places_LT_train.txt", "val": "Places_LT_val.txt", "test": "Places_LT_test.txt"},
}
NUM_CLASSES: Dict[str, int] = {"imagenet_lt": 1000, "places_lt": 365}
EXPECTED_LINES: Dict[str, Dict[str, int]] = {
    "imagenet_lt": {"train": 115_846, "val": 20_000, "test": 50_000},
    "places_lt": {"train": 62_500, "val": 7_300, "test": 36_500},
}
IMAGE_SOURCES: Dict[str, str] = {
    "imagenet_lt": ("ImageNet (ILSVRC 2012) from https://image-net.org/download.php: the list files name "
                    "train/<wnid>/*.JPEG (ILSVRC train images, used by the train and val lists) and "
                    "val/<wnid>/ILSVRC2012_val_*.JPEG (ILSVRC val images sorted into class folders, used by "
                    "the test list)"),
    "places_lt": ("Places365-Standard from http://places2.csail.mit.edu/download.html: put the images where "
                  "the paths in the list files point (relative to the image root)"),
}


def read_list_file(path: PathLike) -> Tuple[List[str], np.ndarray]:
    """(relative paths, int64 labels) of a split file; blank lines are skipped.

    A line must be ``<path> <int label>`` (the label is the last whitespace-separated field);
    anything else raises ``ValueError`` naming the file and the 1-based line number.
    """
    path = Path(path)
    with open(path, "r", encoding="utf-8") as f:
        return parse_list_lines(f, str(path))


def parse_list_lines(lines: Iterable[str], where: str) -> Tuple[List[str], np.ndarray]:
    """The rule of :func:`read_list_file` on lines from anywhere (a file, a download); ``where``
    names their source in errors (``<where>:<line number>: ...``)."""
    paths: List[str] = []
    labels: List[int] = []
    for lineno, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        parts = line.rsplit(None, 1)
        if len(parts) != 2:
            raise ValueError(f"{where}:{lineno}: expected '<relative path> <int label>', got {line!r}")
        try:
            label = int(parts[1])
        except ValueError:
            raise ValueError(f"{where}:{lineno}: label {parts[1]!r} is not an integer (line {line!r})") from None
        if label < 0:
            raise ValueError(f"{where}:{lineno}: label {label} is negative")
        paths.append(parts[0])
        labels.append(label)
    return paths, np.asarray(labels, dtype=np.int64)


class ListFileDataset(torch.utils.data.Dataset):
    """Images named in a split file, read with PIL on demand.

    ``dataset[i]`` is ``(transform(rgb_image), label)``; with ``transform=None`` the image is
    returned as a uint8 3 x H x W tensor. ``targets`` is an int64 numpy array, ``paths`` the
    image paths (``image_root / relative path``; a leading '/' in the list is ignored),
    ``num_classes`` the given number or ``max(label) + 1``.
    """

    def __init__(self, list_file: PathLike, image_root: PathLike, transform: Optional[Callable] = None,
                 num_classes: Optional[int] = None) -> None:
        self.list_file = Path(list_file)
        self.image_root = Path(image_root)
        rel, labels = read_list_file(self.list_file)
        if num_classes is None:
            num_classes = int(labels.max()) + 1 if labels.size else 0
        elif labels.size and labels.max() >= num_classes:
            bad = int(np.argmax(labels >= num_classes))
            raise ValueError(f"{self.list_file}: label {labels[bad]} of {rel[bad]!r} is >= num_classes={num_classes}")
        self.num_classes = int(num_classes)
        self.paths: List[str] = [str(self.image_root / p.lstrip("/")) for p in rel]
        self.targets: np.ndarray = labels
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        with open(self.paths[i], "rb") as f:
            img = Image.open(f).convert("RGB")
        if self.transform is not None:
            x = self.transform(img)
        else:
            from torchvision.transforms.v2 import functional as TF

            x = TF.pil_to_tensor(img)
        return x, int(self.targets[i])

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.targets, minlength=self.num_classes)


class EncodedImages(torch.utils.data.Dataset):
    """The files of a :class:`ListFileDataset` as undecoded bytes: ``(bytes, label)``.

    For decoding on the training device (:func:`decode_batch`): DataLoader workers only read
    files, and the batch is decoded and augmented where the model runs. Plain ``bytes`` travel
    from the workers by pickling; thousands of small shared-memory tensors per epoch would
    exhaust file descriptors.
    """

    def __init__(self, images: ListFileDataset):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        with open(self.images.paths[i], "rb") as f:
            return f.read(), int(self.images.targets[i])


def collate_encoded(batch):
    """(list of encoded files as bytes, int64 labels): they differ in length, so no stacking
    (it runs in the workers; the bytes become tensors in :func:`decode_batch`)."""
    return [b[0] for b in batch], torch.tensor([b[1] for b in batch], dtype=torch.int64)


def decode_batch(encoded: List[Union[bytes, torch.Tensor]], device: torch.device) -> List[torch.Tensor]:
    """Decode JPEG files (bytes or uint8 1-d tensors) to RGB uint8 3 x H x W tensors on
    ``device`` (nvJPEG, batched, on CUDA).

    A file the batched JPEG decoder refuses (ImageNet holds a few PNG and CMYK files under
    .JPEG names) is decoded on the CPU with ``torchvision.io.decode_image`` and moved over.
    """
    from torchvision.io import ImageReadMode, decode_image, decode_jpeg

    encoded = [e if isinstance(e, torch.Tensor) else torch.frombuffer(bytearray(e), dtype=torch.uint8)
               for e in encoded]
    try:
        return list(decode_jpeg(encoded, mode=ImageReadMode.RGB, device=device))
    except RuntimeError:
        out = []
        for data in encoded:
            try:
                out.append(decode_jpeg(data, mode=ImageReadMode.RGB, device=device))
            except RuntimeError:
                out.append(decode_image(data, mode=ImageReadMode.RGB).to(device))
        return out


def decode_and_transform(encoded: List[Union[bytes, torch.Tensor]], device: torch.device, transform: Callable) -> torch.Tensor:
    """A batch decoded on ``device`` and passed image by image through ``transform`` (torchvision
    v2 transforms run on tensors wherever they are), stacked: B x 3 x size x size float32."""
    return torch.stack([transform(img) for img in decode_batch(encoded, device)])


def imagenet_train_transform(size: int = 224):
    """RandomResizedCrop(224) -> HorizontalFlip -> ColorJitter(0.4, 0.4, 0.4, 0) -> float [0, 1] -> Normalize."""
    from torchvision.transforms import v2 as T

    return T.Compose([
        T.RandomResizedCrop(size),
        T.RandomHorizontalFlip(),
        T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0),
        T.ToImage(),
        T.ToDtype(torch.float32, scale=True),
        T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


def imagenet_test_transform(size: int = 224, resize: int = 256):
    """Resize(256) -> CenterCrop(224) -> float [0, 1] -> Normalize."""
    from torchvision.transforms import v2 as T

    return T.Compose([
        T.Resize(resize),
        T.CenterCrop(size),
        T.ToImage(),
        T.ToDtype(torch.float32, scale=True),
        T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


def _check_name(name: str) -> None:
    if name not in SPLIT_FILES:
        raise ValueError(f"name: unknown list-file dataset {name!r}; valid names: {', '.join(sorted(SPLIT_FILES))}")


def list_file_paths(name: str, split_dir: PathLike) -> Dict[str, Path]:
    """{'train': path, 'val': path, 'test': path} of dataset ``name`` under ``split_dir``."""
    _check_name(name)
    return {split: Path(split_dir) / fname for split, fname in SPLIT_FILES[name].items()}


def load_list_lt(name: str, root: PathLike, split_dir: Optional[PathLike] = None,
                 eval_split: str = "test", with_val: bool = False) -> LTData:
    """ImageNet-LT or Places-LT as file-backed datasets.

    ``root`` is the image root the list paths are relative to; ``split_dir`` holds the list
    files (default: ``root``). train = the train list with :func:`imagenet_train_transform`,
    test = the ``eval_split`` list ('test' or 'val') with :func:`imagenet_test_transform`.
    ``with_val``: also load the val list (20 images a class) as ``LTData.val``, with the
    test-time transform, for choosing the TDE alpha (``alpha="val"``); it cannot be combined
    with ``eval_split="val"``. A list whose line count differs from the published one
    triggers a warning.
    """
    _check_name(name)
    if eval_split not in ("val", "test"):
        raise ValueError(f"eval_split: must be 'val' or 'test', got {eval_split!r}")
    if with_val and eval_split == "val":
        raise ValueError("with_val: the val list is the evaluation split already (eval_split='val'); "
                         "choosing alpha on the split it is evaluated on would be tuning on it")
    root = Path(root)
    split_dir = Path(split_dir) if split_dir is not None else root
    files = list_file_paths(name, split_dir)
    needed = {"train": files["train"], eval_split: files[eval_split]}
    if with_val:
        needed["val"] = files["val"]
    missing = [str(p) for p in needed.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{name}: split file(s) not found: {', '.join(missing)}. "
            f"`python data/get_data.py {name} --root {split_dir}` fetches the split files into {split_dir}. "
            f"The images are not included: download {IMAGE_SOURCES[name]}; image root: {root}."
        )
    num_classes = NUM_CLASSES[name]
    train = ListFileDataset(files["train"], root, imagenet_train_transform(), num_classes=num_classes)
    test = ListFileDataset(files[eval_split], root, imagenet_test_transform(), num_classes=num_classes)
    splits = {"train": train, eval_split: test}
    if with_val:
        splits["val"] = ListFileDataset(files["val"], root, imagenet_test_transform(), num_classes=num_classes)
    for split, ds in splits.items():
        expected = EXPECTED_LINES[name][split]
        if len(ds) != expected:
            warnings.warn(f"{ds.list_file}: {len(ds)} lines, the published {name} {split} list has {expected}",
                          stacklevel=2)
    for split, ds in splits.items():
        if len(ds) and not os.path.exists(ds.paths[0]):
            raise FileNotFoundError(
                f"{name}: the first {split} image {ds.paths[0]} does not exist (list {ds.list_file}, image root "
                f"{root}). The images are not included: download {IMAGE_SOURCES[name]}."
            )
    info = {
        "root": str(root),
        "split_dir": str(split_dir),
        "eval_split": eval_split,
        "list_files": {split: str(ds.list_file) for split, ds in splits.items()},
        "train_counts": [int(c) for c in train.class_counts()],
        "train_size": len(train),
        "test_size": len(test),
    }
    # the images are not hashed (a million JPEGs): the lists name the data, in their order
    # (every published list that is there, whichever splits this run loads)
    fp = lines_fingerprint((split, Path(files[split]).read_text().splitlines())
                           for split in ("train", "val", "test") if Path(files[split]).is_file())
    info["data"] = data_block(name, str(root), fp, info["train_counts"], None)
    return LTData(name=name, train=train, test=test, num_classes=num_classes, info=info, val=splits.get("val"))
