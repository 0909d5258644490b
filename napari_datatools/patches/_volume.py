"""Slice-wise access to a 2D image or a (Z, Y, X) volume of any array type."""

from __future__ import annotations

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
        integer indexing. A 2D image is treated as a volume of one slice.
    name : str
        Argument name used in error messages.
    """

    def __init__(self, array: Any, name: str = "source") -> None:
        if not hasattr(array, "shape") or not hasattr(array, "__getitem__"):
            array = np.asarray(array)
        shape = tuple(int(s) for s in array.shape)
        if len(shape) not in (2, 3):
            raise ValueError(
                f"{name} must be a 2D image (Y, X) or a 3D volume (Z, Y, X), "
                f"got an array of shape {shape}"
            )
        if 0 in shape:
            raise ValueError(f"{name} must not be empty, got shape {shape}")
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
        """Return slice ``z`` as a 2D numpy array (a view for numpy volumes)."""
        data = self.array[int(z)] if self.ndim == 3 else self.array[...]
        return np.asarray(data)


def describe_array(array: Any) -> dict[str, Any] | None:
    """JSON-friendly description of an array (shape, dtype and type, no data)."""
    if array is None:
        return None
    return {
        "shape": [int(s) for s in np.shape(array)] if not hasattr(array, "shape")
        else [int(s) for s in array.shape],
        "dtype": str(np.dtype(getattr(array, "dtype", np.asarray(array).dtype))),
        "type": f"{type(array).__module__}.{type(array).__qualname__}",
    }


def check_mask_shape(mask_shape: tuple[int, ...], volume_shape: tuple[int, ...],
                     name: str = "mask") -> None:
    """Raise unless the mask has exactly the volume's shape."""
    if tuple(mask_shape) != tuple(volume_shape):
        raise ValueError(
            f"{name} must have the same shape as the volume {tuple(volume_shape)}, "
            f"got {tuple(mask_shape)}"
        )
