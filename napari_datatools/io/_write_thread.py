"""One background thread that writes batches while the caller prepares the next one."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable


class BackgroundWrites:
    """Run write calls one at a time, in order, in a background thread.

    At most one write is pending: :meth:`submit` first waits for the previous
    one, so memory stays bounded and an error of a write is raised in the caller
    (by the next :meth:`submit`, or by :meth:`wait`) with its original traceback.
    """

    def __init__(self, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._pending: Future | None = None

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Wait for the previous write, then start ``fn(*args)``."""
        self.wait()
        self._pending = self._pool.submit(fn, *args)

    def wait(self) -> None:
        """Block until the pending write is done; re-raise its error."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def shutdown(self) -> None:
        """Finish the pending write and stop the thread (errors are re-raised)."""
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)
