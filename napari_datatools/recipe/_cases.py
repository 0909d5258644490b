"""The cases of a recipe: glob patterns expanded, masks paired, the validation split.

A recipe names its data as one case (``data.image``/``data.mask``) or several
(``data.cases``), where an image path may be a glob pattern standing for one case
per file. :func:`recipe_cases` turns that into a flat list of :class:`Case`, its
paths resolved against the recipe's folder, without opening any file;
:func:`validation_cases` picks the cases kept for validation. Opening and checking
the arrays is :func:`napari_datatools.recipe.load_cases`'s job.
"""

from __future__ import annotations

import copy
import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import RecipeError
from ..io._formats import SUFFIXES
from ._model import ArraySource, Recipe
from ._paths import is_pattern

#: Words that end the file names of masks (``case1_mask.tif``) or images
#: (``case1_img.tif``); dropped when pairing by stem finds no exact match.
MASK_WORDS = ("mask", "masks", "label", "labels", "seg", "segmentation", "gt", "annotation",
              "annotations")
IMAGE_WORDS = ("image", "images", "img", "raw", "data", "volume")


@dataclass(frozen=True)
class SourceRef:
    """One array of a case: a file (resolved path, array name) or a napari layer.

    ``where`` is the recipe field it comes from (``data.cases[0].image``).
    """

    where: str
    path: str | None = None
    array_name: str | None = None
    layer: str | None = None

    def describe(self) -> str:
        """``file 'a.h5' (array 'raw')``, ``layer 'cells'`` or ``nothing``."""
        if self.path is not None:
            inside = f" (array {self.array_name!r})" if self.array_name else ""
            return f"file {self.path!r}{inside}"
        return f"layer {self.layer!r}" if self.layer is not None else "nothing"


@dataclass(frozen=True)
class Case:
    """One image (and mask) of a recipe, with its name and where the recipe gives it."""

    name: str
    where: str
    image: SourceRef
    mask: SourceRef | None

    @property
    def label(self) -> str:
        """How messages name the case: ``data.cases[0] (case 'c01')``."""
        return f"{self.where} (case {self.name!r})"


def file_stem(path: str) -> str:
    """The file name without its format suffix (``a.ome.tif`` -> ``a``, ``b.nii.gz`` -> ``b``)."""
    name = Path(path.rstrip("/\\")).name
    for suffix in sorted(SUFFIXES + (".ome.tif", ".ome.tiff"), key=len, reverse=True):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return Path(name).stem or name


def _without_word(stem: str, words: tuple[str, ...]) -> str:
    """``stem`` without a trailing role word (``c1_mask`` -> ``c1``), lower case."""
    pattern = r"[_\-. ]?(" + "|".join(words) + r")$"
    return re.sub(pattern, "", stem.lower()) or stem.lower()


def pair_by_stem(images: list[str], masks: list[str], where: str) -> list[tuple[str, str]]:
    """Pair every image file with the mask file of the same stem.

    Stems match exactly, or once a trailing role word is dropped (``c1_img.tif``
    with ``c1_mask.tif``).

    Raises
    ------
    RecipeError
        Naming the images without a mask and the masks without an image.
    """
    by_stem = {file_stem(m).lower(): m for m in masks}
    pairs: dict[str, str] = {}
    for image in images:
        mask = by_stem.get(file_stem(image).lower())
        if mask is not None:
            pairs[image] = mask
    left_images = [i for i in images if i not in pairs]
    used = set(pairs.values())
    left_masks = [m for m in masks if m not in used]
    loose: dict[str, list[str]] = {}
    for m in left_masks:
        loose.setdefault(_without_word(file_stem(m), MASK_WORDS), []).append(m)
    for image in left_images:
        found = loose.get(_without_word(file_stem(image), IMAGE_WORDS), [])
        if len(found) == 1 and found[0] not in used:
            pairs[image] = found[0]
            used.add(found[0])
    unpaired_images = [i for i in images if i not in pairs]
    unpaired_masks = [m for m in masks if m not in used]
    if unpaired_images or unpaired_masks:
        parts = []
        if unpaired_images:
            parts.append(f"{len(unpaired_images)} image(s) without a mask: "
                         + ", ".join(map(repr, unpaired_images)))
        if unpaired_masks:
            parts.append(f"{len(unpaired_masks)} mask(s) without an image: "
                         + ", ".join(map(repr, unpaired_masks)))
        raise RecipeError(f"{where}: images and masks are paired by file name (stem); "
                          + "; ".join(parts))
    return [(image, pairs[image]) for image in images]


