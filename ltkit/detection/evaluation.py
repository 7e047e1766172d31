"""LVIS evaluation: the official LVIS API on current NumPy, and faster-coco-eval's LVIS mode.

``lvis==0.5.3`` (the official API on PyPI) calls ``np.float`` in ``LVISEval.accumulate``, an
alias NumPy removed in 1.24. :func:`patch_lvis_api` wraps that one method so it runs with the
removed aliases restored for its duration only (they map to the builtins, exactly what they
were); NumPy is not pinned back, and nothing else sees the aliases. ``import ltkit.detection``
applies it, so mmdet's own ``LVISV1Dataset.evaluate`` works too.

:func:`evaluate_lvis` runs either backend on a detections file and returns one flat dict of
AP, AP50, AP75, APs, APm, APl, APr, APc, APf (fractions in [0, 1]; NaN where LVIS reports -1,
a group with no category). The two backends agree to 1e-4 on the same detections
(``tests/test_detection.py`` checks it).
"""

from __future__ import annotations

import builtins
import functools
import json
import math
import warnings
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, List, Sequence, Union

import numpy as np

from ..config import LVIS_BACKENDS

__all__ = ["METRICS", "BACKENDS", "numpy_aliases", "patch_lvis_api", "evaluate_lvis", "top_k_per_image"]

METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "APr", "APc", "APf")
BACKENDS = LVIS_BACKENDS
_ALIASES = ("float", "int", "bool", "object")
_FASTER_KEYS = {
    "AP_all": "AP",
    "AP_50": "AP50",
    "AP_75": "AP75",
    "AP_small": "APs",
    "AP_medium": "APm",
    "AP_large": "APl",
    "APr": "APr",
    "APc": "APc",
    "APf": "APf",
}


@contextmanager
def numpy_aliases():
    """Restore ``np.float`` / ``np.int`` / ``np.bool`` / ``np.object`` (= the builtins) inside the block."""
    added = [name for name in _ALIASES if name not in np.__dict__]
    for name in added:
        setattr(np, name, getattr(builtins, name))
    try:
        yield
    finally:
        for name in added:
            np.__dict__.pop(name, None)


def patch_lvis_api() -> None:
    """Make ``lvis.LVISEval.accumulate`` run on NumPy >= 1.24 (idempotent)."""
    from lvis.eval import LVISEval

    accumulate = LVISEval.accumulate
    if getattr(accumulate, "_ltkit_numpy_aliases", False):
        return

    @functools.wraps(accumulate)
    def wrapped(self, *args, **kwargs):
        with numpy_aliases():
            return accumulate(self, *args, **kwargs)

    wrapped._ltkit_numpy_aliases = True
    LVISEval.accumulate = wrapped


def top_k_per_image(detections: List[dict], k: int = 300) -> List[dict]:
    """The ``k`` highest-scoring detections of each image (what LVISResults keeps)."""
    by_image = defaultdict(list)
    for d in detections:
        by_image[d["image_id"]].append(d)
    out = []
    for dets in by_image.values():
        out.extend(sorted(dets, key=lambda d: d["score"], reverse=True)[:k])
    return out


def _load_detections(detections: Union[str, Path, Sequence[dict]]) -> List[dict]:
    if isinstance(detections, (str, Path)):
        with open(detections) as f:
            return json.load(f)
    return list(detections)


def _clean(v: float) -> float:
    v = float(v)
    return math.nan if v < 0 else v


def evaluate_lvis(
    gt: Union[str, Path],
    detections: Union[str, Path, Sequence[dict]],
    iou_type: str = "bbox",
    *,
    backend: str = "lvis",
    max_dets: int = 300,
) -> Dict[str, float]:
    """LVIS AP of ``detections`` (LVIS result format: a list or a json file) against ``gt``.

    ``gt`` is an LVIS annotation file (v0.5 or v1.0). ``iou_type`` is "bbox" or "segm".
    ``backend``: "lvis" (the official API) or "faster" (faster-coco-eval, ``lvis_style``).
    """
    if iou_type not in ("bbox", "segm"):
        raise ValueError(f"iou_type: {iou_type!r} is not one of bbox, segm")
    if backend not in BACKENDS:
        raise ValueError(f"backend: {backend!r} is not one of {', '.join(BACKENDS)}")
    dets = top_k_per_image(_load_detections(detections), max_dets)
    if not dets:  # both APIs fail on an empty result list; no detection scores 0 everywhere
        warnings.warn(f"no {iou_type} detections on the whole set: every AP is 0", RuntimeWarning, stacklevel=2)
        return {k: 0.0 for k in METRICS}
    if backend == "lvis":
        from lvis import LVIS, LVISEval, LVISResults

        patch_lvis_api()
        lvis_gt = LVIS(str(gt))
        ev = LVISEval(lvis_gt, LVISResults(lvis_gt, dets, max_dets=max_dets), iou_type)
        ev.run()
        res = ev.get_results()
        return {k: _clean(res[k]) for k in METRICS}
    from faster_coco_eval import COCO, COCOeval_faster

    coco_gt = COCO(str(gt))
    coco_dt = coco_gt.loadRes(dets)
    ev = COCOeval_faster(coco_gt, coco_dt, iou_type, lvis_style=True, print_function=lambda *a, **k: None)
    ev.params.maxDets = [max_dets]
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    stats = ev.stats_as_dict
    return {ours: _clean(stats[theirs]) for theirs, ours in _FASTER_KEYS.items()}
