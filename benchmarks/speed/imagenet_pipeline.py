"""ImageNet-LT input pipeline throughput: PIL decoding in DataLoader workers vs batched decoding
on the training device (``jpeg_decode="workers"`` vs ``"device"``; nvJPEG on a GPU).

Only the input pipeline is timed (read, decode, RandomResizedCrop(224) + flip + ColorJitter +
normalize, batch on the device), not the model. The images are generated JPEGs at ImageNet's
typical size (500 x 375, smooth random content, quality 90) in a temp folder. Both pipelines
are measured in the same process, alternating, after a warm-up pass; the table gives
images/s (median over rounds) and the ratio.

    python benchmarks/speed/imagenet_pipeline.py --device cpu
    python benchmarks/speed/imagenet_pipeline.py --device cuda --images 2048 --batch-size 256 --workers 8
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ltkit.data.listfile import (
    EncodedImages,
    ListFileDataset,
    collate_encoded,
    decode_and_transform,
    imagenet_train_transform,
)
from ltkit.runs.provenance import Report
from ltkit.utils import resolve_device

RESULTS = Path(__file__).resolve().parents[2] / "results" / "benchmarks"


def make_jpegs(root: Path, n: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        small = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)  # upsampled: JPEG-like smooth content
        img = Image.fromarray(small).resize((500, 375), Image.BICUBIC)
        img.save(root / f"{i:05d}.JPEG", quality=90)
        lines.append(f"{i:05d}.JPEG {i % 1000}")
    (root / "list.txt").write_text("\n".join(lines) + "\n")
    return root / "list.txt"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--output",
        default=None,
        help="the record to write (default results/benchmarks/imagenet_pipeline_<cpu|cuda>.txt; '-': print only)",
    )
    args = ap.parse_args(argv)
    out = Report()  # the provenance (commit, date, machine) of the code as it starts
    device = resolve_device(args.device)
    transform = imagenet_train_transform()

    with tempfile.TemporaryDirectory() as tmp:
        list_file = make_jpegs(Path(tmp), args.images)
        ds = ListFileDataset(list_file, tmp, transform, num_classes=1000)
        batches = [
            list(range(i, i + args.batch_size)) for i in range(0, len(ds) - args.batch_size + 1, args.batch_size)
        ]
        n_images = len(batches) * args.batch_size

        def workers():
            loader = torch.utils.data.DataLoader(
                ds, batch_sampler=batches, num_workers=args.workers, pin_memory=device.type == "cuda"
            )
            for x, y in loader:
                x.to(device, non_blocking=True)

        def on_device():
            loader = torch.utils.data.DataLoader(
                EncodedImages(ds), batch_sampler=batches, num_workers=args.workers, collate_fn=collate_encoded
            )
            for encoded, y in loader:
                decode_and_transform(encoded, device, transform)

        pipelines = {
            "workers (PIL decode + transforms per image)": workers,
            f"device (batched decode_jpeg on {device.type} + transforms)": on_device,
        }

        def measure(fn):
            if device.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            return n_images / (time.perf_counter() - t)

        for fn in pipelines.values():
            measure(fn)  # warm-up (page cache, worker start, nvJPEG init)
        rates = {k: [] for k in pipelines}
        for _ in range(args.rounds):
            for k, fn in pipelines.items():
                rates[k].append(measure(fn))

    out(
        f"# ImageNet-LT input pipeline, {n_images} generated 500x375 JPEGs, batch {args.batch_size}, "
        f"{args.workers} DataLoader workers, {args.rounds} rounds after a warm-up, device {device}"
    )
    out(f"{'pipeline':<58}{'images/s (median)':>18}{'min':>9}{'max':>9}")
    for k, v in rates.items():
        out(f"{k:<58}{statistics.median(v):>18.1f}{min(v):>9.1f}{max(v):>9.1f}")
    a, b = (statistics.median(v) for v in rates.values())
    out(f"ratio device / workers: {b / a:.2f}x")
    out.write(args.output if args.output is not None else RESULTS / f"imagenet_pipeline_{device.type}.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
