"""Applying one sampled transform to arrays and to point coordinates."""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from ..errors import ArgumentTypeError
from ._bspline import displacement_at
from ._params import TransformParams
from ._resample import _cast_back, move_axis, resample
from ._validation import (
    as_image,
    check_backend,
    check_choice,
    check_cval,
    check_fill_mode,
    check_order,
    spatial_shape,
)
from ._volume import VolumeTransformParams, apply_volume_transform

KINDS = ("image", "mask")


def _check_params(params: Any) -> None:
    if not isinstance(params, TransformParams):
        raise ArgumentTypeError(f"params must be a TransformParams, got {type(params).__name__}")


def _channel_shifts(params: TransformParams, n_channels: int) -> np.ndarray:
    shifts = np.asarray(params.intensity_shift)
    if shifts.size == 1:
        return np.repeat(shifts, n_channels)
    if shifts.size != n_channels:
        raise ValueError(
            f"params.intensity_shift has {shifts.size} values but array has "
            f"{n_channels} channels"
        )
    return shifts


def _value_range(array: np.ndarray, fill_mode: str, cval: float) -> tuple[float, float]:
    """The range the shifted image is clipped to (NaN ignored, ``cval`` included)."""
    low, high = float(array.min()), float(array.max())
    if math.isnan(low) or math.isnan(high):  # only floats hold NaN: nanmin is slower
        low, high = float(np.nanmin(array)), float(np.nanmax(array))
    if fill_mode == "constant":
        low, high = min(low, cval), max(high, cval)
    return low, high


@numba.njit(cache=True, nogil=True)
def _shift_and_clip(planes, shifts, low, high):  # pragma: no cover - compiled
    """``planes[c] = clip(planes[c] + shifts[c], low, high)`` in place, in one pass (NaN kept)."""
    for c in range(planes.shape[0]):
        shift = shifts[c]
        for i in range(planes.shape[1]):
            row = planes[c, i]
            for j in range(row.shape[0]):
                row[j] = min(max(row[j] + shift, low), high)


def _shift_intensity(
    out: np.ndarray, channel_axis: int, shifts: np.ndarray, value_range: tuple[float, float]
) -> np.ndarray:
    if out.dtype in (np.float32, np.float64):  # in place, in the image's precision
        kind = out.dtype.type
        low, high = value_range
        planes = move_axis(out, channel_axis, 0)
        _shift_and_clip(planes, shifts.astype(out.dtype), kind(low), kind(high))
        return out
    floating = np.issubdtype(out.dtype, np.floating)
    work = out if floating else out.astype(np.float64)
    planes = move_axis(work, channel_axis, 0)
    for c, shift in enumerate(shifts.tolist()):  # Python floats keep float16 float16
        if shift:
            planes[c] += shift
    np.clip(work, *value_range, out=work)
    return _cast_back(work, out.dtype)


