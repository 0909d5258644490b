"""The preprocessing processes of one ``data_flow`` iteration.

Loader threads gather a batch straight into a free shared-memory slot and send a
small message to worker ``seq % n`` (batches reach each worker in order, so its
random draws are reproducible); one collector thread waits on every worker's pipe
*and* process sentinel with :func:`multiprocessing.connection.wait`, copies results
out of the slots and notices a dead worker at once.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import threading
import time
import weakref
from dataclasses import dataclass
from multiprocessing import connection, shared_memory
from typing import Any, Callable, Sequence

import numpy as np

from ._flow_errors import WorkerDiedError
from ._flow_shm import batch_bytes, free_block, gather_into, new_block
from ._flow_worker import decode_result, worker_main

#: Batches sent to one worker and not yet returned (one being processed, one waiting).
DEPTH = 2


#: Imported once by the fork server, so that each worker starts in milliseconds.
_PRELOAD = ("numpy", "napari_datatools.io._flow_worker")


def mp_context() -> multiprocessing.context.BaseContext:
    """``forkserver`` where available (h5py and zarr are not fork-safe), else ``spawn``."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    from multiprocessing import forkserver

    # Add our modules to whatever the program asked the fork server to preload (no
    # effect once the server runs; the default list is ["__main__"]).
    current = list(getattr(forkserver._forkserver, "_preload_modules", None) or ["__main__"])
    if not all(m in current for m in _PRELOAD):
        ctx.set_forkserver_preload(current + [m for m in _PRELOAD if m not in current])
    return ctx


@dataclass
class _Slot:
    """Shared memory for one batch on its way through a worker."""

    index: int
    inputs: shared_memory.SharedMemory
    outputs: shared_memory.SharedMemory


def _describe_death(index: int, process: Any) -> str:
    code = process.exitcode
    how = f"exit code {code}"
    if code is not None and code < 0:
        try:
            how += f": killed by {signal.Signals(-code).name}"
        except ValueError:
            pass
    return (f"data_flow worker process {index} (pid {process.pid}) died unexpectedly ({how}); "
            "the OS may have killed it (out of memory?)")


def _release(processes: list, conns: list, slots: list[_Slot]) -> None:
    """Kill what is left and free every shared-memory block (idempotent)."""
    for p in processes:
        if p.is_alive():
            p.kill()
        p.join(1.0)
    for c in conns:
        c.close()
    for s in slots:
        free_block(s.inputs)
        free_block(s.outputs)
    slots.clear()


