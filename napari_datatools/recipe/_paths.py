"""Where the paths of a recipe point: relative to the recipe file's folder.

A recipe stores file paths as written (absolute, or relative to the folder of the
recipe file). :func:`resolve_path` turns one into a path to open; :func:`rebase_paths`
re-expresses every path of a recipe's dict for a file written in another folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Characters that make a path a glob pattern.
GLOB_CHARACTERS = "*?["


def is_pattern(path: str) -> bool:
    """Whether ``path`` is a glob pattern (``images/*.tif``)."""
    return any(c in path for c in GLOB_CHARACTERS)


def resolve_path(path: str | None, folder: str | os.PathLike | None) -> str | None:
    """``path`` ready to open: ``~`` expanded, a relative path joined to ``folder``.

    Without a ``folder`` (a recipe built in code) a relative path stays relative to
    the current directory.
    """
    if path is None:
        return None
    expanded = os.path.expanduser(path)
    if os.path.isabs(expanded) or folder is None:
        return expanded
    return os.path.normpath(os.path.join(os.fspath(folder), expanded))


def _path_slots(data: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """``(mapping, key)`` of every file path in a recipe dict (as ``Recipe.to_dict``): the
    data sources, then the output."""
    section = data.get("data", {})
    for name in ("image", "mask"):
        if isinstance(section.get(name), dict):
            yield section[name], "path"
    for case in section.get("cases", []) or []:
        for name in ("image", "mask"):
            if isinstance(case.get(name), dict):
                yield case[name], "path"
    if isinstance(data.get("output"), dict):
        yield data["output"], "save_path"


def rebase_paths(data: dict[str, Any], folder: str | os.PathLike | None,
                 target: str | os.PathLike, relative: bool = False) -> dict[str, Any]:
    """Rewrite the paths of a recipe dict (in place) for a file in folder ``target``.

    A relative path of a recipe read from a file (``folder`` given) keeps pointing
    at the same file: it is made relative to ``target``. Without a ``folder`` (a
    recipe built in code) relative paths are written as they are: they will be
    relative to the file's folder. An absolute path stays absolute unless
    ``relative`` and the file is in ``target`` or below it (data sitting beside
    the recipe).
    """
    new = Path(target).absolute()
    base = Path(folder).absolute() if folder is not None else new
    for owner, key in _path_slots(data):
        path = owner.get(key)
        if not path:
            continue
        expanded = os.path.expanduser(path)
        absolute = os.path.normpath(os.path.join(base, expanded))
        if not os.path.isabs(expanded):
            try:
                owner[key] = Path(os.path.relpath(absolute, new)).as_posix()
            except ValueError:  # another drive (Windows): no relative path exists
                owner[key] = absolute
        elif relative and key == "path" and Path(absolute).is_relative_to(new):
            owner[key] = Path(absolute).relative_to(new).as_posix()
    return data
