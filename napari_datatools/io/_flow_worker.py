"""The loop of a ``data_flow`` worker process: batches in and out through shared memory.

Messages (small, pickled through a pipe):

* in: ``(seq, slot, in_name, in_parts, out_name)``, or ``None`` to stop;
* out: ``("ok", seq, slot, result, grow_to)`` with ``result = (kind, parts)``
  describing the preprocessor's return value, or ``("error", seq, slot, report)``.
"""

from __future__ import annotations

import multiprocessing
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


def decode_result(encoded: tuple, buf: memoryview) -> Any:
    """The value :func:`encode_result` described, with arrays copied out of ``buf``."""
    kind, parts = encoded
    values = unpack(parts, buf, copy=True)
    if kind == "array" or kind == "object":
        return values[0]
    return tuple(values) if kind == "tuple" else values


class _Attached:
    """Shared-memory blocks this process has opened, by slot and role."""

    def __init__(self) -> None:
        self.blocks: dict[tuple[int, str], shared_memory.SharedMemory] = {}

    def get(self, slot: int, role: str, name: str) -> shared_memory.SharedMemory:
        block = self.blocks.get((slot, role))
        if block is None or block.name != name:
            if block is not None:  # the slot was given a bigger block
                free_block(block, unlink=False)
            block = self.blocks[(slot, role)] = shared_memory.SharedMemory(name=name)
        return block

    def close(self) -> None:
        for block in self.blocks.values():
            free_block(block, unlink=False)
        self.blocks.clear()


def _handle(message: tuple, attached: _Attached, preprocessor: Callable[[Any], Any],
            where: str) -> tuple:
    seq, slot, in_name, in_parts, out_name = message
    try:
        batch = tuple(unpack(in_parts, attached.get(slot, "in", in_name).buf, copy=False))
        result = preprocessor(batch)
        del batch
        encoded, grow_to = encode_result(result, attached.get(slot, "out", out_name))
        return ("ok", seq, slot, encoded, grow_to)
    except BaseException as err:  # reported to the consumer with its traceback
        return ("error", seq, slot, ErrorReport.from_exception(err, where))


def worker_main(conn: Any, preprocessor: Callable[[Any], Any], seed: int, index: int) -> None:
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
    """
    np.random.seed(seed % 2**32)  # every worker its own stream, reproducible from the rng
    where = f"data_flow worker process {index} (pid {multiprocessing.current_process().pid})"
    attached = _Attached()
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
                conn.send(("error", reply[1], reply[2], ErrorReport.from_exception(
                    err, f"{where}, sending the preprocessor's result")))
            del reply
    finally:
        attached.close()
