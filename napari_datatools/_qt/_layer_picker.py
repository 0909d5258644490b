"""A combo box of the viewer's layers of one kind that follows the layer list."""

from __future__ import annotations

from typing import Any

import napari
from qtpy.QtCore import Signal
from qtpy.QtWidgets import QComboBox

from ._connections import Connections
from ._viewer_data import is_preview

#: The entry of an optional picker meaning "no layer".
NONE = "(none)"


class LayerPicker(QComboBox):
    """Pick a layer of ``kind`` (e.g. ``napari.layers.Image``).

    Refreshes when layers are inserted, removed or renamed (the widgets' own
    preview layers are never offered). ``layer_changed`` carries the chosen
    layer, or None, whenever it or its name changes.
    """

    layer_changed = Signal(object)

    def __init__(
        self, viewer: napari.Viewer, kind: type, links: Connections, optional: bool = False
    ) -> None:
        super().__init__()
        self.viewer, self.kind, self.optional = viewer, kind, optional
        self._links = links
        self._current: Any = None
        self._current_name: str | None = None
        self._user_none = False
        #: Auto-choice preference: the first candidate for which this is True wins.
        self.prefer: Any = None
        links.connect(viewer.layers.events.inserted, self._on_inserted)
        links.connect(viewer.layers.events.removed, self._on_removed)
        for layer in viewer.layers:
            links.connect(layer.events.name, self.refresh)
        self.activated.connect(self._user_choice)
        self.currentIndexChanged.connect(self._emit_if_changed)
        self.refresh()

    def _on_inserted(self, event: Any) -> None:
        self._links.connect(event.value.events.name, self.refresh)
        self.refresh()

    def _on_removed(self, event: Any) -> None:
        try:
            event.value.events.name.disconnect(self.refresh)
        except (TypeError, ValueError):
            pass
        self.refresh()

    def candidates(self) -> list[Any]:
        """The layers that can be picked, in viewer order."""
        return [
            layer
            for layer in self.viewer.layers
            if isinstance(layer, self.kind) and not is_preview(layer)
        ]

    def refresh(self, *_: Any) -> None:
        """Rebuild the list; keep the chosen layer (by identity) if it is still there."""
        layers = self.candidates()
        names = ([NONE] if self.optional else []) + [layer.name for layer in layers]
        keep = self._current if any(lay is self._current for lay in layers) else None
        if keep is None and layers and not self._user_none:
            keep = self.auto_choice(layers)
        self.blockSignals(True)
        self.clear()
        self.addItems(names)
        self.setCurrentIndex(names.index(keep.name) if keep is not None else 0)
        self.blockSignals(False)
        self._emit_if_changed()

    def auto_choice(self, layers: list[Any]) -> Any:
        """The layer picked when the user has not chosen: the first preferred one."""
        if self.prefer is not None:
            preferred = [layer for layer in layers if self.prefer(layer)]
            if preferred or self.optional:
                return preferred[0] if preferred else None
        return layers[0]

    def _user_choice(self, index: int) -> None:
        self._user_none = self.optional and index == 0

    def select(self, layer: Any) -> None:
        """Choose ``layer`` (None: no layer, for an optional picker)."""
        self._user_none = layer is None
        self.setCurrentIndex(0 if layer is None else self.findText(layer.name))

    def _emit_if_changed(self, *_: Any) -> None:
        layer = self.layer()
        name = None if layer is None else layer.name
        if layer is not self._current or name != self._current_name:
            self._current, self._current_name = layer, name
            self.layer_changed.emit(layer)

    def layer(self) -> Any:
        """The chosen layer, or None."""
        name = self.currentText()
        if not name or (self.optional and self.currentIndex() == 0):
            return None
        for layer in self.candidates():
            if layer.name == name:
                return layer
        return None
