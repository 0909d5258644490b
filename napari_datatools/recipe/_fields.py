"""Type checking and coercion of recipe fields from their annotations."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union

from ..errors import RecipeError


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is type(None):
        return "null"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is tuple:
        return f"a list of {len(args)} " + " and ".join(_describe(a) for a in args)
    if origin is list:
        return f"a list, each item {_describe(args[0])}"
    if origin is dict:
        return f"an object {{{_describe(args[0])}: {_describe(args[1])}}}"
    return {bool: "true/false", int: "an integer", float: "a finite number",
            str: "a string"}.get(
        hint, getattr(hint, "__name__", str(hint))
    )


def coerce(value: Any, hint: Any, where: str) -> Any:
    """Return ``value`` converted to the annotated type, or raise RecipeError.

    Accepts what JSON produces: lists for tuples, integers for floats, strings of
    digits for integer keys of objects, objects for nested sections (also in lists).
    Floats must be finite (JSON files may hold ``NaN`` or ``Infinity``).
    """
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    bad = RecipeError(f"{where}: expected {_describe(hint)}, got {value!r}")
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if value is None and len(options) < len(args):
            return None
        if len(options) == 1:  # an optional value: report the inner problem
            return coerce(value, options[0], where)
        for option in args:
            try:
                return coerce(value, option, where)
            except RecipeError:
                continue
        raise bad
    if hint is type(None):
        if value is None:
            return None
        raise bad
    if origin is Literal:
        if value in args and not isinstance(value, bool):
            return value
        raise bad
    if origin is tuple:
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise bad
        pairs = enumerate(zip(value, args, strict=True))
        return tuple(coerce(v, a, f"{where}[{i}]") for i, (v, a) in pairs)
    if origin is list:
        if not isinstance(value, list | tuple):
            raise bad
        return [coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise bad
        key_hint, value_hint = args
        out = {}
        for key, item in value.items():
            if key_hint is int and isinstance(key, str) and key.lstrip("-").isdigit():
                key = int(key)  # JSON object keys are strings
            key = coerce(key, key_hint, f"{where} key {key!r}")
            out[key] = coerce(item, value_hint, f"{where}[{key!r}]")
        return out
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return int(value)
        raise bad
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool) \
                and math.isfinite(value):
            return float(value)
        raise bad
    if hint is str:
        if isinstance(value, str):
            return value
        raise bad
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        if isinstance(value, Mapping) and issubclass(hint, Validated):
            return from_mapping(hint, value, where)
        raise bad
    raise TypeError(f"unsupported recipe annotation {hint!r} for {where}")  # pragma: no cover


def check_bounds(value: Any, field: dataclasses.Field, where: str) -> None:
    """Apply the ``min``/``max`` given in a field's metadata to numbers (and tuples)."""
    lo, hi = field.metadata.get("min"), field.metadata.get("max")
    if lo is None and hi is None or value is None:
        return
    items = value if isinstance(value, tuple | list) else (value,)
    for item in items:
        if (lo is not None and item < lo) or (hi is not None and item > hi):
            span = f">= {lo}" if hi is None else f"<= {hi}" if lo is None else f"in [{lo}, {hi}]"
            raise RecipeError(f"{where}: expected values {span}, got {value!r}")


FieldSpecs = dict[str, tuple[Any, dataclasses.Field[Any]]]
# Keyed by the class object itself (functools.cache would need it typed Hashable).
_FIELD_SPECS: dict[type, FieldSpecs] = {}


def field_specs(cls: type) -> FieldSpecs:
    """Resolved type hint and dataclass field of every field of ``cls`` (computed once)."""
    specs = _FIELD_SPECS.get(cls)
    if specs is None:
        hints = typing.get_type_hints(cls)
        specs = {f.name: (hints[f.name], f) for f in dataclasses.fields(cls)}
        _FIELD_SPECS[cls] = specs
    return specs


class Validated:
    """Mixin for dataclasses: every assignment is type-checked and bounds-checked.

    Subclasses set ``_section`` (the name used in error messages, e.g. ``"augment"``)
    and may set ``_aliases``: ``{field: {former name: current name}}``, string values
    that are accepted and stored under their current name.
    """

    _section: typing.ClassVar[str] = ""
    _aliases: typing.ClassVar[dict[str, dict[str, str]]] = {}

    def __setattr__(self, name: str, value: Any) -> None:
        spec = field_specs(type(self)).get(name)
        if spec is not None:
            hint, field = spec
            where = f"{self._section}.{name}" if self._section else name
            if isinstance(value, str) and name in self._aliases:
                value = self._aliases[name].get(value, value)
            value = coerce(value, hint, where)
            check_bounds(value, field, where)
            self._check(name, value, where)
        object.__setattr__(self, name, value)

    def _check(self, name: str, value: Any, where: str) -> None:
        """Extra per-field rules of a section; raise RecipeError."""


V = TypeVar("V", bound=Validated)


def from_mapping(cls: type[V], data: Any, where: str) -> V:
    """A new ``cls`` with the values of ``data`` assigned (so checked) one by one.

    Fields whose type is itself a :class:`Validated` dataclass (nested sections)
    are read from nested mappings. Errors name the field under ``where``.

    Raises
    ------
    RecipeError
        If ``data`` is not a mapping, names an unknown field or holds a bad value.
    """
    if not isinstance(data, Mapping):
        raise RecipeError(f"{where}: expected an object, got {data!r}")
    specs = field_specs(cls)
    unknown = sorted(set(data) - set(specs))
    if unknown:
        raise RecipeError(
            f"{where}: unknown field {unknown[0]!r} (known: {', '.join(sorted(specs))})"
        )
    obj = cls()
    object.__setattr__(obj, "_section", where)  # errors name the full path
    for name, value in data.items():
        hint = specs[name][0]
        if isinstance(hint, type) and issubclass(hint, Validated):
            value = from_mapping(hint, value, f"{where}.{name}" if where else name)
        setattr(obj, name, value)
    return obj
