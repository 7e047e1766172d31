"""``load_dataset(cfg)``: the dataset a RunConfig names, ready for training."""

from __future__ import annotations

from .base import LTData
from .datasets import dataset_info


def load_dataset(cfg) -> LTData:
    """Load ``cfg.dataset`` from ``cfg.resolved_data_root`` (synthetic: generate it)."""
    dataset_info(cfg.dataset)
    if cfg.dataset == "synthetic_lt":
        from .synthetic import make_synthetic_lt

        return make_synthetic_lt(num_classes=cfg.synthetic_classes, n_max=cfg.synthetic_n_max,
                                 imb_ratio=cfg.imb_ratio, image_size=cfg.synthetic_image_size, seed=cfg.seed)
    if cfg.dataset in ("cifar10_lt", "cifar100_lt"):
        from .cifar import load_cifar_lt

        return load_cifar_lt(cfg.resolved_data_root, num_classes=10 if cfg.dataset == "cifar10_lt" else 100,
                             imb_ratio=cfg.imb_ratio, seed=cfg.seed, download=cfg.download)
    from .listfile import load_list_lt

    return load_list_lt(cfg.dataset, cfg.resolved_data_root, with_val=cfg.alpha == "val")
