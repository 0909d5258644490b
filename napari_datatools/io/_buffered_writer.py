"""``buffered_array_writer``: batch-wise writing into any array, through a background thread.

The format writers (HDF5, Zarr, blosc2) subclass :class:`buffered_array_writer` (HDF5
and Zarr through :class:`NamedArrayWriter`, a writer of a named array in a file) and
share its argument checks (:func:`check_writer_args`) and its write thread
(:class:`BackgroundWrites`, whose queued bytes all writers of a process share).
"""

from __future__ import annotations

import contextlib
import errno
import math
import numbers
import os
import shutil
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from .._checks import check_positive_int
from ..errors import ArgumentTypeError

#: Attribute set False while writing and True once the writer closed normally.
COMPLETE = "complete"
#: Attribute holding how many elements reached storage (updated after every batch).
N_WRITTEN = "n_written"
#: Written batch buffers kept for reuse (fresh memory for every batch costs page faults).
MAX_SPARE_BUFFERS = 4

#: Batches that may wait for the write thread before the producer blocks ...
MAX_PENDING_BATCHES = 8
#: ... unless they hold more bytes than this (one batch may always wait) ...
MAX_PENDING_BYTES = 8 * 2**20
#: ... or all writers of the process together hold more than this (a run writing
#: many arrays at once, e.g. one per class, stays within one budget).
MAX_PENDING_BYTES_ALL = 8 * 2**20


