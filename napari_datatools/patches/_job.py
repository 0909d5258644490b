"""Every argument of ``create_dataset`` checked up front, before anything is written."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._rng import as_generator
from ._checks import check_positive_int
from ._existing import ExistingDataset, read_existing
from ._output import OutputLayout, check_format, check_writable, resolve_output
from ._plan import check_plan_arguments
from ._provenance import describe_rng, run_record
from ._sink import check_writer_kwargs
from ._volume import SliceSource

_FLAGS = ("random_order", "mirrored", "save_labels", "overwrite", "append")


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
                overwrite: Any, append: Any, rng: Any) -> DatasetJob:
    """Check every argument of ``create_dataset`` and the output location.

    Reads no pixel data and writes nothing; raises on the first problem.
    """
    fmt = check_format(file_format)
    layout = resolve_output(save_path, fmt)
    batchsize = int(check_positive_int(batchsize, "batchsize"))
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
    if layout.exists():
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
        random_order=flags["random_order"], batchsize=batchsize, file_format=fmt,
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
