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

_INSTALL = (
    "ltkit.detection needs mmdetection 2.x and mmcv-full: run `make install-lvis` (builds mmcv-full "
    "1.7.2 once, then installs the `lvis` extra; see the README)"
)

try:
    import mmcv
    import mmdet
except ImportError:  # pragma: no cover - depends on the environment
    # `python -m ltkit.detection configs`, `synthetic` and `--help` need none of mmdet: the
    # package imports, and whatever needs mmdet says how to install it when it is asked for
    _MISSING: str = _INSTALL
else:
    _MISSING = ""
    if not mmdet.__version__.startswith("2.") or not mmcv.__version__.startswith("1."):
        raise ImportError(
            f"ltkit.detection targets mmdet 2.x with mmcv-full 1.x, found mmdet {mmdet.__version__}, "
            f"mmcv {mmcv.__version__}; `make install-lvis` installs the tested pair (2.28.2, 1.7.2)"
        )

from ..config import LVIS_CONFIG_DIR, lvis_config_path, lvis_configs  # noqa: E402

CONFIG_DIR = LVIS_CONFIG_DIR
#: the shipped configs (``ltkit.config.lvis_configs``) and a config by name (``lvis_config_path``)
list_configs = lvis_configs
config_path = lvis_config_path

__all__ = [
    "CONFIG_DIR",
    "METRICS",
    "TDEClassifier",
    "TDEConvFCBBoxHead",
    "TDEShared2FCBBoxHead",
    "TDEStandardRoIHead",
    "TDECascadeRoIHead",
    "TDEHybridTaskCascadeRoIHead",
    "config_path",
    "list_configs",
    "default_root",
    "lvis_data",
    "set_data_root",
    "evaluate_lvis",
    "set_tde",
    "tde_heads",
]

if not _MISSING:
    from .data import default_root, lvis_data, set_data_root  # noqa: E402
    from .evaluation import METRICS, evaluate_lvis, patch_lvis_api  # noqa: E402
    from .head import TDEClassifier, TDEConvFCBBoxHead, TDEShared2FCBBoxHead, set_tde, tde_heads  # noqa: E402
    from .roi_heads import TDECascadeRoIHead, TDEHybridTaskCascadeRoIHead, TDEStandardRoIHead  # noqa: E402

    try:
        patch_lvis_api()
    except ImportError:  # the LVIS API is optional for training; evaluate_lvis says so when it is needed
        pass


def __getattr__(name: str):
    """Without mmdet, the plugin's names say how to install it (PEP 562)."""
    if _MISSING and name in __all__:
        raise ImportError(f"ltkit.detection.{name}: {_MISSING}")
    raise AttributeError(f"module 'ltkit.detection' has no attribute {name!r}")
