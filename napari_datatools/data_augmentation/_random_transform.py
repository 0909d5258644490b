"""``image_random_transform`` and ``image_stack_random_transform``: sample, then apply."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._rng import RNGLike, as_random_source
from ._apply import apply_checked
from ._params import TransformParams, sample_transform
from ._validation import (
    as_image,
    check_crop_size,
    check_cval,
    check_fill_mode,
    check_flag,
    check_order,
    spatial_shape,
)

# Parameters of image_random_transform after x and y, in order (positional in stacks).
_POSITIONAL = (
    "rotation_range",
    "width_shift_range",
    "height_shift_range",
    "shear_range",
    "zoom_range",
    "intensity_shift_range",
    "fill_mode",
    "cval_x",
    "cval_y",
    "horizontal_flip",
    "vertical_flip",
    "spline_warp",
    "warp_sigma",
    "warp_grid_size",
    "crop_size",
)
_APPLY_ONLY = ("fill_mode", "cval_x", "cval_y", "order")


def image_random_transform(
    x: Any,
    y: Any = None,
    rotation_range: float = 0.0,
    width_shift_range: float = 0.0,
    height_shift_range: float = 0.0,
    shear_range: float = 0.0,
    zoom_range: float | tuple[float, float] = 0.0,
    intensity_shift_range: float = 0.0,
    fill_mode: str = "nearest",
    cval_x: float = 0.0,
    cval_y: float = 0.0,
    horizontal_flip: bool = False,
    vertical_flip: bool = False,
    spline_warp: bool = False,
    warp_sigma: float = 0.1,
    warp_grid_size: int = 3,
    crop_size: tuple[int, int] | None = None,
    channel_axis: int = 0,
    rng: RNGLike = None,
    order: str = "linear",
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Randomly transform one 2D image, and its mask or target ``y`` identically.

    Equivalent to :func:`sample_transform` followed by :func:`apply_transform` on
    ``x`` (``kind='image'``) and on ``y`` (``kind='mask'``). See
    ``docs/augmentation.md`` for the geometric conventions.

    Parameters
    ----------
    x : array_like, ndim 3
        Image with a channel axis (at ``channel_axis``) and two spatial axes.
    y : array_like, ndim 3, optional
        Mask or target with the same spatial shape (any number of channels, the
        channel axis at the same position). Resampled with nearest neighbour, so
        its values stay input values (or ``cval_y``).
    rotation_range : float
        Maximum rotation in degrees, either way (positive = counter-clockwise as
        displayed).
    width_shift_range, height_shift_range : float
        Maximum shift as a fraction of the width / height.
    shear_range : float
        Maximum horizontal shear in degrees (< 90).
    zoom_range : float or (float, float)
        Maximum deviation of the scale from one, or ``(low, high)`` scale bounds;
        scale > 1 enlarges the content. y and x scales are drawn independently.
    intensity_shift_range : float
        Maximum value added to each channel of ``x`` (one draw per channel); the
        result is clipped to the value range of ``x``.
    fill_mode : {'nearest', 'reflect', 'constant'}
        Filling of positions outside the input, for ``x`` and ``y``.
    cval_x, cval_y : float
        Fill values of ``x`` and ``y`` for ``fill_mode='constant'``.
    horizontal_flip, vertical_flip : bool
        Flip left-right / top-bottom with probability 1/2 each.
    spline_warp : bool
        Apply a smooth cubic B-spline warp (borders held still).
    warp_sigma : float
        Standard deviation of the warp control point offsets, in pixels.
    warp_grid_size : int
        Number of control points per axis (>= 2) including the fixed border ones.
    crop_size : (int, int), optional
        Size of a random crop taken inside the transformed image; larger than the
        image raises ValueError.
    channel_axis : int
        Channel axis of ``x`` and ``y``.
    rng : None, int, numpy.random.RandomState or numpy.random.Generator
        Source of randomness; the same state gives the same output.
    order : {'linear', 'nearest', 'cubic'}
        Interpolation of ``x``.

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, numpy.ndarray)
        Transformed ``x`` (and ``y``), same dtypes and channel axis, spatial shape
        the input's or ``crop_size``.
    """
    x, channel_axis = as_image(x, "x", channel_axis)
    shape = spatial_shape(x, channel_axis)
    if y is not None:
        y, _ = as_image(y, "y", channel_axis)
        if spatial_shape(y, channel_axis) != shape:
            raise ValueError(
                f"y must have the spatial shape of x {shape}, got "
                f"{spatial_shape(y, channel_axis)} (shapes {y.shape} and {x.shape})"
            )
    fill_mode = check_fill_mode(fill_mode)
    cval_x = check_cval(cval_x, "cval_x")
    cval_y = check_cval(cval_y, "cval_y")
    order = check_order(order)
    params = sample_transform(
        shape,
        rotation_range=rotation_range,
        width_shift_range=width_shift_range,
        height_shift_range=height_shift_range,
        shear_range=shear_range,
        zoom_range=zoom_range,
        intensity_shift_range=intensity_shift_range,
        horizontal_flip=horizontal_flip,
        vertical_flip=vertical_flip,
        spline_warp=spline_warp,
        warp_sigma=warp_sigma,
        warp_grid_size=warp_grid_size,
        crop_size=crop_size,
        n_channels=x.shape[channel_axis],
        rng=rng,
    )
    if y is None:
        return apply_checked(params, x, "image", channel_axis, order, fill_mode, cval_x)
    # the mask first: it reads the coordinate maps just written, still in cache
    y_out = apply_checked(params, y, "mask", channel_axis, "nearest", fill_mode, cval_y)
    x_out = apply_checked(params, x, "image", channel_axis, order, fill_mode, cval_x)
    return x_out, y_out


