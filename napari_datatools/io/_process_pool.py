"""The preprocessing processes of one ``data_flow`` iteration, their loop and error reports.

Loader threads gather a batch straight into a shared-memory input block and send a
small message to worker ``seq % n`` (batches reach each worker in order, so its
random draws are reproducible); the worker writes the result into an output block.
One collector thread waits on every worker's pipe *and* process sentinel with
:func:`multiprocessing.connection.wait` (a dead worker is noticed at once) and hands
each result to the consumer as views of its output block, without a copy.

Messages between the pool and a worker (small, pickled through a pipe):

* to the worker: ``(seq, in_name, in_parts, out_name)``, or ``None`` to stop;
* back: ``("ok", seq, result, grow_to)`` with ``result = (kind, parts)``
  describing the preprocessor's return value, or ``("error", seq, report)``.

An exception travels as an :class:`ErrorReport` and is rebuilt in the consumer with
its original type and message, chained to a :class:`~napari_datatools.errors.RemoteTraceback`.
"""

from __future__ import annotations

import multiprocessing
import pickle
import signal
import threading
import time
import traceback
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing import connection, forkserver, shared_memory
from typing import Any

import numpy as np

from ..errors import RemoteTraceback, WorkerDiedError
from ._shared_memory import (
    BlockPool,
    batch_bytes,
    free_block,
    gather_into,
    lease_views,
    pack,
    packed_size,
    unpack,
)

#: Batches sent to one worker and not yet returned (one being processed, one waiting).
DEPTH = 2

#: Imported once by the fork server, so that each worker starts in milliseconds.
_PRELOAD = ("numpy", "napari_datatools.io._process_pool")


# -- error reports ---------------------------------------------------------------------


@dataclass
class ErrorReport:
    """A picklable description of an exception."""

    type_name: str
    message: str
    traceback_text: str
    pickled: bytes | None
    where: str

    @classmethod
    def from_exception(cls, err: BaseException, where: str) -> ErrorReport:
        text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
        try:
            pickled = pickle.dumps(err)
            pickle.loads(pickled)
        except Exception:
            pickled = None
        return cls(type(err).__name__, str(err), text, pickled, where)

    def to_exception(self) -> BaseException:
        """The original exception (same type and message when it can be rebuilt),
        chained to a :class:`RemoteTraceback` holding the original traceback."""
        err: BaseException | None = None
        if self.pickled is not None:
            try:
                err = pickle.loads(self.pickled)
            except Exception:
                err = None
        if err is None:
            err = RuntimeError(f"{self.type_name}: {self.message}")
        err.__cause__ = RemoteTraceback(f"in {self.where}:\n{self.traceback_text}")
        return err


# -- the worker process -----------------------------------------------------------------


def encode_result(result: Any, out: shared_memory.SharedMemory) -> tuple[tuple, int]:
    """Describe ``result`` with its arrays packed into ``out``.

    Returns ``((kind, parts), grow_to)``: ``kind`` is ``"array"``, ``"tuple"``,
    ``"list"`` or ``"object"``; when the arrays do not fit, they go through the
    pipe and ``grow_to`` is the size ``out`` should have next time.
    """
    if isinstance(result, np.ndarray):
        kind, values = "array", [result]
    elif isinstance(result, (tuple, list)):
        kind, values = type(result).__name__, list(result)
    else:
        return ("object", [("obj", result)]), 0
    if kind not in ("tuple", "list"):  # a tuple or list subclass: keep it whole
        return ("object", [("obj", result)]), 0
    needed = packed_size(values)
    if needed > out.size:
        return (kind, [("obj", v) for v in values]), needed
    return (kind, pack(values, out.buf)), 0


def assemble_result(kind: str, values: list[Any]) -> Any:
    """The preprocessor's return value from the ``values`` of an :func:`encode_result`."""
    if kind in ("array", "object"):
        return values[0]
    return tuple(values) if kind == "tuple" else values


