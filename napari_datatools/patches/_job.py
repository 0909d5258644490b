"""A ``create_dataset`` call checked up front: arguments, output location, existing dataset.

Nothing here reads pixel data or writes anything; every problem is raised before
the run starts.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_positive_int
from .._rng import RNGLike, as_generator
from ..io._dataset_names import parse_array_name
from ..io._formats import ArrayFormat, Occupancy, StoredDataset, format_named
from ._plan import PatchSize, check_plan_arguments, patch_shape
from ._sink import check_writer_kwargs, describe_rng, run_record
from ._volume import SliceSource

_FLAGS = ("random_order", "mirrored", "save_labels", "overwrite", "append")


@dataclass(frozen=True)
class OutputLayout:
    """Where a dataset goes: its format and its location (file, group or directory)."""

    format: ArrayFormat
    path: Path

    @property
    def file_format(self) -> str:
        """The format's canonical name."""
        return self.format.name

    def occupancy(self) -> Occupancy:
        """What is at the location now (see ``io._formats.Occupancy``)."""
        return self.format.occupancy(self.path)


def resolve_output(save_path: Any, file_format: Any) -> OutputLayout:
    """Map ``save_path`` to the dataset location of ``file_format``.

    hdf5: ``save_path`` itself when it ends with .h5/.hdf5, otherwise the
    directory ``save_path`` (as the original took) with ``patches.h5`` in it.
    zarr: ``save_path`` when it ends with .zarr, else ``save_path/patches.zarr``.
    blosc2: the directory ``save_path``.
    """
    fmt = file_format if isinstance(file_format, ArrayFormat) else format_named(file_format)
    if not isinstance(save_path, (str, os.PathLike)) or str(save_path) == "":
        raise TypeError(f"save_path must be a path (str or os.PathLike), got {save_path!r}")
    path = fmt.dataset_location(Path(save_path).expanduser())
    return OutputLayout(fmt, path.absolute())


def output_occupancy(save_path: Any, file_format: Any) -> Occupancy:
    """What is at the dataset location of ``save_path`` now: ``'absent'``, ``'dataset'``
    (one written by this library: ``overwrite`` replaces it) or ``'other'`` (something
    else, which ``create_dataset`` never touches)."""
    return resolve_output(save_path, file_format).occupancy()


def check_writable(layout: OutputLayout) -> None:
    """Raise a clear error unless the dataset location can be created and written."""
    target = layout.path
    layout.format.check_location(target)
    probe_dir = target if (not layout.format.dataset_suffix and target.is_dir()) \
        else target.parent
    existing = probe_dir
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(
            f"save_path: cannot create {str(target)!r} because {str(existing)!r} is a file")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise PermissionError(
            f"save_path: cannot write to {str(existing)!r} (needed for {str(target)!r}): "
            f"{err.strerror or err}") from err


@dataclass
class ExistingDataset:
    """The arrays and attributes of the dataset a run appends to.

    Attributes
    ----------
    arrays : dict
        ``{array name: (shape, dtype)}``.
    attrs : dict
        Dataset attributes.
    """

    stored: StoredDataset

    @property
    def arrays(self) -> dict:
        return self.stored.arrays

    @property
    def attrs(self) -> dict:
        return self.stored.attrs

    def image_arrays(self) -> list[str]:
        """Names of the ``class_<v>`` patch arrays."""
        return sorted(n for n in self.arrays
                      if (p := parse_array_name(n)) is not None and p.role == "patches")

    def length(self, name: str) -> int:
        """Number of elements of array ``name`` (0 when absent)."""
        return int(self.arrays[name][0][0]) if name in self.arrays else 0

    def check_compatible(self, patchsize: PatchSize, save_labels: bool, label_dtype: Any) -> None:
        """Raise ValueError unless this run's patches can be appended."""
        images = self.image_arrays()
        for name in images:
            shape, dtype = self.arrays[name]
            expected = (1, *patch_shape(patchsize))
            if tuple(shape[1:]) != expected or dtype != np.float32:
                raise ValueError(
                    f"append: array {name!r} holds {dtype} patches of shape {tuple(shape[1:])}, "
                    f"this run makes float32 patches of shape {expected}")
            has_labels = f"{name}_labels" in self.arrays
            if has_labels != save_labels:
                raise ValueError(
                    f"append: the dataset {'holds' if has_labels else 'has no'} label patches "
                    f"({name}_labels), so save_labels must be {has_labels}, got {save_labels}")
            if has_labels and np.dtype(self.arrays[f"{name}_labels"][1]) != np.dtype(label_dtype):
                raise ValueError(
                    f"append: {name}_labels has dtype {self.arrays[name + '_labels'][1]}, "
                    f"the mask has dtype {np.dtype(label_dtype)}")



def read_existing(layout: OutputLayout) -> ExistingDataset:
    """Read array shapes/dtypes and attributes of the dataset at ``layout`` (no data).

    Raises
    ------
    ValueError
        If the path is not a readable dataset of the layout's format.
    """
    try:
        return ExistingDataset(layout.format.read_dataset(layout.path))
    except (OSError, KeyError, TypeError, ValueError) as err:
        raise ValueError(
            f"append: cannot read the existing {layout.file_format} dataset at "
            f"{str(layout.path)!r}: {err}") from err


