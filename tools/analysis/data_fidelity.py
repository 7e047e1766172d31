#!/usr/bin/env python3
"""How far copies of CIFAR-10 are from a reference copy, image by image: PSNR and mean absolute error.

Issue 11 compares runs on the same images stored three ways: the lossless release, the team's
JPEG copy (quality 75, 4:2:0) and that copy re-encoded at quality 50. This script measures how
much each copy changed the pixels, so that an accuracy difference can be read against a
distortion:

    python tools/analysis/data_fidelity.py data/cifar10-lossless-paired data/cifar10 data/cifar10-q50 \\
        --record results/analysis/cifar10_lt_gap/data_fidelity.txt

The first root is the reference; every root holds ``cifar-10-batches-py/`` with its images in
the same order (``tools/data/cifar10_binary_to_batches.py --order-like`` makes the lossless one so;
``tools/data/reencode_cifar.py`` keeps the order). Labels must agree image by image. PSNR is over
all pixels of a split (10 log10(255^2 / MSE)); MAE in grey levels. The record starts with the
usual provenance header (``ltkit.runs.provenance``).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
try:  # run from a checkout without `pip install -e .`
    import ltkit  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    sys.path.insert(0, str(HERE.parents[1]))

from ltkit.data.cifar import read_split  # noqa: E402
from ltkit.runs.provenance import Report  # noqa: E402

SPLITS = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


def load_split(root: Path, files) -> tuple:
    """(labels, pixels as (N, 3072) uint8) of one split of a python-version folder, read as ltkit reads it."""
    folder = Path(root) / "cifar-10-batches-py"
    missing = [folder / name for name in files if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{missing[0]} not found (a data root holds cifar-10-batches-py/)")
    pixels, labels = read_split(folder, list(files), b"labels")
    return labels, pixels.reshape(len(pixels), -1)


def fidelity(reference: np.ndarray, copy: np.ndarray) -> dict:
    """PSNR (dB) over all pixels, and the mean absolute error (grey levels) overall and per image."""
    if reference.shape != copy.shape:
        raise ValueError(f"shapes differ: {reference.shape} vs {copy.shape}")
    d = reference.astype(np.float64) - copy.astype(np.float64)
    mse = float(np.mean(d * d))
    per_image = np.abs(d).mean(axis=1)
    return {
        "psnr": math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse),
        "mae": float(np.abs(d).mean()),
        "mae_image_median": float(np.median(per_image)),
        "mae_image_max": float(per_image.max()),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reference", type=Path, help="the reference data root (e.g. the lossless release)")
    ap.add_argument("copies", type=Path, nargs="+", help="data roots to compare with it, same image order")
    ap.add_argument("--record", default="-", help="write the table here with its provenance header ('-': don't)")
    args = ap.parse_args(argv)
    out = Report()
    out(f"reference: {args.reference}")
    out(f"{'copy':<32} {'split':<6} {'PSNR dB':>8} {'MAE':>6} {'MAE/image median':>17} {'max':>6}")
    try:
        for split, files in SPLITS.items():
            ref_labels, ref = load_split(args.reference, files)
            for root in args.copies:
                labels, pixels = load_split(root, files)
                if not np.array_equal(labels, ref_labels):
                    raise ValueError(f"{root} ({split}): labels differ from the reference's: not the same image order")
                f = fidelity(ref, pixels)
                out(
                    f"{str(root):<32} {split:<6} {f['psnr']:>8.2f} {f['mae']:>6.2f} {f['mae_image_median']:>17.2f} "
                    f"{f['mae_image_max']:>6.2f}"
                )
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    out.write(args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
