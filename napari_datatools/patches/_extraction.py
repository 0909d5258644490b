"""Patch extraction: vectorised gathers from padded slices, and ``patch_generator``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._checks import check_positive_int
from .._rng import RNGLike
from ..errors import ArgumentTypeError
from ._plan import (
    PatchPlan,
    PatchSize,
    check_patchsize,
    iter_plan_chunks,
    patch_shape,
    plan_patches,
)
from ._volume import SliceSource


def pad_widths(patchsize: int) -> tuple[int, int]:
    """Padding ``(before, after)`` so the centre of a patch sits at ``patchsize // 2``."""
    return patchsize // 2, patchsize - 1 - patchsize // 2


def pad_slice(image: np.ndarray, patchsize: int, mirrored: bool = True) -> np.ndarray:
    """Pad a 2D slice so that every pixel has a full patch around it.

    ``mirrored`` uses symmetric reflection (the edge pixel repeated), otherwise zeros.
    """
    before, after = pad_widths(patchsize)
    widths = ((before, after), (before, after))
    if mirrored:
        return np.pad(image, widths, mode="symmetric")
    return np.pad(image, widths, mode="constant")


def _reflect(index: np.ndarray, n: int) -> np.ndarray:
    """Indices past either end of ``range(n)`` mirrored back (edge repeated), like
    ``np.pad(mode="symmetric")`` for a reach of at most ``n``."""
    index = np.where(index < 0, -index - 1, index)
    return np.where(index >= n, 2 * n - index - 1, index)


class SlabPatches:
    """Padded copies of a few slices, from which patches are gathered in one step.

    2D patches (an int ``patchsize``) are taken within the held slices; 3D patches
    (``(pz, py, px)``) also hold the neighbouring slices they reach (mirrored at the
    volume's first and last slice, or zeros).

    Parameters
    ----------
    source : SliceSource
        The volume (or mask) to read slices from.
    slices : sequence of int
        Slices holding the centres to gather.
    patchsize : int or (int, int, int)
        Patch edge length, or ``(pz, py, px)``.
    mirrored : bool
        Mirror (symmetric reflection) at the edges, else pad with zeros.
    """

    def __init__(self, source: SliceSource, slices: Sequence[int], patchsize: PatchSize,
                 mirrored: bool = True) -> None:
        nz, ny, nx = source.shape
        sides = patch_shape(patchsize)
        py, px = sides[-2:]
        (by, ay), (bx, ax) = pad_widths(py), pad_widths(px)
        centres_z = np.asarray([int(z) for z in slices], np.intp)
        self.volumetric = len(sides) == 3
        bz, az = pad_widths(sides[0] if self.volumetric else 1)
        self.offsets = np.arange(-bz, az + 1)
        reach = centres_z[:, None] + self.offsets[None, :]
        if mirrored:
            reach = _reflect(reach, nz)
        needed = np.unique(reach[(reach >= 0) & (reach < nz)])
        rows = len(needed) + (0 if mirrored else 1)  # a last row of zeros for zero padding
        channels = () if source.channels is None else (source.channels,)
        self.channels = source.channels
        self.padded = np.zeros((rows, *channels, ny + by + ay, nx + bx + ax), dtype=source.dtype)
        self.row = np.full(nz + 1, rows - 1, np.intp)  # unknown slices -> the zero row
        widths = ((0, 0),) * len(channels) + ((by, ay), (bx, ax))
        for i, z in enumerate(needed):
            image = source.read(int(z))
            self.padded[i] = np.pad(image, widths, mode="symmetric") if mirrored \
                else np.pad(image, widths, mode="constant")
            self.row[z] = i
        self.nz = nz
        self.mirrored = mirrored
        self.held = np.zeros(nz, bool)
        self.held[centres_z] = True
        # windows[i, (c,) y, x] is the (py, px) window centred at pixel (y, x) of row i
        self.windows = sliding_window_view(self.padded, (py, px), axis=(-2, -1))

    def take(self, centres: np.ndarray, dtype: Any = None) -> np.ndarray:
        """Patches centred at ``centres`` ``(n, 3)`` (z, y, x): ``(n, py, px)`` (2D) or
        ``(n, pz, py, px)`` (3D), with a channel axis after ``n`` for a source with
        channels. One fancy index on the window view copies just these."""
        z = centres[:, 0]
        if z.size and not self.held[z].all():
            raise IndexError("some centres lie in slices this slab does not hold")
        if not self.volumetric:
            if self.channels is None:
                patches = self.windows[self.row[z], centres[:, 1], centres[:, 2]]
            else:
                patches = self.windows[self.row[z], :, centres[:, 1], centres[:, 2]]
        else:
            reach = z[:, None] + self.offsets[None, :]
            if self.mirrored:
                reach = _reflect(reach, self.nz)
            else:
                reach = np.where((reach < 0) | (reach >= self.nz), self.nz, reach)
            if self.channels is None:
                patches = self.windows[self.row[reach], centres[:, 1:2], centres[:, 2:3]]
            else:  # advanced indices first: (n, pz, C, py, px) -> (n, C, pz, py, px)
                patches = self.windows[self.row[reach], :, centres[:, 1:2], centres[:, 2:3]]
                patches = patches.transpose(0, 2, 1, 3, 4)
        if dtype is not None:
            patches = patches.astype(dtype, copy=False)
        return patches


