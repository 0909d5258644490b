"""``h5py_array_writer``: batch-wise writing of one array of an HDF5 file.

HDF5 files are opened once per process (:func:`acquire_file`), so several writers
can write different arrays of one file at the same time; their batches are written
by one thread per file, in the order they were queued (writers that compress LZF
chunks themselves have their own, see ``_write_thread``).

A write that fails (a full disk) can leave libhdf5 unable to close the file: its
close retries the failed flush, and a process whose HDF5 objects are freed after
that dies of a segmentation fault. So a write first checks the free space
(``require_space``: an ``OSError(ENOSPC)`` before libhdf5 is called), and every open
file holds a little disk space in reserve (an unnamed temporary file beside it) for
when the disk fills up all the same (another process): the first failed write of a
file stops its writers from writing more data and gives the reserve back, so the
final attributes and the close have room. Its arrays are not shortened then (the
chunk index may be broken): readers see their ``n_written`` elements.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from typing import IO, Any

import h5py
import numpy as np

from ._buffered_writer import (
    N_WRITTEN,
    NamedArrayWriter,
    SpaceCheckError,
    WriteThread,
    check_appended,
    disk_full_error,
)

#: h5py's filter id for LZF (``h5py.h5z.FILTER_LZF``).
FILTER_LZF = 32000

#: Whole chunks of at least this many bytes are written directly (see ``_store``).
DIRECT_CHUNK_BYTES = 4096
#: Disk space each open file keeps in reserve for its close (at most a quarter of the free space).
RESERVE_BYTES = 4 * 2**20


@dataclass
class _OpenFile:
    file: h5py.File
    users: int = 0
    reserve: IO[bytes] | None = None
    error: BaseException | None = None  # the first failed write: no data is written after it
    writes: WriteThread = field(default_factory=lambda: WriteThread("h5py_array_writer"))


_files_lock = threading.Lock()
_open_files: dict[str, _OpenFile] = {}  # real path -> the process's handle


def acquire_file(filename: str | os.PathLike) -> h5py.File:
    """The process's writable ``h5py.File`` for ``filename`` (opened in 'a' mode)."""
    key = os.path.realpath(os.fspath(filename))
    with _files_lock:
        entry = _open_files.get(key)
        if entry is None or not entry.file:
            entry = _open_files[key] = _OpenFile(h5py.File(key, "a"))
            entry.reserve = _reserve_space(os.path.dirname(key))
        entry.users += 1
        return entry.file


def release_file(file: h5py.File) -> None:
    """Give back a file from :func:`acquire_file`; the last user closes it."""
    key = os.path.realpath(file.filename)
    with _files_lock:
        entry = _open_files.get(key)
        if entry is None or entry.file is not file:
            return
        entry.users -= 1
        if entry.users > 0:
            return
        del _open_files[key]
        if entry.error is not None:
            _give_back(entry)  # room for the close
        try:
            if file:
                file.close()
        except Exception:
            if entry.error is None:
                raise  # else: the write error is what the caller reports
        finally:
            _give_back(entry)


