"""The training loss of every step of a preset's first epochs: does training start stably?

A stable start keeps the loss of each early step near or under the first step's; an overshoot
shows as losses far above ln C (the loss of a uniform guess) a few steps in. For each ``--case``
(a preset, optionally with ``key=value`` overrides) the script trains ``--epochs`` epochs from the
same initial weights (seed 0) with ltkit's own step, batches and learning rates
(``ltkit.train``: ``make_step``, ``train_batches``, ``lr_at_step``), uncompiled, in the preset's
precision, and prints per epoch: the lr range, the mean / first / largest / last step loss, how
many steps lie above ln C, and the losses of the first ``--show`` steps.

    python benchmarks/experiments/first_epochs.py --case cifar10_lt_baseline "cifar10_lt_baseline warmup=epoch" cifar10_lt_tde

Data: ``--data-root`` holding ``cifar-10-batches-py`` (CIFAR presets), or the team's ``../shared``
CIFAR-10 zip (converted into a temp folder). It writes its record (the provenance header of
``ltkit.runs.provenance``, then the table) to ``results/benchmarks/first_epochs_<first case's preset>.txt``
unless ``--output`` says otherwise.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

import ltkit
from ltkit.data import load_cifar_lt
from ltkit.losses import create_loss
from ltkit.runs.provenance import Report
from ltkit.train import TrainForward, build_model, lr_at_step, make_step, steps_per_epoch, train_batches
from ltkit.utils import channels_last, precision, resolve_device

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "speed"))
from cifar_pipeline import cifar_root  # noqa: E402  (the same data lookup as the throughput benchmark)

RESULTS = Path(__file__).resolve().parents[2] / "results" / "benchmarks"


def parse_case(text: str) -> ltkit.RunConfig:
    """ "preset key=value ..." -> the preset's RunConfig with those fields set (values parsed as the
    CLI parses them: numbers, booleans, tuples)."""
    preset, *pairs = text.split()
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--case {text!r}: expected key=value after the preset, got {pair!r}")
        overrides[key] = value
    return ltkit.RunConfig.preset(preset, progress=False, **overrides)


def first_epochs(cfg: ltkit.RunConfig, data, device: torch.device, epochs: int) -> list:
    """[(epoch, lrs, losses)] for the first ``epochs`` epochs, from seed-``cfg.seed`` weights."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, len(data.train_counts)).to(device).train()
    if channels_last(device):
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    criterion = create_loss(cfg.loss, class_counts=data.train_counts.tolist()).to(device)
    step = make_step(cfg, model, TrainForward(model), optimizer, criterion, device)
    steps = steps_per_epoch(cfg, len(data.train))
    images = data.train.images.to(device)
    out = []
    for epoch in range(1, epochs + 1):
        model.moving_average.mu = cfg.mu
        lrs, losses = [], []
        for i, (x, y) in enumerate(train_batches(cfg, data, device, epoch, steps, images)):
            lr = lr_at_step(cfg, epoch, i, steps)
            for g in optimizer.param_groups:
                g["lr"] = lr
            lrs.append(lr)
            losses.append(float(step(x, y)[0]))
        out.append((epoch, np.array(lrs), np.array(losses)))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--case",
        nargs="+",
        default=["cifar10_lt_baseline", "cifar10_lt_baseline warmup=epoch", "cifar10_lt_tde"],
        help='presets, each optionally with overrides: "cifar10_lt_baseline warmup=epoch"',
    )
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--show", type=int, default=16, help="print the losses of this many first steps of each epoch")
    p.add_argument("--data-root", default="")
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--output",
        default=None,
        help="the record to write (default results/benchmarks/first_epochs_<preset>.txt; '-': print only)",
    )
    args = p.parse_args()
    out = Report()  # the provenance (commit, date, machine) of the code as it starts

    device = resolve_device(args.device)
    cases = [(text, parse_case(text)) for text in args.case]
    root = cifar_root(args.data_root)
    datasets = {}
    out(f"# training loss of each step over the first {args.epochs} epochs, seed 0, uncompiled, device {device}")
    for text, cfg in cases:
        if not cfg.dataset.startswith("cifar"):
            raise SystemExit(f"--case {text!r}: only the CIFAR-LT presets are supported here, not {cfg.dataset}")
        classes = 100 if cfg.dataset == "cifar100_lt" else 10
        key = (classes, cfg.imb_ratio)
        if key not in datasets:
            datasets[key] = load_cifar_lt(root, num_classes=classes, imb_ratio=cfg.imb_ratio, seed=cfg.seed)
        data = datasets[key]
        ln_c = math.log(classes)
        print(f"{text}: {args.epochs} epochs", flush=True)
        out(
            f"\n## {text}: {cfg.dataset} r{cfg.imb_ratio:g}, classifier {cfg.classifier}, lr {cfg.lr}, "
            f"warm-up {cfg.warmup_epochs} epochs per {cfg.warmup}, {precision(cfg.amp, device)[0]}; ln C = {ln_c:.3f}"
        )
        for epoch, lrs, losses in first_epochs(cfg, data, device, args.epochs):
            out(
                f"epoch {epoch}: lr {lrs.min():.4f}-{lrs.max():.4f}, loss mean {losses.mean():.3f}, first "
                f"{losses[0]:.3f}, max {losses.max():.3f} (step {losses.argmax() + 1}), last {losses[-1]:.3f}; "
                f"steps above ln C: {(losses > ln_c).sum()}/{len(losses)}"
            )
            out("  first steps: " + " ".join(f"{v:.2f}" for v in losses[: args.show]))
    default = RESULTS / f"first_epochs_{args.case[0].split()[0]}.txt"
    out.write(args.output if args.output is not None else default)


if __name__ == "__main__":
    main()
