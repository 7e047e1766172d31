"""A tiny synthetic LVIS v1.0 (or v0.5) dataset on disk, for tests and smoke runs of the LVIS notebook.

The layout is the real one (``data/README.md``): ``lvis_v1_{train,val}.json`` in the root and
the images under ``images/{train2017,val2017}/`` as their ``coco_url`` says. Each image is a
noisy background with a few filled polygons (rectangles and triangles), one colour per
category; the annotations carry polygon masks, boxes, areas, and the LVIS-only fields
(``frequency`` per category, ``neg_category_ids`` / ``not_exhaustive_category_ids`` per
image), so mmdet's ``LVISV1Dataset``, the LVIS API and faster-coco-eval all read it.
Categories are tagged rare / common / frequent in turn, and instance counts fall off with the
category index (a long tail in miniature).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Union

import numpy as np
from PIL import Image, ImageDraw

from ..utils import atomic_write

__all__ = ["make_synthetic_lvis", "noisy_detections"]

_FREQUENCIES = ("f", "c", "r")


def _polygon(rng: np.random.Generator, w: int, h: int):
    bw, bh = rng.integers(w // 6, w // 2), rng.integers(h // 6, h // 2)
    x0, y0 = rng.integers(0, w - bw), rng.integers(0, h - bh)
    if rng.random() < 0.5:
        pts = [(x0, y0), (x0 + bw, y0), (x0 + bw, y0 + bh), (x0, y0 + bh)]
    else:
        pts = [(x0 + bw / 2, y0), (x0 + bw, y0 + bh), (x0, y0 + bh)]
    return [(float(x), float(y)) for x, y in pts]


def _area(pts) -> float:
    x = np.array([p[0] for p in pts])
    y = np.array([p[1] for p in pts])
    return float(0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def make_synthetic_lvis(
    root: Union[str, Path],
    *,
    num_classes: int = 6,
    train_images: int = 8,
    val_images: int = 4,
    size=(96, 128),
    seed: int = 0,
    version: str = "v1",
) -> Dict[str, Path]:
    """Write the dataset under ``root``; returns the paths of both annotation files and the root.

    ``version`` "v1" writes ``lvis_v1_{train,val}.json``, "v0.5" ``lvis_v0.5_{train,val}.json``
    (the same content; every image carries both ``coco_url``, which v1.0 readers use, and
    ``file_name``, which v0.5 readers use).

    Category ``i`` (0-based) has frequency ``f, c, r`` in turn and appears in an image with
    probability falling from 0.9 to 0.3 along the index. Every category gets at least one
    training and one validation instance.
    """
    if num_classes < 1 or train_images < 1 or val_images < 1:
        raise ValueError("num_classes, train_images and val_images must be positive")
    if version not in ("v1", "v0.5"):
        raise ValueError(f"version: {version!r} is not one of v1, v0.5")
    root = Path(root)
    h, w = size
    rng = np.random.default_rng(seed)
    colours = [tuple(int(c) for c in rng.integers(40, 256, 3)) for _ in range(num_classes)]
    categories = [
        {
            "id": i + 1,
            "name": f"thing_{i}",
            "synset": f"thing_{i}.n.01",
            "frequency": _FREQUENCIES[i % 3],
            "image_count": 0,
            "instance_count": 0,
        }
        for i in range(num_classes)
    ]
    presence = np.linspace(0.9, 0.3, num_classes)
    out = {"root": root}
    next_ann = 1
    for split, n_images, first_id in (("train", train_images, 1), ("val", val_images, 10_000)):
        folder = root / "images" / f"{split}2017"
        folder.mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        forced = list(range(num_classes))  # every class at least once per split
        for k in range(n_images):
            image_id = first_id + k
            canvas = Image.fromarray(rng.integers(0, 60, (h, w, 3), dtype=np.uint8))
            draw = ImageDraw.Draw(canvas)
            present = [c for c in range(num_classes) if rng.random() < presence[c]]
            present += forced[k::n_images]
            cats_here = set()
            for c in present:
                pts = _polygon(rng, w, h)
                draw.polygon(pts, fill=colours[c])
                xs, ys = [p[0] for p in pts], [p[1] for p in pts]
                annotations.append(
                    {
                        "id": next_ann,
                        "image_id": image_id,
                        "category_id": c + 1,
                        "segmentation": [[v for p in pts for v in p]],
                        "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)],
                        "area": _area(pts),
                    }
                )
                next_ann += 1
                cats_here.add(c + 1)
            name = f"{image_id:012d}.jpg"
            canvas.save(folder / name, quality=95)
            absent = [c["id"] for c in categories if c["id"] not in cats_here]
            images.append(
                {
                    "id": image_id,
                    "width": w,
                    "height": h,
                    "coco_url": f"http://images.cocodataset.org/{split}2017/{name}",
                    "file_name": name,
                    "neg_category_ids": absent[:2],
                    "not_exhaustive_category_ids": [],
                }
            )
        counts = {c["id"]: [set(), 0] for c in categories}
        for a in annotations:
            counts[a["category_id"]][0].add(a["image_id"])
            counts[a["category_id"]][1] += 1
        cats = [dict(c, image_count=len(counts[c["id"]][0]), instance_count=counts[c["id"]][1]) for c in categories]
        doc = {
            "info": {"description": "ltkit synthetic LVIS v1.0"},
            "licenses": [],
            "images": images,
            "annotations": annotations,
            "categories": cats,
        }
        path = root / f"lvis_{version}_{split}.json"
        atomic_write(path, lambda f, doc=doc: json.dump(doc, f))
        out[split] = path
    return out


def noisy_detections(gt_file, per_object: int = 2, false_positives: int = 0, seed: int = 0) -> list:
    """Detections made from an LVIS-format ground truth, for evaluator tests and benchmarks: each
    object ``per_object`` times with a jittered box and mask, the right class 80 % of the time,
    a random score; plus ``false_positives`` random boxes per image. Needs pycocotools."""
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(seed)
    gt = json.loads(Path(gt_file).read_text())
    images = {i["id"]: i for i in gt["images"]}
    cats = [c["id"] for c in gt["categories"]]
    dets = []

    def add(image_id, cat, poly, box):
        img = images[image_id]
        rle = mask_utils.merge(mask_utils.frPyObjects([poly], img["height"], img["width"]))
        rle["counts"] = rle["counts"].decode()
        dets.append(
            {
                "image_id": image_id,
                "category_id": int(cat),
                "bbox": [float(v) for v in box],
                "score": float(rng.random()),
                "segmentation": rle,
            }
        )

    for a in gt["annotations"]:
        for _ in range(per_object):
            poly = (np.array(a["segmentation"][0]) + rng.normal(0, 2, len(a["segmentation"][0]))).tolist()
            box = np.array(a["bbox"]) + rng.normal(0, 3, 4)
            box[2:] = np.maximum(box[2:], 1)
            add(a["image_id"], a["category_id"] if rng.random() < 0.8 else rng.choice(cats), poly, box)
    for image_id, img in images.items():
        for _ in range(false_positives):
            x, y = rng.uniform(0, img["width"] - 10), rng.uniform(0, img["height"] - 10)
            w, h = rng.uniform(4, img["width"] - x), rng.uniform(4, img["height"] - y)
            add(image_id, rng.choice(cats), [x, y, x + w, y, x + w, y + h, x, y + h], [x, y, w, h])
    return dets
