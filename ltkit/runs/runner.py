"""``ltkit.run(cfg)``: train, evaluate, write the run record, return the run folder."""

from __future__ import annotations

import copy
import os
import socket
import time
from pathlib import Path
from typing import Any, Callable, Dict

import numpy as np
import pandas as pd
import torch

from .. import distributed
from ..checkpoint import load_checkpoint
from ..config import RunConfig
from ..data import load_dataset, shot_groups
from ..data.base import TensorImages
from ..data.listfile import imagenet_test_transform
from ..evaluate import (
    VAL_CRITERION,
    evaluate_features,
    extract_features,
    per_class_accuracy,
    select_alpha,
)
from ..train import CHECKPOINT, build_model, load_stage1, train
from ..utils import precision, resolve_device, seed_everything
from .launch import run_in_folder
from .provenance import environment
from .record import is_complete, read_run, write_csv, write_npz, write_run_json

#: the validation alpha sweep of an ``alpha="val"`` run (also in run.json's ``alpha_selection``)
VAL_SWEEP_CSV = "alpha_sweep_val.csv"


def _describe(diff: Dict[str, tuple]) -> str:
    return ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in diff.items())


def _check_resumable(cfg: RunConfig, run_dir: Path) -> None:
    """Refuse, before anything is written, a config that would overwrite another run in ``run_dir``:
    one whose checkpoint, or whose complete record without a checkpoint (a committed record),
    trained with other parameters. A complete record without its checkpoint cannot be re-evaluated
    either (another alpha): that needs the trained model."""
    found = load_checkpoint(run_dir / CHECKPOINT)  # CheckpointError when none loads
    if found is None:
        if not is_complete(run_dir):
            return  # nothing, or a run stopped before its first checkpoint: nothing to lose
        saved = read_run(run_dir).get("params", {})
        diff = cfg.training_differences(saved)
        if diff:
            raise ValueError(
                f"output_dir: {run_dir} holds the complete record of a run with other training parameters "
                f"({_describe(diff)}); nothing was written. Use another output_dir for this run"
            )
        other = cfg.differences(saved, ignore=cfg.execution_fields())
        raise ValueError(
            f"output_dir: {run_dir} holds a complete record without its checkpoint, and this config differs in "
            f"evaluation settings ({_describe(other)}); nothing was written. Re-evaluating needs the trained model: "
            f"put the run's {CHECKPOINT} (on the machine that trained it; records are committed without it) "
            f"into {run_dir}, or sweep the setting without a model with ltkit.report.posthoc (notebooks/posthoc.ipynb) "
            f"on the run's outputs.npz"
        )
    saved = found[0].get("config", {})
    diff = cfg.training_differences(saved)
    if diff:
        raise ValueError(
            f"output_dir: {run_dir} holds a run with other training parameters ({_describe(diff)}); "
            "use another output_dir, or delete that folder to start over"
        )


def _check_same_data(run_dir: Path, block: Dict[str, Any]) -> None:
    """A run resumes only on the data it started on (its record's ``data`` fingerprint)."""
    try:
        before = read_run(run_dir).get("data") or {}
    except (FileNotFoundError, ValueError):
        return
    if before.get("fingerprint") and block and before["fingerprint"] != block.get("fingerprint"):
        raise ValueError(
            f"data_root: {run_dir} started on other data ({before.get('content')}, {before['fingerprint']} from "
            f"{before.get('root')}) than {block.get('root')} holds ({block.get('content')}, {block.get('fingerprint')}); "
            "point data_root at the data it started on, or use another output_dir"
        )


