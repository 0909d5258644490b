"""One iteration of a ``data_flow``: loader threads, optional process pool, ordered output."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from .._rng import spawn_seeds
from ..wrap._batched_read import read_elements
from ._flow_errors import ErrorReport
from ._flow_order import END, BatchOrder
from ._flow_pool import DEPTH, ProcessPool
from ._flow_shm import element_layout

if TYPE_CHECKING:
    from ._data_flow import data_flow


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
        try:
            if processes:
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
        """Hand a batch (``kind="batch"``) or an error (``"error"``) to the consumer."""
        if kind == "error":
            self.order.fail(payload)
        else:
            self.order.put(seq, payload)

    # -- loader threads -------------------------------------------------------------------
    def load(self) -> None:
        flow = self.flow
        seq = None
        try:
            while True:
                task = self.order.next_task()
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
                self.order.put(seq, batch)
                del batch
        except BaseException as err:
            if not self.stopping.is_set():
                self.order.fail(err)

    # -- consumer ---------------------------------------------------------------------------
    def batches(self) -> Iterator[Any]:
        """Yield batches in sampler order; raise the first error any thread reports."""
        while True:
            item = self.order.take()  # waits without polling; errors arrive here too
            if item is END:
                return
            kind, payload = item
            if kind == "error":
                raise payload.to_exception() if isinstance(payload, ErrorReport) else payload
            yield payload
            del payload, item

    def stop(self) -> None:
        """Stop every thread and process and free the shared memory."""
        self.stopping.set()
        self.order.stop()
        if self.pool is not None:
            self.pool.stop()
        for thread in self.loaders:
            thread.join(5.0)
        if self.pool is not None:
            self.pool.release()
