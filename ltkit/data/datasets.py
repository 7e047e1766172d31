"""The datasets ltkit trains on, each described once.

``DATASETS`` holds every dataset's traits: its default root, whether it is held in memory
(augmented on the device) or read from list files, whether it has a validation split apart from
the test split, the paper's training length, the paper table it belongs to, the
``data/get_data.py`` name that fetches it, and the fingerprints of its known releases
(``ltkit.data.fingerprint``). The run schema, the record's data block, the paper tables and the
data tools read them from here; ``ltkit.data.load.load_dataset`` loads one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset's traits (module docstring)."""

    name: str
    title: str
    #: where it is looked for when a run's ``data_root`` is empty (relative to the cwd; "" = generated)
    default_root: str
    #: uint8 images held in memory and augmented on the device (``TensorImages``), not list files
    in_memory: bool
    #: a labelled validation split apart from the test split (for ``alpha="val"``)
    has_val: bool
    #: the paper's training length, in epochs (runs this long fill its table); None = no paper setting
    paper_epochs: Optional[int] = None
    #: the paper table its runs fill ("table2", "table3"), or None
    paper_table: Optional[str] = None
    #: the name ``data/get_data.py`` fetches it by, or None
    get_data: Optional[str] = None
    #: fingerprint -> name of its published releases (``ltkit.data.fingerprint``)
    releases: Dict[str, str] = field(default_factory=dict)

    def benchmark(self, imb_ratio: float) -> str:
        """A table column name: the dataset, and for datasets built at a ratio, the ratio."""
        return f"{self.name}-r{float(imb_ratio):g}" if self.in_memory else self.name


DATASETS: Dict[str, DatasetInfo] = {d.name: d for d in (
    DatasetInfo("synthetic_lt", "synthetic long-tailed textures", "", in_memory=True, has_val=True),
    DatasetInfo("cifar10_lt", "CIFAR-10-LT", "data/cifar10", in_memory=True, has_val=False, paper_epochs=200,
                paper_table="table3", get_data="cifar10", releases={
                    # the binary version, every file's md5 checked, through tools/data/cifar10_binary_to_batches.py
                    "sha256:c335368590c0d9b72630d2e370dfd9ae69587727b4fe1315d7fed59a33c49172":
                        "CIFAR-10 official release"}),
    DatasetInfo("cifar100_lt", "CIFAR-100-LT", "data/cifar100", in_memory=True, has_val=False, paper_epochs=200,
                paper_table="table3", get_data="cifar100"),
    DatasetInfo("imagenet_lt", "ImageNet-LT", "data/ImageNet_LT", in_memory=False, has_val=True, paper_epochs=90,
                paper_table="table2", get_data="imagenet_lt"),
    DatasetInfo("places_lt", "Places-LT", "data/Places_LT", in_memory=False, has_val=True, paper_epochs=90,
                get_data="places_lt"),
)}


def dataset_info(name: str) -> DatasetInfo:
    """The traits of dataset ``name``; an unknown name lists the valid ones."""
    if name not in DATASETS:
        raise ValueError(f"dataset: unknown value {name!r}; choose one of: {', '.join(DATASETS)}")
    return DATASETS[name]


def names(**traits) -> Tuple[str, ...]:
    """The datasets whose traits have the given values, e.g. ``names(in_memory=True)``."""
    return tuple(d.name for d in DATASETS.values() if all(getattr(d, k) == v for k, v in traits.items()))
