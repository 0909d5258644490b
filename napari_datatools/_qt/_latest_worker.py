"""Run a function off the GUI thread where only the latest request matters."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from napari.qt.threading import thread_worker
from qtpy.QtCore import QObject


class LatestWorker(QObject):
    """Compute ``function(*args)`` in a napari ``thread_worker``, latest request wins.

    One computation runs at a time. Requests made meanwhile replace each other;
    when the running one ends, the latest waiting request starts and the stale
    result is dropped. Results and errors of the latest request go to
    ``on_result`` / ``on_error`` on the GUI thread.
    """

    def __init__(
        self,
        function: Callable[..., Any],
        on_result: Callable[[Any], Any],
        on_error: Callable[[Exception], Any],
        parent: QObject,
    ) -> None:
        super().__init__(parent)
        self._function, self._on_result, self._on_error = function, on_result, on_error
        self._pending: tuple | None = None
        self._running: Any = None
        self._idle = threading.Event()
        self._idle.set()
        self.closed = False

    @property
    def busy(self) -> bool:
        """Whether a computation runs or waits."""
        return self._running is not None or self._pending is not None

    def submit(self, *args: Any) -> None:
        """Compute for ``args`` once the current computation (if any) is over."""
        if self.closed:
            return
        self._pending = args
        if self._running is None:
            self._start_pending()

    def close(self, timeout: float = 5.0) -> bool:
        """Drop waiting requests, ignore the running one's result and wait for it to end.

        Returns whether no computation is left running after ``timeout`` seconds.
        """
        self.closed = True
        self._pending = None
        return self._idle.wait(timeout)

    def _run(self, *args: Any) -> Any:
        try:
            return self._function(*args)
        finally:
            self._idle.set()

    def _start_pending(self) -> None:
        args, self._pending = self._pending, None
        if args is None:
            return
        self._idle.clear()
        worker = thread_worker(self._run, start_thread=False, ignore_errors=True)(*args)
        worker.returned.connect(self._returned)
        worker.errored.connect(self._errored)
        worker.finished.connect(self._finished)
        self._running = worker
        worker.start()

    def _returned(self, result: Any) -> None:
        if not self.closed and self._pending is None:
            self._on_result(result)

    def _errored(self, err: Exception) -> None:
        if not self.closed and self._pending is None:
            self._on_error(err)

    def _finished(self) -> None:
        self._running = None
        if self._pending is not None and not self.closed:
            self._start_pending()
