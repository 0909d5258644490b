"""A dependency-free terminal progress bar (carriage return on stderr)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class TerminalProgress:
    """Print ``[#####-----]  50%  500/1000 patches`` in place, at most ~10 times a second.

    Parameters
    ----------
    total : int
        Number of items when complete.
    stream : file-like, optional
        Where to print; default ``sys.stderr``.
    width : int
        Number of characters of the bar.
    """

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30,
                 unit: str = "patches") -> None:
        self.total = max(int(total), 0)
        self.stream = sys.stderr if stream is None else stream
        self.width = width
        self.unit = unit
        self._last = -1.0

    def update(self, done: int, force: bool = False) -> None:
        """Redraw the bar for ``done`` items (throttled unless ``force``)."""
        now = time.monotonic()
        if not force and now - self._last < 0.1 and done < self.total:
            return
        self._last = now
        frac = 1.0 if self.total == 0 else min(done / self.total, 1.0)
        filled = int(round(frac * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {frac:4.0%} {done}/{self.total} {self.unit}")
        self.stream.flush()

    def close(self, done: int) -> None:
        """Draw the final state and end the line."""
        self.update(done, force=True)
        self.stream.write("\n")
        self.stream.flush()
