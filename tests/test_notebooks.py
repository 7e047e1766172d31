"""The notebooks: committed clean, and each executed through papermill with tiny parameters,
asserting on the files it wrote."""

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

papermill = pytest.importorskip("papermill")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TINY = dict(
    dataset="synthetic_lt",
    synthetic_classes=4,
    synthetic_n_max=60,
    imb_ratio=30,
    synthetic_image_size=8,
    epochs=2,
    batch_size=16,
    warmup_epochs=1,
    milestones=[2],
    device="cpu",
    num_workers=0,
    progress=False,
)


def test_there_are_notebooks():
    assert {p.stem for p in NOTEBOOKS} >= {"quickstart", "train_classification", "posthoc", "tables", "figures"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
    # valid against its own nbformat version as written (papermill warns "Notebook JSON is invalid"
    # on, e.g., cell ids in an nbformat 4.4 file)
    nbformat.validate(nbformat.reads(path.read_text(), as_version=nbformat.NO_CONVERT))
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") for c in code), "committed with outputs"
    assert all(c.get("execution_count") is None for c in code), "committed with execution counts"
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{len(tagged)} cells tagged 'parameters'"
    assert tagged[0] is code[0], "the parameters cell must be the first code cell"
    assert nb.metadata["kernelspec"]["name"] == "ltkit"


@pytest.fixture(scope="session")
def kernel():
    """The `ltkit` kernel the notebooks name (make install registers it; do it here if missing)."""
    from jupyter_client.kernelspec import KernelSpecManager

    if "ltkit" not in KernelSpecManager().find_kernel_specs():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "ipykernel",
                "install",
                "--user",
                "--name",
                "ltkit",
                "--display-name",
                "Python (ltkit)",
            ],
            check=True,
            capture_output=True,
        )
    return "ltkit"


def execute(name, out_path, kernel, **parameters):
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)  # papermill wants the folder to exist
    return papermill.execute_notebook(
        str(ROOT / "notebooks" / f"{name}.ipynb"),
        str(out_path),
        parameters=parameters,
        kernel_name=kernel,
        cwd=str(ROOT),
        progress_bar=False,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory, kernel):
    """A causal-norm run made by train_classification.ipynb."""
    root = tmp_path_factory.mktemp("runs")
    run_dir = root / "tiny-tde"
    execute(
        "train_classification",
        run_dir / "train_classification.ipynb",
        kernel,
        **TINY,
        classifier="causal_norm",
        alpha="auto",
        output_dir=str(run_dir),
    )
    return run_dir


def test_train_classification_writes_the_record(trained):
    rec = json.loads((trained / "run.json").read_text())
    assert rec["status"] == "complete" and rec["params"]["epochs"] == 2
    assert rec["params"]["milestones"] == [2] and rec["params"]["alpha"] is None
    assert set(rec["metrics"]) == {"plain", "tde"} and rec["metrics"]["tde"]["alpha_source"] == "suggest_alpha"
    assert (trained / "history.csv").is_file() and (trained / "overview.png").stat().st_size > 10_000
    out = np.load(trained / "outputs.npz")  # the reported accuracy is that of the cached logits
    for ev in ("plain", "tde"):
        acc = 100 * np.mean(out[f"logits_{ev}"].argmax(1) == out["labels"])
        assert rec["metrics"][ev]["overall"] == pytest.approx(acc, abs=1e-9), ev
    executed = nbformat.read(trained / "train_classification.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)


def test_train_classification_preset_and_overrides(tmp_path, kernel):
    run_dir = tmp_path / "preset"
    execute(
        "train_classification",
        run_dir / "nb.ipynb",
        kernel,
        preset="synthetic_baseline",
        **{**TINY, "output_dir": str(run_dir)},
    )
    params = json.loads((run_dir / "run.json").read_text())["params"]
    assert params["classifier"] == "linear" and params["lr"] == 0.02  # from the preset
    assert params["epochs"] == 2  # the override


@pytest.mark.parametrize(
    "bad,message",
    [
        ({"epochs": 0}, "epochs: must be a positive integer"),
        ({"classifier": "cosin"}, "classifier: unknown value 'cosin'"),
        ({"epoch": 3}, r"unknown parameter\(s\) \['epoch'\]"),
        ({"preset": "cifar"}, "preset: unknown value 'cifar'"),
    ],
)
def test_bad_parameter_fails_in_the_first_cell(tmp_path, kernel, bad, message):
    with pytest.raises(papermill.PapermillExecutionError, match=message) as e:
        execute(
            "train_classification", tmp_path / "bad.ipynb", kernel, **{**TINY, "output_dir": str(tmp_path / "r"), **bad}
        )
    # parameters (1), injected parameters (2), then the validating cell, before any training
    assert e.value.exec_count == 3 and "RunConfig.from_namespace(globals(), _before_injection)" in e.value.source
    assert not (tmp_path / "r").exists()


def test_quickstart_notebook(tmp_path, kernel):
    out = tmp_path / "qs"
    execute("quickstart", tmp_path / "quickstart.ipynb", kernel, output_dir=str(out), epochs=2, device="cpu")
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.method) == ["Baseline (linear)", "De-confound", "De-confound-TDE"]
    for preset in ("synthetic_baseline", "synthetic_tde"):  # the notebook's epochs reached both runs
        assert json.loads((out / preset / "run.json").read_text())["params"]["epochs"] == 2
    tde = json.loads((out / "synthetic_tde" / "run.json").read_text())["metrics"]["tde"]
    assert summary.overall[2] == pytest.approx(tde["overall"]) and summary.alpha[2] == tde["alpha"]
    for name in ("shot_accuracy.png", "per_class.png", "alpha_sweep.png", "alpha_choices.md"):
        assert (out / name).is_file(), name


