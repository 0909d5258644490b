"""Batches in shared memory: layouts, packing and unpacking, pools of blocks, leases.

Only small descriptions (shapes, dtypes, offsets) travel through pipes; the array
bytes stay in :class:`multiprocessing.shared_memory.SharedMemory` blocks. A result
a worker wrote into an output block reaches the consumer without a copy: its
arrays are views of one ``carrier`` array over the block, and the block goes back
to its :class:`BlockPool` when the consumer has dropped every view
(``weakref.finalize`` on the carrier).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from multiprocessing import shared_memory
from typing import Any

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
    for array, (element_shape, dtype) in zip(data, layouts, strict=True):
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


def buffer_of(block: shared_memory.SharedMemory) -> memoryview:
    """The memory of an open ``block``."""
    buf = block.buf
    if buf is None:
        raise ValueError(f"shared-memory block {block.name} is closed")
    return buf


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


class BlockPool:
    """Blocks of at least ``size`` bytes, created when needed, at most ``limit`` at once.

    Parameters
    ----------
    size : int
        Bytes of each block (see :meth:`grow`).
    limit : int
        Most blocks in existence; :meth:`take` waits for one to come back beyond it.
    """

    def __init__(self, size: int, limit: int) -> None:
        self.size = int(size)
        self.limit = int(limit)
        self.cond = threading.Condition(threading.RLock())  # give_back may run inside a GC
        self.free: list[shared_memory.SharedMemory] = []
        self.blocks: set[shared_memory.SharedMemory] = set()
        self.reserved = 0
        self.stopped = False  # take() returns None
        self.closed = False  # and every block is freed

    def take(self) -> shared_memory.SharedMemory | None:
        """A free block (a new one if allowed), waiting if needed; None once closed."""
        with self.cond:
            while True:
                if self.stopped:
                    return None
                if self.free:
                    return self.free.pop()
                if len(self.blocks) + self.reserved < self.limit:
                    self.reserved += 1
                    size = self.size
                    break
                self.cond.wait()
        block: shared_memory.SharedMemory | None = None
        try:
            block = new_block(size)
        finally:
            with self.cond:
                self.reserved -= 1
                closed = self.closed
                if block is not None and not closed:
                    self.blocks.add(block)
                self.cond.notify()
        if closed:  # closed meanwhile
            free_block(block)
            return None
        return block

    def give_back(self, block: shared_memory.SharedMemory) -> None:
        """Return ``block`` (no view of it may remain); one smaller than the current
        size is freed (a bigger one is made when needed)."""
        with self.cond:
            if block not in self.blocks:  # the pool was closed: the name is already gone
                free_block(block, unlink=False)
                return
            if block.size < self.size:
                self.blocks.discard(block)
                free_block(block)
            else:
                self.free.append(block)
            self.cond.notify()

    def grow(self, size: int) -> None:
        """Blocks taken from now on have at least ``size`` bytes."""
        with self.cond:
            self.size = max(self.size, int(size))

    def stop_taking(self) -> None:
        """Make :meth:`take` return None from now on (waking those waiting)."""
        with self.cond:
            self.stopped = True
            self.cond.notify_all()

    def close(self) -> None:
        """Free the blocks: free ones at once; taken ones (a batch the consumer still
        holds...) lose their name now and are unmapped when given back.

        numpy views do not pin a mapping, so a block is never unmapped while a view
        of it may exist.
        """
        with self.cond:
            self.stopped = self.closed = True
            free, taken = self.free, self.blocks.difference(self.free)
            self.blocks, self.free = set(), []
            self.cond.notify_all()
        for block in free:
            free_block(block)
        for block in taken:
            try:
                block.unlink()
            except FileNotFoundError:
                pass


def lease_views(parts: list, block: shared_memory.SharedMemory,
                on_release: Callable[[shared_memory.SharedMemory], None]) -> list[Any]:
    """The values ``parts`` describe, arrays as views of ``block``.

    ``on_release(block)`` runs once no view is referenced any more (at once if
    ``parts`` has no array in the block).
    """
    if not any(part[0] == "shm" for part in parts):
        on_release(block)
        return [part[1] for part in parts]
    carrier = np.ndarray((block.size,), np.uint8, buffer=buffer_of(block))
    values = unpack(parts, carrier, copy=False)  # views keep ``carrier`` as their base
    weakref.finalize(carrier, on_release, block)
    return values
