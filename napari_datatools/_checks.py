"""Argument checks shared by every subpackage (each raises naming the argument)."""

from __future__ import annotations

import numbers
from typing import Literal, overload

from .errors import ArgumentTypeError


@overload
def check_positive_int(value: object, name: str, allow_none: Literal[False] = ...) -> int: ...
@overload
def check_positive_int(value: object, name: str, allow_none: bool) -> int | None: ...


def check_positive_int(value: object, name: str, allow_none: bool = False) -> int | None:
    """``value`` as a positive ``int`` (``None`` passes when ``allow_none``).

    Raises
    ------
    ArgumentTypeError
        If ``value`` is not an integer (``bool`` included).
    ValueError
        If it is an integer below 1.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentTypeError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_non_negative_int(value: object, name: str) -> int:
    """``value`` as an ``int`` >= 0, else :class:`ArgumentTypeError` / ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentTypeError(f"{name} must be a non-negative integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)
