"""A picklable augmentation preprocessor for :func:`napari_datatools.io.data_flow`."""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from typing import Any

import numpy as np


class AugmentPreprocessor:
    """Augment the patches of a ``data_flow`` batch, one new random sample per patch.

    Parameters
    ----------
    seed : int
        Seed of the augmentation draws. In a worker process of ``data_flow`` it is
        combined with the worker's own seed (``data_flow`` seeds numpy's global
        random state differently in every process), so workers never draw the
        same augmentations and a run stays reproducible.
    image_index : int
        Position in the batch of the image patches, shaped (n, channels, y, x).
    mask_index : int or None
        Position of the label patches cut at the same places (transformed with the
        same sample, nearest-neighbour so label values are kept), or None.
    **transform_kwargs
        Arguments of :func:`~napari_datatools.data_augmentation.image_random_transform`
        (rotation_range, zoom_range, fill_mode, spline_warp, ...).

    Examples
    --------
    >>> pre = AugmentPreprocessor(seed=0, rotation_range=15, horizontal_flip=True)
    >>> x = np.zeros((4, 1, 32, 32), np.float32)
    >>> pre((x, np.arange(4)))[0].shape
    (4, 1, 32, 32)
    """

    def __init__(
        self,
        seed: int = 0,
        image_index: int = 0,
        mask_index: int | None = None,
        **transform_kwargs: Any,
    ) -> None:
        from ..data_augmentation import image_random_transform  # lazy: OpenCV, scipy

        if mask_index is not None and mask_index == image_index:
            raise ValueError(f"mask_index must differ from image_index, both are {image_index}")
        # Fail now, in the caller, on arguments the transform would reject.
        crop = transform_kwargs.get("crop_size") or (8, 8)
        size = (max(8, int(crop[0])), max(8, int(crop[1])))
        image_random_transform(np.zeros((1,) + size, np.float32), **transform_kwargs, rng=0)
        self.seed = int(seed)
        self.image_index = int(image_index)
        self.mask_index = None if mask_index is None else int(mask_index)
        self.transform_kwargs = dict(transform_kwargs)
        self._rng: np.random.Generator | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_rng"] = None  # every process starts its own stream
        return state

    def _generator(self) -> np.random.Generator:
        if self._rng is None:
            in_worker = multiprocessing.parent_process() is not None
            # data_flow seeds numpy's global state in each worker: read it on purpose
            worker = int(np.random.randint(0, 2**31 - 1)) if in_worker else 0  # noqa: NPY002
            self._rng = np.random.default_rng([self.seed, worker])
        return self._rng

    def __call__(self, batch: Sequence[Any]) -> tuple[Any, ...]:
        """Return the batch with its images (and masks) augmented.

        2D patches ``(n, C, y, x)`` get the 2D transform, 3D patches ``(n, C, z, y,
        x)`` the volume transform with the same settings (see :func:`volume_kwargs`).
        """
        from ..data_augmentation import image_stack_random_transform

        out = list(batch)
        x = np.asarray(out[self.image_index])
        y = None if self.mask_index is None else np.asarray(out[self.mask_index])
        if x.ndim == 5:
            result = self._volumes(x, y)
        else:
            result = image_stack_random_transform(
                x, y=y, channel_axis=1, rng=self._generator(), **self.transform_kwargs
            )
        if self.mask_index is None:
            out[self.image_index] = result
        else:
            out[self.image_index], out[self.mask_index] = result
        return tuple(out)

    def _volumes(self, x: np.ndarray, y: np.ndarray | None) -> Any:
        """Each 3D patch (and its label patch) with its own volume transform."""
        from ..data_augmentation import volume_random_transform

        kwargs = volume_kwargs(self.transform_kwargs)
        rng = self._generator()
        xs, ys = [], []
        for i in range(len(x)):
            if y is None:
                xs.append(volume_random_transform(x[i], rng=rng, **kwargs))
            else:
                xi, yi = volume_random_transform(x[i], y[i], rng=rng, **kwargs)
                xs.append(xi)
                ys.append(yi)
        images = np.stack(xs) if xs else x.copy()
        if y is None:
            return images
        return images, (np.stack(ys) if ys else y.copy())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.transform_kwargs.items())
        return (f"AugmentPreprocessor(seed={self.seed}, image_index={self.image_index}, "
                f"mask_index={self.mask_index}, {args})")


def volume_kwargs(transform_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The recipe's (2D) augmentation settings as ``volume_random_transform`` arguments.

    Rotation, shear and zoom apply about all three axes; the shift range is the
    larger of the width and height ranges, on every axis; horizontal and vertical
    flips flip X and Y; the crop (a 2D size) is not applied to volumes.
    """
    k = transform_kwargs
    shift = max(float(k.get("width_shift_range", 0.0)), float(k.get("height_shift_range", 0.0)))
    flips = tuple(axis for axis, key in ((1, "vertical_flip"), (2, "horizontal_flip"))
                  if k.get(key))
    out = {"rotation_range": k.get("rotation_range", 0.0), "shift_range": shift,
           "shear_range": k.get("shear_range", 0.0), "flip_axes": flips}
    zoom = k.get("zoom_range", 0.0)
    out["zoom_range"] = (1.0 - zoom, 1.0 + zoom) if np.ndim(zoom) == 0 else tuple(zoom)
    for key in ("intensity_shift_range", "spline_warp", "warp_sigma", "warp_grid_size",
                "fill_mode", "cval_x", "cval_y", "order"):
        if key in k:
            out[key] = k[key]
    return out
