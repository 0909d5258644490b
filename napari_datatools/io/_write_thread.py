"""One background thread per writer that writes queued batches, several at a time."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable

import numpy as np

#: Batches that may wait for the write thread before the producer blocks ...
MAX_PENDING_BATCHES = 8
#: ... unless they hold more bytes than this (one batch may always wait) ...
MAX_PENDING_BYTES = 8 * 2**20
#: ... or all writers of the process together hold more than this (a run writing
#: many arrays at once, e.g. one per class, stays within one budget).
MAX_PENDING_BYTES_ALL = 8 * 2**20


class _SharedBudget:
    """Bytes queued or being written by every writer thread of the process."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.used = 0

    def acquire(self, owner: BackgroundWrites, nbytes: int) -> None:
        """Wait until ``nbytes`` fit, unless ``owner`` holds none (then it never waits:
        a writer with nothing in flight must be able to start, or none could)."""
        with self.cond:
            while owner._budget_held and self.used + nbytes > MAX_PENDING_BYTES_ALL:
                self.cond.wait()
            self.used += nbytes
            owner._budget_held += nbytes

    def release(self, owner: BackgroundWrites, nbytes: int) -> None:
        with self.cond:
            self.used -= nbytes
            owner._budget_held -= nbytes
            self.cond.notify_all()


_BUDGET = _SharedBudget()


class BackgroundWrites:
    """Write batches in a background thread while the caller prepares the next ones.

    Batches queue up in order; the thread takes everything queued at once and
    hands it to ``write_many`` in one call (one resize, one metadata update and
    one flush for many small batches). The producer blocks while
    :data:`MAX_PENDING_BATCHES` batches or :data:`MAX_PENDING_BYTES` wait, or
    while the writers of the process together hold :data:`MAX_PENDING_BYTES_ALL`,
    so memory stays bounded (one batch per writer may always wait). An error
    of the thread is raised in the caller by the next :meth:`submit`,
    :meth:`wait` or :meth:`shutdown`, with its original traceback.
    """

    def __init__(self, write_many: Callable[[list[tuple[int, np.ndarray]]], None],
                 name: str) -> None:
        self._write_many = write_many
        self._queue: deque[tuple[int, np.ndarray]] = deque()
        self._pending_bytes = 0
        self._budget_held = 0  # this writer's share of _BUDGET (changed under its lock)
        self._busy = False
        self._stop = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stop:
                    self._cond.wait()
                if not self._queue:
                    return
                items = list(self._queue)
                self._queue.clear()
                self._busy = True
            try:
                if self._error is None:
                    self._write_many(items)
            except BaseException as err:  # handed to the producer
                self._error = err
            finally:
                nbytes = sum(b.nbytes for _, b in items)
                with self._cond:
                    self._busy = False
                    self._pending_bytes -= nbytes
                    self._cond.notify_all()
                _BUDGET.release(self, nbytes)

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(self, start: int, batch: np.ndarray) -> None:
        """Queue ``batch`` for elements ``start:start + len(batch)`` (the writer owns it)."""
        self._raise()
        _BUDGET.acquire(self, batch.nbytes)  # released by the thread once written
        try:
            with self._cond:
                while self._queue and (len(self._queue) >= MAX_PENDING_BATCHES or
                                       self._pending_bytes + batch.nbytes > MAX_PENDING_BYTES):
                    self._cond.wait()
                    self._raise()
                self._queue.append((start, batch))
                self._pending_bytes += batch.nbytes
                self._cond.notify_all()
        except BaseException:
            _BUDGET.release(self, batch.nbytes)  # not queued
            raise

    def wait(self) -> None:
        """Block until every queued batch is written; re-raise a write error."""
        with self._cond:
            while (self._queue or self._busy) and self._error is None:
                self._cond.wait()
        self._raise()

    def shutdown(self) -> None:
        """Write what is queued, stop the thread, re-raise a write error."""
        try:
            self.wait()
        finally:
            with self._cond:
                self._stop = True
                self._cond.notify_all()
            self._thread.join()
