"""Turn a recipe into the objects it describes: sources, previews, patch plans.

The widgets call exactly these functions, and :func:`to_script` writes code that
calls the same public API, so the GUI, a script loading the recipe and the
exported script produce the same arrays for the same seed.

The readers, augmentation and patch subpackages are imported inside the builders:
``import napari_datatools.recipe`` stays free of h5py, zarr, blosc2 and OpenCV.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_non_negative_int
from ..errors import RecipeError
from ._cases import Case, SourceRef, recipe_cases, validation_cases
from ._model import ArraySource, AugmentConfig, Recipe
from ._preprocessor import volume_kwargs


def augment_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of preview sample ``index`` for augmentation ``seed``."""
    return np.random.default_rng([seed, index])


def _open_file(path: str | None, array_name: str | None, where: str, context: str = "") -> Any:
    """Open one array, lazily; RecipeError naming ``where`` (and ``context``) if it fails."""
    from ..readers import open_array

    if path is None:
        raise RecipeError(f"{where}.path{context}: no file given (pass the array instead)")
    if not Path(path).exists():
        raise RecipeError(f"{where}.path{context}: file {path!r} does not exist")
    try:
        return open_array(path, array_name)
    except (ValueError, OSError) as err:
        field = "array_name" if str(err).startswith("array_name:") else "path"
        message = str(err).removeprefix("array_name: ")
        raise RecipeError(f"{where}.{field}{context}: {message}") from err


def open_source(source: ArraySource, where: str) -> Any:
    """Open the array a source names, lazily (h5py / zarr / blosc2 object...).

    Raises
    ------
    RecipeError
        Naming ``where`` (e.g. ``data.image``) when the file or array is missing.
    """
    return _open_file(source.path, source.array_name, where)


@dataclass
class RecipeData:
    """The cases of a recipe, opened lazily and checked, ready for ``create_dataset``.

    Attributes
    ----------
    cases : list of Case
        Names and sources, in order.
    images, masks : list
        One image per case; one mask per case (the recipe's ``labels`` choice
        applied, see :func:`~napari_datatools.patches.relabel`), or None when the
        cases have no mask.
    channel_axis : int or None
        The images' channel axis.
    val_cases : list of int
        Indices of the cases kept for validation (``split``).
    """

    cases: list[Case]
    images: list[Any]
    masks: list[Any] | None
    channel_axis: int | None
    val_cases: list[int]

    def volume_and_mask(self) -> tuple[Any, Any]:
        """``volume``/``mask`` arguments of ``create_dataset``: arrays for one case, lists
        (one item per case) for several."""
        if len(self.cases) == 1:
            return self.images[0], None if self.masks is None else self.masks[0]
        return list(self.images), None if self.masks is None else list(self.masks)

    def dataset_extras(self) -> dict[str, Any]:
        """``channel_axis`` and ``val_cases`` for ``create_dataset``, when they are set."""
        extras: dict[str, Any] = {}
        if self.channel_axis is not None:
            extras["channel_axis"] = self.channel_axis
        if self.val_cases:
            extras["val_cases"] = list(self.val_cases)
        return extras


def _per_case(value: Any, n: int, what: str) -> list[Any]:
    """``image``/``mask`` of :func:`load_cases` as one entry (or None) per case."""
    if value is None:
        return [None] * n
    if isinstance(value, list | tuple):
        if len(value) != n:
            raise ValueError(f"{what}: {len(value)} arrays given for a recipe of {n} case(s)")
        return list(value)
    if n != 1:
        raise ValueError(f"{what}: one array given for a recipe of {n} cases; pass a list "
                         "(one array or None per case)")
    return [value]


def recipe_channel_axis(recipe: Recipe, cases: list[Case] | None = None) -> int | None:
    """``data.channel_axis``, else the channel axis the first image file states, if any."""
    from ..readers import array_metadata

    if recipe.data.channel_axis is not None:
        return recipe.data.channel_axis
    for case in recipe_cases(recipe) if cases is None else cases:
        if case.image.path is not None:
            try:
                return array_metadata(case.image.path, case.image.array_name).channel_axis
            except (ValueError, OSError, ImportError):
                return None  # opening the case reports the problem
    return None


