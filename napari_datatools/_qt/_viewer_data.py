"""What the widgets read from and write to the viewer: current slices, preview layers."""

from __future__ import annotations

from typing import Any

import napari
import numpy as np

#: Metadata key marking the layers the widgets draw (layer pickers skip them); its
#: value is the preview's role, e.g. 'augmented'.
PREVIEW = "napari_datatools_preview"


def is_preview(layer: Any) -> bool:
    """Whether ``layer`` is one of the widgets' own preview layers."""
    return bool(layer.metadata.get(PREVIEW))


def preview_layer(viewer: napari.Viewer, role: str) -> Any:
    """The preview layer drawn for ``role``, or None.

    Found by its metadata, not its name: a user's layer of the same name is never
    touched (napari names the preview 'augmented [1]' then), and a renamed
    preview is still found.
    """
    for layer in viewer.layers:
        if layer.metadata.get(PREVIEW) == role:
            return layer
    return None


def current_z(viewer: napari.Viewer, layer: Any) -> int | None:
    """The Z index of ``layer`` shown by the viewer (None for a 2D layer)."""
    if layer is None or layer.ndim < 3:
        return None
    z = layer.world_to_data(viewer.dims.point)[-3]
    return int(np.clip(round(float(z)), 0, layer.data.shape[-3] - 1))


def current_slice(viewer: napari.Viewer, layer: Any) -> np.ndarray | None:
    """The 2D (Y, X) slice of ``layer`` at the viewer's position, as a numpy array."""
    if layer is None:
        return None
    z = current_z(viewer, layer)
    data = layer.data if z is None else layer.data[(0,) * (layer.ndim - 3) + (z,)]
    return np.asarray(data)


def show_preview(
    viewer: napari.Viewer, name: str, data: Any, kind: str, create: bool = True, **kwargs: Any
) -> Any:
    """Put ``data`` into the preview layer of role ``name`` (see :func:`preview_layer`).

    The layer is updated in place when it exists; otherwise it is added, named
    ``name``, only if ``create`` (updates caused by viewer events never add
    layers). Returns the layer, or None when it was not drawn.
    """
    layer = preview_layer(viewer, name)
    if layer is not None:
        layer.data = data
        for key, value in kwargs.items():
            if key in PER_ITEM or _differs(getattr(layer, key), value):
                setattr(layer, key, value)
        return layer
    if not create:
        return None
    add = {"image": viewer.add_image, "labels": viewer.add_labels, "points": viewer.add_points}
    return add[kind](data, name=name, metadata={PREVIEW: name}, **kwargs)


#: Properties with one value per point: always set together with new data.
PER_ITEM = ("features", "border_color", "face_color")


def _differs(old: Any, new: Any) -> bool:
    """Whether setting ``new`` would change a layer property (each change costs a redraw)."""
    if hasattr(old, "name") and isinstance(new, str):  # a colormap given by name
        return old.name != new
    try:
        old, new = np.asarray(old), np.asarray(new)
        if new.ndim == 0 and old.ndim > 0:  # one value for every point (size, symbol...)
            return not bool(np.all(old == new))
        return not np.array_equal(old, new)
    except (TypeError, ValueError):
        return True


def set_visible(viewer: napari.Viewer, names: tuple[str, ...], visible: bool) -> None:
    """Show or hide the preview layers ``names`` that exist."""
    for name in names:
        layer = preview_layer(viewer, name)
        if layer is not None:
            layer.visible = visible
