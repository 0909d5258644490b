"""What the widgets read from and write to the viewer: current slices, preview layers."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import napari
import numpy as np
from qtpy.QtCore import QTimer

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
        _set_data(layer, data)
        empty = len(data) == 0
        for key, value in kwargs.items():
            if empty and key in PER_ITEM and not isinstance(value, str) and key != "features":
                continue  # no item to colour (napari warns about an empty colour array)
            if key in PER_ITEM or _differs(getattr(layer, key), value):
                setattr(layer, key, value)
        return layer
    if not create:
        return None
    add = {"image": viewer.add_image, "labels": viewer.add_labels, "points": viewer.add_points}
    with keep_selection(viewer):
        return add[kind](data, name=name, metadata={PREVIEW: name}, **kwargs)


#: The arrays of preview layers that the widgets own (copies made in :func:`_set_data`).
_OWNED: weakref.WeakKeyDictionary[Any, np.ndarray] = weakref.WeakKeyDictionary()


def _set_data(layer: Any, data: Any) -> None:
    """``layer.data = data``, written into the layer's own array when it can be.

    napari's data setter recomputes the viewer's dimensions and the layer's
    transforms, which costs more than the slice itself (about 6 ms of the 10 ms a
    512 x 512 Image or Labels layer takes under software OpenGL). An image or
    labels array of the same shape and dtype as the last one is copied into the
    array this module gave the layer, and the layer's slice refreshed; its
    thumbnail (the layer list's icon, ~1 ms) follows once the updates pause.
    """
    if layer.data is data:
        return  # (it holds it already)
    owned = _OWNED.get(layer)
    if (owned is not None and layer.data is owned and isinstance(data, np.ndarray)
            and data.shape == owned.shape and data.dtype == owned.dtype):
        np.copyto(owned, data)
        layer.refresh(extent=False, highlight=False, thumbnail=False)
        _THUMBNAILS.later(layer)
        return
    if isinstance(data, np.ndarray) and isinstance(
            layer, (napari.layers.Image, napari.layers.Labels)) and not layer.multiscale:
        data = np.array(data)  # never the caller's array: it is written into next time
        layer.data = data
        if layer.data is data:  # (napari may convert labels to another dtype)
            _OWNED[layer] = data
        return
    layer.data = data


class _LateThumbnails:
    """Thumbnails of the layers updated in place, drawn ``THUMBNAIL_MS`` after the
    last update (a slider drag updates them once, at its end)."""

    #: Milliseconds from the last update of a layer to its new thumbnail.
    THUMBNAIL_MS = 150

    def __init__(self) -> None:
        self._layers: weakref.WeakSet[Any] = weakref.WeakSet()
        self._timer: QTimer | None = None

    def later(self, layer: Any) -> None:
        if self._timer is None:  # (made at the first update: a QApplication exists)
            self._timer = QTimer()
            self._timer.setSingleShot(True)
            self._timer.setInterval(self.THUMBNAIL_MS)
            self._timer.timeout.connect(self._draw)
        self._layers.add(layer)
        self._timer.start()

    def _draw(self) -> None:
        layers, self._layers = list(self._layers), weakref.WeakSet()
        for layer in layers:
            layer.refresh(data_displayed=False, extent=False, highlight=False)


_THUMBNAILS = _LateThumbnails()


@contextmanager
def keep_selection(viewer: napari.Viewer) -> Iterator[None]:
    """Layers added inside stay unselected: the user's layer stays the active one (a
    preview never gets the paint tools)."""
    selection = viewer.layers.selection
    chosen, active = set(selection), selection.active
    try:
        yield
    finally:
        if set(selection) != chosen or selection.active is not active:
            selection.clear()
            selection.update(layer for layer in chosen if layer in viewer.layers)
            if active is not None and active in viewer.layers:
                selection.active = active


#: Properties with one value per point: always set together with new data.
PER_ITEM = ("features", "border_color", "face_color", "edge_color")


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


#: Colour of class 0 (background: transparent in a Labels layer) and of every class
#: without a Labels layer to take colours from.
BACKGROUND_COLOUR = "#b4b4b4"
#: Feature columns of a Labels layer that may hold class names (the first one present).
NAME_COLUMNS = ("name", "class_name", "class", "label_name")


def hex_rgba(colour: str) -> np.ndarray:
    """'#rrggbb' as RGBA floats in [0, 1]."""
    return np.array([int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)] + [1.0])


def class_colours(mask_layer: Any, values: Any) -> dict[Any, np.ndarray]:
    """RGBA (floats in [0, 1]) of each class value: its colour in ``mask_layer`` (a Labels
    layer, or None), or :data:`BACKGROUND_COLOUR` for 0 and transparent values.

    The legend, the patch overlay, the gallery outlines and the dataset montage all
    use these, so a class looks the same everywhere.
    """
    out = {}
    for value in values:
        colour = None
        if mask_layer is not None and value != 0:
            colour = np.asarray(mask_layer.get_color(value), float)
        if colour is None or colour.size != 4 or colour[3] == 0:
            colour = hex_rgba(BACKGROUND_COLOUR)
        out[value] = colour
    return out


def class_names(mask_layer: Any) -> dict[Any, str]:
    """``{label value: name}`` from a Labels layer's features (an ``index`` column of
    values, else one row per value from 0, and a name column), empty without names."""
    if mask_layer is None:
        return {}
    features = getattr(mask_layer, "features", None)
    if features is None or not len(features):
        return {}
    column = next((c for c in NAME_COLUMNS if c in features.columns), None)
    if column is None:
        return {}
    values = features["index"] if "index" in features.columns else range(len(features))
    return {int(v): str(n) for v, n in zip(values, features[column], strict=True)
            if isinstance(n, str) and n}


def camera(viewer: napari.Viewer) -> Any:
    """The viewer's camera (``viewer.scene.camera`` since napari 0.9)."""
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None else viewer.camera


