"""ltkit.tde against the formulas of docs/method.md 1.4, 1.5 and 2.4, written out independently
(per-sample, per-class, per-head loops in float64 NumPy)."""

import math

import numpy as np
import pytest
import torch

from ltkit.tde import (
    MovingAverageFeature,
    background_exempted,
    causal_norm_logits,
    head_cosines,
    mu_from_lr,
    suggest_alpha,
    tde_logits,
)

CASES = [
    # (num_head, gamma, alpha, tau, D)
    (1, 1 / 32, 1.0, 16.0, 12),
    (2, 1 / 32, 1.5, 16.0, 12),
    (3, 0.1, 3.0, 10.0, 12),
    (4, 0.0, 0.5, 16.0, 16),
    (2, 1 / 32, 0.0, 16.0, 8),
]


def _data(D, B=5, C=7, seed=0, nonneg=True):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, D))
    if nonneg:  # backbone features are post-ReLU
        x = np.abs(x)
    w = rng.normal(size=(C, D))
    c = np.abs(rng.normal(size=D)) * 7.0  # un-normalized, like the decayed sum
    return x, w, c


def ref_logits(x, w, c, K, tau, gamma, alpha=None):
    """docs/method.md 1.4 element by element: z_i = tau/K sum_k <x^k/|x^k|, w_i^k/(|w_i^k|+gamma)>,
    TDE_i = tau/K sum_k <x_hat^k - alpha cos_k c_hat^k, w_hat_i^k>."""
    B, D = x.shape
    C = w.shape[0]
    d = D // K
    out = np.zeros((B, C))
    for b in range(B):
        for i in range(C):
            s = 0.0
            for k in range(K):
                xk = x[b, k * d : (k + 1) * d]
                wk = w[i, k * d : (k + 1) * d]
                xh = xk / math.sqrt(sum(v * v for v in xk))
                wh = wk / (math.sqrt(sum(v * v for v in wk)) + gamma)
                v = xh
                if alpha is not None:
                    ck = c[k * d : (k + 1) * d]
                    ch = ck / math.sqrt(sum(v * v for v in ck))
                    cos = float(np.dot(xh, ch)) / (np.linalg.norm(xh) * np.linalg.norm(ch))
                    v = xh - alpha * cos * ch
                s += float(np.dot(v, wh))
            out[b, i] = tau / K * s
    return out


@pytest.mark.parametrize("K,gamma,alpha,tau,D", CASES)
def test_causal_norm_logits_match_reference(K, gamma, alpha, tau, D):
    x, w, c = _data(D)
    got = causal_norm_logits(torch.tensor(x), torch.tensor(w), num_head=K, tau=tau, gamma=gamma)
    np.testing.assert_allclose(got.numpy(), ref_logits(x, w, c, K, tau, gamma), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("K,gamma,alpha,tau,D", CASES)
def test_tde_logits_match_reference(K, gamma, alpha, tau, D):
    x, w, c = _data(D, seed=1)
    got = tde_logits(torch.tensor(x), torch.tensor(w), torch.tensor(c), alpha=alpha, num_head=K, tau=tau, gamma=gamma)
    np.testing.assert_allclose(got.numpy(), ref_logits(x, w, c, K, tau, gamma, alpha=alpha), rtol=1e-10, atol=1e-12)


def test_tde_with_signed_features_too():
    # the formula does not rely on non-negative features (detection features are too, but a
    # user's model may not be)
    x, w, c = _data(12, seed=3, nonneg=False)
    got = tde_logits(torch.tensor(x), torch.tensor(w), torch.tensor(c), alpha=2.0, num_head=2, tau=16.0, gamma=1 / 32)
    np.testing.assert_allclose(got.numpy(), ref_logits(x, w, c, 2, 16.0, 1 / 32, alpha=2.0), rtol=1e-10)


def test_alpha_zero_and_zero_mean_feature_give_plain_logits():
    x, w, c = (torch.tensor(a) for a in _data(12, seed=2))
    plain = causal_norm_logits(x, w)
    torch.testing.assert_close(tde_logits(x, w, c, alpha=0.0), plain)
    # a never-updated (zero) moving average: the authors' code gives NaN, ltkit gives plain logits
    out = tde_logits(x, w, torch.zeros(12, dtype=torch.float64), alpha=1.5)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, plain)


def test_logits_bounded_by_tau():
    # a sanity bound (the exact values: test_causal_norm_logits_match_reference): |z_i| < tau because ||w_hat|| < 1 when gamma > 0 (docs/method.md 1.4)
    x, w, _ = (torch.tensor(a) for a in _data(16, B=50, C=20, seed=4, nonneg=False))
    z = causal_norm_logits(x, w, num_head=4, tau=16.0, gamma=1 / 32)
    assert z.abs().max() < 16.0


def test_scale_invariance():
    x, w, c = (torch.tensor(a) for a in _data(12, seed=5))
    a = tde_logits(x, w, c, alpha=1.0)
    b = tde_logits(3.7 * x, w, 0.01 * c, alpha=1.0)
    torch.testing.assert_close(a, b)


def test_num_head_must_divide_dimension():
    x, w, _ = (torch.tensor(a) for a in _data(12))
    with pytest.raises(ValueError, match="num_head=5 does not divide the feature dimension 12"):
        causal_norm_logits(x, w, num_head=5)


