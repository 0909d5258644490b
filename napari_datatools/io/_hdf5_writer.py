"""``h5py_array_writer``: batch-wise writing of one array of an HDF5 file.

HDF5 files are opened once per process (:func:`acquire_file`), so several writers
can write different arrays of one file at the same time.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import h5py
import numpy as np

from ._buffered_writer import N_WRITTEN, buffered_array_writer, check_array_name, check_writer_args

_files_lock = threading.Lock()
_open_files: dict[str, list[Any]] = {}  # real path -> [h5py.File, number of users]


def acquire_file(filename: str | os.PathLike) -> h5py.File:
    """The process's writable ``h5py.File`` for ``filename`` (opened in 'a' mode)."""
    key = os.path.realpath(os.fspath(filename))
    with _files_lock:
        entry = _open_files.get(key)
        if entry is None or not entry[0]:
            entry = _open_files[key] = [h5py.File(key, "a"), 0]
        entry[1] += 1
        return entry[0]


def release_file(file: h5py.File) -> None:
    """Give back a file from :func:`acquire_file`; the last user closes it."""
    key = os.path.realpath(file.filename)
    with _files_lock:
        entry = _open_files.get(key)
        if entry is None or entry[0] is not file:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del _open_files[key]
            if file:
                file.close()


class h5py_array_writer(buffered_array_writer):
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
        if dtype.kind == "U":
            raise ValueError(f"dtype {dtype} cannot be stored in HDF5: encode the text as "
                             f"bytes first (dtype 'S{dtype.itemsize // 4}')")
        self.filename = os.fspath(filename)
        self.array_name = array_name
        self.file = acquire_file(self.filename)
        try:
            dataset, start = self._open_dataset(shape, dtype, batch, length, append, kwargs)
            self._direct_chunk = _direct_chunk_length(dataset, shape)
            super().__init__(dataset, shape, dtype, batch, length, attrs=attrs, start=start,
                             trim=True)
        except BaseException:
            release_file(self.file)
            raise

    def _open_dataset(self, shape, dtype, batch, length, append, kwargs):
        if self.array_name in self.file:
            if not append:
                raise FileExistsError(
                    f"array_name {self.array_name!r} already exists in {self.filename!r}; "
                    "pass append=True to continue it (nothing is overwritten)"
                )
            dataset = self.file[self.array_name]
            if dataset.shape[1:] != shape or dataset.dtype != dtype:
                raise ValueError(
                    f"append=True: {self.array_name!r} holds elements {dataset.shape[1:]} "
                    f"{dataset.dtype}, got data_element_shape={shape}, dtype={dtype}"
                )
            start = int(dataset.attrs.get(N_WRITTEN, dataset.shape[0]))
            if length is not None and dataset.shape[0] != length:
                raise ValueError(
                    f"append=True: {self.array_name!r} has length {dataset.shape[0]}, "
                    f"got length={length}"
                )
            return dataset, start
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
        """Whole chunks of an unfiltered dataset go straight to the file (about
        twice as fast as h5py's selection write); the rest through ``__setitem__``."""
        c = self._direct_chunk
        end = start + len(batch)
        first = -(-start // c) * c if c else end
        last = min(end, self.storage_array.shape[0]) // c * c if c else end
        if first >= last or batch.dtype != self.storage_array.dtype:
            self.storage_array[start:end] = batch
            return
        if first > start:
            self.storage_array[start:first] = batch[: first - start]
        chunk_id = self.storage_array.id
        tail = (0,) * len(self.data_element_shape)
        for s in range(first, last, c):
            chunk_id.write_direct_chunk((s,) + tail,
                                        np.ascontiguousarray(batch[s - start : s - start + c]))
        if last < end:
            self.storage_array[last:end] = batch[last - start :]

    def _sync(self) -> None:
        self.file.flush()

    def _release(self) -> None:
        release_file(self.file)


def _direct_chunk_length(dataset: Any, element_shape: tuple[int, ...]) -> int:
    """Elements per chunk if whole chunks may be written raw (chunked, no filters,
    one chunk spans whole elements), else 0."""
    chunks = dataset.chunks
    if chunks is None or tuple(chunks[1:]) != element_shape or 0 in element_shape:
        return 0
    if dataset.id.get_create_plist().get_nfilters() != 0:
        return 0
    return int(chunks[0])
