"""Under torch.distributed the moving-average feature is averaged over ranks, so every rank
holds the same one (2 CPU processes, gloo backend)."""

import torch
import torch.multiprocessing as mp
from conftest import gloo_group

from ltkit.tde import MovingAverageFeature


def _worker(rank, world, init_file, out_file):
    with gloo_group(rank, world, init_file):
        ma = MovingAverageFeature(3, mu=0.9)
        for step in range(3):
            g = torch.Generator().manual_seed(100 * step + rank)
            ma.update(torch.rand(4, 3, generator=g))  # each rank sees its own batch
        torch.save(ma.mean, f"{out_file}.{rank}")


def test_moving_average_is_all_reduced(tmp_path):
    world = 2
    mp.spawn(_worker, args=(world, str(tmp_path / "init"), str(tmp_path / "mean")), nprocs=world, join=True)
    means = [torch.load(tmp_path / f"mean.{r}") for r in range(world)]
    torch.testing.assert_close(means[0], means[1])
    # equal to one process seeing the whole global batch (the mean of the per-rank means)
    expected = torch.zeros(3)
    for step in range(3):
        batch = torch.cat(
            [torch.rand(4, 3, generator=torch.Generator().manual_seed(100 * step + r)) for r in range(world)]
        )
        expected = 0.9 * expected + batch.mean(0)
    torch.testing.assert_close(means[0], expected)


def _masked_worker(rank, world, init_file, out_file):
    with gloo_group(rank, world, init_file):
        ma = MovingAverageFeature(3, mu=0.5)
        for step in range(3):
            g = torch.Generator().manual_seed(100 * step + rank)
            x = torch.rand(5, 3, generator=g)
            # step 1: no rank selects a row (c must stay as it is); rank 1 selects nothing at step 2
            mask = torch.zeros(5, dtype=torch.bool) if step == 1 or (step == 2 and rank == 1) else x[:, 0] > 0.3
            ma.update(x, mask=mask)
        torch.save(ma.mean, f"{out_file}.{rank}")


def test_masked_moving_average_pools_selected_rows_over_ranks(tmp_path):
    """The detection head's update: the mean over every rank's foreground RoIs together."""
    world = 2
    mp.spawn(_masked_worker, args=(world, str(tmp_path / "init"), str(tmp_path / "mean")), nprocs=world, join=True)
    means = [torch.load(tmp_path / f"mean.{r}") for r in range(world)]
    torch.testing.assert_close(means[0], means[1])
    expected = torch.zeros(3)
    for step in range(3):
        rows = []
        for r in range(world):
            x = torch.rand(5, 3, generator=torch.Generator().manual_seed(100 * step + r))
            if step == 0 or (step == 2 and r == 0):
                rows.append(x[x[:, 0] > 0.3])
        if rows:
            expected = 0.5 * expected + torch.cat(rows).mean(0)
    torch.testing.assert_close(means[0], expected)
