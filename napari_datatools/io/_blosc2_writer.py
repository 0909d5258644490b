"""``bcolz_array_writer``: the original bcolz writer, storing with blosc2 instead."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ._buffered_writer import N_WRITTEN, buffered_array_writer
from ._writer_checks import (
    check_batch_size,
    check_dtype,
    check_element_shape,
    check_length,
)

SUFFIX = ".b2nd"


def blosc2_path(save_path: str | os.PathLike) -> Path:
    """Where the array of ``save_path`` is stored: ``save_path`` ending in ``.b2nd``."""
    path = Path(save_path)
    return path if path.suffix == SUFFIX else path.with_name(path.name + SUFFIX)


class bcolz_array_writer(buffered_array_writer):
    """Write an array batch-wise into a blosc2 ``.b2nd`` file (bcolz's successor).

    bcolz, which the original stored with, no longer installs; blosc2 is its
    maintained successor from the same authors. The data is one blosc2 NDArray
    (``save_path`` + ``.b2nd``) that grows as data arrives, compressed with
    LZ4 and byte shuffle on all cores; read it with ``blosc2.open(path)``.
    ``n_written`` and ``complete`` are kept in its ``vlmeta``.

    Parameters
    ----------
    data_element_shape : tuple of int
        Shape of one element.
    dtype : numpy dtype
        Dtype of the elements (no casting).
    batch_size : int
        Elements per write; also the chunk length by default.
    save_path : str or os.PathLike
        The array's file; ``.b2nd`` is appended when missing.
    length : int, optional
        Final number of elements; ``None`` grows the array as data arrives.
    append : bool
        Continue an existing array (from its ``n_written`` elements); without it
        an existing file is an error, never overwritten.
    kwargs : dict
        Arguments of ``blosc2.empty`` (e.g. ``{"cparams": {"clevel": 0}}`` for no
        compression, ``chunks``, ``blocks``).
    attrs : dict, optional
        Extra metadata stored in ``vlmeta`` (values must be msgpack-able).
    """

    def __init__(
        self,
        data_element_shape: Any,
        dtype: Any,
        batch_size: int,
        save_path: str | os.PathLike,
        length: int | None = None,
        append: bool = False,
        kwargs: dict[str, Any] | None = None,
        *,
        attrs: dict[str, Any] | None = None,
    ) -> None:
        import blosc2

        shape = check_element_shape(data_element_shape)
        dtype = check_dtype(dtype)
        batch = check_batch_size(batch_size)
        length = check_length(length)
        self.path = blosc2_path(save_path)
        if self.path.exists():
            if not append:
                raise FileExistsError(
                    f"save_path {os.fspath(self.path)!r} already exists; pass append=True "
                    "to continue it (nothing is overwritten)"
                )
            array = blosc2.open(os.fspath(self.path), mode="a")
            if tuple(array.shape[1:]) != shape or array.dtype != dtype:
                raise ValueError(
                    f"append=True: {os.fspath(self.path)!r} holds elements "
                    f"{tuple(array.shape[1:])} {array.dtype}, got "
                    f"data_element_shape={shape}, dtype={dtype}"
                )
            meta = array.vlmeta
            start = int(meta[N_WRITTEN]) if N_WRITTEN in meta else int(array.shape[0])
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            options = dict(kwargs or {})
            cparams = {"codec": blosc2.Codec.LZ4, "clevel": 5,
                       "filters": [blosc2.Filter.SHUFFLE], "nthreads": os.cpu_count() or 1}
            cparams.update(options.pop("cparams", {}) or {})
            chunk0 = batch if not length else min(batch, length)
            options.setdefault("chunks", (max(1, chunk0),) + shape)
            n = 0 if length is None else length
            array = blosc2.zeros((n,) + shape, dtype=dtype, urlpath=os.fspath(self.path),
                                 mode="w", cparams=cparams, **options)
            start = 0
        super().__init__(array, shape, dtype, batch, length, attrs=attrs, start=start)

    def _attrs(self) -> Any:
        return self.storage_array.vlmeta

    def _grow(self, n: int) -> None:
        self.storage_array.resize((n,) + self.data_element_shape)
