"""De-confound-TDE for detection and instance segmentation: an mmdetection 2.x plugin.

Load it from an mmdet config with ``custom_imports = dict(imports=["ltkit.detection"])`` (every
config under ``ltkit/detection/configs/`` does). Importing it registers

* box heads ``TDEConvFCBBoxHead`` / ``TDEShared2FCBBoxHead`` (:mod:`.head`),
* RoI heads ``TDEStandardRoIHead`` / ``TDECascadeRoIHead`` / ``TDEHybridTaskCascadeRoIHead``
  (:mod:`.roi_heads`), which hand the box head its RoI labels,

and makes the official LVIS API work on current NumPy (:mod:`.evaluation`). Needs the ``lvis``
extra: ``make install-lvis`` (README).
"""

from __future__ import annotations

from pathlib import Path

try:
    import mmcv
    import mmdet
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "ltkit.detection needs mmdetection 2.x and mmcv-full: run `make install-lvis` "
        "(builds mmcv-full 1.7.2 once, then installs the `lvis` extra; see the README)"
    ) from e

if not mmdet.__version__.startswith("2.") or not mmcv.__version__.startswith("1."):
    raise ImportError(
        f"ltkit.detection targets mmdet 2.x with mmcv-full 1.x, found mmdet {mmdet.__version__}, "
        f"mmcv {mmcv.__version__}; `make install-lvis` installs the tested pair (2.28.2, 1.7.2)"
    )

from .data import default_root, lvis_data, set_data_root  # noqa: E402
from .evaluation import METRICS, evaluate_lvis, patch_lvis_api  # noqa: E402
from .head import TDEClassifier, TDEConvFCBBoxHead, TDEShared2FCBBoxHead, set_tde, tde_heads  # noqa: E402
from .roi_heads import TDECascadeRoIHead, TDEHybridTaskCascadeRoIHead, TDEStandardRoIHead  # noqa: E402

try:
    patch_lvis_api()
except ImportError:  # the LVIS API is optional for training; evaluate_lvis says so when it is needed
    pass

CONFIG_DIR = Path(__file__).parent / "configs"

__all__ = [
    "CONFIG_DIR", "METRICS", "TDEClassifier", "TDEConvFCBBoxHead", "TDEShared2FCBBoxHead",
    "TDEStandardRoIHead", "TDECascadeRoIHead", "TDEHybridTaskCascadeRoIHead",
    "config_path", "list_configs", "default_root", "lvis_data", "set_data_root",
    "evaluate_lvis", "set_tde", "tde_heads",
]


def list_configs() -> list:
    """The shipped configs, as ``<lvis version>/<name>`` without ``.py``."""
    return sorted(
        str(p.relative_to(CONFIG_DIR).with_suffix(""))
        for p in CONFIG_DIR.glob("*/*.py")
        if not p.parent.name.startswith("_")
    )


def config_path(config: str) -> Path:
    """A shipped config by name (``lvis_v1/mask_rcnn_r50_fpn_1x_tde``), or any existing file path."""
    p = Path(config)
    if p.suffix == ".py" and p.is_file():
        return p
    shipped = CONFIG_DIR / (config[:-3] if config.endswith(".py") else config)
    shipped = shipped.with_suffix(".py")
    if shipped.is_file():
        return shipped
    raise ValueError(f"config {config!r} is neither a file nor a shipped config; shipped: {', '.join(list_configs())}")