def accuracy_on_test(model, data, device: torch.device, cfg: RunConfig) -> Dict[str, float]:
    """Overall test accuracy of the model as it is now: {"test_plain": ..., "test_tde": ...} (TDE
    where the classifier has it and alpha is a number). For ``test_every``: analysis only."""
    features, labels = extract_features(
        model, data.test, device, batch_size=cfg.eval_batch_size, num_workers=cfg.num_workers, amp=cfg.amp
    )
    numeric = isinstance(cfg.alpha, (int, float))
    mean_feature = model.moving_average.mean.detach().cpu() if numeric else None
    metrics, _ = evaluate_features(
        model.classifier,
        features,
        labels,
        data.train_counts,
        mean_feature=mean_feature,
        alpha=cfg.alpha if numeric else None,
    )
    return {f"test_{name}": m["overall"] for name, m in metrics.items() if name in ("plain", "tde")}


def _interrupted(e: BaseException) -> bool:
    """A KeyboardInterrupt, or an error some library raised while one was being handled
    (torch.save reports one inside its writer as RuntimeError "unexpected pos ...")."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def train_class_means(model, data, device, cfg: RunConfig) -> torch.Tensor:
    """Mean feature of each class over the un-augmented training images (C, D), for NCM."""
    split = data.train
    if not isinstance(split, TensorImages):  # file-backed: evaluate with the test-time transform
        split = copy.copy(split)
        split.transform = imagenet_test_transform()
    feats, labels = extract_features(
        model, split, device, batch_size=cfg.eval_batch_size, num_workers=cfg.num_workers, amp=cfg.amp, progress=False
    )
    sums = torch.zeros(data.num_classes, feats.shape[1], dtype=feats.dtype).index_add_(0, labels, feats)
    return sums / torch.bincount(labels, minlength=data.num_classes).clamp_min(1)[:, None]


def choose_alpha_on_val(model, data, device, cfg: RunConfig, mean_feature: torch.Tensor):
    """``alpha="val"``: the TDE alpha with the best overall accuracy on ``data.val``.

    Returns (alpha, selection) where selection is what the run record keeps under
    ``alpha_selection`` (split, number of images, criterion, chosen value, the whole sweep);
    (None, None) for a classifier without TDE, which has no alpha to choose.
    """
    if not getattr(model.classifier, "supports_tde", False):
        return None, None
    if data.val is None:
        raise ValueError(f"alpha: 'val' needs a validation split, and the loaded {data.name} has none")
    feats, labels = extract_features(
        model,
        data.val,
        device,
        batch_size=cfg.eval_batch_size,
        num_workers=cfg.num_workers,
        amp=cfg.amp,
        progress=False,
    )
    chosen, sweep = select_alpha(model.classifier, feats, labels, data.train_counts, mean_feature=mean_feature)
    return chosen, {
        "split": "val",
        "images": int(len(labels)),
        "criterion": VAL_CRITERION,
        "alpha": chosen,
        "sweep": sweep,
    }


def run(cfg: RunConfig, *, log: Callable[[str], None] = print) -> Path:
    """Train and evaluate one configuration; returns the run folder.

    Re-running the same configuration in the same ``output_dir`` resumes after the last
    finished epoch; if the run is complete already, its record is kept and returned. Changing
    only evaluation settings (``alpha``, ``tau_norm_p``) re-evaluates the trained model without
    training again.
    """
    if not isinstance(cfg, RunConfig):
        raise TypeError(f"run() takes a RunConfig, got {type(cfg).__name__}")
    run_dir = Path(cfg.resolved_output_dir)
    if is_complete(run_dir) and cfg.matches(read_run(run_dir).get("params", {})):
        log(f"{run_dir}: complete already, nothing to do")
        return run_dir
    if is_complete(run_dir) and not (run_dir / CHECKPOINT).exists():
        _check_resumable(cfg, run_dir)  # a committed record: refused before even the lock file is made
    return run_in_folder(
        run_dir,
        gpus=cfg.gpus,
        here=lambda: _run(cfg, run_dir, log),
        command=lambda: distributed.torchrun_command(cfg),
        relaunched=lambda: run_dir,
        cuda=resolve_device(cfg.device).type == "cuda",
        log=log,
    )


def _run(cfg: RunConfig, run_dir: Path, log: Callable[[str], None]) -> Path:
    if is_complete(run_dir) and cfg.matches(read_run(run_dir).get("params", {})):  # finished while we waited
        log(f"{run_dir}: complete already, nothing to do")
        return run_dir
    _check_resumable(cfg, run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)

    t_start = time.perf_counter()
    device = distributed.setup(resolve_device(cfg.device))  # torchrun: join the group, cuda:<LOCAL_RANK>
    main = distributed.is_main()
    seed_everything(cfg.seed)
    data = load_dataset(cfg)
    _check_same_data(run_dir, data.info.get("data"))
    model = build_model(cfg, data.num_classes)
    if cfg.init_from:
        load_stage1(model, cfg)
    used, why = precision(cfg.amp, device)
    used = "fp64" if cfg.dtype == "float64" else used
    record: Dict[str, Any] = {
        "status": "running",
        "run_name": cfg.run_name,
        "params": cfg.to_dict(),
        "environment": dict(environment(device), world_size=distributed.world_size()),
        "precision": used,
        **({"precision_note": f"fp32: {why}"} if cfg.amp and used == "fp32" else {}),
        "process": {"host": socket.gethostname(), "pid": os.getpid()},
        "train_counts": data.train_counts.tolist(),
        "data": data.info.get("data"),  # which data, by content (ltkit.data.fingerprint)
    }
    if main:
        write_run_json(run_dir, record)
    log = log if main else (lambda *_: None)
    log(
        f"{cfg.run_name}: {len(data.train)} train / {len(data.test)} test images, {data.num_classes} classes, "
        f"{cfg.epochs} epochs on {device} in {used} -> {run_dir}"
    )
    if record["data"]:
        log(
            f"data: {record['data']['content']} ({record['data']['fingerprint'][:19]}...) from {record['data']['root']}"
        )

    def epoch_metrics(epoch):  # saved in the epoch's own checkpoint: a stop never leaves a gap
        if cfg.test_every and (epoch % cfg.test_every == 0 or epoch == cfg.epochs):
            return accuracy_on_test(model, data, device, cfg)
        return {}

    def on_epoch(history):  # a run of an hour can be watched: python -m ltkit status
        write_csv(run_dir / "history.csv", pd.DataFrame(history))
        record["progress"] = progress(history, cfg.epochs)
        write_run_json(run_dir, record)

    t_train = time.perf_counter()
    try:
        history = train(cfg, data, model, run_dir, device, log=log, on_epoch=on_epoch, epoch_metrics=epoch_metrics)
    except BaseException as e:  # Ctrl-C, or an interrupted batch: say so; the checkpoint resumes it
        if not _interrupted(e):
            raise
        if main:
            write_run_json(run_dir, dict(record, status="interrupted"))
        log(f"{cfg.run_name}: interrupted; run it again to resume from its last finished epoch")
        if isinstance(e, KeyboardInterrupt):
            raise
        raise KeyboardInterrupt(str(e)) from e  # a library turned the KeyboardInterrupt into its own error
    train_s = time.perf_counter() - t_train
    if not main:  # rank 0 evaluates and writes the record
        return run_dir

    t_eval = time.perf_counter()
    features, labels = extract_features(
        model,
        data.test,
        device,
        batch_size=cfg.eval_batch_size,
        num_workers=cfg.num_workers,
        amp=cfg.amp,
        progress=cfg.progress,
    )
    counts = data.train_counts
    mean_feature = model.moving_average.mean.detach().cpu()
    alpha, selection = cfg.alpha, None
    if alpha == "val":
        alpha, selection = choose_alpha_on_val(model, data, device, cfg, mean_feature)
    if selection is not None:
        write_csv(run_dir / VAL_SWEEP_CSV, pd.DataFrame(selection["sweep"]))
    else:  # re-evaluated with another alpha: a sweep left from an earlier alpha="val" no longer applies
        (run_dir / VAL_SWEEP_CSV).unlink(missing_ok=True)
    metrics, logits = evaluate_features(
        model.classifier,
        features,
        labels,
        counts,
        mean_feature=mean_feature,
        alpha=alpha,
        alpha_source="val" if selection else None,
    )
    class_means = train_class_means(model, data, device, cfg)
    eval_s = time.perf_counter() - t_eval

    hist = pd.DataFrame(history)
    write_csv(run_dir / "history.csv", hist)
    per_class = pd.DataFrame(
        {"class": np.arange(data.num_classes), "train_count": counts, "group": shot_groups(counts)}
    )
    if getattr(data.test, "class_names", None):
        per_class.insert(1, "name", data.test.class_names)
    for name, lg in logits.items():
        per_class[f"acc_{name}"] = per_class_accuracy(lg.argmax(1), labels.numpy(), data.num_classes)
    write_csv(run_dir / "per_class.csv", per_class)
    weight = getattr(model.classifier, "weight", None)
    write_npz(
        run_dir / "outputs.npz",
        features=features.numpy(),
        labels=labels.numpy(),
        weight=(weight.detach().float().cpu().numpy() if weight is not None else np.zeros((0,))),
        mean_feature=mean_feature.numpy(),
        train_counts=np.asarray(counts),
        class_means=class_means.numpy(),
        **{f"logits_{k}": v for k, v in logits.items()},
    )

    record.update(
        {
            "status": "complete",
            "precision": "+".join(dict.fromkeys(str(h.get("precision", used)) for h in history)) or used,
            # every device the epochs ran on (a run resumed on another machine names both)
            "devices": "+".join(dict.fromkeys(str(h["device_name"]) for h in history if h.get("device_name"))),
            "progress": progress(history, cfg.epochs),
            "timings": {
                # train_s sums the epochs' times over every call (a resumed run included)
                "train_s": round(float(sum(h["time_s"] for h in history)), 3),
                "train_s_this_call": round(train_s, 3),
                "eval_s": round(eval_s, 3),
                "total_s_this_call": round(time.perf_counter() - t_start, 3),
                "train_images_per_s": round(float(np.mean([h["images_per_s"] for h in history])), 1)
                if history
                else None,
            },
            "metrics": metrics,
        }
    )
    if selection is not None:
        record["alpha_selection"] = selection
    write_run_json(run_dir, record)
    log(format_metrics(metrics, title=cfg.run_name))
    return run_dir


def progress(history, epochs: int) -> Dict[str, Any]:
    """Where a training stands after the epochs in ``history``: run.json's ``progress``."""
    last = history[-1] if history else {}
    recent = [h["images_per_s"] for h in history[-5:]]
    # the median: one epoch that held a pause (a stopped process, a laptop lid) must not make
    # the estimate hours long
    per_epoch = float(np.median([h["time_s"] for h in history[-5:]])) if history else None
    done = int(last.get("epoch", 0))
    return {
        "epoch": done,
        "epochs": int(epochs),
        "loss": round(float(last["loss"]), 5) if history else None,
        "train_acc": round(float(last["train_acc"]), 3) if history else None,
        "images_per_s": round(float(np.mean(recent)), 1) if recent else None,
        "train_s": round(float(sum(h["time_s"] for h in history)), 1),
        "eta_s": round(per_epoch * (epochs - done), 1) if per_epoch is not None else None,
        "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def format_metrics(metrics: Dict[str, dict], title: str = "") -> str:
    """A small fixed-width table of many/medium/few/overall per evaluation."""

    def f(v):
        return "   -  " if v is None else f"{v:6.2f}"

    lines = [title] if title else []
    lines.append(f"{'evaluation':<12}{'many':>8}{'medium':>8}{'few':>8}{'overall':>9}  alpha")
    for name, m in metrics.items():
        alpha = f"{m['alpha']:.3f}" if m.get("alpha") is not None else ""
        lines.append(f"{name:<12}{f(m['many']):>8}{f(m['medium']):>8}{f(m['few']):>8}{f(m['overall']):>9}  {alpha}")
    return "\n".join(lines)
