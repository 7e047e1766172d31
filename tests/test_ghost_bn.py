"""Ghost-batch BatchNorm (RunConfig bn_batch): nn.DataParallel's per-GPU BatchNorm on one device."""

import copy

import pytest
import torch
from torch import nn

import ltkit
from ltkit.models.ghost_bn import GhostBatchNorm2d, use_ghost_batch_norm
from ltkit.train import build_model


def _pair(bn_batch=4, channels=3):
    torch.manual_seed(0)
    plain = nn.BatchNorm2d(channels)
    with torch.no_grad():
        plain.weight.uniform_(0.5, 1.5)
        plain.bias.uniform_(-0.5, 0.5)
    holder = nn.Sequential(copy.deepcopy(plain))
    use_ghost_batch_norm(holder, bn_batch)
    return plain, holder[0]


@pytest.mark.parametrize("batch, bn_batch", [(10, 4), (12, 4), (9, 3)])
def test_it_is_dataparallel_batchnorm_chunk_by_chunk(batch, bn_batch):
    """DataParallel, written out: one replica of the BN per torch.chunk of the batch, each
    normalising its chunk; running statistics from replica 0 only; gradients summed."""
    plain, ghost = _pair(bn_batch)
    x = torch.randn(batch, 3, 5, 5) * 2 + 1
    chunks = x.chunk(-(-batch // bn_batch))  # DataParallel over ceil(B / bn_batch) GPUs
    assert [len(c) for c in chunks] == [len(c) for c in x.split(bn_batch)]
    replicas = [copy.deepcopy(plain) for _ in chunks]
    x_ref = x.clone().requires_grad_()
    ref = torch.cat([r(c) for r, c in zip(replicas, x_ref.chunk(len(chunks)))])
    x_g = x.clone().requires_grad_()
    out = ghost(x_g)
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=1e-5)
    assert not torch.allclose(out, plain(x.clone()), atol=1e-3)  # whole-batch BN is a different thing
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        assert torch.equal(getattr(ghost, name), getattr(replicas[0], name)), name
    w = torch.randn_like(ref)
    (ref * w).sum().backward()
    (out * w).sum().backward()
    torch.testing.assert_close(x_g.grad, x_ref.grad, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ghost.weight.grad, sum(r.weight.grad for r in replicas), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ghost.bias.grad, sum(r.bias.grad for r in replicas), atol=1e-5, rtol=1e-5)


def test_eval_small_batches_and_channels_last_are_plain_batchnorm():
    plain, ghost = _pair(4)
    x = torch.randn(4, 3, 5, 5)
    torch.testing.assert_close(ghost(x), plain(x))  # a batch of at most bn_batch: one chunk
    x = torch.randn(10, 3, 5, 5)
    torch.testing.assert_close(ghost(x.contiguous(memory_format=torch.channels_last)), ghost(x))
    ghost.load_state_dict(plain.state_dict())  # the calls above moved ghost's running statistics
    plain.eval(), ghost.eval()
    torch.testing.assert_close(ghost(x), plain(x))  # eval: the running statistics, whole batch


def test_a_run_config_builds_it_and_checkpoints_keep_their_keys():
    plain = build_model(ltkit.RunConfig(), 10)
    ghost = build_model(ltkit.RunConfig(bn_batch=64), 10)
    bns = [m for m in ghost.backbone.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(isinstance(m, GhostBatchNorm2d) and m.bn_batch == 64 for m in bns)
    assert not any(isinstance(m, GhostBatchNorm2d) for m in plain.modules())
    assert plain.state_dict().keys() == ghost.state_dict().keys()
    ghost.load_state_dict(plain.state_dict())
    x = torch.randn(8, 3, 32, 32)
    plain.train(), ghost.train()
    torch.testing.assert_close(ghost.backbone(x), plain.backbone(x))  # 8 <= 64: the same network
    with pytest.raises(ValueError, match="bn_batch"):
        ltkit.RunConfig(bn_batch=-1)
    with pytest.raises(ValueError, match="bn_batch"):
        GhostBatchNorm2d(4, 0)
