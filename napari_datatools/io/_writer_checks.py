"""Argument and data checks shared by the buffered writers."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np


def check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def check_length(length: Any) -> int | None:
    if length is None:
        return None
    if isinstance(length, bool) or not isinstance(length, numbers.Integral) or length < 0:
        raise ValueError(f"length must be None or a non-negative integer, got {length!r}")
    return int(length)


def check_element_shape(shape: Any) -> tuple[int, ...]:
    try:
        dims = tuple(int(d) for d in (shape if np.ndim(shape) else (shape,)))
    except (TypeError, ValueError):
        raise ValueError(
            f"data_element_shape must be a tuple of non-negative integers, got {shape!r}"
        ) from None
    if any(d < 0 for d in dims):
        raise ValueError(f"data_element_shape must be non-negative, got {dims}")
    return dims


def check_dtype(dtype: Any) -> np.dtype:
    try:
        return np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"dtype must be a numpy dtype, got {dtype!r}: {err}") from None


def check_writer_args(
    data_element_shape: Any, dtype: Any, batch_size: Any, length: Any
) -> tuple[tuple[int, ...], np.dtype, int, int | None]:
    """The arguments every writer shares, checked: (shape, dtype, batch_size, length)."""
    return (check_element_shape(data_element_shape), check_dtype(dtype),
            check_batch_size(batch_size), check_length(length))


def check_array_name(array_name: Any) -> str:
    if not isinstance(array_name, str) or not array_name:
        raise ValueError(f"array_name must be a non-empty string, got {array_name!r}")
    return array_name


def as_elements(data: Any, element_shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """``data`` as an (n,) + element_shape array, without casting.

    Raises
    ------
    TypeError
        If the data's dtype is not ``dtype`` (no silent casting).
    ValueError
        If ``data`` is neither one element nor a stack of elements.
    """
    array = np.asarray(data)
    if not np.can_cast(array.dtype, dtype, casting="equiv"):
        raise TypeError(
            f"data must have dtype {dtype} (no casting is done), got {array.dtype}; "
            f"convert it first, e.g. data.astype(np.{dtype.name})"
        )
    if array.shape == element_shape:
        return array[None]
    if array.shape[1:] == element_shape:
        return array
    raise ValueError(
        f"data must be one element of shape {element_shape} or a stack of shape "
        f"(n, {', '.join(map(str, element_shape))}{',' if len(element_shape) == 0 else ''}), "
        f"got shape {array.shape}"
    )
