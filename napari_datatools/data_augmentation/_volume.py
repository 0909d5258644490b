"""Random 3D augmentation of volumes ``(channels, z, y, x)``: sample, then apply once.

:func:`sample_volume_transform` draws a :class:`VolumeTransformParams`;
:func:`apply_volume_transform` (reached through ``apply_transform``) resamples an
image or a mask with it in one pass of the compiled kernel of ``_volume_kernel``;
:func:`volume_random_transform` does both, gathering the image and its mask in the
same loop.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any, TypeVar

import numpy as np
import scipy.ndimage as ndi

from .._checks import check_positive_int
from .._rng import RNGLike, as_generator
from ..errors import ArgumentTypeError
from ._resample import _SCIPY_MODE, _cast_back, _cval_as
from ._validation import (
    check_channel_axis,
    check_choice,
    check_cval,
    check_fill_mode,
    check_flag,
    check_grid_size,
    check_order,
    check_range,
    zoom_bounds,
)
from ._volume_params import VolumeTransformParams

KINDS = ("image", "mask")
BACKENDS = ("auto", "scipy")


T = TypeVar("T")

# -- argument checks ----------------------------------------------------------------


def _three(values: Iterable[T]) -> tuple[T, T, T]:
    """Three values ``(z, y, x)`` as a tuple."""
    z, y, x = values
    return z, y, x


def _per_axis(value: Any, name: str, below: float = math.inf) -> tuple[float, float, float]:
    """A number >= 0 for all three axes, or one per axis ``(z, y, x)``."""
    items = [value] * 3 if np.ndim(value) == 0 else list(value)
    if len(items) != 3:
        raise ValueError(f"{name} must be a number or three numbers (z, y, x), got {value!r}")
    ranges = _three(check_range(v, name) for v in items)
    if max(ranges) >= below:
        raise ValueError(f"{name} must be below {below:g} (for each axis), got {value!r}")
    return ranges


def _three_ints(value: Any, name: str, minimum: int) -> tuple[int, int, int]:
    if isinstance(value, (str, bytes)) or np.ndim(value) != 1:
        raise ArgumentTypeError(f"{name} must be three integers (z, y, x), got {value!r}")
    items = list(value)
    if any(isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) for v in items):
        raise ArgumentTypeError(f"{name} must be three integers (z, y, x), got {value!r}")
    if len(items) != 3 or min(items) < minimum:
        raise ValueError(f"{name} must be three integers >= {minimum}, got {value!r}")
    return _three(int(v) for v in items)


def _flip_axes(flip_axes: Any) -> tuple[bool, bool, bool]:
    if isinstance(flip_axes, (str, bytes)) or np.ndim(flip_axes) != 1:
        raise ArgumentTypeError(f"flip_axes must be a sequence of spatial axes, got {flip_axes!r}")
    allowed = [False, False, False]
    for axis in flip_axes:
        if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
            raise ArgumentTypeError(f"flip_axes must hold integers, got {flip_axes!r}")
        if axis not in (0, 1, 2):
            raise ValueError(
                f"flip_axes must hold spatial axes 0 (z), 1 (y), 2 (x), got {flip_axes!r}"
            )
        allowed[int(axis)] = True
    return _three(allowed)


def _spacing(spacing: Any) -> tuple[float, float, float]:
    if spacing is None:
        return (1.0, 1.0, 1.0)
    if np.ndim(spacing) != 1:
        raise ArgumentTypeError(f"spacing must be None or three numbers (z, y, x), got {spacing!r}")
    values = [check_range(v, "spacing") for v in spacing]
    if len(values) != 3 or min(values) <= 0:
        raise ValueError(f"spacing must be three finite numbers > 0, got {spacing!r}")
    return _three(values)


def _crop_size(crop_size: Any, shape: tuple[int, int, int]) -> tuple[int, int, int] | None:
    if crop_size is None:
        return None
    crop = _three_ints(crop_size, "crop_size", 1)
    if any(c > n for c, n in zip(crop, shape, strict=True)):
        raise ValueError(f"crop_size {crop} is larger than the volume's spatial shape {shape}")
    return crop


def _as_volume(array: Any, name: str, channel_axis: Any = 0) -> np.ndarray:
    """``array`` as a numeric 4D array with its channel axis first (a view when possible)."""
    array = np.asarray(array)
    if array.ndim != 4:
        raise ValueError(
            f"{name} must have 4 dimensions (channels, z, y, x), got shape {array.shape}"
        )
    if array.dtype != np.bool_ and not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise ArgumentTypeError(
            f"{name} must have a real numeric or boolean dtype, got {array.dtype}"
        )
    if array.dtype.itemsize not in (1, 2, 4, 8):
        raise ValueError(f"{name} has the unsupported dtype {array.dtype}")
    array = np.moveaxis(array, check_channel_axis(channel_axis, 4), 0)
    if 0 in array.shape:
        raise ValueError(
            f"{name} must have channels and non-empty spatial axes, got shape {array.shape}"
        )
    return array


# -- sampling -----------------------------------------------------------------------


def sample_volume_transform(
    shape: tuple[int, int, int],
    *,
    rotation_range: float | tuple[float, float, float] = 0.0,
    shift_range: float | tuple[float, float, float] = 0.0,
    shear_range: float | tuple[float, float, float] = 0.0,
    zoom_range: float | tuple[float, float] = (1.0, 1.0),
    flip_axes: tuple[int, ...] = (),
    intensity_shift_range: float = 0.0,
    spline_warp: bool = False,
    warp_sigma: float = 0.1,
    warp_grid_size: int = 3,
    crop_size: tuple[int, int, int] | None = None,
    spacing: tuple[float, float, float] | None = None,
    n_channels: int = 1,
    rng: RNGLike = None,
) -> VolumeTransformParams:
    """Draw the parameters of one random 3D transform for volumes of spatial ``shape``.

    Parameters
    ----------
    shape : (int, int, int)
        Spatial shape ``(z, y, x)``.
    rotation_range : float or (float, float, float)
        Angles about z, y and x drawn uniformly from ``[-range, range]`` degrees
        (one range for all three axes, or one per axis).
    shift_range : float or (float, float, float)
        Shifts drawn from ``[-range, range]`` times the axis length; stored in voxels.
    shear_range : float or (float, float, float)
        Shear angles ``(zy, zx, yx)`` drawn from ``[-range, range]`` degrees (< 90).
    zoom_range : float or (float, float)
        ``(low, high)`` bounds of the zoom, or the maximum deviation from one; the
        three axes are drawn independently (> 1 enlarges).
    flip_axes : sequence of int
        Spatial axes (0 = z, 1 = y, 2 = x) each flipped with probability 1/2.
    intensity_shift_range : float
        One shift per channel drawn from ``[-range, range]``.
    spline_warp : bool
        Draw a cubic B-spline warp from a ``warp_grid_size``^3 control grid.
    warp_sigma : float
        Standard deviation of the interior control point offsets, in voxels of the
        finest axis (physical units when ``spacing`` is given, so the warp is
        isotropic in space).
    warp_grid_size : int
        Control points per axis (>= 2) including the still border ones.
    crop_size : (int, int, int) or None
        Size of a crop whose corner is drawn uniformly inside the volume.
    spacing : (float, float, float) or None
        Voxel size ``(z, y, x)`` in any physical unit: rotations, shears and the
        warp act on physical positions. ``None`` means isotropic voxels.
    n_channels : int
        Number of intensity shifts to draw.
    rng : None, int, numpy.random.RandomState or numpy.random.Generator
        Source of randomness; the same state gives the same parameters.

    Returns
    -------
    VolumeTransformParams

    Notes
    -----
    The draws are made in a fixed order (eighteen uniforms, the intensity shifts,
    then the warp offsets), so changing one range keeps the other draws of a seed.
    """
    shape = _three_ints(shape, "shape", 1)
    rotation = _per_axis(rotation_range, "rotation_range")
    shift_fraction = _per_axis(shift_range, "shift_range")
    shear = _per_axis(shear_range, "shear_range", below=90.0)
    zoom_low, zoom_high = zoom_bounds(zoom_range)
    flippable = _flip_axes(flip_axes)
    intensity = check_range(intensity_shift_range, "intensity_shift_range")
    spline_warp = check_flag(spline_warp, "spline_warp")
    sigma = check_range(warp_sigma, "warp_sigma")
    grid_size = check_grid_size(warp_grid_size)
    crop = _crop_size(crop_size, shape)
    voxel = _spacing(spacing)
    n_channels = check_positive_int(n_channels, "n_channels")
    gen = as_generator(rng, "rng")

    u = gen.uniform(0.0, 1.0, size=18)
    shifts = gen.uniform(-intensity, intensity, size=n_channels) + 0.0
    offsets = None
    if spline_warp:
        offsets = np.zeros((grid_size,) * 3 + (3,))
        pitch = np.asarray(voxel) / min(voxel)  # finest-axis voxels per voxel, per axis
        inner = (grid_size - 2,) * 3 + (3,)
        offsets[1:-1, 1:-1, 1:-1] = sigma * gen.standard_normal(size=inner) / pitch

    def symmetric(unit: float, half_width: float) -> float:
        return float((2.0 * unit - 1.0) * half_width) + 0.0  # + 0.0 turns -0.0 into 0.0

    corner = None
    if crop is not None:
        room = [n - c for n, c in zip(shape, crop, strict=True)]
        corner = _three(min(int(u[15 + a] * (room[a] + 1)), room[a]) for a in range(3))
    return VolumeTransformParams(
        shape=shape,
        angles_deg=_three(symmetric(u[a], rotation[a]) for a in range(3)),
        shift=_three(symmetric(u[3 + a], shift_fraction[a] * shape[a]) for a in range(3)),
        shear_deg=_three(symmetric(u[6 + a], shear[a]) for a in range(3)),
        zoom=_three(float(zoom_low + u[9 + a] * (zoom_high - zoom_low)) for a in range(3)),
        flip=_three(bool(flippable[a] and u[12 + a] < 0.5) for a in range(3)),
        intensity_shift=tuple(shifts),
        warp_offsets=offsets,
        crop_corner=corner,
        crop_size=crop,
        spacing=voxel,
    )


# -- applying -----------------------------------------------------------------------


def _value_range(array: np.ndarray, fill_mode: str, cval: float) -> tuple[float, float]:
    if np.issubdtype(array.dtype, np.floating):
        low, high = float(np.nanmin(array)), float(np.nanmax(array))
    else:
        low, high = float(array.min()), float(array.max())
    if fill_mode == "constant":
        low, high = min(low, cval), max(high, cval)
    return low, high


def _image_shifts(params: VolumeTransformParams, n_channels: int) -> np.ndarray:
    shifts = np.asarray(params.intensity_shift, dtype=np.float64)
    if shifts.size == 1:
        shifts = np.repeat(shifts, n_channels)
    elif shifts.size != n_channels:
        raise ValueError(
            f"params.intensity_shift has {shifts.size} values but the image has "
            f"{n_channels} channels"
        )
    return shifts if np.any(shifts) else np.zeros(0)


def _resample_scipy(
    params: VolumeTransformParams, array: np.ndarray, order: str, fill_mode: str, cval: float
) -> np.ndarray:
    """Reference path: ``scipy.ndimage.map_coordinates`` on :meth:`coordinate_map`.

    Nearest keeps the dtype of ``array``; linear and cubic (spline) give float64.
    """
    coords = params.coordinate_map()
    spline_order = {"nearest": 0, "linear": 1, "cubic": 3}[order]
    work = array.view(np.uint8) if array.dtype == np.bool_ else array
    dtype = work.dtype if spline_order == 0 else np.float64
    if spline_order == 0:  # the fill value as the array would hold it
        cval = np.asarray(_cval_as(cval, array.dtype)).item()
    out = np.empty((work.shape[0], *params.output_shape), dtype=dtype)
    for c in range(work.shape[0]):
        ndi.map_coordinates(
            work[c], coords, output=out[c], order=spline_order,
            mode=_SCIPY_MODE[fill_mode], cval=float(cval),
        )
    return out.view(np.bool_) if array.dtype == np.bool_ and spline_order == 0 else out


def _readonly(array: np.ndarray) -> np.ndarray:
    """A read-only C-contiguous view: numba types read-only arrays apart, so passing
    every input read-only keeps one compiled kernel."""
    view = np.ascontiguousarray(array).view()
    view.flags.writeable = False
    return view


def _kernel_pass(
    params: VolumeTransformParams,
    fill_mode: str,
    image: np.ndarray | None = None,
    linear: bool = True,
    shifts: np.ndarray | None = None,
    value_range: tuple[float, float] = (0.0, 0.0),
    cval_image: float = 0.0,
    copied: np.ndarray | None = None,
    cval_copied: float = 0.0,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """One pass of the kernel: ``image`` interpolated, ``copied`` gathered bitwise.

    Returns the image in float32 (every image is interpolated in float32, as
    torch-based libraries do: one compiled kernel, half the memory traffic of
    float64) and ``copied`` resampled in its own dtype.
    """
    from ._volume_kernel import MODES, resample_volume  # numba loads on the first 3D use

    out_shape = params.output_shape
    size = math.prod(out_shape)
    shifts = np.zeros(0) if shifts is None else np.asarray(shifts, dtype=np.float64)
    image_out = copied_out = None
    if image is None:
        source, target = np.empty((0, 1), np.float32), np.empty((0, 1), np.float32)
    else:
        source = np.ascontiguousarray(image, dtype=np.float32).reshape(image.shape[0], -1)
        target = image_out = np.empty((image.shape[0], size), dtype=np.float32)
    if copied is None:
        bits, bits_out = np.empty((0, 1), np.uint8), np.empty((0, 1), np.uint8)
        bits_cval = np.zeros(1, dtype=np.uint8)
    else:  # the bytes of each channel
        bits = np.ascontiguousarray(copied).reshape(copied.shape[0], -1).view(np.uint8)
        bits_out = np.empty((copied.shape[0], size * copied.dtype.itemsize), np.uint8)
        fill = np.array([_cval_as(cval_copied, copied.dtype)], dtype=copied.dtype)
        bits_cval = fill.view(np.uint8)
        copied_out = bits_out.view(copied.dtype).reshape(-1, *out_shape)
    coefficients, bz, by, bx = params._warp_parts()
    resample_volume(
        np.asarray(params.shape, dtype=np.int64),
        _readonly(params._inverse),
        np.asarray(params.crop_corner or (0, 0, 0), dtype=np.int64),
        _readonly(coefficients), _readonly(bz), _readonly(by), _readonly(bx), MODES[fill_mode],
        _readonly(source), target, linear, shifts, value_range[0], value_range[1], cval_image,
        _readonly(bits), bits_out, bits_cval,
    )
    return (None if image_out is None else image_out.reshape(-1, *out_shape)), copied_out


def _resample(
    params: VolumeTransformParams,
    image: np.ndarray | None,
    mask: np.ndarray | None,
    *,
    order: str = "linear",
    fill_mode: str = "nearest",
    cval_image: float = 0.0,
    cval_mask: float = 0.0,
    backend: str = "auto",
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Resample ``image`` and ``mask`` (channels first; either may be None).

    With the default backend an image (linear or nearest) and a mask take one kernel
    pass together; cubic images go through scipy's spline interpolation on the
    same coordinate map. Nearest images without an intensity shift, and masks, are
    copied bitwise, so every value and dtype is kept.
    """
    if params._on_voxel_grid:
        order = "nearest"  # voxel centres map to voxel centres: copy them exactly
    image_out = mask_out = None
    shifts, value_range = np.zeros(0), (0.0, 0.0)
    if image is not None:
        shifts = _image_shifts(params, image.shape[0])
        if shifts.size:
            value_range = _value_range(image, fill_mode, cval_image)
    if image is not None and (backend == "scipy" or order == "cubic"):
        values = _resample_scipy(params, image, order, fill_mode, cval_image)
        if shifts.size:
            values = values.astype(np.float64, copy=False)
            values += shifts[:, None, None, None]
            np.clip(values, *value_range, out=values)
        image_out, image = _cast_back(values, image.dtype), None
    if mask is not None and backend == "scipy":
        mask_out, mask = _resample_scipy(params, mask, "nearest", fill_mode, cval_mask), None
    if image is not None and order == "nearest" and not shifts.size:
        image_out = _kernel_pass(params, fill_mode, copied=image, cval_copied=cval_image)[1]
        image = None
    if image is not None or mask is not None:
        interpolated, copied = _kernel_pass(
            params, fill_mode, image, order == "linear", shifts, value_range, cval_image,
            mask, cval_mask,
        )
        if image is not None and interpolated is not None:
            image_out = _cast_back(interpolated, image.dtype)
        if mask is not None:
            mask_out = copied
    return image_out, mask_out


