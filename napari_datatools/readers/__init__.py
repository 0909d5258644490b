"""napari reader contribution for HDF5, Zarr and blosc2 arrays.

Every array in a file becomes one lazily loaded layer. Integer arrays that look
like labels become Labels layers; arrays named ``*_centres`` with shape (n, 3)
(patch centres written by :func:`napari_datatools.patches.create_dataset`)
become hidden Points layers.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ..io._formats import SUFFIXES, find_format, list_arrays, open_array
from ._layers import ARRAY_NAME_KEY, LayerData, arrays_to_layers

__all__ = ["ARRAY_NAME_KEY", "SUFFIXES", "get_reader", "list_arrays", "open_array", "read_arrays"]


def read_arrays(path: str | os.PathLike) -> list[LayerData]:
    """Read every array in an HDF5, Zarr or blosc2 path as napari layer data.

    Parameters
    ----------
    path : str or os.PathLike
        An ``.h5``/``.hdf5`` file, a Zarr directory store (v2 or v3), a ``.b2nd``
        file, or a directory of ``.b2nd`` files.

    Returns
    -------
    list of tuple
        ``(data, metadata, layer_type)`` tuples, data kept lazy (dask arrays).

    Raises
    ------
    ValueError
        If the path cannot be read or holds no arrays; the message says why.
    """
    arrays = list_arrays(path)
    if not arrays:
        raise ValueError(f"{os.fspath(path)!r} contains no arrays to show")
    return arrays_to_layers(arrays)


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
