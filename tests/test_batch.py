"""ltkit.batch: recipes, their validation and expansion, and batches of papermill runs.

The executed notebooks are tiny ones generated here (kernel ``ltkit``:
``python -m ipykernel install --user --name ltkit``), never the real training notebook.
"""

import json
from pathlib import Path

import nbformat
import pytest
import yaml

from ltkit.batch.cli import main
from ltkit.batch.recipe import expand, load_recipe, parse_devices
from ltkit.batch.run import run_batch
from ltkit.config import DEFAULT_DATA_ROOTS, RunConfig

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "notebooks" / "recipes"

# the train notebook's stand-in: fails for seed 1, else writes a complete run.json atomically
TRAIN_PARAMS = 'output_dir = ""\nseed = 0\ndevice = "cpu"\nepochs = 1\npreset = ""\n'
TRAIN_BODY = """\
import json, os, tempfile
if seed == 1:
    raise ValueError("first line\\nseed 1 fails on purpose")
os.makedirs(output_dir, exist_ok=True)
record = {"status": "complete", "seed": seed, "device": device, "epochs": epochs, "cwd": os.getcwd()}
fd, tmp = tempfile.mkstemp(dir=output_dir, suffix=".tmp")
with os.fdopen(fd, "w") as f:
    json.dump(record, f)
os.replace(tmp, os.path.join(output_dir, "run.json"))
"""
REPORT_PARAMS = 'results_dir = ""\noutput_dir = "somewhere/else"\n'
REPORT_BODY = """\
import os, pathlib
names = sorted(p.parent.name for p in pathlib.Path(results_dir).glob("*/run.json"))
os.makedirs(output_dir, exist_ok=True)
(pathlib.Path(output_dir) / "report.txt").write_text(",".join(names))
"""


def make_notebook(path: Path, params: str, body: str) -> Path:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "ltkit", "display_name": "Python (ltkit)", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def write_recipe(path: Path, **recipe) -> Path:
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


@pytest.fixture
def work(tmp_path, monkeypatch):
    """tmp_path as the repo root (cwd), holding the generated train notebook."""
    monkeypatch.chdir(tmp_path)
    make_notebook(tmp_path / "nb" / "train.ipynb", TRAIN_PARAMS, TRAIN_BODY)
    return tmp_path


def seeds_recipe(root: Path, seeds, report=()) -> Path:
    return write_recipe(
        root / "recipe.yaml",
        notebook="nb/train.ipynb",
        output_root=str(root / "runs"),
        name="s{seed}",
        base={"epochs": 1, "device": "cpu"},
        grid={"seed": list(seeds)},
        report=list(report),
    )


def test_one_run_name_template_for_the_folder_the_record_and_the_batch(work):
    """A recipe without ``name`` names its runs as a run without ``output_dir`` names its folder;
    a run's name (run.json's ``run_name``) is its folder's."""
    from ltkit import RunConfig

    path = write_recipe(
        work / "recipe.yaml",
        notebook="nb/train.ipynb",
        output_root="runs",
        base={"epochs": 1, "device": "cpu"},
        grid={"seed": [0, 3]},
    )
    for spec in expand(load_recipe(path)):
        default = RunConfig(epochs=1, seed=spec.config.seed)
        assert (
            spec.name
            == default.run_name
            == Path(default.resolved_output_dir).name
            == "synthetic_lt-r100-resnet32-causal_norm-ce-s" + str(spec.config.seed)
        )
        assert spec.config.run_name == spec.name  # the batch sets output_dir: the record says the folder's name
    assert RunConfig(output_dir="results/x/cifar10_lt-r100-causal_norm-s0").run_name == "cifar10_lt-r100-causal_norm-s0"


# ---------------------------------------------------------------------------- shipped recipes
@pytest.mark.parametrize(
    "recipe, n",
    [
        ("smoke.yaml", 4),
        ("table3_cifar_lt.yaml", 36),
        ("table3_cifar10_lt.yaml", 12),
        ("table2_imagenet_lt.yaml", 2),
        ("gap_cifar10_lt_q50.yaml", 1),
        ("gap_cifar10_lt_fp32.yaml", 1),
        ("gap_cifar10_lt_best_epoch.yaml", 1),
        ("gap_cifar10_lt_bn_batch.yaml", 1),
        ("gap_cifar10_lt_lossless.yaml", 1),
        ("table3_cifar10_lt_jpeg.yaml", 9),
    ],
)
def test_shipped_recipes_load_and_expand(recipe, n):
    r = load_recipe(RECIPES / recipe)
    specs = expand(r)
    assert len(specs) == n
    assert len({s.name for s in specs}) == n
    for s in specs:
        assert s.parameters["output_dir"] == s.output_dir == str(Path(r.output_root) / s.name)
        cfg = (
            RunConfig.preset(s.parameters["preset"], **{k: v for k, v in s.parameters.items() if k != "preset"})
            if "preset" in s.parameters
            else RunConfig.from_dict(s.parameters)
        )
        assert cfg.output_dir == s.output_dir


