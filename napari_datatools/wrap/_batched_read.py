"""Read many elements of a source with as few calls as possible."""

from __future__ import annotations

from typing import Any

import numpy as np

#: Above this many separate runs, one fancy-index call is used where the source allows.
_MAX_RUNS = 16


def _runs(sorted_unique: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs ``[(start, stop), ...]`` of a sorted, unique index array."""
    if len(sorted_unique) == 0:
        return []
    breaks = np.flatnonzero(np.diff(sorted_unique) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [len(sorted_unique)]])
    return [(int(sorted_unique[a]), int(sorted_unique[b - 1]) + 1)
            for a, b in zip(starts, stops, strict=True)]


def _read_unique(source: Any, unique: np.ndarray) -> np.ndarray:
    """Elements ``unique`` (sorted, no repeats) of ``source``, stacked."""
    if isinstance(source, np.ndarray):
        return source[unique]
    runs = _runs(unique)
    if len(runs) == 1:
        return np.asarray(source[runs[0][0]:runs[0][1]])
    if len(runs) > _MAX_RUNS:
        module = type(source).__module__.split(".")[0]
        if module == "h5py":
            return source[unique]  # increasing index list: one HDF5 selection
        if module == "zarr":
            return source.oindex[unique]
        if module == "dask":
            return np.asarray(source[unique])
    try:
        return np.concatenate([np.asarray(source[a:b]) for a, b in runs])
    except TypeError:  # no slicing: one element at a time
        return np.stack([np.asarray(source[int(i)]) for i in unique])


def read_elements(source: Any, indices: np.ndarray) -> np.ndarray:
    """``source`` elements at ``indices`` (any order, repeats allowed), in that order."""
    indices = np.asarray(indices, dtype=np.intp)
    if isinstance(source, np.ndarray):  # in memory (or a memmap): one gather, any order
        return np.asarray(source[indices])
    if getattr(source, "_reads_batched", False):  # a delayed_view batches its own reads
        return source[indices]
    if len(indices) and np.all(np.diff(indices) == 1):
        return np.asarray(source[int(indices[0]):int(indices[-1]) + 1])
    unique, inverse = np.unique(indices, return_inverse=True)
    data = _read_unique(source, unique)
    if len(unique) == len(indices) and np.array_equal(unique, indices):
        return data
    return data[inverse]
