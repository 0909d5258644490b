"""Helpers shared by the test modules (``from tests.helpers import ...``); fixtures live in
conftest.py.

Tests never assert how long something took (a busy machine makes any bound flaky): they
wait for a condition with a generous deadline (:func:`wait_until`), or fail a call that
hangs (:func:`call_within`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import h5py
import numpy as np
import pytest

T = TypeVar("T")

#: Seconds a test waits for something that takes milliseconds on an idle machine.
DEADLINE = 60.0


def read_h5(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Every array of an HDF5 file, and the file's attributes."""
    with h5py.File(path, "r") as f:
        return {k: f[k][...] for k in f}, dict(f.attrs)


def wait_until(condition: Callable[[], object], timeout: float = DEADLINE,
               what: str | None = None) -> None:
    """Poll ``condition`` every 10 ms until it is true; fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what or getattr(condition, '__name__', 'condition')} "
                        f"still false after {timeout} s")
        time.sleep(0.01)


def call_within(timeout: float, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``func(*args, **kwargs)`` in a daemon thread: its result, or its exception re-raised;
    the test fails if the call has not returned after ``timeout`` s (a hang)."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = func(*args, **kwargs)
        except BaseException as err:  # handed to the caller below
            outcome["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(f"{getattr(func, '__name__', func)!s} did not return within {timeout} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
