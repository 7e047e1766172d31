"""Post-hoc analysis from a run's cached test outputs: sweeps and baselines that need no retraining.

Everything here reads ``outputs.npz`` and ``run.json`` of a finished run (``load_outputs``)
and works on the cached test features, so a whole sweep takes milliseconds, not a training
run. Notation as in ``ltkit.tde``: features x (N, D), classifier weight W (C, D) with rows
w_i, moving-average feature c (D,), K heads, training class counts n_i.

* ``tde_alpha_sweep`` -- the TDE logits of docs/method.md 1.4 for a grid of alpha::

      TDE_i(alpha) = z_i - alpha * b_i,   b_i = (tau / K) * sum_k cos_k * < c_hat^(k), w_hat_i^(k) >

  with z the multi-head normalized logits. z and b do not depend on alpha, so they are
  computed once (``ltkit.tde.counterfactual_terms``, as ``ltkit.tde.tde_logits`` does); each alpha then costs
  one scaled subtraction and an argmax. The logits equal ``tde_logits``'s up to float32
  rounding (it scales cos before the product with the projections, this scales after: a
  difference of about 1e-7 * tau), so a prediction can differ only for a sample whose two
  best TDE logits tie to that precision. alpha = 0 gives exactly the plain logits.
  Only for classifiers that support TDE (``causal_norm``, ``cosine``, ``capsule``), with the
  run's ``num_head`` and ``tau``; gamma is the run's for ``causal_norm`` and 0 for ``cosine``
  / ``capsule`` (whatever the config says, as in ``ltkit.models.classifiers``), and the
  capsule head squashes the features (``feature_norm="squash"``). Default grid:
  ``np.round(np.linspace(0, 3, 21), 2)`` (steps of 0.15, alpha = 0 is the plain logits),
  the same for every run so sweeps compare; ``df.attrs["suggested_alpha"]`` holds the
  label-free heuristic of ``ltkit.tde.suggest_alpha`` on the test features (None when the
  moving average is zero) and ``df.attrs["run_alpha"]`` the alpha the run was configured with.

* ``tau_norm_sweep`` -- Decoupling's tau-normalization (Kang et al., ICLR 2020) of a linear
  classifier, for a grid of exponents tau::

      logits_i(tau) = < x, w_i / ||w_i||^tau >  =  < x, w_i > / ||w_i||^tau

  tau = 0 is the plain linear classifier, tau = 1 the fully normalized one. This tau is the
  RunConfig's ``tau_norm_p``, not the TDE temperature ``tau``. Default grid
  ``np.linspace(0, 2, 21)``. For ``linear`` and ``tau_norm`` runs; for an ``lws`` run it is
  applied to the frozen stage-1 W (``fc.weight``) without the learnt scales, i.e. it is the
  tau-norm alternative to LWS on the same weights (tau = 0 is then the stage-1 classifier,
  not the LWS logits). Normalized classifiers raise ValueError: their per-head weights are
  normalized inside the logits already, so rescaling W changes nothing (``causal_norm``'s
  gamma aside) and a sweep would only mislead.

* ``logit_adjustment_sweep`` -- post-hoc logit adjustment (Menon et al., ICLR 2021)::

      logits_i(tau) = logits_plain_i - tau * log(prior_i),   prior_i = n_i / sum_j n_j

  on the run's plain logits (any classifier). tau = 0 is plain, tau = 1 the Bayes-optimal
  correction for a balanced test set under the trained-on-prior assumption. Default grid
  ``np.linspace(0, 2, 21)``. Every class needs a positive train count (log 0 is undefined).

* ``ncm`` -- nearest class mean: each test feature goes to the class whose mean *training*
  feature (``class_means``, un-augmented images, cached by ``ltkit.run``) has the largest
  cosine similarity, i.e. both are L2-normalized and compared by dot product (equivalently:
  nearest in Euclidean distance after normalization). Cosine, not raw Euclidean distance,
  because backbone feature norms vary with the class frequency, which is the bias
  long-tail methods try to remove. A class without training images has a zero mean and
  cosine 0 with everything.

Every score is the ``ltkit.evaluate.shot_accuracy`` one: overall = micro top-1 (%), many
(n > 100) / medium / few (n < 20) = the unweighted mean of the per-class accuracies of the
group's classes present in the test labels; an empty group is NaN in a DataFrame and None
in ``ncm``'s dict. Sweeps compute the per-class accuracies of all sweep values at once.

**Picking the best value of a sweep on these outputs is tuning on the test set**: the cached
features are the test split (for CIFAR-LT the authors' val split *is* the test split,
docs/method.md 1.9). The sweeps are for analysis -- how sensitive a method is to its knob, what
the head/tail trade-off looks like. ``best_row`` reports an optimistic upper bound, not a
result to put next to the paper's numbers; choose alpha without labels (``suggest_alpha``)
or on a held-out split for that.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Union

import numpy as np
import pandas as pd
import torch

from ..evaluate import GROUPS, shot_accuracy, shot_accuracy_many
from ..models.classifiers import (
    classifier_type,
    linear_classifiers,
    tde_classifiers,
    tde_settings,
)
from ..tde import alpha_from_cosines, causal_norm_logits, counterfactual_terms

__all__ = [
    "CachedOutputs",
    "load_outputs",
    "tde_alpha_sweep",
    "tau_norm_sweep",
    "logit_adjustment_sweep",
    "ncm",
    "best_row",
    "TDE_CLASSIFIERS",
    "LINEAR_CLASSIFIERS",
    "DEFAULT_ALPHAS",
    "DEFAULT_TAUS",
]

OUTPUTS_NPZ = "outputs.npz"
RUN_JSON = "run.json"

#: classifiers with TDE logits (read off the classifier registry's traits)
TDE_CLASSIFIERS = tde_classifiers()
#: classifiers whose cached ``weight`` is a plain linear W (tau-normalization applies)
LINEAR_CLASSIFIERS = linear_classifiers()

DEFAULT_ALPHAS = np.round(np.linspace(0.0, 3.0, 21), 2)
DEFAULT_TAUS = np.round(np.linspace(0.0, 2.0, 21), 2)

METRIC_COLUMNS = ("overall",) + GROUPS


@dataclass
class CachedOutputs:
    """A run's cached test outputs (``outputs.npz``) and its parameters (``run.json``).

    Arrays are NumPy, as stored: ``features`` (N, D) float32, ``labels`` (N,) int64, ``weight``
    (C, D) (``fc.weight`` for linear / tau_norm / lws, the head weight for normalized heads),
    ``mean_feature`` (D,), ``train_counts`` (C,), ``logits`` by evaluation name (``"plain"``,
    ``"tde"``, ``"tau_norm"``: the npz's ``logits_<name>``), and ``class_means`` (C, D) or
    None for runs written before class means were cached.
    """

    features: np.ndarray
    labels: np.ndarray
    weight: np.ndarray
    mean_feature: np.ndarray
    train_counts: np.ndarray
    logits: Dict[str, np.ndarray] = field(default_factory=dict)
    class_means: Optional[np.ndarray] = None
    params: Dict[str, Any] = field(default_factory=dict)
    run_dir: Optional[Path] = None

    def __post_init__(self):
        self.features = np.asarray(self.features)
        self.labels = np.asarray(self.labels).astype(np.int64, copy=False)
        self.weight = np.asarray(self.weight)
        self.mean_feature = np.asarray(self.mean_feature).reshape(-1)
        self.train_counts = np.asarray(self.train_counts).astype(np.int64, copy=False)
        self.logits = {k: np.asarray(v) for k, v in (self.logits or {}).items()}
        if self.class_means is not None:
            self.class_means = np.asarray(self.class_means)
        if self.run_dir is not None:
            self.run_dir = Path(self.run_dir)
        if self.features.ndim != 2:
            raise ValueError(f"features: must be (N, D), got shape {self.features.shape}")
        n = len(self.features)
        if self.labels.shape != (n,):
            raise ValueError(f"labels: must be ({n},) to match the features, got shape {self.labels.shape}")
        if self.train_counts.ndim != 1:
            raise ValueError(f"train_counts: must be 1-d, got shape {self.train_counts.shape}")
        c = len(self.train_counts)
        if n and (self.labels.min() < 0 or self.labels.max() >= c):
            raise ValueError(
                f"labels: must lie in [0, {c}) for {c} classes, got [{self.labels.min()}, {self.labels.max()}]"
            )
        for name, lg in self.logits.items():
            if lg.shape != (n, c):
                raise ValueError(f"logits_{name}: must be ({n}, {c}), got shape {lg.shape}")

    @property
    def classifier(self) -> Optional[str]:
        return self.params.get("classifier")

    @property
    def num_classes(self) -> int:
        return len(self.train_counts)

    @property
    def logits_plain(self) -> Optional[np.ndarray]:
        return self.logits.get("plain")

    def __repr__(self) -> str:  # the default one would print every array
        n, d = self.features.shape
        return (
            f"CachedOutputs(run_dir={str(self.run_dir)!r}, classifier={self.classifier!r}, N={n}, D={d}, "
            f"C={self.num_classes}, logits={sorted(self.logits)}, class_means={self.class_means is not None})"
        )


def load_outputs(run_dir: Union[str, Path]) -> CachedOutputs:
    """Read ``run_dir/outputs.npz`` and ``run_dir/run.json`` into a :class:`CachedOutputs`."""
    run_dir = Path(run_dir)
    npz, rec = run_dir / OUTPUTS_NPZ, run_dir / RUN_JSON
    if not npz.is_file():
        raise FileNotFoundError(
            f"{npz} does not exist: {OUTPUTS_NPZ} is written at the end of ltkit.run (after training and "
            "evaluation), so this run is unfinished, failed, or is not a run folder"
        )
    if not rec.is_file():
        raise FileNotFoundError(f"{rec} does not exist: post-hoc analysis needs the run's parameters from {RUN_JSON}")
    with open(rec) as f:
        params = json.load(f).get("params", {})
    with np.load(npz, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    missing = [k for k in ("features", "labels", "weight", "mean_feature", "train_counts") if k not in arrays]
    if missing:
        raise ValueError(f"{npz} lacks {', '.join(missing)}; it was not written by ltkit.run")
    return CachedOutputs(
        features=arrays["features"],
        labels=arrays["labels"],
        weight=arrays["weight"],
        mean_feature=arrays["mean_feature"],
        train_counts=arrays["train_counts"],
        logits={k[len("logits_") :]: v for k, v in arrays.items() if k.startswith("logits_")},
        class_means=arrays.get("class_means"),
        params=params,
        run_dir=run_dir,
    )


# --------------------------------------------------------------------------------- metrics


def _sweep_frame(name: str, values: np.ndarray, preds: np.ndarray, out: CachedOutputs) -> pd.DataFrame:
    m = shot_accuracy_many(preds, out.labels, out.train_counts)
    df = pd.DataFrame({name: values, **{k: m[k] for k in METRIC_COLUMNS}})
    df.attrs["run_dir"] = str(out.run_dir) if out.run_dir is not None else None
    df.attrs["classifier"] = out.classifier
    return df


def _grid(values: Optional[Iterable[float]], default: np.ndarray, name: str) -> np.ndarray:
    v = np.array(default if values is None else list(np.atleast_1d(values)), dtype=float)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"{name}: need a non-empty 1-d list of values, got {values!r}")
    if not np.isfinite(v).all():
        raise ValueError(f"{name}: values must be finite, got {v.tolist()}")
    return v


def _check_weight(out: CachedOutputs) -> None:
    expected = (out.num_classes, out.features.shape[1])
    if out.weight.shape != expected:
        raise ValueError(
            f"weight: expected {expected} (C, D), got {out.weight.shape}; the run's classifier "
            f"{out.classifier!r} may have no weight matrix"
        )


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


# --------------------------------------------------------------------------------- sweeps


def _tde_kw(out: CachedOutputs) -> dict:
    name = out.classifier
    if name not in TDE_CLASSIFIERS:
        raise ValueError(
            f"classifier {name!r} has no TDE logits; tde_alpha_sweep needs a run with classifier one of "
            f"{TDE_CLASSIFIERS} (use tau_norm_sweep or logit_adjustment_sweep for other classifiers)"
        )
    p = out.params
    fixed_gamma = classifier_type(name).fixed_gamma is not None
    missing = [k for k in ("num_head", "tau") if p.get(k) is None] + (
        ["gamma"] if not fixed_gamma and p.get("gamma") is None else []
    )
    if missing:
        raise ValueError(f"the run's params lack {', '.join(missing)}, needed for the {name} logits")
    return tde_settings(name, num_head=p["num_head"], tau=p["tau"], gamma=0.0 if fixed_gamma else p["gamma"])


def tde_alpha_sweep(out: CachedOutputs, alphas: Optional[Iterable[float]] = None) -> pd.DataFrame:
    """Accuracy of the TDE logits for each alpha: columns alpha, overall, many, medium, few (%).

    One row per alpha, in the order given (default ``DEFAULT_ALPHAS`` = 0, 0.15, ..., 3).
    ``df.attrs``: ``suggested_alpha`` (``ltkit.tde.suggest_alpha``, None if undefined),
    ``run_alpha`` (the run's configured alpha, None = it used suggest_alpha), ``num_head``,
    ``tau``, ``gamma``, ``feature_norm``. ValueError for a classifier without TDE.
    """
    kw = _tde_kw(out)
    _check_weight(out)
    a = _grid(alphas, DEFAULT_ALPHAS, "alphas")
    x = _t(out.features)
    w, c = _t(out.weight).to(x), _t(out.mean_feature).to(x)
    k, tau = kw["num_head"], kw["tau"]
    with torch.no_grad():
        # the two terms of ltkit.tde.tde_logits, once: TDE = z - (alpha * tau / K) * direction
        z = causal_norm_logits(x, w, **kw).numpy()
        cos, proj = counterfactual_terms(x, w, c, num_head=k, gamma=kw["gamma"])
        direction = (cos @ proj).numpy()
    # the per-alpha loop in NumPy: single-threaded, so it does not stall when other processes
    # hold the cores, as torch's small multi-threaded kernels did during development
    # (benchmarks/speed/posthoc_sweep.py times the whole sweep)
    buf = np.empty_like(z)
    preds = np.empty((len(a), len(z)), dtype=np.int64)
    for i, alpha in enumerate(a.tolist()):
        np.multiply(direction, z.dtype.type(alpha * tau / k), out=buf)
        np.subtract(z, buf, out=buf)
        preds[i] = buf.argmax(axis=1)
    df = _sweep_frame("alpha", a, preds, out)
    try:  # ltkit.tde.suggest_alpha from the cosines above; None for a zero moving average
        suggested = alpha_from_cosines(cos)
    except ValueError:
        suggested = None
    df.attrs.update(suggested_alpha=suggested, run_alpha=out.params.get("alpha"), **kw)
    return df


def tau_norm_sweep(out: CachedOutputs, taus: Optional[Iterable[float]] = None) -> pd.DataFrame:
    """Accuracy of Decoupling's tau-normalized linear classifier x (W / ||w_i||^tau)^T per tau.

    Columns tau, overall, many, medium, few (%); default taus ``DEFAULT_TAUS`` = 0, 0.1, ..., 2.
    For ``linear`` / ``tau_norm`` / ``lws`` runs (lws: on the frozen W, without the learnt
    scales); ValueError otherwise. ``df.attrs["run_tau_norm_p"]`` is the run's ``tau_norm_p``
    for a ``tau_norm`` run. Weight norms are clamped at 1e-12 as in ``TauNormClassifier``.
    """
    name = out.classifier
    if name not in LINEAR_CLASSIFIERS:
        why = (
            "its weights are normalized inside the logits already, so rescaling them changes nothing"
            if name in TDE_CLASSIFIERS
            else "it is not a linear classifier"
        )
        raise ValueError(f"tau_norm_sweep needs a run with classifier one of {LINEAR_CLASSIFIERS}, not {name!r}: {why}")
    _check_weight(out)
    t = _grid(taus, DEFAULT_TAUS, "taus")
    with torch.no_grad():
        x, w = _t(out.features).double(), _t(out.weight).double()
        dots = x @ w.t()  # (N, C); tau-norm only rescales each class column
        norms = w.norm(dim=1).clamp_min(1e-12)
        preds = np.empty((len(t), len(x)), dtype=np.int64)
        for i, tau in enumerate(t.tolist()):
            preds[i] = (dots / norms.pow(tau)).argmax(dim=1).numpy()
    df = _sweep_frame("tau", t, preds, out)
    df.attrs["run_tau_norm_p"] = out.params.get("tau_norm_p") if name == "tau_norm" else None
    return df


def _plain_logits(out: CachedOutputs) -> torch.Tensor:
    if out.logits_plain is not None:
        return _t(out.logits_plain)
    x, w = _t(out.features), _t(out.weight)
    if out.classifier in LINEAR_CLASSIFIERS and classifier_type(out.classifier).logits_from_weight:
        return x @ w.t()
    if out.classifier in TDE_CLASSIFIERS:
        return causal_norm_logits(x, w, **_tde_kw(out))
    raise ValueError(
        f"the cached outputs have no logits_plain and the {out.classifier!r} logits cannot be rebuilt "
        "from the cached weight"
    )


def logit_adjustment_sweep(out: CachedOutputs, taus: Optional[Iterable[float]] = None) -> pd.DataFrame:
    """Accuracy of the post-hoc logit adjustment logits_plain - tau * log(prior) per tau.

    prior = train_counts / sum(train_counts). Columns tau, overall, many, medium, few (%);
    default taus ``DEFAULT_TAUS``. Any classifier; ValueError if a class has no training image.
    """
    counts = out.train_counts
    if (counts <= 0).any():
        raise ValueError(
            f"logit adjustment needs a positive train count for every class; classes "
            f"{np.flatnonzero(counts <= 0).tolist()} have none (log prior is -inf)"
        )
    t = _grid(taus, DEFAULT_TAUS, "taus")
    with torch.no_grad():
        logits = _plain_logits(out).double()
        log_prior = torch.from_numpy(np.log(counts / counts.sum()))
        preds = np.empty((len(t), logits.shape[0]), dtype=np.int64)
        for i, tau in enumerate(t.tolist()):
            preds[i] = (logits - tau * log_prior).argmax(dim=1).numpy()
    return _sweep_frame("tau", t, preds, out)


def ncm(out: CachedOutputs) -> Dict[str, Optional[float]]:
    """Nearest-class-mean accuracy: argmax_i cos(x, class_means_i). ``shot_accuracy``'s dict."""
    if out.class_means is None:
        where = f" ({out.run_dir})" if out.run_dir is not None else ""
        raise ValueError(
            f"this run{where} predates class-mean caching: its {OUTPUTS_NPZ} has no class_means; "
            "runs written by the current ltkit.run include them"
        )
    m = out.class_means
    if m.shape != (out.num_classes, out.features.shape[1]):
        raise ValueError(f"class_means: expected ({out.num_classes}, {out.features.shape[1]}), got {m.shape}")
    with torch.no_grad():
        x = torch.nn.functional.normalize(_t(out.features).double(), dim=1, eps=1e-12)
        mu = torch.nn.functional.normalize(_t(m).double(), dim=1, eps=1e-12)
        preds = (x @ mu.t()).argmax(dim=1).numpy()
    return shot_accuracy(preds, out.labels, out.train_counts)


def best_row(df: pd.DataFrame, metric: str = "overall") -> pd.Series:
    """The sweep row with the highest ``metric`` (first such row on ties; NaN rows never win).

    Selecting on test outputs is test-set tuning: an optimistic bound, see the module docstring.
    """
    if metric not in df.columns:
        raise ValueError(f"metric: {metric!r} is not a column; choose from {list(df.columns)}")
    col = pd.to_numeric(df[metric], errors="coerce")
    if col.isna().all():
        raise ValueError(f"metric: {metric!r} is NaN in every row (an empty shot group?)")
    return df.loc[col.idxmax()]