class buffered_array_writer:
    """Write elements into an array batch-wise, through a buffer.

    Data may be given any number of elements at a time; it reaches the storage
    array in batches of ``batch_size``, when :meth:`flush_buffer` is called, and
    on :meth:`close` (also through ``with`` or when the writer is destroyed).
    A background thread writes the batches while the caller prepares the next
    ones; batches queued meanwhile are written together.

    After every write the storage records how many elements it holds
    (attribute ``n_written``) and is synced; ``complete`` stays False until a
    normal close, so a reader can tell a finished array from an interrupted one.

    Parameters
    ----------
    storage_array : array-like
        Where to write: shape ``(n,) + data_element_shape``. With ``length=None``
        it must have ``resize(shape)`` (h5py, zarr and blosc2 arrays do).
    data_element_shape : tuple of int
        Shape of one element.
    dtype : numpy dtype
        Dtype of the elements; data of another dtype is refused (TypeError).
    batch_size : int
        Elements per write.
    length : int, optional
        Final number of elements (the array is not resized); ``None`` grows the
        array as data arrives.
    attrs : dict, optional
        Extra attributes stored with the array (keyword only).
    start : int
        Index of the first element to write (keyword only; appending writers
        pass the elements already written).
    trim : bool
        With ``length=None``, first shrink the array to ``start`` elements
        (keyword only; drops what a killed run left past its ``n_written``).

    Raises
    ------
    ValueError
        Wrong element shape (in :meth:`buffered_write`) or bad arguments.
    TypeError
        Data of another dtype.
    EOFError
        Writing more than ``length`` elements; nothing of that call is written.
    """

    def __init__(
        self,
        storage_array: Any,
        data_element_shape: Any,
        dtype: Any,
        batch_size: int,
        length: int | None = None,
        *,
        attrs: dict[str, Any] | None = None,
        start: int = 0,
        trim: bool = False,
    ) -> None:
        self._closed = True  # until fully constructed (see __del__)
        self.data_element_shape = check_element_shape(data_element_shape)
        self.dtype = check_dtype(dtype)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.length = check_length(length)
        growable = hasattr(storage_array, "resize") and not isinstance(storage_array, np.ndarray)
        if self.length is None and not growable:
            raise ValueError(
                "storage_array must have resize() when length is None "
                f"(a {type(storage_array).__name__} cannot grow); give the final length"
            )
        shape = tuple(getattr(storage_array, "shape", ()))
        if shape[1:] != self.data_element_shape:
            raise ValueError(
                f"storage_array must have elements of shape {self.data_element_shape}, "
                f"got an array of shape {shape}"
            )
        stored = getattr(storage_array, "dtype", None)
        if stored is not None and np.dtype(stored) != self.dtype:
            raise TypeError(
                f"storage_array must have dtype={self.dtype}, got an array of "
                f"{np.dtype(stored)}: the writer does not cast (a float written into an "
                "integer array would be silently truncated or wrapped)"
            )
        if self.length is not None and shape[0] < self.length:
            raise ValueError(
                f"storage_array must hold length={self.length} elements, got an array "
                f"of shape {shape}"
            )
        self.storage_array = storage_array
        self._n_stored = int(start)  # elements handed to the write thread
        self._n_written = int(start)  # elements in storage (written and synced)
        if trim and self.length is None and shape[0] > self._n_stored:
            self._resize(self._n_stored)  # elements past ``start`` are left from a killed run
        self._spare: list[np.ndarray] = []
        self._made: dict[int, weakref.ref] = {}  # buffers of _new_buffer (only they are reused)
        self._last_request = self.batch_size  # elements of the last whole-batch write
        self._spare_lock = threading.Lock()
        self._buffer = self._new_buffer()
        self._n_buffered = 0
        self._writes = BackgroundWrites(self._write_or_explain, type(self).__name__,
                                        self._write_thread())
        self._closed = False
        self._set_attrs({**(attrs or {}), COMPLETE: False, N_WRITTEN: self._n_stored})
        self._sync()

    # -- storage hooks (subclasses adapt them to their file format) --------------
    def _write_thread(self) -> WriteThread | None:
        """The thread shared with other writers to write in, or None for one of its own."""
        return None

    def _attrs(self) -> Any:
        """The mapping the storage keeps its metadata in, or None."""
        return getattr(self.storage_array, "attrs", None)

    def _set_attrs(self, values: dict[str, Any]) -> None:
        attrs = self._attrs()
        if attrs is not None:
            for key, value in values.items():
                attrs[key] = value

    def _sync(self) -> None:
        """Make what was written durable (e.g. flush the HDF5 file)."""

    def _store(self, start: int, batch: np.ndarray) -> None:
        """Write ``batch`` to elements ``start:start + len(batch)``."""
        self.storage_array[start : start + len(batch)] = batch

    def _resize(self, n: int) -> None:
        self.storage_array.resize((n,) + self.data_element_shape)

    def _shrink(self, n: int) -> None:
        """Drop the elements past ``n`` (a growing array only)."""
        if self.length is None and self.storage_array.shape[0] > n:
            self._resize(n)

    def _release(self) -> None:
        """Free the file handle once closed."""

    def _where(self) -> str:
        """Where the array is stored, for error messages."""
        return repr(self.storage_array)

    def _folder(self) -> str | None:
        """A directory on the disk the array is stored on: when given, a write needs
        room for its bytes plus :data:`MIN_FREE_BYTES` there (see :func:`reserve_space`)."""
        return None

    def _chunk_files(self) -> tuple[int, int] | None:
        """``(elements per row of chunks, files per row)`` when the storage keeps every
        chunk in a file of its own (a write then uses whole disk blocks per chunk, see
        :meth:`_disk_bytes`), else None."""
        return None

    def _disk_bytes(self, items: list[tuple[int, np.ndarray]]) -> int:
        """At most the disk space a write of ``items`` takes: its bytes, or with a file
        per chunk, the rows of chunks it touches with a partly used block per file."""
        nbytes = sum(batch.nbytes for _, batch in items)
        layout = self._chunk_files()
        if layout is None:
            return nbytes
        rows, files = layout
        first, end = items[0][0] // rows, -(-(items[-1][0] + len(items[-1][1])) // rows)
        row_bytes = rows * self.dtype.itemsize * math.prod(self.data_element_shape)
        return (end - first) * (row_bytes + files * DISK_BLOCK)

    def _storage_error(self, err: Exception) -> BaseException:
        """The error to report for ``err``, raised by the storage: a full disk becomes
        ``OSError(ENOSPC)`` naming :meth:`_where` (subclasses also stop using a handle
        the error left broken)."""
        return disk_full_error(err, self._where()) or err

    def _recover(self) -> None:
        """After a storage error: make the storage usable for the final attributes."""

    # -- writing -----------------------------------------------------------------
    def _new_buffer(self, n: int | None = None) -> np.ndarray:
        """An array for ``n`` elements (default a batch): a written one if any fits."""
        n = self.batch_size if n is None else n
        with self._spare_lock:
            for k, spare in enumerate(self._spare):
                if len(spare) == n:
                    return self._spare.pop(k)
            buffer = np.empty((n,) + self.data_element_shape, self.dtype)
            if len(self._made) > 4 * MAX_SPARE_BUFFERS:  # forget dropped buffers
                self._made = {k: r for k, r in self._made.items() if r() is not None}
            self._made[id(buffer)] = weakref.ref(buffer)
        return buffer

    def _recycle(self, batches: list[np.ndarray]) -> None:
        """Keep the buffers of written batches for :meth:`_new_buffer` (only buffers it
        made: data given without a copy belongs to the caller's memory)."""
        with self._spare_lock:
            for batch in batches:
                whole = batch if batch.base is None else batch.base
                ref = self._made.get(id(whole))
                if ref is None or ref() is not whole:
                    continue
                if whole.ndim == batch.ndim and len(whole) in (self.batch_size,
                                                               self._last_request):
                    self._spare.append(whole)
                else:
                    del self._made[id(whole)]
            for dropped in self._spare[:-MAX_SPARE_BUFFERS]:
                self._made.pop(id(dropped), None)
            del self._spare[:-MAX_SPARE_BUFFERS]

    def _write_batches(self, items: list[tuple[int, np.ndarray]]) -> None:
        """Write consecutive batches, then record the count and sync once.

        The disk's room is checked first (see :func:`reserve_space`). When it is short
        (less than :data:`ROOM_FACTOR` times the bytes to write are free), the batches
        are written one at a time, each recorded: a disk that fills up keeps all but
        the last, and writers filling it together get about the same share of it.
        """
        folder = self._folder()
        if folder is None or has_room(folder, ROOM_FACTOR * self._disk_bytes(items)):
            self._write_recorded(items, folder)
        else:
            for start, batch in items:
                for k in range(0, len(batch), self.batch_size):
                    self._write_recorded([(start + k, batch[k : k + self.batch_size])], folder)
        self._recycle([batch for _, batch in items])

    def _write_recorded(self, items: list[tuple[int, np.ndarray]], folder: Any) -> None:
        """Store ``items`` (after a check of the room, with a ``folder``), then record the
        count and sync."""
        end = items[-1][0] + len(items[-1][1])
        room = (contextlib.nullcontext() if folder is None
                else reserve_space(folder, self._disk_bytes(items), self._where()))
        with room:
            if self.length is None and self.storage_array.shape[0] < end:
                self._resize(end)
            for start, batch in items:
                self._store(start, batch)
        self._set_attrs({N_WRITTEN: end})
        self._sync()
        self._n_written = end

    def _write_or_explain(self, items: list[tuple[int, np.ndarray]]) -> None:
        try:
            self._write_batches(items)
        except Exception as err:
            explained = self._storage_error(err)
            if explained is err:
                raise
            raise explained from err

    def _submit(self) -> None:
        if self._n_buffered == 0:
            return
        self._writes.submit(self._n_stored, self._buffer[: self._n_buffered])
        self._n_stored += self._n_buffered
        self._n_buffered = 0
        self._buffer = self._new_buffer()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"this {type(self).__name__} is closed")

    def buffered_write(self, data: Any, *, copy: bool = True) -> None:
        """Add one element or a stack of elements; full batches are written.

        With ``copy=False`` the caller hands ``data`` over (it must not change it
        afterwards): its whole batches are written from it without a copy when it is
        a C-contiguous array of the writer's dtype.
        """
        self._check_open()
        elements = as_elements(data, self.data_element_shape, self.dtype)
        handed = (not copy and elements.dtype == self.dtype
                  and elements.flags.c_contiguous)
        total = len(self) + len(elements)
        if self.length is not None and total > self.length:
            raise EOFError(
                f"cannot write {len(elements)} more element(s): the array holds "
                f"length={self.length} and {len(self)} are already written"
            )
        i = 0
        while i < len(elements):
            if self._n_buffered == 0 and len(elements) - i >= self.batch_size:
                # Whole batches go out as one write (a copy: the caller may reuse data).
                k = (len(elements) - i) // self.batch_size * self.batch_size
                if handed:
                    batch = elements[i : i + k]
                else:
                    self._last_request = k
                    batch = self._new_buffer(k)
                    batch[...] = elements[i : i + k]
                self._writes.submit(self._n_stored, batch)
                self._n_stored += k
                i += k
                continue
            take = min(self.batch_size - self._n_buffered, len(elements) - i)
            self._buffer[self._n_buffered : self._n_buffered + take] = elements[i : i + take]
            self._n_buffered += take
            i += take
            if self._n_buffered == self.batch_size:
                self._submit()

    def flush_buffer(self) -> None:
        """Write what is buffered and wait until everything is in storage."""
        self._check_open()
        self._submit()
        self._writes.wait()

    @property
    def n_written(self) -> int:
        """Elements in storage (given ones may still be buffered or being written)."""
        return self._n_written

    @property
    def failed(self) -> bool:
        """Whether a write failed (the error is raised by the next call)."""
        return self._writes.error is not None

    def discard_unwritten(self, after: int | None = None) -> int:
        """Drop the elements given but not written yet, except a write in progress
        (which ends first): returns :attr:`n_written`, which then equals ``len(self)``.

        With ``after``, drop only those past index ``after`` (the others are written);
        ``len(self)`` is then at most ``after``, or :attr:`n_written` when a write in
        progress went past it.
        """
        if after is None:
            self._n_buffered = 0
            self._writes.discard()
            self._n_stored = self._n_written
            return self._n_written
        if after >= self._n_stored:
            self._n_buffered = min(self._n_buffered, after - self._n_stored)
            return self._n_written
        self._n_buffered = 0
        end = self._writes.discard(after)
        self._n_stored = self._n_written if end is None else end
        return self._n_written

    # -- closing -----------------------------------------------------------------
    def _finish(self, complete: bool, attrs: dict[str, Any] | None = None,
                keep: int | None = None) -> None:
        if self._closed:
            return
        self._closed = True
        error: BaseException | None = None
        try:
            if keep is None and not self.failed:
                self._submit()
            else:
                self.discard_unwritten()
            try:
                self._writes.shutdown()
            except BaseException as err:  # a failed write: record what storage holds
                error, complete = err, False
            n = self._n_written if keep is None else min(keep, self._n_written)
            if self.length is not None and complete and n < self.length:
                complete = False  # fewer elements than announced
            final = {**(attrs or {}), COMPLETE: complete, N_WRITTEN: n}
            steps = [lambda: self._shrink(n), lambda: self._set_attrs(final), self._sync]
            if error is not None:
                steps.insert(0, self._recover)
            for step in steps:  # each as far as the storage allows; the first error is raised
                try:
                    step()
                except Exception as err:
                    error = error or self._storage_error(err)
            if error is None:
                self._n_written = self._n_stored = n
        finally:
            self._release()
        if error is not None:
            raise error

    def close(self, attrs: dict[str, Any] | None = None) -> None:
        """Flush, mark the array complete and release the file.

        ``attrs`` are stored with the last write, in the same final sync (for
        blosc2, the same atomic publish), so no attribute is written afterwards.
        """
        self._finish(complete=True, attrs=attrs)

    def abort(self, attrs: dict[str, Any] | None = None, *, keep: int | None = None) -> None:
        """Flush what was given, but leave the array marked incomplete (a cancelled run).

        With ``keep``, write nothing more (see :meth:`discard_unwritten`) and keep at
        most the first ``keep`` elements (the array is shortened to them).
        """
        self._finish(complete=False, attrs=attrs, keep=keep)

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> buffered_array_writer:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._finish(complete=exc_type is None)

    def __del__(self) -> None:
        try:
            self.abort() if not getattr(self, "_closed", True) else None
        except Exception:
            pass

    # -- the original's accessors --------------------------------------------------
    def __len__(self) -> int:
        """Elements given so far (stored or still buffered)."""
        return self._n_stored + self._n_buffered

    def get_shape(self) -> tuple[int, ...]:
        """Shape of the array: ``(length or len(self),) + element shape``."""
        n = self.length if self.length is not None else len(self)
        return (n,) + self.data_element_shape

    def get_element_shape(self) -> tuple[int, ...]:
        """Shape of one element."""
        return self.data_element_shape

    def get_array(self) -> Any:
        """The storage array (buffered data is flushed first)."""
        if not self._closed:
            self.flush_buffer()
        return self.storage_array