def extract_patches(source: Any, centres: np.ndarray, patchsize: PatchSize,
                    mirrored: bool = True, *, channel_axis: int | None = None) -> np.ndarray:
    """Float32 patches centred at ``centres`` ``(n, 3)`` (z, y, x).

    ``(n, p, p)`` for an int ``patchsize`` (2D patches within slices), ``(n, pz, py,
    px)`` for ``(pz, py, px)``. A convenience for a few centres: pads every slice
    the centres touch. ``source`` is a 2D image (use ``z = 0``) or a ``(Z, Y, X)``
    volume; with ``channel_axis`` the patches get a channel axis after ``n``.
    """
    src = source if isinstance(source, SliceSource) else SliceSource(
        source, "source", channel_axis)
    patchsize = check_patchsize(patchsize, src.shape if src.ndim == 3 else src.shape[1:])
    centres = np.asarray(centres)
    if centres.dtype.kind not in "iu" and centres.size:
        raise ArgumentTypeError(
            f"centres must be integer pixel positions (z, y, x), got dtype {centres.dtype}")
    centres = centres.astype(np.intp).reshape(-1, 3)
    bounds = np.array(src.shape)
    if centres.size and (centres.min() < 0 or (centres >= bounds).any()):
        raise IndexError(f"centres must lie inside the volume of shape {src.shape}")
    slab = SlabPatches(src, np.unique(centres[:, 0]).tolist(), patchsize, mirrored)
    return slab.take(centres, np.float32)


class patch_generator:  # noqa: N801 - the original's public name
    """Extract float32 patches from a slice or a volume: square 2D patches within each
    slice for an int ``patchsize`` (the original's), 3D patches for ``(pz, py, px)``.

    A patch is centred at every True pixel of ``binary_mask`` (at every pixel
    without a mask); for an even ``patchsize`` the centre pixel sits at index
    ``patchsize // 2`` of the patch. Iterating yields one ``(patchsize,
    patchsize)`` patch at a time; :meth:`batches` yields ``(n, patchsize,
    patchsize)`` arrays, gathered in one step from strided views (faster).

    Parameters
    ----------
    patchsize : int
        Edge size of the square patches, at most ``2 * min(Y, X) + 1``.
    source : array-like
        A 2D slice ``(Y, X)`` or a volume in napari's ``(Z, Y, X)`` order (the
        original took ``(Y, X, Z)``). Patches are 2D, taken within each slice.
        numpy, h5py, zarr and dask arrays are read slice by slice.
    binary_mask : array-like, optional
        Same shape as ``source``; extract patches only where it is True.
    random_order : bool
        Randomise the order of extraction (see :func:`plan_patches`).
    mirrored : bool
        At the edges, mirror the image (symmetric reflection); else zero-pad.
    max_num : int, optional
        Stop after this many patches (a random subset with ``random_order``).
    mode : {'pixel', 'grid'}
        Keyword only. ``'grid'``: patches at the points of a regular grid of
        spacing ``stride`` (where the mask is True, with a mask).
    stride, grid_offset : int or (int, int), optional
        Keyword only. Grid spacing (default ``patchsize``) and first grid point.
    rng : int or numpy.random.Generator, optional
        Keyword only. Seed or generator for the random order.
    batch_size : int
        Keyword only. Default number of patches per batch of :meth:`batches`.
    channel_axis : int, optional
        Keyword only. The axis of ``source`` holding channels: patches are then
        ``(C, p, p)`` (or ``(C, pz, py, px)``).

    Attributes
    ----------
    plan : PatchPlan
        The planned centres.
    centres : numpy.ndarray
        ``(len(self), 3)`` int32 patch centres ``(z, y, x)`` in yield order
        (``z == 0`` for a 2D source).
    """

    def __init__(self, patchsize: PatchSize, source: Any, binary_mask: Any = None,
                 random_order: bool = False, mirrored: bool = True,
                 max_num: int | None = None, *, mode: str = "pixel",
                 stride: int | tuple[int, int] | None = None,
                 grid_offset: int | tuple[int, int] | None = None,
                 rng: RNGLike = None, batch_size: int = 256,
                 shuffle_block: int | None = None, channel_axis: int | None = None) -> None:
        self.source = SliceSource(source, "source", channel_axis)
        self.plan: PatchPlan = plan_patches(
            source, patchsize, binary_mask, mode=mode, stride=stride,
            grid_offset=grid_offset, max_num=max_num, random_order=random_order,
            shuffle_block=shuffle_block, rng=rng, binary=binary_mask is not None,
            channel_axis=channel_axis)
        self.patchsize = self.plan.patchsize
        self.mirrored = bool(mirrored)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self._class = self.plan.classes[0]
        self._pass: Iterator[np.ndarray] | None = None

    @property
    def centres(self) -> np.ndarray:
        return self.plan.centres[self._class]

    def __len__(self) -> int:
        return self.plan.total

    def batches(self, batch_size: int | None = None, with_centres: bool = False
                ) -> Iterator[np.ndarray | tuple[np.ndarray, np.ndarray]]:
        """Yield float32 batches ``(n, patchsize, patchsize)`` in order.

        With ``with_centres``, yield ``(patches, centres)`` with centres ``(n, 3)``.
        Batches do not cross slice blocks, so some are shorter than ``batch_size``.
        """
        size = self.batch_size if batch_size is None else check_positive_int(
            batch_size, "batch_size")
        slab, slab_index = None, -1
        centres = self.centres
        for block, _cls, start, stop in iter_plan_chunks(self.plan, size):
            if block != slab_index:
                slab = None  # free the previous slices first
                slab = SlabPatches(self.source, self.plan.blocks[block], self.patchsize,
                                   self.mirrored)
                slab_index = block
            c = centres[start:stop]
            assert slab is not None  # made for the first block
            patches = slab.take(c, np.float32)
            yield (patches, c) if with_centres else patches

    def __iter__(self) -> Iterator[np.ndarray]:
        for batch in self.batches():
            yield from batch

    def __next__(self) -> np.ndarray:
        if self._pass is None:
            self._pass = iter(self)
        return next(self._pass)
