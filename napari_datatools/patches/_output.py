"""Where ``create_dataset`` writes: file layout per format and checks made up front."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMATS = {"hdf5": "hdf5", "h5": "hdf5", "zarr": "zarr", "bcolz": "bcolz", "blosc2": "bcolz"}
HDF5_SUFFIXES = (".h5", ".hdf5")  # what the plugin's reader opens
DEFAULT_NAMES = {"hdf5": "patches.h5", "zarr": "patches.zarr"}


def check_format(file_format: Any) -> str:
    """The canonical format name ('hdf5', 'zarr' or 'bcolz'), else ValueError."""
    key = str(file_format).lower() if isinstance(file_format, str) else None
    if key not in FORMATS:
        raise ValueError(
            f"file_format must be one of 'hdf5', 'zarr', 'bcolz' (blosc2), got {file_format!r}")
    return FORMATS[key]


def class_array_name(value: Any) -> str:
    """``class_<mask value>``: ``class_3``, ``class_-1``, ``class_0.5``."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"class_{value}"


@dataclass(frozen=True)
class OutputLayout:
    """The dataset's location on disk.

    ``hdf5``: one file; ``zarr``: one group (a directory store); ``bcolz``: a
    directory holding one ``<array name>.b2nd`` file per array.
    """

    file_format: str
    path: Path

    def array_path(self, name: str) -> Path:
        """The ``.b2nd`` file of array ``name`` (bcolz layout only)."""
        return self.path / f"{name}.b2nd"

    def exists(self) -> bool:
        """Whether a dataset (or anything in its place) already exists."""
        if self.file_format == "bcolz":
            return self.path.is_dir() and any(self.path.glob("class_*.b2nd"))
        return self.path.exists()

    def remove(self) -> None:
        """Delete the existing dataset (only what this layout would write)."""
        if self.file_format == "bcolz":
            for item in self.path.glob("class_*.b2nd"):
                shutil.rmtree(item) if item.is_dir() else item.unlink()
        elif self.path.is_dir() and not self.path.is_symlink():
            shutil.rmtree(self.path)
        elif self.path.exists() or self.path.is_symlink():
            self.path.unlink()


def resolve_output(save_path: Any, file_format: str) -> OutputLayout:
    """Map ``save_path`` to the dataset location of ``file_format``.

    hdf5: ``save_path`` itself when it ends with .h5/.hdf5, otherwise the
    directory ``save_path`` (as the original took) with ``patches.h5`` in it.
    zarr: ``save_path`` when it ends with .zarr, else ``save_path/patches.zarr``.
    bcolz: the directory ``save_path``.
    """
    if not isinstance(save_path, (str, os.PathLike)) or str(save_path) == "":
        raise TypeError(f"save_path must be a path (str or os.PathLike), got {save_path!r}")
    path = Path(save_path).expanduser()
    if file_format == "hdf5" and path.suffix.lower() not in HDF5_SUFFIXES:
        path = path / DEFAULT_NAMES["hdf5"]
    elif file_format == "zarr" and path.suffix.lower() != ".zarr":
        path = path / DEFAULT_NAMES["zarr"]
    return OutputLayout(file_format, path.absolute())


def check_writable(layout: OutputLayout) -> None:
    """Raise a clear error unless the dataset location can be created and written."""
    target = layout.path
    if layout.file_format == "hdf5" and target.is_dir():
        raise IsADirectoryError(f"save_path: {str(target)!r} is a directory, not an HDF5 file")
    if layout.file_format == "bcolz" and target.exists() and not target.is_dir():
        raise NotADirectoryError(f"save_path: {str(target)!r} exists and is not a directory")
    probe_dir = target if (layout.file_format == "bcolz" and target.is_dir()) else target.parent
    existing = probe_dir
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(
            f"save_path: cannot create {str(target)!r} because {str(existing)!r} is a file")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise PermissionError(
            f"save_path: cannot write to {str(existing)!r} (needed for {str(target)!r}): "
            f"{err.strerror or err}") from err
