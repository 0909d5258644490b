"""Recipe JSON: text and files to plain dicts and back, with errors that name the problem.

Turning the dicts into validated sections is :func:`._fields.from_mapping`'s job;
this module knows nothing about the recipe's fields.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import RecipeError


def parse_json_object(text: str, what: str) -> dict[str, Any]:
    """The JSON object in ``text``; RecipeError naming ``what`` when it is not one."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise RecipeError(f"{what} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise RecipeError(f"{what} must be a JSON object, got {type(data).__name__}")
    return data


def read_json_file(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON object in the file ``path``.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    RecipeError
        If its content is not a JSON object.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"recipe file {os.fspath(path)!r} does not exist")
    return parse_json_object(p.read_text(), f"recipe file {os.fspath(path)!r}")


def to_json_text(data: dict[str, Any]) -> str:
    """``data`` as indented JSON text."""
    return json.dumps(data, indent=2)


def write_json_file(path: str | os.PathLike, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON (with a final newline) to ``path``."""
    Path(path).write_text(to_json_text(data) + "\n")
