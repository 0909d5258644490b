"""Crash-safe growth of a blosc2 sparse-frame array (a ``.b2nd`` directory).

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
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterable

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
