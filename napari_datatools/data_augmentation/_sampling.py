"""Drawing the random parameters of one transform."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._params import TransformParams
from .._rng import as_random_source
from ._validation import (
    check_crop_size,
    check_flag,
    check_grid_size,
    check_range,
    check_shear_range,
    check_spatial_shape,
    zoom_bounds,
)


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
    rng: Any = None,
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
    if isinstance(n_channels, bool) or not isinstance(n_channels, (int, np.integer)) or n_channels < 1:
        raise ValueError(f"n_channels must be a positive integer, got {n_channels!r}")
    source = as_random_source(rng, "rng")

    u = source.uniform(0.0, 1.0, size=10)
    shifts = source.uniform(-intensity, intensity, size=int(n_channels))
    offsets = None
    if spline_warp:
        offsets = np.zeros((grid_size, grid_size, 2))
        inner = (grid_size - 2, grid_size - 2, 2)
        offsets[1:-1, 1:-1] = sigma * source.standard_normal(size=inner)

    corner = None
    if crop is not None:
        corner = tuple(
            min(int(u[8 + i] * (shape[i] - crop[i] + 1)), shape[i] - crop[i]) for i in (0, 1)
        )
    def symmetric(unit: float, half_width: float) -> float:
        return (2.0 * unit - 1.0) * half_width + 0.0  # + 0.0 turns -0.0 into 0.0

    return TransformParams(
        shape=shape,
        angle_deg=symmetric(u[0], rotation),
        shift_y=symmetric(u[1], height_shift * shape[0]),
        shift_x=symmetric(u[2], width_shift * shape[1]),
        shear_deg=symmetric(u[3], shear),
        zoom_y=zoom_low + u[4] * (zoom_high - zoom_low),
        zoom_x=zoom_low + u[5] * (zoom_high - zoom_low),
        flip_h=horizontal_flip and u[6] < 0.5,
        flip_v=vertical_flip and u[7] < 0.5,
        intensity_shift=tuple(shifts + 0.0),
        warp_offsets=offsets,
        crop_corner=corner,
        crop_size=crop,
    )
