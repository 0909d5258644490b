"""``data_flow``: minibatches loaded in threads, preprocessed in threads or processes."""

from __future__ import annotations

import multiprocessing
import queue
import threading
from multiprocessing import connection, shared_memory
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .._rng import as_generator, spawn_seeds
from ..wrap._batched_read import read_elements
from ._flow_errors import ErrorReport, WorkerDiedError
from ._flow_worker import as_batch, pack, unpack, worker_main
from ._index_sampler import _positive, index_sampler

_END = object()


def _element_nbytes(array: Any) -> int:
    shape = getattr(array, "shape", None)
    dtype = getattr(array, "dtype", None)
    if shape is None or dtype is None:
        return np.asarray(array[0]).nbytes
    return int(np.prod(shape[1:], dtype=np.int64)) * np.dtype(dtype).itemsize


class data_flow:
    """Iterate over minibatches of several equally long arrays, in tandem.

    Elements are gathered in ``nb_io_workers`` threads (reading each source with
    as few calls as possible) and preprocessed in those threads or, with
    ``nb_proc_workers > 0``, in that many processes that receive and return
    batches through shared memory. Batches come out in order, as tuples of numpy
    arrays (one per array of ``data``).

    Parameters
    ----------
    data : list of array-like
        Arrays of equal length (numpy, h5py, zarr, ``multi_source_array``...).
    batch_size : int
        Elements per batch (the last batch of an epoch may be smaller).
    nb_io_workers : int
        Loader threads.
    nb_proc_workers : int
        Preprocessing processes (0: preprocess in the loader threads). Each
        process seeds numpy's global RandomState differently, reproducibly
        from ``rng``.
    loop_forever : bool
        Start a new epoch after each one instead of stopping.
    sample_random : bool
        A fresh random order every epoch.
    sample_with_replacement : bool
        With ``sample_random``: draw every batch independently.
    sample_weights : sequence of float, optional
        Relative probability of each element under random sampling.
    drop_incomplete_batches : bool
        Skip the smaller last batch of an epoch.
    preprocessor : callable, optional
        Called with a batch (a tuple arranged like ``data``); returns the
        processed batch. Must be picklable when ``nb_proc_workers > 0``.
    rng : None, int, numpy.random.RandomState or numpy.random.Generator
        Sampling order and worker seeds.

    Notes
    -----
    An exception in a loader thread, the preprocessor or a worker process is
    raised by the iteration with its original type, message and traceback
    text; a worker process killed by the OS raises :class:`WorkerDiedError`.
    Leaving the loop (``break``, ``close()``, garbage collection) stops every
    thread and process and frees the shared memory.
    """

    def __init__(
        self,
        data: Sequence[Any],
        batch_size: int,
        nb_io_workers: int = 1,
        nb_proc_workers: int = 0,
        loop_forever: bool = False,
        sample_random: bool = False,
        sample_with_replacement: bool = False,
        sample_weights: Any = None,
        drop_incomplete_batches: bool = False,
        preprocessor: Callable[[tuple], Any] | None = None,
        rng: Any = None,
    ) -> None:
        if not isinstance(data, (list, tuple)) or not data:
            raise ValueError(f"data must be a non-empty list of arrays, got {type(data).__name__}")
        lengths = [len(d) if hasattr(d, "__len__") else int(d.shape[0]) for d in data]
        if len(set(lengths)) != 1:
            raise ValueError(f"data: every array must have the same length, got {lengths}")
        self.data = list(data)
        self.batch_size = _positive(batch_size, "batch_size")
        self.nb_io_workers = _positive(nb_io_workers, "nb_io_workers")
        if isinstance(nb_proc_workers, bool) or not isinstance(nb_proc_workers, int) \
                or nb_proc_workers < 0:
            raise ValueError(f"nb_proc_workers must be a non-negative integer, got {nb_proc_workers!r}")
        self.nb_proc_workers = nb_proc_workers
        if preprocessor is not None and not callable(preprocessor):
            raise ValueError(f"preprocessor must be callable, got {type(preprocessor).__name__}")
        if sample_with_replacement and not sample_random:
            raise ValueError("sample_with_replacement=True needs sample_random=True")
        if sample_weights is not None and not sample_random:
            raise ValueError("sample_weights need sample_random=True")
        self.loop_forever = bool(loop_forever)
        self.sample_random = bool(sample_random)
        self.sample_with_replacement = bool(sample_with_replacement)
        self.sample_weights = sample_weights
        self.drop_incomplete_batches = bool(drop_incomplete_batches)
        self.preprocessor = preprocessor
        self.rng = as_generator(rng)
        self.sampler = index_sampler(lengths[0], not self.drop_incomplete_batches)
        # fail now, not in a thread, on bad weights
        next(iter(self.sampler.get_generator(1, self.sample_random, self.sample_with_replacement,
                                             self.sample_weights, rng=0)), None)

    def __len__(self) -> int:
        """Batches in one pass over the data."""
        return self.sampler.num_batches(self.batch_size)

    def flow(self) -> Iterator[tuple[np.ndarray, ...]]:
        """A generator of batches (tuples of numpy arrays)."""
        run = _FlowRun(self)
        try:
            yield from run.batches()
        finally:
            run.stop()

    def __iter__(self) -> Iterator[tuple[np.ndarray, ...]]:
        return self.flow()


