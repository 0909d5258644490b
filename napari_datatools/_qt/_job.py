"""The dataset run as a napari worker: progress out, cancel in, nothing read from widgets."""

from __future__ import annotations

import threading
from typing import Any, Generator

from napari.qt.threading import thread_worker
from qtpy.QtCore import Qt


def drive(job: Generator, cancel: threading.Event) -> Generator[Any, None, Any]:
    """Yield the progress of ``job`` until it ends or ``cancel`` is set.

    Returns the job's result, or None when cancelled (the job is closed, which
    leaves its file consistent and marked incomplete).
    """
    try:
        while not cancel.is_set():
            try:
                progress = next(job)
            except StopIteration as stop:
                return stop.value
            yield progress
        return None
    finally:
        job.close()


def start_job(job: Generator, cancel: threading.Event) -> Any:
    """Run ``job`` in a napari ``thread_worker`` (not started: connect, then ``start()``).

    ``worker.quit()`` (napari does this to every worker when it quits) stops the
    loop between two batches; the job is then closed in the worker thread, so
    its file is finished before the thread ends.
    """
    worker = thread_worker(drive, start_thread=False)(job, cancel)
    # DirectConnection: runs in the worker thread right after it stopped looping
    worker.aborted.connect(job.close, type=Qt.ConnectionType.DirectConnection)
    return worker
