"""LZF compression of HDF5 chunks on every core, for h5py's ``'lzf'`` filter.

h5py compresses the chunks of an ``'lzf'`` dataset one after another while holding
its global lock, so a write uses one core. :func:`compress_chunks` compresses many
chunks at once in a small thread pool (a numba kernel that releases the GIL); the
HDF5 writer stores them with ``write_direct_chunk``. The streams follow the LZF
format that h5py's filter (and any LZF decoder) reads:

* ``000LLLLL`` then ``L + 1`` literal bytes (1 to 32);
* ``LLLooooo oooooooo`` (``L`` 1 to 6) or ``111ooooo LLLLLLLL oooooooo``: copy
  ``L + 2`` (or ``7 + L + 2``) bytes from ``o + 1`` bytes back (at most 8192).

Like h5py's filter, a chunk that does not shrink is stored as it is (the chunk's
filter mask then says the filter was skipped). The match finder skips ahead
faster the longer it finds nothing, so noise (the low bits of float images) costs
little time; compressible data compress about as well as with h5py's filter.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

_HASH_BITS = 14
_MAX_OFFSET = 1 << 13  # a back reference reaches 8192 bytes back ...
_MAX_MATCH = 2 + 7 + 255  # ... and copies at most 264 bytes
_MAX_LITERALS = 32
#: After ``2 ** _SKIP_SHIFT`` positions without a match the search steps 2 bytes, then 3 ...
_SKIP_SHIFT = 5


@numba.njit(cache=True, nogil=True, inline="always")
def _hash(src: np.ndarray, i: int) -> int:
    v = (int(src[i]) << 16) | (int(src[i + 1]) << 8) | int(src[i + 2])
    return ((v * 2654435761) & 0xFFFFFFFF) >> (32 - _HASH_BITS)


@numba.njit(cache=True, nogil=True)
def _put_literals(src: np.ndarray, lo: int, hi: int, dst: np.ndarray, op: int) -> int:
    """Write ``src[lo:hi]`` as literal runs at ``dst[op:]``; the new ``op`` (the caller
    checked the room)."""
    while lo < hi:
        run = min(_MAX_LITERALS, hi - lo)
        dst[op] = run - 1
        op += 1
        for k in range(run):
            dst[op + k] = src[lo + k]
        op += run
        lo += run
    return op


@numba.njit(cache=True, nogil=True)
def _compress_one(src: np.ndarray, dst: np.ndarray, table: np.ndarray, base: int) -> int:
    """LZF stream of ``src`` into ``dst``; its length, or 0 when it would not be shorter
    than ``src`` (``len(dst)`` is the room). ``table`` maps a 3-byte hash to the last
    position + ``base`` seen; entries below ``base`` are from earlier chunks."""
    n = src.shape[0]
    room = min(dst.shape[0], n - 1)
    op = 0
    lit = 0  # first byte not yet written
    ip = 0
    misses = 0
    while ip + 2 < n:
        h = _hash(src, ip)
        ref = table[h] - base
        table[h] = ip + base
        dist = ip - ref
        if (ref >= 0 and dist <= _MAX_OFFSET and src[ref] == src[ip]
                and src[ref + 1] == src[ip + 1] and src[ref + 2] == src[ip + 2]):
            length = 3
            longest = min(_MAX_MATCH, n - ip)
            while length < longest and src[ref + length] == src[ip + length]:
                length += 1
            pending = ip - lit
            if op + pending + (pending + _MAX_LITERALS - 1) // _MAX_LITERALS + 3 > room:
                return 0
            if pending:  # (a call costs: most matches follow one another)
                op = _put_literals(src, lit, ip, dst, op)
            code = length - 2
            offset = dist - 1
            if code < 7:
                dst[op] = (code << 5) | (offset >> 8)
                op += 1
            else:
                dst[op] = (7 << 5) | (offset >> 8)
                dst[op + 1] = code - 7
                op += 2
            dst[op] = offset & 0xFF
            op += 1
            ip += length
            lit = ip
            misses = 0
            if ip + 2 < n:  # the position just before the next search
                table[_hash(src, ip - 1)] = ip - 1 + base
        else:
            ip += 1 + (misses >> _SKIP_SHIFT)
            misses += 1
    pending = n - lit
    if op + pending + (pending + _MAX_LITERALS - 1) // _MAX_LITERALS > room:
        return 0
    return _put_literals(src, lit, n, dst, op)


@numba.njit(cache=True, nogil=True)
def _compress_rows(rows: np.ndarray, out: np.ndarray, sizes: np.ndarray, first: int,
                   stop: int) -> None:
    """Compress ``rows[first:stop]`` into ``out[first:stop]``, lengths in ``sizes``."""
    table = np.full(1 << _HASH_BITS, -1, np.int64)
    base = 0
    for r in range(first, stop):
        sizes[r] = _compress_one(rows[r], out[r], table, base)
        base += rows.shape[1] + _MAX_OFFSET + 1  # older entries fall out of reach


_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_pid = 0  # a forked child starts its own pool (it has none of the parent's threads)


def _threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _executor() -> ThreadPoolExecutor:
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(_threads(), thread_name_prefix="napari_datatools_lzf")
            _pool_pid = os.getpid()
        return _pool


#: Chunks are compressed in the calling thread below this many bytes in total.
PARALLEL_BYTES = 1 << 20


def compress_chunks(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LZF-compress every row of ``rows`` (``(n, chunk bytes)`` uint8, C-contiguous).

    Returns ``(out, sizes)``: row ``r`` compresses to ``out[r, :sizes[r]]``, or does
    not shrink when ``sizes[r] == 0`` (store ``rows[r]`` as it is). Large inputs are
    split between the cores.
    """
    if rows.dtype != np.uint8 or rows.ndim != 2 or not rows.flags.c_contiguous:
        raise ValueError(f"rows must be a C-contiguous 2D uint8 array, got {rows.dtype} "
                         f"{rows.shape}")
    n = rows.shape[0]
    out = np.empty_like(rows)
    sizes = np.zeros(n, np.int64)
    parts = min(n, 2 * _threads()) if rows.nbytes >= PARALLEL_BYTES else 1
    if parts <= 1:
        _compress_rows(rows, out, sizes, 0, n)
        return out, sizes
    bounds = np.linspace(0, n, parts + 1).astype(np.intp)
    futures = [_executor().submit(_compress_rows, rows, out, sizes, int(a), int(b))
               for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    for future in futures:
        future.result()
    return out, sizes


def decompress(data: bytes | np.ndarray, size: int) -> np.ndarray:
    """The ``size`` bytes an LZF stream encodes (for tests and checks; h5py reads
    the chunks with its own filter)."""
    src = np.frombuffer(data, np.uint8) if isinstance(data, bytes) else np.asarray(data)
    out = np.empty(size, np.uint8)
    written = _decompress(src, out)
    if written != size:
        raise ValueError(f"data: not an LZF stream of {size} bytes (decoded {written})")
    return out


@numba.njit(cache=True, nogil=True)
def _decompress(src: np.ndarray, out: np.ndarray) -> int:
    ip = 0
    op = 0
    n = src.shape[0]
    while ip < n:
        ctrl = int(src[ip])
        ip += 1
        if ctrl < 32:
            run = ctrl + 1
            if ip + run > n or op + run > out.shape[0]:
                return -1
            for k in range(run):
                out[op + k] = src[ip + k]
            ip += run
            op += run
        else:
            length = ctrl >> 5
            if length == 7:
                if ip >= n:
                    return -1
                length += int(src[ip])
                ip += 1
            if ip >= n:
                return -1
            ref = op - ((ctrl & 0x1F) << 8) - int(src[ip]) - 1
            ip += 1
            length += 2
            if ref < 0 or op + length > out.shape[0]:
                return -1
            for k in range(length):
                out[op + k] = out[ref + k]
            op += length
    return op
