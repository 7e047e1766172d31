"""Golden runs: short seeded trainings in float64 whose final weights, moving-average feature,
losses and metrics must match a committed reference to float64 rounding (1e-9 relative).

They guard refactorings that must not move a single number: a change to the training
arithmetic, the data order, the initialisation or the evaluation fails here. float64 makes the
reference hold on every CPU (float32 and bf16 kernels round differently from one CPU to the
next; in float64 those differences stay near 1e-16 over a few steps). Checked with 1 and 2
threads and with torch's AVX2 kernels on an AVX-512 machine (``ATEN_CPU_CAPABILITY=avx2``); the
no-SIMD fallback (``ATEN_CPU_CAPABILITY=default``) draws other random numbers for the
initialisation, so a CPU without AVX2 would not match.

A change that is meant to move numbers rewrites the reference, deliberately and in its own
commit: ``LTKIT_WRITE_GOLDEN=1 python -m pytest tests/test_golden.py``.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from test_data import write_fake_cifar10

import ltkit
from ltkit.runs.record import read_run

GOLDEN = Path(__file__).parent / "golden"
RTOL, ATOL = 1e-9, 1e-12

#: name -> (preset, RunConfig overrides); data_root "<cifar>" is the generated CIFAR-10 fixture
CASES = {
    "synthetic_tde": (
        "synthetic_tde",
        dict(imb_ratio=10, synthetic_n_max=60, synthetic_image_size=8, epochs=2, steps_per_epoch=3, batch_size=32),
    ),
    "cifar10_lt_tde": (
        "cifar10_lt_tde",
        dict(data_root="<cifar>", imb_ratio=10, epochs=2, steps_per_epoch=2, batch_size=32, amp=False, compile=False),
    ),
}


def summarize(run_dir: Path) -> dict:
    """What the reference keeps of a run: per weight tensor its sum, its L2 norm and four elements
    (first, a third, two thirds, last); the whole moving-average feature; each epoch's loss and
    train accuracy; the metrics of run.json."""
    ckpt = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=False)
    weights = {}
    for name, t in ckpt["model"].items():
        flat = t.detach().reshape(-1)
        if not flat.is_floating_point():
            weights[name] = {"values": flat.tolist()}
            continue
        flat = flat.double()
        n = flat.numel()
        picks = sorted({0, n // 3, 2 * n // 3, n - 1})
        weights[name] = {"sum": flat.sum().item(), "norm": flat.norm().item(), "picks": flat[picks].tolist()}
    rec = read_run(run_dir)
    return {
        "weights": weights,
        "moving_average": ckpt["model"]["moving_average.mean"].double().tolist(),
        "history": [{k: h[k] for k in ("epoch", "loss", "train_acc")} for h in ckpt["history"]],
        "metrics": {
            ev: {k: m[k] for k in ("overall", "many", "medium", "few", "alpha") if k in m}
            for ev, m in rec["metrics"].items()
        },
        "precision": rec["precision"],
    }


def _close(a, b, where):
    if isinstance(a, dict):
        assert set(a) == set(b), (where, sorted(set(a) ^ set(b)))
        for k in a:
            _close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{where}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert a is not None and b is not None and np.isclose(a, b, rtol=RTOL, atol=ATOL), (where, a, b)
    else:
        assert a == b, (where, a, b)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_run_matches_its_reference(name, tmp_path):
    preset, overrides = CASES[name]
    if overrides.get("data_root") == "<cifar>":
        write_fake_cifar10(tmp_path / "cifar")
        overrides = dict(overrides, data_root=str(tmp_path / "cifar"))
    cfg = ltkit.RunConfig.preset(
        preset,
        **overrides,
        dtype="float64",
        device="cpu",
        progress=False,
        num_workers=0,
        eval_batch_size=256,
        output_dir=str(tmp_path / "run"),
    )
    ltkit.run(cfg, log=lambda *_: None)
    got = summarize(tmp_path / "run")
    assert got["precision"] == "fp64"
    path = GOLDEN / f"{name}.json"
    if os.environ.get("LTKIT_WRITE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(got, indent=1) + "\n")
    reference = json.loads(path.read_text())
    _close(got, reference, name)


def test_the_comparison_catches_a_change_below_float32_rounding():
    """The tolerance is float64's: a relative change of 1e-7 (about one float32 ulp) fails it."""
    ref = json.loads((GOLDEN / "synthetic_tde.json").read_text())
    name = next(iter(ref["weights"]))
    changed = json.loads(json.dumps(ref))
    changed["weights"][name]["norm"] *= 1 + 1e-7
    with pytest.raises(AssertionError):
        _close(changed, ref, "synthetic_tde")
    _close(json.loads(json.dumps(ref)), ref, "synthetic_tde")
