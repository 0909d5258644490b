"""The recipe: one evented, validated configuration shared by widgets and scripts.

Every section is a psygnal evented dataclass, so widgets observe changes
(``recipe.events.all`` fires for any nested change, with its path) without Qt in
the core. Field names are the argument names of the functions they configure.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any, ClassVar, Literal

from psygnal import evented

from ..errors import ArgumentTypeError, RecipeError
from ._fields import Validated, from_mapping
from ._io import parse_json_object, read_json_file, to_json_text, write_json_file

#: Version written to and expected in recipe files.
RECIPE_VERSION = 1


def _bounded(default: Any, lo: float | None = None, hi: float | None = None) -> Any:
    return field(default=default, metadata={"min": lo, "max": hi})


@evented
@dataclass
class ArraySource(Validated):
    """Where an array comes from: a file and array name, or memory / a napari layer.

    ``path`` is an HDF5/Zarr/blosc2 path and ``array_name`` the array inside it
    (unused for ``.b2nd`` files). Without a path the array is given at build time
    (scripts) or taken from the napari layer named ``layer`` (GUI).
    """

    _section: ClassVar[str] = "data"
    path: str | None = None
    array_name: str | None = None
    layer: str | None = None


@evented
@dataclass
class DataConfig(Validated):
    """The image volume (Z, Y, X) and its optional label mask."""

    _section: ClassVar[str] = "data"
    image: ArraySource = field(default_factory=ArraySource)
    mask: ArraySource = field(default_factory=ArraySource)

    def __post_init__(self) -> None:
        for name in ("image", "mask"):
            object.__setattr__(getattr(self, name), "_section", f"data.{name}")

    def _check(self, name: str, value: Any, where: str) -> None:
        object.__setattr__(value, "_section", where)


@evented
@dataclass
class AugmentConfig(Validated):
    """Arguments of :func:`~napari_datatools.data_augmentation.image_random_transform`.

    ``zoom_range`` is the (low, high) pair of scale factors; ``seed`` makes preview
    sample *k* reproducible (see :func:`preview_sample`).
    """

    _section: ClassVar[str] = "augment"
    rotation_range: float = _bounded(0.0, 0, 180)
    width_shift_range: float = _bounded(0.0, 0, 1)
    height_shift_range: float = _bounded(0.0, 0, 1)
    shear_range: float = _bounded(0.0, 0, 89)
    zoom_range: tuple[float, float] = _bounded((1.0, 1.0), 0.01, 100)
    intensity_shift_range: float = _bounded(0.0, 0)
    fill_mode: Literal["nearest", "reflect", "constant"] = "nearest"
    cval_x: float = 0.0
    cval_y: float = 0.0
    horizontal_flip: bool = False
    vertical_flip: bool = False
    spline_warp: bool = False
    warp_sigma: float = _bounded(0.1, 0)
    warp_grid_size: int = _bounded(3, 2, 64)
    crop_size: tuple[int, int] | None = _bounded(None, 1)
    order: Literal["linear", "nearest", "cubic"] = "linear"
    seed: int = _bounded(0, 0)

    def _check(self, name: str, value: Any, where: str) -> None:
        if name == "zoom_range" and value[0] > value[1]:
            raise RecipeError(f"{where}: expected (low, high) with low <= high, got {value!r}")

    def transform_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``image_random_transform`` (everything but the seed)."""
        kwargs = asdict(self)
        kwargs.pop("seed")
        return kwargs


@evented
@dataclass
class PatchConfig(Validated):
    """How patches are chosen: arguments of :func:`~napari_datatools.patches.plan_patches`.

    ``mode`` 'pixel' centres a patch on every mask pixel of a class (every pixel
    without a mask); 'grid' on a regular grid with ``stride``. ``max_per_class``
    draws at most that many per class at random (class balancing).
    """

    _section: ClassVar[str] = "patches"
    patchsize: int = _bounded(32, 1)
    mode: Literal["pixel", "grid"] = "pixel"
    stride: int = _bounded(16, 1)
    class_list: list[int] | None = None
    max_per_class: int | None = _bounded(None, 1)
    mirrored: bool = True
    random_order: bool = True
    seed: int = _bounded(0, 0)


