"""A picture of a recipe's augmentation: the slice and N samples, masks outlined."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from .._checks import check_non_negative_int, check_positive_int
from ._build import preview_sample
from ._model import Recipe

#: Outline colours (RGB) of mask classes 1, 2, 3, ... (cycled).
CLASS_COLOURS = np.array(
    [[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180]],
    np.uint8,
)


def _to_rgb(image: np.ndarray, lo: float, hi: float) -> np.ndarray:
    scaled = np.clip((image.astype(np.float32) - lo) / max(hi - lo, 1e-12), 0, 1)
    grey = (scaled * 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def _outline(rgb: np.ndarray, mask: np.ndarray,
             colours: Mapping[int, Sequence[int]] | None = None) -> None:
    """Draw the boundary of every non-zero label of ``mask`` onto ``rgb`` in place."""
    edges = mask != ndi.grey_erosion(mask, size=3)
    edges &= mask != 0
    values = mask[edges].astype(np.int64)
    drawn = CLASS_COLOURS[(values - 1) % len(CLASS_COLOURS)]
    for value, colour in (colours or {}).items():
        drawn[values == value] = np.asarray(colour, np.uint8)[:3]
    rgb[edges] = drawn


def preview_grid(
    recipe: Recipe,
    image2d: Any,
    mask2d: Any = None,
    n: int = 8,
    columns: int = 3,
    gap: int = 4,
    colours: Mapping[int, Sequence[int]] | None = None,
) -> np.ndarray:
    """RGB uint8 grid: the input slice first, then preview samples 0..n-1.

    Each tile is :func:`preview_sample` of the recipe (same seed, same pixels as
    the napari preview), with the mask's class boundaries outlined in
    ``colours`` ``{class: (r, g, b)}`` (0-255; e.g. a napari Labels layer's
    colours), else in a fixed palette.
    """
    n = check_positive_int(n, "n")
    columns = check_positive_int(columns, "columns")
    gap = check_non_negative_int(gap, "gap")
    image = np.asarray(image2d)
    lo, hi = float(np.min(image)), float(np.max(image))
    tiles = []
    original = _to_rgb(image, lo, hi)
    if mask2d is not None:
        _outline(original, np.asarray(mask2d), colours)
    tiles.append(original)
    for k in range(n):
        x, y, _ = preview_sample(recipe, image, mask2d, index=k)
        tile = _to_rgb(x, lo, hi)
        if y is not None:
            _outline(tile, y, colours)
        tiles.append(tile)
    th = max(t.shape[0] for t in tiles)
    tw = max(t.shape[1] for t in tiles)
    rows = -(-len(tiles) // columns)
    grid = np.full((rows * (th + gap) - gap, columns * (tw + gap) - gap, 3), 40, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        grid[r * (th + gap) : r * (th + gap) + tile.shape[0],
             c * (tw + gap) : c * (tw + gap) + tile.shape[1]] = tile  # fmt: skip
    return grid


def save_png(rgb: np.ndarray, path: str | os.PathLike) -> None:
    """Write an RGB uint8 array as PNG (OpenCV, which stores BGR)."""
    import cv2

    if not cv2.imwrite(os.fspath(path), np.ascontiguousarray(rgb[..., ::-1])):
        raise OSError(f"could not write PNG to {os.fspath(path)!r}")
