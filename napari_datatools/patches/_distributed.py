"""Running a dataset job on a dask cluster: ``create_dataset(..., client=client)``.

The run gives the same dataset as the single-process one (same plan, same patches
in the same order, same provenance plus ``"engine": "dask.distributed"``):

1. **Plan.** Workers count the candidate centres of every class in every slice
   (one task per case, or per slab of a large mask). The client then draws the
   plan with the single-process generator calls (``_plan.plan_cases``), in *rank
   space*: a centre is ``(z, rank)``, the rank-th candidate of its class in slice
   ``z``, so the client never reads a mask. Counts per class per case, and so
   every output size, are known before anything is written.
2. **Units.** Each case's plan is cut into units of about :data:`UNIT_BYTES` of
   patches (a whole case, or a run of its shuffle blocks); a unit holds, per
   class, a contiguous range of the class's output rows. Workers turn ranks into
   positions (reading the mask slices), extract and write.
3. **Writing.** Zarr: the client preallocates every array; a unit writes the
   chunks (or shards) its rows fill whole, and hands the rows of chunks shared
   with neighbouring units to a small seam task (one per unit at most) that
   writes those chunks, so every chunk has exactly one writer. HDF5, blosc2 and
   appending runs: a unit writes its rows as ``.npy`` parts next to the output;
   the client streams the parts, in order, into the ordinary dataset writers
   (patch data passes through the client once). Part writes are atomic
   (``rename``) and chunk writes whole, so a task that dask retries after its
   worker died writes the same bytes again.
4. **Cancel.** A marker file next to the output stops tasks that have not
   started and running ones after their current shuffle block; the client waits
   for them, keeps the longest prefix of every class that is fully written and
   marks the dataset incomplete.

Workers and the client must see the output path (and file sources) at the same
place: a local cluster, or a shared file system.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import pickle
import shutil
import signal
import sys
import threading
import time
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Generator, Hashable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np

from ..errors import ArgumentTypeError
from ..io._dataset_names import (
    COMPLETE_ATTR,
    PROVENANCE_ATTR,
    VERSION_ATTR,
    class_array_name,
    class_value,
)
from ..io._stored_dataset import ARRAY_COMPLETE, N_WRITTEN
from ._extraction import SlabPatches
from ._job import DatasetJob, DatasetProgress, DatasetResult, _Cancel, open_sink, result_from
from ._plan import (
    PatchPlan,
    PlanCancelled,
    _order,
    _slice_centres,
    _slice_counts,
    _to_zyx,
    _wanted,
    allocate_cases,
    patch_shape,
    plan_classes,
)
from ._sink import batch_length, provenance_json, writer_kwargs_for

#: The provenance records which engine ran the job under this key.
ENGINE = "dask.distributed"
#: What to install when dask.distributed is missing.
EXTRA_HINT = "pip install 'napari-datatools[distributed]'"
#: A unit of work holds about this many bytes of patches (a task takes seconds).
UNIT_BYTES = 128 * 2**20
#: A planning task reads about this many bytes of mask.
SCAN_BYTES = 256 * 2**20
#: Tasks in flight per worker thread (more are submitted as tasks end).
TASKS_PER_THREAD = 3
#: Seconds between two looks at ``stop`` while the client waits for the cluster.
POLL_SECONDS = 0.1
#: Seconds a cancelled run waits for the tasks still running to end.
CANCEL_WAIT_SECONDS = 120.0


# -- the client ------------------------------------------------------------------------


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as err:
        raise ImportError(
            "create_dataset(client=...) runs on dask.distributed, an optional dependency: "
            f"{EXTRA_HINT}") from err
    return distributed


def check_client(client: Any) -> None:
    """Raise unless ``client`` is a connected ``dask.distributed.Client``.

    Raises
    ------
    ImportError
        When dask.distributed (the ``distributed`` extra) is not installed.
    TypeError
        When ``client`` is something else.
    ValueError
        When the client is closed or asynchronous.
    """
    distributed = _import_distributed()
    if not isinstance(client, distributed.Client):
        raise ArgumentTypeError(f"client must be a dask.distributed.Client, got {client!r}")
    if client.status not in ("running", "connecting", "newly-created"):
        raise ValueError(f"client: the dask client is {client.status}, not running")
    if client.asynchronous:
        raise ValueError("client: an asynchronous dask client cannot run create_dataset, "
                         "which waits for its tasks; give a synchronous Client")


def run_on_cluster(job: DatasetJob, client: Any, stop: Callable[[], bool] | None = None
                   ) -> Generator[DatasetProgress, None, DatasetResult]:
    """The generator of ``job`` run on ``client``'s cluster (same protocol as ``_run``).

    The client is checked now, before the generator is returned.
    """
    check_client(client)
    return _ClusterRun(job, client, stop).run()


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """A client for the console command: of a new local cluster of ``workers`` worker
    processes (one thread each), or of the running scheduler at ``scheduler``; None
    when both are None. A local cluster is closed on exit.

    The local workers ignore SIGINT, so Ctrl-C reaches only the client, which cancels
    the run cleanly.
    """
    if workers is None and scheduler is None:
        yield None
        return
    if workers is not None and scheduler is not None:
        raise ValueError("give --workers (a local cluster) or --scheduler (a running one), "
                         "not both")
    distributed = _import_distributed()
    if scheduler is not None:
        with distributed.Client(scheduler) as client:
            yield client
        return
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"--workers must be a positive number of processes, got {workers!r}")
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:  # worker processes keep the ignored SIGINT they are started with
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                           processes=True, dashboard_address=None)
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
    with cluster, distributed.Client(cluster) as client:
        yield client


# -- sources sent to the workers ----------------------------------------------------------


def _open_hdf5(filename: str, name: str) -> Any:
    import h5py

    return h5py.File(filename, "r")[name]


def _open_memmap_view(filename: str, dtype: np.dtype, shape: tuple, strides: tuple,
                      offset: int) -> np.ndarray:
    whole = np.memmap(filename, dtype=np.uint8, mode="r")
    return np.ndarray(shape, dtype, buffer=whole, offset=offset, strides=strides)


def _open_blosc2(urlpath: str) -> Any:
    import blosc2

    return blosc2.open(urlpath, mode="r")


def _memmap_reduction(array: np.memmap) -> tuple | None:
    """A memmap (or a view of one: a transposed NIfTI volume) as its file and byte offset."""
    mm = getattr(array, "_mmap", None)
    if mm is None or not isinstance(array.filename, str):
        return None
    import mmap

    start = array.offset - array.offset % mmap.ALLOCATIONGRANULARITY
    base = np.frombuffer(mm, np.uint8).__array_interface__["data"][0]
    here = array.__array_interface__["data"][0]
    return _open_memmap_view, (array.filename, array.dtype, array.shape, array.strides,
                               start + here - base)


class _SourcePickler(cloudpickle.Pickler):
    """Pickles file-backed arrays as where they are, so workers reopen them: h5py
    datasets, numpy memmaps (and views of them) and blosc2 arrays on disk."""

    def reducer_override(self, obj: Any) -> Any:
        h5py = sys.modules.get("h5py")
        if h5py is not None and isinstance(obj, h5py.Dataset):
            return _open_hdf5, (obj.file.filename, obj.name)
        if isinstance(obj, np.memmap):
            reduced = _memmap_reduction(obj)
            if reduced is not None:
                return reduced
        blosc2 = sys.modules.get("blosc2")
        if blosc2 is not None and isinstance(obj, blosc2.NDArray) and obj.urlpath:
            return _open_blosc2, (os.fspath(obj.urlpath),)
        return super().reducer_override(obj)


def portable_sources(job: DatasetJob, index: int) -> bytes:
    """Case ``index``'s volume and mask pickled for the workers (files by reference)."""
    case = job.cases[index]
    buffer = io.BytesIO()
    try:
        _SourcePickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump((case.volume, case.mask))
    except Exception as err:
        where = f"case {index}" if job.with_cases else "the volume or mask"
        raise ValueError(
            f"volume: {where} cannot be sent to the dask workers ({type(err).__name__}: "
            f"{err}); give numpy, h5py, zarr, dask or memmap arrays") from err
    return buffer.getvalue()


