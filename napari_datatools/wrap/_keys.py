"""numpy-style keys split into a first-axis selection and the rest."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class FirstAxisKey:
    """A key resolved on the first axis.

    Attributes
    ----------
    positions : ndarray of int
        The selected first-axis positions, in key order (repeats allowed).
    local : Any
        What replaces the first-axis key when indexing the stacked selection
        (``0`` for an int, ``slice(None)`` for a slice, an index array for
        advanced keys), so numpy's own rules shape the result.
    rest : tuple
        The key's components for the further axes (ellipsis expanded).
    """

    positions: np.ndarray
    local: Any
    rest: tuple


def _is_int(k: Any) -> bool:
    if isinstance(k, np.ndarray):  # a 0-d integer array indexes like an int, as in numpy
        return k.ndim == 0 and np.issubdtype(k.dtype, np.integer)
    return isinstance(k, (numbers.Integral, np.integer)) and not isinstance(k, (bool, np.bool_))


def _normalise_tuple(key: Any) -> tuple:
    if isinstance(key, tuple):
        return key
    if isinstance(key, list) and len(key) == 1 and isinstance(key[0], (list, tuple, np.ndarray)) \
            and not isinstance(key[0], tuple):
        inner = np.asarray(key[0])
        if inner.ndim == 1:  # A[[[0, 1]]] is A[[0, 1]], as the original documents
            return (key[0],)
    return (key,)


def split_key(key: Any, shape: tuple[int, ...]) -> FirstAxisKey:
    """Resolve ``key`` on an array of shape ``shape``.

    Raises
    ------
    IndexError
        For ``None``/``newaxis``, more than one ellipsis, too many indices,
        out-of-range integers, non-boolean multi-dimensional index arrays, and
        keys of other types; the message says which.
    """
    length, ndim = shape[0], len(shape)
    parts = _normalise_tuple(key)
    if any(p is None for p in parts):
        raise IndexError("adding dimensions by indexing (None / numpy.newaxis) is not supported")
    n_ellipsis = sum(p is Ellipsis for p in parts)
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(np.asarray(p).ndim if _is_bool_array(p) else 1
               for p in parts if p is not Ellipsis)
    if used > ndim:
        raise IndexError(f"too many indices: the array has {ndim} dimensions, the key uses {used}")
    if n_ellipsis:
        i = next(i for i, p in enumerate(parts) if p is Ellipsis)
        parts = parts[:i] + (slice(None),) * (ndim - used) + parts[i + 1:]
    if not parts:
        parts = (slice(None),)
    first, rest = parts[0], tuple(parts[1:])
    if _is_int(first):
        k = int(first)
        if not -length <= k < length:
            raise IndexError(f"index {k} is out of bounds for axis 0 with size {length}")
        return FirstAxisKey(np.array([k % length], np.intp), 0, rest)
    if isinstance(first, slice):
        positions = np.arange(length, dtype=np.intp)[first]
        return FirstAxisKey(positions, slice(None), rest)
    if isinstance(first, (list, np.ndarray)) or _is_bool_array(first):
        array = np.asarray(first)
        if array.dtype == bool:
            if array.shape != (length,) + () and array.ndim == 1:
                raise IndexError(f"boolean index of length {array.shape[0]} does not match "
                                 f"axis 0 of size {length}")
            if array.ndim > 1:
                for axis, (size, given) in enumerate(zip(shape, array.shape, strict=False)):
                    if size != given:
                        raise IndexError(
                            f"boolean index did not match indexed array along axis {axis}; "
                            f"size of axis is {size} but size of corresponding boolean "
                            f"axis is {given}")
                nz = np.nonzero(array)
                unique, inverse = np.unique(nz[0], return_inverse=True)
                return FirstAxisKey(unique.astype(np.intp), inverse, tuple(nz[1:]) + rest)
            positions = np.flatnonzero(array)
            return FirstAxisKey(positions, np.arange(len(positions)), rest)
        if array.size == 0:
            return FirstAxisKey(np.zeros(0, np.intp), np.zeros(0, np.intp), rest)
        if not np.issubdtype(array.dtype, np.integer):
            raise IndexError(f"index arrays must hold integers or booleans, got {array.dtype}")
        if array.ndim != 1:
            raise IndexError(
                "non-boolean multi-dimensional index arrays are not supported "
                f"(got shape {array.shape})"
            )
        if array.min() < -length or array.max() >= length:
            bad = array[(array < -length) | (array >= length)][0]
            raise IndexError(f"index {bad} is out of bounds for axis 0 with size {length}")
        positions = (array % length).astype(np.intp)
        return FirstAxisKey(positions, np.arange(len(positions)), rest)
    raise IndexError(
        "only integers, slices, ellipsis, lists/arrays of integers and boolean arrays are "
        f"valid indices, got {type(first).__name__}"
    )


def _is_bool_array(k: Any) -> bool:
    return isinstance(k, (list, np.ndarray)) and np.asarray(k).dtype == bool


def apply_rest(stacked: np.ndarray, split: FirstAxisKey) -> np.ndarray:
    """Index the stacked selection with the first-axis stand-in and the rest of the key."""
    return stacked[(split.local,) + split.rest]
