"""Affine part of a transform, as 3 x 3 homogeneous matrices in ``(x, y)`` order.

Coordinates are pixel indices: ``x`` is the column (to the right), ``y`` the row
(downwards, as displayed). Every operation is about the pixel grid centre
``c = ((width - 1) / 2, (height - 1) / 2)``. The forward transform moves content from
input position ``p`` to output position ``L (p - c) + c + shift`` with
``L = Flip @ Rotation @ Shear @ Zoom``, i.e. in the order zoom, shear, rotation, flip,
shift.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ._params import TransformParams

_SNAP_TOLERANCE = 1e-9


def _snap(matrix: np.ndarray) -> np.ndarray:
    """Round entries within rounding noise of an integer (exact flips and 90 degree turns)."""
    nearest = np.rint(matrix)
    close = np.abs(matrix - nearest) < _SNAP_TOLERANCE
    matrix[close] = nearest[close]
    return matrix


def _centre(shape: tuple[int, int]) -> np.ndarray:
    return np.array([(shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0])


def _parts(params: TransformParams) -> tuple[np.ndarray, ...]:
    angle = np.deg2rad(params.angle_deg)
    cos, sin = np.cos(angle), np.sin(angle)
    # Counter-clockwise as displayed (y axis pointing down).
    rotation = np.array([[cos, sin], [-sin, cos]])
    shear = np.array([[1.0, np.tan(np.deg2rad(params.shear_deg))], [0.0, 1.0]])
    zoom = np.diag([params.zoom_x, params.zoom_y])
    flip = np.diag([-1.0 if params.flip_h else 1.0, -1.0 if params.flip_v else 1.0])
    return flip, rotation, shear, zoom


def _homogeneous(linear: np.ndarray, translation: np.ndarray) -> np.ndarray:
    matrix = np.eye(3)
    matrix[:2, :2] = linear
    matrix[:2, 2] = translation
    return _snap(matrix)


def forward_matrix(params: TransformParams) -> np.ndarray:
    """Matrix taking input ``(x, y, 1)`` to output ``(x, y, 1)`` (before the spline warp)."""
    flip, rotation, shear, zoom = _parts(params)
    linear = flip @ rotation @ shear @ zoom
    centre = _centre(params.shape)
    shift = np.array([params.shift_x, params.shift_y])
    return _homogeneous(linear, centre + shift - linear @ centre)


def inverse_matrix(params: TransformParams) -> np.ndarray:
    """Matrix taking output ``(x, y, 1)`` to the input position it samples from."""
    flip, rotation, shear, zoom = _parts(params)
    inv_zoom = np.diag([1.0 / params.zoom_x, 1.0 / params.zoom_y])
    inv_shear = np.array([[1.0, -shear[0, 1]], [0.0, 1.0]])
    linear = inv_zoom @ inv_shear @ rotation.T @ flip
    centre = _centre(params.shape)
    shift = np.array([params.shift_x, params.shift_y])
    return _homogeneous(linear, centre - linear @ (centre + shift))
