"""Batches in shared memory: layouts, gathering into a slot, packing and unpacking.

Only small descriptions (shapes, dtypes, offsets) travel through pipes; the array
bytes stay in :class:`multiprocessing.shared_memory.SharedMemory` blocks.
"""

from __future__ import annotations

from multiprocessing import shared_memory
from typing import Any, Sequence

import numpy as np

from ..wrap._batched_read import read_elements

_ALIGN = 64

#: ``("shm", shape, dtype string, offset)`` for bytes in shared memory,
#: ``("obj", value)`` for anything sent through the pipe instead.
Part = tuple


def _aligned(offset: int) -> int:
    return (offset + _ALIGN - 1) // _ALIGN * _ALIGN


def _shareable(value: Any) -> bool:
    return isinstance(value, np.ndarray) and not value.dtype.hasobject


def packed_size(arrays: Sequence[Any]) -> int:
    """Bytes :func:`pack` needs for the shareable arrays of ``arrays``."""
    offset = 0
    for a in arrays:
        if _shareable(a):
            offset = _aligned(offset) + a.nbytes
    return offset


def pack(values: Sequence[Any], buf: memoryview) -> list[Part]:
    """Copy the arrays of ``values`` into ``buf`` (which must hold :func:`packed_size`)."""
    parts: list[Part] = []
    offset = 0
    for v in values:
        if not _shareable(v):
            parts.append(("obj", v))
            continue
        offset = _aligned(offset)
        np.ndarray(v.shape, v.dtype, buffer=buf, offset=offset)[...] = v
        parts.append(("shm", v.shape, v.dtype.str, offset))
        offset += v.nbytes
    return parts


def unpack(parts: Sequence[Part], buf: Any, copy: bool) -> list[Any]:
    """The values ``parts`` describe: views into ``buf`` (any buffer: a memoryview, a
    uint8 array), or copies with ``copy``."""
    out = []
    for part in parts:
        if part[0] == "obj":
            out.append(part[1])
            continue
        _, shape, dtype, offset = part
        view = np.ndarray(shape, np.dtype(dtype), buffer=buf, offset=offset)
        out.append(view.copy() if copy else view)
    return out


def element_layout(array: Any) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of one element of ``array`` (read one when it does not say)."""
    shape, dtype = getattr(array, "shape", None), getattr(array, "dtype", None)
    if shape is not None and dtype is not None:
        return tuple(int(d) for d in shape[1:]), np.dtype(dtype)
    first = np.asarray(array[0])
    return first.shape, first.dtype


def gather_into(data: Sequence[Any], layouts: Sequence[tuple[tuple[int, ...], np.dtype]],
                indices: np.ndarray, buf: memoryview) -> list[Part]:
    """Read elements ``indices`` of every array of ``data`` straight into ``buf``.

    numpy arrays are gathered with one ``np.take`` into the shared memory;
    other sources are read with few calls and copied in. A batch that does not
    match its layout (ragged sources) or does not fit goes through the pipe.
    """
    parts: list[Part] = []
    offset = 0
    n = len(indices)
    for array, (element_shape, dtype) in zip(data, layouts):
        shape = (n,) + element_shape
        offset = _aligned(offset)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        fits = offset + nbytes <= len(buf) and not dtype.hasobject
        if fits and isinstance(array, np.ndarray) and array.dtype == dtype:
            # (no local name for the view: a kept traceback must not hold one)
            np.take(array, indices, axis=0, mode="clip",  # indices are in range
                    out=np.ndarray(shape, dtype, buffer=buf, offset=offset))
        else:
            values = np.asarray(read_elements(array, indices))
            if not (fits and values.shape == shape and values.dtype == dtype):
                parts.append(("obj", values))
                continue
            np.ndarray(shape, dtype, buffer=buf, offset=offset)[...] = values
        parts.append(("shm", shape, dtype.str, offset))
        offset += nbytes
    return parts


def batch_bytes(layouts: Sequence[tuple[tuple[int, ...], np.dtype]], batch_size: int) -> int:
    """Bytes one batch of ``batch_size`` elements takes in :func:`gather_into`'s layout."""
    offset = 0
    for element_shape, dtype in layouts:
        offset = _aligned(offset) + batch_size * int(np.prod(element_shape, dtype=np.int64)) \
            * dtype.itemsize
    return offset


def new_block(size: int) -> shared_memory.SharedMemory:
    """A new shared-memory block of at least ``size`` bytes (never empty)."""
    return shared_memory.SharedMemory(create=True, size=max(int(size), _ALIGN))


def free_block(block: shared_memory.SharedMemory, unlink: bool = True) -> None:
    """Unmap ``block`` and remove its name.

    numpy arrays over shared memory do not keep it mapped: only call this when no
    view of ``block`` can be used any more.
    """
    try:
        block.close()
    except BufferError:
        pass
    if unlink:
        try:
            block.unlink()
        except FileNotFoundError:
            pass