class NamedArrayWriter(buffered_array_writer):
    """Write the array ``array_name`` of a file or group ``filename`` batch-wise (the base
    of the HDF5 and Zarr writers, whose docstrings give the parameters).

    The arguments are checked, then :meth:`_open_array` gives the array to write: a new
    one, or with ``append`` the existing one and how many elements it holds. A failed
    construction gives back what :meth:`_open_array` took (:meth:`_release`).
    """

    def __init__(
        self,
        data_element_shape: Any,
        dtype: Any,
        batch_size: int,
        filename: str | os.PathLike,
        array_name: str,
        length: int | None = None,
        append: bool = False,
        kwargs: dict[str, Any] | None = None,
        *,
        attrs: dict[str, Any] | None = None,
    ) -> None:
        shape, dtype, batch, length = check_writer_args(data_element_shape, dtype, batch_size,
                                                        length)
        check_array_name(array_name)
        self.filename = os.fspath(filename)
        self.array_name = array_name
        array, start = self._open_array(shape, dtype, batch, length, append, kwargs)
        try:
            super().__init__(array, shape, dtype, batch, length, attrs=attrs, start=start,
                             trim=True)
        except BaseException:
            self._release()
            raise

    def _open_array(self, shape: tuple[int, ...], dtype: np.dtype, batch: int,
                    length: int | None, append: bool,
                    kwargs: dict[str, Any] | None) -> tuple[Any, int]:
        """The array to write (the existing one with ``append``) and its start."""
        raise NotImplementedError

    def _refuse_overwrite(self, append: bool) -> None:
        """``array_name`` exists: without ``append``, a FileExistsError."""
        if not append:
            raise FileExistsError(
                f"array_name {self.array_name!r} already exists in {self.filename!r}; "
                "pass append=True to continue it (nothing is overwritten)"
            )


