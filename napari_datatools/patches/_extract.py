"""Vectorised patch extraction from padded slices through strided window views."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

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


class SlabPatches:
    """Padded copies of a few slices, from which patches are gathered in one step.

    Parameters
    ----------
    source : SliceSource
        The volume (or mask) to read slices from.
    slices : sequence of int
        Slice indices to hold.
    patchsize : int
        Patch edge length.
    mirrored : bool
        Mirror (symmetric reflection) at the edges, else pad with zeros.
    """

    def __init__(self, source: SliceSource, slices: Sequence[int], patchsize: int,
                 mirrored: bool = True) -> None:
        ny, nx = source.shape[1:]
        before, after = pad_widths(patchsize)
        slices = [int(z) for z in slices]
        self.patchsize = patchsize
        self.padded = np.empty((len(slices), ny + before + after, nx + before + after),
                               dtype=source.dtype)
        self.position = np.full(source.shape[0], -1, np.intp)
        for i, z in enumerate(slices):
            self.padded[i] = pad_slice(source.read(z), patchsize, mirrored)
            self.position[z] = i
        # windows[i, y, x] is the patch centred at pixel (y, x) of slice slices[i]
        self.windows = sliding_window_view(self.padded, (patchsize, patchsize), axis=(1, 2))

    def take(self, centres: np.ndarray, dtype=None) -> np.ndarray:
        """Patches ``(n, patchsize, patchsize)`` centred at ``centres`` ``(n, 3)`` (z, y, x).

        One fancy index on the window view copies just these patches.
        """
        zi = self.position[centres[:, 0]]
        if zi.size and zi.min() < 0:
            raise IndexError("some centres lie in slices this slab does not hold")
        patches = self.windows[zi, centres[:, 1], centres[:, 2]]
        if dtype is not None:
            patches = patches.astype(dtype, copy=False)
        return patches


def extract_patches(source, centres: np.ndarray, patchsize: int,
                    mirrored: bool = True) -> np.ndarray:
    """Float32 patches ``(n, patchsize, patchsize)`` centred at ``centres`` (z, y, x).

    A convenience for a few centres: pads every slice the centres touch.
    ``source`` is a 2D image (use ``z = 0``) or a ``(Z, Y, X)`` volume.
    """
    src = source if isinstance(source, SliceSource) else SliceSource(source)
    centres = np.asarray(centres, dtype=np.intp).reshape(-1, 3)
    bounds = np.array(src.shape)
    if centres.size and (centres.min() < 0 or (centres >= bounds).any()):
        raise IndexError(f"centres must lie inside the volume of shape {src.shape}")
    slab = SlabPatches(src, np.unique(centres[:, 0]), patchsize, mirrored)
    return slab.take(centres, np.float32)
