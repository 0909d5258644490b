"""Minibatch loading and buffered writing.

Names are imported on first use, so ``from napari_datatools.io import data_flow``
does not import h5py, zarr or blosc2, and worker processes start quickly.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "index_sampler": "._index_sampler",
    "data_flow": "._loader",
    "buffered_array_writer": "._buffered_writer",
    "h5py_array_writer": "._hdf5_writer",
    "zarr_array_writer": "._zarr_writer",
    "bcolz_array_writer": "._blosc2_writer",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    try:
        module = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
