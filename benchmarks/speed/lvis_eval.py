"""LVIS evaluation speed: the official LVIS API against faster-coco-eval's LVIS mode.

Same ground truth (a synthetic LVIS v1.0-format set from ``ltkit.detection.synthetic``), same
detections (the ground truth jittered, with random scores, wrong classes and false
positives, up to 300 per image), both iou types. Each backend runs ``--repeats`` times,
alternating, after one warm-up; the table gives the median seconds, the ratio, and the
largest difference over AP, AP50, AP75, APs/m/l, APr, APc, APf.

    python benchmarks/speed/lvis_eval.py                # 300 images, 40 categories
    python benchmarks/speed/lvis_eval.py --images 1000 --classes 100 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parents[2] / "results" / "benchmarks"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--classes", type=int, default=40)
    ap.add_argument("--per-object", type=int, default=3, help="jittered detections per ground-truth object")
    ap.add_argument("--false-positives", type=int, default=20, help="random boxes per image")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--output",
        default=str(RESULTS / "lvis_eval_cpu.txt"),
        help="the record to write (default results/benchmarks/lvis_eval_cpu.txt; '-': print only)",
    )
    args = ap.parse_args(argv)

    import faster_coco_eval
    import lvis

    from ltkit.detection.evaluation import METRICS, evaluate_lvis
    from ltkit.detection.synthetic import make_synthetic_lvis, noisy_detections
    from ltkit.runs.provenance import Report

    out = Report()

    with tempfile.TemporaryDirectory() as tmp:
        data = make_synthetic_lvis(tmp, num_classes=args.classes, train_images=1, val_images=args.images)
        dets = noisy_detections(data["val"], args.per_object, args.false_positives)
        gt = json.loads(data["val"].read_text())
        out(
            f"# LVIS evaluation: official LVIS API (lvis {getattr(lvis, '__version__', '0.5.3')}) vs "
            f"faster-coco-eval {faster_coco_eval.__version__} (lvis_style), numpy {np.__version__}"
        )
        out(
            f"# {len(gt['images'])} images, {len(gt['categories'])} categories, {len(gt['annotations'])} objects, "
            f"{len(dets)} detections; median of {args.repeats} runs after a warm-up, alternating"
        )
        out()
        out("| iou type | LVIS API (s) | faster-coco-eval (s) | speed-up | max metric difference |")
        out("|---|---|---|---|---|")
        for iou in ("bbox", "segm"):
            times = {"lvis": [], "faster": []}
            results = {}
            for rep in range(args.repeats + 1):
                for backend in ("lvis", "faster"):
                    t0 = time.perf_counter()
                    results[backend] = evaluate_lvis(data["val"], dets, iou, backend=backend)
                    if rep:  # the first round is the warm-up
                        times[backend].append(time.perf_counter() - t0)
            diff = max(
                abs(results["lvis"][k] - results["faster"][k])
                for k in METRICS
                if not (math.isnan(results["lvis"][k]) or math.isnan(results["faster"][k]))
            )
            a, b = statistics.median(times["lvis"]), statistics.median(times["faster"])
            out(f"| {iou} | {a:.2f} | {b:.2f} | {a / b:.1f}x | {diff:.1e} |")
    out.write(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