@evented
@dataclass
class OutputConfig(Validated):
    """Where and how :func:`~napari_datatools.patches.create_dataset` writes.

    ``file_format`` ``'bcolz'`` (the original ``data_tools`` name, which earlier
    recipe files hold) is accepted and stored as ``'blosc2'``.
    """

    _section: ClassVar[str] = "output"
    _aliases: ClassVar[dict[str, dict[str, str]]] = {"file_format": {"bcolz": "blosc2"}}
    save_path: str = ""
    file_format: Literal["hdf5", "zarr", "blosc2"] = "hdf5"
    batchsize: int = _bounded(32, 1)
    compression: bool = True
    save_labels: bool = False
    overwrite: bool = False


@evented
@dataclass
class LoaderConfig(Validated):
    """Arguments of :class:`~napari_datatools.io.data_flow` over a written dataset.

    ``augment`` applies the recipe's augmentation as the preprocessor.
    """

    _section: ClassVar[str] = "loader"
    batch_size: int = _bounded(32, 1)
    nb_io_workers: int = _bounded(1, 1)
    nb_proc_workers: int = _bounded(0, 0)
    loop_forever: bool = False
    sample_random: bool = True
    sample_with_replacement: bool = False
    drop_incomplete_batches: bool = False
    augment: bool = True
    seed: int = _bounded(0, 0)


def _assign_fields(target: Any, source: Any) -> None:
    """Set the fields of ``target`` that differ from ``source``'s, section by section."""
    for f in fields(source):
        value = getattr(source, f.name)
        if is_dataclass(value):
            _assign_fields(getattr(target, f.name), value)
        elif getattr(target, f.name) != value:
            setattr(target, f.name, value)


@evented
@dataclass
class Recipe(Validated):
    """Everything needed to rebuild what the widgets show, as one object.

    Examples
    --------
    >>> recipe = Recipe()
    >>> recipe.augment.rotation_range = 15
    >>> Recipe.from_json(recipe.to_json()) == recipe
    True
    """

    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    patches: PatchConfig = field(default_factory=PatchConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    loader: LoaderConfig = field(default_factory=LoaderConfig)

    def snapshot(self) -> Recipe:
        """A deep, independent copy (what a background job works on)."""
        return copy.deepcopy(self)

    def update_from(self, other: Recipe) -> None:
        """Give every field of this recipe the value it has in ``other``.

        Fields are assigned one at a time (sections are never replaced), so
        everything observing this recipe -- the napari widgets, a script's
        callbacks -- hears each changed field; unchanged fields stay silent.

        Examples
        --------
        >>> recipe = Recipe()
        >>> recipe.update_from(Recipe.from_dict({"augment": {"rotation_range": 20}}))
        >>> recipe.augment.rotation_range
        20.0
        """
        if not isinstance(other, Recipe):
            raise ArgumentTypeError(f"other must be a Recipe, got {type(other).__name__}")
        _assign_fields(self, other)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dictionary, with the format version."""
        return {"version": RECIPE_VERSION, **asdict(self)}

    def to_json(self) -> str:
        """The recipe as indented JSON text."""
        return to_json_text(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recipe:
        """Build and validate a recipe (as written by :meth:`to_dict`).

        Raises
        ------
        RecipeError
            Naming the offending field, section or version.
        """
        if not isinstance(data, Mapping):
            raise RecipeError(f"recipe must be a mapping, got {type(data).__name__}")
        data = dict(data)
        version = data.pop("version", RECIPE_VERSION)
        if version != RECIPE_VERSION:
            raise RecipeError(
                f"version: this napari-datatools reads recipe version {RECIPE_VERSION}, "
                f"got {version!r}"
            )
        sections = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(sections))
        if unknown:
            raise RecipeError(
                f"unknown section {unknown[0]!r} (known: {', '.join(sections)}, version)"
            )
        return from_mapping(cls, data, "")

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        """Parse JSON text into a validated recipe."""
        return cls.from_dict(parse_json_object(text, "recipe"))

    def save(self, path: str | os.PathLike) -> None:
        """Write the recipe as JSON to ``path``."""
        write_json_file(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Recipe:
        """Read a recipe JSON file; a missing file or bad content names the problem."""
        return cls.from_dict(read_json_file(path))
