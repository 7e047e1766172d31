"""ltkit.data: long-tail profiles, shot groups, CIFAR-LT loading, list files, samplers, transforms.

Fast: everything runs on tiny data generated in tmp_path (no network, no real datasets).
"""

import json
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ltkit.data import (
    SAMPLERS,
    ListFileDataset,
    LTData,
    TensorImages,
    augment_batch,
    epoch_indices,
    load_cifar_lt,
    load_list_lt,
    long_tail_counts,
    lt_subset_indices,
    normalize_batch,
    shot_groups,
)
from ltkit.data.base import CIFAR_MEAN, CIFAR_STD, IMAGENET_MEAN, IMAGENET_STD
from ltkit.data.listfile import (
    EXPECTED_LINES,
    NUM_CLASSES,
    SPLIT_FILES,
    imagenet_test_transform,
    imagenet_train_transform,
    read_list_file,
)
from ltkit.data.transforms import _crop_flip

REPO = Path(__file__).resolve().parents[1]

# ----------------------------------------------------------------------------- profiles

# docs/method.md 1.8: dataset, ratio, total train, max, min, many / medium / few
TABLE_1_8 = [
    (10, 100, 12406, 5000, 50, (8, 2, 0)),
    (10, 50, 13996, 5000, 100, (9, 1, 0)),
    (10, 10, 20431, 5000, 500, (10, 0, 0)),
    (100, 100, 10847, 500, 5, (35, 35, 30)),
    (100, 50, 12608, 500, 10, (41, 41, 18)),
    (100, 10, 19573, 500, 50, (69, 31, 0)),
]


@pytest.mark.parametrize("num_classes,ratio,total,n_max,n_min,groups", TABLE_1_8)
def test_long_tail_counts_match_reference_table(num_classes, ratio, total, n_max, n_min, groups):
    counts = long_tail_counts(50000 / num_classes, num_classes, ratio)
    assert len(counts) == num_classes
    assert all(isinstance(c, int) for c in counts)
    assert sum(counts) == total
    assert (max(counts), min(counts)) == (n_max, n_min)
    assert counts == sorted(counts, reverse=True)  # class 0 is the head
    g = shot_groups(counts)
    assert tuple(int((g == k).sum()) for k in ("many", "medium", "few")) == groups


def test_long_tail_counts_cifar10_r100_exact():
    assert long_tail_counts(50000 / 10, 10, 100) == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    assert long_tail_counts(5000, 10, 100.0) == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]


def test_long_tail_counts_balanced_and_single_class():
    assert long_tail_counts(500, 100, 1) == [500] * 100
    assert long_tail_counts(7.5, 1, 10) == [7]


@pytest.mark.parametrize(
    "args,name",
    [
        ((5000, 10, 0.5), "imb_ratio"),
        ((5000, 10, -3), "imb_ratio"),
        ((0, 10, 100), "n_max"),
        ((-1.0, 10, 100), "n_max"),
        ((5000, 0, 100), "num_classes"),
        ((5000, 2.5, 100), "num_classes"),
    ],
)
def test_long_tail_counts_rejects_bad_arguments(args, name):
    with pytest.raises(ValueError, match=name):
        long_tail_counts(*args)


def test_shot_group_thresholds():
    g = shot_groups([19, 20, 100, 101, 0, 5000])
    assert g.tolist() == ["few", "medium", "medium", "many", "few", "many"]
    assert isinstance(g, np.ndarray)
    g = shot_groups(np.array([9, 10, 50, 51]), many=50, few=10)
    assert g.tolist() == ["few", "medium", "medium", "many"]


def test_lt_subset_indices_seeded_and_exact():
    rng = np.random.default_rng(123)
    labels = rng.permutation(np.repeat(np.arange(5), 40))
    counts = [40, 20, 9, 3, 1]
    a = lt_subset_indices(labels, counts, seed=0)
    b = lt_subset_indices(labels, counts, seed=0)
    c = lt_subset_indices(labels, counts, seed=1)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.int64
    assert not np.array_equal(a, c)
    for idx in (a, c):
        assert len(np.unique(idx)) == len(idx) == sum(counts)
        np.testing.assert_array_equal(np.bincount(labels[idx], minlength=5), counts)
        # concatenated in class order
        assert np.all(np.diff(labels[idx]) >= 0)
    # the same subsets for a fixed seed are what one generator produces, classes in order
    g = np.random.default_rng(7)
    expected = []
    for cls, n in enumerate(counts):
        members = np.flatnonzero(labels == cls)
        g.shuffle(members)
        expected.append(members[:n])
    np.testing.assert_array_equal(lt_subset_indices(labels, counts, seed=7), np.concatenate(expected))


def test_lt_subset_indices_too_few_images():
    labels = np.array([0, 0, 1])
    with pytest.raises(ValueError, match="class 1"):
        lt_subset_indices(labels, [2, 2], seed=0)


# ----------------------------------------------------------------------------- CIFAR


