"""A combo box of the viewer's layers of one kind that follows the layer list."""

from __future__ import annotations

from typing import Any

import napari
from qtpy.QtCore import Signal
from qtpy.QtWidgets import QComboBox

NONE = "(none)"


class LayerPicker(QComboBox):
    """Pick a layer of ``kind`` (e.g. ``napari.layers.Image``); refreshes on
    inserted, removed and renamed layers. ``layer_changed`` carries the layer or None."""

    layer_changed = Signal(object)

    def __init__(self, viewer: napari.Viewer, kind: type, optional: bool = False) -> None:
        super().__init__()
        self.viewer, self.kind, self.optional = viewer, kind, optional
        viewer.layers.events.inserted.connect(self._on_inserted)
        viewer.layers.events.removed.connect(self.refresh)
        for layer in viewer.layers:
            layer.events.name.connect(self.refresh)
        self._chosen_by_user = False
        self.activated.connect(self._user_choice)
        self.currentTextChanged.connect(lambda _: self.layer_changed.emit(self.layer()))
        self.refresh()

    def _user_choice(self, *_: Any) -> None:
        self._chosen_by_user = True

    def _on_inserted(self, event: Any) -> None:
        event.value.events.name.connect(self.refresh)
        self.refresh()

    def names(self) -> list[str]:
        return [layer.name for layer in self.viewer.layers if isinstance(layer, self.kind)
                and not layer.metadata.get("napari_datatools_preview")]

    def refresh(self, *_: Any) -> None:
        current = self.currentText()
        names = ([NONE] if self.optional else []) + self.names()
        self.blockSignals(True)
        self.clear()
        self.addItems(names)
        if current in names and (current != NONE or self._chosen_by_user):
            self.setCurrentText(current)
        elif len(names) > int(self.optional):  # nothing chosen yet: the first layer
            self.setCurrentIndex(int(self.optional))
        self.blockSignals(False)
        if self.currentText() != current:
            self.layer_changed.emit(self.layer())

    def layer(self) -> Any:
        name = self.currentText()
        if not name or name == NONE or name not in self.viewer.layers:
            return None
        return self.viewer.layers[name]
