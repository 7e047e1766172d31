"""The file-backed path end to end: an ImageNet-LT-layout folder of generated JPEGs through
ltkit.run (DataLoader workers, RandomResizedCrop(224) pipeline, 1000-class head)."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import ltkit


@pytest.fixture
def tiny_imagenet_lt(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "ImageNet_LT"
    lines = {"train": [], "test": []}
    for split, per_class in (("train", {0: 6, 1: 3, 2: 1}), ("test", {0: 2, 1: 2, 2: 2})):
        for c, n in per_class.items():
            for i in range(n):
                rel = f"{split}/n{c:08d}/img_{i}.JPEG"
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(root / rel)
                lines[split].append(f"{rel} {c}")
    for split in ("train", "test"):
        (root / f"ImageNet_LT_{split}.txt").write_text("\n".join(lines[split]) + "\n")
    return root


@pytest.mark.parametrize("num_workers, jpeg_decode", [(0, "workers"), (2, "workers"), (2, "device")])
def test_imagenet_lt_layout_runs(tiny_imagenet_lt, tmp_path, num_workers, jpeg_decode):
    cfg = ltkit.RunConfig.preset(
        "imagenet_lt_tde",
        data_root=str(tiny_imagenet_lt),
        backbone="resnet32",
        epochs=1,
        batch_size=4,
        eval_batch_size=3,
        num_workers=num_workers,
        jpeg_decode=jpeg_decode,
        device="cpu",
        progress=False,
        output_dir=str(tmp_path / f"run{num_workers}{jpeg_decode}"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tiny lists differ from the published line counts
        run_dir = ltkit.run(cfg, log=lambda *_: None)
    rec = json.loads((run_dir / "run.json").read_text())
    assert rec["status"] == "complete"
    counts = rec["train_counts"]
    assert len(counts) == 1000 and counts[:3] == [6, 3, 1] and sum(counts) == 10
    out = np.load(run_dir / "outputs.npz")
    assert out["features"].shape == (6, 128) and out["logits_tde"].shape == (6, 1000)
    assert rec["metrics"]["tde"]["alpha"] == 3.0
    # all three classes have < 20 training images: every score lands in "few"
    assert rec["metrics"]["plain"]["many"] is None and rec["metrics"]["plain"]["few"] is not None
    # lr_scaled momentum (docs/method.md 1.5): one epoch of a 1-epoch cosine runs at lr 0 -> mu = 1
    hist = pd.read_csv(run_dir / "history.csv")
    assert hist.lr.tolist() == [0.0] and hist.mu.tolist() == [1.0]


def test_missing_split_files_say_how_to_get_them(tmp_path):
    cfg = ltkit.RunConfig.preset(
        "imagenet_lt_tde",
        data_root=str(tmp_path / "nowhere"),
        epochs=1,
        output_dir=str(tmp_path / "run"),
        progress=False,
    )
    with pytest.raises(FileNotFoundError, match="get_data.py imagenet_lt"):
        ltkit.run(cfg, log=lambda *_: None)


def test_decoding_on_the_device_matches_pil_and_falls_back_for_non_jpeg(tiny_imagenet_lt, tmp_path):
    """The jpeg_decode="device" path: batched decode_jpeg (nvJPEG on CUDA; here the CPU) gives
    PIL's pixels; a PNG under a .JPEG name (ImageNet has some) goes through decode_image."""
    import torch

    from ltkit.data.listfile import (
        EncodedImages,
        ListFileDataset,
        collate_encoded,
        decode_and_transform,
        decode_batch,
        imagenet_train_transform,
    )

    ds = ListFileDataset(tiny_imagenet_lt / "ImageNet_LT_train.txt", tiny_imagenet_lt, transform=None)
    png = tiny_imagenet_lt / ds.paths[1]
    Image.fromarray(np.full((30, 20, 3), 200, dtype=np.uint8)).save(png, format="PNG")  # keeps its .JPEG name
    encoded, labels = collate_encoded([EncodedImages(ds)[i] for i in range(4)])
    assert labels.tolist() == [0, 0, 0, 0] and all(isinstance(e, bytes) for e in encoded)
    decoded = decode_batch(encoded, torch.device("cpu"))
    for i, img in enumerate(decoded):
        ref = ds[i][0]
        assert img.shape == ref.shape and img.dtype == torch.uint8
        assert (img.int() - ref.int()).abs().float().mean() < 1.0  # same libjpeg family; the PNG is exact
    assert torch.equal(decoded[1], ds[1][0])
    torch.manual_seed(0)
    x = decode_and_transform(encoded, torch.device("cpu"), imagenet_train_transform())
    assert x.shape == (4, 3, 224, 224) and x.dtype == torch.float32
    assert abs(x.mean().item()) < 3 and x.std().item() > 0.1  # normalized
