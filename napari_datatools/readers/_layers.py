"""Turn named arrays into napari layer-data tuples, lazily."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..io._dataset_names import parse_array_name
from ..io._formats import NamedArray

LayerData = tuple[Any, dict, str]

_LABEL_WORDS = ("label", "mask", "seg", "annot", "gt")
#: Integer arrays with at most this many distinct values in a sample are labels.
_MAX_LABEL_VALUES = 32


#: Layer-metadata key holding the name of the array a layer was read from.
ARRAY_NAME_KEY = "napari_datatools_array_name"

def _lazy(arr: Any) -> Any:
    """Wrap an on-disk array in dask so napari reads only what it displays."""
    import dask.array as da

    if isinstance(arr, np.ndarray):
        return arr
    chunks = getattr(arr, "chunks", None)
    if not (isinstance(chunks, tuple) and len(chunks) == len(arr.shape)):
        chunks = "auto"
    return da.from_array(arr, chunks=chunks, asarray=True, fancy=False)


def _sample(arr: Any) -> np.ndarray:
    """A small, cheap sample of ``arr``: the middle plane, at most 256 x 256."""
    key = tuple(s // 2 for s in arr.shape[:-2]) + (slice(0, 256), slice(0, 256))
    return np.asarray(arr[key])


def looks_like_labels(name: str, arr: Any) -> bool:
    """Whether an array should be shown as a Labels layer.

    Boolean arrays, integer arrays whose name mentions labels/masks, and integer
    arrays with few distinct values (sampled from the middle plane) are labels.
    """
    dtype = np.dtype(arr.dtype)
    if dtype == bool:
        return True
    if dtype.kind not in "iu":
        return False
    leaf = name.rsplit("/", 1)[-1].lower()
    if any(word in leaf for word in _LABEL_WORDS):
        return True
    return np.unique(_sample(arr)).size <= _MAX_LABEL_VALUES


def _is_centres(name: str, arr: Any) -> bool:
    parsed = parse_array_name(name)
    return parsed is not None and parsed.role == "centres" and len(arr.shape) == 2 \
        and arr.shape[1] == 3


def arrays_to_layers(arrays: list[NamedArray]) -> list[LayerData]:
    """Layer data for each array: Image, Labels or (patch centres) Points.

    Each layer's metadata keeps the array's name in the file under
    :data:`ARRAY_NAME_KEY` (the layer itself may be renamed, by napari or the user).
    """
    layers: list[LayerData] = []
    for name, arr in arrays:
        meta = {"name": name, "metadata": {ARRAY_NAME_KEY: name}}
        if _is_centres(name, arr):
            points = np.asarray(arr[:])
            layers.append((points, {**meta, "visible": False, "size": 3}, "points"))
            continue
        data = _lazy(arr)
        if data.ndim == 4 and data.shape[1] == 1:
            data = data[:, 0]  # a stack of single-channel patches
        if looks_like_labels(name, arr):
            data = data.astype(np.uint8) if np.dtype(arr.dtype) == bool else data
            layers.append((data, meta, "labels"))
        else:
            layers.append((data, meta, "image"))
    return layers