# -- argument and data checks shared by the writers -------------------------------------


def check_length(length: Any) -> int | None:
    """``length``: None or a non-negative integer."""
    if length is None:
        return None
    if isinstance(length, bool) or not isinstance(length, numbers.Integral):
        raise ArgumentTypeError(f"length must be None or a non-negative integer, got {length!r}")
    if length < 0:
        raise ValueError(f"length must be None or a non-negative integer, got {length!r}")
    return int(length)


def check_element_shape(shape: Any) -> tuple[int, ...]:
    """``data_element_shape``: a tuple of positive integers (``()`` for scalars; an
    integer ``n`` means ``(n,)``)."""
    dims = (shape,) if isinstance(shape, numbers.Integral) else shape
    if isinstance(dims, np.ndarray) and dims.ndim == 1:
        dims = dims.tolist()
    if not isinstance(dims, (tuple, list)) or any(
            isinstance(d, bool) or not isinstance(d, numbers.Integral) for d in dims):
        raise ArgumentTypeError(
            f"data_element_shape must be a tuple of positive integers, got {shape!r}")
    if any(d < 1 for d in dims):
        raise ValueError(
            f"data_element_shape must be a tuple of positive integers (an element cannot "
            f"be empty), got {tuple(dims)}")
    return tuple(int(d) for d in dims)


