"""LVIS runs through mmdetection's own APIs: load a config, train, evaluate, write ``run.json``.

:func:`run_lvis` is what ``notebooks/train_lvis.ipynb`` and ``python -m ltkit.detection run``
call. One run = one config trained once (or a given checkpoint, ``eval_only``), then evaluated
under each requested test-time variant of the same weights:

* ``plain``: the box head's plain output (Baseline; "De-confound" for a causal-norm head),
* ``tde``: TDE logits with background-exempted probabilities (De-confound-TDE),
* ``tde_without_bg_exemption``: TDE logits, softmax over all columns (Table 5's "False" row).

``run.json`` (and ``config.py``, the resolved mmdet config) has the classification runs' shape (``status``, ``params``, ``environment``,
``timings``, ``metrics`` by evaluation name, in percent) so ``ltkit.report.load.load_runs`` and
``tables.ipynb`` read both. Metrics: mask AP, AP50, AP75, APs/m/l, APr, APc, APf and the box
AP as ``APbbox`` (the paper's Table 4 columns), plus every box metric as ``bbox_<name>``.

Resuming: training restarts from the newest intact checkpoint in ``work_dir``
(:func:`latest_checkpoint`: one cut short by a kill is skipped); each finished evaluation is kept in
``work_dir/eval/<name>.json`` and not redone while its checkpoint and settings are unchanged.
Multi-GPU: run the same under ``torchrun --nproc_per_node N -m ltkit.detection run ...``
(``gpus`` in the notebook does that); training uses mmdet's DDP, testing its multi-GPU test,
and rank 0 writes the records.
"""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path
from typing import Any, Dict, Optional

import torch

from .. import distributed as dist
from ..checkpoint import checkpoint_intact
from ..config import LVIS_EVALUATIONS, LVISRunConfig, lvis_config_path
from ..runs.launch import run_in_folder
from ..runs.record import read_run
from ..utils import write_json, write_text
from .data import check_data, dataset_cfg, dataset_version, set_data_root
from .evaluation import METRICS, evaluate_lvis
from .head import head_default, set_tde, tde_heads

__all__ = ["EVALUATIONS", "load_config", "shrink", "train", "evaluate", "run", "run_lvis", "latest_checkpoint"]

#: test-time variants: name -> (tde, background_exempted); defined with the LVIS schema
EVALUATIONS = LVIS_EVALUATIONS


def _walk(node, fn):
    if isinstance(node, dict):
        fn(node)
        for v in node.values():
            _walk(v, fn)
    elif isinstance(node, (list, tuple)):
        for v in node:
            _walk(v, fn)


def _category_names(ann_file: str) -> list:
    with open(ann_file) as f:
        cats = json.load(f)["categories"]
    return [c["name"] for c in sorted(cats, key=lambda c: c["id"])]


def shrink(cfg, *, num_classes: Optional[int] = None, img_scale=(128, 96), width: int = 32) -> None:
    """Make a config small enough to train on a CPU in seconds (tests, smoke runs).

    ResNet-18 with 16 base channels and no pretrained weights, ``width``-channel FPN and RoI
    features, 64-d box fcs, few proposals, images resized to ``img_scale``, no data workers.
    The structure (detector, RoI head, box heads, TDE settings, losses) is the config's own.
    """
    m = cfg.model
    m.backbone.update(depth=18, base_channels=16, init_cfg=None, frozen_stages=-1)
    m.neck.update(in_channels=[16, 32, 64, 128], out_channels=width)

    def fix(d):
        for key in ("in_channels", "out_channels", "feat_channels", "conv_out_channels"):
            if d.get(key) == 256:
                d[key] = width
        if d.get("fc_out_channels") == 1024:
            d["fc_out_channels"] = 64
        if num_classes is not None and "num_classes" in d:
            d["num_classes"] = num_classes
        if "nms_pre" in d:
            d["nms_pre"] = min(d["nms_pre"], 200)
        if "max_per_img" in d and d.get("max_per_img", 0) > 100:
            d["max_per_img"] = 100
        if d.get("type") == "RandomSampler" and d.get("num", 0) > 64:
            d["num"] = 64

    _walk(m, fix)
    for split in ("train", "val", "test"):
        ds = dataset_cfg(cfg, split)

        def rescale(d, train=split == "train"):
            if "img_scale" in d:
                d["img_scale"] = img_scale
                if train:
                    d["multiscale_mode"] = "value"
                else:
                    d.pop("multiscale_mode", None)

        _walk(ds.pipeline, rescale)
    cfg.data.workers_per_gpu = 0
    cfg.lr_config.warmup_iters = min(cfg.lr_config.get("warmup_iters", 0) or 0, 5)
    # a small net from scratch on a handful of images: a gentler step, clipped, logged every iteration
    cfg.optimizer.lr = min(cfg.optimizer.lr, 0.005)
    cfg.optimizer_config = dict(grad_clip=dict(max_norm=10, norm_type=2))
    cfg.log_config.interval = 1


