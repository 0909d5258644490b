"""Where a dataset run's batches go, and what is recorded about the run.

The writers (:mod:`napari_datatools.io`) buffer, write in a background thread,
grow their array as data arrives and keep ``n_written``/``complete`` on every
array. The sink adds what belongs to the dataset as a whole: the ``complete``
flag and the ``provenance`` JSON (the run's arguments, inputs and rng state),
stored where the format keeps dataset attributes (see ``io._formats``).

Every array of a class is written in the same batches, of at most
:data:`BATCH_BYTES` of patches whatever ``batchsize`` is, so a cancel or a failed
write stops between small units of work and at a boundary all of them share.
"""

from __future__ import annotations

import datetime
import errno
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..io._dataset_names import (
    COMPLETE_ATTR,
    PROVENANCE_ATTR,
    VERSION_ATTR,
    class_array_name,
    class_value,
)
from ..io._formats import ArrayFormat, Occupancy
from ..io._stored_dataset import align_written
from ._plan import PatchSize, patch_shape
from ._volume import describe_array


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON types: numpy scalars unwrapped, tuples as lists, paths as str.

    Anything else JSON does not know becomes its ``repr``.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        items = value.tolist() if isinstance(value, np.ndarray) else list(value)
        return [to_jsonable(v) for v in items]
    return repr(value)


def describe_rng(rng: Any) -> Any:
    """The ``rng`` argument as given: a seed, ``None`` or the generator's type name."""
    if rng is None or isinstance(rng, (int, np.integer)):
        return to_jsonable(rng)
    return f"{type(rng).__module__}.{type(rng).__qualname__}"


def run_record(arguments: dict, volume: Any, mask: Any) -> dict:
    """One run's provenance: arguments, input descriptions, version, start time.

    The run adds ``rng_state`` (``bit_generator.state`` before any draw, so it
    can be repeated exactly even when ``rng`` was a generator), then the
    ``counts`` written and ``complete`` when it ends.

    Parameters
    ----------
    arguments : dict
        The run's arguments except ``volume`` and ``mask`` (described instead).
    volume, mask : array-like
        Described by shape, dtype and type, never stored.
    """
    return {
        "function": "napari_datatools.patches.create_dataset",
        "napari_datatools_version": __version__,
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "arguments": to_jsonable(arguments),
        "volume": describe_array(volume),
        "mask": describe_array(mask),
    }


def provenance_json(previous: str | None, record: dict) -> str:
    """The JSON list of runs: ``previous`` runs (when appending) followed by ``record``."""
    runs: list = []
    if previous:
        try:
            loaded = json.loads(previous)
        except ValueError:
            loaded = None
        if isinstance(loaded, list):
            runs = loaded
    return json.dumps(runs + [record])



#: A batch (one write of one array, and its chunk length) holds at most this many bytes of
#: patches: a larger ``batchsize`` of large patches is written in batches of this size.
BATCH_BYTES = 16 * 2**20
#: A cancelled run writes what it handed to the writers when that is at most this many
#: bytes; else it drops the writes not started yet (see :meth:`DatasetSink.close`).
CANCEL_WRITE_BYTES = 16 * 2**20