def class_mask(recipe: Recipe, mask: Any) -> Any:
    """``mask`` with the recipe's label choice applied (``labels.mode``/``labels.mapping``).

    The mapping is used in mode 'mapping' only (a mapping kept while another mode
    is chosen is ignored).
    """
    from ..patches import relabel

    if mask is None:
        return None
    mode = recipe.labels.mode
    mapping = recipe.labels.mapping if mode == "mapping" else None
    try:
        return relabel(mask, mode, mapping)
    except (TypeError, ValueError) as err:
        raise RecipeError(f"labels.mapping: {err}") from err


def _array(ref: SourceRef, case: Case, given: Any, layers: Mapping[str, Any], several: bool
           ) -> Any:
    if given is not None:
        return given
    context = f" (case {case.name!r})" if several else ""
    if ref.path is None and ref.layer is not None:
        if ref.layer in layers:
            return layers[ref.layer]
        raise RecipeError(
            f"{ref.where}{context}: layer {ref.layer!r} is in memory only; save it to a file "
            f"(the Export tab offers to) and set {ref.where}.path, or pass the array")
    return _open_file(ref.path, ref.array_name, ref.where, context)


def _check_case(case: Case, image: Any, mask: Any, channel_axis: int | None,
                several: bool) -> tuple[int | None, tuple[int, ...]]:
    """The channel count and spatial shape of a case; RecipeError naming it and its files."""
    from ..patches._volume import SliceSource

    label = case.label if several else case.where
    try:
        source = SliceSource(image, "image", channel_axis)
    except (TypeError, ValueError) as err:
        raise RecipeError(f"{label}: {case.image.describe()}: {err}") from err
    spatial = source.shape if source.ndim == 3 else source.shape[1:]
    if mask is not None:
        mask_shape = tuple(int(s) for s in np.shape(mask))
        if mask_shape != spatial:
            without = " without its channel axis" if source.channels is not None else ""
            raise RecipeError(
                f"{label}: the mask ({case.mask.describe() if case.mask else 'given'}) has "
                f"shape {mask_shape}, the image ({case.image.describe()}) {spatial}{without}; "
                "a mask must have the image's shape")
    return source.channels, spatial


def load_cases(recipe: Recipe, image: Any = None, mask: Any = None, *,
               layers: Mapping[str, Any] | None = None) -> RecipeData:
    """Open every case of the recipe, lazily, and check them before anything is written.

    Parameters
    ----------
    recipe : Recipe
        Its ``data``, ``labels`` and ``split`` sections are used.
    image, mask : array_like or list, optional
        Arrays that replace the recipe's sources: one array for a one-case recipe,
        or a list with one array (or None: the recipe's source) per case.
    layers : mapping, optional
        ``{layer name: array}`` for sources given as napari layers (the GUI).

    Raises
    ------
    RecipeError
        Naming the case, the field and the file: a missing or unreadable file, a
        mask whose shape differs from its image's, channel counts that differ
        between cases, masks for some cases only, a bad label mapping or split.
    """
    cases = recipe_cases(recipe)
    several = len(cases) > 1
    given_images = _per_case(image, len(cases), "image")
    given_masks = _per_case(mask, len(cases), "mask")
    layers = {} if layers is None else layers
    channel_axis = recipe.data.channel_axis
    if channel_axis is None and any(g is None for g in given_images):
        from_files = [c for c, g in zip(cases, given_images, strict=True) if g is None]
        channel_axis = recipe_channel_axis(recipe, from_files)
    images, masks = [], []
    first: tuple[Case, int | None] | None = None
    for case, given_image, given_mask in zip(cases, given_images, given_masks,
                                                    strict=True):
        image_array = _array(case.image, case, given_image, layers, several)
        mask_array = given_mask if case.mask is None else _array(
            case.mask, case, given_mask, layers, several)
        channels, _ = _check_case(case, image_array, mask_array, channel_axis, several)
        if first is None:
            first = (case, channels)
        elif channels != first[1]:
            def count(c: int | None) -> str:
                return "no channel axis" if c is None else f"{c} channel(s)"
            raise RecipeError(
                f"{case.label}: {case.image.describe()} has {count(channels)}, case "
                f"{first[0].name!r} ({first[0].image.describe()}) has {count(first[1])}; "
                "every case needs the same number of channels")
        images.append(image_array)
        masks.append(mask_array)
    with_mask = [m is not None for m in masks]
    if any(with_mask) and not all(with_mask):
        missing = cases[with_mask.index(False)]
        raise RecipeError(f"{missing.label}: has no mask while other cases have one; give "
                          "every case a mask, or none")
    val_cases = validation_cases(recipe, cases)
    class_masks = [class_mask(recipe, m) for m in masks] if all(with_mask) else None
    return RecipeData(cases, images, class_masks, channel_axis, val_cases)


