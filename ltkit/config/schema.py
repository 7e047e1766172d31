"""The machinery every run schema shares: typed frozen dataclasses, validated on construction.

A *schema* is a frozen dataclass deriving from :class:`Schema` whose fields are a run's
parameters (``ltkit.config.RunConfig`` for classification, ``ltkit.config.LVISRunConfig``
for LVIS). What is written here once serves both:

* construction coerces each value to its field's type (CLI and papermill strings, int ->
  float, list -> tuple, ``"none"`` -> None) and then calls the schema's ``_validate``; a bad
  value raises ``ValueError`` naming the field and what it accepts;
* ``from_dict`` / ``to_dict`` / ``with_defaults`` / ``replace``, and ``resolve`` (the one place a
  ``preset`` is applied);
* ``from_namespace``: a notebook's parameters cell -> the schema object (the notebook's first
  cell after the parameters); ``parameters_source``: the text of that parameters cell;
* ``add_flags`` / ``to_flags``: the command-line flags of every field, and back;
* ``matches``: whether a complete run's recorded parameters are this run (the rule the runner
  and the batch both use to skip a run).

A schema class says, besides its fields: ``EXECUTION_FIELDS`` (where and how a run executes,
not what it computes), ``RESOLVED_FIELDS`` (fields whose unset value the run resolves and
records, so an unset value matches any recorded one), ``FOLDER_FIELD`` (the field that names
the run folder, which a batch sets) and ``PRESETS``.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import (
    Any,
    ClassVar,
    Dict,
    FrozenSet,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
)

S = TypeVar("S", bound="Schema")

#: what papermill injects (strings, numbers, booleans, lists, dicts, None): the namespace
#: entries that count as parameters (a cell's imports and functions do not)
_DATA = (str, int, float, bool, list, dict, tuple, type(None))


class Schema:
    """Base class of the run schemas (see the module docstring). Subclasses are frozen dataclasses."""

    #: the name messages use ("RunConfig", "LVISRunConfig")
    KIND: ClassVar[str] = "Schema"
    EXECUTION_FIELDS: ClassVar[FrozenSet[str]] = frozenset()
    RESOLVED_FIELDS: ClassVar[FrozenSet[str]] = frozenset()
    FOLDER_FIELD: ClassVar[str] = "output_dir"
    #: the name of a run whose folder is not given, over ``name_values()``: the default folder's
    #: name, and a batch recipe's default ``name``
    NAME_TEMPLATE: ClassVar[str] = ""
    PRESETS: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    #: the command that runs one such run: ``python -m <CLI[0]> <CLI[1:]> <positional fields> <flags>``
    CLI: ClassVar[Tuple[str, ...]] = ()
    CLI_POSITIONAL: ClassVar[Tuple[str, ...]] = ()

    # ------------------------------------------------------------------ construction
    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, coerce(f.name, getattr(self, f.name), hints[f.name]))
        self._validate()

    def _validate(self) -> None:  # pragma: no cover - every schema overrides it
        pass

    @classmethod
    def field_names(cls) -> Tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def extra_parameters(cls) -> Tuple[str, ...]:
        """Names a notebook or recipe may set besides the fields (``preset`` where there are presets)."""
        return ("preset",) if cls.PRESETS else ()

    @classmethod
    def _refuse_unknown(cls, names: Iterable[str], what: str = "field") -> None:
        unknown = sorted(set(names) - set(cls.field_names()))
        if unknown:
            raise ValueError(f"unknown {cls.KIND} {what}(s) {unknown}; valid {what}s: {', '.join(cls.field_names())}")

    @classmethod
    def from_dict(cls: Type[S], d: Mapping[str, Any]) -> S:
        cls._refuse_unknown(d)
        return cls(**d)

    def to_dict(self) -> Dict[str, Any]:
        """Every field, tuples as lists (what run.json holds)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def defaults(cls) -> Dict[str, Any]:
        return {f.name: list(f.default) if isinstance(f.default, tuple) else f.default for f in dataclasses.fields(cls)}

    @classmethod
    def with_defaults(cls, saved: Mapping[str, Any]) -> Dict[str, Any]:
        """A saved config (run record, checkpoint) with every field it lacks at its default: a
        record written before a field existed ran with that field's default."""
        return {**cls.defaults(), **saved}

    def replace(self: S, **changes: Any) -> S:
        self._refuse_unknown(changes)
        return dataclasses.replace(self, **changes)

    @classmethod
    def preset(cls: Type[S], name: str, **overrides: Any) -> S:
        """A named setting (a paper row) with optional field overrides."""
        if name not in cls.PRESETS:
            choices = ", ".join(sorted(cls.PRESETS)) or f"none ({cls.KIND} has no presets)"
            raise ValueError(f"preset: unknown value {name!r}; choose one of: {choices}")
        return cls.from_dict({**cls.PRESETS[name], **overrides})

    @classmethod
    def resolve(cls: Type[S], params: Mapping[str, Any]) -> S:
        """The schema object for ``params``: fields, plus an optional ``preset`` they override."""
        rest = {k: v for k, v in params.items() if k != "preset"}
        preset = params.get("preset") or ""
        if not isinstance(preset, str):
            raise ValueError(f"preset: expected a preset name, got {preset!r}")
        return cls.preset(preset, **rest) if preset else cls.from_dict(rest)

    # ------------------------------------------------------------------ notebooks
    @classmethod
    def from_namespace(
        cls: Type[S], namespace: Mapping[str, Any], before_injection: Optional[Iterable[str]] = None
    ) -> S:
        """What a parameterized notebook describes, from its ``globals()``.

        Its parameters cell sets every field to ``None`` ("not given", plus ``preset = ""`` where
        the schema has presets) and ends with ``_before_injection = set(globals())``; papermill
        injects the ``-p`` values in the cell after it. Any injected name that is not a parameter
        is an error naming it; the rest is ``resolve`` of the parameters that are not ``None``.
        """
        valid = cls.extra_parameters() + cls.field_names()
        if before_injection is not None:
            new = set(namespace) - set(before_injection)
            unknown = sorted(
                n for n in new if not n.startswith("_") and isinstance(namespace[n], _DATA) and n not in valid
            )
            if unknown:
                raise ValueError(f"unknown parameter(s) {unknown}; valid parameters: {', '.join(valid)}")
        given = {k: namespace[k] for k in cls.field_names() if namespace.get(k) is not None}
        if "preset" in cls.extra_parameters() and namespace.get("preset"):
            given["preset"] = namespace["preset"]
        return cls.resolve(given)

    @classmethod
    def parameters_source(cls) -> str:
        """The text of the notebook's parameters cell: each field ``None`` with its default as a comment."""
        lines = []
        if cls.PRESETS:
            lines.append('preset = ""  # a paper setting, e.g. "cifar10_lt_tde" (ltkit presets lists them)')
        for f in dataclasses.fields(cls):
            shown = f.metadata.get("shown") or repr(list(f.default) if isinstance(f.default, tuple) else f.default)
            note = cls.describe_field(f.name)
            lines.append(f"{f.name} = None  # default {shown}" + (f"; {note}" if note else ""))
        lines.append("_before_injection = set(globals())")
        return "\n".join(lines)

    @classmethod
    def choices_of(cls, name: str) -> Optional[Tuple[Any, ...]]:
        """The values field ``name`` accepts, when it is one of a list (its ``choices`` metadata)."""
        choices = next(f for f in dataclasses.fields(cls) if f.name == name).metadata.get("choices")
        return tuple(choices() if callable(choices) else choices) if choices is not None else None

    @classmethod
    def describe_field(cls, name: str) -> str:
        """What a field means, and its choices: the text of ``--help``, the parameters cell and the docs."""
        f = next(f for f in dataclasses.fields(cls) if f.name == name)
        choices = cls.choices_of(name)
        text = f.metadata.get("help", "")
        if choices:
            text += ("; " if text else "") + "one of " + ", ".join(map(str, choices))
        return text

    # ------------------------------------------------------------------ command lines
    @classmethod
    def add_flags(cls, parser, *, skip: Sequence[str] = ()) -> None:
        """An ``argparse`` flag for every field but ``skip`` (``--num-head``); values stay strings and
        the schema converts them. Booleans are ``--x / --no-x``, dicts ``--x k=v [k=v ...]``."""
        import argparse

        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.name in skip:
                continue
            flag = "--" + f.name.replace("_", "-")
            shown = f.metadata.get("shown") or (
                ",".join(map(str, f.default)) if isinstance(f.default, tuple) else f.default
            )
            shown = "''" if shown == "" else shown
            text = f"{cls.describe_field(f.name)} (default: {shown})".lstrip().replace("%", "%%")
            if hints[f.name] is bool:
                parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=text)
            elif _is_dict(hints[f.name]):
                parser.add_argument(flag, dest=f.name, nargs="+", default=None, metavar="KEY=VALUE", help=text)
            else:
                parser.add_argument(flag, dest=f.name, default=None, metavar=f.name.upper(), help=text)

    @classmethod
    def from_flags(cls: Type[S], args, *, preset: str = "", **fixed: Any) -> S:
        """The schema object for parsed ``add_flags`` arguments (flags not given keep the defaults)."""
        given = {k: v for k, v in vars(args).items() if k in cls.field_names() and v is not None}
        return cls.resolve({**given, **fixed, "preset": preset})

    def to_flags(self, *, skip: Sequence[str] = ()) -> List[str]:
        """The flags that rebuild this object through ``add_flags`` (``None`` values are left out)."""
        import json

        out: List[str] = []
        for name, value in self.to_dict().items():
            if name in skip or value is None:
                continue
            flag = "--" + name.replace("_", "-")
            if isinstance(value, bool):
                out.append(flag if value else "--no-" + name.replace("_", "-"))
            elif isinstance(value, dict):
                if value:
                    out += [flag, *(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in value.items())]
            elif isinstance(value, list):
                out += [flag, ",".join(str(v) for v in value)]
            else:
                out += [flag, str(value)]
        return out

    def execution_fields(self) -> FrozenSet[str]:
        """The fields that say how this run executes, not what it computes (``EXECUTION_FIELDS``;
        a schema may make one run-defining for some settings)."""
        return self.EXECUTION_FIELDS

    def name_values(self) -> Dict[str, Any]:
        """The values a batch recipe's run ``name`` template may use."""
        return self.to_dict()

    def command_line(self) -> List[str]:
        """``-m MODULE SUBCOMMAND [positional fields] [flags]``: the CLI call that runs this object."""
        if not self.CLI:
            raise ValueError(f"{self.KIND} has no command line")
        module, *sub = self.CLI
        return [
            "-m",
            module,
            *sub,
            *(str(getattr(self, n)) for n in self.CLI_POSITIONAL),
            *self.to_flags(skip=self.CLI_POSITIONAL),
        ]

    # ------------------------------------------------------------------ records
    def matches(self, saved: Mapping[str, Any]) -> bool:
        """Whether a run recorded with parameters ``saved`` is this run: every field but the
        execution ones agrees (numbers compared as numbers, lists as lists); a field in
        ``RESOLVED_FIELDS`` left unset here matches whatever value the run resolved and recorded."""
        saved = self.with_defaults(saved)
        for name, wanted in self.to_dict().items():
            if name in self.execution_fields() or (name in self.RESOLVED_FIELDS and wanted in (None, "")):
                continue
            if not same_value(saved.get(name), wanted):
                return False
        return True

    def differences(self, saved: Mapping[str, Any], *, ignore: Iterable[str] = ()) -> Dict[str, Tuple[Any, Any]]:
        """Field -> (saved, this) for every field but ``ignore`` whose values differ."""
        saved = self.with_defaults(saved)
        ignore = set(ignore)
        return {
            k: (saved.get(k), v)
            for k, v in self.to_dict().items()
            if k not in ignore and not same_value(saved.get(k), v)
        }