def batch_length(batchsize: int, element_shape: tuple[int, ...], itemsize: int = 4) -> int:
    """Elements per write: ``batchsize``, or fewer so that a batch of elements of
    ``element_shape`` and ``itemsize`` bytes holds at most :data:`BATCH_BYTES`."""
    return min(batchsize, max(1, BATCH_BYTES // (itemsize * math.prod(element_shape))))


def writer_kwargs_for(fmt: ArrayFormat, kwargs: dict, element_shape: tuple,
                      image_shape: tuple) -> dict:
    """``kwargs`` for an array of ``element_shape``: chunk options given for the patch
    arrays are dropped for arrays of another element shape (the centres)."""
    if element_shape == image_shape:
        return kwargs
    return {k: v for k, v in kwargs.items() if k not in fmt.chunk_options}


def check_writer_kwargs(fmt: ArrayFormat, kwargs: dict, batchsize: int, patchsize: PatchSize,
                        channels: int | None = None) -> None:
    """Create and discard a tiny array with the real writer in a temporary directory,
    so bad ``kwargs`` raise before anything is written at ``save_path``. The format's
    defaults (no ``kwargs``, or its uncompressed preset) need no trial."""
    if not kwargs or kwargs == dict(fmt.uncompressed):
        return
    image_shape = (channels or 1, *patch_shape(patchsize))
    with tempfile.TemporaryDirectory(prefix="napari_datatools_check_") as tmp:
        target = fmt.example_location(Path(tmp), "check")
        try:
            for role, element_shape, dtype in (("patches", image_shape, np.float32),
                                               ("centres", (3,), np.int32)):
                opts = writer_kwargs_for(fmt, kwargs, element_shape, image_shape)
                writer = fmt.array_writer(target, class_array_name(0, role), element_shape,
                                          dtype, batchsize, opts, False)
                writer.close()
        except Exception as err:
            raise ValueError(
                f"kwargs: the {fmt.name} writer does not accept {kwargs!r}: "
                f"{type(err).__name__}: {err}") from err


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
        Elements per write (at most :data:`BATCH_BYTES` of patches: see
        :attr:`batch_size`, the number used).
    kwargs : dict
        Writer arguments.
    append : bool
        Continue existing arrays (new classes get new arrays).
    record : dict
        This run's provenance record; ``previous_provenance`` the JSON of the
        runs before (when appending).
    overwrite : bool
        Delete an existing dataset at the location first.
    channels : int or None
        Channels of the image patches (None: one, as ``(1, p, p)``).
    with_cases : bool
        Also write ``class_<v>_case``: the case index of every patch.
    dataset_attrs : dict, optional
        More dataset attributes (e.g. ``val_cases``).
    """

    def __init__(self, layout: OutputLayout, classes: Any, patchsize: PatchSize,
                 label_dtype: Any, batchsize: int, kwargs: dict, append: bool,
                 record: dict, previous_provenance: str | None = None,
                 overwrite: bool = False, *, channels: int | None = None,
                 with_cases: bool = False, dataset_attrs: dict | None = None) -> None:
        self.layout = layout
        self._extra_attrs = dict(dataset_attrs or {})
        self.path = layout.path
        self.record = record
        self._previous = previous_provenance
        self._closed = False
        self.writers: dict[Any, list[Any]] = {}
        fmt = layout.format
        if overwrite and layout.occupancy() == "dataset":
            fmt.remove_dataset(layout.path)
        created = layout.occupancy() == "absent"
        if append and not created:  # a killed run may have left a class's arrays unequal
            align_written(fmt, layout.path)
        image_shape = (channels or 1, *patch_shape(patchsize))
        label_shape = (1, *patch_shape(patchsize))
        specs = [("patches", image_shape, np.float32), ("centres", (3,), np.int32)]
        if label_dtype is not None:
            specs.append(("labels", label_shape, np.dtype(label_dtype)))
        if with_cases:
            specs.append(("case", (), np.int32))
        self._role_index = {role: i for i, (role, *_) in enumerate(specs)}
        #: Elements per write of every array (the same for all: batches stay aligned).
        self.batch_size = batch_length(batchsize, image_shape,
                                       max(np.dtype(dtype).itemsize for *_, dtype in specs))
        batchsize = self.batch_size
        self._start: dict[Any, int] = {}  # elements the arrays held before this run
        self._written: dict[Any, int] = {}
        try:
            self._set_dataset_attrs(complete=False, kwargs=kwargs, at_start=True)
            for cls in classes:
                self.writers[cls] = []
                for role, shape, dtype in specs:
                    attrs: dict[str, Any] = {"class_value": class_value(cls)}
                    if fmt.attrs_on_arrays and role == "patches":
                        attrs[PROVENANCE_ATTR] = self._provenance()
                        attrs[VERSION_ATTR] = record["napari_datatools_version"]
                    self.writers[cls].append(fmt.array_writer(
                        self.path, class_array_name(cls, role), shape, dtype, batchsize,
                        writer_kwargs_for(fmt, kwargs, shape, image_shape), append, attrs))
                self._start[cls] = min(len(w) for w in self.writers[cls])
        except BaseException:
            self._abort_writers()
            if created:
                fmt.remove_dataset(layout.path)
            raise

    def write(self, cls: Any, patches: np.ndarray, centres: np.ndarray,
              labels: np.ndarray | None = None, case: int | None = None, *,
              handed: bool = False) -> None:
        """Hand patches of class ``cls`` (from case ``case``) to its writers: any number,
        written in batches of :attr:`batch_size`. With ``handed``, ``patches`` and
        ``labels`` belong to the writers from now on (written without a copy)."""
        writers = self.writers[cls]
        # the small arrays first: writers that share a thread write in this order, and
        # a class is as long as its shortest array when a run stops early
        writers[1].buffered_write(centres)
        if "case" in self._role_index:
            writers[self._role_index["case"]].buffered_write(
                np.full(len(centres), -1 if case is None else case, np.int32), copy=False)
        if labels is not None:
            writers[self._role_index["labels"]].buffered_write(labels, copy=not handed)
        writers[0].buffered_write(patches, copy=not handed)

    def close(self, complete: bool, *, limit: dict | None = None) -> dict:
        """Close the writers and set the dataset attributes; return ``{class: elements
        this run wrote}``.

        ``limit`` (with ``complete`` False): ``{class: n}``, keep at most the first
        ``n`` elements this run gave that class (a run cancelled part way through the
        patches it had handed over keeps those it reported).

        A complete run writes everything it was given. With ``complete`` False (a
        cancelled or failed run) the dataset is marked incomplete and every array of a
        class holds the same elements: all that was given when that is at most
        :data:`CANCEL_WRITE_BYTES` and no write failed; else the writes not started
        are dropped (only writes in progress end), so closing takes a bounded time,
        and a class's arrays are cut to the elements all of them hold. A full disk
        raises ``OSError(ENOSPC)`` after that (the dataset attributes are then left
        as the run started them: incomplete).
        """
        if self._closed:
            return dict(self._written)
        self._closed = True
        writers = [w for ws in self.writers.values() for w in ws]
        if complete:
            try:
                for writer in writers:
                    writer.flush_buffer()
            except Exception:  # raised again by that writer's close below
                complete = False
        ends = {c: self._start[c] + n for c, n in (limit or {}).items() if c in self.writers}
        if not complete:
            for c, end in ends.items():  # nothing past the limit is written
                for writer in self.writers[c]:
                    writer.discard_unwritten(after=end)
        keep: dict[Any, int] | None = None
        if not complete and (any(w.failed for w in writers)
                             or _unwritten_bytes(writers) > CANCEL_WRITE_BYTES):
            for writer in writers:
                writer.discard_unwritten()  # first all: none writes after another stopped
            keep = {c: min(w.n_written for w in ws) for c, ws in self.writers.items()}
        elif not complete and ends:  # write what is left, then cut what went past the limit
            for writer in writers:
                try:
                    writer.flush_buffer()
                except Exception:  # raised again by that writer's abort below
                    pass
            keep = {c: min(w.n_written for w in ws) for c, ws in self.writers.items()}
        if keep is not None:
            keep = {c: min(n, ends.get(c, n)) for c, n in keep.items()}
        self._written = {c: (min(len(w) for w in ws) if keep is None else keep[c])
                         - self._start[c] for c, ws in self.writers.items()}
        self.record["counts"] = {str(class_value(c)): n for c, n in self._written.items()}
        error: BaseException | None = None
        carries_attrs = self.layout.format.attrs_on_arrays  # on each class_<v> array
        # the arrays carrying the dataset attributes close last, when the outcome is known
        order = [(w, i == 0 and carries_attrs) for ws in self.writers.values()
                 for i, w in enumerate(ws)]
        order.sort(key=lambda item: item[1])
        closed_with: list[Any] = []
        class_of = {id(w): c for c, ws in self.writers.items() for w in ws}
        for writer, with_attrs in order:
            attrs = self._dataset_attrs(complete) if with_attrs else None
            try:
                if complete:
                    writer.close(attrs)
                else:
                    writer.abort(attrs, keep=None if keep is None else keep[class_of[id(writer)]])
                if with_attrs:
                    closed_with.append(writer)
            except BaseException as err:  # keep closing the others
                error = error or err
                complete = False
        self.record["complete"] = bool(complete)
        disk_full = isinstance(error, OSError) and error.errno == errno.ENOSPC
        try:
            if disk_full:
                pass  # nothing can be written; the attributes say incomplete since the start
            elif not carries_attrs:
                self._set_dataset_attrs(complete=complete)
            elif error is not None and closed_with:
                # a later writer failed: the arrays closed before say complete; mend them
                self._set_dataset_attrs(complete=complete)
        except BaseException as err:
            error = error or err
        if error is not None:
            raise error
        return dict(self._written)

    # -- dataset attributes ---------------------------------------------------------
    def _provenance(self) -> str:
        """The runs' JSON, this run last (``complete`` False until it ends)."""
        return provenance_json(self._previous,
                               {**self.record, "complete": self.record.get("complete", False)})

    def _dataset_attrs(self, complete: bool) -> dict:
        self.record["complete"] = bool(complete)
        return {**self._extra_attrs, COMPLETE_ATTR: bool(complete),
                PROVENANCE_ATTR: self._provenance(),
                VERSION_ATTR: self.record["napari_datatools_version"]}

    def _set_dataset_attrs(self, complete: bool, kwargs: dict | None = None,
                           at_start: bool = False) -> None:
        fmt = self.layout.format
        if at_start and fmt.attrs_on_arrays:  # the writers add them to each class array
            self.path.mkdir(parents=True, exist_ok=True)
            return
        fmt.write_attrs(self.path, self._dataset_attrs(complete),
                        arrays=[class_array_name(c) for c in self.writers],
                        create_options=kwargs)

    def _abort_writers(self) -> None:
        for writers in self.writers.values():
            for writer in writers:
                try:
                    writer.abort()
                except Exception:
                    pass


def _unwritten_bytes(writers: list[Any]) -> int:
    """Bytes given to ``writers`` and not in storage yet (buffered, queued or being written)."""
    return sum((len(w) - w.n_written) * np.dtype(w.dtype).itemsize
               * math.prod(w.data_element_shape) for w in writers)
