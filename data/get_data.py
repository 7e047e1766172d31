#!/usr/bin/env python3
"""Fetch a dataset (CIFAR, LVIS) or its long-tail split files (ImageNet-LT, Places-LT) into data/.

    python data/get_data.py cifar10     --root data/cifar10      # torchvision download + extract
    python data/get_data.py cifar100    --root data/cifar100
    python data/get_data.py imagenet_lt --root data/ImageNet_LT  # the ImageNet_LT_{train,val,test}.txt split files
    python data/get_data.py places_lt   --root data/Places_LT    # the Places_LT_{train,val,test}.txt split files
    python data/get_data.py lvis_v1     --root data/LVIS         # lvis_v1_{train,val}.json (+ --images: COCO 2017)
    python data/get_data.py lvis_v0.5   --root data/LVIS         # lvis_v0.5_{train,val}.json

The split files come from the De-confound-TDE repository (KaihuaTang/Long-Tailed-Recognition.pytorch);
their line counts are checked before they are written (atomically). ImageNet and Places365
images are not fetched: the script says which ones are needed and where they go.
Exit code 0 on success, 1 on a network failure or an incomplete / wrong download, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import http.client
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import List, Optional

HERE = Path(__file__).resolve().parent
try:  # run from a checkout without `pip install -e .`
    import ltkit  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    sys.path.insert(0, str(HERE.parent))

from ltkit.data.listfile import EXPECTED_LINES, IMAGE_SOURCES, SPLIT_FILES, parse_list_lines  # noqa: E402
from ltkit.utils import atomic_write  # noqa: E402

from ltkit.data.datasets import DATASETS as RUN_DATASETS  # noqa: E402

#: the folder under data/ each dataset goes to by default: where runs look for it
#: (ltkit.data.datasets), and LVIS's default root (ltkit.detection.data.default_root)
DEFAULT_ROOTS = {d.get_data: Path(d.default_root).name for d in RUN_DATASETS.values() if d.get_data}
DEFAULT_ROOTS.update({"lvis_v1": "LVIS", "lvis_v0.5": "LVIS"})
DATASETS = tuple(DEFAULT_ROOTS)
#: the LVIS annotation zips (the LVIS site's links) and the COCO 2017 image zips they index
LVIS_BASE_URL = "https://dl.fbaipublicfiles.com/LVIS"
COCO_IMAGES_URL = "http://images.cocodataset.org/zips"
SPLIT_BASE_URL = "https://raw.githubusercontent.com/KaihuaTang/Long-Tailed-Recognition.pytorch/master/classification/data"
REMOTE_FOLDER = {"imagenet_lt": "ImageNet_LT", "places_lt": "Places_LT"}
OLTR_URL = "https://github.com/zhmiao/OpenLongTailRecognition-OLTR"


class FetchError(Exception):
    """A download that failed; the message is one line for the user."""


def split_file_url(name: str, fname: str) -> str:
    return f"{SPLIT_BASE_URL}/{REMOTE_FOLDER[name]}/{fname}"


def verify_list_text(text: str, expected_lines: int, what: str) -> None:
    """Raise ValueError unless ``text`` is a split file (the rule ``ltkit.data.listfile`` reads
    them by) of ``expected_lines`` non-blank lines."""
    paths, _ = parse_list_lines(text.splitlines(), what)
    if len(paths) != expected_lines:
        raise ValueError(f"{what}: {len(paths)} lines, expected {expected_lines}")


def download_text(url: str, timeout: float) -> str:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        raise FetchError(f"HTTP {e.code} for {url}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", e)
        raise FetchError(f"could not reach {url}: {reason}") from None


def fetch_split_files(name: str, root: Path, timeout: float = 60.0, force: bool = False) -> List[str]:
    """Fetch the three split files of ``name`` into ``root``; return problems (empty = all good).

    Raises FetchError on a network failure (no connection, DNS, timeout).
    """
    problems = []
    for split, fname in SPLIT_FILES[name].items():
        dest = root / fname
        expected = EXPECTED_LINES[name][split]
        if dest.is_file() and not force:
            try:
                verify_list_text(dest.read_text(encoding="utf-8"), expected, str(dest))
                print(f"{dest}: already present ({expected} lines)")
                continue
            except ValueError as e:
                print(f"{e}; fetching it again")
        url = split_file_url(name, fname)
        try:
            text = download_text(url, timeout)
        except FetchError as e:
            if str(e).startswith("HTTP 404"):
                hint = f" Get {fname} from the OLTR release ({OLTR_URL}, its data links) and put it at {dest}." \
                    if split == "train" else ""
                problems.append(f"{fname}: not found at {url}.{hint}")
                continue
            raise
        try:
            verify_list_text(text, expected, url)
        except ValueError as e:
            problems.append(str(e))
            continue
        atomic_write(dest, lambda f: f.write(text))
        print(f"{dest}: {expected} lines")
    return problems


def fetch_cifar(name: str, root: Path) -> None:
    from torchvision import datasets

    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    root.mkdir(parents=True, exist_ok=True)
    try:
        cls(str(root), train=True, download=True)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        raise FetchError(f"could not download {name} into {root}: {getattr(e, 'reason', e)}") from None
    folder = "cifar-10-batches-py" if name == "cifar10" else "cifar-100-python"
    print(f"{root / folder}: ready (load with ltkit.data.load_cifar_lt({str(root)!r}, "
          f"num_classes={10 if name == 'cifar10' else 100}))")


def download_file(url: str, dest: Path, timeout: float) -> None:
    """Stream ``url`` to ``dest`` through a temp file (renamed into place when complete)."""
    import shutil

    tmp = dest.with_name(f".{dest.name}.part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as f:
            shutil.copyfileobj(r, f, length=1 << 20)
    except urllib.error.HTTPError as e:
        tmp.unlink(missing_ok=True)
        raise FetchError(f"HTTP {e.code} for {url}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        tmp.unlink(missing_ok=True)
        raise FetchError(f"could not reach {url}: {getattr(e, 'reason', e)}") from None
    tmp.replace(dest)


def extract_zip(archive: Path, root: Path, member: Optional[str] = None) -> List[str]:
    """Check a zip's CRCs, then extract it (or one member) into ``root``; returns the names written."""
    import zipfile

    with zipfile.ZipFile(archive) as z:
        bad = z.testzip()
        if bad is not None:
            raise ValueError(f"{archive}: member {bad} is corrupt; delete the file and run again")
        names = [member] if member else z.namelist()
        for name in names:
            z.extract(name, root)
    return names


