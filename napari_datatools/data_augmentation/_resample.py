"""Resampling of an array through a coordinate map: OpenCV ``remap`` or numpy/scipy.

Both backends use the same float32 maps (input column and row of each output pixel)
and the same conventions, so they agree:

* ``'nearest'``: the map is rounded half-to-even (exactly equal results);
* ``'linear'``: bilinear (OpenCV 4 quantises positions to 1/32 pixel; OpenCV 5 does
  so only for images it works on in float64, and interpolates uint8, uint16 and
  float32 images at the exact positions);
* ``'cubic'``: OpenCV's cubic convolution vs scipy's cubic spline (close, not equal).

Fill modes: ``'nearest'`` repeats the edge pixel, ``'reflect'`` mirrors about the
pixel edge (``d c b a | a b c d | d c b a``: OpenCV ``BORDER_REFLECT``, scipy
``'reflect'``), ``'constant'`` uses ``cval`` (interpolating towards it within the
last pixel: OpenCV ``BORDER_CONSTANT``, scipy ``'grid-constant'``).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import scipy.ndimage as ndi

ORDERS = ("nearest", "linear", "cubic")
FILL_MODES = ("nearest", "reflect", "constant")
BACKENDS = ("auto", "opencv", "scipy")

_CV2_INTERPOLATION = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
}
_CV2_BORDER = {
    "nearest": cv2.BORDER_REPLICATE,
    "reflect": cv2.BORDER_REFLECT,
    "constant": cv2.BORDER_CONSTANT,
}
_SCIPY_MODE = {"nearest": "nearest", "reflect": "reflect", "constant": "grid-constant"}
_SCIPY_ORDER = {"linear": 1, "cubic": 3}

# dtype -> dtype OpenCV's remap works in (lossless for every value of the dtype).
_CV2_WORK_DTYPE: dict[np.dtype, np.dtype] = {
    np.dtype(np.uint8): np.dtype(np.uint8),
    np.dtype(np.uint16): np.dtype(np.uint16),
    np.dtype(np.int16): np.dtype(np.int16),
    np.dtype(np.float32): np.dtype(np.float32),
    np.dtype(np.float64): np.dtype(np.float64),
    np.dtype(np.bool_): np.dtype(np.uint8),
    np.dtype(np.int8): np.dtype(np.int16),
    np.dtype(np.float16): np.dtype(np.float32),
    np.dtype(np.int32): np.dtype(np.float64),
    np.dtype(np.uint32): np.dtype(np.float64),
}
# remap keeps coordinates in 16-bit integers: every side must be below SHRT_MAX.
_CV2_MAX_SIDE = 32766


def opencv_can_resample(
    dtype: np.dtype, order: str, in_shape: tuple[int, int], out_shape: tuple[int, int]
) -> bool:
    """Whether the OpenCV path handles this dtype, order and these spatial sizes.

    OpenCV 5.0's cubic ``remap`` of float64 images truncates the pixels whose 4 x 4
    neighbourhood crosses the border (even for an identity map), so cubic
    interpolation of dtypes worked on in float64 goes to scipy.
    """
    work = _CV2_WORK_DTYPE.get(np.dtype(dtype))
    if work is None or max(*in_shape, *out_shape) > _CV2_MAX_SIDE:
        return False
    return not (order == "cubic" and work == np.float64)


def move_axis(array: np.ndarray, source: int, destination: int) -> np.ndarray:
    """``numpy.moveaxis`` of one axis (a view), without its argument handling's overhead."""
    order = [axis for axis in range(array.ndim) if axis != source % array.ndim]
    order.insert(destination % array.ndim, source % array.ndim)
    return array.transpose(order)


