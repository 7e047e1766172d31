"""Records name their data by content, tables never pool different data, and committed records
cannot be overwritten (issue 27, parts 1-3)."""

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, load_script, requires_shared_cifar10
from test_data import write_fake_cifar10

import ltkit
from ltkit.batch.execute import run_state
from ltkit.batch.recipe import expand, load_recipe
from ltkit.data import load_cifar_lt
from ltkit.data.fingerprint import KNOWN_CONTENT, NO_BLOCK, label
from ltkit.report.load import load_runs, trained_on_several
from ltkit.report.tables import compare_table, summary_table, table_markdown
from ltkit.runs.record import read_run

COMMITTED = REPO / "results" / "reproductions" / "cifar10_lt" / "cifar10_lt-r100-causal_norm-s0"


# ----------------------------------------------------------------------------- the fingerprint
def _rewrite_in_other_files(src: Path, dst: Path) -> None:
    """The same pixels and labels in other files: bytes keys, batches of other sizes."""
    folder = dst / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rows, labels = [], []
    for i in range(1, 6):
        with open(src / "cifar-10-batches-py" / f"data_batch_{i}", "rb") as f:
            d = pickle.load(f)
        rows.append(d["data"])
        labels += list(d["labels"])
    x, y = np.concatenate(rows), np.asarray(labels)
    start = 0
    for i, n in enumerate([len(y) - 4, 1, 1, 1, 1], 1):
        with open(folder / f"data_batch_{i}", "wb") as f:
            pickle.dump({b"data": x[start : start + n], b"labels": y[start : start + n].tolist()}, f)
        start += n
    shutil.copyfile(src / "cifar-10-batches-py" / "test_batch", folder / "test_batch")


def test_the_same_content_in_other_files_has_the_same_fingerprint(tmp_path):
    write_fake_cifar10(tmp_path / "a", str_keys=True)
    _rewrite_in_other_files(tmp_path / "a", tmp_path / "b")
    a = load_cifar_lt(tmp_path / "a", 10, 10, seed=0).info["data"]
    b = load_cifar_lt(tmp_path / "b", 10, 10, seed=0).info["data"]
    assert a["fingerprint"] == b["fingerprint"] and a["fingerprint"].startswith("sha256:")
    assert a["subset"] == b["subset"]
    assert a["root"] == str(tmp_path / "a") and a["dataset"] == "cifar10_lt"
    assert a["content"] == "unknown copy" and a["known_release"] is False


def test_one_changed_pixel_or_another_order_is_other_data(tmp_path):
    write_fake_cifar10(tmp_path / "a")
    base = load_cifar_lt(tmp_path / "a", 10, 10, seed=0).info["data"]["fingerprint"]
    for name, change in (("pixel", "pixel"), ("order", "order")):
        dst = tmp_path / name
        shutil.copytree(tmp_path / "a", dst)
        path = dst / "cifar-10-batches-py" / "data_batch_3"
        with open(path, "rb") as f:
            d = pickle.load(f)
        if change == "pixel":
            d["data"] = d["data"].copy()
            d["data"][7, 100] ^= 1
        else:  # swap two images with their labels
            d["data"] = d["data"][[1, 0] + list(range(2, len(d["data"])))]
            d["labels"] = [d["labels"][1], d["labels"][0]] + d["labels"][2:]
        with open(path, "wb") as f:
            pickle.dump(d, f)
        assert load_cifar_lt(dst, 10, 10, seed=0).info["data"]["fingerprint"] != base, name


def test_the_subset_block_names_the_seed_s_draw(tmp_path):
    write_fake_cifar10(tmp_path)
    a, b, a2 = (load_cifar_lt(tmp_path, 10, 10, seed=s).info["data"] for s in (0, 1, 0))
    assert a["fingerprint"] == b["fingerprint"]  # same data
    assert a["subset"]["counts"] == b["subset"]["counts"] == [100, 77, 59, 46, 35, 27, 21, 16, 12, 10]
    assert a["subset"]["indices_sha256"] != b["subset"]["indices_sha256"]  # another draw
    assert a == a2