class ProcessPool:
    """``len(seeds)`` worker processes, their slots and their collector thread.

    Parameters
    ----------
    preprocessor : callable
        Picklable; run in every worker.
    seeds : list of int
        One per worker, for ``np.random.seed``.
    layouts : list of (element shape, dtype)
        Of the ``data`` arrays, to size the slots.
    batch_size : int
        Largest batch.
    nb_loaders : int
        Loader threads that will call :meth:`submit`.
    deliver : callable
        ``deliver(seq, kind, payload)`` hands a result (``"batch"``) or an error
        (``"error"``) to the consumer.
    stopping : threading.Event
        Set when the iteration ends.
    """

    def __init__(self, preprocessor: Callable[[Any], Any], seeds: Sequence[int],
                 layouts: Sequence[tuple[tuple[int, ...], np.dtype]], batch_size: int,
                 nb_loaders: int, deliver: Callable[[Any, str, Any], None],
                 stopping: threading.Event) -> None:
        ctx = mp_context()
        self.n = len(seeds)
        self.layouts = list(layouts)
        self.deliver = deliver
        self.stopping = stopping
        self.nb_loaders = nb_loaders
        size = batch_bytes(self.layouts, batch_size)
        self.processes: list[Any] = []
        self.conns: list[Any] = []
        self.slots: list[_Slot] = []
        self._finalizer = weakref.finalize(self, _release, self.processes, self.conns, self.slots)
        for i in range(DEPTH * self.n + nb_loaders):
            self.slots.append(_Slot(i, new_block(size), new_block(size)))
        self.free_slots: queue.Queue = queue.Queue()
        for slot in self.slots:
            self.free_slots.put(slot)
        self.cond = threading.Condition()
        self.turn = list(range(self.n))  # the next seq each worker takes
        self.in_flight = [0] * self.n
        self.send_locks = [threading.Lock() for _ in range(self.n)]
        for i, seed in enumerate(seeds):
            parent, child = ctx.Pipe(duplex=True)
            process = ctx.Process(target=worker_main, args=(child, preprocessor, seed, i),
                                  daemon=True, name=f"data_flow-worker-{i}")
            self.conns.append(parent)
            self.processes.append(process)
            process.start()
            child.close()
        self.collector = threading.Thread(target=self._collect, daemon=True,
                                          name="data_flow-collector")
        self.collector.start()

    # -- loader side ----------------------------------------------------------------------
    def submit(self, seq: int, indices: np.ndarray, data: Sequence[Any]) -> bool:
        """Gather batch ``seq`` into a slot and send it to its worker (False: stopping)."""
        slot = self.free_slots.get()
        if slot is None or self.stopping.is_set():
            return False
        try:
            parts = gather_into(data, self.layouts, indices, slot.inputs.buf)
        except BaseException:
            self.free_slots.put(slot)
            raise
        w = seq % self.n
        with self.cond:
            self.cond.wait_for(lambda: self.stopping.is_set()
                               or (self.turn[w] == seq and self.in_flight[w] < DEPTH))
            if self.stopping.is_set():
                return False
            self.in_flight[w] += 1
        try:
            with self.send_locks[w]:
                self.conns[w].send((seq, slot.index, slot.inputs.name, parts, slot.outputs.name))
        except (BrokenPipeError, ConnectionResetError, EOFError):
            self.processes[w].join(0.5)
            raise WorkerDiedError(_describe_death(w, self.processes[w])) from None
        with self.cond:
            self.turn[w] += self.n
            self.cond.notify_all()
        return True

    # -- collector thread ---------------------------------------------------------------
    def _collect(self) -> None:
        owner = {}
        for w, (c, p) in enumerate(zip(self.conns, self.processes)):
            owner[c] = owner[p.sentinel] = w
        try:
            while True:
                ready = connection.wait(list(owner))
                if self.stopping.is_set():
                    return
                # replies first: a worker may have answered just before it died
                ready.sort(key=lambda obj: not isinstance(obj, connection.Connection))
                for obj in ready:
                    w = owner[obj]
                    if isinstance(obj, connection.Connection):
                        try:
                            reply = obj.recv()
                        except (EOFError, OSError):
                            self._report_death(w)
                            return
                        self._on_reply(w, reply)
                    else:
                        self._report_death(w)
                        return
        except BaseException as err:  # a bug here must not leave the consumer waiting
            if not self.stopping.is_set():
                self.deliver(None, "error", err)

    def _report_death(self, w: int) -> None:
        if self.stopping.is_set():
            return
        self.processes[w].join(0.5)  # the exit code arrives with the sentinel
        self.deliver(None, "error", WorkerDiedError(_describe_death(w, self.processes[w])))

    def _on_reply(self, w: int, reply: tuple) -> None:
        status, seq, slot_index, payload = reply[:4]
        slot = self.slots[slot_index]
        if status == "ok":
            item = (seq, "batch", decode_result(payload, slot.outputs.buf))
            grow_to = reply[4]
            if grow_to:  # the result did not fit: a bigger block for this slot next time
                old, slot.outputs = slot.outputs, new_block(max(grow_to, 2 * old.size))
                free_block(old)
        else:
            item = (seq, "error", payload)
        self.free_slots.put(slot)
        with self.cond:
            self.in_flight[w] -= 1
            self.cond.notify_all()
        self.deliver(*item)

    # -- shutdown -----------------------------------------------------------------------
    def stop(self) -> None:
        """Wake waiting loaders, stop the workers (kill them if they do not stop at once)."""
        with self.cond:
            self.cond.notify_all()
        for _ in range(self.nb_loaders):
            self.free_slots.put(None)
        for w, c in enumerate(self.conns):
            if self.send_locks[w].acquire(timeout=0.5):
                try:
                    c.send(None)
                except (OSError, ValueError):
                    pass
                finally:
                    self.send_locks[w].release()
        deadline = time.monotonic() + 1.0  # a preprocessor still running gets a second
        for p in self.processes:
            p.join(max(0.0, deadline - time.monotonic()))
        for p in self.processes:
            if p.is_alive():
                p.kill()
                p.join(1.0)
        self.collector.join(2.0)

    def release(self) -> None:
        """Close the pipes and free the shared memory (after the loaders have stopped)."""
        self._finalizer()