def _cast_back(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Convert resampled values to ``dtype``, rounding and saturating integers."""
    if values.dtype == dtype:
        return values
    if dtype == np.bool_:
        return values >= 0.5
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        if np.issubdtype(values.dtype, np.floating):
            values = np.rint(values)
        return np.clip(values, info.min, info.max).astype(dtype)
    return values.astype(dtype)


def _cval_as(cval: float, dtype: np.dtype) -> object:
    """``cval`` as OpenCV would store it in an image of ``dtype`` (saturated)."""
    if dtype == np.bool_:
        return bool(min(max(round(cval), 0), 1))
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return dtype.type(min(max(round(cval), info.min), info.max))
    return dtype.type(cval)


Maps = tuple[np.ndarray, np.ndarray]  # map_x, map_y: input column and row of each output pixel


def _resample_opencv(
    array: np.ndarray, channel_axis: int, maps: Maps, order: str, fill_mode: str, cval: float
) -> np.ndarray:
    work = _CV2_WORK_DTYPE[array.dtype]
    map_x, map_y = maps
    out_h, out_w = map_x.shape
    options: dict[str, Any] = dict(
        interpolation=_CV2_INTERPOLATION[order],
        borderMode=_CV2_BORDER[fill_mode],
        borderValue=(float(cval),) * 4,
    )
    hwc = move_axis(array, channel_axis, -1)
    n_channels = hwc.shape[-1]
    if n_channels <= 4 and hwc.flags.c_contiguous:
        src = hwc if hwc.dtype == work else hwc.astype(work)
        out = cv2.remap(src, map_x, map_y, **options).reshape(out_h, out_w, n_channels)
        return move_axis(_cast_back(out, array.dtype), -1, channel_axis)
    planes = move_axis(array, channel_axis, 0)
    out = np.empty((n_channels, out_h, out_w), dtype=work)
    for c in range(n_channels):
        src = np.ascontiguousarray(planes[c], dtype=work)
        cv2.remap(src, map_x, map_y, dst=out[c], **options)
    return move_axis(_cast_back(out, array.dtype), 0, channel_axis)


def _reflect_index(index: np.ndarray, n: int) -> np.ndarray:
    period = 2 * n
    index = np.mod(index, period)
    return np.where(index >= n, period - 1 - index, index)


def _gather_nearest(
    planes: np.ndarray, maps: Maps, fill_mode: str, cval: float
) -> np.ndarray:
    """Nearest-neighbour lookup by integer indexing: exact for any dtype."""
    limit = float(2**40)
    height, width = planes.shape[1:]
    ix = np.clip(np.rint(maps[0]), -limit, limit).astype(np.int64)
    iy = np.clip(np.rint(maps[1]), -limit, limit).astype(np.int64)
    if fill_mode == "reflect":
        return planes[:, _reflect_index(iy, height), _reflect_index(ix, width)]
    out = planes[:, np.clip(iy, 0, height - 1), np.clip(ix, 0, width - 1)]
    if fill_mode == "constant":
        outside = (ix < 0) | (ix >= width) | (iy < 0) | (iy >= height)
        out[:, outside] = _cval_as(cval, planes.dtype)
    return out


def _resample_scipy(
    array: np.ndarray, channel_axis: int, maps: Maps, order: str, fill_mode: str, cval: float
) -> np.ndarray:
    planes = move_axis(array, channel_axis, 0)
    if order == "nearest":
        out = _gather_nearest(planes, maps, fill_mode, cval)
        return move_axis(out, 0, channel_axis)
    coords = np.stack([maps[1], maps[0]])
    work = np.dtype(np.float32 if array.dtype == np.float32 else np.float64)
    if np.issubdtype(array.dtype, np.complexfloating):
        work = array.dtype
    out = np.empty((planes.shape[0], *maps[0].shape), dtype=work)
    for c in range(planes.shape[0]):
        source = planes[c] if planes.dtype != np.bool_ else planes[c].astype(np.float32)
        ndi.map_coordinates(
            source,
            coords,
            output=out[c],
            order=_SCIPY_ORDER[order],
            mode=_SCIPY_MODE[fill_mode],
            cval=cval,
        )
    return move_axis(_cast_back(out, array.dtype), 0, channel_axis)


def resample(
    array: np.ndarray,
    channel_axis: int,
    maps: Maps,
    order: str,
    fill_mode: str,
    cval: float,
    backend: str = "auto",
) -> np.ndarray:
    """Resample every channel of ``array`` at the input positions ``maps``.

    Parameters
    ----------
    array : numpy.ndarray, ndim 3
        Image with its channel axis at ``channel_axis``; the other two axes are
        spatial, in (row, column) order.
    channel_axis : int
        Non-negative index of the channel axis.
    maps : (numpy.ndarray, numpy.ndarray), each of shape (h, w), float32
        Input column ``x`` and row ``y`` sampled by each output pixel.
    order, fill_mode, cval, backend
        See :func:`~napari_datatools.data_augmentation.apply_transform`.

    Returns
    -------
    numpy.ndarray
        Same dtype and channel axis, spatial shape ``(h, w)``.
    """
    in_shape = tuple(s for a, s in enumerate(array.shape) if a != channel_axis)
    out_shape = maps[0].shape
    possible = opencv_can_resample(array.dtype, order, in_shape, out_shape)
    if backend == "opencv" and not possible:
        raise ValueError(
            f"backend='opencv' cannot resample dtype {array.dtype} with order {order!r} "
            f"and spatial shape {in_shape} to {out_shape}; use backend='auto' "
            "or 'scipy'"
        )
    if backend == "scipy" or not possible:
        return _resample_scipy(array, channel_axis, maps, order, fill_mode, cval)
    return _resample_opencv(array, channel_axis, maps, order, fill_mode, cval)