def _fake_images(n, seed):
    """N x 3072 uint8 rows (channel-major, like the CIFAR pickles)."""
    return np.random.default_rng(seed).integers(0, 256, size=(n, 3072), dtype=np.uint8)


def _dump(path, obj):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=4)


def write_fake_cifar10(root, per_class_train=100, per_class_test=10, str_keys=True):
    """cifar-10-batches-py with 5 train batches; returns (train rows, train labels, test rows, test labels)."""
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    ytr = rng.permutation(np.repeat(np.arange(10), per_class_train))
    yte = rng.permutation(np.repeat(np.arange(10), per_class_test))
    xtr, xte = _fake_images(len(ytr), 1), _fake_images(len(yte), 2)
    k = (lambda s: s) if str_keys else (lambda s: s.encode())
    per_batch = len(ytr) // 5
    for b in range(5):
        sl = slice(b * per_batch, (b + 1) * per_batch)
        _dump(
            folder / f"data_batch_{b + 1}",
            {k("data"): xtr[sl], k("labels"): ytr[sl].tolist(), k("batch_label"): f"training batch {b + 1} of 5"},
        )
    _dump(folder / "test_batch", {k("data"): xte, k("labels"): yte.tolist()})
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    _dump(folder / "batches.meta", {k("label_names"): [n if str_keys else n.encode() for n in names]})
    return xtr, ytr, xte, yte


