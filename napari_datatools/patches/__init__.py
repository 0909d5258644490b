"""Patch extraction and patch datasets (Qt-free).

:func:`plan_patches` decides where patches go (cheap, before extracting),
:class:`patch_generator` yields them, :func:`create_dataset` writes them to
HDF5, zarr or blosc2 files.
"""

from __future__ import annotations

from ._dataset import create_dataset, iter_create_dataset
from ._extract import extract_patches, pad_slice
from ._generator import patch_generator
from ._plan import PatchPlan, plan_patches
from ._result import DatasetProgress, DatasetResult

__all__ = [
    "DatasetProgress",
    "DatasetResult",
    "PatchPlan",
    "create_dataset",
    "extract_patches",
    "iter_create_dataset",
    "pad_slice",
    "patch_generator",
    "plan_patches",
]