def apply_volume_transform(
    params: VolumeTransformParams,
    array: Any,
    *,
    kind: str = "image",
    channel_axis: int = 0,
    order: str | None = None,
    fill_mode: str = "nearest",
    cval: float = 0.0,
    backend: str = "auto",
) -> np.ndarray:
    """Apply one sampled 3D transform to a volume with a channel axis.

    ``apply_transform`` calls this for :class:`VolumeTransformParams`; the
    arguments are those of ``apply_transform``. Images are interpolated with
    ``order`` (``'linear'`` by default, computed in float32 whatever the dtype;
    ``'cubic'`` is scipy's cubic spline on the same coordinate map, in float64)
    and shifted in intensity; masks (and nearest-neighbour images without an
    intensity shift) are copied bytewise, keeping their values and dtype.
    ``backend='scipy'`` resamples with ``scipy.ndimage.map_coordinates`` on
    :meth:`VolumeTransformParams.coordinate_map` in float64 (the reference the
    compiled kernel agrees with).

    Returns
    -------
    numpy.ndarray
        Same dtype and channel axis as ``array``, spatial shape ``params.output_shape``.
    """
    kind = check_choice(kind, "kind", KINDS)
    if order is None:
        order = "linear" if kind == "image" else "nearest"
    order = check_order(order)
    if kind == "mask" and order != "nearest":
        raise ValueError(f"order must be 'nearest' for kind='mask', got {order!r}")
    fill_mode = check_fill_mode(fill_mode)
    cval = check_cval(cval, "cval")
    backend = check_choice(backend, "backend", BACKENDS)
    volume = _as_volume(array, "array", channel_axis)
    if volume.shape[1:] != params.shape:
        raise ValueError(
            f"array has spatial shape {volume.shape[1:]} but params were sampled for "
            f"shape {params.shape}"
        )
    if kind == "image":
        out, _ = _resample(params, volume, None, order=order, fill_mode=fill_mode,
                           cval_image=cval, backend=backend)
    else:
        _, out = _resample(params, None, volume, fill_mode=fill_mode, cval_mask=cval,
                           backend=backend)
    assert out is not None  # the array given is always resampled
    return np.moveaxis(out, 0, check_channel_axis(channel_axis, 4))


