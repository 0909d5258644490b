"""A ``create_dataset`` call checked up front: arguments, output location, existing dataset.

Nothing here reads pixel data or writes anything; every problem is raised before
the run starts.
"""

from __future__ import annotations

import json
import numbers
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .._checks import check_positive_int
from .._rng import RNGLike, as_generator
from ..errors import ArgumentTypeError
from ..io._dataset_names import PROVENANCE_ATTR, class_array_name, parse_array_name
from ..io._formats import ArrayFormat, Occupancy, StoredDataset, format_named
from ._plan import PatchSize, check_plan_arguments, patch_shape
from ._sink import (
    DatasetSink,
    OutputLayout,
    check_writer_kwargs,
    describe_rng,
    run_record,
)
from ._volume import SliceSource, describe_array

_FLAGS = ("random_order", "mirrored", "save_labels", "overwrite", "append")


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

    def check_compatible(self, patchsize: PatchSize, save_labels: bool, label_dtype: Any,
                         channels: int | None = None, with_cases: bool = False) -> None:
        """Raise ValueError unless this run's patches can be appended."""
        images = self.image_arrays()
        for name in images:
            parsed = parse_array_name(name)
            has_cases = parsed is not None and class_array_name(parsed.value, "case") in self.arrays
            if images and has_cases != with_cases:
                raise ValueError(
                    f"append: the dataset {'holds' if has_cases else 'has no'} case indices "
                    f"({name}_case); append {'a list of cases' if has_cases else 'one volume'}")
            shape, dtype = self.arrays[name]
            expected = (channels or 1, *patch_shape(patchsize))
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
class Case:
    """One image (and mask) of a dataset, checked: slice readers and plan arguments."""

    volume: SliceSource
    mask: SliceSource | None
    plan_request: dict


@dataclass
class DatasetJob:
    """A checked ``create_dataset`` call, ready to run.

    Attributes
    ----------
    layout : OutputLayout
        Where the dataset goes.
    cases : list of Case
        The inputs: one case for a single volume, one per volume of a sequence.
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
    with_cases : bool
        Whether ``volume`` was a sequence (then ``class_<v>_case`` arrays are written).
    val_cases : list of int or None
        Cases reserved for validation (recorded with the dataset).
    """

    layout: OutputLayout
    cases: list[Case]
    rng: np.random.Generator
    batchsize: int
    writer_kwargs: dict
    mirrored: bool
    save_labels: bool
    overwrite: bool
    append: bool
    existing: ExistingDataset | None
    record: dict
    with_cases: bool = False
    val_cases: list[int] | None = None

    @property
    def volume(self) -> SliceSource:
        """The first case's volume."""
        return self.cases[0].volume

    @property
    def mask(self) -> SliceSource | None:
        """The first case's mask."""
        return self.cases[0].mask

    @property
    def plan_request(self) -> dict:
        """The first case's plan arguments."""
        return self.cases[0].plan_request

    @property
    def label_dtype(self) -> np.dtype | None:
        """The dtype of the label patches (None without ``save_labels``)."""
        if not self.save_labels:
            return None
        return np.result_type(*[c.mask.dtype for c in self.cases if c.mask is not None])

    @property
    def channels(self) -> int | None:
        """Channels of the images (None without a channel axis)."""
        return self.cases[0].volume.channels


def _is_case_list(volume: Any) -> bool:
    """A list/tuple of arrays is a list of cases (a nested list of numbers is one array)."""
    return isinstance(volume, (list, tuple)) and len(volume) > 0 and all(
        hasattr(v, "shape") and hasattr(v, "__getitem__") for v in volume)


