"""napari writer contributions: Image and Labels layers to HDF5 or Zarr.

*File > Save Selected Layers* (or ``viewer.layers.save(path,
plugin="napari-datatools")``) writes one array per layer, through
:func:`napari_datatools.io._formats.save_arrays`, into a ``.h5``/``.hdf5``
file or a ``.zarr`` store. A layer read by this plugin is saved under the name
of the array it was read from (kept in its metadata), so a file read and saved
again keeps its array names; other layers are saved under their layer names.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from .io._formats import save_arrays
from .readers._layers import ARRAY_NAME_KEY, CHANNEL_KEY, LayerData

__all__ = ["layer_arrays", "write_hdf5", "write_zarr"]


def _array_name(meta: dict[str, Any], taken: dict[str, Any]) -> str:
    metadata = meta.get("metadata") or {}
    layer_name = str(meta.get("name") or "layer")
    # one channel of a split array is not that array: it goes by its layer name
    read_as = None if CHANNEL_KEY in metadata else metadata.get(ARRAY_NAME_KEY)
    for candidate in (read_as, layer_name):
        if isinstance(candidate, str) and candidate.strip("/") and candidate not in taken:
            return candidate
    number = 2
    while f"{layer_name}_{number}" in taken:
        number += 1
    return f"{layer_name}_{number}"


def layer_arrays(layer_data: Sequence[LayerData]) -> dict[str, Any]:
    """``{array name: data}`` of napari layer-data tuples, in order.

    A layer is named after the array it was read from (its metadata's
    :data:`~napari_datatools.readers.ARRAY_NAME_KEY`) unless an earlier layer took
    that name, else after the layer, else ``<layer name>_2``...; a multiscale
    layer gives its full-resolution level.
    """
    arrays: dict[str, Any] = {}
    for data, meta, _kind in layer_data:
        arrays[_array_name(meta, arrays)] = data[0] if meta.get("multiscale") else data
    return arrays


def _write(path: str, layer_data: Sequence[LayerData], file_format: str) -> list[str]:
    written = save_arrays(path, layer_arrays(layer_data), file_format, overwrite=True)
    return [os.fspath(written)]


def write_hdf5(path: str, layer_data: list[LayerData]) -> list[str]:
    """npe2 writer: the Image and Labels layers in ``layer_data`` to an HDF5 file.

    An existing file at ``path`` is replaced (napari's save dialog asked first).
    Returns the path written.
    """
    return _write(path, layer_data, "hdf5")


def write_zarr(path: str, layer_data: list[LayerData]) -> list[str]:
    """npe2 writer: the Image and Labels layers in ``layer_data`` to a Zarr v3 store.

    An existing Zarr store at ``path`` is replaced (a folder that is not one is
    refused). Returns the path written.
    """
    return _write(path, layer_data, "zarr")
