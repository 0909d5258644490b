"""Slice-wise access to a 2D image or a (Z, Y, X) volume of any array type."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..errors import ArgumentTypeError

#: dtype kinds a volume or mask may have: bool, signed and unsigned integers, floats.
_NUMERIC_KINDS = "biuf"


class SliceSource:
    """Read 2D slices of an image or volume, one at a time.

    Parameters
    ----------
    array : array-like
        A 2D image ``(Y, X)`` or a volume in napari's ``(Z, Y, X)`` order: a
        numpy, h5py, zarr or dask array, or anything with ``shape``, ``ndim`` and
        integer indexing. A 2D image is treated as a volume of one slice. With
        ``channel_axis``, one more axis holds channels (e.g. ``(C, Z, Y, X)``,
        ``(Z, C, Y, X)`` or an RGB ``(Y, X, 3)``).
    name : str
        Argument name used in error messages.
    channel_axis : int, optional
        The axis of ``array`` holding channels (negative counts from the end).

    Attributes
    ----------
    shape : tuple of int
        The spatial shape ``(Z, Y, X)`` (``Z == 1`` for a 2D image).
    channels : int or None
        Number of channels (None without a channel axis).
    """

    def __init__(self, array: Any, name: str = "source", channel_axis: int | None = None) -> None:
        if not hasattr(array, "shape") or not hasattr(array, "__getitem__"):
            array = np.asarray(array)
        full = tuple(int(s) for s in array.shape)
        self.channel_axis: int | None = None
        self.channels: int | None = None
        shape = full
        if channel_axis is not None:
            if isinstance(channel_axis, bool) or not isinstance(channel_axis, numbers.Integral):
                raise ArgumentTypeError(f"channel_axis must be an integer or None, "
                                        f"got {channel_axis!r}")
            if not -len(full) <= channel_axis < len(full):
                raise ValueError(f"channel_axis {channel_axis} is out of range for {name} of "
                                 f"shape {full}")
            self.channel_axis = int(channel_axis) % len(full)
            self.channels = full[self.channel_axis]
            shape = full[:self.channel_axis] + full[self.channel_axis + 1:]
        if len(shape) not in (2, 3):
            with_c = " plus a channel axis" if channel_axis is not None else ""
            raise ValueError(
                f"{name} must be a 2D image (Y, X) or a 3D volume (Z, Y, X){with_c}, "
                f"got an array of shape {full}"
            )
        if 0 in full:
            raise ValueError(f"{name} must not be empty, got shape {full}")
        self.array = array
        self.name = name
        self.ndim = len(shape)
        self.shape = shape if len(shape) == 3 else (1, *shape)
        self.dtype = np.dtype(getattr(array, "dtype", np.float64))
        if self.dtype.kind not in _NUMERIC_KINDS:
            raise ArgumentTypeError(
                f"{name} must hold real numbers (bool, integer or float), got dtype "
                f"{self.dtype} of {type(array).__name__}")

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, z: int) -> np.ndarray:
        """Slice ``z`` as a numpy array: ``(Y, X)``, or ``(C, Y, X)`` with channels."""
        if self.channel_axis is None:
            data = self.array[int(z)] if self.ndim == 3 else self.array[...]
            return np.asarray(data)
        key: list[Any] = [slice(None)] * (self.ndim + 1)
        spatial = [i for i in range(self.ndim + 1) if i != self.channel_axis]
        if self.ndim == 3:
            key[spatial[0]] = int(z)
        data = np.asarray(self.array[tuple(key)])
        # the channel axis lost one place when the Z axis before it was indexed away
        where = self.channel_axis - (self.ndim == 3 and spatial[0] < self.channel_axis)
        return np.moveaxis(data, where, 0)


def describe_array(array: Any) -> dict[str, Any] | None:
    """JSON-friendly description of an array (shape, dtype and type, no data)."""
    if array is None:
        return None
    out: dict[str, Any] = {
        "shape": [int(s) for s in np.shape(array)] if not hasattr(array, "shape")
        else [int(s) for s in array.shape],
        "dtype": str(np.dtype(getattr(array, "dtype", np.asarray(array).dtype))),
        "type": f"{type(array).__module__}.{type(array).__qualname__}",
    }
    source = array_source(array)
    if source is not None:
        out["source"] = source
    return out


def array_source(array: Any) -> str | None:
    """Where an on-disk array is read from: ``file`` (h5py), ``file/path`` (zarr), else None."""
    h5file = getattr(array, "file", None)
    if h5file is not None and hasattr(h5file, "filename"):
        return f"{h5file.filename}:{getattr(array, 'name', '')}"
    root = getattr(getattr(array, "store", None), "root", None)
    if root is not None:
        return f"{root}/{getattr(array, 'path', '')}".rstrip("/")
    filename = getattr(array, "filename", None)  # numpy memmap
    return str(filename) if isinstance(filename, str) else None


def check_mask_shape(mask_shape: tuple[int, ...], volume_shape: tuple[int, ...],
                     name: str = "mask") -> None:
    """Raise unless the mask has exactly the volume's shape."""
    if tuple(mask_shape) != tuple(volume_shape):
        raise ValueError(
            f"{name} must have the same shape as the volume {tuple(volume_shape)}, "
            f"got {tuple(mask_shape)}"
        )
