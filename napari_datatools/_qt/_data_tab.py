"""Data tab: the image volume and its optional label mask."""

from __future__ import annotations

from typing import Any

import napari
from napari.layers import Image, Labels
from qtpy.QtCore import Signal
from qtpy.QtWidgets import QFileDialog, QFormLayout, QLabel, QPushButton, QWidget

from ..recipe import Recipe
from ._icons import icon
from ._layer_picker import LayerPicker


class DataTab(QWidget):
    """Pick the image and Labels layers; shows whether they fit together.

    ``changed`` is emitted with ``ok`` when the selection changes.
    """

    changed = Signal(bool)

    def __init__(self, viewer: napari.Viewer, recipe: Recipe) -> None:
        super().__init__()
        self.viewer, self.recipe = viewer, recipe
        self.image_picker = LayerPicker(viewer, Image)
        self.mask_picker = LayerPicker(viewer, Labels, optional=True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.open_button = QPushButton(icon("open"), "Open file...")
        self.open_button.setToolTip("Load HDF5, Zarr or blosc2 arrays with the plugin's reader")
        self.open_button.clicked.connect(self.open_dialog)
        form = QFormLayout(self)
        form.addRow("Image", self.image_picker)
        form.addRow("Labels (mask)", self.mask_picker)
        form.addRow(self.status)
        form.addRow(self.open_button)
        self.image_picker.layer_changed.connect(self._update)
        self.mask_picker.layer_changed.connect(self._update)
        self._update()

    def image_layer(self) -> Any:
        return self.image_picker.layer()

    def mask_layer(self) -> Any:
        return self.mask_picker.layer() if self.ok else None

    def open_path(self, path: str) -> list:
        """Open ``path`` with the plugin's reader (HDF5, Zarr, blosc2)."""
        return self.viewer.open(path, plugin="napari-datatools")

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open arrays", "", "Arrays (*.h5 *.hdf5 *.b2nd *.zarr);;All files (*)")
        if path:
            self.open_path(path)

    def _record(self, source: Any, layer: Any) -> None:
        path = None if layer is None else layer.source.path
        source.layer = None if layer is None else layer.name
        source.path = path
        source.array_name = None if path is None else layer.name

    def _update(self, *_: Any) -> None:
        image, mask = self.image_picker.layer(), self.mask_picker.layer()
        self.ok = image is not None and image.ndim in (2, 3) and not image.rgb
        if image is None:
            text = "Add or open an image layer."
        elif not self.ok:
            text = f"'{image.name}' must be a 2D image or a (Z, Y, X) volume, got {image.data.shape}."
        elif mask is not None and tuple(mask.data.shape) != tuple(image.data.shape):
            self.ok = False
            text = (f"Shape mismatch: image {tuple(image.data.shape)} vs labels "
                    f"{tuple(mask.data.shape)}. Pick matching layers.")
        else:
            dims = " x ".join(map(str, image.data.shape))
            text = f"{dims} {image.data.dtype}" + ("" if mask is None else
                                                   f", labels {mask.data.dtype}")
        self.status.setText(text)
        self._record(self.recipe.data.image, image)
        self._record(self.recipe.data.mask, mask if self.ok else None)
        self.changed.emit(self.ok)