def load_config(
    config: str,
    *,
    data_root: Optional[str] = None,
    work_dir: Optional[str] = None,
    tiny: bool = False,
    max_epochs: Optional[int] = None,
    samples_per_gpu: Optional[int] = None,
    options: Optional[Dict[str, Any]] = None,
):
    """A shipped config (``lvis_v1/htc_without_semantic_r101_fpn_20e_tde``) or a file, ready to run.

    ``data_root`` re-points every dataset (default: ``ltkit.detection.data``'s root).
    ``tiny`` shrinks the model (:func:`shrink`) and takes the class names and count from the
    train annotations, for a synthetic or any small LVIS-format dataset. ``options`` is
    mmcv's ``--cfg-options`` dict (dotted keys), applied last.
    """
    import mmcv
    from mmcv import Config

    cfg = Config.fromfile(str(lvis_config_path(config)))
    if data_root:
        set_data_root(cfg, data_root)
    if tiny:
        ann = dataset_cfg(cfg, "train").ann_file
        check_data(cfg, splits=("train",))
        names = tuple(_category_names(ann))
        for split in ("train", "val", "test"):
            dataset_cfg(cfg, split).classes = names
        shrink(cfg, num_classes=len(names))
    if max_epochs is not None:
        cfg.runner = dict(type="EpochBasedRunner", max_epochs=int(max_epochs))
        steps = cfg.lr_config.get("step")
        if steps:  # keep the decay points inside a shortened schedule
            cfg.lr_config.step = [s for s in steps if s < max_epochs] or [max_epochs]
    if samples_per_gpu is not None:
        cfg.data.samples_per_gpu = int(samples_per_gpu)
    if work_dir:
        cfg.work_dir = str(work_dir)
    if options:
        cfg.merge_from_dict(options)
    cfg.setdefault("seed", 0)
    mmcv.mkdir_or_exist(cfg.get("work_dir", "work_dirs"))
    return cfg