def check_dtype(dtype: Any) -> np.dtype:
    """``dtype``: a numpy dtype of fixed size that holds no Python objects."""
    try:
        checked = np.dtype(dtype)
    except TypeError as err:
        raise ArgumentTypeError(f"dtype must be a numpy dtype, got {dtype!r}: {err}") from None
    if checked.hasobject:
        raise ValueError(
            f"dtype must hold numbers, booleans or fixed-size strings, got {checked}: "
            "Python objects cannot be stored")
    if checked.itemsize == 0:
        raise ValueError(
            f"dtype must have a size, got {checked} (give one, e.g. 'S16' or 'U16')")
    return checked


def check_writer_args(
    data_element_shape: Any, dtype: Any, batch_size: Any, length: Any
) -> tuple[tuple[int, ...], np.dtype, int, int | None]:
    """The arguments every writer shares, checked: (shape, dtype, batch_size, length)."""
    return (check_element_shape(data_element_shape), check_dtype(dtype),
            check_positive_int(batch_size, "batch_size"), check_length(length))


def check_appended(name: str, array: Any, shape: tuple[int, ...], dtype: np.dtype,
                   length: int | None = None) -> None:
    """``array``, the existing array ``name`` continued with ``append=True``, holds
    elements of ``shape`` and ``dtype`` (and ``length`` of them, when given)."""
    if tuple(array.shape[1:]) != shape or array.dtype != dtype:
        raise ValueError(
            f"append=True: {name!r} holds elements {tuple(array.shape[1:])} "
            f"{array.dtype}, got data_element_shape={shape}, dtype={dtype}"
        )
    if length is not None and array.shape[0] != length:
        raise ValueError(
            f"append=True: {name!r} has length {array.shape[0]}, got length={length}"
        )


