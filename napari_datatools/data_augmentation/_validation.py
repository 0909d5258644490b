"""Argument checks shared by the sampling and applying functions."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ._resample import BACKENDS, FILL_MODES, ORDERS


def check_range(value: Any, name: str) -> float:
    """A finite number >= 0."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number >= 0, got {value!r}") from None
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return number


def zoom_bounds(zoom_range: Any) -> tuple[float, float]:
    """``(low, high)`` zoom factors from a scalar deviation or a pair."""
    if np.ndim(zoom_range) == 0:
        deviation = check_range(zoom_range, "zoom_range")
        if deviation >= 1:
            raise ValueError(f"zoom_range as a scalar must be in [0, 1), got {zoom_range!r}")
        return 1.0 - deviation, 1.0 + deviation
    try:
        low, high = (float(v) for v in zoom_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"zoom_range must be a number or a (low, high) pair, got {zoom_range!r}"
        ) from None
    if not (math.isfinite(high) and 0 < low <= high):
        raise ValueError(
            f"zoom_range as a pair must satisfy 0 < low <= high, got {zoom_range!r}"
        )
    return low, high


def check_shear_range(shear_range: Any) -> float:
    value = check_range(shear_range, "shear_range")
    if value >= 90:
        raise ValueError(f"shear_range must be below 90 degrees, got {shear_range!r}")
    return value


def check_grid_size(warp_grid_size: Any) -> int:
    if (
        not isinstance(warp_grid_size, numbers.Integral)
        or isinstance(warp_grid_size, bool)
        or warp_grid_size < 2
    ):
        raise ValueError(f"warp_grid_size must be an integer >= 2, got {warp_grid_size!r}")
    return int(warp_grid_size)


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_fill_mode(fill_mode: Any) -> str:
    return check_choice(fill_mode, "fill_mode", FILL_MODES)


def check_order(order: Any) -> str:
    return check_choice(order, "order", ORDERS)


def check_backend(backend: Any) -> str:
    return check_choice(backend, "backend", BACKENDS)


def check_cval(cval: Any, name: str) -> float:
    try:
        value = float(cval)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {cval!r}") from None
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got {cval!r}")
    return value


def check_flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_spatial_shape(shape: Any) -> tuple[int, int]:
    try:
        pair = tuple(int(v) for v in shape)
    except (TypeError, ValueError):
        pair = ()
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"shape must be two positive integers (height, width), got {shape!r}")
    return pair


def check_crop_size(crop_size: Any, shape: tuple[int, int]) -> tuple[int, int] | None:
    """``None`` or a ``(height, width)`` pair that fits inside ``shape``."""
    if crop_size is None:
        return None
    try:
        pair = tuple(int(v) for v in crop_size)
        valid = len(pair) == 2 and all(p == v for p, v in zip(pair, crop_size))
    except (TypeError, ValueError):
        valid = False
    if not valid or min(pair) < 1:
        raise ValueError(f"crop_size must be a pair of positive integers, got {crop_size!r}")
    if pair[0] > shape[0] or pair[1] > shape[1]:
        raise ValueError(
            f"crop_size {pair} is larger than the image's spatial shape {tuple(shape)}"
        )
    return pair


def check_channel_axis(channel_axis: Any, ndim: int) -> int:
    if not isinstance(channel_axis, numbers.Integral) or isinstance(channel_axis, bool):
        raise ValueError(f"channel_axis must be an integer, got {channel_axis!r}")
    if not -ndim <= channel_axis < ndim:
        raise ValueError(
            f"channel_axis must be in [{-ndim}, {ndim - 1}] for an array with ndim "
            f"{ndim}, got {channel_axis}"
        )
    return int(channel_axis) % ndim


def as_image(array: Any, name: str, channel_axis: Any, ndim: int = 3) -> tuple[np.ndarray, int]:
    """``array`` as a numeric numpy array with ``ndim`` dimensions (``>= ndim`` if negative)."""
    array = np.asarray(array)
    if ndim > 0 and array.ndim != ndim:
        raise ValueError(
            f"{name} must have {ndim} dimensions (one channel axis and two spatial "
            f"axes), got shape {array.shape}"
        )
    if ndim < 0 and array.ndim < -ndim:
        raise ValueError(
            f"{name} must have at least {-ndim} dimensions (a channel axis and two "
            f"spatial axes), got shape {array.shape}"
        )
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise ValueError(f"{name} must have a numeric or boolean dtype, got {array.dtype}")
    axis = check_channel_axis(channel_axis, array.ndim)
    spatial = [s for a, s in enumerate(array.shape) if a != axis][-2:]
    if array.shape[axis] == 0 or min(spatial) == 0:
        raise ValueError(
            f"{name} must have at least one channel and non-empty spatial axes, got "
            f"shape {array.shape}"
        )
    return array, axis


def spatial_shape(array: np.ndarray, channel_axis: int) -> tuple[int, int]:
    """Lengths of the last two non-channel axes."""
    return tuple(s for axis, s in enumerate(array.shape) if axis != channel_axis)[-2:]