def test_head_cosines_and_suggest_alpha():
    x, _, c = _data(12, B=40, seed=6)
    K = 3
    d = 4
    cos = np.array(
        [
            [
                np.dot(x[b, k * d : (k + 1) * d], c[k * d : (k + 1) * d])
                / np.linalg.norm(x[b, k * d : (k + 1) * d])
                / np.linalg.norm(c[k * d : (k + 1) * d])
                for k in range(K)
            ]
            for b in range(40)
        ]
    )
    got = head_cosines(torch.tensor(x), torch.tensor(c), num_head=K)
    np.testing.assert_allclose(got.numpy(), cos, rtol=1e-10)
    alpha = suggest_alpha(torch.tensor(x), torch.tensor(c), num_head=K)
    assert alpha == pytest.approx(1.0 / cos.mean(), rel=1e-12)
    assert (alpha * cos).mean() == pytest.approx(1.0, rel=1e-12)  # "alpha * cos averages 1"


def test_suggest_alpha_rejects_zero_mean_feature():
    x, _, _ = _data(12)
    with pytest.raises(ValueError, match="moving average"):
        suggest_alpha(torch.tensor(x), torch.zeros(12, dtype=torch.float64))


@pytest.mark.parametrize("background", [0, -1, 2])
def test_background_exempted_matches_reference(background):
    rng = np.random.default_rng(7)
    z = rng.normal(size=(6, 5)) * 3
    t = rng.normal(size=(6, 5)) * 3
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    q = np.exp(t) / np.exp(t).sum(1, keepdims=True)
    bg = background % 5
    expected = np.empty_like(p)
    for r in range(6):
        for i in range(5):
            expected[r, i] = p[r, bg] if i == bg else (1 - p[r, bg]) * q[r, i] / (1 - q[r, bg])
    got = background_exempted(torch.tensor(z), torch.tensor(t), background=background).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    np.testing.assert_allclose(got.sum(1), 1.0, rtol=1e-12)  # still a distribution
    # the authors' form with their 1e-10 terms (docs/method.md 2.4) differs by about 1e-10 / (1 - q_bg)
    fg = [i for i in range(5) if i != bg]
    authors = expected.copy()
    q_fg = q[:, fg].sum(1, keepdims=True)
    authors[:, fg] = p[:, fg].sum(1, keepdims=True) / (q_fg + 1e-10) * (q[:, fg] + 1e-10)
    assert (np.abs(got - authors) <= 2e-10 / q_fg).all()


def test_background_exempted_stable_when_background_dominates():
    z = torch.tensor([[0.0, 1.0, 2.0]], dtype=torch.float32)
    t = torch.tensor([[80.0, 1.0, 2.0]], dtype=torch.float32)  # q_bg == 1 in float32
    out = background_exempted(z, t, background=0)
    assert torch.isfinite(out).all()
    e1, e2 = math.exp(1.0), math.exp(2.0)
    fg_mass = (e1 + e2) / (1 + e1 + e2)
    torch.testing.assert_close(out[0, 1:], torch.tensor([fg_mass * e1 / (e1 + e2), fg_mass * e2 / (e1 + e2)]))


def test_background_exempted_rejects_bad_column():
    with pytest.raises(ValueError, match="out of range"):
        background_exempted(torch.zeros(2, 3), torch.zeros(2, 3), background=3)


def test_moving_average_update_rule():
    ma = MovingAverageFeature(4, mu=0.9)
    assert "mean" in ma.state_dict()
    rng = np.random.default_rng(8)
    c = np.zeros(4)
    for _ in range(5):
        f = rng.normal(size=(3, 4))
        ma.update(torch.tensor(f, dtype=torch.float32, requires_grad=True))
        c = 0.9 * c + f.mean(0)  # no (1 - mu) factor (docs/method.md 1.5)
    np.testing.assert_allclose(ma.mean.numpy(), c, rtol=1e-5)
    assert not ma.mean.requires_grad
    ma.update(torch.ones(2, 4), mu=1.0)  # mu = 1: pure accumulation
    np.testing.assert_allclose(ma.mean.numpy(), c + 1, rtol=1e-5)


def test_mu_from_lr_matches_reference_table():
    # docs/method.md 1.5 table: ImageNet-LT cosine schedule, lr0 = 0.2, 90 epochs, lr_e = 0.1 (1 + cos(pi e / 90))
    def lr(e):
        return 0.1 * (1 + math.cos(math.pi * e / 90))

    assert all(mu_from_lr(lr(e)) == 0.9 for e in range(1, 72))
    for e, mu in [(72, 0.90451), (75, 0.93301), (80, 0.96985), (85, 0.99240), (88, 0.99878), (89, 0.99970), (90, 1.0)]:
        assert mu_from_lr(lr(e)) == pytest.approx(mu, abs=1e-5)


def test_counterfactual_terms_are_the_alpha_term_of_tde():
    from ltkit.tde import alpha_from_cosines, counterfactual_terms

    g = torch.Generator().manual_seed(3)
    x, w, c = (
        torch.randn(7, 12, generator=g).double(),
        torch.randn(5, 12, generator=g).double(),
        torch.randn(12, generator=g).double(),
    )
    cos, proj = counterfactual_terms(x, w, c, num_head=3, gamma=0.1)
    direction = cos @ proj
    z = causal_norm_logits(x, w, num_head=3, tau=16.0, gamma=0.1)
    for alpha in (0.0, 0.7, 2.5):
        torch.testing.assert_close(
            z - alpha * 16.0 / 3 * direction, tde_logits(x, w, c, alpha=alpha, num_head=3, tau=16.0, gamma=0.1)
        )
    assert alpha_from_cosines(cos.abs()) == pytest.approx(1 / cos.abs().mean().item())
    with pytest.raises(ValueError, match="no positive cosine"):
        alpha_from_cosines(torch.zeros(0, 3))
