"""ltkit.report.posthoc: every sweep value against the logits written out independently, scored one
value at a time with ltkit.evaluate.shot_accuracy."""

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from ltkit.evaluate import shot_accuracy
from ltkit.report.posthoc import (
    DEFAULT_ALPHAS,
    CachedOutputs,
    best_row,
    load_outputs,
    logit_adjustment_sweep,
    ncm,
    tau_norm_sweep,
    tde_alpha_sweep,
)
from ltkit.tde import causal_norm_logits, suggest_alpha, tde_logits

D, C, N = 12, 12, 900
# 4 many (> 100), 4 medium (20..100, both thresholds included), 4 few (< 20) classes
COUNTS = np.array([500, 300, 150, 101, 100, 60, 30, 20, 19, 10, 5, 1])


def _outputs(
    classifier="causal_norm",
    num_head=2,
    *,
    tau=16.0,
    gamma=1 / 32,
    counts=COUNTS,
    seed=0,
    class_means=True,
    logits=True,
) -> CachedOutputs:
    """Synthetic cached outputs: non-negative features that lean towards their class's weight
    row and towards a shared mean direction (so TDE changes predictions)."""
    rng = np.random.default_rng(seed)
    c = len(counts)
    w = rng.normal(size=(c, D)).astype(np.float32)
    mean_dir = np.abs(rng.normal(size=D)) + 0.5
    # the frequent classes dominate the test set less than the train set, as in LT benchmarks
    labels = rng.integers(0, c, size=N)
    x = np.abs(0.8 * w[labels] + 0.6 * mean_dir + rng.normal(scale=0.7, size=(N, D))).astype(np.float32)
    mean_feature = (7.0 * (mean_dir + 0.1 * rng.normal(size=D))).astype(np.float32)
    params = dict(classifier=classifier, num_head=num_head, tau=tau, gamma=gamma, alpha=None, tau_norm_p=1.0)
    lg = {}
    if logits:
        xt, wt = torch.from_numpy(x), torch.from_numpy(w)
        if classifier in ("linear", "tau_norm"):
            lg["plain"] = (xt @ wt.t()).numpy()
        else:
            lg["plain"] = causal_norm_logits(
                xt,
                wt,
                num_head=num_head,
                tau=tau,
                gamma=0.0 if classifier != "causal_norm" else gamma,
                feature_norm="squash" if classifier == "capsule" else "l2",
            ).numpy()
    means = np.stack([x[labels == i].mean(0) if (labels == i).any() else np.zeros(D) for i in range(c)])
    return CachedOutputs(
        features=x,
        labels=labels,
        weight=w,
        mean_feature=mean_feature,
        train_counts=counts,
        logits=lg,
        class_means=means.astype(np.float32) if class_means else None,
        params=params,
    )


def _row_equals(row, expected):
    for k in ("overall", "many", "medium", "few"):
        if expected[k] is None:
            assert math.isnan(row[k]), k
        else:
            assert row[k] == pytest.approx(expected[k], abs=1e-9), k


def _score(logits, out):
    preds = np.asarray(logits).argmax(1)
    return shot_accuracy(preds, out.labels, out.train_counts)


# ------------------------------------------------------------------------------ TDE alpha sweep

ALPHAS = [0.0, 0.3, 0.75, 1.0, 1.7, 3.0]


@pytest.mark.parametrize(
    "classifier,num_head",
    [
        ("causal_norm", 1),
        ("causal_norm", 2),
        ("causal_norm", 3),
        ("cosine", 2),
        ("cosine", 1),
        ("capsule", 2),
        ("capsule", 4),
    ],
)
def test_alpha_sweep_equals_tde_logits(classifier, num_head):
    out = _outputs(classifier, num_head)
    df = tde_alpha_sweep(out, ALPHAS)
    assert list(df.columns) == ["alpha", "overall", "many", "medium", "few"]
    assert df["alpha"].tolist() == ALPHAS
    # cosine / capsule ignore the config's gamma (1/32 here): their weights use gamma 0
    gamma = 1 / 32 if classifier == "causal_norm" else 0.0
    fn = "squash" if classifier == "capsule" else "l2"
    x, w, c = (torch.from_numpy(a) for a in (out.features, out.weight, out.mean_feature))
    scores = []
    for i, a in enumerate(ALPHAS):
        ref = tde_logits(x, w, c, alpha=a, num_head=num_head, tau=16.0, gamma=gamma, feature_norm=fn)
        expected = _score(ref, out)
        _row_equals(df.iloc[i], expected)
        scores.append(expected["overall"])
    assert len(set(scores)) > 1, "the synthetic data should make alpha matter"
    # alpha = 0 is the plain classifier
    plain = causal_norm_logits(x, w, num_head=num_head, tau=16.0, gamma=gamma, feature_norm=fn)
    _row_equals(df.iloc[0], _score(plain, out))
    _row_equals(df.iloc[0], _score(out.logits["plain"], out))
    assert df.attrs["suggested_alpha"] == pytest.approx(suggest_alpha(x, c, num_head=num_head))
    assert df.attrs["gamma"] == gamma and df.attrs["feature_norm"] == fn


