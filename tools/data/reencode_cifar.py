#!/usr/bin/env python3
"""Write a copy of a CIFAR "python version" folder with every image JPEG re-encoded (lossier).

Issue 11 asks how much of the gap to the paper comes from the data: the team's CIFAR-10 was
made from JPEGs (quality 75, 4:2:0 chroma subsampling), the authors trained on the lossless
release. One way to estimate that cost is to degrade the images one step further and train
again on the same recipe: the accuracy lost from q75 to q50 gives the slope. This script makes
that copy: each image (train and test) is decoded from the pickles, encoded again with Pillow
at ``--quality`` and ``--subsampling``, decoded, and written back in the same layout, order and
keys, so ``RunConfig(data_root=OUT)`` reads it like the original.

    python tools/data/reencode_cifar.py data/cifar10 data/cifar10-q50 --quality 50

Needs numpy and Pillow; about half a minute for CIFAR-10 on one core.
"""

from __future__ import annotations

import argparse
import io
import pickle
import sys
from pathlib import Path

import numpy as np
from PIL import Image

#: Pillow's ``subsampling``: 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0 (colour at half the resolution each way)
SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}
FOLDERS = {"cifar-10-batches-py": ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                                   "test_batch"],
           "cifar-100-python": ["train", "test"]}


def reencode(rows: np.ndarray, quality: int, subsampling: str) -> np.ndarray:
    """(N, 3072) channel-major uint8 images -> the same images after one JPEG round trip."""
    out = np.empty_like(rows)
    for i, row in enumerate(rows):
        img = Image.fromarray(row.reshape(3, 32, 32).transpose(1, 2, 0))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=quality, subsampling=SUBSAMPLING[subsampling])
        buf.seek(0)
        out[i] = np.asarray(Image.open(buf).convert("RGB")).transpose(2, 0, 1).reshape(-1)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", help="a CIFAR data root (holding cifar-10-batches-py/ or cifar-100-python/)")
    ap.add_argument("dst", help="the new data root (must not exist yet)")
    ap.add_argument("--quality", type=int, default=50, help="JPEG quality, 1-95 (default 50)")
    ap.add_argument("--subsampling", choices=sorted(SUBSAMPLING), default="4:2:0", help="chroma subsampling (default 4:2:0)")
    args = ap.parse_args(argv)
    src, dst = Path(args.src), Path(args.dst)
    if not 1 <= args.quality <= 95:
        ap.error(f"--quality must be in 1..95, got {args.quality}")
    found = [name for name in FOLDERS if (src / name).is_dir()]
    if not found:
        ap.error(f"{src} holds neither {' nor '.join(FOLDERS)}; see data/README.md")
    if dst.exists():
        ap.error(f"{dst} exists; give a new folder")
    for name in found:
        tmp = dst.parent / (dst.name + ".partial") / name
        tmp.mkdir(parents=True, exist_ok=False)
        for f in sorted((src / name).iterdir()):
            if f.name in FOLDERS[name]:
                with open(f, "rb") as fh:
                    batch = pickle.load(fh, encoding="latin1")
                key = "data" if "data" in batch else b"data"
                batch[key] = reencode(np.asarray(batch[key], dtype=np.uint8), args.quality, args.subsampling)
                with open(tmp / f.name, "wb") as fh:
                    pickle.dump(batch, fh, protocol=4)
                print(f"{f.name}: {len(batch[key])} images re-encoded at quality {args.quality}, {args.subsampling}",
                      flush=True)
            else:  # batches.meta / meta: as they are
                (tmp / f.name).write_bytes(f.read_bytes())
    (dst.parent / (dst.name + ".partial")).rename(dst)  # the folder appears only when complete
    return 0


if __name__ == "__main__":
    sys.exit(main())