class _Attached:
    """Shared-memory blocks this process has opened, by name (the most recent ones)."""

    def __init__(self, keep: int = 64) -> None:
        self.keep = keep
        self.blocks: OrderedDict[str, shared_memory.SharedMemory] = OrderedDict()

    def get(self, name: str) -> shared_memory.SharedMemory:
        block = self.blocks.get(name)
        if block is None:
            block = self.blocks[name] = shared_memory.SharedMemory(name=name)
            while len(self.blocks) > self.keep:  # the parent replaced or freed old blocks
                free_block(self.blocks.popitem(last=False)[1], unlink=False)
        else:
            self.blocks.move_to_end(name)
        return block

    def close(self) -> None:
        for block in self.blocks.values():
            free_block(block, unlink=False)
        self.blocks.clear()


def _handle(message: tuple, attached: _Attached, preprocessor: Callable[[Any], Any],
            where: str) -> tuple:
    seq, in_name, in_parts, out_name = message
    try:
        batch = tuple(unpack(in_parts, attached.get(in_name).buf, copy=False))
        result = preprocessor(batch)
        del batch
        encoded, grow_to = encode_result(result, attached.get(out_name))
        return ("ok", seq, encoded, grow_to)
    except BaseException as err:  # reported to the consumer with its traceback
        return ("error", seq, ErrorReport.from_exception(err, where))


def worker_main(conn: Any, preprocessor: Callable[[Any], Any], seed: int, index: int,
                keep_blocks: int = 64) -> None:
    """Run worker ``index``: seed numpy's global RandomState, then preprocess batches.

    Parameters
    ----------
    conn : multiprocessing.connection.Connection
        The worker's end of its pipe to the parent.
    preprocessor : callable
        Called with each batch (a tuple of arrays that live in shared memory).
    seed : int
        This worker's seed, drawn from the ``data_flow`` rng with ``spawn_seeds``.
    index : int
        Worker number (in error messages).
    keep_blocks : int
        Shared-memory blocks kept open at once (the parent's pools hold no more).
    """
    # numpy's global RandomState is what preprocessors written for data_tools draw from:
    # every worker its own stream, reproducible from the rng
    np.random.seed(seed % 2**32)  # noqa: NPY002
    where = f"data_flow worker process {index} (pid {multiprocessing.current_process().pid})"
    attached = _Attached(keep_blocks)
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):  # the parent went away
                return
            if message is None:
                return
            reply = _handle(message, attached, preprocessor, where)
            try:
                conn.send(reply)
            except (BrokenPipeError, ConnectionResetError):  # the parent went away
                return
            except Exception as err:  # the result cannot be pickled: say so, keep going
                conn.send(("error", reply[1], ErrorReport.from_exception(
                    err, f"{where}, sending the preprocessor's result")))
            del reply
    finally:
        attached.close()


# -- the pool, in the consumer's process ------------------------------------------------


