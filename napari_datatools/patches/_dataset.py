"""``create_dataset``: patches of a volume written per class to HDF5, Zarr or blosc2.

The run plans, opens the sink, extracts and writes step by step, reporting
:class:`DatasetProgress`; it ends with a :class:`DatasetResult`.
"""

from __future__ import annotations

import copy
import inspect
import math
import sys
import threading
import time
from collections.abc import Callable, Generator, Hashable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple, TextIO

import numpy as np

from .._rng import RNGLike
from . import _sink
from ._distributed import run_on_cluster
from ._extraction import SlabPatches
from ._job import (
    Case,
    DatasetJob,
    DatasetProgress,
    DatasetResult,
    _Cancel,
    open_sink,
    prepare_job,
    result_from,
)
from ._plan import (
    PatchPlan,
    PatchSize,
    PlanCancelled,
    iter_plan_chunks,
    plan_cases,
    plan_classes,
)


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
    channel_axis: int | None = None,
    val_cases: Sequence[int] | None = None,
    client: Any = None,
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

    Closing the generator early (``gen.close()``) cancels the run as
    ``cancel_event`` does (see :func:`create_dataset`): the dataset is marked
    incomplete and every array of a class holds the same patches. This is what
    napari's ``thread_worker`` does when its worker is quit.
    """
    job = _job_of(locals())
    return _start(job, _stop_of(cancel_event), client)


#: The arguments of :func:`create_dataset` and :func:`iter_create_dataset` that
#: :func:`prepare_job` checks (both functions take them under these names).
_JOB_ARGUMENTS = tuple(inspect.signature(prepare_job).parameters)


def _job_of(arguments: dict[str, Any]) -> DatasetJob:
    """The checked job of a call of :func:`create_dataset` or :func:`iter_create_dataset`
    (``arguments``: its ``locals()``, of which :data:`_JOB_ARGUMENTS` are passed on)."""
    return prepare_job(**{name: arguments[name] for name in _JOB_ARGUMENTS})


def _stop_of(cancel_event: Any) -> Callable[[], bool] | None:
    """``cancel_event.is_set``, after checking that it is an event."""
    if cancel_event is None:
        return None
    if not callable(getattr(cancel_event, "is_set", None)):
        raise TypeError(f"cancel_event must be a threading.Event, got {cancel_event!r}")
    return cancel_event.is_set


def _start(job: DatasetJob, stop: Callable[[], bool] | None, client: Any
           ) -> Generator[DatasetProgress, None, DatasetResult]:
    """The run's generator: in this process, or on the dask cluster of ``client``."""
    if client is None:
        return _run(job, stop=stop)

    return run_on_cluster(job, client, stop)


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
    channel_axis: int | None = None,
    val_cases: Sequence[int] | None = None,
    client: Any = None,
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
    memory work, and memory stays bounded by a few steps of 16 MiB of patches
    plus a block of slices (see :func:`plan_patches`' ``shuffle_block``), never
    all patches.

    Parameters
    ----------
    save_path : str or os.PathLike
        Where to write. ``'hdf5'``: a file ending in ``.h5``/``.hdf5``, or a
        directory that gets ``patches.h5``. ``'zarr'``: a group ending in
        ``.zarr``, or a directory that gets ``patches.zarr``. ``'blosc2'``: a
        directory of ``<array name>.b2nd`` files (blosc2 NDArrays).
    patchsize : int or (int, int, int)
        Edge length of square 2D patches (within slices), between 1 and
        ``2 * min(Y, X) + 1``, or ``(pz, py, px)`` for 3D patches. For an even
        size the centre pixel sits at index ``patchsize // 2``.
    volume : array-like or sequence of array-like
        A 2D image ``(Y, X)`` or a volume in napari's ``(Z, Y, X)`` order (the
        original took ``(Y, X, Z)``); numpy, h5py, zarr or dask. A list of them is
        a list of cases (same dimensions and channels, any sizes): one dataset
        holds the patches of all, with ``class_<v>_case`` the case of each patch.
    mask : array-like or sequence of array-like, optional
        Label mask (not binary) of the volume's spatial shape; one per case.
    class_list : sequence, optional
        Mask values to write, in this order; default every value in the mask.
        A value absent from the mask gives a warning and an empty array.
    random_order : bool
        Shuffle the patches within each class.
    batchsize : int
        Patches per chunk of the arrays and per progress report, at most 16 MiB of
        them (large patches are chunked in smaller batches). Patches are extracted and
        written in steps of many batches (about 16 MiB) whatever ``batchsize`` is.
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
        With several cases the cap is for the whole dataset: the patches of a
        class are drawn uniformly among its candidates in all cases, so every
        case contributes in proportion to its candidate pixels.
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
        When set, the run stops after the current batch: the patches handed to
        the writers are written when they are few (16 MiB), else those not being
        written yet are dropped, so a cancel takes a fraction of a second whatever
        ``batchsize`` is. Every array of a class holds the same patches (the
        result's ``counts``), the dataset is marked incomplete and the result's
        ``complete`` is False.
    channel_axis : int, optional
        The axis of ``volume`` holding channels: patches are ``(n, C, p, p)``.
    val_cases : sequence of int, optional
        Cases reserved for validation (with a list of cases), stored as the
        dataset attribute ``val_cases``; ``dataset_sources(path, split=...)``
        reads either part.
    client : dask.distributed.Client, optional
        Run on this dask cluster (the ``distributed`` extra; see
        ``docs/distributed.md``): the same dataset, with ``"engine":
        "dask.distributed"`` in its provenance.

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
    OSError
        With ``errno.ENOSPC`` when the disk is full: the patches written so far
        are kept (every array of a class holds the same ones) and the dataset
        stays marked incomplete.
    """
    if not isinstance(show_progress, (bool, np.bool_)):
        raise TypeError(f"show_progress must be True or False, got {show_progress!r}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable (done, total), got {progress!r}")
    cancelled = _stop_of(cancel_event)
    job = _job_of(locals())
    gen = _start(job, cancelled, client)
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


class _Step(NamedTuple):
    """Consecutive batches of one class of one case, extracted and written at once."""

    case_index: int
    case: Case
    plan: PatchPlan
    cls: Hashable
    slab: SlabPatches
    labels: SlabPatches | None
    start: int  # first centre of the class, in the plan
    ends: list[int]  # the end of each batch


def _join_batches(chunks: Iterable[tuple[int, Hashable, int, int]], step: int
                  ) -> Iterator[tuple[int, Hashable, int, list[int]]]:
    """``(block, class, start, batch ends)``: the batches ``(block, class, start, stop)``
    of :func:`iter_plan_chunks` that follow one another within one class and block,
    joined up to ``step`` patches (the order is unchanged)."""
    run: tuple[int, Hashable, int, list[int]] | None = None
    for block, cls, start, stop in chunks:
        if (run is not None and run[0] == block and run[1] == cls and run[3][-1] == start
                and stop - run[2] <= step):
            run[3].append(stop)
            continue
        if run is not None:
            yield run
        run = (block, cls, start, [stop])
    if run is not None:
        yield run


def _steps(job: DatasetJob, plans: list[PatchPlan], batch: int, step: int
           ) -> Iterator[_Step]:
    """The run's steps in writing order: case after case, each in its plan's chunk order
    (batches of ``batch`` patches joined up to ``step``), holding one block of slices."""
    for index, (case, plan) in enumerate(zip(job.cases, plans, strict=True)):
        slab_index = -1
        slab: SlabPatches | None = None
        labels: SlabPatches | None = None
        for block, cls, start, ends in _join_batches(iter_plan_chunks(plan, batch), step):
            if slab is None or block != slab_index:
                slab = labels = None  # free the previous slices first
                slab = SlabPatches(case.volume, plan.blocks[block], plan.patchsize,
                                   job.mirrored)
                if job.save_labels and case.mask is not None:
                    labels = SlabPatches(case.mask, plan.blocks[block], plan.patchsize,
                                         job.mirrored)
                slab_index = block
            yield _Step(index, case, plan, cls, slab, labels, start, ends)
        slab = labels = None


def _step_length(job: DatasetJob, plan: PatchPlan, batch: int) -> int:
    """Patches per step: as many whole batches as :data:`_sink.BATCH_BYTES` of patches
    hold (at least one), whatever ``batchsize`` is, so the Python work of a step stays
    small next to the bytes it moves."""
    patch_bytes = 4 * (job.channels or 1) * math.prod(plan.patch_shape)
    return max(batch, _sink.BATCH_BYTES // patch_bytes // batch * batch)


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
        plans = plan_cases([case.plan_request for case in job.cases], job.rng, stop=stop)
    except PlanCancelled:
        return result_from(job.layout.path, fmt, {}, False, time.perf_counter() - t0)
    classes = plan_classes(plans, job.plan_request["class_list"])
    sink = open_sink(job, classes, plans[0].patchsize)
    total = sum(plan.total for plan in plans)
    # a batch (at most _sink.BATCH_BYTES of patches) between two progress reports,
    # whatever ``batchsize`` is, so a cancel is noticed quickly; the work goes by steps
    batch = sink.batch_size
    step = _step_length(job, plans[0], batch)
    complete = cancelled = False
    reported = dict.fromkeys(classes, 0)  # patches of each class in a progress report
    try:
        done = 0
        for s in _steps(job, plans, batch, step):
            centres = s.plan.centres[s.cls][s.start:s.ends[-1]]
            patches = s.slab.take(centres, np.float32)
            if s.case.volume.channels is None:
                patches = patches[:, None]
            sink.write(s.cls, patches, centres,
                       None if s.labels is None else s.labels.take(centres)[:, None],
                       s.case_index if job.with_cases else None, handed=True)
            for lo, hi in zip([s.start, *s.ends[:-1]], s.ends, strict=True):
                done += hi - lo
                reported[s.cls] += hi - lo
                try:
                    yield DatasetProgress(done, total)
                except _Cancel:
                    cancelled = True
                    break
            if cancelled:
                complete = done == total  # a cancel after the last batch changes nothing
                break
        else:
            complete = True
    finally:
        # on success, on cancel (_Cancel or close()) and on errors alike: a class's
        # arrays hold the same patches (those reported, or fewer when much was left to
        # write), the dataset says if it is complete
        written = sink.close(complete=complete, limit=None if complete else reported)
    return result_from(sink.path, fmt, written, complete, time.perf_counter() - t0)
