"""Pools of shared-memory blocks, and batches handed out as views that lease a block.

A result a worker wrote into an output block reaches the consumer without a copy:
its arrays are views of one ``carrier`` array over the block, and the block goes
back to the pool when the consumer has dropped every view (``weakref.finalize`` on
the carrier).
"""

from __future__ import annotations

import threading
import weakref
from multiprocessing import shared_memory
from typing import Any, Callable

import numpy as np

from ._flow_shm import free_block, new_block, unpack


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
        block = None
        try:
            block = new_block(size)
        finally:
            with self.cond:
                self.reserved -= 1
                kept = block is not None and not self.closed
                if kept:
                    self.blocks.add(block)
                self.cond.notify()
        if not kept:  # closed meanwhile
            free_block(block)
            return None
        return block

    def give_back(self, block: shared_memory.SharedMemory) -> None:
        """Return ``block`` (no view of it may remain); one smaller than the current
        size is freed (a bigger one is made when needed)."""
        with self.cond:
            if block not in self.blocks:  # the pool was closed: the name is already gone
                _unmap(block)
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


def _unmap(block: shared_memory.SharedMemory) -> None:
    try:
        block.close()
    except BufferError:
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
    carrier = np.ndarray((block.size,), np.uint8, buffer=block.buf)
    values = unpack(parts, carrier, copy=False)  # views keep ``carrier`` as their base
    weakref.finalize(carrier, on_release, block)
    return values