def _reserve_space(folder: str) -> IO[bytes] | None:
    """An unnamed file holding disk space for a close after a failed write (None when
    the disk has none to spare: the file is never visible, and a killed process frees it)."""
    try:
        size = min(RESERVE_BYTES, shutil.disk_usage(folder).free // 4)
        if size <= 0:
            return None
        reserve = tempfile.TemporaryFile(dir=folder, prefix=".napari_datatools_reserve_")
    except OSError:
        return None
    try:
        try:
            os.posix_fallocate(reserve.fileno(), 0, size)
        except (AttributeError, OSError):  # no posix_fallocate here, or not on this disk
            reserve.write(bytes(size))
            reserve.flush()
            os.fsync(reserve.fileno())
        return reserve
    except OSError:
        reserve.close()
        return None


def _give_back(entry: _OpenFile) -> None:
    if entry.reserve is not None:
        entry.reserve.close()
        entry.reserve = None


def _file_failed(file: h5py.File, error: BaseException) -> None:
    """Record the first failed write of ``file`` (which stops all its writers) and free
    its reserve."""
    with _files_lock:
        entry = _open_files.get(os.path.realpath(file.filename))
        if entry is not None and entry.error is None:
            entry.error = error
            _give_back(entry)


class h5py_array_writer(NamedArrayWriter):
    """Write an array of an HDF5 file batch-wise.

    The file is opened in append mode, so several writers may write different
    arrays of one file at the same time (they share one handle). After every
    batch the file is flushed: a process killed at any moment leaves every
    flushed batch readable (``n_written`` says how many elements).

    Parameters
    ----------
    data_element_shape : tuple of int
        Shape of one element.
    dtype : numpy dtype
        Dtype of the elements (no casting).
    batch_size : int
        Elements per write; also the chunk length by default.
    filename : str or os.PathLike
        The HDF5 file (created if missing; other arrays in it are kept).
    array_name : str
        Path of the dataset inside the file (groups are created).
    length : int, optional
        Final number of elements; ``None`` grows the dataset as data arrives.
    append : bool
        Continue the existing array ``array_name`` (from its ``n_written``
        elements). Without it an existing array is an error, never overwritten.
    kwargs : dict, optional
        Arguments of ``h5py.Group.create_dataset``; default lzf compression and
        ``(batch_size,) + data_element_shape`` chunks. ``{"compression": None}``
        writes uncompressed.
    attrs : dict, optional
        Extra attributes to store on the dataset (e.g. provenance).
    """

    def _open_array(self, shape: tuple[int, ...], dtype: np.dtype, batch: int,
                    length: int | None, append: bool,
                    kwargs: dict[str, Any] | None) -> tuple[Any, int]:
        """The dataset to write and its start, in the process's handle of the file
        (given back on an error)."""
        if dtype.kind == "U":
            raise ValueError(f"dtype {dtype} cannot be stored in HDF5: encode the text as "
                             f"bytes first (dtype 'S{dtype.itemsize // 4}')")
        self.file = acquire_file(self.filename)
        self._file_key = os.path.realpath(self.filename)
        try:
            dataset, start = self._open_dataset(shape, dtype, batch, length, append, kwargs)
            self._direct_chunk, self._lzf = _direct_chunks(dataset, shape)
        except BaseException:
            release_file(self.file)
            raise
        return dataset, start

    def _open_dataset(self, shape, dtype, batch, length, append, kwargs):
        if self.array_name in self.file:
            self._refuse_overwrite(append)
            dataset = self.file[self.array_name]
            check_appended(self.array_name, dataset, shape, dtype, length)
            return dataset, int(dataset.attrs.get(N_WRITTEN, dataset.shape[0]))
        options = {"compression": "lzf", "chunks": (batch,) + shape}
        options.update(kwargs or {})
        if options.get("chunks") is not None and options["chunks"] is not True:
            n0 = options["chunks"][0]
            if length is not None and length > 0:
                n0 = min(n0, length)
            options["chunks"] = (max(1, n0),) + tuple(options["chunks"][1:])
        if options.get("compression") is None:
            options.pop("compression", None)
            options.pop("compression_opts", None)
        n = 0 if length is None else length
        maxshape = (None,) + shape if length is None else None
        dataset = self.file.create_dataset(
            self.array_name, shape=(n,) + shape, dtype=dtype, maxshape=maxshape, **options
        )
        return dataset, 0

    def _store(self, start: int, batch: np.ndarray) -> None:
        """Whole chunks of at least :data:`DIRECT_CHUNK_BYTES` of an unfiltered or LZF
        dataset go straight to the file, LZF ones compressed on all cores (see ``_lzf``;
        h5py compresses on one, and copies uncompressed chunks through its chunk cache
        first). Smaller chunks are cheaper in one h5py write, as is the rest. Nothing is
        written once a write to the file failed."""
        self._raise_if_failed()
        c = self._direct_chunk
        end = start + len(batch)
        first = -(-start // c) * c if c else end
        last = min(end, self.storage_array.shape[0]) // c * c if c else end
        if (first >= last or batch.dtype != self.storage_array.dtype
                or batch[:c].nbytes < DIRECT_CHUNK_BYTES):
            self.storage_array[start:end] = batch
            return
        if first > start:
            self.storage_array[start:first] = batch[: first - start]
        chunks = np.ascontiguousarray(batch[first - start : last - start])
        rows = chunks.reshape(len(chunks) // c, -1).view(np.uint8)
        chunk_id = self.storage_array.id
        tail = (0,) * len(self.data_element_shape)
        if self._lzf:
            from ._lzf import compress_chunks  # numba: imported when first needed

            packed, sizes = compress_chunks(rows)
            for k, s in enumerate(range(first, last, c)):
                size = int(sizes[k])
                if size:
                    chunk_id.write_direct_chunk((s,) + tail, packed[k, :size], filter_mask=0)
                else:  # did not shrink: stored as it is, the filter marked as skipped
                    chunk_id.write_direct_chunk((s,) + tail, rows[k], filter_mask=1)
        else:
            for k, s in enumerate(range(first, last, c)):
                chunk_id.write_direct_chunk((s,) + tail, rows[k])
        if last < end:
            self.storage_array[last:end] = batch[last - start :]

    def _resize(self, n: int) -> None:
        """Not after a failed write of the file: its chunk index may be broken, and
        shrinking it then can drop chunks that hold written elements."""
        self._raise_if_failed()
        super()._resize(n)

    def _raise_if_failed(self) -> None:
        entry = _open_files.get(self._file_key)
        if entry is not None and entry.error is not None:
            raise entry.error

    def _sync(self) -> None:
        self.file.flush()

    def _write_thread(self) -> WriteThread | None:
        """The file's thread, unless chunks are LZF-compressed here: that happens outside
        libhdf5 (on all cores), and a thread of its own overlaps it with other writes."""
        entry = _open_files.get(self._file_key)
        return None if entry is None or self._lzf else entry.writes

    def _release(self) -> None:
        release_file(self.file)

    def _where(self) -> str:
        return self.filename

    def _folder(self) -> str:
        return os.path.dirname(self._file_key)

    def _storage_error(self, err: Exception) -> BaseException:
        """A failed write of the library stops the file's writers and frees the reserve
        (see the module docstring); a full disk is reported as ``OSError(ENOSPC)``."""
        explained = disk_full_error(err, self.filename) or err
        if not isinstance(err, SpaceCheckError):  # else libhdf5 was not even called
            _file_failed(self.file, explained)
        return explained


def _direct_chunks(dataset: Any, element_shape: tuple[int, ...]) -> tuple[int, bool]:
    """``(elements per chunk, lzf)`` when whole chunks may be written directly (chunked,
    one chunk spans whole elements, no filter or LZF alone), else ``(0, False)``."""
    chunks = dataset.chunks
    if chunks is None or tuple(chunks[1:]) != element_shape or 0 in element_shape:
        return 0, False
    plist = dataset.id.get_create_plist()
    filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    if filters not in ([], [FILTER_LZF]):
        return 0, False
    return int(chunks[0]), bool(filters)
