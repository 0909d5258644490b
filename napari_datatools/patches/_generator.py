"""``patch_generator``: patches of a slice or volume, one at a time or in batches."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from ._extract import SlabPatches
from ._plan import PatchPlan, iter_plan_chunks, plan_patches
from ._volume import SliceSource


class patch_generator:  # noqa: N801 - the original's public name
    """Extract square 2D float32 patches from a slice or a volume.

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

    Attributes
    ----------
    plan : PatchPlan
        The planned centres.
    centres : numpy.ndarray
        ``(len(self), 3)`` int32 patch centres ``(z, y, x)`` in yield order
        (``z == 0`` for a 2D source).
    """

    def __init__(self, patchsize: int, source: Any, binary_mask: Any = None,
                 random_order: bool = False, mirrored: bool = True,
                 max_num: int | None = None, *, mode: str = "pixel",
                 stride: int | tuple[int, int] | None = None,
                 grid_offset: int | tuple[int, int] | None = None,
                 rng: Any = None, batch_size: int = 256,
                 shuffle_block: int | None = None) -> None:
        self.source = SliceSource(source, "source")
        self.plan: PatchPlan = plan_patches(
            source, patchsize, binary_mask, mode=mode, stride=stride,
            grid_offset=grid_offset, max_num=max_num, random_order=random_order,
            shuffle_block=shuffle_block, rng=rng, binary=binary_mask is not None)
        self.patchsize = self.plan.patchsize
        self.mirrored = bool(mirrored)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = int(batch_size)
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
        size = self.batch_size if batch_size is None else int(batch_size)
        if size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        slab, slab_index = None, -1
        centres = self.centres
        for block, _cls, start, stop in iter_plan_chunks(self.plan, size):
            if block != slab_index:
                slab = None  # free the previous slices first
                slab = SlabPatches(self.source, self.plan.blocks[block], self.patchsize,
                                   self.mirrored)
                slab_index = block
            c = centres[start:stop]
            patches = slab.take(c, np.float32)
            yield (patches, c) if with_centres else patches

    def __iter__(self) -> Iterator[np.ndarray]:
        for batch in self.batches():
            yield from batch

    def __next__(self) -> np.ndarray:
        if self._pass is None:
            self._pass = iter(self)
        return next(self._pass)
