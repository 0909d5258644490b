"""napari reader contribution for every format of :mod:`napari_datatools.io._formats`:
HDF5, Zarr and OME-Zarr, blosc2, TIFF and OME-TIFF, NIfTI and ``.npy``.

Every array in a file becomes one lazily loaded layer, scaled by the voxel
spacing the file states; an image with a channel axis becomes one layer per
channel. Integer arrays that look like labels become Labels layers; arrays named
``*_centres`` with shape (n, 3) (patch centres written by
:func:`napari_datatools.patches.create_dataset`) become hidden Points layers.
Arrays napari cannot show (complex, string, compound dtypes) are skipped with a
warning.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

from ..io._formats import (
    SUFFIXES,
    array_metadata,
    find_format,
    format_of_path,
    list_arrays,
    open_array,
)
from ._layers import ARRAY_NAME_KEY, CHANNEL_KEY, LayerData, arrays_to_layers, can_display

__all__ = [
    "ARRAY_NAME_KEY",
    "CHANNEL_KEY",
    "SUFFIXES",
    "array_metadata",
    "get_reader",
    "list_arrays",
    "open_array",
    "read_arrays",
]


def read_arrays(path: str | os.PathLike) -> list[LayerData]:
    """Read every array at ``path`` as napari layer data.

    Parameters
    ----------
    path : str or os.PathLike
        Anything :func:`~napari_datatools.io._formats.list_arrays` reads.

    Returns
    -------
    list of tuple
        ``(data, metadata, layer_type)`` tuples, data kept lazy (dask arrays or
        memmaps), with ``scale`` (and ``channel_axis``/``rgb``) from the file's
        metadata.

    Raises
    ------
    ValueError
        If the path cannot be read or holds no array napari can show; the
        message names it and says why.
    """
    fmt = format_of_path(path)
    shown, skipped = [], []
    for name, array in fmt.list_arrays(Path(path)):
        if can_display(array.dtype):
            shown.append((name, array))
        else:
            skipped.append(f"{name} ({array.dtype})")
            warnings.warn(f"{os.fspath(path)!r}: array {name!r} has dtype {array.dtype}, "
                          "which napari cannot show; skipped", UserWarning, stacklevel=2)
    if not shown:
        reason = f"; skipped: {', '.join(skipped)}" if skipped else ""
        raise ValueError(f"{os.fspath(path)!r} contains no arrays to show{reason}")
    infos = [fmt.array_info(Path(path), name, array) for name, array in shown]
    return arrays_to_layers(shown, infos)


def _read_list(paths: str | list[str]) -> list[LayerData]:
    if isinstance(paths, list | tuple):
        return [layer for p in paths for layer in read_arrays(p)]
    return read_arrays(paths)


def get_reader(path: str | list[str]) -> Callable[[str | list[str]], list[LayerData]] | None:
    """npe2 ``get_reader``: return :func:`read_arrays` for paths we can read."""
    paths = path if isinstance(path, list | tuple) else [path]
    if all(find_format(p) is not None for p in paths):
        return _read_list
    return None
