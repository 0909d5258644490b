"""A dataset already on disk: its arrays and attributes, read before appending to it."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._output import OutputLayout

_IMAGES = re.compile(r"^class_[^/]+$")
_SUFFIXES = ("_centres", "_labels")


@dataclass
class ExistingDataset:
    """Shapes, dtypes and attributes of the arrays of an existing dataset.

    Attributes
    ----------
    arrays : dict
        ``{array name: (shape, dtype)}``.
    attrs : dict
        Dataset attributes (the file's or group's; for 'bcolz', those of the
        first class array).
    """

    arrays: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)

    def image_arrays(self) -> list[str]:
        """Names of the ``class_<v>`` patch arrays."""
        return sorted(n for n in self.arrays
                      if _IMAGES.match(n) and not n.endswith(_SUFFIXES))

    def length(self, name: str) -> int:
        """Number of elements of array ``name`` (0 when absent)."""
        return int(self.arrays[name][0][0]) if name in self.arrays else 0

    def check_compatible(self, patchsize: int, save_labels: bool, label_dtype: Any) -> None:
        """Raise ValueError unless this run's patches can be appended."""
        images = self.image_arrays()
        for name in images:
            shape, dtype = self.arrays[name]
            if tuple(shape[1:]) != (1, patchsize, patchsize) or dtype != np.float32:
                raise ValueError(
                    f"append: array {name!r} holds {dtype} patches of shape {tuple(shape[1:])}, "
                    f"this run makes float32 patches of shape {(1, patchsize, patchsize)}")
            has_labels = f"{name}_labels" in self.arrays
            if has_labels != save_labels:
                raise ValueError(
                    f"append: the dataset {'holds' if has_labels else 'has no'} label patches "
                    f"({name}_labels), so save_labels must be {has_labels}, got {save_labels}")
            if has_labels and np.dtype(self.arrays[f"{name}_labels"][1]) != np.dtype(label_dtype):
                raise ValueError(
                    f"append: {name}_labels has dtype {self.arrays[name + '_labels'][1]}, "
                    f"the mask has dtype {np.dtype(label_dtype)}")


def read_existing(layout: OutputLayout) -> ExistingDataset:
    """Read array shapes/dtypes and attributes of the dataset at ``layout`` (no data).

    Raises
    ------
    ValueError
        If the path is not a readable dataset of ``layout.file_format``.
    """
    path = os.fspath(layout.path)
    try:
        if layout.file_format == "hdf5":
            return _read_hdf5(path)
        if layout.file_format == "zarr":
            return _read_zarr(path)
        return _read_blosc2(layout)
    except (OSError, KeyError, TypeError, ValueError) as err:
        raise ValueError(
            f"append: cannot read the existing {layout.file_format} dataset at {path!r}: {err}"
        ) from err


def _read_hdf5(path: str) -> ExistingDataset:
    import h5py

    out = ExistingDataset()
    with h5py.File(path, "r") as f:
        for name, obj in f.items():
            if isinstance(obj, h5py.Dataset):
                out.arrays[name] = (tuple(obj.shape), obj.dtype)
        out.attrs = {k: _plain(v) for k, v in f.attrs.items()}
    return out


def _read_zarr(path: str) -> ExistingDataset:
    import zarr

    group = zarr.open_group(store=path, mode="r")
    out = ExistingDataset()
    for name, arr in group.arrays():
        out.arrays[name] = (tuple(arr.shape), np.dtype(arr.dtype))
    out.attrs = dict(group.attrs)
    return out


def _read_blosc2(layout: OutputLayout) -> ExistingDataset:
    import blosc2

    out = ExistingDataset()
    for item in sorted(layout.path.glob("*.b2nd")):
        arr = blosc2.open(os.fspath(item), mode="r")
        name = item.name[: -len(".b2nd")]
        out.arrays[name] = (tuple(arr.shape), np.dtype(arr.dtype))
        if not out.attrs and not name.endswith(_SUFFIXES):
            out.attrs = {k: _plain(v) for k, v in dict(arr.vlmeta.getall()).items()}
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value
