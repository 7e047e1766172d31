"""The published Places-LT and ImageNet-LT split lists (../shared/data/lt-splits.zip; skipped
where it is absent): the list reader on each real file, the shot groups they give, and one
short Places-LT run on stand-in images written at the listed paths."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import requires_shared_splits
from PIL import Image

import ltkit
from ltkit.data import listfile, load_list_lt, shot_groups
from ltkit.data.listfile import EXPECTED_LINES, NUM_CLASSES, SPLIT_FILES, read_list_file

pytestmark = requires_shared_splits

FOLDER = {"places_lt": "Places_LT", "imagenet_lt": "ImageNet_LT"}
#: (dataset, split) -> (images per class: min, max); the lists' published shape
PER_CLASS = {
    ("places_lt", "train"): (5, 4980),
    ("places_lt", "val"): (20, 20),
    ("places_lt", "test"): (100, 100),
    ("imagenet_lt", "val"): (20, 20),
    ("imagenet_lt", "test"): (50, 50),
}
#: where each list's images live: the first path component, then <class folder>/<file>
LAYOUT = {
    ("places_lt", "train"): ("train", ".jpg"),
    ("places_lt", "val"): ("train", ".jpg"),  # Places-LT val is drawn from Places365 train images
    ("places_lt", "test"): ("val", ".jpg"),  # ... and its test from Places365 val images
    ("imagenet_lt", "val"): ("train", ".JPEG"),
    ("imagenet_lt", "test"): ("val", ".JPEG"),  # ILSVRC val images, in class folders
}


def split_path(lt_splits, name, split):
    return lt_splits / FOLDER[name] / SPLIT_FILES[name][split]


@pytest.mark.parametrize("name, split", sorted(PER_CLASS))
def test_the_reader_on_each_published_list(lt_splits, name, split):
    paths, labels = read_list_file(split_path(lt_splits, name, split))
    assert len(paths) == EXPECTED_LINES[name][split] and len(set(paths)) == len(paths)
    counts = np.bincount(labels, minlength=NUM_CLASSES[name])
    assert len(counts) == NUM_CLASSES[name]  # labels 0 .. C-1, every class present
    assert (counts.min(), counts.max()) == PER_CLASS[name, split]
    top, ext = LAYOUT[name, split]
    parts = [p.split("/") for p in paths]
    assert all(len(q) == 3 and q[0] == top and q[2].endswith(ext) for q in parts), paths[:3]
    folder_of = {}  # one class folder per label, one label per class folder
    for q, y in zip(parts, labels.tolist()):
        assert folder_of.setdefault(y, q[1]) == q[1]
    assert len(set(folder_of.values())) == NUM_CLASSES[name]


def test_val_lists_share_no_image_with_train_and_agree_on_class_folders(lt_splits):
    train, train_y = read_list_file(split_path(lt_splits, "places_lt", "train"))
    val, val_y = read_list_file(split_path(lt_splits, "places_lt", "val"))
    assert not set(train) & set(val)
    folder = {p.split("/")[1]: y for p, y in zip(train, train_y.tolist())}
    assert all(folder[p.split("/")[1]] == y for p, y in zip(val, val_y.tolist()))
    # ImageNet-LT: val and test name the same 1000 wnids under the same labels
    iv, iv_y = read_list_file(split_path(lt_splits, "imagenet_lt", "val"))
    it, it_y = read_list_file(split_path(lt_splits, "imagenet_lt", "test"))
    wnid = {p.split("/")[1]: y for p, y in zip(iv, iv_y.tolist())}
    assert all(wnid[p.split("/")[1]] == y for p, y in zip(it, it_y.tolist()))
    assert all(w.startswith("n") and len(w) == 9 for w in wnid)


def test_shot_groups_of_the_published_train_splits(lt_splits):
    _, labels = read_list_file(split_path(lt_splits, "places_lt", "train"))
    places = shot_groups(np.bincount(labels, minlength=365))
    assert [int((places == g).sum()) for g in ("many", "medium", "few")] == [131, 163, 71]  # docs/method.md 1.8
    counts = json.loads((lt_splits / "ImageNet_LT" / "ImageNet_LT_train_class_counts.json").read_text())
    assert len(counts) == 1000 and sum(counts) == EXPECTED_LINES["imagenet_lt"]["train"]
    assert (min(counts), max(counts)) == (5, 1280)
    imagenet = shot_groups(counts)
    assert [int((imagenet == g).sum()) for g in ("many", "medium", "few")] == [385, 479, 136]  # the literature's split


def _write_image(path, rng):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(path, quality=90)


def test_load_list_lt_reads_the_whole_published_lists(lt_splits, tmp_path):
    """All three Places-LT lists through load_list_lt: no line-count warning (so EXPECTED_LINES
    is the published one), train counts as read, and the first image of each list opens."""
    rng = np.random.default_rng(0)
    splits = lt_splits / "Places_LT"
    for split in ("train", "val", "test"):  # only the first image of each list is looked for
        first = read_list_file(splits / SPLIT_FILES["places_lt"][split])[0][0]
        _write_image(tmp_path / first, rng)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_list_lt("places_lt", tmp_path, split_dir=splits, with_val=True)
    assert not [w for w in caught if "published" in str(w.message)], [str(w.message) for w in caught]
    assert (len(data.train), len(data.val), len(data.test)) == (62_500, 7_300, 36_500)
    _, labels = read_list_file(splits / "Places_LT_train.txt")
    assert data.info["train_counts"] == np.bincount(labels, minlength=365).tolist()
    x, y = data.test[0]
    assert y == 0 and tuple(x.shape) == (3, 224, 224)


def test_a_short_places_lt_run_on_stand_in_images_at_the_listed_paths(lt_splits, tmp_path, monkeypatch):
    """A stratified subset of the real lists (2 train / 1 val / 1 test image a class, the
    published lines unchanged) with generated JPEGs where those lines point, through ltkit.run
    with alpha chosen on val: the real path layout loads end to end."""
    rng = np.random.default_rng(0)
    root = tmp_path / "Places_LT"
    per_class = {"train": 2, "val": 1, "test": 1}
    kept = {}
    for split, n in per_class.items():
        lines = (lt_splits / "Places_LT" / SPLIT_FILES["places_lt"][split]).read_text().splitlines()
        taken = {}
        for line in lines:
            rel, label = line.rsplit(None, 1)
            if len(taken.setdefault(int(label), [])) < n:
                taken[int(label)].append(line)
                _write_image(root / rel, rng)
        kept[split] = [line for c in sorted(taken) for line in taken[c]]
        (root / SPLIT_FILES["places_lt"][split]).write_text("\n".join(kept[split]) + "\n")
    # 32-pixel crops instead of 224 keep it short on a CPU; the files, paths and loaders are the real ones
    train_tf, test_tf = listfile.imagenet_train_transform, listfile.imagenet_test_transform
    monkeypatch.setattr(listfile, "imagenet_train_transform", lambda: train_tf(32))
    monkeypatch.setattr(listfile, "imagenet_test_transform", lambda: test_tf(32, 36))
    monkeypatch.setattr("ltkit.runs.runner.imagenet_test_transform", lambda: test_tf(32, 36))
    cfg = ltkit.RunConfig.preset(
        "places_lt_tde",
        data_root=str(root),
        backbone="resnet32",
        epochs=1,
        batch_size=128,
        eval_batch_size=256,
        alpha="val",
        num_workers=0,
        device="cpu",
        amp=False,
        progress=False,
        output_dir=str(tmp_path / "run"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the subset lists are shorter than the published ones
        run_dir = ltkit.run(cfg, log=lambda *_: None)
    rec = json.loads((run_dir / "run.json").read_text())
    assert rec["status"] == "complete"
    assert rec["train_counts"] == [2] * 365
    assert rec["alpha_selection"]["split"] == "val" and rec["alpha_selection"]["images"] == 365
    out = np.load(run_dir / "outputs.npz")
    assert out["features"].shape == (365, 128) and out["logits_tde"].shape == (365, 365)
    assert out["labels"].tolist() == [int(line.rsplit(None, 1)[1]) for line in kept["test"]]
    assert len(pd.read_csv(run_dir / "per_class.csv")) == 365
