"""The paper-table comparison on classification runs (``ltkit.report.tables.compare_table``)."""

import os
from pathlib import Path

import pandas as pd
import pytest

from ltkit.report.load import full_length
from ltkit.report.tables import compare_table, paper_numbers


def _row(dataset, classifier, evaluation, overall, *, epochs, seed=0, steps_per_epoch=0, init_from="", **extra):
    imb = 100.0 if dataset.startswith("cifar") else 1.0
    return dict(
        dataset=dataset,
        imb_ratio=imb,
        classifier=classifier,
        loss="ce",
        evaluation=evaluation,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        init_from=init_from,
        seed=seed,
        overall=overall,
        many=overall + 10,
        medium=overall,
        few=overall - 10,
        **extra,
    )


def test_only_runs_of_the_paper_length_fill_tables_2_and_3():
    runs = pd.DataFrame(
        [
            _row("cifar10_lt", "causal_norm", "tde", 80.0, epochs=200, seed=0),
            _row("cifar10_lt", "causal_norm", "tde", 82.0, epochs=200, seed=1),
            _row("cifar10_lt", "causal_norm", "tde", 50.0, epochs=15, seed=2),  # a quick comparison run
            _row("cifar10_lt", "causal_norm", "tde", 40.0, epochs=200, seed=3, steps_per_epoch=5),  # a smoke run
            _row("imagenet_lt", "causal_norm", "tde", 51.0, epochs=90),
            _row("imagenet_lt", "lws", "plain", 47.0, epochs=10, init_from="results/runs/stage1"),  # second stage
            _row("imagenet_lt", "causal_norm", "tde", 10.0, epochs=2),
        ]
    )
    assert full_length(runs).tolist() == [True, True, False, False, True, True, False]
    paper = paper_numbers()

    t3 = compare_table(runs, "table3")
    cell = t3[(t3.method == "De-confound-TDE") & (t3.column == "cifar10_lt-r100")].iloc[0]
    expected = paper[
        (paper.table == "table3") & (paper.method == "De-confound-TDE") & (paper.benchmark == "cifar10_lt-r100")
    ].value.iloc[0]
    assert cell.n == 2 and cell.ours_mean == pytest.approx(81.0) and cell.ours_std == pytest.approx(2**0.5)
    assert cell.paper == expected and cell["diff"] == pytest.approx(81.0 - expected)

    t2 = compare_table(runs, "table2")
    tde = t2[(t2.method == "De-confound-TDE") & (t2.column == "overall")].iloc[0]
    lws = t2[(t2.method == "Decouple-LWS") & (t2.column == "overall")].iloc[0]
    assert (tde.n, tde.ours_mean) == (1, 51.0) and (lws.n, lws.ours_mean) == (1, 47.0)


