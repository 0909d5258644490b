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

from functools import lru_cache

import numpy as np

from ._bspline import dense_basis

_SNAP_TOLERANCE = 1e-9
# OpenBLAS runs a product single-threaded below m * n * k = 262144 (65536 x 4).
_SINGLE_THREAD_PRODUCT = 200_000


def _snap(matrix: np.ndarray) -> np.ndarray:
    """Round entries within rounding noise of an integer (exact flips and 90 degree turns)."""
    nearest = np.rint(matrix)
    close = np.abs(matrix - nearest) < _SNAP_TOLERANCE
    matrix[close] = nearest[close]
    return matrix


def _homogeneous(linear: np.ndarray, translation: np.ndarray) -> np.ndarray:
    matrix = np.eye(3)
    matrix[:2, :2] = linear
    matrix[:2, 2] = translation
    return _snap(matrix)


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
    angle = np.deg2rad(angle_deg)
    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.array([[cos, sin], [-sin, cos]])  # counter-clockwise with y pointing down
    tan_shear = np.tan(np.deg2rad(shear_deg))
    shear = np.array([[1.0, tan_shear], [0.0, 1.0]])
    zoom_y, zoom_x = zoom_yx
    zoom = np.diag([zoom_x, zoom_y])
    flip = np.diag([-1.0 if flip_hv[0] else 1.0, -1.0 if flip_hv[1] else 1.0])
    centre = np.array([(shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0])
    shift = np.array([shift_yx[1], shift_yx[0]])

    linear = flip @ rotation @ shear @ zoom
    forward = _homogeneous(linear, centre + shift - linear @ centre)
    inv_zoom = np.diag([1.0 / zoom_x, 1.0 / zoom_y])
    inv_shear = np.array([[1.0, -tan_shear], [0.0, 1.0]])
    inv_linear = inv_zoom @ inv_shear @ rotation.T @ flip
    inverse = _homogeneous(inv_linear, centre - inv_linear @ (centre + shift))
    return forward, inverse


def _row_blocked_product(u: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``u @ p`` in row blocks small enough for BLAS to stay single-threaded.

    The product is thin (``k + 2`` inner terms) and memory bound. A multi-threaded
    BLAS call here wakes threads that then compete with OpenCV's remap threads,
    which costs far more than the product itself on a busy machine.
    """
    out = np.empty((u.shape[0], p.shape[1]), dtype=np.result_type(u, p))
    rows = max(1, _SINGLE_THREAD_PRODUCT // max(1, p.shape[0] * p.shape[1]))
    for start in range(0, u.shape[0], rows):
        np.matmul(u[start : start + rows], p, out=out[start : start + rows])
    return out


@lru_cache(maxsize=32)
def _grid_factors(n: int, grid_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``[basis | index | 1]`` for every pixel of an axis of length ``n``, read-only.

    The interior spline basis (none when ``grid_size`` is 0: no warp), the pixel
    index and a column of ones, as float64 and as float32. Sliced to a crop window,
    these are the row factors ``U`` and the column factors ``V`` of the map.
    """
    index = np.arange(n, dtype=np.float64)[:, None]
    basis = dense_basis(n, grid_size) if grid_size else np.empty((n, 0))
    factors = np.hstack([basis, index, np.ones((n, 1))])
    factors32 = factors.astype(np.float32)
    factors.flags.writeable = False
    factors32.flags.writeable = False
    return factors, factors32


def coordinate_map_xy(
    inverse: np.ndarray,
    shape: tuple[int, int],
    corner: tuple[int, int],
    out_shape: tuple[int, int],
    warp_offsets: np.ndarray | None,
) -> np.ndarray:
    """Input ``(x, y)`` sampled by each output pixel, ``(h, w, 2)`` float32, read-only.

    Output pixel ``(i, j)`` is the transformed image's pixel ``corner + (i, j)``
    (the crop window). The affine map and the spline displacement are both low-rank
    in the output grid, so the whole map is one small matrix product ``U @ P``.

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
    """
    height, width = shape
    out_h, out_w = out_shape
    top, left = corner
    g = 0 if warp_offsets is None else warp_offsets.shape[0]
    k = max(g - 2, 0)
    u = _grid_factors(height, g)[1][top : top + out_h]
    v = _grid_factors(width, g)[0][left : left + out_w]
    inner = np.empty((0, 0, 2)) if warp_offsets is None else warp_offsets[1:-1, 1:-1]
    p = np.empty((k + 2, out_w, 2))
    for axis in (0, 1):  # output map component: 0 -> x, 1 -> y
        a_x, a_y, t = inverse[axis]
        g_mat = np.zeros((k + 2, k + 2))
        g_mat[:k, :k] = a_x * inner[..., 1] + a_y * inner[..., 0]
        g_mat[k, k + 1] = a_y
        g_mat[k + 1, k] = a_x
        g_mat[k + 1, k + 1] = t
        p[:, :, axis] = g_mat @ v.T
    map_xy = _row_blocked_product(u, p.reshape(k + 2, 2 * out_w).astype(np.float32))
    map_xy = map_xy.reshape(out_h, out_w, 2)
    map_xy.flags.writeable = False
    return map_xy
