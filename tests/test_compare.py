"""Runs side by side (``ltkit.report.compare``) and the runs behind a table
(``ltkit.report.tables.runs_table``), on records written here."""

import json

import pandas as pd
import pytest

import ltkit
from ltkit.report.compare import best_epochs, compare_runs, differences, numbers, tde_effect, tde_effect_markdown
from ltkit.report.load import load_runs
from ltkit.report.tables import compare_table, far_cells_markdown, runs_markdown, runs_table


def _run(tmp, name, *, plain, tde, seed=0, cpu="AMD EPYC", commit="a", precision="bf16", history=None, **params):
    cfg = ltkit.RunConfig.preset("cifar10_lt_tde", seed=seed).to_dict()
    cfg.update(params)
    rec = {
        "status": "complete",
        "params": cfg,
        "precision": precision,
        "environment": {"device": "cpu", "cpu": cpu, "cpu_cores": 2, "git_commit": commit * 40, "git_dirty": False},
        "metrics": {
            "plain": {"overall": plain, "many": 90.0, "medium": plain - 20, "few": 10.0},
            "tde": {"overall": tde, "many": 85.0, "medium": tde - 5, "few": 50.0, "alpha": 1.0},
        },
        "data": {"dataset": "cifar10_lt", "fingerprint": "sha256:" + "cd" * 32, "content": "unknown copy"},
    }
    d = tmp / name
    d.mkdir(parents=True)
    (d / "run.json").write_text(json.dumps(rec))
    hist = history or {"epoch": [1, 2, 3], "time_s": [10.0, 20.0, 30.0]}
    pd.DataFrame(hist).to_csv(d / "history.csv", index=False)
    return d


def test_a_comparison_names_every_setting_that_differs_and_only_those(tmp_path):
    base = _run(tmp_path, "base", plain=67.0, tde=76.0)
    fp32 = _run(tmp_path, "fp32", plain=66.0, tde=76.5, precision="fp32", amp=False, output_dir="elsewhere")
    other = _run(tmp_path, "other", plain=65.0, tde=75.0, cpu="Intel Xeon", commit="b")
    row = compare_runs([("fp32", fp32, base), ("machine", other, base)])
    assert row.changed.tolist() == [
        "precision: bf16 -> fp32; amp: True -> False",
        "machine: AMD EPYC (2 cores) -> Intel Xeon (2 cores)",
    ]
    assert row.plain_diff.tolist() == pytest.approx([-1.0, -2.0]) and row.tde_diff.tolist() == pytest.approx(
        [0.5, -1.0]
    )
    assert differences(numbers(base), numbers(base)) == []
    # a field one record predates is not a difference; one both hold is
    old = json.loads((other / "run.json").read_text())
    old["params"].pop("bn_batch")
    (other / "run.json").write_text(json.dumps(old))
    assert "bn_batch" not in compare_runs([("x", other, base)]).changed[0]
    assert (
        "bn_batch: 0 -> 64" in compare_runs([("x", _run(tmp_path, "bn", plain=1, tde=2, bn_batch=64), base)]).changed[0]
    )


def test_a_group_of_seeds_is_their_mean_and_an_incomplete_run_is_refused(tmp_path):
    runs = [_run(tmp_path, f"s{s}", plain=60.0 + 2 * s, tde=70.0 + s, seed=s) for s in range(3)]
    n = numbers(runs)
    assert (n["n"], n["plain"], n["tde"]) == (3, pytest.approx(62.0), pytest.approx(71.0))
    assert n["plain_std"] == pytest.approx(2.0) and "seed" not in n["params"]  # seeds differ: not a shared setting
    effect = tde_effect([("three", runs, 8.9)]).iloc[0]
    assert effect.overall_gain == pytest.approx(9.0) and effect.medium_gain == pytest.approx(71.0 - 5 - 42.0)
    # CIFAR-10-LT at ratio 10 has no medium-shot class: the record's medium is None
    rec = json.loads((runs[0] / "run.json").read_text())
    r10 = _run(tmp_path, "r10", plain=86.0, tde=88.0, imb_ratio=10.0)
    rec10 = json.loads((r10 / "run.json").read_text())
    for ev in ("plain", "tde"):
        rec10["metrics"][ev]["medium"] = rec10["metrics"][ev]["few"] = None
    (r10 / "run.json").write_text(json.dumps(rec10))
    effect = tde_effect([("three", runs, 8.9), ("r10", [r10], 1.7)])
    assert effect.medium_gain.isna().tolist() == [False, True] and effect.overall_gain.iloc[1] == pytest.approx(2.0)
    assert (
        tde_effect_markdown(effect).splitlines()[-1]
        == "| r10 | 1 | 86.0 -> 88.0 [+2.0] | +1.7 | no medium-shot class |"
    )
    (runs[0] / "run.json").write_text(json.dumps({**rec, "status": "running"}))
    with pytest.raises(ValueError, match="not complete"):
        numbers(runs[0])
    with pytest.raises(FileNotFoundError, match="run.json"):
        numbers(tmp_path / "nothing")


