"""Turn named arrays into napari layer-data tuples, lazily."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..io._dataset_names import parse_array_name
from ..io._formats import NamedArray, SourceInfo
from ..io._stored_dataset import written_length

LayerData = tuple[Any, dict, str]

_LABEL_WORDS = ("label", "mask", "seg", "annot", "gt")
#: Integer arrays with at most this many distinct values in a sample are labels.
_MAX_LABEL_VALUES = 32


#: Layer-metadata key holding the name of the array a layer was read from.
ARRAY_NAME_KEY = "napari_datatools_array_name"
#: Layer-metadata key holding the channel index of a layer split from an array's
#: channel axis (the array itself is named under :data:`ARRAY_NAME_KEY`).
CHANNEL_KEY = "napari_datatools_channel"
#: napari shows these dtype kinds: booleans, integers, floats.
_SHOWN_KINDS = "biuf"


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
    if dtype.kind == "b":
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


def can_display(dtype: Any) -> bool:
    """Whether napari can show an array of ``dtype`` (not complex, string, compound...)."""
    return np.dtype(dtype).kind in _SHOWN_KINDS


def arrays_to_layers(arrays: list[NamedArray],
                     infos: Sequence[SourceInfo | None] | None = None) -> list[LayerData]:
    """Layer data for each array: Image, Labels or (patch centres) Points.

    Each layer's metadata keeps the array's name in the file under
    :data:`ARRAY_NAME_KEY` (the layer itself may be renamed, by napari or the user).
    ``infos`` (one per array, see :func:`napari_datatools.io._formats.array_metadata`)
    give each layer its ``scale`` (the voxel spacing); an image with a channel axis
    becomes one layer per channel (``channel_axis``, the channel index under
    :data:`CHANNEL_KEY`), or an RGB(A) image when that axis is a last samples axis
    of 3 or 4.
    """
    if infos is None:
        infos = [None] * len(arrays)
    if len(infos) != len(arrays):
        raise ValueError(f"infos must hold one entry per array ({len(arrays)}), "
                         f"got {len(infos)}")
    layers: list[LayerData] = []
    for (name, arr), found in zip(arrays, infos, strict=True):
        info = found or SourceInfo()
        meta: dict[str, Any] = {"name": name, "metadata": {ARRAY_NAME_KEY: name}}
        written = written_length(arr)  # a killed writer's array may be longer
        if _is_centres(name, arr):
            points = np.asarray(arr[:written])
            layers.append((points, {**meta, "visible": False, "size": 3}, "points"))
            continue
        data = _lazy(arr)
        if written < data.shape[0]:
            data = data[:written]
            meta["metadata"]["napari_datatools_incomplete"] = True
        spacing = list(info.spacing) if info.spacing is not None else None
        if info.axes is None and data.ndim == 4 and data.shape[1] == 1:
            data = data[:, 0]  # a stack of single-channel patches
            spacing = None if spacing is None else spacing[:1] + spacing[2:]
        channel = info.channel_axis
        if channel is None and looks_like_labels(name, arr):
            data = data.astype(np.uint8) if np.dtype(arr.dtype).kind == "b" else data
            layers.append((data, _with_scale(meta, spacing), "labels"))
            continue
        if channel is not None and info.axes is not None and info.axes[channel] == "S" \
                and channel == data.ndim - 1 and data.shape[channel] in (3, 4):
            meta["rgb"] = True
        elif channel is not None:
            count = data.shape[channel]
            meta["channel_axis"] = channel
            meta["name"] = [f"{name} ch{i}" for i in range(count)] if count > 1 else name
            meta["metadata"] = [{ARRAY_NAME_KEY: name, CHANNEL_KEY: i} for i in range(count)]
        if channel is not None and spacing is not None:
            del spacing[channel]
        layers.append((data, _with_scale(meta, spacing), "image"))
    return layers


def _with_scale(meta: dict[str, Any], spacing: list[float] | None) -> dict[str, Any]:
    return meta if spacing is None else {**meta, "scale": tuple(spacing)}
