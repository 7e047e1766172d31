"""ltkit: long-tailed recognition with De-confound-TDE (Tang, Huang, Zhang, NeurIPS 2020).

>>> import ltkit
>>> cfg = ltkit.RunConfig(dataset="synthetic_lt", epochs=2)
>>> run_dir = ltkit.run(cfg)  # doctest: +SKIP
"""

from ._version import __version__
from .config import PRESETS, RunConfig


def run(cfg, **kwargs):
    """Train and evaluate ``cfg`` (a :class:`RunConfig`); returns the run folder. See ``ltkit.runs.runner.run``."""
    from .runs.runner import run as _run

    return _run(cfg, **kwargs)


__all__ = ["PRESETS", "RunConfig", "run", "__version__"]
