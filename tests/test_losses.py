"""Losses against independently written formulas (plain torch / numpy / math)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ltkit.losses import (
    LOSSES,
    NEEDS_NORMALIZED_LOGITS,
    REBALANCING_LOSSES,
    create_loss,
    effective_number_weights,
    list_losses,
)

COUNTS = [100, 10, 1]


def _batch(seed=0, B=6, C=3):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, C, generator=g, dtype=torch.float64, requires_grad=True)
    return logits, torch.randint(0, C, (B,), generator=g)


def _nll(logits, y):
    """-log softmax(logits)[y] per sample, written out with exp / log / sum."""
    z = logits - logits.max(1, keepdim=True).values
    return -(z[torch.arange(len(y)), y] - torch.log(torch.exp(z).sum(1)))


@pytest.mark.parametrize("name", list_losses())
def test_forward_backward_every_loss(name):
    """Smoke test over the registry (finite, differentiable, deterministic); each loss's value has its own test."""
    logits, y = _batch()
    loss = create_loss(name, class_counts=COUNTS, logit_scale=16.0, drw_epoch=2)
    for epoch in (1, 2):
        loss.set_epoch(epoch)
        out = loss(logits, y)
        assert out.ndim == 0 and out.dtype == torch.float64 and torch.isfinite(out)
        (g,) = torch.autograd.grad(out, logits)
        assert torch.isfinite(g).all() and g.abs().sum() > 0
    # deterministic: same inputs, same value
    assert torch.equal(loss(logits, y), loss(logits, y))
    # float32 logits work too (the training loop calls criterion(logits.float(), y))
    out32 = loss(logits.detach().float(), y)
    assert out32.dtype == torch.float32 and torch.isfinite(out32)


def test_registry_and_exported_sets():
    assert list_losses() == ["balanced_softmax", "ce", "class_balanced", "focal", "ldam", "logit_adjusted"]
    assert LOSSES.names() == list_losses()
    assert NEEDS_NORMALIZED_LOGITS == {"ldam"}
    assert REBALANCING_LOSSES == {"class_balanced", "ldam", "balanced_softmax", "logit_adjusted"}
    assert set(NEEDS_NORMALIZED_LOGITS) <= set(list_losses()) and set(REBALANCING_LOSSES) <= set(list_losses())


def test_unknown_loss():
    with pytest.raises(ValueError, match="unknown loss 'hinge'; choose one of: balanced_softmax, ce"):
        create_loss("hinge", class_counts=COUNTS)


def test_irrelevant_options_are_ignored():
    logits, y = _batch(5)
    everything = dict(focal_gamma=3.0, cb_beta=0.99, ldam_max_margin=0.3, logit_scale=8.0, drw_epoch=4, la_tau=0.5)
    torch.testing.assert_close(
        create_loss("ce", class_counts=COUNTS, **everything)(logits, y), F.cross_entropy(logits, y)
    )
    log_prior = torch.log(torch.tensor(COUNTS, dtype=torch.float64) / sum(COUNTS))
    # balanced softmax is tau = 1 whatever la_tau says
    torch.testing.assert_close(
        create_loss("balanced_softmax", class_counts=COUNTS, **everything)(logits, y),
        F.cross_entropy(logits + log_prior, y),
    )


def test_ce():
    logits, y = _batch()
    p = torch.softmax(logits, 1)
    expected = -torch.log(p[torch.arange(6), y]).mean()
    torch.testing.assert_close(create_loss("ce", class_counts=COUNTS)(logits, y), expected)