def check_array_name(array_name: Any) -> str:
    """``array_name``: a non-empty string."""
    if not isinstance(array_name, str):
        raise ArgumentTypeError(f"array_name must be a non-empty string, got {array_name!r}")
    if not array_name:
        raise ValueError("array_name must be a non-empty string, got ''")
    return array_name


def as_elements(data: Any, element_shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """``data`` as an (n,) + element_shape array, without casting.

    Raises
    ------
    TypeError
        If the data's dtype is not ``dtype`` (no silent casting).
    ValueError
        If ``data`` is neither one element nor a stack of elements.
    """
    array = np.asarray(data)
    if not np.can_cast(array.dtype, dtype, casting="equiv"):
        raise TypeError(
            f"data must have dtype {dtype} (no casting is done), got {array.dtype}; "
            f"convert it first, e.g. data.astype({str(dtype)!r})"
        )
    if array.shape == element_shape:
        return array[None]
    if array.shape[1:] == element_shape:
        return array
    raise ValueError(
        f"data must be one element of shape {element_shape} or a stack of shape "
        f"(n, {', '.join(map(str, element_shape))}{',' if len(element_shape) == 0 else ''}), "
        f"got shape {array.shape}"
    )


_STOPPED = "writing stopped, the elements written so far are kept (marked incomplete)"

#: A writer that knows its disk (``_folder``) leaves at least this many bytes free, for
#: the metadata of its writes and its close.
MIN_FREE_BYTES = 256 * 2**10
#: Disk space counted for the metadata and last partial block of a file (a chunk file).
DISK_BLOCK = 4096
#: A write goes out at once when this many times its bytes are free, else batch by batch.
ROOM_FACTOR = 4


class SpaceCheckError(OSError):
    """``ENOSPC`` from :func:`require_space`: raised before the write, the storage is intact."""


def require_space(folder: str | os.PathLike, nbytes: int, where: str,
                  reserved: int = 0) -> None:
    """Raise :class:`SpaceCheckError` (``ENOSPC``) naming ``where`` unless ``folder``'s disk
    has room for ``nbytes`` plus :data:`MIN_FREE_BYTES` (plus ``reserved`` bytes other
    writes are about to use): a library that meets a full disk can leave its handle
    broken (libhdf5) or report it vaguely (blosc2)."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # not knowable here: the write itself will tell
    if free < nbytes + reserved + MIN_FREE_BYTES:
        raise SpaceCheckError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} ({free} bytes "
                              f"free, {nbytes} to write, {reserved} being written): "
                              f"{_STOPPED}", where)


_reserved_lock = threading.Lock()
_reserved: dict[int, int] = {}  # disk (st_dev) -> bytes the writes in progress may add


def has_room(folder: str | os.PathLike, nbytes: int) -> bool:
    """Whether ``folder``'s disk has ``nbytes`` free besides the writes in progress in
    this process (True when that is not knowable)."""
    try:
        free = shutil.disk_usage(folder).free
        disk = os.stat(folder).st_dev
    except OSError:
        return True
    with _reserved_lock:
        return free - _reserved.get(disk, 0) >= nbytes


class _Reservation:
    """Bytes held on a disk until the write they were reserved for ends (``with``)."""

    def __init__(self, disk: int, nbytes: int) -> None:
        self.disk, self.nbytes = disk, nbytes

    def __enter__(self) -> _Reservation:
        return self

    def __exit__(self, *exc: Any) -> None:
        with _reserved_lock:
            _reserved[self.disk] -= self.nbytes


def reserve_space(folder: str | os.PathLike, nbytes: int, where: str) -> _Reservation:
    """Check the room for a write of ``nbytes`` on ``folder``'s disk (see
    :func:`require_space`), counting the writes in progress there in this process, and
    hold its bytes until the write ends (use the result in a ``with``): writers writing
    at once cannot all pass the check and fill the disk together."""
    try:
        disk = os.stat(folder).st_dev
    except OSError:
        disk = -1
    with _reserved_lock:
        require_space(folder, nbytes, where, _reserved.get(disk, 0))
        _reserved[disk] = _reserved.get(disk, 0) + nbytes
    return _Reservation(disk, nbytes)


def disk_full_error(err: BaseException, where: str) -> OSError | None:
    """``OSError(ENOSPC)`` naming ``where`` when ``err`` says the disk is full (an
    OSError with errno ENOSPC, or a library error quoting it), else None."""
    if isinstance(err, OSError) and err.errno == errno.ENOSPC and err.filename:
        return err  # already says where
    if not (getattr(err, "errno", None) == errno.ENOSPC
            or os.strerror(errno.ENOSPC).lower() in str(err).lower()):
        return None
    return OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)}: {_STOPPED}", where)


# -- the write thread --------------------------------------------------------------------


class _SharedBudget:
    """Bytes queued or being written by every writer thread of the process."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.used = 0

    def acquire(self, owner: BackgroundWrites, nbytes: int) -> None:
        """Wait until ``nbytes`` fit, unless ``owner`` holds none (then it never waits:
        a writer with nothing in flight must be able to start, or none could)."""
        with self.cond:
            while owner._budget_held and self.used + nbytes > MAX_PENDING_BYTES_ALL:
                self.cond.wait()
            self.used += nbytes
            owner._budget_held += nbytes

    def release(self, owner: BackgroundWrites, nbytes: int) -> None:
        with self.cond:
            self.used -= nbytes
            owner._budget_held -= nbytes
            self.cond.notify_all()


