"""``bcolz_array_writer``: the original bcolz writer, storing with blosc2 instead.

Crash-safe growth of a blosc2 sparse-frame array (a ``.b2nd`` directory):
blosc2 rewrites a frame's index (and a chunk that gets more data) in place, so a
process killed in the middle of such a write leaves an unreadable array. Here
blosc2 writes into a private working frame inside the array's directory, and
:meth:`Publisher.publish` makes each new state visible atomically:

* chunk files are immutable once published: new ones are hard-linked into the
  public directory, and before blosc2 rewrites a chunk that holds published data
  (:meth:`Publisher.unshare`) the working copy gets a fresh inode;
* the index (``chunks.b2frame``, which also holds ``vlmeta``) is copied and moved
  into place with ``os.replace``, the commit point.

So the public directory is always a complete sparse frame that plain
``blosc2.open`` reads: the last published state, with every chunk it names.

After a failed write (blosc2 reports a full disk as a bare ``RuntimeError``) the
working frame is given up: the writer starts a new one from the published state
for the final attributes, or leaves the published state as it is.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import blosc2
import numpy as np

from ._buffered_writer import (
    N_WRITTEN,
    SpaceCheckError,
    buffered_array_writer,
    check_appended,
    check_writer_args,
    disk_full_error,
)

SUFFIX = ".b2nd"


def blosc2_path(save_path: str | os.PathLike) -> Path:
    """Where the array of ``save_path`` is stored: ``save_path`` ending in ``.b2nd``."""
    path = Path(save_path)
    return path if path.suffix == SUFFIX else path.with_name(path.name + SUFFIX)


class bcolz_array_writer(buffered_array_writer):
    """Write an array batch-wise into a blosc2 ``.b2nd`` array (bcolz's successor).

    bcolz, which the original stored with, no longer installs; blosc2 is its
    maintained successor from the same authors. The data is one blosc2 NDArray
    (``save_path`` + ``.b2nd``, a sparse frame: a directory holding an index and
    one file per chunk) that grows as data arrives, compressed with LZ4 and byte
    shuffle on all cores; read it with ``blosc2.open(path)``. ``n_written`` and
    ``complete`` are kept in its ``vlmeta``.

    blosc2 rewrites its index in place, which a killed process can leave half
    written; so blosc2 writes into a working frame (``.in_progress`` inside the
    directory, removed on close) and after every batch the new chunks and the
    index are published atomically: a process killed at any moment leaves the
    array readable with every batch published so far.

    Parameters
    ----------
    data_element_shape : tuple of int
        Shape of one element.
    dtype : numpy dtype
        Dtype of the elements (no casting).
    batch_size : int
        Elements per write; also the chunk length by default.
    save_path : str or os.PathLike
        The array's directory; ``.b2nd`` is appended when missing.
    length : int, optional
        Final number of elements; ``None`` grows the array as data arrives.
    append : bool
        Continue an existing array written by this writer (from its
        ``n_written`` elements); without it an existing path is an error, never
        overwritten.
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
        shape, dtype, batch, length = check_writer_args(data_element_shape, dtype, batch_size,
                                                        length)
        self.path = blosc2_path(save_path)
        self._publisher = Publisher(self.path)
        created = not self.path.exists()
        try:
            array, start = self._open_array(shape, dtype, batch, length, append, kwargs)
            self._chunk_rows = int(array.chunks[0])
            self._row_chunks = math.prod(-(-s // c)
                                         for s, c in zip(shape, array.chunks[1:], strict=True))
            self._touched: set[int] = set()  # chunk rows changed since the last publish
            self._failed = False  # a write failed: the working frame is not to be published
            super().__init__(array, shape, dtype, batch, length, attrs=attrs, start=start,
                             trim=True)
        except BaseException:
            if created:
                shutil.rmtree(self.path, ignore_errors=True)
            elif append:
                shutil.rmtree(self._publisher.work, ignore_errors=True)
            raise

    def _open_array(self, shape: tuple[int, ...], dtype: np.dtype, batch: int,
                    length: int | None, append: bool,
                    kwargs: dict[str, Any] | None) -> tuple[Any, int]:
        """The working blosc2 array (new, or a copy of the published one) and its start."""
        if self.path.exists():
            if not append:
                raise FileExistsError(
                    f"save_path {os.fspath(self.path)!r} already exists; pass append=True "
                    "to continue it (nothing is overwritten)"
                )
            if not (self.path / INDEX).is_file():
                raise ValueError(
                    f"append=True: {os.fspath(self.path)!r} is not a .b2nd directory written "
                    "by bcolz_array_writer (a sparse blosc2 frame)"
                )
            self._publisher.start_from_public()
            array = blosc2.open(os.fspath(self._publisher.work), mode="a")
            check_appended(os.fspath(self.path), array, shape, dtype, length)
            meta = array.vlmeta
            start = int(meta[N_WRITTEN]) if N_WRITTEN in meta else int(array.shape[0])
        else:
            self.path.mkdir(parents=True)
            options = dict(kwargs or {})
            cparams = {"codec": blosc2.Codec.LZ4, "clevel": 5,
                       "filters": [blosc2.Filter.SHUFFLE], "nthreads": os.cpu_count() or 1}
            cparams.update(options.pop("cparams", {}) or {})
            options.pop("contiguous", None)  # the crash-safe publishing needs a sparse frame
            chunk0 = batch if not length else min(batch, length)
            options.setdefault("chunks", (max(1, chunk0),) + shape)
            n = 0 if length is None else length
            array = blosc2.zeros((n,) + shape, dtype=dtype,
                                 urlpath=os.fspath(self._publisher.work), mode="w",
                                 contiguous=False, cparams=cparams, **options)
            start = 0
        return array, start

    def _attrs(self) -> Any:
        return self.storage_array.vlmeta

    # -- publishing (see Publisher) -----------------------------------------------
    def _nchunks(self, row: int) -> range:
        return range(row * self._row_chunks, (row + 1) * self._row_chunks)

    def _touch(self, first: int, end: int) -> None:
        """Elements ``first:end`` are about to change: unshare their published chunks."""
        c = self._chunk_rows
        for row in range(first // c, -(-end // c)):
            if row not in self._touched:
                self._publisher.unshare(self._nchunks(row))
                self._touched.add(row)

    def _resize(self, n: int) -> None:
        self._check_usable()
        old = self.storage_array.shape[0]
        end = min(old, n)
        # the chunk row at the new end may be rewritten (rows past a shrunk end are dropped)
        if end and (n > old or end % self._chunk_rows):
            self._touch(end - 1, end)
        self.storage_array.resize((n,) + self.data_element_shape)

    def _store(self, start: int, batch: np.ndarray) -> None:
        self._check_usable()
        self._touch(start, start + len(batch))
        super()._store(start, batch)

    def _set_attrs(self, values: dict[str, Any]) -> None:
        self._check_usable()
        super()._set_attrs(values)

    def _sync(self) -> None:
        self._check_usable()
        rows, self._touched = sorted(self._touched), set()
        self._publisher.publish(n for row in rows for n in self._nchunks(row))

    def _release(self) -> None:
        if not self._publisher.work.exists():
            return
        self.storage_array = None  # blosc2 frees the working frame
        if self._failed:  # the published state stays as it is
            shutil.rmtree(self._publisher.work, ignore_errors=True)
        else:
            self._publisher.finish()
        self.storage_array = blosc2.open(os.fspath(self.path), mode="r")

    # -- failed writes ------------------------------------------------------------
    def _where(self) -> str:
        return os.fspath(self.path)

    def _folder(self) -> str:
        return os.fspath(self.path)

    def _chunk_files(self) -> tuple[int, int]:
        return self._chunk_rows, self._row_chunks

    def _check_usable(self) -> None:
        if self._failed:
            raise RuntimeError(f"{os.fspath(self.path)!r}: a write failed, the working "
                               "frame is given up")

    def _storage_error(self, err: Exception) -> BaseException:
        """Give up the working frame; a full disk (blosc2 says only ``RuntimeError``:
        judged from the free space left) is reported as ``OSError(ENOSPC)``."""
        if isinstance(err, SpaceCheckError):
            return err  # raised before blosc2 was called: the working frame is intact
        self._failed = True
        explained = disk_full_error(err, self._where())
        if explained is None and isinstance(err, RuntimeError):
            batch = self.batch_size * self.dtype.itemsize * math.prod(self.data_element_shape)
            with contextlib.suppress(OSError):
                if shutil.disk_usage(self.path).free < batch:
                    explained = disk_full_error(OSError(errno.ENOSPC, str(err)), self._where())
        return explained or err

    def _recover(self) -> None:
        """A new working frame from the published state (what storage surely holds)."""
        if not self._failed:
            return
        self.storage_array = None
        self._publisher.start_from_public()
        self.storage_array = blosc2.open(os.fspath(self._publisher.work), mode="a")
        self._touched = set()
        self._failed = False


# -- crash-safe publishing ---------------------------------------------------------------


#: The working frame inside the public directory, removed on close.
WORK_DIR = ".in_progress"
#: The index file of a sparse frame.
INDEX = "chunks.b2frame"
_TMP = ".tmp"


def chunk_file(nchunk: int) -> str:
    """File name blosc2 gives chunk ``nchunk`` of a sparse frame."""
    return f"{nchunk:08X}.chunk"


def _replace_with_link(source: Path, target: Path) -> None:
    tmp = target.with_name(target.name + _TMP)
    tmp.unlink(missing_ok=True)
    os.link(source, tmp)
    os.replace(tmp, target)


class Publisher:
    """Publish the working frame of ``public`` (see the module docstring)."""

    def __init__(self, public: Path) -> None:
        self.public = Path(public)
        self.work = self.public / WORK_DIR

    def start_from_public(self) -> None:
        """A working frame equal to the published one (to append to it)."""
        shutil.rmtree(self.work, ignore_errors=True)  # left by a killed run
        self.work.mkdir()
        for entry in os.scandir(self.public):
            if entry.name.endswith(".chunk") and entry.is_file():
                os.link(entry.path, self.work / entry.name)
        shutil.copyfile(self.public / INDEX, self.work / INDEX)

    def unshare(self, nchunks: Iterable[int]) -> None:
        """Give these working chunks their own inode before blosc2 rewrites them."""
        for n in nchunks:
            path = self.work / chunk_file(n)
            if path.exists() and path.stat().st_nlink > 1:
                tmp = path.with_name(path.name + _TMP)
                shutil.copyfile(path, tmp)
                os.replace(tmp, path)

    def publish(self, nchunks: Iterable[int]) -> None:
        """Make the working state public: chunks ``nchunks`` first, then the index."""
        for n in nchunks:
            source = self.work / chunk_file(n)
            if not source.exists():
                continue  # an all-zero chunk is stored in the index only
            target = self.public / chunk_file(n)
            if not (target.exists() and os.path.samefile(source, target)):
                _replace_with_link(source, target)
        tmp = self.public / (INDEX + _TMP)
        shutil.copyfile(self.work / INDEX, tmp)
        os.replace(tmp, self.public / INDEX)

    def finish(self) -> None:
        """Publish everything, drop chunks the index no longer uses, remove the work frame."""
        work_chunks = {e.name for e in os.scandir(self.work) if e.name.endswith(".chunk")}
        for name in work_chunks:
            target = self.public / name
            if not (target.exists() and os.path.samefile(self.work / name, target)):
                _replace_with_link(self.work / name, target)
        self.publish(())
        for entry in os.scandir(self.public):
            if entry.name.endswith(".chunk") and entry.name not in work_chunks:
                os.unlink(entry.path)
        shutil.rmtree(self.work)