def _check_cases(volume: Any, mask: Any, patchsize: Any, class_list: Any, mode: Any,
                 stride: Any, max_per_class: Any, random_order: bool,
                 channel_axis: Any) -> tuple[list[Case], list[tuple[Any, Any]]]:
    """Every case checked (shapes, dtypes, channels, plan arguments), naming the case."""
    if _is_case_list(volume):
        volumes = list(volume)
        if mask is None:
            masks: list[Any] = [None] * len(volumes)
        elif isinstance(mask, (list, tuple)) and len(mask) == len(volumes):
            masks = list(mask)
        else:
            raise ValueError(f"mask: with {len(volumes)} cases, give one mask per case (a list "
                             f"of {len(volumes)}) or None, got {type(mask).__name__}")
        if len({m is None for m in masks}) > 1:
            raise ValueError("mask: every case needs a mask, or none does")
    elif isinstance(volume, (list, tuple)) and len(volume) == 0:
        raise ValueError("volume: an empty list of cases")
    else:
        volumes, masks = [volume], [mask]
    cases = []
    for i, (vol, msk) in enumerate(zip(volumes, masks, strict=True)):
        where = f"case {i}: " if len(volumes) > 1 or _is_case_list(volume) else ""
        try:
            source = SliceSource(vol, "volume", channel_axis)
            request = check_plan_arguments(
                vol, patchsize, msk, class_list, mode=mode, stride=stride,
                max_per_class=max_per_class, random_order=random_order,
                channel_axis=channel_axis)
        except (TypeError, ValueError) as err:
            raise type(err)(f"{where}{err}") from err
        cases.append(Case(source, request["masks"], request))
    first = cases[0]
    for i, case in enumerate(cases[1:], start=1):
        if case.volume.ndim != first.volume.ndim:
            raise ValueError(f"case {i}: every case must be 2D or every case 3D; case 0 has "
                             f"{first.volume.ndim} dimensions, case {i} {case.volume.ndim}")
        if case.volume.channels != first.volume.channels:
            raise ValueError(f"case {i}: every case must have the same channels; case 0 has "
                             f"{first.volume.channels}, case {i} {case.volume.channels}")
    return cases, list(zip(volumes, masks, strict=True))


