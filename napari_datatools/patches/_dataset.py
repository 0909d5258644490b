"""``create_dataset``: patches of a volume written per class to HDF5, Zarr or blosc2.

The run plans, opens the sink, extracts and writes step by step, reporting
:class:`DatasetProgress`; it ends with a :class:`DatasetResult`.
"""

from __future__ import annotations

import copy
import sys
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TextIO

import numpy as np

from .._rng import RNGLike
from ..io._dataset_names import class_array_name
from ._extraction import SlabPatches
from ._job import DatasetJob, prepare_job
from ._plan import PatchSize, PlanCancelled, build_plan, iter_plan_chunks
from ._sink import open_sink

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


class TerminalProgress:
    """Print ``[#####-----]  50%  500/1000 patches`` in place, at most ~10 times a second.

    Parameters
    ----------
    total : int
        Number of items when complete.
    stream : file-like, optional
        Where to print; default ``sys.stderr``.
    width : int
        Number of characters of the bar.
    """

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30,
                 unit: str = "patches") -> None:
        self.total = max(int(total), 0)
        self.stream = sys.stderr if stream is None else stream
        self.width = width
        self.unit = unit
        self._last = -1.0

    def update(self, done: int, force: bool = False) -> None:
        """Redraw the bar for ``done`` items (throttled unless ``force``)."""
        now = time.monotonic()
        if not force and now - self._last < 0.1 and done < self.total:
            return
        self._last = now
        frac = 1.0 if self.total == 0 else min(done / self.total, 1.0)
        filled = int(round(frac * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {frac:4.0%} {done}/{self.total} {self.unit}")
        self.stream.flush()

    def close(self, done: int) -> None:
        """Draw the final state and end the line."""
        self.update(done, force=True)
        self.stream.write("\n")
        self.stream.flush()


#: At most this many bytes of patches are extracted between two progress reports,
#: whatever ``batchsize`` is, so a cancel is noticed quickly.
STEP_BYTES = 16 * 2**20


class _Cancel(Exception):
    """Thrown into a running dataset generator to end it and get its result."""


def iter_create_dataset(
    save_path: Any,
    patchsize: PatchSize,
    volume: Any,
    mask: Any = None,
    class_list: Any = None,
    random_order: bool = True,
    batchsize: int = 32,
    file_format: str = "hdf5",
    kwargs: dict | None = {},  # noqa: B006 - the original's signature; never mutated
    *,
    mode: str = "pixel",
    stride: int | tuple[int, int] | None = None,
    max_per_class: int | None = None,
    mirrored: bool = True,
    save_labels: bool = False,
    overwrite: bool = False,
    append: bool = False,
    rng: RNGLike = None,
    cancel_event: threading.Event | None = None,
) -> Generator[DatasetProgress, None, DatasetResult]:
    """Write a patch dataset step by step: a generator of progress, returning the result.

    Takes the arguments of :func:`create_dataset` except ``show_progress`` and
    ``progress``. A set ``cancel_event`` also ends the planning, which comes
    before the first progress (a large mask can take seconds to scan): the run
    then returns an empty, incomplete result. Every argument is checked when this
    function is called (errors are raised here, before anything is written);
    the returned generator then plans the patches, writes them and yields a
    :class:`DatasetProgress` ``(done, total)`` after each batch. Its return value
    (``StopIteration.value``, or the value of ``yield from``) is the
    :class:`DatasetResult`.

    Closing the generator early (``gen.close()``) cancels the run: the patches
    extracted so far are written, every array holds exactly those, and the
    dataset is marked incomplete. This is what napari's ``thread_worker`` does
    when its worker is quit.
    """
    job = prepare_job(
        save_path=save_path, patchsize=patchsize, volume=volume, mask=mask,
        class_list=class_list, random_order=random_order, batchsize=batchsize,
        file_format=file_format, kwargs=kwargs, mode=mode, stride=stride,
        max_per_class=max_per_class, mirrored=mirrored, save_labels=save_labels,
        overwrite=overwrite, append=append, rng=rng)
    return _run(job, stop=_stop_of(cancel_event))


def _stop_of(cancel_event: Any) -> Callable[[], bool] | None:
    """``cancel_event.is_set``, after checking that it is an event."""
    if cancel_event is None:
        return None
    if not callable(getattr(cancel_event, "is_set", None)):
        raise TypeError(f"cancel_event must be a threading.Event, got {cancel_event!r}")
    return cancel_event.is_set


def create_dataset(
    save_path: Any,
    patchsize: PatchSize,
    volume: Any,
    mask: Any = None,
    class_list: Any = None,
    random_order: bool = True,
    batchsize: int = 32,
    file_format: str = "hdf5",
    kwargs: dict | None = {},  # noqa: B006 - the original's signature; never mutated
    show_progress: bool = False,
    *,
    mode: str = "pixel",
    stride: int | tuple[int, int] | None = None,
    max_per_class: int | None = None,
    mirrored: bool = True,
    save_labels: bool = False,
    overwrite: bool = False,
    append: bool = False,
    rng: RNGLike = None,
    progress: Callable[[int, int], Any] | None = None,
    cancel_event: threading.Event | None = None,
) -> DatasetResult:
    """Extract 2D patches of a volume and write them, one array per class.

    Every pixel of the mask (or of the volume, without a mask) of a class in
    ``class_list`` is the centre of a float32 patch; the patches of class ``v``
    go to an array ``class_<v>`` of shape ``(n, 1, patchsize, patchsize)``, their
    centres ``(z, y, x)`` to ``class_<v>_centres`` ``(n, 3)`` and, with
    ``save_labels``, the mask patches at the same places to ``class_<v>_labels``
    (mask dtype). Without a mask, all patches form ``class_0``. The arguments
    (and the rng state, so the run can be repeated) are stored as JSON in the
    ``provenance`` attribute, with ``complete`` and element-count attributes.

    Volumes are read slice by slice: h5py, zarr and dask volumes larger than
    memory work, and memory stays bounded by a few batches plus a block of
    slices (see :func:`plan_patches`' ``shuffle_block``), never all patches.

    Parameters
    ----------
    save_path : str or os.PathLike
        Where to write. ``'hdf5'``: a file ending in ``.h5``/``.hdf5``, or a
        directory that gets ``patches.h5``. ``'zarr'``: a group ending in
        ``.zarr``, or a directory that gets ``patches.zarr``. ``'blosc2'``: a
        directory of ``<array name>.b2nd`` files (blosc2 NDArrays).
    patchsize : int
        Edge length of the square patches, between 1 and ``2 * min(Y, X) + 1``.
        For an even size the centre pixel sits at index ``patchsize // 2``.
    volume : array-like
        A 2D image ``(Y, X)`` or a volume in napari's ``(Z, Y, X)`` order (the
        original took ``(Y, X, Z)``); numpy, h5py, zarr or dask.
    mask : array-like, optional
        Label mask (not binary) of the volume's shape.
    class_list : sequence, optional
        Mask values to write, in this order; default every value in the mask.
        A value absent from the mask gives a warning and an empty array.
    random_order : bool
        Shuffle the patches within each class.
    batchsize : int
        Patches per write (and per progress report).
    file_format : {'hdf5', 'zarr', 'blosc2'}
        ``'blosc2'`` stores ``.b2nd`` arrays; ``'bcolz'`` (the original's name) is an alias.
    kwargs : dict, optional
        Passed to the writers (``napari_datatools.io``) of the format, e.g.
        ``{'compression': None}`` for uncompressed HDF5.
    show_progress : bool
        Print a progress bar on stderr.
    mode : {'pixel', 'grid'}
        ``'grid'``: patches only at the points of a grid of spacing ``stride``
        (default ``patchsize``), where the mask has a class.
    stride : int or (int, int), optional
        Grid spacing, ``mode='grid'`` only.
    max_per_class : int, optional
        At most this many patches per class, drawn at random (class balancing).
    mirrored : bool
        Mirror the image at its edges (symmetric reflection), else zero-pad.
    save_labels : bool
        Also write the mask patches (needs a mask).
    overwrite : bool
        Replace an existing dataset at ``save_path``.
    append : bool
        Add the patches to an existing dataset of the same patch size (arrays
        of new classes are created); the run is added to its provenance.
    rng : int or numpy.random.Generator, optional
        Seed or generator for the random order and class balancing.
    progress : callable, optional
        Called as ``progress(done, total)`` after each batch.
    cancel_event : threading.Event, optional
        When set, the run stops after the current batch (within half a second):
        the arrays hold exactly the patches written, the dataset is marked
        incomplete and the result's ``complete`` is False.

    Returns
    -------
    DatasetResult
        Path, format, patches written per class, ``complete`` and elapsed time.

    Raises
    ------
    ValueError, TypeError
        For a bad argument (patch size, mask shape, format, ...), before anything
        is written.
    FileExistsError
        If ``save_path`` holds a dataset and neither ``overwrite`` nor ``append``.
    PermissionError, NotADirectoryError, IsADirectoryError
        If ``save_path`` cannot be written.
    """
    if not isinstance(show_progress, (bool, np.bool_)):
        raise TypeError(f"show_progress must be True or False, got {show_progress!r}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable (done, total), got {progress!r}")
    cancelled = _stop_of(cancel_event)
    job = prepare_job(
        save_path=save_path, patchsize=patchsize, volume=volume, mask=mask,
        class_list=class_list, random_order=random_order, batchsize=batchsize,
        file_format=file_format, kwargs=kwargs, mode=mode, stride=stride,
        max_per_class=max_per_class, mirrored=mirrored, save_labels=save_labels,
        overwrite=overwrite, append=append, rng=rng)
    gen = _run(job, stop=cancelled)
    bar = None
    done = 0
    try:
        while True:
            step = next(gen)
            done = step.done
            if progress is not None:
                progress(step.done, step.total)
            if show_progress:
                if bar is None:
                    bar = TerminalProgress(step.total)
                bar.update(step.done)
            if cancelled is not None and cancelled():
                gen.throw(_Cancel())  # the generator returns its (incomplete) result
    except StopIteration as stop:
        result = stop.value
    finally:
        gen.close()
        if bar is not None:
            bar.close(done)
    return result


def _run(job: DatasetJob, stop: Callable[[], bool] | None = None
         ) -> Generator[DatasetProgress, None, DatasetResult]:
    """Plan, open the output, extract and write batch by batch (see iter_create_dataset).

    ``stop`` is asked while planning (a stopped plan writes nothing); after that,
    a run is cancelled by throwing :class:`_Cancel` into it or by closing it.
    """
    t0 = time.perf_counter()
    fmt = job.layout.file_format
    if stop is not None and stop():
        return result_from(job.layout.path, fmt, {}, False, time.perf_counter() - t0)
    job.record["rng_state"] = copy.deepcopy(job.rng.bit_generator.state)
    try:
        plan = build_plan(job.plan_request, job.rng, stop=stop)
    except PlanCancelled:
        return result_from(job.layout.path, fmt, {}, False, time.perf_counter() - t0)
    sink = open_sink(job, plan)
    counts = {c: 0 for c in plan.classes}
    total = plan.total
    step = min(job.batchsize, max(1, STEP_BYTES // (4 * int(np.prod(plan.patch_shape)))))
    complete = False
    try:
        done = 0
        slab_index, slab, labels = -1, None, None
        for block, cls, start, end in iter_plan_chunks(plan, step):
            if block != slab_index:
                slab = labels = None  # free the previous slices first
                slab = SlabPatches(job.volume, plan.blocks[block], plan.patchsize, job.mirrored)
                if job.save_labels:
                    labels = SlabPatches(job.mask, plan.blocks[block], plan.patchsize,
                                         job.mirrored)
                slab_index = block
            centres = plan.centres[cls][start:end]
            sink.write(cls, slab.take(centres, np.float32)[:, None], centres,
                       None if labels is None else labels.take(centres)[:, None])
            counts[cls] += len(centres)
            done += len(centres)
            try:
                yield DatasetProgress(done, total)
            except _Cancel:
                complete = done == total  # a cancel after the last batch changes nothing
                break
        else:
            complete = True
    finally:
        # on success, on cancel (_Cancel or close()) and on errors alike: every
        # array keeps exactly what it was given, the dataset says if it is complete
        sink.close(complete=complete, counts=counts)
    return result_from(sink.path, fmt, counts, complete, time.perf_counter() - t0)
