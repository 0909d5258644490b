"""Synthetic microscopy-like sample volume with a matching 3-class label mask
(``napari_datatools.sample_volume``, and napari's File > Open Sample)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi

from ._checks import check_non_negative_int, check_positive_int
from .errors import ArgumentTypeError

#: Label values of the sample mask (0 is background).
SAMPLE_CLASSES = {1: "nucleus", 2: "elongated cell", 3: "vesicle"}


def _place_ellipsoids(
    labels: np.ndarray,
    signal: np.ndarray,
    rng: np.random.Generator,
    count: int,
    radii: tuple[float, float],
    elongation: float,
    label: int,
    brightness: float,
) -> None:
    """Paint ``count`` randomly oriented ellipsoids into ``labels`` and ``signal``."""
    nz, ny, nx = labels.shape
    for _ in range(count):
        r = rng.uniform(*radii)
        axes = np.array([max(r * 0.6, 2.0), r, r * elongation])
        angle = rng.uniform(0, np.pi)
        cz, cy, cx = rng.uniform(0, nz), rng.uniform(0, ny), rng.uniform(0, nx)
        ext = axes.max() + 1
        z0, z1 = int(max(cz - axes[0] - 1, 0)), int(min(cz + axes[0] + 2, nz))
        y0, y1 = int(max(cy - ext, 0)), int(min(cy + ext + 1, ny))
        x0, x1 = int(max(cx - ext, 0)), int(min(cx + ext + 1, nx))
        if z0 >= z1 or y0 >= y1 or x0 >= x1:
            continue
        z, y, x = np.ogrid[z0:z1, y0:y1, x0:x1]
        dy, dx = y - cy, x - cx
        u = dy * np.cos(angle) + dx * np.sin(angle)
        v = -dy * np.sin(angle) + dx * np.cos(angle)
        d2 = ((z - cz) / axes[0]) ** 2 + (u / axes[1]) ** 2 + (v / axes[2]) ** 2
        inside = d2 <= 1.0
        box = labels[z0:z1, y0:y1, x0:x1]
        box[inside] = label
        # brighter towards the centre, like a stained nucleus
        sig = signal[z0:z1, y0:y1, x0:x1]
        np.maximum(sig, brightness * np.clip(1.2 - 0.6 * d2, 0, 1) * inside, out=sig)


def sample_volume(
    shape: tuple[int, int, int] = (32, 256, 256), seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic synthetic cell volume and its label mask, to try things on.

    Parameters
    ----------
    shape : tuple of int
        Volume shape in napari's (Z, Y, X) order; the number of cells scales with Y * X.
    seed : int
        Seed of the generator; the same shape and seed give the same arrays.

    Returns
    -------
    volume : numpy.ndarray
        float32 intensities in [0, 1]: textured, blurred cells with noise.
    mask : numpy.ndarray
        uint8 labels, 0 background and the classes 1, 2, 3 of ``SAMPLE_CLASSES``
        (nuclei, elongated cells, vesicles).

    Raises
    ------
    ArgumentTypeError
        If ``shape`` is not a sequence of integers or ``seed`` not an integer.
    ValueError
        If ``shape`` is not three integers >= 1, or ``seed`` is negative.

    Examples
    --------
    >>> from napari_datatools import sample_volume
    >>> volume, mask = sample_volume(shape=(4, 64, 64), seed=1)
    >>> volume.shape, volume.dtype.name, mask.dtype.name
    ((4, 64, 64), 'float32', 'uint8')
    """
    if not isinstance(shape, Sequence) or isinstance(shape, str):
        raise ArgumentTypeError(f"shape must be a tuple of three integers (Z, Y, X), got {shape!r}")
    if len(shape) != 3:
        raise ValueError(f"shape must be three positive integers (Z, Y, X), got {shape!r}")
    shape = (
        check_positive_int(shape[0], "shape[0]"),
        check_positive_int(shape[1], "shape[1]"),
        check_positive_int(shape[2], "shape[2]"),
    )
    rng = np.random.default_rng(check_non_negative_int(seed, "seed"))
    area = shape[1] * shape[2] / 256**2
    labels = np.zeros(shape, np.uint8)
    signal = np.zeros(shape, np.float32)
    _place_ellipsoids(labels, signal, rng, int(70 * area), (10, 16), 1.0, 1, 0.8)
    _place_ellipsoids(labels, signal, rng, int(30 * area), (6, 9), 2.6, 2, 0.5)
    _place_ellipsoids(labels, signal, rng, int(220 * area), (2, 3.5), 1.0, 3, 1.0)
    # texture: smooth multiplicative noise, then optical blur and camera noise
    texture = ndi.gaussian_filter(rng.standard_normal(shape, np.float32), (1, 2, 2))
    image = signal * np.clip(1.0 + 4.0 * texture, 0.2, None)
    image = ndi.gaussian_filter(image, (0.8, 1.2, 1.2))
    image += 0.08 + 0.03 * rng.standard_normal(shape, np.float32)
    np.clip(image, 0, None, out=image)
    image /= image.max()
    return image.astype(np.float32, copy=False), labels


def make_sample_volume() -> list[tuple]:
    """napari sample-data contribution: the synthetic volume and its labels (their class
    names in the Labels layer's features, as napari shows them under the cursor)."""
    image, labels = sample_volume()
    names = {"index": [0, *SAMPLE_CLASSES], "name": ["background", *SAMPLE_CLASSES.values()]}
    return [
        (image, {"name": "cells", "colormap": "gray"}, "image"),
        (labels, {"name": "cells labels", "opacity": 0.4, "features": names}, "labels"),
    ]
