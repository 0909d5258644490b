"""``data_flow``: minibatches loaded in threads, preprocessed in threads or processes.

One ``flow()`` call is a :class:`FlowRun`: loader threads take batch numbers from a
:class:`BatchOrder`, read (and preprocess, or hand to the
:class:`~._process_pool.ProcessPool`) their batch, and the consumer takes the
results back in sampler order.
"""

from __future__ import annotations

import math
import numbers
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .._checks import check_non_negative_int, check_positive_int
from .._rng import RNGLike, as_generator, spawn_seeds
from ..errors import ArgumentTypeError, RemoteTraceback, WorkerDiedError
from ..wrap._batched_read import read_elements
from ._index_sampler import check_weights, index_sampler
from ._process_pool import DEPTH, ErrorReport, ProcessPool, serialize, warm_up
from ._shared_memory import element_layout


class data_flow:
    """Iterate over minibatches of several equally long arrays, in tandem.

    Elements are gathered in ``nb_io_workers`` threads (reading each source with
    as few calls as possible) and preprocessed in those threads or, with
    ``nb_proc_workers > 0``, in that many processes that receive and return
    batches through shared memory. Batches come out in sampler order whatever
    the number of threads and processes.

    Parameters
    ----------
    data : list of array-like
        Arrays of equal length (numpy, memmap, h5py, zarr, ``multi_source_array``,
        anything with ``__len__`` and ``__getitem__``).
    batch_size : int
        Elements per batch (the last batch of an epoch may be smaller).
    nb_io_workers : int
        Loader threads.
    nb_proc_workers : int
        Preprocessing processes (0: preprocess in the loader threads). Each
        seeds numpy's global RandomState (``np.random.seed``) with its own seed
        from ``spawn_seeds``, reproducibly from ``rng``; batch ``i`` always goes
        to process ``i % nb_proc_workers``, so draws are reproducible too. They
        never run the main script again: a script needs no
        ``if __name__ == "__main__":`` guard (see Notes).
    loop_forever : bool
        Start a new epoch after each one instead of stopping.
    sample_random : bool
        A fresh random order every epoch.
    sample_with_replacement : bool
        With ``sample_random``: draw every batch independently.
    sample_weights : sequence of float, optional
        With ``sample_random``: relative probability of each element. Without
        replacement every element still comes once per epoch, heavier ones
        earlier on average.
    drop_incomplete_batches : bool
        Skip the smaller last batch of an epoch.
    preprocessor : callable, optional
        Called with a batch (a tuple arranged like ``data``); its return value
        is yielded. With ``nb_proc_workers > 0`` it must be picklable by
        cloudpickle: any function (of the script, a module, a lambda) or class
        instance, but nothing holding a lock, an open file or a socket.
    rng : None, int, numpy.random.RandomState or numpy.random.Generator
        Sampling order and worker seeds.
    timeout : float, optional
        Keyword only. Most seconds to wait for one batch; past it the iteration
        raises ``TimeoutError`` naming the worker process (or loader thread)
        that holds the batch, e.g. a preprocessor that hangs. The time worker
        processes take to start (and import what the preprocessor needs) does
        not count. ``None`` waits forever.

    Notes
    -----
    Without a preprocessor a batch is a tuple of numpy arrays, one per array of
    ``data``. Arrays coming from worker processes are views of shared memory
    that stays valid as long as they are referenced.

    An exception in a loader thread, the preprocessor or a worker process is
    raised by the iteration at once with its original type and message; from
    a process, its ``__cause__`` (:attr:`RemoteTraceback`) holds the original
    traceback text. A worker process killed by the OS raises
    :attr:`WorkerDiedError` (a ``RuntimeError``) as soon as it is noticed.
    Leaving the loop (``break``, ``close()``, garbage collection) stops every
    thread and process and frees the shared memory. A loader thread stuck in a
    preprocessor (``nb_proc_workers=0``) cannot be stopped: after a timeout it
    is left running in the background.

    Worker processes are forks of the consumer's process when that is safe (on
    Linux, with no other Python thread running and before h5py, zarr or blosc2
    are imported), else forks of a small server process that imports numpy and
    this module only; in both cases the main script is not run again, so a
    script without ``if __name__ == "__main__":`` works, and its top-level work
    (imports, data loading) is not repeated per worker. Functions and classes
    of the script reach the workers by value (cloudpickle).

    Examples
    --------
    >>> flow = data_flow([np.zeros((10, 3)), np.arange(10)], batch_size=4)
    >>> len(flow), [len(y) for x, y in flow]
    (3, [4, 4, 2])
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
        sample_weights: Sequence[float] | np.ndarray | None = None,
        drop_incomplete_batches: bool = False,
        preprocessor: Callable[[tuple], Any] | None = None,
        rng: RNGLike = None,
        *,
        timeout: float | None = None,
    ) -> None:
        if not isinstance(data, (list, tuple)):
            raise ArgumentTypeError(
                f"data must be a non-empty list of arrays, got {type(data).__name__}")
        if not data:
            raise ValueError("data must be a non-empty list of arrays, got an empty one")
        lengths = [len(d) if hasattr(d, "__len__") else int(d.shape[0]) for d in data]
        if len(set(lengths)) != 1:
            raise ValueError(f"data: every array must have the same length, got {lengths}")
        self.data = list(data)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.nb_io_workers = check_positive_int(nb_io_workers, "nb_io_workers")
        self.nb_proc_workers = check_non_negative_int(nb_proc_workers, "nb_proc_workers")
        if preprocessor is not None and not callable(preprocessor):
            raise ArgumentTypeError(
                f"preprocessor must be callable, got {type(preprocessor).__name__}")
        if preprocessor is not None and self.nb_proc_workers:
            serialize(preprocessor)  # fail here, not in the first flow()
            warm_up()
        for name, value in (("sample_with_replacement", sample_with_replacement),
                            ("sample_weights", sample_weights is not None)):
            if value and not sample_random:
                warnings.warn(f"{name} has no effect without sample_random=True", stacklevel=2)
        self.loop_forever = bool(loop_forever)
        self.sample_random = bool(sample_random)
        self.sample_with_replacement = bool(sample_with_replacement)
        self.drop_incomplete_batches = bool(drop_incomplete_batches)
        self.sample_weights = (check_weights(sample_weights, lengths[0])
                               if sample_weights is not None else None)
        self.preprocessor = preprocessor
        self.rng = as_generator(rng)
        self.timeout = check_timeout(timeout)
        self.sampler = index_sampler(lengths[0], not self.drop_incomplete_batches)

    def __len__(self) -> int:
        """Batches in one pass over the data."""
        return self.sampler.num_batches(self.batch_size)

    def flow(self) -> Iterator[Any]:
        """A generator of batches.

        Each call starts its own threads (and processes) when first advanced and
        stops them when it ends, raises, is closed or is garbage collected.
        Without a preprocessor a batch is a tuple with one numpy array per array
        of ``data``; with one, it is what the preprocessor returns.
        """
        run = FlowRun(self)
        try:
            yield from run.batches()
        finally:
            run.stop()

    def __iter__(self) -> Iterator[Any]:
        """``for batch in flow`` is ``for batch in flow.flow()``."""
        return self.flow()

    def __repr__(self) -> str:
        return (f"data_flow({len(self.data)} arrays of {self.sampler.array_length}, "
                f"batch_size={self.batch_size}, nb_io_workers={self.nb_io_workers}, "
                f"nb_proc_workers={self.nb_proc_workers}, {len(self)} batches per epoch)")

    #: Raised by the iteration when a worker process dies (killed by the OS...).
    WorkerDiedError = WorkerDiedError
    #: The ``__cause__`` of an error re-raised from a worker process: its traceback text.
    RemoteTraceback = RemoteTraceback


class FlowRun:
    """The threads (and processes) of one ``flow()`` call, until :meth:`stop`.

    Batch number ``seq`` is the ``seq``-th index array of the sampler; loader
    threads take them in order, the consumer yields them in order.
    """

    def __init__(self, flow: data_flow) -> None:
        self.flow = flow
        self.stopping = threading.Event()
        processes = flow.nb_proc_workers if flow.preprocessor is not None else 0
        # batches handed out and not yet yielded: enough to keep every thread and
        # process busy, few enough to bound memory
        ahead = DEPTH * processes + 2 * flow.nb_io_workers + 2
        self.order = BatchOrder(flow.sampler.get_generator(
            flow.batch_size, flow.sample_random, flow.sample_with_replacement,
            flow.sample_weights, flow.loop_forever, flow.rng,
        ), ahead)
        self.pool: ProcessPool | None = None
        self.loaders: list[threading.Thread] = []
        self.reading: dict[int, str] = {}  # batch number -> the loader thread reading it
        self.timed_out = False
        try:
            if processes and flow.preprocessor is not None:
                self.pool = ProcessPool(
                    flow.preprocessor, _worker_seeds(flow.rng, processes),
                    [element_layout(d) for d in flow.data], flow.batch_size,
                    flow.nb_io_workers, ahead, self.deliver, self.stopping,
                )
            for i in range(flow.nb_io_workers):
                thread = threading.Thread(target=self.load, daemon=True, name=f"data_flow-io-{i}")
                self.loaders.append(thread)
                thread.start()
        except BaseException:
            self.stop()
            raise

    def deliver(self, seq: int | None, kind: str, payload: Any) -> None:
        """Hand a batch (``kind="batch"``) or an error (``"error"``, ``seq`` may be
        None) to the consumer."""
        if kind == "error" or seq is None:
            self.order.fail(payload)
        else:
            self.order.put(seq, payload)

    # -- loader threads -------------------------------------------------------------------
    def load(self) -> None:
        flow = self.flow
        name = threading.current_thread().name
        try:
            while True:
                task = self.order.next_task()
                if task is None:
                    return
                seq, idx = task
                self.reading[seq] = name
                if self.pool is not None:
                    sent = self.pool.submit(seq, idx, flow.data)
                    del self.reading[seq]
                    if not sent:
                        return
                    continue
                batch: Any = tuple(read_elements(d, idx) for d in flow.data)
                if flow.preprocessor is not None:
                    batch = flow.preprocessor(batch)
                self.order.put(seq, batch)
                del self.reading[seq], batch
        except BaseException as err:
            if not self.stopping.is_set():
                self.order.fail(err)

    # -- consumer ---------------------------------------------------------------------------
    def batches(self) -> Iterator[Any]:
        """Yield batches in sampler order; raise the first error any thread reports."""
        while True:
            # waits without polling; errors arrive here too
            item = self.order.take(self.flow.timeout, self.started)
            if item is END:
                return
            kind, payload = item
            if kind == "error":
                raise payload.to_exception() if isinstance(payload, ErrorReport) else payload
            if kind == "timeout":
                self.timed_out = True
                raise TimeoutError(
                    f"data_flow: no batch came within timeout={self.flow.timeout} s; "
                    f"batch {payload} is {self.holder(payload)}")
            yield payload
            del payload, item

    def started(self) -> bool:
        """Whether the worker processes (if any) are ready: the timeout counts from then."""
        return self.pool is None or self.pool.started()

    def holder(self, seq: int) -> str:
        """Where batch ``seq`` is (for the timeout message)."""
        where = self.pool.holder(seq) if self.pool is not None else None
        if where is not None:
            return f"in {where}, whose preprocessor has not returned"
        thread = self.reading.get(seq)
        if thread is not None:
            doing = "preprocessed" if self.pool is None and self.flow.preprocessor else "read"
            return f"still being {doing} in loader thread {thread!r}"
        return "not handed to any loader thread yet (every loader is busy)"

    def stop(self) -> None:
        """Stop every thread and process and free the shared memory."""
        self.stopping.set()
        self.order.stop()
        if self.pool is not None:
            self.pool.stop()
        # a loader stuck in a preprocessor that timed out cannot be stopped: left behind
        deadline = time.monotonic() + (0.2 if self.timed_out else 5.0)
        for thread in self.loaders:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self.pool is not None:
            self.pool.release()


def _worker_seeds(rng: np.random.Generator, n: int) -> list[int]:
    """``n`` seeds from a child stream of ``rng``: the sampling order does not depend
    on the number of workers, and every iteration gets new seeds."""
    try:
        source = rng.spawn(1)[0]
    except (AttributeError, TypeError, ValueError):  # a bit generator without a SeedSequence
        source = rng
    return spawn_seeds(source, n)


def check_timeout(timeout: Any) -> float | None:
    """``timeout``: None or a positive number of seconds."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
        raise ArgumentTypeError(f"timeout must be None or a positive number of seconds, "
                                f"got {timeout!r}")
    seconds = float(timeout)
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ValueError(f"timeout must be None or a positive number of seconds, got {timeout!r}")
    return seconds


