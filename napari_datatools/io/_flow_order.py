"""Hand out batch numbers to loader threads and take results back in that order."""

from __future__ import annotations

import threading
from typing import Any, Iterator

import numpy as np

#: :meth:`BatchOrder.take` returns this when the last batch has been taken.
END = object()


class BatchOrder:
    """Batch ``seq`` is the ``seq``-th index array of ``indices``.

    At most ``ahead`` batches are handed out and not yet taken by the consumer,
    which bounds memory. One lock; loaders and the consumer each wait on their
    own condition and are woken only when they can go on (no polling).

    Parameters
    ----------
    indices : iterator of ndarray
        The sampler's batches of element indices.
    ahead : int
        Most batches handed out and not yet taken.
    """

    def __init__(self, indices: Iterator[np.ndarray], ahead: int) -> None:
        self.indices = indices
        self.ahead = ahead
        self.lock = threading.Lock()
        self.room = threading.Condition(self.lock)  # loaders wait for it
        self.ready = threading.Condition(self.lock)  # the consumer waits for it
        self.results: dict[int, Any] = {}
        self.error: BaseException | Any = None
        self.handed = 0  # batches handed out
        self.taken = 0  # batches taken by the consumer
        self.total: int | None = None  # known once the sampler is exhausted
        self.stopped = False

    # -- loader side ----------------------------------------------------------------------
    def next_task(self) -> tuple[int, np.ndarray] | None:
        """The next batch number and its indices; None when done or stopped."""
        with self.lock:
            while not self.stopped and self.total is None \
                    and self.handed - self.taken >= self.ahead:
                self.room.wait()
            if self.stopped or self.total is not None:
                return None
            try:
                idx = next(self.indices)
            except StopIteration:
                self.total = self.handed
                self.ready.notify()
                self.room.notify_all()
                return None
            seq = self.handed
            self.handed += 1
            return seq, idx

    def put(self, seq: int, batch: Any) -> None:
        """Deliver batch ``seq``."""
        with self.lock:
            self.results[seq] = batch
            if seq == self.taken:
                self.ready.notify()

    def fail(self, error: Any) -> None:
        """Deliver an error (an exception or an error report); the first one wins."""
        with self.lock:
            if self.error is None:
                self.error = error
            self.ready.notify()

    # -- consumer side --------------------------------------------------------------------
    def take(self) -> Any:
        """The next batch in order, :data:`END` after the last one; raises nothing,
        returns ``("error", error)`` when an error was delivered."""
        with self.lock:
            while True:
                if self.error is not None:
                    return ("error", self.error)
                if self.taken in self.results:
                    batch = self.results.pop(self.taken)
                    self.taken += 1
                    self.room.notify()
                    return ("batch", batch)
                if self.total is not None and self.taken >= self.total:
                    return END
                self.ready.wait()

    def stop(self) -> None:
        """Wake every waiting loader for good and drop undelivered batches."""
        with self.lock:
            self.stopped = True
            self.room.notify_all()
            results, self.results = self.results, {}
        del results
