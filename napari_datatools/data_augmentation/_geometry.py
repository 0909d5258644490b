"""The geometry of a transform: its affine matrices and the coordinate map it defines.

Coordinates are pixel indices: ``x`` is the column (to the right), ``y`` the row
(downwards, as displayed). Matrices are 3 x 3 homogeneous, in ``(x, y)`` order.
Every operation is about the pixel grid centre
``c = ((width - 1) / 2, (height - 1) / 2)``. The forward transform moves content from
input position ``p`` to output position ``L (p - c) + c + shift`` with
``L = Flip @ Rotation @ Shear @ Zoom``, i.e. in the order zoom, shear, rotation, flip,
shift; the spline warp then displaces where each output pixel samples.

These functions take plain values; :class:`TransformParams` calls them with its
fields.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numba
import numpy as np

from ._bspline import dense_basis

_SNAP_TOLERANCE = 1e-9


Matrix2 = tuple[tuple[float, float], tuple[float, float]]


def _snap(value: float) -> float:
    """``value`` rounded if within rounding noise of an integer (exact flips, quarter turns)."""
    nearest = float(round(value))
    return nearest if abs(value - nearest) < _SNAP_TOLERANCE else value


def _homogeneous(linear: Matrix2, translation: tuple[float, float]) -> np.ndarray:
    (a, b), (c, d) = linear
    tx, ty = translation
    return np.array([
        [_snap(a), _snap(b), _snap(tx)], [_snap(c), _snap(d), _snap(ty)], [0.0, 0.0, 1.0]
    ])


def _product(a: Matrix2, b: Matrix2) -> Matrix2:
    return (
        (a[0][0] * b[0][0] + a[0][1] * b[1][0], a[0][0] * b[0][1] + a[0][1] * b[1][1]),
        (a[1][0] * b[0][0] + a[1][1] * b[1][0], a[1][0] * b[0][1] + a[1][1] * b[1][1]),
    )


def _apply(a: Matrix2, v: tuple[float, float]) -> tuple[float, float]:
    return a[0][0] * v[0] + a[0][1] * v[1], a[1][0] * v[0] + a[1][1] * v[1]


def _minus(u: tuple[float, float], v: tuple[float, float]) -> tuple[float, float]:
    return u[0] - v[0], u[1] - v[1]


def affine_matrices(
    shape: tuple[int, int],
    angle_deg: float,
    shear_deg: float,
    zoom_yx: tuple[float, float],
    flip_hv: tuple[bool, bool],
    shift_yx: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """The forward and inverse affine matrices of a transform of images of ``shape``.

    Parameters
    ----------
    shape : (int, int)
        Spatial shape ``(height, width)``; the operations are about its centre.
    angle_deg : float
        Rotation, counter-clockwise as displayed (rows pointing down).
    shear_deg : float
        Horizontal shear angle: ``x' = x + tan(shear) * y`` about the centre.
    zoom_yx : (float, float)
        Magnification along rows and columns (> 0).
    flip_hv : (bool, bool)
        Mirror left-right, top-bottom.
    shift_yx : (float, float)
        Translation of the content in pixels.

    Returns
    -------
    forward, inverse : numpy.ndarray, shape (3, 3)
        ``forward`` takes input ``(x, y, 1)`` to output ``(x, y, 1)`` (before the
        spline warp); ``inverse`` takes an output position to the input position it
        samples from.
    """
    # 2 x 2 products on Python floats: numpy's per-call overhead dominates at this size
    angle = math.radians(angle_deg)
    cos, sin = math.cos(angle), math.sin(angle)
    rotation = ((cos, sin), (-sin, cos))  # counter-clockwise with y pointing down
    tan_shear = math.tan(math.radians(shear_deg))
    zoom_y, zoom_x = zoom_yx
    flip = (-1.0 if flip_hv[0] else 1.0, -1.0 if flip_hv[1] else 1.0)
    centre = ((shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0)
    moved = (centre[0] + shift_yx[1], centre[1] + shift_yx[0])

    # linear = Flip @ Rotation @ Shear @ Zoom
    linear = _product(
        _product(((flip[0], 0.0), (0.0, flip[1])), rotation),
        ((zoom_x, tan_shear * zoom_y), (0.0, zoom_y)),
    )
    forward = _homogeneous(linear, _minus(moved, _apply(linear, centre)))
    # inverse = Zoom^-1 @ Shear^-1 @ Rotation^T @ Flip
    inv_linear = _product(
        ((1.0 / zoom_x, -tan_shear / zoom_x), (0.0, 1.0 / zoom_y)),
        _product(((cos, -sin), (sin, cos)), ((flip[0], 0.0), (0.0, flip[1]))),
    )
    inverse = _homogeneous(inv_linear, _minus(centre, _apply(inv_linear, moved)))
    return forward, inverse


_SUPPORT = 4  # a cubic B-spline row has at most 4 non-zero control point weights


@lru_cache(maxsize=32)
def _axis_factors(n: int, grid_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spline basis, pixel index and ones along an axis of length ``n`` (read-only).

    Returns ``factors`` ``[basis | index | 1]`` (``(n, k + 2)`` float64, ``k =
    grid_size - 2`` basis columns, none when ``grid_size`` is 0: no warp), and the
    same rows in the kernel's fixed-width form: ``window`` (``(n, 6)`` float32, the
    4 basis columns from ``start`` on, then index and 1) and ``start`` (int64), the
    first column of each row's window (every non-zero weight lies inside it).
    """
    k = max(grid_size - 2, 0)
    basis = dense_basis(n, grid_size) if k else np.zeros((n, 0))
    index = np.arange(n, dtype=np.float64)[:, None]
    factors = np.hstack([basis, index, np.ones((n, 1))])
    padded = np.zeros((n, max(k, _SUPPORT)))
    padded[:, :k] = basis
    nonzero = padded != 0
    first = np.where(nonzero.any(axis=1), nonzero.argmax(axis=1), 0)
    start = np.minimum(first, padded.shape[1] - _SUPPORT)
    window = padded[np.arange(n)[:, None], start[:, None] + np.arange(_SUPPORT)]
    if np.count_nonzero(window, axis=1).tolist() != np.count_nonzero(padded, axis=1).tolist():
        raise AssertionError("a spline basis row has more than 4 non-zero weights")
    window = np.hstack([window, index, np.ones((n, 1))]).astype(np.float32)
    for array in (factors, window, start):
        array.flags.writeable = False
    return factors, window, start


