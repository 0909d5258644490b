"""Connections from the widgets to viewer events, undone when the dock goes away.

napari's viewer outlives nothing: when its window closes it removes every layer
(firing layer and dims events) and then deletes the dock. Widgets that keep
listening would redraw preview layers into a closing viewer, so every viewer
connection is made through :class:`Connections` and dropped at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Connections:
    """A record of ``(emitter, callback)`` pairs, and callbacks to run on close."""

    def __init__(self) -> None:
        self._pairs: list[tuple[Any, Callable]] = []
        self._on_close: list[Callable[[], Any]] = []
        self.closed = False

    def connect(self, emitter: Any, callback: Callable) -> None:
        """``emitter.connect(callback)``, remembered for :meth:`close`."""
        emitter.connect(callback)
        self._pairs.append((emitter, callback))

    def on_close(self, callback: Callable[[], Any]) -> None:
        """Run ``callback`` when :meth:`close` is called."""
        self._on_close.append(callback)

    def close(self) -> None:
        """Disconnect everything and run the close callbacks (idempotent)."""
        if self.closed:
            return
        self.closed = True
        for emitter, callback in self._pairs:
            try:
                emitter.disconnect(callback)
            except (TypeError, ValueError, RuntimeError):
                pass  # already gone with its emitter
        self._pairs.clear()
        for callback in self._on_close:
            callback()
        self._on_close.clear()