# ----------------------------------------------------------------------------- python -m ltkit status
def test_status_tells_running_stopped_and_complete_runs_apart(tmp_path, capsys):
    import socket
    import subprocess
    import sys

    from ltkit.cli import main
    from ltkit.runs.status import run_status
    from ltkit.utils import write_json

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that no longer runs
    host = socket.gethostname()

    def record(name, status, pid, epoch, host=host, **extra):
        write_json(
            tmp_path / name / "run.json",
            dict(
                status=status,
                precision="bf16",
                params={"epochs": 200},
                process={"host": host, "pid": pid},
                progress={
                    "epoch": epoch,
                    "epochs": 200,
                    "loss": 0.25,
                    "images_per_s": 990.0,
                    "eta_s": 3725.0,
                    "updated": "2026-12-03T07:00:00Z",
                },
                **extra,
            ),
        )

    record("a-running", "running", os.getpid(), 20)
    record("b-stopped", "running", gone.pid, 57)
    record("c-complete", "complete", gone.pid, 200)
    record("d-elsewhere", "running", 1, 3, host=host + "-other")
    (tmp_path / "e-broken").mkdir()
    (tmp_path / "e-broken" / "run.json").write_text("{")

    st = run_status(tmp_path).set_index("run")
    names = {Path(r).name: r for r in st.index}
    assert [st.loc[names[n], "state"] for n in sorted(names)] == [
        "running",
        "stopped",
        "complete",
        "running?",
        "unreadable",
    ]
    assert st.loc[names["a-running"], "eta_s"] == 3725.0
    assert pd.isna(st.loc[names["b-stopped"], "eta_s"])  # a stopped run has no time left until resumed

    assert main(["status", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:7] == ["run", "state", "epoch", "loss", "img/s", "left", "precision"]
    row = next(line for line in out if "a-running" in line).split()
    assert row[1:] == ["running", "20/200", "0.2500", "990", "1h02m", "bf16"]
    assert main(["status", str(tmp_path / "missing")]) == 2


def test_status_lists_a_batch_runs_that_have_no_record_yet(tmp_path, capsys):
    from ltkit.cli import main
    from ltkit.runs.status import run_status
    from ltkit.utils import write_json

    write_json(tmp_path / "s0" / "run.json", {"status": "complete", "params": {"epochs": 200}})
    batch = [("s0", "done"), ("k1", "skipped"), ("f2", "failed"), ("p3", "pending"), ("n4", "not started")]
    write_json(tmp_path / "batch.json", [{"name": n, "status": s} for n, s in batch])
    st = run_status(tmp_path)
    assert [(Path(r).name, s) for r, s in zip(st.run, st.state)] == [
        ("s0", "complete"),
        ("k1", "kept"),
        ("f2", "failed"),
        ("p3", "pending"),
        ("n4", "pending"),
    ]
    assert main(["status", str(tmp_path)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "p3" in line).split()
    assert row[1:] == ["pending", "-/-", "-", "-", "-", "-"]
    assert run_status(tmp_path / "s0").state.tolist() == ["complete"]  # one run folder: no batch rows
    (tmp_path / "batch.json").write_text("{")  # being written: the runs alone
    assert run_status(tmp_path).state.tolist() == ["complete"]


def test_status_estimates_a_pending_run_from_runs_that_differ_only_in_seed(tmp_path, monkeypatch, capsys):
    """A pending run's time: the median epoch of the batch's runs (here, or in the kept folder)
    with the same run-defining fields but the seed, times its epochs; none from another config."""
    from ltkit.cli import main
    from ltkit.runs.status import run_status
    from ltkit.utils import write_json, write_text

    monkeypatch.chdir(tmp_path)
    tde = {"dataset": "cifar10_lt", "imb_ratio": 10.0, "classifier": "causal_norm", "epochs": 200, "seed": 0}
    linear = dict(tde, imb_ratio=100.0, classifier="linear")

    def record(folder, params, times, status="complete"):
        write_json(Path(folder) / "run.json", {"status": status, "params": params})
        write_text(Path(folder) / "history.csv", "epoch,time_s\n" + "".join(f"{i},{t}\n" for i, t in enumerate(times)))

    # the running r10 seed 0 has timed three epochs (the first compiled); an older record of the
    # linear baseline, kept elsewhere and without today's classifier field, timed 10 s epochs
    record("runs/s0", tde, [95.0, 30.0, 29.0], status="running")
    record("kept/b0", {k: v for k, v in linear.items() if k != "classifier"}, [10.0, 10.0])
    rows = [
        {"name": "s0", "status": "pending", "config": tde},
        {"name": "s1", "status": "pending", "config": dict(tde, seed=1)},
        {"name": "b0", "status": "skipped", "kept_dir": "kept/b0", "config": linear},
        {"name": "b1", "status": "pending", "config": dict(linear, seed=1)},
        {"name": "e1", "status": "pending", "config": dict(tde, seed=1, epochs=100)},  # epochs differ: no estimate
        {"name": "old", "status": "pending"},  # a summary from before configs were written
    ]
    write_json(Path("runs/batch.json"), rows)
    st = run_status("runs")
    st.index = [Path(r).name for r in st.run]
    assert st.index.tolist() == ["s0", "s1", "b0", "b1", "e1", "old"]
    assert st.state.tolist() == ["running?", "pending", "kept", "pending", "pending", "pending"]
    assert st.eta_s["s1"] == 30.0 * 200 and st.eta_s["b1"] == 10.0 * 200
    assert pd.isna(st.eta_s["e1"]) and pd.isna(st.eta_s["old"])
    assert st.epochs["e1"] == 100

    assert main(["status", "runs"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert next(ln for ln in out if ln.startswith("runs/s1")).split()[1:4] == ["pending", "-/200", "-"]
    assert next(ln for ln in out if ln.startswith("runs/s1")).split()[5] == "~1h40m"
    assert out[-1].startswith("left in all: ~2h13m, and 2 pending runs with no estimate yet")


def test_time_left_ignores_one_epoch_that_held_a_pause():
    """progress(): an epoch that held a long pause (its time_s in hours) does not set the estimate."""
    from ltkit.runs.runner import progress

    history = [dict(epoch=e, loss=1.0, train_acc=50.0, images_per_s=700.0, time_s=16.0) for e in range(1, 10)]
    history[5]["time_s"] = 7200.0  # epoch 6 was stopped for two hours
    assert progress(history, 200)["eta_s"] == 16.0 * (200 - 9)
    assert progress(history[:1], 200)["eta_s"] == 16.0 * 199