def load_sources(recipe: Recipe, image: Any = None, mask: Any = None, *,
                 layers: Mapping[str, Any] | None = None) -> tuple[Any, Any]:
    """The image volume and mask of a recipe: given arrays win over the recipe's files.

    The mask has the recipe's label choice applied. For a recipe of several cases
    both are lists (one item per case; masks None without masks). See
    :func:`load_cases` for the arguments and the checks.
    """
    return load_cases(recipe, image, mask, layers=layers).volume_and_mask()


def case_slice(image: Any, mask: Any = None, z: int | None = None,
               channel_axis: int | None = None, *, argument: str = "z"
               ) -> tuple[np.ndarray, np.ndarray | None]:
    """Slice ``z`` of a case (the middle one by default), read into memory.

    Returns
    -------
    image2d, mask2d
        The image slice, (Y, X), or (C, Y, X) with a ``channel_axis``; the mask
        slice (Y, X), or None without a mask.

    Raises
    ------
    ValueError
        If the image is not a 2D image or a (Z, Y, X) volume (plus its channel
        axis), or ``z`` (called ``argument`` in the message) is out of range.
    """
    shape = tuple(int(s) for s in np.shape(image))
    axes = list(range(len(shape)))
    channel = None
    if channel_axis is not None:
        if not -len(shape) <= channel_axis < len(shape):
            raise ValueError(f"channel_axis {channel_axis} is out of range for an image of "
                             f"shape {shape}")
        channel = channel_axis % len(shape)
        axes.remove(channel)
    if len(axes) not in (2, 3):
        with_c = " plus a channel axis" if channel is not None else ""
        raise ValueError(f"the image must be a 2D image or a (Z, Y, X) volume{with_c}, "
                         f"got shape {shape}")
    key: list[Any] = [slice(None)] * len(shape)
    if len(axes) == 3:
        depth = shape[axes[0]]
        z = depth // 2 if z is None else z
        if not 0 <= z < depth:
            raise ValueError(f"{argument} must be in [0, {depth - 1}], got {z}")
        key[axes[0]] = z
    image2d = np.asarray(image[tuple(key)])
    if channel is not None:
        image2d = np.moveaxis(image2d, channel - (len(axes) == 3 and axes[0] < channel), 0)
    if mask is None:
        return image2d, None
    mask2d = np.asarray(mask[z]) if len(np.shape(mask)) == 3 and len(axes) == 3 else (
        np.asarray(mask))
    return image2d, mask2d


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


def plan_from_recipe(recipe: Recipe, volume: Any, mask: Any = None, *,
                     channel_axis: int | None = None) -> Any:
    """The :class:`~napari_datatools.patches.PatchPlan` of the recipe's patch settings.

    ``channel_axis`` defaults to ``data.channel_axis``.
    """
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
        channel_axis=recipe.data.channel_axis if channel_axis is None else channel_axis,
    )