def test_focal_value_and_detached_factor():
    logits, y = _batch(1)
    p_t = torch.exp(-_nll(logits, y))
    out = create_loss("focal", class_counts=COUNTS, focal_gamma=2.0)(logits, y)
    torch.testing.assert_close(out, (-((1 - p_t) ** 2) * torch.log(p_t)).mean())
    (g,) = torch.autograd.grad(out, logits)
    # the authors' focal factor is a constant for autograd (docs/method.md 1.6)
    lg = logits.detach().clone().requires_grad_(True)
    p_t2 = torch.softmax(lg, 1)[torch.arange(6), y]
    manual = (-((1 - p_t2.detach()) ** 2) * torch.log(p_t2)).mean()
    (g2,) = torch.autograd.grad(manual, lg)
    torch.testing.assert_close(g, g2)
    # closed form: d/dz of -(c * log p_t) with constant c is c * (softmax - onehot); batch mean
    p = torch.softmax(logits.detach(), 1)
    c = (1 - p[torch.arange(6), y]) ** 2
    torch.testing.assert_close(g, c[:, None] * (p - F.one_hot(y, 3).double()) / 6)
    # ... which differs from the gradient with the factor attached
    lg3 = logits.detach().clone().requires_grad_(True)
    p_t3 = torch.softmax(lg3, 1)[torch.arange(6), y]
    (g3,) = torch.autograd.grad((-((1 - p_t3) ** 2) * torch.log(p_t3)).mean(), lg3)
    assert not torch.allclose(g, g3)
    # gamma = 0 is cross-entropy
    torch.testing.assert_close(
        create_loss("focal", class_counts=COUNTS, focal_gamma=0.0)(logits, y), F.cross_entropy(logits, y)
    )


def test_focal_default_gamma_is_two():
    logits, y = _batch(6)
    p_t = torch.exp(-_nll(logits, y))
    torch.testing.assert_close(
        create_loss("focal", class_counts=COUNTS)(logits, y), (-((1 - p_t) ** 2) * torch.log(p_t)).mean()
    )


def test_class_balanced_weights_by_hand():
    beta = 0.9
    raw = [(1 - beta) / (1 - beta**n) for n in COUNTS]
    expected = [3 * r / sum(raw) for r in raw]
    # the same numbers written out: 0.9^100 ~ 2.656e-5, 0.9^10 ~ 0.348678, 0.9^1 = 0.9
    np.testing.assert_allclose(expected, [0.239329, 0.367442, 2.393229], rtol=1e-5)
    np.testing.assert_allclose(effective_number_weights(COUNTS, beta).numpy(), expected, rtol=1e-6)
    assert effective_number_weights(COUNTS, 0.9999).sum().item() == pytest.approx(3.0, rel=1e-6)
    # beta = 0 gives equal weights 1
    np.testing.assert_allclose(effective_number_weights(COUNTS, 0.0).numpy(), [1.0, 1.0, 1.0], rtol=1e-6)
    logits, y = _batch(2)
    w = torch.tensor(expected, dtype=torch.float64)
    manual = (w[y] * _nll(logits, y)).sum() / w[y].sum()  # weighted mean, as F.cross_entropy(weight=)
    out = create_loss("class_balanced", class_counts=COUNTS, cb_beta=beta)(logits, y)
    torch.testing.assert_close(out, manual.to(out.dtype), rtol=1e-6, atol=1e-7)


def test_ldam_margins_and_drw():
    loss = create_loss("ldam", class_counts=COUNTS, ldam_max_margin=0.5, logit_scale=10.0, drw_epoch=3)
    m = [1 / n**0.25 for n in COUNTS]
    expected = [0.5 * v / max(m) for v in m]  # [0.5 / 10^0.5, 0.5 / 10^0.25, 0.5]
    np.testing.assert_allclose(expected, [0.158114, 0.281171, 0.5], rtol=1e-5)
    np.testing.assert_allclose(loss.margins.numpy(), expected, rtol=1e-6)
    assert expected[2] == 0.5 and expected[0] == pytest.approx(0.5 / math.sqrt(10))
    logits, y = _batch(3)
    shifted = logits.detach().clone()
    shifted[torch.arange(6), y] -= 10.0 * torch.tensor(expected, dtype=torch.float64)[y]
    unweighted = _nll(shifted, y).mean()
    torch.testing.assert_close(loss(logits, y), unweighted)  # before any set_epoch: epoch-1 state
    for epoch in (1, 2):
        loss.set_epoch(epoch)
        torch.testing.assert_close(loss(logits, y), unweighted)
    w = effective_number_weights(COUNTS, 0.9999).double()
    weighted = (w[y] * _nll(shifted, y)).sum() / w[y].sum()
    for epoch in (3, 4):  # deferred re-weighting from drw_epoch on
        loss.set_epoch(epoch)
        torch.testing.assert_close(loss(logits, y), weighted)
    assert not torch.allclose(weighted, unweighted)


