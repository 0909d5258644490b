"""One sampled random transform: what was drawn, and the coordinate map it defines."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any

import numpy as np

from ._bspline import dense_basis
from ._geometry import inverse_matrix


def _pair_of_ints(value: Any, name: str, minimum: int) -> tuple[int, int]:
    try:
        pair = tuple(int(v) for v in value)
        ok = len(pair) == 2 and all(p == v for p, v in zip(pair, value))
    except (TypeError, ValueError):
        ok = False
    if not ok or min(pair) < minimum:
        raise ValueError(f"{name} must be a pair of integers >= {minimum}, got {value!r}")
    return pair


def _finite(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return number


# OpenBLAS runs a product single-threaded below m * n * k = 262144 (65536 x 4).
_SINGLE_THREAD_PRODUCT = 200_000


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


@dataclass(frozen=True, eq=False)
class TransformParams:
    """The random parameters of one augmentation, applicable to any array of ``shape``.

    The default values are the identity. Conventions (all about the pixel grid centre
    ``((height - 1) / 2, (width - 1) / 2)``; forward order zoom, shear, rotation, flip,
    shift, then spline warp):

    Attributes
    ----------
    shape : (int, int)
        Spatial shape ``(height, width)`` of the arrays the transform applies to.
    angle_deg : float
        Rotation in degrees; positive turns the content counter-clockwise as
        displayed (rows pointing down).
    shift_y, shift_x : float
        Translation of the content in pixels (positive: down / right).
    shear_deg : float
        Horizontal shear angle in degrees: ``x' = x + tan(shear) * y`` about the
        centre (positive moves the lower half to the right).
    zoom_y, zoom_x : float
        Magnification of the content (> 1 enlarges).
    flip_h, flip_v : bool
        Mirror left-right / top-bottom.
    intensity_shift : tuple of float
        Value added to each channel of an image (one value broadcasts to all).
    warp_offsets : numpy.ndarray or None
        Control point offsets ``(g, g, 2)`` as ``(dy, dx)`` pixels on the output grid,
        border rows and columns zero. Control point ``(i, j)`` sits at output pixel
        ``(i * (height - 1) / (g - 1), j * (width - 1) / (g - 1))``; the output pixel
        there samples the affinely transformed image at itself plus the offset.
    crop_corner, crop_size : (int, int) or None
        Top-left corner and size of the crop taken from the transformed image.
    """

    shape: tuple[int, int]
    angle_deg: float = 0.0
    shift_y: float = 0.0
    shift_x: float = 0.0
    shear_deg: float = 0.0
    zoom_y: float = 1.0
    zoom_x: float = 1.0
    flip_h: bool = False
    flip_v: bool = False
    intensity_shift: tuple[float, ...] = (0.0,)
    warp_offsets: np.ndarray | None = None
    crop_corner: tuple[int, int] | None = None
    crop_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "shape", _pair_of_ints(self.shape, "shape", 1))
        for name in ("angle_deg", "shift_y", "shift_x", "shear_deg", "zoom_y", "zoom_x"):
            set_(self, name, _finite(getattr(self, name), name))
        for name in ("zoom_y", "zoom_x"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not -90.0 < self.shear_deg < 90.0:
            raise ValueError(f"shear_deg must be in (-90, 90), got {self.shear_deg}")
        set_(self, "flip_h", bool(self.flip_h))
        set_(self, "flip_v", bool(self.flip_v))
        shifts = np.atleast_1d(np.asarray(self.intensity_shift, dtype=np.float64))
        if shifts.ndim != 1 or shifts.size == 0 or not np.all(np.isfinite(shifts)):
            raise ValueError(
                "intensity_shift must be a finite number or a non-empty sequence of "
                f"them, got {self.intensity_shift!r}"
            )
        set_(self, "intensity_shift", tuple(float(s) for s in shifts))
        set_(self, "warp_offsets", self._checked_offsets(self.warp_offsets))
        self._check_crop()

    @staticmethod
    def _checked_offsets(offsets: Any) -> np.ndarray | None:
        if offsets is None:
            return None
        offsets = np.array(offsets, dtype=np.float64)
        g = offsets.shape[0] if offsets.ndim == 3 else 0
        if offsets.shape != (g, g, 2) or g < 2 or not np.all(np.isfinite(offsets)):
            raise ValueError(
                "warp_offsets must be a finite (g, g, 2) array with g >= 2, got shape "
                f"{offsets.shape}"
            )
        border = np.ones((g, g), dtype=bool)
        border[1:-1, 1:-1] = False
        if np.any(offsets[border] != 0):
            raise ValueError("warp_offsets must be zero on the border control points")
        offsets.flags.writeable = False
        return offsets

    def _check_crop(self) -> None:
        if (self.crop_corner is None) != (self.crop_size is None):
            raise ValueError("crop_corner and crop_size must be given together")
        if self.crop_size is None:
            return
        size = _pair_of_ints(self.crop_size, "crop_size", 1)
        corner = _pair_of_ints(self.crop_corner, "crop_corner", 0)
        if any(c + s > n for c, s, n in zip(corner, size, self.shape)):
            raise ValueError(
                f"crop_corner {corner} with crop_size {size} does not fit in shape "
                f"{self.shape}"
            )
        object.__setattr__(self, "crop_size", size)
        object.__setattr__(self, "crop_corner", corner)

    @property
    def output_shape(self) -> tuple[int, int]:
        """Spatial shape of the transformed arrays (the crop size, if cropping)."""
        return self.crop_size if self.crop_size is not None else self.shape

    def as_dict(self) -> dict[str, Any]:
        """Plain-Python values (JSON serialisable), e.g. for display or replay."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                value = value.tolist()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TransformParams:
        """Rebuild parameters from :meth:`as_dict` output."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"values has unknown keys {sorted(unknown)}")
        return cls(**values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TransformParams):
            return NotImplemented
        return self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]

    @property
    def _has_warp(self) -> bool:
        """Whether the spline warp moves anything (some offset is non-zero)."""
        return self.warp_offsets is not None and bool(np.any(self.warp_offsets))

    @cached_property
    def _on_pixel_grid(self) -> bool:
        """Whether every output pixel samples an input pixel centre exactly.

        True for the identity, flips, quarter turns, integer shifts and crops: every
        interpolation order then reduces to copying pixels, done exactly.
        """
        if self._has_warp:
            return False
        matrix = inverse_matrix(self)
        return bool(np.all(matrix == np.rint(matrix)))

    @cached_property
    def _map_xy(self) -> np.ndarray:
        """Input ``(x, y)`` sampled by each output pixel, ``(h, w, 2)`` float32, read-only.

        The affine map and the spline displacement are both low-rank in the output
        grid, so the whole map is one small matrix product ``U @ P``.
        """
        height, width = self.shape
        out_h, out_w = self.output_shape
        top, left = self.crop_corner or (0, 0)
        inverse = inverse_matrix(self)
        ys = np.arange(top, top + out_h, dtype=np.float64)
        xs = np.arange(left, left + out_w, dtype=np.float64)
        if not self._has_warp:
            k = 0
            by, bx = np.empty((out_h, 0)), np.empty((out_w, 0))
            inner = np.empty((0, 0, 2))
        else:
            g = self.warp_offsets.shape[0]
            k = g - 2
            by = dense_basis(height, g)[top : top + out_h]
            bx = dense_basis(width, g)[left : left + out_w]
            inner = self.warp_offsets[1:-1, 1:-1]
        u = np.hstack([by, ys[:, None], np.ones((out_h, 1))]).astype(np.float32)
        v = np.hstack([bx, xs[:, None], np.ones((out_w, 1))])
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

    def coordinate_map(self) -> tuple[np.ndarray, np.ndarray]:
        """Input coordinates sampled by every output pixel.

        Returns
        -------
        map_y, map_x : numpy.ndarray of float32, shape ``output_shape``
            Row and column in the input array for each output pixel (affine part and
            spline warp composed).
        """
        map_xy = self._map_xy
        return np.ascontiguousarray(map_xy[..., 1]), np.ascontiguousarray(map_xy[..., 0])
