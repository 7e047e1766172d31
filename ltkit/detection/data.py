"""Where the LVIS data lives, in one place, and the ``data`` section every LVIS config uses.

Default root: ``data/LVIS/`` relative to the working directory (the authors' layout, see
``data/README.md``); the environment variable ``LTKIT_LVIS_ROOT`` overrides it for every
config, and :func:`set_data_root` for one loaded config (the LVIS notebook's ``data_root``)::

    data/LVIS/lvis_v1_train.json         data/LVIS/lvis_v0.5_train.json
    data/LVIS/lvis_v1_val.json           data/LVIS/lvis_v0.5_val.json
    data/LVIS/images/train2017/*.jpg     (COCO 2017 train images)
    data/LVIS/images/val2017/*.jpg       (COCO 2017 val images)

LVIS v1.0 images are found through each image's ``coco_url`` (``train2017/...`` or
``val2017/...``, the v1.0 val set draws on both); v0.5 uses train2017 for train and val2017 for
val.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Optional

__all__ = ["VERSIONS", "default_root", "lvis_data", "set_data_root", "check_data", "dataset_version", "dataset_cfg"]

VERSIONS = {
    "v1": dict(
        type="LVISV1Dataset",
        train="lvis_v1_train.json",
        val="lvis_v1_val.json",
        train_images="images/",
        val_images="images/",
    ),
    "v0.5": dict(
        type="LVISV05Dataset",
        train="lvis_v0.5_train.json",
        val="lvis_v0.5_val.json",
        train_images="images/train2017/",
        val_images="images/val2017/",
    ),
}
_TYPE_TO_VERSION = {v["type"]: k for k, v in VERSIONS.items()}

IMG_NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
MULTISCALE = [(1333, 640), (1333, 672), (1333, 704), (1333, 736), (1333, 768), (1333, 800)]


def default_root() -> str:
    root = os.environ.get("LTKIT_LVIS_ROOT", "data/LVIS/")
    return root if root.endswith("/") else root + "/"


def _version(version: str) -> dict:
    if version not in VERSIONS:
        raise ValueError(f"LVIS version {version!r} is not one of {', '.join(VERSIONS)}")
    return VERSIONS[version]


def train_pipeline(multiscale: bool, img_scale=(1333, 800)) -> list:
    return [
        dict(type="LoadImageFromFile"),
        dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
        dict(
            type="Resize", img_scale=MULTISCALE if multiscale else img_scale, multiscale_mode="value", keep_ratio=True
        ),
        dict(type="RandomFlip", flip_ratio=0.5),
        dict(type="Normalize", **IMG_NORM),
        dict(type="Pad", size_divisor=32),
        dict(type="DefaultFormatBundle"),
        dict(type="Collect", keys=["img", "gt_bboxes", "gt_labels", "gt_masks"]),
    ]


def test_pipeline(img_scale=(1333, 800)) -> list:
    return [
        dict(type="LoadImageFromFile"),
        dict(
            type="MultiScaleFlipAug",
            img_scale=img_scale,
            flip=False,
            transforms=[
                dict(type="Resize", keep_ratio=True),
                dict(type="RandomFlip"),
                dict(type="Normalize", **IMG_NORM),
                dict(type="Pad", size_divisor=32),
                dict(type="ImageToTensor", keys=["img"]),
                dict(type="Collect", keys=["img"]),
            ],
        ),
    ]


def lvis_data(
    version: str,
    *,
    rfs: bool,
    multiscale: bool,
    root: Optional[str] = None,
    samples_per_gpu: int = 2,
    workers_per_gpu: int = 2,
    oversample_thr: float = 1e-3,
) -> dict:
    """The whole ``data`` config (``_delete_=True``): train (optionally repeat-factor sampled), val, test.

    ``rfs``: wrap train in ``ClassBalancedDataset(oversample_thr=1e-3)``, mmdet's LVIS default
    (the authors' HTC removed it). ``multiscale``: mmdet's LVIS shorter sides 640-800 (the
    authors' HTC trains at (1333, 800) only).
    """
    v = _version(version)
    root = root or default_root()
    train = dict(
        type=v["type"],
        ann_file=root + v["train"],
        img_prefix=root + v["train_images"],
        pipeline=train_pipeline(multiscale),
    )
    if rfs:
        train = dict(type="ClassBalancedDataset", oversample_thr=oversample_thr, dataset=train)
    val = dict(type=v["type"], ann_file=root + v["val"], img_prefix=root + v["val_images"], pipeline=test_pipeline())
    return dict(
        _delete_=True,
        samples_per_gpu=samples_per_gpu,
        workers_per_gpu=workers_per_gpu,
        train=train,
        val=val,
        test=copy.deepcopy(val),
    )


def dataset_cfg(cfg, split: str):
    """The dataset config of ``split`` inside any ClassBalancedDataset / RepeatDataset wrappers (None if absent)."""
    d = cfg.data.get(split)
    while d is not None and "dataset" in d:
        d = d["dataset"]
    return d


def _datasets(cfg):
    for split in ("train", "val", "test"):
        d = dataset_cfg(cfg, split)
        if d is not None:
            yield split, d


def dataset_version(cfg) -> str:
    """ "v1" or "v0.5", from the config's dataset type."""
    for _, d in _datasets(cfg):
        if d.get("type") in _TYPE_TO_VERSION:
            return _TYPE_TO_VERSION[d["type"]]
    raise ValueError(f"the config's datasets are not LVIS ({', '.join(_TYPE_TO_VERSION)})")


def set_data_root(cfg, root: str) -> None:
    """Point every dataset of a loaded config at the LVIS files under ``root``."""
    root = str(root)
    root = root if root.endswith("/") else root + "/"
    for split, d in _datasets(cfg):
        v = VERSIONS[_TYPE_TO_VERSION.get(d.get("type"), "v1")]
        part = "train" if split == "train" else "val"
        d["ann_file"] = root + v[part]
        d["img_prefix"] = root + v[f"{part}_images"]


def check_data(cfg, splits=("train", "val")) -> None:
    """Raise FileNotFoundError naming the missing file and how to get it."""
    for split, d in _datasets(cfg):
        if split not in splits:
            continue
        ann = Path(d["ann_file"])
        if not ann.is_file():
            raise FileNotFoundError(
                f"LVIS {split} annotations not found at {ann}. Download them from https://www.lvisdataset.org/dataset "
                f"(data/README.md says how), put the json files in {ann.parent}/ and the COCO 2017 "
                f"images under {ann.parent}/images/{{train2017,val2017}}/; or point the config elsewhere with "
                "data_root / LTKIT_LVIS_ROOT."
            )
        if not Path(d["img_prefix"]).is_dir():
            raise FileNotFoundError(f"LVIS images folder {d['img_prefix']} does not exist (see data/README.md)")
