"""Open HDF5 files once per process, so several writers can share one file."""

from __future__ import annotations

import os
import threading
from typing import Any

_lock = threading.Lock()
_open: dict[str, list[Any]] = {}  # real path -> [h5py.File, number of users]


def acquire(filename: str | os.PathLike) -> Any:
    """The process's writable ``h5py.File`` for ``filename`` (opened in 'a' mode)."""
    import h5py

    key = os.path.realpath(os.fspath(filename))
    with _lock:
        entry = _open.get(key)
        if entry is None or not entry[0]:
            entry = _open[key] = [h5py.File(key, "a"), 0]
        entry[1] += 1
        return entry[0]


def release(file: Any) -> None:
    """Give back a file from :func:`acquire`; the last user closes it."""
    key = os.path.realpath(file.filename)
    with _lock:
        entry = _open.get(key)
        if entry is None or entry[0] is not file:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del _open[key]
            if file:
                file.close()
