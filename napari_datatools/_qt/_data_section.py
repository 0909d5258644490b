"""Data section: the image volume and its optional label mask."""

from __future__ import annotations

from typing import Any

import napari
from napari.layers import Image, Labels
from napari.utils.notifications import show_error
from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QWidget,
)

from ..io._formats import SUFFIXES
from ..patches import check_volume_and_mask
from ..readers import ARRAY_NAME_KEY
from ..recipe import ArraySource, Recipe
from ._connections import Connections
from ._icons import icon
from ._layer_picker import LayerPicker

#: Text colour of a problem; readable on napari's dark and light themes.
PROBLEM_COLOUR = "#e8684a"
FILE_FILTER = f"Arrays ({' '.join('*' + s for s in SUFFIXES)});;All files (*)"


class DataSection(QWidget):
    """Pick the image and Labels layers; shows whether they fit together.

    The choice is written to ``recipe.data`` (layer name, and file path and array
    name for layers opened from a file). ``changed`` is emitted with ``ok``
    whenever the selection or its validity changes; ``content_changed`` when
    the chosen layers' data change (new data, or a brush stroke on the labels).
    """

    changed = Signal(bool)
    content_changed = Signal()

    def __init__(self, viewer: napari.Viewer, recipe: Recipe, links: Connections) -> None:
        super().__init__()
        self.viewer, self.recipe = viewer, recipe
        self.ok = False
        self._watched: list[tuple[Any, Any]] = []
        links.on_close(self._unwatch)
        self.image_picker = LayerPicker(viewer, Image, links)
        self.mask_picker = LayerPicker(viewer, Labels, links, optional=True)
        self.mask_picker.prefer = self._fits_image
        self.image_picker.setToolTip("The (Z, Y, X) volume or 2D image patches are cut from")
        self.mask_picker.setToolTip("Class labels: patches are centred on their pixels")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.open_button = QPushButton(icon("open"), "Open file...")
        self.open_button.setToolTip("Load HDF5, Zarr or blosc2 arrays with the plugin's reader")
        self.open_button.clicked.connect(self.open_dialog)
        self.open_folder_button = QPushButton(icon("open"), "Open folder...")
        self.open_folder_button.setToolTip("Load a Zarr store or a directory of blosc2 arrays")
        self.open_folder_button.clicked.connect(self.open_folder_dialog)
        form = QFormLayout(self)
        form.addRow("Image", self.image_picker)
        form.addRow("Labels", self.mask_picker)
        form.addRow(self.status)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.open_folder_button)
        form.addRow(buttons)
        self.image_picker.layer_changed.connect(self._update)
        self.mask_picker.layer_changed.connect(self._update)
        links.connect(recipe.data.image.events.layer,
                      lambda name: self._select_by_name(self.image_picker, name))
        links.connect(recipe.data.mask.events.layer,
                      lambda name: self._select_by_name(self.mask_picker, name))
        self._update()

    # -- what the other sections read ------------------------------------------------
    def image_layer(self) -> Any:
        """The chosen image layer, or None when nothing usable is chosen."""
        return self.image_picker.layer() if self.ok else None

    def mask_layer(self) -> Any:
        """The chosen Labels layer (None without one, or when it does not fit)."""
        return self.mask_picker.layer() if self.ok else None

    # -- opening files ---------------------------------------------------------------
    def open_path(self, path: str) -> list:
        """Open ``path`` with the plugin's reader (HDF5, Zarr, blosc2); returns the layers."""
        try:
            return self.viewer.open(path, plugin="napari-datatools")
        except Exception as err:  # noqa: BLE001 - any reader failure is shown, not raised
            show_error(f"Cannot open {path}: {err}")
            return []

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open arrays", "", FILE_FILTER)
        if path:
            self.open_path(path)

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a Zarr store or blosc2 directory")
        if path:
            self.open_path(path)

    # -- state -----------------------------------------------------------------------
    def _fits_image(self, labels: Any) -> bool:
        image = self.image_picker.layer()
        return image is None or tuple(labels.data.shape) == tuple(image.data.shape)

    def _select_by_name(self, picker: LayerPicker, name: str | None) -> None:
        current = picker.layer()
        if name is None or (current is not None and current.name == name):
            return
        for layer in picker.candidates():
            if layer.name == name:
                picker.select(layer)
                return

    def _update(self, *_: Any) -> None:
        image, mask = self.image_picker.layer(), self.mask_picker.layer()
        if image is not None and mask is None and not self.mask_picker._user_none:
            # a newly chosen image: take the first Labels layer that fits it
            fitting = [lay for lay in self.mask_picker.candidates() if self._fits_image(lay)]
            if fitting:
                self.mask_picker.select(fitting[0])
                return  # select() re-enters _update through layer_changed
        ok = image is not None
        try:
            if ok:
                check_volume_and_mask(image.data, None if mask is None else mask.data,
                                      rgb=image.rgb, names=(f"'{image.name}'", "labels"))
        except ValueError as err:
            ok, text = False, f"{err}."
        if image is None:
            text = "Add or open an image layer."
        elif ok:
            dims = " x ".join(map(str, image.data.shape))
            text = f"Image: {dims}, {image.data.dtype}."
            text += " No labels: patches are taken everywhere." if mask is None else (
                f" Labels: {mask.data.dtype}.")
        self.ok = ok
        self.status.setText(text)
        self.status.setStyleSheet("" if ok else f"color: {PROBLEM_COLOUR};")
        _record(self.recipe.data.image, image)
        _record(self.recipe.data.mask, mask)
        self._watch(image, mask)
        self.changed.emit(ok)

    def _watch(self, *layers: Any) -> None:
        """Follow the data of the chosen layers (a Labels stroke edits it in place)."""
        self._unwatch()
        for layer in layers:
            for name in ("data", "paint"):
                emitter = getattr(layer.events, name, None) if layer is not None else None
                if emitter is not None:
                    emitter.connect(self._content_edited)
                    self._watched.append((emitter, self._content_edited))

    def _unwatch(self) -> None:
        for emitter, callback in self._watched:
            emitter.disconnect(callback)
        self._watched.clear()

    def _content_edited(self, *_: Any) -> None:
        self.content_changed.emit()


def _record(source: ArraySource, layer: Any) -> None:
    """Write where ``layer`` comes from into a recipe source."""
    path = None if layer is None else layer.source.path
    source.layer = None if layer is None else layer.name
    source.path = None if path is None else str(path)
    if path is None or str(path).endswith(".b2nd"):  # in memory, or a file of one array
        source.array_name = None
    else:  # the name in the file, which the layer's name may no longer be
        source.array_name = layer.metadata.get(ARRAY_NAME_KEY, layer.name)
