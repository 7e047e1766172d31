"""Time ``ltkit.report.posthoc.tde_alpha_sweep`` against a naive loop over ``ltkit.tde.tde_logits``.

Random non-negative features (post-ReLU-like), N x D, C classes, a long-tailed count profile,
21 alphas (the sweep's default grid). The naive loop recomputes the full TDE logits for every
alpha and scores each with ``ltkit.evaluate.shot_accuracy``; the sweep computes the alpha-free
terms once. The largest difference between the two tables is printed (0 unless a float32
near-tie flips a prediction). Each is timed ``--repeats`` times; the
best time is reported. Small and CPU-friendly: a few seconds.

    python benchmarks/speed/posthoc_sweep.py [--n 10000] [--d 128] [--c 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from ltkit.evaluate import shot_accuracy
from ltkit.report.posthoc import DEFAULT_ALPHAS, CachedOutputs, tde_alpha_sweep
from ltkit.runs.provenance import Report
from ltkit.tde import tde_logits

RESULTS = Path(__file__).resolve().parents[2] / "results" / "benchmarks"


def make_outputs(n: int, d: int, c: int, seed: int = 0) -> CachedOutputs:
    rng = np.random.default_rng(seed)
    counts = np.round(500 * (0.01 ** (np.arange(c) / max(c - 1, 1)))).astype(np.int64)  # 500 .. 5
    return CachedOutputs(
        features=np.abs(rng.normal(size=(n, d))).astype(np.float32),
        labels=rng.integers(0, c, size=n),
        weight=rng.normal(size=(c, d)).astype(np.float32),
        mean_feature=np.abs(rng.normal(size=d)).astype(np.float32) * 7.0,
        train_counts=counts,
        params=dict(classifier="causal_norm", num_head=2, tau=16.0, gamma=1 / 32),
    )


def naive(out: CachedOutputs, alphas) -> list:
    x, w, c = (torch.from_numpy(a) for a in (out.features, out.weight, out.mean_feature))
    rows = []
    for a in alphas:
        preds = tde_logits(x, w, c, alpha=float(a), num_head=2, tau=16.0, gamma=1 / 32).argmax(1).numpy()
        rows.append(shot_accuracy(preds, out.labels, out.train_counts))
    return rows


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--c", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--output",
        default=str(RESULTS / "posthoc_sweep_cpu.txt"),
        help="the record to write (default results/benchmarks/posthoc_sweep_cpu.txt; '-': print only)",
    )
    args = ap.parse_args()
    rep = Report()  # the provenance (commit, date, machine) of the code as it starts

    out = make_outputs(args.n, args.d, args.c)
    alphas = DEFAULT_ALPHAS
    df = tde_alpha_sweep(out, alphas)  # warm-up, and the equality check
    ref = naive(out, alphas)
    # the two agree up to float32 rounding (see ltkit.report.posthoc): report the largest difference
    diff = max(abs(df[k].iloc[i] - r[k]) for i, r in enumerate(ref) for k in ("overall", "many", "medium", "few"))

    t_sweep = best_time(lambda: tde_alpha_sweep(out, alphas), args.repeats)
    t_naive = best_time(lambda: naive(out, alphas), args.repeats)
    rep(f"# device cpu, {torch.get_num_threads()} threads")
    rep(f"N={args.n}  D={args.d}  C={args.c}  alphas={len(alphas)}  best of {args.repeats}")
    rep(f"{'method':<32}{'seconds':>10}")
    rep(f"{'tde_alpha_sweep':<32}{t_sweep:>10.4f}")
    rep(f"{'naive loop (tde_logits/alpha)':<32}{t_naive:>10.4f}")
    rep(f"{'ratio naive / sweep':<32}{t_naive / t_sweep:>10.1f}x")
    rep(f"max |sweep - naive| over all metrics and alphas: {diff:.3g} percentage points")
    rep.write(args.output)


if __name__ == "__main__":
    main()