def test_table3_grid():
    specs = expand(load_recipe(RECIPES / "table3_cifar_lt.yaml"))
    combos = {(s.config.dataset, s.config.imb_ratio, s.config.classifier, s.config.seed) for s in specs}
    assert combos == {
        (d, r, c, s)
        for d in ("cifar10_lt", "cifar100_lt")
        for r in (100.0, 50.0, 10.0)
        for c in ("linear", "causal_norm")
        for s in (0, 1, 2)
    }
    for s in specs:
        assert (
            s.parameters["data_root"]
            == {"cifar10_lt": "data/cifar10", "cifar100_lt": "data/cifar100"}[s.config.dataset]
        )
        assert s.parameters["preset"].startswith(s.config.dataset)
        assert s.output_dir.startswith("results/runs/table3/")


def test_table3_cifar10_runs_the_three_r100_seeds_first_and_the_baseline_last():
    specs = expand(load_recipe(RECIPES / "table3_cifar10_lt.yaml"))
    order = [(s.config.classifier, s.config.imb_ratio, s.config.seed) for s in specs]
    assert order == [("causal_norm", r, k) for r in (100.0, 50.0, 10.0) for k in (0, 1, 2)] + [
        ("linear", 100.0, k) for k in (0, 1, 2)
    ]
    for s in specs:
        assert (s.config.dataset, s.config.compile, s.config.amp, s.config.epochs) == ("cifar10_lt", True, True, 200)
        assert (
            s.parameters["preset"]
            == {"causal_norm": "cifar10_lt_tde", "linear": "cifar10_lt_baseline"}[s.config.classifier]
        )
        assert s.output_dir == (
            f"results/runs/table3_cifar10_lt/cifar10_lt-r{s.config.imb_ratio:g}-{s.config.classifier}-s{s.config.seed}"
        )


def test_table3_recipe_trains_on_the_release_at_the_default_root_and_skips_kept_runs():
    recipe = load_recipe(RECIPES / "table3_cifar10_lt.yaml")
    assert recipe.kept == "results/reproductions/cifar10_lt"
    for s in expand(recipe):
        assert s.config.data_root == DEFAULT_DATA_ROOTS["cifar10_lt"] and s.config.study == "reproduction"
        assert s.kept_dir == f"results/reproductions/cifar10_lt/{s.name}"


def test_table3_on_the_jpeg_copy_is_table3_with_its_data_and_folders_changed():
    release = [
        s for s in expand(load_recipe(RECIPES / "table3_cifar10_lt.yaml")) if s.config.classifier == "causal_norm"
    ]
    jpeg = expand(load_recipe(RECIPES / "table3_cifar10_lt_jpeg.yaml"))
    assert [s.name for s in jpeg] == [s.name for s in release]  # same runs, same order
    for a, b in zip(jpeg, release):
        x, y = a.config.to_dict(), b.config.to_dict()
        assert {k: x[k] for k in x if x[k] != y[k]} == {"data_root": "data/cifar10-jpeg", "output_dir": a.output_dir}
        assert a.output_dir == f"results/runs/table3_cifar10_lt_jpeg/{a.name}"
        assert a.kept_dir == f"results/analysis/cifar10_lt_jpeg/{a.name}"


