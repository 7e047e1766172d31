"""Multi-process training under ``torchrun``: process group, synchronized BatchNorm, sharding.

ltkit's data order is a function of (seed, epoch), so every rank draws the same *global*
batch of ``batch_size`` images; rank r trains on its contiguous share of ``batch_size /
world_size`` of them (a distributed sampler for both the instance and the class-balanced
order, with no state to keep in step). The model is wrapped in ``DistributedDataParallel``;
BatchNorm statistics are taken over the whole global batch (``torch.nn.SyncBatchNorm`` on
CUDA, :class:`AllReduceBatchNorm2d` on CPU, where SyncBatchNorm does not run), and the
moving-average feature is all-reduced (``ltkit.tde.MovingAverageFeature``). So k steps on N
processes give the weights and the moving average of k steps of one process on the same
global batches, up to float rounding, for the mean-reduced losses (``ce``, ``focal``,
``balanced_softmax``, ``logit_adjusted``); the class-weighted ones (``class_balanced``, LDAM
with DRW) average per-rank weighted means, which differs slightly from the global weighted mean.

Rank 0 writes checkpoints and run records; per-epoch metrics are summed over ranks.
"""

from __future__ import annotations

import atexit
import os

import torch
import torch.distributed as dist
import torch.nn as nn

__all__ = [
    "under_torchrun",
    "torchrun_command",
    "setup",
    "teardown",
    "is_initialized",
    "rank",
    "world_size",
    "is_main",
    "barrier",
    "shard",
    "all_reduce_sum",
    "AllReduceBatchNorm2d",
    "sync_batchnorm",
    "wrap_ddp",
]


def under_torchrun() -> bool:
    """Whether this process was started by torchrun with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def torchrun_command(cfg) -> list:
    """``torchrun --standalone --nproc_per_node=<cfg.gpus>`` running ``cfg``'s own command line
    (``cfg.command_line()``: ``-m ltkit run <flags>`` for a ``RunConfig``, ``-m ltkit.detection run
    CONFIG WORK_DIR <flags>`` for an ``LVISRunConfig``) on one machine."""
    import sys

    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={int(cfg.gpus)}",
        *cfg.command_line(),
    ]


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if is_initialized() else 1


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def setup(device: torch.device) -> torch.device:
    """Join torchrun's process group (NCCL for CUDA, gloo for CPU); returns this rank's device.

    A CUDA device becomes ``cuda:<LOCAL_RANK>``. Does nothing outside torchrun. The group is
    left at exit (:func:`teardown`).
    """
    if not under_torchrun():
        return device
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        if local >= torch.cuda.device_count():
            raise RuntimeError(f"LOCAL_RANK {local} but only {torch.cuda.device_count()} CUDA device(s) are visible")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        atexit.register(teardown)  # leave the group before the interpreter tears its objects down
    return device


def teardown() -> None:
    """Leave the process group :func:`setup` joined (registered to run at exit); nothing otherwise."""
    if is_initialized():
        dist.destroy_process_group()


def shard(t: torch.Tensor) -> torch.Tensor:
    """This rank's contiguous share of a global batch (the batch size must divide evenly)."""
    w = world_size()
    if w == 1:
        return t
    n = t.shape[0]
    if n % w:
        raise ValueError(f"batch_size: {n} does not split evenly over {w} processes")
    r = rank()
    return t[r * (n // w) : (r + 1) * (n // w)]


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if world_size() > 1:
        dist.all_reduce(t)
    return t


class AllReduceBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics cover every rank's batch (for CPU / gloo).

    The per-channel sums and counts, then the sums of squared deviations, are all-reduced with
    ``torch.distributed.nn.functional.all_reduce``, which is differentiable, so the backward
    pass matches BatchNorm over the concatenated global batch. Running statistics use the
    global mean and the unbiased global variance, as BatchNorm does. In eval mode, or with one
    process, it is a plain BatchNorm2d.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or world_size() == 1:
            return super().forward(x)
        c = x.shape[1]
        xf = x if x.dtype in (torch.float32, torch.float64) else x.float()
        # two passes (mean, then squared deviations) for the same accuracy as BatchNorm's own
        sum_count = _differentiable_all_reduce(torch.cat([xf.sum((0, 2, 3)), xf.new_full((1,), float(x.numel() // c))]))
        n = sum_count[-1]
        mean = sum_count[:c] / n
        centered = xf - mean[None, :, None, None]
        var = (
            _differentiable_all_reduce((centered * centered).sum((0, 2, 3))) / n
        )  # biased, what the forward normalizes with
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(m * mean.detach())
                self.running_var.mul_(1 - m).add_(m * var.detach() * n / (n - 1))
        out = centered * torch.rsqrt(var[None, :, None, None] + self.eps)
        if self.affine:
            out = out * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return out.to(x.dtype)


def _differentiable_all_reduce(t: torch.Tensor) -> torch.Tensor:
    """SUM over ranks with a backward pass (the public torch.distributed.nn API, which this torch
    marks deprecated in favour of a private module; its deprecation warning is silenced here)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=".*all_reduce is deprecated.*")
        from torch.distributed.nn.functional import all_reduce

        return all_reduce(t)


def sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """Replace every BatchNorm2d with its all-rank version (SyncBatchNorm on CUDA), in place."""
    if world_size() == 1:
        return model
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return _convert_cpu(model)


def _convert_cpu(module: nn.Module) -> nn.Module:
    out = module
    if type(module) is nn.BatchNorm2d:
        out = AllReduceBatchNorm2d(
            module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats
        )
        like = next(iter(module.state_dict().values()), None)
        if like is not None:  # same device and float dtype as the module it replaces
            out.to(device=like.device, dtype=module.weight.dtype if module.affine else like.dtype)
        out.load_state_dict(module.state_dict())
        out.train(module.training)
        for p_new, p_old in zip(out.parameters(), module.parameters()):
            p_new.requires_grad_(p_old.requires_grad)
    for name, child in module.named_children():
        out.add_module(name, _convert_cpu(child))
    return out


def wrap_ddp(module: nn.Module, device: torch.device) -> nn.Module:
    """``DistributedDataParallel`` without buffer broadcasts (BN and the moving average are synced)."""
    if world_size() == 1:
        return module
    import inspect

    ddp = nn.parallel.DistributedDataParallel
    # newer torch renames broadcast_buffers=False (it still syncs at init, where ranks agree anyway)
    no_sync = (
        {"forward_sync_buffers": False}
        if "forward_sync_buffers" in inspect.signature(ddp).parameters
        else {"broadcast_buffers": False}
    )
    return ddp(module, device_ids=[device.index] if device.type == "cuda" else None, **no_sync)