def test_ldam_drw_off_and_from_epoch_one():
    logits, y = _batch(7)
    off = create_loss("ldam", class_counts=COUNTS)  # drw_epoch = 0: never re-weighted
    m = torch.tensor([1 / n**0.25 for n in COUNTS], dtype=torch.float64)
    margins = 0.5 * m / m.max()
    shifted = logits.detach() - 16.0 * F.one_hot(y, 3).double() * margins[y][:, None]  # default scale 16
    for epoch in (1, 50, 200):
        off.set_epoch(epoch)
        torch.testing.assert_close(off(logits, y), _nll(shifted, y).mean())
    from_one = create_loss("ldam", class_counts=COUNTS, drw_epoch=1, cb_beta=0.9)
    w = effective_number_weights(COUNTS, 0.9).double()
    torch.testing.assert_close(from_one(logits, y), (w[y] * _nll(shifted, y)).sum() / w[y].sum())


def test_balanced_softmax_and_logit_adjusted():
    logits, y = _batch(4)
    log_prior = torch.log(torch.tensor(COUNTS, dtype=torch.float64) / sum(COUNTS))
    torch.testing.assert_close(
        create_loss("balanced_softmax", class_counts=COUNTS)(logits, y), _nll(logits + log_prior, y).mean()
    )
    torch.testing.assert_close(
        create_loss("logit_adjusted", class_counts=COUNTS)(logits, y),  # default tau = 1
        _nll(logits + log_prior, y).mean(),
    )
    torch.testing.assert_close(
        create_loss("logit_adjusted", class_counts=COUNTS, la_tau=0.5)(logits, y),
        _nll(logits + 0.5 * log_prior, y).mean(),
    )
    torch.testing.assert_close(
        create_loss("logit_adjusted", class_counts=COUNTS, la_tau=0.0)(logits, y), F.cross_entropy(logits, y)
    )


def test_set_epoch_is_a_noop_for_unscheduled_losses():
    logits, y = _batch(8)
    for name in ["ce", "focal", "class_balanced", "balanced_softmax", "logit_adjusted"]:
        loss = create_loss(name, class_counts=COUNTS)
        before = loss(logits, y)
        loss.set_epoch(100)
        assert torch.equal(loss(logits, y), before)


@pytest.mark.parametrize("name", ["class_balanced", "ldam", "balanced_softmax", "logit_adjusted"])
def test_zero_count_is_an_error(name):
    with pytest.raises(ValueError, match="class 1 has no training sample"):
        create_loss(name, class_counts=[5, 0, 3])


def test_misspelt_option_is_refused_not_dropped():
    # focal_gama is no loss's option: silently dropping it would train with the default gamma 2
    with pytest.raises(ValueError, match=r"unknown loss option\(s\) \['focal_gama'\]; loss options are: .*focal_gamma"):
        create_loss("focal", class_counts=COUNTS, focal_gama=1.0)
    # an option of another loss is still left out (one run config feeds every loss)
    logits, y = _batch(5)
    torch.testing.assert_close(
        create_loss("focal", class_counts=COUNTS, focal_gamma=0.0, cb_beta=0.5)(logits, y), F.cross_entropy(logits, y)
    )