def test_alpha_sweep_default_grid_and_other_tau():
    out = _outputs("causal_norm", 2, tau=10.0, gamma=0.1)
    df = tde_alpha_sweep(out)
    assert len(df) == 21 and np.allclose(df["alpha"], np.round(np.linspace(0, 3, 21), 2))
    assert np.array_equal(df["alpha"].to_numpy(), DEFAULT_ALPHAS)
    x, w, c = (torch.from_numpy(a) for a in (out.features, out.weight, out.mean_feature))
    for i in (0, 7, 20):
        a = float(df["alpha"].iloc[i])
        ref = tde_logits(x, w, c, alpha=a, num_head=2, tau=10.0, gamma=0.1)
        _row_equals(df.iloc[i], _score(ref, out))


def test_alpha_sweep_zero_mean_feature_is_plain():
    out = _outputs()
    out.mean_feature = np.zeros(D, dtype=np.float32)
    df = tde_alpha_sweep(out, [0.0, 2.0])
    assert df.attrs["suggested_alpha"] is None
    _row_equals(df.iloc[1], _score(out.logits["plain"], out))


def test_empty_group_is_nan():
    counts = np.array([500, 300, 200, 150, 120, 110, 101, 100, 80, 50, 30, 20])  # no few-shot class
    out = _outputs(counts=counts)
    for df in (tde_alpha_sweep(out, [0.0, 1.0]), logit_adjustment_sweep(out, [0.0, 1.0])):
        assert df["few"].isna().all() and df["many"].notna().all()


def test_absent_test_class_is_skipped_like_shot_accuracy():
    out = _outputs()
    keep = out.labels != 11  # the only class with 1 training image has no test sample now
    out = CachedOutputs(
        features=out.features[keep],
        labels=out.labels[keep],
        weight=out.weight,
        mean_feature=out.mean_feature,
        train_counts=out.train_counts,
        logits={"plain": out.logits["plain"][keep]},
        params=out.params,
    )
    df = tde_alpha_sweep(out, [0.0, 1.0])
    x, w, c = (torch.from_numpy(a) for a in (out.features, out.weight, out.mean_feature))
    _row_equals(df.iloc[1], _score(tde_logits(x, w, c, alpha=1.0), out))


def test_alpha_sweep_rejects_linear_runs():
    with pytest.raises(ValueError, match="'linear'"):
        tde_alpha_sweep(_outputs("linear"))
    with pytest.raises(ValueError, match="'lws'"):
        tde_alpha_sweep(dataclasses.replace(_outputs("linear"), params={"classifier": "lws"}))


# ------------------------------------------------------------------------------ tau-norm


@pytest.mark.parametrize("classifier", ["linear", "tau_norm"])
def test_tau_norm_sweep_ends(classifier):
    out = _outputs(classifier)
    df = tau_norm_sweep(out, [0.0, 0.5, 1.0])
    x, w = out.features.astype(np.float64), out.weight.astype(np.float64)
    _row_equals(df.iloc[0], _score(x @ w.T, out))
    _row_equals(df.iloc[0], _score(out.logits["plain"], out))
    w_unit = w / np.sqrt((w**2).sum(1, keepdims=True))
    _row_equals(df.iloc[2], _score(x @ w_unit.T, out))
    w_half = w / np.sqrt(np.sqrt((w**2).sum(1, keepdims=True)))
    _row_equals(df.iloc[1], _score(x @ w_half.T, out))
    default = tau_norm_sweep(out)
    assert list(default.columns) == ["tau", "overall", "many", "medium", "few"]
    assert len(default) == 21 and default["tau"].iloc[0] == 0.0 and default["tau"].iloc[-1] == 2.0


@pytest.mark.parametrize("classifier", ["causal_norm", "cosine", "capsule"])
def test_tau_norm_sweep_rejects_normalized_heads(classifier):
    with pytest.raises(ValueError, match=repr(classifier)):
        tau_norm_sweep(_outputs(classifier))


# ------------------------------------------------------------------------------ logit adjustment


@pytest.mark.parametrize("classifier", ["linear", "causal_norm"])
def test_logit_adjustment_ends(classifier):
    out = _outputs(classifier)
    df = logit_adjustment_sweep(out, [0.0, 1.0, 2.0])
    z = out.logits["plain"].astype(np.float64)
    _row_equals(df.iloc[0], _score(z, out))
    log_prior = np.log(COUNTS / COUNTS.sum())
    _row_equals(df.iloc[1], _score(z - log_prior, out))
    _row_equals(df.iloc[2], _score(z - 2.0 * log_prior, out))
    # the adjustment helps the tail: few-shot accuracy does not drop at tau = 1
    assert df["few"].iloc[1] >= df["few"].iloc[0]
    assert len(logit_adjustment_sweep(out)) == 21


