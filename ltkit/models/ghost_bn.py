"""BatchNorm over slices of the batch, as the authors' ``nn.DataParallel`` training computed it.

``nn.DataParallel`` cuts each batch into one chunk per GPU (``torch.chunk``: chunks of
``ceil(B / gpus)`` images, the last one shorter) and every replica normalises its chunk with that
chunk's own mean and variance. The running statistics kept afterwards are those of the first
chunk only: the replica on the first device shares its buffers with the wrapped module, the
others are thrown away (docs/method.md 5, the authors' GPU count is not recorded).

:class:`GhostBatchNorm2d` does the same on one device: in training mode a batch larger than
``bn_batch`` is normalised chunk by chunk (``split(bn_batch)``), the running statistics (and
``num_batches_tracked``) updated from the first chunk. In eval mode, or for a batch of at most
``bn_batch`` images, it is ``nn.BatchNorm2d``. The state-dict is that of ``nn.BatchNorm2d``, so
checkpoints load either way. ``RunConfig(bn_batch=N)`` converts every BatchNorm2d of the
backbone (:func:`use_ghost_batch_norm`); ``bn_batch = ceil(batch_size / gpus)`` matches a
DataParallel run on ``gpus`` GPUs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GhostBatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` that, in training, normalises each ``bn_batch``-image slice of the batch
    with its own statistics and tracks running statistics from the first slice."""

    def __init__(self, num_features: int, bn_batch: int, **kwargs) -> None:
        super().__init__(num_features, **kwargs)
        if bn_batch < 1:
            raise ValueError(f"bn_batch: must be >= 1, got {bn_batch}")
        self.bn_batch = int(bn_batch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or x.shape[0] <= self.bn_batch:
            return super().forward(x)
        first, *rest = x.split(self.bn_batch)
        out = [super().forward(first)]  # running statistics: this slice only, as DataParallel's device 0
        for chunk in rest:
            out.append(F.batch_norm(chunk, None, None, self.weight, self.bias, True, 0.0, self.eps))
        return torch.cat(out)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, bn_batch={self.bn_batch}"


def use_ghost_batch_norm(module: nn.Module, bn_batch: int) -> nn.Module:
    """Replace every ``nn.BatchNorm2d`` under ``module`` by a :class:`GhostBatchNorm2d` with the
    same parameters and buffers (in place; returns ``module``)."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d) and not isinstance(child, GhostBatchNorm2d):
            like = next(iter(child.state_dict().values()), torch.empty(0))
            ghost = GhostBatchNorm2d(
                child.num_features,
                bn_batch,
                eps=child.eps,
                momentum=child.momentum,
                affine=child.affine,
                track_running_stats=child.track_running_stats,
                device=like.device,
            )
            ghost.load_state_dict(child.state_dict())
            ghost.train(child.training)
            setattr(module, name, ghost)
        else:
            use_ghost_batch_norm(child, bn_batch)
    return module