def write_fake_cifar100(root, per_class_train=5, per_class_test=2):
    folder = Path(root) / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    ytr = rng.permutation(np.repeat(np.arange(100), per_class_train))
    yte = rng.permutation(np.repeat(np.arange(100), per_class_test))
    xtr, xte = _fake_images(len(ytr), 3), _fake_images(len(yte), 4)
    # the official CIFAR-100 pickles, read with encoding="bytes", have bytes keys
    _dump(folder / "train", {b"data": xtr, b"fine_labels": ytr.tolist(), b"coarse_labels": (ytr // 5).tolist()})
    _dump(folder / "test", {b"data": xte, b"fine_labels": yte.tolist(), b"coarse_labels": (yte // 5).tolist()})
    _dump(folder / "meta", {b"fine_label_names": [f"class{i}".encode() for i in range(100)]})
    return xtr, ytr, xte, yte


@pytest.mark.parametrize("str_keys", [True, False])
def test_load_fake_cifar10_end_to_end(tmp_path, str_keys):
    xtr, ytr, xte, yte = write_fake_cifar10(tmp_path, str_keys=str_keys)
    data = load_cifar_lt(tmp_path, num_classes=10, imb_ratio=10, seed=3)
    assert isinstance(data, LTData) and data.in_memory and data.name == "cifar10_lt" and data.num_classes == 10
    expected = long_tail_counts(100, 10, 10)  # n_max = the largest class (= 50000 / C on the real data)
    assert expected[0] == 100 and expected[-1] == 10
    assert data.train_counts.tolist() == expected
    assert data.train.class_counts().tolist() == expected
    assert data.info["train_counts"] == expected
    for split in (data.train, data.test):
        assert isinstance(split, TensorImages)
        assert split.images.dtype == torch.uint8 and split.images.shape[1:] == (3, 32, 32)
        assert split.mean == CIFAR_MEAN and split.std == CIFAR_STD
        assert split.class_names[0] == "airplane" and len(split.class_names) == 10
    # the subset is lt_subset_indices(seed) of the concatenated batches, pixels in channel-major order
    idx = lt_subset_indices(ytr, expected, seed=3)
    np.testing.assert_array_equal(data.train.targets, ytr[idx])
    np.testing.assert_array_equal(data.train.images.numpy(), xtr[idx].reshape(-1, 3, 32, 32))
    assert data.train.images[5, 2, 7, 9].item() == xtr[idx[5], 2 * 1024 + 7 * 32 + 9]
    # test = the whole balanced test set, in file order
    assert len(data.test) == 100 and data.test.class_counts().tolist() == [10] * 10
    np.testing.assert_array_equal(data.test.images.numpy().reshape(100, -1), xte)
    np.testing.assert_array_equal(data.test.targets, yte)
    # seeds: different subsets, the same counts
    other = load_cifar_lt(tmp_path, num_classes=10, imb_ratio=10, seed=4)
    assert other.train_counts.tolist() == expected
    assert not torch.equal(other.train.images, data.train.images)
    again = load_cifar_lt(tmp_path, num_classes=10, imb_ratio=10, seed=3)
    assert torch.equal(again.train.images, data.train.images)


def test_a_folder_holding_the_subset_loads_the_same_images(tmp_path):
    """A folder that holds only a CIFAR-10-LT subset (head class whole) gives the same counts
    and the same set of images as the full folder it was cut from."""
    write_fake_cifar10(tmp_path / "full")
    full = load_cifar_lt(tmp_path / "full", num_classes=10, imb_ratio=10, seed=3)
    cut = tmp_path / "cut" / "cifar-10-batches-py"
    cut.mkdir(parents=True)
    rows = full.train.images.numpy().reshape(len(full.train), -1)
    labels = full.train.targets
    for b in range(5):  # the subset spread over the five batch files, as a converter would write it
        _dump(cut / f"data_batch_{b + 1}", {"data": rows[b::5], "labels": labels[b::5].tolist()})
    shutil.copy(tmp_path / "full" / "cifar-10-batches-py" / "test_batch", cut / "test_batch")
    again = load_cifar_lt(tmp_path / "cut", num_classes=10, imb_ratio=10, seed=0)
    assert again.train_counts.tolist() == full.train_counts.tolist()
    assert sorted(map(bytes, again.train.images.numpy().reshape(len(again.train), -1))) == sorted(map(bytes, rows))


def test_load_fake_cifar100_end_to_end(tmp_path):
    xtr, ytr, xte, yte = write_fake_cifar100(tmp_path)
    data = load_cifar_lt(tmp_path, num_classes=100, imb_ratio=5, seed=0)
    assert data.name == "cifar100_lt" and data.num_classes == 100
    expected = long_tail_counts(5, 100, 5)
    assert data.train_counts.tolist() == expected
    assert len(data.test) == 200 and data.test.class_counts().tolist() == [2] * 100
    assert data.train.class_names[:2] == ["class0", "class1"]
    idx = lt_subset_indices(ytr, expected, seed=0)
    np.testing.assert_array_equal(data.train.images.numpy().reshape(len(idx), -1), xtr[idx])


def test_cifar_missing_data_message(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        load_cifar_lt(tmp_path / "nowhere", num_classes=10)
    msg = str(e.value)
    assert str(tmp_path / "nowhere" / "cifar-10-batches-py") in msg
    assert "download=True" in msg and "--download" in msg
    assert "python data/get_data.py cifar10 --root" in msg
    assert "https://www.cs.toronto.edu/~kriz/cifar.html" in msg
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "cifar-100-python"))):
        load_cifar_lt(tmp_path, num_classes=100)
    with pytest.raises(ValueError, match="num_classes"):
        load_cifar_lt(tmp_path, num_classes=20)


def test_cifar_partial_folder_names_missing_file(tmp_path):
    write_fake_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        load_cifar_lt(tmp_path)


def test_cifar_download_uses_torchvision_then_reads_pickles(tmp_path, monkeypatch):
    import torchvision.datasets

    calls = []

    def fake_cifar10(root, train=True, download=False, **kw):
        calls.append((root, download))
        write_fake_cifar10(root)

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", fake_cifar10)
    data = load_cifar_lt(tmp_path / "dl", num_classes=10, imb_ratio=10, download=True)
    assert calls == [(str(tmp_path / "dl"), True)]
    assert data.train_counts.tolist() == long_tail_counts(100, 10, 10)
    load_cifar_lt(tmp_path / "dl", num_classes=10, imb_ratio=10, download=True)  # present: no second download
    assert len(calls) == 1


# ----------------------------------------------------------------------------- list files


def _make_images(root, specs):
    """specs: list of (relative path, PIL mode, size) -> written PNGs."""
    for rel, mode, size in specs:
        p = Path(root) / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        arr = np.random.default_rng(len(rel)).integers(0, 256, size=(size[1], size[0], len(mode)), dtype=np.uint8)
        Image.fromarray(arr.squeeze(-1) if mode == "L" else arr, mode=mode).save(p)


def test_list_file_dataset_reads_rgb_images(tmp_path):
    _make_images(
        tmp_path,
        [("train/a/1.png", "RGB", (40, 30)), ("train/a/2.png", "L", (20, 20)), ("train/b/3.png", "RGBA", (32, 48))],
    )
    lst = tmp_path / "list.txt"
    lst.write_text("train/a/1.png 0\ntrain/a/2.png 0\n\ntrain/b/3.png   2\n")
    ds = ListFileDataset(lst, tmp_path)
    assert len(ds) == 3 and ds.num_classes == 3
    assert ds.targets.dtype == np.int64 and ds.targets.tolist() == [0, 0, 2]
    assert ds.paths[2] == str(tmp_path / "train/b/3.png")
    x, y = ds[0]
    assert x.dtype == torch.uint8 and tuple(x.shape) == (3, 30, 40) and y == 0
    x, y = ds[1]
    assert tuple(x.shape) == (3, 20, 20)  # grayscale converted to RGB
    x, y = ds[2]
    assert tuple(x.shape) == (3, 48, 32) and y == 2
    ds = ListFileDataset(lst, tmp_path, transform=imagenet_test_transform(), num_classes=10)
    assert ds.num_classes == 10
    x, _ = ds[0]
    assert x.dtype == torch.float32 and tuple(x.shape) == (3, 224, 224)
    x, _ = ListFileDataset(lst, tmp_path, transform=imagenet_train_transform())[2]
    assert x.dtype == torch.float32 and tuple(x.shape) == (3, 224, 224)
    # it batches through a DataLoader
    loader = torch.utils.data.DataLoader(
        ListFileDataset(lst, tmp_path, transform=imagenet_test_transform()), batch_size=3
    )
    xb, yb = next(iter(loader))
    assert tuple(xb.shape) == (3, 3, 224, 224) and yb.tolist() == [0, 0, 2]


@pytest.mark.parametrize(
    "content,lineno",
    [
        ("a.png 0\nb.png\n", 2),
        ("a.png 0\nb.png 1\nc.png one\n", 3),
        ("a.png -1\n", 1),
    ],
)
def test_list_file_malformed_line(tmp_path, content, lineno):
    lst = tmp_path / "bad_list.txt"
    lst.write_text(content)
    with pytest.raises(ValueError, match=re.escape(f"{lst}:{lineno}")):
        ListFileDataset(lst, tmp_path)


def test_list_file_label_out_of_range(tmp_path):
    lst = tmp_path / "l.txt"
    lst.write_text("a.png 0\nb.png 5\n")
    with pytest.raises(ValueError, match="num_classes"):
        ListFileDataset(lst, tmp_path, num_classes=5)


def test_imagenet_transforms_match_reference():
    from torchvision.transforms import v2 as T

    train = imagenet_train_transform().transforms
    assert [type(t) for t in train] == [
        T.RandomResizedCrop,
        T.RandomHorizontalFlip,
        T.ColorJitter,
        T.ToImage,
        T.ToDtype,
        T.Normalize,
    ]
    assert list(train[0].size) == [224, 224] and train[0].scale == (0.08, 1.0)
    assert train[0].ratio == pytest.approx((3 / 4, 4 / 3))
    assert train[1].p == 0.5
    assert train[2].brightness == train[2].contrast == train[2].saturation == pytest.approx((0.6, 1.4))
    assert train[2].hue is None
    assert tuple(train[5].mean) == IMAGENET_MEAN and tuple(train[5].std) == IMAGENET_STD
    test = imagenet_test_transform().transforms
    assert [type(t) for t in test] == [T.Resize, T.CenterCrop, T.ToImage, T.ToDtype, T.Normalize]
    assert list(test[0].size) == [256] and list(test[1].size) == [224, 224]
    # values: a constant image normalizes to (v / 255 - mean) / std
    img = Image.new("RGB", (300, 260), (255, 0, 128))
    x = imagenet_test_transform()(img)
    expected = (torch.tensor([255, 0, 128]) / 255 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(x[:, 100, 100], expected.float(), atol=1e-5, rtol=0)


def test_split_file_tables():
    assert NUM_CLASSES == {"imagenet_lt": 1000, "places_lt": 365}
    assert SPLIT_FILES["imagenet_lt"] == {
        "train": "ImageNet_LT_train.txt",
        "val": "ImageNet_LT_val.txt",
        "test": "ImageNet_LT_test.txt",
    }
    assert SPLIT_FILES["places_lt"] == {
        "train": "Places_LT_train.txt",
        "val": "Places_LT_val.txt",
        "test": "Places_LT_test.txt",
    }
    assert EXPECTED_LINES == {
        "imagenet_lt": {"train": 115_846, "val": 20_000, "test": 50_000},
        "places_lt": {"train": 62_500, "val": 7_300, "test": 36_500},
    }


def test_load_list_lt_small_fake(tmp_path):
    _make_images(
        tmp_path,
        [("train/n1/a.png", "RGB", (64, 64)), ("train/n2/b.png", "RGB", (64, 64)), ("val/v1.png", "RGB", (64, 64))],
    )
    (tmp_path / "ImageNet_LT_train.txt").write_text("train/n1/a.png 0\ntrain/n1/a.png 0\ntrain/n2/b.png 999\n")
    (tmp_path / "ImageNet_LT_test.txt").write_text("val/v1.png 3\n")
    with pytest.warns(UserWarning) as record:
        data = load_list_lt("imagenet_lt", tmp_path)
    messages = " ".join(str(w.message) for w in record)
    assert "has 115846" in messages and "has 50000" in messages
    assert data.name == "imagenet_lt" and data.num_classes == 1000 and not data.in_memory
    assert len(data.train) == 3 and len(data.test) == 1
    counts = data.train_counts
    assert counts.shape == (1000,) and counts[0] == 2 and counts[999] == 1
    x, y = data.test[0]
    assert tuple(x.shape) == (3, 224, 224) and y == 3
    # split files in another folder
    splits = tmp_path / "splits"
    splits.mkdir()
    for f in ("ImageNet_LT_train.txt", "ImageNet_LT_test.txt"):
        (splits / f).write_text((tmp_path / f).read_text())
    (splits / "ImageNet_LT_val.txt").write_text("train/n2/b.png 1\n")
    with pytest.warns(UserWarning):
        data = load_list_lt("imagenet_lt", tmp_path, split_dir=splits, eval_split="val")
    assert data.test.targets.tolist() == [1]


def test_load_list_lt_errors(tmp_path):
    with pytest.raises(ValueError) as e:
        load_list_lt("inaturalist", tmp_path)
    assert "imagenet_lt" in str(e.value) and "places_lt" in str(e.value)
    with pytest.raises(FileNotFoundError) as e:
        load_list_lt("places_lt", tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "Places_LT_train.txt") in msg and str(tmp_path / "Places_LT_test.txt") in msg
    assert "python data/get_data.py places_lt --root" in msg and "Places365" in msg
    with pytest.raises(FileNotFoundError) as e:
        load_list_lt("imagenet_lt", tmp_path)
    assert "python data/get_data.py imagenet_lt --root" in str(e.value) and "ImageNet" in str(e.value)
    # list files present, images not: say so
    (tmp_path / "ImageNet_LT_train.txt").write_text("train/n1/a.JPEG 0\n")
    (tmp_path / "ImageNet_LT_test.txt").write_text("val/x.JPEG 0\n")
    with pytest.warns(UserWarning), pytest.raises(FileNotFoundError, match="a.JPEG"):
        load_list_lt("imagenet_lt", tmp_path)
    with pytest.raises(ValueError, match="eval_split"):
        load_list_lt("imagenet_lt", tmp_path, eval_split="train")


def test_read_list_file(tmp_path):
    lst = tmp_path / "x.txt"
    lst.write_text("dir with space/a.jpg 3\n  b.jpg\t4  \n")
    paths, labels = read_list_file(lst)
    assert paths == ["dir with space/a.jpg", "b.jpg"] and labels.tolist() == [3, 4]


# ----------------------------------------------------------------------------- samplers


def _lt_labels(counts, seed=0):
    return np.random.default_rng(seed).permutation(np.repeat(np.arange(len(counts)), counts))


def test_instance_sampler_is_a_permutation():
    labels = _lt_labels([50, 20, 5])
    idx = epoch_indices(labels, 75, np.random.default_rng(0))
    assert idx.dtype == np.int64 and sorted(idx.tolist()) == list(range(75))
    short = epoch_indices(labels, 40, np.random.default_rng(0), sampler="instance")
    assert len(short) == 40 and len(set(short.tolist())) == 40
    long = epoch_indices(labels, 200, np.random.default_rng(1))
    assert len(long) == 200
    assert sorted(long[:75].tolist()) == list(range(75)) and sorted(long[75:150].tolist()) == list(range(75))
    assert len(set(long[150:].tolist())) == 50
    assert not np.array_equal(long[:75], long[75:150])  # reshuffled at each wrap


def test_class_balanced_sampler_structure():
    counts = [300, 60, 17, 5, 1]
    labels = _lt_labels(counts)
    spc = 4
    n = 5 * spc * 30  # 30 rounds over the classes
    idx = epoch_indices(labels, n, np.random.default_rng(0), sampler="class_balanced", samples_per_class=spc)
    assert idx.dtype == np.int64 and len(idx) == n
    cls = labels[idx]
    # equal class frequencies (each round visits every class once)
    assert np.bincount(cls, minlength=5).tolist() == [n // 5] * 5
    # runs of samples_per_class from one class
    runs = cls.reshape(-1, spc)
    assert np.all(runs == runs[:, :1])
    visit_order = runs[:, 0]
    # the class order cycles through a list reshuffled at each wrap
    rounds = visit_order.reshape(-1, 5)
    assert all(sorted(r.tolist()) == [0, 1, 2, 3, 4] for r in rounds)
    assert len({tuple(r) for r in rounds}) > 1
    # each class draws from its own cycling list, reshuffled at each wrap
    for c, n_c in enumerate(counts):
        stream = idx[cls == c]
        members = sorted(np.flatnonzero(labels == c).tolist())
        full = len(stream) // n_c
        for k in range(full):
            assert sorted(stream[k * n_c : (k + 1) * n_c].tolist()) == members
        rest = stream[full * n_c :]
        assert len(set(rest.tolist())) == len(rest)
    stream = idx[cls == 1]
    assert not np.array_equal(stream[:60], stream[60:120])


def test_class_balanced_near_equal_and_partial_runs():
    labels = _lt_labels([500, 100, 20, 7, 3, 2])
    idx = epoch_indices(
        labels, 1001, np.random.default_rng(5), sampler="class_balanced", num_classes=6, samples_per_class=3
    )
    assert len(idx) == 1001
    freq = np.bincount(labels[idx], minlength=6)
    assert freq.max() - freq.min() <= 3
    # a missing class (num_classes larger than the labels) is never visited
    idx = epoch_indices(
        labels, 120, np.random.default_rng(0), sampler="class_balanced", num_classes=8, samples_per_class=1
    )
    assert np.bincount(labels[idx], minlength=8).tolist() == [20] * 6 + [0, 0]


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_samplers_deterministic_from_rng(sampler):
    labels = _lt_labels([100, 30, 4])
    a = epoch_indices(labels, 256, np.random.default_rng([1, 2]), sampler=sampler)
    b = epoch_indices(labels, 256, np.random.default_rng([1, 2]), sampler=sampler)
    c = epoch_indices(labels, 256, np.random.default_rng([1, 3]), sampler=sampler)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_sampler_errors_and_speed():
    assert SAMPLERS == ("instance", "class_balanced")
    with pytest.raises(ValueError) as e:
        epoch_indices(np.zeros(3, dtype=int), 3, np.random.default_rng(0), sampler="square_root")
    assert "instance" in str(e.value) and "class_balanced" in str(e.value)
    with pytest.raises(ValueError, match="samples_per_class"):
        epoch_indices(
            np.zeros(3, dtype=int), 3, np.random.default_rng(0), sampler="class_balanced", samples_per_class=0
        )
    labels = _lt_labels(long_tail_counts(1280, 1000, 256))
    idx = epoch_indices(labels, 500_000, np.random.default_rng(0), sampler="class_balanced", num_classes=1000)
    assert len(idx) == 500_000 and np.bincount(labels[idx], minlength=1000).min() > 0


# ----------------------------------------------------------------------------- transforms


def _coordinate_images(b, h=32, w=32):
    """Channel 0 = row + 1, channel 1 = column + 1, channel 2 = 200 (zero padding stays distinguishable)."""
    y = torch.arange(1, h + 1, dtype=torch.uint8).view(h, 1).expand(h, w)
    x = torch.arange(1, w + 1, dtype=torch.uint8).view(1, w).expand(h, w)
    img = torch.stack([y, x, torch.full((h, w), 200, dtype=torch.uint8)])
    return img.unsqueeze(0).expand(b, 3, h, w).contiguous()


def _recover_params(crops, pad):
    """(offset_y, offset_x, flipped) of uint8 crops of _coordinate_images (centre pixel is never padding)."""
    cy, cx = crops.shape[2] // 2, crops.shape[3] // 2
    vy = crops[:, 0, cy, cx].long()
    vx = crops[:, 1, cy, cx].long()
    flipped = crops[:, 1, cy, cx + 1].long() < vx
    oy = vy - 1 - cy + pad
    ox = torch.where(flipped, vx - 1 - (crops.shape[3] - 1 - cx) + pad, vx - 1 - cx + pad)
    return oy, ox, flipped


def _denormalize_to_uint8(x, mean, std):
    m = torch.tensor(mean).view(1, 3, 1, 1)
    s = torch.tensor(std).view(1, 3, 1, 1)
    return (x * s + m).mul(255).round().to(torch.uint8)


def test_crop_flip_matches_manual_slicing():
    g = torch.Generator().manual_seed(0)
    imgs = torch.randint(0, 256, (12, 3, 8, 10), dtype=torch.uint8, generator=g)
    oy = torch.randint(0, 7, (12,), generator=g)
    ox = torch.randint(0, 7, (12,), generator=g)
    fl = torch.rand(12, generator=g) < 0.5
    out = _crop_flip(imgs, oy, ox, fl, padding=3)
    padded = F.pad(imgs, (3, 3, 3, 3))
    for i in range(12):
        ref = padded[i, :, oy[i] : oy[i] + 8, ox[i] : ox[i] + 10]
        if fl[i]:
            ref = ref.flip(-1)
        assert torch.equal(out[i], ref)


def test_augment_without_crop_or_flip_is_normalize():
    imgs = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)
    out = augment_batch(
        imgs, torch.Generator().manual_seed(0), mean=CIFAR_MEAN, std=CIFAR_STD, crop_padding=0, flip=False
    )
    assert torch.equal(out, normalize_batch(imgs, CIFAR_MEAN, CIFAR_STD))
    ref = (imgs.float() / 255 - torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)) / torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(out, ref)
    with pytest.raises(ValueError, match="uint8"):
        normalize_batch(imgs.float(), CIFAR_MEAN, CIFAR_STD)


def test_augment_batch_offsets_flips_and_torchvision_equivalence():
    from torchvision.transforms import v2 as T
    from torchvision.transforms.v2 import functional as TF

    b, pad = 4000, 4
    coords = _coordinate_images(b)
    out = augment_batch(coords, torch.Generator().manual_seed(11), mean=CIFAR_MEAN, std=CIFAR_STD)
    assert out.dtype == torch.float32 and out.shape == coords.shape
    crops = _denormalize_to_uint8(out, CIFAR_MEAN, CIFAR_STD)
    oy, ox, fl = _recover_params(crops, pad)
    # the recovered parameters explain every output pixel
    assert torch.equal(crops, _crop_flip(coords, oy, ox, fl, pad))
    # offsets uniform over 0..2*pad inclusive, flips p = 0.5, independent per sample
    for o in (oy, ox):
        freq = torch.bincount(o, minlength=9)
        assert len(freq) == 9 and freq.min() > b / 9 * 0.75 and freq.max() < b / 9 * 1.25
    assert abs(fl.float().mean().item() - 0.5) < 0.05
    # same generator state + same batch size -> the same parameters for other images: compare with torchvision
    imgs = torch.randint(0, 256, (b, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    out = augment_batch(imgs, torch.Generator().manual_seed(11), mean=CIFAR_MEAN, std=CIFAR_STD)
    post = T.Compose([T.ToDtype(torch.float32, scale=True), T.Normalize(CIFAR_MEAN, CIFAR_STD)])
    for i in range(0, b, 97):
        x = TF.crop(TF.pad(imgs[i], [pad]), int(oy[i]), int(ox[i]), 32, 32)  # what RandomCrop(32, padding=4) does
        if fl[i]:
            x = TF.horizontal_flip(x)
        torch.testing.assert_close(out[i], post(x), atol=1e-6, rtol=0)
    # and the torchvision RandomCrop itself draws from 0..8
    rc = T.RandomCrop(32, padding=4)
    if hasattr(rc, "make_params"):  # its params for an unpadded 32 x 32 input
        assert {rc.make_params([imgs[0]])["top"] for _ in range(400)} == set(range(9))


def test_torchvision_pipeline_draws_the_same_batches_augmented_per_image():
    """pipeline="torchvision" (the authors' DataLoader + PIL path) trains on the same examples in
    the same order as "batched"; each image is a RandomCrop(padding 4) + flip of its source."""
    from ltkit import RunConfig
    from ltkit.data import LTData, TensorImages
    from ltkit.train import train_batches

    n, b = 600, 100
    labels = torch.arange(n) % 6
    images = _coordinate_images(n)
    images[:, 2] = (torch.arange(n) % 250 + 1).view(n, 1, 1).to(torch.uint8)  # channel 2 says which image it is
    split = TensorImages(images, labels, 6, CIFAR_MEAN, CIFAR_STD)
    data = LTData(name="coords", train=split, test=split, num_classes=6)
    cfg = RunConfig(batch_size=b, num_workers=2, device="cpu")
    batched = list(train_batches(cfg, data, torch.device("cpu"), 1, 6, images))
    tv = list(train_batches(cfg.replace(pipeline="torchvision"), data, torch.device("cpu"), 1, 6, None))
    assert len(tv) == len(batched) == 6
    offsets = []
    for (xa, ya), (xb, yb) in zip(batched, tv):
        assert torch.equal(ya, yb) and xb.dtype == torch.float32 and xb.shape == xa.shape
        ca, cb = _denormalize_to_uint8(xa, CIFAR_MEAN, CIFAR_STD), _denormalize_to_uint8(xb, CIFAR_MEAN, CIFAR_STD)
        assert torch.equal(ca[:, 2, 16, 16], cb[:, 2, 16, 16])  # the same source images
        oy, ox, fl = _recover_params(cb, 4)
        sources = images[(cb[:, 2, 16, 16].long() - 1)]  # every image with that channel-2 value has these pixels
        assert torch.equal(cb, _crop_flip(sources, oy, ox, fl, 4))
        offsets.append(torch.cat([oy, ox]))
    assert set(torch.cat(offsets).tolist()) == set(range(9))
    # another epoch, other crops; the same epoch again (same seed), the same crops
    again = list(train_batches(cfg.replace(pipeline="torchvision"), data, torch.device("cpu"), 1, 6, None))
    assert all(torch.equal(x1, x2) for (x1, _), (x2, _) in zip(tv, again))


def test_augment_batch_generator_determinism_and_global_rng():
    imgs = torch.randint(0, 256, (64, 3, 16, 16), dtype=torch.uint8)
    a = augment_batch(imgs, torch.Generator().manual_seed(1), mean=(0.5,) * 3, std=(0.25,) * 3)
    b = augment_batch(imgs, torch.Generator().manual_seed(1), mean=(0.5,) * 3, std=(0.25,) * 3)
    c = augment_batch(imgs, torch.Generator().manual_seed(2), mean=(0.5,) * 3, std=(0.25,) * 3)
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.manual_seed(7)
    d = augment_batch(imgs, None, mean=(0.5,) * 3, std=(0.25,) * 3)
    torch.manual_seed(7)
    e = augment_batch(imgs, None, mean=(0.5,) * 3, std=(0.25,) * 3)
    assert torch.equal(d, e) and d.shape == (64, 3, 16, 16)
    # flip only: every output is the image or its mirror
    f = augment_batch(imgs, torch.Generator().manual_seed(3), mean=(0.5,) * 3, std=(0.25,) * 3, crop_padding=0)
    n = normalize_batch(imgs, (0.5,) * 3, (0.25,) * 3)
    same = (f == n).flatten(1).all(1)
    mirrored = (f == n.flip(-1)).flatten(1).all(1)
    assert torch.all(same | mirrored) and same.any() and mirrored.any()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_augment_batch_on_cuda():
    dev = torch.device("cuda")
    imgs = torch.randint(0, 256, (128, 3, 32, 32), dtype=torch.uint8).to(dev)
    g = torch.Generator(device=dev).manual_seed(0)
    out = augment_batch(imgs, g, mean=CIFAR_MEAN, std=CIFAR_STD)
    assert out.device.type == "cuda" and out.dtype == torch.float32
    coords = _coordinate_images(128).to(dev)
    crops = _denormalize_to_uint8(augment_batch(coords, g, mean=CIFAR_MEAN, std=CIFAR_STD).cpu(), CIFAR_MEAN, CIFAR_STD)
    oy, ox, fl = _recover_params(crops, 4)
    assert torch.equal(crops, _crop_flip(coords.cpu(), oy, ox, fl, 4))


# ----------------------------------------------------------------------------- data/get_data.py


def _get_data_module():
    from conftest import load_script

    return load_script("data/get_data.py", "ltkit_get_data")


def test_get_data_verification_and_arguments(tmp_path, capsys):
    gd = _get_data_module()
    text = "train/a.JPEG 0\ntrain/b.JPEG 1\n\n"
    gd.verify_list_text(text, 2, "x")
    with pytest.raises(ValueError, match="2 lines, expected 3"):
        gd.verify_list_text(text, 3, "x")
    # the reader's own rule (ltkit.data.listfile), so a download passes exactly when the loader takes it
    with pytest.raises(ValueError, match="x:2: label 'x' is not an integer"):
        gd.verify_list_text("a 0\nb x\n", 2, "x")
    with pytest.raises(ValueError, match="x:1: label -1 is negative"):
        gd.verify_list_text("a -1\nb 0\n", 2, "x")
    assert gd.split_file_url("imagenet_lt", "ImageNet_LT_test.txt") == (
        "https://raw.githubusercontent.com/KaihuaTang/Long-Tailed-Recognition.pytorch/master/"
        "classification/data/ImageNet_LT/ImageNet_LT_test.txt"
    )
    assert gd.split_file_url("places_lt", "Places_LT_val.txt").endswith("/Places_LT/Places_LT_val.txt")
    with pytest.raises(SystemExit) as e:
        gd.main(["mnist"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        gd.main(["cifar10", "--timeout", "0"])
    assert e.value.code == 2


def test_get_data_network_failure_and_404(tmp_path, monkeypatch, capsys):
    gd = _get_data_module()

    def offline(url, timeout):
        raise gd.FetchError(f"could not reach {url}: Name or service not known")

    monkeypatch.setattr(gd, "download_text", offline)
    assert gd.main(["imagenet_lt", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: could not reach https://raw.githubusercontent.com/")

    # the train file is missing upstream, val and test are fine: point to OLTR, write the others atomically
    def served(url, timeout):
        if url.endswith("_train.txt"):
            raise gd.FetchError(f"HTTP 404 for {url}")
        n = 7_300 if url.endswith("_val.txt") else 36_500
        return "".join(f"val/{i}.jpg {i % 365}\n" for i in range(n))

    monkeypatch.setattr(gd, "download_text", served)
    assert gd.main(["places_lt", "--root", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "OpenLongTailRecognition-OLTR" in captured.err and "Places_LT_train.txt" in captured.err
    assert "Places365" in captured.out
    assert sum(1 for _ in open(tmp_path / "Places_LT_test.txt")) == 36_500
    assert sum(1 for _ in open(tmp_path / "Places_LT_val.txt")) == 7_300
    assert not (tmp_path / "Places_LT_train.txt").exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_get_data_lvis_from_served_zips(tmp_path, monkeypatch, capsys):
    """LVIS annotations: the zips are streamed through a temp file, CRC-checked, extracted, removed."""
    import zipfile

    gd = _get_data_module()
    served = tmp_path / "served"
    served.mkdir()
    for split in ("train", "val"):
        with zipfile.ZipFile(served / f"lvis_v1_{split}.json.zip", "w") as z:
            z.writestr(f"lvis_v1_{split}.json", json.dumps({"split": split, "categories": []}))
    monkeypatch.setattr(gd, "LVIS_BASE_URL", served.as_uri())
    root = tmp_path / "LVIS"
    assert gd.main(["lvis_v1", "--root", str(root)]) == 0
    assert json.loads((root / "lvis_v1_val.json").read_text())["split"] == "val"
    assert sorted(p.name for p in root.iterdir()) == ["lvis_v1_train.json", "lvis_v1_val.json"]
    assert "images/train2017" in capsys.readouterr().out
    assert gd.main(["lvis_v1", "--root", str(root)]) == 0  # present: nothing fetched again
    assert "already present" in capsys.readouterr().out
    # a failed download leaves no partial file and says why in one line
    assert gd.main(["lvis_v0.5", "--root", str(root)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lvis_v0.5_train.json.zip" in err[0]
    assert not list(root.glob(".*.part")) and not (root / "lvis_v0.5_train.json.zip").exists()