# -- what runs on the workers ---------------------------------------------------------------


def _cancelled(marker: str) -> bool:
    return os.path.exists(marker)


def count_candidates(sources: bytes, request: dict, z0: int, z1: int, marker: str
                     ) -> dict | None:
    """Worker: ``{class: (z1 - z0,) counts}`` of candidate centres in slices ``z0:z1``
    (None when the run was cancelled). Keys in order of first appearance, as
    ``_plan._count_candidates`` makes them."""
    _, masks = pickle.loads(sources)
    wanted = _wanted(request["class_list"])
    counts: dict[Hashable, np.ndarray] = {}
    for z in range(z0, z1):
        if _cancelled(marker):
            return None
        for key, n in _slice_counts(z, request["shape"], masks, wanted, request["grid"],
                                    request["binary"]).items():
            counts.setdefault(key, np.zeros(z1 - z0, np.int64))[z - z0] = n
    return counts


@dataclass(frozen=True)
class ArraySpec:
    """One output array: its name, class, role, element shape and dtype."""

    name: str
    cls: Any
    role: str
    shape: tuple
    dtype: np.dtype


@dataclass
class UnitWork:
    """What a worker needs for one unit: per class, the rank-space rows of the case's
    plan it extracts, the shuffle block of each row, and where they go in the output."""

    index: int
    case: int
    rows: dict
    blocks: dict
    start: dict

    @property
    def patches(self) -> int:
        return int(sum(len(r) for r in self.rows.values()))


@dataclass(frozen=True)
class ExtractSettings:
    """The settings every unit shares."""

    patchsize: Any
    mirrored: bool
    image_shape: tuple
    label_dtype: Any
    specs: tuple  # ArraySpec of every array, class by class
    marker: str


def _positions(rows: np.ndarray, candidates: dict, cls: Any, nx: int) -> np.ndarray:
    """Rank-space rows ``(z, rank // X, rank % X)`` of class ``cls`` as centres ``(z, y, x)``."""
    out = np.empty_like(rows)
    ranks = rows[:, 1].astype(np.int64) * nx + rows[:, 2]
    for z in np.unique(rows[:, 0]):
        sel = rows[:, 0] == z
        lin = candidates[int(z)]
        lin = ranks[sel] if lin is None else lin[cls][ranks[sel]]
        out[sel] = _to_zyx(int(z), lin, nx)
    return out