def test_logit_adjustment_rebuilds_missing_plain_logits():
    with_logits, without = _outputs("causal_norm"), _outputs("causal_norm", logits=False)
    pd.testing.assert_frame_equal(
        logit_adjustment_sweep(with_logits, [0.0, 1.0]), logit_adjustment_sweep(without, [0.0, 1.0])
    )


def test_logit_adjustment_needs_positive_counts():
    counts = COUNTS.copy()
    counts[-1] = 0
    with pytest.raises(ValueError, match="positive train count"):
        logit_adjustment_sweep(_outputs(counts=counts))


# ------------------------------------------------------------------------------ NCM


def test_ncm_hand_made_case():
    # class 0: a long mean vector; class 1 and 2: unit vectors. Euclidean NCM would send the
    # first two samples to class 1 (they are short); by cosine they belong to class 0.
    means = np.array([[10.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]], dtype=np.float32)
    feats = np.array(
        [
            [1.0, 0.5, 0, 0],  # class 0, cos 0.89 vs 0.45 -> 0 (correct)
            [0.5, 0.3, 0, 1],  # class 0, cos 0.44 vs 0.26 -> 0 (correct)
            [0, 2.0, 0.5, 0],  # class 1 -> 1 (correct)
            [0, 0.2, 3.0, 0],  # class 1 -> 2 (wrong)
            [0.1, 0, 0.3, 0],  # class 2 -> 2 (correct)
        ],
        dtype=np.float32,
    )
    labels = np.array([0, 0, 1, 1, 2])
    out = CachedOutputs(
        features=feats,
        labels=labels,
        weight=np.zeros((3, 4), np.float32),
        mean_feature=np.ones(4, np.float32),
        train_counts=np.array([200, 50, 5]),
        class_means=means,
        params={"classifier": "linear"},
    )
    assert ncm(out) == {"overall": 80.0, "many": 100.0, "medium": 50.0, "few": 100.0}


def test_ncm_without_class_means():
    with pytest.raises(ValueError, match="predates class-mean caching"):
        ncm(_outputs(class_means=False))


# ------------------------------------------------------------------------------ run folders


def _write_run(run_dir, out: CachedOutputs, *, class_means=True):
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "run.json").write_text(json.dumps({"status": "complete", "params": out.params, "metrics": {}}))
    arrays = dict(
        features=out.features,
        labels=out.labels,
        weight=out.weight,
        mean_feature=out.mean_feature,
        train_counts=out.train_counts,
        **{f"logits_{k}": v for k, v in out.logits.items()},
    )
    if class_means:
        arrays["class_means"] = out.class_means
    np.savez_compressed(run_dir / "outputs.npz", **arrays)


def test_load_outputs_roundtrip(tmp_path):
    out = _outputs("capsule", 2)
    _write_run(tmp_path / "run", out)
    loaded = load_outputs(tmp_path / "run")
    assert loaded.run_dir == tmp_path / "run" and loaded.classifier == "capsule"
    assert loaded.params == out.params
    for k in ("features", "labels", "weight", "mean_feature", "train_counts", "class_means"):
        np.testing.assert_array_equal(getattr(loaded, k), getattr(out, k))
    np.testing.assert_array_equal(loaded.logits_plain, out.logits["plain"])
    pd.testing.assert_frame_equal(tde_alpha_sweep(loaded, ALPHAS), tde_alpha_sweep(out, ALPHAS), check_like=True)
    assert ncm(loaded) == ncm(out)
    assert "capsule" in repr(loaded)


def test_load_outputs_old_run_has_no_class_means(tmp_path):
    _write_run(tmp_path / "old", _outputs(), class_means=False)
    loaded = load_outputs(tmp_path / "old")
    assert loaded.class_means is None
    with pytest.raises(ValueError, match="predates class-mean caching"):
        ncm(loaded)


def test_load_outputs_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"outputs\.npz.*ltkit\.run"):
        load_outputs(tmp_path)
    _write_run(tmp_path / "r", _outputs())
    (tmp_path / "r" / "run.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"run\.json"):
        load_outputs(tmp_path / "r")


# ------------------------------------------------------------------------------ best_row


def test_best_row():
    df = pd.DataFrame(
        {
            "alpha": [0.0, 0.5, 1.0, 1.5],
            "overall": [50.0, 60.0, 60.0, 55.0],
            "many": [90.0, 80.0, 70.0, 60.0],
            "medium": [40.0] * 4,
            "few": [np.nan] * 4,
        }
    )
    assert best_row(df)["alpha"] == 0.5  # first on ties
    assert best_row(df, "many")["alpha"] == 0.0
    with pytest.raises(ValueError, match="NaN"):
        best_row(df, "few")
    with pytest.raises(ValueError, match="column"):
        best_row(df, "top5")
    sweep = tde_alpha_sweep(_outputs(), ALPHAS)
    assert best_row(sweep)["overall"] == sweep["overall"].max()
