"""Carry CIFAR-10-LT to a machine without network, inside the device tool's 64 MiB limit.

``make``: from the team's ``../shared/data/cifar10-jpeg.zip`` write a zip with only the JPEGs a
CIFAR-10-LT run needs: the ratio-``--imb-ratio`` subset for ``--seed`` (the same images
``ltkit.data.load_cifar_lt`` selects) and the whole test set; about 21 MB for ratio 100.

``decode``: on the other machine, turn that zip into ``OUT/cifar-10-batches-py`` (the pickle
layout ``load_cifar_lt`` reads). The folder holds only the subset, with its head class whole,
so ``load_cifar_lt(OUT, imb_ratio=R)`` gives the same counts and the same images there. Needs
numpy and Pillow only.

    python benchmarks/gpu/gpu_bundle.py make .gpu/cifar10_lt_r100.zip
    python benchmarks/gpu/gpu_bundle.py decode .gpu/cifar10_lt_r100.zip /tmp/cifar10
"""

from __future__ import annotations

import argparse
import io
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[3] / "shared"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def make(out: Path, imb_ratio: float, seed: int, shared: Path) -> None:
    from ltkit.data import long_tail_counts, lt_subset_indices

    src, tool = shared / "data" / "cifar10-jpeg.zip", shared / "tools" / "cifar10_jpeg_to_batches.py"
    if not (src.is_file() and tool.is_file()):
        sys.exit(f"needs {src} and {tool}")
    with tempfile.TemporaryDirectory() as tmp:
        # the converter's pickles carry each image's file name ("<class>_<NNNN>.jpg") in the
        # order load_cifar_lt sees them, so the subset maps back to the JPEGs exactly
        subprocess.run([sys.executable, str(tool), tmp], check=True, capture_output=True)
        labels, names = [], []
        for b in range(1, 6):
            with open(Path(tmp) / "cifar-10-batches-py" / f"data_batch_{b}", "rb") as f:
                d = pickle.load(f, encoding="latin1")
            labels += d["labels"]
            names += d["filenames"]
    labels = np.asarray(labels)
    counts = long_tail_counts(int(np.bincount(labels).max()), 10, imb_ratio)
    keep = lt_subset_indices(labels, counts, seed)
    members = [f"train/{CLASSES[labels[i]]}/{names[i].split('_', 1)[1]}" for i in keep]
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
        test = [n for n in zin.namelist() if n.startswith("test/") and n.endswith(".jpg")]
        for name in members + test:
            zout.writestr(name, zin.read(name))
    print(
        f"wrote {out}: {len(members)} train (ratio {imb_ratio:g}, seed {seed}, counts {counts}) + "
        f"{len(test)} test JPEGs, {out.stat().st_size / 2**20:.1f} MiB"
    )


def decode(bundle: Path, out: Path) -> None:
    from PIL import Image

    folder = out / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(bundle) as z:
        for split, files in (("train", [f"data_batch_{b}" for b in range(1, 6)]), ("test", ["test_batch"])):
            names = sorted(n for n in z.namelist() if n.startswith(split + "/") and n.endswith(".jpg"))
            data = np.stack(
                [
                    np.asarray(Image.open(io.BytesIO(z.read(n))).convert("RGB"), dtype=np.uint8)
                    .transpose(2, 0, 1)
                    .reshape(-1)
                    for n in names
                ]
            )
            labels = [CLASSES.index(n.split("/")[1]) for n in names]
            for k, fname in enumerate(files):  # spread over the batch files the loader expects
                with open(folder / fname, "wb") as f:
                    pickle.dump({"data": data[k :: len(files)], "labels": labels[k :: len(files)]}, f, protocol=4)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": CLASSES}, f, protocol=4)
    print(f"wrote {folder}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("out", type=Path)
    m.add_argument("--imb-ratio", type=float, default=100.0)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--shared", type=Path, default=SHARED)
    d = sub.add_parser("decode")
    d.add_argument("bundle", type=Path)
    d.add_argument("out", type=Path)
    a = p.parse_args()
    if a.cmd == "make":
        make(a.out, a.imb_ratio, a.seed, a.shared)
    else:
        decode(a.bundle, a.out)


if __name__ == "__main__":
    main()