def plan_recipe_cases(recipe: Recipe, *, layers: Mapping[str, Any] | None = None,
                      stop: Any = None) -> list[Any]:
    """The :class:`~napari_datatools.patches.PatchPlan` of every case of the recipe.

    The same plans :func:`run_dataset` writes (same draws: ``max_per_class`` is
    shared across the cases); reads every case's mask. ``layers`` gives the arrays
    of cases that name napari layers; ``stop``, a callable, ends the planning early
    (``patches.PlanCancelled``).
    """
    from ..patches._plan import check_plan_arguments, plan_cases

    data = load_cases(recipe, layers=layers)
    p = recipe.patches
    masks = data.masks if data.masks is not None else [None] * len(data.images)
    requests = [
        check_plan_arguments(
            image, p.patchsize, mask, p.class_list, mode=p.mode,
            stride=p.stride if p.mode == "grid" else None, max_per_class=p.max_per_class,
            random_order=p.random_order, channel_axis=data.channel_axis)
        for image, mask in zip(data.images, masks, strict=True)]
    return plan_cases(requests, p.seed, stop)


def estimate_dataset_bytes(recipe: Recipe, plan: Any, mask_dtype: Any = np.uint8) -> int:
    """Uncompressed bytes the dataset of ``plan`` takes (an upper bound when compressed)."""
    return int(plan.nbytes(save_labels=recipe.output.save_labels, label_dtype=mask_dtype))


#: Transform arguments that only say how to resample (not drawn from the random stream).
RESAMPLING_ARGS = ("fill_mode", "cval_x", "cval_y", "order")


def volume_box(shape: tuple[int, ...], z: int, max_voxels: int) -> tuple[slice, ...]:
    """The part of a ``(Z, Y, X)`` volume the volume preview augments: all of it when it
    has at most ``max_voxels`` voxels, else a box of at most that many around slice ``z``
    (and the middle in Y and X), its longest sides shortened first."""
    sides = [int(n) for n in shape]
    while int(np.prod(sides)) > max_voxels and max(sides) > 1:
        i = int(np.argmax(sides))
        sides[i] -= max(1, sides[i] // 10)
    centre = (int(z), shape[1] // 2, shape[2] // 2)
    starts = [min(max(0, c - s // 2), n - s) for c, s, n in zip(centre, sides, shape,
                                                                 strict=True)]
    return tuple(slice(a, a + s) for a, s in zip(starts, sides, strict=True))


def volume_sample(recipe: Recipe, volume: Any, mask: Any = None, index: int = 0
                  ) -> tuple[np.ndarray, np.ndarray | None, Any]:
    """Augmentation sample ``index`` of a ``(Z, Y, X)`` volume (and its mask) in 3D.

    Equal to ``volume_random_transform(volume[None], mask[None], **volume_kwargs(
    recipe.augment.transform_kwargs()), rng=augment_rng(seed, index))`` (the loader's
    transform of 3D patches, see :func:`~napari_datatools.recipe._preprocessor.
    volume_kwargs`), without the channel axes.

    Returns
    -------
    image, mask, params
        The augmented volume, its mask (None without one) and the sampled
        :class:`~napari_datatools.data_augmentation.VolumeTransformParams`.
    """
    from ..data_augmentation import sample_volume_transform, volume_random_transform

    seed = recipe.augment.seed
    kwargs = volume_kwargs(recipe.augment.transform_kwargs())
    x = np.asarray(volume)
    if x.ndim != 3:
        raise ValueError(f"volume must be a (Z, Y, X) volume, got shape {x.shape}")
    sampled = {k: v for k, v in kwargs.items() if k not in RESAMPLING_ARGS}
    params = sample_volume_transform(x.shape, **sampled, n_channels=1,
                                     rng=augment_rng(seed, index))  # what the call draws
    if mask is None:
        out = volume_random_transform(x[None], **kwargs, rng=augment_rng(seed, index))
        return out[0], None, params
    out, out_mask = volume_random_transform(x[None], np.asarray(mask)[None], **kwargs,
                                            rng=augment_rng(seed, index))
    return out[0], out_mask[0], params