def fetch_lvis(version: str, root: Path, timeout: float = 60.0, force: bool = False, images: bool = False) -> None:
    """The LVIS ``version`` ("v1" or "v0.5") train/val annotations into ``root`` (and with
    ``images`` the COCO 2017 train/val images into ``root/images/``), the layout
    ``ltkit.detection.data`` expects."""
    for split in ("train", "val"):
        name = f"lvis_{version}_{split}.json"
        dest = root / name
        if dest.is_file() and not force:
            print(f"{dest}: already present")
            continue
        archive = root / f"{name}.zip"
        if not archive.is_file() or force:
            download_file(f"{LVIS_BASE_URL}/{name}.zip", archive, timeout)
        extract_zip(archive, root, member=name)
        archive.unlink()
        print(f"{dest}: ready")
    if images:
        for split in ("train2017", "val2017"):
            if (root / "images" / split).is_dir() and not force:
                print(f"{root / 'images' / split}: already present")
                continue
            archive = root / "images" / f"{split}.zip"
            if not archive.is_file():
                download_file(f"{COCO_IMAGES_URL}/{split}.zip", archive, timeout)
            extract_zip(archive, root / "images")
            archive.unlink()
            print(f"{root / 'images' / split}: ready")


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", choices=DATASETS)
    ap.add_argument("--root", type=Path, default=None,
                    help="target folder (default: data/cifar10, data/cifar100, data/ImageNet_LT, data/Places_LT or data/LVIS)")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per download request (default 60)")
    ap.add_argument("--force", action="store_true", help="fetch split files again even if present and valid")
    ap.add_argument("--images", action="store_true",
                    help="LVIS: also download and extract the COCO 2017 train/val images (about 19 GB of zips)")
    args = ap.parse_args(argv)
    if args.timeout <= 0:
        ap.error(f"--timeout: must be > 0, got {args.timeout}")
    root: Path = args.root if args.root is not None else HERE / DEFAULT_ROOTS[args.dataset]

    try:
        if args.dataset in ("cifar10", "cifar100"):
            fetch_cifar(args.dataset, root)
            return 0
        if args.dataset.startswith("lvis_"):
            fetch_lvis(args.dataset[len("lvis_"):], root, timeout=args.timeout, force=args.force, images=args.images)
            if not args.images:
                print(f"Images: the COCO 2017 train and val images go under {root}/images/train2017 and "
                      f"{root}/images/val2017 (run again with --images, or from {COCO_IMAGES_URL}/).")
            return 0
        problems = fetch_split_files(args.dataset, root, timeout=args.timeout, force=args.force)
    except (FetchError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"Images are not downloaded by this script. Still needed under {root}: {IMAGE_SOURCES[args.dataset]}.")
    if problems:
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