def test_posthoc_notebook(trained, tmp_path, kernel):
    out = tmp_path / "posthoc"
    execute("posthoc", tmp_path / "posthoc.ipynb", kernel, run_dir=str(trained), output_dir=str(out))
    sweep = pd.read_csv(out / "tde_alpha_sweep.csv")
    assert len(sweep) == 21 and {"alpha", "overall", "many", "medium", "few"} <= set(sweep.columns)
    from ltkit.report.posthoc import load_outputs, tde_alpha_sweep

    direct = tde_alpha_sweep(load_outputs(trained))
    cols = ["alpha", "overall", "many", "medium", "few"]
    pd.testing.assert_frame_equal(sweep[cols], direct[cols], check_exact=False, atol=1e-9)
    assert (out / "tde_alpha_sweep.png").stat().st_size > 10_000


def test_tables_and_figures_notebooks(trained, tmp_path, kernel):
    tables, figures = tmp_path / "tables", tmp_path / "figures"
    execute("tables", tmp_path / "tables.ipynb", kernel, results_dir=str(trained.parent), output_dir=str(tables))
    summary = (tables / "summary.md").read_text()
    # the row names its data (the synthetic generator, by fingerprint) and what the run was for
    assert re.search(
        r"\| synthetic_lt-r30 \| generated by ltkit.data.synthetic [0-9a-f]{12} \| reproduction \| "
        r"De-confound-TDE \| 1 \|",
        summary,
    ), summary
    t3 = (tables / "table3.md").read_text()
    assert "| De-confound-TDE | - / 44.1 |" in t3 and "^q" in t3  # the paper's numbers, quoted rows marked
    assert (tables / "table3.tex").read_text().startswith("\\begin{table}")
    execute("figures", tmp_path / "figures.ipynb", kernel, results_dir=str(trained.parent), output_dir=str(figures))
    names = {p.name for p in figures.iterdir()}
    assert {
        "synthetic_lt-r30_shot_groups.png",
        "synthetic_lt-r30_per_class.png",
        "synthetic_lt-r30_alpha_sweep.png",
        "synthetic_lt-r30_cosine.png",
        "synthetic_lt-r30_shot_groups.pdf",
    } <= names


@pytest.mark.parametrize("notebook, schema", [("train_classification", "RunConfig"), ("train_lvis", "LVISRunConfig")])
def test_parameters_cell_is_generated_from_the_schema(notebook, schema):
    import ltkit.config

    nb = nbformat.read(ROOT / "notebooks" / f"{notebook}.ipynb", as_version=4)
    cls = getattr(ltkit.config, schema)
    assert nb.cells[1].source == cls.parameters_source()
    assert nb.cells[1].metadata.tags == [
        "parameters",
        f"schema:{'lvis' if schema == 'LVISRunConfig' else 'classification'}",
    ]
    assert f"{schema}.from_namespace(globals(), _before_injection)" in nb.cells[2].source


def test_gap_analysis_notebook(tmp_path, kernel):
    """gap_analysis.ipynb on the committed gap records: the per-class figure is written."""
    out = tmp_path / "fig" / "per_class.png"
    nb = execute("gap_analysis", tmp_path / "gap_analysis.ipynb", kernel, output=str(out))
    assert out.is_file() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cell = next(c for c in nb.cells if "read_run(f)" in c.source)  # the overall-accuracy table
    table = cell.outputs[0]["data"]["text/plain"]
    assert "lossless release" in table and "72.14" in table
