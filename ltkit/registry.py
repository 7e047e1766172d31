"""A tiny name -> factory registry (the shape of timm's register/create/list).

Backbones, classifiers and losses each have one. An unknown name raises ``ValueError``
listing the known ones, so a typo in a config or a papermill ``-p`` fails at once.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, List, Optional


class Registry:
    """Maps names to factories (classes or functions)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: Dict[str, Callable[..., Any]] = {}

    def register(self, name: Optional[str] = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: ``@REG.register("name")`` (default: the factory's ``__name__``)."""

        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            key = name or fn.__name__
            if key in self._entries:
                raise ValueError(f"{self.kind} {key!r} is already registered")
            self._entries[key] = fn
            return fn

        return deco

    def get(self, name: str) -> Callable[..., Any]:
        try:
            return self._entries[name]
        except KeyError:
            raise ValueError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}") from None

    def create(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self.get(name)(*args, **kwargs)

    def create_from(self, name: str, *args: Any, options: Dict[str, Any], **kwargs: Any) -> Any:
        """Create ``name`` with ``args`` / ``kwargs``, plus those ``options`` its factory accepts.

        One run config feeds every entry: ``tau`` reaches a normalized classifier and is left
        out for a plain linear one. An option that *no* entry of this registry accepts is a
        typo (``focal_gama``), never a setting, and raises ``ValueError`` naming it and the
        options the registry knows.
        """
        fn = self.get(name)
        unknown = sorted(set(options) - set(self.option_names()))
        if unknown:
            raise ValueError(
                f"unknown {self.kind} option(s) {unknown}; {self.kind} options are: {', '.join(self.option_names())}"
            )
        accepted = _keywords(fn)
        if accepted is not None:
            options = {k: v for k, v in options.items() if k in accepted}
        return fn(*args, **{**options, **kwargs})

    def option_names(self) -> List[str]:
        """Every keyword some entry's factory takes, sorted (what ``create_from`` accepts)."""
        names = set()
        for fn in self._entries.values():
            names |= _keywords(fn) or set()
        return sorted(names)

    def names(self) -> List[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"


def _keywords(fn: Callable[..., Any]) -> Optional[set]:
    """The names ``fn`` accepts as keywords; ``None`` when it takes ``**kwargs`` (anything)."""
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {
        p.name for p in params if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
