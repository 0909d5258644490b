"""One random transform: its parameters, how they are drawn, and the map they define."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any, Self

import numpy as np

from .._checks import check_positive_int
from .._rng import RNGLike, as_random_source
from ..errors import ArgumentTypeError
from ._geometry import affine_matrices, coordinate_maps
from ._validation import (
    as_float,
    check_crop_size,
    check_flag,
    check_grid_size,
    check_int_pair,
    check_range,
    check_shear_range,
    check_spatial_shape,
    zoom_bounds,
)


def _finite(value: Any, name: str) -> float:
    number = as_float(value, name, "a finite number")
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return number


class ReplayableParams:
    """Sampled parameters as plain JSON values and back (2D and 3D transforms alike)."""

    def as_dict(self) -> dict[str, Any]:
        """Plain-Python values (JSON serialisable), e.g. for display or replay."""
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]  # subclasses are dataclasses
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                value = value.tolist()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Self:
        """Rebuild parameters from :meth:`as_dict` output."""
        if not isinstance(values, Mapping):
            raise ArgumentTypeError(f"values must be a dict, got {type(values).__name__}")
        unknown = set(values) - {f.name for f in fields(cls)}  # type: ignore[arg-type]
        if unknown:
            raise ValueError(f"values has unknown keys {sorted(unknown)}")
        return cls(**values)


@dataclass(frozen=True, eq=False)
class TransformParams(ReplayableParams):
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
        set_(self, "shape", check_int_pair(self.shape, "shape", 1))
        for name in ("angle_deg", "shift_y", "shift_x", "shear_deg", "zoom_y", "zoom_x"):
            set_(self, name, _finite(getattr(self, name), name))
        for name in ("zoom_y", "zoom_x"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not -90.0 < self.shear_deg < 90.0:
            raise ValueError(f"shear_deg must be in (-90, 90), got {self.shear_deg}")
        set_(self, "flip_h", bool(self.flip_h))
        set_(self, "flip_v", bool(self.flip_v))
        expected = "a finite number or a non-empty sequence of them"
        try:
            shifts = np.atleast_1d(np.asarray(self.intensity_shift, dtype=np.float64))
        except (TypeError, ValueError):
            raise ArgumentTypeError(
                f"intensity_shift must be {expected}, got {self.intensity_shift!r}") from None
        if shifts.ndim != 1 or shifts.size == 0 or not np.all(np.isfinite(shifts)):
            raise ValueError(f"intensity_shift must be {expected}, got {self.intensity_shift!r}")
        set_(self, "intensity_shift", tuple(float(s) for s in shifts))
        set_(self, "warp_offsets", self._checked_offsets(self.warp_offsets))
        self._check_crop()

    @staticmethod
    def _checked_offsets(offsets: Any) -> np.ndarray | None:
        if offsets is None:
            return None
        try:
            offsets = np.array(offsets, dtype=np.float64)
        except (TypeError, ValueError):
            raise ArgumentTypeError(
                f"warp_offsets must be a (g, g, 2) array of numbers, got {offsets!r}") from None
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
        size = check_int_pair(self.crop_size, "crop_size", 1)
        corner = check_int_pair(self.crop_corner, "crop_corner", 0)
        if any(c + s > n for c, s, n in zip(corner, size, self.shape, strict=True)):
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

    def describe(self) -> str:
        """The parameters in one readable line (what the napari Augment tab shows).

        Examples
        --------
        >>> params = TransformParams((8, 8), angle_deg=12.5, shift_x=2.0, flip_h=True)
        >>> params.describe().split("; ")[:2]
        ['angle 12.5 deg', 'shift (0.0, 2.0) px = (0.000, 0.250) x (height, width)']
        """
        fraction_y, fraction_x = self.shift_y / self.shape[0], self.shift_x / self.shape[1]
        parts = [
            f"angle {self.angle_deg:.1f} deg",
            f"shift ({self.shift_y:.1f}, {self.shift_x:.1f}) px = ({fraction_y:.3f}, "
            f"{fraction_x:.3f}) x (height, width)",
            f"shear {self.shear_deg:.1f} deg",
            f"zoom ({self.zoom_y:.2f}, {self.zoom_x:.2f})",
        ]
        flips = [text for text, on in (("left-right", self.flip_h), ("up-down", self.flip_v)) if on]
        parts.append("flipped " + " and ".join(flips) if flips else "not flipped")
        if any(self.intensity_shift):
            parts.append("intensity " + ", ".join(f"{s:+.3f}" for s in self.intensity_shift))
        if self.warp_offsets is not None and self._has_warp:
            parts.append(f"warped (largest offset {np.abs(self.warp_offsets).max():.1f} px)")
        if self.crop_corner is not None:
            parts.append(f"crop at {self.crop_corner}")
        return "; ".join(parts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TransformParams):
            return NotImplemented
        return self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def _from_sampled(cls, values: dict[str, Any]) -> TransformParams:
        """Parameters from :func:`sample_transform`'s values, which are valid by construction.

        The checks of ``__init__`` are skipped (they cost more than the sampling);
        values that overflowed to infinity go through them and raise.
        """
        offsets = values["warp_offsets"]
        finite = all(math.isfinite(values[name]) for name in _SAMPLED_FLOATS) and (
            offsets is None or bool(np.isfinite(offsets).all()))
        if not finite:
            return cls(**values)
        if offsets is not None:
            offsets.flags.writeable = False
        params = object.__new__(cls)
        params.__dict__.update(values)  # what the frozen dataclass's __init__ would set
        return params

    @cached_property
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
        inverse = self._matrices[1]
        return bool(np.all(inverse == np.rint(inverse)))

    @cached_property
    def _matrices(self) -> tuple[np.ndarray, np.ndarray]:
        """Forward and inverse affine matrices (see :func:`affine_matrices`)."""
        matrices = affine_matrices(
            self.shape, self.angle_deg, self.shear_deg, (self.zoom_y, self.zoom_x),
            (self.flip_h, self.flip_v), (self.shift_y, self.shift_x),
        )
        for matrix in matrices:
            matrix.flags.writeable = False
        return matrices

    @cached_property
    def _maps(self) -> tuple[np.ndarray, np.ndarray]:
        """Input ``x`` and ``y`` sampled by each output pixel: float32 planes, read-only."""
        return coordinate_maps(
            self._matrices[1], self.shape, self.crop_corner or (0, 0), self.output_shape,
            self.warp_offsets if self._has_warp else None,
        )

    def coordinate_map(self) -> tuple[np.ndarray, np.ndarray]:
        """Input coordinates sampled by every output pixel.

        Returns
        -------
        map_y, map_x : numpy.ndarray of float32, shape ``output_shape``
            Row and column in the input array for each output pixel (affine part and
            spline warp composed).
        """
        map_x, map_y = self._maps
        return map_y.copy(), map_x.copy()


_SAMPLED_FLOATS = ("angle_deg", "shift_y", "shift_x", "shear_deg", "zoom_y", "zoom_x")


def _symmetric(unit: float, half_width: float) -> float:
    """``unit`` in [0, 1] mapped to [-half_width, half_width]."""
    return (2.0 * unit - 1.0) * half_width + 0.0  # + 0.0 turns -0.0 into 0.0


def sample_transform(
    shape: tuple[int, int],
    rotation_range: float = 0.0,
    width_shift_range: float = 0.0,
    height_shift_range: float = 0.0,
    shear_range: float = 0.0,
    zoom_range: float | tuple[float, float] = 0.0,
    intensity_shift_range: float = 0.0,
    horizontal_flip: bool = False,
    vertical_flip: bool = False,
    spline_warp: bool = False,
    warp_sigma: float = 0.1,
    warp_grid_size: int = 3,
    crop_size: tuple[int, int] | None = None,
    n_channels: int = 1,
    rng: RNGLike = None,
) -> TransformParams:
    """Draw the parameters of one random transform for images of spatial ``shape``.

    Arguments have the meaning they have in
    :func:`~napari_datatools.data_augmentation.image_random_transform`.

    Parameters
    ----------
    shape : (int, int)
        Spatial shape ``(height, width)`` of the images to transform.
    rotation_range : float
        Angle drawn uniformly from ``[-rotation_range, rotation_range]`` degrees.
    width_shift_range, height_shift_range : float
        Shifts drawn uniformly from ``[-range, range]`` times the width / height;
        stored in pixels.
    shear_range : float
        Shear angle drawn uniformly from ``[-shear_range, shear_range]`` degrees (< 90).
    zoom_range : float or (float, float)
        Zoom factors (y and x independently) drawn uniformly from
        ``[1 - zoom_range, 1 + zoom_range]`` or from ``[low, high]``.
    intensity_shift_range : float
        One shift per channel drawn uniformly from ``[-range, range]``.
    horizontal_flip, vertical_flip : bool
        Allow a left-right / top-bottom flip, each drawn with probability 1/2.
    spline_warp : bool
        Draw a ``warp_grid_size`` x ``warp_grid_size`` control grid whose interior
        offsets are normal with standard deviation ``warp_sigma`` pixels.
    warp_sigma : float
        Standard deviation of the control point offsets, in pixels.
    warp_grid_size : int
        Control points per axis (>= 2), border points held still (so 2 gives no
        warp).
    crop_size : (int, int) or None
        Size of a crop whose corner is drawn uniformly among all positions inside
        the transformed image.
    n_channels : int
        Number of intensity shifts to draw (the image's channel count).
    rng : None, int, numpy.random.RandomState or numpy.random.Generator
        Source of randomness; the same state gives the same parameters.

    Returns
    -------
    TransformParams

    Notes
    -----
    The draws are made in a fixed order (ten uniforms, then the intensity shifts, then
    the warp offsets), so changing one range does not change the other parameters
    drawn from the same seed.
    """
    shape = check_spatial_shape(shape)
    rotation = check_range(rotation_range, "rotation_range")
    width_shift = check_range(width_shift_range, "width_shift_range")
    height_shift = check_range(height_shift_range, "height_shift_range")
    shear = check_shear_range(shear_range)
    zoom_low, zoom_high = zoom_bounds(zoom_range)
    intensity = check_range(intensity_shift_range, "intensity_shift_range")
    horizontal_flip = check_flag(horizontal_flip, "horizontal_flip")
    vertical_flip = check_flag(vertical_flip, "vertical_flip")
    spline_warp = check_flag(spline_warp, "spline_warp")
    sigma = check_range(warp_sigma, "warp_sigma")
    grid_size = check_grid_size(warp_grid_size)
    crop = check_crop_size(crop_size, shape)
    n_channels = check_positive_int(n_channels, "n_channels")
    source = as_random_source(rng, "rng")

    u = source.uniform(0.0, 1.0, size=10).tolist()  # Python floats: the fields' types
    shifts = source.uniform(-intensity, intensity, size=n_channels)
    offsets = None
    if spline_warp:
        offsets = np.zeros((grid_size, grid_size, 2))
        inner = (grid_size - 2, grid_size - 2, 2)
        offsets[1:-1, 1:-1] = sigma * source.standard_normal(size=inner)

    corner = None
    if crop is not None:
        room_y, room_x = shape[0] - crop[0], shape[1] - crop[1]
        corner = (min(int(u[8] * (room_y + 1)), room_y), min(int(u[9] * (room_x + 1)), room_x))
    return TransformParams._from_sampled(dict(
        shape=shape,
        angle_deg=_symmetric(u[0], rotation),
        shift_y=_symmetric(u[1], height_shift * shape[0]),
        shift_x=_symmetric(u[2], width_shift * shape[1]),
        shear_deg=_symmetric(u[3], shear),
        zoom_y=zoom_low + u[4] * (zoom_high - zoom_low),
        zoom_x=zoom_low + u[5] * (zoom_high - zoom_low),
        flip_h=horizontal_flip and u[6] < 0.5,
        flip_v=vertical_flip and u[7] < 0.5,
        intensity_shift=tuple(s + 0.0 for s in shifts.tolist()),
        warp_offsets=offsets,
        crop_corner=corner,
        crop_size=crop,
    ))
