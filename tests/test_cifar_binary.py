"""tools/data/cifar10_binary_to_batches.py: the lossless CIFAR-10 binary release -> the python-version
folder ltkit reads, on small made-up files (the real release's md5 sums cannot match them)."""

import hashlib
import pickle
import tarfile

import numpy as np
import pytest
from conftest import load_script

from ltkit.data import load_cifar_lt

PER_TRAIN_FILE, N_TEST = 20, 30


def _tool():
    return load_script("tools/data/cifar10_binary_to_batches.py")


def _records(rng, n):
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    pixels = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    return labels.astype(np.uint8), pixels


@pytest.fixture
def release(tmp_path):
    """A folder cifar-10-batches-bin/ of six small made-up .bin files, with their labels and pixels."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "release" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    content = {}
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        labels, pixels = _records(rng, N_TEST if name == "test_batch.bin" else PER_TRAIN_FILE)
        (folder / name).write_bytes(np.concatenate([labels[:, None], pixels], axis=1).tobytes())
        content[name] = (labels, pixels)
    md5 = {name: hashlib.md5((folder / name).read_bytes()).hexdigest() for name in content}
    return folder, content, md5


def _pickle(path):
    with open(path, "rb") as fh:
        return pickle.load(fh, encoding="latin1")


def test_writes_the_same_labels_and_pixels_in_the_python_layout(tmp_path, release):
    tool = _tool()
    folder, content, md5 = release
    (tmp_path / "out.partial" / "cifar-10-batches-py").mkdir(parents=True)  # a killed conversion's leftovers
    (tmp_path / "out.partial" / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"half")
    out = tool.convert(folder.parent, tmp_path / "out", expected_md5=md5)
    assert out == tmp_path / "out" / "cifar-10-batches-py"
    for name, (labels, pixels) in content.items():
        batch = _pickle(out / name[:-4])
        assert batch["labels"] == labels.tolist()
        assert np.array_equal(batch["data"], pixels)
    assert _pickle(out / "batches.meta")["label_names"][3] == "cat"
    assert not (tmp_path / "out.partial").exists()
    # ltkit reads it: test split whole and in order, record byte 1 + c*1024 + r*32 + x is channel c, row r, column x
    data = load_cifar_lt(tmp_path / "out", num_classes=10, imb_ratio=1)
    labels, pixels = content["test_batch.bin"]
    assert data.test.labels.tolist() == labels.tolist()
    assert int(data.test.images[4, 2, 5, 7]) == int(pixels[4, 2 * 1024 + 5 * 32 + 7])
    assert data.test.class_names[9] == "truck"


def test_a_tar_archive_gives_the_same_folder(tmp_path, release):
    tool = _tool()
    folder, _, md5 = release
    archive = tmp_path / "bundle.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="package/some-name")
    a = tool.convert(folder, tmp_path / "a", expected_md5=md5)
    b = tool.convert(archive, tmp_path / "b", expected_md5=md5)
    for f in sorted(p.name for p in a.iterdir()):
        assert (a / f).read_bytes() == (b / f).read_bytes()


def test_refuses_files_that_are_not_the_release(tmp_path, release):
    tool = _tool()
    folder, _, md5 = release
    with pytest.raises(ValueError, match="not the original CIFAR-10 binary release: data_batch_1.bin"):
        tool.convert(folder, tmp_path / "out")  # the published sums
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()
    (folder / "test_batch.bin").unlink()
    with pytest.raises(FileNotFoundError, match="lacks test_batch.bin"):
        tool.convert(folder, tmp_path / "out", expected_md5=md5)
    (tmp_path / "taken").mkdir()
    with pytest.raises(FileExistsError, match="exists"):
        tool.convert(folder, tmp_path / "taken", expected_md5=md5)
    assert tool.main([str(folder), str(tmp_path / "out")]) == 1


def _like_folder(root, content, rng, noise=3):
    """A python-version folder as the shared JPEG tool writes it: each image named
    <class>_<rank within its class>.jpg, slightly changed (a lossy copy), in a shuffled order."""
    out = root / "cifar-10-batches-py"
    out.mkdir(parents=True)
    names = {"train": [f"data_batch_{i}.bin" for i in range(1, 6)], "test": ["test_batch.bin"]}
    orders = {}
    for split, files in names.items():
        labels = np.concatenate([content[f][0] for f in files]).astype(int)
        pixels = np.concatenate([content[f][1] for f in files])
        rank = np.array([np.sum(labels[:i] == labels[i]) for i in range(len(labels))])
        order = rng.permutation(len(labels))
        orders[split] = order
        noisy = np.clip(pixels.astype(int) + rng.integers(-noise, noise + 1, size=pixels.shape), 0, 255).astype(
            np.uint8
        )
        fnames = [f"{_tool().LABEL_NAMES[labels[j]]}_{rank[j]:04d}.jpg" for j in order]
        step = len(order) // len(files)
        for k, f in enumerate(files):
            sl = slice(k * step, (k + 1) * step)
            with open(out / f[:-4], "wb") as fh:
                pickle.dump(
                    {
                        "data": noisy[order][sl],
                        "labels": labels[order][sl].tolist(),
                        "filenames": fnames[sl],
                        "batch_label": f,
                    },
                    fh,
                    protocol=4,
                )
    return orders


def test_order_like_copies_the_order_of_a_lossy_copy(tmp_path, release):
    tool = _tool()
    folder, content, md5 = release
    orders = _like_folder(tmp_path / "jpeg", content, np.random.default_rng(1))
    out = tool.convert(folder, tmp_path / "paired", expected_md5=md5, order_like=tmp_path / "jpeg")
    train_pixels = np.concatenate([content[f"data_batch_{i}.bin"][1] for i in range(1, 6)])
    got = np.concatenate([_pickle(out / f"data_batch_{i}")["data"] for i in range(1, 6)])
    assert np.array_equal(got, train_pixels[orders["train"]])  # lossless pixels, the copy's order
    test_labels = content["test_batch.bin"][0]
    assert _pickle(out / "test_batch")["labels"] == test_labels[orders["test"]].tolist()
    # the same seed now draws the same subset from both folders
    a = load_cifar_lt(tmp_path / "paired", num_classes=10, imb_ratio=2, seed=3)
    b = load_cifar_lt(tmp_path / "jpeg", num_classes=10, imb_ratio=2, seed=3)
    assert a.train.labels.tolist() == b.train.labels.tolist()
    assert (a.train.images.float() - b.train.images.float()).abs().max() <= 3


def test_order_like_refuses_a_wrong_pairing(tmp_path, release):
    tool = _tool()
    folder, content, md5 = release
    _like_folder(tmp_path / "jpeg", content, np.random.default_rng(1))
    f = tmp_path / "jpeg" / "cifar-10-batches-py" / "test_batch"
    batch = _pickle(f)
    # two images of one class swap names: each now names a different picture
    labels = np.asarray(batch["labels"])
    i, j = np.flatnonzero(labels == labels[0])[:2]
    batch["filenames"][i], batch["filenames"][j] = batch["filenames"][j], batch["filenames"][i]
    with open(f, "wb") as fh:
        pickle.dump(batch, fh, protocol=4)
    with pytest.raises(ValueError, match="differs from its pair in the release by"):
        tool.convert(folder, tmp_path / "paired", expected_md5=md5, order_like=tmp_path / "jpeg")
    assert not (tmp_path / "paired").exists()


# ---------------------------------------------------------------------------- tools/analysis/data_fidelity.py
def _fidelity_tool():
    return load_script("tools/analysis/data_fidelity.py")


def test_fidelity_is_psnr_and_mean_absolute_error():
    tool = _fidelity_tool()
    ref = np.zeros((2, 3072), dtype=np.uint8)
    copy = ref.copy()
    copy[0] = 2  # image 0 off by 2 everywhere, image 1 exact: MSE 2, MAE 1
    f = tool.fidelity(ref, copy)
    assert f["psnr"] == pytest.approx(10 * np.log10(255**2 / 2))
    assert (f["mae"], f["mae_image_median"], f["mae_image_max"]) == (1.0, 1.0, 2.0)
    assert tool.fidelity(ref, ref)["psnr"] == float("inf")


def test_fidelity_record_and_a_copy_in_another_order(tmp_path, release):
    tool, fid = _tool(), _fidelity_tool()
    folder, content, md5 = release
    tool.convert(folder, tmp_path / "lossless", expected_md5=md5)
    _like_folder(tmp_path / "jpeg", content, np.random.default_rng(1), noise=0)
    tool.convert(folder, tmp_path / "paired", expected_md5=md5, order_like=tmp_path / "jpeg")
    record = tmp_path / "fidelity.txt"
    assert fid.main([str(tmp_path / "paired"), str(tmp_path / "jpeg"), "--record", str(record)]) == 0
    lines = record.read_text().splitlines()
    assert lines[0].startswith("# command:") and any(line.startswith("# git commit:") for line in lines)
    rows = [line.split() for line in lines if line.startswith(str(tmp_path / "jpeg"))]
    assert [r[1] for r in rows] == ["train", "test"] and all(r[2] == "inf" for r in rows)
    # the release's own order is not the copy's: refused, not compared
    assert fid.main([str(tmp_path / "lossless"), str(tmp_path / "jpeg")]) == 1