def test_best_epochs_finds_the_best_test_epoch_and_what_it_would_add(tmp_path):
    hist = {
        "epoch": [1, 2, 3, 4],
        "time_s": [1.0] * 4,
        "test_plain": [50.0, 70.0, None, 68.0],
        "test_tde": [55.0, 74.0, 77.0, 76.0],
    }
    d = _run(tmp_path, "every", plain=68.0, tde=76.0, history=hist)
    t = best_epochs(d).set_index("evaluation")
    assert (t.loc["De-confound", "best_epoch"], t.loc["De-confound", "gain"]) == (2, pytest.approx(2.0))
    assert (t.loc["De-confound-TDE", "best_epoch"], t.loc["De-confound-TDE", "gain"]) == (3, pytest.approx(1.0))
    assert t.loc["De-confound", "epochs_tested"] == 3
    plain = _run(tmp_path, "plain", plain=1, tde=2)
    with pytest.raises(ValueError, match="test_every=1"):
        best_epochs(plain)


def test_the_runs_behind_a_table_say_seeds_commits_machines_and_time(tmp_path):
    _run(tmp_path / "r", "s0", plain=70, tde=80, seed=0, commit="a", history={"epoch": [1, 2], "time_s": [10.0, 12.0]})
    _run(tmp_path / "r", "s1", plain=71, tde=81, seed=1, commit="b", history={"epoch": [1, 2], "time_s": [20.0, 30.0]})
    _run(tmp_path / "r", "r50", plain=75, tde=82, seed=0, imb_ratio=50.0)
    _run(tmp_path / "r", "short", plain=1, tde=2, seed=5, epochs=3)  # not the paper's length: in no table
    _run(tmp_path / "r", "gap", plain=1, tde=2, seed=6, study="analysis")  # an analysis: in no table
    runs = load_runs(tmp_path / "r")
    table = runs_table(runs, columns=["cifar10_lt-r100", "cifar10_lt-r50"]).set_index("benchmark")
    r100 = table.loc["cifar10_lt-r100"]
    assert (r100.n, r100.seeds, r100.commits) == (2, "0, 1", "aaaaaaa, bbbbbbb")
    assert r100.machines == "AMD EPYC (2 cores)" and r100.methods == "De-confound, De-confound-TDE"
    assert r100.median_epoch_s == pytest.approx(16.0) and r100.minutes_per_run == pytest.approx(16.0 * 200 / 60)
    assert r100.run_medians_s == pytest.approx([11.0, 25.0])
    md = runs_markdown(table.reset_index())
    assert "| cifar10_lt-r100 | De-confound, De-confound-TDE | 0, 1 | aaaaaaa, bbbbbbb | AMD EPYC (2 cores) |" in md
    assert "16.0 s (11.0-25.0) | 53 min |" in md
    assert list(table.index) == ["cifar10_lt-r100", "cifar10_lt-r50"]


def test_cells_far_from_the_paper_are_named(tmp_path):
    _run(tmp_path, "s0", plain=71.7, tde=78.0)  # the paper: 71.7 / 80.6
    cmp = compare_table(load_runs(tmp_path), "table3")
    cmp = cmp[cmp.column == "cifar10_lt-r100"]
    assert far_cells_markdown(cmp) == "More than 1.0 point from the paper: De-confound-TDE at cifar10_lt-r100 (-2.6)."
    assert far_cells_markdown(cmp, points=3.0) == "No cell is more than 3.0 points from the paper."


def test_the_summary_lists_benchmarks_in_the_paper_order(tmp_path):
    """r100, r50, r10 as in the paper (not r10 first, as a sort by name would), others after."""
    from ltkit.report.tables import summary_table

    for ratio in (10.0, 20.0, 100.0, 50.0):
        _run(tmp_path, f"r{ratio:g}", plain=70.0, tde=80.0, imb_ratio=ratio)
    summary = summary_table(load_runs(tmp_path))
    assert list(dict.fromkeys(summary.benchmark)) == [
        "cifar10_lt-r100",
        "cifar10_lt-r50",
        "cifar10_lt-r10",
        "cifar10_lt-r20",
    ]
