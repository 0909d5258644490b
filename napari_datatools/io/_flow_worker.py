"""Worker processes of ``data_flow``: batches in and out through shared memory."""

from __future__ import annotations

import multiprocessing
from multiprocessing import shared_memory
from typing import Any, Callable

import numpy as np

from ._flow_errors import ErrorReport

ArrayMeta = tuple[tuple[int, ...], str, int]  # shape, dtype string, byte offset


def pack(arrays: list[np.ndarray], shm: shared_memory.SharedMemory) -> list[ArrayMeta] | None:
    """Copy ``arrays`` into ``shm``; None when they do not fit."""
    metas, offset = [], 0
    for a in arrays:
        offset = (offset + 63) // 64 * 64
        if offset + a.nbytes > shm.size:
            return None
        np.ndarray(a.shape, a.dtype, buffer=shm.buf, offset=offset)[...] = a
        metas.append((a.shape, a.dtype.str, offset))
        offset += a.nbytes
    return metas


def unpack(metas: list[ArrayMeta], shm: shared_memory.SharedMemory, copy: bool) -> list[np.ndarray]:
    """Arrays described by ``metas`` in ``shm`` (views, or copies with ``copy``)."""
    out = []
    for shape, dtype, offset in metas:
        view = np.ndarray(shape, np.dtype(dtype), buffer=shm.buf, offset=offset)
        out.append(view.copy() if copy else view)
    return out


def as_batch(result: Any) -> list[np.ndarray]:
    """The preprocessor's return value as a list of arrays."""
    if isinstance(result, (tuple, list)):
        return [np.asarray(r) for r in result]
    return [np.asarray(result)]


def _handle(message: tuple, in_shm: Any, out_shm: Any,
            preprocessor: Callable[[tuple], Any], where: str) -> tuple:
    seq, metas, pickled = message
    try:
        batch = pickled if metas is None else unpack(metas, in_shm, copy=False)
        out = as_batch(preprocessor(tuple(batch)))
        out_metas = pack(out, out_shm)
        return ("ok", seq, out_metas, None if out_metas is not None else out)
    except BaseException as err:
        return ("error", seq, ErrorReport.from_exception(err, where), None)


def worker_main(conn: Any, in_name: str, out_name: str,
                preprocessor: Callable[[tuple], Any], seed: int, index: int) -> None:
    """Loop of worker process ``index``: receive a batch, preprocess, send it back."""
    np.random.seed(seed % 2**32)  # the original's promise: a distinct RandomState per worker
    where = f"data_flow worker process {index} (pid {multiprocessing.current_process().pid})"
    in_shm = shared_memory.SharedMemory(name=in_name)
    out_shm = shared_memory.SharedMemory(name=out_name)
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return
            if message is None:
                return
            conn.send(_handle(message, in_shm, out_shm, preprocessor, where))
    finally:
        in_shm.close()
        out_shm.close()