def extract_unit(sources: bytes, request: dict, settings: ExtractSettings, work: UnitWork
                 ) -> dict | None:
    """Worker: the arrays of one unit, ``{array name: data}`` in output order (None when
    the run was cancelled first)."""
    if _cancelled(settings.marker):
        return None
    volume, masks = pickle.loads(sources)
    shape = request["shape"]
    nx = shape[2]
    identity = masks is None and request["grid"] is None  # rank == y * X + x
    wanted = _wanted(request["class_list"])
    out: dict[str, np.ndarray] = {}
    specs = {(s.cls, s.role): s for s in settings.specs}
    for cls, rows in work.rows.items():
        n = len(rows)
        for role in ("patches", "centres", "labels", "case"):
            spec = specs.get((cls, role))
            if spec is not None:
                out[spec.name] = np.empty((n, *spec.shape), spec.dtype)
    ids = np.unique(np.concatenate([b for b in work.blocks.values()] or [np.empty(0, int)]))
    for block in ids:
        if _cancelled(settings.marker):
            return None
        spans = {c: (int(np.searchsorted(b, block, "left")),
                     int(np.searchsorted(b, block, "right"))) for c, b in work.blocks.items()}
        zs = np.unique(np.concatenate([work.rows[c][lo:hi, 0] for c, (lo, hi) in spans.items()]))
        candidates = {int(z): None if identity else _slice_centres(
            int(z), shape, masks, wanted, request["grid"], request["binary"]) for z in zs}
        slices = [int(z) for z in zs]
        slab = SlabPatches(volume, slices, settings.patchsize, settings.mirrored)
        labels = None
        if settings.label_dtype is not None:
            labels = SlabPatches(masks, slices, settings.patchsize, settings.mirrored)
        for cls, (lo, hi) in spans.items():
            if hi == lo:
                continue
            centres = _positions(work.rows[cls][lo:hi], candidates, cls, nx)
            for role in ("patches", "centres", "labels", "case"):
                spec = specs.get((cls, role))
                if spec is None:
                    continue
                target = out[spec.name]
                if role == "patches":
                    target[lo:hi] = slab.take(centres, np.float32).reshape(hi - lo, *spec.shape)
                elif role == "centres":
                    target[lo:hi] = centres
                elif role == "labels":
                    if labels is not None:  # a labels array is specified with a mask only
                        target[lo:hi] = labels.take(centres).reshape(hi - lo, *spec.shape)
                else:
                    target[lo:hi] = work.case
        del slab, labels
    return out