def canvas_size(viewer: napari.Viewer) -> np.ndarray:
    """The canvas size in screen pixels ``(height, width)``."""
    canvas = getattr(viewer, "canvas", None)
    size = canvas.size if canvas is not None else viewer._canvas_size  # noqa: SLF001 (< 0.9)
    return np.asarray(size, float)


def camera_state(viewer: napari.Viewer) -> tuple[tuple[float, ...], float]:
    """The 2D camera's centre and zoom (what a reset view changes)."""
    cam = camera(viewer)
    return tuple(float(c) for c in cam.center), float(cam.zoom)


def same_camera(a: tuple | None, b: tuple | None) -> bool:
    """Whether two :func:`camera_state` values are the same view."""
    if a is None or b is None:
        return False
    return np.allclose(a[0], b[0], rtol=0, atol=1e-6) and np.isclose(a[1], b[1], rtol=1e-6)


class CameraKeeper:
    """Frames a tab's preview layers when they appear and puts the camera back when they
    hide, unless the user moved it meanwhile (then it stays where the user put it)."""

    def __init__(self, viewer: napari.Viewer) -> None:
        self.viewer = viewer
        self._before: tuple | None = None
        self._ours: tuple | None = None

    def frame(self, layers: list[Any] | None = None) -> None:
        """Fit ``layers`` (default: every shown layer) into the view, remembering the view
        it replaces (the first one, when framing again without restoring)."""
        before = camera_state(self.viewer)
        if self._before is None or self._ours is None or not same_camera(before, self._ours):
            self._before = before
        shown = layers if layers is not None else [lay for lay in self.viewer.layers
                                                   if lay.visible]
        fit_view(self.viewer, shown)
        self._ours = camera_state(self.viewer)

    def restore(self) -> None:
        """Back to the view before :meth:`frame`, if the camera is still the framed one."""
        if self._before is not None and self._ours is not None and same_camera(
                camera_state(self.viewer), self._ours):
            center, zoom = self._before
            camera(self.viewer).center = center
            camera(self.viewer).zoom = zoom
        self._before = self._ours = None

    @property
    def framed(self) -> bool:
        """Whether the view is one :meth:`frame` set (and not restored since)."""
        return self._ours is not None and same_camera(camera_state(self.viewer), self._ours)


#: Viewers being fitted by :func:`fit_view` (their reset-view event is ours).
_fitting: set[int] = set()


def fit_view(viewer: napari.Viewer, layers: list[Any] | None, margin: float = 0.05) -> None:
    """Centre and zoom the 2D view on ``layers`` (all layers when None or empty), as
    napari's Home does with a margin of ``margin`` of the canvas.

    Done here in 2D: napari 0.9's ``fit_to_view(layers=...)`` fails on a subset of
    2D layers in a 3D viewer (it indexes their extent by the viewer's axes).
    """
    layers = list(layers or viewer.layers)
    if viewer.dims.ndisplay != 2 or not layers:
        _fitting.add(id(viewer))
        try:
            viewer.fit_to_view(layers=layers or None, margin=margin)
        finally:
            _fitting.discard(id(viewer))
        return
    lows, highs = [], []
    for layer in layers:
        world = np.asarray(layer.extent.world, float)[:, -2:]
        half = 0.5 * np.abs(np.asarray(layer.scale, float)[-2:])  # pixel edges, not centres
        lows.append(world[0] - half)
        highs.append(world[1] + half)
    low, high = np.min(lows, axis=0), np.max(highs, axis=0)
    size = high - low
    size[size <= 0] = 1.0
    camera(viewer).center = tuple(float(c) for c in (low + high) / 2)
    camera(viewer).zoom = (1 - margin) * float(np.min(canvas_size(viewer) / size))


def fit_shown_layers(viewer: napari.Viewer) -> bool:
    """Fit the shown layers into the view when hidden ones would widen it; True if done.

    napari's Home (reset view) frames every layer, hidden ones too: a hidden preview
    beside the data, or a dataset's hidden centres spanning the whole volume. Called
    after each reset view (not after the ones :func:`fit_view` makes).
    """
    if id(viewer) in _fitting:
        return False
    shown = [layer for layer in viewer.layers if layer.visible]
    if not shown or len(shown) == len(viewer.layers):
        return False
    fit_view(viewer, shown)
    return True
