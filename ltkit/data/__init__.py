"""Long-tailed datasets: profiles and shot groups, CIFAR-LT, list-file datasets, samplers, batched transforms."""

from .base import LTData, TensorImages
from .cifar import load_cifar_lt
from .datasets import DATASETS, DatasetInfo, dataset_info
from .load import load_dataset
from .listfile import ListFileDataset, load_list_lt
from .profiles import long_tail_counts, lt_subset_indices, shot_groups
from .samplers import SAMPLERS, epoch_indices
from .transforms import augment_batch, normalize_batch

__all__ = [
    "LTData",
    "TensorImages",
    "long_tail_counts",
    "shot_groups",
    "lt_subset_indices",
    "load_cifar_lt",
    "load_list_lt",
    "load_dataset",
    "DATASETS",
    "DatasetInfo",
    "dataset_info",
    "ListFileDataset",
    "epoch_indices",
    "SAMPLERS",
    "augment_batch",
    "normalize_batch",
]
