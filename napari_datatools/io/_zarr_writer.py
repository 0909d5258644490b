"""``zarr_array_writer``: batch-wise writing of one array of a Zarr group (zarr v3 API)."""

from __future__ import annotations

import math
import os
import threading
from typing import Any, Literal

import numpy as np
import zarr
from numcodecs import Blosc
from zarr.codecs import BloscCodec
from zarr.errors import ContainsGroupError

from ._buffered_writer import N_WRITTEN, NamedArrayWriter, check_appended

#: zarr creates a group (and an array) by checking, then writing: writers of this
#: process that open or create arrays of one new store do so one at a time.
_creating = threading.Lock()

def writable(array: zarr.Array) -> zarr.Array:
    """``array`` set to store every chunk as it is, without zarr's check that it holds
    only the fill value (a full pass over each chunk, about a quarter of zarr's write
    time; our chunks hold data, and a stored chunk of zeros reads back as a missing one)."""
    return array.with_config({"write_empty_chunks": True})


def _open_group(path: str, zarr_format: Literal[2, 3] | None) -> zarr.Group:
    """The group at ``path``, created (in ``zarr_format``) when missing."""
    try:
        return zarr.open_group(path, mode="a",
                               zarr_format=None if os.path.exists(path) else zarr_format)
    except ContainsGroupError:  # another process created it meanwhile
        return zarr.open_group(path, mode="r+")


def _default_compressor(zarr_format: int) -> Any:
    if zarr_format == 2:
        return Blosc(cname="lz4", clevel=5, shuffle=Blosc.SHUFFLE)
    return BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")


class zarr_array_writer(NamedArrayWriter):
    """Write an array of a Zarr group batch-wise.

    Several writers may write different arrays of one group (a directory store)
    at the same time. Chunks are encoded concurrently by zarr, blosc uses several
    threads, and the array's metadata (shape, ``n_written``) is updated after
    every batch, so a killed process leaves every flushed batch readable.

    Parameters
    ----------
    data_element_shape : tuple of int
        Shape of one element.
    dtype : numpy dtype
        Dtype of the elements (no casting).
    batch_size : int
        Elements per write; also the chunk length by default.
    filename : str or os.PathLike
        The Zarr group (a directory store, created if missing).
    array_name : str
        Path of the array in the group.
    length : int, optional
        Final number of elements; ``None`` grows the array as data arrives.
    append : bool
        Continue the existing array (from its ``n_written`` elements); without
        it an existing array is an error, never overwritten.
    kwargs : dict, optional
        Arguments of ``zarr.Group.create_array``; default blosc lz4 with byte
        shuffle, ``(batch_size,) + data_element_shape`` chunks and Zarr format 3
        (``{"zarr_format": 2}`` for the v2 format, ``{"compressors": None}``
        uncompressed).
    attrs : dict, optional
        Extra attributes stored on the array.
    """

    def _open_array(self, shape: tuple[int, ...], dtype: np.dtype, batch: int,
                    length: int | None, append: bool,
                    kwargs: dict[str, Any] | None) -> tuple[zarr.Array, int]:
        """The array to write (the existing one with ``append``) and its start."""
        options = dict(kwargs or {})
        zarr_format = options.pop("zarr_format", None)
        with _creating:
            array, start = self._open_in_group(shape, dtype, batch, length, append, options,
                                               zarr_format)
        return writable(array), start

    def _open_in_group(self, shape: tuple[int, ...], dtype: np.dtype, batch: int,
                       length: int | None, append: bool, options: dict[str, Any],
                       zarr_format: Literal[2, 3] | None) -> tuple[zarr.Array, int]:
        array_name = self.array_name
        group = _open_group(self.filename, zarr_format)
        if array_name in group:
            self._refuse_overwrite(append)
            array = group[array_name]
            if not isinstance(array, zarr.Array):
                raise FileExistsError(f"array_name {array_name!r} is a group in "
                                      f"{self.filename!r}, not an array")
            # unlike HDF5 and blosc2 the length is not compared: a longer array is
            # written into as it is
            check_appended(array_name, array, shape, dtype)
            written: Any = array.attrs.get(N_WRITTEN, array.shape[0])  # a JSON value
            start = int(written)
        else:
            chunk0 = batch if not length else min(batch, length)
            options.setdefault("chunks", (max(1, chunk0),) + shape)
            if "compressor" not in options:
                options.setdefault("compressors",
                                   _default_compressor(group.metadata.zarr_format))
            n = 0 if length is None else length
            array = group.create_array(array_name, shape=(n,) + shape, dtype=dtype,
                                       fill_value=0, **options)
            start = 0
        return array, start

    def _set_attrs(self, values: dict[str, Any]) -> None:
        self.storage_array.attrs.update(values)  # one metadata write

    def _where(self) -> str:
        return os.path.join(self.filename, self.array_name)

    def _chunk_files(self) -> tuple[int, int]:
        chunks = self.storage_array.chunks
        return int(chunks[0]), math.prod(-(-s // c) for s, c in
                                          zip(self.data_element_shape, chunks[1:], strict=True))

    def _folder(self) -> str:
        return self.filename

    def _write_batches(self, items: list[tuple[int, np.ndarray]]) -> None:
        """Batches queued meanwhile go out as one write: zarr encodes its chunks
        concurrently (blosc itself is single-threaded outside the main thread)."""
        if len(items) > 1:
            merged = np.concatenate([batch for _, batch in items])
            self._recycle([batch for _, batch in items])
            items = [(items[0][0], merged)]
        super()._write_batches(items)