def mp_context() -> multiprocessing.context.BaseContext:
    """``forkserver`` where available (h5py and zarr are not fork-safe), else ``spawn``."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    # Add our modules to whatever the program asked the fork server to preload (no
    # effect once the server runs; the default list is ["__main__"]).
    current = list(getattr(forkserver._forkserver, "_preload_modules", None) or ["__main__"])
    if not all(m in current for m in _PRELOAD):
        ctx.set_forkserver_preload(current + [m for m in _PRELOAD if m not in current])
    return ctx


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


def _release(processes: list, conns: list, pools: list[BlockPool]) -> None:
    """Kill what is left, close the pipes, free every shared-memory block (idempotent)."""
    for p in processes:
        if p.is_alive():
            p.kill()
        p.join(1.0)
    for c in conns:
        c.close()
    for pool in pools:
        pool.close()


class ProcessPool:
    """``len(seeds)`` worker processes, their shared memory and their collector thread.

    Parameters
    ----------
    preprocessor : callable
        Picklable; run in every worker.
    seeds : list of int
        One per worker, for ``np.random.seed``.
    layouts : list of (element shape, dtype)
        Of the ``data`` arrays, to size the input blocks.
    batch_size : int
        Largest batch.
    nb_loaders : int
        Loader threads that will call :meth:`submit`.
    ready_batches : int
        Most batches the consumer may be handed before taking them; that many
        results (plus two) reach it as views of their output block, later ones
        are copied out so the pool stays bounded.
    deliver : callable
        ``deliver(seq, kind, payload)`` hands a result (``"batch"``) or an error
        (``"error"``) to the consumer.
    stopping : threading.Event
        Set when the iteration ends.
    """

    def __init__(self, preprocessor: Callable[[Any], Any], seeds: Sequence[int],
                 layouts: Sequence[tuple[tuple[int, ...], np.dtype]], batch_size: int,
                 nb_loaders: int, ready_batches: int, deliver: Callable[[Any, str, Any], None],
                 stopping: threading.Event) -> None:
        ctx = mp_context()
        self.n = len(seeds)
        self.layouts = list(layouts)
        self.deliver = deliver
        self.stopping = stopping
        self.nb_loaders = nb_loaders
        size = batch_bytes(self.layouts, batch_size)
        in_flight = DEPTH * self.n + nb_loaders  # gathered or being gathered, not returned
        self.max_leases = ready_batches + 2
        self.leases = 0
        self.inputs = BlockPool(size, in_flight)
        self.outputs = BlockPool(size, in_flight + self.max_leases)
        self.processes: list[Any] = []
        self.conns: list[Any] = []
        self._finalizer = weakref.finalize(self, _release, self.processes, self.conns,
                                           [self.inputs, self.outputs])
        self.cond = threading.Condition()
        self.turn = list(range(self.n))  # the next seq each worker takes
        self.in_flight = [0] * self.n
        self.tasks: dict[int, tuple[Any, Any]] = {}  # seq -> (input block, output block)
        self.send_locks = [threading.Lock() for _ in range(self.n)]
        keep = 2 * (self.inputs.limit + self.outputs.limit)
        for i, seed in enumerate(seeds):
            parent, child = ctx.Pipe(duplex=True)
            process = ctx.Process(target=worker_main, args=(child, preprocessor, seed, i, keep),
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
        """Gather batch ``seq`` into shared memory and send it to its worker
        (False: the iteration is stopping)."""
        block_in = self.inputs.take()
        block_out = self.outputs.take() if block_in is not None else None
        if block_out is None or self.stopping.is_set():
            return False
        try:
            parts = gather_into(data, self.layouts, indices, block_in.buf)
        except BaseException:
            self.inputs.give_back(block_in)
            self.outputs.give_back(block_out)
            raise
        w = seq % self.n
        with self.cond:
            self.cond.wait_for(lambda: self.stopping.is_set()
                               or (self.turn[w] == seq and self.in_flight[w] < DEPTH))
            if self.stopping.is_set():
                return False
            self.in_flight[w] += 1
            self.tasks[seq] = (block_in, block_out)
        try:
            with self.send_locks[w]:
                self.conns[w].send((seq, block_in.name, parts, block_out.name))
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
        for w, (c, p) in enumerate(zip(self.conns, self.processes, strict=True)):
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

    def _end_lease(self, block: Any) -> None:
        with self.cond:
            self.leases -= 1
        self.outputs.give_back(block)

    def _on_reply(self, w: int, reply: tuple) -> None:
        status, seq, payload = reply[:3]
        with self.cond:
            block_in, block_out = self.tasks.pop(seq)
            self.in_flight[w] -= 1
            self.cond.notify_all()
        self.inputs.give_back(block_in)
        if status != "ok":
            self.outputs.give_back(block_out)
            self.deliver(seq, "error", payload)
            return
        (kind, parts), grow_to = payload, reply[3]
        if grow_to:  # the result did not fit: bigger output blocks from now on
            self.outputs.grow(grow_to)
        with self.cond:
            lease = self.leases < self.max_leases
            self.leases += lease
        if lease:  # zero copy: the consumer gets views, the block returns when they are gone
            values = lease_views(parts, block_out, self._end_lease)
        else:  # the consumer holds on to many batches: copy, keep the pool bounded
            values = unpack(parts, block_out.buf, copy=True)
            self.outputs.give_back(block_out)
        self.deliver(seq, "batch", assemble_result(kind, values))

    # -- shutdown -----------------------------------------------------------------------
    def stop(self) -> None:
        """Wake waiting loaders, stop the workers (kill them if they do not stop at once)."""
        with self.cond:
            self.cond.notify_all()
        self.inputs.stop_taking()
        self.outputs.stop_taking()
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
