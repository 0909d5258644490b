"""From a written patch dataset to a training loader: sources, preprocessor, data_flow."""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import RecipeError
from ..io._stored_dataset import ClassArrays, open_patch_dataset
from ..wrap import delayed_view
from ._model import Recipe
from ._preprocessor import AugmentPreprocessor


@dataclass(frozen=True)
class PatchDatasetSources:
    """The arrays of a dataset written by ``create_dataset``, in class order.

    Attributes
    ----------
    classes : list
        Class values (mask values), sorted.
    images : list
        The ``class_<v>`` arrays, (n, 1, p, p) each, opened lazily.
    labels : list or None
        The ``class_<v>_labels`` arrays when every class has them, else None.
    """

    classes: list[Any]
    images: list[Any]
    labels: list[Any] | None


def dataset_sources(path: str | os.PathLike, split: str | None = None) -> PatchDatasetSources:
    """Open the class arrays (and label patches) of a patch dataset, lazily.

    Only the written part is read, aligned across each class's arrays: after a
    cancelled or killed run the arrays may be longer than what was written, or
    unequal. Such a dataset is read with a ``UserWarning`` saying so.

    Parameters
    ----------
    path : str or os.PathLike
        The dataset (what ``create_dataset`` returned as ``result.path``).
    split : {None, 'train', 'val'}
        For a dataset of several cases written with ``val_cases``: only the
        patches of the training cases, or of the validation cases.

    Raises
    ------
    ValueError
        If ``path`` is unreadable or holds no ``class_<value>`` array, or ``split``
        is asked of a dataset without cases or validation cases.
    """
    if split not in (None, "train", "val"):
        raise ValueError(f"split must be None, 'train' or 'val', got {split!r}")
    stored = open_patch_dataset(path)
    if not stored.complete:
        counts = ", ".join(f"class {v}: {c.written}" for v, c in stored.classes.items())
        warnings.warn(
            f"{os.fspath(path)!r} is incomplete (its run was cancelled or stopped); "
            f"reading the patches written before that ({counts})", UserWarning, stacklevel=2)
    val_cases = _val_cases(stored.attrs, path) if split is not None else None
    classes = list(stored.classes)

    def part(c: ClassArrays, role: str) -> Any:
        array = c.arrays[role]
        if val_cases is None:
            return array if int(array.shape[0]) == c.written else delayed_view(
                array, idx_max=c.written)
        if "case" not in c.arrays:
            raise ValueError(f"split: {os.fspath(path)!r} has no case indices "
                             f"({c.names['patches']}_case); it was written from one volume")
        in_val = np.isin(np.asarray(c.arrays["case"][: c.written]), val_cases)
        keep = np.flatnonzero(in_val if split == "val" else ~in_val)
        view = delayed_view(array, idx_max=c.written)
        view.index_pairs = np.stack([np.zeros_like(keep), keep], axis=1)
        return view

    images = [part(c, "patches") for c in stored.classes.values()]
    with_labels = all("labels" in c.arrays for c in stored.classes.values())
    labels = [part(c, "labels") for c in stored.classes.values()] if with_labels else None
    return PatchDatasetSources(classes, images, labels)


def _val_cases(attrs: dict[str, Any], path: str | os.PathLike) -> list[int]:
    """The ``val_cases`` dataset attribute (a JSON list), or a ValueError saying it is missing."""
    text = attrs.get("val_cases")
    if text is None:
        raise ValueError(f"split: {os.fspath(path)!r} records no validation cases (write it "
                         "with create_dataset(..., val_cases=[...]) or a recipe split)")
    return [int(i) for i in (json.loads(text) if isinstance(text, str) else text)]


def build_preprocessor(recipe: Recipe, with_masks: bool = False) -> AugmentPreprocessor:
    """The recipe's augmentation as a picklable ``data_flow`` preprocessor.

    Batches are ``(images, labels)``, or ``(images, masks, labels)`` with
    ``with_masks``; every patch gets its own sample, masks the same one as
    their image.
    """
    return AugmentPreprocessor(
        seed=recipe.augment.seed,
        image_index=0,
        mask_index=1 if with_masks else None,
        **recipe.augment.transform_kwargs(),
    )


def build_data_flow(recipe: Recipe, path: str | os.PathLike | None = None,
                    split: str | None = None) -> Any:
    """A ``data_flow`` over the patch dataset the recipe wrote.

    Each batch is ``(patches, class_labels)`` -- or ``(patches, label_patches,
    class_labels)`` when the dataset holds label patches -- with ``patches`` of
    shape (batch, 1, p, p). The recipe's augmentation is applied when
    ``loader.augment`` is set; order and workers follow the ``loader`` section.

    Parameters
    ----------
    recipe : Recipe
        Its ``loader`` and ``augment`` sections are used.
    path : str or os.PathLike, optional
        The dataset; default ``recipe.output.save_path`` (relative to the recipe's
        folder).
    split : {'train', 'val'}, optional
        Only the patches of the training or validation cases; default all.
    """
    from ..io import data_flow
    from ..wrap import multi_source_array

    where = "path" if path is not None else "output.save_path"
    path = recipe.resolve_path(recipe.output.save_path) if path is None else path
    if not path:
        raise RecipeError(f"{where}: no dataset path given")
    try:
        sources = dataset_sources(path, split=split)
    except ValueError as err:
        raise RecipeError(f"{where}: {err}") from err
    cfg = recipe.loader
    images = multi_source_array(sources.images, class_list=sources.classes)
    data: list[Any] = [images]
    if sources.labels is not None:
        masks = multi_source_array(sources.labels, class_list=sources.classes)
        masks.index_pairs = images.index_pairs
        data.append(masks)
    data.append(np.asarray(images.get_labels()))
    preprocessor = (
        build_preprocessor(recipe, with_masks=sources.labels is not None) if cfg.augment else None
    )
    return data_flow(
        data,
        batch_size=cfg.batch_size,
        nb_io_workers=cfg.nb_io_workers,
        nb_proc_workers=cfg.nb_proc_workers,
        loop_forever=cfg.loop_forever,
        sample_random=cfg.sample_random,
        sample_with_replacement=cfg.sample_with_replacement,
        drop_incomplete_batches=cfg.drop_incomplete_batches,
        preprocessor=preprocessor,
        rng=np.random.default_rng(cfg.seed),
    )
