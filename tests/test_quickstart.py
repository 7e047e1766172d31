"""The embedded default end to end: the synthetic quickstart shows the paper's effect.

This is the deterministic demonstration that TDE lifts tail accuracy (a fixed seed on the CPU
gives the same numbers every time), so it can be asserted without flakiness.
"""

import json

import pandas as pd
import pytest
import torch

from ltkit.quickstart import quickstart

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    out = tmp_path_factory.mktemp("quickstart")
    torch.set_num_threads(2)
    return out, quickstart(output_dir=str(out), device="cpu", progress=False, log=lambda *_: None)


def test_quickstart_shows_head_bias_and_tde_lifts_the_tail(summary):
    _, s = summary
    s = s.set_index("method")
    base, plain, tde = s.loc["Baseline (linear)"], s.loc["De-confound"], s.loc["De-confound-TDE"]
    # the head bias the paper is about: many-shot far above few-shot without TDE
    assert base.many - base.few > 50 and plain.many - plain.few > 50
    # TDE measurably moves few-shot accuracy up, and overall accuracy with it
    assert tde.few - plain.few > 15
    assert tde.overall > plain.overall
    assert tde.alpha == 0.5 and pd.isna(plain.alpha)


def test_quickstart_writes_records_and_figures(summary):
    out, s = summary
    for preset in ("synthetic_baseline", "synthetic_tde"):
        rec = json.loads((out / preset / "run.json").read_text())
        assert rec["status"] == "complete"
    rec = json.loads((out / "synthetic_tde" / "run.json").read_text())
    assert rec["metrics"]["tde"]["few"] == pytest.approx(s.set_index("method").loc["De-confound-TDE", "few"])
    for fig in ("shot_accuracy.png", "per_class.png"):
        data = (out / fig).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    md = (out / "summary.md").read_text()
    assert "| De-confound-TDE (alpha 0.50) |" in md