def check_flag(value: Any, name: str) -> bool:
    """``value`` as a bool; only True/False (numpy's too) are accepted."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def prepare_job(*, save_path: Any, patchsize: Any, volume: Any, mask: Any, class_list: Any,
                random_order: Any, batchsize: Any, file_format: Any, kwargs: Any, mode: Any,
                stride: Any, max_per_class: Any, mirrored: Any, save_labels: Any,
                overwrite: Any, append: Any, rng: RNGLike, channel_axis: Any = None,
                val_cases: Any = None) -> DatasetJob:
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
        _FLAGS, (random_order, mirrored, save_labels, overwrite, append), strict=True)}
    if flags["overwrite"] and flags["append"]:
        raise ValueError("overwrite and append cannot both be True: replace the dataset "
                         "or add to it")
    cases, inputs = _check_cases(volume, mask, patchsize, class_list, mode, stride,
                                 max_per_class, flags["random_order"], channel_axis)
    request = cases[0].plan_request
    with_cases = _is_case_list(volume)
    if flags["save_labels"] and cases[0].mask is None:
        raise ValueError("save_labels=True needs a mask to cut the label patches from")
    val = _check_val_cases(val_cases, len(cases), with_cases)
    generator = as_generator(rng)
    for i, pair in enumerate(inputs):
        for name, array in zip(("volume", "mask"), pair, strict=True):
            if _stored_in(array, layout):
                where = f"case {i}'s {name}" if with_cases else f"the {name}"
                raise ValueError(
                    f"save_path: {str(layout.path)!r} is where {where} is read from; "
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
            label_dtype = None if cases[0].mask is None else np.result_type(
                *[c.mask.dtype for c in cases if c.mask is not None])
            existing.check_compatible(request["patchsize"], flags["save_labels"], label_dtype,
                                      cases[0].volume.channels, with_cases)
    check_writable(layout)
    check_writer_kwargs(fmt, kwargs, batchsize, request["patchsize"], cases[0].volume.channels)
    arguments = dict(
        save_path=str(save_path), patchsize=request["patchsize"], class_list=class_list,
        random_order=flags["random_order"], batchsize=batchsize, file_format=fmt.name,
        kwargs=kwargs, mode=mode, stride=stride, max_per_class=max_per_class,
        mirrored=flags["mirrored"], save_labels=flags["save_labels"],
        overwrite=flags["overwrite"], append=flags["append"], rng=describe_rng(rng),
        channel_axis=channel_axis, val_cases=val)
    record = run_record(arguments, None if with_cases else volume,
                        None if with_cases else mask)
    if with_cases:
        record["cases"] = [{"volume": describe_array(v), "mask": describe_array(m)}
                           for v, m in inputs]
    return DatasetJob(layout, cases, generator, batchsize, dict(kwargs),
                      flags["mirrored"], flags["save_labels"], flags["overwrite"],
                      flags["append"], existing, record, with_cases, val)


def _check_val_cases(val_cases: Any, n_cases: int, with_cases: bool) -> list[int] | None:
    """``val_cases`` as a sorted list of distinct case indices (or None)."""
    if val_cases is None:
        return None
    if not with_cases:
        raise ValueError("val_cases needs a sequence of cases (volume given as a list)")
    if isinstance(val_cases, (str, bytes)) or not hasattr(val_cases, "__iter__"):
        raise ArgumentTypeError(f"val_cases must be a list of case indices, got {val_cases!r}")
    out = []
    for i in val_cases:
        if isinstance(i, bool) or not isinstance(i, numbers.Integral):
            raise ArgumentTypeError(f"val_cases must hold case indices (int), got {i!r}")
        index = int(i)
        if not 0 <= index < n_cases:
            raise ValueError(f"val_cases: case {i} does not exist (there are {n_cases} cases)")
        out.append(index)
    if len(set(out)) != len(out):
        raise ValueError(f"val_cases: a case is listed twice: {out}")
    return sorted(out)


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


class DatasetProgress(NamedTuple):
    """Progress of a dataset run: ``done`` of ``total`` patches written."""

    done: int
    total: int


@dataclass(frozen=True)
class DatasetResult:
    """The outcome of :func:`~napari_datatools.patches.create_dataset`.

    Attributes
    ----------
    path : str
        The dataset written: the HDF5 file, the zarr group, or the directory of
        ``.b2nd`` files.
    file_format : str
        ``'hdf5'``, ``'zarr'`` or ``'blosc2'``.
    counts : dict
        ``{class value: number of patches written by this run}``, in output order.
    complete : bool
        False when the run was cancelled (the dataset is then marked incomplete).
    elapsed : float
        Wall-clock seconds of the run.
    arrays : dict
        ``{class value: array name}`` (``class_<value>``).
    """

    path: str
    file_format: str
    counts: dict
    complete: bool
    elapsed: float
    arrays: dict = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Number of patches written over all classes."""
        return int(sum(self.counts.values()))

    def summary(self) -> str:
        """One line per class, e.g. ``class_1: 40 patches`` (``no patches`` without classes)."""
        lines = [f"{self.arrays.get(value, class_array_name(value))}: {n} patches"
                 for value, n in self.counts.items()]
        return "\n".join(lines) if lines else "no patches"

    def __str__(self) -> str:
        state = "complete" if self.complete else "incomplete (cancelled)"
        return (f"{self.path} ({self.file_format}, {state}, {self.total} patches in "
                f"{self.elapsed:.2f} s)\n{self.summary()}")


def result_from(path: Any, file_format: str, counts: dict, complete: bool, elapsed: float
                ) -> DatasetResult:
    """Build a :class:`DatasetResult` with the array name of every class."""
    return DatasetResult(str(path), file_format, {c: int(n) for c, n in counts.items()},
                         bool(complete), float(elapsed),
                         {c: class_array_name(c) for c in counts})


class _Cancel(Exception):
    """Thrown into a running dataset generator to end it and get its result."""


def open_sink(job: DatasetJob, classes: tuple, patchsize: PatchSize) -> DatasetSink:
    """The sink of a checked job (see ``_job.DatasetJob``) for the planned classes."""
    previous = job.existing.attrs.get(PROVENANCE_ATTR) if job.existing is not None else None
    extra = {} if job.val_cases is None else {"val_cases": json.dumps(job.val_cases)}
    return DatasetSink(job.layout, classes, patchsize, job.label_dtype,
                       job.batchsize, job.writer_kwargs, job.append, job.record, previous,
                       job.overwrite, channels=job.channels, with_cases=job.with_cases,
                       dataset_attrs=extra)
