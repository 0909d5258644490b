"""How the arrays and attributes of a patch dataset are named: the one place that says so.

A dataset written by :func:`~napari_datatools.patches.create_dataset` holds, per class
value ``v``, the arrays ``class_<v>`` (patches), ``class_<v>_centres`` (their centres)
and, optionally, ``class_<v>_labels`` (the mask patches) and ``class_<v>_case`` (the
case each patch comes from, for datasets of several cases). The dataset as a whole
carries the attributes :data:`COMPLETE_ATTR`, :data:`PROVENANCE_ATTR` and
:data:`VERSION_ATTR`.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

import numpy as np

#: Dataset attribute: False while writing or after a cancelled run.
COMPLETE_ATTR = "complete"
#: Dataset attribute: the JSON list of runs that wrote the dataset (one per append).
PROVENANCE_ATTR = "provenance"
#: Dataset attribute: the version of napari-datatools that last wrote the dataset.
VERSION_ATTR = "napari_datatools_version"

Role = Literal["patches", "centres", "labels", "case"]

#: The suffix of each role's array name after ``class_<v>``.
ROLE_SUFFIXES: dict[str, str] = {
    "patches": "", "centres": "_centres", "labels": "_labels", "case": "_case"}

_NAME = re.compile(r"^class_(?P<value>-?\d+(?:\.\d+)?)(?P<suffix>_centres|_labels|_case)?$")


class DatasetArrayName(NamedTuple):
    """A parsed dataset array name: the class value and the array's role."""

    value: int | float
    role: str


def class_value(value: object) -> int | float | bool:
    """A class value as a plain Python scalar (numpy scalars unwrapped, 3.0 -> 3)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (int, float)):
        return value
    raise TypeError(f"class values must be numbers, got {value!r}")


def class_array_name(value: object, role: str = "patches") -> str:
    """The array name of class ``value`` in ``role``: ``class_3``, ``class_-1_centres``...

    ``True``/``False`` (binary masks) are written as ``class_1``/``class_0``.
    """
    if role not in ROLE_SUFFIXES:
        raise ValueError(f"role must be one of {sorted(ROLE_SUFFIXES)}, got {role!r}")
    v = class_value(value)
    if isinstance(v, bool):
        v = int(v)
    return f"class_{v}{ROLE_SUFFIXES[role]}"


def parse_array_name(name: str) -> DatasetArrayName | None:
    """The class value and role of a dataset array name (its last path part), else None."""
    match = _NAME.match(name.rsplit("/", 1)[-1])
    if match is None:
        return None
    text = match.group("value")
    value = float(text) if "." in text else int(text)
    suffix = match.group("suffix") or ""
    role = next(r for r, s in ROLE_SUFFIXES.items() if s == suffix)
    return DatasetArrayName(value, role)


def is_dataset_array(name: str) -> bool:
    """Whether ``name`` is one of the arrays a patch dataset is made of."""
    return parse_array_name(name) is not None
