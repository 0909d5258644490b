"""What the widgets read from and write to the viewer: current slices, preview layers."""

from __future__ import annotations

from typing import Any

import napari
import numpy as np

PREVIEW = "napari_datatools_preview"


def current_z(viewer: napari.Viewer, layer: Any) -> int | None:
    """The Z index of ``layer`` shown by the viewer (None for a 2D layer)."""
    if layer is None or layer.ndim < 3:
        return None
    z = layer.world_to_data(viewer.dims.point)[-3]
    return int(np.clip(round(float(z)), 0, layer.data.shape[-3] - 1))


def current_slice(viewer: napari.Viewer, layer: Any) -> np.ndarray | None:
    """The 2D slice of ``layer`` at the viewer's position, as a numpy array."""
    if layer is None:
        return None
    z = current_z(viewer, layer)
    data = layer.data if z is None else layer.data[(0,) * (layer.ndim - 3) + (z,)]
    return np.asarray(data)


def show_preview(viewer: napari.Viewer, name: str, data: Any, kind: str, **kwargs: Any) -> Any:
    """Put ``data`` in the preview layer ``name`` (created once, then updated in place)."""
    if name in viewer.layers:
        layer = viewer.layers[name]
        layer.data = data
        for key, value in kwargs.items():
            if key not in ("metadata", "name"):
                setattr(layer, key, value)
        return layer
    add = {"image": viewer.add_image, "labels": viewer.add_labels,
           "points": viewer.add_points}[kind]
    return add(data, name=name, metadata={PREVIEW: True}, **kwargs)