def _matches(recipe: Recipe, pattern: str, where: str) -> list[str]:
    """The files matching ``pattern`` (a recipe path), sorted; RecipeError if none."""
    found = sorted(glob.glob(recipe.resolve_path(pattern) or pattern))
    found = [f for f in found if not Path(f).name.startswith(".")]
    if not found:
        inside = f" (relative to {recipe.folder!r})" if recipe.folder and not \
            os.path.isabs(os.path.expanduser(pattern)) else ""
        raise RecipeError(f"{where}.path: no file matches {pattern!r}{inside}")
    return found


def _given(source: ArraySource) -> bool:
    return source.path is not None or source.layer is not None


def _expand(recipe: Recipe, where: str, image: ArraySource, mask: ArraySource,
            name: str | None) -> list[Case]:
    image_where, mask_where = f"{where}.image", f"{where}.mask"
    image_glob = image.path is not None and is_pattern(image.path)
    mask_glob = mask.path is not None and is_pattern(mask.path)
    if mask_glob and not image_glob:
        raise RecipeError(f"{mask_where}.path: a pattern ({mask.path!r}) needs an image "
                          f"pattern too ({image_where}.path is {image.path!r})")
    if not image_glob:
        image_ref = SourceRef(image_where, recipe.resolve_path(image.path), image.array_name,
                              image.layer)
        mask_ref = None if not _given(mask) else SourceRef(
            mask_where, recipe.resolve_path(mask.path), mask.array_name, mask.layer)
        if name is None:
            name = (file_stem(image.path) if image.path else image.layer) or "case"
        return [Case(name, where, image_ref, mask_ref)]
    assert image.path is not None
    images = _matches(recipe, image.path, image_where)
    if not _given(mask):
        pairs: list[tuple[str, str | None]] = [(i, None) for i in images]
    elif not mask_glob:
        raise RecipeError(f"{mask_where}.path: the image path is a pattern ({image.path!r}), "
                          f"so the mask path must be one too (e.g. 'masks/*.tif'), got "
                          f"{mask.path or mask.layer!r}")
    else:
        assert mask.path is not None
        pairs = list(pair_by_stem(images, _matches(recipe, mask.path, mask_where), where))
    return [
        Case(file_stem(i), where, SourceRef(image_where, i, image.array_name),
             None if m is None else SourceRef(mask_where, m, mask.array_name))
        for i, m in pairs
    ]


def recipe_cases(recipe: Recipe) -> list[Case]:
    """The cases of ``recipe``, glob patterns expanded (sorted), paths resolved.

    No array is opened; only patterns are matched against the file system. Case
    names are unique (a repeated name gets ``-2``, ``-3``...).

    Raises
    ------
    RecipeError
        If a pattern matches nothing, images and masks do not pair up, or the
        recipe gives both ``data.image`` and ``data.cases``.
    """
    data = recipe.data
    if data.cases:
        for name in ("image", "mask"):
            if _given(getattr(data, name)):
                raise RecipeError(
                    f"data.{name}: give the data as data.image/data.mask (one case) or as "
                    "data.cases, not both")
        entries = [(f"data.cases[{i}]", c.image, c.mask, c.name)
                   for i, c in enumerate(data.cases)]
    else:
        entries = [("data", data.image, data.mask, None)]
    cases: list[Case] = []
    for entry in entries:
        cases.extend(_expand(recipe, *entry))
    seen: dict[str, int] = {}
    unique = []
    for case in cases:
        count = seen[case.name] = seen.get(case.name, 0) + 1
        if count > 1:
            case = Case(f"{case.name}-{count}", case.where, case.image, case.mask)
        unique.append(case)
    return unique