#: :meth:`BatchOrder.take` returns this when the last batch has been taken.
END = object()


class BatchOrder:
    """Batch ``seq`` is the ``seq``-th index array of ``indices``.

    At most ``ahead`` batches are handed out and not yet taken by the consumer,
    which bounds memory. One lock; loaders and the consumer each wait on their
    own condition and are woken only when they can go on (no polling).

    Parameters
    ----------
    indices : iterator of ndarray
        The sampler's batches of element indices.
    ahead : int
        Most batches handed out and not yet taken.
    """

    def __init__(self, indices: Iterator[np.ndarray], ahead: int) -> None:
        self.indices = indices
        self.ahead = ahead
        self.lock = threading.Lock()
        self.room = threading.Condition(self.lock)  # loaders wait for it
        self.ready = threading.Condition(self.lock)  # the consumer waits for it
        self.results: dict[int, Any] = {}
        self.error: BaseException | Any = None
        self.handed = 0  # batches handed out
        self.taken = 0  # batches taken by the consumer
        self.total: int | None = None  # known once the sampler is exhausted
        self.stopped = False

    # -- loader side ----------------------------------------------------------------------
    def next_task(self) -> tuple[int, np.ndarray] | None:
        """The next batch number and its indices; None when done or stopped."""
        with self.lock:
            while not self.stopped and self.total is None \
                    and self.handed - self.taken >= self.ahead:
                self.room.wait()
            if self.stopped or self.total is not None:
                return None
            try:
                idx = next(self.indices)
            except StopIteration:
                self.total = self.handed
                self.ready.notify()
                self.room.notify_all()
                return None
            seq = self.handed
            self.handed += 1
            return seq, idx

    def put(self, seq: int, batch: Any) -> None:
        """Deliver batch ``seq``."""
        with self.lock:
            self.results[seq] = batch
            if seq == self.taken:
                self.ready.notify()

    def fail(self, error: Any) -> None:
        """Deliver an error (an exception or an error report); the first one wins."""
        with self.lock:
            if self.error is None:
                self.error = error
            self.ready.notify()

    # -- consumer side --------------------------------------------------------------------
    def take(self, timeout: float | None = None,
             started: Callable[[], bool] = lambda: True) -> Any:
        """The next batch in order as ``("batch", batch)``, :data:`END` after the last
        one; raises nothing: returns ``("error", error)`` when an error was delivered
        and ``("timeout", seq)`` when batch ``seq`` did not come within ``timeout``
        seconds (counted again while ``started()`` is False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.lock:
            while True:
                if self.error is not None:
                    return ("error", self.error)
                if self.taken in self.results:
                    batch = self.results.pop(self.taken)
                    self.taken += 1
                    self.room.notify()
                    return ("batch", batch)
                if self.total is not None and self.taken >= self.total:
                    return END
                if timeout is None or deadline is None:
                    self.ready.wait()
                else:
                    left = deadline - time.monotonic()
                    if left <= 0 and not started():  # workers still starting: not counted
                        deadline, left = time.monotonic() + timeout, timeout
                    if left <= 0:
                        return ("timeout", self.taken)
                    self.ready.wait(left)

    def stop(self) -> None:
        """Wake every waiting loader for good and drop undelivered batches."""
        with self.lock:
            self.stopped = True
            self.room.notify_all()
            results, self.results = self.results, {}
        del results
