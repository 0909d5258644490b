"""``buffered_array_writer``: batch-wise writing into any resizable array."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ._write_thread import BackgroundWrites
from ._writer_checks import (
    as_elements,
    check_batch_size,
    check_dtype,
    check_element_shape,
    check_length,
)

#: Attribute set False while writing and True once the writer closed normally.
COMPLETE = "complete"
#: Attribute holding how many elements reached storage (updated after every batch).
N_WRITTEN = "n_written"
#: Written batch buffers kept for reuse (fresh memory for every batch costs page faults).
MAX_SPARE_BUFFERS = 4


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
        self.batch_size = check_batch_size(batch_size)
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
        self.storage_array = storage_array
        self._n_stored = int(start)
        if trim and self.length is None and shape[0] > self._n_stored:
            self._resize(self._n_stored)  # elements past ``start`` are left from a killed run
        self._spare: list[np.ndarray] = []
        self._last_request = self.batch_size  # elements of the last whole-batch write
        self._spare_lock = threading.Lock()
        self._buffer = self._new_buffer()
        self._n_buffered = 0
        self._writes = BackgroundWrites(self._write_batches, type(self).__name__)
        self._closed = False
        self._set_attrs({**(attrs or {}), COMPLETE: False, N_WRITTEN: self._n_stored})
        self._sync()

    # -- storage hooks (subclasses adapt them to their file format) --------------
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

    def _release(self) -> None:
        """Free the file handle once closed."""

    # -- writing -----------------------------------------------------------------
    def _new_buffer(self, n: int | None = None) -> np.ndarray:
        """An array for ``n`` elements (default a batch): a written one if any fits."""
        n = self.batch_size if n is None else n
        with self._spare_lock:
            for k, spare in enumerate(self._spare):
                if len(spare) == n:
                    return self._spare.pop(k)
        return np.empty((n,) + self.data_element_shape, self.dtype)

    def _recycle(self, batches: list[np.ndarray]) -> None:
        """Keep the buffers of written batches for :meth:`_new_buffer`."""
        with self._spare_lock:
            for batch in batches:
                whole = batch if batch.base is None else batch.base
                if (isinstance(whole, np.ndarray) and whole.ndim == batch.ndim
                        and len(whole) in (self.batch_size, self._last_request)):
                    self._spare.append(whole)
            del self._spare[:-MAX_SPARE_BUFFERS]

    def _write_batches(self, items: list[tuple[int, np.ndarray]]) -> None:
        """Write consecutive batches, then record the count and sync once."""
        end = items[-1][0] + len(items[-1][1])
        if self.length is None and self.storage_array.shape[0] < end:
            self._resize(end)
        for start, batch in items:
            self._store(start, batch)
        self._set_attrs({N_WRITTEN: end})
        self._sync()
        self._recycle([batch for _, batch in items])

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

    def buffered_write(self, data: Any) -> None:
        """Add one element or a stack of elements; full batches are written."""
        self._check_open()
        elements = as_elements(data, self.data_element_shape, self.dtype)
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

    # -- closing -----------------------------------------------------------------
    def _finish(self, complete: bool, attrs: dict[str, Any] | None = None) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._submit()
            self._writes.shutdown()
            if self.length is not None and complete and self._n_stored < self.length:
                complete = False  # fewer elements than announced
            self._set_attrs({**(attrs or {}), COMPLETE: complete, N_WRITTEN: self._n_stored})
            self._sync()
        finally:
            self._release()

    def close(self, attrs: dict[str, Any] | None = None) -> None:
        """Flush, mark the array complete and release the file.

        ``attrs`` are stored with the last write, in the same final sync (for
        blosc2, the same atomic publish), so no attribute is written afterwards.
        """
        self._finish(complete=True, attrs=attrs)

    def abort(self, attrs: dict[str, Any] | None = None) -> None:
        """Flush what was given, but leave the array marked incomplete (a cancelled run)."""
        self._finish(complete=False, attrs=attrs)

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
