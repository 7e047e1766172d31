"""Losses against independently written formulas."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ltkit.losses import create_loss, effective_number_weights, list_losses

COUNTS = [100, 10, 1]


def _batch(seed=0, B=6, C=3):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, C, generator=g, dtype=torch.float64, requires_grad=True), torch.randint(0, C, (B,), generator=g)


@pytest.mark.parametrize("name", list_losses())
def test_forward_backward_every_loss(name):
    logits, y = _batch()
    loss = create_loss(name, class_counts=COUNTS, logit_scale=16.0)
    loss.set_epoch(1)
    out = loss(logits, y)
    assert out.ndim == 0 and torch.isfinite(out)
    out.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_unknown_loss():
    with pytest.raises(ValueError, match="unknown loss 'hinge'; choose one of: balanced_softmax, ce"):
        create_loss("hinge", class_counts=COUNTS)


def test_ce():
    logits, y = _batch()
    p = torch.softmax(logits, 1)
    expected = -torch.log(p[torch.arange(6), y]).mean()
    torch.testing.assert_close(create_loss("ce", class_counts=COUNTS)(logits, y), expected)


def test_focal_value_and_detached_factor():
    logits, y = _batch(1)
    p_t = torch.softmax(logits, 1)[torch.arange(6), y]
    out = create_loss("focal", class_counts=COUNTS, focal_gamma=2.0)(logits, y)
    torch.testing.assert_close(out, (-(1 - p_t) ** 2 * torch.log(p_t)).mean())
    (g,) = torch.autograd.grad(out, logits)
    # the authors' focal factor is a constant for autograd (REFERENCE 1.6)
    lg = logits.detach().clone().requires_grad_(True)
    p_t2 = torch.softmax(lg, 1)[torch.arange(6), y]
    manual = (-(1 - p_t2.detach()) ** 2 * torch.log(p_t2)).mean()
    (g2,) = torch.autograd.grad(manual, lg)
    torch.testing.assert_close(g, g2)
    # gamma = 0 is cross-entropy
    torch.testing.assert_close(create_loss("focal", class_counts=COUNTS, focal_gamma=0.0)(logits, y), F.cross_entropy(logits, y))


def test_class_balanced_weights_by_hand():
    beta = 0.9
    raw = [(1 - beta) / (1 - beta ** n) for n in COUNTS]
    expected = [3 * r / sum(raw) for r in raw]
    np.testing.assert_allclose(effective_number_weights(COUNTS, beta).numpy(), expected, rtol=1e-6)
    logits, y = _batch(2)
    w = torch.tensor(expected, dtype=torch.float64)
    nll = -torch.log_softmax(logits, 1)[torch.arange(6), y]
    manual = (w[y] * nll).sum() / w[y].sum()  # weighted mean, as F.cross_entropy(weight=)
    out = create_loss("class_balanced", class_counts=COUNTS, cb_beta=beta)(logits, y)
    torch.testing.assert_close(out, manual.to(out.dtype), rtol=1e-6, atol=1e-7)


def test_ldam_margins_and_drw():
    loss = create_loss("ldam", class_counts=COUNTS, ldam_max_margin=0.5, logit_scale=10.0, drw_epoch=3)
    m = [1 / n ** 0.25 for n in COUNTS]
    expected = [0.5 * v / max(m) for v in m]  # [0.5 / 10^0.5, 0.5 / 10^0.25, 0.5]
    np.testing.assert_allclose(loss.margins.numpy(), expected, rtol=1e-6)
    assert expected[2] == 0.5 and expected[0] == pytest.approx(0.5 / math.sqrt(10))
    logits, y = _batch(3)
    shifted = logits.detach().clone()
    shifted[torch.arange(6), y] -= 10.0 * torch.tensor(expected, dtype=torch.float64)[y]
    loss.set_epoch(2)
    torch.testing.assert_close(loss(logits, y), F.cross_entropy(shifted, y))
    loss.set_epoch(3)  # deferred re-weighting from drw_epoch on
    w = effective_number_weights(COUNTS, 0.9999).double()
    torch.testing.assert_close(loss(logits, y), F.cross_entropy(shifted, y, weight=w))


def test_balanced_softmax_and_logit_adjusted():
    logits, y = _batch(4)
    log_prior = torch.log(torch.tensor(COUNTS, dtype=torch.float64) / sum(COUNTS))
    torch.testing.assert_close(create_loss("balanced_softmax", class_counts=COUNTS)(logits, y),
                               F.cross_entropy(logits + log_prior, y))
    torch.testing.assert_close(create_loss("logit_adjusted", class_counts=COUNTS, la_tau=0.5)(logits, y),
                               F.cross_entropy(logits + 0.5 * log_prior, y))
    torch.testing.assert_close(create_loss("logit_adjusted", class_counts=COUNTS, la_tau=0.0)(logits, y),
                               F.cross_entropy(logits, y))


@pytest.mark.parametrize("name", ["class_balanced", "ldam", "balanced_softmax", "logit_adjusted"])
def test_zero_count_is_an_error(name):
    with pytest.raises(ValueError, match="class 1 has no training sample"):
        create_loss(name, class_counts=[5, 0, 3])