class _Worker:
    """One preprocessing process with its shared-memory slots and feeder thread."""

    def __init__(self, run: _FlowRun, index: int, seed: int, in_bytes: int) -> None:
        ctx = multiprocessing.get_context("forkserver")
        self.in_shm = shared_memory.SharedMemory(create=True, size=max(in_bytes, 4096))
        self.out_shm = shared_memory.SharedMemory(create=True, size=max(2 * in_bytes, 2**20))
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=worker_main,
            args=(child, self.in_shm.name, self.out_shm.name, run.flow.preprocessor, seed, index),
            daemon=True, name=f"data_flow-worker-{index}",
        )
        self.process.start()
        child.close()
        self.index = index
        self.thread = threading.Thread(target=run.feed, args=(self,), daemon=True,
                                       name=f"data_flow-feeder-{index}")

    def close(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(1.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(1.0)
        self.conn.close()
        for shm in (self.in_shm, self.out_shm):
            shm.close()
            shm.unlink()


class _FlowRun:
    """The threads and processes of one ``flow()`` call."""

    def __init__(self, flow: data_flow) -> None:
        self.flow = flow
        self.stopping = threading.Event()
        self.results: queue.Queue = queue.Queue()
        self.work: queue.Queue = queue.Queue()
        n_workers = flow.nb_io_workers + flow.nb_proc_workers
        self.permits = threading.Semaphore(2 * n_workers + 2)
        self.lock = threading.Lock()
        self.total: int | None = None
        self.seq = 0
        self.indices = flow.sampler.get_generator(
            flow.batch_size, flow.sample_random, flow.sample_with_replacement,
            flow.sample_weights, flow.loop_forever, flow.rng,
        )
        self.workers: list[_Worker] = []
        if flow.nb_proc_workers:
            try:  # a child stream: the sampling order stays the same with or without workers
                seed_source = flow.rng.spawn(1)[0]
            except (AttributeError, TypeError, ValueError):
                seed_source = flow.rng
            seeds = spawn_seeds(seed_source, flow.nb_proc_workers)
            in_bytes = flow.batch_size * sum(_element_nbytes(d) + 64 for d in flow.data)
            self.workers = [_Worker(self, i, s, in_bytes) for i, s in enumerate(seeds)]
            for w in self.workers:
                w.thread.start()
        self.loaders = [threading.Thread(target=self.load, daemon=True, name=f"data_flow-io-{i}")
                        for i in range(flow.nb_io_workers)]
        for t in self.loaders:
            t.start()

    # -- loader threads --------------------------------------------------------------
    def _next_indices(self) -> tuple[int, np.ndarray] | None:
        with self.lock:
            if self.total is not None:
                return None
            try:
                idx = next(self.indices)
            except StopIteration:
                self.total = self.seq
                self.results.put(_END)
                return None
            seq, self.seq = self.seq, self.seq + 1
            return seq, idx

    def load(self) -> None:
        while not self.stopping.is_set():
            self.permits.acquire()
            if self.stopping.is_set():
                return
            task = self._next_indices()
            if task is None:
                self.permits.release()
                return
            seq, idx = task
            try:
                batch = tuple(read_elements(d, idx) for d in self.flow.data)
                if self.workers:
                    self.work.put((seq, batch))
                    continue
                if self.flow.preprocessor is not None:
                    batch = tuple(as_batch(self.flow.preprocessor(batch)))
                self.results.put((seq, batch))
            except BaseException as err:
                self.results.put((seq, err))
                return

    # -- feeder threads (one per worker process) ---------------------------------------
    def feed(self, worker: _Worker) -> None:
        while True:
            task = self.work.get()
            if task is None or self.stopping.is_set():
                return
            seq, batch = task
            try:
                metas = pack(list(batch), worker.in_shm)
                worker.conn.send((seq, metas, None if metas is not None else batch))
                ready = connection.wait([worker.conn, worker.process.sentinel])
                if worker.conn not in ready or not worker.conn.poll():
                    raise WorkerDiedError(
                        f"data_flow worker process {worker.index} (pid {worker.process.pid}) "
                        f"died unexpectedly (exit code {worker.process.exitcode}); "
                        "it may have been killed by the OS (out of memory?)"
                    )
                status, _, payload, pickled = worker.conn.recv()
                if status == "error":
                    self.results.put((seq, payload))
                    return
                out = pickled if payload is None else unpack(payload, worker.out_shm, copy=True)
                self.results.put((seq, tuple(out)))
            except BaseException as err:
                if not self.stopping.is_set():
                    worker.process.join(0.2)
                    if worker.process.exitcode is not None and not isinstance(err, WorkerDiedError):
                        err = WorkerDiedError(
                            f"data_flow worker process {worker.index} (pid {worker.process.pid}) "
                            f"died unexpectedly (exit code {worker.process.exitcode}); "
                            "it may have been killed by the OS (out of memory?)"
                        )
                    self.results.put((seq, err))
                return

    # -- consumer ---------------------------------------------------------------------
    def batches(self) -> Iterator[tuple[np.ndarray, ...]]:
        pending: dict[int, Any] = {}
        next_seq = 0
        while True:
            if next_seq in pending:
                batch = pending.pop(next_seq)
                next_seq += 1
                self.permits.release()
                yield batch
                continue
            if self.total is not None and next_seq >= self.total:
                return
            item = self.results.get()
            if item is _END:
                continue
            seq, payload = item
            if isinstance(payload, ErrorReport):
                raise payload.to_exception()
            if isinstance(payload, BaseException):
                raise payload
            pending[seq] = payload

    def stop(self) -> None:
        """Stop every thread and process and free the shared memory."""
        self.stopping.set()
        for _ in range(len(self.loaders) + 1):
            self.permits.release()
        for _ in self.workers:
            self.work.put(None)
        for w in self.workers:
            w.close()  # its feeder wakes up when the process ends
        for t in self.loaders + [w.thread for w in self.workers]:
            t.join(5.0)