def same_value(a: Any, b: Any) -> bool:
    """Equality for recorded parameters: numbers by value (1 == 1.0), tuples and lists alike."""
    num = (int, float)
    if isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool) and not isinstance(b, bool):
        return float(a) == float(b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return a == b


# ---------------------------------------------------------------------------- checks
def choice(name: str, value: Any, allowed: Iterable[Any]) -> None:
    allowed = list(allowed)
    if value not in allowed:
        raise ValueError(f"{name}: unknown value {value!r}; choose one of: {', '.join(map(str, allowed))}")


def check(name: str, ok: bool, what: str, value: Any) -> None:
    if not ok:
        raise ValueError(f"{name}: {what}, got {value!r}")


# ---------------------------------------------------------------------------- coercion
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _is_dict(hint: Any) -> bool:
    if typing.get_origin(hint) is typing.Union:
        return any(_is_dict(a) for a in typing.get_args(hint))
    return hint is dict or typing.get_origin(hint) in (dict, Dict)


def coerce(name: str, value: Any, hint: Any) -> Any:
    """Check ``value`` against the type ``hint``, converting the lossless cases (int -> float,
    list -> tuple, CLI strings, ``["k=v", ...]`` -> dict)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union and type(None) in args:  # Optional[X], Optional[Union[X, Y]]
        if value is None or (isinstance(value, str) and value.lower() in {"none", "auto", ""}):
            return None
        arms = [a for a in args if a is not type(None)]
        for arm in arms[:-1]:  # the first arm that takes the value (alpha: a number, else a mode name)
            try:
                return coerce(name, value, arm)
            except ValueError:
                pass
        value = value.lower() if isinstance(value, str) and len(arms) > 1 else value  # a mode name
        return coerce(name, value, arms[-1])
    if origin in (tuple, Tuple):
        item = args[0] if args else str
        if isinstance(value, str):
            value = [v for v in value.replace(" ", "").split(",") if v]
        if not isinstance(value, (list, tuple)):
            example = "120,160" if item is int else "plain,tde"
            raise ValueError(f"{name}: expected a list like {example}, got {value!r}")
        return tuple(coerce(name, v, item) for v in value)
    if hint is dict or origin in (dict, Dict):
        return key_values(name, value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise ValueError(f"{name}: expected true/false, got {value!r}")
    if hint in (int, float):
        return _number(name, value, hint)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{name}: expected a string, got {value!r}")
        return value
    return value


def _number(name: str, value: Any, kind: type) -> Any:
    """``value`` as an int or a float: numbers (an int only from an integral float), or their
    strings; never a bool."""
    what = "an integer" if kind is int else "a number"
    if not isinstance(value, bool):
        if isinstance(value, int) or (isinstance(value, float) and (kind is float or value.is_integer())):
            return kind(value)
        if isinstance(value, str):
            try:
                return kind(value)
            except ValueError:
                pass
    raise ValueError(f"{name}: expected {what}, got {value!r}")


def key_values(name: str, value: Any) -> Dict[str, Any]:
    """A mapping, or ``KEY=VALUE`` strings (a list, or one string of them separated by spaces);
    each VALUE is read as YAML (``lr=0.01`` -> 0.01, ``flip=true`` -> True, ``a=[1,2]`` -> [1, 2])."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and "=" in v for v in value):
        raise ValueError(f"{name}: expected a mapping or KEY=VALUE pairs, got {value!r}")
    import yaml

    out: Dict[str, Any] = {}
    for item in value:
        key, text = item.split("=", 1)
        try:
            out[key] = yaml.safe_load(text) if text else ""
        except yaml.YAMLError:
            out[key] = text
    return out
