"""The preprocessing processes of one ``data_flow`` iteration, their loop and error reports.

Loader threads gather a batch straight into a shared-memory input block and send a
small message to worker ``seq % n`` (batches reach each worker in order, so its
random draws are reproducible); the worker writes the result into an output block.
One collector thread waits on every worker's pipe *and* process sentinel with
:func:`multiprocessing.connection.wait` (a dead worker is noticed at once) and hands
each result to the consumer as views of its output block, without a copy.

Messages between the pool and a worker (small, pickled through a pipe):

* to the worker: ``(seq, in_name, in_parts, out_name)``, or ``None`` to stop;
* back: ``("ready", -1, None)`` once the preprocessor is loaded, then
  ``("ok", seq, result, grow_to)`` with ``result = (kind, parts)`` describing the
  preprocessor's return value, or ``("error", seq, report)`` (``seq`` -1: the
  preprocessor could not be loaded).

An exception travels as an :class:`ErrorReport` and is rebuilt in the consumer with
its original type and message, chained to a :class:`~napari_datatools.errors.RemoteTraceback`.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import traceback
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing import (
    connection,
    context,
    reduction,
    resource_tracker,
    shared_memory,
    spawn,
    util,
)
from typing import Any

import cloudpickle
import numpy as np

from ..errors import RemoteTraceback, WorkerDiedError
from ._shared_memory import (
    BlockPool,
    batch_bytes,
    buffer_of,
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
_PRELOAD = ("numpy", "cloudpickle", "napari_datatools.io._process_pool")

#: Libraries whose state does not survive a plain ``fork`` (open HDF5 files, zarr's
#: event-loop thread, blosc2's thread pool): once one is imported, workers start
#: from the fork server instead.
FORK_UNSAFE_MODULES = ("h5py", "zarr", "blosc2", "numcodecs")


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
    return (kind, pack(values, buffer_of(out))), 0


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
        batch = tuple(unpack(in_parts, buffer_of(attached.get(in_name)), copy=False))
        result = preprocessor(batch)
        del batch
        encoded, grow_to = encode_result(result, attached.get(out_name))
        return ("ok", seq, encoded, grow_to)
    except BaseException as err:  # reported to the consumer with its traceback
        return ("error", seq, ErrorReport.from_exception(err, where))


def worker_main(conn: Any, preprocessor: Callable[[Any], Any] | bytes, seed: int, index: int,
                keep_blocks: int = 64) -> None:
    """Run worker ``index``: seed numpy's global RandomState, then preprocess batches.

    Parameters
    ----------
    conn : multiprocessing.connection.Connection
        The worker's end of its pipe to the parent.
    preprocessor : callable or bytes
        Called with each batch (a tuple of arrays that live in shared memory);
        pickled (by :func:`serialize`) when the worker was not forked from the
        consumer's process.
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
    where = f"data_flow worker process {index} (pid {os.getpid()})"
    try:
        function = pickle.loads(preprocessor) if isinstance(preprocessor, bytes) else preprocessor
    except BaseException as err:
        conn.send(("error", -1, ErrorReport.from_exception(
            err, f"{where}, unpickling the preprocessor")))
        return
    conn.send(("ready", -1, None))
    attached = _Attached(keep_blocks)
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):  # the parent went away
                return
            if message is None:
                return
            reply = _handle(message, attached, function, where)
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


def serialize(preprocessor: Callable[[Any], Any]) -> bytes:
    """``preprocessor`` pickled for a worker that is not a fork of this process.

    cloudpickle stores functions and classes of the main script (and lambdas,
    local functions) by value, so a worker never imports the script: its top
    level, unguarded by ``if __name__ == "__main__":``, runs once, in the consumer.
    Functions of importable modules are stored by reference, as pickle does.

    Raises
    ------
    ValueError
        If ``preprocessor`` cannot be pickled (it holds a lock, an open file...).
    """
    try:
        return cloudpickle.dumps(preprocessor)
    except Exception as err:
        raise ValueError(
            "preprocessor must be picklable when nb_proc_workers > 0 (it is sent to the "
            "worker processes; functions, lambdas and class instances are, objects holding "
            f"locks, open files or sockets are not); pickling failed with: {err}"
        ) from err


def fork_is_safe() -> bool:
    """Whether workers may be plain forks of this process (instant, nothing to import).

    On Linux, when no other Python thread runs (a fork copies the locks they hold,
    e.g. of logging or of a ``data_flow`` in progress), none of
    :data:`FORK_UNSAFE_MODULES` is imported and CUDA is not initialised. Native
    threads of numpy's BLAS, OpenCV or torch are accepted: these libraries reset
    their thread pools in a forked child (torch's ``DataLoader`` forks the same way).
    """
    if not sys.platform.startswith("linux") or threading.active_count() != 1:
        return False
    if any(name in sys.modules for name in FORK_UNSAFE_MODULES):
        return False
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    return not (cuda is not None and cuda.is_initialized())


