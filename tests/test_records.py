"""Every published number has a record the code wrote: the README's quickstart table is the committed
reference record's, which came from a clean commit; benchmark records carry their provenance header."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from ltkit.machine import RELEVANT_CPU_FLAGS, cpu
from ltkit.quickstart import METHODS, choices_markdown, summary_markdown
from ltkit.runs.provenance import Report, header_lines, write_record

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "results" / "reference" / "quickstart"
BENCHMARKS = ROOT / "results" / "benchmarks"


def test_readme_table_is_the_reference_record():
    summary = pd.read_csv(REFERENCE / "summary.csv")
    table = summary_markdown(summary)
    assert (REFERENCE / "summary.md").read_text().strip() == table
    assert (
        choices_markdown(pd.read_csv(REFERENCE / "alpha_choices.csv")) in (ROOT / "docs" / "quickstart.md").read_text()
    )


def test_reference_summary_is_what_its_run_records_say():
    summary = pd.read_csv(REFERENCE / "summary.csv").set_index("method")
    for (preset, evaluation), method in METHODS.items():
        rec = json.loads((REFERENCE / preset / "run.json").read_text())
        assert rec["status"] == "complete"
        # made from a clean commit of this repository, and saying so
        commit = rec["environment"]["git_commit"]
        assert re.fullmatch(r"[0-9a-f]{40}", commit), commit
        assert rec["environment"]["git_dirty"] is False
        for k in ("many", "medium", "few", "overall"):
            assert summary.loc[method, k] == pytest.approx(rec["metrics"][evaluation][k]), (method, k)
    rec = json.loads((REFERENCE / "synthetic_tde" / "run.json").read_text())
    assert summary.loc["De-confound-TDE", "alpha"] == rec["metrics"]["tde"]["alpha"] == rec["alpha_selection"]["alpha"]
    assert (REFERENCE / "synthetic_tde" / "alpha_sweep_val.csv").is_file()


def test_every_benchmark_record_starts_with_its_provenance():
    files = sorted(BENCHMARKS.glob("*.txt"))
    assert files
    for f in files:
        head = f.read_text().splitlines()[:5]
        keys = [line.split(":", 1)[0] for line in head]
        assert keys == ["# command", "# git commit", "# date", "# cpu", "# torch"], (f.name, head)
        assert head[0].startswith("# command: python benchmarks/"), f.name
        assert re.match(r"# git commit: [0-9a-f]{40} \(clean\)$", head[1]), (f.name, head[1])


def test_write_record_puts_the_header_before_the_table(tmp_path, capsys):
    out = Report()
    out("pipeline  images/s")
    out("a         1.0")
    path = out.write(tmp_path / "r.txt")
    text = path.read_text().splitlines()
    assert text[0].startswith("# command: python ") and text[1].startswith("# git commit: ")
    assert text[-2:] == ["pipeline  images/s", "a         1.0"]
    assert "pipeline  images/s" in capsys.readouterr().out
    write_record(tmp_path / "s.txt", "body\n", command="python benchmarks/x.py --n 3")
    lines = (tmp_path / "s.txt").read_text().splitlines()
    assert lines[0] == "# command: python benchmarks/x.py --n 3" and lines[-1] == "body"
    assert len(lines) == len(header_lines()) + 1
    assert set(cpu()["flags"]) <= set(RELEVANT_CPU_FLAGS)
    assert Report().write("-") is None and not (tmp_path / "-").exists()


def test_a_report_names_the_code_as_it_was_when_the_benchmark_started(tmp_path, monkeypatch):
    """An edit made while a benchmark measures must not change its record's provenance: the
    header is taken when the Report is made (a record once said 'dirty' for a README edited
    during the run)."""
    import ltkit.runs.provenance as records

    states = iter([{"commit": "a" * 40, "dirty": False}, {"commit": "b" * 40, "dirty": True}])
    monkeypatch.setattr(records, "git_state", lambda *a, **k: next(states))
    out = Report()
    out("table")
    lines = out.write(tmp_path / "r.txt").read_text().splitlines()
    assert lines[1] == f"# git commit: {'a' * 40} (clean)" and lines[-1] == "table"


def test_changed_records_do_not_make_the_tree_dirty_but_code_does(tmp_path):
    import subprocess

    from ltkit.runs.provenance import git_state

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "r.txt").write_text("a\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "c")
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "results" / "r.txt").write_text("b\n")  # a benchmark rewrote its record
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_state(tmp_path)["dirty"] is True


#: the README's Table 3: runs on the CIFAR-10 release
REPRODUCTIONS = ROOT / "results" / "reproductions"
TABLES = ROOT / "results" / "tables"
ANALYSIS = ROOT / "results" / "analysis"
#: Table 3 on the team's JPEG copy, and the gap analysis: docs/cifar10_lt_gap.md
JPEG = ANALYSIS / "cifar10_lt_jpeg"
TABLES_JPEG = TABLES / "jpeg_copy"
REPRODUCE_DOC = ROOT / "docs" / "reproduce.md"


def test_reproduction_records_are_complete_and_from_clean_commits():
    runs = sorted(REPRODUCTIONS.glob("*/*/run.json")) + sorted(ANALYSIS.glob("*/*/run.json"))
    assert runs, "no committed reproduction records"
    for path in runs:
        rec = json.loads(path.read_text())
        assert rec["status"] == "complete", path
        assert (
            re.fullmatch(r"[0-9a-f]{40}", rec["environment"]["git_commit"]) and rec["environment"]["git_dirty"] is False
        )
        assert rec["params"]["epochs"] == 200 and len(pd.read_csv(path.parent / "history.csv")) == 200, path
        assert not (path.parent / "checkpoint.pt").exists() and not (path.parent / "outputs.npz").exists()


@pytest.mark.parametrize(
    "records, tables", [(REPRODUCTIONS, TABLES), (JPEG, TABLES_JPEG)], ids=["release", "jpeg_copy"]
)
def test_committed_tables_are_what_the_records_give(tmp_path, records, tables):
    from ltkit.report.writers import write_tables

    written = write_tables(records, tmp_path)
    for name in ("table3.md", "table3.csv", "table3_cifar10.md", "table3_cifar10_runs.md", "summary.md"):
        assert written[name].read_text() == (tables / name).read_text(), f"{tables / name} is stale: run tables.ipynb"


def test_every_committed_record_names_its_data_and_purpose():
    """Table 3's records on the release and on the JPEG copy, and the gap runs, each carry a data
    block that names their data by content, and the gap runs say they are an analysis."""
    from ltkit.data.fingerprint import label

    def recs(pattern):
        found = [json.loads(p.read_text()) for p in sorted(pattern)]
        assert found
        return found

    for rec in recs(REPRODUCTIONS.glob("cifar10_lt/*/run.json")):
        assert label(rec["data"]) == "CIFAR-10 official release" and rec["data"]["known_release"] is True
        assert rec["params"].get("study", "reproduction") == "reproduction"
    for rec in recs(JPEG.glob("*/run.json")):
        assert label(rec["data"]) == "CIFAR-10 JPEG copy q75" and rec["data"]["known_release"] is False
        assert rec["data"]["subset"]["counts"] == rec["train_counts"]
    for rec in recs((ANALYSIS / "cifar10_lt_gap").glob("*/run.json")):
        assert rec["params"]["study"] == "analysis" and rec["data"]["subset"]["counts"] == rec["train_counts"]
    for rec in recs(REFERENCE.glob("*/run.json")):
        assert rec["data"]["content"] == "generated by ltkit.data.synthetic"
    for path in (
        list(REPRODUCTIONS.glob("*/*/run.json"))
        + list(ANALYSIS.glob("*/*/run.json"))
        + list(REFERENCE.glob("*/run.json"))
    ):
        added = json.loads(path.read_text()).get("data_added")  # a block added later names a clean commit
        assert added is None or re.fullmatch(r"[0-9a-f]{40}", added["commit"]), (path, added)


def _keep_run_tool():
    from conftest import load_script

    return load_script("tools/records/keep_run.py")


def test_keep_run_copies_the_records_without_images_and_refuses_unclean_runs(tmp_path):
    tool = _keep_run_tool()
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    rec = {"status": "complete", "environment": {"git_commit": "a" * 40, "git_dirty": False}, "metrics": {}}
    (run / "run.json").write_text(json.dumps(rec))
    (run / "history.csv").write_text("epoch,loss\n1,2.0\n")
    (run / "checkpoint.pt").write_bytes(b"large")
    (run / "outputs.npz").write_bytes(b"large")
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "source": "plot()",
                "metadata": {},
                "execution_count": 1,
                "outputs": [
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"image/png": "iVBORw0KGgo=", "text/plain": ["<Figure>"]},
                    }
                ],
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    (run / "train_classification.ipynb").write_text(json.dumps(nb))
    dest = tool.keep(run, tmp_path / "kept")
    assert sorted(p.name for p in dest.iterdir()) == ["history.csv", "run.json", "train_classification.ipynb"]
    kept = json.loads((dest / "train_classification.ipynb").read_text())
    data = kept["cells"][0]["outputs"][0]["data"]
    assert "image/png" not in data and "left out" in data["text/plain"][0]
    with pytest.raises(SystemExit, match="holds a record already"):  # never over a kept record
        tool.keep(run, tmp_path / "kept")
    for status, dirty in (("running", False), ("complete", True), ("complete", None)):
        (run / "run.json").write_text(
            json.dumps({**rec, "status": status, "environment": {"git_commit": "a" * 40, "git_dirty": dirty}})
        )
        with pytest.raises(SystemExit, match="only"):
            tool.keep(run, tmp_path / "kept2")


def _tool(path, name):
    from conftest import load_script

    return load_script(path, name)


def test_the_gap_analysis_tables_are_what_the_records_give(tmp_path):
    tool = _tool("tools/analysis/gap_tables.py", "gap_tables")
    for name, path in tool.write(tmp_path).items():
        committed = ANALYSIS / "cifar10_lt_gap" / name
        assert path.read_text() == committed.read_text(), f"{committed} is stale: run make tables"


def test_the_reproduce_table_is_what_the_recipes_and_records_give():
    tool = _tool("tools/docs/reproduce_table.py", "reproduce_table")
    assert tool.markdown() == (TABLES / "reproduce.md").read_text(), "results/tables/reproduce.md is stale: make tables"
    row = next(line for line in tool.markdown().splitlines() if line.startswith("| 3, CIFAR-10-LT"))
    kept = len(list(REPRODUCTIONS.glob("cifar10_lt/*/run.json")))
    assert f"| {kept} of 12 runs kept |" in row


def _changed_keys(changed):
    return {part.split(":")[0] for part in changed.split("; ")} if changed != "nothing" else set()


def test_each_gap_comparison_changes_the_one_thing_it_names():
    """What differs between the two records of each comparison, read from the records: the one
    change (and test_every, which leaves training as it is: tests/test_train.py)."""
    from ltkit.report.compare import compare_runs

    tool = _tool("tools/analysis/gap_tables.py", "gap_tables")
    expected = {
        "lossless": {"data", "test_every"},
        "jpeg_q50": {"data"},
        "fp32": {"precision", "amp", "test_every"},
        "bn_batch64": {"bn_batch", "test_every"},
    }
    for kind, keys in expected.items():
        run = tool.GAP / tool.RUN.format(kind)
        assert _changed_keys(compare_runs([("", run, tool.BASE)]).changed[0]) == keys, kind
    # the same subset of the same images, only the pixels differ
    lossless = json.loads((tool.GAP / tool.RUN.format("lossless") / "run.json").read_text())
    base = json.loads((tool.BASE / "run.json").read_text())
    assert lossless["data"]["subset"] == base["data"]["subset"]
    machine = compare_runs([("", JPEG / "cifar10_lt-r100-causal_norm-s0", tool.BASE)]).changed[0]
    assert _changed_keys(machine) == {"machine"}
    anchor = compare_runs([("", tool.anchor_numbers(), sorted(JPEG.glob("cifar10_lt-r100-causal_norm-s*")))]).changed[0]
    assert _changed_keys(anchor) == {"code", "machine", "precision"}
    text = tool.ANCHOR.read_text()
    assert "(clean)" in text.splitlines()[1] and "num_epochs=200" in text and "cifar_imb_ratio=0.01" in text


def test_every_cell_over_a_point_from_the_paper_is_explained_beside_the_table():
    """The generated block names the cells more than a point from the paper; the page explains
    each in its own words, outside the generated blocks."""
    from conftest import load_script

    blocks = load_script("tools/docs/blocks.py", "docs_blocks")
    cmp = pd.read_csv(TABLES / "table3.csv")
    cells = cmp[(cmp.n > 0) & cmp.column.str.startswith("cifar10_lt")]
    assert len(cells)
    far = cells[cells["diff"].abs() > 1.0]
    for page in (ROOT / "README.md", REPRODUCE_DOC):
        own = " ".join(blocks.without_blocks(page.read_text()).split())
        for r in far.itertuples():
            assert f"{r.method} at {r.column}" in own, (page.name, r.method, r.column)
