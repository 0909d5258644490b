"""Argument checks shared by the sampling and applying functions.

A value of the wrong type raises :class:`~napari_datatools.errors.ArgumentTypeError`
(a ``TypeError`` that is also a ``ValueError``, as ``data_tools`` raised), a value
of the right type out of range ``ValueError``; both name the argument.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ..errors import ArgumentTypeError
from ._resample import BACKENDS, FILL_MODES, ORDERS


def as_float(value: Any, name: str, expected: str) -> float:
    """``value`` as a float; :class:`ArgumentTypeError` naming ``expected`` if not a number."""
    if isinstance(value, (str, bytes)):
        raise ArgumentTypeError(f"{name} must be {expected}, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ArgumentTypeError(f"{name} must be {expected}, got {value!r}") from None


def check_range(value: Any, name: str) -> float:
    """A finite number >= 0."""
    number = as_float(value, name, "a number >= 0")
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return number


def check_int_pair(value: Any, name: str, minimum: int) -> tuple[int, int]:
    """Two integers (integral floats pass) each ``>= minimum``, as a tuple of ints."""
    expected = f"a pair of integers >= {minimum}"
    try:
        items = tuple(value)
    except TypeError:
        raise ArgumentTypeError(f"{name} must be {expected}, got {value!r}") from None
    for item in items:
        integral = isinstance(item, numbers.Integral) or (
            isinstance(item, numbers.Real) and float(item).is_integer())
        if isinstance(item, bool) or not integral:
            raise ArgumentTypeError(f"{name} must be {expected}, got {value!r}")
    if len(items) != 2 or min(items) < minimum:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return int(items[0]), int(items[1])


def zoom_bounds(zoom_range: Any) -> tuple[float, float]:
    """``(low, high)`` zoom factors from a scalar deviation or a pair."""
    if isinstance(zoom_range, (str, bytes)) or np.ndim(zoom_range) == 0:
        deviation = check_range(zoom_range, "zoom_range")
        if deviation >= 1:
            raise ValueError(f"zoom_range as a scalar must be in [0, 1), got {zoom_range!r}")
        return 1.0 - deviation, 1.0 + deviation
    expected = "a number or a (low, high) pair of numbers"
    try:
        items = tuple(zoom_range)
    except TypeError:
        raise ArgumentTypeError(f"zoom_range must be {expected}, got {zoom_range!r}") from None
    bounds = [as_float(v, "zoom_range", expected) for v in items]
    if len(bounds) != 2:
        raise ValueError(f"zoom_range must be {expected}, got {zoom_range!r}")
    low, high = bounds
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
    if isinstance(warp_grid_size, bool) or not isinstance(warp_grid_size, numbers.Integral):
        raise ArgumentTypeError(f"warp_grid_size must be an integer >= 2, got {warp_grid_size!r}")
    if warp_grid_size < 2:
        raise ValueError(f"warp_grid_size must be an integer >= 2, got {warp_grid_size!r}")
    return int(warp_grid_size)


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if isinstance(value, str) and value in choices:
        return value
    expected = f"one of {', '.join(map(repr, choices))}"
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{name} must be {expected}, got {value!r}")
    raise ValueError(f"{name} must be {expected}, got {value!r}")


def check_fill_mode(fill_mode: Any) -> str:
    return check_choice(fill_mode, "fill_mode", FILL_MODES)


def check_order(order: Any) -> str:
    return check_choice(order, "order", ORDERS)


def check_backend(backend: Any) -> str:
    return check_choice(backend, "backend", BACKENDS)


def check_cval(cval: Any, name: str) -> float:
    value = as_float(cval, name, "a number")
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got {cval!r}")
    return value


def check_flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_spatial_shape(shape: Any) -> tuple[int, int]:
    """``shape`` as two positive integers ``(height, width)``."""
    return check_int_pair(shape, "shape", 1)


def check_crop_size(crop_size: Any, shape: tuple[int, int]) -> tuple[int, int] | None:
    """``None`` or a ``(height, width)`` pair that fits inside ``shape``."""
    if crop_size is None:
        return None
    pair = check_int_pair(crop_size, "crop_size", 1)
    if pair[0] > shape[0] or pair[1] > shape[1]:
        raise ValueError(
            f"crop_size {pair} is larger than the image's spatial shape {tuple(shape)}"
        )
    return pair


def check_channel_axis(channel_axis: Any, ndim: int) -> int:
    if not isinstance(channel_axis, numbers.Integral) or isinstance(channel_axis, bool):
        raise ArgumentTypeError(f"channel_axis must be an integer, got {channel_axis!r}")
    axis = int(channel_axis)
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"channel_axis must be in [{-ndim}, {ndim - 1}] for an array with ndim "
            f"{ndim}, got {channel_axis}"
        )
    return axis % ndim


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
        raise ArgumentTypeError(
            f"{name} must have a numeric or boolean dtype, got {array.dtype}")
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
