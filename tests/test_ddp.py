"""Multi-process training (torchrun / DDP) on CPU with gloo: 2 processes train exactly like 1
process on the same global batches, and ``gpus=2`` runs end to end through torchrun."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from conftest import gloo_group

from ltkit import distributed
from ltkit.config import RunConfig
from ltkit.data import load_dataset
from ltkit.distributed import torchrun_command
from ltkit.train import CHECKPOINT, build_model, train
from ltkit.utils import seed_everything

TINY = dict(
    dataset="synthetic_lt",
    synthetic_classes=4,
    synthetic_n_max=60,
    imb_ratio=10,
    synthetic_image_size=8,
    classifier="causal_norm",
    epochs=2,
    steps_per_epoch=3,
    batch_size=16,
    lr=0.01,
    warmup_epochs=1,
    milestones=[3],
    device="cpu",
    amp=False,
    num_workers=0,
    progress=False,
)


def _train(cfg: RunConfig, out: Path) -> None:
    """Train in float64, so that what is compared is the algorithm, not float32 rounding (a few
    SGD steps of a small ResNet amplify a 1e-7 difference in the weights to 1e-4)."""
    import ltkit.train as lt

    augment = lt.augment_batch
    lt.augment_batch = lambda *a, **k: augment(*a, **k).double()
    try:
        seed_everything(cfg.seed)
        data = load_dataset(cfg)
        model = build_model(cfg, data.num_classes).double()
        train(cfg, data, model, out, torch.device("cpu"), log=lambda *a: None)
    finally:
        lt.augment_batch = augment


def _worker(rank, world, init_file, cfg_dict, out):
    with gloo_group(rank, world, init_file):
        torch.set_num_threads(1)
        _train(RunConfig.from_dict(cfg_dict), Path(out))


@pytest.mark.parametrize("sampler", ["instance", "class_balanced"])
def test_two_processes_equal_one_on_the_same_global_batches(tmp_path, sampler):
    cfg = RunConfig.from_dict({**TINY, "sampler": sampler, "samples_per_class": 2})
    torch.set_num_threads(1)
    _train(cfg, tmp_path / "one")
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), cfg.to_dict(), str(tmp_path / "two")), nprocs=2, join=True)
    one = torch.load(tmp_path / "one" / CHECKPOINT, weights_only=True)
    two = torch.load(tmp_path / "two" / CHECKPOINT, weights_only=True)
    assert one["epoch"] == two["epoch"] == 2
    assert one["model"].keys() == two["model"].keys()  # synchronized BatchNorm keeps the state-dict layout
    for k, v in one["model"].items():
        if v.is_floating_point():
            torch.testing.assert_close(two["model"][k], v, rtol=1e-9, atol=1e-9, msg=k)
        else:
            assert torch.equal(two["model"][k], v), k
    assert one["model"]["moving_average.mean"].norm() > 0
    # the epoch metrics are summed over both ranks: the same images were seen
    for h1, h2 in zip(one["history"], two["history"]):
        assert h1["loss"] == pytest.approx(h2["loss"], rel=1e-6)  # a float32 running sum
        assert h1["train_acc"] == pytest.approx(h2["train_acc"])


def _bn_worker(rank, world, init_file, out):
    with gloo_group(rank, world, init_file):
        torch.set_num_threads(1)
        torch.manual_seed(0)
        x = torch.randn(8, 3, 4, 4, dtype=torch.float64)
        bn = distributed.AllReduceBatchNorm2d(3).double()
        r = torch.randn(8, 3, 4, 4, dtype=torch.float64)
        mine = x[rank * 4 : (rank + 1) * 4].clone().requires_grad_(True)
        y = bn(mine)
        ((y * r[rank * 4 : (rank + 1) * 4]) ** 2).sum().backward()
        torch.save(
            {
                "y": y.detach(),
                "grad_w": bn.weight.grad,
                "grad_x": mine.grad,
                "rm": bn.running_mean,
                "rv": bn.running_var,
            },
            f"{out}.{rank}",
        )


def test_all_reduce_batchnorm_is_batchnorm_over_the_global_batch(tmp_path):
    mp.spawn(_bn_worker, args=(2, str(tmp_path / "init"), str(tmp_path / "bn")), nprocs=2, join=True)
    torch.manual_seed(0)
    x = torch.randn(8, 3, 4, 4, dtype=torch.float64).requires_grad_(True)
    r = torch.randn(8, 3, 4, 4, dtype=torch.float64)
    ref = torch.nn.BatchNorm2d(3).double()
    y = ref(x)
    ((y * r) ** 2).sum().backward()
    parts = [torch.load(tmp_path / f"bn.{r}", weights_only=True) for r in range(2)]
    torch.testing.assert_close(torch.cat([p["y"] for p in parts]), y.detach())
    torch.testing.assert_close(parts[0]["grad_w"] + parts[1]["grad_w"], ref.weight.grad)  # the ranks' shares add up
    assert ref.weight.grad.abs().min() > 1e-3
    torch.testing.assert_close(torch.cat([p["grad_x"] for p in parts]), x.grad)  # through the all-reduced statistics
    for p in parts:
        torch.testing.assert_close(p["rm"], ref.running_mean)
        torch.testing.assert_close(p["rv"], ref.running_var)


def test_gpus_must_split_the_batch_and_the_command_carries_every_field():
    with pytest.raises(ValueError, match="batch_size: .*split evenly over gpus=3"):
        RunConfig.from_dict({**TINY, "gpus": 3})
    cfg = RunConfig.from_dict({**TINY, "gpus": 2, "milestones": [5, 8], "alpha": 0.5})
    cmd = torchrun_command(cfg)
    assert cmd[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert cmd[5:8] == ["-m", "ltkit", "run"]
    assert cmd[cmd.index("--milestones") + 1] == "5,8" and "--no-amp" in cmd and "--no-progress" in cmd
    from ltkit.cli import build_parser

    args = vars(build_parser().parse_args(cmd[7:]))
    given = {k: v for k, v in args.items() if k in RunConfig.field_names() and v is not None}
    assert RunConfig.from_dict(given) == cfg  # the processes rebuild exactly this config


@pytest.mark.slow
def test_gpus_2_runs_through_torchrun_on_cpu(tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    args = [
        f"--{k.replace('_', '-')}={','.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in TINY.items()
        if not isinstance(v, bool)
    ]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ltkit",
            "run",
            *args,
            "--no-amp",
            "--no-progress",
            "--gpus",
            "2",
            "--output-dir",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rec = json.loads((out / "run.json").read_text())
    assert rec["status"] == "complete" and rec["environment"]["world_size"] == 2 and rec["params"]["gpus"] == 2
    assert set(rec["metrics"]) == {"plain", "tde"}
    # rank 0 evaluated the whole test set, not its own share of it
    cached = np.load(out / "outputs.npz")
    assert len(cached["labels"]) == len(load_dataset(RunConfig(**TINY)).test)
    acc = 100 * np.mean(cached["logits_tde"].argmax(1) == cached["labels"])
    assert rec["metrics"]["tde"]["overall"] == pytest.approx(acc, abs=1e-9)


def test_setup_joins_the_group_and_leaves_it_at_exit(monkeypatch):
    """A group that setup joins is destroyed at exit (teardown, registered with atexit), so torch
    never finds one left over when the process ends."""
    import atexit
    import socket

    from ltkit import distributed

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for key, value in {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": "0", "WORLD_SIZE": "1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(distributed, "under_torchrun", lambda: True)
    registered = []
    monkeypatch.setattr(atexit, "register", registered.append)
    assert not distributed.is_initialized()
    assert distributed.setup(torch.device("cpu")) == torch.device("cpu")
    try:
        assert distributed.is_initialized() and registered == [distributed.teardown]
    finally:
        distributed.teardown()
    assert not distributed.is_initialized()
    distributed.teardown()  # leaving twice is harmless