@dataclass
class DatasetJob:
    """A checked ``create_dataset`` call, ready to run.

    Attributes
    ----------
    layout : OutputLayout
        Where the dataset goes.
    volume, mask : SliceSource
        Slice readers of the inputs (``mask`` may be None).
    plan_request : dict
        Checked arguments of the patch plan (see ``check_plan_arguments``).
    rng : numpy.random.Generator
        The generator every random choice is drawn from.
    batchsize : int
        Patches per write.
    writer_kwargs : dict
        The ``kwargs`` argument (a copy).
    mirrored, save_labels, overwrite, append : bool
        As given.
    existing : ExistingDataset or None
        The dataset appended to.
    record : dict
        This run's provenance record.
    """

    layout: OutputLayout
    volume: SliceSource
    mask: SliceSource | None
    plan_request: dict
    rng: np.random.Generator
    batchsize: int
    writer_kwargs: dict
    mirrored: bool
    save_labels: bool
    overwrite: bool
    append: bool
    existing: ExistingDataset | None
    record: dict


def check_flag(value: Any, name: str) -> bool:
    """``value`` as a bool; only True/False (numpy's too) are accepted."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def prepare_job(*, save_path: Any, patchsize: Any, volume: Any, mask: Any, class_list: Any,
                random_order: Any, batchsize: Any, file_format: Any, kwargs: Any, mode: Any,
                stride: Any, max_per_class: Any, mirrored: Any, save_labels: Any,
                overwrite: Any, append: Any, rng: RNGLike) -> DatasetJob:
    """Check every argument of ``create_dataset`` and the output location.

    Reads no pixel data and writes nothing; raises on the first problem.
    """
    layout = resolve_output(save_path, file_format)
    fmt = layout.format
    batchsize = check_positive_int(batchsize, "batchsize")
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, dict):
        raise TypeError(f"kwargs must be a dict of writer arguments, got {kwargs!r}")
    flags = {name: check_flag(value, name) for name, value in zip(
        _FLAGS, (random_order, mirrored, save_labels, overwrite, append))}
    if flags["overwrite"] and flags["append"]:
        raise ValueError("overwrite and append cannot both be True: replace the dataset "
                         "or add to it")
    source = SliceSource(volume, "volume")
    request = check_plan_arguments(
        volume, patchsize, mask, class_list, mode=mode, stride=stride,
        max_per_class=max_per_class, random_order=flags["random_order"])
    masks = request["masks"]
    if flags["save_labels"] and masks is None:
        raise ValueError("save_labels=True needs a mask to cut the label patches from")
    generator = as_generator(rng)
    for name, array in (("volume", volume), ("mask", mask)):
        if _stored_in(array, layout):
            raise ValueError(
                f"save_path: {str(layout.path)!r} is where the {name} is read from; "
                "write the dataset to another file")
    existing = None
    fmt.check_location(layout.path)
    occupancy = layout.occupancy()
    if occupancy == "other":
        raise FileExistsError(
            f"save_path: {str(layout.path)!r} exists and is not a {fmt.label} dataset written "
            "by napari-datatools; it is left untouched: choose another path")
    if occupancy == "dataset":
        if not (flags["overwrite"] or flags["append"]):
            raise FileExistsError(
                f"save_path: a dataset already exists at {str(layout.path)!r}; pass "
                "overwrite=True to replace it or append=True to add patches to it")
        if flags["append"]:
            existing = read_existing(layout)
            existing.check_compatible(request["patchsize"], flags["save_labels"],
                                      None if masks is None else masks.dtype)
    check_writable(layout)
    check_writer_kwargs(fmt, kwargs, batchsize, request["patchsize"])
    arguments = dict(
        save_path=str(save_path), patchsize=request["patchsize"], class_list=class_list,
        random_order=flags["random_order"], batchsize=batchsize, file_format=fmt.name,
        kwargs=kwargs, mode=mode, stride=stride, max_per_class=max_per_class,
        mirrored=flags["mirrored"], save_labels=flags["save_labels"],
        overwrite=flags["overwrite"], append=flags["append"], rng=describe_rng(rng))
    record = run_record(arguments, volume, mask)
    return DatasetJob(layout, source, masks, request, generator, batchsize, dict(kwargs),
                      flags["mirrored"], flags["save_labels"], flags["overwrite"],
                      flags["append"], existing, record)


def _stored_in(array: Any, layout: OutputLayout) -> bool:
    """Whether ``array`` is an h5py dataset in, or a zarr array under, the output path."""
    where = None
    h5file = getattr(array, "file", None)
    if h5file is not None and hasattr(h5file, "filename"):
        where = h5file.filename
    else:
        root = getattr(getattr(array, "store", None), "root", None)
        if root is not None:
            where = os.fspath(root)
    if where is None:
        return False
    here, out = os.path.realpath(where), os.path.realpath(layout.path)
    return here == out or here.startswith(out + os.sep)
