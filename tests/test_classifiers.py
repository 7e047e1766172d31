"""Classifier heads: registry-wide forward/backward, and each head's formula."""

import math

import numpy as np
import pytest
import torch

from ltkit.models import CLASSIFIERS, create_classifier, list_classifiers
from ltkit.tde import causal_norm_logits, tde_logits


@pytest.mark.parametrize("name", list_classifiers())
def test_forward_backward_every_classifier(name):
    torch.manual_seed(0)
    head = create_classifier(name, 8, 5, num_head=2, tau=16.0, gamma=1 / 32)
    x = torch.rand(4, 8, requires_grad=True)
    out = head(x)
    assert out.shape == (4, 5)
    out.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    trainable = [p for p in head.parameters() if p.requires_grad]
    assert trainable and all(p.grad is not None for p in trainable)
    c = torch.rand(8)
    evals = head.evaluation_logits(x.detach(), mean_feature=c, alpha=1.0)
    assert tuple(evals) == head.evaluations
    assert all(v.shape == (4, 5) for v in evals.values())
    torch.testing.assert_close(evals["plain"], out.detach())  # "plain" is the training forward
    if head.supports_tde:  # TDE uses alpha and the mean feature: alpha 0 is plain, alpha 1 is not
        torch.testing.assert_close(head.evaluation_logits(x.detach(), mean_feature=c, alpha=0.0)["tde"], out.detach())
        assert not torch.allclose(evals["tde"], out.detach())


def test_unknown_classifier_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown classifier 'cosin'; choose one of: .*causal_norm.*cosine"):
        create_classifier("cosin", 8, 5)


def test_causal_norm_head_is_the_tde_formula():
    head = create_classifier("causal_norm", 12, 6, num_head=3, tau=10.0, gamma=0.1)
    x, c = torch.rand(5, 12), torch.rand(12)
    torch.testing.assert_close(head(x), causal_norm_logits(x, head.weight, num_head=3, tau=10.0, gamma=0.1))
    torch.testing.assert_close(
        head.tde_logits(x, c, 2.0), tde_logits(x, head.weight, c, alpha=2.0, num_head=3, tau=10.0, gamma=0.1)
    )
    # weight init U(-1/sqrt(D), 1/sqrt(D)), no bias (docs/method.md 1.4)
    assert head.weight.abs().max() <= 1 / math.sqrt(12)
    assert [n for n, _ in head.named_parameters()] == ["weight"]


def test_cosine_head_is_gamma_zero():
    head = create_classifier("cosine", 8, 3, num_head=2, tau=16.0, gamma=0.5)  # gamma is not an option of cosine
    x = torch.rand(4, 8)
    w = head.weight.detach().numpy()
    xn = x.numpy()
    expected = np.zeros((4, 3))
    for b in range(4):
        for i in range(3):
            for k in range(2):
                xk, wk = xn[b, 4 * k : 4 * k + 4], w[i, 4 * k : 4 * k + 4]
                expected[b, i] += 8.0 * xk @ wk / np.linalg.norm(xk) / np.linalg.norm(wk)
    np.testing.assert_allclose(head(x).detach().numpy(), expected, rtol=1e-5)


def test_capsule_head_squashes_features():
    head = create_classifier("capsule", 4, 2, num_head=1, tau=1.0)
    x = torch.tensor([[3.0, 0.0, 4.0, 0.0]])  # norm 5 -> squashed length 5/6
    w = head.weight.detach()
    expected = (5 / 6) * (x / 5) @ (w / w.norm(dim=1, keepdim=True)).t()
    torch.testing.assert_close(head(x).detach(), expected)


def test_linear_has_no_bias_and_lws_trains_only_scales():
    lin = create_classifier("linear", 8, 3)
    assert [n for n, _ in lin.named_parameters()] == ["fc.weight"]
    lws = create_classifier("lws", 8, 3)
    assert [n for n, p in lws.named_parameters() if p.requires_grad] == ["scales"]
    x = torch.rand(2, 8)
    with torch.no_grad():
        lws.scales.copy_(torch.tensor([1.0, 2.0, 0.5]))
    torch.testing.assert_close(lws(x), (x @ lws.fc.weight.t()) * torch.tensor([1.0, 2.0, 0.5]))


def test_tau_norm_evaluation():
    head = create_classifier("tau_norm", 4, 3, tau_norm_p=0.7)
    x = torch.rand(5, 4)
    w = head.fc.weight.detach()
    expected = x @ (w / w.norm(dim=1, keepdim=True) ** 0.7).t()
    evals = head.evaluation_logits(x)
    torch.testing.assert_close(evals["tau_norm"].detach(), expected)
    torch.testing.assert_close(evals["plain"].detach(), x @ w.t())
    assert torch.allclose(head.tau_norm_logits(x, p=0.0).detach(), x @ w.t())


def test_num_head_must_divide_feature_dim():
    with pytest.raises(ValueError, match="num_head: 3 must be a positive divisor of the feature dimension 8"):
        create_classifier("causal_norm", 8, 3, num_head=3)


def test_registry_flags():
    assert {n for n in CLASSIFIERS.names() if CLASSIFIERS.get(n).supports_tde} == {"causal_norm", "cosine", "capsule"}


def test_misspelt_classifier_option_is_refused():
    with pytest.raises(
        ValueError, match=r"unknown classifier option\(s\) \['num_heads'\]; classifier options are: .*num_head"
    ):
        create_classifier("causal_norm", 8, 3, num_heads=4)
    # tau / gamma belong to other classifiers and are left out for linear
    assert [n for n, _ in create_classifier("linear", 8, 3, tau=16.0, gamma=0.1).named_parameters()] == ["fc.weight"]


def test_traits_are_read_off_the_registry():
    from ltkit.models import linear_classifiers, tde_classifiers, tde_settings

    assert tde_classifiers() == ("capsule", "causal_norm", "cosine")
    assert linear_classifiers() == ("linear", "lws", "tau_norm")
    assert tde_settings("cosine", num_head=2, tau=16, gamma=0.5) == dict(
        num_head=2, tau=16.0, gamma=0.0, feature_norm="l2"
    )
    assert tde_settings("capsule", num_head=1, tau=8, gamma=0.5)["feature_norm"] == "squash"
    assert tde_settings("causal_norm", num_head=2, tau=16, gamma=0.5)["gamma"] == 0.5
    with pytest.raises(
        ValueError,
        match="classifier 'linear' has no TDE logits; the classifiers with TDE are: capsule, causal_norm, cosine",
    ):
        tde_settings("linear", num_head=2, tau=16, gamma=0)
    # a head built through the registry computes with exactly the settings tde_settings names
    for name in tde_classifiers():
        head = create_classifier(name, 8, 3, num_head=2, tau=10.0, gamma=0.25)
        x = torch.rand(5, 8)
        torch.testing.assert_close(
            head(x), causal_norm_logits(x, head.weight, **tde_settings(name, num_head=2, tau=10.0, gamma=0.25))
        )
