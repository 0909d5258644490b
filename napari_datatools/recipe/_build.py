"""Turn a recipe into the objects it describes: sources, previews, patch plans.

The widgets call exactly these functions, and :func:`to_script` writes code that
calls the same public API, so the GUI, a script loading the recipe and the
exported script produce the same arrays for the same seed.

The readers, augmentation and patch subpackages are imported inside the builders:
``import napari_datatools.recipe`` stays free of h5py, zarr, blosc2 and OpenCV.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_non_negative_int
from ..errors import RecipeError
from ._model import ArraySource, AugmentConfig, Recipe


def augment_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of preview sample ``index`` for augmentation ``seed``."""
    return np.random.default_rng([seed, index])


def open_source(source: ArraySource, where: str) -> Any:
    """Open the array a source names, lazily (h5py / zarr / blosc2 object).

    Raises
    ------
    RecipeError
        Naming ``where`` (e.g. ``data.image``) when the file or array is missing.
    """
    from ..readers import open_array

    if source.path is None:
        raise RecipeError(f"{where}.path: no file given (pass the array instead)")
    if not Path(source.path).exists():
        raise RecipeError(f"{where}.path: file {source.path!r} does not exist")
    try:
        return open_array(source.path, source.array_name)
    except ValueError as err:
        field = "array_name" if str(err).startswith("array_name:") else "path"
        message = str(err).removeprefix("array_name: ")
        raise RecipeError(f"{where}.{field}: {message}") from err


def load_sources(recipe: Recipe, image: Any = None, mask: Any = None) -> tuple[Any, Any]:
    """The image volume and mask of a recipe: given arrays win over the recipe's files."""
    if image is None:
        image = open_source(recipe.data.image, "data.image")
    if mask is None and recipe.data.mask.path is not None:
        mask = open_source(recipe.data.mask, "data.mask")
    return image, mask


def sample_kwargs(config: AugmentConfig) -> dict[str, Any]:
    """Arguments of :func:`~napari_datatools.data_augmentation.sample_transform`."""
    kwargs = config.transform_kwargs()
    for name in ("fill_mode", "cval_x", "cval_y", "order"):
        kwargs.pop(name)
    return kwargs


def preview_sample(
    recipe: Recipe, image2d: Any, mask2d: Any = None, index: int = 0
) -> tuple[np.ndarray, np.ndarray | None, Any]:
    """Augmentation sample ``index`` of a 2D slice (and its mask).

    Equal to ``image_random_transform(image2d[None], mask2d[None],
    **recipe.augment.transform_kwargs(), rng=numpy.random.default_rng([seed, index]))``.

    Returns
    -------
    image, mask, params
        The augmented slice, the augmented mask (None without a mask) and the
        sampled :class:`~napari_datatools.data_augmentation.TransformParams`.
    """
    from ..data_augmentation import apply_transform, sample_transform

    index = check_non_negative_int(index, "index")
    cfg = recipe.augment
    x = np.asarray(image2d)
    if x.ndim != 2:
        raise ValueError(f"image2d must be a 2D slice (Y, X), got shape {x.shape}")
    params = sample_transform(x.shape, **sample_kwargs(cfg), rng=augment_rng(cfg.seed, index))
    out = apply_transform(
        params, x[None], kind="image", order=cfg.order, fill_mode=cfg.fill_mode, cval=cfg.cval_x
    )[0]
    if mask2d is None:
        return out, None, params
    y = np.asarray(mask2d)
    if y.shape != x.shape:
        raise ValueError(f"mask2d must have the shape of image2d {x.shape}, got {y.shape}")
    out_mask = apply_transform(
        params, y[None], kind="mask", fill_mode=cfg.fill_mode, cval=cfg.cval_y
    )[0]
    return out, out_mask, params


def plan_from_recipe(recipe: Recipe, volume: Any, mask: Any = None) -> Any:
    """The :class:`~napari_datatools.patches.PatchPlan` of the recipe's patch settings."""
    from ..patches import plan_patches

    p = recipe.patches
    return plan_patches(
        volume,
        p.patchsize,
        mask,
        p.class_list,
        mode=p.mode,
        stride=p.stride if p.mode == "grid" else None,
        max_per_class=p.max_per_class,
        random_order=p.random_order,
        rng=p.seed,
    )


def estimate_dataset_bytes(recipe: Recipe, plan: Any, mask_dtype: Any = np.uint8) -> int:
    """Uncompressed bytes the dataset of ``plan`` takes (an upper bound when compressed)."""
    return int(plan.nbytes(save_labels=recipe.output.save_labels, label_dtype=mask_dtype))