@pytest.mark.parametrize(
    "recipe, differs",
    [
        ("gap_cifar10_lt_q50.yaml", {"data_root": "data/cifar10-q50"}),
        ("gap_cifar10_lt_fp32.yaml", {"amp": False}),
        ("gap_cifar10_lt_best_epoch.yaml", {"test_every": 1}),
        ("gap_cifar10_lt_bn_batch.yaml", {"bn_batch": 64}),
        ("gap_cifar10_lt_lossless.yaml", {"data_root": "data/cifar10-lossless-paired"}),
    ],
)
def test_gap_recipes_change_one_thing_of_the_table3_r100_seed0_run(recipe, differs):
    """A gap-analysis run is the JPEG-copy Table 3's r100 seed-0 run with one setting changed, and no
    more, and says it is an analysis (no paper table takes it)."""
    (gap,) = expand(load_recipe(RECIPES / recipe))
    table3 = next(
        s
        for s in expand(load_recipe(RECIPES / "table3_cifar10_lt_jpeg.yaml"))
        if (s.config.imb_ratio, s.config.seed) == (100.0, 0)
    )
    a, b = gap.config.to_dict(), table3.config.to_dict()
    changed = {k: a[k] for k in a if a[k] != b[k] and k != "output_dir"}
    assert changed == {**differs, "study": "analysis"}
    assert gap.output_dir.startswith("results/runs/gap_cifar10_lt/")


def test_smoke_and_table2_settings():
    smoke = expand(load_recipe(RECIPES / "smoke.yaml"))
    assert {(s.config.classifier, s.config.seed) for s in smoke} == {
        (c, k) for c in ("linear", "causal_norm") for k in (0, 1)
    }
    assert all(s.config.dataset == "synthetic_lt" and s.config.device == "cpu" and s.config.epochs == 3 for s in smoke)
    t2 = expand(load_recipe(RECIPES / "table2_imagenet_lt.yaml"))
    assert sorted(s.parameters["preset"] for s in t2) == ["imagenet_lt_baseline", "imagenet_lt_tde"]
    assert all(s.parameters["data_root"] == "data/ImageNet_LT" and s.config.seed == 0 for s in t2)


