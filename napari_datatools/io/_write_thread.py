"""One background thread per writer that writes queued batches, several at a time."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable

import numpy as np

#: Batches that may wait for the write thread before the producer blocks ...
MAX_PENDING_BATCHES = 8
#: ... unless they hold more bytes than this (one batch may always wait).
MAX_PENDING_BYTES = 8 * 2**20


class BackgroundWrites:
    """Write batches in a background thread while the caller prepares the next ones.

    Batches queue up in order; the thread takes everything queued at once and
    hands it to ``write_many`` in one call (one resize, one metadata update and
    one flush for many small batches). The producer blocks while
    :data:`MAX_PENDING_BATCHES` batches or :data:`MAX_PENDING_BYTES` wait, so
    memory stays bounded (one batch may always wait). An error
    of the thread is raised in the caller by the next :meth:`submit`,
    :meth:`wait` or :meth:`shutdown`, with its original traceback.
    """

    def __init__(self, write_many: Callable[[list[tuple[int, np.ndarray]]], None],
                 name: str) -> None:
        self._write_many = write_many
        self._queue: deque[tuple[int, np.ndarray]] = deque()
        self._pending_bytes = 0
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
                with self._cond:
                    self._busy = False
                    self._pending_bytes -= sum(b.nbytes for _, b in items)
                    self._cond.notify_all()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(self, start: int, batch: np.ndarray) -> None:
        """Queue ``batch`` for elements ``start:start + len(batch)`` (the writer owns it)."""
        self._raise()
        with self._cond:
            while self._queue and (len(self._queue) >= MAX_PENDING_BATCHES or
                                   self._pending_bytes + batch.nbytes > MAX_PENDING_BYTES):
                self._cond.wait()
                self._raise()
            self._queue.append((start, batch))
            self._pending_bytes += batch.nbytes
            self._cond.notify_all()

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