@dataclass(frozen=True)
class ZarrRegions:
    """Worker side of the Zarr output: the preallocated arrays, their write blocks
    (chunk or shard length) and lengths."""

    path: str
    blocks: dict  # array name -> (block length, array length)

    def owned(self, name: str, lo: int, hi: int) -> tuple[int, int]:
        """The rows of ``lo:hi`` in chunks that lie wholly in it: ``(a, b)``, maybe empty."""
        block, length = self.blocks[name]
        a = lo if lo % block == 0 else (lo // block + 1) * block
        b = hi if hi == length else hi // block * block
        return (a, b) if a < b else (hi, hi)

    def open(self, name: str) -> Any:
        import zarr

        from ..io._zarr_writer import writable

        return writable(zarr.open_array(store=os.path.join(self.path, name), mode="r+"))


def write_unit_zarr(sources: bytes, request: dict, settings: ExtractSettings, work: UnitWork,
                    regions: ZarrRegions) -> dict | None:
    """Worker: extract a unit, write its whole chunks; return ``{"patches": n, "pieces":
    {(array name, chunk): (first row, rows)}}`` for the chunks it shares (None when
    cancelled)."""
    arrays = extract_unit(sources, request, settings, work)
    if arrays is None:
        return None
    pieces: dict[tuple[str, int], tuple[int, np.ndarray]] = {}
    for spec in settings.specs:
        if spec.cls not in work.rows or spec.name not in arrays:
            continue
        data = arrays[spec.name]
        lo = work.start[spec.cls]
        hi = lo + len(data)
        if hi == lo:
            continue
        a, b = regions.owned(spec.name, lo, hi)
        if a < b:
            if _cancelled(settings.marker):
                return None
            regions.open(spec.name)[a:b] = data[a - lo:b - lo]
        block = regions.blocks[spec.name][0]
        for first, end in ((lo, a if a < b else hi), (b, hi) if a < b else (hi, hi)):
            row = first
            while row < end:  # the shared rows, cut at chunk boundaries
                stop = min(end, (row // block + 1) * block)
                pieces[(spec.name, row // block)] = (row, data[row - lo:stop - lo])
                row = stop
    return {"patches": work.patches, "pieces": pieces}


def write_seams(regions: ZarrRegions, chunks: list, *unit_results: dict | None) -> int:
    """Worker: write the shared ``chunks`` ``[(array name, chunk)]`` from the pieces the
    units that share them returned; returns the number of chunks written (none when a
    unit found the run cancelled)."""
    if any(r is None for r in unit_results):
        return 0
    arrays: dict[str, Any] = {}
    for name, k in chunks:
        block, length = regions.blocks[name]
        first, end = k * block, min((k + 1) * block, length)
        parts = sorted(r["pieces"][(name, k)] for r in unit_results
                       if r is not None and (name, k) in r["pieces"])
        if not parts:
            raise RuntimeError(f"seam of {name} chunk {k}: no unit holds rows of it")
        data = np.concatenate([p for _, p in parts])
        if parts[0][0] != first or len(data) != end - first:
            raise RuntimeError(f"seam of {name} chunk {k}: pieces cover rows "
                               f"{parts[0][0]}..{parts[0][0] + len(data)}, not {first}..{end}")
        if name not in arrays:
            arrays[name] = regions.open(name)
        arrays[name][first:end] = data
    return len(chunks)


def write_unit_parts(sources: bytes, request: dict, settings: ExtractSettings, work: UnitWork,
                     folder: str) -> dict | None:
    """Worker: extract a unit and save its arrays as ``.npy`` files in ``folder/unit_<i>``,
    atomically (a folder renamed into place); returns ``{"patches": n, "folder": path}``."""
    arrays = extract_unit(sources, request, settings, work)
    if arrays is None:
        return None
    final = os.path.join(folder, f"unit_{work.index:07d}")
    if not os.path.isdir(final):
        partial = os.path.join(folder, f".unit_{work.index:07d}.{uuid.uuid4().hex[:8]}")
        os.mkdir(partial)  # never creates ``folder``: a cancelled run removes it
        for name, data in arrays.items():
            np.save(os.path.join(partial, f"{name}.npy"), data, allow_pickle=False)
        try:
            os.rename(partial, final)
        except OSError:  # another attempt of this task got there first: same content
            shutil.rmtree(partial, ignore_errors=True)
            if not os.path.isdir(final):
                raise
    return {"patches": work.patches, "folder": final}


# -- the plan ------------------------------------------------------------------------------


def case_plan(request: dict, counts: dict, gen: np.random.Generator, max_per_class: Any,
              stop: Callable[[], bool] | None = None) -> PatchPlan:
    """The plan of one case, in rank space, from its candidate counts per class per slice.

    Makes the generator calls of ``_plan._build_plan`` with these counts, in the same
    order (class balancing, the draw within each slice, the shuffle), so the plan is
    the single-process one with each centre ``(z, y, x)`` given as ``(z, r // X, r % X)``,
    ``r`` its rank among the candidates of its class in slice ``z``.
    """
    shape = request["shape"]
    nz, nx = shape[0], shape[2]
    per_class: dict[Hashable, list[np.ndarray]] = {}
    if max_per_class is not None:
        take = {}
        for c, per_z in counts.items():
            cap = max_per_class.get(c) if isinstance(max_per_class, dict) else max_per_class
            take[c] = per_z if cap is None or int(per_z.sum()) <= cap \
                else gen.multivariate_hypergeometric(per_z, cap)
        per_class = {c: [] for c in counts}
        for z in range(nz):
            need = {c: int(t[z]) for c, t in take.items() if t[z] > 0}
            if not need:
                continue
            if stop is not None and stop():
                raise PlanCancelled(f"planning stopped before slice {z}")
            for c, k in need.items():
                n = int(counts[c][z])
                ranks = np.arange(n) if k == n else np.sort(gen.choice(n, k, replace=False))
                per_class[c].append(_to_zyx(z, ranks, nx))
    else:
        for c, per_z in counts.items():
            for z in (int(z) for z in np.flatnonzero(per_z)):
                per_class.setdefault(c, []).append(_to_zyx(z, np.arange(per_z[z]), nx))
    wanted = _wanted(request["class_list"])
    if wanted is not None:
        classes = tuple(wanted)
    elif request["masks"] is None or request["binary"]:
        classes = (True,) if request["binary"] else (0,)
    else:
        classes = tuple(sorted(per_class))
    missing = tuple(c for c in classes if c not in per_class and wanted is not None)
    if missing and request["masks"] is not None:
        warnings.warn(
            f"class_list values {list(missing)} do not occur in the mask"
            + (" grid" if request["mode"] == "grid" else "") + "; their patch arrays will be empty",
            UserWarning, stacklevel=4)
    centres = {c: np.concatenate(per_class[c]) if per_class.get(c) else np.empty((0, 3), np.int32)
               for c in classes}
    blocks, offsets, centres = _order(centres, classes, shape, request["patchsize"],
                                      request["random_order"], request["shuffle_block"],
                                      request["itemsize"], gen)
    grid = request["grid"]
    return PatchPlan(tuple(shape), request["patchsize"], classes, centres, blocks, offsets,
                     missing, request["mode"], grid.stride if grid is not None else None,
                     request["random_order"])


def case_plans(requests: list[dict], counts: list[dict], gen: np.random.Generator,
               stop: Callable[[], bool] | None = None) -> list[PatchPlan]:
    """Every case's plan (rank space), as ``_plan.plan_cases`` draws them."""
    if len(requests) == 1 or requests[0]["max_per_class"] is None:
        return [case_plan(r, n, gen, r["max_per_class"], stop)
                for r, n in zip(requests, counts, strict=True)]
    caps = allocate_cases(counts, requests[0]["max_per_class"], gen)
    return [case_plan(r, n, gen, case_caps, stop)
            for r, n, case_caps in zip(requests, counts, caps, strict=True)]


def slice_counts_without_mask(request: dict) -> dict:
    """The candidate counts of a case without a mask (no data is read)."""
    nz = request["shape"][0]
    counts: dict[Hashable, np.ndarray] = {}
    for z in range(nz):
        for key, n in _slice_counts(z, request["shape"], None, None, request["grid"],
                                    request["binary"]).items():
            counts.setdefault(key, np.zeros(nz, np.int64))[z] = n
    return counts


# -- units -------------------------------------------------------------------------------


def split_case(plan: PatchPlan, start: dict, align: dict, target: int) -> list[dict]:
    """Cut a case's plan into units of about ``target`` patches.

    Returns one ``{class: (lo, hi)}`` of case rows per unit. Cuts fall between
    shuffle blocks (a large block is cut in equal shares of every class), moved to
    the nearest multiple of ``align[class]`` in output rows (``start[class]`` + case
    row) so that most chunks belong to one unit.
    """
    classes = plan.classes
    sizes = {c: len(plan.centres[c]) for c in classes}
    per_block = np.zeros(len(plan.blocks), np.int64)
    for c in classes:
        per_block += np.diff(plan.block_offsets[c])
    total = int(per_block.sum())
    if total == 0:
        return []
    k = max(1, round(total / max(target, 1)))
    cumulative = np.concatenate([[0], np.cumsum(per_block)])
    cuts: list[dict] = [{c: 0 for c in classes}]
    for j in range(1, k):
        goal = j * total / k
        b = int(np.searchsorted(cumulative, goal, "right")) - 1
        b = min(b, len(plan.blocks) - 1)
        frac = (goal - cumulative[b]) / max(per_block[b], 1)
        cut = {}
        for c in classes:
            lo, hi = int(plan.block_offsets[c][b]), int(plan.block_offsets[c][b + 1])
            row = lo + int(round(frac * (hi - lo)))
            step = max(1, align[c])
            aligned = int(round((start[c] + row) / step)) * step - start[c]
            cut[c] = min(max(aligned, cuts[-1][c]), sizes[c])
        cuts.append(cut)
    cuts.append(dict(sizes))
    units = []
    for before, after in zip(cuts[:-1], cuts[1:], strict=True):
        rows = {c: (before[c], after[c]) for c in classes}
        if any(hi > lo for lo, hi in rows.values()):
            units.append(rows)
    return units


def block_of_rows(plan: PatchPlan, cls: Any, lo: int, hi: int) -> np.ndarray:
    """The shuffle block of rows ``lo:hi`` of class ``cls``."""
    rows = np.arange(lo, hi)
    return (np.searchsorted(plan.block_offsets[cls], rows, "right") - 1).astype(np.int32)


# -- the run --------------------------------------------------------------------------


def hold(payload: bytes) -> bytes:
    """Worker: ``payload`` itself. A case's sources live on the cluster as the result of
    this task, so a worker lost with them recomputes them (scattered data would be gone)."""
    return payload


#: Sources pickled to at most this many bytes travel inside every task of their case;
#: larger ones (in-memory volumes) are held once on the cluster (see :func:`hold`).
INLINE_SOURCE_BYTES = 64 * 2**10


class _ClusterRun:
    """One ``create_dataset`` run on a cluster; :meth:`run` is its generator.

    Every future the client still needs is in :attr:`futures`; the others are
    forgotten as soon as they are used, so results do not pile up on the workers.
    """

    def __init__(self, job: DatasetJob, client: Any, stop: Callable[[], bool] | None) -> None:
        self.job = job
        self.client = client
        self.stop = stop
        self.distributed = _import_distributed()
        self.fmt = job.layout.format
        out = job.layout.path
        self.token = uuid.uuid4().hex[:10]
        #: Scratch folder next to the output: the cancel marker and ``.npy`` parts.
        self.folder = out.parent / f".{out.name}.dask-{self.token}"
        self.marker = os.fspath(self.folder / "cancelled")
        self.futures: set[Any] = set()
        self.sources: dict[int, Any] = {}
        self._threads = (0.0, 1)

    # -- the cluster --------------------------------------------------------------------
    def stopped(self) -> bool:
        return self.stop is not None and bool(self.stop())

    def limit(self) -> int:
        """Tasks to keep in flight: a few per worker thread (asked every few seconds)."""
        asked, threads = self._threads
        if time.monotonic() - asked > 5.0:
            threads = max(1, sum(self.client.nthreads().values()))
            self._threads = (time.monotonic(), threads)
        return TASKS_PER_THREAD * threads

    def wait_some(self, pending: Any, timeout: float) -> list:
        """The futures of ``pending`` that are done, waiting up to ``timeout`` s for one."""
        pending = list(pending)
        done = [f for f in pending if f.done()]  # no round trip to the scheduler
        if done or not pending or timeout <= 0:
            return done
        try:
            finished, _ = self.distributed.wait(pending, timeout=timeout,
                                                return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        return list(finished)

    def submit(self, func: Callable, *args: Any, key: str) -> Any:
        future = self.client.submit(func, *args, key=f"napari-datatools-{key}-{self.token}",
                                    pure=False)
        self.futures.add(future)
        return future

    def forget(self, future: Any) -> None:
        self.futures.discard(future)

    def source(self, index: int) -> Any:
        """Case ``index``'s pickled sources: the bytes, or the future holding them."""
        if index not in self.sources:
            payload = portable_sources(self.job, index)
            self.sources[index] = payload if len(payload) <= INLINE_SOURCE_BYTES \
                else self.submit(hold, payload, key=f"sources-{index}")
        return self.sources[index]

    def settle(self) -> None:
        """Stop the tasks still running (the marker: tasks not started end at once,
        running ones after their current block), wait for them, release every future."""
        running = [f for f in self.futures if not f.done()]
        if running:
            self.folder.mkdir(parents=True, exist_ok=True)
            Path(self.marker).touch()
            try:
                self.distributed.wait(running, timeout=CANCEL_WAIT_SECONDS)
            except TimeoutError:  # stuck tasks (a hung file system...): stop waiting
                self.client.cancel([f for f in running if not f.done()])
        self.futures.clear()
        self.sources.clear()

    # -- planning ----------------------------------------------------------------------
    def count(self) -> list[dict]:
        """Candidate counts of every case; workers read the masks (PlanCancelled)."""
        requests = [case.plan_request for case in self.job.cases]
        counts: list[dict] = [{} for _ in requests]
        slabs = []
        for i, r in enumerate(requests):
            if r["masks"] is None:
                counts[i] = slice_counts_without_mask(r)
                continue
            nz, ny, nx = r["shape"]
            step = max(1, SCAN_BYTES // max(1, r["masks"].dtype.itemsize * ny * nx))
            slabs += [(i, z0, min(nz, z0 + step)) for z0 in range(0, nz, step)]
        todo = deque(slabs)
        running: dict[Any, tuple] = {}
        parts: dict[tuple, dict] = {}
        while todo or running:
            while todo and len(running) < self.limit():
                i, z0, z1 = todo.popleft()
                light = {k: v for k, v in requests[i].items() if k != "masks"}
                future = self.submit(count_candidates, self.source(i), light, z0, z1,
                                     self.marker, key=f"count-{i}-{z0}")
                running[future] = (i, z0, z1)
            if self.stopped():
                raise PlanCancelled("planning stopped")
            for future in self.wait_some(running, POLL_SECONDS):
                parts[running.pop(future)] = future.result()
                self.forget(future)
        for i, z0, z1 in slabs:  # in slice order: classes keep their first appearance
            nz = requests[i]["shape"][0]
            for key, n in parts[(i, z0, z1)].items():
                counts[i].setdefault(key, np.zeros(nz, np.int64))[z0:z1] = n
        return counts

    # -- the generator -----------------------------------------------------------------
    def run(self) -> Generator[DatasetProgress, None, DatasetResult]:
        job, t0 = self.job, time.perf_counter()
        fmt = job.layout.file_format
        if self.stopped():
            return result_from(job.layout.path, fmt, {}, False, time.perf_counter() - t0)
        job.record["rng_state"] = copy.deepcopy(job.rng.bit_generator.state)
        job.record["engine"] = ENGINE
        self.folder.mkdir(parents=True)
        try:
            try:
                counts = self.count()
                plans = case_plans([c.plan_request for c in job.cases], counts, job.rng,
                                   self.stop)
            except PlanCancelled:
                return result_from(job.layout.path, fmt, {}, False, time.perf_counter() - t0)
            output = (ZarrOutput if fmt == "zarr" and not job.append else MergedOutput)(
                self, plans)
            written, complete = yield from output.run()
        finally:
            self.settle()
            shutil.rmtree(self.folder, ignore_errors=True)
        return result_from(job.layout.path, fmt, written, complete, time.perf_counter() - t0)


#: dtype of the ``class_<v>_case`` arrays.
CASE_DTYPE = np.int32


def array_specs(job: DatasetJob, classes: tuple) -> tuple[ArraySpec, ...]:
    """The arrays of the dataset, class by class, as the single-process sink writes them."""
    pshape = patch_shape(job.plan_request["patchsize"])
    image_shape = (job.channels or 1, *pshape)
    specs = []
    for cls in classes:
        roles: list[tuple[str, tuple, np.dtype]] = [
            ("patches", image_shape, np.dtype(np.float32)),
                 ("centres", (3,), np.dtype(np.int32))]
        if job.save_labels:
            roles.append(("labels", (1, *pshape), np.dtype(job.label_dtype)))
        if job.with_cases:
            roles.append(("case", (), np.dtype(CASE_DTYPE)))
        specs += [ArraySpec(class_array_name(cls, role), cls, role, shape, dtype)
                  for role, shape, dtype in roles]
    return tuple(specs)


class Output:
    """The main phase: units in output order, submitted a window at a time, and the
    progress; the subclasses differ in what a unit writes."""

    def __init__(self, run: _ClusterRun, plans: list[PatchPlan]) -> None:
        self.cluster = run
        self.job = run.job
        self.plans = plans
        self.classes = plan_classes(plans, self.job.plan_request["class_list"])
        self.specs = array_specs(self.job, self.classes)
        image = next(s for s in self.specs if s.role == "patches")
        self.image_shape = image.shape
        self.batch = batch_length(self.job.batchsize, image.shape,
                                  max(s.dtype.itemsize for s in self.specs))
        self.counts = {c: sum(len(p.centres[c]) for p in plans if c in p.centres)
                       for c in self.classes}
        self.total = int(sum(self.counts.values()))
        self.settings = ExtractSettings(self.job.plan_request["patchsize"], self.job.mirrored,
                                        image.shape, self.job.label_dtype, self.specs,
                                        run.marker)

    def units(self, align: dict) -> list[UnitWork]:
        """Every unit in output order (cases in order, each case's units in order)."""
        target = max(1, UNIT_BYTES // (4 * math.prod(self.image_shape)))
        start = {c: 0 for c in self.classes}
        units: list[UnitWork] = []
        for case, plan in enumerate(self.plans):
            for rows in split_case(plan, start, align, target):
                units.append(UnitWork(
                    len(units), case,
                    {c: plan.centres[c][lo:hi] for c, (lo, hi) in rows.items()},
                    {c: block_of_rows(plan, c, lo, hi) for c, (lo, hi) in rows.items()},
                    {c: start[c] + lo for c, (lo, _) in rows.items()}))
            for c in plan.classes:
                start[c] += len(plan.centres[c])
        return units

    def report(self, done: int) -> Generator[DatasetProgress, None, bool]:
        """Yield the progress after ``done`` patches; True when the run is cancelled there
        (a :class:`_Cancel` thrown in: the run's loop ends, its results are kept)."""
        try:
            yield DatasetProgress(done, self.total)
        except _Cancel:
            return True
        return False

    def request(self, case: int) -> dict:
        """Case ``case``'s plan arguments without the mask (it travels with the sources)."""
        return {k: v for k, v in self.job.cases[case].plan_request.items() if k != "masks"}

    def dataset_attrs(self, written: dict, complete: bool, previous: str | None = None) -> dict:
        """The dataset attributes the single-process sink writes, for ``written`` counts."""
        record = self.job.record
        record["counts"] = {str(class_value(c)): int(n) for c, n in written.items()}
        record["complete"] = bool(complete)
        extra = {} if self.job.val_cases is None else {"val_cases": json.dumps(self.job.val_cases)}
        return {**extra, COMPLETE_ATTR: bool(complete),
                PROVENANCE_ATTR: provenance_json(previous, record),
                VERSION_ATTR: record["napari_datatools_version"]}


class ZarrOutput(Output):
    """Workers write into preallocated Zarr arrays: whole chunks, seams for shared ones."""

    def create(self) -> ZarrRegions:
        """The group, its attributes (incomplete) and every array at its final length."""
        from ..io import zarr_array_writer

        job, fmt, path = self.job, self.cluster.fmt, self.job.layout.path
        if job.overwrite and job.layout.occupancy() == "dataset":
            fmt.remove_dataset(path)
        try:
            fmt.write_attrs(path, self.dataset_attrs({}, False),
                            arrays=[class_array_name(c) for c in self.classes],
                            create_options=job.writer_kwargs)
            blocks = {}
            for spec in self.specs:
                opts = dict(writer_kwargs_for(fmt, job.writer_kwargs, spec.shape,
                                              self.image_shape))
                opts.setdefault("chunks", (self.batch, *spec.shape))
                writer = zarr_array_writer(spec.shape, spec.dtype, self.batch, path, spec.name,
                                           length=self.counts[spec.cls], kwargs=opts,
                                           attrs={"class_value": class_value(spec.cls)})
                writer.abort()  # preallocated; complete False, n_written 0 until the end
                array = writer.storage_array
                block = getattr(array, "shards", None) or array.chunks
                blocks[spec.name] = (int(block[0]), self.counts[spec.cls])
        except BaseException:
            fmt.remove_dataset(path)
            raise
        return ZarrRegions(os.fspath(path), blocks)

    def seams(self, units: list[UnitWork], regions: ZarrRegions) -> dict[int, tuple]:
        """``{unit: (chunks, units)}``: the shared chunks each seam task writes (those
        whose last rows a unit holds) and the units that hold rows of them."""
        last: dict[tuple[str, int], int] = {}
        sharing: dict[tuple[str, int], list[int]] = {}
        for t, unit in enumerate(units):
            for spec in self.specs:
                rows = unit.rows.get(spec.cls)
                if rows is None or len(rows) == 0:
                    continue
                lo = unit.start[spec.cls]
                hi = lo + len(rows)
                a, b = regions.owned(spec.name, lo, hi)
                block = regions.blocks[spec.name][0]
                for first, end in ([(lo, a), (b, hi)] if a < b else [(lo, hi)]):
                    for k in range(first // block, -(-end // block)) if end > first else ():
                        last[(spec.name, k)] = t
                        sharing.setdefault((spec.name, k), []).append(t)
        out: dict[int, tuple[list, list]] = {}
        for chunk, t in last.items():
            chunks, holders = out.setdefault(t, ([], []))
            chunks.append(chunk)
            holders += [u for u in sharing[chunk] if u not in holders]
        return out

    def run(self) -> Generator[DatasetProgress, None, tuple[dict, bool]]:
        cluster = self.cluster
        regions = self.create()
        units = self.units({c: regions.blocks[class_array_name(c)][0] for c in self.classes})
        seams = self.seams(units, regions)
        needed = [0] * len(units)  # seam tasks not submitted yet that need the unit
        for _, holders in seams.values():
            for u in holders:
                needed[u] += 1
        futures: dict[int, Any] = {}
        running: dict[Any, tuple[str, int]] = {}
        done_units: set[int] = set()
        done_seams: set[int] = set()
        todo = deque(range(len(units)))
        done = 0
        complete = False

        def forget_unit(u: int) -> None:
            if needed[u] == 0 and u in done_units and u in futures:
                cluster.forget(futures.pop(u))

        try:
            while todo or running:
                while todo and len(running) < cluster.limit():
                    t = todo.popleft()
                    unit = units[t]
                    futures[t] = cluster.submit(write_unit_zarr, cluster.source(unit.case),
                                                self.request(unit.case), self.settings, unit,
                                                regions, key=f"unit-{t}")
                    running[futures[t]] = ("unit", t)
                    if t in seams:
                        chunks, holders = seams[t]
                        seam = cluster.submit(write_seams, regions, chunks,
                                              *[futures[u] for u in holders], key=f"seam-{t}")
                        running[seam] = ("seam", t)
                        for u in holders:
                            needed[u] -= 1
                            forget_unit(u)
                if cluster.stopped():
                    break
                finished = cluster.wait_some(running, POLL_SECONDS)
                for future in finished:
                    kind, t = running.pop(future)
                    result = future.result()
                    if kind == "seam":
                        done_seams.add(t)
                        cluster.forget(future)
                        continue
                    if result is None:
                        raise RuntimeError(f"unit {t} found its run cancelled")
                    done_units.add(t)
                    done += units[t].patches
                    forget_unit(t)
                if finished and (yield from self.report(done)):
                    break
            else:
                complete = True
        finally:
            written = self.finish(regions, units, seams, done_units, done_seams, complete)
        return written, complete

    def finish(self, regions: ZarrRegions, units: list[UnitWork], seams: dict,
               done_units: set, done_seams: set, complete: bool) -> dict:
        """Set the array and dataset attributes. A cancelled (or failed) run keeps, per
        class, the longest prefix all its arrays hold, and the arrays are cut to it."""
        keep = dict(self.counts)
        if not complete:
            self.cluster.settle()  # nothing writes any more once the arrays are cut
            for spec in self.specs:
                keep[spec.cls] = min(keep[spec.cls], self.prefix(
                    spec, regions, units, seams, done_units, done_seams))
        fmt, path = self.cluster.fmt, self.job.layout.path
        for spec in self.specs:
            n = keep[spec.cls]
            if n < self.counts[spec.cls]:
                regions.open(spec.name).resize((n, *spec.shape))
            fmt.set_array_attrs(path, spec.name, {ARRAY_COMPLETE: bool(complete), N_WRITTEN: n})
        fmt.write_attrs(path, self.dataset_attrs(keep, complete),
                        arrays=[class_array_name(c) for c in self.classes])
        return keep

    @staticmethod
    def prefix(spec: ArraySpec, regions: ZarrRegions, units: list[UnitWork], seams: dict,
               done_units: set, done_seams: set) -> int:
        """How many leading rows of ``spec``'s array the finished tasks wrote."""
        block, length = regions.blocks[spec.name]
        written = np.zeros(-(-length // block), bool)
        for t in done_units:
            rows = units[t].rows.get(spec.cls)
            if rows is not None and len(rows):
                lo = units[t].start[spec.cls]
                a, b = regions.owned(spec.name, lo, lo + len(rows))
                if a < b:
                    written[a // block:-(-b // block)] = True
        for t in done_seams:
            for name, k in seams[t][0]:
                if name == spec.name:
                    written[k] = True
        return length if written.all() else int(np.argmin(written)) * block


class MergedOutput(Output):
    """Workers write ``.npy`` parts; the client streams them, in order, into the
    single-process sink (HDF5, blosc2, and appending to any format)."""

    def run(self) -> Generator[DatasetProgress, None, tuple[dict, bool]]:
        cluster = self.cluster
        sink = open_sink(self.job, self.classes, self.job.plan_request["patchsize"])
        units = self.units({c: 1 for c in self.classes})
        folder = os.fspath(cluster.folder)
        running: dict[Any, int] = {}
        ready: dict[int, dict] = {}
        todo = deque(range(len(units)))
        merging: Iterator[int] | None = None
        merged = 0  # units written to the sink
        done = 0
        complete = False
        try:
            while merged < len(units):
                room = cluster.limit()
                while todo and len(running) < room and len(running) + len(ready) < 2 * room:
                    u = todo.popleft()
                    unit = units[u]
                    future = cluster.submit(write_unit_parts, cluster.source(unit.case),
                                            self.request(unit.case), self.settings, unit,
                                            folder, key=f"unit-{u}")
                    running[future] = u
                if cluster.stopped():
                    break
                idle = merging is None and merged not in ready
                for future in cluster.wait_some(running, POLL_SECONDS if idle else 0):
                    u = running.pop(future)
                    result = future.result()
                    cluster.forget(future)
                    if result is None:
                        raise RuntimeError(f"unit {u} found its run cancelled")
                    ready[u] = result
                if merging is None:
                    if merged not in ready:
                        continue
                    merging = self.merge(sink, units[merged], ready.pop(merged))
                step = next(merging, None)
                if step is None:
                    merging = None
                    merged += 1
                    continue
                done += step
                if (yield from self.report(done)):
                    break
            else:
                complete = True
        finally:
            if not complete:
                cluster.settle()
            written = sink.close(complete=complete)
        return written, complete

    def merge(self, sink: Any, unit: UnitWork, result: dict) -> Iterator[int]:
        """Hand a unit's parts to the sink a batch at a time; yields the patches of each."""
        folder = result["folder"]
        for cls in self.classes:
            rows = unit.rows.get(cls)
            if rows is None or len(rows) == 0:
                continue
            arrays = []
            for role in ("patches", "centres", "labels"):
                file = os.path.join(folder, f"{class_array_name(cls, role)}.npy")
                arrays.append(np.load(file, mmap_mode="r") if os.path.exists(file) else None)
            for lo in range(0, len(rows), self.batch):
                hi = min(len(rows), lo + self.batch)
                sink.write(cls, *[None if a is None else np.ascontiguousarray(a[lo:hi])
                                  for a in arrays], unit.case if self.job.with_cases else None)
                yield hi - lo
        shutil.rmtree(folder, ignore_errors=True)
