"""The loop of a ``data_flow`` worker process: batches in and out through shared memory.

Messages (small, pickled through a pipe):

* in: ``(seq, in_name, in_parts, out_name)``, or ``None`` to stop;
* out: ``("ok", seq, result, grow_to)`` with ``result = (kind, parts)``
  describing the preprocessor's return value, or ``("error", seq, report)``.
"""

from __future__ import annotations

import multiprocessing
from collections import OrderedDict
from multiprocessing import shared_memory
from typing import Any, Callable

import numpy as np

from ._flow_errors import ErrorReport
from ._flow_shm import free_block, pack, packed_size, unpack


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
    np.random.seed(seed % 2**32)  # every worker its own stream, reproducible from the rng
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