_BUDGET = _SharedBudget()


class WriteThread:
    """A thread that writes for one or more :class:`BackgroundWrites`, in the order
    their batches were queued; it runs while one of them is open.

    Writers of one HDF5 file share one (libhdf5 runs one call at a time in a process:
    threads of their own would only wait for each other's writes, and switch).
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._ready: deque[BackgroundWrites] = deque()
        self._cond = threading.Condition()
        self._users = 0
        self._thread: threading.Thread | None = None  # while it runs

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._ready and self._users:
                    self._cond.wait()
                if not self._ready:
                    self._thread = None
                    self._cond.notify_all()
                    return
                writes = self._ready.popleft()
            writes._write_queued()

    def _post(self, writes: BackgroundWrites) -> None:
        """``writes`` has batches queued."""
        with self._cond:
            self._ready.append(writes)
            self._cond.notify_all()

    def _join(self) -> None:
        with self._cond:
            self._users += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name,
                                                daemon=True)
                self._thread.start()

    def _leave(self) -> None:
        """One user less; the thread ends with the last one (and is waited for)."""
        with self._cond:
            self._users -= 1
            self._cond.notify_all()
            thread = self._thread
            if thread is None or thread is threading.current_thread():
                return
            while self._thread is thread and self._users == 0:
                self._cond.wait()
            ended = self._thread is not thread
        if ended:
            thread.join()  # it is returning


class BackgroundWrites:
    """Write batches in a background thread while the caller prepares the next ones.

    Batches queue up in order; the thread takes everything queued at once and
    hands it to ``write_many`` in one call (one resize, one metadata update and
    one flush for many small batches). The producer blocks while
    :data:`MAX_PENDING_BATCHES` batches or :data:`MAX_PENDING_BYTES` wait, or
    while the writers of the process together hold :data:`MAX_PENDING_BYTES_ALL`,
    so memory stays bounded (one batch per writer may always wait). An error
    of the thread is raised in the caller by the next :meth:`submit`,
    :meth:`wait` or :meth:`shutdown`, with its original traceback. The thread is
    the writer's own, or ``thread``, a :class:`WriteThread` it shares.
    """

    def __init__(self, write_many: Callable[[list[tuple[int, np.ndarray]]], None],
                 name: str, thread: WriteThread | None = None) -> None:
        self._write_many = write_many
        self._queue: deque[tuple[int, np.ndarray]] = deque()
        self._pending_bytes = 0
        self._budget_held = 0  # this writer's share of _BUDGET (changed under its lock)
        self._busy = False
        self._posted = False  # waiting for its turn in the thread
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        self._thread = WriteThread(name) if thread is None else thread
        self._thread._join()
        self._joined = True

    def _write_queued(self) -> None:
        """Write everything queued (the thread's turn for this writer)."""
        with self._cond:
            self._posted = False
            items = list(self._queue)
            self._queue.clear()
            self._busy = bool(items)
        if not items:
            return
        try:
            if self._error is None:
                self._write_many(items)
        except BaseException as err:  # handed to the producer
            self._error = err
        finally:
            nbytes = sum(b.nbytes for _, b in items)
            with self._cond:
                self._busy = False
                self._pending_bytes -= nbytes
                self._cond.notify_all()
            _BUDGET.release(self, nbytes)

    @property
    def error(self) -> BaseException | None:
        """The error of a failed write, or None."""
        return self._error

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def discard(self, after: int | None = None) -> int | None:
        """Drop the queued batches (with ``after``, the elements past index ``after``),
        then wait for the one being written, if any. Returns the end of the last batch
        left queued, or None."""
        with self._cond:
            kept: deque[tuple[int, np.ndarray]] = deque()
            dropped = 0
            for start, batch in self._queue:
                if after is None or start >= after:
                    dropped += batch.nbytes
                elif start + len(batch) > after:
                    part = batch[: after - start]
                    dropped += batch.nbytes - part.nbytes
                    kept.append((start, part))
                else:
                    kept.append((start, batch))
            self._queue = kept
            self._pending_bytes -= dropped
            end = kept[-1][0] + len(kept[-1][1]) if kept else None
            while self._busy:
                self._cond.wait()
        _BUDGET.release(self, dropped)
        return end

    def submit(self, start: int, batch: np.ndarray) -> None:
        """Queue ``batch`` for elements ``start:start + len(batch)`` (the writer owns it)."""
        self._raise()
        _BUDGET.acquire(self, batch.nbytes)  # released by the thread once written
        try:
            with self._cond:
                while self._queue and (len(self._queue) >= MAX_PENDING_BATCHES or
                                       self._pending_bytes + batch.nbytes > MAX_PENDING_BYTES):
                    self._cond.wait()
                    self._raise()
                self._queue.append((start, batch))
                self._pending_bytes += batch.nbytes
                if not self._posted:
                    self._posted = True
                    self._thread._post(self)
        except BaseException:
            _BUDGET.release(self, batch.nbytes)  # not queued
            raise

    def wait(self) -> None:
        """Block until every queued batch is written; re-raise a write error."""
        with self._cond:
            while (self._queue or self._busy) and self._error is None:
                self._cond.wait()
        self._raise()

    def shutdown(self) -> None:
        """Write what is queued, stop the thread, re-raise a write error."""
        try:
            self.wait()
        finally:
            with self._cond:
                joined, self._joined = self._joined, False
            if joined:
                self._thread._leave()
