"""Reading recipes from dicts, JSON text and files, with errors that name the field."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ._fields import RecipeError, field_specs
from ._model import RECIPE_VERSION, SECTIONS, ArraySource, DataConfig, Recipe


def parse_json(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise RecipeError(f"{what} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise RecipeError(f"{what} must be a JSON object, got {type(data).__name__}")
    return data


def _section(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise RecipeError(f"{where}: expected an object, got {data!r}")
    known = field_specs(cls)
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise RecipeError(
            f"{where}: unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    obj = cls()
    object.__setattr__(obj, "_section", where)  # errors name the full path
    for name, value in data.items():
        if cls is DataConfig:
            value = _section(ArraySource, value, f"{where}.{name}")
        setattr(obj, name, value)
    return obj


def recipe_from_dict(data: dict[str, Any]) -> Recipe:
    """Validate ``data`` (as written by :meth:`Recipe.to_dict`) into a Recipe."""
    if not isinstance(data, dict):
        raise RecipeError(f"recipe must be a mapping, got {type(data).__name__}")
    data = dict(data)
    version = data.pop("version", RECIPE_VERSION)
    if version != RECIPE_VERSION:
        raise RecipeError(
            f"version: this napari-datatools reads recipe version {RECIPE_VERSION}, got {version!r}"
        )
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise RecipeError(
            f"unknown section {unknown[0]!r} (known: {', '.join(SECTIONS)}, version)"
        )
    recipe = Recipe()
    for name, cls in SECTIONS.items():
        if name in data:
            setattr(recipe, name, _section(cls, data[name], name))
    return recipe


def load_recipe(path: str | os.PathLike) -> Recipe:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"recipe file {os.fspath(path)!r} does not exist")
    return recipe_from_dict(parse_json(p.read_text(), f"recipe file {os.fspath(path)!r}"))


__all__ = ["load_recipe", "parse_json", "recipe_from_dict"]
