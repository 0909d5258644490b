"""A patch dataset on disk as it was written: per class, its arrays and how much of them holds data.

A killed or cancelled run can leave a class's arrays (patches, centres, labels)
with different ``n_written`` counts, and arrays longer than what was written.
Readers and appending runs go through :func:`open_patch_dataset` /
:func:`align_written`, so they only ever see the written part, aligned across a
class's arrays.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._dataset_names import COMPLETE_ATTR, class_array_name, parse_array_name
from ._formats import ArrayFormat, StoredDataset, dataset_format_of_path, list_arrays

#: Array attributes kept by every writer (see ``buffered_array_writer``).
N_WRITTEN = "n_written"
ARRAY_COMPLETE = "complete"


def array_attrs(array: Any) -> Mapping[str, Any]:
    """The attributes of an opened h5py, zarr or blosc2 array (empty for others)."""
    attrs = getattr(array, "attrs", None)
    if attrs is not None:
        return attrs
    vlmeta = getattr(array, "vlmeta", None)
    if vlmeta is not None:
        return dict(vlmeta.getall())
    return {}


def written_length(array: Any) -> int:
    """How many leading elements of ``array`` were written (its ``n_written``, else all)."""
    n = int(array.shape[0])
    recorded = array_attrs(array).get(N_WRITTEN)
    return n if recorded is None else max(0, min(n, int(recorded)))


@dataclass
class ClassArrays:
    """The arrays of one class: ``patches``, ``centres`` and ``labels`` (or None).

    ``written`` is the common written length: the first ``written`` elements of
    every array belong together.
    """

    value: int | float
    arrays: dict[str, Any] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    @property
    def written(self) -> int:
        return min((written_length(a) for a in self.arrays.values()), default=0)

    @property
    def aligned(self) -> bool:
        """Whether every array holds exactly ``written`` elements (nothing left over)."""
        n = self.written
        return all(int(a.shape[0]) == n and written_length(a) == n
                   for a in self.arrays.values())


@dataclass
class StoredPatches:
    """A patch dataset opened for reading (arrays lazy).

    Attributes
    ----------
    path : str
        The dataset location.
    format : ArrayFormat
        Its format.
    classes : dict
        ``{class value: ClassArrays}``, sorted by value.
    attrs : dict
        The dataset attributes.
    """

    path: str
    format: ArrayFormat
    classes: dict[int | float, ClassArrays]
    attrs: dict[str, Any]

    @property
    def complete(self) -> bool:
        """False when the run that wrote it was cancelled or killed, or arrays disagree."""
        return bool(self.attrs.get(COMPLETE_ATTR, True)) and all(
            c.aligned for c in self.classes.values())


def open_patch_dataset(path: str | os.PathLike) -> StoredPatches:
    """Open the class arrays of a dataset written by ``create_dataset``.

    Raises
    ------
    ValueError
        If ``path`` is unreadable or holds no ``class_<value>`` array.
    """
    fmt = dataset_format_of_path(path)
    arrays = dict(list_arrays(path))
    classes: dict[int | float, ClassArrays] = {}
    for name, array in arrays.items():
        parsed = parse_array_name(name)
        if parsed is None:
            continue
        entry = classes.setdefault(parsed.value, ClassArrays(parsed.value))
        entry.arrays[parsed.role] = array
        entry.names[parsed.role] = name
    classes = {v: c for v, c in sorted(classes.items()) if "patches" in c.arrays}
    if not classes:
        raise ValueError(
            f"path: {os.fspath(path)!r} holds no class_<value> arrays "
            f"(found: {', '.join(sorted(arrays)) or 'nothing'}); is it a patch dataset?")
    try:
        stored = fmt.read_dataset(Path(path))
    except (OSError, KeyError, TypeError, ValueError):
        stored = StoredDataset()
    for value, entry in classes.items():  # 1-D arrays (not listed for napari)
        name = class_array_name(value, "case")
        if name in stored.arrays and "case" not in entry.arrays:
            entry.arrays["case"] = fmt.open_dataset_array(Path(path), name)
            entry.names["case"] = name
    return StoredPatches(os.fspath(path), fmt, classes, dict(stored.attrs))


def align_written(fmt: ArrayFormat, path: Path) -> dict[int | float, int]:
    """Before appending: trim every class's arrays to their common written length.

    Arrays that say they hold more than the class's shortest one get that
    shorter ``n_written``, so an appending writer continues all of them from the
    same element. Returns ``{class value: common length}``.
    """
    stored = fmt.read_dataset(path)
    per_class: dict[int | float, dict[str, int]] = {}
    for name, (shape, _dtype) in stored.arrays.items():
        parsed = parse_array_name(name)
        if parsed is not None:
            have = min(shape[0], stored.written.get(name, shape[0]))
            per_class.setdefault(parsed.value, {})[name] = have
    common: dict[int | float, int] = {}
    for value, lengths in per_class.items():
        common[value] = n = min(lengths.values())
        for name, have in lengths.items():
            if have > n or stored.written.get(name, n) > n:
                fmt.set_array_attrs(path, name, {N_WRITTEN: n})
    return common
