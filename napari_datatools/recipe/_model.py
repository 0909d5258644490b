"""The recipe: one evented, validated configuration shared by widgets and scripts.

Every section is a psygnal evented dataclass (an ``events`` descriptor, the typed
form of ``@evented``), so widgets observe changes (``recipe.events.all`` fires for
any nested change, with its path) without Qt in the core. Field names are the
argument names of the functions they configure.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from psygnal import SignalGroupDescriptor

from ..errors import ArgumentTypeError, RecipeError
from ._fields import Validated, from_mapping
from ._io import parse_json_object, read_json_file, to_json_text, write_json_file
from ._paths import rebase_paths, resolve_path

#: Version written to and expected in recipe files.
RECIPE_VERSION = 1
#: Bounds of augmentation values a recipe accepts: beyond them a transform is
#: meaningless (a warp of 1e300 pixels gives NaN images).
MAX_WARP_SIGMA = 100.0
MAX_INTENSITY = 1e9
MAX_SIZE = 65536


def _bounded(default: Any, lo: float | None = None, hi: float | None = None) -> Any:
    return field(default=default, metadata={"min": lo, "max": hi})


@dataclass
class ArraySource(Validated):
    """Where an array comes from: a file and array name, or memory / a napari layer.

    ``path`` is any file :func:`~napari_datatools.readers.open_array` reads (HDF5,
    Zarr, OME-Zarr, blosc2, TIFF/OME-TIFF, NIfTI, ``.npy``) and ``array_name`` the
    array inside it (None when it holds one). A relative path is relative to the
    recipe file's folder (:attr:`Recipe.folder`). In ``data.cases`` a path may be a
    glob pattern (``images/*.tif``): one case per file. Without a path the array is
    given at build time (scripts) or taken from the napari layer named ``layer`` (GUI).
    """

    events: ClassVar[SignalGroupDescriptor] = SignalGroupDescriptor()
    _section: ClassVar[str] = "data"
    path: str | None = None
    array_name: str | None = None
    layer: str | None = None


def _name_sources(owner: Any, where: str) -> None:
    """Give the sources under ``owner`` the field path their errors name."""
    object.__setattr__(owner, "_section", where)
    for name in ("image", "mask"):
        object.__setattr__(getattr(owner, name), "_section", f"{where}.{name}")


@dataclass
class CaseSource(Validated):
    """One case of a dataset: an image volume and its optional label mask.

    ``name`` (default: the image file's stem or layer name) identifies the case in
    messages and in ``split.val_cases``. An image path with glob characters
    (``images/*.tif``) stands for one case per matching file; its mask path is then
    a pattern too (``masks/*.tif``) and files are paired by stem.
    """

    events: ClassVar[SignalGroupDescriptor] = SignalGroupDescriptor()
    _section: ClassVar[str] = "data.cases"
    image: ArraySource = field(default_factory=ArraySource)
    mask: ArraySource = field(default_factory=ArraySource)
    name: str | None = None

    def __post_init__(self) -> None:
        _name_sources(self, self._section)

    def _check(self, name: str, value: Any, where: str) -> None:
        if name in ("image", "mask"):
            object.__setattr__(value, "_section", where)


@dataclass
class DataConfig(Validated):
    """The cases patches are cut from, and their channel axis.

    One case is ``image`` (a (Z, Y, X) volume or 2D image) and its optional
    ``mask``, as in recipes before multi-case datasets; several go in ``cases``
    (then ``image`` and ``mask`` stay empty). Every case has the same channel
    count. ``channel_axis`` is the image axis holding channels; None takes the
    one the first image file states (OME metadata, TIFF samples...), if any.
    """

    events: ClassVar[SignalGroupDescriptor] = SignalGroupDescriptor()
    _section: ClassVar[str] = "data"
    image: ArraySource = field(default_factory=ArraySource)
    mask: ArraySource = field(default_factory=ArraySource)
    cases: list[CaseSource] = field(default_factory=list)
    channel_axis: int | None = _bounded(None, -4, 3)

    def __post_init__(self) -> None:
        for name in ("image", "mask"):
            object.__setattr__(getattr(self, name), "_section", f"data.{name}")
        self._check("cases", self.cases, "data.cases")

    def _check(self, name: str, value: Any, where: str) -> None:
        if name in ("image", "mask"):
            object.__setattr__(value, "_section", where)
        elif name == "cases":
            for i, case in enumerate(value):
                _name_sources(case, f"{where}[{i}]")


@dataclass
class LabelConfig(Validated):
    """How mask labels become classes: :func:`~napari_datatools.patches.relabel`.

    ``mode`` 'as_is' keeps every label as a class, 'binary' makes foreground
    (labels > 0) class 1, 'mapping' maps labels through ``mapping`` ``{label:
    class}`` (labels not in it stay as they are), e.g. ``{4: 3}`` merges 4 into 3.
    """

    events: ClassVar[SignalGroupDescriptor] = SignalGroupDescriptor()
    _section: ClassVar[str] = "labels"
    mode: Literal["as_is", "binary", "mapping"] = "as_is"
    mapping: dict[int, int] | None = None


@dataclass
class SplitConfig(Validated):
    """Cases kept for validation (a case is never in both parts).

    ``val_fraction`` of the cases (at least one, at most all but one) drawn with
    ``seed``; or the cases ``val_cases`` names (case names or indices in
    ``data.cases`` order after glob expansion). Both empty: no validation part.
    """

    events: ClassVar[SignalGroupDescriptor] = SignalGroupDescriptor()
    _section: ClassVar[str] = "split"
    val_fraction: float = _bounded(0.0, 0, 0.95)
    val_cases: list[int | str] | None = None
    seed: int = _bounded(0, 0)


@dataclass
class AugmentConfig(Validated):
    """Arguments of :func:`~napari_datatools.data_augmentation.image_random_transform`.

    ``zoom_range`` is the (low, high) pair of scale factors; ``seed`` makes preview
    sample *k* reproducible (see :func:`preview_sample`).
    """

    events: ClassVar[SignalGroupDescriptor] = SignalGroupDescriptor()
    _section: ClassVar[str] = "augment"
    rotation_range: float = _bounded(0.0, 0, 180)
    width_shift_range: float = _bounded(0.0, 0, 1)
    height_shift_range: float = _bounded(0.0, 0, 1)
    shear_range: float = _bounded(0.0, 0, 89)
    zoom_range: tuple[float, float] = _bounded((1.0, 1.0), 0.01, 100)
    intensity_shift_range: float = _bounded(0.0, 0, MAX_INTENSITY)
    fill_mode: Literal["nearest", "reflect", "constant"] = "nearest"
    cval_x: float = _bounded(0.0, -MAX_INTENSITY, MAX_INTENSITY)
    cval_y: float = _bounded(0.0, -MAX_INTENSITY, MAX_INTENSITY)
    horizontal_flip: bool = False
    vertical_flip: bool = False
    spline_warp: bool = False
    warp_sigma: float = _bounded(0.1, 0, MAX_WARP_SIGMA)
    warp_grid_size: int = _bounded(3, 2, 64)
    crop_size: tuple[int, int] | None = _bounded(None, 1, MAX_SIZE)
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


@dataclass
class PatchConfig(Validated):
    """How patches are chosen: arguments of :func:`~napari_datatools.patches.plan_patches`.

    ``patchsize`` is an integer (square 2D patches within each slice) or ``[pz, py,
    px]`` (3D patches). ``mode`` 'pixel' centres a patch on every mask pixel of a
    class (every pixel without a mask); 'grid' on a regular grid with ``stride``
    (one value, or ``[sz, sy, sx]`` with 3D patches). ``max_per_class`` draws at
    most that many per class at random (class balancing).
    """

    events: ClassVar[SignalGroupDescriptor] = SignalGroupDescriptor()
    _section: ClassVar[str] = "patches"
    patchsize: int | tuple[int, int, int] = _bounded(32, 1)
    mode: Literal["pixel", "grid"] = "pixel"
    stride: int | tuple[int, int, int] = _bounded(16, 1)
    class_list: list[int] | None = None
    max_per_class: int | None = _bounded(None, 1)
    mirrored: bool = True
    random_order: bool = True
    seed: int = _bounded(0, 0)


@dataclass
class OutputConfig(Validated):
    """Where and how :func:`~napari_datatools.patches.create_dataset` writes.

    ``file_format`` ``'bcolz'`` (the original ``data_tools`` name, which earlier
    recipe files hold) is accepted and stored as ``'blosc2'``.
    """

    events: ClassVar[SignalGroupDescriptor] = SignalGroupDescriptor()
    _section: ClassVar[str] = "output"
    _aliases: ClassVar[dict[str, dict[str, str]]] = {"file_format": {"bcolz": "blosc2"}}
    save_path: str = ""
    file_format: Literal["hdf5", "zarr", "blosc2"] = "hdf5"
    batchsize: int = _bounded(32, 1)
    compression: bool = True
    save_labels: bool = False
    overwrite: bool = False
    #: Address of a running dask scheduler to write on (e.g. ``tcp://host:8786``);
    #: ``""`` writes in this process. The dataset is the same either way.
    scheduler: str = ""

    def _check(self, name: str, value: Any, where: str) -> None:
        if name == "scheduler" and any(c.isspace() for c in value):
            raise RecipeError(f"{where}: expected a scheduler address such as "
                              f"'tcp://host:8786' (or '' for this process), got {value!r}")


@dataclass
class LoaderConfig(Validated):
    """Arguments of :class:`~napari_datatools.io.data_flow` over a written dataset.

    ``augment`` applies the recipe's augmentation as the preprocessor.
    """

    events: ClassVar[SignalGroupDescriptor] = SignalGroupDescriptor()
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
            setattr(target, f.name, copy.deepcopy(value))  # lists of cases are not shared


@dataclass
class Recipe(Validated):
    """Everything needed to rebuild what the widgets show, as one object.

    Examples
    --------
    >>> recipe = Recipe()
    >>> recipe.augment.rotation_range = 15
    >>> Recipe.from_json(recipe.to_json()) == recipe
    True

    Attributes
    ----------
    folder : str or None
        The folder relative paths are resolved against: the recipe file's folder
        once loaded (:meth:`load`); None (the current directory) for a recipe
        built in code. Not a field: it is not saved, nor compared.
    """

    events: ClassVar[SignalGroupDescriptor] = SignalGroupDescriptor()
    folder: ClassVar[str | None] = None  # set per instance by load / update_from

    data: DataConfig = field(default_factory=DataConfig)
    labels: LabelConfig = field(default_factory=LabelConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
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
        object.__setattr__(self, "folder", other.folder)

    def resolve_path(self, path: str | None) -> str | None:
        """``path`` (a value of this recipe) ready to open: relative to :attr:`folder`."""
        return resolve_path(path, self.folder)

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

    def save(self, path: str | os.PathLike, *, relative: bool = False) -> None:
        """Write the recipe as JSON to ``path``.

        Relative paths are rewritten to stay right from the file's folder; with
        ``relative``, absolute paths of data files in that folder (or below) are
        written relative to it too, so the folder can be moved or shared as a whole.
        """
        folder = Path(os.path.abspath(path)).parent
        write_json_file(path, rebase_paths(self.to_dict(), self.folder, folder, relative))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Recipe:
        """Read a recipe JSON file; a missing file or bad content names the problem.

        The recipe's relative paths are relative to the file's folder
        (:attr:`folder`).
        """
        recipe = cls.from_dict(read_json_file(path))
        object.__setattr__(recipe, "folder", os.path.dirname(os.path.abspath(path)))
        return recipe
