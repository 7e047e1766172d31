"""Training throughput: ltkit's in-memory pipeline vs the standard DataLoader + PIL pipeline.

All train the same model (ResNet-32 + causal-norm classifier, SGD, CE, the same initial
weights) and batch size on CIFAR-10-LT ratio 100. What differs is the pipeline and the precision:

* standard (what the authors' code does, ``ltkit.data.transforms.TorchvisionImages``): a
  Dataset of PIL images, torchvision's RandomCrop(32, padding=4) + RandomHorizontalFlip +
  ToTensor + Normalize per image, a DataLoader with ``--workers`` worker processes (2 in the
  authors' setting on this machine), shuffled, drop_last; the model in PyTorch's default
  (contiguous) layout;
* ltkit: ``ltkit.train``'s own data path and step: the uint8 split on the device, indices
  from ``ltkit.data.epoch_indices``, crop / flip / normalize in batched tensor ops
  (``ltkit.data.augment_batch``), channels-last layout on CPU and CUDA; once in float32 (amp
  off) and once with amp on: bf16 autocast over the backbone where the device has bf16 (on the
  CPU avx512_bf16 or AMX, ``ltkit.utils.precision``), the classifier and the loss in float32.
  Without bf16 the amp row says so and runs float32.
* with ``--compile``: the amp step under ``torch.compile`` (RunConfig ``compile=True``).
* with ``--floor``: the convolutions alone, a bound on any implementation of this training step
  on this device: the 33 convolutions of ResNet-32, each run forward and backward (gradients of
  the weights, and of the input except for the first layer) on random inputs of the shapes the
  training step gives them, in the amp precision, channels-last, with nothing else: no
  BatchNorm, activation, residual add, classifier, loss or optimizer (the row draws its batches
  like the others, a few milliseconds of a step, and ignores them). ``torch.compile``
  does not replace these kernels on the CPU (inductor calls the same oneDNN convolutions), so
  no pipeline, fusion or compile setting trains faster than this row at this batch size.

The rows are measured in the same process, alternating, after a warm-up, and the script prints
images/s of each, the ratios, and what 200 epochs of CIFAR-10-LT r100 take at each rate. Data: ``--data-root`` holding ``cifar-10-batches-py``, or the
team's ``../shared`` CIFAR-10 zip (converted into a temp folder), else it stops with a message.

    python benchmarks/speed/cifar_pipeline.py --rounds 3 --steps 10
    python benchmarks/speed/cifar_pipeline.py --rounds 5 --steps 10 --compile --floor   # the full record

It writes its record (the provenance header of ``ltkit.runs.provenance``, then the table) to
``results/benchmarks/cifar_pipeline_<cpu|cuda>.txt`` unless ``--output`` says otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import ltkit
from ltkit.data import load_cifar_lt
from ltkit.data.transforms import TorchvisionImages
from ltkit.losses import create_loss
from ltkit.runs.provenance import Report
from ltkit.train import TrainForward, build_model, make_step, train_batches
from ltkit.utils import channels_last, precision, resolve_device

SHARED = Path(__file__).resolve().parents[3] / "shared"
RESULTS = Path(__file__).resolve().parents[2] / "results" / "benchmarks"


def cifar_root(arg: str) -> Path:
    if arg:
        return Path(arg)
    tool, zip_ = SHARED / "tools" / "cifar10_jpeg_to_batches.py", SHARED / "data" / "cifar10-jpeg.zip"
    if not (tool.is_file() and zip_.is_file()):
        sys.exit("no CIFAR-10: pass --data-root DIR (holding cifar-10-batches-py/), see data/README.md")
    root = Path(tempfile.mkdtemp(prefix="ltkit-bench-"))
    subprocess.run([sys.executable, str(tool), str(root)], check=True, capture_output=True)
    return root


def conv_floor_step(cfg, device: torch.device, batch_size: int, dtype: torch.dtype):
    """A step (ignoring its batch) that runs only the model's convolutions, forward and backward, on
    random inputs of the shapes one training forward gives them (see the module docstring)."""
    model = build_model(cfg, 10).to(device)
    convs = []
    hooks = [
        m.register_forward_hook(lambda m, inp, out: convs.append((m, inp[0].shape[1:])))
        for m in model.backbone.modules()
        if isinstance(m, torch.nn.Conv2d)
    ]
    with torch.no_grad():
        model.backbone(torch.zeros(2, 3, 32, 32, device=device))
    for h in hooks:
        h.remove()
    fmt = torch.channels_last if channels_last(device) else torch.contiguous_format
    work = []
    for i, (m, shape) in enumerate(convs):
        conv = torch.nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, bias=False)
        conv = conv.to(device=device, dtype=dtype, memory_format=fmt)
        x = torch.randn(batch_size, *shape, device=device, dtype=dtype).contiguous(memory_format=fmt)
        x.requires_grad_(i > 0)  # the first layer's input is the image: no gradient, as in training
        with torch.no_grad():
            grad = torch.randn_like(conv(x))
        work.append((conv, x, grad))

    def step(x, y):
        for conv, inp, grad in work:
            conv(inp).backward(grad)
            conv.weight.grad = inp.grad = None

    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-root", default="")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--steps", type=int, default=10, help="training steps per measurement")
    p.add_argument("--rounds", type=int, default=3, help="alternating measurements of each pipeline")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="auto")
    p.add_argument(
        "--compile",
        action="store_true",
        help="add a row for ltkit's step under torch.compile (RunConfig compile=True); compiling takes minutes",
    )
    p.add_argument(
        "--floor",
        action="store_true",
        help="add a row for the 33 convolutions alone (forward + backward, amp precision): the bound on any step",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="afterwards, profile --steps eager ltkit steps (fp32 and amp) and print the share of convolution time and the largest ops",
    )
    p.add_argument(
        "--output",
        default=None,
        help="the record to write (default results/benchmarks/cifar_pipeline_<cpu|cuda>.txt; '-': print only)",
    )
    args = p.parse_args()
    out = Report()  # the provenance (commit, date, machine) of the code as it starts

    device = resolve_device(args.device)
    data = load_cifar_lt(cifar_root(args.data_root), num_classes=10, imb_ratio=100, seed=0)
    cfg = ltkit.RunConfig.preset("cifar10_lt_tde", batch_size=args.batch_size, device=str(device), progress=False)
    loss = create_loss("ce", class_counts=data.train_counts.tolist()).to(device)

    def model_and_optimizer():
        torch.manual_seed(0)
        m = build_model(cfg, 10).to(device).train()
        return m, torch.optim.SGD(m.parameters(), lr=0.02, momentum=0.9, weight_decay=5e-4)

    def ltkit_step(amp: bool):
        """ltkit's own training step (channels-last layout where ltkit.utils.channels_last says so)."""
        c = dataclasses.replace(cfg, amp=amp)
        m, o = model_and_optimizer()
        if channels_last(device):
            m.to(memory_format=torch.channels_last)
        return make_step(c, m, TrainForward(m), o, loss, device)

    amp_precision, why = precision(True, device)

    # standard: the same computation in the default layout, as the authors' code runs it
    std_model, std_opt = model_and_optimizer()

    def standard_step(x, y):
        feats = std_model.backbone(x)
        std_model.moving_average.update(feats)
        out = loss(std_model.classifier(feats), y)
        std_opt.zero_grad(set_to_none=True)
        out.backward()
        std_opt.step()

    # standard pipeline: what RunConfig(pipeline="torchvision") trains with, in a shuffling DataLoader
    loader = torch.utils.data.DataLoader(
        TorchvisionImages(data.train),
        batch_size=args.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=args.workers,
        persistent_workers=args.workers > 0,
        pin_memory=device.type == "cuda",
    )
    std_iter = iter(loader)

    def standard_batches():
        nonlocal std_iter
        while True:
            try:
                x, y = next(std_iter)
            except StopIteration:
                std_iter = iter(loader)
                x, y = next(std_iter)
            yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)

    images = data.train.images.to(device)
    epoch = [0]

    def ltkit_batches():
        while True:
            epoch[0] += 1
            yield from train_batches(cfg, data, device, epoch[0], len(data.train) // args.batch_size, images)

    STANDARD, FP32 = "standard (DataLoader + PIL), fp32", "ltkit (in-memory, batched), fp32"
    AMP = f"ltkit, amp: {amp_precision}"
    sources = {
        STANDARD: (standard_batches(), standard_step),
        FP32: (ltkit_batches(), ltkit_step(False)),
        AMP: (ltkit_batches(), ltkit_step(True)),
    }
    if args.compile:  # the amp step, compiled (a separate model so the eager rows are untouched)
        compiled = torch.compile(ltkit_step(True))
        sources[AMP + " + torch.compile"] = (ltkit_batches(), compiled)

    if args.floor:
        sources[f"floor: the convolutions alone, {amp_precision}"] = (
            ltkit_batches(),
            conv_floor_step(cfg, device, args.batch_size, torch.bfloat16 if amp_precision == "bf16" else torch.float32),
        )

    def measure(source, n):
        it, step = source
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(n):
            x, y = next(it)
            step(x, y)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return n * args.batch_size / (time.perf_counter() - t)

    warmup_s = {}
    for k, source in sources.items():
        t = time.perf_counter()
        measure(source, args.warmup)
        warmup_s[k] = time.perf_counter() - t
    rates = {k: [] for k in sources}
    for _ in range(args.rounds):
        for k, source in sources.items():
            rates[k].append(measure(source, args.steps))

    # 200 epochs of drop-last steps over the r100 training split, at the median rate
    images_200 = 200 * (len(data.train) // args.batch_size) * args.batch_size
    out(f"# CIFAR-10-LT r100 training throughput, ResNet-32 + causal-norm, batch {args.batch_size}")
    out(
        f"# device {device}, {torch.get_num_threads()} threads, {args.workers} DataLoader workers, "
        f"{args.rounds} rounds x {args.steps} steps after {args.warmup} warm-up"
    )
    out(
        f"# amp on this device: {amp_precision}"
        + (f" ({why})" if why else " autocast over the backbone; classifier and loss in fp32")
    )
    w = max(len(k) for k in rates) + 2
    out(f"{'pipeline':<{w}}{'images/s (median)':>18}{'min':>8}{'max':>8}{'200 epochs':>12}{'warm-up s':>11}")
    for k, v in rates.items():
        minutes = images_200 / np.median(v) / 60
        out(f"{k:<{w}}{np.median(v):>18.1f}{min(v):>8.1f}{max(v):>8.1f}{minutes:>9.1f} min{warmup_s[k]:>11.1f}")
    base, fp32 = np.median(rates[STANDARD]), np.median(rates[FP32])
    for k, v in rates.items():
        if k != STANDARD and not k.startswith("floor"):
            out(
                f"ratio {k} / standard: {np.median(v) / base:.2f}x"
                + (f"; / ltkit fp32: {np.median(v) / fp32:.2f}x" if k != FP32 else "")
            )
    floor = [k for k in rates if k.startswith("floor")]
    if floor:
        target = images_200 / (30 * 60)
        out(
            f"30 minutes for 200 epochs needs {target:.0f} images/s; the convolutions alone reach "
            f"{np.median(rates[floor[0]]):.0f} ({np.median(rates[floor[0]]) / target:.2f}x that)"
        )
    if args.profile:  # where the eager ltkit steps spend their time: what any input pipeline could still gain
        from torch.profiler import profile

        for k in (FP32, AMP):
            with profile() as prof:
                measure(sources[k], args.steps)
            ops = prof.key_averages()
            total = sum(e.self_cpu_time_total for e in ops)
            conv = sum(e.self_cpu_time_total for e in ops if "convolution" in e.key)
            out(
                f"profile {k}: convolution ops (forward and backward) take {100 * conv / total:.0f}% of the "
                f"eager step's self CPU time ({args.steps} steps, torch.profiler); the largest ops:"
            )
            for e in sorted(ops, key=lambda e: -e.self_cpu_time_total)[:8]:
                out(f"  {e.key:<48}{100 * e.self_cpu_time_total / total:>6.1f} %{e.count // args.steps:>6} calls/step")
    out.write(args.output if args.output is not None else RESULTS / f"cifar_pipeline_{device.type}.txt")


if __name__ == "__main__":
    main()