# ---------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "recipe, words",
    [
        ({"output_root": "r", "grdi": {"seed": [0]}}, ["grdi", "valid keys", "grid", "output_root"]),
        ({"output_root": "r", "grid": {"sede": [0]}}, ["sede", "valid parameters", "seed"]),
        ({"output_root": "r", "base": {"lr_rate": 0.1}}, ["lr_rate", "base", "valid parameters"]),
        ({"output_root": "r", "cases": [{"presett": "x"}]}, ["presett", "cases[0]"]),
        ({"output_root": "r", "name": "{seed}-{colour}", "grid": {"seed": [0]}}, ["colour", "not a parameter"]),
        ({"output_root": "r", "name": "run-{seed:d}", "grid": {"imb_ratio": [10, 100]}}, ["duplicate", "run-0"]),
        ({"output_root": "r", "grid": {"classifier": ["cosin"]}}, ["classifier", "cosin"]),
        ({"output_root": "r", "grid": {"seed": 0}}, ["grid.seed", "list"]),
        ({"output_root": "r", "base": {"output_dir": "x"}}, ["output_dir", "set by the batch"]),
        ({"output_root": "r", "cases": [{"preset": "cifar10_lt_tee"}]}, ["preset", "cifar10_lt_tee"]),
        ({"output_root": "r", "cases": [{"seed": 1}], "grid": {"seed": [0]}}, ["seed", "both"]),
        ({"output_root": "r", "name": "{dataset}/{seed}"}, ["one folder name"]),
        ({"grid": {"seed": [0]}}, ["output_root", "required"]),
    ],
)
def test_recipe_validation_names_the_problem(tmp_path, recipe, words):
    path = write_recipe(tmp_path / "bad.yaml", **recipe)
    with pytest.raises(ValueError) as e:
        load_recipe(path)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_missing_files(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_recipe(tmp_path / "nope.yaml")
    assert main([str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err
    path = write_recipe(tmp_path / "r.yaml", notebook="nb/missing.ipynb", output_root="runs", grid={"seed": [0]})
    with pytest.raises(FileNotFoundError, match="nb/missing.ipynb"):
        run_batch(path)
    assert not (tmp_path / "runs").exists()


def test_cases_cross_grid_and_grid_lists(tmp_path):
    path = write_recipe(
        tmp_path / "r.yaml",
        output_root="out",
        name="{classifier}-{loss}-s{seed}",
        base={"epochs": 2},
        cases=[{"loss": "ce"}, {"loss": "focal"}],
        grid=[{"classifier": ["linear", "causal_norm"], "seed": [0, 1]}, {"classifier": ["cosine"], "seed": [5]}],
    )
    r = load_recipe(path)
    assert r.notebook == "notebooks/train_classification.ipynb"
    assert r.report == ["notebooks/tables.ipynb", "notebooks/figures.ipynb"]
    specs = expand(r)
    assert len(specs) == 2 * (4 + 1)
    assert specs[0].name == "linear-ce-s0" and specs[0].parameters == {
        "epochs": 2,
        "loss": "ce",
        "classifier": "linear",
        "seed": 0,
        "output_dir": str(Path("out") / "linear-ce-s0"),
    }
    assert "cosine-focal-s5" in {s.name for s in specs}


def test_parse_devices():
    assert parse_devices("0,1") == [0, 1]
    assert parse_devices("cuda:2, 3") == [2, 3]
    assert parse_devices(None) is None
    with pytest.raises(ValueError, match="--devices"):
        parse_devices("gpu0")


# ---------------------------------------------------------------------------- dry run
def test_dry_run_devices_round_robin(work, capsys):
    path = seeds_recipe(work, [0, 1, 2])
    assert main([str(path), "--dry-run", "--devices", "0,1"]) == 0
    out = capsys.readouterr().out
    for name, dev in (("s0", "cuda:0"), ("s1", "cuda:1"), ("s2", "cuda:0")):
        line = next(ln for ln in out.splitlines() if ln.strip().startswith(f"{name}:"))
        assert f"device='{dev}'" in line
    assert not (work / "runs").exists()  # nothing executed, nothing written


def test_dry_run_skip_and_stale(work):
    path = write_recipe(
        work / "r.yaml",
        notebook="nb/train.ipynb",
        output_root="runs",
        name="s{seed}",
        base={"epochs": 2},
        grid={"seed": [0, 1, 2]},
        report=[],
    )
    same = RunConfig(epochs=2, seed=0, output_dir="elsewhere", device="cuda").to_dict()  # execution fields may differ
    other = RunConfig(epochs=3, seed=1).to_dict()
    for name, params in (("s0", same), ("s1", other)):
        (work / "runs" / name).mkdir(parents=True)
        (work / "runs" / name / "run.json").write_text(json.dumps({"status": "complete", "params": params}))
    rows = run_batch(path, dry_run=True, devices="0")
    assert [r["status"] for r in rows] == ["would skip", "would run", "would run"]
    assert rows[1]["parameters"]["device"] == "cuda:0" and rows[2]["parameters"]["device"] == "cuda:0"


# ---------------------------------------------------------------------------- real batches
def test_batch_runs_fails_skips_and_summarises(work, capsys):
    path = seeds_recipe(work, [0, 1, 2])
    runs = work / "runs"
    # --jobs 2 and --devices: three runs, the seed-1 run fails, the others complete
    assert main([str(path), "--jobs", "2", "--devices", "0,1"]) == 1
    rows = json.loads((runs / "batch.json").read_text())
    by = {r["name"]: r for r in rows}
    assert [r["name"] for r in rows] == ["s0", "s1", "s2"]
    assert by["s0"]["status"] == by["s2"]["status"] == "done"
    assert by["s1"]["status"] == "failed"
    assert by["s1"]["error"] == "ValueError: seed 1 fails on purpose"
    # what ltkit status estimates a pending run's time from: the run-defining fields, no execution ones
    assert by["s2"]["config"]["seed"] == 2 and by["s2"]["config"]["epochs"] == by["s0"]["config"]["epochs"]
    assert "device" not in by["s2"]["config"] and "output_dir" not in by["s2"]["config"]
    for name in ("s0", "s1", "s2"):
        assert (runs / name / "train.ipynb").is_file()  # the executed copy, beside the run record
    for name, dev in (("s0", "cuda:0"), ("s2", "cuda:0")):
        rec = json.loads((runs / name / "run.json").read_text())
        assert rec["device"] == dev and rec["epochs"] == 1
        assert Path(rec["cwd"]).resolve() == work.resolve()
    assert not (runs / "s1" / "run.json").exists()
    executed = nbformat.read(str(runs / "s1" / "train.ipynb"), as_version=4)
    assert any('device = "cuda:1"' in c.source for c in executed.cells)  # the injected parameters
    md = (runs / "batch.md").read_text()
    assert "| s1 | failed |" in md and "seed 1 fails on purpose" in md
    assert "| s1 | failed |" in capsys.readouterr().out

    # again: the finished runs are skipped and left untouched, the failed one runs again
    stamps = {n: [(p.name, p.stat().st_mtime_ns) for p in sorted((runs / n).iterdir())] for n in ("s0", "s2")}
    rows = run_batch(path)
    assert [(r["name"], r["status"]) for r in rows] == [("s0", "skipped"), ("s1", "failed"), ("s2", "skipped")]
    assert rows[1]["error"] == "ValueError: seed 1 fails on purpose"
    assert {n: [(p.name, p.stat().st_mtime_ns) for p in sorted((runs / n).iterdir())] for n in ("s0", "s2")} == stamps
    assert [r["status"] for r in json.loads((runs / "batch.json").read_text())] == ["skipped", "failed", "skipped"]


def test_batch_md_says_how_far_a_running_batch_got(work):
    """batch.md is written at the start and after each run, so a batch killed outright (no
    chance to write its final summary) leaves it current; each run here copies what it saw."""
    peek = (
        "import pathlib, shutil\nshutil.copy(pathlib.Path(output_dir).parent / 'batch.md', output_dir + '.seen.md')\n"
    )
    make_notebook(work / "nb" / "peek.ipynb", TRAIN_PARAMS, TRAIN_BODY + peek)
    path = write_recipe(
        work / "recipe.yaml",
        notebook="nb/peek.ipynb",
        output_root="runs",
        name="s{seed}",
        base={"epochs": 1, "device": "cpu"},
        grid={"seed": [0, 2, 3]},
    )
    (work / "runs" / "s3").mkdir(parents=True)
    (work / "runs" / "s3" / "run.json").write_text(json.dumps({"status": "complete"}))
    run_batch(path)
    first, second = ((work / "runs" / f"s{n}.seen.md").read_text() for n in (0, 2))
    assert "(in progress since " in first and "ltkit status runs" in first
    assert "| s0 | pending |" in first and "| s2 | pending |" in first and "| s3 | skipped |" in first
    assert "| s0 | done |" in second and "| s2 | pending |" in second
    final = (work / "runs" / "batch.md").read_text()
    assert "in progress" not in final and "| s2 | done |" in final and "pending" not in final


def test_report_runs_after_batch(work, capsys):
    make_notebook(work / "nb" / "report.ipynb", REPORT_PARAMS, REPORT_BODY)
    path = seeds_recipe(work, [0, 2], report=["nb/report.ipynb", "nb/absent.ipynb"])
    runs = work / "runs"
    # s0 finished earlier (skipped), s2 runs now; then the report sees both
    (runs / "s0").mkdir(parents=True)
    (runs / "s0" / "run.json").write_text(json.dumps({"status": "complete"}))
    assert main([str(path), "--report"]) == 0
    assert (runs / "reports" / "report.txt").read_text() == "s0,s2"  # output_dir = output_root/reports
    assert (runs / "reports" / "report.ipynb").is_file()
    err = capsys.readouterr().err
    assert "warning" in err and "nb/absent.ipynb" in err
    rows = json.loads((runs / "batch.json").read_text())
    assert [(r["name"], r["status"]) for r in rows] == [("s0", "skipped"), ("s2", "done")]


def test_missing_kernel_is_a_clear_error(work, capsys):
    path = seeds_recipe(work, [0])
    assert main([str(path), "--kernel", "no-such-kernel-xyz"]) == 2
    err = capsys.readouterr().err
    assert "no-such-kernel-xyz" in err and "ipykernel install" in err
    assert not (work / "runs").exists()


# ---------------------------------------------------------------------------- LVIS recipes
def test_lvis_recipe_expands_with_work_dirs_and_checks_lvis_parameters(tmp_path):
    from ltkit.batch.execute import run_state
    from ltkit.batch.recipe import assign_devices

    r = load_recipe(RECIPES / "table4_lvis.yaml")
    specs = expand(r)
    assert [s.parameters["config"] for s in specs] == [
        "lvis_v1/htc_without_semantic_r101_fpn_20e_baseline",
        "lvis_v1/htc_without_semantic_r101_fpn_20e_tde",
        "lvis_v05/htc_without_semantic_r101_fpn_20e_baseline",
        "lvis_v05/htc_without_semantic_r101_fpn_20e_tde",
    ]
    assert specs[1].name == "lvis_v1-htc_without_semantic_r101_fpn_20e_tde-s0"
    assert all(s.parameters["work_dir"] == s.output_dir and s.parameters["gpus"] == 8 for s in specs)
    assert "output_dir" not in specs[0].parameters
    with pytest.raises(ValueError, match="LVIS runs take the `gpus`"):
        assign_devices(specs, [0, 1])

    bad = write_recipe(
        tmp_path / "bad.yaml",
        notebook="notebooks/train_lvis.ipynb",
        output_root="o",
        name="{config_name}",
        base={"epochs": 2},
    )
    with pytest.raises(ValueError, match="unknown parameter 'epochs'; valid parameters: config, data_root, gpus"):
        load_recipe(bad)
    reserved = write_recipe(
        tmp_path / "res.yaml",
        notebook="notebooks/train_lvis.ipynb",
        output_root="o",
        name="{config_name}",
        base={"work_dir": "x"},
    )
    with pytest.raises(ValueError, match="'work_dir' is set by the batch"):
        load_recipe(reserved)

    # skip logic: a complete record is skipped when the defining parameters match, rerun when not
    spec = dataclasses_replace(specs[1], output_dir=str(tmp_path / "run"))
    (tmp_path / "run").mkdir()
    record = {
        "status": "complete",
        "params": {
            "config": spec.parameters["config"],
            "seed": 0,
            "alpha": 1.5,
            "data_root": "",
            "eval_only": "",
            "backend": "lvis",
            "tiny": False,
        },
    }
    (tmp_path / "run" / "run.json").write_text(json.dumps(record))
    assert run_state(spec) == "complete"
    other = dataclasses_replace(spec, config=spec.config.replace(alpha=1.0))
    assert run_state(other) == "stale"


def dataclasses_replace(spec, **kw):
    import dataclasses

    return dataclasses.replace(spec, **kw)


def test_the_schema_comes_from_the_notebooks_tag_not_its_name(tmp_path):
    import nbformat

    from ltkit.batch.recipe import notebook_schema
    from ltkit.config import LVISRunConfig

    assert notebook_schema(REPO / "notebooks" / "train_lvis.ipynb") is LVISRunConfig
    assert notebook_schema(REPO / "notebooks" / "train_classification.ipynb") is RunConfig
    # a copy of the LVIS notebook under another name keeps its schema; dropping the tag makes it classification
    nb = nbformat.read(REPO / "notebooks" / "train_lvis.ipynb", as_version=4)
    nbformat.write(nb, tmp_path / "my_detector.ipynb")
    assert notebook_schema(tmp_path / "my_detector.ipynb") is LVISRunConfig
    recipe = write_recipe(
        tmp_path / "r.yaml",
        notebook=str(tmp_path / "my_detector.ipynb"),
        output_root="o",
        name="{config_name}",
        cases=[{"config": "lvis_v1/mask_rcnn_r50_fpn_1x_tde"}],
    )
    assert expand(load_recipe(recipe))[0].parameters["work_dir"] == "o/lvis_v1-mask_rcnn_r50_fpn_1x_tde"
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.metadata.tags = ["parameters"]
    nbformat.write(nb, tmp_path / "untagged.ipynb")
    assert notebook_schema(tmp_path / "untagged.ipynb") is RunConfig
    params.metadata.tags = ["parameters", "schema:segmentation"]
    nbformat.write(nb, tmp_path / "unknown.ipynb")
    with pytest.raises(ValueError, match="names schema 'segmentation'; known schemas: classification, lvis"):
        notebook_schema(tmp_path / "unknown.ipynb")


# ---------------------------------------------------------------------------- one folder, one process
def test_a_run_folder_held_elsewhere_is_reported_and_the_batch_goes_on(work):
    import subprocess
    import sys

    path = seeds_recipe(work, [0, 2])
    held = work / "runs" / "s0"
    code = "import sys, time\nfrom ltkit.runs.folder import hold\nwith hold(sys.argv[1]):\n print('held', flush=True); time.sleep(60)"
    p = subprocess.Popen([sys.executable, "-c", code, str(held)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        rows = run_batch(path)
    finally:
        p.kill()
        p.wait()
    by = {r["name"]: r for r in rows}
    assert by["s0"]["status"] == "running elsewhere" and f"pid {p.pid}" in by["s0"]["error"]
    assert by["s2"]["status"] == "done"
    assert not (held / "run.json").exists() and not (held / "train.ipynb").exists()  # its folder was left alone


# ---------------------------------------------------------------------------- executors
def _table_row(rows, name):
    return next(r for r in rows if r["name"] == name)


def test_smoke_recipe_through_submitit_local_then_skips(tmp_path, monkeypatch):
    """The shipped smoke recipe, each run a real submitit job (a local process with its job folder)."""
    monkeypatch.chdir(REPO)
    recipe = yaml.safe_load((RECIPES / "smoke.yaml").read_text())
    recipe["output_root"] = str(tmp_path / "smoke")
    path = write_recipe(tmp_path / "smoke.yaml", **recipe)
    rows = run_batch(path, executor="submitit-local", jobs=2)
    assert [r["status"] for r in rows] == ["done"] * 4, rows
    for r in rows:
        rec = json.loads((Path(r["output_dir"]) / "run.json").read_text())
        assert rec["status"] == "complete" and rec["params"]["epochs"] == 3
        log = Path(r["log"])  # the job's own log, in its submitit folder under output_root/submitit/<job id>
        assert log.is_file() and log.parent.parent == tmp_path / "smoke" / "submitit"
        assert rec["process"]["pid"] != __import__("os").getpid()
    jobs = sorted((tmp_path / "smoke" / "submitit").rglob("*"))
    assert len([p for p in jobs if p.name.endswith("_result.pkl")]) == 4
    again = run_batch(path, executor="submitit-local", jobs=2)
    assert [r["status"] for r in again] == ["skipped"] * 4
    assert sorted((tmp_path / "smoke" / "submitit").rglob("*")) == jobs  # no job was submitted


def test_a_failing_job_is_recorded_with_its_error_and_log(work):
    path = seeds_recipe(work, [0, 1])
    rows = run_batch(path, executor="submitit-local")
    s1 = _table_row(rows, "s1")
    assert s1["status"] == "failed" and s1["error"] == "ValueError: seed 1 fails on purpose"
    assert Path(s1["log"]).is_file() and _table_row(rows, "s0")["status"] == "done"


FAKE_SBATCH = """#!/bin/sh
cp "$1" "$FAKE_SBATCH_COPY"
echo "Submitted batch job 4242"
"""


def test_slurm_submission_script_carries_the_resources(work, monkeypatch):
    """No cluster here: a stand-in sbatch keeps the script submitit generates for one run."""
    from ltkit.batch.executors import make_executor, submit
    from ltkit.batch.resources import Resources, parse_resources

    bin_dir = work / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(FAKE_SBATCH)
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")  # submitit looks for it before it submits
    for tool in ("sbatch", "srun"):
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    monkeypatch.setenv("FAKE_SBATCH_COPY", str(work / "submitted.sh"))
    path = write_recipe(
        work / "recipe.yaml",
        notebook="nb/train.ipynb",
        output_root=str(work / "runs"),
        name="s{seed}",
        base={"gpus": 2},
        grid={"seed": [0]},
        cluster={
            "partition": "gpu",
            "time": "1-12:00:00",
            "cpus": 16,
            "mem_gb": 64,
            "sbatch": {"account": "lab", "constraint": "a100"},
            "setup": ["module load cuda/12.4"],
        },
    )
    recipe = load_recipe(path)
    res = parse_resources(recipe.cluster)
    assert res == Resources(
        partition="gpu",
        time_min=2160,
        cpus=16,
        mem_gb=64.0,
        sbatch={"account": "lab", "constraint": "a100"},
        setup=["module load cuda/12.4"],
    )
    spec = expand(recipe)[0]
    job = submit(
        make_executor("slurm", work / "runs" / "submitit"),
        "slurm",
        res,
        spec,
        work / "nb" / "train.ipynb",
        "ltkit",
        work,
    )
    assert job.job_id == "4242"
    script = (work / "submitted.sh").read_text()
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --time=2160",
        "#SBATCH --cpus-per-task=16",
        "#SBATCH --gpus-per-node=2",  # the run's gpus: its notebook starts torchrun inside the job
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --nodes=1",
        "#SBATCH --mem=64GB",
        "#SBATCH --account=lab",
        "#SBATCH --constraint=a100",
        "#SBATCH --job-name=s0",
        "module load cuda/12.4",
        "-m submitit.core._submit",
        "#SBATCH --signal=USR2@",
    ):
        assert line in script, (line, script)
    assert str(work / "runs" / "submitit") in script  # the job folder, for its logs and the requeue


@pytest.mark.parametrize(
    "text, minutes", [(90, 90), ("90", 90), ("30:15", 31), ("12:00:00", 720), ("1-12", 2160), ("2-00:30", 2910)]
)
def test_slurm_time_formats(text, minutes):
    from ltkit.batch.resources import parse_time

    assert parse_time(text) == minutes


@pytest.mark.parametrize(
    "cluster, words",
    [
        ({"partion": "gpu"}, ["partion", "valid keys", "partition"]),
        ({"time": "soon"}, ["time", "HH:MM:SS"]),
        ({"gpus": -1}, ["gpus", ">= 0"]),
        ({"sbatch": ["account=lab"]}, ["sbatch", "mapping"]),
    ],
)
def test_bad_cluster_settings_are_named(tmp_path, cluster, words):
    path = write_recipe(tmp_path / "bad.yaml", output_root="r", cluster=cluster)
    with pytest.raises(ValueError) as e:
        load_recipe(path)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_devices_are_for_the_threads_executor(work, capsys):
    assert main([str(seeds_recipe(work, [0])), "--executor", "slurm", "--devices", "0"]) == 2
    assert "--devices" in capsys.readouterr().err


# ---------------------------------------------------------------------------- Ctrl-C
@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_an_interrupted_batch_stops_within_seconds_and_resumes(tmp_path, signame):
    """Ctrl-C (SIGINT) or a scheduler's SIGTERM while a real run trains: the batch stops its kernel,
    records the run interrupted and the next one not started, exits; run again, it resumes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from ltkit.runs.folder import holder

    base = dict(
        dataset="synthetic_lt",
        synthetic_classes=4,
        synthetic_n_max=40,
        imb_ratio=10,
        synthetic_image_size=8,
        batch_size=16,
        lr=0.05,
        warmup_epochs=1,
        milestones=[2],
        device="cpu",
        num_workers=0,
        progress=False,
        classifier="causal_norm",
        alpha=1.0,
        epochs=30,
        amp=False,
    )
    path = write_recipe(
        tmp_path / "long.yaml",
        notebook="notebooks/train_classification.ipynb",
        output_root=str(tmp_path / "runs"),
        name="s{seed}",
        base=base,
        grid={"seed": [0, 1]},
        report=[],
    )
    run0 = tmp_path / "runs" / "s0"
    p = subprocess.Popen(
        [sys.executable, "-m", "ltkit.batch", str(path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 240
    while not (run0 / "history.csv").is_file():  # training has started
        assert p.poll() is None and time.monotonic() < deadline, p.stdout.read() if p.poll() is not None else "slow"
        time.sleep(0.2)
    t0 = time.monotonic()
    p.send_signal(getattr(signal, signame))
    out, _ = p.communicate(timeout=60)
    stopped_s = time.monotonic() - t0
    assert p.returncode == 128 + getattr(signal, signame), out
    assert stopped_s < 20, stopped_s
    rows = {r["name"]: r for r in json.loads((tmp_path / "runs" / "batch.json").read_text())}
    assert rows["s0"]["status"] == "interrupted" and rows["s1"]["status"] == "not started", rows
    rec = json.loads((run0 / "run.json").read_text())
    assert rec["status"] == "interrupted"
    epochs_done = rec["progress"]["epoch"]
    assert 1 <= epochs_done < 30
    time.sleep(1.5)  # the kernel is gone: nothing holds the folder, its process has ended
    assert holder(run0) is None
    with pytest.raises(ProcessLookupError):
        os.kill(rec["process"]["pid"], 0)
    assert not (tmp_path / "runs" / "s1").exists()

    again = subprocess.run(
        [sys.executable, "-m", "ltkit.batch", str(path)], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert again.returncode == 0, again.stdout + again.stderr
    rec = json.loads((run0 / "run.json").read_text())
    assert rec["status"] == "complete" and rec["progress"]["epoch"] == 30
    executed = (run0 / "train_classification.ipynb").read_text()
    assert f"after epoch {epochs_done}/30" in executed or f"after epoch {epochs_done + 1}/30" in executed


def test_the_bar_shows_each_running_run_s_epoch_loss_and_time_left(tmp_path):
    from types import SimpleNamespace

    from ltkit.batch.run import running_text

    def spec(name, record):
        folder = tmp_path / name
        if record is not None:
            folder.mkdir()
            (folder / "run.json").write_text(json.dumps(record))
        return SimpleNamespace(name=name, output_dir=str(folder))

    progress = {"epoch": 53, "epochs": 200, "loss": 0.4621, "eta_s": 2950.0}
    specs = [
        spec("a", {"status": "running", "progress": progress}),
        spec("b", {"status": "complete", "progress": progress}),  # finished: not running
        spec("c", None),  # not started
        spec("d", {"status": "running", "progress": progress}),  # reported done by the batch already
    ]
    assert running_text(specs, {"d": {}}, tmp_path) == ["a epoch 53/200 loss 0.462 49 min left"]
