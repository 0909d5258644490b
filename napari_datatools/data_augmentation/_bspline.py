"""Cubic B-spline displacement fields with the border held still.

A field along one axis of length ``n`` is controlled by ``g`` control points placed
uniformly from pixel 0 to pixel ``n - 1``. The two border control points are zero and
the spline is continued past the border by odd reflection (phantom points ``-c[1]``
and ``-c[g - 2]``), which makes the field exactly zero on the border. Only the
``g - 2`` interior control points are free, so the basis matrices returned here have
``g - 2`` columns, and a 2D field is ``By @ C @ Bx.T``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def cubic_bspline(t: np.ndarray) -> np.ndarray:
    """Uniform cubic B-spline kernel, centred on 0 with support (-2, 2)."""
    a = np.abs(t)
    inner = (4.0 - 6.0 * a**2 + 3.0 * a**3) / 6.0
    outer = (2.0 - a) ** 3 / 6.0
    return np.where(a < 1.0, inner, np.where(a < 2.0, outer, 0.0))


def interior_basis(coords: np.ndarray, n: int, grid_size: int) -> np.ndarray:
    """Basis values of the interior control points at pixel coordinates ``coords``.

    Parameters
    ----------
    coords : array of float, shape (m,)
        Pixel coordinates along an axis of length ``n``; clamped to ``[0, n - 1]``
        (the field is zero on and beyond the border).
    n : int
        Axis length in pixels.
    grid_size : int
        Number of control points along the axis (>= 3).

    Returns
    -------
    numpy.ndarray, shape (m, grid_size - 2), float64
    """
    coords = np.asarray(coords, dtype=np.float64)
    if n < 2:
        return np.zeros((coords.size, grid_size - 2))
    spacing = (n - 1) / (grid_size - 1)
    u = np.clip(coords, 0.0, n - 1) / spacing
    knots = np.arange(-1, grid_size + 1)  # control indices -1 .. grid_size
    full = cubic_bspline(u[:, None] - knots[None, :])
    basis = full[:, 2:grid_size].copy()  # control indices 1 .. grid_size - 2
    basis[:, 0] -= full[:, 0]  # phantom point -1 carries -c[1]
    basis[:, -1] -= full[:, grid_size + 1]  # phantom point g carries -c[g - 2]
    return basis


@lru_cache(maxsize=32)
def dense_basis(n: int, grid_size: int) -> np.ndarray:
    """Read-only :func:`interior_basis` at every pixel ``0 .. n - 1`` (cached)."""
    basis = interior_basis(np.arange(n, dtype=np.float64), n, grid_size)
    basis.flags.writeable = False
    return basis


def displacement_at(
    offsets: np.ndarray, shape: tuple[int, int], points_yx: np.ndarray
) -> np.ndarray:
    """Evaluate the displacement field at arbitrary points.

    Parameters
    ----------
    offsets : array, shape (g, g, 2)
        Control point offsets ``(dy, dx)`` in pixels, border rows/columns zero.
    shape : (int, int)
        Spatial shape ``(height, width)`` the control grid spans.
    points_yx : array, shape (m, 2)
        Points as ``(y, x)`` pixel coordinates.

    Returns
    -------
    numpy.ndarray, shape (m, 2)
        Displacement ``(dy, dx)`` at each point.
    """
    g = offsets.shape[0]
    by = interior_basis(points_yx[:, 0], shape[0], g)
    bx = interior_basis(points_yx[:, 1], shape[1], g)
    inner = offsets[1:-1, 1:-1]
    dy = np.einsum("mi,ij,mj->m", by, inner[..., 0], bx)
    dx = np.einsum("mi,ij,mj->m", by, inner[..., 1], bx)
    return np.stack([dy, dx], axis=1)

