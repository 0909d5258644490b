"""One iteration of a ``data_flow``: loader threads, optional process pool, ordered output."""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from .._rng import spawn_seeds
from ..wrap._batched_read import read_elements
from ._flow_errors import ErrorReport
from ._flow_pool import DEPTH, ProcessPool
from ._flow_shm import element_layout

if TYPE_CHECKING:
    from ._data_flow import data_flow

_END = object()


def _worker_seeds(rng: np.random.Generator, n: int) -> list[int]:
    """``n`` seeds from a child stream of ``rng``: the sampling order does not depend
    on the number of workers, and every iteration gets new seeds."""
    try:
        source = rng.spawn(1)[0]
    except (AttributeError, TypeError, ValueError):  # a bit generator without a SeedSequence
        source = rng
    return spawn_seeds(source, n)


class FlowRun:
    """The threads (and processes) of one ``flow()`` call, until :meth:`stop`.

    Batch number ``seq`` is the ``seq``-th index array of the sampler; loader
    threads take them in order, the consumer yields them in order.
    """

    def __init__(self, flow: data_flow) -> None:
        self.flow = flow
        self.stopping = threading.Event()
        self.results: queue.Queue = queue.Queue()
        self.lock = threading.Lock()
        self.total: int | None = None
        self.seq = 0
        processes = flow.nb_proc_workers if flow.preprocessor is not None else 0
        # batches taken from the sampler and not yet yielded: enough to keep every
        # thread and process busy, few enough to bound memory
        ready = DEPTH * processes + 2 * flow.nb_io_workers + 2
        self.permits = threading.Semaphore(ready)
        self.indices = flow.sampler.get_generator(
            flow.batch_size, flow.sample_random, flow.sample_with_replacement,
            flow.sample_weights, flow.loop_forever, flow.rng,
        )
        self.pool: ProcessPool | None = None
        self.loaders: list[threading.Thread] = []
        try:
            if processes:
                self.pool = ProcessPool(
                    flow.preprocessor, _worker_seeds(flow.rng, processes),
                    [element_layout(d) for d in flow.data], flow.batch_size,
                    flow.nb_io_workers, ready, self.deliver, self.stopping,
                )
            for i in range(flow.nb_io_workers):
                thread = threading.Thread(target=self.load, daemon=True, name=f"data_flow-io-{i}")
                self.loaders.append(thread)
                thread.start()
        except BaseException:
            self.stop()
            raise

    def deliver(self, seq: int | None, kind: str, payload: Any) -> None:
        """Hand a batch or an error to the consumer."""
        self.results.put((seq, kind, payload))

    # -- loader threads -------------------------------------------------------------------
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
        flow = self.flow
        seq = None
        try:
            while True:
                self.permits.acquire()
                if self.stopping.is_set():
                    return
                task = self._next_indices()
                if task is None:
                    return
                seq, idx = task
                if self.pool is not None:
                    if not self.pool.submit(seq, idx, flow.data):
                        return
                    continue
                batch: Any = tuple(read_elements(d, idx) for d in flow.data)
                if flow.preprocessor is not None:
                    batch = flow.preprocessor(batch)
                self.deliver(seq, "batch", batch)
                del batch
        except BaseException as err:
            if not self.stopping.is_set():
                self.deliver(seq, "error", err)

    # -- consumer ---------------------------------------------------------------------------
    def batches(self) -> Iterator[Any]:
        """Yield batches in sampler order; raise the first error any thread reports."""
        pending: dict[int, Any] = {}
        next_seq = 0
        while True:
            if next_seq in pending:
                batch = pending.pop(next_seq)
                next_seq += 1
                self.permits.release()
                yield batch
                del batch
                continue
            if self.total is not None and next_seq >= self.total:
                return
            item = self.results.get()  # blocks without polling; errors arrive here too
            if item is _END:
                continue
            seq, kind, payload = item
            if kind == "error":
                raise payload.to_exception() if isinstance(payload, ErrorReport) else payload
            pending[seq] = payload

    def stop(self) -> None:
        """Stop every thread and process and free the shared memory."""
        self.stopping.set()
        for _ in self.loaders:
            self.permits.release()
        if self.pool is not None:
            self.pool.stop()
        for thread in self.loaders:
            thread.join(5.0)
        if self.pool is not None:
            self.pool.release()
        while True:  # drop undelivered batches (and any view they hold) now
            try:
                self.results.get_nowait()
            except queue.Empty:
                break
