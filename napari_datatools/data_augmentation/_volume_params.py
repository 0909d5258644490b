"""One sampled 3D transform: what was drawn, its affine matrices and its coordinate map.

Coordinates are voxel indices in ``(z, y, x)`` order. Every operation is about the
voxel grid centre ``c = (shape - 1) / 2``. The forward transform moves content from
input position ``p`` to output position ``L (p - c) + c + shift`` with
``L = Flip @ Rotation @ Shear @ Zoom`` (zoom first, flip last). Rotation and shear
act in physical space: with ``spacing = s`` they are ``S^-1 R S`` in voxels, where
``S = diag(s / min(s))``. The cubic B-spline warp is an output-to-input
displacement added before the inverse affine map: output voxel ``o`` samples the
input at ``L^-1 (o + d(o) - c - shift) + c``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from ..errors import ArgumentTypeError
from ._bspline import dense_basis
from ._params import ReplayableParams

_SNAP_TOLERANCE = 1e-9


def _triple(value: Any, name: str, kind: type, minimum: float | None = None) -> tuple:
    """``value`` as a tuple of three ``kind`` values (each ``>= minimum``)."""
    try:
        items = tuple(value)
    except TypeError:
        raise ArgumentTypeError(f"{name} must be three values (z, y, x), got {value!r}") from None
    if len(items) != 3:
        raise ValueError(f"{name} must be three values (z, y, x), got {value!r}")
    out = []
    for item in items:
        if kind is bool:
            if not isinstance(item, (bool, np.bool_)):
                raise ArgumentTypeError(f"{name} must be three booleans, got {value!r}")
            out.append(bool(item))
            continue
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, numbers.Real):
            raise ArgumentTypeError(f"{name} must be three numbers, got {value!r}")
        if kind is int and not float(item).is_integer():
            raise ValueError(f"{name} must be three integers, got {value!r}")
        number = kind(item)
        if not math.isfinite(number) or (minimum is not None and number < minimum):
            bound = "" if minimum is None else f" >= {minimum}"
            raise ValueError(f"{name} must be three finite numbers{bound}, got {value!r}")
        out.append(number)
    return tuple(out)


def _snap(matrix: np.ndarray) -> np.ndarray:
    """Round entries within rounding noise of an integer (exact flips and quarter turns)."""
    nearest = np.rint(matrix)
    close = np.abs(matrix - nearest) < _SNAP_TOLERANCE
    matrix[close] = nearest[close]
    return matrix + 0.0  # no -0.0


def _plane_rotation(angle_deg: float, axes: tuple[int, int]) -> np.ndarray:
    """Rotation by ``angle_deg`` in the plane of ``axes``: ``[[cos, -sin], [sin, cos]]``."""
    angle = math.radians(angle_deg)
    rotation = np.eye(3)
    p, q = axes
    rotation[p, p] = rotation[q, q] = math.cos(angle)
    rotation[p, q] = -math.sin(angle)
    rotation[q, p] = math.sin(angle)
    return rotation


@dataclass(frozen=True, eq=False)
class VolumeTransformParams(ReplayableParams):
    """The random parameters of one 3D augmentation, for arrays of spatial ``shape``.

    The default values are the identity. See the module conventions: voxel
    ``(z, y, x)`` coordinates about the grid centre; forward order zoom, shear,
    rotation, flip, shift, then the spline warp (an output-to-input displacement).

    Attributes
    ----------
    shape : (int, int, int)
        Spatial shape ``(z, y, x)`` of the arrays the transform applies to.
    angles_deg : (float, float, float)
        Rotations about the z, y and x axes in degrees, applied x first, then y,
        then z. The rotation about z turns the (y, x) plane as the 2D
        ``angle_deg`` does (positive: counter-clockwise as displayed); about y it
        turns (z, x), about x it turns (z, y), each as ``[[cos, -sin], [sin, cos]]``.
    shift : (float, float, float)
        Translation of the content in voxels.
    shear_deg : (float, float, float)
        Angles ``(zy, zx, yx)`` of the shears ``y += tan(zy) z``, ``x += tan(zx) z``
        and ``x += tan(yx) y`` (about the centre, each in (-90, 90)).
    zoom : (float, float, float)
        Magnification along z, y, x (> 1 enlarges).
    flip : (bool, bool, bool)
        Mirror along z, y, x.
    intensity_shift : tuple of float
        Value added to each channel of an image (one value broadcasts to all).
    warp_offsets : numpy.ndarray or None
        Control point offsets ``(g, g, g, 3)`` as ``(dz, dy, dx)`` voxels on the
        output grid, zero on the border faces. Control point ``(i, j, k)`` sits at
        output voxel ``(i, j, k) * (shape - 1) / (g - 1)``.
    crop_corner, crop_size : (int, int, int) or None
        First voxel and size of the crop taken from the transformed volume.
    spacing : (float, float, float)
        Physical size of a voxel along z, y, x (any unit); rotation and shear act
        on physical positions.
    """

    shape: tuple[int, int, int]
    angles_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    shift: tuple[float, float, float] = (0.0, 0.0, 0.0)
    shear_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    zoom: tuple[float, float, float] = (1.0, 1.0, 1.0)
    flip: tuple[bool, bool, bool] = (False, False, False)
    intensity_shift: tuple[float, ...] = (0.0,)
    warp_offsets: np.ndarray | None = None
    crop_corner: tuple[int, int, int] | None = None
    crop_size: tuple[int, int, int] | None = None
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "shape", _triple(self.shape, "shape", int, 1))
        for name in ("angles_deg", "shift", "shear_deg"):
            set_(self, name, _triple(getattr(self, name), name, float))
        if not all(-90.0 < s < 90.0 for s in self.shear_deg):
            raise ValueError(f"shear_deg must be in (-90, 90), got {self.shear_deg}")
        for name in ("zoom", "spacing"):
            value = _triple(getattr(self, name), name, float)
            if min(value) <= 0:
                raise ValueError(f"{name} must be three numbers > 0, got {value}")
            set_(self, name, value)
        set_(self, "flip", _triple(self.flip, "flip", bool))
        shifts = np.atleast_1d(np.asarray(self.intensity_shift, dtype=np.float64))
        if shifts.ndim != 1 or shifts.size == 0 or not np.all(np.isfinite(shifts)):
            raise ValueError(
                "intensity_shift must be a finite number or a non-empty sequence of "
                f"them, got {self.intensity_shift!r}"
            )
        set_(self, "intensity_shift", tuple(float(s) for s in shifts))
        set_(self, "warp_offsets", self._checked_offsets(self.warp_offsets))
        if (self.crop_corner is None) != (self.crop_size is None):
            raise ValueError("crop_corner and crop_size must be given together")
        if self.crop_size is not None:
            size = _triple(self.crop_size, "crop_size", int, 1)
            corner = _triple(self.crop_corner, "crop_corner", int, 0)
            if any(c + s > n for c, s, n in zip(corner, size, self.shape, strict=True)):
                raise ValueError(
                    f"crop_corner {corner} with crop_size {size} does not fit in shape "
                    f"{self.shape}"
                )
            set_(self, "crop_size", size)
            set_(self, "crop_corner", corner)

    @staticmethod
    def _checked_offsets(offsets: Any) -> np.ndarray | None:
        if offsets is None:
            return None
        offsets = np.array(offsets, dtype=np.float64)
        g = offsets.shape[0] if offsets.ndim == 4 else 0
        if offsets.shape != (g, g, g, 3) or g < 2 or not np.all(np.isfinite(offsets)):
            raise ValueError(
                "warp_offsets must be a finite (g, g, g, 3) array with g >= 2, got shape "
                f"{offsets.shape}"
            )
        faces = (offsets[[0, -1]], offsets[:, [0, -1]], offsets[:, :, [0, -1]])
        if any(np.any(face) for face in faces):
            raise ValueError("warp_offsets must be zero on the border control points")
        offsets.flags.writeable = False
        return offsets

    @property
    def output_shape(self) -> tuple[int, int, int]:
        """Spatial shape of the transformed arrays (the crop size, if cropping)."""
        return self.crop_size if self.crop_size is not None else self.shape

    def describe(self) -> str:
        """The parameters in one readable line.

        Examples
        --------
        >>> VolumeTransformParams((8, 8, 8), flip=(True, False, False)).describe()[-40:]
        'deg; zoom (1.00, 1.00, 1.00); flipped z'
        """
        parts = [
            "angles ({:.1f}, {:.1f}, {:.1f}) deg".format(*self.angles_deg),
            "shift ({:.1f}, {:.1f}, {:.1f}) px".format(*self.shift),
            "shear ({:.1f}, {:.1f}, {:.1f}) deg".format(*self.shear_deg),
            "zoom ({:.2f}, {:.2f}, {:.2f})".format(*self.zoom),
        ]
        flipped = [axis for axis, on in zip("zyx", self.flip, strict=True) if on]
        parts.append("flipped " + " and ".join(flipped) if flipped else "not flipped")
        if any(self.intensity_shift):
            parts.append("intensity " + ", ".join(f"{s:+.3f}" for s in self.intensity_shift))
        if self.warp_offsets is not None and self._has_warp:
            parts.append(f"warped (largest offset {np.abs(self.warp_offsets).max():.1f} px)")
        if self.crop_corner is not None:
            parts.append(f"crop at {self.crop_corner}")
        if len(set(self.spacing)) > 1:
            parts.append("spacing ({:g}, {:g}, {:g})".format(*self.spacing))
        return "; ".join(parts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VolumeTransformParams):
            return NotImplemented
        return self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]

    # -- geometry -----------------------------------------------------------------

    def _linear(self) -> np.ndarray:
        """Forward linear part ``L`` in voxel units (3 x 3, ``(z, y, x)`` order)."""
        scale = np.asarray(self.spacing) / min(self.spacing)
        to_physical, to_voxels = np.diag(scale), np.diag(1.0 / scale)
        az, ay, ax = self.angles_deg
        rotation = (
            _plane_rotation(az, (1, 2)) @ _plane_rotation(ay, (0, 2)) @ _plane_rotation(ax, (0, 1))
        )
        shear = np.eye(3)
        shear[1, 0], shear[2, 0], shear[2, 1] = (math.tan(math.radians(s)) for s in self.shear_deg)
        physical = rotation @ shear
        flip = np.diag([-1.0 if f else 1.0 for f in self.flip])
        return _snap(flip @ to_voxels @ physical @ to_physical @ np.diag(self.zoom))

    def forward_matrix(self) -> np.ndarray:
        """4 x 4 matrix taking input ``(z, y, x, 1)`` to output (before the warp)."""
        linear = self._linear()
        centre = (np.asarray(self.shape, dtype=np.float64) - 1.0) / 2.0
        matrix = np.eye(4)
        matrix[:3, :3] = linear
        matrix[:3, 3] = centre + np.asarray(self.shift) - linear @ centre
        return _snap(matrix)

    @cached_property
    def _inverse(self) -> np.ndarray:
        """3 x 4 matrix taking output ``(z, y, x, 1)`` (full grid) to the input position."""
        inverse = _snap(np.linalg.inv(self._linear()))
        centre = (np.asarray(self.shape, dtype=np.float64) - 1.0) / 2.0
        matrix = np.empty((3, 4))
        matrix[:, :3] = inverse
        matrix[:, 3] = centre - inverse @ (centre + np.asarray(self.shift))
        matrix = _snap(matrix)
        matrix.flags.writeable = False
        return matrix

    @property
    def _has_warp(self) -> bool:
        return self.warp_offsets is not None and bool(np.any(self.warp_offsets))

    @cached_property
    def _on_voxel_grid(self) -> bool:
        """Whether every output voxel samples an input voxel centre exactly.

        True for the identity, flips, quarter turns (equal spacing of the turned
        axes), integer shifts and crops: interpolation then copies voxels exactly.
        """
        return not self._has_warp and bool(np.all(self._inverse == np.rint(self._inverse)))

    def _warp_parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Interior coefficients ``(k, k, k, 3)`` and the basis of each output axis.

        The displacement at output voxel ``(z, y, x)`` (crop offset included) is
        ``sum_ijl bz[z, i] by[y, j] bx[x, l] coefficients[i, j, l]``; ``k = 0`` (empty
        arrays) without a warp.
        """
        corner = self.crop_corner or (0, 0, 0)
        offsets = self.warp_offsets
        if offsets is None or not self._has_warp:
            bz, by, bx = (np.zeros((n, 0)) for n in self.output_shape)
            return np.zeros((0, 0, 0, 3)), bz, by, bx
        g = offsets.shape[0]
        bz, by, bx = (
            np.ascontiguousarray(dense_basis(n, g)[c : c + m])
            for n, c, m in zip(self.shape, corner, self.output_shape, strict=True)
        )
        return np.ascontiguousarray(offsets[1:-1, 1:-1, 1:-1]), bz, by, bx

    def coordinate_map(self) -> np.ndarray:
        """Input coordinates sampled by every output voxel (affine, warp and crop).

        Computed with numpy in float64 (the resampling kernel computes the same map
        on the fly without storing it); usable with
        ``scipy.ndimage.map_coordinates(volume, params.coordinate_map())``.

        Returns
        -------
        numpy.ndarray, shape ``(3,) + output_shape``, float64
            The ``(z, y, x)`` input position of each output voxel.
        """
        corner = self.crop_corner or (0, 0, 0)
        axes = [
            np.arange(c, c + m, dtype=np.float64)
            for c, m in zip(corner, self.output_shape, strict=True)
        ]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"))
        coefficients, bz, by, bx = self._warp_parts()
        if coefficients.size:
            grid += np.einsum("zi,yj,xl,ijlc->czyx", bz, by, bx, coefficients, optimize=True)
        inverse = self._inverse
        out = np.einsum("ab,bzyx->azyx", inverse[:, :3], grid, optimize=True)
        out += inverse[:, 3, None, None, None]
        return out