def validation_cases(recipe: Recipe, cases: list[Case]) -> list[int]:
    """Indices (sorted) of the cases kept for validation by ``recipe.split``.

    ``split.val_cases`` names them (names or indices); else ``split.val_fraction``
    of them, rounded, at least one and at most all but one, are drawn with
    ``split.seed``.

    Raises
    ------
    RecipeError
        If a named case does not exist, every case would be for validation, or
        a fraction is asked of fewer than two cases.
    """
    split = recipe.split
    n = len(cases)
    if split.val_cases:
        if split.val_fraction:
            raise RecipeError("split: give val_fraction or val_cases, not both")
        names = {case.name: i for i, case in enumerate(cases)}
        chosen = set()
        for k, item in enumerate(split.val_cases):
            if isinstance(item, int):
                if not -n <= item < n:
                    raise RecipeError(f"split.val_cases[{k}]: case index {item} is out of range "
                                      f"for {n} case(s)")
                chosen.add(item % n)
            elif item in names:
                chosen.add(names[item])
            else:
                raise RecipeError(f"split.val_cases[{k}]: no case is named {item!r} (cases: "
                                  + ", ".join(map(repr, names)) + ")")
        if len(chosen) == n:
            raise RecipeError("split.val_cases: every case is for validation; leave at least "
                              "one for training")
        return sorted(chosen)
    if not split.val_fraction:
        return []
    if n < 2:
        raise RecipeError(f"split.val_fraction: {n} case(s) cannot be split into training and "
                          "validation cases; add cases or set it to 0")
    count = min(max(1, round(split.val_fraction * n)), n - 1)
    rng = np.random.default_rng(split.seed)
    return sorted(int(i) for i in rng.choice(n, size=count, replace=False))


def guess_channel_axis(shape: tuple[int, ...], rgb: bool = False,
                       max_channels: int = 8) -> int | None:
    """A guess of the channel axis of an image whose file does not say.

    An RGB(A) image has its colours last. A 4D array must have one: the smallest
    of its first, second or last axes, if at most ``max_channels`` long. A 3D
    array whose last axis holds 3 or 4 values is taken as colour; otherwise a 3D
    array is a volume (None).

    Examples
    --------
    >>> guess_channel_axis((2, 40, 256, 256)), guess_channel_axis((40, 256, 256, 3))
    (0, 3)
    >>> guess_channel_axis((40, 256, 256)) is None
    True
    """
    shape = tuple(int(s) for s in shape)
    ndim = len(shape)
    if rgb:
        return ndim - 1
    if ndim == 3 and shape[-1] in (3, 4) and min(shape[:2]) > 4:
        return 2
    if ndim != 4:
        return None
    candidates = [(shape[a], a) for a in (0, 3, 1) if shape[a] <= max_channels]
    return min(candidates)[1] if candidates else None



def _sources(recipe: Recipe) -> list[tuple[str, ArraySource]]:
    """``(field, source)`` of every image and mask source of the recipe, as written."""
    data = recipe.data
    found = [("data.image", data.image), ("data.mask", data.mask)]
    for i, case in enumerate(data.cases):
        found += [(f"data.cases[{i}].image", case.image), (f"data.cases[{i}].mask", case.mask)]
    return found


def layer_sources(recipe: Recipe) -> list[tuple[str, str]]:
    """``(field, layer name)`` of every source taken from a napari layer with no file.

    Scripts and the console command cannot read those: the Export tab offers to
    save them (:func:`record_layer_files` then points the recipe at the files).
    """
    return [(where, source.layer) for where, source in _sources(recipe)
            if source.path is None and source.layer is not None]


def record_layer_files(recipe: Recipe, files: dict[str, tuple[str, str | None]]) -> None:
    """Point every source taken from layer ``name`` (without a file) at ``files[name]``.

    ``files`` maps layer names to ``(path, array_name)``; the layer names stay
    recorded (and name their cases). ``data.cases`` is assigned anew when a case
    changes, so observers of the recipe hear it.
    """
    for where, source in _sources(recipe):
        if where.startswith("data.cases"):
            continue
        if source.path is None and source.layer in files:
            source.path, source.array_name = files[source.layer]
    if any(c.image.path is None and c.image.layer in files
           or c.mask.path is None and c.mask.layer in files for c in recipe.data.cases):
        cases = [copy.deepcopy(c) for c in recipe.data.cases]
        for case in cases:
            if case.name is None and case.image.path is None:
                case.name = case.image.layer  # the case keeps the layer's name
            for source in (case.image, case.mask):
                if source.path is None and source.layer in files:
                    source.path, source.array_name = files[source.layer]
        recipe.data.cases = cases
