"""Where a dataset run's batches go: one writer per array, dataset attributes around them.

The writers (:mod:`napari_datatools.io`) buffer, write in a background thread,
grow their array as data arrives and keep ``n_written``/``complete`` on every
array. This module adds what belongs to the dataset as a whole: the
``complete`` flag and the ``provenance`` JSON (on the HDF5 file or the zarr
group; on every ``class_<v>`` array for the 'bcolz' directory layout).
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np

from ._output import OutputLayout, class_array_name
from ._provenance import PROVENANCE_ATTR, VERSION_ATTR, provenance_json

#: Dataset attribute: False while writing or after a cancelled run.
COMPLETE_ATTR = "complete"

_CHUNK_OPTIONS = ("chunks", "blocks")


def make_writer(file_format: str, path: Any, name: str, element_shape: tuple, dtype: Any,
                batchsize: int, kwargs: dict, append: bool, attrs: dict | None = None) -> Any:
    """The ``napari_datatools.io`` writer of array ``name`` of the dataset at ``path``.

    The array grows as data arrives (``length=None``), so after a cancelled run
    it holds exactly the elements written.
    """
    from .. import io

    if file_format == "hdf5":
        return io.h5py_array_writer(element_shape, dtype, batchsize, path, name, None,
                                    append, kwargs, attrs=attrs)
    if file_format == "zarr":
        return io.zarr_array_writer(element_shape, dtype, batchsize, path, name, None,
                                    append, kwargs, attrs=attrs)
    return io.bcolz_array_writer(element_shape, dtype, batchsize, os.path.join(path, name),
                                 None, append, kwargs, attrs=attrs)


def writer_kwargs_for(kwargs: dict, element_shape: tuple, image_shape: tuple) -> dict:
    """``kwargs`` for an array of ``element_shape``: chunk options given for the patch
    arrays are dropped for arrays of another element shape (the centres)."""
    if element_shape == image_shape:
        return kwargs
    return {k: v for k, v in kwargs.items() if k not in _CHUNK_OPTIONS}


def check_writer_kwargs(file_format: str, kwargs: dict, batchsize: int, patchsize: int) -> None:
    """Create and discard a tiny array with the real writer in a temporary directory,
    so bad ``kwargs`` raise before anything is written at ``save_path``."""
    with tempfile.TemporaryDirectory(prefix="napari_datatools_check_") as tmp:
        target = os.path.join(tmp, {"hdf5": "check.h5", "zarr": "check.zarr",
                                    "bcolz": "check"}[file_format])
        try:
            for element_shape, dtype in (((1, patchsize, patchsize), np.float32),
                                         ((3,), np.int32)):
                name = "class_0" if len(element_shape) == 3 else "class_0_centres"
                opts = writer_kwargs_for(kwargs, element_shape, (1, patchsize, patchsize))
                writer = make_writer(file_format, target, name, element_shape, dtype,
                                     batchsize, opts, False)
                writer.close()
        except Exception as err:
            raise ValueError(
                f"kwargs: the {file_format} writer does not accept {kwargs!r}: "
                f"{type(err).__name__}: {err}") from err


class DatasetSink:
    """The writers of one dataset run, opened together and closed together.

    Parameters
    ----------
    layout : OutputLayout
        The dataset location.
    classes : sequence
        Class values, one ``class_<v>`` (+ ``_centres``, ``_labels``) set each.
    patchsize : int
        Patch edge length.
    label_dtype : numpy dtype or None
        Dtype of the label patches; None writes none.
    batchsize : int
        Elements per write.
    kwargs : dict
        Writer arguments.
    append : bool
        Continue existing arrays (new classes get new arrays).
    record : dict
        This run's provenance record; ``previous_provenance`` the JSON of the
        runs before (when appending).
    overwrite : bool
        Delete an existing dataset at the location first.
    """

    def __init__(self, layout: OutputLayout, classes: Any, patchsize: int,
                 label_dtype: Any, batchsize: int, kwargs: dict, append: bool,
                 record: dict, previous_provenance: str | None = None,
                 overwrite: bool = False) -> None:
        self.layout = layout
        self.path = layout.path
        self.record = record
        self._previous = previous_provenance
        self._closed = False
        self.writers: dict[Any, list[Any]] = {}
        if overwrite and layout.exists():
            layout.remove()
        created = not layout.exists()
        image_shape = (1, patchsize, patchsize)
        specs = [("", image_shape, np.float32), ("_centres", (3,), np.int32)]
        if label_dtype is not None:
            specs.append(("_labels", image_shape, np.dtype(label_dtype)))
        try:
            self._set_dataset_attrs(complete=False, kwargs=kwargs, at_start=True)
            for cls in classes:
                name = class_array_name(cls)
                self.writers[cls] = []
                for suffix, shape, dtype in specs:
                    attrs = {"class_value": _attr_value(cls)}
                    if layout.file_format == "bcolz" and not suffix:
                        attrs[PROVENANCE_ATTR] = self._provenance()
                        attrs[VERSION_ATTR] = record["napari_datatools_version"]
                    self.writers[cls].append(make_writer(
                        layout.file_format, os.fspath(self.path), name + suffix, shape,
                        dtype, batchsize, writer_kwargs_for(kwargs, shape, image_shape),
                        append, attrs))
        except BaseException:
            self._abort_writers()
            if created:
                layout.remove()
            raise

    def write(self, cls: Any, patches: np.ndarray, centres: np.ndarray,
              labels: np.ndarray | None = None) -> None:
        """Hand one batch of class ``cls`` to its writers."""
        writers = self.writers[cls]
        writers[0].buffered_write(patches)
        writers[1].buffered_write(centres)
        if labels is not None:
            writers[2].buffered_write(labels)

    def close(self, complete: bool, counts: dict) -> None:
        """Write what is buffered, close the writers and set the dataset attributes.

        With ``complete`` False (a cancelled or failed run) every array keeps the
        elements given to it and the dataset is marked incomplete.
        """
        if self._closed:
            return
        self._closed = True
        error: BaseException | None = None
        self.record["counts"] = {str(_attr_value(c)): int(n) for c, n in counts.items()}
        carries_attrs = self.layout.file_format == "bcolz"  # on each class_<v> array
        # the arrays carrying the dataset attributes close last, when the outcome is known
        order = [(w, i == 0 and carries_attrs) for ws in self.writers.values()
                 for i, w in enumerate(ws)]
        order.sort(key=lambda item: item[1])
        closed_with: list[Any] = []
        for writer, with_attrs in order:
            attrs = self._dataset_attrs(complete) if with_attrs else None
            try:
                writer.close(attrs) if complete else writer.abort(attrs)
                if with_attrs:
                    closed_with.append(writer)
            except BaseException as err:  # keep closing the others
                error = error or err
                complete = False
        self.record["complete"] = bool(complete)
        try:
            if not carries_attrs:
                self._set_dataset_attrs(complete=complete)
            elif error is not None and closed_with:
                # a later writer failed: the arrays closed before say complete; mend them
                self._set_dataset_attrs(complete=complete)
        except BaseException as err:
            error = error or err
        if error is not None:
            raise error

    # -- dataset attributes ---------------------------------------------------------
    def _provenance(self) -> str:
        """The runs' JSON, this run last (``complete`` False until it ends)."""
        return provenance_json(self._previous,
                               {**self.record, "complete": self.record.get("complete", False)})

    def _dataset_attrs(self, complete: bool) -> dict:
        self.record["complete"] = bool(complete)
        return {COMPLETE_ATTR: bool(complete), PROVENANCE_ATTR: self._provenance(),
                VERSION_ATTR: self.record["napari_datatools_version"]}

    def _set_dataset_attrs(self, complete: bool, kwargs: dict | None = None,
                           at_start: bool = False) -> None:
        values = self._dataset_attrs(complete)
        fmt, path = self.layout.file_format, os.fspath(self.path)
        if fmt == "hdf5":
            import h5py

            os.makedirs(os.path.dirname(path), exist_ok=True)
            with h5py.File(path, "a") as f:
                f.attrs.update(values)
        elif fmt == "zarr":
            import zarr

            zarr_format = None
            if at_start and not os.path.exists(path):
                zarr_format = (kwargs or {}).get("zarr_format")
            zarr.open_group(path, mode="a", zarr_format=zarr_format).attrs.update(values)
        elif at_start:
            os.makedirs(path, exist_ok=True)  # the writers add provenance to vlmeta
        else:
            import blosc2

            for cls in self.writers:
                item = self.layout.array_path(class_array_name(cls))
                if item.exists():
                    array = blosc2.open(os.fspath(item), mode="a")  # keep it alive
                    for key, value in values.items():
                        array.vlmeta[key] = value

    def _abort_writers(self) -> None:
        for writers in self.writers.values():
            for writer in writers:
                try:
                    writer.abort()
                except Exception:
                    pass


def _attr_value(value: Any) -> Any:
    """A class value as a plain attribute value (numpy scalars unwrapped)."""
    return value.item() if isinstance(value, np.generic) else value


def open_sink(job: Any, plan: Any) -> DatasetSink:
    """The sink of a checked job (see ``_job.DatasetJob``) for its plan."""
    previous = job.existing.attrs.get(PROVENANCE_ATTR) if job.existing is not None else None
    label_dtype = job.mask.dtype if job.save_labels else None
    return DatasetSink(job.layout, plan.classes, plan.patchsize, label_dtype, job.batchsize,
                       job.writer_kwargs, job.append, job.record, previous, job.overwrite)
