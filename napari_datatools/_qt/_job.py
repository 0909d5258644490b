"""The dataset run as a napari worker: progress out, cancel in, nothing read from widgets."""

from __future__ import annotations

import threading
from typing import Any, Generator

from napari.qt.threading import thread_worker
from qtpy.QtCore import Qt


def drive(
    job: Generator, cancel: threading.Event, ended: threading.Event | None = None
) -> Generator[Any, None, Any]:
    """Yield the progress of ``job`` until it ends or ``cancel`` is set.

    Returns the job's result, or None when cancelled (the job is closed, which
    leaves its file consistent and marked incomplete). ``ended`` is set once the
    job is closed, however it ended.
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
        if ended is not None:
            ended.set()


def _close(job: Generator, ended: threading.Event) -> None:
    try:
        job.close()
    finally:
        ended.set()


def start_job(job: Generator, cancel: threading.Event, ended: threading.Event) -> Any:
    """Run ``job`` in a napari ``thread_worker`` (not started: connect, then ``start()``).

    ``worker.quit()`` (napari does this to every worker when it quits) stops the
    loop between two batches; the job is then closed in the worker thread, so
    its file is finished before the thread ends. ``ended`` is set when the job
    is closed.
    """
    worker = thread_worker(drive, start_thread=False, ignore_errors=True)(job, cancel, ended)
    # DirectConnection: runs in the worker thread right after it stopped looping
    worker.aborted.connect(lambda: _close(job, ended), type=Qt.ConnectionType.DirectConnection)
    return worker