def test_a_known_fingerprint_is_named_and_the_rest_are_unknown_copies(tmp_path, monkeypatch):
    write_fake_cifar10(tmp_path)
    fp = load_cifar_lt(tmp_path, 10, 10, seed=0).info["data"]["fingerprint"]
    assert label({"fingerprint": fp, "content": "unknown copy"}) == f"unknown copy {fp[7:19]}"
    monkeypatch.setitem(KNOWN_CONTENT, fp, ("fake release", True))
    block = load_cifar_lt(tmp_path, 10, 10, seed=0).info["data"]
    assert (block["content"], block["known_release"]) == ("fake release", True)
    assert label(block) == "fake release"
    assert label(None) == label({}) == NO_BLOCK


@requires_shared_cifar10
def test_the_team_jpeg_copy_is_the_registered_q75_copy(cifar10_root):
    block = load_cifar_lt(cifar10_root, 10, 100, seed=0).info["data"]
    assert (block["content"], block["known_release"]) == ("CIFAR-10 JPEG copy q75", False)


def test_the_official_release_constant_is_the_one_the_committed_record_carries():
    rec = read_run(COMMITTED)
    assert rec["data"]["content"] == "CIFAR-10 official release" and rec["data"]["known_release"] is True
    assert KNOWN_CONTENT[rec["data"]["fingerprint"]] == ("CIFAR-10 official release", True)


# ----------------------------------------------------------------------------- the run writes it
def _tiny(root, out, **kw):
    settings = dict(
        data_root=str(root),
        imb_ratio=10,
        epochs=1,
        steps_per_epoch=2,
        batch_size=32,
        device="cpu",
        amp=False,
        compile=False,
        progress=False,
        num_workers=0,
        output_dir=str(out),
    )
    return ltkit.RunConfig.preset("cifar10_lt_tde", **{**settings, **kw})


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("fake_cifar")
    write_fake_cifar10(root)
    out = tmp_path_factory.mktemp("runs") / "run"
    ltkit.run(_tiny(root, out), log=lambda *_: None)
    return root, out


def test_a_run_records_its_data_and_each_epoch_s_device(tiny_run):
    root, out = tiny_run
    rec = read_run(out)
    assert rec["data"] == load_cifar_lt(root, 10, 10, seed=0).info["data"]
    assert rec["data"]["subset"]["counts"] == rec["train_counts"]
    hist = pd.read_csv(out / "history.csv")
    assert hist.device_name.tolist() == [rec["environment"]["cpu"]] and rec["devices"] == rec["environment"]["cpu"]
    assert trained_on_several(out) is False


def test_the_tool_reproduces_a_fresh_run_s_block_exactly(tiny_run, tmp_path):
    root, out = tiny_run
    tool = load_script("tools/records/data_block.py")
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    rec = read_run(copy)
    fresh = rec.pop("data")
    (copy / "run.json").write_text(json.dumps(rec))
    tool.add_block(copy, str(root))
    again = read_run(copy)
    assert again["data"] == fresh
    assert again["data_added"]["by"] == "tools/records/data_block.py"
    tool.add_block(copy, str(root))  # a second time: the same block, left as it is
    assert read_run(copy) == again
    # data whose subset has other counts is not this run's data
    other = tmp_path / "other"
    write_fake_cifar10(other, per_class_train=50)
    with pytest.raises(SystemExit, match="not this run's data"):
        tool.add_block(copy, str(other))


