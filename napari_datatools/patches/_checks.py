"""Argument checks shared by the patch functions (all raise before any work)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np


def max_patchsize(slice_shape: tuple[int, int]) -> int:
    """Largest allowed patch size for slices of shape ``(Y, X)``.

    Half a patch (``patchsize // 2``) may not exceed the smaller side of a
    slice, so a mirrored edge never needs more than one reflection.
    """
    return 2 * min(slice_shape) + 1


def check_patchsize(patchsize: Any, slice_shape: tuple[int, int]) -> int:
    """Return ``patchsize`` as an int, or raise if it is not allowed."""
    limit = max_patchsize(slice_shape)
    if isinstance(patchsize, bool) or not isinstance(patchsize, numbers.Integral):
        raise TypeError(f"patchsize must be an integer, got {patchsize!r}")
    patchsize = int(patchsize)
    if not 1 <= patchsize <= limit:
        raise ValueError(
            f"patchsize must be between 1 and {limit} for slices of shape "
            f"{tuple(slice_shape)} (patchsize // 2 may not exceed the smaller side), "
            f"got {patchsize}"
        )
    return patchsize


def check_positive_int(value: Any, name: str, allow_none: bool = False) -> int | None:
    """Return ``value`` as a positive int (or None when allowed), else raise."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_stride(stride: Any) -> tuple[int, int]:
    """Return the grid stride as ``(sy, sx)`` from an int or a pair of ints."""
    pair = (stride, stride) if np.ndim(stride) == 0 else tuple(stride)
    if len(pair) != 2 or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1
        for s in pair
    ):
        raise ValueError(
            f"stride must be a positive integer or a pair (sy, sx) of them, got {stride!r}"
        )
    return int(pair[0]), int(pair[1])


def check_mask_shape(mask_shape: tuple[int, ...], volume_shape: tuple[int, ...],
                     name: str = "mask") -> None:
    """Raise unless the mask has exactly the volume's shape."""
    if tuple(mask_shape) != tuple(volume_shape):
        raise ValueError(
            f"{name} must have the same shape as the volume {tuple(volume_shape)}, "
            f"got {tuple(mask_shape)}"
        )
