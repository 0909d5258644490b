"""A picture of a recipe's augmentation: the slice and N samples, masks outlined and,
on request, captioned."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np
from scipy import ndimage as ndi

from .._checks import check_non_negative_int, check_positive_int
from ..errors import ArgumentTypeError
from ._build import preview_sample
from ._model import Recipe

#: Outline colours (RGB) of mask classes 1, 2, 3, ... (cycled).
CLASS_COLOURS = np.array(
    [[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180]],
    np.uint8,
)
#: Caption lettering: cap height as a fraction of the tile's shorter side (about 12
#: screen pixels when napari frames a gallery of 8 beside its data in a 750 px canvas,
#: whatever the tile size), never below ``CAPTION_MIN_PX``.
CAPTION_FRACTION, CAPTION_MIN_PX = 0.06, 8
_FONT = cv2.FONT_HERSHEY_SIMPLEX


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


def _check_captions(captions: object, count: int) -> list[str] | None:
    if captions is None:
        return None
    if isinstance(captions, (str, bytes)) or not isinstance(captions, Sequence) or \
            not all(isinstance(c, str) for c in captions):
        raise ArgumentTypeError(
            f"captions must be a sequence of str (one per tile) or None, got {captions!r}")
    if len(captions) != count:
        raise ValueError(f"captions must hold {count} str (the slice and n samples), got "
                         f"{len(captions)}")
    return list(captions)


def _wrap(text: str, width: int, scale: float, thickness: int) -> list[str]:
    """``text`` in lines at most ``width`` pixels wide, broken between words (a word
    wider than that stays whole, to be clipped)."""
    lines: list[str] = []
    for word in text.split():
        joined = f"{lines[-1]} {word}" if lines else word
        if lines and cv2.getTextSize(joined, _FONT, scale, thickness)[0][0] <= width:
            lines[-1] = joined
        else:
            lines.append(word)
    return lines


def _caption(cell: np.ndarray, text: str) -> None:
    """Letter ``text`` into the top-left corner of ``cell`` (one tile's place in the
    grid, RGB uint8), in place: white anti-aliased text on a darkened box, wrapped to
    the cell's width and clipped to it."""
    height, width = cell.shape[:2]
    cap = max(CAPTION_MIN_PX, round(CAPTION_FRACTION * min(height, width)))
    thickness = max(1, round(cap / 10))
    scale = cv2.getFontScaleFromHeight(_FONT, cap, thickness)
    pad = max(2, round(cap * 0.3))
    lines = _wrap(text, width - 2 * pad, scale, thickness)
    if not lines:
        return
    (_, ascent), descent = cv2.getTextSize("Sample (0)", _FONT, scale, thickness)
    step = ascent + descent + pad // 2
    box_w = 2 * pad + max(cv2.getTextSize(line, _FONT, scale, thickness)[0][0]
                          for line in lines)
    box_h = pad + len(lines) * step + pad // 2
    box = cell[:box_h, :box_w]
    box[:] = (box * 0.35).astype(np.uint8)  # the text reads on any image
    lettering = np.ascontiguousarray(box)  # OpenCV draws into its own buffer
    for k, line in enumerate(lines):
        cv2.putText(lettering, line, (pad, pad + ascent + k * step), _FONT, scale,
                    (255, 255, 255), thickness, cv2.LINE_AA)
    box[:] = lettering


def preview_grid(
    recipe: Recipe,
    image2d: Any,
    mask2d: Any = None,
    n: int = 8,
    columns: int = 3,
    gap: int = 4,
    colours: Mapping[int, Sequence[int]] | None = None,
    captions: Sequence[str] | None = None,
) -> np.ndarray:
    """RGB uint8 grid: the input slice first, then preview samples 0..n-1.

    Each tile is :func:`preview_sample` of the recipe (same seed, same pixels as
    the napari preview), with the mask's class boundaries outlined in
    ``colours`` ``{class: (r, g, b)}`` (0-255; e.g. a napari Labels layer's
    colours), else in a fixed palette.

    ``captions`` (one str per tile: the slice's, then sample 0's, ...) are
    lettered into each tile's top-left corner, white on a darkened box, sized
    from the tile (cap height 6 % of its shorter side, at least 8 px), wrapped
    between words to the tile's width and clipped to the tile. None (the
    default): no lettering; an empty str leaves its tile untouched.
    """
    n = check_positive_int(n, "n")
    columns = check_positive_int(columns, "columns")
    gap = check_non_negative_int(gap, "gap")
    texts = _check_captions(captions, n + 1)
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
        if texts is not None:
            _caption(grid[r * (th + gap) : r * (th + gap) + th,
                          c * (tw + gap) : c * (tw + gap) + tw], texts[i])  # fmt: skip
    return grid


def save_png(rgb: np.ndarray, path: str | os.PathLike) -> None:
    """Write an RGB uint8 array as PNG (OpenCV, which stores BGR)."""
    if not cv2.imwrite(os.fspath(path), np.ascontiguousarray(rgb[..., ::-1])):
        raise OSError(f"could not write PNG to {os.fspath(path)!r}")