def test_a_run_does_not_resume_on_other_data(tiny_run, tmp_path):
    root, out = tiny_run
    run_dir = tmp_path / "resume"
    shutil.copytree(out, run_dir)
    rec = read_run(run_dir)
    rec["status"] = "running"
    (run_dir / "run.json").write_text(json.dumps(rec))
    other = tmp_path / "other"
    write_fake_cifar10(other)
    with open(other / "cifar-10-batches-py" / "test_batch", "rb") as f:
        d = pickle.load(f)
    d["data"] = 255 - d["data"]
    with open(other / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump(d, f)
    with pytest.raises(ValueError, match="started on other data"):
        ltkit.run(_tiny(other, run_dir), log=lambda *_: None)


# ----------------------------------------------------------------------------- tables never pool data
def _run(tmp, name, *, fp, overall, seed=0, study=None, dataset="cifar10_lt", history=None):
    params = ltkit.RunConfig.preset("cifar10_lt_tde", seed=seed).to_dict()
    if study is None:
        params.pop("study")  # a record from before the field
    else:
        params["study"] = study
    rec = {
        "status": "complete",
        "params": params,
        "metrics": {
            "plain": {"overall": overall - 8, "many": 1.0, "medium": 1.0, "few": None},
            "tde": {"overall": overall, "many": 1.0, "medium": 1.0, "few": None, "alpha": 1.0},
        },
    }
    if fp is not None:
        rec["data"] = {"dataset": dataset, "fingerprint": fp, "content": "unknown copy"}
    d = tmp / name
    d.mkdir(parents=True)
    (d / "run.json").write_text(json.dumps(rec))
    if history is not None:
        pd.DataFrame(history).to_csv(d / "history.csv", index=False)
    return d


OFFICIAL = next(fp for fp, (name, _) in KNOWN_CONTENT.items() if name == "CIFAR-10 official release")
JPEG = next(fp for fp, (name, _) in KNOWN_CONTENT.items() if name == "CIFAR-10 JPEG copy q75")


def _md_rows(md):
    """{row label: the row's line} of a markdown table."""
    return {line.split(" | ")[0][2:]: line for line in md.splitlines() if line.startswith("| ")}


def _tde_cells(cmp):
    sel = cmp[(cmp.method == "De-confound-TDE") & (cmp.column == "cifar10_lt-r100")]
    return {r.data: (r.n, round(r.ours_mean, 6)) for r in sel.itertuples()}


def test_runs_on_different_data_fill_different_rows(tmp_path):
    _run(tmp_path, "off0", fp=OFFICIAL, overall=80.0, seed=0)
    _run(tmp_path, "off1", fp=OFFICIAL, overall=81.0, seed=1)
    _run(tmp_path, "jpg0", fp=JPEG, overall=76.0, seed=0)
    _run(tmp_path, "unk0", fp="sha256:" + "ab" * 32, overall=50.0)
    _run(tmp_path, "old0", fp=None, overall=60.0)  # no data block
    cmp = compare_table(load_runs(tmp_path), "table3")
    assert _tde_cells(cmp) == {
        "CIFAR-10 official release": (2, 80.5),
        "CIFAR-10 JPEG copy q75": (1, 76.0),
        "unknown copy " + "ab" * 6: (1, 50.0),
        NO_BLOCK: (1, 60.0),
    }
    rows = _md_rows(table_markdown(cmp))
    assert "80.5 ± 0.7 (n=2) / 80.6" in rows["De-confound-TDE (CIFAR-10 official release)"]
    assert "60.0 (n=1) / 80.6" in rows["De-confound-TDE (data unknown)"]
    summary = summary_table(load_runs(tmp_path))
    assert len(summary[summary.method == "De-confound-TDE"]) == 4


def test_one_data_is_named_under_the_table(tmp_path):
    _run(tmp_path, "off0", fp=OFFICIAL, overall=80.0)
    md = table_markdown(compare_table(load_runs(tmp_path), "table3"))
    assert "80.0 (n=1) / 80.6" in _md_rows(md)["De-confound-TDE"] and "Data: CIFAR-10 official release." in md


def test_a_gap_analysis_run_never_enters_a_paper_table(tmp_path):
    _run(tmp_path, "off0", fp=OFFICIAL, overall=80.0, study="reproduction")
    _run(tmp_path, "gap0", fp=OFFICIAL, overall=70.0, study="analysis")  # same data, same config
    assert _tde_cells(compare_table(load_runs(tmp_path), "table3")) == {"CIFAR-10 official release": (1, 80.0)}
    summary = summary_table(load_runs(tmp_path))  # the summary shows it, apart
    tde = summary[summary.method == "De-confound-TDE"].set_index("study").overall
    assert tde.to_dict() == {"analysis": 70.0, "reproduction": 80.0}


def test_a_run_trained_on_two_machines_is_marked(tmp_path):
    hist = {"epoch": [1, 2], "precision": ["bf16", "bf16"], "device_name": ["Intel Xeon", "AMD EPYC"]}
    d = _run(tmp_path, "off0", fp=OFFICIAL, overall=80.0, history=hist)
    assert trained_on_several(d)
    md = table_markdown(compare_table(load_runs(tmp_path), "table3"))
    assert "80.0 (n=1)† / 80.6" in md and "†: some of the cell's runs trained on more than one machine" in md


# ----------------------------------------------------------------------------- committed records are safe
@pytest.fixture
def committed_copy(tmp_path):
    dst = tmp_path / COMMITTED.name
    shutil.copytree(COMMITTED, dst)
    assert not (dst / "checkpoint.pt").exists()
    return dst


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_committed_record_refuses_other_training_parameters(committed_copy):
    before = _snapshot(committed_copy)
    params = read_run(committed_copy)["params"]
    cfg = ltkit.RunConfig.from_dict({**params, "output_dir": str(committed_copy), "lr": 0.1, "seed": 5})
    with pytest.raises(
        ValueError,
        match=r"complete record of a run with other training parameters \(.*lr: 0\.2 -> 0\.1"
        r".*seed: 0 -> 5",
    ):
        ltkit.run(cfg, log=lambda *_: None)
    assert _snapshot(committed_copy) == before


def test_another_alpha_on_a_committed_record_says_what_it_needs(committed_copy):
    before = _snapshot(committed_copy)
    params = read_run(committed_copy)["params"]
    cfg = ltkit.RunConfig.from_dict({**params, "output_dir": str(committed_copy), "alpha": 1.5})
    with pytest.raises(ValueError, match=r"alpha: 1\.0 -> 1\.5.*needs the trained model.*checkpoint\.pt.*outputs\.npz"):
        ltkit.run(cfg, log=lambda *_: None)
    assert _snapshot(committed_copy) == before


def test_the_same_config_on_a_committed_record_is_complete(committed_copy):
    params = read_run(committed_copy)["params"]
    cfg = ltkit.RunConfig.from_dict({**params, "output_dir": str(committed_copy), "data_root": "elsewhere"})
    said = []
    assert ltkit.run(cfg, log=said.append) == committed_copy and "complete already" in said[0]


def test_a_recipe_skips_runs_whose_record_is_kept(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    kept = tmp_path / "kept"
    shutil.copytree(COMMITTED, kept / "cifar10_lt-r100-causal_norm-s0")
    (tmp_path / "r.yaml").write_text(
        f"notebook: {REPO / 'notebooks' / 'train_classification.ipynb'}\noutput_root: runs\nkept: kept\n"
        "name: '{dataset}-r{imb_ratio:g}-{classifier}-s{seed}'\n"
        "base: {compile: true}\ncases: [{preset: cifar10_lt_tde, data_root: data/cifar10}]\ngrid: {seed: [0, 1]}\n"
    )
    states = {s.name: run_state(s) for s in expand(load_recipe(tmp_path / "r.yaml"))}
    assert states == {"cifar10_lt-r100-causal_norm-s0": "complete", "cifar10_lt-r100-causal_norm-s1": "pending"}
    from ltkit.batch.run import run_batch

    rows = run_batch(tmp_path / "r.yaml", dry_run=True)
    assert [r["status"] for r in rows] == ["would skip", "would run"]
    assert "skip (kept in kept/cifar10_lt-r100-causal_norm-s0)" in capsys.readouterr().out