def apply_transform(
    params: TransformParams | VolumeTransformParams,
    array: Any,
    *,
    kind: str = "image",
    channel_axis: int = 0,
    order: str | None = None,
    fill_mode: str = "nearest",
    cval: float = 0.0,
    backend: str = "auto",
) -> np.ndarray:
    """Apply one sampled transform to a 2D image or mask with a channel axis.

    The affine part, the flips, the spline warp and the crop are composed into one
    coordinate map and the array is resampled once. With a
    :class:`VolumeTransformParams` (from :func:`sample_volume_transform`) ``array``
    is a volume ``(channels, z, y, x)`` instead (``backend`` 'auto' or 'scipy').

    Parameters
    ----------
    params : TransformParams or VolumeTransformParams
        The sample, e.g. from :func:`sample_transform`.
    array : array_like, ndim 3
        Channel axis at ``channel_axis``; the other axes are (rows, columns) and must
        equal ``params.shape``. Any numeric or boolean dtype.
    kind : {'image', 'mask'}
        An image is interpolated with ``order`` and gets ``params.intensity_shift``
        (added per channel, then clipped to the input's value range, widened to
        include ``cval`` when ``fill_mode='constant'``). A mask is always resampled
        with nearest neighbour and never shifted, so its values are input values
        (or ``cval``).
    channel_axis : int
        Axis of ``array`` holding the channels.
    order : {'linear', 'nearest', 'cubic'} or None
        Interpolation for images; ``None`` means ``'linear'`` for images and
        ``'nearest'`` for masks (the only order masks accept).
    fill_mode : {'nearest', 'reflect', 'constant'}
        How positions outside the input are filled: edge value, mirror image
        about the edge, or ``cval``.
    cval : float
        Fill value for ``fill_mode='constant'``.
    backend : {'auto', 'opencv', 'scipy'}
        ``'auto'`` uses OpenCV's ``remap`` when the dtype and size allow and
        numpy/scipy otherwise; the others force a path (``'opencv'`` raises
        ValueError when it cannot be used).

    Returns
    -------
    numpy.ndarray
        Same dtype and channel axis as ``array``, spatial shape
        ``params.output_shape``. Integer images are rounded and saturated.
    """
    if isinstance(params, VolumeTransformParams):
        return apply_volume_transform(
            params, array, kind=kind, channel_axis=channel_axis, order=order,
            fill_mode=fill_mode, cval=cval, backend=backend,
        )
    _check_params(params)
    kind = check_choice(kind, "kind", KINDS)
    if order is None:
        order = "linear" if kind == "image" else "nearest"
    order = check_order(order)
    if kind == "mask" and order != "nearest":
        raise ValueError(f"order must be 'nearest' for kind='mask', got {order!r}")
    fill_mode = check_fill_mode(fill_mode)
    cval = check_cval(cval, "cval")
    backend = check_backend(backend)
    array, channel_axis = as_image(array, "array", channel_axis)
    if spatial_shape(array, channel_axis) != params.shape:
        raise ValueError(
            f"array has spatial shape {spatial_shape(array, channel_axis)} but params "
            f"were sampled for shape {params.shape}"
        )
    return apply_checked(params, array, kind, channel_axis, order, fill_mode, cval, backend)


def apply_checked(
    params: TransformParams,
    array: np.ndarray,
    kind: str,
    channel_axis: int,
    order: str,
    fill_mode: str,
    cval: float,
    backend: str = "auto",
) -> np.ndarray:
    """:func:`apply_transform` on arguments already checked (non-negative channel axis)."""
    if params._on_pixel_grid:
        order = "nearest"  # pixel centres map to pixel centres: copy them exactly
    shifts = None
    if kind == "image":
        shifts = _channel_shifts(params, array.shape[channel_axis])
        if not shifts.any():
            shifts = None
    if shifts is None:
        return resample(array, channel_axis, params._maps, order, fill_mode, cval, backend)
    value_range = _value_range(array, fill_mode, cval)  # before the output evicts the input
    out = resample(array, channel_axis, params._maps, order, fill_mode, cval, backend)
    return _shift_intensity(out, channel_axis, shifts, value_range)


def transform_points(
    params: TransformParams, points_yx: Any, *, tolerance: float = 1e-6, max_iterations: int = 50
) -> np.ndarray:
    """Map ``(y, x)`` input coordinates to where the transform puts them in the output.

    The affine part (rotation, shear, zoom, flips, shift) and the crop are applied
    exactly. The spline warp is defined as an output-to-input displacement, so it is
    inverted here by fixed-point iteration ``p <- q - d(p)``; this converges (to
    ``tolerance`` pixels) whenever the warp is invertible, i.e. the displacement
    changes by less than one pixel per pixel, which holds for ``warp_sigma`` well
    below the control point spacing.

    Parameters
    ----------
    params : TransformParams
    points_yx : array_like, shape (n, 2)
        Row and column of each point in the input image (pixel centres are integers).
    tolerance : float
        Convergence threshold of the warp inversion, in pixels.
    max_iterations : int
        Iteration cap of the warp inversion.

    Returns
    -------
    numpy.ndarray, shape (n, 2), float64
        ``(y, x)`` in the output image (possibly outside it).
    """
    _check_params(params)
    points = np.asarray(points_yx, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points_yx must have shape (n, 2), got {points.shape}")
    xy1 = np.column_stack([points[:, 1], points[:, 0], np.ones(len(points))])
    moved = (xy1 @ params._matrices[0].T)[:, 1::-1]  # back to (y, x)
    offsets = params.warp_offsets
    if offsets is not None and params._has_warp and len(points):
        target = moved
        moved = target.copy()
        for _ in range(max_iterations):
            update = target - displacement_at(offsets, params.shape, moved)
            step = np.max(np.abs(update - moved))
            moved = update
            if step < tolerance:
                break
    if params.crop_corner is not None:
        moved = moved - np.asarray(params.crop_corner, dtype=np.float64)
    return moved
