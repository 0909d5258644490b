"""The dataset run as a napari worker: progress out, cancel in, nothing read from widgets."""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import Any

from napari.qt.threading import thread_worker
from qtpy.QtCore import Qt


class JobRunner:
    """Drives a dataset job inside a worker thread.

    ``make_job()`` (e.g. a closure over ``dataset_job`` with a recipe snapshot and
    captured arrays) is called in the worker thread, so opening the output never
    blocks the GUI. ``cancel`` stops the run between two batches; ``ended`` is
    set once the job is closed (its file finished), however the run ended.
    """

    def __init__(
        self, make_job: Callable[[], Generator], cancel: threading.Event, ended: threading.Event
    ) -> None:
        self.make_job, self.cancel, self.ended = make_job, cancel, ended
        self.job: Generator | None = None

    def run(self) -> Generator[Any, None, Any]:
        """Yield the job's progress; return its result, or None when cancelled."""
        try:
            self.job = self.make_job()
            while not self.cancel.is_set():
                try:
                    progress = next(self.job)
                except StopIteration as stop:
                    return stop.value
                yield progress
            return None
        finally:
            self.close()

    def close(self) -> None:
        """Close the job (the file keeps the batches written, marked incomplete)."""
        try:
            if self.job is not None:
                self.job.close()
        finally:
            self.ended.set()


def start_job(
    make_job: Callable[[], Generator], cancel: threading.Event, ended: threading.Event
) -> Any:
    """A napari ``thread_worker`` running :class:`JobRunner` (connect, then ``start()``).

    ``worker.quit()`` (napari does this to every worker when it quits) stops the
    loop between two batches; the job is then closed in the worker thread, so
    its file is finished before the thread ends.
    """
    runner = JobRunner(make_job, cancel, ended)
    worker = thread_worker(runner.run, start_thread=False, ignore_errors=True)()
    # DirectConnection: runs in the worker thread right after it stopped looping
    worker.aborted.connect(runner.close, type=Qt.ConnectionType.DirectConnection)
    return worker
