"""Patch extraction and patch datasets (Qt-free).

:func:`plan_patches` decides where patches go (cheap, before extracting),
:class:`patch_generator` yields them, :func:`create_dataset` writes them to
HDF5, Zarr or blosc2 files.
"""

from __future__ import annotations

from ._dataset import create_dataset, iter_create_dataset
from ._extraction import extract_patches, pad_slice, patch_generator
from ._job import DatasetProgress, DatasetResult, output_occupancy
from ._labels import LabelSummary, RelabelledMask, describe_labels, relabel
from ._montage import Montage, montage
from ._plan import PatchPlan, plan_patches
from ._preview import (
    PatchOutlines,
    box_edges,
    check_volume_and_mask,
    class_pixel_counts,
    crossing_slices,
    draw_outlines,
    overlay_centres,
    overlay_limit,
    thinned,
)

__all__ = [
    "DatasetProgress",
    "DatasetResult",
    "LabelSummary",
    "Montage",
    "PatchOutlines",
    "PatchPlan",
    "RelabelledMask",
    "box_edges",
    "check_volume_and_mask",
    "class_pixel_counts",
    "create_dataset",
    "crossing_slices",
    "describe_labels",
    "draw_outlines",
    "extract_patches",
    "iter_create_dataset",
    "montage",
    "overlay_centres",
    "overlay_limit",
    "output_occupancy",
    "pad_slice",
    "patch_generator",
    "plan_patches",
    "relabel",
    "thinned",
]