@numba.njit(cache=True, nogil=True, fastmath={"contract"})
def _fill_maps(inverse, inner, row_window, row_start, columns, out):  # pragma: no cover
    """Fill ``out`` (``(2, h, w)`` float32: the x map, then the y map) with ``U @ P``.

    ``P``'s rows (per map component ``x = 0``, ``y = 1``, from the inverse matrix
    ``a_x, a_y, t``): the ``k`` warp terms ``sum_c (a_x dx[r, c] + a_y dy[r, c])
    Bx[j, c]`` (zero rows up to 4), then ``a_y`` (times the row index) and
    ``a_x x_j + t``, computed in float64 and stored as float32. Each output row sums
    its 4-weight spline window and its index and 1 terms in order (the zero weights
    of ``U`` skipped), fused multiply-adds allowed.
    """
    k = inner.shape[0]
    width = columns.shape[0]
    n_warp = max(k, 4)
    p = np.zeros((2, n_warp + 2, width), dtype=np.float32)
    for axis in range(2):
        a_x, a_y, t = inverse[axis, 0], inverse[axis, 1], inverse[axis, 2]
        for j in range(width):
            for r in range(k):
                total = 0.0
                for c in range(k):
                    total += (a_x * inner[r, c, 1] + a_y * inner[r, c, 0]) * columns[j, c]
                p[axis, r, j] = total
            p[axis, n_warp, j] = a_y
            p[axis, n_warp + 1, j] = a_x * columns[j, k] + t
    for axis in range(2):
        pa = p[axis]
        py, p1 = pa[n_warp], pa[n_warp + 1]
        for i in range(out.shape[1]):
            row = out[axis, i]
            s = row_start[i]
            w0, w1, w2, w3 = pa[s], pa[s + 1], pa[s + 2], pa[s + 3]
            c0, c1, c2, c3 = row_window[i, 0], row_window[i, 1], row_window[i, 2], row_window[i, 3]
            cy, c1_ = row_window[i, 4], row_window[i, 5]
            for j in range(width):
                row[j] = (
                    c0 * w0[j] + c1 * w1[j] + c2 * w2[j] + c3 * w3[j] + cy * py[j] + c1_ * p1[j]
                )


_NO_OFFSETS = np.zeros((0, 0, 2))


def coordinate_maps(
    inverse: np.ndarray,
    shape: tuple[int, int],
    corner: tuple[int, int],
    out_shape: tuple[int, int],
    warp_offsets: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Input ``x`` and ``y`` sampled by each output pixel: two ``out_shape`` float32 maps.

    Output pixel ``(i, j)`` is the transformed image's pixel ``corner + (i, j)``
    (the crop window). The affine map and the spline displacement are both low-rank
    in the output grid, so each map is one small matrix product ``U @ P``
    (``U``: each row's spline weights, index and 1; ``P``: the inverse matrix and
    the control offsets applied to each column's weights, index and 1), computed in
    one compiled pass. The two maps are separate C-contiguous planes (OpenCV's
    ``remap`` reads them faster than one interleaved ``(h, w, 2)`` map), read-only.

    Parameters
    ----------
    inverse : numpy.ndarray, shape (3, 3)
        Inverse affine matrix (see :func:`affine_matrices`).
    shape : (int, int)
        Spatial shape of the input (the grid the warp's control points span).
    corner, out_shape : (int, int)
        Top-left corner and shape of the output window.
    warp_offsets : numpy.ndarray or None
        Control point offsets ``(g, g, 2)`` as ``(dy, dx)``, or None for no warp.

    Returns
    -------
    map_x, map_y : numpy.ndarray, shape ``out_shape``, float32
    """
    (top, left), (out_h, out_w) = corner, out_shape
    g, inner = 0, _NO_OFFSETS
    if warp_offsets is not None:
        g = warp_offsets.shape[0]
        inner = np.ascontiguousarray(warp_offsets[1:-1, 1:-1], dtype=np.float64)
    _, row_window, row_start = _axis_factors(shape[0], g)
    columns = _axis_factors(shape[1], g)[0]
    maps = np.empty((2, out_h, out_w), dtype=np.float32)
    _fill_maps(
        np.ascontiguousarray(inverse, dtype=np.float64), inner,
        row_window[top : top + out_h], row_start[top : top + out_h],
        columns[left : left + out_w], maps,
    )
    maps.flags.writeable = False
    return maps[0], maps[1]