if "forkserver" in multiprocessing.get_all_start_methods():
    from multiprocessing import forkserver, popen_forkserver

    class _ServerPopen(popen_forkserver.Popen):
        """Start a process from this module's fork server, without the main script.

        The standard forkserver start method makes every child run the main script
        again (as ``__mp_main__``) before it unpickles its process object; that
        repeats the script's top-level work and, in a script without an
        ``if __name__ == "__main__":`` guard, starts the script's own ``data_flow``
        inside the worker. Here the child gets the same preparation data minus the
        main module: the worker function and the cloudpickled preprocessor need
        nothing from it.
        """

        def _launch(self, process_obj: Any) -> None:
            prep = spawn.get_preparation_data(process_obj._name)
            prep.pop("init_main_from_path", None)
            prep.pop("init_main_from_name", None)
            message = io.BytesIO()
            context.set_spawning_popen(self)  # lets the pipes' file descriptors be pickled
            try:
                reduction.dump(prep, message)
                reduction.dump(process_obj, message)
            finally:
                context.set_spawning_popen(None)
            status_r, data_w = _SERVER.connect_to_new_process(
                self._fds)  # type: ignore[attr-defined]  # set by Popen.__init__
            self.sentinel = status_r
            # the child notices that this process died when its copy of data_w closes
            self.finalizer = util.Finalize(self, util.close_fds,  # type: ignore[attr-defined]
                                           (os.dup(data_w), status_r))
            with open(data_w, "wb", closefd=True) as stream:
                stream.write(message.getbuffer())
            self.pid = forkserver.read_signed(status_r)

    #: This module's own fork server (not the one ``multiprocessing`` shares with the
    #: program): started on first use, it imports numpy and this module only --
    #: never the main script, h5py or zarr -- so that forks of it are safe and quick.
    _SERVER = forkserver.ForkServer()
    _SERVER.set_forkserver_preload(list(_PRELOAD))

    class ServerProcess(context.ForkServerProcess):
        """A process forked from :data:`_SERVER`."""

        @staticmethod
        def _Popen(process_obj: Any) -> Any:  # noqa: N802  (multiprocessing's name)
            return _ServerPopen(process_obj)


def warm_up() -> None:
    """Start the fork server now, in the background, if workers would come from it: it
    imports numpy while the caller goes on, so the first ``flow()`` need not wait."""
    if "forkserver" in multiprocessing.get_all_start_methods() and not fork_is_safe():
        _SERVER.ensure_running()


def process_class() -> tuple[type, bool]:
    """The class to start workers with, and whether they are forks of this process
    (which receive the preprocessor itself instead of its pickle).

    A plain fork when :func:`fork_is_safe` (instant, nothing to import); else a fork
    of this module's fork server; else (Windows) ``spawn``.
    """
    if fork_is_safe():
        # forks share this process's tracker of shared memory (else each starts its own,
        # which reports the blocks it attached as leaked when it exits)
        resource_tracker.ensure_running()
        return multiprocessing.get_context("fork").Process, True
    if "forkserver" in multiprocessing.get_all_start_methods():
        return ServerProcess, False
    return multiprocessing.get_context("spawn").Process, False


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
        process_type, forked = process_class()
        payload = preprocessor if forked else serialize(preprocessor)
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
        self.ready_workers = 0  # workers that have loaded their preprocessor
        self.turn = list(range(self.n))  # the next seq each worker takes
        self.in_flight = [0] * self.n
        self.tasks: dict[int, tuple[Any, Any]] = {}  # seq -> (input block, output block)
        self.send_locks = [threading.Lock() for _ in range(self.n)]
        keep = 2 * (self.inputs.limit + self.outputs.limit)
        for i, seed in enumerate(seeds):
            parent, child = multiprocessing.Pipe(duplex=True)
            process = process_type(target=worker_main, args=(child, payload, seed, i, keep),
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
        if block_in is None:
            return False
        block_out = self.outputs.take()
        if block_out is None or self.stopping.is_set():
            self.inputs.give_back(block_in)
            if block_out is not None:
                self.outputs.give_back(block_out)
            return False
        try:
            parts = gather_into(data, self.layouts, indices, buffer_of(block_in))
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

    def started(self) -> bool:
        """Whether every worker has loaded its preprocessor."""
        with self.cond:
            return self.ready_workers == self.n

    def holder(self, seq: int) -> str | None:
        """The worker process that has batch ``seq`` (None if it was not sent yet)."""
        with self.cond:
            if seq not in self.tasks:
                return None
        w = seq % self.n
        return f"data_flow worker process {w} (pid {self.processes[w].pid})"

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
        if status == "ready":
            with self.cond:
                self.ready_workers += 1
            return
        if seq == -1:  # the worker could not start (its preprocessor did not unpickle)
            self.deliver(None, "error", payload)
            return
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
            values = unpack(parts, buffer_of(block_out), copy=True)
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
