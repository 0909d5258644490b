"""Patches side by side: a montage (grid) of dataset patches, and which tile lies where.

The napari Dataset tab shows a page of a class's patches this way (and the label
patches, laid out identically, outlined on top); a notebook can do the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import check_non_negative_int, check_positive_int
from ..errors import ArgumentTypeError


@dataclass(frozen=True)
class Montage:
    """Tiles laid out row by row, ``gap`` pixels apart.

    Attributes
    ----------
    image : numpy.ndarray
        The ``(H, W)`` montage.
    n : int
        Number of tiles (the first ``n`` grid cells, row by row).
    columns : int
        Tiles per row.
    tile_shape : (int, int)
        ``(height, width)`` of every tile.
    gap : int
        Pixels between two tiles.
    """

    image: np.ndarray
    n: int
    columns: int
    tile_shape: tuple[int, int]
    gap: int

    def origin(self, index: int) -> tuple[int, int]:
        """``(row, column)`` pixel of the top-left corner of tile ``index``."""
        index = check_non_negative_int(index, "index")
        if index >= self.n:
            raise ValueError(f"index must be below the number of tiles {self.n}, got {index}")
        row, col = divmod(index, self.columns)
        th, tw = self.tile_shape
        return row * (th + self.gap), col * (tw + self.gap)

    def index_at(self, y: float, x: float) -> int | None:
        """The tile under pixel position ``(y, x)`` (pixel centres at integers), or None
        in a gap, an empty cell or outside the montage."""
        th, tw = self.tile_shape
        row_px, col_px = math.floor(float(y) + 0.5), math.floor(float(x) + 0.5)
        if row_px < 0 or col_px < 0:
            return None
        row, in_row = divmod(row_px, th + self.gap)
        col, in_col = divmod(col_px, tw + self.gap)
        if in_row >= th or in_col >= tw or col >= self.columns:
            return None
        index = row * self.columns + col
        return index if index < self.n else None


def _tiles(patches: Any, channel: int) -> np.ndarray:
    """``(n, Y, X)`` views of dataset patches: ``(n, Y, X)``, ``(n, C, Y, X)`` (channel
    ``channel``) or ``(n, C, Z, Y, X)`` (channel ``channel``, the middle Z slice)."""
    shape = tuple(int(s) for s in patches.shape)
    if len(shape) == 3:
        return np.asarray(patches)
    if len(shape) not in (4, 5):
        raise ValueError("patches must be (n, Y, X), (n, C, Y, X) or (n, C, Z, Y, X), got "
                         f"shape {shape}")
    if channel >= shape[1]:
        raise ValueError(f"channel must be below the {shape[1]} channel(s) of the patches, "
                         f"got {channel}")
    if len(shape) == 4:
        return np.asarray(patches[:, channel])
    return np.asarray(patches[:, channel, shape[2] // 2])


def montage(
    patches: Any,
    columns: int | None = None,
    *,
    gap: int = 1,
    fill: float = 0,
    empty: float | None = None,
    channel: int = 0,
) -> Montage:
    """Lay patches out in a grid, row by row (a page of a patch dataset, say).

    Parameters
    ----------
    patches : array_like
        ``(n, Y, X)`` tiles, or patches as a dataset stores them: ``(n, C, Y, X)``
        (channel ``channel`` is shown) or 3D ``(n, C, Z, Y, X)`` (its middle Z
        slice). Anything with ``shape`` and numpy indexing (h5py, zarr...).
    columns : int, optional
        Tiles per row; default the smallest square grid that holds them.
    gap : int
        Pixels between tiles, filled with ``fill``.
    fill : float
        Value of the gaps (and of the empty cells of the last row, by default).
    empty : float, optional
        Value of the empty cells of the last row, when it differs from ``fill``
        (e.g. light gaps between tiles, dark empty cells).
    channel : int
        The channel shown for patches with a channel axis.

    Returns
    -------
    Montage
        The ``(H, W)`` image (the patches' dtype) and its layout.

    Examples
    --------
    >>> m = montage(np.ones((5, 1, 4, 4)), columns=3, gap=1)
    >>> m.image.shape, m.index_at(0, 5), m.index_at(0, 4)
    ((9, 14), 1, None)
    """
    if not hasattr(patches, "shape"):
        raise ArgumentTypeError(f"patches must be an array, got {type(patches).__name__}")
    gap = check_non_negative_int(gap, "gap")
    channel = check_non_negative_int(channel, "channel")
    columns = check_positive_int(columns, "columns", allow_none=True)
    for name, value in (("fill", fill), ("empty", fill if empty is None else empty)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise ArgumentTypeError(f"{name} must be a number, got {value!r}")
    tiles = _tiles(patches, channel)
    n, th, tw = tiles.shape
    if n == 0:
        raise ValueError("patches must hold at least one patch, got none")
    columns = math.ceil(math.sqrt(n)) if columns is None else min(columns, n)
    rows = -(-n // columns)
    image = np.full((rows * (th + gap) - gap, columns * (tw + gap) - gap), fill, tiles.dtype)
    layout = Montage(image, n, columns, (th, tw), gap)
    for i in range(n):
        y, x = layout.origin(i)
        image[y:y + th, x:x + tw] = tiles[i]
    if empty is not None and n % columns:  # the empty cells and the gap before them
        image[(rows - 1) * (th + gap):, (n % columns) * (tw + gap) - gap:] = empty
    return layout