def _join_torchrun() -> tuple:
    """(rank, world size), after joining torchrun's process group if this process is one of its ranks."""
    dist.setup(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    return dist.rank(), dist.world_size()


def latest_checkpoint(work_dir, *, log=None) -> Optional[Path]:
    """The checkpoint a resumed run continues from: mmdet's ``find_latest_checkpoint``
    (``latest.pth``, else the highest-numbered ``*_N.pth``) when it is intact, else the newest
    older ``epoch_*.pth`` / ``iter_*.pth`` that is. Intact is ``ltkit.checkpoint.checkpoint_intact``
    (it reads the zip directory at the end of the file, not the weights), so a file cut short by a
    kill or a full disk is skipped, with a warning, without loading every candidate."""
    import warnings

    from mmdet.utils import find_latest_checkpoint

    work_dir = Path(work_dir)
    if not work_dir.is_dir():
        return None
    with warnings.catch_warnings():  # "no checkpoints in the path" is a normal first start
        warnings.simplefilter("ignore")
        try:
            first = find_latest_checkpoint(str(work_dir))
        except ValueError:  # a *.pth whose name has no number: fall back to the numbered ones
            first = None
    numbered = sorted(
        list(work_dir.glob("epoch_*.pth")) + list(work_dir.glob("iter_*.pth")),
        key=lambda p: (p.name.split("_")[0], int(p.stem.split("_")[1])),
        reverse=True,
    )
    for p in dict.fromkeys(q.resolve() for q in ([Path(first)] if first else []) + numbered):
        why = checkpoint_intact(p)
        if why is None:
            return p
        (log or print)(f"warning: {p} is skipped: {why}")
    return None


def _final_checkpoint(cfg) -> Path:
    runner = cfg.get("runner", {})
    if runner.get("type") == "IterBasedRunner":
        return Path(cfg.work_dir) / f"iter_{runner['max_iters']}.pth"
    return Path(cfg.work_dir) / f"epoch_{runner.get('max_epochs', cfg.get('total_epochs', 12))}.pth"


def train(cfg, *, seed: Optional[int] = None, resume: bool = True) -> Path:
    """Train with mmdet's ``train_detector``; returns the final checkpoint. Resumes by default."""
    from mmdet.apis import set_random_seed, train_detector
    from mmdet.datasets import build_dataset
    from mmdet.models import build_detector
    from mmdet.utils import get_device

    rank, world = _join_torchrun()
    distributed = world > 1
    final = _final_checkpoint(cfg)
    if resume and final.is_file() and latest_checkpoint(cfg.work_dir) == final.resolve():  # finished (and intact)
        return final
    check_data(cfg, splits=("train",))
    cfg = copy.deepcopy(cfg)
    cfg.device = get_device()
    cfg.gpu_ids = [int(os.environ.get("LOCAL_RANK", 0))] if distributed else [0]
    cfg.seed = cfg.get("seed", 0) if seed is None else int(seed)
    set_random_seed(cfg.seed + rank, deterministic=False)
    if resume:
        cfg.resume_from = str(latest_checkpoint(cfg.work_dir) or "") or None
    datasets = [build_dataset(cfg.data.train)]
    model = build_detector(cfg.model, train_cfg=cfg.get("train_cfg"), test_cfg=cfg.get("test_cfg"))
    model.init_weights()
    model.CLASSES = datasets[0].CLASSES
    timestamp = time.strftime("%Y%m%d_%H%M%S", time.localtime())
    train_detector(
        model,
        datasets,
        cfg,
        distributed=distributed,
        validate=False,
        timestamp=timestamp,
        meta=dict(seed=cfg.seed, config=cfg.pretty_text, world_size=world),
    )
    return final


def _test_outputs(cfg, checkpoint, tde: bool, background_exempted: Optional[bool], alpha: Optional[float]):
    from mmcv.runner import load_checkpoint
    from mmdet.apis import multi_gpu_test, single_gpu_test
    from mmdet.datasets import build_dataloader, build_dataset, replace_ImageToTensor
    from mmdet.models import build_detector
    from mmdet.utils import build_ddp, build_dp, get_device

    world = dist.world_size()
    test_cfg = copy.deepcopy(cfg.data.test)
    test_cfg.test_mode = True
    test_cfg.pipeline = replace_ImageToTensor(test_cfg.pipeline)
    dataset = build_dataset(test_cfg)
    loader = build_dataloader(
        dataset, samples_per_gpu=1, workers_per_gpu=cfg.data.workers_per_gpu, dist=world > 1, shuffle=False
    )
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.train_cfg = None
    model = build_detector(model_cfg, test_cfg=cfg.get("test_cfg"))
    ckpt = load_checkpoint(model, str(checkpoint), map_location="cpu")
    model.CLASSES = ckpt.get("meta", {}).get("CLASSES", dataset.CLASSES)
    if tde_heads(model):
        set_tde(model, tde=tde, alpha=alpha, background_exempted=background_exempted)
    elif tde:
        raise ValueError("TDE evaluations need a config with a TDE box head (a *_deconfound or *_tde config)")
    device = get_device()
    if world > 1:
        model = build_ddp(model, device, device_ids=[int(os.environ.get("LOCAL_RANK", 0))], broadcast_buffers=False)
        outputs = multi_gpu_test(model, loader, gpu_collect=True)
    else:
        model = build_dp(model, device, device_ids=[0])
        outputs = single_gpu_test(model, loader)
    return dataset, outputs


def evaluate(
    cfg,
    checkpoint,
    evaluation: str = "plain",
    *,
    alpha: Optional[float] = None,
    backend: str = "lvis",
    out_dir=None,
) -> Optional[Dict[str, float]]:
    """Test ``checkpoint`` under one test-time variant (``EVALUATIONS``) and score it with LVIS AP.

    Returns mask and box metrics in percent (None on ranks other than 0). Detections are kept
    as ``<out_dir>/<evaluation>.{bbox,segm}.json``.
    """
    if evaluation not in EVALUATIONS:
        raise ValueError(f"evaluation: {evaluation!r} is not one of {', '.join(EVALUATIONS)}")
    tde, bg = EVALUATIONS[evaluation]
    check_data(cfg, splits=("val", "test"))
    dataset, outputs = _test_outputs(cfg, checkpoint, tde, bg, alpha)
    rank = dist.rank()
    if rank != 0:
        return None
    out_dir = Path(out_dir or Path(cfg.work_dir) / "eval")
    out_dir.mkdir(parents=True, exist_ok=True)
    files = dataset.results2json(outputs, str(out_dir / evaluation))
    gt = dataset_cfg(cfg, "test").ann_file
    metrics: Dict[str, Optional[float]] = {}
    segm = evaluate_lvis(gt, files["segm"], "segm", backend=backend) if "segm" in files else {}
    box = evaluate_lvis(gt, files["bbox"], "bbox", backend=backend)

    def pct(v: float) -> Optional[float]:  # null where LVIS has no value (a group without categories)
        return None if v != v else 100 * v

    for k in METRICS:
        if segm:
            metrics[k] = pct(segm[k])
        metrics[f"bbox_{k}"] = pct(box[k])
    metrics["APbbox"] = pct(box["AP"])
    return metrics


def _family(config: str) -> str:
    name = Path(str(config)).stem
    for suffix in ("_baseline", "_deconfound", "_tde"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def run_lvis(config: str, work_dir, **params: Any) -> Optional[Dict[str, Any]]:
    """:func:`run` for ``LVISRunConfig(config=config, work_dir=work_dir, **params)`` (a bad parameter
    raises ``ValueError`` naming it)."""
    return run(LVISRunConfig(config=str(config), work_dir=str(work_dir), **params))


def run(cfg: LVISRunConfig) -> Optional[Dict[str, Any]]:
    """Train (unless ``eval_only`` names a checkpoint), evaluate each variant, write ``run.json``.

    ``evaluations`` default: ``plain`` for a stock box head; ``plain``, ``tde`` and
    ``tde_without_bg_exemption`` for a TDE head. ``alpha`` overrides the box head's at test time.
    ``synthetic`` first writes a tiny synthetic LVIS-format dataset at ``data_root``. With
    ``gpus > 1`` outside torchrun, the run is started under torchrun and its record read back.
    Returns the run record (None on ranks other than 0).
    """
    if not isinstance(cfg, LVISRunConfig):
        raise TypeError(f"run() takes an LVISRunConfig, got {type(cfg).__name__}")
    cfg = cfg.replace(work_dir=cfg.resolved_work_dir)
    if cfg.synthetic and not dist.under_torchrun():
        from .synthetic import make_synthetic_lvis

        make_synthetic_lvis(cfg.data_root)
    return run_in_folder(
        cfg.work_dir,
        gpus=cfg.gpus,
        here=lambda: _run(cfg),
        command=lambda: dist.torchrun_command(cfg.replace(synthetic=False)),
        relaunched=lambda: read_run(cfg.work_dir),
    )


def _run(c: LVISRunConfig) -> Optional[Dict[str, Any]]:
    import mmcv
    import mmdet

    from ..runs.provenance import environment

    t0 = time.time()
    _join_torchrun()
    work_dir = Path(c.work_dir)
    config, evaluations, alpha, backend = c.config, c.evaluations, c.alpha, c.backend
    cfg = load_config(
        config,
        data_root=c.data_root or None,
        work_dir=str(work_dir),
        tiny=c.tiny,
        max_epochs=c.max_epochs,
        samples_per_gpu=c.samples_per_gpu,
        options=c.cfg_options or None,
    )
    has_tde = "TDE" in str(cfg.model.roi_head.get("type", ""))
    if evaluations is None:
        evaluations = list(EVALUATIONS) if has_tde else ["plain"]
    if not has_tde and any(EVALUATIONS[e][0] for e in evaluations):
        raise ValueError(f"config {config} has a plain box head; only the 'plain' evaluation applies")
    heads = cfg.model.roi_head.bbox_head
    head0 = heads[0] if isinstance(heads, (list, tuple)) else heads
    alpha_used = (
        (float(alpha) if alpha is not None else float(head0.get("alpha", head_default("alpha")))) if has_tde else None
    )

    t_train = time.time()
    checkpoint = Path(c.eval_only) if c.eval_only else train(cfg, seed=c.seed)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint {checkpoint} does not exist")
    train_s = time.time() - t_train
    rank, world = dist.rank(), dist.world_size()
    metrics: Dict[str, Any] = {}
    eval_dir = work_dir / "eval"
    for name in evaluations:
        key = dict(
            checkpoint=str(checkpoint),
            mtime=checkpoint.stat().st_mtime,
            backend=backend,
            alpha=alpha_used if EVALUATIONS[name][0] else None,
        )
        cached = eval_dir / f"{name}.json"
        if cached.is_file():
            rec = json.loads(cached.read_text())
            if rec.get("key") == key:
                metrics[name] = rec["metrics"]
                continue
        m = evaluate(cfg, checkpoint, name, alpha=alpha, backend=backend, out_dir=eval_dir)
        if rank == 0:
            m["alpha"] = key["alpha"]
            write_json(cached, {"key": key, "metrics": m})
            metrics[name] = m
    if rank != 0:
        return None
    dataset = {"v1": "lvis_v1.0", "v0.5": "lvis_v0.5"}[dataset_version(cfg)]
    classifier = head0.get("classifier", head_default("classifier")) if has_tde else "linear"
    record = {
        "status": "complete",
        "run_name": work_dir.name,
        "task": "detection",
        "params": {  # the schema's fields, with the values this run resolved, and what the tables read
            **c.to_dict(),
            "alpha": alpha_used,
            "max_epochs": cfg.runner.get("max_epochs"),
            "samples_per_gpu": cfg.data.samples_per_gpu,
            "gpus": world,
            "evaluations": list(evaluations),
            "dataset": dataset,
            "framework": _family(config),
            "classifier": classifier,
            "output_dir": str(work_dir),
        },
        "environment": dict(
            environment(torch.device("cuda" if torch.cuda.is_available() else "cpu")),
            mmdet=mmdet.__version__,
            mmcv=mmcv.__version__,
        ),
        "timings": {"train_s_this_call": round(train_s, 3), "total_s_this_call": round(time.time() - t0, 3)},
        "checkpoint": str(checkpoint),
        "metrics": metrics,
    }
    write_text(work_dir / "config.py", cfg.pretty_text + "\n")  # the resolved mmdet config, as run
    write_json(work_dir / "run.json", record)
    return record