def volume_random_transform(
    x: Any,
    y: Any = None,
    *,
    rotation_range: float | tuple[float, float, float] = 0.0,
    shift_range: float | tuple[float, float, float] = 0.0,
    shear_range: float | tuple[float, float, float] = 0.0,
    zoom_range: float | tuple[float, float] = (1.0, 1.0),
    flip_axes: tuple[int, ...] = (),
    intensity_shift_range: float = 0.0,
    spline_warp: bool = False,
    warp_sigma: float = 0.1,
    warp_grid_size: int = 3,
    crop_size: tuple[int, int, int] | None = None,
    fill_mode: str = "nearest",
    cval_x: float = 0.0,
    cval_y: float = 0.0,
    order: str = "linear",
    spacing: tuple[float, float, float] | None = None,
    rng: RNGLike = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Randomly transform one volume, and its mask or target ``y`` identically.

    Equivalent to :func:`sample_volume_transform` followed by ``apply_transform`` on
    ``x`` (``kind='image'``) and ``y`` (``kind='mask'``), but ``x`` and ``y`` are
    resampled in the same pass. Rotation, shear, zoom, flips, shift, the spline
    warp and the crop form one coordinate map, sampled once.

    Parameters
    ----------
    x : array_like, shape (C, Z, Y, X)
        Image; any real or boolean dtype.
    y : array_like, shape (Cy, Z, Y, X), optional
        Mask or target with the spatial shape of ``x``, resampled with nearest
        neighbour (its values and dtype are kept; ``cval_y`` fills with
        ``fill_mode='constant'``).
    rotation_range, shift_range, shear_range, zoom_range, flip_axes, \
intensity_shift_range, spline_warp, warp_sigma, warp_grid_size, crop_size, spacing, rng
        See :func:`sample_volume_transform`.
    fill_mode : {'nearest', 'reflect', 'constant'}
        Filling of positions outside the input, for ``x`` and ``y``.
    cval_x, cval_y : float
        Fill values of ``x`` and ``y`` for ``fill_mode='constant'``.
    order : {'linear', 'nearest', 'cubic'}
        Interpolation of ``x`` (linear in float32, cubic with scipy in float64).

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, numpy.ndarray)
        Transformed ``x`` (and ``y``), same dtypes, spatial shape the input's or
        ``crop_size``.
    """
    x = _as_volume(x, "x")
    if y is not None:
        y = _as_volume(y, "y")
        if y.shape[1:] != x.shape[1:]:
            raise ValueError(
                f"y must have the spatial shape of x {x.shape[1:]}, got {y.shape[1:]}"
            )
    fill_mode = check_fill_mode(fill_mode)
    cval_x = check_cval(cval_x, "cval_x")
    cval_y = check_cval(cval_y, "cval_y")
    order = check_order(order)
    params = sample_volume_transform(
        x.shape[1:],
        rotation_range=rotation_range,
        shift_range=shift_range,
        shear_range=shear_range,
        zoom_range=zoom_range,
        flip_axes=flip_axes,
        intensity_shift_range=intensity_shift_range,
        spline_warp=spline_warp,
        warp_sigma=warp_sigma,
        warp_grid_size=warp_grid_size,
        crop_size=crop_size,
        spacing=spacing,
        n_channels=x.shape[0],
        rng=rng,
    )
    x_out, y_out = _resample(
        params, x, y, order=order, fill_mode=fill_mode, cval_image=cval_x, cval_mask=cval_y
    )
    assert x_out is not None and (y is None or y_out is not None)  # given arrays are resampled
    return x_out if y_out is None else (x_out, y_out)