def _collect_options(args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    if len(args) > len(_POSITIONAL):
        raise TypeError(
            f"image_stack_random_transform takes at most {len(_POSITIONAL)} positional "
            f"transform arguments, got {len(args)}"
        )
    options = dict(kwargs)
    for name, value in zip(_POSITIONAL, args, strict=False):  # args may be fewer
        if name in options:
            raise TypeError(f"image_stack_random_transform got multiple values for {name!r}")
        options[name] = value
    allowed = set(_POSITIONAL) | {"rng", "order"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"image_stack_random_transform got unexpected arguments {unknown}")
    return options


def image_stack_random_transform(
    x: Any,
    *args: Any,
    y: Any = None,
    channel_axis: int = 1,
    same_for_all: bool = False,
    **kwargs: Any,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Randomly transform every 2D image of a stack (and of its masks ``y``).

    The last two non-channel axes are spatial; all other non-channel axes are
    iterated over. Each 2D image gets its own sample, drawn in order from one random
    stream (so a seed reproduces the whole stack), unless ``same_for_all`` is set,
    in which case one sample is applied to every image (consistent volumes).

    Parameters
    ----------
    x : array_like, ndim >= 3
        Stack of images, channel axis at ``channel_axis``. A ``(Z, Y, X)`` volume
        without channels is passed as ``x[:, None]``; a 3-D ``x`` with
        ``channel_axis=1`` is refused as ambiguous.
    *args
        Positional arguments of :func:`image_random_transform` after ``y``
        (``rotation_range``, ``width_shift_range``, ...).
    y : array_like, optional
        Stack of masks with the same shape as ``x`` except on the channel axis.
    channel_axis : int
        Channel axis of ``x`` and ``y`` (indexing the full arrays).
    same_for_all : bool
        Apply one sample to all images instead of one sample per image.
    **kwargs
        Keyword arguments of :func:`image_random_transform` (including ``rng`` and
        ``order``).

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, numpy.ndarray)
        Same dtypes and axis order as the inputs; spatial axes of the crop size if
        ``crop_size`` is given.
    """
    options = _collect_options(args, kwargs)
    same_for_all = check_flag(same_for_all, "same_for_all")
    x, channel_axis = as_image(x, "x", channel_axis, ndim=-3)
    if x.ndim == 3 and channel_axis == 1:  # (Z, Y, X) taken as (y=Z, C=Y, x=X)?
        raise ValueError(
            f"channel_axis: axis 1 of the 3-D x of shape {x.shape} would make the middle axis "
            "the channels and rotate the other two; a (Z, Y, X) stack without channels needs "
            "a channel axis (x[:, None], channel_axis=1), one image with channels is (C, Y, X) "
            "or (Y, X, C)")
    x_stack = np.moveaxis(x, channel_axis, -3)
    leading, shape = x_stack.shape[:-3], x_stack.shape[-2:]
    y_stack = None
    if y is not None:
        y, _ = as_image(y, "y", channel_axis, ndim=x.ndim)
        y_stack = np.moveaxis(y, channel_axis, -3)
        if y_stack.shape[:-3] != leading or y_stack.shape[-2:] != shape:
            raise ValueError(
                "y must have the shape of x except on the channel axis, got shapes "
                f"{y.shape} and {x.shape}"
            )
    fill_mode = check_fill_mode(options.pop("fill_mode", "nearest"))
    cval_x = check_cval(options.pop("cval_x", 0.0), "cval_x")
    cval_y = check_cval(options.pop("cval_y", 0.0), "cval_y")
    order = check_order(options.pop("order", "linear"))
    rng = as_random_source(options.pop("rng", None), "rng")
    crop = check_crop_size(options.get("crop_size"), shape)
    out_shape = crop if crop is not None else shape
    n_channels = x_stack.shape[-3]

    def draw() -> TransformParams:
        return sample_transform(shape, n_channels=n_channels, rng=rng, **options)

    shared = draw() if same_for_all else None
    x_out = np.empty(leading + (n_channels,) + out_shape, dtype=x.dtype)
    y_out = None
    if y_stack is not None:
        y_out = np.empty(leading + (y_stack.shape[-3],) + out_shape, dtype=y.dtype)
    for index in np.ndindex(leading):
        params = shared if shared is not None else draw()
        if y_stack is not None and y_out is not None:  # the mask first, as above
            y_out[index] = apply_checked(
                params, y_stack[index], "mask", 0, "nearest", fill_mode, cval_y
            )
        x_out[index] = apply_checked(params, x_stack[index], "image", 0, order, fill_mode, cval_x)
    x_out = np.moveaxis(x_out, -3, channel_axis)
    if y_out is None:
        return x_out
    return x_out, np.moveaxis(y_out, -3, channel_axis)
